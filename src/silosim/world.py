"""The organisation a scenario describes, as the arrays the model steps: cultures, memberships, needs.

Rows are departments, then community managers, then stakeholders group by
group, in scenario order. Every draw comes from the generator handed in, in a
fixed order (cultures, memberships community by community, needs, what each
stakeholder knows of its needs), so a scenario and a seed give one world.

A scenario with ``initial_ties`` (a measured network, :mod:`silosim.ona.scenario`) makes the same
draws in the same order, so everything else it draws is what the scenario without the key draws;
then the persons its file lists join the communities the file gives instead of those drawn, and
the file's ties fill their holders' slots (:func:`seed_ties`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from silosim import dynamics, needs, resources
from silosim.scenario import Scenario
from silosim.scenario.checks import InitialTies, initial_ties


@dataclass
class Built:
    """What :func:`build_world` gives the model: the state arrays, the item store and the needs."""

    world: dynamics.World  # every agent's state (ties, memberships, cultures)
    items: dynamics.ItemStore  # the information items, empty
    needs: np.ndarray  # (groups × features) int16: each stakeholder group's needs
    needs_shared: np.ndarray  # (groups × features) bool: the feature follows the shared base need
    needs_base: np.ndarray  # (features,) the shared base need
    group_of: np.ndarray  # (stakeholders,) each stakeholder's group
    group_members: np.ndarray  # (groups × communities) stakeholders of each group in each community
    n_departments: int
    n_actors: int  # departments and community managers


def build_world(scenario: Scenario, rng: np.random.Generator) -> Built:
    """Draw the organisation of a validated scenario: cultures, who joined which community, needs.

    Args:
        scenario: a validated scenario.
        rng: the model's generator (every draw comes from it).

    Returns:
        The state arrays, with no ties and no items yet; :meth:`silosim.model.SiloModel.configure`
        then sets what follows from the ownership rule.
    """
    org, dyn = scenario.organization, scenario.dynamics
    n_departments = len(org.departments)
    n_actors = n_departments + len(org.community_managers)
    group_sizes = np.array([g.count for g in org.stakeholders])
    group_start = n_actors + np.concatenate([[0], np.cumsum(group_sizes)[:-1]])
    n = n_actors + int(group_sizes.sum())
    n_c = len(scenario.communities)

    culture = rng.integers(0, dyn.traits, size=(n, dyn.features), dtype=np.int16)
    dept_row = {d.name: i for i, d in enumerate(org.departments)}
    for m, cm in enumerate(org.community_managers):  # a CM brings its department's ways
        if cm.home is not None:
            culture[n_departments + m] = culture[dept_row[cm.home]]

    # stakeholders join communities independently, group by group
    group_index = {g.group: k for k, g in enumerate(org.stakeholders)}
    pairs_row, pairs_comm = [], []
    for c, community in enumerate(scenario.communities):
        for group, share in community.members.items():
            k = group_index[group]
            joined = np.flatnonzero(rng.random(group_sizes[k]) < share) + group_start[k] - n_actors
            pairs_row.append(joined)
            pairs_comm.append(np.full(joined.size, c))
    rows = np.concatenate(pairs_row) if pairs_row else np.zeros(0, dtype=np.int64)
    comms = np.concatenate(pairs_comm) if pairs_comm else np.zeros(0, dtype=np.int64)
    seed = initial_ties(scenario) if scenario.initial_ties is not None else None
    if seed is not None:  # the file's persons join the communities it gives (their draws above are discarded)
        drawn = ~np.isin(rows, seed.person)
        listed = np.repeat(seed.person, np.diff(seed.person_ptr))
        rows, comms = np.concatenate([rows[drawn], listed]), np.concatenate([comms[drawn], seed.communities])
    order = np.lexsort((comms, rows))
    n_s = n - n_actors
    # needs (March's reality): stakeholders start from their group's, with noise (the random traits drawn above)
    group_of = np.repeat(np.arange(len(group_sizes)), group_sizes)
    group_needs, shared, base = needs.draw_needs(
        len(group_sizes), dyn.features, dyn.traits, dyn.needs_overlap, rng, [g.needs for g in org.stakeholders]
    )
    knows = rng.random((n_s, dyn.features)) >= dyn.need_noise
    culture[n_actors:][knows] = group_needs[group_of][knows]
    group_members = np.zeros((len(group_sizes), n_c))
    np.add.at(group_members, (group_of[rows], comms), 1)
    activity = np.zeros(n)
    activity[n_actors:] = np.repeat([g.activity for g in org.stakeholders], group_sizes)
    k = dyn.max_ties
    world = dynamics.World(
        culture=culture,
        is_actor=np.arange(n) < n_actors,
        tie_partner=np.full((n, k), -1, dtype=np.int32),
        tie_weight=np.zeros((n, k), dtype=np.float32),
        tie_context=np.full((n, k), -1, dtype=np.int8),
        joined_ptr=np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_s))]).astype(np.int64),
        joined=comms[order].astype(np.int64),
        activity=activity,
    )
    if seed is not None:
        seed_ties(world, seed, rows, comms, n_actors)
    items = dynamics.ItemStore(n, n_c, resources.item_slots(scenario), dyn.features)
    return Built(world, items, group_needs, shared, base, group_of, group_members, n_departments, n_actors)


def seed_ties(world: dynamics.World, seed: InitialTies, rows: np.ndarray, comms: np.ndarray, n_actors: int) -> None:
    """Fill the tie slots with an ``initial_ties`` file's ties, in place.

    Each tie takes a slot of its holder, strongest first (the file holds at most ``max_ties`` per
    holder, :func:`~silosim.scenario.checks.initial_ties`), with the file's weight. It lives in
    the first community (scenario order) both ends joined, else in the holder's first community
    (a tie across communities: the holder reaches its partner from its own community, as a tie
    formed there would), else (the holder joined none) in no community (−1: never chosen, not
    measured, it decays away).

    Args:
        world: the world, its slots empty.
        seed: the file's ties and memberships.
        rows: the stakeholder of each (stakeholder, community) membership.
        comms: the community of each membership.
        n_actors: rows before the first stakeholder.
    """
    n_s = len(world.joined_ptr) - 1
    mask = np.zeros(n_s, dtype=np.uint64)
    np.bitwise_or.at(mask, rows, dynamics.ONE << comms.astype(np.uint64))
    shared = mask[seed.holder] & mask[seed.partner]
    where = np.where(shared != 0, shared, mask[seed.holder])
    lowest = where & (~where + dynamics.ONE)  # the lowest set bit: the first community
    context = np.where(where != 0, np.log2(np.maximum(lowest, dynamics.ONE).astype(float)).round(), -1).astype(np.int8)
    order = np.lexsort((-seed.weight, seed.holder))
    holder = seed.holder[order]
    slot = np.arange(holder.size) - np.searchsorted(holder, holder)
    world.tie_partner[holder + n_actors, slot] = seed.partner[order] + n_actors
    world.tie_weight[holder + n_actors, slot] = seed.weight[order]
    world.tie_context[holder + n_actors, slot] = context[order]
