"""Sweeps: ownership strategies × parameter points × replications, resumable.

A sweep file names a base scenario, the strategies to compare (sets of
overrides), the parameters to vary and the number of replications. Every
combination is validated against the scenario schema before any run starts.
Replication k of every strategy and point gets the same seed, spawned from
the sweep seed with numpy's ``SeedSequence`` (common random numbers), so
strategy differences are paired. Runs go to local processes or a Dask
cluster; each finished run is committed to the sweep's SQLite store as it
arrives (:mod:`silosim.store`), so a killed sweep loses only runs in flight
and a rerun skips what is stored.
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
import signal
import sys
import tempfile
import threading
import time
import traceback
import warnings
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor
from concurrent.futures import wait as wait_futures
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, model_validator
from tqdm import tqdm

from silosim.model import MEASURES
from silosim.runner import run
from silosim.scenario import (
    Located,
    OverrideError,
    Problem,
    ScenarioError,
    StrictModel,
    apply_override,
    from_dict,
    load,
    nearest,
    parse_yaml,
    schema_problems,
    to_dict,
    validate,
)
from silosim.store import Store, run_key

# --------------------------------------------------------------------------- the sweep file


class Range(StrictModel):
    """A numeric range to sample with the sweep's ``design``; whole numbers at both ends sample whole numbers."""

    low: float = Field(description="Lowest value.")
    high: float = Field(description="Highest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


# a mapping is a range, anything else a list of values: one branch, so one clear message per mistake
VaryValues = Annotated[
    Annotated[list[Any], Tag("values"), Field(min_length=1)] | Annotated[Range, Tag("range")],
    Discriminator(lambda v: "range" if isinstance(v, (dict, Range)) else "values"),
]


class SweepSpec(StrictModel):
    """A whole sweep file."""

    name: str = Field("sweep", description="Short name (defaults to the file name).")
    description: str = Field("", description="The question the sweep answers.")
    base: str | dict[str, Any] = Field(description="Scenario file (relative to the sweep file) or inline scenario.")
    strategies: dict[str, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named sets of overrides (dotted key → value) compared; the first is the reference. "
        "None: the base alone, as `base`.",
    )
    vary: dict[str, VaryValues] = Field(
        default_factory=dict,
        description="Dotted key → list of values (full factorial) or {low, high} range sampled by `design`.",
    )
    design: Literal["grid", "lhs", "sobol"] = Field(
        "grid", description="How ranges are sampled: `grid` (`samples` per range), `lhs` or `sobol` (`samples` points)."
    )
    samples: int = Field(5, ge=1, description="Points per range (grid) or in all (lhs, sobol).")
    replications: int = Field(10, ge=1, description="Runs per strategy and point, paired across strategies.")
    seed: int = Field(0, ge=0, description="Sweep seed; replication seeds are spawned from it.")
    steps: int | None = Field(None, ge=1, description="Steps per run (default: the base scenario's).")
    measures: list[str] = Field(default_factory=lambda: list(MEASURES), description="Measures to report.")


@dataclass(frozen=True)
class Cell:
    """One planned run: which strategy, parameter point and replication, with its seed and store key."""

    strategy: str
    point: int
    replication: int
    seed: int
    key: str


@dataclass
class Sweep:
    """A validated sweep: its spec, parameter points and the resolved scenario of each strategy and point."""

    spec: SweepSpec
    source: str
    points: list[dict[str, Any]]
    resolved: dict[tuple[str, int], dict]
    seeds: list[int]

    @property
    def strategies(self) -> list[str]:
        """Strategy names in file order (the first is the reference)."""
        return list(self.spec.strategies) or ["base"]

    def cells(self) -> Iterator[Cell]:
        """Every run, replication first, so a partial sweep holds complete pairs."""
        for replication, seed in enumerate(self.seeds):
            for point in range(len(self.points)):
                for strategy in self.strategies:
                    yield Cell(strategy, point, replication, seed, run_key(self.scenario(strategy, point, seed)))

    def scenario(self, strategy: str, point: int, seed: int) -> dict:
        """The resolved scenario data of one run."""
        return {**self.resolved[(strategy, point)], "seed": seed}

    def meta(self) -> dict:
        """What the report needs to know of the sweep."""
        return {
            "name": self.spec.name,
            "description": self.spec.description,
            "source": self.source,
            "strategies": self.strategies,
            "vary": list(self.spec.vary),
            "measures": self.spec.measures,
            "replications": self.spec.replications,
            "runs_total": len(self.strategies) * len(self.points) * self.spec.replications,
        }


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds of replications 0..n−1, spawned from the sweep seed (common random numbers)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def parameter_points(spec: SweepSpec) -> list[dict[str, Any]]:
    """The parameter points: lists in full factorial × ranges sampled by the design."""
    from scipy.stats import qmc  # slow to import: only for sampled designs

    lists = {k: v for k, v in spec.vary.items() if isinstance(v, list)}
    ranges = {k: v for k, v in spec.vary.items() if isinstance(v, Range)}
    if ranges:
        lows = np.array([r.low for r in ranges.values()])
        highs = np.array([r.high for r in ranges.values()])
        if spec.design == "grid":
            unit = np.array(list(itertools.product(np.linspace(0, 1, spec.samples), repeat=len(ranges))))
        elif spec.design == "lhs":
            unit = qmc.LatinHypercube(d=len(ranges), seed=spec.seed).random(spec.samples)
        else:
            with warnings.catch_warnings():  # sample counts that are not powers of two lose some balance
                warnings.simplefilter("ignore", UserWarning)
                unit = qmc.Sobol(d=len(ranges), seed=spec.seed).random(spec.samples)
        sampled = lows + unit * (highs - lows)
        whole = [float(r.low).is_integer() and float(r.high).is_integer() for r in ranges.values()]
        range_points = [
            {k: (round(v) if w else float(v)) for k, v, w in zip(ranges, row, whole, strict=True)} for row in sampled
        ]
    else:
        range_points = [{}]
    list_points = [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]
    return [{**a, **b} for a in list_points for b in range_points]


def load_sweep(path: str | Path) -> Sweep:
    """Read and validate a sweep file and every run it implies; raise ScenarioError listing every problem."""
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read file: {exc}")]) from None
    data, located = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(source, 1, "", "expected a mapping of sweep keys (base, strategies, vary…)")])
    data.setdefault("name", path.stem)
    problems = located.problems + schema_problems(data, located, SweepSpec)
    problems += _measure_problems(data, located)
    if problems:
        raise ScenarioError(problems)
    spec = SweepSpec.model_validate(data)
    base = _base_data(spec, path, located)
    if spec.steps is not None:
        base["steps"] = spec.steps
    points = parameter_points(spec)
    resolved, problems = {}, []
    strategies = spec.strategies or {"base": {}}
    for name, overrides in strategies.items():
        for index, point in enumerate(points):
            changes = [(("strategies", name, k), k, v) for k, v in overrides.items()]
            changes += [(("vary", k), k, v) for k, v in point.items()]
            scenario, found = _resolve(base, changes, located, name)
            problems += found
            if scenario is not None:
                resolved[(name, index)] = scenario
    if problems:
        raise ScenarioError(problems)
    return Sweep(spec, source, points, resolved, replication_seeds(spec.seed, spec.replications))


def _measure_problems(data: dict, located: Located) -> list[Problem]:
    measures = data.get("measures")
    if not isinstance(measures, list):
        return []
    return [
        Problem(*located.where(("measures", i)), f"measures[{i}]", f"unknown measure '{m}'{nearest(m, MEASURES)}")
        for i, m in enumerate(measures)
        if m not in MEASURES
    ]


def _base_data(spec: SweepSpec, path: Path, located: Located) -> dict:
    """The base scenario as validated raw data: a file next to the sweep file, or inline."""
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base).resolve()
        if not base_path.is_file():
            there = sorted(p.name for p in base_path.parent.glob("*.yaml")) if base_path.parent.is_dir() else []
            raise ScenarioError(
                [Problem(*located.where(("base",)), "base", f"no scenario file {base_path}{nearest(spec.base, there)}")]
            )
        return to_dict(load(base_path))
    inner = Located(located.source)
    inner.lines = {p[1:]: line for p, line in located.lines.items() if p[:1] == ("base",)}
    data = dict(spec.base)
    data.setdefault("name", spec.name)
    try:
        return to_dict(validate(data, inner))
    except ScenarioError as exc:
        raise ScenarioError([Problem(p.source, p.line, f"base.{p.path}", p.message) for p in exc.problems]) from None


def _resolve(base: dict, changes: list, located: Located, strategy: str) -> tuple[dict | None, list[Problem]]:
    """Apply one run's overrides to the base and validate; problems point at the sweep file's lines."""
    data, problems = base, []
    for where, key, value in changes:
        try:
            data = apply_override(data, key, value)
        except OverrideError as exc:
            problems.append(Problem(*located.where(where), ".".join(where), str(exc)))
    if problems:
        return None, problems
    try:
        return to_dict(validate(data, Located(located.source))), []
    except ScenarioError as exc:
        for problem in exc.problems:
            dotted = problem.path.replace("[", ".").replace("]", "")
            culprit = next((w for w, k, _ in changes if dotted == k or dotted.startswith(k + ".")), None)
            where = culprit or ("strategies", strategy)
            label = ".".join(str(p) for p in where)
            message = problem.message if culprit else f"{problem.path}: {problem.message}"
            problems.append(Problem(*located.where(where), label, message))
        return None, problems


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
        "measures": {m: _number(result.model.measures[m]) for m in MEASURES},
        "timeseries": [(int(step), verdict, *map(_number, values)) for step, verdict, *values in rows],
    }


def _number(value: Any) -> float | None:
    value = float(value)
    return None if math.isnan(value) else value


# --------------------------------------------------------------------------- running a sweep


def _start_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` started workers that ignore Ctrl-C: the coordinator handles it and stops them.

    Workers are forked while the coordinator has a single thread (they start at
    once, with the model already imported); beside threads (tqdm, Dask), where
    fork is unsafe, they come from a fork server.
    """
    import multiprocessing

    if threading.active_count() == 1:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["silosim.sweep"])  # workers start with the model imported
    # stopping workers on Ctrl-C leaves their queue's semaphores to the resource tracker: expected, not a leak
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:  # the fork server and every worker forked from it inherit the ignored SIGINT
        pool = ProcessPoolExecutor(jobs, mp_context=context)
        wait_futures([pool.submit(int) for _ in range(jobs)])
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return pool


def _in_flight(submit: Callable, wait_first: Callable, tasks: Iterator, window: int) -> Iterator[tuple[Any, Any]]:
    """Submit tasks keeping at most ``window`` in flight; yield (task, future) as each finishes."""
    pending: dict = {}
    for task in itertools.islice(tasks, window):
        pending[submit(task)] = task
    while pending:
        done = wait_first(list(pending)).done
        for future in done:
            task = pending.pop(future)
            next_task = next(tasks, None)
            if next_task is not None:
                pending[submit(next_task)] = next_task
            yield task, future


def _failed(task: tuple[str, dict], exc: BaseException) -> dict:
    """The record of a run whose worker died or could not be reached."""
    return {"key": task[0], "seed": task[1].get("seed"), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def run_tasks(
    tasks: Iterator[tuple[str, dict]], jobs: int, dask: dict | None, pool: ProcessPoolExecutor | None = None
) -> Iterator[dict]:
    """Execute (key, scenario) tasks in this process, a local pool or a Dask cluster; yield records.

    ``pool``: local workers already started (see :func:`_start_pool`); it is shut down at the end.
    """
    if dask is None and jobs == 1:
        for key, scenario in tasks:
            yield execute(key, scenario)
        return
    if dask is None:
        pool = pool or _start_pool(jobs)
        try:
            submit = lambda task: pool.submit(execute, *task)  # noqa: E731
            wait_first = lambda fs: wait_futures(fs, return_when=FIRST_COMPLETED)  # noqa: E731
            for task, future in _in_flight(submit, wait_first, tasks, 2 * jobs):
                exc = future.exception()
                yield _failed(task, exc) if exc else future.result()
        except BaseException:  # interrupted: runs in flight are lost, never half-stored
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
        return
    from distributed import Client, LocalCluster
    from distributed import wait as wait_dask

    cluster = None
    if dask.get("local"):
        cluster = LocalCluster(
            n_workers=dask["local"],
            threads_per_worker=1,
            processes=True,
            host="127.0.0.1",
            dashboard_address=None,
        )
    client = Client(cluster or dask["scheduler"])
    try:
        workers = max(1, len(client.scheduler_info()["workers"]))
        submit = lambda task: client.submit(execute, *task, pure=False)  # noqa: E731
        wait_first = lambda fs: wait_dask(fs, return_when="FIRST_COMPLETED")  # noqa: E731
        for task, future in _in_flight(submit, wait_first, tasks, 2 * workers):
            exc = future.exception() if future.status == "error" else None
            yield _failed(task, exc) if exc else future.result()
            future.release()
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


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
) -> dict:
    """Run every run of the sweep not yet stored in ``out``; return counts (planned, skipped, ran, failed)."""
    store, pool = Store(out), None
    try:
        cells, todo = plan(sweep, store, retry_failed)
        tasks = ((c.key, sweep.scenario(c.strategy, c.point, c.seed)) for c in todo)
        failed = 0
        skipped = len({c.key for c in cells}) - len(todo)
        pool = _start_pool(jobs) if dask is None and jobs > 1 and todo else None  # before tqdm starts a thread
        with tqdm(total=len(todo), desc=sweep.spec.name, unit="run", disable=not progress) as bar:
            bar.set_postfix(stored=skipped, failed=0)
            for record in run_tasks(tasks, jobs, dask, pool):
                record["finished_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
                store.add(record)
                failed += record["status"] == "failed"
                bar.update(1)
                bar.set_postfix(stored=skipped, failed=failed)
        return {"planned": len(cells), "skipped": skipped, "ran": len(todo), "failed": failed}
    finally:
        if pool is not None:  # run_tasks has shut it down, unless stopped before its first run
            pool.shutdown(wait=False, cancel_futures=True)
        store.close()


def estimate(sweep: Sweep, out: Path, retry_failed: bool, calibration_steps: int = 20) -> dict:
    """Runs to do, estimated wall time (from a short calibration run) and disk size; runs nothing of the sweep."""
    cells = list(sweep.cells())
    stored = Store(out).stored_keys(include_failed=not retry_failed) if (out / "runs.sqlite").exists() else set()
    todo = {c.key for c in cells} - stored
    first = cells[0]
    scenario = sweep.scenario(first.strategy, first.point, first.seed)
    steps = scenario["steps"]
    short = min(steps, calibration_steps)
    record = execute("calibration", {**scenario, "steps": short})
    per_run = record["wall_s"] * steps / short
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
        "seconds_per_run": per_run,
        "seconds": per_run * len(todo),
        "bytes": per_run_bytes * len(todo),
        "calibration_ok": record["status"] == "ok",
    }


def default_out(sweep: Sweep, root: Path = Path("results")) -> Path:
    """The sweep folder: ``results/sweep-NAME`` (a rerun resumes it)."""
    return root / f"sweep-{sweep.spec.name}"


def main(args: argparse.Namespace) -> int:
    """``silosim sweep``: validate, then run or estimate, then write the report."""
    sweep = load_sweep(args.sweep)
    out = args.out or default_out(sweep)
    if out.exists() and not out.is_dir():
        raise ScenarioError([Problem("--out", None, str(out), "exists and is not a folder")])
    jobs = args.jobs or (args.dask_local if args.dask_local else len(os.sched_getaffinity(0)))
    dask = (
        {"local": args.dask_local} if args.dask_local else ({"scheduler": args.scheduler} if args.scheduler else None)
    )
    if args.dry_run:
        figures = estimate(sweep, out, args.retry_failed)
        workers = "per worker on the cluster" if args.scheduler else f"on {jobs} worker{'s' * (jobs > 1)}"
        print(
            f"{sweep.spec.name}: {figures['planned']} runs planned ({_count(len(sweep.strategies), 'strategy')} × "
            f"{_count(len(sweep.points), 'point')} × {_count(sweep.spec.replications, 'replication')}), "
            f"{figures['stored']} already stored, {figures['to_run']} to run\n"
            f"estimated time: {_duration(figures['seconds'] / (1 if args.scheduler else jobs))} {workers} "
            f"({figures['seconds_per_run']:.2f} s per run from a calibration run)\n"
            f"estimated disk: {figures['bytes'] / 2**20:.1f} MiB in {out / 'runs.sqlite'}"
        )
        return 0
    try:
        counts = run_sweep(sweep, out, jobs, dask, args.retry_failed, progress=not args.quiet)
    except KeyboardInterrupt:
        print(f"interrupted: every finished run is stored in {out}; run the same command to resume", file=sys.stderr)
        return 130
    except BrokenProcessPool:
        print(
            f"a worker process died (out of memory?): every finished run is stored in {out}; "
            "run the same command to resume",
            file=sys.stderr,
        )
        return 1
    from silosim.report import write_report

    print(
        f"{counts['ran']} runs done ({counts['failed']} failed), {counts['skipped']} already stored; "
        f"report: {write_report(out)}"
    )
    if counts["failed"]:
        print("some runs failed: their errors are in the report; --retry-failed runs them again", file=sys.stderr)
        return 1
    return 0


def _count(n: int, noun: str) -> str:
    plural = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else plural}"


def _duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
