"""The interaction rule alone, and the step's bookkeeping on small worlds."""

from types import SimpleNamespace

import numpy as np
import pytest

from silosim.dynamics import _guide_table, axelrod_exchange, drift, drift_traits, pick_members


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


def members_world(visibility_by_community: list[list[float]]) -> SimpleNamespace:
    """A world holding only community member lists: members numbered 0.. in order, with these visibilities."""
    sizes = [len(v) for v in visibility_by_community]
    world = SimpleNamespace(
        members=np.arange(sum(sizes), dtype=np.int64),
        members_ptr=np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64),
        members_cumvis=np.cumsum(np.concatenate([np.asarray(v, dtype=float) for v in visibility_by_community])),
    )
    world.members_guide = _guide_table(world.members_ptr, world.members_cumvis)
    return world


def test_pick_members_by_hand():
    # community 0: members 0, 1, 2 with visibility 1, 0, 3 (cumulative 1, 1, 4); community 1: nobody visible
    world = members_world([[1.0, 0.0, 3.0], [0.0, 0.0], []])
    u = np.array([0.0, 0.2499, 0.25, 0.9999, 0.5, 0.5])
    community = np.array([0, 0, 0, 0, 1, 2])
    # u * 4 below 1 picks member 0; from 1 on, member 2 (member 1 is invisible and never met)
    assert pick_members(world, community, u).tolist() == [0, 0, 2, 2, -1, -1]


def test_pick_members_follows_visibility_exactly():
    rng = np.random.default_rng(11)
    visibility = [np.array([0.5]), *(rng.choice([0.0, 0.3, 0.5, 18.0], size=n) for n in (7, 400, 3))]
    world = members_world(visibility)
    community = rng.integers(0, 4, 50_000)
    u = rng.random(50_000)
    picked = pick_members(world, community, u)
    # the definition, by binary search: the first member whose cumulative visibility exceeds u of the way
    # from the community's start to its end (the last member at most)
    cum, lo, hi = world.members_cumvis, world.members_ptr[community], world.members_ptr[community + 1]
    base = np.where(lo > 0, cum[lo - 1], 0.0)
    expected = np.minimum(np.searchsorted(cum, base + u * (cum[hi - 1] - base), side="right"), hi - 1)
    assert np.array_equal(picked, expected)
    shares = np.bincount(picked[community == 2] - world.members_ptr[2], minlength=400) / (community == 2).sum()
    assert np.abs(shares - visibility[2] / visibility[2].sum()).max() < 0.01
    assert shares[visibility[2] == 0].sum() == 0
