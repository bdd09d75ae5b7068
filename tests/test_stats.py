"""Confidence intervals and paired differences, checked on data whose answers are known by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from silosim.stats import mean_ci, paired_difference

# t quantiles from a printed table: t(0.975, 4) = 2.776, t(0.975, 1) = 12.706, t(0.95, 4) = 2.132


def test_mean_ci_of_one_to_five():
    mean, low, high, n = mean_ci([1, 2, 3, 4, 5])
    half = 2.776 * math.sqrt(2.5) / math.sqrt(5)  # sd = sqrt(2.5): a 1.963 half-width
    assert (mean, n) == (3.0, 5)
    assert low == pytest.approx(3 - half, abs=1e-3)
    assert high == pytest.approx(3 + half, abs=1e-3)
    assert high - low == pytest.approx(2 * 1.963, abs=1e-3)


def test_level_changes_the_quantile():
    _, low, high, _ = mean_ci([1, 2, 3, 4, 5], level=0.90)
    assert (high - low) / 2 == pytest.approx(2.132 * math.sqrt(2.5) / math.sqrt(5), abs=1e-3)


def test_non_finite_values_are_left_out_and_not_counted():
    mean, low, high, n = mean_ci([1, np.nan, 3, np.inf, -np.inf])
    assert (mean, n) == (2.0, 2)
    half = 12.706 * math.sqrt(2) / math.sqrt(2)
    assert (low, high) == pytest.approx((2 - half, 2 + half), abs=1e-3)


def test_one_value_has_a_mean_but_no_interval():
    mean, low, high, n = mean_ci([0.4, np.nan])
    assert (mean, n) == (0.4, 1)
    assert math.isnan(low) and math.isnan(high)


@pytest.mark.parametrize("values", [[], [np.nan, np.inf]])
def test_no_values_is_all_nan(values):
    mean, low, high, n = mean_ci(values)
    assert n == 0
    assert all(math.isnan(x) for x in (mean, low, high))


def test_constant_values_have_a_zero_width_interval():
    assert mean_ci([0.25, 0.25, 0.25]) == (0.25, 0.25, 0.25, 3)


def test_paired_difference_of_a_shift_is_exact():
    b = np.array([0.1, 0.5, 0.9, 0.3])
    mean, low, high, n = paired_difference(b + 1, b)
    assert n == 4
    assert (mean, low, high) == pytest.approx((1, 1, 1), abs=1e-12)


def test_pairing_is_narrower_than_separate_intervals():
    # b varies a lot between seeds, a = b + small noise: the pairs resolve what separate intervals cannot
    b = np.array([1.0, 5.0, 9.0, 3.0, 7.0])
    a = b + np.array([0.9, 1.1, 1.0, 0.95, 1.05])
    mean, low, high, _ = paired_difference(a, b)
    assert mean == pytest.approx(1.0)
    assert low > 0.8 and high < 1.2
    _, a_low, _, _ = mean_ci(a)
    _, _, b_high, _ = mean_ci(b)
    assert a_low < b_high  # the unpaired intervals overlap


def test_paired_difference_drops_incomplete_pairs():
    a = [2.0, np.nan, 5.0, 7.0, 1.0]
    b = [1.0, 3.0, np.inf, 4.0, 0.0]
    mean, low, high, n = paired_difference(a, b)  # pairs 0, 3, 4: differences 1, 3, 1
    assert n == 3
    assert mean == pytest.approx(5 / 3)
    half = 4.303 * math.sqrt(4 / 3) / math.sqrt(3)  # sd of (1, 3, 1) = sqrt(4/3); t(0.975, 2) = 4.303
    assert (low, high) == pytest.approx((5 / 3 - half, 5 / 3 + half), abs=1e-3)


def test_paired_difference_with_one_pair_has_no_interval():
    mean, low, high, n = paired_difference([3.0, np.nan], [1.0, 2.0])
    assert (mean, n) == (2.0, 1)
    assert math.isnan(low) and math.isnan(high)


def test_paired_difference_needs_aligned_pairs():
    with pytest.raises(ValueError, match="same shape"):
        paired_difference([1.0, 2.0], [1.0])
