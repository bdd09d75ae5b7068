"""silosim's rules in plain per-agent Mesa: the speed baseline and the docking partner of the fast engine.

What a modeller would write without silosim's vectorised engine: every agent
is a Python object that steps itself (``model.agents.shuffle_do("step")``),
knows a ``set`` of item ids, and keeps its ties as edges of a networkx
``DiGraph`` (an edge holder → partner is a tie kept in the holder's slots, at
most ``max_ties`` per holder); each community's feed is a set of item ids in a
dict. Nothing here calls silosim.dynamics.

Built from the same validated Scenario; the ownership rule (silosim.rules) is
configuration and the measures (silosim.metrics) are pure functions, so both
are reused: only the dynamics of Model 2.0 are written again, agent by agent.
A step:

1. **capacity and cross-posting**: a department's budget is headcount × reach
   exchanges a step, a community manager's ``cm_exchanges`` × capacity (none
   for an actor in no community; an actor without budget takes part
   nowhere). Actors allowed to cross-post (``rules.relay_rights``), in random
   order, post the live items they know, newest first, into each community
   they may post in where the item is missing, as many posts as the capacity
   they set aside allows at ``relay_cost`` each: ``relay_share`` of each
   step's budget, what is not spent carried over, up to one post's cost beyond
   a step's share (``relay_cost`` 0: no limit). Then, under ``open``, stakeholders in several
   communities, with chance activity × ``relay_rate`` (÷ ``relay_cost`` when
   above 1), post the newest live item they know into one of their
   communities where it is missing, and spend their step on it;
2. **exchanges**: every agent's ``step`` starts its exchanges. An active
   stakeholder (chance = activity) picks one of its communities and there a
   tie, by weight, or with chance ``exploration`` (or without a tie there) a
   member met in proportion to visibility (actors by effort, stakeholders by
   activity). An actor spends what cross-posting left of its budget on
   exchanges with members met that way, spread over its communities by its
   posting share. The step's exchanges are then played in a random order
   (federated councils after them: every pair of council members);
3. in every exchange both sides read the community's feed (an actor, being
   many people, with chance 1 / its budget only, so it reads at the rate of
   one person) and each, with chance ``word_of_mouth``, tells the other every
   item it knows, unless the other is an actor (what its people hear in
   conversation does not become what a department knows); a council meeting:
   everything both ways, no feed. Axelrod's rule reads the traits
   at the start of the step (synchronous): the pair interacts with
   probability equal to their share of identical features, and the initiator
   adopts one differing feature, at most one a step (from its first such
   exchange). Each interaction is remembered by the tie's holder (the
   initiator, or the stakeholder an actor engaged); then every agent decays
   its ties, strengthens each used one once, forms at most one new tie (an
   empty or the weakest slot) and drops those under ``tie_floor``;
4. owners heed their stakeholders (stakeholder pull), every agent
   drifts (Klemm et al. 2003); each department originates Poisson(
   ``practice_rate``) practices in its communities (by effort), each
   stakeholder exchange an insight with chance ``insight_rate``: an item is
   known by its originator and posted in its community's feed;
5. an item is read in the exchanges of the ``item_lifetime`` steps after the
   one it appeared in; when it ends, the share of each
   community's members who knew it (at home every member, elsewhere those
   not also members of the origin) is its flow. Every ``metrics.every`` steps
   (and at the last) an interval of flows closes; the measures pool the
   intervals of the window after burn-in, with silosim.metrics (flow_matrix,
   cross_reach, silo_labels, silo_count, largest_merged_share, trend,
   converged, verdict_reason), as SiloModel does.

    from reference_mesa import ReferenceModel
    model = ReferenceModel(silosim.scenario.load("scenarios/default.yaml"))
    while model.running:
        model.step()
    model.measure()   # {"cross_reach": ..., "silo_count": ..., "ei_index": ..., "verdict": ...}

Events are not modelled (the scenario must have none).
"""

from __future__ import annotations

import itertools
import math
from collections import Counter
from dataclasses import dataclass, field

import mesa
import networkx as nx
import numpy as np

from silosim import metrics, rules
from silosim.scenario import Scenario

ORG_CHANNEL = -1  # tie context of council meetings (not a community)


@dataclass
class Item:
    """An information item: a department's best practice or a stakeholder's insight."""

    origin: int  # the community where it was posted first
    born: int  # the step it appeared
    insight: bool
    reached_at: int = -1  # step the insight target first knew it (insights)


@dataclass
class Interval:
    """What happened between two measurements."""

    n_c: int
    flow_sum: np.ndarray = None  # (C × C) Σ over ended items from a of the share of b's members who knew it
    flow_n: np.ndarray = None  # (C,) ended items by origin
    delays: list = field(default_factory=list)  # per ended insight: steps to reach the target (inf: never)
    spent: float = 0.0  # capacity spent cross-posting
    capacity: float = 0.0  # capacity available
    step: int = 0
    ties: dict = field(default_factory=dict)  # tie descriptions measured at its end

    def __post_init__(self) -> None:
        self.flow_sum = np.zeros((self.n_c, self.n_c))
        self.flow_n = np.zeros(self.n_c)


class Member(mesa.Agent):
    """Anything that takes part in communities: traits, known items, ties, drift."""

    def __init__(self, model: ReferenceModel, culture: list[int]):
        super().__init__(model)
        self.culture = culture  # practice or viewpoint traits, one per feature
        self.known: set[int] = set()  # live items this agent knows
        self.communities: list[int] = []  # where it takes part
        self.relay_into: list[int] = []  # communities it may cross-post into
        self.interactions: list[tuple[Member, int]] = []  # this step's (partner, community) whose tie I keep
        self.reads = 1.0  # chance of reading the feed where it exchanges (an actor: one person's share)

    def keep_ties(self) -> None:
        """Decay my ties; strengthen each one used this step once; form at most one new tie; drop weak ones."""
        m, dyn = self.model, self.model.dyn
        slots, r = m.ties.adj[self], dyn.reinforcement
        keep = 1 - dyn.tie_decay
        for tie in slots.values():
            tie["weight"] *= keep
        if self.interactions:
            existing, new = set(slots), None  # as at the start of the step
            for other, context in self.interactions:
                if other in existing:
                    existing.discard(other)  # once a step
                    tie = slots[other]
                    tie["weight"] += r * (1 - tie["weight"])
                    tie["context"] = context
                elif new is None and other not in slots:
                    new = (other, context)
            if new is not None:
                if len(slots) >= dyn.max_ties:
                    m.ties.remove_edge(self, min(slots, key=lambda p: slots[p]["weight"]))
                m.ties.add_edge(self, new[0], weight=r, context=new[1])
            self.interactions = []
        weak = [partner for partner, tie in slots.items() if tie["weight"] < dyn.tie_floor]
        for partner in weak:
            m.ties.remove_edge(self, partner)

    def drift(self) -> None:
        """With chance ``drift``, take a random trait on one random feature (noise)."""
        if self.random.random() < self.model.dyn.drift:
            self.culture[self.random.randrange(len(self.culture))] = self.random.randrange(self.model.dyn.traits)


class Stakeholder(Member):
    """A customer, partner, candidate or employee: acts in one of its communities when active."""

    def __init__(self, model: ReferenceModel, culture: list[int], group: str, activity: float, communities: list):
        super().__init__(model, culture)
        self.group, self.activity, self.communities = group, activity, communities
        self.busy = False  # spent this step cross-posting

    def cross_post(self) -> None:
        """Maybe spend my step posting the newest live item I know into one of my communities lacking it."""
        m = self.model
        self.busy = self.random.random() < self.activity * m.stakeholder_relay_chance
        if self.busy:
            feed = m.feeds[self.random.choice(self.relay_into)]
            missing = [item for item in self.known if item not in feed]
            if missing:
                feed.add(max(missing))

    def step(self) -> None:
        """If active (and not busy cross-posting): an exchange in one of my communities, with a tie or a newcomer."""
        m = self.model
        if self.busy or not self.communities:
            self.busy = False
            return
        if self.random.random() >= self.activity:
            return
        c = self.random.choice(self.communities)
        here = [(partner, tie["weight"]) for partner, tie in m.ties.adj[self].items() if tie["context"] == c]
        total = sum(w for _, w in here)
        if self.random.random() < m.dyn.exploration or not total > 0:
            partner = m.newcomer(c)
        else:
            partner = self.random.choices([p for p, _ in here], weights=[w for _, w in here])[0]
        if partner is not None and partner is not self:
            m.exchanges.append((self, partner, c))


class Actor(Member):
    """A department or community manager: a budget of exchanges a step, cross-posting first."""

    def __init__(self, model: ReferenceModel, culture: list[int], name: str):
        super().__init__(model, culture)
        self.name = name
        self.budget = 0.0  # capacity per step, in exchanges
        self.effort: dict[int, float] = {}  # community → exchanges per step with the whole budget
        self.spent = 0.0  # capacity spent cross-posting this step
        self.credit = 0.0  # capacity set aside for cross-posting, carried over up to one post's cost more
        self.owns: list[int] = []

    def cross_post(self) -> None:
        """Post the live items I know, newest first, into my communities lacking them, as my budget allows."""
        m, cost = self.model, self.model.dyn.relay_cost
        self.spent = 0.0
        if self.budget <= 0 or not self.relay_into:
            return
        if cost <= 0:
            quota = math.inf
        else:  # relay_share of each step's budget is set aside; unspent, it is carried over, up to one post's cost more
            aside = self.budget * m.dyn.relay_share
            self.credit = min(self.credit + aside, aside + cost)
            quota = math.floor(self.credit / cost + 1e-9)
        start = self.random.randrange(m.n_communities)  # which community comes first, cycling
        into = sorted(self.relay_into, key=lambda c: (c - start) % m.n_communities)
        posts = 0
        for item in sorted(self.known, reverse=True):  # ids grow with age: newest first
            if posts >= quota:
                break
            for c in into:
                if posts < quota and item not in m.feeds[c]:
                    m.feeds[c].add(item)
                    posts += 1
        self.spent = posts * cost if cost > 0 else 0.0
        self.credit -= self.spent

    def step(self) -> None:
        """What is left of my budget: exchanges with members met at random in my communities."""
        m = self.model
        left = min(max(1 - self.spent / self.budget, 0.0), 1.0) if self.budget > 0 else 1.0
        for c, effort in self.effort.items():
            x = effort * left
            for _ in range(int(x) + (self.random.random() < x - int(x))):
                partner = m.newcomer(c)
                if partner is not None and partner is not self:
                    m.exchanges.append((self, partner, c))

    def heed_stakeholders(self) -> None:
        """Stakeholder pull: for each community I own, maybe adopt a sample of its stakeholders' majority trait."""
        m = self.model
        for c in self.owns:
            if self.random.random() < m.dyn.stakeholder_pull and m.stakeholders_of[c]:
                heard = self.random.choices(m.stakeholders_of[c], k=min(64, len(m.stakeholders_of[c])))
                f = self.random.randrange(len(self.culture))
                counts = Counter(s.culture[f] for s in heard)
                self.culture[f] = max(counts, key=lambda trait: (counts[trait], -trait))


class Department(Actor):
    """A business function acting as one actor."""


class CommunityManager(Actor):
    """A person animating communities for a department, or hired outside the org chart."""


class ReferenceModel(mesa.Model):
    """The organisation, agent by agent."""

    def __init__(self, scenario: Scenario, rng: int | None = None):
        super().__init__(rng=scenario.seed if rng is None else rng)
        if scenario.events:
            raise NotImplementedError("the per-agent reference does not model events")
        self.config, self.dyn = scenario, scenario.dynamics
        org, dyn, n_c = scenario.organization, scenario.dynamics, len(scenario.communities)
        self.n_communities = n_c

        def traits() -> list[int]:
            return [self.random.randrange(dyn.traits) for _ in range(dyn.features)]

        self.departments = [Department(self, traits(), d.name) for d in org.departments]
        by_name = {a.name: a for a in self.departments}
        self.community_managers = [
            CommunityManager(self, list(by_name[m.home].culture) if m.home else traits(), m.name)
            for m in org.community_managers
        ]
        by_name |= {a.name: a for a in self.community_managers}
        self.stakeholders = []
        for g in org.stakeholders:
            shares = [(c, community.members.get(g.group, 0.0)) for c, community in enumerate(scenario.communities)]
            for _ in range(g.count):
                joined = [c for c, share in shares if share > 0 and self.random.random() < share]
                self.stakeholders.append(Stakeholder(self, traits(), g.group, g.activity, joined))
        self.actors = [*self.departments, *self.community_managers]
        self.rows = [*self.actors, *self.stakeholders]  # silosim's row order
        self.ties = nx.DiGraph()
        self.ties.add_nodes_from(self.rows)

        # ownership (configuration, reused from silosim.rules): budgets, efforts, cross-posting rights
        a = rules.assign(scenario)
        self.assignment = a
        spread = np.vstack([a.posting, a.animates.astype(float)])
        budgets = [d.headcount * d.reach for d in org.departments]
        budgets += [dyn.cm_exchanges * m.capacity for m in org.community_managers]
        budgets = np.where(spread.sum(axis=1) > 0, budgets, 0.0)  # an actor in no community spends nothing
        # an actor with no capacity takes part nowhere
        participates = np.vstack([a.posting > 0, a.animates]) & (budgets[:, None] > 0)
        rights = rules.relay_rights(scenario.ownership.cross_posting, participates, a.brokers)
        for i, actor in enumerate(self.actors):
            total = spread[i].sum()
            actor.budget = float(budgets[i])
            actor.reads = 1 / max(actor.budget, 1)  # many people: it reads at the rate of one
            actor.effort = {int(c): actor.budget * spread[i, c] / total for c in np.flatnonzero(participates[i])}
            actor.communities = list(actor.effort)
            actor.relay_into = [int(c) for c in np.flatnonzero(rights[i])]
            actor.owns = [c for c, owner in enumerate(a.owners) if owner == actor.name]
        self.relaying_actors = [actor for actor in self.actors if actor.relay_into]
        self.relaying_stakeholders = []
        cost = dyn.relay_cost
        self.stakeholder_relay_chance = dyn.relay_rate * min(1.0, 1.0 / cost) if cost > 0 else dyn.relay_rate
        if scenario.ownership.cross_posting == "open":  # stakeholders in several communities cross-post
            for s in self.stakeholders:
                if len(s.communities) > 1:
                    s.relay_into = list(s.communities)
                    self.relaying_stakeholders.append(s)
        self.council_members = [by_name[name] for name in a.council]
        target = scenario.metrics.insight_target or ("rnd" if "rnd" in by_name else None)
        self.insight_target = next((d for d in self.departments if d.name == target), None)
        glue = by_name[scenario.ownership.glue] if scenario.ownership.rule == "glue" else None
        self.brokers = [*self.community_managers, *([glue] if glue is not None else [])]

        # who can be met in each community, in proportion to effort (actors) or activity (stakeholders)
        self.members: list[list[Member]] = [[] for _ in range(n_c)]
        weights: list[list[float]] = [[] for _ in range(n_c)]
        for actor in self.actors:
            for c, effort in actor.effort.items():
                self.members[c].append(actor)
                weights[c].append(effort)
        self.stakeholders_of: list[list[Stakeholder]] = [[] for _ in range(n_c)]
        for s in self.stakeholders:
            for c in s.communities:
                self.members[c].append(s)
                weights[c].append(s.activity)
                self.stakeholders_of[c].append(s)
        self.cum_visibility = [list(itertools.accumulate(w)) for w in weights]
        self.member_count = np.array([len(m) for m in self.members])
        # members of b who are not members of a (the diagonal: all members of a): what an item from a can reach
        self.outside = np.zeros((n_c, n_c))
        for c in range(n_c):
            inside = set(self.members[c])
            for b in range(n_c):
                self.outside[c, b] = len(self.members[b]) if b == c else sum(x not in inside for x in self.members[b])

        self.feeds: dict[int, set[int]] = {c: set() for c in range(n_c)}  # items posted in each community
        self.items: dict[int, Item] = {}  # live items by id, oldest first
        self.next_item = 0
        self.exchanges: list[tuple[Member, Member, int]] = []
        self.intervals: list[Interval] = []
        self.open = Interval(n_c)
        self.measures: dict = {}
        self.steps_to_merge = math.nan
        self.running = scenario.steps > 0

    # ------------------------------------------------------------------ a step

    def newcomer(self, c: int) -> Member | None:
        """A member of community ``c`` met at random, in proportion to visibility (None if nobody)."""
        cum = self.cum_visibility[c]
        if not cum or cum[-1] <= 0:
            return None
        return self.random.choices(self.members[c], cum_weights=cum)[0]

    def step(self) -> None:
        """Cross-posts, exchanges, ties, pull, drift, new and ended items, measures."""
        own = self.config.ownership
        for group in (self.relaying_actors, self.relaying_stakeholders):
            for agent in self.random.sample(group, len(group)):
                agent.cross_post()
        self.exchanges = []
        self.agents.shuffle_do("step")
        self.random.shuffle(self.exchanges)
        if own.rule == "federated" and self.steps % own.council_every == 0 and len(self.council_members) > 1:
            for a, b in itertools.combinations(self.council_members, 2):
                self.exchanges.append((*((b, a) if self.random.random() < 0.5 else (a, b)), ORG_CHANNEL))
        self.play(self.exchanges)
        self.agents.do("keep_ties")
        for actor in self.actors:
            actor.heed_stakeholders()
        self.agents.do("drift")
        self.open.spent += sum(actor.spent for actor in self.actors)
        self.open.capacity += sum(actor.budget for actor in self.actors)
        self.originate()
        if self.insight_target is not None:
            for item_id in self.insight_target.known:
                item = self.items[item_id]
                if item.insight and item.reached_at < 0:
                    item.reached_at = self.steps
        ending = [i for i, item in self.items.items() if item.born <= self.steps - self.dyn.item_lifetime]
        if ending:
            self.retire(ending)
        if self.steps % self.config.metrics.every == 0 or self.steps >= self.config.steps:
            self.measure()
        self.running = self.steps < self.config.steps

    def play(self, exchanges: list[tuple[Member, Member, int]]) -> None:
        """Feeds, word of mouth and Axelrod's rule in every exchange, in order; adoptions at the end (synchronous)."""
        features, word_of_mouth = self.dyn.features, self.dyn.word_of_mouth
        adopted: dict[Member, tuple[int, int]] = {}
        for a, b, c in exchanges:
            differing = [f for f in range(features) if a.culture[f] != b.culture[f]]
            interacted = self.random.random() < (features - len(differing)) / features
            if interacted and differing and a not in adopted:
                f = self.random.choice(differing)
                adopted[a] = (f, b.culture[f])
            if c == ORG_CHANNEL:  # a council meeting: both tell everything
                a.known |= b.known
                b.known |= a.known
            else:
                feed = self.feeds[c]
                if self.random.random() < a.reads:
                    a.known |= feed
                if self.random.random() < b.reads:
                    b.known |= feed
                # word of mouth: each side may tell the other what it knows; an actor is told nothing
                if self.random.random() < word_of_mouth and isinstance(b, Stakeholder):
                    b.known |= a.known
                if self.random.random() < word_of_mouth and isinstance(a, Stakeholder):
                    a.known |= b.known
            if interacted:  # an actor engaging a stakeholder: the stakeholder keeps the tie
                holder, other = (b, a) if isinstance(a, Actor) and isinstance(b, Stakeholder) else (a, b)
                holder.interactions.append((other, c))
        for agent, (f, trait) in adopted.items():
            agent.culture[f] = trait

    def new_item(self, who: Member, c: int, insight: bool) -> None:
        """A new item, known to ``who`` and posted in ``c``."""
        item, self.next_item = self.next_item, self.next_item + 1
        self.items[item] = Item(c, self.steps, insight)
        who.known.add(item)
        self.feeds[c].add(item)

    def originate(self) -> None:
        """Departments' best practices where they engage; insights from stakeholders' exchanges."""
        for d in self.departments:
            if d.budget > 0:
                for _ in range(self.rng.poisson(self.dyn.practice_rate)):
                    c = self.random.choices(list(d.effort), weights=list(d.effort.values()))[0]
                    self.new_item(d, c, False)
        for a, _, c in self.exchanges:
            if isinstance(a, Stakeholder) and c >= 0 and self.random.random() < self.dyn.insight_rate:
                self.new_item(a, c, True)

    def retire(self, ending: list[int]) -> None:
        """Items at the end of their life: who knew them, per community; then they are forgotten."""
        count = {i: np.zeros(self.n_communities) for i in ending}
        ends = set(ending)
        for agent in self.rows:
            knew = agent.known & ends
            for i in knew:
                a = self.items[i].origin
                home = a in agent.communities
                for b in agent.communities:
                    if not home or b == a:  # elsewhere only members not also in the origin count
                        count[i][b] += 1
            agent.known -= knew
        for i in ending:
            item = self.items.pop(i)
            for feed in self.feeds.values():
                feed.discard(i)
            self.open.flow_sum[item.origin] += count[i] / np.maximum(self.outside[item.origin], 1)
            self.open.flow_n[item.origin] += 1
            if item.insight:
                self.open.delays.append(item.reached_at - item.born if item.reached_at >= 0 else math.inf)

    # ------------------------------------------------------------------ measures

    def tie_descriptions(self) -> dict:
        """E-I index, modularity, practices and broker constraint of the ties and cultures now."""
        n, n_c = len(self.rows), self.n_communities
        row = {agent: i for i, agent in enumerate(self.rows)}
        graph = nx.to_scipy_sparse_array(self.ties, nodelist=self.rows, weight="weight", format="coo")
        strength = np.zeros((n, n_c))  # tie weight each agent holds in each community (both ends)
        for holder, partner, tie in self.ties.edges(data=True):
            if tie["context"] >= 0:
                strength[row[holder], tie["context"]] += tie["weight"]
                strength[row[partner], tie["context"]] += tie["weight"]
        partition = np.where(strength.max(axis=1) > 0, strength.argmax(axis=1), -1)
        block = metrics.block_matrix(graph, partition, n_c)
        depts = np.array([d.culture for d in self.departments])
        constraint = metrics.burt_constraint(graph, np.array([row[b] for b in self.brokers], dtype=np.int64))
        return {
            **metrics.structure(block, depts, constraint),
        }

    def measure(self) -> dict:
        """Close the interval since the last measurement; every measure and the verdict over the window now."""
        cfg = self.config.metrics
        if not self.intervals or self.intervals[-1].step < self.steps:
            self.open.step, self.open.ties = self.steps, self.tie_descriptions()
            self.intervals.append(self.open)
            self.open = Interval(self.n_communities)
        start = max(cfg.burn_in, self.steps - cfg.window) if self.steps > cfg.burn_in else 0
        window = [iv for iv in self.intervals if start < iv.step <= self.steps]
        flow_sum = sum(iv.flow_sum for iv in window)
        flow_n = sum(iv.flow_n for iv in window)
        present = self.member_count > 0
        flow = metrics.flow_matrix(flow_sum, flow_n)
        reach = metrics.cross_reach(flow, present)
        labels = metrics.silo_labels(flow, cfg.verdict.silo_floor, present)
        silos = metrics.silo_count(labels)
        largest = metrics.largest_merged_share(labels, self.member_count)
        per_interval = [metrics.cross_reach(metrics.flow_matrix(iv.flow_sum, iv.flow_n), present) for iv in window]
        change, error = metrics.trend(np.array([iv.step for iv in window]), np.array(per_interval))
        settled = self.steps > cfg.burn_in and metrics.converged(change, error, cfg.tolerance)
        capacity = sum(iv.capacity for iv in window)
        out = {
            "step": self.steps,
            "cross_reach": reach,
            "silo_count": silos,
            "largest_merged_share": largest,
            "reach_trend": change,
            "converged": float(settled),
            "time_to_insight": metrics.time_to_insight(np.array([d for iv in window for d in iv.delays])),
            "relay_load": sum(iv.spent for iv in window) / capacity if capacity > 0 else 0.0,
        }
        for name in window[-1].ties:  # tie descriptions: the mean over the window's measurements
            values = np.array([iv.ties[name] for iv in window], dtype=float)
            out[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        verdict, self.verdict_reason = metrics.verdict_reason(
            largest, silos, int(present.sum()), reach, **cfg.verdict.model_dump(exclude={"silo_floor"})
        )
        if verdict == "merged" and self.steps > cfg.burn_in and math.isnan(self.steps_to_merge):
            self.steps_to_merge = self.steps
        out["steps_to_merge"] = self.steps_to_merge
        out["verdict"] = verdict
        self.flow, self.silo_labels, self.measures = flow, labels, out
        return out
