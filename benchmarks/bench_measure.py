"""``silosim measure`` on a large observed network: the time of each stage and of the whole command.

A random organisation of 100,000 people in 20 departments (sizes drawn at random) and
1,000,000 ties, 70 % of each person's ties drawn inside their department (planted
homophily), is written as an edge CSV (``source,target,weight``) and a node CSV (``id,
department``) in a temporary folder; then the measure runs in-process as the command runs it
(read the CSVs, group by department, measure, write the folder), each stage timed; then,
unless ``--stages-only``, the whole command once more as a user runs it (``silosim measure``,
its start-up included). The target: the whole command in under a minute.

    python benchmarks/bench_measure.py                       # 100,000 people, 1,000,000 ties
    python benchmarks/bench_measure.py --nodes 20000 --ties 200000 --permutations 99
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from silosim.analysis.text import markdown_table

TARGET_S = 60.0


def write_network(folder: Path, n: int, m: int, groups: int, inside: float, seed: int) -> tuple[Path, Path]:
    """An edge CSV and a node CSV of a random network with planted homophily; their paths."""
    rng = np.random.default_rng(seed)
    share = rng.dirichlet(np.full(groups, 4.0))  # unequal departments
    group = rng.choice(groups, size=n, p=share)
    order = np.argsort(group, kind="stable")
    starts = np.searchsorted(group[order], np.arange(groups))
    sizes = np.bincount(group, minlength=groups)
    source = rng.integers(0, n, m)
    g = group[source]
    mate = order[starts[g] + (rng.random(m) * sizes[g]).astype(np.int64)]
    target = np.where(rng.random(m) < inside, mate, rng.integers(0, n, m))
    weight = rng.integers(1, 6, m)
    ids = np.char.add("p", np.arange(n).astype(str))
    edges, nodes = folder / "edges.csv", folder / "nodes.csv"
    pd.DataFrame({"source": ids[source], "target": ids[target], "weight": weight}).to_csv(edges, index=False)
    names = np.char.add("dept", np.char.zfill(np.arange(groups).astype(str), 2))
    pd.DataFrame({"id": ids, "department": names[group]}).to_csv(nodes, index=False)
    return edges, nodes


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=100_000)
    parser.add_argument("--ties", type=int, default=1_000_000)
    parser.add_argument("--groups", type=int, default=20)
    parser.add_argument("--inside", type=float, default=0.7, help="share of ties drawn inside the department")
    parser.add_argument("--permutations", type=int, help="default: the command's")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--stages-only", action="store_true", help="skip the run of the whole command")
    args = parser.parse_args()

    from silosim.cli.measure import LARGE_PERMUTATIONS, LARGE_TIES, PERMUTATIONS
    from silosim.ona import report
    from silosim.ona.read import partition, read_network

    with tempfile.TemporaryDirectory(prefix="bench-measure-") as tmp:
        folder = Path(tmp)
        started = time.perf_counter()
        edges, nodes = write_network(folder, args.nodes, args.ties, args.groups, args.inside, args.seed)
        print(f"wrote {edges.stat().st_size / 1e6:.0f} MB of ties in {time.perf_counter() - started:.1f} s")

        timings: dict[str, float] = {}
        started = time.perf_counter()
        network = read_network(edges, nodes)
        groups, names = partition(network, "department")
        timings["read"] = time.perf_counter() - started
        ties = len(network.source)
        permutations = args.permutations or (LARGE_PERMUTATIONS if ties > LARGE_TIES else PERMUTATIONS)
        result = report.measure_network(
            network, groups, names, seed=0, n_permutations=permutations, group_by="department", timings=timings
        )
        report.write_measures(result, network, folder / "out", timings=timings)
        total = sum(timings.values())
        rows = [(stage, f"{seconds:.1f}", f"{seconds / total:.0%}") for stage, seconds in timings.items()]
        rows.append(("in all", f"{total:.1f}", "100%"))
        print(f"{network.n:,} people, {ties:,} ties, {len(names)} groups, {permutations} shuffles")
        print(markdown_table(("stage", "seconds", "share"), rows))
        silos = sum(r["verdict"] == "silo" for r in result["groups"])
        print(f"silos against chance: {silos} of {len(names)}; E-I {result['ei']['observed']:.3f}, "
              f"modularity {result['modularity']['formal']:.3f} (Leiden {result['modularity']['detected']:.3f}, "
              f"{result['modularity']['n_detected']} communities, ARI {result['modularity']['ari']:.2f})")  # fmt: skip

        if not args.stages_only:
            command = [sys.executable, "-m", "silosim.cli", "measure", str(edges), "--nodes", str(nodes)]
            command += ["--group-by", "department", "--out", str(folder / "cli"), "--quiet"]
            if args.permutations:
                command += ["--permutations", str(args.permutations)]
            started = time.perf_counter()
            subprocess.run(command, check=True, capture_output=True, text=True)
            whole = time.perf_counter() - started
            verdict = "under" if whole < TARGET_S else "OVER"
            print(f"the whole command (silosim measure, start-up included): {whole:.1f} s, {verdict} {TARGET_S:.0f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
