"""The dry run's time estimate against the real time, on every shipped sweep.

For each sweep file, ``silosim sweep FILE --dry-run`` is run, then the sweep
itself (``silosim sweep FILE --quiet``, into a temporary folder, the report
included), each as its own command, as a user runs them; the table compares
the estimate with the real wall time of the command. The target: every ratio
(estimate / real) within 0.5-1.5, i.e. the estimate within ±50 %.

The whole benchmark takes long (integration.yaml alone is 560 runs of 600
steps: about 10 min on 2 cores); ``--quick`` keeps the sweeps of at most 150
runs. Run it on an otherwise idle machine: the estimate calibrates on the
machine as it is when the dry run starts.

    python benchmarks/bench_estimate.py                 # every shipped sweep
    python benchmarks/bench_estimate.py --quick         # the smaller ones
    python benchmarks/bench_estimate.py examples/bank_strategies.yaml --jobs 1
"""

from __future__ import annotations

import argparse
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = [*sorted((ROOT / "scenarios" / "sweeps").glob("[!_]*.yaml")), ROOT / "examples" / "bank_strategies.yaml"]
QUICK_RUNS = 150
SILOSIM = [sys.executable, "-m", "silosim.cli"]  # as `silosim` (the same interpreter, its start-up included)
_UNITS = {"s": 1, "min": 60, "h": 3600}


def seconds_of(text: str) -> float:
    """The seconds of a duration as silosim prints it: ``45 s``, ``12.5 min``, ``2.1 h``."""
    value, unit = text.split()
    return float(value) * _UNITS[unit]


def dry_run(path: Path, out: Path, jobs: list[str]) -> tuple[int, float, float]:
    """(runs to run, estimated seconds, seconds the dry run took) of ``silosim sweep PATH --dry-run``."""
    started = time.perf_counter()
    done = subprocess.run([*SILOSIM, "sweep", str(path), "--dry-run", "--out", str(out), *jobs],
                          check=True, capture_output=True, text=True)  # fmt: skip
    took = time.perf_counter() - started
    runs = int(re.search(r"(\d+) to run", done.stdout)[1])
    estimate = seconds_of(re.search(r"estimated time: about ([\d.]+ (?:s|min|h))", done.stdout)[1])
    return runs, estimate, took


def real(path: Path, out: Path, jobs: list[str]) -> float:
    """Wall seconds of ``silosim sweep PATH --quiet`` into ``out``, its report included."""
    started = time.perf_counter()
    subprocess.run([*SILOSIM, "sweep", str(path), "--quiet", "--out", str(out), *jobs], check=True,
                   capture_output=True, text=True)  # fmt: skip
    return time.perf_counter() - started


def planned(path: Path) -> int:
    """Runs the sweep file plans (by arithmetic on its spec: nothing is built)."""
    from silosim.experiments.design import SweepSpec, planned_runs

    data = yaml.safe_load(path.read_text())
    return planned_runs(SweepSpec.model_validate({k: v for k, v in data.items() if k != "base"} | {"base": {}}))[1]


def main() -> None:
    """Print, for each sweep: runs, estimate, real wall time and their ratio; then the median ratio."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("sweeps", nargs="*", type=Path, help="sweep files (default: every shipped sweep)")
    parser.add_argument("--quick", action="store_true", help=f"only the sweeps of at most {QUICK_RUNS} runs")
    parser.add_argument("--jobs", type=int, help="worker processes (default: the sweep command's, all cores)")
    args = parser.parse_args()
    jobs = ["--jobs", str(args.jobs)] if args.jobs else []
    ratios = []
    header = f"{'sweep':<22} {'runs':>5} {'estimate s':>11} {'real s':>8} {'ratio':>6} {'dry run s':>10} {'load':>5}"
    print(header, flush=True)
    paths = sorted(args.sweeps or SHIPPED, key=planned)  # the small ones first
    for path in paths:
        if args.quick and planned(path) > QUICK_RUNS:
            continue
        load = os.getloadavg()[0]  # the machine's 1-minute load average before the dry run
        with tempfile.TemporaryDirectory() as tmp:
            runs, estimate, took = dry_run(path, Path(tmp) / "dry", jobs)
            wall = real(path, Path(tmp) / "out", jobs)
        ratios.append(estimate / wall)
        row = f"{path.stem:<22} {runs:>5} {estimate:>11.0f} {wall:>8.1f} {estimate / wall:>6.2f} {took:>10.1f}"
        print(f"{row} {load:>5.1f}", flush=True)
    if ratios:
        inside = sum(0.5 <= r <= 1.5 for r in ratios)
        print(f"median ratio {statistics.median(ratios):.2f}; {inside} of {len(ratios)} within ±50 %")


if __name__ == "__main__":
    main()
