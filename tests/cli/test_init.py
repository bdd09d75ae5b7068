"""``silosim init``: a commented scenario that validates and runs, from names; and the bank of the guide."""

from __future__ import annotations

import re
import shlex
import subprocess
import sys

import pytest
import yaml

from silosim.cli import main
from silosim.scenario import load, to_dict
from silosim.scenario.template import DEFAULT_COMMUNITIES, DEFAULT_DEPARTMENTS, DEFAULT_GROUPS, template
from tests.helpers import ROOT

BANK = ["--departments", "retail,corporate,risk,it,marketing,hr", "--groups", "retail_customers,business_clients,staff"]
BANK_COMMUNITIES = ["--communities", "app_forum,linkedin_page,viva_engage,broker_portal,digital_lab"]
GUIDE = (ROOT / "docs" / "modelling-your-organisation.md").read_text()


def init(tmp_path, *args: str, name: str = "org.yaml") -> tuple[int, object]:
    path = tmp_path / name
    return main(["init", str(path), *args]), path


def test_no_flags_write_the_default_organisation(tmp_path):
    code, path = init(tmp_path)
    assert code == 0
    written, default = to_dict(load(path)), to_dict(load(ROOT / "scenarios" / "default.yaml"))
    for section in ("organization", "communities", "ownership", "dynamics", "seed", "steps"):
        assert written[section] == default[section], section
    assert written["metrics"]["insight_target"] == "rnd"  # what `null` means in the default organisation
    assert written["name"] == "org"


def test_flags_give_exactly_those_names_each_department_and_group_taking_part(tmp_path):
    code, path = init(tmp_path, *BANK, *BANK_COMMUNITIES)
    assert code == 0
    scenario = load(path)
    org = scenario.organization
    assert [d.name for d in org.departments] == ["retail", "corporate", "risk", "it", "marketing", "hr"]
    assert [g.group for g in org.stakeholders] == ["retail_customers", "business_clients", "staff"]
    assert [c.name for c in scenario.communities] == BANK_COMMUNITIES[1].split(",")
    involved = {d for c in scenario.communities for d in c.involvement}
    joined = {g for c in scenario.communities for g in c.members}
    assert involved == {d.name for d in org.departments} and joined == {g.group for g in org.stakeholders}
    # each unknown community is led by the next department that leads nothing yet, joined by the next group
    leads = [max(c.involvement, key=c.involvement.get) for c in scenario.communities]
    assert leads == ["retail", "corporate", "risk", "it", "marketing"]
    assert [next(iter(c.members)) for c in scenario.communities][:3] == [
        "retail_customers",
        "business_clients",
        "staff",
    ]
    staff = next(g for g in org.stakeholders if g.group == "staff")
    assert staff.external is False
    assert scenario.communities[2].audience == "internal"  # its only members are staff
    assert scenario.metrics.insight_target == "retail"  # no rnd: a department, so time_to_insight is defined
    assert scenario.ownership.rule == "most_involved"


def test_a_known_internal_community_without_internal_groups_opens_to_those_given(tmp_path):
    code, path = init(tmp_path, "--groups", "customers", "--communities", "enterprise_social_network")
    assert code == 0
    community = load(path).communities[0]
    assert community.audience == "external" and community.members == {"customers": 0.3}


def test_names_that_yaml_would_read_as_other_values_stay_names(tmp_path):
    code, path = init(tmp_path, "--departments", "null,true,1e3,no", "--groups", "on", "--communities", "yes")
    assert code == 0
    scenario = load(path)
    assert [d.name for d in scenario.organization.departments] == ["null", "true", "1e3", "no"]
    assert scenario.organization.stakeholders[0].group == "on" and scenario.communities[0].name == "yes"


KEY_LINE = re.compile(r"^\s*(- )?(?P<key>\"[^\"]*\"|[^#\s\"][^:#]*):(\s|$)")


def _keys(data) -> int:
    if isinstance(data, dict):
        return len(data) + sum(_keys(v) for v in data.values())
    if isinstance(data, list):
        return sum(_keys(v) for v in data)
    return 0


@pytest.mark.parametrize("flags", [[], [*BANK, *BANK_COMMUNITIES]])
def test_every_key_of_the_file_has_its_own_line_and_a_comment(tmp_path, flags):
    code, path = init(tmp_path, *flags)
    assert code == 0
    text = path.read_text()
    key_lines = [line for line in text.splitlines() if KEY_LINE.match(line)]
    assert len(key_lines) == _keys(yaml.safe_load(text))  # no key hidden in a flow mapping, none missed
    uncommented = [line for line in key_lines if not re.search(r"\s#\s+\S", line)]
    assert uncommented == []
    assert "docs/modelling-your-organisation.md" in text
    for rule in ("most_involved", "single_owner", "glue", "dedicated_cms", "federated", "explicit"):
        assert rule in text  # the rule chosen, and the alternatives in a comment


def test_an_existing_file_is_refused_and_kept_unless_force(tmp_path, capsys):
    path = tmp_path / "org.yaml"
    path.write_text("keep me\n")
    assert main(["init", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"{path} exists: nothing written (--force replaces it)" in err and "Traceback" not in err
    assert path.read_text() == "keep me\n"
    assert main(["init", str(path), "--force"]) == 0
    assert load(path).organization.departments[0].name == "marketing"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["org.yaml"]  # no partial file left behind


def test_bad_names_are_all_reported_at_once_with_the_nearest_valid_name(tmp_path, capsys):
    code, path = init(tmp_path, "--departments", "customer relations,hr,hr", "--groups", "", "--communities", "a.b,,")
    assert code == 2
    lines = capsys.readouterr().err.strip().splitlines()
    assert lines == [
        "silosim init: argument --departments: 'customer relations' is not a valid department name: expected "
        "letters, digits, '_' and '-', 1-64 characters, not starting with '-' (did you mean 'customer_relations'?)",
        "silosim init: argument --departments: duplicate department name 'hr'",
        "silosim init: argument --groups: expected at least one stakeholder group name, got none",
        "silosim init: argument --communities: 'a.b' is not a valid community name: expected letters, digits, "
        "'_' and '-', 1-64 characters, not starting with '-' (did you mean 'a_b'?)",
        "silosim init: argument --communities: an empty community name (two commas in a row, or one at an end)",
        "silosim init: argument --communities: an empty community name (two commas in a row, or one at an end)",
    ]
    assert not path.exists() and list(tmp_path.iterdir()) == []


def test_more_than_64_communities_are_refused(tmp_path, capsys):
    code, path = init(tmp_path, "--communities", ",".join(f"c{i}" for i in range(65)))
    assert code == 2 and "expected at most 64 community names, got 65" in capsys.readouterr().err
    assert not path.exists()


def test_the_template_is_deterministic_and_ends_with_a_newline():
    args = ("org", list(DEFAULT_DEPARTMENTS), list(DEFAULT_GROUPS), list(DEFAULT_COMMUNITIES))
    assert template(*args) == template(*args) and template(*args).endswith("\n")


@pytest.mark.model
def test_the_written_scenario_runs(tmp_path):
    from silosim import SiloModel

    code, path = init(tmp_path, *BANK, *BANK_COMMUNITIES)
    assert code == 0
    model = SiloModel(path, steps=120)  # past the first items' end (item_lifetime 100): a verdict exists
    while model.running:
        model.step()
    assert model.measures["step"] == 120
    assert model.measures["verdict"] in ("merged", "fragmented", "siloed")
    assert model.assignment.owners == ["retail", "corporate", "risk", "it", "marketing"]


def test_init_through_the_command_line(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), "init", "bank.yaml", *BANK], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    written = "bank.yaml: written (6 departments, 3 stakeholder groups, 5 communities, rule most_involved)"
    assert result.stdout.startswith(written)
    assert load(tmp_path / "bank.yaml").name == "bank"


# --------------------------------------------------------------------------- the guide's worked example


def test_the_bank_example_validates_and_is_the_one_the_guide_shows(capsys):
    bank = ROOT / "examples" / "bank.yaml"
    scenario = load(bank)
    assert len(scenario.organization.departments) == 6
    assert scenario.metrics.insight_target in {d.name for d in scenario.organization.departments}
    assert all(c.members and c.involvement for c in scenario.communities)
    assert "```yaml\n" + bank.read_text() + "```" in GUIDE


def test_the_bank_sweep_validates_as_a_sweep_of_three_strategies(capsys):
    assert main(["validate", str(ROOT / "examples" / "bank_strategies.yaml")]) == 0
    assert "sweep bank_strategies, 3 strategies, 1 point, 30 runs" in capsys.readouterr().out
    text = (ROOT / "examples" / "bank_strategies.yaml").read_text()
    assert "```yaml\n" + text + "```" in GUIDE


def test_the_guides_init_command_writes_the_bank_skeleton(tmp_path):
    block = GUIDE.split("```bash\n", 1)[1].split("```")[0].replace("\\\n", " ")
    words = shlex.split(next(line for line in block.splitlines() if " init " in line))
    assert words[:3] == [".venv/bin/silosim", "init", "mybank.yaml"]
    assert main(["init", str(tmp_path / "mybank.yaml"), *words[3:]]) == 0
    bank, example = load(tmp_path / "mybank.yaml"), load(ROOT / "examples" / "bank.yaml")
    assert [d.name for d in bank.organization.departments] == [d.name for d in example.organization.departments]
    assert [g.group for g in bank.organization.stakeholders] == [g.group for g in example.organization.stakeholders]
    assert [c.name for c in bank.communities] == [c.name for c in example.communities]


def test_the_guide_names_the_commands_and_files_that_exist():
    for command in ("silosim init", "silosim validate", "silosim run", "silosim sweep"):
        assert command in GUIDE
    for path in re.findall(r"`((?:examples|scenarios|docs)/[\w/.-]+\.(?:yaml|md))`", GUIDE):
        assert (ROOT / path).exists(), path
    anchors = set(re.findall(r"§ ([\w-]+)$", template("x", ["a"], ["b"], ["c"]), re.M))
    headings = {
        re.sub(r"[^\w-]", "", h.strip().lower().replace(" ", "-")) for h in re.findall(r"^#+ (.*)$", GUIDE, re.M)
    }
    assert anchors <= headings, anchors - headings
