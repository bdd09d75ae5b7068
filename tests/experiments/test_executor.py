"""The executor: one interface over this process, a local pool and Dask; outcomes, progress, dying workers."""

from __future__ import annotations

import importlib.util
import itertools
import os
import signal
import time

import pytest

from silosim.experiments.executor import WorkerDied, dask_client, executor, reporter

HAS_DASK = importlib.util.find_spec("distributed") is not None
BACKENDS = ["serial", "pool", pytest.param("dask", marks=pytest.mark.skipif(not HAS_DASK, reason="no distributed"))]


def square(task: int) -> int:
    """A tiny pure function (module level: sent to worker processes by name)."""
    if task == 3:
        raise ValueError("three is refused")
    return task * task


def reporting(task: int) -> int:
    """Report two shares done, then finish."""
    report = reporter(task)
    if report is not None:
        report(0.25)
        report(0.5)
    return task


def die_on_two(task: int) -> int:
    """Kill the worker running task 2: never this process (serial runs would kill the test)."""
    if task == 2:
        os.kill(os.getpid(), signal.SIGKILL)
    time.sleep(0.05)
    return task


@pytest.fixture(scope="module")
def dask():
    """A local Dask cluster of one worker, shared by this module's tests."""
    with dask_client({"local": 1}) as client:
        yield client


def settings(backend: str, request: pytest.FixtureRequest) -> dict:
    if backend == "dask":
        return {"client": request.getfixturevalue("dask")}
    return {"jobs": 1 if backend == "serial" else 2}


@pytest.mark.parametrize("backend", BACKENDS)
def test_each_backend_runs_every_task_once_and_returns_exceptions_as_outcomes(backend, request):
    with executor(**settings(backend, request)) as ex:
        outcomes = dict(ex.map_unordered(square, range(8)))
    assert sorted(outcomes) == list(range(8))
    error = outcomes.pop(3)
    assert isinstance(error, ValueError) and str(error) == "three is refused"
    assert outcomes == {k: k * k for k in range(8) if k != 3}


def test_results_are_identical_across_backends(request):
    backends = ["serial", "pool"] + ["dask"] * HAS_DASK
    results = {}
    for backend in backends:
        with executor(**settings(backend, request)) as ex:
            results[backend] = {k: v for k, v in ex.map_unordered(square, range(20)) if k != 3}
    assert all(results[b] == results["serial"] for b in backends)


@pytest.mark.parametrize("jobs", [1, 2])
def test_the_progress_callback_receives_the_reports_of_tasks(jobs):
    received = []
    with executor(jobs, progress=lambda index, share: received.append((index, share))) as ex:
        assert sorted(task for task, _ in ex.map_unordered(reporting, range(4))) == [0, 1, 2, 3]
    assert sorted(received) == [(k, s) for k in range(4) for s in (0.25, 0.5)]


def test_without_a_progress_callback_tasks_have_no_reporter():
    with executor(2) as ex:
        assert dict(ex.map_unordered(reporter, range(3))) == {0: None, 1: None, 2: None}


def test_a_task_that_kills_its_worker_comes_back_as_worker_died_and_the_others_complete():
    with executor(2) as ex:
        outcomes = dict(ex.map_unordered(die_on_two, range(6)))
    died = outcomes.pop(2)
    assert isinstance(died, WorkerDied)
    assert str(died).startswith("the worker process died running this run, beside others and again alone")
    assert "killed by signal 9 (SIGKILL: out of memory, or killed)" in str(died)
    assert outcomes == {k: k for k in range(6) if k != 2}


def test_a_pool_keeps_at_most_two_tasks_per_worker_in_flight():
    pulled = []

    def tasks():  # endless: a window that reads ahead would never stop
        for k in itertools.count():
            pulled.append(k)
            yield k

    with executor(2) as ex:
        for finished, _ in enumerate(ex.map_unordered(square, tasks()), 1):
            assert len(pulled) - finished < 2 * 2
            if finished == 20:
                break
