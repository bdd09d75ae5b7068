"""One step of the organisation, over arrays holding every agent at once.

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

Random draws are made with numpy, a whole array at a time, from the model's
generator; the loops that consume them run compiled (numba ``njit``, cached
on disk), once over the step's exchanges, never over Python objects.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field

import numpy as np
from numba import njit

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
    interacted = np.empty(len(active), dtype=np.bool_)
    feature = np.empty(len(active), dtype=np.int64)
    _axelrod_kernel(active, partner, u_interact, u_feature, interacted, feature)
    new_active = active.copy()
    change = np.flatnonzero(feature >= 0)
    new_active[change, feature[change]] = partner[change, feature[change]]
    return interacted, new_active


@njit(cache=True)
def _axelrod_kernel(active, partner, u_interact, u_feature, interacted, feature):
    for e in range(active.shape[0]):
        interacted[e], feature[e] = _axelrod_pair(active, e, partner, e, u_interact[e], u_feature[e])


@njit(cache=True)
def _axelrod_pair(x, i, y, j, u_interact, u_feature):
    """Rows ``x[i]`` and ``y[j]``: (interacted, the feature x[i] copies from y[j] or −1)."""
    n_f, n_diff = x.shape[1], 0
    for f in range(n_f):
        n_diff += x[i, f] != y[j, f]
    if not u_interact < (n_f - n_diff) / n_f:
        return False, -1
    k = min(int(u_feature * n_diff), n_diff - 1)
    for f in range(n_f):
        if x[i, f] != y[j, f]:
            if k == 0:
                return True, f
            k -= 1
    return True, -1


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
    members_guide: np.ndarray = field(default=None)  # where a pick_members search starts, per bucket
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

    def __post_init__(self) -> None:
        self.degree = np.diff(self.joined_ptr)  # communities each stakeholder joined

    @property
    def n_communities(self) -> int:  # noqa: D102
        return len(self.members_ptr) - 1


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
    world.members_guide = _guide_table(world.members_ptr, world.members_cumvis)
    assert n_actors <= n_stakeholder_offset


def pick_members(world: World, community: np.ndarray, u: np.ndarray) -> np.ndarray:
    """A member of each given community, in proportion to visibility; -1 if it has none.

    The member is the first whose cumulative visibility exceeds ``u`` of its
    community's total; a guide table (Chen & Asau 1974) finds it in a step or
    two instead of a binary search.
    """
    return _pick_members(world.members, world.members_ptr, world.members_cumvis, world.members_guide, community, u)


@njit(cache=True)
def _guide_table(ptr, cumvis):
    """For bucket k of a community with m members, the member where a search for u = k/m starts."""
    guide = np.zeros(len(cumvis), dtype=np.int64)
    for c in range(len(ptr) - 1):
        lo, hi = ptr[c], ptr[c + 1]
        base = cumvis[lo - 1] if lo > 0 else 0.0
        i = lo
        for k in range(hi - lo):
            while i < hi - 1 and cumvis[i] <= base + k / (hi - lo) * (cumvis[hi - 1] - base):
                i += 1
            guide[lo + k] = i
    return guide


@njit(cache=True)
def _pick_members(members, ptr, cumvis, guide, community, u):
    out = np.full(len(community), -1, dtype=np.int64)
    for e in range(len(community)):
        lo, hi = ptr[community[e]], ptr[community[e] + 1]
        base = cumvis[lo - 1] if lo > 0 else 0.0
        top = cumvis[hi - 1] if hi > 0 else 0.0
        if hi > lo and top > base:
            target = base + u[e] * (top - base)  # the first member (of the last) whose cumvis exceeds it
            i = guide[lo + min(int(u[e] * (hi - lo)), hi - lo - 1)]
            while i > lo and cumvis[i - 1] > target:
                i -= 1
            while i < hi - 1 and cumvis[i] <= target:
                i += 1
            out[e] = members[i]
    return out


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
    active = n_offset + np.flatnonzero((rng.random(world.degree.size) < world.activity[n_offset:]) & (world.degree > 0))
    u = rng.random((4, active.size))  # community, exploring?, which tie, which newcomer
    s_context, s_partner = _tie_or_newcomer(
        world.joined_ptr, world.joined, world.degree, world.tie_partner, world.tie_weight, world.tie_context,
        world.members, world.members_ptr, world.members_cumvis, world.members_guide, active, u, exploration,
    )  # fmt: skip
    # departments and community managers: effort spread over their communities, random members
    effort = world.effort
    counts = np.floor(effort).astype(np.int64)
    counts += rng.random(effort.shape) < (effort - counts)
    a_rows, a_comm = np.nonzero(counts)
    reps = counts[a_rows, a_comm]
    a_rows, a_comm = np.repeat(a_rows, reps), np.repeat(a_comm, reps)
    a_partner = pick_members(world, a_comm, rng.random(a_rows.size))
    initiator = np.concatenate([active, a_rows])
    partner = np.concatenate([s_partner, a_partner])
    context = np.concatenate([s_context, a_comm])
    keep = np.flatnonzero((partner >= 0) & (partner != initiator))
    keep = keep[rng.permutation(keep.size)]  # a random order: who comes first matters
    return Exchanges(initiator[keep], partner[keep], context[keep])


@njit(cache=True)
def _tie_or_newcomer(
    joined_ptr, joined, degree, tie_partner, tie_weight, tie_context,
    members, members_ptr, cumvis, guide, rows, u, exploration,
):  # fmt: skip
    """Each active stakeholder's community, and partner there: a tie, by weight, or a newcomer.

    A newcomer when exploring or without a tie in that community.
    """
    n, k, n_offset = len(rows), tie_partner.shape[1], len(tie_partner) - len(degree)
    context = np.empty(n, dtype=np.int64)
    for e in range(n):
        i = rows[e] - n_offset
        context[e] = joined[joined_ptr[i] + np.int64(u[0, e] * degree[i])]
    out = _pick_members(members, members_ptr, cumvis, guide, context, u[3])
    cum = np.empty(k, dtype=np.float32)
    for e in range(n):
        r, total = rows[e], np.float32(0)
        for s in range(k):
            if tie_context[r, s] == context[e]:
                total += tie_weight[r, s]
            cum[s] = total
        if u[1, e] < exploration or not total > 0:
            continue
        target = u[2, e] * total
        slot = 0
        while slot < k - 1 and cum[slot] <= target:
            slot += 1
        out[e] = tie_partner[r, slot]
    return context, out


def interact(world: World, ex: Exchanges, rng: np.random.Generator) -> np.ndarray:
    """Run Axelrod's rule on every exchange; update cultures and items. Returns the interacted mask.

    Items posted where the exchange happens pass both ways (councils pass everything).
    """
    u_interact, u_feature = rng.random(ex.initiator.size), rng.random(ex.initiator.size)
    return _interact(
        world.culture, world.known, world.posted_in, ex.initiator, ex.partner, ex.context, u_interact, u_feature
    )


@njit(cache=True)
def _interact(culture, known, posted_in, a, b, context, u_interact, u_feature):
    n = len(a)
    interacted = np.zeros(n, dtype=np.bool_)
    feature = np.full(n, -1, dtype=np.int64)
    trait = np.zeros(n, dtype=culture.dtype)
    gain_a, gain_b = np.zeros(n, dtype=np.uint64), np.zeros(n, dtype=np.uint64)
    for e in range(n):  # read the state at the start of the step
        interacted[e], feature[e] = _axelrod_pair(culture, a[e], culture, b[e], u_interact[e], u_feature[e])
        if interacted[e]:
            trait[e] = culture[b[e], max(feature[e], 0)]
            visible = posted_in[context[e]] if context[e] >= 0 else ALL_ITEMS
            gain_a[e], gain_b[e] = known[b[e]] & visible, known[a[e]] & visible
    adopted = np.zeros(len(culture), dtype=np.bool_)
    for e in range(n):  # then write it: one adoption per agent, the first in the random order
        if feature[e] >= 0 and not adopted[a[e]]:
            adopted[a[e]] = True
            culture[a[e], feature[e]] = trait[e]
        known[a[e]] |= gain_a[e]
        known[b[e]] |= gain_b[e]
    return interacted


def update_ties(
    world: World, ex: Exchanges, interacted: np.ndarray, reinforcement: float, decay: float, floor: float
) -> None:
    """Decay every tie, strengthen the ties used by an interaction, form new ones, drop weak ones.

    A tie is kept once, at the individual's end: by the initiator, unless a
    department or community manager engaged a stakeholder, whose slot then
    keeps it (the stakeholder remembers the department; the department, a
    collective, does not keep a tie per person). A tie is strengthened once
    per step however often it is used. A slot holder forms at most one new tie
    per step, replacing its weakest tie when all slots are full.
    """
    _update_ties(
        world.tie_partner, world.tie_weight, world.tie_context, world.is_actor,
        ex.initiator, ex.partner, ex.context, interacted,
        np.float32(reinforcement), np.float32(1 - decay), np.float32(floor),
    )  # fmt: skip


@njit(cache=True)
def _update_ties(tie_partner, tie_weight, tie_context, is_actor, a, b, ctx, interacted, reinforcement, keep, floor):
    n, k = tie_partner.shape
    tie_weight *= keep
    done = np.flatnonzero(interacted)
    holder, other, context = a[done], b[done], ctx[done]
    for e in range(len(done)):  # an actor engaging a stakeholder: the stakeholder keeps the tie
        if is_actor[holder[e]] and not is_actor[other[e]]:
            holder[e], other[e] = other[e], holder[e]
    slot = np.full(len(holder), -1, dtype=np.int64)
    strengthened = np.zeros((n, k), dtype=np.bool_)
    for e in range(len(holder)):  # existing ties (as at the start of the step), once per tie
        h = holder[e]
        for s in range(k):
            if tie_partner[h, s] == other[e]:
                slot[e] = s
                break
        if slot[e] >= 0 and not strengthened[h, slot[e]]:
            strengthened[h, slot[e]] = True
            w = tie_weight[h, slot[e]]
            tie_weight[h, slot[e]] = w + reinforcement * (np.float32(1) - w)
            tie_context[h, slot[e]] = context[e]
    formed = np.zeros(n, dtype=np.bool_)
    for e in range(len(holder)):  # new ties: the first per holder takes an empty or its weakest slot
        h = holder[e]
        if slot[e] >= 0 or formed[h]:
            continue
        formed[h] = True
        weakest, lowest = 0, np.inf
        for s in range(k):
            value = -1.0 if tie_partner[h, s] < 0 else np.float64(tie_weight[h, s])
            if value < lowest:
                weakest, lowest = s, value
        tie_partner[h, weakest] = other[e]
        tie_weight[h, weakest] = reinforcement
        tie_context[h, weakest] = context[e]
    for h in range(n):
        for s in range(k):
            if tie_weight[h, s] < floor and tie_partner[h, s] >= 0:
                tie_partner[h, s] = -1
                tie_weight[h, s] = 0.0


def relay(world: World, rng: np.random.Generator) -> None:
    """Brokers cross-post the items they know into the communities they may relay into."""
    candidates = np.flatnonzero(world.relay_mask)
    if candidates.size == 0:
        return
    acting = candidates[rng.random(candidates.size) < world.relay_prob[candidates]]
    _relay(world.posted_in, world.relay_mask[acting], world.known[acting])


@njit(cache=True)
def _relay(posted_in, masks, knows):
    for i in range(len(masks)):
        for c in range(len(posted_in)):
            if (masks[i] >> np.uint64(c)) & ONE:
                posted_in[c] |= knows[i]


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
        members = members[np.searchsorted(members, n_offset) :]  # ascending: actors, then stakeholders
        if members.size == 0:
            continue
        heard = members[rng.integers(0, members.size, size=min(sample, members.size))]
        f = rng.integers(n_f)
        world.culture[world.owner_row[c], f] = np.argmax(np.bincount(world.culture[heard, f]))  # lowest on ties


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
