"""Fuzzing the input surface: malformed scenario and sweep files, generated from a seed.

Each case is a valid file broken by one to three random mutations of its text
(characters, lines, YAML punctuation, anchors, tags) or of its data (a value
replaced by one of a catalogue of wrong values, a key renamed, dropped or
added). For every case that the schema refuses, the command line must exit 2
with located messages and no traceback, write nothing anywhere (the working
folder and ``--out`` are compared before and after), and print the same
messages twice in the same order. A case that still validates must build and
step without an exception. Seeded and bounded: the same cases every time, and
well under a minute.
"""

from __future__ import annotations

import contextlib
import io
import random
from pathlib import Path

import pytest
import yaml

from silosim import cli, scenario
from silosim.model import SiloModel
from silosim.resources import agent_count

SEED = 2026
SCENARIO_CASES = 400
SWEEP_CASES = 150

SCENARIO = """\
name: fuzz
seed: 3
steps: 30
organization:
  departments:
    - {name: marketing, headcount: 10, reach: 0.5, openness: 0.4}
    - {name: hr, headcount: 8}
    - {name: rnd, headcount: 6}
  community_managers:
    - {name: cm_a, home: marketing, capacity: 2, brokerage: 0.5}
  stakeholders:
    - {group: consumers, count: 120, activity: 0.4}
    - {group: employees, count: 60, external: false}
communities:
  - name: brand_page
    audience: external
    involvement: {marketing: 0.9, rnd: 0.2}
    members: {consumers: 0.5}
  - name: esn
    audience: internal
    involvement: {hr: 0.8}
    members: {employees: 0.6}
ownership: {rule: glue, glue: marketing, cross_posting: owner_only}
dynamics: {features: 4, traits: 6, drift: 0.01}
events:
  - {at: 10, set: {ownership.rule: most_involved}}
metrics: {every: 5}
"""

SWEEP = """\
name: fuzz_sweep
base: base.yaml
replications: 2
seed: 1
steps: 10
strategies:
  mi: {ownership.rule: most_involved}
  glue: {ownership.rule: glue, ownership.glue: marketing}
vary:
  organization.departments.marketing.reach: [0.2, 0.6]
  dynamics.tie_decay: {low: 0.01, high: 0.05}
design: lhs
samples: 2
measures: [cross_reach, ei_index]
"""

WRONG_VALUES = [
    None, -1, 0, 1.5, -0.5, 10**12, 1e308, float("inf"), float("nan"), True, "50", "x", "", [], {}, [1, 2],
    {"a": 1}, "../../elsewhere", "/abs/path", "a.b", "a\x1bb", "n\u0000ul", "é" * 70, 2**64,
]  # fmt: skip
PUNCTUATION = [*list(":{}[],&*!|>'\"#%@`-?\t\n"), "<<: ", "*x", "&a ", "!!python/object ", "!t ", "\x00", "\ufeff"]


def leaves(data, path=()):
    """Every key path of nested mappings and lists."""
    yield path
    if isinstance(data, dict):
        for key, value in data.items():
            yield from leaves(value, (*path, key))
    elif isinstance(data, list):
        for i, value in enumerate(data):
            yield from leaves(value, (*path, i))


def mutate_data(data, rng: random.Random):
    """Replace, drop, rename or add one key of the data."""
    paths = [p for p in leaves(data) if p]
    path = rng.choice(paths)
    parent = data
    for part in path[:-1]:
        parent = parent[part]
    last = path[-1]
    action = rng.choice(["replace", "replace", "replace", "drop", "rename", "add"])
    if action == "replace":
        parent[last] = rng.choice(WRONG_VALUES)
    elif action == "drop":
        del parent[last]
    elif action == "rename" and isinstance(last, str):
        parent[last[:-1] + rng.choice("xs_") if len(last) > 1 else "zz"] = parent.pop(last)
    elif isinstance(parent, dict):
        parent[rng.choice(["extra", "Name", "stepz", "reach", "members"])] = rng.choice(WRONG_VALUES)
    return data


def mutate_text(text: str, rng: random.Random) -> str:
    """Insert, delete, duplicate or move characters and lines."""
    action = rng.choice(["insert", "delete", "duplicate_line", "swap_lines", "truncate", "indent"])
    pos = rng.randrange(len(text) + 1)
    lines = text.splitlines(keepends=True)
    k = rng.randrange(len(lines))
    if action == "insert":
        return text[:pos] + rng.choice(PUNCTUATION) + text[pos:]
    if action == "delete":
        return text[:pos] + text[pos + rng.randint(1, 8) :]
    if action == "duplicate_line":
        return "".join([*lines[: k + 1], lines[k], *lines[k + 1 :]])
    if action == "swap_lines":
        j = rng.randrange(len(lines))
        lines[k], lines[j] = lines[j], lines[k]
        return "".join(lines)
    if action == "truncate":
        return text[:pos]
    return "".join([*lines[:k], " " * rng.randint(1, 3) + lines[k], *lines[k + 1 :]])


def dump(data) -> str:
    try:
        return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)
    except (yaml.YAMLError, ValueError):
        return yaml.safe_dump({"unrepresentable": True})


def cases(template: str, count: int, rng: random.Random) -> list[str]:
    out = []
    for _ in range(count):
        text = template
        for _ in range(rng.randint(1, 3)):
            if rng.random() < 0.5:
                text = mutate_text(text, rng)
            else:
                try:
                    data = yaml.safe_load(text)
                except yaml.YAMLError:
                    data = None
                text = dump(mutate_data(data, rng)) if isinstance(data, dict) and data else mutate_text(text, rng)
        out.append(text)
    return out


def snapshot(folder: Path) -> dict[str, int]:
    return {str(p.relative_to(folder)): p.stat().st_mtime_ns for p in folder.rglob("*")}


def run_cli(args: list[str]) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(args)
    return code, out.getvalue(), err.getvalue()


def assert_refused(args: list[str], folder: Path) -> str:
    """Exit 2, one located line per problem, no traceback, nothing written; return the messages."""
    before = snapshot(folder)
    code, out, err = run_cli(args)
    assert code == 2, (args, out, err)
    assert "Traceback" not in err + out
    assert err.strip() and all(line.strip() for line in err.strip().splitlines())
    assert snapshot(folder) == before, f"{args} wrote {set(snapshot(folder)) - set(before)}"
    return err


@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a run without --out would write under ./results
    return tmp_path


def test_fuzzed_scenario_files(workdir):
    rng = random.Random(SEED)
    refused = accepted = 0
    for k, text in enumerate(cases(SCENARIO, SCENARIO_CASES, rng)):
        path = workdir / f"case{k}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        try:
            loaded = scenario.load(path)
        except scenario.ScenarioError as exc:
            refused += 1
            again = str(exc)
            first = assert_refused(["validate", str(path)], workdir)
            assert first.strip() == again.strip() == assert_refused(["validate", str(path)], workdir).strip()
            if k % 4 == 0:  # the run command refuses the same way, writing nothing into --out
                assert assert_refused(["run", str(path), "--out", "out", "--quiet"], workdir).strip() == again.strip()
            continue
        accepted += 1
        if agent_count(loaded) <= 20_000:  # a valid mutation must build and step
            model = SiloModel(loaded)
            for _ in range(3):
                model.step()
    assert refused >= SCENARIO_CASES * 0.6, (refused, accepted)  # most mutations must break the file


def test_fuzzed_sweep_files(workdir):
    rng = random.Random(SEED + 1)
    (workdir / "base.yaml").write_text(SCENARIO)
    refused = 0
    for k, text in enumerate(cases(SWEEP, SWEEP_CASES, rng)):
        path = workdir / f"sweep{k}.yaml"
        path.write_text(text, encoding="utf-8", errors="surrogateescape")
        out = workdir / f"out{k}"
        try:
            from silosim.experiments.design import load_sweep

            load_sweep(path)
        except scenario.ScenarioError as exc:
            refused += 1
            first = assert_refused(["sweep", str(path), "--out", str(out), "--quiet"], workdir)
            assert first.strip() == str(exc).strip()
            assert assert_refused(["sweep", str(path), "--out", str(out), "--dry-run"], workdir) == first
            assert not out.exists()
    assert refused >= SWEEP_CASES * 0.5, refused
