"""One step of the organisation, over arrays holding every agent at once.

Agent state lives in arrays (rows: departments, then community managers,
then stakeholders); Mesa agents are handles onto those rows. A step:

1. **capacity**: every actor has one budget per step, in exchanges
   (departments: headcount × reach; community managers: ``cm_exchanges`` ×
   capacity). Cross-posting an item into a community costs ``relay_cost``
   of the ``relay_share`` set aside for it (:func:`relay`), newest items
   first; what is left is spent on
   exchanges, spread over the actor's communities by its posting effort.
   A stakeholder who cross-posts (``open`` policy only) spends its step on it;
2. every active agent starts exchanges in its communities (homophilous
   exchange, Axelrod 1997): a partner among its ties there, by weight, or
   with chance ``exploration`` a new member; actors engage members at random;
3. in every exchange (:func:`interact`) both sides read the community's
   **feed** (the items posted there; an actor, being many people, reads it
   with chance 1 / its exchanges per step) and, with chance
   ``word_of_mouth`` each, tell the other what they know (**word of mouth**:
   any item, any community, any cross-posting policy; actors tell, they are
   not told); the pair interacts with probability equal to their share of
   identical features, and an interaction copies one differing feature to
   the initiator and strengthens their tie; all ties decay and weak ones drop;
4. organisational learning (March 1991, :mod:`silosim.needs`): needs may
   change (turbulence), stakeholders learn their group's needs, and every
   actor learns from the stakeholders and peers it met who outperform it
   (stakeholder pull); every agent drifts a little (Klemm et al. 2003), new practices and
   insights appear at per-person rates, and items that reach the end of
   their ``item_lifetime`` are retired: which share of each community's
   members knew each of them is the flow between communities
   (:class:`ItemStore`).

Culture is updated synchronously (exchanges read the traits at the start of
the step; an agent adopts at most one feature, from the first exchange in a
random order); knowledge is passed in that random order, so an item can
travel two exchanges in one step.

Random draws are made with numpy, a whole array at a time, from the model's
generator; the loops that consume them run compiled (numba ``njit``, cached
on disk), once over the step's exchanges, never over Python objects.
"""

from __future__ import annotations

from dataclasses import astuple, dataclass, field

import numpy as np
from numba import njit

from silosim import needs as needs_

ONE = np.uint64(1)
ORG_CHANNEL = -1  # tie context of council meetings (not a community)
WORD = 64  # item slots per uint64 word


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
    # stakeholder → communities, CSR over stakeholder rows (fixed at build)
    joined_ptr: np.ndarray
    joined: np.ndarray
    activity: np.ndarray  # (N,) chance of starting an exchange (stakeholders)
    # set by configure() from the ownership assignment and parameters
    effort: np.ndarray = field(default=None)  # (actors × C) exchanges per step with the whole budget
    budget: np.ndarray = field(default=None)  # (actors,) capacity per step, in exchanges
    reads: np.ndarray = field(default=None)  # (N,) chance an exchange's feed is read: 1, actors 1/budget
    relay_credit: np.ndarray = field(default=None)  # (actors,) capacity saved for cross-posting
    members: np.ndarray = field(default=None)  # community → members CSR: agents
    members_ptr: np.ndarray = field(default=None)
    members_cumvis: np.ndarray = field(default=None)  # cumulative visibility in CSR order
    members_guide: np.ndarray = field(default=None)  # where a pick_members search starts, per bucket
    stakeholders_start: np.ndarray = field(default=None)  # (C,) CSR index of each community's first stakeholder
    member_mask: np.ndarray = field(default=None)  # (N,) uint64 communities it takes part in
    relay_mask: np.ndarray = field(default=None)  # (N,) uint64 communities it may cross-post into
    owner_row: np.ndarray = field(default=None)  # (C,) row of each community's owner
    belongs: np.ndarray = field(default=None)  # agent → communities CSR (actors where they take part)
    belongs_ptr: np.ndarray = field(default=None)
    member_count: np.ndarray = field(default=None)  # (C,) members of each community, actors included
    outside: np.ndarray = field(default=None)  # (C × C) members of b not in a; the diagonal: members of a

    def __post_init__(self) -> None:
        self.degree = np.diff(self.joined_ptr)  # communities each stakeholder joined

    @property
    def n_communities(self) -> int:  # noqa: D102
        return len(self.members_ptr) - 1


class ItemStore:
    """Information items (best practices, insights): who knows each, where it is posted, how far it went.

    Item ``s`` is bit ``s % 64`` of word ``s // 64``: ``known[i]`` holds agent
    i's items, ``posted[c]`` community c's feed. Slots are handed out in a
    ring; a word is cleared when the ring enters it, so an item lives its
    full ``lifetime`` as long as the store holds rates × lifetime items (it
    is sized for that with margin, :func:`silosim.resources.item_slots`);
    items still alive when their word is needed retire early and are counted
    in ``retired_early``.
    """

    def __init__(self, n_agents: int, n_communities: int, slots: int, features: int):
        """An empty store of ``slots`` items (a multiple of 64) for agents and communities, of ``features`` traits.

        Each item carries ``content``: its originator's practice or viewpoint
        when it was born (what a reader can learn from, :func:`owners_learn`).
        """
        self.words = -(-slots // WORD)
        self.slots = self.words * WORD
        self.known = np.zeros((n_agents, self.words), dtype=np.uint64)
        self.posted = np.zeros((n_communities, self.words), dtype=np.uint64)
        self.alive = np.zeros(self.words, dtype=np.uint64)
        self.origin = np.full(self.slots, -1, dtype=np.int64)  # origin community, -1 = free
        self.born = np.zeros(self.slots, dtype=np.int64)
        self.insight = np.zeros(self.slots, dtype=bool)
        self.reached_at = np.full(self.slots, -1, dtype=np.int64)  # step the insight target learnt it
        self.content = np.zeros((self.slots, features), dtype=np.int16)
        self.head = 0
        self.retired_early = 0
        self.slot_word = np.arange(self.slots) // WORD  # slot s is bit s % 64 of word s // 64
        self.slot_bit = ONE << (np.arange(self.slots, dtype=np.uint64) % np.uint64(WORD))

    def live(self) -> np.ndarray:
        """Slots holding a live item."""
        return np.flatnonzero(self.origin >= 0)

    def known_count(self, row: int) -> int:
        """Live items agent ``row`` knows."""
        return sum(int(x).bit_count() for x in self.known[row] & self.alive)


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
    world.stakeholders_start = world.members_ptr[:-1] + np.bincount(a_comm, minlength=n_c)  # actors come first
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


def start_exchanges(
    world: World, rng: np.random.Generator, exploration: float, n_offset: int, spent: np.ndarray, busy: np.ndarray
) -> Exchanges:
    """Who starts an exchange with whom, and where, this step.

    Actors spend what is left of their budget after cross-posting (``spent``);
    stakeholders in ``busy`` spent their step cross-posting.
    """
    # stakeholders: each active one picks one of its communities, then a tie there or a newcomer
    acting = (rng.random(world.degree.size) < world.activity[n_offset:]) & (world.degree > 0)
    acting[busy - n_offset] = False
    active = n_offset + np.flatnonzero(acting)
    u = rng.random((4, active.size))  # community, exploring?, which tie, which newcomer
    s_context, s_partner = _tie_or_newcomer(
        world.joined_ptr, world.joined, world.degree, world.tie_partner, world.tie_weight, world.tie_context,
        world.members, world.members_ptr, world.members_cumvis, world.members_guide, active, u, exploration,
    )  # fmt: skip
    # departments and community managers: what is left of the budget, over their communities, random members
    left = np.clip(1 - spent / np.where(world.budget > 0, world.budget, 1), 0, 1)
    effort = world.effort * left[:, None]
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


def interact(
    world: World, items: ItemStore, ex: Exchanges, rng: np.random.Generator, word_of_mouth: float
) -> np.ndarray:
    """Every exchange: feeds are read, word of mouth passes, Axelrod's rule runs. Returns the interacted mask.

    Both sides read the feed of the community where they meet; each, with
    chance ``word_of_mouth``, tells the other every item it knows (a
    conversation that turns to news passes all of it). An actor is many
    people: it reads the feed of one of its exchanges with chance
    ``world.reads`` (1 / its exchanges per step), so it learns at the rate of
    one person whatever its size; what its people hear in conversation does
    not become what the department knows and cross-posts (an actor tells, it
    is not told). Council meetings (``ORG_CHANNEL``) have no feed, and owners
    in council tell each other everything.
    """
    u = rng.random((6, ex.initiator.size))  # interaction, copied feature, a talks, b talks, a reads, b reads
    return _interact(
        world.culture, items.known, items.posted, world.is_actor, ex.initiator, ex.partner, ex.context, u[0], u[1],
        u[2] < word_of_mouth, u[3] < word_of_mouth, u[4] < world.reads[ex.initiator], u[5] < world.reads[ex.partner],
    )  # fmt: skip


@njit(cache=True)
def _interact(
    culture, known, posted, is_actor, a, b, context, u_interact, u_feature, a_talks, b_talks, a_reads, b_reads
):
    n, n_w = len(a), known.shape[1]
    interacted = np.zeros(n, dtype=np.bool_)
    feature = np.full(n, -1, dtype=np.int64)
    trait = np.zeros(n, dtype=culture.dtype)
    for e in range(n):  # culture: read the state at the start of the step
        interacted[e], feature[e] = _axelrod_pair(culture, a[e], culture, b[e], u_interact[e], u_feature[e])
        if interacted[e]:
            trait[e] = culture[b[e], max(feature[e], 0)]
    adopted = np.zeros(len(culture), dtype=np.bool_)
    for e in range(n):  # knowledge in the random order; one adoption per agent, the first
        i, j, c = a[e], b[e], context[e]
        council = c < 0
        i_reads, j_reads = a_reads[e] and not council, b_reads[e] and not council
        tell_j = council or (a_talks[e] and not is_actor[j])
        tell_i = council or (b_talks[e] and not is_actor[i])
        if i_reads or j_reads or tell_i or tell_j:
            for w in range(n_w):
                feed = posted[c, w] if c >= 0 else np.uint64(0)
                ki, kj = known[i, w], known[j, w]
                if i_reads:
                    ki |= feed
                if j_reads:
                    kj |= feed
                new_i = ki | kj if tell_i else ki
                new_j = kj | ki if tell_j else kj
                known[i, w], known[j, w] = new_i, new_j
        if feature[e] >= 0 and not adopted[i]:
            adopted[i] = True
            culture[i, feature[e]] = trait[e]
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


def relay(
    world: World,
    items: ItemStore,
    rng: np.random.Generator,
    cost: float,
    stakeholder_rate: float,
    n_offset: int,
    share: float = 1.0,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Cross-posting: those allowed post items they know into the communities they may post in.

    Actors (departments, community managers) set ``share`` of each step's
    budget aside for cross-posting; what they do not spend is carried over, up
    to one post's ``cost`` beyond a step's share, so an actor whose share is
    below the cost posts every few steps (and engages less in that step), and
    no fraction of a post is lost. Posts go newest
    items first, each item into each community it is missing from before the
    next item; an actor with no budget posts nothing. Stakeholders allowed to
    cross-post (``open``) do so with chance ``stakeholder_rate`` (divided by
    ``cost`` when it is above 1) per active step, one item into one of their
    communities, and start no exchange that step.

    Returns:
        ``(posts, spent, busy)``: posts per actor, capacity each actor spent
        on them, and the stakeholder rows that spent their step cross-posting.
    """
    n_a = len(world.budget)
    allowed = np.flatnonzero(world.relay_mask[:n_a])
    if cost <= 0:
        quota = np.where(world.budget > 0, np.iinfo(np.int64).max // 2, 0)
    else:  # `share` of each step's budget is set aside for posts; unspent, it is saved up to one post's cost
        world.relay_credit = np.minimum(world.relay_credit + world.budget * share, world.budget * share + cost)
        quota = np.floor(world.relay_credit / cost + 1e-9).astype(np.int64)
    posts = np.zeros(n_a, dtype=np.int64)
    order = allowed[rng.permutation(allowed.size)]
    start = rng.integers(0, max(world.n_communities, 1), size=order.size)
    posts[order] = _cross_post(items.known, items.posted, items.alive, world.relay_mask, order, quota[order],
                               start, items.head, world.n_communities)  # fmt: skip
    spent = posts * (0.0 if cost <= 0 else cost)
    if cost > 0:
        world.relay_credit -= spent
    busy = np.zeros(0, dtype=np.int64)
    if stakeholder_rate > 0 and world.relay_mask[n_offset:].any():
        chance = stakeholder_rate * min(1.0, 1.0 / cost) if cost > 0 else stakeholder_rate
        able = n_offset + np.flatnonzero(world.relay_mask[n_offset:])
        busy = able[rng.random(able.size) < world.activity[able] * chance]
        busy = busy[rng.permutation(busy.size)]
        target = world.joined[
            world.joined_ptr[busy - n_offset] + (rng.random(busy.size) * world.degree[busy - n_offset]).astype(np.int64)
        ]
        _post_one(items.known, items.posted, items.alive, busy, target, items.head)
    return posts, spent, busy


@njit(cache=True)
def _cross_post(known, posted, alive, rights, rows, quota, start, head, n_c):
    """For each row in order: newest known live items into its allowed communities, up to its quota."""
    n_w = known.shape[1]
    out = np.zeros(len(rows), dtype=np.int64)
    head_word = (head - 1) // WORD if head > 0 else n_w - 1
    for r in range(len(rows)):
        i, left = rows[r], quota[r]
        if left <= 0:
            continue
        for k in range(n_w):
            w = (head_word - k) % n_w
            mine = known[i, w] & alive[w]
            if mine == 0:
                continue
            for bit in range(WORD - 1, -1, -1):
                b = np.uint64(1) << np.uint64(bit)
                if not mine & b:
                    continue
                for t in range(n_c):
                    c = (start[r] + t) % n_c
                    if (rights[i] >> np.uint64(c)) & ONE and not posted[c, w] & b:
                        posted[c, w] |= b
                        out[r] += 1
                        left -= 1
                        if left == 0:
                            break
                if left == 0:
                    break
            if left == 0:
                break
    return out


@njit(cache=True)
def _post_one(known, posted, alive, rows, target, head):
    """Each row posts the newest live item it knows that is missing from its target community."""
    n_w = known.shape[1]
    head_word = (head - 1) // WORD if head > 0 else n_w - 1
    for r in range(len(rows)):
        i, c = rows[r], target[r]
        for k in range(n_w):
            w = (head_word - k) % n_w
            missing = known[i, w] & alive[w] & ~posted[c, w]
            if missing:
                for bit in range(WORD - 1, -1, -1):
                    b = np.uint64(1) << np.uint64(bit)
                    if missing & b:
                        posted[c, w] |= b
                        break
                break


def council(members: np.ndarray, rng: np.random.Generator) -> Exchanges:
    """A council of owners: every pair meets on the organisation channel and tells the other everything.

    Meeting costs nothing of the owners' budget; what they then cross-post into
    their own communities does (:func:`relay`).
    """
    i, j = np.triu_indices(len(members), k=1)
    swap = rng.random(i.size) < 0.5
    a, b = np.where(swap, members[j], members[i]), np.where(swap, members[i], members[j])
    return Exchanges(a.astype(np.int64), b.astype(np.int64), np.full(a.size, ORG_CHANNEL, dtype=np.int64))


def learn_needs(world: World, needs: np.ndarray, group_of: np.ndarray, n_offset: int, rate: float,
                rng: np.random.Generator) -> None:  # fmt: skip
    """Stakeholders keep learning what they need, as they act: March's socialisation with their needs as the code.

    A stakeholder learns at ``rate × activity``: those who use the
    communities most (lead users) know their needs best.
    """
    needs_.socialise(world.culture[n_offset:], needs[group_of], rate * world.activity[n_offset:, None], rng)


def owners_learn(
    world: World,
    items: ItemStore,
    needs: np.ndarray,
    group_of: np.ndarray,
    ex: Exchanges,
    n_actors: int,
    rate: float,
    rng: np.random.Generator,
    sample: int = 32,
) -> int:
    """Actors learn from the stakeholders they hear, the peers they see and the items they know: March's code learning.

    An actor's practice is its code. Each step it hears ``sample``
    stakeholders of its communities, drawn by the effort it spends in each,
    of whom those who act this step (their ``activity``) speak (a
    stakeholder outperforms it when its viewpoint matches its own group's
    needs better than the actor's practice does); it sees the practice of
    (up to ``sample`` of) the departments and community managers working in a
    community it works in, and of those it met in a council; and it reads ``sample`` draws from
    the live items it knows, each carrying its originator's practice or viewpoint (a
    best practice, an insight): that is how what crosses between communities
    teaches. A peer or an item outperforms the actor when it matches the
    needs of the stakeholders the actor heard better on average. The sample
    sizes do not grow with the actor's headcount: a department learns at the
    rate of one listener, whatever its size, so the outcome does not depend
    on the population's scale. An actor in no community learns nothing.

    Returns:
        The number of practice traits changed.
    """
    if rate <= 0:
        return 0
    effort = world.effort[:n_actors]
    total = effort.sum(axis=1)
    cum = np.cumsum(effort, axis=1)
    u = rng.random((n_actors, sample)) * total[:, None]
    community = np.minimum((cum[:, None, :] <= u[:, :, None]).sum(axis=2), effort.shape[1] - 1)
    lo, hi = world.stakeholders_start[community], world.members_ptr[community + 1]
    pick = lo + (rng.random((n_actors, sample)) * (hi - lo)).astype(np.int64)
    heard_ok = (hi > lo) & (total[:, None] > 0)
    s_row, s_rank = np.nonzero(heard_ok)
    s_who = world.members[pick[s_row, s_rank]]
    speaks = rng.random(s_row.size) < world.activity[s_who]  # a stakeholder is heard when it acts
    s_row, s_rank, s_who = s_row[speaks], s_rank[speaks], s_who[speaks]
    if s_row.size == 0:
        return 0
    n_s = sample
    culture, code = world.culture, world.culture[:n_actors]
    need = np.full((n_actors, n_s, culture.shape[1]), -2, dtype=np.int64)  # −2 matches nothing
    need[s_row, s_rank] = needs[group_of[s_who - n_actors]]
    heard = culture[s_who]
    stake_superior = needs_.match(heard, need[s_row, s_rank]) > needs_.match(code[s_row], need[s_row, s_rank])

    # what it sees: peers' practices and the content of the items it knows
    mask = world.member_mask[:n_actors]
    sees = (mask[:, None] & mask[None, :]) != 0
    met = (ex.initiator < n_actors) & (ex.partner < n_actors)
    sees[ex.initiator[met], ex.partner[met]] = sees[ex.partner[met], ex.initiator[met]] = True
    np.fill_diagonal(sees, False)
    p_row, p_who = np.nonzero(sees)
    if p_row.size and np.bincount(p_row).max() > sample:  # at most `sample` peers each, at random
        shuffled = np.lexsort((rng.random(p_row.size), p_row))
        p_row, p_who = p_row[shuffled], p_who[shuffled]
        keep = np.arange(p_row.size) - np.searchsorted(p_row, p_row) < sample
        p_row, p_who = p_row[keep], p_who[keep]
    known = np.unpackbits((items.known[:n_actors] & items.alive).view(np.uint8), axis=1, bitorder="little")
    k_row, k_slot = np.nonzero(known)  # by row
    count = np.bincount(k_row, minlength=n_actors)
    i_row = np.repeat(np.flatnonzero(count), sample)  # `sample` items drawn from what each actor knows
    draw = (rng.random(i_row.size) * count[i_row]).astype(np.int64)
    i_slot = k_slot[np.searchsorted(k_row, i_row) + draw]
    seen_row = np.concatenate([p_row, i_row])
    seen = np.concatenate([culture[p_who], items.content[i_slot]])
    by_row = np.argsort(seen_row, kind="stable")
    seen_row, seen = seen_row[by_row], seen[by_row]
    valid = need[:, :, 0] != -2
    score = (needs_.match(seen[:, None, :], need[seen_row]) * valid[seen_row]).sum(axis=1)
    own = (needs_.match(code[:, None, :], need) * valid).sum(axis=1)
    seen_superior = score > own[seen_row]

    rows = np.concatenate([s_row, seen_row])
    rank = np.concatenate([s_rank, np.arange(seen_row.size) - np.searchsorted(seen_row, seen_row) + n_s])
    width = int(rank.max()) + 1
    individuals = np.full((n_actors, width, culture.shape[1]), needs_.UNKNOWN, dtype=culture.dtype)
    superior = np.zeros((n_actors, width), dtype=bool)
    individuals[rows, rank] = np.concatenate([heard, seen])
    superior[rows, rank] = np.concatenate([stake_superior, seen_superior])
    return needs_.learn_code(code, individuals, superior, rate, rng)


def drift(world: World, rate: float, traits: int, rng: np.random.Generator) -> None:
    """Each agent, with chance ``rate``, takes a random trait on one random feature (noise)."""
    drift_traits(world.culture, rate, traits, rng)


def drift_traits(culture: np.ndarray, rate: float, traits: int, rng: np.random.Generator) -> None:
    """Cultural drift (Klemm et al. 2003) on a bare trait array, in place.

    Each row, with chance ``rate``, takes a trait drawn uniformly from
    ``0 .. traits - 1`` (possibly the one it had) on one feature chosen at
    random. The model calls it once per step through :func:`drift`; the
    docking (``silosim dock drift``) calls it on its lattices.

    Args:
        culture: (agents × features) integer traits, changed in place.
        rate: chance per row of one change.
        traits: number of traits per feature.
        rng: the random generator.
    """
    n, n_f = culture.shape
    rows = np.flatnonzero(rng.random(n) < rate)
    culture[rows, rng.integers(0, n_f, rows.size)] = rng.integers(0, traits, rows.size)


@dataclass
class Retired:
    """Items at the end of their life: where each came from and how far it went."""

    origin: np.ndarray  # (n,) origin community
    share: np.ndarray  # (n, C) share of each community's members who knew it
    insight: np.ndarray  # (n,) bool: a stakeholder insight (else a best practice)
    delay: np.ndarray  # (n,) steps until the insight target knew it; inf: never


def _mask(items: ItemStore, slots: np.ndarray) -> np.ndarray:
    """Word masks (``words``,) with the bits of the given slots set."""
    out = np.zeros(items.words, dtype=np.uint64)
    np.bitwise_or.at(out, slots // WORD, ONE << (slots % WORD).astype(np.uint64))
    return out


def retire(world: World, items: ItemStore, slots: np.ndarray) -> Retired:
    """End the given items' lives: count who knew them, per community, and free their slots.

    In the item's own community every member counts; in another community
    only the members who are not also members of the origin (what crossed,
    not what members of both brought with them).
    """
    slots = np.asarray(slots, dtype=np.int64)
    n_c = world.n_communities
    index = np.full(items.slots, -1, dtype=np.int64)
    index[slots] = np.arange(slots.size)
    words = np.unique(slots // WORD)
    masks = _mask(items, slots)[words]
    origin = items.origin[slots].copy()
    counts = _knower_counts(
        items.known, words, masks, world.belongs_ptr, world.belongs, world.member_mask, index, origin, n_c
    )
    share = counts / np.maximum(world.outside[origin], 1)
    reached = items.reached_at[slots]
    delay = np.where(reached >= 0, reached - items.born[slots], np.inf).astype(float)
    out = Retired(origin, share, items.insight[slots].copy(), delay)
    items.origin[slots] = -1
    items.alive &= ~_mask(items, slots)
    return out


_DE_BRUIJN = np.uint64(0x03F79D71B4CB0A89)
_DE_BRUIJN_INDEX = np.zeros(64, dtype=np.int64)
for _bit in range(64):
    _DE_BRUIJN_INDEX[int(((1 << _bit) * 0x03F79D71B4CB0A89 % 2**64) >> 58)] = _bit


@njit(cache=True)
def _knower_counts(known, words, masks, belongs_ptr, belongs, member_mask, index, origin, n_c):
    """(items × communities) members who know each item: at home all, elsewhere those outside its origin."""
    counts = np.zeros((len(origin), n_c), dtype=np.int64)
    for i in range(known.shape[0]):
        lo, hi = belongs_ptr[i], belongs_ptr[i + 1]
        if lo == hi:
            continue
        for k in range(len(words)):
            bits = known[i, words[k]] & masks[k]
            while bits:
                low = bits & (~bits + ONE)
                item = index[words[k] * WORD + _DE_BRUIJN_INDEX[(low * _DE_BRUIJN) >> np.uint64(58)]]
                home = (member_mask[i] >> np.uint64(origin[item])) & ONE
                for t in range(lo, hi):
                    if not home or belongs[t] == origin[item]:
                        counts[item, belongs[t]] += 1
                bits ^= low
    return counts


def originate(
    world: World, items: ItemStore, step: int, rows: np.ndarray, contexts: np.ndarray, insight: np.ndarray
) -> Retired | None:
    """New items, each known to its originator and posted in its community's feed.

    Slots come from the ring in order; entering a word clears it, retiring
    early any item still alive there (returned, so its flow is counted).
    """
    n = len(rows)
    if n == 0:
        return None
    slots = (items.head + np.arange(n)) % items.slots
    fresh = np.unique(slots[slots % WORD == 0] // WORD)
    early = None
    if fresh.size:
        live = items.live()
        cut = live[np.isin(live // WORD, fresh)]
        if cut.size:
            items.retired_early += cut.size
            early = retire(world, items, cut)
        items.known[:, fresh] = 0
        items.posted[:, fresh] = 0
        items.alive[fresh] = 0
    items.origin[slots] = contexts
    items.born[slots] = step
    items.insight[slots] = insight
    items.reached_at[slots] = -1
    items.content[slots] = world.culture[rows]
    bits = ONE << (slots % WORD).astype(np.uint64)
    np.bitwise_or.at(items.known, (rows, slots // WORD), bits)
    np.bitwise_or.at(items.posted, (contexts, slots // WORD), bits)
    items.alive |= _mask(items, slots)
    items.head = int((items.head + n) % items.slots)
    return early


def expire(world: World, items: ItemStore, step: int, lifetime: int) -> Retired | None:
    """Retire the items that have lived ``lifetime`` steps of exchanges (born at or before ``step − lifetime``).

    An item born in step b (after that step's exchanges) is read in the exchanges of steps b + 1 … b + lifetime.
    """
    ending = np.flatnonzero((items.origin >= 0) & (items.born <= step - lifetime))
    return retire(world, items, ending) if ending.size else None


def track_insights(items: ItemStore, target_row: int, step: int) -> None:
    """Record the step at which the target department first knows each live insight."""
    knows = (items.known[target_row][items.slot_word] & items.slot_bit) != 0
    new = knows & items.insight & (items.origin >= 0) & (items.reached_at < 0)
    items.reached_at[new] = step
