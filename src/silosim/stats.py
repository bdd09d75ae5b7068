"""Confidence intervals over replications: pure functions of arrays of run results.

No Mesa here. Each replication of a terminating simulation is one independent
observation, so the mean over replications has a Student-t interval (Law,
*Simulation Modeling and Analysis*: terminating simulations). Under common
random numbers replication k of every strategy shares a seed, so strategies
are compared by the paired-t interval of their differences (Law, ibid.:
comparing alternative systems, variance reduction): narrower than two separate intervals when the shared seed
makes the strategies' results correlate, as common random numbers intend.
Undefined values (NaN, ±inf) are left out, and the count says how many were used.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.special import stdtrit


def mean_ci(values: np.ndarray | list[float], level: float = 0.95) -> tuple[float, float, float, int]:
    """Mean of the finite values and its Student-t confidence interval.

    mean ± t(1 − α/2, n − 1) · s / √n, with s the sample standard deviation
    (n − 1 in the denominator), α = 1 − ``level`` and t the Student (1908)
    quantile (scipy's ``stdtrit``).

    Returns:
        ``(mean, low, high, n)`` with n the number of finite values; low and
        high are NaN when n < 2, and everything is NaN when n = 0.
    """
    values = np.asarray(values, dtype=float)
    values = values[np.isfinite(values)]
    n = len(values)
    if n == 0:
        return math.nan, math.nan, math.nan, 0
    mean = float(values.mean())
    if n < 2:
        return mean, math.nan, math.nan, n
    half = float(stdtrit(n - 1, 0.5 + level / 2) * values.std(ddof=1) / math.sqrt(n))
    return mean, mean - half, mean + half, n


def paired_difference(
    a: np.ndarray | list[float], b: np.ndarray | list[float], level: float = 0.95
) -> tuple[float, float, float, int]:
    """Mean of a − b over the pairs where both are finite, with its paired-t interval.

    ``a[k]`` and ``b[k]`` are one pair (replication k of two strategies, same
    seed). The interval is :func:`mean_ci` of the differences d_k = a_k − b_k.

    Returns:
        ``(mean, low, high, n)`` with n the number of complete pairs.
    """
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    if a.shape != b.shape:
        raise ValueError(f"paired values need the same shape, got {a.shape} and {b.shape}")
    both = np.isfinite(a) & np.isfinite(b)
    return mean_ci(a[both] - b[both], level)


def noise_share(values: np.ndarray | list[float], groups: np.ndarray | list) -> tuple[float, float]:
    """How much of the runs' variance is replication noise: (share of the runs' variance, share in the means).

    One-way analysis of variance over the finite values grouped by parameter
    point (Montgomery, *Design and Analysis of Experiments*): the pooled
    within-point variance (replications of one point differ only by seed)
    over the variance of every run; and that noise as it remains in a point's
    mean of n replications (within / n) over the variance of the point means,
    the share of the variance an analysis of means reads that is noise.
    NaN when no point has two replications or the values do not vary.
    """
    frame = np.asarray(values, dtype=float)
    keys = np.asarray(groups)
    keep = np.isfinite(frame)
    frame, keys = frame[keep], keys[keep]
    _, codes, counts = np.unique(keys, return_inverse=True, return_counts=True)
    if frame.size < 2 or not (counts > 1).any():
        return math.nan, math.nan
    sums = np.bincount(codes, frame)
    means = sums / counts
    within_ss = float(((frame - means[codes]) ** 2).sum())
    within = within_ss / max(frame.size - counts.size, 1)
    total = float(frame.var(ddof=1))
    between = float(means.var(ddof=1)) if counts.size > 1 else math.nan
    mean_reps = float(counts.mean())
    run_share = within / total if total > 0 else math.nan
    mean_share = min(within / mean_reps / between, 1.0) if between and between > 0 else math.nan
    return (min(run_share, 1.0), mean_share)
