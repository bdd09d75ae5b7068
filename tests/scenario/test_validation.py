"""Bad scenario input: every problem located by file, line and key path; nothing else slips through.

Each test starts from ``VALID`` (below, with its line numbers), breaks one
thing, and checks the exact problem reported by :func:`scenario.load`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from silosim import scenario
from silosim.scenario import OverrideError, ScenarioError

# Line numbers of VALID, used by the assertions:
#  2 departments:        3 marketing           4 hr
#  5 community_managers: 6 cm_mkt (home line)
#  7 stakeholders:       8 consumers           9 employees
# 10 communities:       11 brand_page (name)  12 audience  13 involvement  14 members
#                       15 esn (name)         16 audience  17 involvement  18 members
# 19 steps: 50
VALID = """\
organization:
  departments:
    - {name: marketing, headcount: 10, reach: 0.5}
    - {name: hr, headcount: 8}
  community_managers:
    - {name: cm_mkt, home: marketing}
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
steps: 50
"""


def write(tmp_path: Path, text: str, name: str = "bad.yaml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def broken(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} must occur once in the scenario text"
    return text.replace(old, new)


def problems_of(path: Path, overrides: list[str] | None = None) -> list[scenario.Problem]:
    with pytest.raises(ScenarioError) as info:
        scenario.load(path, overrides)
    return info.value.problems


def only_problem(path: Path, overrides: list[str] | None = None) -> scenario.Problem:
    problems = problems_of(path, overrides)
    assert len(problems) == 1, "\n".join(map(str, problems))
    return problems[0]


# --------------------------------------------------------------------------- the baseline


def test_valid_text_loads(tmp_path):
    loaded = scenario.load(write(tmp_path, VALID, "valid.yaml"))
    assert [d.name for d in loaded.organization.departments] == ["marketing", "hr"]
    assert loaded.steps == 50
    assert loaded.name == "valid"  # the file name when the file gives none


def test_minimal_file_gets_documented_defaults(tmp_path):
    text = """\
organization:
  departments:
    - {name: marketing}
  stakeholders:
    - {group: customers, count: 20}
communities:
  - {name: forum, involvement: {marketing: 1.0}, members: {customers: 0.5}}
"""
    loaded = scenario.load(write(tmp_path, text, "tiny.yaml"))
    dept = loaded.organization.departments[0]
    assert (dept.headcount, dept.reach, dept.openness) == (10, 0.3, 0.5)
    group = loaded.organization.stakeholders[0]
    assert (group.external, group.activity) == (True, 0.5)
    assert loaded.organization.community_managers == []
    assert loaded.communities[0].audience == "mixed"
    assert (loaded.seed, loaded.steps, loaded.name, loaded.events) == (0, 200, "tiny", [])
    assert (loaded.ownership.rule, loaded.ownership.cross_posting) == ("most_involved", "owner_only")
    assert (loaded.dynamics.features, loaded.dynamics.traits, loaded.dynamics.max_ties) == (5, 10, 8)
    assert loaded.metrics.every == 10
    assert loaded.metrics.verdict.merged_share == 0.9


# --------------------------------------------------------------------------- syntax and shape


def test_yaml_syntax_error_gives_its_line(tmp_path):
    path = write(tmp_path, broken(VALID, "members: {consumers: 0.5}", "members: {consumers: 0.5"))
    problem = only_problem(path)
    assert problem.source == str(path)
    assert problem.line == 15  # where the parser notices the unclosed brace
    assert "YAML syntax error" in problem.message
    assert "Traceback" not in str(problem)


def test_empty_file(tmp_path):
    path = write(tmp_path, "")
    problem = only_problem(path)
    assert (problem.source, problem.line) == (str(path), 1)
    assert "empty file" in problem.message


def test_file_with_only_comments_is_empty(tmp_path):
    problem = only_problem(write(tmp_path, "# nothing here\n"))
    assert "empty file" in problem.message


def test_top_level_list_is_not_a_scenario(tmp_path):
    problem = only_problem(write(tmp_path, "- a\n- b\n"))
    assert "expected a mapping" in problem.message
    assert "list" in problem.message


def test_missing_file(tmp_path):
    path = tmp_path / "nowhere.yaml"
    problem = only_problem(path)
    assert problem.source == str(path)
    assert "cannot read file" in problem.message
    assert "No such file" in problem.message


def test_missing_required_section(tmp_path):
    text = VALID[VALID.index("communities:") :]  # no organization
    problem = only_problem(write(tmp_path, text))
    assert problem.path == "organization"
    assert "required" in problem.message


# --------------------------------------------------------------------------- keys, types, ranges


def test_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, broken(VALID, "{name: hr, headcount: 8}", "{name: hr, headcount: 8, reache: 0.3}"))
    problem = only_problem(path)
    assert problem.line == 4
    assert problem.path == "organization.departments[hr].reache"
    assert "unknown key 'reache'" in problem.message
    assert "did you mean 'reach'" in problem.message


def test_unknown_top_level_key(tmp_path):
    problem = only_problem(write(tmp_path, VALID + "stepz: 10\n"))
    assert (problem.line, problem.path) == (20, "stepz")
    assert "did you mean 'steps'" in problem.message


def test_duplicate_key_in_a_mapping(tmp_path):
    problem = only_problem(write(tmp_path, VALID + "steps: 60\n"))
    assert (problem.line, problem.path) == (20, "steps")
    assert "duplicate key" in problem.message


def test_wrong_type(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "headcount: 8", "headcount: many")))
    assert (problem.line, problem.path) == (4, "organization.departments[hr].headcount")
    assert "integer" in problem.message
    assert "'many'" in problem.message


def test_section_of_the_wrong_type(tmp_path):
    text = broken(VALID, "steps: 50", "ownership: glue")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.path) == (19, "ownership")


def test_out_of_range_value(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "reach: 0.5", "reach: 1.5")))
    assert (problem.line, problem.path) == (3, "organization.departments[marketing].reach")
    assert "less than or equal to 1" in problem.message
    assert "1.5" in problem.message


def test_negative_steps(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "steps: 50", "steps: 0")))
    assert (problem.line, problem.path) == (19, "steps")
    assert "greater than or equal to 1" in problem.message


def test_unknown_literal_suggests_the_nearest(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "audience: internal", "audience: internl")))
    assert (problem.line, problem.path) == (16, "communities[esn].audience")
    assert "did you mean 'internal'" in problem.message


def test_unknown_rule_suggests_the_nearest(tmp_path):
    problem = only_problem(write(tmp_path, VALID + "ownership: {rule: most_involve}\n"))
    assert (problem.line, problem.path) == (20, "ownership.rule")
    assert "did you mean 'most_involved'" in problem.message


# --------------------------------------------------------------------------- names that refer to nothing


def test_involvement_of_unknown_department(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "{hr: 0.8}", "{hrr: 0.8}")))
    assert (problem.line, problem.path) == (17, "communities[esn].involvement.hrr")
    assert "unknown department 'hrr'" in problem.message
    assert "did you mean 'hr'" in problem.message


def test_member_share_of_unknown_group(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "{employees: 0.6}", "{employes: 0.6}")))
    assert (problem.line, problem.path) == (18, "communities[esn].members.employes")
    assert "unknown stakeholder group 'employes'" in problem.message
    assert "did you mean 'employees'" in problem.message


def test_cm_home_must_be_a_department(tmp_path):
    # cm_mkt exists, but as a community manager: it cannot employ anyone
    problem = only_problem(write(tmp_path, broken(VALID, "home: marketing", "home: cm_mkt")))
    assert (problem.line, problem.path) == (6, "organization.community_managers[cm_mkt].home")
    assert "unknown department 'cm_mkt'" in problem.message


def test_cm_hired_outside_has_null_home(tmp_path):
    loaded = scenario.load(write(tmp_path, broken(VALID, "home: marketing", "home: null")))
    assert loaded.organization.community_managers[0].home is None


def test_single_owner_naming_unknown_department(tmp_path):
    problem = only_problem(write(tmp_path, VALID + "ownership: {rule: single_owner, owner: marketting}\n"))
    assert (problem.line, problem.path) == (20, "ownership.owner")
    assert "did you mean 'marketing'" in problem.message


def test_rule_missing_its_department(tmp_path):
    problem = only_problem(write(tmp_path, VALID + "ownership:\n  rule: glue\n"))
    assert (problem.line, problem.path) == (21, "ownership.rule")
    assert "needs ownership.glue" in problem.message


def test_explicit_owner_of_unknown_community_and_unknown_owner(tmp_path):
    text = VALID + "ownership:\n  rule: explicit\n  owners: {brand_page: marketing, esnn: hrr}\n"
    messages = {p.message for p in problems_of(write(tmp_path, text))}
    assert any("unknown community 'esnn'" in m and "did you mean 'esn'" in m for m in messages)
    assert any("unknown department or community manager 'hrr'" in m for m in messages)
    assert any("missing: esn" in m for m in messages)


def test_group_in_audience_it_cannot_join(tmp_path):
    text = broken(VALID, "{employees: 0.6}", "{employees: 0.6, consumers: 0.1}")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.path) == (18, "communities[esn].members.consumers")
    assert "external group 'consumers' cannot join an internal community" in problem.message


# --------------------------------------------------------------------------- duplicate names


def test_duplicate_department(tmp_path):
    text = broken(VALID, "{name: hr, headcount: 8}", "{name: marketing, headcount: 8}")
    problems = problems_of(write(tmp_path, text))
    dup = next(p for p in problems if "duplicate" in p.message)
    assert (dup.line, dup.path) == (4, "organization.departments[marketing].name")
    assert "duplicate name 'marketing'" in dup.message
    # hr no longer exists, so esn's involvement is reported too, naming marketing once
    other = [p for p in problems if p is not dup]
    assert [p.message for p in other] == ["unknown department 'hr' (valid: marketing)"]


def test_department_and_cm_share_one_namespace(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "name: cm_mkt", "name: hr")))
    assert (problem.line, problem.path) == (6, "organization.community_managers[hr].name")
    assert "already a department" in problem.message


def test_duplicate_community(tmp_path):
    problem = only_problem(write(tmp_path, broken(VALID, "name: esn", "name: brand_page")))
    assert problem.line == 15
    assert "duplicate name 'brand_page'" in problem.message


def test_duplicate_group_is_reported_once(tmp_path):
    # the second 'consumers' is internal: brand_page (external) must still be checked against the first
    text = broken(VALID, "group: employees", "group: consumers")
    text = broken(text, "{employees: 0.6}", "{}")
    problem = only_problem(write(tmp_path, text))
    assert (problem.line, problem.path) == (9, "organization.stakeholders[consumers].group")
    assert "duplicate group 'consumers'" in problem.message


# --------------------------------------------------------------------------- events


def events(*entries: str) -> str:
    return VALID + "events:\n" + "".join(entries)


def test_event_past_the_last_step(tmp_path):
    path = write(tmp_path, events("  - at: 60\n    set: {ownership.cross_posting: open}\n"))
    problem = only_problem(path)
    assert (problem.line, problem.path) == (21, "events[0].at")
    assert "past the last step (50)" in problem.message


def test_event_at_the_last_step_is_fine(tmp_path):
    loaded = scenario.load(write(tmp_path, events("  - at: 50\n    set: {ownership.cross_posting: open}\n")))
    assert loaded.events[0].set == {"ownership.cross_posting": "open"}


def test_event_cannot_change_a_build_time_key(tmp_path):
    path = write(tmp_path, events("  - at: 10\n    set:\n      dynamics.features: 3\n"))
    problem = only_problem(path)
    assert (problem.line, problem.path) == (23, "events[0].set.dynamics.features")
    assert "fixed when the model is built" in problem.message


def test_event_cannot_change_members_of_a_community(tmp_path):
    path = write(tmp_path, events("  - at: 10\n    set: {communities.esn.members.employees: 0.9}\n"))
    assert "fixed when the model is built" in only_problem(path).message


def test_event_can_change_a_runtime_key_of_a_named_item(tmp_path):
    loaded = scenario.load(write(tmp_path, events("  - at: 10\n    set: {organization.departments.hr.reach: 0.9}\n")))
    assert loaded.events[0].at == 10


def test_event_unknown_key_suggests_the_nearest(tmp_path):
    path = write(tmp_path, events("  - at: 10\n    set: {ownership.rul: glue}\n"))
    problem = only_problem(path)
    assert (problem.line, problem.path) == (22, "events[0].set.ownership.rul")
    assert "did you mean 'rule'" in problem.message


def test_event_unknown_item_name(tmp_path):
    path = write(tmp_path, events("  - at: 10\n    set: {organization.departments.hrr.reach: 0.2}\n"))
    problem = only_problem(path)
    assert "no item named 'hrr'" in problem.message
    assert "did you mean 'hr'" in problem.message


def test_event_bad_value_is_reported_at_the_event(tmp_path):
    path = write(tmp_path, events("  - at: 10\n    set: {ownership.rule: glue}\n"))
    problem = only_problem(path)
    assert (problem.line, problem.path) == (22, "events[0].set")
    assert "after this event" in problem.message
    assert "needs ownership.glue" in problem.message


def test_event_problem_is_reported_once_not_again_by_later_events(tmp_path):
    path = write(
        tmp_path,
        events(
            "  - at: 10\n    set: {ownership.rule: glue}\n",
            "  - at: 20\n    set: {ownership.cross_posting: open}\n",
        ),
    )
    problem = only_problem(path)
    assert problem.path == "events[0].set"


def test_file_problem_is_not_repeated_as_an_event_problem(tmp_path):
    text = broken(VALID, "reach: 0.5", "reach: 1.5")
    text += "events:\n  - at: 10\n    set: {ownership.cross_posting: open}\n"
    problem = only_problem(write(tmp_path, text))
    assert problem.path == "organization.departments[marketing].reach"


# --------------------------------------------------------------------------- several problems at once


def test_all_problems_of_a_file_are_reported_together(tmp_path):
    text = broken(VALID, "reach: 0.5", "reach: 1.5")  # line 3: out of range
    text = broken(text, "headcount: 8}", "headcount: 8, colour: red}")  # line 4: unknown key
    text = broken(text, "{hr: 0.8}", "{hrr: 0.8}")  # line 17: unknown department
    path = write(tmp_path, text)
    with pytest.raises(ScenarioError) as info:
        scenario.load(path)
    found = [(p.line, p.path) for p in info.value.problems]
    assert found == [
        (3, "organization.departments[marketing].reach"),
        (4, "organization.departments[hr].colour"),
        (17, "communities[esn].involvement.hrr"),
    ]
    lines = str(info.value).splitlines()
    assert len(lines) == 3
    assert all(line.startswith(f"{path}:") for line in lines)
    assert lines[1] == f"{path}:4: organization.departments[hr].colour: unknown key 'colour' " + (
        "(valid: name, headcount, reach, openness)"
    )


# --------------------------------------------------------------------------- overrides (--set)


def test_set_overrides_a_value(tmp_path):
    loaded = scenario.load(write(tmp_path, VALID), ["organization.departments.hr.reach=0.9", "seed=7"])
    assert loaded.organization.departments[1].reach == 0.9
    assert loaded.organization.departments[0].reach == 0.5
    assert loaded.seed == 7


def test_set_unknown_key_suggests_the_nearest(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["ownership.rul=glue"])
    assert (problem.source, problem.line, problem.path) == ("--set", None, "ownership.rul")
    assert "did you mean 'rule'" in problem.message


def test_set_without_equals(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["seed"])
    assert problem.source == "--set"
    assert "expected key=value" in problem.message


def test_set_bad_value_is_blamed_on_set_not_on_a_file_line(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["dynamics.features=abc"])
    assert (problem.source, problem.line, problem.path) == ("--set", None, "dynamics.features")
    assert "integer" in problem.message


def test_set_value_overriding_a_file_line_is_blamed_on_set(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["steps=-1"])
    assert (problem.source, problem.line, problem.path) == ("--set", None, "steps")


def test_set_rule_without_its_department_names_ownership(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["ownership.rule=glue"])
    assert (problem.source, problem.path) == ("--set", "ownership.rule")
    assert "needs ownership.glue" in problem.message


def test_set_unparsable_value_is_one_line(tmp_path):
    problem = only_problem(write(tmp_path, VALID), ["seed=[1"])
    assert problem.source == "--set"
    assert "cannot parse value '[1'" in problem.message
    assert "\n" not in str(problem)


def test_file_problems_keep_their_lines_next_to_set(tmp_path):
    path = write(tmp_path, broken(VALID, "reach: 0.5", "reach: 1.5"))
    problems = problems_of(path, ["organization.departments.hr.reach=2"])
    assert [(p.source, p.line, p.path) for p in problems] == [
        ("--set", None, "organization.departments[hr].reach"),
        (str(path), 3, "organization.departments[marketing].reach"),
    ]


# --------------------------------------------------------------------------- apply_override


@pytest.fixture
def raw() -> dict:
    data, _ = scenario.parse_yaml(VALID, "<test>")
    return data


def test_apply_override_addresses_list_items_by_name(raw):
    out = scenario.apply_override(raw, "organization.departments.hr.reach", 0.7)
    assert out["organization"]["departments"][1] == {"name": "hr", "headcount": 8, "reach": 0.7}
    assert "reach" not in raw["organization"]["departments"][1]  # the input is not changed


def test_apply_override_addresses_stakeholders_by_group(raw):
    out = scenario.apply_override(raw, "organization.stakeholders.employees.activity", 0.9)
    assert out["organization"]["stakeholders"][1]["activity"] == 0.9


def test_apply_override_into_a_community_mapping(raw):
    out = scenario.apply_override(raw, "communities.brand_page.involvement.hr", 0.2)
    assert out["communities"][0]["involvement"] == {"marketing": 0.9, "hr": 0.2}


def test_apply_override_creates_a_missing_section(raw):
    out = scenario.apply_override(raw, "dynamics.drift", 0.01)
    assert out["dynamics"] == {"drift": 0.01}


def test_apply_override_unknown_key_suggests(raw):
    with pytest.raises(OverrideError, match=r"unknown key 'reache'.*did you mean 'reach'"):
        scenario.apply_override(raw, "organization.departments.hr.reache", 0.7)


def test_apply_override_unknown_item_name(raw):
    with pytest.raises(OverrideError, match=r"'organization.departments' has no item named 'hrr'.*did you mean 'hr'"):
        scenario.apply_override(raw, "organization.departments.hrr.reach", 0.7)


def test_apply_override_whole_item_is_refused(raw):
    with pytest.raises(OverrideError, match="names a whole item"):
        scenario.apply_override(raw, "organization.departments.hr", 0.7)


def test_apply_override_malformed_key(raw):
    with pytest.raises(OverrideError, match="not a dotted key"):
        scenario.apply_override(raw, "ownership..rule", "glue")
