"""One step of the organisation, vectorised over every exchange with numpy.

Agent state lives in arrays (rows: departments, then community managers,
then stakeholders); Mesa agents are handles onto those rows. A step:

1. every active agent starts exchanges in its communities (homophilous
   exchange, Axelrod 1997): a partner among its ties there, by weight, or
   with chance ``exploration`` a new member; departments and community
   managers engage members at random in proportion to their effort;
2. a pair interacts with probability equal to their share of identical
   features (:func:`axelrod_exchange`); an interaction passes the items
   posted in that community both ways, copies one differing feature to the
   initiator and strengthens the tie; all ties decay and weak ones drop;
3. brokers allowed by the cross-posting policy relay the items they know
   into the other communities they serve;
4. owners drift toward their communities' stakeholders (stakeholder pull),
   every agent drifts a little (Klemm et al. 2003), and new best practices
   and insights appear.

Within a step, exchanges read the state at its start (synchronous update);
an agent in several exchanges adopts at most one feature, from the first
in a random order.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field

import numpy as np

ONE = np.uint64(1)
ALL_ITEMS = np.uint64(0xFFFFFFFFFFFFFFFF)
N_ITEM_SLOTS = 64  # items are bits of one uint64 per agent
ORG_CHANNEL = -1  # tie context of council meetings (not a community)


def axelrod_exchange(
    active: np.ndarray, partner: np.ndarray, u_interact: np.ndarray, u_feature: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Axelrod's (1997) rule for pairs of practice vectors, given uniform draws.

    The pair interacts with probability equal to the share of features on
    which they hold the same trait; on interaction the active side copies the
    partner's trait on one differing feature chosen at random. Identical
    agents interact but nothing changes; agents sharing nothing never interact.

    Args:
        active: (pairs × features) traits of the active side.
        partner: (pairs × features) traits of the partner.
        u_interact: (pairs,) uniform draws in [0, 1) deciding interaction.
        u_feature: (pairs,) uniform draws in [0, 1) choosing the copied feature.

    Returns:
        ``(interacted, new_active)``: a bool per pair and the active side's
        traits after the exchange (a new array).
    """
    same = active == partner
    overlap = same.mean(axis=1)
    interacted = u_interact < overlap
    differing = ~same
    n_diff = differing.sum(axis=1)
    change = np.flatnonzero(interacted & (n_diff > 0))
    new_active = active.copy()
    if change.size:
        k = np.minimum((u_feature[change] * n_diff[change]).astype(np.int64), n_diff[change] - 1)
        feature = np.argmax(np.cumsum(differing[change], axis=1) > k[:, None], axis=1)
        new_active[change, feature] = partner[change, feature]
    return interacted, new_active


@dataclass
class World:
    """Every agent's state as arrays. N = departments + CMs + stakeholders."""

    culture: np.ndarray  # (N, F) int16 practice or viewpoint traits
    is_actor: np.ndarray  # (N,) bool: department or community manager
    tie_partner: np.ndarray  # (N, K) int32, -1 = empty slot
    tie_weight: np.ndarray  # (N, K) float32
    tie_context: np.ndarray  # (N, K) int8 community where the tie lives, ORG_CHANNEL for councils
    known: np.ndarray  # (N,) uint64 bit b: knows item b
    # stakeholder → communities, CSR over stakeholder rows (fixed at build)
    joined_ptr: np.ndarray
    joined: np.ndarray
    activity: np.ndarray  # (N,) chance of starting an exchange (stakeholders)
    # set by configure() from the ownership assignment and parameters
    effort: np.ndarray = field(default=None)  # (actors × C) expected exchanges per step
    members: np.ndarray = field(default=None)  # community → members CSR: agents
    members_ptr: np.ndarray = field(default=None)
    members_cumvis: np.ndarray = field(default=None)  # cumulative visibility in CSR order
    member_mask: np.ndarray = field(default=None)  # (N,) uint64 communities it takes part in
    relay_mask: np.ndarray = field(default=None)  # (N,) uint64 communities it may relay into
    relay_prob: np.ndarray = field(default=None)  # (N,) chance per step of relaying
    owner_row: np.ndarray = field(default=None)  # (C,) row of each community's owner
    # information items
    posted_in: np.ndarray = field(default=None)  # (C,) uint64 items posted in each community
    item_origin: np.ndarray = field(default=None)  # (64,) origin community, -1 = free slot
    item_born: np.ndarray = field(default=None)  # (64,) step of origin
    item_insight: np.ndarray = field(default=None)  # (64,) bool: stakeholder insight
    item_reached: np.ndarray = field(default=None)  # (64,) bool: insight reached the target
    item_delay_index: np.ndarray = field(default=None)  # (64,) index into insight_delays
    insight_delays: list = field(default_factory=list)  # one per insight, inf until reached

    @property
    def n_communities(self) -> int:  # noqa: D102
        return len(self.members_ptr) - 1


def random_rows_choice(weights: np.ndarray, u: np.ndarray) -> np.ndarray:
    """For each row, the column picked with probability proportional to its weight."""
    cum = np.cumsum(weights, axis=1)
    target = u * cum[:, -1]
    return np.minimum((cum <= target[:, None]).sum(axis=1), weights.shape[1] - 1)


def build_members(world: World, participates_actors: np.ndarray, n_stakeholder_offset: int) -> None:
    """Community → member lists with visibility weights (actors by effort, stakeholders by activity)."""
    n_c = participates_actors.shape[1]
    n_actors = participates_actors.shape[0]
    s_rows = np.repeat(np.arange(len(world.joined_ptr) - 1), np.diff(world.joined_ptr)) + n_stakeholder_offset
    a_rows, a_comm = np.nonzero(participates_actors)
    rows = np.concatenate([a_rows, s_rows])
    comm = np.concatenate([a_comm, world.joined])
    vis = np.concatenate([world.effort[a_rows, a_comm], world.activity[s_rows]])
    order = np.argsort(comm, kind="stable")
    world.members = rows[order].astype(np.int64)
    world.members_ptr = np.concatenate([[0], np.cumsum(np.bincount(comm, minlength=n_c))])
    world.members_cumvis = np.cumsum(vis[order])
    assert n_actors <= n_stakeholder_offset


def pick_members(world: World, community: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A member of each given community, in proportion to visibility; -1 if it has none."""
    lo, hi = world.members_ptr[community], world.members_ptr[community + 1]
    cum = world.members_cumvis
    base = np.where(lo > 0, cum[np.maximum(lo - 1, 0)], 0.0)
    top = np.where(hi > 0, cum[np.maximum(hi - 1, 0)], 0.0)
    target = base + u * (top - base)
    idx = np.searchsorted(cum, target, side="right")
    idx = np.clip(idx, lo, np.maximum(hi - 1, lo))
    out = world.members[np.minimum(idx, len(world.members) - 1)] if len(world.members) else np.full(len(u), -1)
    return np.where((hi > lo) & (top > base), out, -1)


@dataclass
class Exchanges:
    """This step's exchanges: initiator, partner, community (all the same length)."""

    initiator: np.ndarray
    partner: np.ndarray
    context: np.ndarray

    def __add__(self, other: Exchanges) -> Exchanges:
        """Both sets of exchanges, this one's first."""
        return Exchanges(*(np.concatenate([x, y]) for x, y in zip(astuple(self), astuple(other), strict=True)))


def start_exchanges(world: World, rng: np.random.Generator, exploration: float, n_offset: int) -> Exchanges:
    """Who starts an exchange with whom, and where, this step."""
    # stakeholders: each active one picks one of its communities, then a tie there or a newcomer
    n_s = len(world.joined_ptr) - 1
    degree = np.diff(world.joined_ptr)
    active = np.flatnonzero((rng.random(n_s) < world.activity[n_offset:]) & (degree > 0))
    pick = world.joined_ptr[active] + (rng.random(active.size) * degree[active]).astype(np.int64)
    s_context = world.joined[pick]
    s_rows = active + n_offset
    weights = world.tie_weight[s_rows] * (world.tie_context[s_rows] == s_context[:, None])
    has_tie = weights.sum(axis=1) > 0
    explore = (rng.random(active.size) < exploration) | ~has_tie
    slot = random_rows_choice(weights, rng.random(active.size))
    s_partner = np.where(explore, -1, world.tie_partner[s_rows, slot])
    newcomers = pick_members(world, s_context, rng.random(active.size))
    s_partner = np.where(explore, newcomers, s_partner)
    # departments and community managers: effort spread over their communities, random members
    effort = world.effort
    counts = np.floor(effort).astype(np.int64)
    counts += rng.random(effort.shape) < (effort - counts)
    a_rows, a_comm = np.nonzero(counts)
    reps = counts[a_rows, a_comm]
    a_rows, a_comm = np.repeat(a_rows, reps), np.repeat(a_comm, reps)
    a_partner = pick_members(world, a_comm, rng.random(a_rows.size))
    initiator = np.concatenate([s_rows, a_rows]).astype(np.int64)
    partner = np.concatenate([s_partner, a_partner]).astype(np.int64)
    context = np.concatenate([s_context, a_comm]).astype(np.int64)
    keep = (partner >= 0) & (partner != initiator)
    order = rng.permutation(int(keep.sum()))
    return Exchanges(initiator[keep][order], partner[keep][order], context[keep][order])


def first_per(values: np.ndarray) -> np.ndarray:
    """Positions of the first occurrence of each distinct value."""
    return np.unique(values, return_index=True)[1]


def interact(world: World, ex: Exchanges, rng: np.random.Generator) -> np.ndarray:
    """Run Axelrod's rule on every exchange; update cultures and items. Returns the interacted mask."""
    a, b = ex.initiator, ex.partner
    interacted, new_culture = axelrod_exchange(
        world.culture[a], world.culture[b], rng.random(a.size), rng.random(a.size)
    )
    changed = np.flatnonzero(interacted & np.any(new_culture != world.culture[a], axis=1))
    first = changed[first_per(a[changed])]
    world.culture[a[first]] = new_culture[first]
    # items posted where the exchange happens pass both ways (councils pass everything)
    done = np.flatnonzero(interacted)
    ia, ib, ctx = a[done], b[done], ex.context[done]
    visible = np.where(ctx >= 0, world.posted_in[np.maximum(ctx, 0)], ALL_ITEMS)
    know_a, know_b = world.known[ia], world.known[ib]
    np.bitwise_or.at(world.known, ia, know_b & visible)
    np.bitwise_or.at(world.known, ib, know_a & visible)
    return interacted


def update_ties(
    world: World, ex: Exchanges, interacted: np.ndarray, reinforcement: float, decay: float, floor: float
) -> None:
    """Decay every tie, strengthen the ties used by an interaction, form new ones, drop weak ones.

    A tie is kept once, at the individual's end: by the initiator, unless a
    department or community manager engaged a stakeholder, whose slot then
    keeps it (the stakeholder remembers the department; the department, a
    collective, does not keep a tie per person). A slot holder forms at most
    one new tie per step, replacing its weakest tie when all slots are full.
    """
    world.tie_weight *= np.float32(1 - decay)
    done = np.flatnonzero(interacted)
    a, b, ctx = ex.initiator[done], ex.partner[done], ex.context[done]
    flip = world.is_actor[a] & ~world.is_actor[b]
    holder, other = np.where(flip, b, a), np.where(flip, a, b)
    slots = world.tie_partner[holder] == other[:, None]
    existing = slots.any(axis=1)
    # strengthen existing ties (once per tie per step)
    e = np.flatnonzero(existing)
    e_slot = np.argmax(slots[e], axis=1)
    key = holder[e] * world.tie_partner.shape[1] + e_slot
    first = e[first_per(key)]
    f_slot = np.argmax(slots[first], axis=1)
    w = world.tie_weight[holder[first], f_slot]
    world.tie_weight[holder[first], f_slot] = w + np.float32(reinforcement) * (1 - w)
    world.tie_context[holder[first], f_slot] = ctx[first]
    # new ties: the first per holder this step takes its weakest (or an empty) slot
    n = np.flatnonzero(~existing)
    n = n[first_per(holder[n])]
    rows = holder[n]
    weights = np.where(world.tie_partner[rows] < 0, -1.0, world.tie_weight[rows])
    slot = np.argmin(weights, axis=1)
    world.tie_partner[rows, slot] = other[n]
    world.tie_weight[rows, slot] = np.float32(reinforcement)
    world.tie_context[rows, slot] = ctx[n]
    weak = (world.tie_weight < floor) & (world.tie_partner >= 0)
    world.tie_partner[weak] = -1
    world.tie_weight[weak] = 0.0


def relay(world: World, rng: np.random.Generator) -> None:
    """Brokers cross-post the items they know into the communities they may relay into."""
    candidates = np.flatnonzero(world.relay_mask)
    if candidates.size == 0:
        return
    acting = candidates[rng.random(candidates.size) < world.relay_prob[candidates]]
    if acting.size == 0:
        return
    masks, knows = world.relay_mask[acting], world.known[acting]
    for c in range(world.n_communities):
        into = ((masks >> np.uint64(c)) & ONE).astype(bool)
        if into.any():
            world.posted_in[c] |= np.bitwise_or.reduce(knows[into])


def council(
    world: World, members: np.ndarray, owned: list[np.ndarray], rng: np.random.Generator, relays: bool
) -> Exchanges:
    """A council of owners: every pair meets on the organisation channel.

    Owners then relay what they know into the communities they own.
    """
    i, j = np.triu_indices(len(members), k=1)
    swap = rng.random(i.size) < 0.5
    a, b = np.where(swap, members[j], members[i]), np.where(swap, members[i], members[j])
    ex = Exchanges(a.astype(np.int64), b.astype(np.int64), np.full(a.size, ORG_CHANNEL, dtype=np.int64))
    if relays:
        for row, communities in zip(members, owned, strict=True):
            for c in communities:
                world.posted_in[c] |= world.known[row]
    return ex


def stakeholder_pull(world: World, rate: float, n_offset: int, rng: np.random.Generator, sample: int = 64) -> None:
    """Owners drift toward their stakeholders ("their point of view shapes the organisation").

    With chance ``rate`` per community, its owner adopts the majority trait of
    a sample of its stakeholders on one random feature.
    """
    n_f = world.culture.shape[1]
    for c in np.flatnonzero(rng.random(world.n_communities) < rate):
        members = world.members[world.members_ptr[c] : world.members_ptr[c + 1]]
        members = members[members >= n_offset]
        if members.size == 0:
            continue
        heard = members[rng.integers(0, members.size, size=min(sample, members.size))]
        f = rng.integers(n_f)
        values, counts = np.unique(world.culture[heard, f], return_counts=True)
        world.culture[world.owner_row[c], f] = values[np.argmax(counts)]


def drift(world: World, rate: float, traits: int, rng: np.random.Generator) -> None:
    """Each agent, with chance ``rate``, takes a random trait on one random feature (noise)."""
    drift_traits(world.culture, rate, traits, rng)


def drift_traits(culture: np.ndarray, rate: float, traits: int, rng: np.random.Generator) -> None:
    """Cultural drift (Klemm et al. 2003) on a bare trait array, in place.

    Each row, with chance ``rate``, takes a trait drawn uniformly from
    ``0 .. traits - 1`` (possibly the one it had) on one feature chosen at
    random. The model calls it once per step through :func:`drift`; the
    docking (``silosim dock deffuant``) calls it on its lattices.

    Args:
        culture: (agents × features) integer traits, changed in place.
        rate: chance per row of one change.
        traits: number of traits per feature.
        rng: the random generator.
    """
    n, n_f = culture.shape
    rows = np.flatnonzero(rng.random(n) < rate)
    culture[rows, rng.integers(0, n_f, rows.size)] = rng.integers(0, traits, rows.size)


def originate(world: World, step: int, row: int, context: int, insight: bool) -> None:
    """A new item, known to its originator and posted in its community.

    When all 64 item slots are taken the oldest item retires: everyone forgets it.
    """
    free = np.flatnonzero(world.item_origin < 0)
    b = int(free[0]) if free.size else int(np.argmin(world.item_born))
    bit = ONE << np.uint64(b)
    if world.item_origin[b] >= 0:
        world.known &= ~bit
        world.posted_in &= ~bit
    world.item_origin[b] = context
    world.item_born[b] = step
    world.item_insight[b] = insight
    world.item_reached[b] = False
    world.known[row] |= bit
    world.posted_in[context] |= bit
    if insight:
        world.insight_delays.append(np.inf)
        world.item_delay_index[b] = len(world.insight_delays) - 1


def track_insights(world: World, target_row: int, step: int) -> None:
    """Record when the target department first learns each insight."""
    bits = int(world.known[target_row])
    for b in np.flatnonzero(world.item_insight & ~world.item_reached & (world.item_origin >= 0)):
        if bits >> int(b) & 1:
            world.item_reached[b] = True
            world.insight_delays[world.item_delay_index[b]] = step - world.item_born[b]
