"""Sweeps: planning, common random numbers, the store, resuming, failures, backends."""

import multiprocessing
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from silosim.cli import main
from silosim.experiments import design as design_mod
from silosim.experiments import sweep as sweep_mod
from silosim.scenario import ScenarioError
from silosim.store import Store, run_key
from tests.helpers import ROOT, three_islands

COMPARED = ["strategy", "point", "replication", "seed", "status", "verdict", "cross_reach", "ei_index", "silo_count"]


def write_sweep(folder: Path, **changes) -> Path:
    """A small sweep file beside a small base scenario: 2 strategies × 2 points × 3 replications."""
    base = three_islands()
    base["steps"] = 20
    base.setdefault("dynamics", {})["item_lifetime"] = 5  # items end, and are measured, within 20 steps
    base["metrics"] = {"burn_in": 5, "window": 15, "every": 5}
    (folder / "base.yaml").write_text(yaml.safe_dump(base))
    spec = {
        "name": "small",
        "base": "base.yaml",
        "replications": 3,
        "seed": 99,
        "strategies": {
            "closed": {"ownership.cross_posting": "closed"},
            "glue_open": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"},
        },
        "vary": {"dynamics.exploration": [0.05, 0.2]},
        **changes,
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def stored_runs(out: Path) -> pd.DataFrame:
    store = Store(out)
    try:
        return store.runs_frame()
    finally:
        store.close()


# --------------------------------------------------------------------------- planning


def test_plan_is_factorial_with_paired_seeds(tmp_path):
    sweep = design_mod.load_sweep(write_sweep(tmp_path))
    cells = list(sweep.cells())
    assert len(cells) == 2 * 2 * 3
    assert sweep.points == [{"dynamics.exploration": 0.05}, {"dynamics.exploration": 0.2}]
    seeds = {(c.replication): set() for c in cells}
    for c in cells:
        seeds[c.replication].add(c.seed)
    assert all(len(s) == 1 for s in seeds.values())  # common random numbers: one seed per replication
    assert len({s.pop() for s in seeds.values()}) == 3
    assert len({c.key for c in cells}) == 12  # every run differs (strategy, point or seed)
    resolved = sweep.scenario("glue_open", 1, cells[0].seed)
    assert resolved["ownership"]["rule"] == "glue" and resolved["dynamics"]["exploration"] == 0.2


def test_replication_seeds_come_from_seed_sequence():
    expected = [int(c.generate_state(1, dtype=np.uint32)[0]) for c in np.random.SeedSequence(5).spawn(4)]
    assert design_mod.replication_seeds(5, 4) == expected
    assert design_mod.replication_seeds(5, 2) == expected[:2]  # more replications keep the first ones
    assert design_mod.replication_seeds(6, 2) != expected[:2]


def test_ranges_sample_by_design(tmp_path):
    vary = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "metrics.every": {"low": 2, "high": 6}}
    grid = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, samples=3))
    assert len(grid.points) == 9
    assert sorted({p["dynamics.tie_decay"] for p in grid.points}) == pytest.approx([0.01, 0.03, 0.05])
    assert sorted({p["metrics.every"] for p in grid.points}) == [2, 4, 6]  # whole-number bounds give integers
    lhs = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="lhs", samples=5))
    decays = sorted(p["dynamics.tie_decay"] for p in lhs.points)
    assert len(decays) == 5
    # Latin hypercube: exactly one sample in each fifth of the range
    assert [int((d - 0.01) / 0.04 * 5) for d in decays] == [0, 1, 2, 3, 4]
    sobol = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=8))
    assert len(sobol.points) == 8 * (2 + 2) and all(0.01 <= p["dynamics.tie_decay"] <= 0.05 for p in sobol.points)


def test_sobol_design_is_saltellis(tmp_path):
    """Per base point: A, then A with column i taken from B (one per range), then B (Saltelli 2002; SALib's order)."""
    vary = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.3}}
    sweep = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=4))
    rows = np.array(sweep.meta()["design"]["rows"])
    assert rows.shape == (4 * 4, 2)
    for j in range(4):
        a, ab_decay, ab_exploration, b = rows[4 * j : 4 * j + 4]
        assert ab_decay[0] == b[0] and ab_decay[1] == a[1]
        assert ab_exploration[0] == a[0] and ab_exploration[1] == b[1]
        assert a[0] != b[0] and a[1] != b[1]
    assert [p["dynamics.tie_decay"] for p in sweep.points] == pytest.approx(rows[:, 0].tolist())
    second = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=4, second_order=True))
    assert len(second.points) == 4 * (2 * 2 + 2)
    again = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=4))
    assert again.points == sweep.points  # the sweep seed fixes the scrambling


def test_morris_design_moves_one_parameter_a_step_at_a_time(tmp_path):
    vary = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.3}}
    sweep = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="morris", trajectories=5, levels=4))
    rows = np.array(sweep.meta()["design"]["rows"])
    assert rows.shape == (5 * 3, 2)
    unit = (rows - [0.01, 0.0]) / [0.04, 0.3]
    assert np.allclose(unit * 3, np.round(unit * 3))  # on the 4 levels 0, 1/3, 2/3, 1
    for t in range(5):
        steps = np.abs(np.diff(unit[3 * t : 3 * t + 3], axis=0))
        assert (np.count_nonzero(steps > 1e-9, axis=1) == 1).all()  # one parameter moves per step
        assert np.allclose(steps.max(axis=1), 4 / (2 * 3))  # by Δ = p / (2 (p − 1))
        assert sorted(np.argmax(steps, axis=1)) == [0, 1]  # each parameter once
    np.random.seed(123)
    before = np.random.random()
    np.random.seed(123)
    design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="morris", trajectories=5, levels=4))
    assert np.random.random() == before  # the global generator is left as it was


def test_run_key_changes_with_seed_and_scenario():
    data = three_islands()
    assert run_key(data) == run_key(dict(data))
    assert run_key({**data, "seed": 4}) != run_key(data)
    assert run_key({**data, "steps": 10}) != run_key(data)


# --------------------------------------------------------------------------- bad sweep files


@pytest.mark.parametrize(
    ("changes", "expected"),
    [
        ({"strategies": {"a": {"ownership.rulez": "glue"}}}, ["strategies.a.ownership.rulez", "did you mean 'rule'"]),
        ({"strategies": {"a": {"ownership.rule": "glu"}}}, ["strategies.a.ownership.rule", "did you mean 'glue'"]),
        ({"vary": {"dynamics.exploration": []}}, ["vary.dynamics.exploration", "at least 1 item"]),
        ({"vary": {"dynamics.exploration": [0.1, 3]}}, ["vary.dynamics.exploration", "less than or equal to 1"]),
        ({"strategies": {"a": {"ownership.glue": "markting", "ownership.rule": "glue"}}}, ["unknown department"]),
        ({"replication": 3}, ["replication", "did you mean 'replications'"]),
        ({"measures": ["cross_rech"]}, ["measures[0]", "did you mean 'cross_reach'"]),
        ({"base": "bse.yaml"}, ["base", "did you mean 'base.yaml'"]),
    ],
)
def test_bad_sweep_files_exit_2_and_run_nothing(tmp_path, capsys, changes, expected):
    path = write_sweep(tmp_path, **changes)
    code = main(["sweep", str(path), "--out", str(tmp_path / "out"), "--jobs", "1"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"{path}:") and "Traceback" not in err
    for text in expected:
        assert text in err
    assert not (tmp_path / "out").exists()  # no run started, nothing written


def test_bad_sweep_reports_the_line_of_the_override(tmp_path, capsys):
    path = tmp_path / "sweep.yaml"
    write_sweep(tmp_path)
    text = path.read_text().replace("ownership.glue: comms", "ownership.glue: coms")
    path.write_text(text)
    line = next(i for i, row in enumerate(text.splitlines(), 1) if "coms" in row)
    assert main(["sweep", str(path), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert f"{path}:{line}: strategies.glue_open.ownership.glue: unknown department 'coms'" in err
    assert "did you mean 'comms'" in err


# --------------------------------------------------------------------------- running and storing


def test_sweep_stores_every_run_and_rerun_skips_them(tmp_path, capsys):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    runs = stored_runs(out)
    assert len(runs) == 12 and set(runs["status"]) == {"ok"}
    assert (out / "report" / "report.md").is_file()
    finished = dict(sqlite3.connect(out / "runs.sqlite").execute("SELECT key, finished_at FROM runs"))
    capsys.readouterr()
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    assert "0 runs done (0 failed), 12 already stored" in capsys.readouterr().out
    again = dict(sqlite3.connect(out / "runs.sqlite").execute("SELECT key, finished_at FROM runs"))
    assert again == finished


def test_stored_time_series_match_a_single_run(tmp_path):
    """A stored run equals `silosim run` of the same resolved scenario."""
    from silosim.runner import run
    from silosim.scenario import from_dict

    out = tmp_path / "out"
    sweep = design_mod.load_sweep(write_sweep(tmp_path, replications=1, vary={}))
    sweep_mod.run_sweep(sweep, out, jobs=1, progress=False)
    cell = next(c for c in sweep.cells() if c.strategy == "glue_open")
    expected = run(from_dict(sweep.scenario(cell.strategy, cell.point, cell.seed))).timeseries
    stored = pd.read_sql_query(
        "SELECT step, cross_reach, ei_index FROM timeseries WHERE key = ? ORDER BY step",
        sqlite3.connect(out / "runs.sqlite"),
        params=(cell.key,),
    )
    assert stored["step"].tolist() == expected["step"].tolist()
    # before the first items end (item_lifetime) cross_reach is undefined: stored as NULL, NaN in the run
    assert np.allclose(stored["cross_reach"].astype(float), expected["cross_reach"].astype(float), equal_nan=True)
    assert np.allclose(stored["ei_index"].astype(float), expected["ei_index"].astype(float), equal_nan=True)


def test_a_run_that_raises_is_stored_as_failed_and_the_others_complete(tmp_path, monkeypatch, capsys):
    real_run = sweep_mod.run
    sweep = design_mod.load_sweep(write_sweep(tmp_path))
    doomed = sweep.seeds[1]

    def flaky(scenario):
        if scenario.seed == doomed and scenario.ownership.rule == "glue":
            raise RuntimeError("boom in the model")
        return real_run(scenario)

    monkeypatch.setattr(sweep_mod, "run", flaky)
    out = tmp_path / "out"
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--jobs", "1", "--quiet"]) == 1
    assert "--retry-failed" in capsys.readouterr().err
    runs = stored_runs(out)
    failed = runs[runs["status"] == "failed"]
    assert len(runs) == 12 and len(failed) == 2  # glue_open × 2 points at replication 1
    assert set(failed["strategy"]) == {"glue_open"} and set(failed["replication"]) == {1}
    assert all("RuntimeError: boom in the model" in e for e in failed["error"])
    assert failed["verdict"].isna().all()

    monkeypatch.setattr(sweep_mod, "run", real_run)  # the bug is fixed: retry only the failed runs
    before = set(stored_runs(out).query("status == 'ok'")["key"])
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--jobs", "1", "--quiet"]) == 1
    assert len(stored_runs(out).query("status == 'failed'")) == 2  # without the flag, failures stay
    assert main(["sweep", str(tmp_path / "sweep.yaml"), "--out", str(out), "--retry-failed", "--quiet"]) == 0
    runs = stored_runs(out)
    assert set(runs["status"]) == {"ok"} and before <= set(runs["key"])


SPY_ON_START_METHOD = """
import multiprocessing, sys
used, get_context = [], multiprocessing.get_context
multiprocessing.get_context = lambda method=None: used.append(method) or get_context(method)
from silosim.cli import main
code = main(sys.argv[1:])
print(*used)
sys.exit(code)
"""
TEXT = {"capture_output": True, "text": True}


def test_local_processes_and_dask_give_identical_results(tmp_path, monkeypatch):
    path = write_sweep(tmp_path)
    contexts = []
    real_get_context = multiprocessing.get_context
    monkeypatch.setattr(
        multiprocessing, "get_context", lambda method=None: contexts.append(method) or real_get_context(method)
    )
    frames = {}
    for name, flags in {
        "serial": ["--jobs", "1"],
        "processes": ["--jobs", "2"],  # beside another thread: workers from a fork server
        "forked": ["--jobs", "2"],  # a fresh coordinator with a single thread: workers forked
        "dask": ["--dask-local", "2"],
    }.items():
        command = ["sweep", str(path), "--out", str(tmp_path / name), "--quiet", *flags]
        if name == "forked":
            done = subprocess.run([sys.executable, "-c", SPY_ON_START_METHOD, *command], cwd=ROOT, check=True, **TEXT)
            assert done.stdout.splitlines()[-1] == "fork"  # the start methods asked for, printed last
        elif name == "processes":
            stop = threading.Event()
            beside = threading.Thread(target=stop.wait)  # another thread is alive: fork would be unsafe
            beside.start()
            try:
                assert main(command) == 0
            finally:
                stop.set()
                beside.join()
        else:
            assert main(command) == 0
        frames[name] = stored_runs(tmp_path / name).sort_values(["strategy", "point", "replication"])
        frames[name] = frames[name][COMPARED].reset_index(drop=True)
    assert "forkserver" in contexts
    assert len(frames["serial"]) == 12
    for name in ("processes", "forked", "dask"):
        pd.testing.assert_frame_equal(frames["serial"], frames[name])
    assert frames["serial"]["cross_reach"].nunique() > 1  # the comparison is not between constants


def test_killed_sweep_resumes_without_losing_or_repeating_runs(tmp_path):
    path = write_sweep(tmp_path, replications=50)  # 200 runs: enough that the kill lands part-way
    out = tmp_path / "out"
    command = [sys.executable, "-m", "silosim.cli", "sweep", str(path), "--out", str(out), "--jobs", "2", "--quiet"]
    process = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            time.sleep(0.2)
            if (out / "runs.sqlite").exists():
                try:  # the file can exist a moment before its tables do
                    db = sqlite3.connect(out / "runs.sqlite", timeout=5)
                    count = db.execute("SELECT COUNT(*) FROM runs").fetchone()
                except sqlite3.OperationalError:
                    continue
                if count[0] >= 5:
                    break
        os.killpg(process.pid, signal.SIGKILL)  # the coordinator and its workers, mid-sweep
        process.wait(timeout=30)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    db = sqlite3.connect(out / "runs.sqlite")
    first = dict(db.execute("SELECT key, finished_at FROM runs"))
    db.close()
    assert 5 <= len(first) < 200, "the sweep was not killed part-way"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "2", "--quiet"]) == 0
    db = sqlite3.connect(out / "runs.sqlite")
    after = dict(db.execute("SELECT key, finished_at FROM runs"))
    assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    assert db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM runs").fetchone() == (200, 200)
    planned = {key for (key,) in db.execute("SELECT key FROM plan")}
    assert planned == set(after)
    assert {k: after[k] for k in first} == first  # no stored run ran again
    steps = db.execute("SELECT key, COUNT(*) FROM timeseries GROUP BY key").fetchall()
    assert len(steps) == 200 and {n for _, n in steps} == {4}  # steps 5, 10, 15 and 20 of every run, once


def test_dry_run_estimates_and_runs_nothing(tmp_path, capsys):
    path, out = write_sweep(tmp_path), tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--dry-run", "--jobs", "2"]) == 0
    text = capsys.readouterr().out
    assert "12 runs planned (2 strategies × 2 points × 3 replications), 0 already stored, 12 to run" in text
    assert "estimated time:" in text and "on 2 workers" in text and "estimated disk:" in text
    assert not (out / "runs.sqlite").exists()


def test_load_sweep_raises_for_every_problem_at_once(tmp_path):
    path = write_sweep(tmp_path, replications=0, design="latin", strategies={"a": {"ownership.rule": "x"}})
    with pytest.raises(ScenarioError) as info:
        design_mod.load_sweep(path)
    paths = {p.path for p in info.value.problems}
    assert {"replications", "design"} <= paths


@pytest.mark.parametrize(
    ("changes", "key", "expected"),
    [
        ({"trajectories": 5}, "trajectories", "`trajectories` is read by design: morris only, not grid"),
        ({"design": "lhs", "second_order": True}, "second_order", "`second_order` is read by design: sobol only"),
        ({"design": "morris", "levels": 5}, "levels", "levels must be even for Morris's design (got 5): try 6"),
        ({"design": "sobol"}, "design", "design: sobol samples the ranges of vary ({low, high}), and vary has none"),
    ],
)
def test_design_keys_are_checked_at_their_line(tmp_path, capsys, changes, key, expected):
    sweep = write_sweep(tmp_path, **changes)
    line = next(i for i, row in enumerate(sweep.read_text().splitlines(), 1) if row.startswith(key))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert f"{sweep}:{line}: {key}:" in err and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()


def test_design_text_states_base_size_and_points(tmp_path):
    vary = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.3}}
    sweep = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="sobol", samples=6))
    text = design_mod.design_text(sweep.spec)
    assert "base sample 6 × (2 + 2) for 2 ranges = 24 points" in text
    assert "6 is not a power of 2" in text and "try 4 or 8" in text
    morris = design_mod.load_sweep(write_sweep(tmp_path, vary=vary, design="morris", trajectories=3, levels=6))
    assert design_mod.design_text(morris.spec).startswith(
        "design: morris (elementary effects): 3 trajectories × (2 + 1)"
    )
    assert design_mod.design_text(design_mod.load_sweep(write_sweep(tmp_path)).spec) is None


def test_dry_run_states_the_sobol_base_size_and_runs(tmp_path, capsys):
    vary = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.3}}
    path = write_sweep(tmp_path, vary=vary, design="sobol", samples=4)
    assert main(["sweep", str(path), "--out", str(tmp_path / "out"), "--dry-run", "--jobs", "1"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("design: sobol (Saltelli's, for first- and total-order Sobol indices): base sample 4 × ")
    assert "96 runs planned (2 strategies × 16 points × 3 replications)" in text
