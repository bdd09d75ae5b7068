"""The README stays true: its reference table matches the schema, its commands match CI."""

from silosim.scenario import reference
from tests.helpers import ROOT

README = (ROOT / "README.md").read_text()


def test_readme_reference_is_generated_from_the_schema():
    start = README.index(reference.START) + len(reference.START)
    end = README.index(reference.END)
    assert README[start:end].strip() == reference.markdown().strip()


def test_every_schema_key_is_documented_with_a_meaning():
    for path, default, _allowed, meaning in reference.rows():
        assert meaning, f"{path} has no description"
        assert default


def test_every_numeric_key_states_its_upper_bound():
    from silosim.scenario import Scenario

    def numeric(model, prefix=""):
        for name, field in model.model_fields.items():
            inner = scenario_inner(field.annotation)
            if inner is not None:
                yield from numeric(inner, f"{prefix}{name}{'[]' if inner is not field.annotation else ''}.")
            elif field.annotation in (int, float):
                yield f"{prefix}{name}"

    from silosim.scenario import inner_model as scenario_inner

    allowed = {path: bounds for path, _default, bounds, _meaning in reference.rows()}
    keys = list(numeric(Scenario))
    assert "dynamics.practice_rate" in keys and "organization.departments[].headcount" in keys
    for key in keys:
        assert "–" in allowed[key] or "≤" in allowed[key] or "<" in allowed[key], f"{key}: {allowed[key]!r}"
    assert allowed["organization.departments[].headcount"] == "1–1,000,000"
    assert allowed["communities[].involvement"] == "values 0–1"


def test_ci_runs_the_readme_test_command():
    blocks = README.split("```bash\n")[1:]
    commands = [b.split("\n```")[0].strip() for b in blocks]
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert any("scenarios/default.yaml" in c for c in commands)
