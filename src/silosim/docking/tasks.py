"""The dockings' batches of runs, run on worker processes with a progress bar weighted by their cost."""

from __future__ import annotations

import functools
import multiprocessing
import signal
import sys
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from dataclasses import dataclass
from queue import Empty, Queue

import numpy as np


@dataclass(frozen=True)
class Task:
    """One batch of runs, executed in one process; its result depends only on its arguments."""

    run: Callable[..., dict[str, np.ndarray]]  # a module-level function (it is sent to worker processes)
    key: tuple  # the group its runs belong to
    args: dict
    cost: float  # rough relative run time, for the progress bar and scheduling
    labels: tuple = ()  # per run, what it stands for within the group (drift: the noise x)


_PROGRESS: Queue | None = None  # in a worker: where to report progress


def _init_worker(queue: Queue | None) -> None:
    """Worker start: report progress on ``queue``; leave Ctrl-C to the coordinator, which stops the workers."""
    global _PROGRESS
    _PROGRESS = queue
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _execute(task: Task, index: int = 0, queue: Queue | _Direct | None = None) -> tuple[Task, dict[str, np.ndarray]]:
    """Run one task; report its progress as ``(index, share done)`` on ``queue`` (a worker's by default)."""
    queue = queue if queue is not None else _PROGRESS
    progress = None if queue is None else functools.partial(_put, queue, index)
    return task, task.run(**task.args, progress=progress)


def _put(queue: Queue | _Direct, index: int, share: float) -> None:
    queue.put((index, share))


def run_tasks(tasks: Sequence[Task], jobs: int, progress: bool = True) -> list[tuple[Task, dict[str, np.ndarray]]]:
    """Run the tasks on ``jobs`` processes (longest first), with a progress bar weighted by cost.

    Workers report how far each task has got once a second, so the bar also
    moves during long batches (a 50×50 lattice takes minutes). Workers are
    started by a fork server (forking beside threads is unsafe) and ignore
    Ctrl-C; on an interrupt the coordinator stops them and re-raises.
    """
    from tqdm import tqdm

    order = sorted(tasks, key=lambda t: -t.cost)
    done: dict[int, tuple[Task, dict[str, np.ndarray]]] = {}
    share = [0.0] * len(order)
    fmt = "{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]"
    with tqdm(total=sum(t.cost for t in order), bar_format=fmt, desc="docking", disable=not progress) as bar:

        def show(index: int, value: float) -> None:
            share[index] = max(share[index], min(value, 1.0))
            bar.n = sum(t.cost * f for t, f in zip(order, share, strict=True))
            bar.set_postfix_str(f"{len(done)}/{len(order)} batches", refresh=False)
            bar.refresh()

        if jobs <= 1 or len(order) == 1:
            direct = _Direct(lambda item: show(*item)) if progress else None
            for k, task in enumerate(order):
                done[k] = _execute(task, k, direct)
                show(k, 1.0)
            return [done[k] for k in sorted(done)]
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["silosim.docking"])
        # stopping workers on Ctrl-C leaves their queue's semaphores to the resource tracker: expected, not a leak
        sys.warnoptions.append("ignore::UserWarning:multiprocessing.resource_tracker")
        queue = context.Queue() if progress else None
        pool = ProcessPoolExecutor(
            min(jobs, len(order)), mp_context=context, initializer=_init_worker, initargs=(queue,)
        )
        try:
            futures = {pool.submit(_execute, task, k): k for k, task in enumerate(order)}
            pending = set(futures)
            while pending:
                finished, pending = wait(pending, timeout=0.5, return_when=FIRST_COMPLETED)
                while queue is not None:
                    try:
                        show(*queue.get_nowait())
                    except Empty:
                        break
                for future in finished:
                    done[futures[future]] = future.result()
                    show(futures[future], 1.0)
        except BaseException:  # interrupted or failed: stop the workers, keep nothing
            for process in list((getattr(pool, "_processes", None) or {}).values()):
                process.terminate()
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown()
    return [done[k] for k in sorted(done)]


class _Direct:
    """A stand-in for a queue that hands each item straight to a function (single process)."""

    def __init__(self, function: Callable[[tuple[int, float]], None]) -> None:
        self.function = function

    def put(self, item: tuple[int, float]) -> None:
        """Hand the item over."""
        self.function(item)
