"""One executor for batches of tasks: in this process, on a local process pool, or on a Dask cluster.

As with ``concurrent.futures`` and EMA Workbench's evaluators, an executor is
a context manager; its ``map_unordered(function, tasks)`` yields ``(task,
outcome)`` as each task finishes, the outcome being what ``function(task)``
returned or the exception it raised. At most ``2 × workers`` tasks are in
flight, so a generator of a million tasks is never materialised.

Local workers ignore Ctrl-C and exit when their coordinator dies; on any
exception (Ctrl-C too) the coordinator stops them, and the tasks in flight are
lost. A worker that dies (killed, out of memory) breaks its pool: each task in
flight then runs again alone in a fresh pool of one worker, and a task that
kills that worker too comes back as :class:`WorkerDied`. A function running in
a worker may report how far it has got through :func:`reporter`; the
coordinator hands the reports to the executor's ``progress`` callback.
"""

from __future__ import annotations

import functools
import itertools
import multiprocessing
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack, contextmanager
from typing import Any

from silosim.scenario import Problem, ScenarioError
from silosim.store import forget_inherited_locks

PARENT_POLL_S = 0.5  # how often a worker checks that its coordinator is alive
PROGRESS_POLL_S = 0.5  # how often the coordinator hands on progress reports while it waits
SCHEDULER_TIMEOUT_S = 10.0  # to connect to a Dask scheduler
_STOP_PENDING_S = 60.0  # how long a broken pool may take to fail its futures
_END = object()  # no task left

Progress = Callable[[int, float], None]  # (index, share done), as reported by a task
_channel: Callable[[tuple[int, float]], None] | None = None  # where this process's tasks report progress


class WorkerDied(Exception):  # noqa: N818 - its name starts the stored error: "WorkerDied: …"
    """The outcome of a task whose worker process died running it, beside others and again alone."""


def reporter(index: int) -> Callable[[float], None] | None:
    """In a task: a function that reports the share done of task ``index``; None when nobody listens.

    Args:
        index: what the coordinator's ``progress`` callback receives first, to tell tasks apart.
    """
    return None if _channel is None else functools.partial(_report, _channel, index)


def _report(channel: Callable[[tuple[int, float]], None], index: int, share: float) -> None:
    channel((index, share))


class Serial:
    """Runs each task in this process, in order."""

    workers = 1

    def __init__(self, progress: Progress | None = None) -> None:
        self._progress = progress

    def map_unordered(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, outcome)`` for each task: ``function(task)`` or the exception it raised."""
        global _channel
        for task in tasks:
            previous, _channel = _channel, (None if self._progress is None else lambda item: self._progress(*item))
            try:
                outcome = function(task)
            except Exception as exc:
                outcome = exc
            finally:
                _channel = previous
            yield task, outcome


class Pool:
    """Runs tasks on local worker processes that survive the death of one of them (see the module docstring).

    Workers are forked while the coordinator has a single thread (they start at
    once, with everything it imported); beside threads (tqdm, Dask), where fork
    is unsafe, they come from a fork server that imported ``preload``. They are
    started here, before the caller starts any thread.
    """

    def __init__(self, jobs: int, progress: Progress | None = None, preload: Sequence[str] = ()) -> None:
        self.workers = jobs
        self._progress = progress
        self._preload = list(preload)
        # stopping workers on Ctrl-C leaves their queues' semaphores to the resource tracker: expected, not a leak
        ignored = "ignore::UserWarning:multiprocessing.resource_tracker"
        if ignored not in sys.warnoptions:
            sys.warnoptions.append(ignored)
        # written at once: a task's reports precede its result; made for a fork server, it serves forked workers too
        self._queue = None if progress is None else multiprocessing.get_context("forkserver").SimpleQueue()
        self._pool: ProcessPoolExecutor | None = self._start(jobs)

    def _start(self, jobs: int) -> ProcessPoolExecutor:
        """A pool of ``jobs`` started workers that ignore Ctrl-C and exit with the coordinator."""
        if threading.active_count() == 1:
            context = multiprocessing.get_context("fork")
        else:
            context = multiprocessing.get_context("forkserver")
            context.set_forkserver_preload(self._preload)  # workers start with the tasks' modules imported
        main_thread = threading.current_thread() is threading.main_thread()
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN) if main_thread else None
        try:  # the fork server and every worker forked from it inherit the ignored SIGINT
            pool = ProcessPoolExecutor(jobs, mp_context=context, initializer=_worker_init, initargs=(self._queue,))
            wait([pool.submit(int) for _ in range(jobs)])
        finally:
            if main_thread:
                signal.signal(signal.SIGINT, previous)
        return pool

    def map_unordered(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, outcome)`` as each task finishes: ``function(task)`` or the exception it raised.

        When a worker dies the pool breaks and fails every task in flight. Each
        of those runs again alone in a fresh pool of one worker: a task that
        kills this one too comes back as :class:`WorkerDied`; then a new pool
        takes the remaining tasks.
        """
        tasks = iter(tasks)
        unsent: list[Any] = []  # tasks a broken pool refused: they never ran
        window = 2 * self.workers
        while True:
            first = unsent.pop() if unsent else next(tasks, _END)
            if first is _END:
                return
            unsent.append(first)
            self._pool = self._pool or self._start(self.workers)
            pending: dict[Future, Any] = {}
            interrupted: list[Any] = []  # tasks in flight when the pool broke
            broken = False
            while True:
                while len(pending) < window and not broken:
                    task = unsent.pop() if unsent else next(tasks, _END)
                    if task is _END:
                        break
                    try:
                        pending[self._pool.submit(function, task)] = task
                    except BrokenProcessPool:
                        unsent.append(task)
                        broken = True
                if not pending:
                    break
                for future in self._wait(pending):
                    task = pending.pop(future)
                    if isinstance(future.exception(), BrokenProcessPool):
                        interrupted.append(task)
                        broken = True
                    else:
                        yield task, _outcome(future)
                if broken:  # every other task in flight fails too, or finished just before the break
                    finished = wait(list(pending), timeout=_STOP_PENDING_S).done
                    for future, task in pending.items():
                        if future in finished and not isinstance(future.exception(), BrokenProcessPool):
                            yield task, _outcome(future)
                        else:
                            interrupted.append(task)
                    break
            self._pool.shutdown(wait=True)  # its threads gone, the next pool may fork
            self._pool = None
            if not broken:
                return
            for task in interrupted:
                yield task, self._run_alone(function, task)

    def _run_alone(self, function: Callable[[Any], Any], task: Any) -> Any:
        """Run one task in a fresh pool of one worker; a worker that dies again makes a :class:`WorkerDied`."""
        self._pool = self._start(1)
        [process] = self._pool._processes.values()
        future = self._pool.submit(function, task)
        self._wait({future})
        self._pool.shutdown(wait=True)
        self._pool = None
        if isinstance(future.exception(), BrokenProcessPool):
            return WorkerDied(
                "the worker process died running this run, beside others and again alone: " + _death(process.exitcode)
            )
        return _outcome(future)

    def _wait(self, futures: Iterable[Future]) -> set[Future]:
        """Wait for the first of ``futures`` to finish, handing on progress reports meanwhile."""
        timeout = None if self._queue is None else PROGRESS_POLL_S
        while True:
            done = wait(futures, timeout=timeout, return_when=FIRST_COMPLETED).done
            while self._queue is not None and not self._queue.empty():
                self._progress(*self._queue.get())
            if done:
                return done

    def close(self) -> None:
        """Shut the workers down once idle."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def stop(self) -> None:
        """Stop the workers at once: they are terminated, tasks in flight lost."""
        if self._pool is not None:
            for process in list((getattr(self._pool, "_processes", None) or {}).values()):
                process.terminate()
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


class Dask:
    """Runs tasks on a Dask cluster, through a connected client."""

    def __init__(self, client: Any) -> None:
        self._client = client
        self.workers = max(1, len(client.scheduler_info()["workers"]))

    def map_unordered(self, function: Callable[[Any], Any], tasks: Iterable[Any]) -> Iterator[tuple[Any, Any]]:
        """Yield ``(task, outcome)`` as each task finishes; each future is released once read."""
        from distributed import wait as wait_dask

        tasks = iter(tasks)
        submit = functools.partial(self._client.submit, function, pure=False)
        pending = {submit(task): task for task in itertools.islice(tasks, 2 * self.workers)}
        try:
            while pending:
                for future in wait_dask(list(pending), return_when="FIRST_COMPLETED").done:
                    task = pending.pop(future)
                    next_task = next(tasks, _END)
                    if next_task is not _END:
                        pending[submit(next_task)] = next_task
                    outcome = future.exception() if future.status == "error" else future.result()
                    future.release()
                    yield task, outcome
        finally:
            if pending:  # interrupted
                self._client.cancel(list(pending))


@contextmanager
def executor(
    jobs: int = 1,
    *,
    dask: dict | None = None,
    client: Any = None,
    progress: Progress | None = None,
    preload: Sequence[str] = (),
) -> Iterator[Serial | Pool | Dask]:
    """The executor for these settings: on leaving, its workers are shut down, or stopped after an exception.

    Args:
        jobs: local workers; 1 runs the tasks in this process.
        dask: ``{"local": N}`` or ``{"scheduler": ADDRESS}`` (:func:`dask_client`): run on Dask instead.
        client: a connected Dask client: run on it instead.
        progress: called with ``(index, share done)`` for each report of a task (:func:`reporter`); not on Dask.
        preload: modules a fork server imports before it starts workers (those of the tasks' functions).
    """
    if client is not None or dask is not None:
        with ExitStack() as stack:
            yield Dask(client or stack.enter_context(dask_client(dask)))
        return
    if jobs <= 1:
        yield Serial(progress)
        return
    pool = Pool(jobs, progress, preload)
    try:
        yield pool
    except BaseException:  # interrupted or failed: tasks in flight are lost, never half-done
        pool.stop()
        raise
    pool.close()


def _outcome(future: Future) -> Any:
    """What a finished task returned, or the exception it raised."""
    exc = future.exception()
    return future.result() if exc is None else exc


def _worker_init(queue: Any) -> None:
    """In each worker: ignore Ctrl-C, report progress on ``queue``, drop inherited locks, exit with the parent.

    A daemon thread polls ``os.getppid()``: when the coordinator is killed
    (SIGKILL: no chance to stop its workers) a forked worker is reparented and
    exits; a worker from a fork server sees the fork server exit with the
    coordinator, and exits too. A task in progress is lost, as its coordinator is.
    """
    global _channel
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    _channel = None if queue is None else queue.put
    forget_inherited_locks()
    parent = os.getppid()

    def watch() -> None:
        while True:
            time.sleep(PARENT_POLL_S)
            if os.getppid() != parent:
                os._exit(1)

    threading.Thread(target=watch, name="silosim-watch-parent", daemon=True).start()


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


def check_scheduler(address: str) -> None:
    """Refuse a Dask scheduler address that is not ``[tcp|tls|ucx|ws|wss://]HOST:PORT`` or ``inproc://…``.

    Raises:
        ScenarioError: naming ``--scheduler`` and the address.
    """
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

    Raises:
        ScenarioError: naming the address, when the scheduler cannot be reached within SCHEDULER_TIMEOUT_S.
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
