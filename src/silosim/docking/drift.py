"""Docking silosim's drift against Klemm, Eguíluz, Toral & San Miguel (2003): noise-induced order and disorder.

``silosim dock drift`` runs Axelrod's lattice (:mod:`silosim.docking.lattice`)
plus silosim's drift, :func:`silosim.dynamics.drift_traits`, and checks Klemm
et al.'s claims: weak noise leaves one culture, strong noise sustains
disorder, and the threshold falls with the system size as 1/(N ln N).
silosim has no bounded-confidence mechanism to dock against Deffuant et al.
(2000): owners learn by March's (1991) code-learning rule
(:mod:`silosim.docking.march`), and the drift is what silosim takes from a
published model besides Axelrod's.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from silosim.analysis.text import markdown_table, number
from silosim.docking.axelrod import TERRITORY_F, TERRITORY_Q, chunks
from silosim.docking.lattice import run_drift
from silosim.docking.report import Report, check_lines
from silosim.docking.stats import mean_se
from silosim.docking.tasks import Task

DRIFT_SEED = 2003  # the docking's root seed


@dataclass(frozen=True)
class DriftPlan:
    """What ``silosim dock drift`` runs: Axelrod's lattice with silosim's drift (Klemm et al. 2003).

    Noise is given as x = r·N·ln N, r the drift rate per site and sweep, so
    that Klemm et al.'s threshold r ≈ 1/T with T ∝ N ln N sits at the same x
    for every size.
    """

    runs: int
    sides: tuple[int, ...]  # lattices started from one culture (the stationary order parameter)
    noise: tuple[float, ...]
    sweep_factor: float  # sweeps = max(min_sweeps, sweep_factor × N ln N)
    min_sweeps: int
    polarized_side: int  # lattice started from random cultures: does drift order it?
    polarized_noise: tuple[float, ...]
    polarized_sweeps: int
    features: int = TERRITORY_F
    traits: int = TERRITORY_Q

    def sweeps(self, side: int) -> int:
        """Sweeps of a run at this side (half of them burn-in)."""
        n = side * side
        return int(max(self.min_sweeps, math.ceil(self.sweep_factor * n * math.log(n))))


DRIFT_FULL = DriftPlan(
    runs=10,
    sides=(10, 20, 30),
    noise=(0.1, 0.3, 1.0, 3.0, 10.0),
    sweep_factor=2.0,
    min_sweeps=1000,
    polarized_side=10,
    polarized_noise=(0.0, 0.1, 0.3, 1.0, 10.0),
    polarized_sweeps=20000,
)
DRIFT_QUICK = DriftPlan(
    runs=5,
    sides=(8, 12),
    noise=(0.1, 1.0, 10.0),
    sweep_factor=1.0,
    min_sweeps=400,
    polarized_side=8,
    polarized_noise=(0.0, 0.3, 10.0),
    polarized_sweeps=3000,
)


def curve_spread(table: pd.DataFrame, log_power: float, points: int = 25) -> float:
    """How well the order-parameter curves of different sizes collapse against r·N·(ln N)^log_power.

    Each size's curve is interpolated (in log noise) on a common grid over
    the range all sizes cover; the result is the mean over the grid of the
    standard deviation across sizes (NaN with fewer than two sizes).
    """
    curves = []
    for side, g in table.groupby("side"):
        n = side * side
        g = g.sort_values("x")
        scaled = np.log(g["rate"].to_numpy() * n * math.log(n) ** log_power)
        curves.append((scaled, g["order"].to_numpy()))
    if len(curves) < 2:
        return math.nan
    lo, hi = max(c[0].min() for c in curves), min(c[0].max() for c in curves)
    if lo >= hi:
        return math.nan
    grid = np.linspace(lo, hi, points)
    return float(np.mean(np.std([np.interp(grid, x, y) for x, y in curves], axis=0)))


def crossing(x: Sequence[float], y: Sequence[float], level: float = 0.5) -> float:
    """First x (on a log scale) where a decreasing curve y falls through ``level``; NaN if it never does."""
    x, y = np.log(np.asarray(x, dtype=float)), np.asarray(y, dtype=float)
    for k in range(len(x) - 1):
        if y[k] >= level > y[k + 1]:
            return float(np.exp(x[k] + (y[k] - level) / (y[k] - y[k + 1]) * (x[k + 1] - x[k])))
    return math.nan


def drift_tasks(plan: DriftPlan) -> list[Task]:
    """Per (start, side), every noise level × runs lattices, in two batches when there are 10 runs or more."""
    tasks = []
    for start, sides, noise in (
        ("one culture", plan.sides, plan.noise),
        ("random", (plan.polarized_side,), plan.polarized_noise),
    ):
        for side in sides:
            n = side * side
            sweeps = plan.sweeps(side) if start == "one culture" else plan.polarized_sweeps
            for k, runs in enumerate(chunks(plan.runs, math.ceil(plan.runs / 2) if plan.runs >= 10 else plan.runs)):
                x = np.repeat(np.asarray(noise, dtype=float), runs)
                args = {
                    "side": side,
                    "features": plan.features,
                    "traits": plan.traits,
                    "rates": (x / (n * math.log(n))).tolist(),
                    "seed": [DRIFT_SEED, side, 0 if start == "random" else 1, k],
                    "sweeps": sweeps,
                    "burn_in": sweeps // 2,
                    "uniform": start == "one culture",
                }
                tasks.append(Task(run_drift, (start, side), args, cost=len(x) * sweeps * n, labels=tuple(x)))
    return tasks


def drift_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: DriftPlan) -> Report:
    """Order parameter against noise for every size and start, the thresholds, and the checks."""
    per_run = []
    for task, result in results:
        start, side = task.key
        for j, x in enumerate(task.labels):
            per_run.append(
                {
                    "start": start,
                    "side": side,
                    "x": x,
                    "batch": task.args["seed"][-1],
                    "sweeps": task.args["sweeps"],
                    "order": float(result["order"][j]),
                    "final_order": float(result["final_order"][j]),
                    "regions": int(result["regions"][j]),
                }
            )
    runs_table = pd.DataFrame(per_run).sort_values(["start", "side", "x", "batch"], kind="stable", ignore_index=True)
    runs_table.insert(3, "run", runs_table.groupby(["start", "side", "x"]).cumcount())
    rows = []
    for (start, side, x), g in runs_table.groupby(["start", "side", "x"], sort=True):
        n = side * side
        mean, sd, se = mean_se(g["order"])
        rows.append(
            {
                "start": start,
                "side": side,
                "x": x,
                "rate": x / (n * math.log(n)),
                "sweeps": int(g["sweeps"].iloc[0]),
                "runs": len(g),
                "order": mean,
                "se": se,
                "sd": sd,
                "final_regions": float(g["regions"].mean()),
            }
        )
    table = pd.DataFrame(rows)
    uniform = table[table.start == "one culture"]
    thresholds = []
    for side, g in uniform.groupby("side"):
        n = side * side
        xc = crossing(g["x"], g["order"])
        thresholds.append(
            {
                "side": side,
                "N": n,
                "x_c": xc,
                "r_c": xc / (n * math.log(n)),
                "r_c_N": xc / math.log(n),
                "r_c_N2": xc * n / math.log(n),
            }
        )
    thresholds = pd.DataFrame(thresholds)

    def spread(column: str) -> float:
        v = thresholds[column]
        return float(v.max() / v.min()) if v.notna().all() and len(v) > 1 else math.nan

    collapse = {"r·N·ln N": curve_spread(uniform, 1.0), "r·N": curve_spread(uniform, 0.0)}
    low, high = min(plan.noise), max(plan.noise)
    at_low = uniform[uniform.x == low]
    at_high = table[table.x == max(table.x)]
    polar = table[table.start == "random"].set_index("x")["order"]
    weakest = min(x for x in plan.polarized_noise if x > 0)
    checks = [
        (
            f"one culture survives weak drift (x = {low:g}): order ≥ 0.8 at every size "
            f"({', '.join(f'{v:.2f}' for v in at_low['order'])})",
            bool((at_low["order"] >= 0.8).all()),
        ),
        (
            f"strong drift sustains disorder (x = {high:g}): order ≤ 0.3 at every size and start "
            f"({', '.join(f'{v:.2f}' for v in at_high['order'])})",
            bool((at_high["order"] <= 0.3).all()),
        ),
        (
            f"weak drift orders a polarized lattice ({plan.polarized_side}×{plan.polarized_side}, x = {weakest:g}): "
            f"order {polar[weakest]:.2f} > {polar[0.0]:.2f} without drift",
            bool(polar[weakest] > polar[0.0]),
        ),
        (
            f"the threshold falls with size as 1/(N ln N): x_c = r_c·N·ln N within a factor 2 across sizes "
            f"(spread ×{number(spread('x_c'), 2)}, while r_c itself spreads ×{number(spread('r_c'), 2)}; "
            f"r_c·N ×{number(spread('r_c_N'), 2)}: these sizes cannot tell N ln N from N)",
            bool(spread("x_c") <= 2),
        ),
    ]
    order_rows = [
        [
            r.start,
            f"{r.side}×{r.side}",
            f"{r.x:g}",
            f"{r.rate:.2e}",
            r.sweeps,
            r.runs,
            number(r.order, 2),
            number(r.se),
            number(r.final_regions, 1),
        ]
        for r in table.itertuples()
    ]
    order_md = markdown_table(
        [
            "start",
            "lattice",
            "x = r·N·ln N",
            "r (per site, sweep)",
            "sweeps",
            "runs",
            "S_max/N",
            "SE",
            "regions at end",
        ],
        order_rows,
    )
    thr_md = markdown_table(
        ["lattice", "N", "x_c = r_c·N·ln N", "r_c", "r_c·N"],
        [
            [f"{r.side}×{r.side}", r.N, number(r.x_c, 2), f"{r.r_c:.2e}", number(r.r_c_N)]
            for r in thresholds.itertuples()
        ],
    )
    thr_md += (
        "\n\nHow far apart the curves of the different sizes lie (mean over the common range of the standard "
        "deviation of S_max/N across sizes; 0 = perfect collapse): "
        + "; ".join(f"against {k}: {number(v)}" for k, v in collapse.items())
    )
    terminal = (
        f"{DRIFT_HEADLINE}\n\nOrder parameter S_max/N (largest region's share), time average over the second half\n"
        f"{order_md}\n\nThreshold (S_max/N = 0.5, from one culture)\n{thr_md}\n\nChecks\n{check_lines(checks)}"
    )
    markdown = DRIFT_TEXT.format(
        headline=DRIFT_HEADLINE,
        order=order_md,
        thresholds=thr_md,
        checks=check_lines(checks),
        F=plan.features,
        q=plan.traits,
    )
    summary = {
        "thresholds": thresholds.to_dict(orient="records"),
        "collapse_spread": collapse,
        "order": table.to_dict(orient="records"),
    }
    return Report(
        "drift",
        {"drift": table, "thresholds": thresholds, "runs": runs_table.drop(columns=["batch", "sweeps"])},
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_drift(table, path),
    )


DRIFT_HEADLINE = (
    "silosim has no bounded-confidence mechanism, so Deffuant et al. (2000) has nothing to dock against: "
    "owners learn by March's (1991) code-learning rule, docked by `silosim dock march`. "
    "This docks silosim's drift instead (silosim.dynamics.drift_traits, the noise of Klemm, Eguíluz, Toral & "
    "San Miguel 2003, Phys. Rev. E 67, 045101) against that paper's noise-induced order–disorder transition."
)

DRIFT_TEXT = """\
{headline}

## The published claim

Klemm et al. (2003), abstract: in two dimensions "the dynamics is governed by the average
relaxation time T of perturbations. Noise at a rate r ≲ 1/T induces monocultural configurations,
whereas r ≳ 1/T sustains disorder"; T grows with the system size (the paper takes T ∝ N ln N,
so the threshold r_c ∝ 1/(N ln N); that form could not be checked against the paper's text
here, only the abstract). Noise is given here as x = r·N·ln N: if the paper is right, the order
parameter falls through 1/2 at about the same x for every lattice size. Over the sizes run here
ln N changes by a factor 1.5 only, so the docking tells a threshold ∝ 1/N (up to a logarithm)
from one that does not fall with N, not N ln N from N: compare the two collapse figures below.

## Order parameter

{order}

"one culture": every site starts with the same culture (does drift destroy a monoculture?);
"random": Axelrod's random start, which without drift freezes into many regions (does weak drift
order it?). S_max/N is the largest region's share of the sites, averaged over the second half of
each run and then over runs.

## Threshold

{thresholds}

## Checks

{checks}

## How it is run

Axelrod's model exactly as in `silosim dock axelrod` (bounded lattice, F={F}, q={q},
`silosim.dynamics.axelrod_exchange`), plus silosim's drift: after every sweep of N events (one
silosim step: every agent active about once), `silosim.dynamics.drift_traits` runs once with
rate r, as the model calls it once per step; each site then takes a random trait on a random
feature with chance r. Klemm et al. perturb one random site with probability r per event, which
is the same expected number of perturbations per site and sweep. The run count and lengths are
silosim's choice: the paper's figures are not reproduced number for number (its exact values
could not be checked here), only its claims above.

## What it does not show

How owners learn from their stakeholders: that is March's (1991) code learning, docked by
`silosim dock march`, not here.
"""


def plot_drift(table: pd.DataFrame, path: Path) -> None:
    """S_max/N against x = r·N·ln N, one line per lattice size and start."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    for (start, side), g in table.groupby(["start", "side"]):
        g = g[g.x > 0]
        style = "o-" if start == "one culture" else "s--"
        n = side * side
        label = f"{side}×{side}, {start}"
        left.errorbar(g["x"], g["order"], yerr=1.96 * g["se"], fmt=style, label=label, capsize=2)
        right.errorbar(g["x"] / math.log(n), g["order"], yerr=1.96 * g["se"], fmt=style, label=label, capsize=2)
    for ax, xlabel in ((left, "x = r·N·ln N"), (right, "r·N (no log factor)")):
        ax.set_xscale("log")
        ax.axhline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_xlabel(xlabel)
        ax.set_ylabel("S_max / N")
        ax.set_ylim(0, 1.05)
        ax.legend(fontsize=8)
    left.set_title("Klemm et al. (2003): collapse in r·N·ln N expected")
    right.set_title("the same data against r·N")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
