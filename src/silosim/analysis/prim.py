"""Scenario discovery with PRIM: the box of parameter ranges in which a condition holds.

Friedman & Fisher (1999), "Bump hunting in high-dimensional data": start from
the box holding every point; **peel** repeatedly the slice (a share
``peel_alpha`` of the points inside, at the low or high end of one
parameter) whose removal leaves the highest share of cases of interest,
until the box would hold less than ``mass_min`` of the points; each box on
the way is one point of the *peeling trajectory* (coverage against density,
Bryant & Lempert 2010). The chosen box is then **pasted**: widened again, a
slice ``paste_alpha`` at a time, while that raises its density.

Coverage: the share of all cases of interest inside the box; density: the
share of the points inside that are cases; mass: the share of all points
inside.

Written here rather than taken from a package: the ``prim`` package is
GPL-3 (silosim is MIT), and EMA Workbench 3.0 brings scikit-learn,
statsmodels, seaborn and Platypus, takes 9 s to import and warns on import.
Pure: numpy and pandas.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from silosim.analysis.text import number


@dataclass(frozen=True)
class Box:
    """A box of the trajectory: its limits on every column and how good it is."""

    limits: dict[str, tuple[float, float]]  # every column: (low, high), inclusive
    restricted: list[str]  # the columns it narrows, the most narrowed first
    coverage: float  # share of all cases of interest inside
    density: float  # share of the points inside that are cases of interest
    mass: float  # share of all points inside
    points: int  # points inside


@dataclass(frozen=True)
class PrimResult:
    """The peeling trajectory and the chosen (pasted) box."""

    columns: list[str]
    boxes: list[Box]  # boxes[0]: every point; then one per peel; the chosen one after pasting
    chosen: int
    base_density: float  # share of all points that are cases of interest
    threshold: float  # the density the chosen box was asked to reach
    cases: int  # points where the condition holds
    points: int  # all points

    def trajectory(self) -> pd.DataFrame:
        """One row per box: coverage, density, mass, restricted (how many columns it narrows)."""
        return pd.DataFrame(
            {
                "coverage": [b.coverage for b in self.boxes],
                "density": [b.density for b in self.boxes],
                "mass": [b.mass for b in self.boxes],
                "restricted": [len(b.restricted) for b in self.boxes],
            }
        )


def prim(
    x: pd.DataFrame,
    y: np.ndarray | pd.Series,
    threshold: float = 0.8,
    peel_alpha: float = 0.05,
    paste_alpha: float = 0.05,
    mass_min: float = 0.05,
    paste: bool = True,
) -> PrimResult:
    """Peel, choose and paste (Friedman & Fisher 1999).

    The chosen box is the one of highest coverage among those whose density
    reaches ``threshold``; when none does, the densest. Deterministic: ties
    go to the first column, low end first.

    Args:
        x: one row per point, one numeric column per parameter.
        y: whether the condition holds at each point.
        threshold: the density asked of the chosen box.
        peel_alpha: share of the box's points each peel removes.
        paste_alpha: share of the box's points each paste adds.
        mass_min: the smallest share of all points a box may hold.
        paste: paste the chosen box (off: the peeled box as it is).

    Raises:
        ValueError: no point, no column, or the condition holds at no point.
    """
    values = x.to_numpy(dtype=float)
    cases = np.asarray(y, dtype=bool)
    if values.size == 0 or len(x.columns) == 0:
        raise ValueError("PRIM needs at least one point and one parameter")
    if len(cases) != len(values):
        raise ValueError(f"{len(cases)} outcomes for {len(values)} points")
    if not cases.any():
        raise ValueError("the condition holds at no point: there is no box to find")
    full = np.column_stack([values.min(axis=0), values.max(axis=0)])
    stats = _Stats(values, cases, full, list(x.columns))
    limits = full.copy()
    inside = np.ones(len(values), dtype=bool)
    boxes = [stats.box(limits, inside)]
    while True:
        step = _best_peel(values, cases, limits, inside, peel_alpha, mass_min * len(values))
        if step is None:
            break
        limits, inside = step
        boxes.append(stats.box(limits, inside))
    good = [i for i, b in enumerate(boxes) if b.density >= threshold]
    chosen = (
        max(good, key=lambda i: (boxes[i].coverage, -i))
        if good
        else max(range(len(boxes)), key=lambda i: (boxes[i].density, -i))
    )
    limits = _limits_of(boxes[chosen], x.columns)
    inside = _inside(values, limits)
    if paste:
        limits, inside = _paste(values, cases, limits, inside, paste_alpha)
    boxes[chosen] = stats.box(limits, inside)
    return PrimResult(list(x.columns), boxes, chosen, float(cases.mean()), threshold, int(cases.sum()), len(cases))


class _Stats:
    """Turns limits and a mask into a :class:`Box`."""

    def __init__(self, values: np.ndarray, cases: np.ndarray, full: np.ndarray, columns: list[str]):
        self.values, self.cases, self.full, self.columns = values, cases, full, columns

    def box(self, limits: np.ndarray, inside: np.ndarray) -> Box:
        varies = self.full[:, 1] > self.full[:, 0]
        span = np.where(varies, self.full[:, 1] - self.full[:, 0], 1.0)
        narrowed = np.where(varies, 1 - (limits[:, 1] - limits[:, 0]) / span, 0.0)
        order = [j for j in np.argsort(-narrowed, kind="stable") if narrowed[j] > 1e-12]
        n = int(inside.sum())
        return Box(
            limits={c: (float(limits[j, 0]), float(limits[j, 1])) for j, c in enumerate(self.columns)},
            restricted=[self.columns[j] for j in order],
            coverage=float(self.cases[inside].sum() / self.cases.sum()),
            density=float(self.cases[inside].mean()) if n else 0.0,
            mass=n / len(self.values),
            points=n,
        )


def _limits_of(box: Box, columns: pd.Index) -> np.ndarray:
    return np.array([box.limits[c] for c in columns], dtype=float)


def _inside(values: np.ndarray, limits: np.ndarray) -> np.ndarray:
    return ((values >= limits[:, 0]) & (values <= limits[:, 1])).all(axis=1)


def _best_peel(
    values: np.ndarray, cases: np.ndarray, limits: np.ndarray, inside: np.ndarray, alpha: float, min_points: float
) -> tuple[np.ndarray, np.ndarray] | None:
    """The peel (one end of one column) that leaves the densest box of at least ``min_points``; None if none."""
    best, best_density, best_kept = None, -1.0, -1
    for j in range(values.shape[1]):
        column = values[inside, j]
        for side in (0, 1):
            limit = _peel_limit(column, alpha, side)
            if limit is None:
                continue
            keep = inside & (values[:, j] >= limit if side == 0 else values[:, j] <= limit)
            kept = int(keep.sum())
            if kept < min_points or kept == int(inside.sum()):
                continue
            density = float(cases[keep].mean())
            if density > best_density + 1e-12 or (abs(density - best_density) <= 1e-12 and kept > best_kept):
                new = limits.copy()
                new[j, side] = limit
                best, best_density, best_kept = (new, keep), density, kept
    return best


def _peel_limit(column: np.ndarray, alpha: float, side: int) -> float | None:
    """The new limit that removes about ``alpha`` of ``column`` at one end (at least one distinct value)."""
    distinct = np.unique(column)
    if len(distinct) < 2:
        return None
    if side == 0:
        q = np.quantile(column, alpha, method="lower")
        above = distinct[distinct > q]
        return float(above[0]) if len(above) else None
    q = np.quantile(column, 1 - alpha, method="higher")
    below = distinct[distinct < q]
    return float(below[-1]) if len(below) else None


def _paste(
    values: np.ndarray,
    cases: np.ndarray,
    limits: np.ndarray,
    inside: np.ndarray,
    alpha: float,
) -> tuple[np.ndarray, np.ndarray]:
    """Widen one end of one column at a time by about ``alpha`` of the box's points while the density rises."""
    while True:
        density = float(cases[inside].mean())
        best = None
        for j in range(values.shape[1]):
            others = np.delete(np.arange(values.shape[1]), j)
            within = ((values[:, others] >= limits[others, 0]) & (values[:, others] <= limits[others, 1])).all(axis=1)
            for side in (0, 1):
                outside = within & (values[:, j] < limits[j, 0] if side == 0 else values[:, j] > limits[j, 1])
                if not outside.any():
                    continue
                count = max(1, int(np.ceil(alpha * inside.sum())))
                candidates = np.sort(values[outside, j])
                limit = candidates[-count] if side == 0 else candidates[count - 1]
                new = limits.copy()
                new[j, side] = limit
                keep = _inside(values, new)
                gain = float(cases[keep].mean())
                if gain > density + 1e-12 and (best is None or gain > best[0] + 1e-12):
                    best = (gain, new, keep)
        if best is None:
            return limits, inside
        _, limits, inside = best


def without_each(x: pd.DataFrame, y: np.ndarray | pd.Series, box: Box) -> dict[str, tuple[float, float]]:
    """Each restriction's worth: (density, coverage) of the box with that one restriction dropped.

    A restriction whose removal barely lowers the density is one PRIM kept by
    chance (Bryant & Lempert 2010 drop such restrictions for a simpler box).
    """
    values, cases = x.to_numpy(dtype=float), np.asarray(y, dtype=bool)
    limits = _limits_of(box, x.columns)
    found = {}
    for name in box.restricted:
        j = list(x.columns).index(name)
        wider = limits.copy()
        wider[j] = values[:, j].min(), values[:, j].max()
        inside = _inside(values, wider)
        found[name] = (float(cases[inside].mean()), float(cases[inside].sum() / cases.sum()))
    return found


def describe(result: PrimResult) -> str:
    """The chosen box in one sentence: where it is, how dense, how much it covers, and elsewhere."""
    box = result.boxes[result.chosen]
    whole = result.boxes[0].limits
    bounds = []
    for name in box.restricted:
        low, high = box.limits[name]
        at_low, at_high = low <= whole[name][0], high >= whole[name][1]
        if at_low:
            bounds.append(f"`{name}` ≤ {number(high, 3)}")
        elif at_high:
            bounds.append(f"`{name}` ≥ {number(low, 3)}")
        else:
            bounds.append(f"`{name}` between {number(low, 3)} and {number(high, 3)}")
    cases_outside = result.cases - round(result.cases * box.coverage)
    rest = cases_outside / max(result.points - box.points, 1)
    where = " and ".join(bounds) if bounds else "no restriction (the whole space)"
    reached = "" if box.density >= result.threshold else f" (short of the {result.threshold:.0%} asked)"
    return (
        f"in {box.mass:.0%} of the space, bounded by {where}, the condition holds at {box.density:.0%} of the "
        f"points{reached}, which covers {box.coverage:.0%} of all the points where it holds; elsewhere it holds "
        f"at {rest:.0%} (at {result.base_density:.0%} over the whole space)."
    )
