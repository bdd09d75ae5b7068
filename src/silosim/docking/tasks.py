"""The dockings' batches of runs, on the shared executor, with a progress bar weighted by their cost."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from silosim.experiments.executor import executor, reporter


@dataclass(frozen=True)
class Task:
    """One batch of runs, executed in one process; its result depends only on its arguments."""

    run: Callable[..., dict[str, np.ndarray]]  # a module-level function (it is sent to worker processes)
    key: tuple  # the group its runs belong to
    args: dict
    cost: float  # rough relative run time, for the progress bar and scheduling
    labels: tuple = ()  # per run, what it stands for within the group (drift: the noise x)


def _execute(item: tuple[int, Task]) -> dict[str, np.ndarray]:
    """Run task ``index``, reporting its progress as ``(index, share done)`` when the coordinator listens."""
    index, task = item
    return task.run(**task.args, progress=reporter(index))


def run_tasks(tasks: Sequence[Task], jobs: int, progress: bool = True) -> list[tuple[Task, dict[str, np.ndarray]]]:
    """Run the tasks on ``jobs`` processes (longest first), with a progress bar weighted by cost.

    Workers report how far each task has got once a second, so the bar also
    moves during long batches (a 50×50 lattice takes minutes). ``jobs`` 1 runs
    them in this process. The workers are those of
    :func:`silosim.experiments.executor.executor`: they ignore Ctrl-C, and on an
    interrupt or a failed task the coordinator stops them and re-raises.

    Returns:
        ``(task, result)`` for every task, longest first (ties in the order given).
    """
    from tqdm import tqdm

    tasks = list(tasks)
    order = sorted(range(len(tasks)), key=lambda k: -tasks[k].cost)
    done: dict[int, dict[str, np.ndarray]] = {}
    share = [0.0] * len(tasks)

    def show(index: int, value: float) -> None:  # called once ``bar`` exists
        share[index] = max(share[index], min(value, 1.0))
        bar.n = sum(t.cost * f for t, f in zip(tasks, share, strict=True))
        bar.set_postfix_str(f"{len(done)}/{len(tasks)} batches", refresh=False)
        bar.refresh()

    fmt = "{desc}: {percentage:3.0f}%|{bar}| {postfix} [{elapsed}<{remaining}]"
    with (
        executor(min(jobs, len(tasks)), progress=show if progress else None, preload=["silosim.docking"]) as ex,
        tqdm(total=sum(t.cost for t in tasks), bar_format=fmt, desc="docking", disable=not progress) as bar,
    ):
        for (k, _), outcome in ex.map_unordered(_execute, ((k, tasks[k]) for k in order)):
            if isinstance(outcome, BaseException):
                raise outcome
            done[k] = outcome
            show(k, 1.0)
    return [(tasks[k], done[k]) for k in order]
