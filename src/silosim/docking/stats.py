"""The dockings' statistics: means with normal 95% intervals (± 1.96 SE) and run-by-run comparisons.

Conditions whose run j starts from the same state (common random numbers)
are compared pair by pair, as in March's docking (:func:`paired`). The
sweeps' Student-t intervals are :mod:`silosim.stats`; the dockings keep the
normal interval their published comparisons were made with.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

Z95 = 1.96  # 95% intervals: mean ± 1.96 SE


def mean_se(values: np.ndarray) -> tuple[float, float, float]:
    """Mean, sample standard deviation and standard error of the mean."""
    values = np.asarray(values, dtype=float)
    n = len(values)
    sd = float(values.std(ddof=1)) if n > 1 else math.nan
    return float(values.mean()), sd, sd / math.sqrt(n) if n > 1 else math.nan


def interval(values: np.ndarray) -> tuple[float, float, float]:
    """Mean and its 95% interval (mean ± 1.96 SE)."""
    mean, _, se = mean_se(values)
    return mean, mean - Z95 * se, mean + Z95 * se


@dataclass(frozen=True)
class Paired:
    """Two conditions compared run by run (run j of each starts alike): the mean difference a − b, 95% interval."""

    diff: float
    low: float
    high: float
    overlap: bool  # whether the two means' own 95% intervals overlap

    @property
    def above(self) -> bool:
        """Whether a is above b: the whole interval of the difference is above 0."""
        return self.low > 0

    def text(self) -> str:
        """The difference, its interval, and whether the two means' intervals overlap."""
        apart = "the two means' intervals overlap" if self.overlap else "the two means' intervals do not overlap"
        return f"paired difference {self.diff:+.3f} [{self.low:+.3f}, {self.high:+.3f}]; {apart}"


def paired(a: np.ndarray, b: np.ndarray) -> Paired:
    """Compare two conditions' runs pair by pair (they must have started from the same states)."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    diff, low, high = interval(a - b)
    _, a_low, a_high = interval(a)
    _, b_low, b_high = interval(b)
    return Paired(diff, low, high, bool(a_low <= b_high and b_low <= a_high))
