"""Scenario input that used to hang, crash or lie: each case refused with its file, line and field.

Regression tests of issue 10 for the scenario language: YAML that explodes or
recurses, tags and merge keys, loose types, values out of range, names that
cannot be addressed or printed, events that reset a section, problems in a
stable order, and flags named as flags.
"""

from __future__ import annotations

import copy
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from silosim import scenario
from silosim.model import SiloModel
from silosim.scenario import ScenarioError
from tests.helpers import ROOT

SMALL = """\
organization:
  departments:
    - {name: marketing, headcount: 10, reach: 0.5}
    - {name: hr, headcount: 8}
  stakeholders:
    - {group: consumers, count: 100}
    - {group: employees, count: 50, external: false}
communities:
  - {name: brand_page, audience: external, involvement: {marketing: 0.9}, members: {consumers: 0.5}}
  - {name: esn, audience: internal, involvement: {hr: 0.8}, members: {employees: 0.6}}
steps: 20
"""


def problems(tmp_path: Path, text: str, overrides: list | None = None) -> list[str]:
    """The printed problems of a scenario text (asserting that it is refused)."""
    path = tmp_path / "bad.yaml"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(ScenarioError) as info:
        scenario.load(path, overrides)
    return [str(p) for p in info.value.problems]


def small(**changes) -> str:
    data = yaml.safe_load(SMALL)
    for key, value in changes.items():
        data = scenario.apply_override(data, key.replace("__", "."), value)
    return yaml.safe_dump(data, sort_keys=False)


# --------------------------------------------------------------------------- YAML that explodes or recurses


def alias_bomb(levels: int) -> str:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    for k in range(1, levels):
        lines.append(f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]")
    return "\n".join(lines) + "\n"


def test_alias_bomb_is_refused_at_once(tmp_path):
    # nine levels: 9**9 = 387 million strings if expanded; under 500 bytes of text
    text = alias_bomb(9)
    assert len(text) < 500
    found = problems(tmp_path, text)
    assert len(found) == 1
    assert "more than 100,000 values (anchors and aliases expanding?): refused" in found[0]
    assert found[0].startswith(f"{tmp_path / 'bad.yaml'}:")


def test_self_referencing_anchor_is_refused(tmp_path):
    found = problems(tmp_path, "a: &a [1, *a]\n")
    assert len(found) == 1 and "refused" in found[0]


def test_nesting_600_deep_is_refused_without_recursion_error(tmp_path):
    found = problems(tmp_path, "a: " + "[" * 600 + "]" * 600 + "\n")
    assert found == [f"{tmp_path / 'bad.yaml'}:1: (top level): nested deeper than 32 levels: refused"]


def test_a_file_over_the_size_limit_is_refused_before_it_is_parsed(tmp_path):
    found = problems(tmp_path, "# " + "x" * scenario.MAX_YAML_BYTES + "\n")
    assert "larger than 1,000,000" in found[0]


def test_complex_key_is_refused(tmp_path):
    found = problems(tmp_path, SMALL + "? [a, b]\n: 1\n")
    assert any(":12: (top level): a key must be a plain name, not a list or mapping" in p for p in found), found


@pytest.mark.parametrize(
    "value, tag",
    [
        ("!!python/object/apply:os.system ['echo pwned']", "tag:yaml.org,2002:python/object/apply:os.system"),
        ("!custom 3", "!custom"),
        ("!!binary aGVsbG8=", "tag:yaml.org,2002:binary"),
    ],
)
def test_unknown_tags_are_refused_with_their_line(tmp_path, value, tag):
    text = SMALL.replace("steps: 20", f"steps: {value}")
    assert problems(tmp_path, text) == [f"{tmp_path / 'bad.yaml'}:11: (top level): unsupported YAML tag {tag!r}: "
                                        "write a plain value"]  # fmt: skip


def test_plain_explicit_tags_still_work(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(SMALL.replace("steps: 20", "steps: !!int 20\ndescription: !!str 50"))
    loaded = scenario.load(path)
    assert (loaded.steps, loaded.description) == (20, "50")


def test_merge_keys_are_refused_cleanly(tmp_path):
    text = "defaults: &d {reach: 0.4}\n" + SMALL.replace(
        "- {name: hr, headcount: 8}", "- {<<: *d, name: hr, headcount: 8}"
    )
    found = problems(tmp_path, text)
    assert any(":5: organization.departments[1]: merge keys (<<) are not supported" in p for p in found), found


# --------------------------------------------------------------------------- strict types and bounds


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("headcount: 10,", "headcount: true,", "departments[marketing].headcount: expected an integer, got true"),
        ("reach: 0.5}", "reach: yes}", "departments[marketing].reach: expected a number, got true"),
        ("count: 100}", 'count: "100"}', "stakeholders[consumers].count: expected an integer, got the string '100'"),
        (
            "steps: 20",
            "steps: 20\nseed: '42'",
            "seed: expected an integer, got the string '42' (write the number without quotes)",
        ),
        ("{marketing: 0.9}", "{marketing: 1.5}", "involvement.marketing: input should be less than or equal to 1"),
        ("{consumers: 0.5}", "{consumers: -0.5}", "members.consumers: input should be greater than or equal to 0"),
    ],
)
def test_loose_types_and_shares_out_of_range_are_refused(tmp_path, old, new, expected):
    found = problems(tmp_path, SMALL.replace(old, new))
    assert len(found) == 1 and expected in found[0], found


@pytest.mark.parametrize(
    "key, value, expected",
    [
        ("dynamics.practice_rate", float("inf"), "input should be a finite number"),
        ("dynamics.practice_rate", 1e20, "less than or equal to 64"),
        ("dynamics.insight_rate", float("nan"), "input should be a finite number"),
        ("organization.departments.hr.headcount", 1_000_000_000_000, "less than or equal to 1000000"),
        ("dynamics.cm_exchanges", 1_000_000_000, "less than or equal to 10000"),
        ("steps", 10**9, "less than or equal to 1000000"),
    ],
)
def test_values_that_crashed_the_run_are_refused(tmp_path, key, value, expected):
    found = problems(tmp_path, small(**{key.replace(".", "__"): value}))
    assert len(found) == 1 and expected in found[0], found


# --------------------------------------------------------------------------- names


@pytest.mark.parametrize("bad", ["hr.reach", "h r", "hr\x1b[31m", "", "-hr", "x" * 65])
def test_names_that_cannot_be_addressed_or_printed_are_refused(tmp_path, bad):
    text = small(organization__departments__hr__name=bad, communities__esn__involvement={bad: 0.8})
    found = problems(tmp_path, text)
    assert any("departments[" in p and ".name: expected a name of letters, digits" in p for p in found), found
    assert all("\x1b" not in p for p in found)  # printed escaped, never as a terminal escape


def test_a_dotted_name_beside_its_prefix_cannot_set_the_wrong_key(tmp_path):
    data = yaml.safe_load(SMALL)
    data["organization"]["departments"].append({"name": "hr.reach"})
    found = problems(tmp_path, yaml.safe_dump(data))
    assert any("departments[hr.reach].name: expected a name" in p for p in found), found


@pytest.mark.parametrize("bad", ["../../../../elsewhere/x", "/elsewhere/x", "a/b/c", ".hidden", "..", "a\x00b"])
def test_a_scenario_name_cannot_point_outside_the_results_folder(tmp_path, bad):
    found = problems(tmp_path, SMALL + f"name: {bad!r}\n".replace("'", '"').replace("\\x00", "\\0"))
    assert any(": name: expected a name of letters, digits" in p for p in found), found


def test_a_file_name_that_is_not_a_name_gives_a_safe_default_name(tmp_path):
    path = tmp_path / "my pilot (v2).yaml"
    path.write_text(SMALL)
    assert scenario.load(path).name == "my_pilot__v2_"


def test_control_characters_in_messages_are_printed_escaped(tmp_path):
    found = problems(tmp_path, SMALL.replace("steps: 20", 'steps: 20\n"evil\\x1b]0;owned\\x07": 1'))
    assert found == [f"{tmp_path / 'bad.yaml'}:12: evil\\x1b]0;owned\\x07: unknown key 'evil\\x1b]0;owned\\x07'"]


# --------------------------------------------------------------------------- events


def with_event(changes: dict, at: int = 5) -> str:
    data = yaml.safe_load(SMALL)
    data["dynamics"] = {"features": 7, "drift": 0.01}
    data["events"] = [{"at": at, "set": changes}]
    return yaml.safe_dump(data, sort_keys=False)


def test_an_event_setting_a_section_changes_only_the_keys_it_names(tmp_path):
    path = tmp_path / "event.yaml"
    path.write_text(with_event({"dynamics": {"drift": 0.5}}))
    loaded = scenario.load(path)
    assert loaded.events[0].set == {"dynamics.drift": 0.5}
    model = SiloModel(loaded)
    for _ in range(6):
        model.step()
    assert model.config.dynamics.drift == 0.5
    assert model.config.dynamics.features == 7  # used to fall back to the default 5 beside 7-column arrays
    assert model.world.culture.shape[1] == 7


@pytest.mark.parametrize(
    "changes, key",
    [
        ({"dynamics": {"features": 3}}, "dynamics.features"),
        ({"metrics": {"every": 5}}, "metrics.every"),
        ({"organization": {"stakeholders": {"consumers": {"count": 9}}}}, "organization.stakeholders.consumers.count"),
        ({"communities.esn": {"members": {"employees": 1.0}}}, "communities.esn.members.employees"),
    ],
)
def test_events_refuse_structural_keys_however_spelled(tmp_path, changes, key):
    text = with_event(changes)
    found = problems(tmp_path, text)
    assert len(found) == 1 and f"'{key}' is fixed when the model is built; events cannot change it" in found[0]
    line = next(n for n, text_line in enumerate(text.splitlines(), 1) if text_line.strip().startswith("set:")) + 1
    assert f":{line}: events[0].set.{key}: " in found[0], found  # the line of the key the event names


def test_an_event_setting_an_empty_section_is_refused(tmp_path):
    found = problems(tmp_path, with_event({"dynamics": {}}))
    assert len(found) == 1 and "an empty mapping sets nothing" in found[0]


# --------------------------------------------------------------------------- order and flags


MANY_PROBLEMS = SMALL.replace("reach: 0.5}", "reach: 2, openess: 1, reech: 3, raech: 4}").replace(
    "{marketing: 0.9}", "{marketting: 0.9, hrr: 0.1, sales: 0.3}"
)


def test_problems_come_in_the_same_order_whatever_the_hash_seed(tmp_path):
    path = tmp_path / "many.yaml"
    path.write_text(MANY_PROBLEMS)
    outputs = []
    for hash_seed in ("1", "2", "3"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        result = subprocess.run(
            [sys.executable, str(ROOT / "run.py"), "validate", str(path)], capture_output=True, text=True, env=env
        )
        assert result.returncode == 2 and "Traceback" not in result.stderr
        outputs.append(result.stderr)
    assert outputs[0] == outputs[1] == outputs[2]
    lines = outputs[0].splitlines()
    assert len(lines) >= 6
    assert lines == sorted(lines, key=lambda line: int(line.split(":")[1]))  # file order


def test_override_problems_name_their_flag(tmp_path):
    path = tmp_path / "ok.yaml"
    path.write_text(SMALL)
    with pytest.raises(ScenarioError) as info:
        scenario.load(path, [("--seed", "seed=-1"), ("--steps", "steps=0"), "dynamics.drift=2"])
    assert [str(p) for p in info.value.problems] == [
        "--seed: seed: input should be greater than or equal to 0, got -1",
        "--set: dynamics.drift: input should be less than or equal to 1, got 2",
        "--steps: steps: input should be greater than or equal to 1, got 0",
    ]


def test_shipped_scenarios_still_load():
    for path in sorted((ROOT / "scenarios").glob("*.yaml")):
        assert scenario.load(path).steps >= 1, path


def test_from_dict_is_as_strict_as_a_file():
    data = copy.deepcopy(yaml.safe_load(SMALL))
    data["steps"] = "20"
    with pytest.raises(ScenarioError, match="steps: expected an integer, got the string '20'"):
        scenario.from_dict(data)


def test_malformed_names_and_steps_are_refused_not_crashed_on(tmp_path):
    # a community named by a list under rule explicit, and events whose `at` mixes text and numbers, raised TypeError
    data = yaml.safe_load(small(ownership__rule="explicit", ownership__owners={"brand_page": "marketing", "esn": "hr"}))
    data["communities"][1]["name"] = ["esn"]
    found = problems(tmp_path, yaml.safe_dump(data, sort_keys=False))
    assert any("communities[['esn']].name: expected a string, got a list" in p for p in found), found
    data = yaml.safe_load(SMALL)
    data["events"] = [{"at": "ten", "set": {"dynamics.drift": 0.1}}, {"at": 5, "set": {"dynamics.drift": 0.2}}]
    found = problems(tmp_path, yaml.safe_dump(data, sort_keys=False))
    assert found == [f"{tmp_path / 'bad.yaml'}:29: events[0].at: expected an integer, got the string 'ten'"]


def test_a_duplicate_community_is_named_at_its_own_line(tmp_path):
    # an entry that is not a mapping before it used to shift the index: the wrong community was named
    data = yaml.safe_load(SMALL)
    data["communities"] = [5, *data["communities"], copy.deepcopy(data["communities"][0])]
    text = yaml.safe_dump(data, sort_keys=False)
    line = [i for i, text_line in enumerate(text.splitlines(), 1) if text_line == "- name: brand_page"][1]
    found = problems(tmp_path, text)
    assert f"{tmp_path / 'bad.yaml'}:{line}: communities[brand_page].name: duplicate name 'brand_page'" in found, found


def test_run_checks_its_out_folder_before_running(tmp_path, monkeypatch, capsys):
    from silosim import cli, runner

    path = tmp_path / "ok.yaml"
    path.write_text(SMALL)
    ran = []
    monkeypatch.setattr(runner, "run", lambda *args, **kwargs: ran.append(args))
    assert cli.main(["run", str(path), "--out", "/proc/silosim-test/out", "--quiet"]) == 2
    assert cli.main(["run", str(path), "--out", str(tmp_path / ("x" * 300)), "--quiet"]) == 2
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 2 and all(line.startswith("--out: ") for line in err), err
    assert ran == []  # refused before the simulation, not after it
    assert sorted(p.name for p in tmp_path.iterdir()) == ["ok.yaml"]
