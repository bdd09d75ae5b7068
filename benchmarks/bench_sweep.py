"""Sweep throughput and coordinator memory: runs per second on 1 and 2 local workers.

A sweep of short runs (a small organisation, 20 steps) is run once per worker
count, each in its own process so that the coordinator's peak resident memory
(workers excluded) is its own. Prints runs per second, the speed-up, and the
coordinator's peak memory at each sweep size, which should stay flat as the
number of runs grows.

The timing covers the whole sweep as a user runs it: starting the workers,
their first load of the compiled model code (about 0.3 s each, in parallel),
planning and storing every run. A run here takes about 7 ms, so these fixed
costs weigh on a sweep of a few hundred runs; the default is 2,000.

    python benchmarks/bench_sweep.py                       # 2,000 runs on 1 and 2 workers
    python benchmarks/bench_sweep.py --runs 400 --workers 1 2
    python benchmarks/bench_sweep.py --runs 200 2000 --workers 2
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

SMALL_ORG = {
    "name": "bench",
    "steps": 20,
    "organization": {
        "departments": [
            {"name": d, "headcount": 10, "reach": 0.5, "openness": 0.5} for d in ("marketing", "hr", "rnd", "comms")
        ],
        "stakeholders": [
            {"group": g, "count": 150, "external": g != "employees", "activity": 0.5}
            for g in ("consumers", "employees", "partners")
        ],
    },
    "communities": [
        {"name": "brand_page", "audience": "external", "involvement": {"marketing": 0.9}, "members": {"consumers": 1}},
        {"name": "esn", "audience": "internal", "involvement": {"hr": 0.9}, "members": {"employees": 1}},
        {"name": "lab", "audience": "external", "involvement": {"rnd": 0.9}, "members": {"partners": 1}},
    ],
}


def sweep_file(folder: Path, runs: int) -> Path:
    """A sweep of ``runs`` short runs: two strategies × runs/2 replications."""
    (folder / "base.yaml").write_text(yaml.safe_dump(SMALL_ORG))
    spec = {
        "name": "bench",
        "base": "base.yaml",
        "replications": max(1, runs // 2),
        "strategies": {
            "delegation": {"ownership.rule": "most_involved"},
            "glue": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"},
        },
    }
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec))
    return path


def child(runs: int, workers: int) -> dict:
    """Run the sweep here (the coordinator) and measure it; the report is not part of the timing."""
    from silosim.experiments.design import load_sweep
    from silosim.experiments.sweep import run_sweep

    with tempfile.TemporaryDirectory() as tmp:
        sweep = load_sweep(sweep_file(Path(tmp), runs))
        started = time.perf_counter()
        counts = run_sweep(sweep, Path(tmp) / "out", jobs=workers, progress=False)
        wall = time.perf_counter() - started
    return {
        "runs": counts["ran"],
        "workers": workers,
        "wall_s": wall,
        "runs_per_s": counts["ran"] / wall,
        "coordinator_peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    """Run each (runs, workers) combination in its own process and print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, nargs="+", default=[2000])
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--child", nargs=2, type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    rows = []
    print(f"{'runs':>6} {'workers':>7} {'wall s':>8} {'runs/s':>8} {'coordinator peak MiB':>21}")
    for runs in args.runs:
        for workers in args.workers:
            command = [sys.executable, __file__, "--child", str(runs), str(workers)]
            row = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
            rows.append(row)
            print(
                f"{row['runs']:>6} {workers:>7} {row['wall_s']:>8.1f} {row['runs_per_s']:>8.1f} "
                f"{row['coordinator_peak_mib']:>21.0f}",
                flush=True,
            )
    for runs in args.runs:
        by_workers = {r["workers"]: r["runs_per_s"] for r in rows if r["runs"] == (runs // 2) * 2}
        if 1 in by_workers and len(by_workers) > 1:
            best = max(by_workers)
            print(f"{runs} runs: speed-up with {best} workers over 1: {by_workers[best] / by_workers[1]:.2f}x")


if __name__ == "__main__":
    main()
