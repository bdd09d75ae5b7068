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

import functools
import itertools
import math
import os
import re
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
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, model_validator
from tqdm import tqdm

from silosim.analysis.text import plural
from silosim.metrics import MEASURES
from silosim.resources import estimate_work
from silosim.runner import run
from silosim.scenario import (
    Located,
    Name,
    OverrideError,
    Problem,
    RunName,
    Scenario,
    ScenarioError,
    StrictModel,
    apply_override,
    default_name,
    from_dict,
    load,
    nearest,
    parse_yaml,
    scaled,
    schema_problems,
    to_dict,
    validate,
)
from silosim.store import STORE_NAME, Store, forget_inherited_locks, run_key, sweep_lock

# --------------------------------------------------------------------------- the sweep file

MAX_RUNS = 1_000_000  # runs one sweep may plan: counted before any point or seed is built
MAX_SCENARIOS = 20_000  # strategies × points: each is resolved and validated before the first run


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

    name: RunName = Field("sweep", description="Short name (defaults to the file name); names the sweep folder.")
    description: str = Field("", description="The question the sweep answers.")
    base: str | dict[str, Any] = Field(description="Scenario file (relative to the sweep file) or inline scenario.")
    strategies: dict[Name, dict[str, Any]] = Field(
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
    samples: int = Field(5, ge=1, le=MAX_RUNS, description="Points per range (grid) or in all (lhs, sobol).")
    replications: int = Field(
        10, ge=1, le=MAX_RUNS, description="Runs per strategy and point, paired across strategies."
    )
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
    scale: float = 1.0  # --scale: every resolved scenario is this many times larger (silosim.scenario.scaled)

    @functools.cached_property
    def validated(self) -> dict[tuple[str, int], Scenario]:
        """The resolved scenario of each strategy and point as a Scenario, built once (sizes, costs, memory)."""
        return {cell: from_dict(data) for cell, data in self.resolved.items()}

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
            "scale": self.scale,
        }


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds of replications 0..n−1, spawned from the sweep seed (common random numbers)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def planned_runs(spec: SweepSpec) -> tuple[int, int]:
    """(parameter points, runs) the spec plans, by arithmetic alone: nothing is built.

    Points: the product of the list lengths, times ``samples ** ranges`` (grid)
    or ``samples`` (lhs, sobol) when ranges are varied; runs: strategies ×
    points × replications.
    """
    lists = [len(v) for v in spec.vary.values() if isinstance(v, list)]
    ranges = sum(isinstance(v, Range) for v in spec.vary.values())
    points = math.prod(lists)
    if ranges:
        points *= spec.samples**ranges if spec.design == "grid" else spec.samples
    return points, max(len(spec.strategies), 1) * points * spec.replications


def _too_many_runs(spec: SweepSpec, data: dict, located: Located) -> list[Problem]:
    """A problem at the line of ``samples`` or ``replications`` when the sweep plans more than MAX_RUNS runs."""
    points, runs = planned_runs(spec)
    strategies = max(len(spec.strategies), 1)
    if strategies * points > MAX_SCENARIOS:  # each is resolved, validated and held in memory
        key = "samples" if "samples" in data and any(isinstance(v, Range) for v in spec.vary.values()) else "vary"
        return [
            Problem(
                *located.where((key,)),
                key,
                f"the sweep resolves {_big(strategies * points)} scenarios ({plural(strategies, 'strategy')} × "
                f"{_big(points)} points), more than the limit of {MAX_SCENARIOS:,}: vary fewer values or lower samples",
            )
        ]
    if runs <= MAX_RUNS:
        return []
    sampled = any(isinstance(v, Range) for v in spec.vary.values()) and spec.samples > 1
    key = "samples" if sampled and "samples" in data and points >= spec.replications else "replications"
    return [
        Problem(
            *located.where((key,)),
            key,
            f"the sweep plans {_big(runs)} runs ({plural(strategies, 'strategy')} × {_big(points)} points × "
            f"{plural(spec.replications, 'replication')}), more than the limit of {MAX_RUNS:,}: lower "
            "replications or samples, or vary fewer values",
        )
    ]


def _big(n: int) -> str:
    return f"{n:,}" if n < 10**18 else f"about {float(n):.1e}"


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


def load_sweep(path: str | Path, scale: float = 1.0) -> Sweep:
    """Read and validate a sweep file and every run it implies; raise ScenarioError listing every problem.

    ``scale`` (``--scale``): every resolved scenario (strategy × point) is made that many times larger
    (:func:`silosim.scenario.scaled`) before its memory check; their run keys change with it.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read file: {exc}")]) from None
    data, located = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(source, 1, "", "expected a mapping of sweep keys (base, strategies, vary…)")])
    data.setdefault("name", default_name(path))
    problems = located.problems + schema_problems(data, located, SweepSpec)
    problems += _measure_problems(data, located)
    if problems:
        raise ScenarioError(problems)
    spec = SweepSpec.model_validate(data)
    problems = _too_many_runs(spec, data, located)  # before any point or seed is built
    if problems:
        raise ScenarioError(problems)
    memory = scale == 1  # a scaled scenario's memory is checked once scaled
    base = _base_data(spec, path, located, memory)
    if spec.steps is not None:
        base["steps"] = spec.steps
    points = parameter_points(spec)
    resolved, problems = {}, []
    strategies = spec.strategies or {"base": {}}
    for name, overrides in strategies.items():
        for index, point in enumerate(points):
            changes = [(("strategies", name, k), k, v) for k, v in overrides.items()]
            changes += [(("vary", k), k, v) for k, v in point.items()]
            scenario, found = _resolve(base, changes, located, name, memory)
            problems += found
            if scenario is not None:
                resolved[(name, index)] = scenario
    if problems:
        raise ScenarioError(problems)
    if scale != 1:
        for (name, index), scenario in resolved.items():
            try:
                label = f"{source} ({name}, point {index})"
                resolved[(name, index)] = to_dict(scaled(Scenario.model_validate(scenario), scale, label))
            except ScenarioError as exc:
                problems += exc.problems
        if problems:
            raise ScenarioError(problems)
    return Sweep(spec, source, points, resolved, replication_seeds(spec.seed, spec.replications), scale)


def _measure_problems(data: dict, located: Located) -> list[Problem]:
    measures = data.get("measures")
    if not isinstance(measures, list):
        return []
    return [
        Problem(*located.where(("measures", i)), f"measures[{i}]", f"unknown measure '{m}'{nearest(m, MEASURES)}")
        for i, m in enumerate(measures)
        if m not in MEASURES
    ]


def _base_data(spec: SweepSpec, path: Path, located: Located, memory: bool = True) -> dict:
    """The base scenario as validated raw data (its memory checked if ``memory``): a file or inline."""
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base).resolve()
        if not base_path.is_file():
            there = sorted(p.name for p in base_path.parent.glob("*.yaml")) if base_path.parent.is_dir() else []
            raise ScenarioError(
                [Problem(*located.where(("base",)), "base", f"no scenario file {base_path}{nearest(spec.base, there)}")]
            )
        return to_dict(load(base_path, check_memory=memory))
    inner = Located(located.source)
    inner.lines = {p[1:]: line for p, line in located.lines.items() if p[:1] == ("base",)}
    data = dict(spec.base)
    data.setdefault("name", spec.name)
    try:
        return to_dict(validate(data, inner, memory))
    except ScenarioError as exc:
        raise ScenarioError([Problem(p.source, p.line, f"base.{p.path}", p.message) for p in exc.problems]) from None


def _resolve(
    base: dict, changes: list, located: Located, strategy: str, memory: bool = True
) -> tuple[dict | None, list[Problem]]:
    """Apply one run's overrides to the base and validate (memory too if ``memory``); problems at the sweep's lines."""
    data, problems = base, []
    for where, key, value in changes:
        try:
            data = apply_override(data, key, value)
        except OverrideError as exc:
            problems.append(Problem(*located.where(where), ".".join(where), str(exc)))
    if problems:
        return None, problems
    try:
        return to_dict(validate(data, Located(located.source), memory)), []
    except ScenarioError as exc:
        for problem in exc.problems:
            dotted = problem.path.replace("[", ".").replace("]", "")
            culprit = next((w for w, k, _ in changes if dotted == k or dotted.startswith(k + ".")), None)
            culprit = culprit or _introduced_by(base, changes, problem)
            where = culprit or ("strategies", strategy)
            label = ".".join(str(p) for p in where)
            message = problem.message if culprit else f"{problem.path}: {problem.message}"
            problems.append(Problem(*located.where(where), label, message))
        return None, problems


def _introduced_by(base: dict, changes: list, problem: Problem) -> tuple | None:
    """The change (a strategy's or a varied key's) that alone brings a problem whose path names no change.

    E.g. a varied ``steps`` that puts one of the base's events past the end: the problem is at
    ``events[0].at``, the culprit is the ``vary`` line.
    """
    for where, key, value in changes:
        try:
            validate(apply_override(base, key, value), Located(problem.source))
        except ScenarioError as exc:
            if any((p.path, p.message) == (problem.path, problem.message) for p in exc.problems):
                return where
        except OverrideError:
            continue
    return None


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

PARENT_POLL_S = 0.5  # how often a worker checks that its coordinator is alive
SCHEDULER_TIMEOUT_S = 10.0  # to connect to a Dask scheduler
_STOP_PENDING_S = 60.0  # how long a broken pool may take to fail its futures


def _worker_init() -> None:
    """In each worker: drop the coordinator's inherited lock and exit when the parent process dies.

    A daemon thread polls ``os.getppid()``: when the coordinator is killed
    (SIGKILL: no chance to stop its workers) a forked worker is reparented and
    exits; a worker from a fork server sees the fork server exit with the
    coordinator, and exits too. A run in progress is lost, as its coordinator is.
    """
    forget_inherited_locks()
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="silosim-watch-parent", daemon=True).start()


def _start_pool(jobs: int) -> ProcessPoolExecutor:
    """A pool of ``jobs`` started workers that ignore Ctrl-C: the coordinator handles it and stops them.

    Workers are forked while the coordinator has a single thread (they start at
    once, with the model already imported); beside threads (tqdm, Dask), where
    fork is unsafe, they come from a fork server. Every worker exits when its
    coordinator dies (:func:`_worker_init`).
    """
    import multiprocessing

    if threading.activeplural() == 1:
        context = multiprocessing.get_context("fork")
    else:
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["silosim.experiments.sweep"])  # workers start with the model imported
    # stopping workers on Ctrl-C leaves their queue's semaphores to the resource tracker: expected, not a leak
    sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
    try:  # the fork server and every worker forked from it inherit the ignored SIGINT
        pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init)
        wait_futures([pool.submit(int) for _ in range(jobs)])
    finally:
        if main_thread:
            signal.signal(signal.SIGINT, previous)
    return pool


def _stop_pool(pool: ProcessPoolExecutor) -> None:
    """Stop a pool at once: its workers are terminated, runs in flight lost."""
    for process in list((getattr(pool, "_processes", None) or {}).values()):
        process.terminate()
    pool.shutdown(wait=False, cancel_futures=True)


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
    """The record of a run whose worker could not be reached or raised outside the run."""
    return {"key": task[0], "seed": task[1].get("seed"), "status": "failed", "error": f"{type(exc).__name__}: {exc}"}


def _death(exitcode: int | None) -> str:
    """How a worker process ended, from its exit code."""
    if exitcode is None:
        return "it ended without an exit code"
    if exitcode < 0:
        try:
            name = signal.Signals(-exitcode).name
        except ValueError:
            name = "an unknown signal"
        why = ": out of memory, or killed" if -exitcode == signal.SIGKILL else ""
        return f"it was killed by signal {-exitcode} ({name}{why})"
    return f"it exited with code {exitcode}"


def _run_alone(task: tuple[str, dict]) -> dict:
    """Run one task in a fresh pool of one worker; a worker that dies again makes the run a failed record."""
    pool = _start_pool(1)
    processes = list(pool._processes.values())
    try:
        future = pool.submit(execute, *task)
        exc = future.exception()
    except BaseException:
        _stop_pool(pool)
        raise
    pool.shutdown(wait=True)
    if isinstance(exc, BrokenProcessPool):
        exitcode = processes[0].exitcode if processes else None
        return {
            "key": task[0],
            "seed": task[1].get("seed"),
            "status": "failed",
            "error": "WorkerDied: the worker process died running this run, beside others and again alone: "
            + _death(exitcode),
        }
    return _failed(task, exc) if exc else future.result()


def _run_local(tasks: Iterator[tuple[str, dict]], jobs: int, pool: ProcessPoolExecutor | None) -> Iterator[dict]:
    """Execute tasks on a local pool of ``jobs`` workers; yield records; survive workers that die.

    When a worker dies (killed, out of memory) the pool breaks and fails every
    run in flight. Each of those runs again alone, in a fresh pool of one
    worker: the run that killed its worker is recorded as failed if it kills
    this one too, the others are stored normally; then a new pool takes the
    remaining tasks. ``pool``: workers already started; shut down at the end.
    """
    tasks = iter(tasks)
    unsent: list[tuple[str, dict]] = []  # tasks a broken pool refused: they never ran
    window = 2 * jobs
    while True:
        first = unsent.pop() if unsent else next(tasks, None)
        if first is None:  # nothing left to run
            if pool is not None:
                pool.shutdown()
            return
        unsent.append(first)
        pool = pool or _start_pool(jobs)
        pending: dict = {}
        interrupted: list[tuple[str, dict]] = []  # tasks in flight when the pool broke
        broken = False
        try:
            while True:
                while len(pending) < window and not broken:
                    task = unsent.pop() if unsent else next(tasks, None)
                    if task is None:
                        break
                    try:
                        pending[pool.submit(execute, *task)] = task
                    except BrokenProcessPool:
                        unsent.append(task)
                        broken = True
                if not pending:
                    break
                done = wait_futures(list(pending), return_when=FIRST_COMPLETED).done
                for future in done:
                    task = pending.pop(future)
                    exc = future.exception()
                    if isinstance(exc, BrokenProcessPool):
                        interrupted.append(task)
                        broken = True
                    else:
                        yield _failed(task, exc) if exc else future.result()
                if broken:  # every other run in flight fails too, or finished just before the break
                    finished = wait_futures(list(pending), timeout=_STOP_PENDING_S).done
                    for future, task in pending.items():
                        exc = future.exception() if future in finished else BrokenProcessPool()
                        if isinstance(exc, BrokenProcessPool):
                            interrupted.append(task)
                        else:
                            yield _failed(task, exc) if exc else future.result()
                    break
        except BaseException:  # interrupted: runs in flight are lost, never half-stored
            _stop_pool(pool)
            raise
        pool.shutdown(wait=True)  # its threads gone, the next pool may fork
        pool = None
        if not broken:
            return
        for task in interrupted:
            yield _run_alone(task)


def check_scheduler(address: str) -> None:
    """Refuse a Dask scheduler address that is not ``[tcp|tls|ucx|ws|wss://]HOST:PORT`` or ``inproc://…``."""
    text = address.strip()
    if re.fullmatch(r"inproc://\S+", text):
        return
    match = re.fullmatch(
        r"(?:(?:tcp|tls|ucx|ws|wss)://)?(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9_](?:[A-Za-z0-9_.-]*[A-Za-z0-9_])?):([0-9]+)/?",
        text,
    )
    if match and 1 <= int(match[2]) <= 65535:
        return
    what = (
        f"port {match[2]} is not between 1 and 65535"
        if match
        else "is not a Dask scheduler address: expected HOST:PORT, tcp://HOST:PORT, tls://HOST:PORT or inproc://…"
    )
    raise ScenarioError([Problem("--scheduler", None, address, f"{what} (e.g. tcp://127.0.0.1:8786)")])


@contextmanager
def dask_client(dask: dict) -> Iterator[Any]:
    """A Dask client: of a local cluster started here (``{"local": N}``) or of a scheduler (``{"scheduler": ADDRESS}``).

    A scheduler that cannot be reached within SCHEDULER_TIMEOUT_S is a
    ScenarioError naming the address.
    """
    from distributed import Client, LocalCluster

    with ExitStack() as stack:
        if dask.get("local"):
            cluster = LocalCluster(
                n_workers=dask["local"],
                threads_per_worker=1,
                processes=True,
                host="127.0.0.1",
                dashboard_address=None,
            )
            stack.callback(cluster.close)
            client = Client(cluster)
        else:
            address = dask["scheduler"]
            try:
                client = Client(address, timeout=SCHEDULER_TIMEOUT_S)
            except Exception as exc:  # OSError, TimeoutError; a server that is no Dask scheduler: anything
                raise ScenarioError(
                    [
                        Problem(
                            "--scheduler",
                            None,
                            address,
                            f"cannot connect to a Dask scheduler there within {SCHEDULER_TIMEOUT_S:g} s "
                            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no detail'}): "
                            "start the scheduler, or check the address",
                        )
                    ]
                ) from None
        stack.callback(client.close)
        yield client


def run_tasks(
    tasks: Iterator[tuple[str, dict]],
    jobs: int,
    dask: dict | None,
    pool: ProcessPoolExecutor | None = None,
    client: Any = None,
) -> Iterator[dict]:
    """Execute (key, scenario) tasks in this process, a local pool or a Dask cluster; yield records.

    ``pool``: local workers already started (see :func:`_start_pool`); it is shut down at the end.
    ``client``: a connected Dask client (see :func:`dask_client`); without it, ``dask`` is connected here.
    """
    if dask is None and client is None and jobs == 1:
        for key, scenario in tasks:
            yield execute(key, scenario)
        return
    if dask is None and client is None:
        yield from _run_local(tasks, jobs, pool)
        return
    from distributed import wait as wait_dask

    with ExitStack() as stack:
        client = client or stack.enter_context(dask_client(dask))
        workers = max(1, len(client.scheduler_info()["workers"]))
        submit = lambda task: client.submit(execute, *task, pure=False)  # noqa: E731
        wait_first = lambda fs: wait_dask(fs, return_when="FIRST_COMPLETED")  # noqa: E731
        for task, future in _in_flight(submit, wait_first, tasks, 2 * workers):
            exc = future.exception() if future.status == "error" else None
            yield _failed(task, exc) if exc else future.result()
            future.release()


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

    Returns counts: planned, skipped (already stored), ran, failed (this time)
    and ``failed_stored``: runs of the plan stored as failed once done (failed
    now, or before and not retried).
    """
    with sweep_lock(out, "--out"):
        store, pool = Store(out, "--out"), None
        try:
            cells, todo = plan(sweep, store, retry_failed)
            tasks = ((c.key, sweep.scenario(c.strategy, c.point, c.seed)) for c in todo)
            failed = 0
            skipped = len({c.key for c in cells}) - len(todo)
            local = dask is None and client is None and jobs > 1 and todo
            pool = _start_pool(jobs) if local else None  # before tqdm starts a thread
            with tqdm(total=len(todo), desc=sweep.spec.name, unit="run", disable=not progress) as bar:
                bar.set_postfix(stored=skipped, failed=0)
                for record in run_tasks(tasks, jobs, dask, pool, client):
                    record["finished_at"] = datetime.now(UTC).isoformat(timespec="microseconds")
                    store.add(record)
                    failed += record["status"] == "failed"
                    bar.update(1)
                    bar.set_postfix(stored=skipped, failed=failed)
            counts = {"planned": len(cells), "skipped": skipped, "ran": len(todo), "failed": failed}
            return counts | {"failed_stored": store.counts()["failed"]}
        finally:
            if pool is not None:  # run_tasks has shut it down, unless stopped before its first run
                pool.shutdown(wait=False, cancel_futures=True)
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
