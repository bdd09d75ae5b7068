"""The README stays true: its reference table matches the schema, its commands match CI."""

from pathlib import Path

from silosim import reference

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_reference_is_generated_from_the_schema():
    start = README.index(reference.START) + len(reference.START)
    end = README.index(reference.END)
    assert README[start:end].strip() == reference.markdown().strip()


def test_every_schema_key_is_documented_with_a_meaning():
    for path, default, meaning in reference.rows():
        assert meaning, f"{path} has no description"
        assert default


def test_ci_runs_the_readme_test_command():
    blocks = README.split("```bash\n")[1:]
    commands = [b.split("\n```")[0].strip() for b in blocks]
    test_command = next(c for c in commands if "pytest" in c)
    assert test_command in (ROOT / ".ci" / "run").read_text()
    assert any("scenarios/default.yaml" in c for c in commands)
