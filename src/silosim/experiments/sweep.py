"""Running a sweep: each planned run executed once, stored as it finishes, resumable.

The plan (:mod:`silosim.experiments.design`) is recorded in the sweep's SQLite
store (:mod:`silosim.store`); the runs not yet stored go to an executor
(:mod:`silosim.experiments.executor`: this process, local workers or a Dask
cluster), and each finished run is committed as it arrives, so a killed sweep
loses only runs in flight and a rerun skips what is stored. A dry run estimates
the time from one short calibration run of the most expensive scenario.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from silosim.experiments.design import Cell, Sweep
from silosim.experiments.executor import executor
from silosim.metrics import MEASURES
from silosim.resources import estimate_work
from silosim.runner import run
from silosim.scenario import from_dict
from silosim.store import STORE_NAME, Store, sweep_lock

# --------------------------------------------------------------------------- one run


def execute(key: str, scenario: dict) -> dict:
    """Run one resolved scenario (in a worker); never raises: a failure is a record with its traceback."""
    started = time.perf_counter()
    record: dict[str, Any] = {"key": key, "seed": scenario.get("seed")}
    try:
        result = run(from_dict(scenario))
    except Exception:
        return {**record, "status": "failed", "error": traceback.format_exc(), "wall_s": time.perf_counter() - started}
    series = result.timeseries
    rows = zip(series["step"], series["verdict"], *(series[m] for m in MEASURES), strict=True)
    return {
        **record,
        "status": "ok",
        "wall_s": time.perf_counter() - started,
        "verdict": result.summary["verdict"],
        "verdict_reason": result.summary["verdict_reason"],
        "variants": result.summary["verdict_variants"],
        "measures": {m: _number(result.model.measures[m]) for m in MEASURES},
        "timeseries": [(int(step), verdict, *map(_number, values)) for step, verdict, *values in rows],
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


# --------------------------------------------------------------------------- running a sweep


def _star(function: Callable[..., dict], task: tuple[str, dict]) -> dict:
    """``function(key, scenario)``: the executor passes each task as one argument."""
    return function(*task)


def _failed(task: tuple[str, dict], exc: BaseException) -> dict:
    """The record of a run whose worker could not be reached, died, or raised outside the run."""
    return {"key": task[0], "seed": task[1].get("seed"), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def plan(sweep: Sweep, store: Store, retry_failed: bool) -> tuple[list[Cell], list[Cell]]:
    """Record the plan in the store; return (all cells, cells whose run is still to do, one per key)."""
    cells = list(sweep.cells())
    store.write_plan(sweep.meta(), [{**c.__dict__, "params": sweep.points[c.point]} for c in cells])
    stored = store.stored_keys(include_failed=not retry_failed)
    todo, seen = [], set(stored)
    for cell in cells:
        if cell.key not in seen:
            seen.add(cell.key)
            todo.append(cell)
    return cells, todo


def run_sweep(
    sweep: Sweep,
    out: Path,
    jobs: int = 1,
    dask: dict | None = None,
    retry_failed: bool = False,
    progress: bool = True,
    client: Any = None,
) -> dict:
    """Run every run of the sweep not yet stored in ``out``, under the folder's lock.

    Args:
        sweep: the validated sweep (:func:`silosim.experiments.design.load_sweep`).
        out: the sweep folder.
        jobs: local worker processes; 1 runs in this process.
        dask: ``{"local": N}`` or ``{"scheduler": ADDRESS}``: run on Dask instead.
        retry_failed: run again the runs stored as failed.
        progress: show a progress bar.
        client: a connected Dask client: run on it instead.

    Returns:
        Counts: planned, skipped (already stored), ran, failed (this time) and
        ``failed_stored``: runs of the plan stored as failed once done (failed
        now, or before and not retried).
    """
    with sweep_lock(out, "--out"):
        store = Store(out, "--out")
        try:
            cells, todo = plan(sweep, store, retry_failed)
            tasks = ((c.key, sweep.scenario(c.strategy, c.point, c.seed)) for c in todo)
            failed = 0
            skipped = len({c.key for c in cells}) - len(todo)
            backend = executor(jobs, dask=dask, client=client, preload=[__name__]) if todo else executor()
            with (
                backend as ex,  # workers start before tqdm starts a thread
                tqdm(total=len(todo), desc=sweep.spec.name, unit="run", disable=not progress) as bar,
            ):
                bar.set_postfix(stored=skipped, failed=0)
                for task, outcome in ex.map_unordered(functools.partial(_star, execute), tasks):
                    record = _failed(task, outcome) if isinstance(outcome, BaseException) else outcome
                    record["finished_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
                    store.add(record)
                    failed += record["status"] == "failed"
                    bar.update(1)
                    bar.set_postfix(stored=skipped, failed=failed)
            counts = {"planned": len(cells), "skipped": skipped, "ran": len(todo), "failed": failed}
            return counts | {"failed_stored": store.counts()["failed"]}
        finally:
            store.close()


def cell_work(sweep: Sweep) -> dict[tuple[str, int], float]:
    """Relative cost of a run of each strategy and point (:func:`silosim.resources.estimate_work`)."""
    return {cell: estimate_work(scenario) for cell, scenario in sweep.validated.items()}


def estimate(sweep: Sweep, out: Path, retry_failed: bool, calibration_steps: int = 20) -> dict:
    """Runs to do, estimated wall time and disk size; runs nothing of the sweep.

    The time comes from a short calibration run of the most expensive
    strategy and point (by :func:`cell_work`); every other run's time is
    scaled by its cost relative to that one.
    """
    cells = list(sweep.cells())
    if os.path.lexists(out / STORE_NAME):
        store = Store(out, "--out", writable=False)
        try:
            stored = store.stored_keys(include_failed=not retry_failed)
        finally:
            store.close()
    else:
        stored = set()
    todo = {c.key: c for c in cells if c.key not in stored}
    works = cell_work(sweep)
    largest = max(works, key=works.__getitem__)
    scenario = sweep.scenario(*largest, sweep.seeds[0])
    steps = scenario["steps"]
    short = min(steps, calibration_steps)
    record = execute("calibration", {**scenario, "steps": short})
    per_run = record["wall_s"] * steps / short
    scale = works[largest] or 1.0
    seconds = sum(per_run * (works[(c.strategy, c.point)] / scale if works[largest] else 1.0) for c in todo.values())
    rows = math.ceil(steps / scenario["metrics"]["every"]) + 1
    with tempfile.TemporaryDirectory() as tmp:
        probe = Store(Path(tmp))
        empty = probe.path.stat().st_size
        series = (record.get("timeseries") or [(0, None, *[0.0] * len(MEASURES))])[:1] * rows
        copies = 50
        for k in range(copies):
            probe.add({**record, "key": f"probe{k}", "timeseries": [(s, *r[1:]) for s, r in enumerate(series)]})
        probe.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        probe.close()
        per_run_bytes = (probe.path.stat().st_size - empty) / copies
    return {
        "planned": len(cells),
        "stored": len({c.key for c in cells}) - len(todo),
        "to_run": len(todo),
        "calibration": largest,
        "seconds_per_run": per_run,
        "seconds": seconds,
        "bytes": per_run_bytes * len(todo),
        "calibration_ok": record["status"] == "ok",
    }


def default_out(sweep: Sweep, root: Path = Path("results")) -> Path:
    """The sweep folder: ``results/sweep-NAME`` (a rerun resumes it)."""
    return root / f"sweep-{sweep.spec.name}"
