"""Docking Axelrod (1997), The Dissemination of Culture: Table 2 and the territory-size result.

``silosim dock axelrod`` runs Axelrod's culture model on bounded square
lattices with the organisation model's own interaction rule,
:func:`silosim.dynamics.axelrod_exchange` (the engine is
:mod:`silosim.docking.lattice`), and sets the number of stable regions beside
the paper's Table 2 and its territory-size result. Axelrod published means
of ten runs, so each is compared with where a ten-run mean of silosim's model
falls (:func:`published_mean_check`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from silosim.analysis.text import markdown_table, number
from silosim.docking.lattice import events_estimate, run_axelrod
from silosim.docking.report import Report, check_lines
from silosim.docking.stats import mean_se
from silosim.docking.tasks import Task

AXELROD_SEED = 1997  # the docking's root seed

PUBLISHED_RUNS = 10  # Axelrod (1997) averaged ten runs per condition

#: Axelrod (1997), Table 2: average number of stable regions on a 10×10 lattice, by (F, q).
TABLE2 = {
    (5, 5): 1.0,
    (5, 10): 3.2,
    (5, 15): 20.0,
    (10, 5): 1.0,
    (10, 10): 1.0,
    (10, 15): 1.4,
    (15, 5): 1.0,
    (15, 10): 1.0,
    (15, 15): 1.2,
}
TABLE2_ROUNDING = 0.05  # the table gives one decimal

#: Axelrod (1997), territory size at F=5, q=15: regions by lattice side (10: Table 2; 12 and 50: "about").
TERRITORY = {10: 20.0, 12: 23.0, 50: 6.0}
TERRITORY_ROUNDING = {10: 0.05, 12: 0.5, 50: 0.5}
TERRITORY_F, TERRITORY_Q = 5, 15


@dataclass(frozen=True)
class AxelrodPlan:
    """What ``silosim dock axelrod`` runs."""

    runs: int  # per Table 2 cell and per territory side up to ``large``
    sides: tuple[int, ...]  # territory-size curve (10×10 is Table 2's F=5, q=15 cell)
    large: int = 20  # sides beyond this run ``large_runs``: a 50×50 run takes ~40 s here
    large_runs: int = PUBLISHED_RUNS

    def runs_for(self, side: int) -> int:
        """Runs of the territory curve at this side."""
        return self.runs if side <= self.large else min(self.runs, self.large_runs)


AXELROD_FULL = AxelrodPlan(runs=PUBLISHED_RUNS, sides=(6, 8, 10, 12, 15, 20, 30, 50))
AXELROD_QUICK = AxelrodPlan(runs=PUBLISHED_RUNS, sides=(6, 10, 12, 20))


def published_mean_check(
    values: np.ndarray, published: float, rounding: float, published_runs: int = PUBLISHED_RUNS, draws: int = 20000
) -> dict[str, float | bool]:
    """Could the published figure be a ``published_runs``-run mean of silosim's model?

    Axelrod published means of ten runs, not the runs, so a two-sample test
    (Mann–Whitney, Kolmogorov–Smirnov) has nothing to compare with. Instead a
    two-level bootstrap: resample silosim's n runs (our own sampling error),
    then ``published_runs`` runs from that resample (the paper's), ``draws``
    times. The 2.5 and 97.5 percentiles of those means are where a ten-run
    mean falls 95% of the time if the paper ran silosim's model; their
    spread is about s·√(1/10 + 1/n). The published figure, widened by its
    rounding, is consistent when it overlaps that range; ``p`` is the
    two-sided share of resampled means at least as far out as it.
    """
    values = np.asarray(values, dtype=float)
    n = len(values)
    rng = np.random.default_rng(0)
    outer = rng.integers(0, n, (draws, n))
    inner = rng.integers(0, n, (draws, published_runs))
    means = values[np.take_along_axis(outer, inner, axis=1)].mean(axis=1)
    low, high = np.quantile(means, [0.025, 0.975])
    below = np.mean(means <= published + rounding)
    above = np.mean(means >= published - rounding)
    return {
        "range_low": float(low),
        "range_high": float(high),
        "p": float(min(1.0, 2 * min(below, above))),
        "consistent": bool(low - rounding <= published <= high + rounding),
    }


def chunks(runs: int, size: int) -> list[int]:
    """``runs`` cut into batches of at most ``size``."""
    return [min(size, runs - k) for k in range(0, runs, size)]


def axelrod_tasks(plan: AxelrodPlan) -> list[Task]:
    """Table 2 cells and territory sides, cut into batches of a fixed size (results do not depend on jobs)."""
    groups = [(("table2", f, q), 10, f, q, plan.runs) for f, q in TABLE2]
    groups += [
        (("territory", side), side, TERRITORY_F, TERRITORY_Q, plan.runs_for(side))
        for side in plan.sides
        if side != 10  # the 10×10 point is Table 2's F=5, q=15 cell
    ]
    tasks = []
    for key, side, f, q, runs in groups:
        size = int(np.clip(2_000_000 // side**4, 5, 50))
        for k, n in enumerate(chunks(runs, size)):
            args = {"side": side, "features": f, "traits": q, "runs": n, "seed": [AXELROD_SEED, f, q, side, k]}
            # a step costs a fixed overhead plus a share per lattice: small batches are dearer per run
            tasks.append(Task(run_axelrod, key, args, cost=(n + 20) * events_estimate(side) * (1 + f / 10)))
    return tasks


def _groups(results: Iterable[tuple[Task, dict[str, np.ndarray]]]) -> dict[tuple, dict[str, np.ndarray]]:
    """Concatenate the batches of each group, in batch order."""
    parts: dict[tuple, list[tuple[list, dict]]] = {}
    for task, result in results:
        parts.setdefault(task.key, []).append((task.args["seed"], result))
    return {
        key: {name: np.concatenate([r[name] for _, r in sorted(batches, key=lambda b: b[0])]) for name in batches[0][1]}
        for key, batches in parts.items()
    }


def axelrod_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: AxelrodPlan) -> Report:
    """Table 2 and the territory curve beside the published values, with the checks."""
    groups = _groups(results)
    runs_rows = []
    for key, g in groups.items():
        f, q, side = (key[1], key[2], 10) if key[0] == "table2" else (TERRITORY_F, TERRITORY_Q, key[1])
        for k in range(len(g["regions"])):
            runs_rows.append(
                {
                    "experiment": key[0],
                    "F": f,
                    "q": q,
                    "side": side,
                    "run": k,
                    "regions": int(g["regions"][k]),
                    "largest_region": int(g["largest"][k]),
                    "events_to_last_change": int(g["events"][k]),
                    "stopping_rule_met": bool(g["frozen"][k]),
                }
            )
    runs = pd.DataFrame(runs_rows)

    def row(values: np.ndarray, events: np.ndarray, published: float | None, rounding: float) -> dict:
        mean, sd, se = mean_se(values)
        out = {"mean": mean, "se": se, "sd": sd, "runs": len(values), "median_events": float(np.median(events))}
        if published is None:
            return out | {"range_low": math.nan, "range_high": math.nan, "p": math.nan, "consistent": None}
        return out | published_mean_check(values, published, rounding)

    table = pd.DataFrame(
        [
            {"F": f, "q": q, "published": pub, "published_runs": PUBLISHED_RUNS}
            | row(groups["table2", f, q]["regions"], groups["table2", f, q]["events"], pub, TABLE2_ROUNDING)
            for (f, q), pub in TABLE2.items()
        ]
    )
    territory_rows = []
    for side in plan.sides:
        g = groups["table2", TERRITORY_F, TERRITORY_Q] if side == 10 else groups["territory", side]
        pub = TERRITORY.get(side)
        territory_rows.append(
            {"side": side, "published": pub if pub is not None else math.nan}
            | row(g["regions"], g["events"], pub, TERRITORY_ROUNDING.get(side, 0.5))
        )
    territory = pd.DataFrame(territory_rows)

    m = {(r.F, r.q): r.mean for r in table.itertuples()}
    frozen = int(runs["stopping_rule_met"].sum())
    checks = [
        (f"the stopping rule holds at the end of every run ({frozen} of {len(runs)})", frozen == len(runs)),
        (f"F=5, q=5 ends in (almost) one region: mean {m[5, 5]:.2f} ≤ 1.5", m[5, 5] <= 1.5),
        (f"F=5, q=15 ends in many regions: mean {m[5, 15]:.2f} > 10", m[5, 15] > 10),
        (
            f"more traits never give fewer regions at F=5: {m[5, 5]:.2f} ≤ {m[5, 10]:.2f} ≤ {m[5, 15]:.2f}",
            m[5, 5] <= m[5, 10] <= m[5, 15],
        ),
    ]
    consistent = int(table["consistent"].sum())

    def cells(df: pd.DataFrame, first: Sequence[str]) -> list[list[str]]:
        return [
            [
                *(str(r[c]) for c in first),
                "" if pd.isna(r["published"]) else number(r["published"], 1),
                number(r["mean"], 2),
                number(r["se"], 2),
                str(r["runs"]),
                "" if pd.isna(r["range_low"]) else f"{r['range_low']:.1f}–{r['range_high']:.1f}",
                "" if pd.isna(r["p"]) else number(r["p"], 2),
                "" if r["consistent"] is None else ("yes" if r["consistent"] else "NO"),
            ]
            for _, r in df.iterrows()
        ]

    head = ["published", "silosim mean", "SE", "runs", "95% range of a 10-run mean", "p", "consistent"]
    t2 = markdown_table(["F", "q", *head], cells(table, ["F", "q"]))
    terr = markdown_table(["side", *head], cells(territory, ["side"]))
    terminal = (
        f"Axelrod (1997) Table 2: stable regions on a 10×10 lattice "
        f"({consistent} of {len(table)} published means consistent)\n{t2}\n\n"
        f"Territory size, F=5 q=15\n{terr}\n\nChecks\n{check_lines(checks)}"
    )
    markdown = AXELROD_TEXT.format(
        table2=t2,
        territory=terr,
        checks=check_lines(checks),
        consistent=consistent,
        cells=len(table),
        large=plan.large,
        large_runs=plan.large_runs,
    )
    summary = {
        "published_means_consistent": consistent,
        "table2": table.to_dict(orient="records"),
        "territory": territory.to_dict(orient="records"),
    }
    return Report(
        "axelrod",
        {"table2": table, "territory": territory, "runs": runs},
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_axelrod(table, territory, path),
    )


AXELROD_TEXT = """\
## Table 2: stable regions on a 10×10 lattice

{table2}

{consistent} of {cells} published means lie where a 10-run mean of silosim's model falls 95% of the time.

## Territory size (F=5, q=15)

{territory}

Sides above {large}×{large} use at most {large_runs} runs (the paper's count): a 50×50 run needs
about 5·10⁷ events.

## Checks that cannot be wrong

{checks}

## How it is run

- Lattice: side × side sites, bounded (no wrap-around), four neighbours (von Neumann).
- Start: every site draws each of its F features uniformly among q traits.
- Event: pick a site at random, then one of its neighbours at random; silosim's own
  `silosim.dynamics.axelrod_exchange` decides whether they interact (chance = share of identical
  features) and which differing feature the site copies from the neighbour.
- Stop: when every neighbouring pair is identical or shares nothing; checked again,
  independently, on every final lattice.
- Region: a connected set of sites with identical culture (connected components).

## Reading the comparison

Axelrod published the mean of ten runs per cell, not the runs, so no two-sample test
(Mann–Whitney, Kolmogorov–Smirnov) is possible. The column "95% range of a 10-run mean" is where
the mean of 10 runs of silosim's model falls 95% of the time, by a two-level bootstrap (resample
silosim's runs, then 10 runs from the resample, so that both silosim's and the paper's sampling
error count). A published figure (± its rounding) inside it is what silosim's model would have
produced; p is the two-sided share of resampled 10-run means at least as far out as the
published one. With nine cells, about one "NO" in two dockings is expected by chance alone at
the 5% level; with 10 runs (`--quick`) the range itself is rough.
"""


def plot_axelrod(table: pd.DataFrame, territory: pd.DataFrame, path: Path) -> None:
    """Table 2 and the territory curve, silosim beside the published values."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import FixedLocator, NullLocator

    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5))
    x = np.arange(len(table))
    band = {"color": "tab:blue", "alpha": 0.3, "lw": 7}
    left.vlines(x - 0.1, table["range_low"], table["range_high"], label="95% range of a 10-run mean", **band)
    left.errorbar(x - 0.1, table["mean"], yerr=1.96 * table["se"], fmt="o", color="tab:blue", label="silosim ± 1.96 SE")
    left.plot(x + 0.15, table["published"], "kx", ms=9, mew=2, label="Axelrod (1997), Table 2")
    left.set_xticks(x, [f"F={f}\nq={q}" for f, q in zip(table["F"], table["q"], strict=True)])
    left.set_yscale("log")
    left.yaxis.set_major_locator(FixedLocator([1, 2, 5, 10, 20, 30]))
    left.yaxis.set_minor_locator(NullLocator())
    left.yaxis.set_major_formatter(lambda v, _: f"{v:g}")
    left.set_ylabel("stable regions (10×10 lattice)")
    left.set_title("Table 2")
    left.legend(fontsize=8)
    sides = territory["side"]
    right.vlines(sides, territory["range_low"], territory["range_high"], **band)
    right.errorbar(
        sides, territory["mean"], yerr=1.96 * territory["se"], fmt="o-", color="tab:blue", label="silosim ± 1.96 SE"
    )
    pub = territory.dropna(subset=["published"])
    right.plot(pub["side"], pub["published"], "kx", ms=9, mew=2, label="Axelrod (1997)")
    right.set_xscale("log")
    right.xaxis.set_major_locator(FixedLocator(list(sides)))
    right.xaxis.set_minor_locator(NullLocator())
    right.xaxis.set_major_formatter(lambda v, _: f"{v:g}")
    right.set_xlabel("lattice side (side × side sites)")
    right.set_ylabel("stable regions")
    right.set_title("Territory size, F=5, q=15")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
