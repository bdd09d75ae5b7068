"""Wall time and peak memory of one scenario run at a given population size.

The default scenario's stakeholder groups are scaled, in their proportions,
to ``--stakeholders``; each repeat runs in its own process so that its peak
resident memory is its own. Prints each repeat and the median.

    python benchmarks/bench_run.py --stakeholders 20000 --steps 500 --repeats 3
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def scaled_scenario(path: Path, stakeholders: int, steps: int):
    """The scenario at ``path`` with its stakeholder groups scaled to ``stakeholders`` in total."""
    from silosim import scenario

    data = scenario.to_dict(scenario.load(path))
    groups = data["organization"]["stakeholders"]
    total = sum(g["count"] for g in groups)
    for g in groups:
        g["count"] = max(1, round(g["count"] * stakeholders / total))
    data["steps"] = steps
    return scenario.from_dict(data)


def one_run(path: Path, stakeholders: int, steps: int) -> dict:
    """Run once in this process; time excludes imports, includes model creation and measures."""
    from silosim.runner import run

    scenario = scaled_scenario(path, stakeholders, steps)
    started = time.perf_counter()
    result = run(scenario)
    return {
        "wall_s": time.perf_counter() - started,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "verdict": result.summary["verdict"],
    }


def main() -> None:
    """Parse the flags, run the repeats in child processes, print the figures."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "default.yaml")
    parser.add_argument("--stakeholders", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=500)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(one_run(args.scenario, args.stakeholders, args.steps)))
        return
    command = [sys.executable, __file__, "--child", "--scenario", str(args.scenario)]
    command += ["--stakeholders", str(args.stakeholders), "--steps", str(args.steps)]
    rows = []
    for k in range(args.repeats):
        rows.append(json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout))
        print(
            f"repeat {k + 1}: {rows[-1]['wall_s']:.2f} s, peak RSS {rows[-1]['peak_rss_mib']:.0f} MiB, "
            f"verdict {rows[-1]['verdict']}",
            flush=True,
        )
    print(
        f"{args.stakeholders} stakeholders x {args.steps} steps ({args.scenario.name}): "
        f"median {statistics.median(r['wall_s'] for r in rows):.2f} s, "
        f"peak RSS {max(r['peak_rss_mib'] for r in rows):.0f} MiB over {args.repeats} repeats"
    )


if __name__ == "__main__":
    main()
