"""The silosim Mesa model: an organisation, its communities and an ownership strategy.

Built only from a validated :class:`~silosim.scenario.Scenario` and a seed;
every random draw comes from the model's generator ``self.rng``. Agent state
lives in a :class:`~silosim.dynamics.World` of numpy arrays; the Mesa agents
(:mod:`silosim.agents`) are handles onto its rows.
"""

from __future__ import annotations

import functools
import math

import mesa
import numpy as np
import scipy.sparse as sp

from silosim import dynamics, metrics, rules
from silosim.agents import CommunityManager, Department, Stakeholder
from silosim.scenario import Scenario, apply_override, from_dict, to_dict

MEASURES = (
    "ei_index",
    "ei_baseline",
    "modularity",
    "silo_count",
    "largest_merged_share",
    "cross_reach",
    "time_to_insight",
    "practice_convergence",
    "practice_regions",
    "broker_constraint",
)


def _report(model: SiloModel, name: str) -> float | int | str:
    """DataCollector reporter: one value of the latest measurement."""
    return model.measures[name]


class SiloModel(mesa.Model):
    """An organisation whose communities either merge into one system or harden into silos.

    Rows of the state arrays: departments, then community managers, then
    stakeholders, in scenario order.
    """

    def __init__(self, scenario: Scenario, rng: int | None = None):
        """Build the organisation.

        Args:
            scenario: a validated scenario.
            rng: seed; the scenario's ``seed`` when None.
        """
        super().__init__(rng=scenario.seed if rng is None else rng)
        self.config = scenario
        org, dyn = scenario.organization, scenario.dynamics
        self.n_departments = len(org.departments)
        self.n_actors = self.n_departments + len(org.community_managers)
        group_sizes = np.array([g.count for g in org.stakeholders])
        group_start = self.n_actors + np.concatenate([[0], np.cumsum(group_sizes)[:-1]])
        n = self.n_actors + int(group_sizes.sum())
        n_c = len(scenario.communities)
        rng_ = self.rng

        culture = rng_.integers(0, dyn.traits, size=(n, dyn.features), dtype=np.int16)
        dept_row = {d.name: i for i, d in enumerate(org.departments)}
        for m, cm in enumerate(org.community_managers):  # a CM brings its department's ways
            if cm.home is not None:
                culture[self.n_departments + m] = culture[dept_row[cm.home]]

        # stakeholders join communities independently, group by group
        group_index = {g.group: k for k, g in enumerate(org.stakeholders)}
        pairs_row, pairs_comm = [], []
        for c, community in enumerate(scenario.communities):
            for group, share in community.members.items():
                k = group_index[group]
                joined = np.flatnonzero(rng_.random(group_sizes[k]) < share) + group_start[k] - self.n_actors
                pairs_row.append(joined)
                pairs_comm.append(np.full(joined.size, c))
        rows = np.concatenate(pairs_row) if pairs_row else np.zeros(0, dtype=np.int64)
        comms = np.concatenate(pairs_comm) if pairs_comm else np.zeros(0, dtype=np.int64)
        order = np.lexsort((comms, rows))
        n_s = n - self.n_actors
        activity = np.zeros(n)
        activity[self.n_actors :] = np.repeat([g.activity for g in org.stakeholders], group_sizes)
        k = dyn.max_ties
        self.world = dynamics.World(
            culture=culture,
            is_actor=np.arange(n) < self.n_actors,
            tie_partner=np.full((n, k), -1, dtype=np.int32),
            tie_weight=np.zeros((n, k), dtype=np.float32),
            tie_context=np.full((n, k), -1, dtype=np.int8),
            known=np.zeros(n, dtype=np.uint64),
            joined_ptr=np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=n_s))]).astype(np.int64),
            joined=comms[order].astype(np.int64),
            activity=activity,
            posted_in=np.zeros(n_c, dtype=np.uint64),
            item_origin=np.full(dynamics.N_ITEM_SLOTS, -1, dtype=np.int64),
            item_born=np.zeros(dynamics.N_ITEM_SLOTS, dtype=np.int64),
            item_insight=np.zeros(dynamics.N_ITEM_SLOTS, dtype=bool),
            item_reached=np.zeros(dynamics.N_ITEM_SLOTS, dtype=bool),
            item_delay_index=np.zeros(dynamics.N_ITEM_SLOTS, dtype=np.int64),
        )
        self.departments = Department.create_agents(
            self,
            self.n_departments,
            list(range(self.n_departments)),
            [d.name for d in org.departments],
            [d.headcount for d in org.departments],
            [d.reach for d in org.departments],
            [d.openness for d in org.departments],
        )
        cms = org.community_managers
        self.community_managers = CommunityManager.create_agents(
            self,
            len(cms),
            list(range(self.n_departments, self.n_actors)),
            [m.name for m in cms],
            [m.home for m in cms],
            [m.capacity for m in cms],
            [m.brokerage for m in cms],
        )
        for group, start, size in zip(org.stakeholders, group_start, group_sizes, strict=True):
            Stakeholder.create_agents(self, int(size), np.arange(start, start + size), group.group, group.external)

        self.measures: dict = {}
        self.datacollector = mesa.DataCollector(
            model_reporters={"step": functools.partial(_report, name="step")}
            | {name: functools.partial(_report, name=name) for name in (*MEASURES, "verdict")}
        )
        self.configure(scenario)
        self._apply_events(0)
        self.running = scenario.steps > 0

    # ------------------------------------------------------------------ configuration

    def configure(self, scenario: Scenario) -> None:
        """Apply a scenario's ownership rule and parameters (at build time and after events).

        Structure (agents, memberships, cultures, ties) is kept; everything
        derived from the ownership rule and the rates is recomputed.
        """
        self.config = scenario
        org, w = scenario.organization, self.world
        self.assignment = assignment = rules.assign(scenario)
        n_d, n_a, n_c = self.n_departments, self.n_actors, len(scenario.communities)
        headcount_reach = np.array([d.headcount * d.reach for d in org.departments])
        share = assignment.posting / np.maximum(assignment.posting.sum(axis=1, keepdims=True), 1e-12)
        effort = np.zeros((n_a, n_c))
        effort[:n_d] = headcount_reach[:, None] * share
        effort[n_d:] = scenario.dynamics.cm_exchanges * assignment.animates
        w.effort = effort
        participates = np.vstack([assignment.posting > 0, assignment.animates])
        dynamics.build_members(w, participates, n_a)
        w.activity[n_a:] = np.repeat([g.activity for g in org.stakeholders], [g.count for g in org.stakeholders])
        actor_rights = rules.relay_rights(scenario.ownership.cross_posting, participates, assignment.brokers)
        w.relay_mask = np.zeros(len(w.culture), dtype=np.uint64)
        w.relay_mask[:n_a] = _bits(actor_rights)
        w.relay_prob = np.zeros(len(w.culture))
        w.relay_prob[:n_d] = [d.reach for d in org.departments]
        w.relay_prob[n_d:n_a] = [m.brokerage for m in org.community_managers]
        w.member_mask = np.zeros(len(w.culture), dtype=np.uint64)
        w.member_mask[:n_a] = _bits(participates)
        s_rows = np.repeat(np.arange(len(w.joined_ptr) - 1), np.diff(w.joined_ptr)) + n_a
        np.bitwise_or.at(w.member_mask, s_rows, dynamics.ONE << w.joined.astype(np.uint64))
        if scenario.ownership.cross_posting == "open":  # stakeholders in several communities relay
            several = np.diff(w.joined_ptr) > 1
            w.relay_mask[n_a:] = np.where(several, w.member_mask[n_a:], np.uint64(0))
            w.relay_prob[n_a:] = scenario.dynamics.relay_rate
        row = {d.name: i for i, d in enumerate(org.departments)}
        row |= {m.name: n_d + i for i, m in enumerate(org.community_managers)}
        w.owner_row = np.array([row[o] for o in assignment.owners])
        self.council_rows = np.array([row[name] for name in assignment.council], dtype=np.int64)
        self.council_owned = [np.flatnonzero(w.owner_row == r) for r in self.council_rows]
        target = scenario.metrics.insight_target or ("rnd" if "rnd" in row else None)
        self.insight_target = row.get(target) if target in (d.name for d in org.departments) else None
        self.glue_row = row[scenario.ownership.glue] if scenario.ownership.rule == "glue" else None
        self.broker_rows = np.array(
            [*range(n_d, n_a)] + ([self.glue_row] if self.glue_row is not None else []), dtype=np.int64
        )

    def _apply_events(self, step: int) -> None:
        changes = [e for e in self.config.events if e.at == step]
        if not changes:
            return
        data = to_dict(self.config)
        for event in changes:
            for key, value in event.set.items():
                data = apply_override(data, key, value)
        self.configure(from_dict(data, source=f"event at step {step}"))

    # ------------------------------------------------------------------ dynamics

    def step(self) -> None:
        """One step: exchanges, ties, relays, council, pull, drift, new items, events, measures."""
        w, dyn, rng = self.world, self.config.dynamics, self.rng
        ex = dynamics.start_exchanges(w, rng, dyn.exploration, self.n_actors)
        own = self.config.ownership
        if own.rule == "federated" and self.steps % own.council_every == 0 and len(self.council_rows) > 1:
            ex = ex + dynamics.council(w, self.council_rows, self.council_owned, rng, own.cross_posting != "closed")
        interacted = dynamics.interact(w, ex, rng)
        dynamics.update_ties(w, ex, interacted, dyn.reinforcement, dyn.tie_decay, dyn.tie_floor)
        dynamics.relay(w, rng)
        dynamics.stakeholder_pull(w, dyn.stakeholder_pull, self.n_actors, rng)
        dynamics.drift(w, dyn.drift, dyn.traits, rng)
        self._originate(ex)
        if self.insight_target is not None:
            dynamics.track_insights(w, self.insight_target, self.steps)
        self._apply_events(self.steps)
        if self.steps % self.config.metrics.every == 0 or self.steps >= self.config.steps:
            self.collect()
        self.running = self.steps < self.config.steps

    def _originate(self, ex: dynamics.Exchanges) -> None:
        """Departments originate best practices, active stakeholders insights."""
        w, dyn, rng = self.world, self.config.dynamics, self.rng
        posting = self.assignment.posting
        for _ in range(rng.poisson(dyn.practice_rate)):
            d = int(rng.choice(self.n_departments, p=_norm(posting.sum(axis=1)))) if posting.any() else None
            if d is not None:
                c = int(rng.choice(posting.shape[1], p=_norm(posting[d])))
                dynamics.originate(w, self.steps, d, c, insight=False)
        insights = rng.poisson(dyn.insight_rate)
        stakeholders = np.flatnonzero(~w.is_actor[ex.initiator] & (ex.context >= 0)) if insights else None
        for _ in range(insights):
            if stakeholders.size == 0:
                break
            e = stakeholders[rng.integers(stakeholders.size)]
            dynamics.originate(w, self.steps, int(ex.initiator[e]), int(ex.context[e]), insight=True)

    # ------------------------------------------------------------------ measures

    def tie_graph(self) -> sp.coo_array:
        """The tie graph (agents × agents), one entry per tie; read as undirected by the measures."""
        return self._ties()[0]

    def primary_communities(self) -> np.ndarray:
        """Each agent's primary community: where it holds most tie weight (−1: no ties)."""
        return metrics.primary_community(*self._ties(), len(self.config.communities))

    def _ties(self) -> tuple[sp.coo_array, np.ndarray]:
        """Every tie as a COO entry holder → partner, and the community it lives in."""
        w = self.world
        n, k = w.tie_partner.shape
        slots = np.flatnonzero(w.tie_partner.ravel() >= 0)
        graph = sp.coo_array((w.tie_weight.ravel()[slots], (slots // k, w.tie_partner.ravel()[slots])), shape=(n, n))
        return graph, w.tie_context.ravel()[slots]

    def measure(self) -> dict:
        """Compute every measure and the verdict from the current state."""
        w, cfg = self.world, self.config
        graph, community = self._ties()
        n_c = len(cfg.communities)
        partition = metrics.primary_community(graph, community, n_c)
        block = metrics.block_matrix(graph, partition, n_c)
        sizes = np.bincount(partition[partition >= 0], minlength=n_c)
        labels = metrics.silo_labels(block, cfg.metrics.verdict.silo_floor, present=sizes > 0)
        n_silos = metrics.silo_count(labels)
        largest = metrics.largest_merged_share(labels, sizes)
        live = np.where(w.item_born < self.steps, w.item_origin, -1)
        depts = w.culture[: self.n_departments]
        reach = metrics.cross_reach(w.known, live, w.member_mask)
        constraint = metrics.burt_constraint(graph, self.broker_rows) if self.broker_rows.size else []
        self.measures = {
            "step": self.steps,
            "ei_index": metrics.ei_from_block(block),
            "ei_baseline": metrics.ei_baseline_from_block(block),
            "modularity": metrics.modularity_from_block(block),
            "silo_count": n_silos,
            "largest_merged_share": largest,
            "cross_reach": reach,
            "time_to_insight": metrics.time_to_insight(np.array(w.insight_delays)),
            "practice_convergence": metrics.practice_convergence(depts),
            "practice_regions": metrics.culture_regions(depts),
            "broker_constraint": float(np.nanmean(constraint)) if np.any(np.isfinite(constraint)) else math.nan,
        }
        self.measures["verdict"], self.verdict_reason = metrics.verdict_reason(
            largest,
            n_silos,
            int((sizes > 0).sum()),
            reach,
            **cfg.metrics.verdict.model_dump(exclude={"silo_floor"}),
        )
        self.silo_labels = labels
        self.community_block = block
        self.community_sizes = sizes
        self.constraint = dict(zip(self.broker_names(), map(float, constraint), strict=True))
        return self.measures

    def broker_names(self) -> list[str]:
        """Names of the community managers and the glue department, in broker_rows order."""
        names = [a.name for a in self.departments] + [a.name for a in self.community_managers]
        return [names[r] for r in self.broker_rows]

    def collect(self) -> None:
        """Measure now and record it in the DataCollector (once per step)."""
        if self.measures.get("step") != self.steps:
            self.measure()
            self.datacollector.collect(self)


def _bits(matrix: np.ndarray) -> np.ndarray:
    """Rows of a bool matrix as uint64 bit masks."""
    weights = dynamics.ONE << np.arange(matrix.shape[1], dtype=np.uint64)
    return (
        np.bitwise_or.reduce(np.where(matrix, weights, np.uint64(0)), axis=1)
        if matrix.size
        else np.zeros(len(matrix), dtype=np.uint64)
    )


def _norm(weights: np.ndarray) -> np.ndarray:
    weights = np.asarray(weights, dtype=float)
    return weights / weights.sum()
