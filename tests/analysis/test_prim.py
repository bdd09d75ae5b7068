"""PRIM (Friedman & Fisher 1999) against boxes known by construction."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from silosim.analysis.prim import describe, prim, without_each
from silosim.analysis.text import number


def planted(n: int = 2000, flip: float = 0.0, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    """Uniform points in 4 dimensions; the condition holds iff 0.2 ≤ a ≤ 0.6 and b ≥ 0.7 (``flip``: label noise)."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.random((n, 4)), columns=["a", "b", "c", "d"])
    y = ((x["a"] >= 0.2) & (x["a"] <= 0.6) & (x["b"] >= 0.7)).to_numpy()
    return x, y ^ (rng.random(n) < flip)


def test_recovers_the_planted_box():
    x, y = planted()
    result = prim(x, y, threshold=0.95)
    box = result.boxes[result.chosen]
    assert sorted(box.restricted) == ["a", "b"]  # c and d play no part
    assert box.limits["a"] == pytest.approx((0.2, 0.6), abs=0.05)
    assert box.limits["b"][0] == pytest.approx(0.7, abs=0.05)
    assert box.density >= 0.95 and box.coverage >= 0.9
    assert result.base_density == pytest.approx(y.mean()) and result.cases == int(y.sum()) and result.points == 2000


def test_recovers_it_through_label_noise():
    x, y = planted(flip=0.05, seed=3)
    result = prim(x, y, threshold=0.8)
    box = result.boxes[result.chosen]
    assert set(box.restricted[:2]) == {"a", "b"}
    assert box.limits["a"][0] == pytest.approx(0.2, abs=0.06) and box.limits["b"][0] == pytest.approx(0.7, abs=0.06)
    assert box.density >= 0.8 and box.coverage >= 0.6


def test_trajectory_starts_with_every_point_and_loses_coverage():
    x, y = planted()
    result = prim(x, y)
    table = result.trajectory()
    assert table.iloc[0].tolist() == [1.0, pytest.approx(y.mean()), 1.0, 0]
    peeled = table.drop(index=result.chosen)  # the chosen box was pasted: it may have grown back
    assert (np.diff(peeled["coverage"]) <= 1e-12).all() and (np.diff(peeled["mass"]) < 0).all()
    assert table["mass"].iloc[-1] >= 0.05  # mass_min
    good = table[table["density"] >= result.threshold]
    assert result.boxes[result.chosen].coverage >= good["coverage"].drop(index=result.chosen, errors="ignore").max()


def test_one_peel_by_hand():
    # 20 points on a line; the condition holds on the 10 largest. A 5% peel removes one point at an end:
    # the lowest (a miss) raises the density from 10/20 to 10/19, the highest (a case) lowers it to 9/19.
    x = pd.DataFrame({"v": np.arange(20.0)})
    y = x["v"].to_numpy() >= 10
    result = prim(x, y, threshold=1.0, mass_min=0.5)
    assert result.boxes[1].limits["v"] == (1.0, 19.0) and result.boxes[1].density == pytest.approx(10 / 19)
    chosen = result.boxes[result.chosen]
    assert chosen.limits["v"] == (10.0, 19.0) and chosen.density == 1.0 and chosen.coverage == 1.0
    assert chosen.mass == 0.5


def test_pasting_only_widens_and_never_lowers_the_density():
    x, y = planted(flip=0.05, seed=3)
    peeled, pasted = prim(x, y, paste=False), prim(x, y)
    assert peeled.chosen == pasted.chosen
    before, after = peeled.boxes[peeled.chosen], pasted.boxes[pasted.chosen]
    assert after.density >= before.density and after.points >= before.points
    for name, (low, high) in before.limits.items():
        assert after.limits[name][0] <= low and after.limits[name][1] >= high


def test_a_constant_column_is_never_restricted():
    x = pd.DataFrame({"v": np.arange(100.0), "w": np.zeros(100)})
    result = prim(x, x["v"].to_numpy() >= 50, threshold=1.0)
    box = result.boxes[result.chosen]
    assert box.restricted == ["v"] and box.density == 1.0 and 50 <= box.limits["v"][0] <= 55


def test_describe_names_limits_and_figures():
    x, y = planted()
    result = prim(x, y, threshold=0.95)
    box, text = result.boxes[result.chosen], describe(result)
    low, high = box.limits["a"]
    assert f"`a` between {number(low, 3)} and {number(high, 3)}" in text
    assert f"`b` ≥ {number(box.limits['b'][0], 3)}" in text
    assert f"holds at {box.density:.0%} of the points" in text and f"covers {box.coverage:.0%}" in text


def test_nothing_to_find_is_an_error():
    x, _ = planted(n=50)
    with pytest.raises(ValueError, match="holds at no point"):
        prim(x, np.zeros(50, dtype=bool))
    with pytest.raises(ValueError, match="at least one point"):
        prim(x.iloc[:0], np.zeros(0, dtype=bool))


def test_each_restriction_is_worth_what_dropping_it_costs():
    x, y = planted()
    result = prim(x, y, threshold=0.95)
    box = result.boxes[result.chosen]
    worth = without_each(x, y, box)
    assert set(worth) == {"a", "b"}
    # without a's limits the box is b ≥ 0.7 alone, where 0.2 ≤ a ≤ 0.6 holds 40% of the time; without b's, 30%
    assert worth["a"][0] == pytest.approx(0.4, abs=0.05) and worth["a"][1] >= box.coverage
    assert worth["b"][0] == pytest.approx(0.3, abs=0.05)
    assert worth["b"][1] >= box.coverage
