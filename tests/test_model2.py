"""Model 2.0: what holds by construction, in the step's pure functions and in small whole models.

Hand-built worlds (:func:`tiny_world`) check the dynamics functions exactly; small scenarios, built
here as dicts, check what the model must give whatever the random draws.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from silosim import dynamics, resources, scenario
from silosim.dynamics import Exchanges, ItemStore, World
from silosim.model import MEASURES, SiloModel

# --------------------------------------------------------------------------- hand-built worlds


def tiny_world(
    memberships: list[set[int]],
    n_actors: int,
    n_communities: int,
    budget: list[float] | None = None,
    rights: list[set[int]] | None = None,
) -> World:
    """A world where row i takes part in ``memberships[i]``; rows below ``n_actors`` are actors.

    Actors spend ``budget`` (default 0) spread evenly over their communities and may cross-post
    into ``rights`` (default: nowhere). Stakeholders are visible (weight 1) but inactive (activity 0:
    they start nothing unless a test sets it), actors invisible, so an actor's exchanges always find
    a stakeholder partner and are all counted. Everyone takes in every exchange (``listen`` 1).
    """
    n = len(memberships)
    member = np.zeros((n, n_communities), dtype=bool)
    for row, communities in enumerate(memberships):
        member[row, sorted(communities)] = True
    s_comm = np.nonzero(member[n_actors:])[1]
    world = World(
        culture=np.zeros((n, 2), dtype=np.int16),
        is_actor=np.arange(n) < n_actors,
        tie_partner=np.full((n, 4), -1, dtype=np.int32),
        tie_weight=np.zeros((n, 4), dtype=np.float32),
        tie_context=np.full((n, 4), -1, dtype=np.int8),
        joined_ptr=np.concatenate([[0], np.cumsum(member[n_actors:].sum(axis=1))]).astype(np.int64),
        joined=s_comm.astype(np.int64),
        activity=np.zeros(n),
    )
    actors = member[:n_actors]
    world.budget = np.zeros(n_actors) if budget is None else np.asarray(budget, dtype=float)
    world.listen = np.ones(n)
    world.effort = world.budget[:, None] * actors / np.maximum(actors.sum(axis=1, keepdims=True), 1)
    dynamics.build_members(world, actors, n_actors)
    visible = np.where(np.arange(n) < n_actors, 0.0, 1.0)
    world.members_cumvis = np.cumsum(visible[world.members])
    world.members_guide = dynamics._guide_table(world.members_ptr, world.members_cumvis)
    world.member_mask = bits(member)
    right = np.zeros((n, n_communities), dtype=bool)
    for row, communities in enumerate(rights or []):
        right[row, sorted(communities)] = True
    world.relay_mask = bits(right)
    world.belongs = np.nonzero(member)[1].astype(np.int64)
    world.belongs_ptr = np.concatenate([[0], np.cumsum(member.sum(axis=1))]).astype(np.int64)
    world.member_count = member.sum(axis=0)
    both = member.T.astype(int) @ member.astype(int)
    world.outside = world.member_count[None, :] - both
    np.fill_diagonal(world.outside, world.member_count)
    return world


def bits(matrix: np.ndarray) -> np.ndarray:
    """Rows of a bool matrix as uint64 masks."""
    weights = dynamics.ONE << np.arange(matrix.shape[1], dtype=np.uint64)
    return np.bitwise_or.reduce(np.where(matrix, weights, np.uint64(0)), axis=1)


def items_of(mask_words: np.ndarray) -> list[int]:
    """Slot numbers set in a row of uint64 words."""
    return [w * 64 + b for w, word in enumerate(mask_words) for b in range(64) if int(word) >> b & 1]


def store_with(world: World, slots: int, origins: list[int], known_by: list[list[int]]) -> ItemStore:
    """An item store whose items 0, 1, … come from ``origins`` (posted there), known by ``known_by``."""
    items = ItemStore(len(world.culture), world.n_communities, slots)
    originators = [who[0] for who in known_by]
    dynamics.originate(world, items, 1, np.array(originators), np.array(origins), np.zeros(len(origins), bool))
    for slot, who in enumerate(known_by):
        for row in who:
            items.known[row, slot // 64] |= dynamics.ONE << np.uint64(slot % 64)
    return items


# --------------------------------------------------------------------------- relay: cross-posting costs capacity


def relay_world(budget: list[float]) -> tuple[World, ItemStore]:
    """Actors 0 and 1 in communities 0, 1, 2 with the right to post in all; stakeholders 2-4, one per community.

    Actor 0 knows items 0-3, all posted in community 0 only: 8 posts are possible (4 items × 2 communities).
    """
    world = tiny_world([{0, 1, 2}, {0, 1, 2}, {0}, {1}, {2}], 2, 3, budget=budget, rights=[{0, 1, 2}, {0, 1, 2}])
    items = store_with(world, 1024, [0, 0, 0, 0], [[0], [0], [0], [0]])
    return world, items


def test_relay_posts_newest_first_up_to_budget_over_cost():
    world, items = relay_world([30.0, 0.0])
    posts, spent, busy = dynamics.relay(world, items, np.random.default_rng(0), 10.0, 0.0, 2)
    assert posts.tolist() == [3, 0]  # floor(30 / 10); actor 1 has no budget
    assert spent.tolist() == [30.0, 0.0]
    assert (posts * 10.0 <= world.budget).all()
    assert busy.size == 0
    # newest first, each item into every community missing it before the next item:
    # item 3 into communities 1 and 2, then item 2 into one of them
    assert items_of(items.posted[0]) == [0, 1, 2, 3]
    crossed = items_of(items.posted[1]) + items_of(items.posted[2])
    assert sorted(crossed) == [2, 3, 3]


def test_relay_cost_zero_is_unlimited_and_posts_each_missing_item_once():
    world, items = relay_world([1.0, 0.0])
    posts, spent, _ = dynamics.relay(world, items, np.random.default_rng(1), 0.0, 0.0, 2)
    assert posts.tolist() == [8, 0]
    assert spent.tolist() == [0.0, 0.0]
    assert [items_of(items.posted[c]) for c in range(3)] == [[0, 1, 2, 3]] * 3
    again, _, _ = dynamics.relay(world, items, np.random.default_rng(2), 0.0, 0.0, 2)
    assert again.tolist() == [0, 0]  # nothing missing any more


def test_an_actor_with_no_budget_never_cross_posts_what_it_knows():
    world, items = relay_world([0.0, 0.0])
    items.known[1] = items.known[0]  # both actors know every item and may post everywhere
    for seed in range(20):
        for cost in (0.0, 1.0, 10.0):
            posts, spent, _ = dynamics.relay(world, items, np.random.default_rng(seed), cost, 0.0, 2)
            assert posts.tolist() == [0, 0] and spent.tolist() == [0.0, 0.0]
    assert items_of(items.posted[1]) == items_of(items.posted[2]) == []


def test_relay_rounds_a_fractional_quota_stochastically():
    # budget 25, cost 10: 2 or 3 posts, 2.5 on average; at most ceil(budget / cost) in a step
    draws = []
    for seed in range(400):
        world, items = relay_world([25.0, 0.0])
        posts, spent, _ = dynamics.relay(world, items, np.random.default_rng(seed), 10.0, 0.0, 2)
        assert posts[0] in (2, 3) and spent[0] == 10.0 * posts[0]
        draws.append(posts[0])
    assert np.mean(draws) == pytest.approx(2.5, abs=0.1)


def test_posting_leaves_less_capacity_for_exchanges():
    # actor 0: budget 50 in community 0 only, where stakeholders 1-3 can be engaged
    world = tiny_world([{0}, {0}, {0}, {0, 1}], 1, 2, budget=[50.0], rights=[{0, 1}])
    rng = np.random.default_rng(3)
    none = np.zeros(0, dtype=np.int64)
    ex = dynamics.start_exchanges(world, rng, 0.1, 1, np.zeros(1), none)
    assert (ex.initiator == 0).sum() == 50  # the whole budget: 50 exchanges, all in community 0
    assert set(ex.context.tolist()) == {0} and set(ex.partner.tolist()) <= {1, 2, 3}
    ex = dynamics.start_exchanges(world, rng, 0.1, 1, np.array([20.0]), none)
    assert (ex.initiator == 0).sum() == 30  # 20 spent cross-posting: 30 left
    ex = dynamics.start_exchanges(world, rng, 0.1, 1, np.array([50.0]), none)
    assert ex.initiator.size == 0
    # through relay: two items known by the actor, missing from community 1, cost 10 each
    items = store_with(world, 1024, [0, 0], [[0], [0]])
    posts, spent, busy = dynamics.relay(world, items, rng, 10.0, 0.0, 1)
    assert posts.tolist() == [2] and spent.tolist() == [20.0]
    assert (dynamics.start_exchanges(world, rng, 0.1, 1, spent, busy).initiator == 0).sum() == 30


def test_a_stakeholder_who_cross_posts_starts_no_exchange_that_step():
    # stakeholders 1 (communities 0, 1) and 2 (0, 1) may post into both; 3 only takes part in 0
    world = tiny_world([{0}, {0, 1}, {0, 1}, {0}], 1, 2, budget=[0.0], rights=[set(), {0, 1}, {0, 1}])
    world.activity[1:] = 1.0
    items = store_with(world, 1024, [0, 1], [[1], [2]])  # 1 knows item 0 (in 0), 2 knows item 1 (in 1)
    posts, spent, busy = dynamics.relay(world, items, np.random.default_rng(4), 1.0, 1.0, 1)
    assert sorted(busy.tolist()) == [1, 2]  # chance relay_rate × activity = 1
    assert posts.tolist() == [0] and spent.tolist() == [0.0]
    # each posted the item it knows into the community it picked, where it was missing (or nothing)
    assert items_of(items.posted[0])[0] == 0 and items_of(items.posted[1])[0] in (0, 1)
    assert set(items_of(items.posted[0])) <= {0, 1} and set(items_of(items.posted[1])) <= {0, 1}
    acting = set()
    for seed in range(10):  # 3 acts each step; it is dropped when it picks itself as newcomer
        ex = dynamics.start_exchanges(world, np.random.default_rng(seed), 0.0, 1, spent, busy)
        acting |= set(ex.initiator.tolist())
    assert acting == {3}  # stakeholders 1 and 2 spent their step cross-posting


# --------------------------------------------------------------------------- interact: feeds and word of mouth


def feed_world() -> tuple[World, ItemStore]:
    """Stakeholders 0-3; 0, 1, 2 in community 0, 3 in community 1.

    Items: 0 and 1 posted in community 0 (by 2), 2 posted in community 1 (by 3), 3 known only to
    agent 0 and posted in community 1, whose feed agent 0 does not read (a private item of agent 0).
    """
    world = tiny_world([{0}, {0}, {0}, {1}], 0, 2)
    items = store_with(world, 1024, [0, 0, 1, 1], [[2], [2], [3], [0]])
    return world, items


def known(items: ItemStore) -> list[list[int]]:
    return [items_of(row) for row in items.known]


def exchange(a: list[int], b: list[int], context: list[int]) -> Exchanges:
    return Exchanges(np.array(a, dtype=np.int64), np.array(b, dtype=np.int64), np.array(context, dtype=np.int64))


def test_an_exchange_gives_both_sides_the_feed_of_its_community_and_nothing_else():
    world, items = feed_world()
    assert known(items) == [[3], [], [0, 1], [2]]
    dynamics.interact(world, items, exchange([0], [1], [0]), np.random.default_rng(0), 0.0)
    # both read community 0's feed (items 0, 1); agent 0's private item 3 stays with it; item 2 is not read
    assert known(items) == [[0, 1, 3], [0, 1], [0, 1], [2]]


def test_feeds_are_read_whether_or_not_the_pair_interacts():
    world, items = feed_world()
    world.culture[1] = 1  # 0 and 1 share no feature: Axelrod's rule never lets them interact
    interacted = dynamics.interact(world, items, exchange([0], [1], [0]), np.random.default_rng(0), 0.0)
    assert not interacted[0]
    assert known(items)[:2] == [[0, 1, 3], [0, 1]]


def test_word_of_mouth_one_passes_everything_both_ways_and_chains_in_order():
    world, items = feed_world()
    dynamics.interact(world, items, exchange([0, 2], [1, 3], [0, 0]), np.random.default_rng(0), 1.0)
    # 0 and 1 pool what they know with the feed; then 2 and 3 meet in community 0 (3 is no member: still
    # told) and pool everything: 3's item 2 goes to 2, 0's private item 3 has not reached 2 (it never met 0)
    assert known(items) == [[0, 1, 3], [0, 1, 3], [0, 1, 2], [0, 1, 2]]
    dynamics.interact(world, items, exchange([1, 2], [2, 0], [1, 1]), np.random.default_rng(0), 1.0)
    # in community 1 (feed: items 2, 3): 1 and 2 pool, then 2 passes it all on to 0
    assert known(items) == [[0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2, 3], [0, 1, 2]]


def test_word_of_mouth_zero_passes_nothing_beyond_the_feed():
    for seed in range(10):
        world, items = feed_world()
        dynamics.interact(world, items, exchange([0, 2, 3], [3, 0, 1], [1, 0, 1]), np.random.default_rng(seed), 0.0)
        # community 1's feed holds items 2 and 3, community 0's items 0 and 1; nothing is told
        assert known(items) == [[0, 1, 2, 3], [2, 3], [0, 1], [2, 3]]


def test_an_actor_takes_in_an_exchange_with_chance_listen_but_always_tells():
    # actor 0 and stakeholders 1, 2 in community 0; the actor knows item 1, the feed holds item 0
    world = tiny_world([{0}, {0}, {0}], 1, 1, budget=[4.0])
    items = store_with(world, 1024, [0, 0], [[2], [0]])
    items.posted[0] &= ~(dynamics.ONE << np.uint64(1))  # item 1: the actor's own, not in the feed
    world.listen[0] = 0.0
    dynamics.interact(world, items, exchange([0], [1], [0]), np.random.default_rng(0), 1.0)
    assert known(items) == [[1], [0, 1], [0]]  # the stakeholder reads the feed and is told; the actor hears nothing
    dynamics.interact(world, items, exchange([2], [0], [dynamics.ORG_CHANNEL]), np.random.default_rng(0), 0.0)
    assert known(items)[0] == [0, 1]  # in council an actor always takes in what it is told
    world.listen[0] = 1.0
    dynamics.interact(world, items, exchange([1], [0], [0]), np.random.default_rng(0), 0.0)
    assert known(items)[0] == [0, 1]
    # in the model an actor takes in one exchange's news per step on average: listen = 1 / budget
    model = SiloModel(scenario.from_dict(two_communities(steps=1)))
    assert model.world.budget.tolist() == [5.0, 5.0]
    assert model.world.listen[:2].tolist() == [0.2, 0.2] and (model.world.listen[2:] == 1).all()


def test_a_council_meeting_tells_everything_both_ways_without_a_feed():
    world, items = feed_world()
    dynamics.interact(world, items, exchange([0], [3], [dynamics.ORG_CHANNEL]), np.random.default_rng(0), 0.0)
    assert known(items) == [[2, 3], [], [0, 1], [2, 3]]  # no feed read: items 0 and 1 stay with agent 2


# --------------------------------------------------------------------------- retire: who knew, outside the origin


def test_retire_counts_knowers_per_community_outside_the_origin():
    # agent 0 in community 0, agent 1 in both, agent 2 in community 1
    world = tiny_world([{0}, {0, 1}, {1}], 0, 2)
    assert world.member_count.tolist() == [2, 2]
    assert world.outside.tolist() == [[2, 1], [1, 2]]  # members of b not in a; the diagonal: all of a
    # items in slots 0, 63 (the last bit of word 0), 64 (the first of word 1) and 127
    items = ItemStore(3, 2, 128)
    slots = np.array([0, 63, 64, 127])
    items.origin[slots] = [0, 0, 1, 1]
    items.alive[:] = ~np.uint64(0)
    for slot, who in zip(slots, ([0, 1, 2], [0, 1], [0], [1]), strict=True):
        for row in who:
            items.known[row, slot // 64] |= dynamics.ONE << np.uint64(slot % 64)
    retired = dynamics.retire(world, items, slots)
    assert retired.origin.tolist() == [0, 0, 1, 1]
    np.testing.assert_allclose(
        retired.share,
        [
            [2 / 2, 1 / 1],  # from 0, known by all: at home 0 and 1; in community 1 only agent 2 counts
            [2 / 2, 0 / 1],  # from 0, known by 0 and 1: agent 1 is a member of the origin, not counted in 1
            [1 / 1, 0 / 2],  # from 1, known by 0 only: agent 0 crossed into community 0; nobody at home
            [0 / 1, 1 / 2],  # from 1, known by 1 only: half of home; agent 1 brought nothing to community 0
        ],
    )
    assert (items.origin[slots] == -1).all() and not items.alive[0] & dynamics.ONE
    assert items.live().size == 0


def test_the_model_counts_outside_members_from_fixed_memberships():
    data = two_communities(shared=3, steps=1)
    data["organization"]["stakeholders"] = [
        {"group": "a", "count": 5, "activity": 0.5},
        {"group": "b", "count": 4, "activity": 0.5},
        {"group": "both", "count": 3, "activity": 0.5},
    ]
    world = SiloModel(scenario.from_dict(data)).world
    # community 0: 5 + 3 stakeholders and d0; community 1: 4 + 3 and d1
    assert world.member_count.tolist() == [9, 8]
    assert world.outside.tolist() == [[9, 5], [6, 8]]  # in 1 not in 0: b and d1; in 0 not in 1: a and d0


# --------------------------------------------------------------------------- the item store: a ring of 64-bit words


def test_the_ring_clears_a_word_on_entering_it_and_counts_what_it_cut_short():
    world = tiny_world([{0}, {0}], 0, 1)
    items = ItemStore(2, 1, 128)  # two words
    assert (items.words, items.slots) == (2, 128)
    rows, comm = np.zeros(64, dtype=np.int64), np.zeros(64, dtype=np.int64)
    assert dynamics.originate(world, items, 1, rows, comm, np.zeros(64, bool)) is None
    assert dynamics.originate(world, items, 2, rows, comm, np.zeros(64, bool)) is None
    assert items.head == 0 and items.live().size == 128
    assert items.known_count(0) == 128 and items.known_count(1) == 0
    dynamics.retire(world, items, np.arange(10))  # 10 items of word 0 end in time
    early = dynamics.originate(world, items, 3, np.array([1]), np.array([0]), np.array([True]))
    # entering word 0 again retires the 54 still alive there, early, and clears it
    assert items.retired_early == 54 and early.origin.size == 54
    assert items.live().tolist() == [0, *range(64, 128)]
    assert items.known_count(0) == 64 and items.known_count(1) == 1
    assert items_of(items.posted[0])[:2] == [0, 64]


def test_expire_retires_items_in_birth_order_one_lifetime_after_birth():
    world = tiny_world([{0}], 0, 1)
    items = ItemStore(1, 1, 1024)
    for step in (1, 2, 3):  # one item born in each of steps 1, 2, 3
        dynamics.originate(world, items, step, np.array([0]), np.array([0]), np.array([False]))
    ended_at = {}
    for step in range(3, 12):
        ended = dynamics.expire(world, items, step, 5)
        if ended is not None:
            ended_at[step] = ended.origin.size
    first = min(ended_at)
    assert ended_at == {first: 1, first + 1: 1, first + 2: 1}  # one a step, as they were born
    assert first - 1 in (4, 5)  # a lifetime (5 steps) after birth, counting the birth step or not
    assert items.live().size == 0
    # a step that comes late retires everything overdue at once
    for step in (1, 2, 3):
        dynamics.originate(world, items, step, np.array([0]), np.array([0]), np.array([False]))
    assert dynamics.expire(world, items, 30, 5).origin.size == 3


# --------------------------------------------------------------------------- whole models, small


def two_communities(
    shared: int = 40, word_of_mouth: float = 0.0, cross_posting: str = "closed", steps: int = 30, **dynamics_
) -> dict:
    """Departments d0 and d1 in communities c0 and c1, with groups a (in c0), b (in c1) and ``shared`` in both.

    Items live 10 steps; each department originates one a step on average.
    """
    groups = [{"group": "a", "count": 60, "activity": 0.5}, {"group": "b", "count": 60, "activity": 0.5}]
    members = [{"a": 1.0}, {"b": 1.0}]
    if shared:
        groups.append({"group": "both", "count": shared, "activity": 0.5})
        members = [m | {"both": 1.0} for m in members]
    return {
        "name": "two_communities",
        "seed": 5,
        "steps": steps,
        "organization": {
            "departments": [
                {"name": "d0", "headcount": 10, "reach": 0.5, "openness": 0.5},
                {"name": "d1", "headcount": 10, "reach": 0.5, "openness": 0.5},
            ],
            "stakeholders": groups,
        },
        "communities": [
            {"name": "c0", "involvement": {"d0": 0.9}, "members": members[0]},
            {"name": "c1", "involvement": {"d1": 0.9}, "members": members[1]},
        ],
        "ownership": {"rule": "most_involved", "cross_posting": cross_posting},
        "dynamics": {"item_lifetime": 10, "practice_rate": 1.0, "word_of_mouth": word_of_mouth} | dynamics_,
        "metrics": {"every": 10, "burn_in": 0, "window": 1000},
    }


def islands(n: int = 3, word_of_mouth: float = 1.0, steps: int = 30) -> dict:
    """n communities, each with its own stakeholder group and only its owner department taking part."""
    return {
        "name": "islands",
        "seed": 11,
        "steps": steps,
        "organization": {
            "departments": [{"name": f"d{c}", "headcount": 10, "reach": 0.5} for c in range(n)],
            "stakeholders": [{"group": f"g{c}", "count": 50, "activity": 0.6} for c in range(n)],
        },
        "communities": [{"name": f"c{c}", "involvement": {f"d{c}": 1.0}, "members": {f"g{c}": 1.0}} for c in range(n)],
        "ownership": {"rule": "most_involved", "cross_posting": "closed"},
        "dynamics": {"item_lifetime": 8, "practice_rate": 1.0, "word_of_mouth": word_of_mouth, "insight_rate": 0.05},
        "metrics": {"every": 10, "burn_in": 0, "window": 1000},
    }


def ran(data: dict) -> SiloModel:
    model = SiloModel(scenario.from_dict(data))
    while model.running:
        model.step()
    return model


def test_closed_posting_without_word_of_mouth_keeps_every_item_at_home():
    # overlapping memberships: 40 stakeholders in both communities know both feeds, but count for neither
    model = ran(two_communities(shared=40, word_of_mouth=0.0))
    assert model.window_items > 20
    assert model.measures["cross_reach"] == 0.0
    assert model.flow[0, 1] == model.flow[1, 0] == 0.0
    assert model.silo_labels.tolist() == [0, 1]
    assert model.measures["silo_count"] == 2
    assert model.measures["verdict"] == "siloed"


def test_disjoint_communities_stay_apart_even_when_everyone_talks():
    model = ran(islands(3, word_of_mouth=1.0))
    assert model.window_items > 20
    assert model.measures["cross_reach"] == 0.0
    assert model.measures["silo_count"] == 3
    assert model.silo_labels.tolist() == [0, 1, 2]
    assert np.diag(model.flow).min() > 0.5  # word of mouth does spread items at home


def test_word_of_mouth_crosses_where_feeds_cannot():
    model = ran(two_communities(shared=40, word_of_mouth=0.3))
    assert model.measures["cross_reach"] > 0.0
    assert model.flow[0, 1] > 0 and model.flow[1, 0] > 0  # both ways, through the members of both


def test_an_actor_without_budget_neither_exchanges_nor_posts():
    data = two_communities(shared=40, word_of_mouth=0.1, cross_posting="open")
    data["organization"]["departments"].append({"name": "idle", "headcount": 10, "reach": 0.0, "openness": 1.0})
    for community in data["communities"]:
        community["involvement"]["idle"] = 0.5  # takes part in both, may post in both (open)
    model = ran(data)
    idle = 2
    assert model.world.budget[idle] == 0.0 and model.world.relay_mask[idle] == 0b11
    assert model.window_engaged[idle].tolist() == [0, 0]
    assert model.window_posts[idle] == 0
    assert model.window_engaged[:idle].sum() > 0 and model.window_posts[:idle].sum() > 0  # the others do


def test_relays_in_the_model_never_spend_more_than_the_budget(monkeypatch):
    # budgets 10 × 0.5 = 5 and cost 2.5: budget / cost is exactly 2, so the rounding never adds a third post
    data = two_communities(shared=40, word_of_mouth=0.1, cross_posting="open", relay_cost=2.5, steps=40)
    for community in data["communities"]:
        community["involvement"] |= {"d0": 0.9, "d1": 0.9}
    seen = []
    relay = dynamics.relay

    def recording(world, items, rng, cost, rate, n_offset):
        posts, spent, busy = relay(world, items, rng, cost, rate, n_offset)
        seen.append((posts.copy(), spent.copy(), world.budget.copy()))
        return posts, spent, busy

    monkeypatch.setattr(dynamics, "relay", recording)
    model = ran(data)
    assert len(seen) == 40
    for posts, spent, budget in seen:
        assert (posts * 2.5 <= budget).all() and np.array_equal(spent, posts * 2.5)
    assert max(p.max() for p, _, _ in seen) == 2
    assert model.window_posts.tolist() == np.sum([p for p, _, _ in seen], axis=0).tolist()
    assert 0 < model.measures["relay_load"] <= 1


def test_window_engaged_only_counts_communities_an_actor_takes_part_in():
    # federated: d0 and d1 meet in council every step; a council is not an exchange in a community
    data = two_communities(shared=40, word_of_mouth=0.1)
    data["ownership"] = {"rule": "federated", "council_every": 1, "cross_posting": "closed"}
    model = ran(data)
    assert model.assignment.posting.tolist() == [[1.0, 0.0], [0.0, 1.0]]
    assert model.window_engaged[0, 0] > 0 and model.window_engaged[1, 1] > 0
    assert model.window_engaged[0, 1] == 0  # d0 does not take part in c1
    assert model.window_engaged[1, 0] == 0


# --------------------------------------------------------------------------- item lifetime


def record_lifetimes(monkeypatch) -> tuple[dict, list]:
    """Patch the dynamics to note each item's exposure (steps it was live during exchanges) and its end."""
    exposure: dict[tuple[int, int], int] = {}
    ended: list[tuple[int, int]] = []  # (exposure, age at the end)
    interact, retire = dynamics.interact, dynamics.retire
    state = {}

    def counting_interact(world, items, ex, rng, word_of_mouth):
        for slot in items.live():
            key = (int(slot), int(items.born[slot]))
            exposure[key] = exposure.get(key, 0) + 1
        return interact(world, items, ex, rng, word_of_mouth)

    def noting_retire(world, items, slots):
        for slot in np.asarray(slots):
            born = int(items.born[slot])
            ended.append((exposure.pop((int(slot), born), 0), state["model"].steps - born))
        return retire(world, items, slots)

    monkeypatch.setattr(dynamics, "interact", counting_interact)
    monkeypatch.setattr(dynamics, "retire", noting_retire)
    return state, ended


def test_every_item_lives_its_lifetime_whatever_the_rate(monkeypatch):
    lives = {}
    for factor in (1, 8):
        data = islands(3, word_of_mouth=0.0, steps=120)
        data["dynamics"] |= {"practice_rate": 1.0 * factor, "item_lifetime": 20}
        sc = scenario.from_dict(data)
        with monkeypatch.context() as patch:
            state, ended = record_lifetimes(patch)
            model = state["model"] = SiloModel(sc)
            assert model.items.slots == resources.item_slots(sc) == 1024
            while model.running:
                model.step()
        assert model.items.retired_early == 0
        assert len(ended) > 120 * 3 * factor * 0.6 and model.window_items == len(ended)
        if factor == 8:
            assert len(ended) + model.items.live().size > model.items.slots  # the ring went round
        # every live item at the end was born within the last lifetime
        assert model.items.born[model.items.live()].min() >= 120 - 20 + 1
        lives[factor] = set(ended)  # (exposure, age) of every item that ended
    assert len(lives[1]) == 1  # one life for every item...
    assert lives[8] == lives[1]  # ...the same when items are 8 times as many and the ring goes round


def test_an_item_is_read_in_item_lifetime_steps_of_exchanges(monkeypatch):
    """An item lives ``item_lifetime`` steps: it should take part in that many steps of exchanges.

    It is originated after the step's exchanges and retired ``item_lifetime - 1`` steps later, at the
    end of a step, so it is live during ``item_lifetime - 1`` rounds of exchanges; with lifetime 1 an item
    is never read by anyone but its originator (``dynamics.expire``: ``born <= step - lifetime + 1``).
    """
    data = islands(3, word_of_mouth=0.0, steps=40)
    data["dynamics"] |= {"item_lifetime": 5}
    state, ended = record_lifetimes(monkeypatch)
    state["model"] = model = SiloModel(scenario.from_dict(data))
    while model.running:
        model.step()
    assert ended and {(exposure, age) for exposure, age in ended} == {(5, 5)}
    # lifetime 1: one step of exchanges, where most members read the feed (activity 0.6), not the originator alone
    data["dynamics"] |= {"item_lifetime": 1}
    model = ran(data)
    assert np.diag(model.flow).min() > 2 / model.world.member_count.min()


def test_a_store_too_small_counts_items_cut_short_instead_of_failing(monkeypatch):
    data = islands(3, word_of_mouth=0.0, steps=40)
    data["dynamics"] |= {"practice_rate": 8.0, "item_lifetime": 20}  # about 480 live items
    model = SiloModel(scenario.from_dict(data))
    model.items = ItemStore(len(model.world.culture), 3, 128)  # room for 128
    cut = []
    originate = dynamics.originate

    def noting(world, items, step, rows, contexts, insight):
        before = items.retired_early
        early = originate(world, items, step, rows, contexts, insight)
        cut.append((items.retired_early - before, 0 if early is None else early.origin.size))
        return early

    monkeypatch.setattr(dynamics, "originate", noting)
    while model.running:
        model.step()
    assert model.items.retired_early > 0
    assert all(counted == returned for counted, returned in cut)
    assert sum(counted for counted, _ in cut) == model.items.retired_early
    assert model.window_items >= model.items.retired_early  # what was cut short still counts in the flow
    assert model.measures["verdict"] in {"merged", "fragmented", "siloed"}
    assert model.measures["cross_reach"] == 0.0


# --------------------------------------------------------------------------- determinism


def comparable(measures: dict) -> dict:
    return {k: ("nan" if isinstance(v, float) and math.isnan(v) else v) for k, v in measures.items()}


def test_same_scenario_and_seed_give_identical_measures_and_another_seed_does_not():
    data = two_communities(shared=40, word_of_mouth=0.2, cross_posting="open", steps=30)
    a, b = ran(data), ran(data)
    assert comparable(a.measures) == comparable(b.measures)
    assert set(MEASURES) <= set(a.measures)
    np.testing.assert_array_equal(a.flow, b.flow)
    np.testing.assert_array_equal(a.items.known, b.items.known)
    np.testing.assert_array_equal(a.world.culture, b.world.culture)
    c = ran(data | {"seed": data["seed"] + 1})
    assert comparable(c.measures) != comparable(a.measures)
    assert not np.array_equal(c.flow, a.flow)
