"""silosim's rules in plain per-agent Mesa: the speed baseline and the docking partner of the fast engine.

What a modeller would write without silosim's vectorised engine: every agent
is a Python object with its own ``step``, activated once per step in a new
random order (``model.agents.shuffle_do("step")``, asynchronous update), and
ties live in a networkx ``DiGraph`` (an edge holder → partner is a tie kept in
the holder's slots, at most ``max_ties`` per holder, as in silosim).

Built from the same validated Scenario; the ownership rule (silosim.rules) is
configuration and the measures (silosim.metrics) are pure functions, so both
are reused: only the per-agent dynamics are written again, from the rules in
the README ("The model"):

* homophilous exchange (Axelrod 1997): interact with probability equal to the
  share of identical features; the initiator copies one differing feature;
  items posted in the community pass both ways;
* ties: +reinforcement × (1 − w) on interaction, × (1 − tie_decay) each step,
  dropped under tie_floor; a department engaging a stakeholder leaves the tie
  in the stakeholder's slots; a new tie takes an empty or the weakest slot;
* items: departments originate best practices, acting stakeholders insights;
  64 live at most (the oldest is forgotten); brokers allowed by the
  cross-posting policy relay what they know into their other communities;
  federated owners meet in council;
* stakeholder pull and drift (Klemm et al. 2003).

Being asynchronous, an agent sees what earlier agents did in the same step:
an item can travel several hops in one step, a department copies a feature
in every exchange where it interacts, and a stakeholder engaged by several
actors may form several new ties. The fast engine is synchronous (see
silosim.dynamics and dock_reference.py for what that changes).

    from reference_mesa import ReferenceModel
    model = ReferenceModel(silosim.scenario.load("scenarios/default.yaml"))
    for _ in range(100):
        model.step()
    model.measure()   # {"silo_count": ..., "ei_index": ..., "cross_reach": ..., ...}

Events are not modelled (the scenario must have none).
"""

from __future__ import annotations

import itertools
from collections import Counter

import mesa
import networkx as nx
import numpy as np

from silosim import metrics, rules
from silosim.scenario import Scenario

ORG_CHANNEL = -1  # tie context of council meetings (not a community)
MAX_ITEMS = 64  # live items at most, as in the fast engine; the oldest is forgotten


class Member(mesa.Agent):
    """Anything that takes part in communities: traits, known items, tie upkeep, relay, drift."""

    def __init__(self, model: ReferenceModel, culture: list[int]):
        super().__init__(model)
        self.culture = culture  # practice or viewpoint traits, one per feature
        self.known: set[int] = set()  # items this agent knows
        self.relay_into: list[int] = []  # communities it may cross-post into
        self.relay_chance = 0.0

    def age_ties(self) -> None:
        """The ties I keep lose a share of their weight; the weakest are dropped."""
        ties, dyn = self.model.ties, self.model.dyn
        for partner, tie in list(ties.adj[self].items()):
            tie["weight"] *= 1 - dyn.tie_decay
            if tie["weight"] < dyn.tie_floor:
                ties.remove_edge(self, partner)

    def relay(self) -> None:
        """With my relay chance, cross-post everything I know into the communities I may relay into."""
        if self.relay_into and self.random.random() < self.relay_chance:
            for c in self.relay_into:
                self.model.posted[c] |= self.known

    def drift(self) -> None:
        """With chance ``drift``, take a random trait on one random feature (noise)."""
        if self.random.random() < self.model.dyn.drift:
            self.culture[self.random.randrange(len(self.culture))] = self.random.randrange(self.model.dyn.traits)


class Stakeholder(Member):
    """A customer, partner, candidate or employee: acts in one of its communities when active."""

    def __init__(self, model: ReferenceModel, culture: list[int], group: str, activity: float, communities: list):
        super().__init__(model, culture)
        self.group, self.activity, self.communities = group, activity, communities

    def step(self) -> None:
        """Keep ties, maybe exchange in one of my communities, maybe relay, drift."""
        m = self.model
        self.age_ties()
        if self.communities and self.random.random() < self.activity:
            c = self.random.choice(self.communities)
            here = [(partner, tie["weight"]) for partner, tie in m.ties.adj[self].items() if tie["context"] == c]
            if here and self.random.random() >= m.dyn.exploration:
                partner = self.random.choices([p for p, _ in here], weights=[w for _, w in here])[0]
            else:
                partner = m.newcomer(c)
            if partner is not None and partner is not self:
                m.exchange(self, partner, c)
                m.stakeholder_exchanges.append((self, c))
        self.relay()
        self.drift()


class Actor(Member):
    """A department or community manager: engages members at random in its communities."""

    def __init__(self, model: ReferenceModel, culture: list[int], name: str):
        super().__init__(model, culture)
        self.name = name
        self.effort: dict[int, float] = {}  # community → expected exchanges per step (0 = present, idle)
        self.owns: list[int] = []

    def step(self) -> None:
        """Keep ties, engage members, relay, listen to my stakeholders, drift."""
        m = self.model
        self.age_ties()
        for c, effort in self.effort.items():
            n = int(effort) + (self.random.random() < effort - int(effort))
            for _ in range(n):
                partner = m.newcomer(c)
                if partner is not None and partner is not self:
                    m.exchange(self, partner, c)
        self.relay()
        for c in self.owns:  # stakeholder pull: adopt my stakeholders' majority trait on one feature
            if self.random.random() < m.dyn.stakeholder_pull and m.stakeholders_of[c]:
                heard = self.random.choices(m.stakeholders_of[c], k=min(64, len(m.stakeholders_of[c])))
                f = self.random.randrange(len(self.culture))
                counts = Counter(s.culture[f] for s in heard)
                self.culture[f] = max(counts, key=lambda trait: (counts[trait], -trait))
        self.drift()


class Department(Actor):
    """A business function acting as one actor."""


class CommunityManager(Actor):
    """A person animating communities for a department, or hired outside the org chart."""


class ReferenceModel(mesa.Model):
    """The organisation, stepped agent by agent in random order."""

    def __init__(self, scenario: Scenario, rng: int | None = None):
        super().__init__(rng=scenario.seed if rng is None else rng)
        if scenario.events:
            raise NotImplementedError("the per-agent reference does not model events")
        self.config, self.dyn = scenario, scenario.dynamics
        org, dyn, n_c = scenario.organization, scenario.dynamics, len(scenario.communities)

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
        self.rows = [*self.departments, *self.community_managers, *self.stakeholders]  # silosim's row order
        self.ties = nx.DiGraph()
        self.ties.add_nodes_from(self.rows)

        # ownership (configuration, reused from silosim.rules)
        a = rules.assign(scenario)
        self.assignment = a
        participates = np.vstack([a.posting > 0, a.animates])
        rights = rules.relay_rights(scenario.ownership.cross_posting, participates, a.brokers)
        actors = [*self.departments, *self.community_managers]
        share = a.posting / np.maximum(a.posting.sum(axis=1, keepdims=True), 1e-12)
        for i, (dept, spec) in enumerate(zip(self.departments, org.departments, strict=True)):
            dept.effort = {int(c): spec.headcount * spec.reach * share[i, c] for c in np.flatnonzero(participates[i])}
            dept.relay_chance = spec.reach
        for i, (cm, spec) in enumerate(zip(self.community_managers, org.community_managers, strict=True)):
            cm.effort = {int(c): float(dyn.cm_exchanges) for c in np.flatnonzero(a.animates[i])}
            cm.relay_chance = spec.brokerage
        for i, actor in enumerate(actors):
            actor.relay_into = [int(c) for c in np.flatnonzero(rights[i])]
            actor.owns = [c for c, owner in enumerate(a.owners) if owner == actor.name]
        if scenario.ownership.cross_posting == "open":  # stakeholders in several communities relay
            for s in self.stakeholders:
                if len(s.communities) > 1:
                    s.relay_into, s.relay_chance = list(s.communities), dyn.relay_rate
        self.council_members = [by_name[name] for name in a.council]

        # who can be met in each community, in proportion to effort (actors) or activity (stakeholders)
        members: list[list[Member]] = [[] for _ in range(n_c)]
        weights: list[list[float]] = [[] for _ in range(n_c)]
        self.member_of: dict[Member, list[int]] = {}
        for actor in actors:
            self.member_of[actor] = list(actor.effort)
            for c, effort in actor.effort.items():
                members[c].append(actor)
                weights[c].append(effort)
        self.stakeholders_of: list[list[Stakeholder]] = [[] for _ in range(n_c)]
        for s in self.stakeholders:
            self.member_of[s] = s.communities
            for c in s.communities:
                members[c].append(s)
                weights[c].append(s.activity)
                self.stakeholders_of[c].append(s)
        self.members = members
        self.cum_visibility = [list(itertools.accumulate(w)) for w in weights]

        self.posted: list[set[int]] = [set() for _ in range(n_c)]  # items posted in each community
        self.items: dict[int, tuple[int, int]] = {}  # live item → (origin community, step born), oldest first
        self.next_item = 0
        self.stakeholder_exchanges: list[tuple[Stakeholder, int]] = []
        self.running = scenario.steps > 0

    # ------------------------------------------------------------------ interactions

    def newcomer(self, c: int) -> Member | None:
        """A member of community ``c`` met at random, in proportion to visibility (None if nobody)."""
        cum = self.cum_visibility[c]
        if not cum or cum[-1] <= 0:
            return None
        return self.random.choices(self.members[c], cum_weights=cum)[0]

    def exchange(self, a: Member, b: Member, context: int) -> None:
        """Axelrod's rule between initiator ``a`` and partner ``b``, then items and the tie."""
        differing = [f for f, (x, y) in enumerate(zip(a.culture, b.culture, strict=True)) if x != y]
        if self.random.random() >= 1 - len(differing) / len(a.culture):
            return  # no interaction
        if differing:
            f = self.random.choice(differing)
            a.culture[f] = b.culture[f]
        if context == ORG_CHANNEL:
            a_learns, b_learns = b.known - a.known, a.known - b.known
        else:
            visible = self.posted[context]
            a_learns, b_learns = (b.known & visible) - a.known, (a.known & visible) - b.known
        a.known |= a_learns
        b.known |= b_learns
        self.strengthen(a, b, context)

    def strengthen(self, a: Member, b: Member, context: int) -> None:
        """Reinforce (or form) the tie; the stakeholder keeps it when an actor engaged it."""
        holder, other = (b, a) if isinstance(a, Actor) and isinstance(b, Stakeholder) else (a, b)
        slots, r = self.ties.adj[holder], self.dyn.reinforcement
        if other in slots:
            tie = slots[other]
            tie["weight"] += r * (1 - tie["weight"])
            tie["context"] = context
            return
        if len(slots) >= self.dyn.max_ties:
            weakest = min(slots, key=lambda p: slots[p]["weight"])
            self.ties.remove_edge(holder, weakest)
        self.ties.add_edge(holder, other, weight=r, context=context)

    def council(self) -> None:
        """Federated owners meet: each relays into what it owns, then every pair exchanges."""
        if self.config.ownership.cross_posting != "closed":
            for owner in self.council_members:
                for c in owner.owns:
                    self.posted[c] |= owner.known
        pairs = list(itertools.combinations(self.council_members, 2))
        self.random.shuffle(pairs)
        for a, b in pairs:
            self.exchange(*((b, a) if self.random.random() < 0.5 else (a, b)), ORG_CHANNEL)

    def originate(self, who: Member, c: int) -> None:
        """A new item known to ``who`` and posted in ``c``; beyond 64 live items everyone forgets the oldest."""
        if len(self.items) >= MAX_ITEMS:
            oldest = next(iter(self.items))
            del self.items[oldest]
            for agent in self.rows:
                agent.known.discard(oldest)
            for posted in self.posted:
                posted.discard(oldest)
        item, self.next_item = self.next_item, self.next_item + 1
        self.items[item] = (c, self.steps)
        who.known.add(item)
        self.posted[c].add(item)

    def step(self) -> None:
        """Council (federated), every agent's step in random order, then new items."""
        own = self.config.ownership
        if own.rule == "federated" and self.steps % own.council_every == 0 and len(self.council_members) > 1:
            self.council()
        self.stakeholder_exchanges = []
        self.agents.shuffle_do("step")
        posting = self.assignment.posting
        for _ in range(self.rng.poisson(self.dyn.practice_rate)):
            if posting.any():
                d = self.random.choices(range(len(posting)), weights=posting.sum(axis=1))[0]
                c = self.random.choices(range(posting.shape[1]), weights=posting[d])[0]
                self.originate(self.departments[d], c)
        for _ in range(self.rng.poisson(self.dyn.insight_rate)):
            if self.stakeholder_exchanges:
                self.originate(*self.random.choice(self.stakeholder_exchanges))
        self.running = self.steps < self.config.steps

    # ------------------------------------------------------------------ measures

    def measure(self) -> dict:
        """The structural and information measures, with silosim.metrics (same definitions as SiloModel)."""
        n, n_c = len(self.rows), len(self.config.communities)
        row = {agent: i for i, agent in enumerate(self.rows)}
        graph = nx.to_scipy_sparse_array(self.ties, nodelist=self.rows, weight="weight", format="coo")
        strength = np.zeros((n, n_c))  # tie weight each agent holds in each community (both ends)
        for holder, partner, tie in self.ties.edges(data=True):
            if tie["context"] >= 0:
                strength[row[holder], tie["context"]] += tie["weight"]
                strength[row[partner], tie["context"]] += tie["weight"]
        partition = np.where(strength.max(axis=1) > 0, strength.argmax(axis=1), -1)
        block = metrics.block_matrix(graph, partition, n_c)
        sizes = np.bincount(partition[partition >= 0], minlength=n_c)
        labels = metrics.silo_labels(block, self.config.metrics.verdict.silo_floor, present=sizes > 0)
        live = [item for item, (_, born) in self.items.items() if born < self.steps]
        bit = {item: b for b, item in enumerate(live)}
        known = np.array([sum(1 << bit[i] for i in a.known if i in bit) for a in self.rows], dtype=np.uint64)
        membership = np.array([sum(1 << c for c in self.member_of[a]) for a in self.rows], dtype=np.uint64)
        origin = np.array([self.items[item][0] for item in live], dtype=np.int64)
        largest, silos = metrics.largest_merged_share(labels, sizes), metrics.silo_count(labels)
        reach = metrics.cross_reach(known, origin, membership)
        verdict = metrics.verdict(
            largest,
            silos,
            int((sizes > 0).sum()),
            reach,
            **self.config.metrics.verdict.model_dump(exclude={"silo_floor"}),
        )
        return {
            "step": self.steps,
            "ei_index": metrics.ei_from_block(block),
            "ei_baseline": metrics.ei_baseline_from_block(block),
            "modularity": metrics.modularity_from_block(block),
            "silo_count": silos,
            "largest_merged_share": largest,
            "cross_reach": reach,
            "practice_convergence": metrics.practice_convergence(np.array([d.culture for d in self.departments])),
            "verdict": verdict,
        }
