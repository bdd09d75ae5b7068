"""--scale K: the same organisation K times larger, in run, sweep and viz.

Only the last test runs the model; the others need the scenario schema (and the sweep's
planning, with the calibration run mocked) alone.
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from silosim import resources
from silosim.cli import main
from silosim.experiments import design as design_mod
from silosim.experiments import sweep as sweep_mod
from silosim.metrics import MEASURES
from silosim.scenario import ScenarioError, from_dict, load, scaled, to_dict
from silosim.store import Store
from tests.helpers import ROOT, three_islands

DEFAULT = ROOT / "scenarios" / "default.yaml"


def write(folder: Path, data: dict, name: str = "s.yaml") -> Path:
    path = folder / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def counts(scenario) -> tuple[list[int], list[int]]:
    org = scenario.organization
    return [g.count for g in org.stakeholders], [d.headcount for d in org.departments]


# --------------------------------------------------------------------------- scaled()


def test_counts_headcounts_and_cm_capacity_are_multiplied():
    base = load(DEFAULT)  # consumers 3000, marketing 30 people, cm_exchanges 5 (the default)
    assert base.organization.stakeholders[0].count == 3000
    assert base.organization.departments[0].headcount == 30
    assert base.dynamics.cm_exchanges == 5.0
    assert scaled(base, 0.25).organization.stakeholders[0].count == 750  # 3000 × 0.25
    bigger = scaled(base, 4)
    assert counts(bigger) == ([12000, 6000, 800, 4800], [120, 60, 160, 100, 140])  # 30 × 4 = 120 …
    assert bigger.dynamics.cm_exchanges == 20.0  # 5 × 4
    assert bigger.dynamics.practice_rate == 0.2  # 0.05 practices per department-step × 4: a department 4× larger


def test_everything_else_is_unchanged():
    base = load(DEFAULT)
    before, after = to_dict(base), to_dict(scaled(base, 4))
    for data in (before, after):
        for group in data["organization"]["stakeholders"]:
            del group["count"]
        for department in data["organization"]["departments"]:
            del department["headcount"]
        del data["dynamics"]["cm_exchanges"]
        del data["dynamics"]["practice_rate"]
    assert after == before  # shares, activity, reach, openness, CM capacity in communities, steps, seed…


def test_rounding_and_a_minimum_of_one():
    base = from_dict(three_islands())  # 300 stakeholders per group, departments of 10, 10, 10 and 12
    assert counts(scaled(base, 0.0123)) == ([4, 4, 4], [1, 1, 1, 1])  # 300 × 0.0123 = 3.69 → 4; 0.123 → 1
    assert counts(scaled(base, 0.001)) == ([1, 1, 1], [1, 1, 1, 1])  # 0.3 and 0.01: at least 1
    assert counts(scaled(base, 1.3)) == ([390, 390, 390], [13, 13, 13, 16])  # 12 × 1.3 = 15.6 → 16
    stakeholders, headcounts = counts(scaled(base, 1.3))
    assert all(type(n) is int for n in stakeholders + headcounts)


def test_events_are_scaled_the_same_way():
    data = three_islands()
    data["events"] = [
        {
            "at": 50,
            "set": {
                "organization.departments.hr.headcount": 20,
                "organization.departments.hr.reach": 0.7,
                "dynamics": {"cm_exchanges": 2.5, "drift": 0.01},  # a mapping: flattened to dotted keys
                "ownership.rule": "glue",
                "ownership.glue": "comms",
            },
        }
    ]
    event = scaled(from_dict(data), 3).events[0]
    assert event.set == {
        "organization.departments.hr.headcount": 60,
        "organization.departments.hr.reach": 0.7,
        "dynamics.cm_exchanges": 7.5,
        "dynamics.drift": 0.01,
        "ownership.rule": "glue",
        "ownership.glue": "comms",
    }


def test_k_1_is_the_identity():
    base = load(DEFAULT)
    assert scaled(base, 1) is base
    assert to_dict(load(DEFAULT, scale=1)) == to_dict(base)


@pytest.mark.parametrize("k", [0, -1, 1000.5, math.nan, math.inf])
def test_k_out_of_range_is_refused(k):
    with pytest.raises(ScenarioError) as caught:
        scaled(load(DEFAULT), k)
    assert str(caught.value).startswith("--scale: ")
    assert "expected a number above 0 and at most 1000" in str(caught.value)


def test_scale_applies_after_the_set_overrides():
    scenario = load(DEFAULT, ["organization.departments.hr.headcount=50", "dynamics.cm_exchanges=2"], scale=2)
    assert scenario.organization.departments[1].headcount == 100
    assert scenario.dynamics.cm_exchanges == 4.0


def test_a_count_scaled_past_its_bound_names_the_file_the_field_and_the_flag(tmp_path):
    data = three_islands()
    data["organization"]["stakeholders"][0]["count"] = 1_000_000
    path = write(tmp_path, data)
    with pytest.raises(ScenarioError) as caught:
        load(path, scale=100)
    assert str(caught.value) == (
        f"{path} with --scale 100: organization.stakeholders[consumers].count: "
        "input should be less than or equal to 50000000, got 100000000"
    )


def test_memory_is_checked_after_scaling(tmp_path, monkeypatch):
    monkeypatch.setattr(resources, "available_memory", lambda: 2 * 2**30)
    load(DEFAULT)  # fits in 2 GiB
    with pytest.raises(ScenarioError) as caught:
        load(DEFAULT, scale=1000)  # 5.9 million stakeholders do not
    assert str(caught.value).startswith(f"{DEFAULT} with --scale 1000: ")
    assert "needs about" in str(caught.value)
    huge = yaml.safe_load(DEFAULT.read_text())
    for group in huge["organization"]["stakeholders"]:
        group["count"] *= 1000
    for department in huge["organization"]["departments"]:
        department["headcount"] *= 1000
    path = write(tmp_path, huge)
    with pytest.raises(ScenarioError):
        load(path)
    assert counts(load(path, scale=0.001)) == counts(load(DEFAULT))  # too big as written, fits once scaled down


# --------------------------------------------------------------------------- the command line


@pytest.mark.parametrize("value", ["0", "-1", "x", "2000", "nan"])
@pytest.mark.parametrize("command", ["run", "sweep", "viz"])
def test_bad_scale_flag_exits_2_naming_the_flag(command, value, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    target = ROOT / "scenarios" / "sweeps" / "strategies.yaml" if command == "sweep" else DEFAULT
    assert main([command, str(target), "--scale", value]) == 2
    err = capsys.readouterr().err
    assert err.strip() == (
        f"silosim {command}: argument --scale: expected a number above 0 and at most 1000, got '{value}'"
    )
    assert list(tmp_path.iterdir()) == []  # nothing written


def test_bad_scale_through_run_py(tmp_path):
    result = subprocess.run(
        [sys.executable, str(ROOT / "run.py"), str(DEFAULT), "--scale", "0"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert "argument --scale: expected a number above 0 and at most 1000, got '0'" in result.stderr
    assert list(tmp_path.iterdir()) == []


def test_run_with_a_scale_too_big_exits_2_and_writes_nothing(tmp_path, monkeypatch, capsys):
    data = three_islands()
    data["organization"]["stakeholders"][0]["count"] = 1_000_000
    path = write(tmp_path, data)
    out = tmp_path / "out"
    assert main(["run", str(path), "--scale", "100", "--out", str(out), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert f"{path} with --scale 100: organization.stakeholders[consumers].count: " in err
    assert not out.exists()


# --------------------------------------------------------------------------- sweeps


def write_sweep(folder: Path) -> Path:
    """2 strategies × 2 points (one of them a headcount) × 2 replications on a small base."""
    base = three_islands()
    base["steps"] = 20
    write(folder, base, "base.yaml")
    spec = {
        "name": "small",
        "base": "base.yaml",
        "replications": 2,
        "seed": 5,
        "strategies": {
            "closed": {"ownership.cross_posting": "closed"},
            "glue_open": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"},
        },
        "vary": {"organization.departments.comms.headcount": [5, 12]},
    }
    return write(folder, spec, "sweep.yaml")


def test_every_resolved_scenario_of_a_sweep_is_scaled(tmp_path):
    path = write_sweep(tmp_path)
    plain, double = design_mod.load_sweep(path), design_mod.load_sweep(path, scale=2)
    assert plain.meta()["scale"] == 1 and double.meta()["scale"] == 2
    for cell, scenario in double.validated.items():
        stakeholders, headcounts = counts(plain.validated[cell])
        assert counts(scenario) == ([2 * n for n in stakeholders], [2 * n for n in headcounts])
    assert [d.headcount for d in (double.validated[("closed", p)].organization.departments[3] for p in (0, 1))] == [
        10,
        24,
    ]  # the varied headcount (5, 12) is scaled too


def test_a_sweep_scaled_past_a_bound_names_the_run_the_field_and_the_flag(tmp_path):
    path = write_sweep(tmp_path)
    base = yaml.safe_load((tmp_path / "base.yaml").read_text())
    base["organization"]["stakeholders"][0]["count"] = 1_000_000
    write(tmp_path, base, "base.yaml")
    with pytest.raises(ScenarioError) as caught:
        design_mod.load_sweep(path, scale=100)
    lines = str(caught.value).splitlines()
    assert len(lines) == 4  # each strategy × point
    assert lines[0] == (
        f"{path} (closed, point 0) with --scale 100: organization.stakeholders[consumers].count: "
        "input should be less than or equal to 50000000, got 100000000"
    )


def test_a_sweep_scaled_4_times_costs_more(tmp_path, monkeypatch):
    """The dry-run's estimate: the calibrated steps (mocked) take time in proportion to the agents."""

    def calibration(key: str, scenario: dict) -> dict:
        agents = sum(g["count"] for g in scenario["organization"]["stakeholders"])
        return {
            "key": key,
            "seed": scenario["seed"],
            "status": "ok",
            "wall_s": 1e-5 * agents,
            "verdict": "fragmented",
            "verdict_reason": "",
            "measures": dict.fromkeys(MEASURES, 0.0),
            "timeseries": [],
        }

    def step_seconds(data: dict, budget_s: float) -> float:  # a step costs in proportion to the stakeholders
        return 1e-5 * sum(g["count"] for g in data["organization"]["stakeholders"])

    monkeypatch.setattr(sweep_mod, "execute", calibration)
    monkeypatch.setattr(sweep_mod, "_step_seconds", step_seconds)
    path = write_sweep(tmp_path)
    plain, four = design_mod.load_sweep(path), design_mod.load_sweep(path, scale=4)
    work_1, work_4 = sweep_mod.cell_work(plain), sweep_mod.cell_work(four)
    assert all(work_4[cell] > 3.5 * work_1[cell] for cell in work_1)
    time_1 = sweep_mod.estimate(plain, tmp_path / "out", retry_failed=False)
    time_4 = sweep_mod.estimate(four, tmp_path / "out", retry_failed=False)
    assert time_1["planned"] == time_4["planned"] == 8
    assert time_4["seconds_per_run"] > 3.5 * time_1["seconds_per_run"] > 0  # the runs; start-up and report stay
    assert time_4["runs_s"] > 3.5 * time_1["runs_s"]
    dry = tmp_path / "dry"
    assert main(["sweep", str(path), "--dry-run", "--scale", "4", "--jobs", "1", "--out", str(dry), "--quiet"]) == 0
    assert not (dry / "runs.sqlite").exists()  # a dry run stores nothing


def test_resuming_with_another_scale_reuses_no_run(tmp_path):
    """Run keys hash the resolved (scaled) scenario: a sweep rerun with another --scale plans new runs."""
    path, out = write_sweep(tmp_path), tmp_path / "out"
    plain, double = design_mod.load_sweep(path), design_mod.load_sweep(path, scale=2)
    store = Store(out)
    try:
        cells, todo = sweep_mod.plan(plain, store, retry_failed=False)
        for cell in todo:  # as if the unscaled sweep had finished
            store.add({"key": cell.key, "seed": cell.seed, "status": "ok", "measures": {}, "timeseries": []})
        assert sweep_mod.plan(plain, store, retry_failed=False)[1] == []
        cells, todo = sweep_mod.plan(double, store, retry_failed=False)
        assert len(todo) == len({c.key for c in cells}) == 8
        assert store.meta()["scale"] == 2
    finally:
        store.close()


# --------------------------------------------------------------------------- the browser view


def test_viz_page_and_its_reset_keep_the_scale(tmp_path, monkeypatch):
    from silosim.viz import page as viz

    monkeypatch.setattr(viz.SiloModel, "__init__", lambda self, scenario: setattr(self, "config", scenario))
    monkeypatch.setattr(viz, "first_measurement", lambda model: {})  # no model was built to measure
    path = write(tmp_path, three_islands())
    monkeypatch.setenv(viz.ENV_SCENARIO, str(path))
    monkeypatch.setenv(viz.ENV_SCALE, "2.0")
    monkeypatch.delenv(viz.ENV_SEED, raising=False)
    source, base, seed, scale = viz.page_scenario()  # what the page serves (set by serve from --scale)
    assert (seed, scale) == (None, 2.0)
    assert counts(base) == ([600] * 3, [20, 20, 20, 24])
    params = viz.model_params(source, base, seed, scale)
    assert params["scale"] == 2.0  # a fixed parameter: Mesa's Reset passes it back
    model = viz.VizModel(**viz.initial_kwargs(params) | {"rule": "glue", "glue": "comms"})
    assert model.reset_error is None
    assert model.config.ownership.rule == "glue"
    assert counts(model.config) == counts(base)


# --------------------------------------------------------------------------- a run (needs the model)


@pytest.mark.model
def test_run_writes_the_scaled_scenario(tmp_path):
    out = tmp_path / "out"
    assert main(["run", str(DEFAULT), "--scale", "2", "--steps", "5", "--out", str(out), "--quiet"]) == 0
    written = yaml.safe_load((out / "scenario.yaml").read_text())
    original = yaml.safe_load(DEFAULT.read_text())
    for key, field in (("stakeholders", "count"), ("departments", "headcount")):
        doubled = [2 * item[field] for item in original["organization"][key]]
        assert [item[field] for item in written["organization"][key]] == doubled
    assert written["dynamics"]["cm_exchanges"] == 10.0
    assert written["steps"] == 5
    assert written["communities"] == to_dict(load(DEFAULT))["communities"]
