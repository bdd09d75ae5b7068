"""Global sensitivity analysis of a sweep: which varied parameters decide a measure.

Read from a sweep's runs and its design (:func:`silosim.experiments.design.design_meta`):

- **Sobol indices** (Sobol' 1993; Saltelli 2002; Saltelli et al. 2010) on a
  ``design: sobol`` sweep, Saltelli's design: the first-order index S1 of a
  parameter is the share of the measure's variance it explains alone, the
  total-order index ST the share it has a hand in, interactions included;
  second order (S2) when the design sampled for it. SALib's estimators, with
  its bootstrap 95% intervals over the base samples.
- **Morris screening** (Morris 1991; Campolongo et al. 2007) on a
  ``design: morris`` sweep: μ*, the mean absolute elementary effect (how much
  the parameter moves the measure), and σ, their spread (non-linearity or
  interaction). SALib's estimator.

Each analysis reads a *target*: one strategy's measure, or its paired
difference with another strategy (what decides which wins), averaged over the
point's replications (the analyses are of means); the share of the variance
that is replication noise is measured beside it (:func:`silosim.stats.noise_share`).
A partial sweep is analysed on its complete base samples (Sobol) or
trajectories (Morris) and says how many points it lacks.

Pure: numpy, pandas, SALib and :mod:`silosim.stats`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from silosim.analysis.text import number, plural
from silosim.stats import noise_share

RESAMPLES = 1000  # bootstrap resamples of the intervals
MATTERS = 0.05  # a total-order index above this (its interval's low end) matters; below it (high end) does not
NOISY = 0.5  # replication noise above this share of the means' variance dwarfs the effects
ANALYSES = {"sobol": "a Sobol analysis", "morris": "a Morris screening"}


class DesignError(ValueError):
    """The sweep's design cannot support the analysis asked for (e.g. a grid for Sobol indices)."""


@dataclass(frozen=True)
class Target:
    """What an analysis reads: a strategy's measure, or its paired difference with ``versus``."""

    strategy: str
    measure: str
    versus: str | None = None

    @property
    def label(self) -> str:
        """``marketing_glue cross_reach`` or ``marketing_glue − most_involved cross_reach``."""
        who = self.strategy if self.versus is None else f"{self.strategy} − {self.versus}"
        return f"{who} {self.measure}"


@dataclass
class Sensitivity:
    """The indices of one target (Sobol or Morris), with what was used to compute them."""

    target: Target
    method: str  # "sobol" or "morris"
    indices: pd.DataFrame  # one row per parameter: S1, S1_conf, ST, ST_conf (sobol) or mu_star, mu_star_conf, mu, sigma
    second_order: pd.DataFrame | None  # sobol with second_order: parameter_a, parameter_b, S2, S2_conf
    units_used: int  # complete base samples (sobol) or trajectories (morris)
    units_planned: int
    points_missing: int  # planned points with no value of the target
    runs_used: int
    noise_runs: float  # share of the runs' variance that is replication noise
    noise_means: float  # share of the point means' variance that is replication noise
    note: str = ""  # why there are no indices (constant, undefined), else ""
    variance: float = math.nan  # variance of the point means analysed
    where: dict[str, Any] = field(default_factory=dict)  # the listed values of this block of the design
    warnings: list[str] = field(default_factory=list)


def point_values(runs: pd.DataFrame, target: Target) -> pd.DataFrame:
    """The target per run (point, replication, value), ok runs only; a difference over runs paired by seed."""
    ok = runs[runs["status"] == "ok"]
    mine = ok.loc[ok["strategy"] == target.strategy, ["point", "replication", target.measure]]
    if target.versus is not None:
        theirs = ok.loc[ok["strategy"] == target.versus, ["point", "replication", target.measure]]
        mine = mine.merge(theirs, on=["point", "replication"], suffixes=("", "_versus"))
        mine[target.measure] = mine[target.measure] - mine.pop(f"{target.measure}_versus")
    values = mine.rename(columns={target.measure: "value"})
    return values[np.isfinite(values["value"].to_numpy(dtype=float))]


def point_means(values: pd.DataFrame, planned_points: int) -> np.ndarray:
    """The mean over replications at every planned point (NaN where the point has no value)."""
    means = np.full(planned_points, np.nan)
    grouped = values.groupby("point")["value"].mean()
    means[grouped.index.to_numpy(dtype=int)] = grouped.to_numpy(dtype=float)
    return means


def _problem(design: dict) -> dict[str, Any]:
    ranges = design["ranges"]
    return {"num_vars": len(ranges), "names": list(ranges), "bounds": [list(map(float, b)) for b in ranges.values()]}


def require(design: dict, method: str) -> None:
    """Raise DesignError unless the sweep's design supports ``method`` (``sobol`` or ``morris``)."""
    if design.get("design") == method and design.get("ranges"):
        return
    have = design.get("design", "grid")
    need = {
        "sobol": "design: sobol (Saltelli's design) with samples: N, N × (D + 2) points for D ranges",
        "morris": "design: morris with trajectories: r, r × (D + 1) points for D ranges",
    }[method]
    raise DesignError(
        f"{ANALYSES[method]} needs the points of its own design; this sweep's design is {have}. "
        f"Run the sweep again with {need} (--dry-run says how many runs)"
    )


def analyse(
    runs: pd.DataFrame, design: dict, target: Target, method: str, planned_points: int, seed: int = 0
) -> list[Sensitivity]:
    """The Sobol indices or Morris screening of ``target``, one per combination of the listed values.

    Args:
        runs: the store's runs (:meth:`silosim.store.Store.runs_frame`).
        design: the sweep's design (its meta's ``design``).
        target: the strategy and measure (or difference) analysed.
        method: ``sobol`` or ``morris``.
        planned_points: the parameter points the sweep plans.
        seed: seeds the bootstrap (the same seed gives the same intervals).

    Raises:
        DesignError: the design cannot support the method.
    """
    require(design, method)
    values = point_values(runs, target)
    per_block = design["range_points"]
    lists = design.get("lists", [])
    compute = _sobol if method == "sobol" else _morris
    results = []
    for block in range(max(1, planned_points // per_block)):
        lo, hi = block * per_block, (block + 1) * per_block
        mine = values[(values["point"] >= lo) & (values["point"] < hi)].assign(point=lambda v, lo=lo: v["point"] - lo)
        result = compute(mine, design, target, seed)
        there = runs[(runs["point"] >= lo) & (runs["point"] < hi)]
        result.where = {k: there[k].iloc[0] for k in lists if k in there and len(there)}
        results.append(result)
    return results


def _noise(values: pd.DataFrame) -> tuple[float, float]:
    return noise_share(values["value"].to_numpy(dtype=float), values["point"].to_numpy())


def _empty(columns: list[str], names: list[str]) -> pd.DataFrame:
    return pd.DataFrame({"parameter": names, **{c: np.nan for c in columns}})


COLUMNS = {"sobol": ["S1", "S1_conf", "ST", "ST_conf"], "morris": ["mu_star", "mu_star_conf", "mu", "sigma"]}
UNITS = {"sobol": "base sample", "morris": "trajectory"}


def _units(values: pd.DataFrame, design: dict, target: Target, method: str) -> tuple[Sensitivity, np.ndarray]:
    """The result to fill, and which points belong to the design's complete units, in design order.

    Units: Sobol's base samples (D + 2 points, 2D + 2 with second order), Morris's
    trajectories (D + 1). The result carries a note when it cannot be computed.
    """
    problem = _problem(design)
    d = problem["num_vars"]
    size = (2 * d + 2 if design.get("second_order") else d + 2) if method == "sobol" else d + 1
    means = point_means(values, design["range_points"])
    complete = np.isfinite(means.reshape(-1, size)).all(axis=1)
    used = values[np.isin(values["point"].to_numpy() // size, np.flatnonzero(complete))]
    result = Sensitivity(
        target, method, _empty(COLUMNS[method], problem["names"]), None, int(complete.sum()), len(complete),
        int((~np.isfinite(means)).sum()), len(used), *_noise(used),
    )  # fmt: skip
    keep = np.repeat(complete, size)
    y = means[keep]
    result.variance = float(y.var()) if y.size > 1 else math.nan
    if complete.sum() < 2:
        result.note = f"{plural(int(complete.sum()), 'complete ' + UNITS[method])}: at least 2 are needed"
    elif not np.ptp(y) > 1e-12 * max(1.0, abs(y).max()):
        result.note = f"constant ({number(float(y[0]))}) at every point: no parameter moves it"
    return result, keep


def _sobol(values: pd.DataFrame, design: dict, target: Target, seed: int) -> Sensitivity:
    """Saltelli's estimators (Saltelli et al. 2010, Jansen for ST) on the complete base samples."""
    from SALib.analyze import sobol  # slow to import

    result, keep = _units(values, design, target, "sobol")
    if result.note:
        return result
    problem, second = _problem(design), bool(design.get("second_order"))
    y = point_means(values, design["range_points"])[keep]
    with np.errstate(all="ignore"):  # seed + 1: SALib seeds its bootstrap only for a seed other than 0
        found = sobol.analyze(
            problem, y, calc_second_order=second, num_resamples=RESAMPLES, conf_level=0.95, seed=seed + 1
        )
    result.indices = pd.DataFrame({"parameter": problem["names"], **{c: found[c] for c in COLUMNS["sobol"]}})
    if second:
        d = problem["num_vars"]
        pairs = [(i, j) for i in range(d) for j in range(i + 1, d)]
        result.second_order = pd.DataFrame(
            {
                "parameter_a": [problem["names"][i] for i, _ in pairs],
                "parameter_b": [problem["names"][j] for _, j in pairs],
                "S2": [found["S2"][i, j] for i, j in pairs],
                "S2_conf": [found["S2_conf"][i, j] for i, j in pairs],
            }
        )
    result.warnings = _warnings(result)
    return result


def _morris(values: pd.DataFrame, design: dict, target: Target, seed: int) -> Sensitivity:
    """Morris's elementary effects (μ*, Campolongo et al. 2007; σ) on the complete trajectories."""
    from SALib.analyze import morris  # slow to import

    result, keep = _units(values, design, target, "morris")
    if result.note:
        return result
    problem, rows = _problem(design), np.asarray(design["rows"], dtype=float)
    y = point_means(values, design["range_points"])[keep]
    with np.errstate(all="ignore"):  # seed + 1: SALib seeds its bootstrap only for a seed other than 0
        found = morris.analyze(
            problem, rows[keep], y, num_resamples=RESAMPLES, conf_level=0.95, num_levels=design["levels"], seed=seed + 1
        )
    columns = COLUMNS["morris"]
    result.indices = pd.DataFrame({"parameter": problem["names"], **{c: np.asarray(found[c]) for c in columns}})
    result.warnings = _warnings(result)
    return result


def _warnings(result: Sensitivity) -> list[str]:
    if math.isfinite(result.noise_means) and result.noise_means > NOISY:
        return [
            f"{result.target.label}: replication noise is {result.noise_means:.0%} of the variance of the point "
            f"means the indices read ({result.noise_runs:.0%} of the runs' variance): the noise dwarfs the effects, "
            "so the indices mostly measure chance; add replications"
        ]
    return []


def sentence(result: Sensitivity) -> str:
    """The parameters that matter and those that do not, in words (Sobol: ST; Morris: μ*)."""
    label = f"`{result.target.label}`"
    if result.note:
        return f"{label}: {result.note}."
    text = _indices_sentence(result, label)
    if result.warnings:
        text += (
            f" But replication noise is {result.noise_means:.0%} of what these indices read: add replications "
            "before trusting them."
        )
    return text


def _indices_sentence(result: Sensitivity, label: str) -> str:
    """The parameters that matter and those that do not, from the indices alone."""
    table = result.indices
    if result.method == "sobol":
        ranked = table.sort_values("ST", ascending=False)
        matters = ranked[ranked["ST"] - ranked["ST_conf"] > MATTERS]
        inert = ranked[ranked["ST"] + ranked["ST_conf"] < MATTERS]
        unsure = ranked[~ranked.index.isin(matters.index) & ~ranked.index.isin(inert.index)]

        def show(row: pd.Series) -> str:
            return f"`{row.parameter}` (ST {number(row.ST, 2)} ± {number(row.ST_conf, 2)})"

        parts = []
        if len(matters):
            parts.append(f"{label} turns on " + ", ".join(show(r) for r in matters.itertuples()))
        else:
            parts.append(f"No varied parameter has a total-order index surely above {MATTERS} for {label}")
        if len(inert):
            parts.append("it does not depend on " + ", ".join(f"`{r.parameter}`" for r in inert.itertuples()))
        if len(unsure):
            parts.append(
                "the sample cannot tell for " + ", ".join(show(r) for r in unsure.itertuples()) + " (more samples)"
            )
        first = float(table["S1"].clip(lower=0).sum())
        if first > 1.1:
            reading = "above 1, so the sample is too small to read how the parameters act together"
        elif first < 0.9:
            reading = f"about {1 - first:.0%} of its variance comes from parameters acting together"
        else:
            reading = "the parameters act mostly alone"
        parts.append(f"the first-order indices sum to {number(first, 2)}: {reading}")
        return "; ".join(parts) + "."
    ranked = table.sort_values("mu_star", ascending=False)
    top = float(ranked["mu_star"].iloc[0])
    strong = ranked[ranked["mu_star"] >= 0.1 * top]
    weak = ranked[ranked["mu_star"] < 0.1 * top]
    words = []
    for row in strong.itertuples():
        ratio = row.sigma / row.mu_star if row.mu_star > 0 else math.inf
        kind = "linear" if ratio < 0.1 else "monotonic" if ratio < 1 else "non-linear or interacting"
        words.append(f"`{row.parameter}` (μ* {number(row.mu_star, 3)}, σ {number(row.sigma, 3)}: {kind})")
    text = f"{label} is moved most by " + ", ".join(words)
    if len(weak):
        text += "; barely by " + ", ".join(f"`{r.parameter}`" for r in weak.itertuples()) + " (μ* under 10% of the top)"
    return text + "."


def usage(result: Sensitivity) -> str:
    """How much of the sweep an analysis used: its base samples or trajectories, runs, missing points."""
    unit = "base sample" if result.method == "sobol" else "trajectory"
    text = (
        f"{result.units_used} of {plural(result.units_planned, unit)} complete, {plural(result.runs_used, 'run')} used"
    )
    if result.points_missing:
        text += f"; {plural(result.points_missing, 'planned point')} lack a run (a partial sweep)"
    return text
