"""Docking (Axtell et al. 1996): the fast engine against the per-agent Mesa reference.

Both engines run the same small organisation for the same seeds; the final
(windowed) cross-community reach, silo count, largest merged share and E-I
index of the two samples are compared with the two-sample Kolmogorov-Smirnov
test (scipy.stats.ks_2samp), α = 0.05, measure by measure. "Same" means the
test does not reject that the two samples come from one distribution. The
power check then runs the fast engine under a real change of the organisation
(one per measure, :data:`CHANGES`) and asks the same test, with the same
seeds, to tell it apart from the reference: it must.

    python benchmarks/dock_reference.py                 # 40 seeds, the bridged islands
    python benchmarks/dock_reference.py --seeds 20 --steps 120
    python benchmarks/dock_reference.py --scenario small_default

Organisations (a few hundred agents each), all with the docking dynamics
(:data:`DOCKING`: items live 20 steps, more of them, cross-posting at 7.5
exchanges an item, burn-in 40 steps, window 80), so that a 120-step run
measures a few hundred items and its outcome varies from seed to seed:

* ``bridged`` (default): three communities, each owned by its own department
  with its own 100 stakeholders, bridged by 10 ambassadors who each join
  every community with chance 0.5; marketing and HR also post (a little)
  in one other community, marketing's community manager animates the
  largest one; open cross-posting, so ambassadors in several communities
  cross-post too. Whether the islands merge is decided by the dynamics: the
  silo count varies from seed to seed (1 to 3).
* ``bridged_owner_only``: the same with ``owner_only`` cross-posting.
* ``small_default``: scenarios/default.yaml with 6% of its stakeholders and
  30% of its headcounts.
* ``federated``: the bridged islands under the federated rule (councils every 10 steps).
"""

from __future__ import annotations

import argparse
import copy
import math
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy.stats import ks_2samp

from silosim.docking.reference_model import ReferenceModel
from silosim.model import SiloModel
from silosim.scenario import from_dict, load, to_dict

ROOT = Path(__file__).resolve().parents[3]  # the repository (scenarios/default.yaml)

MEASURES = ("cross_reach", "silo_count", "largest_merged_share", "ei_index")
ALPHA = 0.05
STEPS = 120
# Organisational learning (needs, March 1991) is off here: it is docked against March's own experiments by
# `silosim dock march`, through the same functions; this docking is of the exchange and information engine.
DOCKING = {
    "dynamics": {
        "practice_rate": 0.2,
        "insight_rate": 0.01,
        "relay_cost": 7.5,
        "item_lifetime": 20,
        "stakeholder_pull": 0.0,
        "need_learning": 0.0,
        "need_noise": 1.0,
    },
    "metrics": {"burn_in": 40, "window": 80, "verdict": {"silo_floor": 0.1}},
}


def docking(data: dict) -> dict:
    """Raw scenario data with the docking dynamics and measurement window (:data:`DOCKING`)."""
    data = copy.deepcopy(data)
    data.setdefault("dynamics", {}).update(DOCKING["dynamics"])
    metrics = data.setdefault("metrics", {})
    metrics.update({k: v for k, v in DOCKING["metrics"].items() if k != "verdict"})
    metrics.setdefault("verdict", {}).update(DOCKING["metrics"]["verdict"])
    return data


def bridged(steps: int = STEPS, policy: str = "open", rule: str = "most_involved") -> dict:
    """Three islands of 100 stakeholders bridged by 10 ambassadors (raw scenario data)."""

    def dept(name: str) -> dict:
        return {"name": name, "headcount": 10, "reach": 0.5, "openness": 0.5}

    def group(name: str, count: int = 100) -> dict:
        return {"group": name, "count": count, "external": name != "employees", "activity": 0.5}

    def community(name: str, owner: str, group: str, also: dict | None = None) -> dict:
        return {"name": name, "involvement": {owner: 0.9, **(also or {})}, "members": {group: 1.0, "ambassadors": 0.5}}

    return docking(
        {
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
    )


def small_default(steps: int = STEPS) -> dict:
    """scenarios/default.yaml at 6% of its stakeholders and 30% of its headcounts."""
    data = to_dict(load(ROOT / "scenarios" / "default.yaml"))
    for g in data["organization"]["stakeholders"]:
        g["count"] = max(1, round(g["count"] * 0.06))
    for d in data["organization"]["departments"]:
        d["headcount"] = max(1, round(d["headcount"] * 0.3))
    data["steps"] = steps
    data["name"] = "small_default"
    return docking(data)


SCENARIOS = {
    "bridged": bridged,
    "bridged_owner_only": lambda steps=STEPS: bridged(steps, policy="owner_only"),
    "small_default": small_default,
    "federated": lambda steps=STEPS: bridged(steps, policy="owner_only", rule="federated"),
}


def _set(data: dict, section: str, **values) -> dict:
    data = copy.deepcopy(data)
    data[section].update(values)
    return data


def _more_ambassadors(data: dict, count: int = 30) -> dict:
    data = copy.deepcopy(data)
    for g in data["organization"]["stakeholders"]:
        if g["group"] == "ambassadors":
            g["count"] = count
    return data


# A real change per measure that the power check must detect: (what it is, the changed raw scenario data)
CHANGES: dict[str, tuple[str, Callable[[dict], dict]]] = {
    "cross_reach": ("relay_cost 7.5 → 10", lambda data: _set(data, "dynamics", relay_cost=10.0)),
    "silo_count": ("owner_only cross-posting", lambda data: _set(data, "ownership", cross_posting="owner_only")),
    "largest_merged_share": (
        "owner_only cross-posting",
        lambda data: _set(data, "ownership", cross_posting="owner_only"),
    ),
    "ei_index": ("30 ambassadors, not 10", _more_ambassadors),
}


def final_measures(engine: str, data: dict, seed: int) -> dict:
    """Run one engine to the scenario's last step; the measures taken there (the window ending at the last step)."""
    scenario = from_dict(copy.deepcopy(data) | {"seed": seed})
    model = SiloModel(scenario) if engine == "fast" else ReferenceModel(scenario)
    while model.running:
        model.step()
    return model.measures if model.measures.get("step") == model.steps else model.measure()


def run_seeds(engine: str, data: dict, seeds: int) -> dict[str, np.ndarray]:
    """One engine's final measures over seeds 0..seeds-1: measure → values."""
    runs = [final_measures(engine, data, seed) for seed in range(seeds)]
    return {m: np.array([r[m] for r in runs], dtype=float) for m in MEASURES}


def samples(data: dict, seeds: int) -> dict[str, dict[str, np.ndarray]]:
    """Final measures of both engines over seeds 0..seeds-1: engine → measure → values."""
    return {engine: run_seeds(engine, data, seeds) for engine in ("fast", "reference")}


def ks_row(measure: str, a: np.ndarray, b: np.ndarray, alpha: float = ALPHA) -> dict:
    """KS statistic and p-value of two samples of one measure (NaN left out), means and standard deviations."""
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    test = ks_2samp(a, b)
    return {
        "measure": measure,
        "ks": float(test.statistic),
        "p": float(test.pvalue),
        "mean_fast": float(a.mean()),
        "mean_reference": float(b.mean()),
        "sd_fast": float(a.std(ddof=1)),
        "sd_reference": float(b.std(ddof=1)),
        "n": (len(a), len(b)),
        "same": bool(test.pvalue >= alpha),
    }


def compare(fast: dict[str, np.ndarray], ref: dict[str, np.ndarray], alpha: float = ALPHA) -> list[dict]:
    """One row per measure: KS statistic and p-value, means and standard deviations, same or differ."""
    return [ks_row(m, fast[m], ref[m], alpha) for m in MEASURES]


def power(data: dict, reference: dict[str, np.ndarray], seeds: int, alpha: float = ALPHA) -> list[dict]:
    """For each measure, the fast engine under its real change (:data:`CHANGES`) against the reference unchanged.

    Rows as :func:`compare`'s ("fast" is the changed engine), with the change named; ``same`` should be False.
    """
    rows, runs = [], {}
    for m in MEASURES:
        label, change = CHANGES[m]
        if label not in runs:
            runs[label] = run_seeds("fast", change(data), seeds)
        rows.append(ks_row(m, runs[label][m], reference[m], alpha) | {"change": label})
    return rows


def table(rows: list[dict]) -> str:
    """The comparison as a Markdown table."""
    changed = any("change" in r for r in rows)
    lines = [
        "| measure |" + (" change (fast) |" if changed else "")
        + " KS D | p | mean fast (sd) | mean reference (sd) | at α = 0.05 |",
        "|---|" + ("---|" if changed else "") + "---|---|---|---|---|",
    ]  # fmt: skip
    for r in rows:
        verdict = "same" if r["same"] else "**differ**"
        change = f" {r['change']} |" if changed else ""
        lines.append(
            f"| `{r['measure']}` |{change} {r['ks']:.3f} | {r['p']:.3f} | {r['mean_fast']:.3f} ({r['sd_fast']:.3f}) "
            f"| {r['mean_reference']:.3f} ({r['sd_reference']:.3f}) | {verdict} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Dock the engines, print the tables; exit 1 when a measure differs or a real change goes undetected."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=40, help="runs per engine (seeds 0..N-1)")
    parser.add_argument("--steps", type=int, default=STEPS)
    parser.add_argument("--scenario", choices=sorted(SCENARIOS), default="bridged")
    parser.add_argument("--no-power", action="store_true", help="skip the power check (real changes)")
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
    silos = {e: np.bincount(s[e]["silo_count"].astype(int), minlength=4).tolist()[1:] for e in s}
    print(f"\nsilo_count frequencies (1, 2, ...): fast {silos['fast']}, reference {silos['reference']}")
    ok = all(r["same"] for r in rows if not math.isnan(r["p"]))
    if not args.no_power:
        checks = power(data, s["reference"], args.seeds)
        print("\npower: the fast engine under a real change against the reference, same seeds\n")
        print(table(checks))
        ok = ok and not any(r["same"] for r in checks)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
