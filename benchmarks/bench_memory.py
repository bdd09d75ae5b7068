"""Estimated against measured peak memory of one run, for scenarios of several sizes and shapes.

Each case runs in a fresh process: it imports silosim, loads the compiled loops with a tiny run, then
resets the process's peak resident memory (``/proc/self/clear_refs``, so the warm-up's peak does not hide a
small model's) and notes its resident memory: the baseline. It then builds the scenario and runs its steps
(measures every 10 steps and at the last); the measured peak is the peak resident memory (VmHWM, or
``ru_maxrss`` where the reset is not available) minus the baseline, to compare with
``silosim.resources.estimate_memory``, which counts the model only.

    python benchmarks/bench_memory.py                 # every case (about 5 minutes, up to 4.5 GiB)
    python benchmarks/bench_memory.py --cases 1e4 1e5 --steps 10    # quick

Exits 1 when an estimate is below the measured peak or more than twice it (:data:`LOW`, :data:`HIGH`).
"""

from __future__ import annotations

import argparse
import copy
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
LOW, HIGH = 1.0, 2.0  # the estimate is meant to err high, within a factor of two


def _default() -> dict:
    from silosim import scenario

    return scenario.to_dict(scenario.load(ROOT / "scenarios" / "default.yaml"))


def scaled(stakeholders: int, steps: int, **dynamics: float) -> dict:
    """The default organisation with its stakeholder groups scaled to ``stakeholders`` in all."""
    data = _default()
    groups = data["organization"]["stakeholders"]
    total = sum(g["count"] for g in groups)
    for g in groups:
        g["count"] = max(1, round(g["count"] * stakeholders / total))
    data["steps"], data["events"] = steps, []
    data["dynamics"].update(dynamics)
    return data


def big_headcount(steps: int) -> dict:
    """10,000 stakeholders; five departments of 1,000,000 people, all engaging (5,000,000 exchanges a step)."""
    data = scaled(10_000, steps)
    for d in data["organization"]["departments"]:
        d["headcount"], d["reach"] = 1_000_000, 1.0
    return data


def big_cm_exchanges(steps: int) -> dict:
    """10,000 stakeholders; 100 outside CMs animating 5 communities, 10,000 exchanges each (5,000,000 a step)."""
    data = scaled(10_000, steps, cm_exchanges=10_000)
    data["organization"]["community_managers"] = [
        {"name": f"cm{i}", "home": None, "capacity": 5, "brokerage": 0.3} for i in range(100)
    ]
    return data


def many_memberships(steps: int) -> dict:
    """100,000 stakeholders in one group, each joining all of 20 communities (2,000,000 memberships)."""
    data = scaled(10_000, steps)
    data["organization"]["stakeholders"] = [{"group": "everyone", "count": 100_000, "external": True}]
    data["communities"] = [
        {"name": f"c{i}", "audience": "mixed", "involvement": {"marketing": 0.5}, "members": {"everyone": 1.0}}
        for i in range(20)
    ]
    return data


def one_group(steps: int, count: int = 1_000_000) -> dict:
    """``count`` stakeholders in a single group and community (the largest agent-creation temporary)."""
    data = scaled(10_000, steps)
    data["organization"]["stakeholders"] = [{"group": "everyone", "count": count, "external": True}]
    data["communities"] = [
        {"name": "all", "audience": "mixed", "involvement": {"marketing": 0.9}, "members": {"everyone": 1.0}}
    ]
    return data


CASES = {
    "1e4": ("default, 10,000 stakeholders", lambda steps: scaled(10_000, steps)),
    "1e5": ("default, 100,000 stakeholders", lambda steps: scaled(100_000, steps)),
    "1e6": ("default, 1,000,000 stakeholders", lambda steps: scaled(1_000_000, steps)),
    "1e5-long": ("default, 100,000 stakeholders, 300 steps", lambda steps: scaled(100_000, 300)),
    "1e5-ties64": ("default, 100,000, max_ties 64", lambda steps: scaled(100_000, steps, max_ties=64)),
    "1e5-explore": (
        "default, 100,000, exploration 1, traits 2, 300 steps",
        lambda steps: scaled(100_000, 300, exploration=1.0, traits=2),
    ),
    "one-group": ("1,000,000 stakeholders in one group", one_group),
    "one-group-long": (
        "200,000 in one group, 300 steps, traits 2",
        lambda steps: one_group(300, 200_000) | {"dynamics": {"traits": 2}},
    ),
    "items": (
        "default, 100,000, item_lifetime 1,000 (26,432 item slots)",
        lambda steps: scaled(100_000, steps, item_lifetime=1_000),
    ),
    "records": (
        "default, 10,000, 2,000 steps measured every step",
        lambda steps: scaled(10_000, 2_000) | {"metrics": {"every": 1}},
    ),
    "memberships": ("100,000 × 20 communities joined", many_memberships),
    "headcount": ("5 departments × 1,000,000 headcount", big_headcount),
    "cm_exchanges": ("100 CMs × 5 communities × cm_exchanges 10,000", big_cm_exchanges),
}


def _resident() -> int:
    return int(Path("/proc/self/statm").read_text().split()[1]) * resource.getpagesize()


def _reset_peak() -> bool:
    """Reset this process's peak resident memory to its current one (Linux 4.0+); False if not possible."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


def _peak(reset: bool) -> int:
    if reset:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) * 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def measure(data: dict) -> dict:
    """Build and run one scenario in this process; its estimate and measured peak above the baseline."""
    from silosim.model import SiloModel
    from silosim.resources import _estimate
    from silosim.scenario import from_dict

    warm = SiloModel(from_dict(scaled(100, 12)))
    while warm.running:
        warm.step()
    del warm
    scenario = from_dict(data)
    estimate = _estimate(scenario)
    reset = _reset_peak()
    base = _resident()
    started = time.perf_counter()
    model = SiloModel(scenario)
    while model.running:
        model.step()
    model.collect()
    model.datacollector.get_model_vars_dataframe()
    ties = int((model.world.tie_partner >= 0).sum())
    return {
        "estimate": estimate.total,
        "phase": estimate.phase,
        "measured": _peak(reset) - base,
        "base": base,
        "peak_reset": reset,
        "agents": len(model.world.culture),
        "ties_per_agent": ties / len(model.world.culture),
        "estimated_ties_per_agent": estimate.quantities.live_ties / estimate.quantities.rows,
        "seconds": time.perf_counter() - started,
    }


def in_child(case: str, steps: int) -> dict:
    """One case in a fresh process."""
    done = subprocess.run(
        [sys.executable, __file__, "--child", case, "--steps", str(steps)], capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        return {"error": (done.stderr.strip().splitlines() or ["failed"])[-1]}
    return json.loads(done.stdout)


def main() -> int:
    """Run the cases, each in its own process, print estimate against measured peak; 1 if one is off."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", nargs="+", choices=list(CASES), default=list(CASES))
    parser.add_argument("--steps", type=int, default=20, help="steps of the cases that do not set their own")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(measure(CASES[args.child][1](args.steps))))
        return 0
    header = "| case | agents | steps | estimate MiB | measured MiB | estimate / measured | peak phase (estimated) "
    header += "| ties/agent measured, estimated | s |"
    print(header)
    print("|" + "---|" * 9)
    base, ratios, failed = None, [], False
    for case in args.cases:
        label, build = CASES[case]
        steps = copy.deepcopy(build(args.steps))["steps"]
        row = in_child(case, args.steps)
        if "error" in row:
            print(f"| {label} | | {steps} | | | failed: {row['error']} | | | |", flush=True)
            failed = True
            continue
        base = row["base"]
        ratios.append(row["estimate"] / max(row["measured"], 1))
        mib = 2**20
        print(
            f"| {label} | {row['agents']:,} | {steps} | {row['estimate'] / mib:,.1f} | {row['measured'] / mib:,.1f} "
            f"| {row['estimate'] / max(row['measured'], 1):.2f} | {row['phase']} "
            f"| {row['ties_per_agent']:.2f}, {row['estimated_ties_per_agent']:.2f} | {row['seconds']:.1f} |",
            flush=True,
        )
    if base is not None:
        print(f"\nbaseline (interpreter, libraries, compiled loops): {base / 2**20:.0f} MiB resident")
    if ratios:
        off = [r for r in ratios if not LOW <= r <= HIGH]
        print(
            f"estimate / measured: {min(ratios):.2f}-{max(ratios):.2f}"
            + (f"; {len(off)} outside {LOW}-{HIGH}" if off else "")
        )
        failed = failed or bool(off)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
