"""Running a sweep: each planned run executed once, stored as it finishes, resumable.

The plan (:mod:`silosim.experiments.design`) is recorded in the sweep's SQLite
store (:mod:`silosim.store`); the runs not yet stored go to an executor
(:mod:`silosim.experiments.executor`: this process, local workers or a Dask
cluster), and each finished run is committed as it arrives, so a killed sweep
loses only runs in flight and a rerun skips what is stored. A dry run estimates
the time from short warm calibrations of the cheapest, a middle and the dearest
scenarios (:func:`calibrate`), the workers that run them and the report.
"""

from __future__ import annotations

import functools
import math
import os
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tqdm import tqdm

from silosim.analysis.text import duration, plural
from silosim.experiments.design import Cell, Sweep
from silosim.experiments.executor import executor
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.resources import (
    StepCost,
    contention,
    estimate_work,
    makespan,
    report_seconds,
    run_seconds,
    speed_factor,
    work_per_step,
)
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
            planned = skipped + len(todo)
            walls: list[float] = []  # of the runs finished, in order
            with (
                backend as ex,  # workers start before tqdm starts a thread
                tqdm(
                    total=len(todo),
                    desc=sweep.spec.name,
                    disable=not progress,
                    bar_format=BAR,
                    postfix=progress_text(walls, len(todo), skipped, planned, 0, ex.workers),
                ) as bar,
            ):
                for task, outcome in ex.map_unordered(functools.partial(_star, execute), tasks):
                    record = _failed(task, outcome) if isinstance(outcome, BaseException) else outcome
                    record["finished_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
                    store.add(record)
                    failed += record["status"] == "failed"
                    walls.append(record.get("wall_s") or 0.0)
                    text = progress_text(walls, len(todo), skipped + len(walls), planned, failed, ex.workers)
                    bar.set_postfix_str(text, refresh=False)
                    bar.update(1)
            counts = {"planned": len(cells), "skipped": skipped, "ran": len(todo), "failed": failed}
            return counts | {"failed_stored": store.counts()["failed"]}
        finally:
            store.close()


BAR = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} runs [{elapsed}{postfix}]"  # postfix: ", …"


def remaining_seconds(walls: list[float], total: int, workers: int) -> float | None:
    """Seconds left to run ``total`` runs of which ``walls`` (their seconds, in the order they finished) are done.

    The first run of each worker also loads the compiled model code, so the first ``workers`` runs to
    finish are left out: the others' mean seconds, times the runs left, over the workers. None while no
    other run has finished (nothing honest to say yet).

    Args:
        walls: seconds of each finished run, as measured in its worker, in the order they finished.
        total: runs to run in all.
        workers: workers running side by side.
    """
    workers, left = max(workers, 1), max(total - len(walls), 0)
    warm = walls[workers:]
    if not left:
        return 0.0
    if not warm:
        return None
    return sum(warm) / len(warm) * left / min(workers, left)


def progress_text(walls: list[float], total: int, stored: int, planned: int, failed: int, workers: int) -> str:
    """What the sweep's progress bar shows after its counts: time left, runs stored and failed.

    ``starting: loading the model on 2 workers, stored 0/140, failed 0`` before any run has finished,
    ``remaining ?, …`` until a run that was not the first of its worker has finished, then
    ``remaining 53 s, stored 12/140, failed 0`` (:func:`remaining_seconds`).

    Args:
        walls: seconds of each run finished this time, in the order they finished.
        total: runs to run this time.
        stored: runs of the plan stored (before this time, and since).
        planned: runs of the plan.
        failed: runs failed this time.
        workers: workers running side by side.
    """
    left = remaining_seconds(walls, total, workers)
    if not walls and total:
        head = f"starting: loading the model on {plural(max(workers, 1), 'worker')}"
    else:
        head = f"remaining {'?' if left is None else duration(left)}"
    return f"{head}, stored {stored}/{planned}, failed {failed}"


def cell_work(sweep: Sweep) -> dict[tuple[str, int], float]:
    """Relative cost of a run of each strategy and point (:func:`silosim.resources.estimate_work`)."""
    return {cell: estimate_work(scenario) for cell, scenario in sweep.validated.items()}


CALIBRATION_S = 0.15  # stepping of each calibrated scenario
CALIBRATED = 3  # scenarios calibrated: the cheapest, the middle and the dearest by work per step


@dataclass(frozen=True)
class Calibration:
    """What :func:`calibrate` measured."""

    load_s: float  # a process's first load of the compiled model code
    costs: dict[tuple[str, int], StepCost]  # of each scenario timed (strategy, point)
    record: dict  # of the warm run of one step (for the disk estimate)
    busy_cores: float  # cores' worth of other work on the machine meanwhile
    probe_s: float  # seconds of the speed probe (:func:`speed_probe`)


def calibrate(sweep: Sweep, budget_s: float = CALIBRATION_S, count: int = CALIBRATED) -> Calibration:
    """Time a few warm runs of the sweep's own scenarios; run nothing of the sweep.

    A first run of one step of the cheapest scenario loads the compiled model code, as each worker's
    first run does: its seconds beyond a second, warm, run of one step are the load, and that warm run
    is the fixed cost of a run (building the model, the final measurement and summary). Then ``count``
    scenarios spread over the work per step (:func:`silosim.resources.work_per_step`: the cheapest, the
    middle, the dearest) are each stepped for about ``budget_s`` seconds: the cost of a step,
    measurements included.

    Meanwhile the cores kept busy by other processes are measured (:class:`BusyCores`); then how fast
    the machine runs a fixed piece of Python (:func:`speed_probe`).
    """
    works = {cell: work_per_step(scenario) for cell, scenario in sweep.validated.items()}
    order = sorted(works, key=works.__getitem__)  # file order among equal works
    count = max(1, min(count, len(order)))
    picks = list(dict.fromkeys(order[round(k * (len(order) - 1) / max(count - 1, 1))] for k in range(count)))
    one_step = {**sweep.scenario(*picks[0], sweep.seeds[0]), "steps": 1, "events": []}  # no event past its end
    first, _ = _timed(execute, "warm-up", one_step)
    fixed, record = _timed(execute, "calibration", one_step)
    busy = BusyCores()
    costs = {
        cell: StepCost(works[cell], fixed, _step_seconds(sweep.scenario(*cell, sweep.seeds[0]), budget_s))
        for cell in picks
    }
    return Calibration(max(first - fixed, 0.0), costs, record, busy.others(), speed_probe())


def speed_probe(repeats: int = 3) -> float:
    """Seconds of a fixed piece of Python (the median of ``repeats``): how fast this machine is now."""
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        sum(i * i for i in range(200_000))
        times.append(time.perf_counter() - started)
    return sorted(times)[len(times) // 2]


class BusyCores:
    """Cores' worth of other work on this machine since it was made (Linux: /proc/stat); 0 where unknown."""

    def __init__(self) -> None:
        self._start = (time.perf_counter(), _busy_seconds(), _own_seconds())

    def others(self) -> float:
        """The mean number of cores other processes kept busy since this was made."""
        wall, busy, own = (
            b - a for a, b in zip(self._start, (time.perf_counter(), _busy_seconds(), _own_seconds()), strict=True)
        )
        if wall <= 0 or math.isnan(busy):
            return 0.0
        return max((busy - own) / wall, 0.0)


def _busy_seconds() -> float:
    """Seconds every core of the machine has spent busy since boot (NaN where /proc/stat is not there)."""
    try:
        fields = [int(x) for x in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    except (OSError, ValueError, IndexError):
        return math.nan
    idle = fields[3] + (fields[4] if len(fields) > 4 else 0)  # idle and iowait
    guest = sum(fields[8:10])  # counted in user and nice already
    return (sum(fields) - idle - guest) / os.sysconf("SC_CLK_TCK")


def _own_seconds() -> float:
    times = os.times()
    return times.user + times.system


def _timed(function: Callable[..., Any], *args: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    result = function(*args)
    return time.perf_counter() - started, result


def _step_seconds(data: dict, budget_s: float) -> float:
    """Mean seconds of the first steps of a run of ``data``, stepped for about ``budget_s`` (one step at least)."""
    model = SiloModel(from_dict(data))
    steps, started = 0, time.perf_counter()
    while model.running:
        model.step()
        steps += 1
        if time.perf_counter() - started >= budget_s:
            break
    return (time.perf_counter() - started) / max(steps, 1)


def estimate(
    sweep: Sweep,
    out: Path,
    retry_failed: bool,
    workers: int = 1,
    startup_s: float = 0.0,
    budget_s: float = CALIBRATION_S,
) -> dict:
    """Runs to do, estimated wall time and disk size; runs nothing of the sweep.

    The time is the command's start-up (``startup_s``: imports, reading and validating the sweep, as
    measured by the caller), each worker's first load of the compiled code, the runs handed in order
    to ``workers`` that take the next when free, each timed by :func:`silosim.resources.run_seconds`
    from the calibrations of :func:`calibrate` and slowed by :func:`silosim.resources.contention` when
    the workers and the other work measured meanwhile outnumber the cores, then the report
    (:func:`silosim.resources.report_seconds`, scaled by how fast this machine ran the calibration).

    Returns:
        ``planned``, ``stored``, ``to_run``; ``seconds`` (the whole command), ``runs_s`` (the runs on the
        workers, their loads included), ``load_s``, ``startup_s``, ``report_s``; ``seconds_per_run``
        (the mean run to do, contention included) and ``largest_run_s``; ``cores``, ``busy_cores``
        (other work) and ``contention``; ``calibration`` (the scenarios timed) and ``bytes``.
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
    calibration = calibrate(sweep, budget_s)
    load_s, costs, record = calibration.load_s, calibration.costs, calibration.record
    calibrations = list(costs.values())
    per_cell = {
        cell: run_seconds(calibrations, work_per_step(scenario), scenario.steps)
        for cell, scenario in sweep.validated.items()
    }
    cores, busy = len(os.sched_getaffinity(0)), calibration.busy_cores
    slower = contention(workers, cores, busy)
    run_s = [per_cell[(c.strategy, c.point)] * slower for c in todo.values()]
    runs_s = makespan(run_s, workers, load_s * slower)
    speed = speed_factor(calibration.probe_s)
    report_s = report_seconds(len(sweep.spec.vary), len(sweep.spec.measures), speed)
    first = next(iter(costs))
    steps, every = sweep.validated[first].steps, sweep.validated[first].metrics.every
    rows = math.ceil(steps / every) + 1
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
        "calibration": list(costs),
        "seconds_per_run": sum(run_s) / len(run_s) if run_s else 0.0,
        "largest_run_s": max(per_cell.values()),
        "startup_s": startup_s,
        "load_s": load_s,
        "runs_s": runs_s,
        "cores": cores,
        "busy_cores": busy,
        "contention": slower,
        "report_s": report_s,
        "seconds": startup_s + runs_s + report_s,
        "bytes": per_run_bytes * len(todo),
    }


def default_out(sweep: Sweep, root: Path = Path("results")) -> Path:
    """The sweep folder: ``results/sweep-NAME`` (a rerun resumes it)."""
    return root / f"sweep-{sweep.spec.name}"
