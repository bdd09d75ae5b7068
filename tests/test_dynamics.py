"""The interaction rule alone, and the step's bookkeeping on small worlds."""

from types import SimpleNamespace

import numpy as np
import pytest

from silosim.dynamics import axelrod_exchange, drift, drift_traits


def test_identical_agents_never_change():
    rng = np.random.default_rng(0)
    a = rng.integers(0, 5, size=(500, 6))
    interacted, new = axelrod_exchange(a, a.copy(), rng.random(500), rng.random(500))
    assert interacted.all()  # overlap 1: they always interact...
    assert np.array_equal(new, a)  # ...but there is nothing to copy


def test_agents_sharing_nothing_never_interact():
    rng = np.random.default_rng(1)
    a = rng.integers(0, 5, size=(500, 6))
    b = (a + 1) % 5
    interacted, new = axelrod_exchange(a, b, rng.random(500), rng.random(500))
    assert not interacted.any()
    assert np.array_equal(new, a)


def test_one_exchange_changes_at_most_one_feature_toward_the_partner():
    rng = np.random.default_rng(2)
    a = rng.integers(0, 3, size=(2000, 5))
    b = rng.integers(0, 3, size=(2000, 5))
    interacted, new = axelrod_exchange(a, b, rng.random(2000), rng.random(2000))
    changed = new != a
    assert changed.sum(axis=1).max() == 1
    assert np.array_equal(new[changed], b[changed])  # the copied trait is the partner's
    differs = (a != b).any(axis=1)
    assert np.array_equal(changed.any(axis=1), interacted & differs)
    assert not changed[~interacted].any()


def test_interaction_probability_is_the_share_of_common_features():
    rng = np.random.default_rng(3)
    n = 20000
    a = np.zeros((n, 5), dtype=int)
    b = np.array([[0, 0, 1, 1, 1]] * n)  # 2 of 5 features in common
    interacted, _ = axelrod_exchange(a, b, rng.random(n), rng.random(n))
    assert interacted.mean() == pytest.approx(0.4, abs=0.015)


def test_the_copied_feature_is_uniform_among_differing_features():
    rng = np.random.default_rng(4)
    n = 30000
    a = np.zeros((n, 4), dtype=int)
    b = np.array([[0, 1, 1, 1]] * n)  # features 1, 2, 3 differ
    _, new = axelrod_exchange(a, b, np.zeros(n), rng.random(n))  # u=0 < overlap 0.25: always interact
    counts = (new != a).sum(axis=0)
    assert counts[0] == 0
    assert counts.sum() == n
    assert counts[1:] / n == pytest.approx([1 / 3] * 3, abs=0.015)


def test_draws_decide_exactly():
    a = np.array([[0, 0, 0, 0]])
    b = np.array([[0, 0, 1, 2]])  # overlap 0.5; features 2 and 3 differ
    assert not axelrod_exchange(a, b, np.array([0.5]), np.array([0.0]))[0][0]
    interacted, new = axelrod_exchange(a, b, np.array([0.49]), np.array([0.75]))
    assert interacted[0]
    assert new.tolist() == [[0, 0, 0, 2]]  # second differing feature


def test_drift_changes_at_most_one_feature_per_agent_within_the_traits():
    rng = np.random.default_rng(5)
    culture = np.zeros((20000, 6), dtype=np.int16)
    drift_traits(culture, 0.3, 7, rng)
    changed = culture != 0
    assert changed.sum(axis=1).max() == 1
    assert culture.min() == 0 and culture.max() == 6
    # chance 0.3 per agent of a fresh draw, which keeps the old trait one time in seven
    assert changed.any(axis=1).mean() == pytest.approx(0.3 * 6 / 7, abs=0.01)
    untouched = culture.copy()
    drift_traits(culture, 0.0, 7, rng)
    assert np.array_equal(culture, untouched)


def test_drift_on_the_world_is_drift_traits_on_its_culture():
    culture = np.random.default_rng(6).integers(0, 5, size=(300, 4))
    world = SimpleNamespace(culture=culture.copy())  # drift reads nothing else of the world
    drift(world, 0.2, 5, np.random.default_rng(7))
    alone = culture.copy()
    drift_traits(alone, 0.2, 5, np.random.default_rng(7))
    assert np.array_equal(world.culture, alone)
    assert not np.array_equal(alone, culture)
