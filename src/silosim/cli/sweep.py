"""``silosim sweep SWEEP.yaml``: validate, then run or estimate the sweep, then write its report."""

from __future__ import annotations

import argparse
import os
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from contextlib import ExitStack
from pathlib import Path
from typing import Any

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
        workers = 1 if args.scheduler else jobs
        figures = estimate(sweep, out, args.retry_failed, workers, startup_s=seconds_since_start())
        print(dry_run_text(sweep, figures, workers, args.scheduler is not None, out / STORE_NAME))
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
        report = write_report(out, "--out")
        print(f"{counts['ran']} runs done ({counts['failed']} failed), {counts['skipped']} already stored")
        print(report_text(report))
    if counts["failed_stored"]:
        print(
            f"{counts['failed_stored']} runs of this sweep are stored as failed (their errors are in the report): "
            "fix the cause, then run the same command with --retry-failed to run them again",
            file=sys.stderr,
        )
        return 1
    return 0


def seconds_since_start() -> float:
    """Seconds since this process started (Linux: from /proc); the CPU time used when that is unknown."""
    try:
        ticks = int(Path("/proc/self/stat").read_text().rsplit(")", 1)[1].split()[19])
        uptime = float(Path("/proc/uptime").read_text().split()[0])
        return max(uptime - ticks / os.sysconf("SC_CLK_TCK"), 0.0)
    except (OSError, ValueError, IndexError):
        return time.process_time()


def dry_run_text(sweep: Any, figures: dict, workers: int, cluster: bool, store: Path) -> str:
    """What ``--dry-run`` prints: the runs planned, stored and to run, the estimated time and disk.

    Args:
        sweep: the validated sweep.
        figures: :func:`silosim.experiments.sweep.estimate`'s figures.
        workers: the workers the estimate counts (1 for a cluster).
        cluster: the runs go to a Dask cluster (whose workers are unknown here).
        store: the sweep's store.
    """
    where = f"on {plural(workers, 'worker')}"
    if cluster:
        where = "on one worker of the cluster (more divide the runs' part)"
    cells = ", ".join(f"{s} at point {p}" for s, p in figures["calibration"])
    runs = figures["to_run"]
    busy = ""
    if figures["contention"] > 1.05:
        busy = (
            f"; {plural(figures['cores'], 'core')}, {figures['busy_cores']:.1f} busy with other work: each run "
            f"{figures['contention']:.1f}× slower side by side"
        )
    from silosim.experiments.design import design_text

    design = design_text(sweep.spec)
    return (
        (f"{design}\n" if design else "")
        + f"{sweep.spec.name}: {figures['planned']} runs planned ({plural(len(sweep.strategies), 'strategy')} × "
        f"{plural(len(sweep.points), 'point')} × {plural(sweep.spec.replications, 'replication')}), "
        f"{figures['stored']} already stored, {runs} to run\n"
        f"estimated time: about {duration(figures['seconds'])} {where}: start-up {duration(figures['startup_s'])}, "
        f"{plural(runs, 'run')} of about {figures['seconds_per_run']:.2f} s ({duration(figures['runs_s'])} side by "
        f"side, each worker's first load of the model {figures['load_s']:.1f} s included), then the report, about "
        f"{duration(figures['report_s'])}\n"
        f"  (timed on warm short runs of {cells}, the others interpolated by their work per step{busy})\n"
        f"estimated disk: {figures['bytes'] / 2**20:.1f} MiB in {store}"
    )


def report_text(report_md: Path) -> str:
    """What a finished sweep prints: its conclusion (``conclusion.txt`` beside ``report.md``) and the reports' paths."""
    conclusion = report_md.with_name("conclusion.txt")
    lines = [conclusion.read_text().strip(), ""] if conclusion.is_file() else []
    html = report_md.with_name("report.html")
    if html.is_file():
        lines.append(f"report: {html}")
    lines.append(f"report (Markdown): {report_md}")
    return "\n".join(lines)
