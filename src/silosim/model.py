"""The silosim Mesa model: an organisation, its communities and an ownership strategy.

Built only from a validated :class:`~silosim.scenario.Scenario` and a seed;
every random draw comes from the model's generator ``self.rng``. Agent state
lives in a :class:`~silosim.dynamics.World` of numpy arrays drawn by
:func:`silosim.world.build_world`; the Mesa agents (:mod:`silosim.agents`) are
handles onto its rows; the step is a sequence of :mod:`silosim.dynamics` phases.
"""

from __future__ import annotations

import functools
import math
import numbers
import os
from dataclasses import dataclass, field
from typing import Any

import mesa
import numpy as np
import pandas as pd
import scipy.sparse as sp

from silosim import agents, dynamics, metrics, needs, rules
from silosim.metrics import MEASURES
from silosim.scenario import Scenario, changed, from_dict, load
from silosim.world import build_world


def _report(model: SiloModel, name: str) -> float | int | str:
    """DataCollector reporter: one value of the latest measurement."""
    return model.measures[name]


# one column per measure; named module-level reporters pickle (process pools, Mesa's batch_run)
REPORTERS = {name: functools.partial(_report, name=name) for name in ("step", *MEASURES, "verdict")}


class SiloModel(mesa.Model):
    """An organisation whose communities either merge into one system or harden into silos.

    Rows of the state arrays: departments, then community managers, then
    stakeholders, in scenario order (:mod:`silosim.world`).

    Built as Mesa's tools build models, ``SiloModel(**params)``:
    ``SiloModel("scenarios/default.yaml", rng=2, steps=150, **{"ownership.cross_posting": "open"})``.
    """

    def __init__(self, scenario: Scenario | str | os.PathLike | dict, *, rng: int | None = None, **changes: Any):
        """Build the organisation.

        Args:
            scenario: a validated scenario, a scenario YAML file, or a scenario as a mapping.
            rng: the seed, in place of the scenario's ``seed`` (``model.config.seed`` then holds it);
                an int, so that the scenario and its seed say how to repeat the run.
            **changes: dotted scenario keys to set, as ``--set`` spells them (``steps=150``,
                ``**{"ownership.rule": "glue"}``), applied by :func:`silosim.scenario.changed`.

        Raises:
            ScenarioError: the scenario, or the scenario with the changes, is invalid, or a change names no
                scenario key.
            TypeError: ``rng`` is not an int.
        """
        scenario = _scenario(scenario, rng, changes)
        super().__init__(rng=scenario.seed)
        built = build_world(scenario, self.rng)
        self.world, self.items, self.needs = built.world, built.items, built.needs
        self.needs_shared, self.needs_base, self.group_of = built.needs_shared, built.needs_base, built.group_of
        self.group_members, self.n_departments, self.n_actors = built.group_members, built.n_departments, built.n_actors
        self.departments, self.community_managers = agents.populate(self, scenario.organization)
        self.measures: dict = {}
        self.steps_to_merge = math.nan
        self._intervals: list[Interval] = []
        self._open = Interval.empty(len(scenario.communities), self.n_actors)
        self.datacollector = mesa.DataCollector(model_reporters=REPORTERS)
        self.configure(scenario)
        self._apply_events(0)
        self.running = scenario.steps > 0

    def timeseries(self) -> pd.DataFrame:
        """The measurements recorded so far, one row each (``step``, every measure, ``verdict``).

        The frame :attr:`silosim.runner.RunResult.timeseries` holds; call :meth:`collect` first to
        include the current step.
        """
        return self.datacollector.get_model_vars_dataframe()

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
        dyn = scenario.dynamics
        # one capacity per actor and step, in exchanges: departments headcount × reach, CMs cm_exchanges × capacity
        budget = np.concatenate([[d.headcount * d.reach for d in org.departments],
                                 [dyn.cm_exchanges * m.capacity for m in org.community_managers]])  # fmt: skip
        spread = np.vstack([assignment.posting, assignment.animates.astype(float)])
        spread = spread / np.maximum(spread.sum(axis=1, keepdims=True), 1e-12)
        w.budget = np.where(spread.sum(axis=1) > 0, budget, 0.0)  # an actor in no community spends nothing
        w.effort = w.budget[:, None] * spread
        if w.relay_credit is None or len(w.relay_credit) != n_a:
            w.relay_credit = np.zeros(n_a)
        w.reads = np.ones(len(w.culture))
        w.reads[:n_a] = 1 / np.maximum(w.budget, 1)  # an actor reads feeds at the rate of one person
        participates = np.vstack([assignment.posting > 0, assignment.animates]) & (w.budget[:, None] > 0)
        dynamics.build_members(w, participates, n_a)  # an actor with no capacity takes part nowhere
        w.activity[n_a:] = np.repeat([g.activity for g in org.stakeholders], [g.count for g in org.stakeholders])
        actor_rights = rules.relay_rights(scenario.ownership.cross_posting, participates, assignment.brokers)
        n = len(w.culture)
        w.relay_mask = np.zeros(n, dtype=np.uint64)
        w.relay_mask[:n_a] = _bits(actor_rights)
        w.member_mask = np.zeros(n, dtype=np.uint64)
        w.member_mask[:n_a] = _bits(participates)
        s_rows = np.repeat(np.arange(len(w.joined_ptr) - 1), np.diff(w.joined_ptr)) + n_a
        np.bitwise_or.at(w.member_mask, s_rows, dynamics.ONE << w.joined.astype(np.uint64))
        if scenario.ownership.cross_posting == "open":  # stakeholders in several communities cross-post
            several = np.diff(w.joined_ptr) > 1
            w.relay_mask[n_a:] = np.where(several, w.member_mask[n_a:], np.uint64(0))
        a_rows, a_comm = np.nonzero(participates)
        belong_rows = np.concatenate([a_rows, s_rows])
        belong_comm = np.concatenate([a_comm, w.joined])
        order = np.argsort(belong_rows, kind="stable")
        w.belongs = belong_comm[order].astype(np.int64)
        w.belongs_ptr = np.concatenate([[0], np.cumsum(np.bincount(belong_rows, minlength=n))]).astype(np.int64)
        w.member_count = np.bincount(belong_comm, minlength=n_c)
        incidence = sp.csr_array((np.ones(belong_rows.size), (belong_rows, belong_comm)), shape=(n, n_c))
        overlap = (incidence.T @ incidence).toarray()
        w.outside = w.member_count[None, :] - overlap
        np.fill_diagonal(w.outside, w.member_count)
        row = {d.name: i for i, d in enumerate(org.departments)}
        row |= {m.name: n_d + i for i, m in enumerate(org.community_managers)}
        w.owner_row = np.array([row[o] for o in assignment.owners])
        self.council_rows = np.array([row[name] for name in assignment.council], dtype=np.int64)
        target = scenario.metrics.insight_target or ("rnd" if "rnd" in row else None)
        self.insight_target = row.get(target) if target in (d.name for d in org.departments) else None
        self.glue_row = row[scenario.ownership.glue] if scenario.ownership.rule == "glue" else None
        self.broker_rows = np.array(
            [*range(n_d, n_a)] + ([self.glue_row] if self.glue_row is not None else []), dtype=np.int64
        )

    def _apply_events(self, step: int) -> None:
        changes = {key: value for e in self.config.events if e.at == step for key, value in e.set.items()}
        if changes:
            self.configure(changed(self.config, changes, source=f"event at step {step}"))

    # ------------------------------------------------------------------ dynamics

    def step(self) -> None:
        """One step: cross-posts, exchanges, ties, council, learning, drift, new and ended items, events, measures."""
        w, items, dyn, rng = self.world, self.items, self.config.dynamics, self.rng
        stakeholder_rate = dyn.relay_rate if self.config.ownership.cross_posting == "open" else 0.0
        posts, spent, busy = dynamics.relay(
            w, items, rng, dyn.relay_cost, stakeholder_rate, self.n_actors, dyn.relay_share
        )
        ex = dynamics.start_exchanges(w, rng, dyn.exploration, self.n_actors, spent, busy)
        own = self.config.ownership
        if own.rule == "federated" and self.steps % own.council_every == 0 and len(self.council_rows) > 1:
            ex = ex + dynamics.council(self.council_rows, rng)
        interacted = dynamics.interact(w, items, ex, rng, dyn.word_of_mouth)
        dynamics.update_ties(w, ex, interacted, dyn.reinforcement, dyn.tie_decay, dyn.tie_floor)
        needs.change_needs(self.needs, self.needs_shared, self.needs_base, dyn.turbulence, dyn.traits, rng)
        dynamics.learn_needs(w, self.needs, self.group_of, self.n_actors, dyn.need_learning, rng)
        dynamics.owners_learn(w, items, self.needs, self.group_of, ex, self.n_actors, dyn.stakeholder_pull, rng)
        dynamics.drift(w, dyn.drift, dyn.traits, rng)
        self._open.add_step(w, ex, posts, spent, self.n_actors)
        self._record(self._originate(ex))
        if self.insight_target is not None:
            dynamics.track_insights(items, self.insight_target, self.steps)
        self._record(dynamics.expire(w, items, self.steps, dyn.item_lifetime))
        self._apply_events(self.steps)
        if self.steps % self.config.metrics.every == 0 or self.steps >= self.config.steps:
            self.collect()
        self.running = self.steps < self.config.steps

    def _originate(self, ex: dynamics.Exchanges) -> dynamics.Retired | None:
        """Departments originate best practices where they engage; active stakeholders' exchanges, insights."""
        w, dyn, rng = self.world, self.config.dynamics, self.rng
        effort = w.effort[: self.n_departments]
        total = effort.sum(axis=1)
        practices = rng.poisson(dyn.practice_rate, size=self.n_departments) * (total > 0)
        d_rows = np.repeat(np.arange(self.n_departments), practices)
        cum = np.cumsum(effort[d_rows], axis=1)
        d_comm = (cum < rng.random(d_rows.size)[:, None] * cum[:, -1:]).sum(axis=1)
        by_stakeholder = np.flatnonzero(~w.is_actor[ex.initiator] & (ex.context >= 0))
        by_stakeholder = by_stakeholder[rng.random(by_stakeholder.size) < dyn.insight_rate]
        rows = np.concatenate([d_rows, ex.initiator[by_stakeholder]])
        comms = np.concatenate([d_comm, ex.context[by_stakeholder]])
        insight = np.arange(rows.size) >= d_rows.size
        return dynamics.originate(w, self.items, self.steps, rows, comms, insight)

    def _record(self, retired: dynamics.Retired | None) -> None:
        """Count the flow of items that ended into the current measurement interval."""
        if retired is not None:
            self._open.add_retired(retired)

    # ------------------------------------------------------------------ measures

    def tie_graph(self) -> sp.coo_array:
        """The tie graph (agents × agents), one entry per tie; read as undirected by the measures."""
        return self._ties()[0]

    def _ties(self) -> tuple[sp.coo_array, np.ndarray]:
        """Every tie as a COO entry holder → partner, and the community it lives in."""
        w = self.world
        n, k = w.tie_partner.shape
        slots = np.flatnonzero(w.tie_partner.ravel() >= 0)
        graph = sp.coo_array((w.tie_weight.ravel()[slots], (slots // k, w.tie_partner.ravel()[slots])), shape=(n, n))
        return graph, w.tie_context.ravel()[slots]

    def _tie_snapshot(self) -> dict:
        """Descriptions of the tie structure, of practices and of their fit to needs now (not part of the verdict)."""
        graph, community = self._ties()
        n_c = len(self.config.communities)
        partition = metrics.primary_community(graph, community, n_c)
        block = metrics.block_matrix(graph, partition, n_c)
        depts = self.world.culture[: self.n_departments]
        constraint = metrics.burt_constraint(graph, self.broker_rows) if self.broker_rows.size else np.zeros(0)
        self.tie_block = block
        self.constraint = dict(zip(self.broker_names(), map(float, constraint), strict=True))
        return {
            **metrics.structure(block, depts, constraint),
            "fit": metrics.fit(self.world.culture[: self.n_actors], self.world.effort, self.needs, self.group_members),
            "knowledge": metrics.knowledge(self.world.culture[: self.n_actors], self.needs, self.group_members),
            "practice_diversity": metrics.practice_diversity(self.world.culture[: self.n_actors]),
        }

    def window_start(self, step: int | None = None) -> int:
        """The measurement window ending at ``step`` is (start, step]: the last ``window`` steps after burn-in."""
        cfg, step = self.config.metrics, self.steps if step is None else step
        return max(cfg.burn_in, step - cfg.window) if step > cfg.burn_in else 0

    def measure(self) -> dict:
        """Close the current interval and compute every measure and the verdict over the window ending now.

        Measuring twice at one step returns the first measurement (an interval is closed once).
        """
        cfg, w = self.config, self.world
        if self.measures.get("step") == self.steps:
            return self.measures
        self._open.step, self._open.ties = self.steps, self._tie_snapshot()
        self._intervals.append(self._open)
        self._open = Interval.empty(len(cfg.communities), self.n_actors)
        start = self.window_start()
        window = [iv for iv in self._intervals if start < iv.step <= self.steps]
        pooled = Interval.pool(window)
        present = w.member_count > 0
        self.flow = metrics.flow_matrix(pooled.flow_sum, pooled.flow_n)
        reach = metrics.cross_reach(self.flow, present)
        labels = metrics.silo_labels(self.flow, cfg.metrics.verdict.silo_floor, present)
        n_silos = metrics.silo_count(labels)
        largest = metrics.largest_merged_share(labels, w.member_count)
        per_interval = [metrics.cross_reach(metrics.flow_matrix(iv.flow_sum, iv.flow_n), present) for iv in window]
        steps = np.array([iv.step for iv in window])
        change, error = metrics.trend(*metrics.batch_means(steps, np.array(per_interval)), span=self.steps - start)
        settled = self.steps > cfg.metrics.burn_in and metrics.converged(change, error, cfg.metrics.tolerance)
        self.measures = {
            "step": self.steps,
            "cross_reach": reach,
            "silo_count": n_silos,
            "largest_merged_share": largest,
            "reach_trend": change,
            "converged": float(settled),
            "time_to_insight": metrics.time_to_insight(np.array(pooled.delays)),
            "relay_load": float(pooled.spent.sum() / pooled.capacity.sum()) if pooled.capacity.sum() > 0 else 0.0,
        }
        for name in window[-1].ties:  # tie descriptions: the mean over the window's measurements
            values = np.array([iv.ties[name] for iv in window], dtype=float)
            self.measures[name] = float(np.nanmean(values)) if np.isfinite(values).any() else math.nan
        verdict, self.verdict_reason = metrics.verdict_reason(
            largest, n_silos, int(present.sum()), reach, **cfg.metrics.verdict.model_dump(exclude={"silo_floor"})
        )
        if pooled.flow_n.sum() == 0:  # nothing to judge yet: items are counted when they end
            verdict = "n/a"
            self.verdict_reason = f"no item has ended yet (items live {cfg.dynamics.item_lifetime} steps)"
        if verdict == "merged" and self.steps > cfg.metrics.burn_in and math.isnan(self.steps_to_merge):
            self.steps_to_merge = self.steps
        self.measures["steps_to_merge"] = self.steps_to_merge
        self.measures["verdict"] = verdict
        self.window_items = int(pooled.flow_n.sum())
        self.window_engaged = pooled.engaged
        self.window_posts = pooled.posts
        self.silo_labels = labels
        self.community_sizes = w.member_count
        return self.measures

    def verdict_variants(self, factors: tuple[float, ...] = (0.5, 1.5)) -> dict[str, str]:
        """The verdict of the current window with each threshold moved by each factor (the others kept).

        Keys read ``"silo_floor x0.5"``; shares are capped at 1 (``silo_floor`` below 1).
        """
        base = self.config.metrics.verdict.model_dump()
        present = self.world.member_count > 0
        reach = self.measures["cross_reach"]
        out = {}
        for key in base:
            for factor in factors:
                t = dict(base, **{key: min(base[key] * factor, 0.999 if key == "silo_floor" else 1.0)})
                labels = metrics.silo_labels(self.flow, t.pop("silo_floor"), present)
                largest = metrics.largest_merged_share(labels, self.world.member_count)
                out[f"{key} x{factor:g}"] = metrics.verdict(
                    largest, metrics.silo_count(labels), int(present.sum()), reach, **t
                )
        return out

    def broker_names(self) -> list[str]:
        """Names of the community managers and the glue department, in broker_rows order."""
        names = [a.name for a in self.departments] + [a.name for a in self.community_managers]
        return [names[r] for r in self.broker_rows]

    def collect(self) -> None:
        """Measure now and record it in the DataCollector (once per step)."""
        if self.measures.get("step") != self.steps:
            self.measure()
            self.datacollector.collect(self)


@dataclass
class Interval:
    """What happened between two measurements: items that ended, and how actors spent their capacity."""

    flow_sum: np.ndarray  # (C × C) Σ over ended items from a of the share of b's members who knew it
    flow_n: np.ndarray  # (C,) ended items by origin community
    delays: list  # steps for each ended insight to reach the target (inf: never)
    posts: np.ndarray  # (actors,) items cross-posted
    spent: np.ndarray  # (actors,) capacity spent cross-posting
    capacity: np.ndarray  # (actors,) capacity available (budget × steps)
    engaged: np.ndarray  # (actors × C) exchanges started by each actor in each community
    step: int = 0  # last step of the interval
    ties: dict = field(default_factory=dict)  # tie descriptions measured at its end

    @classmethod
    def empty(cls, n_c: int, n_actors: int) -> Interval:
        """An interval with nothing in it yet."""
        zeros = np.zeros(n_actors)
        return cls(np.zeros((n_c, n_c)), np.zeros(n_c), [], zeros.copy(), zeros.copy(), zeros.copy(),
                   np.zeros((n_actors, n_c)))  # fmt: skip

    @classmethod
    def pool(cls, intervals: list[Interval]) -> Interval:
        """Several intervals as one (sums and concatenations)."""
        first = intervals[0]
        out = cls.empty(*first.engaged.shape[::-1])
        for iv in intervals:
            out.flow_sum += iv.flow_sum
            out.flow_n += iv.flow_n
            out.delays += iv.delays
            out.posts += iv.posts
            out.spent += iv.spent
            out.capacity += iv.capacity
            out.engaged += iv.engaged
        return out

    def add_step(self, world: dynamics.World, ex: dynamics.Exchanges, posts, spent, n_actors: int) -> None:
        """Count one step's cross-posts and the exchanges actors started."""
        self.posts += posts
        self.spent += spent
        self.capacity += world.budget
        by_actor = (ex.initiator < n_actors) & (ex.context >= 0)  # council meetings are in no community
        np.add.at(self.engaged, (ex.initiator[by_actor], ex.context[by_actor]), 1)

    def add_retired(self, retired: dynamics.Retired) -> None:
        """Count the items that ended: their flow, and each insight's delay."""
        np.add.at(self.flow_sum, retired.origin, retired.share)
        self.flow_n += np.bincount(retired.origin, minlength=len(self.flow_n))
        self.delays += retired.delay[retired.insight].tolist()


def _bits(matrix: np.ndarray) -> np.ndarray:
    """Rows of a bool matrix as uint64 bit masks."""
    weights = dynamics.ONE << np.arange(matrix.shape[1], dtype=np.uint64)
    return (
        np.bitwise_or.reduce(np.where(matrix, weights, np.uint64(0)), axis=1)
        if matrix.size
        else np.zeros(len(matrix), dtype=np.uint64)
    )


def _scenario(scenario: Scenario | str | os.PathLike | dict, rng: int | None, changes: dict[str, Any]) -> Scenario:
    """The scenario a model is built from: read or validated, with the changes and the seed set."""
    if isinstance(scenario, dict):
        scenario = from_dict(scenario)
    elif not isinstance(scenario, Scenario):
        scenario = load(scenario)
    if rng is not None:
        if isinstance(rng, bool) or not isinstance(rng, numbers.Integral):
            raise TypeError(f"rng must be an int seed, not {type(rng).__name__}")
        changes = changes | {"seed": int(rng)}
    return changed(scenario, changes, source="SiloModel()") if changes else scenario
