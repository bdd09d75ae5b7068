"""What a scenario costs before it is built: work per run, and memory.

A sweep's time estimate interpolates, in work per step, the costs measured
on a few warm calibration runs (:func:`run_seconds`), then schedules the runs
on the workers (:func:`makespan`) and adds the report (:func:`report_seconds`);
a scenario that cannot fit in the machine's memory is refused before any array
is allocated. Both are read from the validated scenario alone, by arithmetic
on its counts and rates: nothing here allocates in proportion to its size.

Memory (:func:`estimate_memory`) is the peak of one run above the
interpreter's own baseline: what stays for the whole run (one Mesa agent
object per stakeholder, the state arrays, the recorded measures) plus the
largest of the temporaries of building the model, of a step and of a
measurement. The bytes per unit below are read from ``model.py``,
``dynamics.py`` and ``metrics.py`` and checked against measured peaks by
``benchmarks/bench_memory.py``.
"""

from __future__ import annotations

import heapq
import itertools
import math
import os
import resource
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from silosim.scenario import MAX_LIVE_ITEMS, Dynamics, Scenario, to_dict

# --------------------------------------------------------------------------- work (sweep time calibration)


def agent_count(scenario: Scenario) -> int:
    """Rows of the model's state arrays: departments, community managers, stakeholders."""
    org = scenario.organization
    return len(org.departments) + len(org.community_managers) + sum(g.count for g in org.stakeholders)


def exchanges_per_step(scenario: Scenario) -> float:
    """Expected exchanges in one step: engaged department staff, animated communities, active stakeholders."""
    org, dyn = scenario.organization, scenario.dynamics
    departments = sum(d.headcount * d.reach for d in org.departments)
    managers = dyn.cm_exchanges * sum(min(m.capacity, len(scenario.communities)) for m in org.community_managers)
    stakeholders = sum(g.count * g.activity for g in org.stakeholders)
    return departments + managers + stakeholders


def _item_rates(scenario: Scenario) -> tuple[float, float]:
    """Mean best practices and insights originated per step (one state of a scenario, events not applied)."""
    org, dyn = scenario.organization, scenario.dynamics
    insights = dyn.insight_rate * sum(g.count * g.activity for g in org.stakeholders)
    return dyn.practice_rate * len(org.departments), insights


def items_per_step(scenario: Scenario) -> float:
    """Expected items originated per step: practices per department, insights per active stakeholder."""
    return sum(_item_rates(scenario))


def _slots_for(mean: float) -> int:
    """Item slots for a mean of ``mean`` live items (see :func:`item_slots`)."""
    need = 1.25 * mean + 6 * math.sqrt(mean) + 128
    return max(1024, 64 * math.ceil(need / 64))


def _largest_mean(slots: int = MAX_LIVE_ITEMS) -> float:
    """The largest mean of live items whose store fits in ``slots``: 1.25 m + 6 sqrt(m) + 128 <= slots."""
    x = (-6 + math.sqrt(36 + 5 * max(slots - 128, 0))) / 2.5
    return x * x


def item_slots(scenario: Scenario) -> int:
    """Item slots the engine allocates: room for rates × lifetime live items, with margin, at least 1,024.

    Live items fluctuate around their mean m (a Poisson count): the store holds
    1.25 m + 6 sqrt(m), plus two 64-slot words (the one being filled and the
    one being cleared), rounded up to whole words. The store is sized once,
    when the model is built, so m is the largest over the scenario's states:
    an event that raises a rate, an activity or the lifetime mid-run is covered.
    More than :data:`~silosim.scenario.MAX_LIVE_ITEMS` is refused by validation
    (:func:`memory_problem`).
    """
    return _slots_for(max(items_per_step(state) * state.dynamics.item_lifetime for state, _ in _states(scenario)))


def work_per_step(scenario: Scenario) -> float:
    """Relative cost of one step: agents + exchanges per step; compares scenarios, not seconds."""
    return agent_count(scenario) + exchanges_per_step(scenario)


def estimate_work(scenario: Scenario) -> float:
    """Relative cost of one run: (agents + exchanges per step) × steps; compares runs, not seconds."""
    return work_per_step(scenario) * scenario.steps


# --------------------------------------------------------------------------- time (a sweep's dry-run estimate)

# Writing a sweep's report (silosim.analysis.report) on the reference machine, idle (2 cores, one per worker;
# benchmarks/bench_estimate.py checks the whole estimate against real sweeps): importing pandas' plotting and
# matplotlib, then each figure (saved at 200 dpi), then each panel in it (one measure). Fitted on the reports of
# the shipped sweeps (5-12 s each, within 15 %).
REPORT_FIXED_S = 1.0
REPORT_FIGURE_S = 0.85
REPORT_PANEL_S = 0.11
# Seconds of the speed probe (silosim.experiments.sweep.speed_probe: a fixed piece of Python) on that machine,
# idle: a machine that takes longer is slower or busier, and the report's seconds are scaled by the same factor.
REFERENCE_PROBE_S = 0.025
# Calibrations whose works per step are within this factor of the smallest of them are averaged.
POOLED_WORK = 1.25


@dataclass(frozen=True)
class StepCost:
    """A calibration of one scenario: its work per step and what a warm run of it costs."""

    work: float  # work_per_step of the scenario
    fixed_s: float  # a run of one step: building the model, the step, the final measurement and summary
    step_s: float  # each further step, measurements included


def run_seconds(costs: Sequence[StepCost], work: float, steps: int) -> float:
    """Seconds of one warm run of ``steps`` steps of a scenario whose work per step is ``work``.

    Calibrations whose works are within :data:`POOLED_WORK` of each other are averaged (their differences
    are noise more than work); the fixed and per-step costs are interpolated linearly in work between the
    pooled calibrations on either side of ``work``; beyond the ends the per-step cost is taken in
    proportion to the work, the fixed cost from the nearest end.

    Args:
        costs: at least one calibration.
        work: :func:`work_per_step` of the scenario.
        steps: its steps.
    """
    if not costs:
        raise ValueError("run_seconds needs at least one calibration")
    groups: list[list[StepCost]] = []
    for cost in sorted(costs, key=lambda c: c.work):
        if groups and cost.work <= groups[-1][0].work * POOLED_WORK:
            groups[-1].append(cost)
        else:
            groups.append([cost])
    # each pooled group: the works it spans, its mean fixed and per-step costs
    spans = [(g[0].work, g[-1].work, _mean(c.fixed_s for c in g), _mean(c.step_s for c in g)) for g in groups]
    first, last = spans[0], spans[-1]
    if work < first[0]:  # cheaper than every calibration: steps in proportion to the work
        fixed, step = first[2], first[3] * work / first[0]
    elif work > last[1]:
        fixed, step = last[2], last[3] * work / last[1]
    else:
        fixed, step = next(((f, st) for w0, w1, f, st in spans if w0 <= work <= w1), (0.0, 0.0))
        for (_, a, f0, s0), (b, _, f1, s1) in itertools.pairwise(spans):
            if a < work < b:  # between two groups: linear from the end of one to the start of the next
                share = (work - a) / (b - a)
                fixed, step = f0 + share * (f1 - f0), s0 + share * (s1 - s0)
    return fixed + step * max(steps - 1, 0)


def _mean(values: Iterable[float]) -> float:
    values = list(values)
    return sum(values) / len(values)


def makespan(run_s: Sequence[float], workers: int, first_s: float = 0.0) -> float:
    """Wall time of runs given in order to ``workers`` that each take the next run when free.

    That is how the executor hands out a sweep's runs. Each worker used starts ``first_s`` late (its first
    load of the compiled model code); a worker that gets no run costs nothing.

    Args:
        run_s: seconds of each run, in the order they are sent.
        workers: workers running side by side (at least 1).
        first_s: seconds each worker spends before its first run.
    """
    if not run_s:
        return 0.0
    free = [first_s] * min(max(workers, 1), len(run_s))  # when each worker is next free
    heapq.heapify(free)
    for seconds in run_s:
        heapq.heappush(free, heapq.heappop(free) + seconds)
    return max(free)


def contention(workers: int, cores: int, busy: float = 0.0) -> float:
    """How much slower each of ``workers`` runs side by side than the calibration run alone.

    With ``busy`` cores' worth of other work on the machine, a calibration run alone gets a share
    min(1, cores / (1 + busy)) of a core, and each of the workers min(1, cores / (workers + busy)):
    more workers than free cores share them.

    Args:
        workers: workers running side by side (at least 1).
        cores: cores this process may use (at least 1).
        busy: cores' worth of other work measured during the calibration.
    """
    cores, busy = max(cores, 1), max(busy, 0.0)
    return max(1.0, (max(workers, 1) + busy) / cores) / max(1.0, (1 + busy) / cores)


def report_seconds(varied: int, measures: int, speed: float = 1.0) -> float:
    """Seconds to write the report of a sweep that varies ``varied`` keys and reports ``measures``.

    Its plots are the measures by strategy, one against each varied key and over time (a panel per
    measure in each), and the verdicts (one panel).

    Args:
        varied: keys the sweep varies.
        measures: measures it reports.
        speed: this machine's seconds for a reference machine's second (:func:`speed_factor`).
    """
    figures = 3 + varied
    panels = measures * (2 + varied) + 1
    return speed * (REPORT_FIXED_S + REPORT_FIGURE_S * figures + REPORT_PANEL_S * panels)


def speed_factor(probe_s: float) -> float:
    """How much slower than the reference machine (idle) this one is now: 2.0 is twice as slow.

    ``probe_s`` (the seconds of :func:`silosim.experiments.sweep.speed_probe`) over
    :data:`REFERENCE_PROBE_S`, kept within 0.25-4.
    """
    return min(max(probe_s / REFERENCE_PROBE_S, 0.25), 4.0)


# --------------------------------------------------------------------------- memory: bytes per unit

# One Mesa agent object per agent: the instance and its attributes (a numpy scalar row, an id), its entries
# in the model's two agent registries (all agents, agents by type). Measured 280-385 bytes depending on how
# full the registries' hash tables are; the worst case is taken.
AGENT_OBJECT_BYTES = 390
# While a stakeholder group's agents are created: the list and the weak-keyed AgentSet Mesa returns, and the
# group's row numbers (np.arange): measured up to 270 bytes per agent of the group being created.
AGENT_CREATION_BYTES = 280
# Per recorded measurement: its Interval (flows, capacity, tie descriptions: the fixed part), a DataCollector row
# of 16 values, then its row of the run's DataFrame; measured 1,940-2,070 bytes + 140 for the DataFrame row. The
# Interval's arrays add 8 bytes per cell of (C × C), C, actors × C and 3 × actors.
RECORD_BYTES = 2_200
# Per insight originated: its delay in an Interval's list (a pointer and a float object), and its copies in
# the pooled list and the array the time-to-insight measure reads.
INSIGHT_BYTES = 48
# Per item slot: origin, born, reached_at and slot_word (int64), slot_bit (uint64), insight (bool); ``alive``;
# and its content, 2 bytes per feature (added where the features are known).
SLOT_BYTES = 41
# Mesa's model, the DataCollector, the assignment matrices: small and fixed.
MODEL_FIXED_BYTES = 2 * 2**20
# The interpreter, numpy/scipy/pandas/mesa/numba and the compiled loops, before any model is built:
# measured 0.23 GiB (bench_memory prints it). Added to the estimate when judging whether a run fits.
RUNTIME_BASE_BYTES = 256 * 2**20
# A run may use this share of the memory the process is allowed (the rest: the OS, allocator slack,
# a second copy of the largest temporary while numpy frees the first).
MEMORY_SHARE = 0.8

# cgroup and rlimit values at or above this mean "no limit" (cgroup v1 writes 2**63 rounded to a page)
_NO_LIMIT = 2**60

_DRIVERS = (
    "stakeholders",
    "items",
    "memberships",
    "stakeholder_exchanges",
    "department_exchanges",
    "cm_exchanges",
    "ties",
    "records",
    "insights",
)


# --------------------------------------------------------------------------- memory: what a scenario holds


@dataclass
class _Quantities:
    """What the memory of a run is linear in, each with the key path that sets it."""

    rows: float = 0  # departments + CMs + stakeholders
    stakeholders: float = 0
    largest_group: float = 0
    memberships: float = 0  # (stakeholder, community) pairs joined
    active: float = 0  # stakeholder-initiated exchanges per step
    department_exchanges: float = 0  # Σ headcount × reach
    cm_exchanges: float = 0  # cm_exchanges × communities animated
    tie_slots: float = 0  # rows × max_ties
    live_ties: float = 0  # ties held at a measurement
    relayers: float = 0  # agents that may relay
    records: float = 0  # measurements recorded
    insights: float = 0  # insights originated over the run
    cells: float = 0  # (actor, community) cells whose exchanges round up
    features: int = 0
    actors: int = 0  # departments + CMs
    communities: int = 0
    practices: float = 0  # best practices originated per step
    insights_per_step: float = 0  # insights originated per step
    lifetime: int = 0  # item_lifetime
    item_mean: float = 0  # live items on average: (practices + insights) × lifetime
    practice_rate: float = 0
    insight_rate: float = 0
    paths: dict = field(default_factory=dict)  # driver → key path of the value that drives it

    def merge(self, other: _Quantities) -> None:
        """Keep, quantity by quantity, the larger (the path of the state that set it)."""
        keys = {"active": "stakeholder_exchanges", "department_exchanges": "department_exchanges"}
        keys |= {"cm_exchanges": "cm_exchanges", "live_ties": "ties", "insights": "insights"}
        for name in ("active", "department_exchanges", "cm_exchanges", "live_ties", "relayers", "insights"):
            if getattr(other, name) > getattr(self, name):
                setattr(self, name, getattr(other, name))
                if name in keys:
                    self.paths[keys[name]] = other.paths[keys[name]]
        if other.item_mean > self.item_mean:  # the item store is sized for the state with most live items
            for name in ("practices", "insights_per_step", "lifetime", "item_mean", "practice_rate", "insight_rate"):
                setattr(self, name, getattr(other, name))
            self.paths["items"] = other.paths["items"]


def _membership_odds(shares: list[float]) -> tuple[float, float]:
    """Chance that a stakeholder joins no community, and exactly one, given independent joining shares."""
    none, one = 1.0, 0.0
    for s in shares:
        none, one = none * (1 - s), one * (1 - s) + none * s
    return none, one


def _tie_lifetime(reinforcement: float, decay: float, floor: float, steps: int) -> float:
    """Steps a new tie lives unless it is used again (weight ``reinforcement``, × (1 − decay) per step)."""
    if reinforcement < floor:
        return 0.0  # dropped in the step it is formed
    if decay <= 0 or floor <= 0:
        return float(steps)
    return min(float(steps), 1 + math.log(floor / reinforcement) / math.log(1 - decay))


def _quantities(scenario: Scenario, origins: dict[str, tuple]) -> _Quantities:
    """The quantities of one state of a scenario (its start, or after some events)."""
    org, dyn, n_c = scenario.organization, scenario.dynamics, len(scenario.communities)
    n_actors = len(org.departments) + len(org.community_managers)
    shares: dict[str, list[float]] = {g.group: [] for g in org.stakeholders}
    for community in scenario.communities:
        for group, share in community.members.items():
            if group in shares and share > 0:
                shares[group].append(share)
    q = _Quantities()
    q.features = dyn.features
    q.stakeholders = sum(g.count for g in org.stakeholders)
    q.rows = n_actors + q.stakeholders
    q.tie_slots = q.rows * dyn.max_ties
    q.records = scenario.steps // scenario.metrics.every + 2
    q.actors, q.communities = n_actors, n_c
    q.practices, q.insights_per_step = _item_rates(scenario)
    q.lifetime, q.practice_rate, q.insight_rate = dyn.item_lifetime, dyn.practice_rate, dyn.insight_rate
    q.item_mean = (q.practices + q.insights_per_step) * q.lifetime
    q.insights = q.insights_per_step * scenario.steps

    def where(key: str, default: tuple) -> tuple:
        return origins.get(key, default)

    joined, ever, several = [], [], []
    for g in org.stakeholders:
        none, one = _membership_odds(shares[g.group])
        joined.append(g.count * sum(shares[g.group]))
        ever.append(1 - none)
        several.append(max(0.0, 1 - none - one))
    q.memberships = sum(joined)
    largest = max(range(len(org.stakeholders)), key=lambda k: org.stakeholders[k].count)
    q.largest_group = org.stakeholders[largest].count
    q.paths["stakeholders"] = ("organization", "stakeholders", largest, "count")
    counts = {g.group: g.count for g in org.stakeholders}
    members = [sum(counts.get(g, 0) * s for g, s in c.members.items()) for c in scenario.communities]
    busiest = max(range(n_c), key=members.__getitem__)
    q.paths["memberships"] = ("communities", busiest, "members")

    active = [g.count * g.activity * p for g, p in zip(org.stakeholders, ever, strict=True)]
    q.active = sum(active)
    k = max(range(len(active)), key=active.__getitem__)
    name = org.stakeholders[k].group
    q.paths["stakeholder_exchanges"] = where(
        f"organization.stakeholders.{name}.activity", ("organization", "stakeholders", k, "activity")
    )

    # every department may post (its effort is spread over its communities); a share of a cell rounds up
    efforts = [d.headcount * d.reach for d in org.departments]
    q.department_exchanges = sum(efforts)
    q.cells = n_actors * n_c  # a share of an exchange in a cell rounds up to one
    k = max(range(len(efforts)), key=efforts.__getitem__)
    dept = org.departments[k].name
    q.paths["department_exchanges"] = next(
        (
            origins[key]
            for key in (f"organization.departments.{dept}.headcount", f"organization.departments.{dept}.reach")
            if key in origins
        ),
        ("organization", "departments", k, "headcount"),
    )

    # a CM animates up to its capacity, plus the communities it owns (explicit or dedicated_cms rules)
    owned: dict[str, int] = {}
    if scenario.ownership.rule == "explicit":
        for owner in scenario.ownership.owners.values():
            owned[owner] = owned.get(owner, 0) + 1
    animated = 0
    for m in org.community_managers:
        extra = m.capacity if scenario.ownership.rule == "dedicated_cms" else owned.get(m.name, 0)
        animated += min(n_c, m.capacity + extra)
    q.cm_exchanges = dyn.cm_exchanges * animated
    q.paths["cm_exchanges"] = where("dynamics.cm_exchanges", ("dynamics", "cm_exchanges"))

    # live ties: a holder forms at most one a step. A tie not used again lives `lifetime` steps; some are
    # used again and kept, a couple per community at first, more as cultures converge: the new ties' term
    # is taken 1.5× (measured up to 1.4× in runs of 1,000 steps). Stakeholders engaged by a department or
    # CM keep that tie.
    lifetime = _tie_lifetime(dyn.reinforcement, dyn.tie_decay, dyn.tie_floor, scenario.steps)
    engaged = (q.department_exchanges + q.cm_exchanges) / max(q.memberships, 1.0)
    ties = n_actors * dyn.max_ties
    for g, c, p in zip(org.stakeholders, joined, ever, strict=True):
        per = c / g.count  # communities a member of the group joins, on average
        acts, met = g.activity * p, engaged * per
        if lifetime > 0:
            new = (acts * dyn.exploration + met) * lifetime
            ties += g.count * min(dyn.max_ties, scenario.steps * (acts + met), 2 * per + 1.5 * new)
    q.live_ties = ties
    q.paths["ties"] = ("dynamics", "max_ties")
    q.relayers = n_actors  # with open cross-posting, stakeholders in several communities relay too
    if scenario.ownership.cross_posting == "open":
        q.relayers += sum(g.count * s for g, s in zip(org.stakeholders, several, strict=True))
    q.paths["records"] = ("metrics", "every")
    q.paths["insights"] = where("dynamics.insight_rate", ("dynamics", "insight_rate"))
    q.paths["items"] = _item_path(scenario, q, origins)
    return q


def _item_path(scenario: Scenario, q: _Quantities, origins: dict[str, tuple]) -> tuple:
    """The key that most raises the live items: the lifetime, the dominant rate, or what that rate is per.

    An event that set one of them comes first. Otherwise the lifetime or the dominant rate (insights or
    practices), whichever is furthest above its default; when neither is above it, the largest stakeholder
    group (for insights: by exchanges started) or the departments (for practices).
    """
    org, dyn = scenario.organization, scenario.dynamics
    insights = q.insights_per_step >= q.practices
    rate = "insight_rate" if insights else "practice_rate"
    keys = ["dynamics.item_lifetime", f"dynamics.{rate}"]
    if insights:
        keys += [f"organization.stakeholders.{g.group}.activity" for g in org.stakeholders]
    for key in keys:
        if key in origins:
            return origins[key]
    lifetime = dyn.item_lifetime / max(Dynamics.model_fields["item_lifetime"].default, 1)
    above = getattr(dyn, rate) / max(Dynamics.model_fields[rate].default, 1e-12)
    if max(lifetime, above) > 1:
        return ("dynamics", "item_lifetime") if lifetime >= above else ("dynamics", rate)
    if not insights or not org.stakeholders:
        return ("organization", "departments")
    k = max(range(len(org.stakeholders)), key=lambda i: org.stakeholders[i].count * org.stakeholders[i].activity)
    return ("organization", "stakeholders", k, "count")


# --------------------------------------------------------------------------- memory: events


def _set(data: dict, key: str, value: Any) -> None:
    """Set a dotted key (list items by name) in raw scenario data, in place."""
    node: Any = data
    parts = key.split(".")
    for part in parts[:-1]:
        if isinstance(node, list):
            node = next(item for item in node if part in (item.get("name"), item.get("group")))
        else:
            node = node.setdefault(part, {})
    node[parts[-1]] = value


def _flat(key: str, value: Any) -> Iterator[tuple[str, Any]]:
    if isinstance(value, dict) and value:
        for k, v in value.items():
            yield from _flat(f"{key}.{k}", v)
    else:
        yield key, value


def _states(scenario: Scenario) -> Iterator[tuple[Scenario, dict[str, tuple]]]:
    """The scenario, then its state after each step that has events (rates, headcounts may change).

    Each state comes with the key path of the event that last set each changed dotted key.
    """
    yield scenario, {}
    if not scenario.events:
        return
    data, origins = to_dict(scenario), {}
    by_step: dict[int, list[int]] = {}
    for i, event in enumerate(scenario.events):
        by_step.setdefault(event.at, []).append(i)
    for at in sorted(by_step):
        for i in by_step[at]:
            for written, value in scenario.events[i].set.items():
                for key, leaf in _flat(written, value):
                    try:
                        _set(data, key, leaf)
                    except (StopIteration, AttributeError, TypeError):
                        continue
                    origins[key] = ("events", i, "set", written)
        try:
            yield Scenario.model_validate(data), dict(origins)
        except ValueError:  # validation already refuses events that break the scenario
            continue


# --------------------------------------------------------------------------- memory: the estimate


@dataclass(frozen=True)
class _Estimate:
    total: int  # bytes above the interpreter's baseline
    contributions: dict[str, float]  # driver → bytes of the peak
    quantities: _Quantities
    phase: str


def _estimate(scenario: Scenario) -> _Estimate:
    states = _states(scenario)
    q = _quantities(*next(states))
    for state, origins in states:
        q.merge(_quantities(state, origins))
    # culture int16 × F, is_actor, activity, reads, member/relay masks, belongs_ptr
    row = 41 + 2 * q.features
    exchanges = {"stakeholder_exchanges": q.active, "department_exchanges": q.department_exchanges}
    exchanges["cm_exchanges"] = q.cm_exchanges

    def per_exchange(stakeholder: float, actor: float) -> dict[str, float]:
        return {"stakeholder_exchanges": stakeholder * q.active} | {
            k: actor * v for k, v in exchanges.items() if k != "stakeholder_exchanges"
        }

    kept = {
        "stakeholders": (row + AGENT_OBJECT_BYTES) * q.rows + 16 * q.stakeholders,  # + joined_ptr, degree
        # the item store: known (agents × words), posted (communities × words), per-slot arrays
        "items": _item_store_bytes(q.rows, _slots_for(q.item_mean), q.communities, q.features),
        "memberships": 40 * q.memberships,  # joined, members, members_cumvis, members_guide, belongs
        "ties": 9 * q.tie_slots,  # tie_partner int32, tie_weight float32, tie_context int8
        "records": (RECORD_BYTES + 8 * _record_cells(q)) * q.records,
        "insights": INSIGHT_BYTES * q.insights,
    }
    phases: dict[str, dict[str, float]] = {
        # silosim.world.build_world: the join lists, rows, comms and order (40 B a join) live until it returns
        # (counted here beside the agents, created just after: an upper bound), then while configure() builds
        # the member lists (and again for events at 0)
        "creating agents": {
            "memberships": 40 * q.memberships,
            "stakeholders": AGENT_CREATION_BYTES * q.largest_group,
        },
        # configure(): member lists, the agent → communities lists, the overlaps of communities (72 B a join
        # measured, 80 taken) and a few per-agent temporaries (8 B measured, 16 taken)
        "building member lists": {"memberships": (40 + 80) * q.memberships, "stakeholders": 16 * q.rows},
        # start_exchanges: draws and partners of the active stakeholders (56 B each), the actors' repeated
        # rows (24 B), then initiator/partner/context, the kept order and the Exchanges (56 B an exchange),
        # measured 2-4 B more
        "choosing exchanges": per_exchange(116, 84),
        # interact: six draws, who talks and reads, interacted/feature/trait, with the step's exchanges alive
        # (95 B an exchange), one bool per agent; then update_ties (less): its gathers, one bool per tie slot
        "interacting": per_exchange(95, 95) | {"ties": 1 * q.tie_slots, "stakeholders": 1 * q.rows},
        "relaying": per_exchange(25, 25) | {"stakeholders": 41 * q.relayers + 9 * q.rows},
        # measure(): the tie graph (13 B a tie), incidence lists (32 B), the block matrix's temporaries
        # (about 54 B a tie in all), partitions and constraint arrays (40 B an agent); the step's exchanges live
        "measuring ties": per_exchange(25, 25) | {"ties": 1 * q.tie_slots + 28 * q.live_ties},
        "measuring": per_exchange(25, 25)
        | {"ties": 54 * q.live_ties, "stakeholders": 40 * q.rows, "insights": 8 * q.insights},
    }
    phase = max(phases, key=lambda p: sum(phases[p].values()))
    contributions = {d: kept.get(d, 0.0) + phases[phase].get(d, 0.0) for d in _DRIVERS}
    total = MODEL_FIXED_BYTES + 120 * q.cells + sum(contributions.values())
    return _Estimate(math.ceil(total), contributions, q, phase)


def _item_store_bytes(rows: float, slots: int, communities: int, features: int) -> float:
    """The item store: a bit per slot for each agent (known) and community (posted), and the per-slot arrays."""
    return 8 * (slots / 64) * (rows + communities) + (SLOT_BYTES + 2 * features) * slots


def _record_cells(q: _Quantities) -> float:
    """Array cells of one measurement's Interval: flows (C × C and C), actors × C exchanges, 3 × actors."""
    return q.communities * (q.communities + 1) + q.actors * (q.communities + 3)


def estimate_memory(scenario: Scenario) -> int:
    """Bytes of peak memory one run of the scenario needs, above the interpreter's own baseline.

    The sum of what a run keeps (a Mesa agent object and the state rows per agent, a bit per item slot
    per agent, tie slots, member lists, recorded measures) and the largest temporary (building the
    model, choosing and running a step's exchanges, measuring). Events that raise headcounts, rates or
    ``cm_exchanges`` mid-run are counted at their largest. Pure arithmetic on the scenario: fast,
    allocates nothing in proportion to its size. Add :data:`RUNTIME_BASE_BYTES` for the whole process
    (interpreter, libraries, compiled code).

    Args:
        scenario: a validated scenario.

    Returns:
        The estimated peak resident memory of the model, in bytes (meant to err high, within about 1.7×).
    """
    return _estimate(scenario).total


# --------------------------------------------------------------------------- available memory


def parse_cgroup_limit(text: str | None) -> int | None:
    """A cgroup memory limit file's content (v2 ``memory.max``, v1 ``memory.limit_in_bytes``) as bytes.

    Args:
        text: the file's content, or None when the file is missing or unreadable.

    Returns:
        The limit in bytes; None for no limit ("max", a huge value such as v1's 2**63 rounded down to a
        page, a missing file, or anything unreadable).
    """
    if text is None:
        return None
    value = text.strip()
    if not value.isdigit():
        return None  # "max", empty, or garbage
    limit = int(value)
    return limit if 0 < limit < _NO_LIMIT else None


def parse_rlimit(soft: int) -> int | None:
    """The soft ``RLIMIT_AS`` as bytes, None when unlimited (``RLIM_INFINITY`` or a huge value)."""
    if soft == resource.RLIM_INFINITY or soft < 0 or soft >= _NO_LIMIT:
        return None
    return soft


def address_space_allowance(limit: int, virtual: int, resident: int) -> int:
    """Resident memory a process may reach under an address-space limit.

    ``RLIMIT_AS`` counts address space, of which a Python process with numba already reserves much more
    than it has resident; what it may still allocate is ``limit - virtual``, on top of what is resident.

    Args:
        limit: the RLIMIT_AS in bytes.
        virtual: the process's address space now (``/proc/self/statm`` field 1, in bytes).
        resident: its resident memory now (field 2, in bytes).

    Returns:
        ``resident + max(limit - virtual, 0)``, in bytes.
    """
    return resident + max(limit - virtual, 0)


def smallest_limit(physical: int, cgroup_texts: list[str | None], rlimit_allowance: int | None) -> int:
    """The smallest of physical memory, the cgroup limits found and the rlimit allowance.

    Args:
        physical: bytes of physical memory.
        cgroup_texts: contents of the cgroup limit files (None where missing).
        rlimit_allowance: from :func:`address_space_allowance`, or None without an RLIMIT_AS.

    Returns:
        Bytes the process may use.
    """
    limits = [physical, *(v for v in map(parse_cgroup_limit, cgroup_texts) if v is not None)]
    if rlimit_allowance is not None:
        limits.append(rlimit_allowance)
    return min(limits)


def cgroup_limit_files(proc_self_cgroup: str | None, root: Path = Path("/sys/fs/cgroup")) -> list[Path]:
    """The memory limit files that may apply to this process: the root's, its own cgroup's and ancestors'.

    Args:
        proc_self_cgroup: the content of ``/proc/self/cgroup`` (None if unreadable).
        root: where the cgroup file systems are mounted.

    Returns:
        Candidate files (v2 ``memory.max``, v1 ``memory/memory.limit_in_bytes``); some may not exist.
    """
    files = [root / "memory.max", root / "memory" / "memory.limit_in_bytes"]
    for line in (proc_self_cgroup or "").splitlines():
        hierarchy, _, rest = line.partition(":")
        controllers, _, path = rest.partition(":")
        if not hierarchy or not path.startswith("/"):
            continue
        parts = [p for p in path.split("/") if p and p != ".."]
        if controllers == "":  # v2
            base, name = root, "memory.max"
        elif "memory" in controllers.split(","):
            base, name = root / "memory", "memory.limit_in_bytes"
        else:
            continue
        for n in range(len(parts), 0, -1):
            files.append(base.joinpath(*parts[:n], name))
    return list(dict.fromkeys(files))


def _read(path: Path) -> str | None:
    try:
        return path.read_text()
    except (OSError, UnicodeDecodeError):
        return None


def available_memory() -> int:
    """Bytes this process may use: the least of physical memory, its cgroup's limit and its RLIMIT_AS.

    Returns:
        Bytes (physical memory when no limit applies).
    """
    physical = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    cgroups = [_read(f) for f in cgroup_limit_files(_read(Path("/proc/self/cgroup")))]
    soft = parse_rlimit(resource.getrlimit(resource.RLIMIT_AS)[0])
    allowance = None
    if soft is not None:
        statm = (_read(Path("/proc/self/statm")) or "0 0").split()
        page = resource.getpagesize()
        allowance = address_space_allowance(soft, int(statm[0]) * page, int(statm[1]) * page)
    return smallest_limit(physical, cgroups, allowance)


# --------------------------------------------------------------------------- the verdict


@dataclass(frozen=True)
class MemoryProblem:
    """A scenario that cannot fit: the message, and the key path of the value that weighs most.

    ``str(problem)`` is the message. ``path`` is a key path as in the raw scenario data, list items by
    index (``("organization", "stakeholders", 0, "count")``, ``("dynamics", "cm_exchanges")``, or
    ``("events", 2, "set", "dynamics.cm_exchanges")`` when an event sets it), for
    ``Located.where(path)``. A scenario whose live items need more item slots than the engine holds
    (:data:`~silosim.scenario.MAX_LIVE_ITEMS`) is refused the same way, with driver ``item_slots`` and
    ``needed`` / ``allowed`` counted in item slots, not bytes.
    """

    message: str
    path: tuple
    driver: str  # stakeholders, items, memberships, stakeholder_exchanges, department_exchanges, cm_exchanges...
    needed: int  # bytes: the estimate plus the runtime's baseline (driver item_slots: item slots)
    allowed: int  # bytes: MEMORY_SHARE of the available memory (driver item_slots: MAX_LIVE_ITEMS)

    def __str__(self) -> str:
        return self.message


def size_text(n: float) -> str:
    """Bytes in binary units with one decimal: ``7.3 TiB``, ``24.0 GiB``, ``512 B``."""
    if n < 1024:
        return f"{n:.0f} B"
    for unit in ("KiB", "MiB", "GiB", "TiB", "PiB", "EiB", "ZiB"):
        n /= 1024
        if n < 1024 or unit == "ZiB":
            return f"{n:.1f} {unit}"
    raise AssertionError  # pragma: no cover


def _count(x: float) -> str:
    return f"{round(x):,}"


def _about(x: float) -> str:
    """A count to two significant digits: 25,877,033 → 26,000,000."""
    if x < 1:
        return "0"
    digits = max(int(math.log10(x)) - 1, 0)
    return _count(round(x, -digits))


def _label(path: tuple, scenario: Scenario) -> str:
    """A key path as the scenario names it: ``organization.stakeholders[consumers].count``."""
    out, node = "", to_dict(scenario)
    for part in path:
        if isinstance(part, int) and isinstance(node, list):
            item = node[part]
            out += f"[{item.get('name', item.get('group', part))}]"
            node = item
        else:
            out += ("." if out else "") + str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


# what scales together: reducing the stakeholder counts reduces their memberships, tie slots and exchanges too
_GROUPS = {
    "stakeholders": ("stakeholders", "items", "memberships", "ties", "stakeholder_exchanges"),
    "department_exchanges": ("department_exchanges",),
    "cm_exchanges": ("cm_exchanges",),
    "records": ("records",),
    "insights": ("insights",),
}
_PARTS = {
    "stakeholders": "agent objects and state rows",
    "items": "known items",
    "memberships": "community memberships",
    "ties": "tie slots and ties",
    "stakeholder_exchanges": "their exchanges",
}


_NOTHING = "even without them the rest does not fit"


def _explain(est: _Estimate, scenario: Scenario, room: float) -> tuple[str, tuple, str, str]:
    """The dominant group of costs: (what it is, the key path to point at, what to reduce, the driver).

    ``room`` is what the dominant group could use and still fit (negative: nothing would).
    """
    q, c = est.quantities, est.contributions
    group = max(_GROUPS, key=lambda g: sum(c[d] for d in _GROUPS[g]))
    part = sum(c[d] for d in _GROUPS[group])
    share = max(room, 0) / part if part else 0.0
    dyn = scenario.dynamics
    if group == "stakeholders":
        share = _stakeholder_share(est, room)
        top = max(_GROUPS[group], key=c.__getitem__)
        path = q.paths[top]
        groups = len(scenario.organization.stakeholders)
        what = f"{_count(q.stakeholders)} stakeholders" + (f" in {groups} groups" if groups > 1 else "")
        what += f" × about {size_text(part / q.stakeholders)} each = {size_text(part)}: "
        what += ", ".join(f"{_PARTS[d]} {size_text(c[d])}" for d in sorted(_GROUPS[group], key=lambda d: -c[d]) if c[d])
        reduce = {
            "stakeholders": f"the stakeholder counts (largest: {_label(path, scenario)})",
            "items": f"the stakeholder counts (largest: {_label(q.paths['stakeholders'], scenario)})"
            + ("" if path == q.paths["stakeholders"] else f" or {_label(path, scenario)}")
            + f": the item store holds {_count(_slots_for(q.item_mean))} slots, a bit each for every agent",
            "memberships": f"the shares of stakeholders joining communities (most: {_label(path, scenario)})",
            "ties": f"{_label(path, scenario)} ({dyn.max_ties}) or the stakeholder counts",
            "stakeholder_exchanges": f"the stakeholders' activity ({_label(path, scenario)}) or counts",
        }[top]
        fits = f"about {_about(q.stakeholders * share)} stakeholders in all would fit" if share else _NOTHING
        return what, path, f"{reduce}; {fits}", top
    path = q.paths[group]
    where = _label(path, scenario)
    amount = {
        "department_exchanges": q.department_exchanges,
        "cm_exchanges": q.cm_exchanges,
        "records": q.records,
        "insights": q.insights,
    }[group]
    unit = {
        "department_exchanges": "department exchanges per step (headcount × reach)",
        "cm_exchanges": "community manager exchanges per step (cm_exchanges × communities animated)",
        "records": "recorded measurements (steps / metrics.every)",
        "insights": "insights over the run (insight_rate × steps)",
    }[group]
    what = f"{_count(amount)} {unit} × about {size_text(part / amount)} each = {size_text(part)}"
    fit = _about(amount * share)
    if group == "department_exchanges":
        reduce = f"the departments' headcount or reach (largest: {where}); about {fit} exchanges would fit"
    elif group == "cm_exchanges":
        value = _value(path, scenario, "dynamics.cm_exchanges", dyn.cm_exchanges)
        reduce = f"{where} ({_count(value)}); up to about {_about(value * share)} would fit"
    elif group == "records":
        every = scenario.metrics.every
        reduce = f"the steps, or measure less often ({where}: {every}); about {fit} measurements would fit"
    else:
        reduce = f"{where} or the steps; about {fit} insights would fit"
    if not share:
        reduce = reduce.split(";")[0] + f"; {_NOTHING}"
    return what, path, reduce, group


def _cap_share(q: _Quantities) -> float:
    """The share of the stakeholders (their insights) under which the item store fits MAX_LIVE_ITEMS."""
    if q.insights_per_step <= 0:
        return math.inf
    return max(_largest_mean() / max(q.lifetime, 1) - q.practices, 0.0) / q.insights_per_step


def _stakeholder_share(est: _Estimate, room: float) -> float:
    """The share of the stakeholders whose costs fit in ``room`` bytes, with an item store under MAX_LIVE_ITEMS.

    The stakeholders' costs are linear in their number but for the item store: each agent keeps a bit per
    item slot, and the slots grow with the stakeholders' insights. Solved by bisection (arithmetic only).
    """
    q, c = est.quantities, est.contributions
    if room <= 0:
        return 0.0
    linear = sum(c[d] for d in _GROUPS["stakeholders"] if d != "items")

    def cost(s: float) -> float:
        slots = _slots_for((q.practices + q.insights_per_step * s) * q.lifetime)
        return linear * s + _item_store_bytes(q.actors + q.stakeholders * s, slots, q.communities, q.features)

    lo, hi = 0.0, min(1.0, _cap_share(q))
    if cost(hi) <= room:
        return hi
    for _ in range(50):
        mid = (lo + hi) / 2
        lo, hi = (mid, hi) if cost(mid) <= room else (lo, mid)
    return lo


def _item_problem(scenario: Scenario, est: _Estimate) -> MemoryProblem | None:
    """Why the item store cannot hold the scenario's live items (more than MAX_LIVE_ITEMS slots), or None."""
    q = est.quantities
    slots = _slots_for(q.item_mean)
    if slots <= MAX_LIVE_ITEMS:
        return None
    path = q.paths["items"]
    where = _label(path, scenario)
    per_step = q.practices + q.insights_per_step
    room = _largest_mean() / q.item_mean  # the share of the live items that would fit
    what = (
        f"{per_step:,.1f} items originate a step ({q.practices:,.1f} best practices, {q.insights_per_step:,.1f} "
        f"insights) × dynamics.item_lifetime {_count(q.lifetime)} steps = about {_count(q.item_mean)} live items, "
        "with margin"
    )
    lifetime_fit = f"up to about {_count(max(math.floor(q.lifetime * room), 0))} steps would fit"
    key = (path[3] if path[0] == "events" else ".".join(map(str, path))).rsplit(".", 1)[-1]
    if key == "item_lifetime":
        value = _value(path, scenario, "dynamics.item_lifetime", q.lifetime)
        reduce = f"{where} ({_count(value)}); {lifetime_fit}"
    else:
        if key == "count":
            share = _cap_share(q)
            fits = _about(q.stakeholders * share)
            first = f"the stakeholder counts (largest: {where}); about {fits} stakeholders in all would fit"
        elif key == "departments":
            first = f"the departments ({len(scenario.organization.departments)}) or dynamics.practice_rate"
        elif key == "activity":  # an event raises a group's activity, and its insights
            first = f"{where} ({_value(path, scenario, path[3], 0):g}) or the stakeholder counts"
        else:  # insight_rate or practice_rate
            rate = q.practice_rate if key == "practice_rate" else q.insight_rate
            value = _value(path, scenario, path[3] if path[0] == "events" else f"dynamics.{key}", rate)
            part = q.practices if key == "practice_rate" else q.insights_per_step
            fit = max(_largest_mean() / max(q.lifetime, 1) - (per_step - part), 0.0) / part * value if part else 0.0
            first = f"{where} ({value:g}); up to about {fit:.2g} would fit" if fit > 0 else f"{where} ({value:g})"
        reduce = f"{first}; or dynamics.item_lifetime ({_count(q.lifetime)}): {lifetime_fit}"
    message = (
        f"needs an item store of {_count(slots)} slots, more than the {_count(MAX_LIVE_ITEMS)} it can hold "
        f"(estimated: {what}): reduce {reduce}"
    )
    return MemoryProblem(message, path, "item_slots", slots, MAX_LIVE_ITEMS)


def _value(path: tuple, scenario: Scenario, key: str, default: Any) -> Any:
    """The value of dotted ``key`` that the event at ``path`` sets, else ``default`` (the scenario's)."""
    if path and path[0] == "events":
        written = path[3]
        for flat, value in _flat(written, scenario.events[path[1]].set.get(written)):
            if flat == key and isinstance(value, (int, float)):
                return value
    return default


def memory_problem(scenario: Scenario, available: int | None = None) -> MemoryProblem | None:
    """Why a scenario cannot run in this machine's memory, or None when it fits.

    It fits when :func:`estimate_memory` plus :data:`RUNTIME_BASE_BYTES` is at most
    :data:`MEMORY_SHARE` (80 %) of the available memory, and its live items fit the item store
    (:func:`item_slots` at most :data:`~silosim.scenario.MAX_LIVE_ITEMS`, whatever the machine; when
    both fail, the memory is reported, with a number of stakeholders that satisfies both). Fast
    (arithmetic on the scenario): meant to be called once per resolved scenario, sweep cells included.

    Args:
        scenario: a validated scenario.
        available: bytes the run may use; :func:`available_memory` when None. A sweep running several
            runs at once may pass its share per worker.

    Returns:
        None, or a :class:`MemoryProblem` whose ``message`` reads like "needs about 732.5 GiB of memory
        (estimated: 1,000,000,000 stakeholders in 20 groups × about 786 B each = 732.2 GiB: agent
        objects and state rows 462.9 GiB, tie slots and ties 248.6 GiB, ...), this machine allows
        24.0 GiB (a run may use 80%: 19.2 GiB): reduce the stakeholder counts (largest:
        organization.stakeholders[g0].count); about 26,000,000 stakeholders in all would fit", and
        whose ``path`` is the key path of the value that weighs most (see :class:`MemoryProblem`). For the
        item store: "needs an item store of 90,112 slots, more than the 65,536 it can hold (estimated:
        ...): reduce dynamics.item_lifetime (1,000); up to about 720 steps would fit".
    """
    est = _estimate(scenario)
    available = available_memory() if available is None else available
    allowed = int(MEMORY_SHARE * available)
    needed = est.total + RUNTIME_BASE_BYTES
    if needed <= allowed:
        return _item_problem(scenario, est)
    group = max(_GROUPS, key=lambda g: sum(est.contributions[d] for d in _GROUPS[g]))
    part = sum(est.contributions[d] for d in _GROUPS[group])
    what, path, reduce, driver = _explain(est, scenario, allowed - (needed - part))
    message = (
        f"needs about {size_text(needed)} of memory (estimated: {what}), this machine allows "
        f"{size_text(available)} (a run may use {MEMORY_SHARE:.0%}: {size_text(allowed)}): reduce {reduce}"
    )
    return MemoryProblem(message, path, driver, needed, allowed)


def runs_that_fit(scenarios: list[Scenario], available: int | None = None) -> int:
    """How many of the largest of these runs fit in memory side by side (at least 1): a sweep's worker cap."""
    available = available_memory() if available is None else available
    largest = max((estimate_memory(s) for s in scenarios), default=0) + RUNTIME_BASE_BYTES
    return max(1, int(MEMORY_SHARE * available) // largest)
