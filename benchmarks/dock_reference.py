"""Docking (Axtell et al. 1996): the fast engine against the per-agent Mesa reference.

Both engines run the same small organisation for the same seeds; the final
silo count, E-I index and cross-community reach of the two samples are
compared with the two-sample Kolmogorov-Smirnov test (scipy.stats.ks_2samp),
α = 0.05, measure by measure. "Same" means the test does not reject that the
two samples come from one distribution.

    python benchmarks/dock_reference.py                 # 40 seeds, the bridged islands
    python benchmarks/dock_reference.py --seeds 12 --steps 100
    python benchmarks/dock_reference.py --scenario small_default

Organisations (a few hundred agents each):

* ``bridged`` (default): three communities, each owned by its own department
  with its own 100 stakeholders, bridged by 10 ambassadors who each join
  every community with chance 0.5; marketing and R&D also post (a little)
  in one other community, marketing's community manager animates the
  largest one; open cross-posting, so stakeholders in several communities
  relay too. Whether the islands merge is decided by the dynamics, so the
  silo count varies from seed to seed (1 to 3).
* ``bridged_owner_only``: the same with ``owner_only`` cross-posting.
* ``small_default``: scenarios/default.yaml with 6% of its stakeholders and
  30% of its headcounts; silo floor 0.1 (at this size every community
  shares members and the default floor 0.01 always finds one silo).
* ``federated``: the bridged islands under the federated rule (councils every 10 steps).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))

from reference_mesa import ReferenceModel  # noqa: E402

from silosim.model import SiloModel  # noqa: E402
from silosim.scenario import from_dict, load, to_dict  # noqa: E402

MEASURES = ("silo_count", "ei_index", "cross_reach")
ALPHA = 0.05
STEPS = 200


def bridged(steps: int = STEPS, policy: str = "open", rule: str = "most_involved") -> dict:
    """Three islands of 100 stakeholders bridged by 10 ambassadors (raw scenario data)."""

    def dept(name: str) -> dict:
        return {"name": name, "headcount": 10, "reach": 0.5, "openness": 0.5}

    def group(name: str, count: int = 100) -> dict:
        return {"group": name, "count": count, "external": name != "employees", "activity": 0.5}

    def community(name: str, owner: str, group: str, also: dict | None = None) -> dict:
        return {"name": name, "involvement": {owner: 0.9, **(also or {})}, "members": {group: 1.0, "ambassadors": 0.5}}

    return {
        "name": "bridged_islands",
        "seed": 0,
        "steps": steps,
        "organization": {
            "departments": [dept("marketing"), dept("hr"), dept("rnd")],
            "community_managers": [{"name": "cm", "home": "marketing", "capacity": 1, "brokerage": 0.5}],
            "stakeholders": [group("consumers"), group("employees"), group("partners"), group("ambassadors", 10)],
        },
        "communities": [
            community("brand_page", "marketing", "consumers", {"hr": 0.2}),
            community("esn", "hr", "employees"),
            community("lab", "rnd", "partners", {"marketing": 0.2}),
        ],
        "ownership": {"rule": rule, "cross_posting": policy},
    }


def small_default(steps: int = STEPS) -> dict:
    """scenarios/default.yaml at 6% of its stakeholders and 30% of its headcounts, silo floor 0.1."""
    data = to_dict(load(ROOT / "scenarios" / "default.yaml"))
    for g in data["organization"]["stakeholders"]:
        g["count"] = max(1, round(g["count"] * 0.06))
    for d in data["organization"]["departments"]:
        d["headcount"] = max(1, round(d["headcount"] * 0.3))
    data["steps"] = steps
    data["metrics"]["verdict"]["silo_floor"] = 0.1
    data["name"] = "small_default"
    return data


SCENARIOS = {
    "bridged": bridged,
    "bridged_owner_only": lambda steps=STEPS: bridged(steps, policy="owner_only"),
    "small_default": small_default,
    "federated": lambda steps=STEPS: bridged(steps, policy="owner_only", rule="federated"),
}


def final_measures(engine: str, data: dict, seed: int) -> dict:
    """Run one engine to the scenario's last step; its final measures."""
    scenario = from_dict(copy.deepcopy(data) | {"seed": seed})
    model = SiloModel(scenario) if engine == "fast" else ReferenceModel(scenario)
    while model.running:
        model.step()
    return model.measure()


def samples(data: dict, seeds: int) -> dict[str, dict[str, np.ndarray]]:
    """Final measures of both engines over seeds 0..seeds-1: engine → measure → values."""
    out = {}
    for engine in ("fast", "reference"):
        runs = [final_measures(engine, data, seed) for seed in range(seeds)]
        out[engine] = {m: np.array([r[m] for r in runs], dtype=float) for m in MEASURES}
    return out


def compare(fast: dict[str, np.ndarray], ref: dict[str, np.ndarray], alpha: float = ALPHA) -> list[dict]:
    """One row per measure: KS statistic and p-value, means and standard deviations, same or differ."""
    rows = []
    for m in MEASURES:
        a, b = fast[m][~np.isnan(fast[m])], ref[m][~np.isnan(ref[m])]
        test = ks_2samp(a, b)
        rows.append(
            {
                "measure": m,
                "ks": float(test.statistic),
                "p": float(test.pvalue),
                "mean_fast": float(a.mean()),
                "mean_reference": float(b.mean()),
                "sd_fast": float(a.std(ddof=1)),
                "sd_reference": float(b.std(ddof=1)),
                "n": (len(a), len(b)),
                "same": bool(test.pvalue >= alpha),
            }
        )
    return rows


def table(rows: list[dict]) -> str:
    """The comparison as a Markdown table."""
    lines = [
        "| measure | KS D | p | mean fast (sd) | mean reference (sd) | at α = 0.05 |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        verdict = "same" if r["same"] else "**differ**"
        lines.append(
            f"| `{r['measure']}` | {r['ks']:.3f} | {r['p']:.3f} | {r['mean_fast']:.3f} ({r['sd_fast']:.3f}) "
            f"| {r['mean_reference']:.3f} ({r['sd_reference']:.3f}) | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dock the engines and print the table; exit 1 when a measure differs."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="runs per engine (seeds 0..N-1)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="bridged")
    args = parser.parse_args(argv)
    data = SCENARIOS[args.scenario](args.steps)
    started = time.perf_counter()
    s = samples(data, args.seeds)
    rows = compare(s["fast"], s["reference"])
    n_agents = len(data["organization"]["departments"]) + len(data["organization"]["community_managers"])
    n_agents += sum(g["count"] for g in data["organization"]["stakeholders"])
    print(
        f"{args.scenario}: ~{n_agents} agents, {args.steps} steps, {args.seeds} seeds per engine "
        f"({time.perf_counter() - started:.0f} s)\n"
    )
    print(table(rows))
    silos = {e: np.bincount(s[e]["silo_count"].astype(int)).tolist()[1:] for e in s}
    print(f"\nsilo_count frequencies (1, 2, ...): fast {silos['fast']}, reference {silos['reference']}")
    return 0 if all(r["same"] for r in rows if not math.isnan(r["p"])) else 1


if __name__ == "__main__":
    sys.exit(main())
