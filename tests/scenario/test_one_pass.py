"""Validation in one pass: every problem of a file, its events and its flags in one report, strict types, sweeps.

Each test builds a file with known mistakes at known lines and checks that all of them,
and nothing else, come back together from :func:`scenario.load` or ``silosim validate``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from silosim import scenario
from silosim.cli import main
from silosim.scenario import ScenarioError
from tests.helpers import ROOT

# Line numbers of GOOD, used by the assertions:
#  1 steps            2 organization     3 departments  4 marketing  5 hr
#  6 stakeholders     7 consumers        8 employees    9 communities
# 10 brand_page      11 audience         12 involvement 13 members
# 14 esn             15 audience         16 involvement 17 members
GOOD = """\
steps: 50
organization:
  departments:
    - {name: marketing, headcount: 10, reach: 0.5}
    - {name: hr, headcount: 8, openness: 0.4}
  stakeholders:
    - {group: consumers, count: 100}
    - {group: employees, count: 50, external: false}
communities:
  - name: brand_page
    audience: external
    involvement: {marketing: 0.9}
    members: {consumers: 0.5}
  - name: esn
    audience: internal
    involvement: {hr: 0.8}
    members: {employees: 0.6}
"""


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def edited(*changes: tuple[str, str], text: str = GOOD) -> str:
    for old, new in changes:
        assert text.count(old) == 1, f"{old!r} must occur once"
        text = text.replace(old, new)
    return text


def problems(path: Path, overrides: list[str] | None = None) -> list[str]:
    """Every problem of a file, as printed (file:line: path: message)."""
    with pytest.raises(ScenarioError) as info:
        scenario.load(path, overrides)
    return str(info.value).splitlines()


def cli(capsys: pytest.CaptureFixture, *args: object) -> tuple[int, str, str]:
    code = main([str(a) for a in args])
    out, err = capsys.readouterr()
    return code, out, err


def test_the_good_file_is_valid(tmp_path):
    assert scenario.load(write(tmp_path, GOOD, "good.yaml")).steps == 50


# --------------------------------------------------------------------------- every problem of a file at once


def test_three_problems_of_a_file_come_in_one_message_each_at_its_line(tmp_path):
    text = edited(
        ("headcount: 10", 'headcount: "10"'),  # line 4: a string for a number
        ("organization:", "organisation:"),  # line 2: a misspelled section...
        ("openness: 0.4", "openess: 0.4"),  # line 5: ...hiding a misspelled key inside it
    )
    text += "events:\n  - at: 90\n    set: {ownership.rule: glu}\n"  # lines 19-20: past the end, and a bad value
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:2: organisation: unknown key 'organisation' (did you mean 'organization'?)",
        f"{path}:4: organisation.departments[marketing].headcount: expected an integer, got the string '10' "
        "(write the number without quotes)",
        f"{path}:5: organisation.departments[hr].openess: unknown key 'openess' (did you mean 'openness'?)",
        f"{path}:19: events[0].at: event at step 90 is past the last step (50)",
        f"{path}:20: events[0].set: after this event, ownership.rule: expected one of 'most_involved', "
        "'single_owner', 'glue', 'dedicated_cms', 'federated' or 'explicit', got 'glu' (did you mean 'glue'?)",
    ]


def test_a_misspelled_section_is_not_also_called_missing(tmp_path):
    path = write(tmp_path, edited(("communities:", "comunities:")))
    assert problems(path) == [f"{path}:9: comunities: unknown key 'comunities' (did you mean 'communities'?)"]


def test_cross_references_are_checked_inside_a_misspelled_section(tmp_path):
    text = edited(("organization:", "organisation:"), ("{hr: 0.8}", "{hrr: 0.8}"))
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:2: organisation: unknown key 'organisation' (did you mean 'organization'?)",
        f"{path}:16: communities[esn].involvement.hrr: unknown department 'hrr' (did you mean 'hr'?)",
    ]


def test_a_typo_inside_a_typo_is_found_in_the_same_pass(tmp_path):
    text = edited(("organization:", "organisation:"), ("  departments:", "  departmnts:"), ("count: 50", "count: 0"))
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:2: organisation: unknown key 'organisation' (did you mean 'organization'?)",
        f"{path}:3: organisation.departmnts: unknown key 'departmnts' (did you mean 'departments'?)",
        f"{path}:8: organisation.stakeholders[employees].count: input should be greater than or equal to 1, got 0",
    ]


def test_a_far_unknown_key_or_one_beside_its_intended_key_is_only_unknown(tmp_path):
    # `colour` is no near spelling of anything; `organisation` beside `organization` is not read as it
    text = edited(("headcount: 8,", "headcount: 8, colour: red,")) + "organisation: {departments: 3}\n"
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:5: organization.departments[hr].colour: unknown key 'colour' "
        "(valid: name, headcount, reach, openness)",
        f"{path}:18: organisation: unknown key 'organisation' (did you mean 'organization'?)",
    ]


def test_an_event_with_an_unknown_key_and_a_bad_value_reports_both(tmp_path):
    text = GOOD + "events:\n  - at: 10\n    set: {dynamics.drfit: 0.1, dynamics.exploration: 2}\n"
    path = write(tmp_path, text)
    assert problems(path) == [
        f"{path}:20: events[0].set: after this event, dynamics.exploration: input should be less than or equal "
        "to 1, got 2",
        f"{path}:20: events[0].set.dynamics.drfit: unknown key 'drfit' in 'dynamics.drfit' (did you mean 'drift'?)",
    ]


# --------------------------------------------------------------------------- strict types


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("steps: 50", 'steps: "300"', "1: steps: expected an integer, got the string '300' (write the number "),
        ("steps: 50", "steps: true", "1: steps: expected an integer, got true"),
        ("steps: 50", "steps: 50.0", "1: steps: expected an integer, got 50.0"),
        ("reach: 0.5", "reach: '0.5'", "4: organization.departments[marketing].reach: expected a number, got the str"),
        ("reach: 0.5", "reach: false", "4: organization.departments[marketing].reach: expected a number, got false"),
        ("reach: 0.5", "reach: null", "4: organization.departments[marketing].reach: expected a number, got null"),
        ("count: 100", "count: '1e3'", "7: organization.stakeholders[consumers].count: expected an integer, got the"),
        ("external: false", "external: 'no'", "8: organization.stakeholders[employees].external: expected true or "),
        ("name: esn", "name: 12", "14: communities[12].name: expected a string, got 12"),
        ("{marketing: 0.9}", "[marketing]", "12: communities[brand_page].involvement: expected a mapping, got a list"),
    ],
)
def test_a_value_of_the_wrong_type_is_refused_with_what_was_written(tmp_path, old, new, expected):
    path = write(tmp_path, edited((old, new)))
    found = problems(path)
    assert len(found) == 1 and found[0].startswith(f"{path}:{expected}"), found


def test_a_quoted_number_is_refused_but_a_quoted_word_gets_no_quote_hint(tmp_path):
    found = problems(write(tmp_path, edited(("external: false", "external: 'no'"))))
    assert found[0].endswith("expected true or false, got the string 'no'"), found


def test_from_dict_and_set_are_as_strict_as_the_file(tmp_path):
    data = {"steps": "300", "organization": {}, "communities": []}
    with pytest.raises(ScenarioError, match="steps: expected an integer, got the string '300'"):
        scenario.from_dict(data)
    found = problems(write(tmp_path, GOOD), ['steps="300"'])
    assert found == ["--set: steps: expected an integer, got the string '300' (write the number without quotes)"]


# --------------------------------------------------------------------------- --set flags, with the file


def test_two_bad_set_flags_and_the_files_problem_come_together(tmp_path):
    path = write(tmp_path, edited(("reach: 0.5", "reach: 1.5")))
    assert problems(path, ["dynamics.drfit=0.1", "ownership.rule=glu", "ownership.cross_posting=open"]) == [
        "--set: dynamics.drfit: unknown key 'drfit' in 'dynamics.drfit' (did you mean 'drift'?)",
        "--set: ownership.rule: expected one of 'most_involved', 'single_owner', 'glue', 'dedicated_cms', "
        "'federated' or 'explicit', got 'glu' (did you mean 'glue'?)",
        f"{path}:4: organization.departments[marketing].reach: input should be less than or equal to 1, got 1.5",
    ]


@pytest.mark.parametrize(
    "item, expected",
    [
        ("dynamics.drift:0.2", "--set: dynamics.drift:0.2: expected key=value: write --set dynamics.drift=0.2"),
        ("seed", "--set: seed: expected key=value: write --set seed=VALUE, e.g. --set ownership.rule=glue"),
        ("dynamics.drift=", "--set: dynamics.drift: expected a number, got null (no value)"),
    ],
)
def test_a_set_item_says_how_to_write_it(tmp_path, item, expected):
    assert problems(write(tmp_path, GOOD), [item]) == [expected]


def test_a_bad_scale_comes_with_the_other_problems(tmp_path):
    found = problems(write(tmp_path, GOOD), ["dynamics.drift=2"])
    with pytest.raises(ScenarioError) as info:
        scenario.load(write(tmp_path, GOOD), ["dynamics.drift=2"], scale=0)
    assert str(info.value).splitlines() == ["--scale: 0: expected a number above 0 and at most 1000", *found]


@pytest.mark.parametrize(
    "args, expected",
    [
        (["--set", "dynamics.drift", "0.2"], "'0.2' (write --set dynamics.drift=0.2: one word, no spaces)"),
        (["--set", "dynamics.drift", "=", "0.2"], "'= 0.2' (write --set dynamics.drift=0.2: one word, no spaces)"),
        (["--set", "dynamics.drift=", "0.2"], "'0.2' (write --set dynamics.drift=0.2: one word, no spaces)"),
        (["--set", "dynamics.drift", "-0.2"], "'-0.2' (write --set dynamics.drift=-0.2: one word, no spaces)"),
        (["--drift", "0.2"], "'--drift 0.2' (a key of the file, not an option: write --set dynamics.drift=0.2)"),
        (["--rule=glue"], "'--rule=glue' (a key of the file, not an option: write --set ownership.rule=glue)"),
        (["--sed", "3"], "'--sed' (did you mean '--seed'?), '3'"),
    ],
)
def test_common_flag_mistakes_of_run_get_a_hint(capsys, args, expected):
    code, _, err = cli(capsys, "run", ROOT / "scenarios" / "default.yaml", *args)
    assert code == 2 and err == f"silosim: unknown argument {expected}\n"


def test_two_set_flags_written_with_spaces_get_a_hint_each(capsys):
    code, _, err = cli(capsys, "run", "x.yaml", "--set", "ownership.rule", "glue", "--set", "dynamics.drift", "0.1")
    assert code == 2
    assert err == (
        "silosim: unknown argument 'glue' (write --set ownership.rule=glue: one word, no spaces), "
        "'0.1' (write --set dynamics.drift=0.1: one word, no spaces)\n"
    )


@pytest.mark.parametrize(
    "args, expected",
    [
        (["run", "x.yaml", "--seed", "abc"], "silosim run: argument --seed: expected a whole number, got 'abc'"),
        (["run", "x.yaml", "--steps", "1.5"], "silosim run: argument --steps: expected a whole number, got '1.5'"),
        (["run", "x.yaml", "--set"], "silosim run: argument --set: expected KEY=VALUE after it, e.g. --set "),
        (["valdate", "x.yaml"], "silosim: argument command: invalid choice: 'valdate' (did you mean 'validate'?)"),
        (["sweep", "x.yaml", "--replications", "3"], "silosim: unknown argument '--replications 3' (a key of the "),
    ],
)
def test_bad_flag_values_say_what_was_expected(capsys, args, expected):
    code, _, err = cli(capsys, *args)
    assert code == 2 and err.startswith(expected) and err.count("\n") == 1, err


def test_negative_steps_names_the_flag(tmp_path):
    found = problems(write(tmp_path, GOOD), [("--steps", "steps=-5")])
    assert found == ["--steps: steps: input should be greater than or equal to 1, got -5"]


def test_a_missing_file_suggests_the_nearest_and_a_folder_says_to_give_its_files(tmp_path):
    write(tmp_path, GOOD, "default.yaml")
    assert problems(tmp_path / "defualt.yaml") == [
        f"{tmp_path / 'defualt.yaml'}: (top level): cannot read file: No such file or directory "
        "(did you mean 'default.yaml'?)"
    ]
    assert problems(tmp_path) == [
        f"{tmp_path}: (top level): a folder, not a file: give its YAML files, e.g. {tmp_path / '*.yaml'}"
    ]


# --------------------------------------------------------------------------- silosim validate: scenarios and sweeps


def test_validate_takes_set_flags_and_reports_them_with_the_file(capsys, tmp_path):
    path = write(tmp_path, edited(("organization:", "organisation:")))
    code, out, err = cli(capsys, "validate", path, "--set", "dynamics.drfit=1", "--set", "seed=x")
    assert code == 2 and out == ""
    assert err.splitlines() == [
        "--set: dynamics.drfit: unknown key 'drfit' in 'dynamics.drfit' (did you mean 'drift'?)",
        "--set: seed: expected an integer, got the string 'x'",
        f"{path}:2: organisation: unknown key 'organisation' (did you mean 'organization'?)",
    ]


def test_every_shipped_scenario_and_sweep_validates(capsys):
    files = sorted((ROOT / "scenarios").glob("*.yaml")) + sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml"))
    assert len(files) >= 12
    code, out, err = cli(capsys, "validate", *files)
    assert (code, err) == (0, "")
    lines = out.splitlines()
    assert [line.split(": ok (")[0] for line in lines] == [str(f) for f in files]
    sweeps = [line for line in lines if "/sweeps/" in line]
    assert sweeps and all(": ok (sweep " in line for line in sweeps), sweeps
    assert f"{ROOT / 'scenarios' / 'sweeps' / 'strategies.yaml'}: ok (sweep strategies, 7 strategies, 1 point, " in (
        out
    )


def test_a_broken_sweep_fails_with_the_sweeps_own_message(capsys, tmp_path):
    default = ROOT / "scenarios" / "default.yaml"
    sweep = write(
        tmp_path,
        f"base: {default}\nreplications: '20'\nstrategies:\n  glue: {{ownership.rule: glue}}\n",
        "sweep.yaml",
    )
    code, out, err = cli(capsys, "validate", sweep)
    assert (code, out) == (2, "")
    assert err == (
        f"{sweep}:2: replications: expected an integer, got the string '20' (write the number without quotes)\n"
    )
    sweep.write_text(f"base: {default}\nstrategies:\n  glue: {{ownership.rule: glue}}\n")
    code, out, err = cli(capsys, "validate", sweep)
    assert (code, out) == (2, "")
    assert err == f"{sweep}:3: strategies.glue.ownership.rule: rule 'glue' needs ownership.glue: a department name\n"


def test_a_scenario_with_a_sweep_like_key_is_still_a_scenario(capsys, tmp_path):
    path = write(tmp_path, GOOD + "replications: 3\n")
    code, _, err = cli(capsys, "validate", path)
    assert code == 2
    assert err.startswith(f"{path}:18: replications: unknown key 'replications'"), err
