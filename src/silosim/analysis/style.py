"""Shared look of the static plots: a colour-blind-safe palette, the dpi, and each measure's label, unit and range."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np

DPI = 200
# Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies; black last.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
VERDICT_COLOURS = {"merged": "#009E73", "fragmented": "#E69F00", "siloed": "#D55E00"}
REFERENCE_COLOUR, EVENT_COLOUR = "#555555", "#CC79A7"

# measure -> (axis label with unit, natural range or None when open-ended)
MEASURE_STYLE: dict[str, tuple[str, tuple[float, float] | None]] = {
    "cross_reach": ("cross-community reach (share of members, 0–1)", (0.0, 1.0)),
    "silo_count": ("silos (count)", None),
    "largest_merged_share": ("largest merged share (share of members, 0–1)", (0.0, 1.0)),
    "reach_trend": ("reach trend (change per step)", None),
    "converged": ("converged (0 no, 1 yes)", (0.0, 1.0)),
    "steps_to_merge": ("steps to merge (steps)", None),
    "time_to_insight": ("time to insight (steps)", None),
    "relay_load": ("relay load (items per step)", None),
    "ei_index": ("E-I index (−1 silos … +1 open)", (-1.0, 1.0)),
    "ei_baseline": ("E-I under random mixing (−1…1)", (-1.0, 1.0)),
    "modularity": ("modularity Q (−0.5…1)", None),
    "practice_convergence": ("practice convergence (share, 0–1)", (0.0, 1.0)),
    "practice_regions": ("practice regions (count)", None),
    "broker_constraint": ("broker constraint (Burt index)", None),
    "fit": ("fit to needs (share, 0–1)", (0.0, 1.0)),
    "knowledge": ("knowledge (share holding best practice, 0–1)", (0.0, 1.0)),
    "practice_diversity": ("practice diversity (distinct traits per feature, ≥1)", None),
}
# the verdict thresholds drawn on the measure they apply to
THRESHOLD_LINES = {"cross_reach": ("merged_reach", "siloed_reach"), "largest_merged_share": ("merged_share",)}


def label(measure: str) -> str:
    """The axis label (with unit) of a measure; the name itself for a column that is not a measure."""
    return MEASURE_STYLE.get(measure, (measure.replace("_", " "), None))[0]


def colour(i: int) -> str:
    """The i-th palette colour (cycling)."""
    return PALETTE[i % len(PALETTE)]


def status(values: Iterable[float]) -> str | None:
    """Why a panel is not worth drawing: ``undefined`` (all NaN), ``constant <v>``, or None to draw it."""
    arr = np.asarray(list(values), dtype=float)
    finite = arr[np.isfinite(arr)]
    if finite.size == 0:
        return "undefined in every run"
    if np.ptp(finite) <= 1e-9 * max(1.0, abs(finite[0])):
        v = finite[0]
        return f"constant {int(v) if float(v).is_integer() else f'{v:.3g}'}"
    return None


def hidden_note(hidden: dict[str, str]) -> str:
    """The line naming the panels left out, e.g. ``not shown: converged (constant 1)``."""
    return "not shown: " + ", ".join(f"{m} ({why})" for m, why in hidden.items()) if hidden else ""


def y_limits(measure: str, values: Iterable[float]) -> tuple[float, float]:
    """One y scale per measure: its natural range when it has one, else the data range with a margin from 0."""
    natural = MEASURE_STYLE.get(measure, ("", None))[1]
    arr = np.asarray(list(values), dtype=float)
    arr = arr[np.isfinite(arr)]
    if natural is not None:
        low, high = natural
        if arr.size and arr.min() < low:
            low = float(arr.min())
        if arr.size and arr.max() > high:
            high = float(arr.max())
        pad = 0.04 * (high - low)
        return low - pad, high + pad
    if not arr.size:
        return 0.0, 1.0
    low, high = min(0.0, float(arr.min())), max(0.0, float(arr.max()))
    pad = 0.06 * (high - low) if high > low else 1.0
    return low - (pad if low < 0 else 0.0), high + pad


def grid_shape(n: int, cols: int = 4) -> tuple[int, int]:
    """Rows and columns for n panels, up to ``cols`` a row."""
    cols = max(1, min(n, cols))
    return math.ceil(max(n, 1) / cols), cols
