"""How silosim's cost grows with the organisation, against plain per-agent Mesa.

The default organisation (scenarios/default.yaml: 5 departments, 1 community
manager, 5 communities, 4 stakeholder groups) is cloned into business units:
1 unit at 1,000 stakeholders, doubling with every tenfold size (2 at 10,000,
4 at 100,000, 8 at 1,000,000). Each unit brings its own departments, CM,
communities and stakeholder groups; stakeholders are split evenly between
units in the default's proportions, and each unit's marketing also takes
part in the next unit's brand page, so that units can merge. Every size runs
200 steps with measures every 10, each in its own process (peak resident
memory is that process's own; silosim's compiled loops are loaded, or compiled
on a first run, by a small warm-up run before the clock starts, reported as
``warm_up_s``). The per-agent reference
(src/silosim/docking/reference_model.py) runs where a short pilot says the whole run
finishes within ten minutes; the ratio of agent-steps per second is printed
for every size where both ran.

    python benchmarks/bench_scale.py                       # 1k, 10k, 100k, 1M
    python benchmarks/bench_scale.py --sizes 1000 10000 --steps 50
    python benchmarks/bench_scale.py --profile 100000       # where a 100,000-stakeholder run spends its time

Writes benchmarks/results/scale.csv and scale.png (log-log time and memory
against size, with fitted slopes). Memory on the plot is the model's own: the
peak resident memory above what the process held just before building it
(Python, the libraries and the compiled code, about 0.2 GiB).
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
OUT = ROOT / "benchmarks" / "results"
REFERENCE_BUDGET_S = 600


def units_for(stakeholders: int) -> int:
    """Business units at a size: 1 at 1,000, doubling with every tenfold size."""
    return max(1, 2 ** round(math.log10(max(stakeholders, 1000) / 1000)))


def scaled_scenario(stakeholders: int, steps: int, every: int = 10) -> dict:
    """The default organisation cloned into units, with ``stakeholders`` in total (raw scenario data)."""
    from silosim import scenario

    base = scenario.to_dict(scenario.load(ROOT / "scenarios" / "default.yaml"))
    units = units_for(stakeholders)
    total = sum(g["count"] for g in base["organization"]["stakeholders"])
    org = {"departments": [], "community_managers": [], "stakeholders": []}
    communities = []
    for u in range(units):

        def rename(name: str, unit: int = u) -> str:
            return f"{name}_{unit}"

        for d in base["organization"]["departments"]:
            org["departments"].append({**d, "name": rename(d["name"])})
        for m in base["organization"]["community_managers"]:
            org["community_managers"].append({**m, "name": rename(m["name"]), "home": m["home"] and rename(m["home"])})
        for g in base["organization"]["stakeholders"]:
            count = max(1, round(g["count"] * stakeholders / total / units))
            org["stakeholders"].append({**g, "group": rename(g["group"]), "count": count})
        for c in base["communities"]:
            community = copy.deepcopy(c)
            community["name"] = rename(c["name"])
            community["involvement"] = {rename(k): v for k, v in c["involvement"].items()}
            community["members"] = {rename(k): v for k, v in c["members"].items()}
            if c["name"] == "brand_page" and units > 1:  # the previous unit's marketing takes part too
                community["involvement"][rename("marketing", (u - 1) % units)] = 0.2
            communities.append(community)
    data = {**base, "organization": org, "communities": communities, "steps": steps, "events": []}
    data["name"] = f"scale-{stakeholders}"
    data["metrics"] = {**base["metrics"], "every": every}
    return data


def _peak_mib() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _resident_mib() -> float:
    """This process's resident memory now (Linux)."""
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize() / 2**20


def _warm_up() -> None:
    """Load (or compile, on a first run) silosim's compiled loops with a tiny run, so that timings exclude it."""
    from silosim.model import SiloModel
    from silosim.scenario import from_dict

    model = SiloModel(from_dict(scaled_scenario(100, 12)))
    while model.running:
        model.step()


def run_fast(stakeholders: int, steps: int) -> dict:
    """Time silosim's engine at one size: creation, steps, and the share spent in measures."""
    from silosim.model import SiloModel
    from silosim.scenario import from_dict

    started = time.perf_counter()
    _warm_up()
    compiled = time.perf_counter() - started
    base = _resident_mib()
    scenario = from_dict(scaled_scenario(stakeholders, steps))
    started = time.perf_counter()
    model = SiloModel(scenario)
    created = time.perf_counter() - started
    measuring = 0.0
    measure = model.measure

    def timed_measure() -> dict:
        nonlocal measuring
        t = time.perf_counter()
        out = measure()
        measuring += time.perf_counter() - t
        return out

    model.measure = timed_measure
    t = time.perf_counter()
    while model.running:
        model.step()
    stepping = time.perf_counter() - t
    agents = len(model.world.culture)
    return {
        "engine": "silosim",
        "stakeholders": stakeholders,
        "agents": agents,
        "units": units_for(stakeholders),
        "steps": steps,
        "warm_up_s": compiled,
        "create_s": created,
        "run_s": stepping,
        "wall_s": created + stepping,
        "agent_steps_per_s": agents * steps / stepping,
        "measure_share": measuring / stepping,
        "peak_mib": _peak_mib(),
        "model_mib": _peak_mib() - base,
        "verdict": model.measures["verdict"],
    }


def run_reference(stakeholders: int, steps: int, pilot_steps: int = 3) -> dict:
    """Time the per-agent reference: a short pilot, then the whole run if it fits the budget."""
    from silosim.docking.reference_model import ReferenceModel
    from silosim.scenario import from_dict

    scenario = from_dict(scaled_scenario(stakeholders, steps))
    base = _resident_mib()
    started = time.perf_counter()
    model = ReferenceModel(scenario)
    created = time.perf_counter() - started
    t = time.perf_counter()
    for _ in range(pilot_steps):
        model.step()
    per_step = (time.perf_counter() - t) / pilot_steps
    estimate = created + per_step * steps
    agents = len(model.agents)
    row = {"engine": "per-agent Mesa", "stakeholders": stakeholders, "agents": agents, "steps": steps}
    if estimate > REFERENCE_BUDGET_S:
        return {**row, "skipped": f"estimated {estimate / 60:.0f} min from a {pilot_steps}-step pilot"}
    t = time.perf_counter()
    for _ in range(steps - pilot_steps):
        model.step()
    stepping = time.perf_counter() - t + per_step * pilot_steps
    return {
        **row,
        "create_s": created,
        "run_s": stepping,
        "wall_s": created + stepping,
        "agent_steps_per_s": agents * steps / stepping,
        "peak_mib": _peak_mib(),
        "model_mib": _peak_mib() - base,
    }


def _in_child(kind: str, stakeholders: int, steps: int) -> dict:
    command = [sys.executable, __file__, "--child", kind, str(stakeholders), str(steps)]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        return {"engine": kind, "stakeholders": stakeholders, "skipped": done.stderr.strip().splitlines()[-1]}
    return json.loads(done.stdout)


def plot(rows: list[dict], path: Path) -> dict[str, float]:
    """Log-log wall time and peak memory against size, with the fitted slope of each line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    slopes = {}
    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for engine, marker in (("silosim", "o"), ("per-agent Mesa", "s")):
        ran = [r for r in rows if r["engine"] == engine and "skipped" not in r]
        if not ran:
            continue
        x = np.array([r["stakeholders"] for r in ran], dtype=float)
        panels = ((axes[0], "run_s", "time for the steps (s)"), (axes[1], "model_mib", "model's peak memory (MiB)"))
        for ax, key, label in panels:
            y = np.array([r[key] for r in ran], dtype=float)
            slope = np.polyfit(np.log10(x), np.log10(y), 1)[0] if len(x) > 1 else math.nan
            slopes[f"{engine} {key}"] = slope
            ax.loglog(x, y, marker=marker, label=f"{engine} (slope {slope:.2f})")
            ax.set_xlabel("stakeholders")
            ax.set_ylabel(label)
    for ax in axes:
        ax.grid(True, which="both", alpha=0.3)
        ax.legend()
    steps = rows[0]["steps"]
    fig.suptitle(f"silosim vs per-agent Mesa, {steps} steps, measures every 10 (slope 1 = linear)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return slopes


def profile(stakeholders: int, steps: int, top: int = 15) -> None:
    """Print the functions where a run spends its time (cProfile; compiled loops count in their callers)."""
    import cProfile
    import pstats

    from silosim.model import SiloModel
    from silosim.scenario import from_dict

    _warm_up()
    model = SiloModel(from_dict(scaled_scenario(stakeholders, steps)))
    profiler = cProfile.Profile()
    profiler.enable()
    while model.running:
        model.step()
    profiler.disable()
    pstats.Stats(profiler).sort_stats("tottime").print_stats(top)


def main() -> None:
    """Run every size (and the reference where it fits), print the table, write CSV and plot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000, 10_000, 100_000, 1_000_000])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--no-reference", action="store_true", help="time silosim only")
    parser.add_argument("--profile", type=int, metavar="N", help="profile one silosim run of N stakeholders instead")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.profile:
        profile(args.profile, args.steps)
        return
    if args.child:
        kind, size, steps = args.child[0], int(args.child[1]), int(args.child[2])
        print(json.dumps((run_fast if kind == "silosim" else run_reference)(size, steps)))
        return
    header = (
        f"{'stakeholders':>12} {'engine':>15} {'agents':>9} {'create s':>9} {'wall s':>8} "
        f"{'agent-steps/s':>14} {'measures':>9} {'peak MiB':>9} {'model MiB':>10}  ratio"
    )
    print(header)
    rows = []
    for size in args.sizes:
        fast = _in_child("silosim", size, args.steps)
        rows.append(fast)
        ref = None if args.no_reference else _in_child("reference", size, args.steps)
        if ref:
            rows.append(ref)
        for row in filter(None, (fast, ref)):
            if "skipped" in row:
                print(f"{size:>12,} {row['engine']:>15}  skipped: {row['skipped']}", flush=True)
                continue
            share = f"{row['measure_share']:.0%}" if "measure_share" in row else ""
            ratio = ""
            if row is fast and ref and "skipped" not in ref:
                ratio = f"{fast['agent_steps_per_s'] / ref['agent_steps_per_s']:.0f}x"
            print(
                f"{size:>12,} {row['engine']:>15} {row['agents']:>9,} {row['create_s']:>9.2f} {row['wall_s']:>8.1f} "
                f"{row['agent_steps_per_s']:>14,.0f} {share:>9} {row['peak_mib']:>9.0f} "
                f"{row['model_mib']:>10.0f}  {ratio}",
                flush=True,
            )
    OUT.mkdir(parents=True, exist_ok=True)
    import csv

    columns = sorted({k for r in rows for k in r})
    with open(OUT / "scale.csv", "w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=columns)
        writer.writeheader()
        writer.writerows(rows)
    slopes = plot(rows, OUT / "scale.png")
    print("log-log slopes: " + ", ".join(f"{k} {v:.2f}" for k, v in slopes.items()))
    print(f"wrote {OUT / 'scale.csv'} and {OUT / 'scale.png'}")


if __name__ == "__main__":
    main()
