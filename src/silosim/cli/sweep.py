"""``silosim sweep SWEEP.yaml``: validate, then run or estimate the sweep, then write its report."""

from __future__ import annotations

import argparse
import os
import sys
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path

from silosim.analysis.text import duration, plural
from silosim.cli.parser import add_scale, positive_int


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim sweep`` and its arguments."""
    parser = subparsers.add_parser("sweep", help="run a sweep file: strategies x parameters x replications")
    parser.add_argument("sweep", type=Path, help="sweep YAML file")
    parser.add_argument("--out", type=Path, help="sweep folder (default: results/sweep-NAME); reruns resume it")
    parser.add_argument("--jobs", type=positive_int, help="local worker processes (default: all cores)")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--scheduler", metavar="ADDRESS", help="send runs to this Dask scheduler")
    backend.add_argument("--dask-local", type=positive_int, metavar="N", help="start a local Dask cluster of N workers")
    parser.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    parser.add_argument("--dry-run", action="store_true", help="print runs, estimated time and disk size; run nothing")
    add_scale(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    return parser


def main(args: argparse.Namespace) -> int:
    """``silosim sweep``: validate, then run or estimate, then write the report.

    Everything that can be refused is refused before any run: the sweep file,
    the scheduler address, an ``--out`` that cannot be written or is no sweep
    folder, a damaged store, a folder another process is sweeping. Exit codes:
    0 done, 1 runs of the sweep are stored as failed, 2 bad input, 130 Ctrl-C
    (every finished run is stored: the same command resumes).
    """
    from silosim.experiments.design import load_sweep
    from silosim.experiments.executor import check_scheduler, dask_client
    from silosim.experiments.sweep import default_out, estimate, run_sweep
    from silosim.resources import runs_that_fit
    from silosim.runner import check_out_dir
    from silosim.store import STORE_NAME, Store, check_sweep_folder, sweep_lock

    sweep = load_sweep(args.sweep, args.scale)
    out = args.out or default_out(sweep)
    if args.scheduler:
        check_scheduler(args.scheduler)
    check_out_dir(out, "--out")
    check_sweep_folder(out, "--out")
    if os.path.lexists(out / STORE_NAME):
        Store(out, "--out").close()  # a damaged or read-only store is refused before anything is written
    jobs = args.jobs or (args.dask_local if args.dask_local else len(os.sched_getaffinity(0)))
    if not args.scheduler:  # every run fits alone (validation); several at once must fit together
        fit = runs_that_fit(list(sweep.validated.values()))
        if fit < jobs:
            print(f"running {fit} at a time instead of {jobs}: more of the largest runs do not fit in memory",
                  file=sys.stderr)  # fmt: skip
            jobs = fit
    dask = (
        {"local": args.dask_local} if args.dask_local else ({"scheduler": args.scheduler} if args.scheduler else None)
    )
    if args.dry_run:
        figures = estimate(sweep, out, args.retry_failed)
        workers = "per worker on the cluster" if args.scheduler else f"on {jobs} worker{'s' * (jobs > 1)}"
        strategy, point = figures["calibration"]
        print(
            f"{sweep.spec.name}: {figures['planned']} runs planned ({plural(len(sweep.strategies), 'strategy')} × "
            f"{plural(len(sweep.points), 'point')} × {plural(sweep.spec.replications, 'replication')}), "
            f"{figures['stored']} already stored, {figures['to_run']} to run\n"
            f"estimated time: {duration(figures['seconds'] / (1 if args.scheduler else jobs))} {workers} "
            f"({figures['seconds_per_run']:.2f} s for the largest run, {strategy} at point {point}, from a "
            "calibration run; the others scaled by their size)\n"
            f"estimated disk: {figures['bytes'] / 2**20:.1f} MiB in {out / STORE_NAME}"
        )
        return 0
    from silosim.analysis.report import write_report

    with ExitStack() as stack:
        client = stack.enter_context(dask_client(dask)) if args.scheduler else None  # unreachable: nothing written
        stack.enter_context(sweep_lock(out, "--out"))  # for the runs and the report
        if args.dask_local:
            client = stack.enter_context(dask_client(dask))
        try:
            counts = run_sweep(sweep, out, jobs, dask, args.retry_failed, progress=not args.quiet, client=client)
        except KeyboardInterrupt:  # silosim.cli.main prints these messages and exits 130 and 1
            raise KeyboardInterrupt(
                f"interrupted: every finished run is stored in {out}; run the same command to resume"
            ) from None
        except BrokenProcessPool:
            raise BrokenProcessPool(
                f"a worker process died (out of memory?): every finished run is stored in {out}; "
                "run the same command to resume"
            ) from None
        print(
            f"{counts['ran']} runs done ({counts['failed']} failed), {counts['skipped']} already stored; "
            f"report: {write_report(out, '--out')}"
        )
    if counts["failed_stored"]:
        print(
            f"{counts['failed_stored']} runs of this sweep are stored as failed (their errors are in the report): "
            "fix the cause, then run the same command with --retry-failed to run them again",
            file=sys.stderr,
        )
        return 1
    return 0
