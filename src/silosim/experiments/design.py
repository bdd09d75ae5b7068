"""Sweep designs: the sweep file's schema, its parameter points and paired seeds, validated before any run.

A sweep file names a base scenario, the strategies to compare (sets of
overrides), the parameters to vary and the number of replications. Lists are
crossed in full factorial; ranges are sampled by the design: ``grid``,
``lhs`` (scipy's Latin hypercube), ``sobol`` (Saltelli's design, SALib's
sampler, read by the Sobol analysis) or ``morris`` (Morris's trajectories,
read by the elementary-effects screening; both analyses in
:mod:`silosim.analysis.sensitivity`). Every combination is validated against
the scenario schema before any run starts, its problems reported at the sweep
file's lines. Replication k of every strategy and point gets the same seed,
spawned from the sweep seed with numpy's ``SeedSequence`` (common random
numbers), so strategy differences are paired.

``objective:`` names the measure the report's conclusion ranks strategies on:
a measure name (``objective: fit``), read in its documented direction
(:data:`silosim.analysis.sweep_conclusion.GOALS`: ``cross_reach``, ``fit``,
``knowledge`` … maximised; ``silo_count``, ``time_to_insight``, ``relay_load``
… minimised), or a mapping that says the direction (``objective: {measure:
practice_diversity, goal: max}``), required for the measures without a
natural one. Absent: ``cross_reach`` maximised, the README's headline
question (which strategy lets information cross).
"""

from __future__ import annotations

import functools
import itertools
import math
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import Discriminator, Field, Tag, field_validator, model_validator

from silosim import __version__
from silosim.analysis.sweep_conclusion import DEFAULT_OBJECTIVE, GOALS, base_events, sweep_warnings
from silosim.analysis.text import plural
from silosim.metrics import MEASURES
from silosim.scenario import (
    Located,
    Name,
    OverrideError,
    Problem,
    RunName,
    Scenario,
    ScenarioError,
    StrictModel,
    apply_override,
    default_name,
    from_dict,
    load,
    nearest,
    parse_yaml,
    scaled,
    schema_problems,
    to_dict,
    validate,
)
from silosim.scenario.overrides import key_path
from silosim.store import run_key

MAX_RUNS = 1_000_000  # runs one sweep may plan: counted before any point or seed is built
MAX_SCENARIOS = 20_000  # strategies × points: each is resolved and validated before the first run


class Range(StrictModel):
    """A numeric range to sample with the sweep's ``design``; whole numbers where the key holds one (``every``)."""

    low: float = Field(description="Lowest value.")
    high: float = Field(description="Highest value.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if self.high < self.low:
            raise ValueError(f"high ({self.high}) is below low ({self.low})")
        return self


class Objective(StrictModel):
    """The measure the conclusion ranks strategies on, and whether more or less of it is better."""

    measure: str = Field(description="A measure name (see `measures`).")
    goal: Literal["max", "min"] | None = Field(
        None, description="`max` or `min`; default: the measure's documented direction."
    )


# a mapping is an objective with its direction, anything else a measure name
ObjectiveValue = Annotated[
    Annotated[str, Tag("str")] | Annotated[Objective, Tag("spec")],
    Discriminator(lambda v: "spec" if isinstance(v, (dict, Objective)) else "str"),
]

# a mapping is a range, anything else a list of values: one branch, so one clear message per mistake
VaryValues = Annotated[
    Annotated[list[Any], Tag("values"), Field(min_length=1)] | Annotated[Range, Tag("range")],
    Discriminator(lambda v: "range" if isinstance(v, (dict, Range)) else "values"),
]


class SweepSpec(StrictModel):
    """A whole sweep file."""

    name: RunName = Field("sweep", description="Short name (defaults to the file name); names the sweep folder.")
    description: str = Field("", description="The question the sweep answers.")
    base: str | dict[str, Any] = Field(description="Scenario file (relative to the sweep file) or inline scenario.")
    strategies: dict[Name, dict[str, Any]] = Field(
        default_factory=dict,
        description="Named sets of overrides (dotted key → value) compared; the first is the reference. "
        "None: the base alone, as `base`.",
    )
    vary: dict[str, VaryValues] = Field(
        default_factory=dict,
        description="Dotted key → list of values (full factorial) or {low, high} range sampled by `design`.",
    )
    design: Literal["grid", "lhs", "sobol", "morris"] = Field(
        "grid",
        description="How ranges are sampled: `grid` (`samples` per range), `lhs` (`samples` points), `sobol` "
        "(Saltelli's design for a Sobol analysis: `samples` base points, samples × (D + 2) points, "
        "samples × (2D + 2) with `second_order`) or `morris` (`trajectories` × (D + 1) points on `levels` levels); "
        "D: the number of ranges.",
    )
    samples: int = Field(
        5, ge=1, le=MAX_RUNS, description="Points per range (grid), in all (lhs) or base points (sobol: a power of 2)."
    )
    second_order: bool = Field(
        False, description="sobol: also sample what second-order indices need (2D + 2 points per base point)."
    )
    trajectories: int = Field(10, ge=2, le=MAX_RUNS, description="morris: elementary-effect trajectories.")
    levels: int = Field(4, ge=2, le=1000, description="morris: levels of each range's grid (even).")
    replications: int = Field(
        10, ge=1, le=MAX_RUNS, description="Runs per strategy and point, paired across strategies."
    )
    seed: int = Field(0, ge=0, description="Sweep seed; replication seeds are spawned from it.")
    steps: int | None = Field(None, ge=1, description="Steps per run (default: the base scenario's).")
    measures: list[str] = Field(default_factory=lambda: list(MEASURES), description="Measures to report.")
    objective: ObjectiveValue = Field(
        DEFAULT_OBJECTIVE["measure"],
        description="Measure the conclusion ranks strategies on: a name (its default direction) or "
        "{measure, goal: max|min}; default `cross_reach`, maximised.",
    )

    @field_validator("levels")
    @classmethod
    def _even_levels(cls, levels: int) -> int:
        if levels % 2:
            raise ValueError(f"levels must be even for Morris's design (got {levels}): try {levels + 1}")
        return levels

    def goal(self) -> dict[str, Any]:
        """The objective as ``{"measure", "goal", "stated"}`` (``stated``: the file names it)."""
        value = self.objective
        measure, goal = (value, None) if isinstance(value, str) else (value.measure, value.goal)
        stated = "objective" in self.model_fields_set
        return {"measure": measure, "goal": goal or GOALS.get(measure) or "max", "stated": stated}


@dataclass(frozen=True)
class Cell:
    """One planned run: which strategy, parameter point and replication, with its seed and store key."""

    strategy: str
    point: int
    replication: int
    seed: int
    key: str


@dataclass
class Sweep:
    """A validated sweep: its spec, parameter points and the resolved scenario of each strategy and point."""

    spec: SweepSpec
    source: str
    points: list[dict[str, Any]]
    resolved: dict[tuple[str, int], dict]
    seeds: list[int]
    scale: float = 1.0  # --scale: every resolved scenario is this many times larger (silosim.scenario.scaled)

    @functools.cached_property
    def validated(self) -> dict[tuple[str, int], Scenario]:
        """The resolved scenario of each strategy and point as a Scenario, built once (sizes, costs, memory)."""
        return {cell: from_dict(data) for cell, data in self.resolved.items()}

    @property
    def strategies(self) -> list[str]:
        """Strategy names in file order (the first is the reference)."""
        return list(self.spec.strategies) or ["base"]

    def cells(self) -> Iterator[Cell]:
        """Every run, replication first, so a partial sweep holds complete pairs."""
        for replication, seed in enumerate(self.seeds):
            for point in range(len(self.points)):
                for strategy in self.strategies:
                    yield Cell(strategy, point, replication, seed, run_key(self.scenario(strategy, point, seed)))

    def scenario(self, strategy: str, point: int, seed: int) -> dict:
        """The resolved scenario data of one run."""
        return {**self.resolved[(strategy, point)], "seed": seed}

    def meta(self) -> dict:
        """What the report needs to know of the sweep: its plan, objective, base events, warnings and method."""
        first = self.resolved[(self.strategies[0], 0)]
        metrics = first.get("metrics", {})
        changed = {k for overrides in self.spec.strategies.values() for k in overrides} | set(self.spec.vary)
        strategies = {s: [self.validated[(s, p)] for p in range(len(self.points))] for s in self.strategies}
        return {
            "name": self.spec.name,
            "description": self.spec.description,
            "source": self.source,
            "strategies": self.strategies,
            "vary": list(self.spec.vary),
            "measures": self.spec.measures,
            "replications": self.spec.replications,
            "runs_total": len(self.strategies) * len(self.points) * self.spec.replications,
            "scale": self.scale,
            "objective": self.spec.goal(),
            "seed": self.spec.seed,
            "steps": first.get("steps"),
            "metrics": {k: metrics.get(k) for k in ("every", "burn_in", "window", "tolerance")},
            "thresholds": metrics.get("verdict", {}),
            "design": design_meta(self.spec),
            "base_events": base_events([self.resolved[(s, 0)] for s in self.strategies], changed),
            "warnings": sweep_warnings(strategies),
            "version": __version__,
        }


def replication_seeds(seed: int, replications: int) -> list[int]:
    """Seeds of replications 0..n−1, spawned from the sweep seed (common random numbers)."""
    children = np.random.SeedSequence(seed).spawn(replications)
    return [int(child.generate_state(1, dtype=np.uint32)[0]) for child in children]


def range_points_count(spec: SweepSpec) -> int:
    """Points the design samples of the ranges (1 when no range is varied), by arithmetic alone.

    ``samples ** D`` (grid), ``samples`` (lhs), ``samples × (D + 2)`` (sobol;
    ``× (2D + 2)`` with ``second_order``: Saltelli 2002) or ``trajectories ×
    (D + 1)`` (morris), D being the number of ranges.
    """
    ranges = sum(isinstance(v, Range) for v in spec.vary.values())
    if not ranges:
        return 1
    if spec.design == "grid":
        return spec.samples**ranges
    if spec.design == "sobol":
        return spec.samples * (2 * ranges + 2 if spec.second_order else ranges + 2)
    if spec.design == "morris":
        return spec.trajectories * (ranges + 1)
    return spec.samples


def planned_runs(spec: SweepSpec) -> tuple[int, int]:
    """(parameter points, runs) the spec plans, by arithmetic alone: nothing is built.

    Points: the product of the list lengths, times the points the design samples of
    the ranges (:func:`range_points_count`); runs: strategies × points × replications.
    """
    lists = [len(v) for v in spec.vary.values() if isinstance(v, list)]
    points = math.prod(lists) * range_points_count(spec)
    return points, max(len(spec.strategies), 1) * points * spec.replications


def design_meta(spec: SweepSpec) -> dict[str, Any]:
    """The design as the store records it, for an analysis to read.

    ``ranges`` (name → [low, high], in file order: SALib's variable order),
    ``lists`` (the names varied by a list), ``range_points`` (points per
    combination of the lists' values: point ``p`` is combination ``p //
    range_points`` and design row ``p % range_points``), the design's own keys
    and, for sobol and morris, ``rows``: the design's rows as sampled, before a
    whole-number range is rounded (Morris's effects divide by their steps).
    """
    ranges = {k: [v.low, v.high] for k, v in spec.vary.items() if isinstance(v, Range)}
    rows = design_rows(spec) if spec.design in ("sobol", "morris") and ranges else None
    return {
        "design": spec.design,
        "ranges": ranges,
        "lists": [k for k, v in spec.vary.items() if isinstance(v, list)],
        "range_points": range_points_count(spec),
        "samples": spec.samples,
        "second_order": spec.second_order,
        "trajectories": spec.trajectories,
        "levels": spec.levels,
        "seed": spec.seed,
        "rows": None if rows is None else rows.tolist(),
    }


def design_text(spec: SweepSpec) -> str | None:
    """What ``--dry-run`` says of an analysis design (sobol, morris): its base size and the points it needs."""
    ranges = sum(isinstance(v, Range) for v in spec.vary.values())
    lists = math.prod(len(v) for v in spec.vary.values() if isinstance(v, list))
    combos = f" × {lists} combinations of the listed values" if lists > 1 else ""
    points = range_points_count(spec)
    if spec.design == "sobol" and ranges:
        factor = f"(2 × {ranges} + 2)" if spec.second_order else f"({ranges} + 2)"
        order = "first-, total- and second-order" if spec.second_order else "first- and total-order"
        balance = (
            ""
            if spec.samples & (spec.samples - 1) == 0
            else f"; {spec.samples} is not a power of 2, the Sobol' sequence's balance needs one (try "
            f"{1 << (spec.samples.bit_length() - 1)} or {1 << spec.samples.bit_length()})"
        )
        return (
            f"design: sobol (Saltelli's, for {order} Sobol indices): base sample {spec.samples} × {factor} for "
            f"{plural(ranges, 'range')} = {points} points{combos}{balance}"
        )
    if spec.design == "morris" and ranges:
        return (
            f"design: morris (elementary effects): {spec.trajectories} trajectories × ({ranges} + 1) for "
            f"{plural(ranges, 'range')} = {points} points on {spec.levels} levels{combos}"
        )
    return None


def salib_problem(ranges: dict[str, list[float]]) -> dict[str, Any]:
    """SALib's problem of the ranges (name → [low, high]), in their order."""
    return {"num_vars": len(ranges), "names": list(ranges), "bounds": [list(map(float, b)) for b in ranges.values()]}


def design_rows(spec: SweepSpec) -> np.ndarray:
    """The ranges' sampled values, one row per point of a list combination, unrounded, in the design's order.

    grid: every combination of ``samples`` evenly spaced values; lhs: scipy's
    Latin hypercube; sobol: SALib's Saltelli sampler (Sobol' sequence,
    scrambled with the sweep seed), whose row order the Sobol analysis reads;
    morris: SALib's trajectories on ``levels`` levels, drawn with the sweep seed.
    """
    ranges = {k: v for k, v in spec.vary.items() if isinstance(v, Range)}
    lows = np.array([r.low for r in ranges.values()])
    highs = np.array([r.high for r in ranges.values()])
    if spec.design in ("sobol", "morris"):
        problem = salib_problem({k: [r.low, r.high] for k, r in ranges.items()})
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # a base size not a power of 2: --dry-run says
            if spec.design == "sobol":
                from SALib.sample import sobol  # slow to import: only for these designs

                return sobol.sample(problem, spec.samples, calc_second_order=spec.second_order, seed=spec.seed)
            from SALib.sample import morris

            return morris.sample(problem, spec.trajectories, num_levels=spec.levels, seed=spec.seed)
    if spec.design == "grid":
        unit = np.array(list(itertools.product(np.linspace(0, 1, spec.samples), repeat=len(ranges))))
    else:
        from scipy.stats import qmc  # slow to import: only for sampled designs

        unit = qmc.LatinHypercube(d=len(ranges), seed=spec.seed).random(spec.samples)
    return lows + unit * (highs - lows)


def _too_many_runs(spec: SweepSpec, data: dict, located: Located) -> list[Problem]:
    """A problem at the line of ``samples`` or ``replications`` when the sweep plans more than MAX_RUNS runs."""
    points, runs = planned_runs(spec)
    strategies = max(len(spec.strategies), 1)
    if strategies * points > MAX_SCENARIOS:  # each is resolved, validated and held in memory
        key = "samples" if "samples" in data and any(isinstance(v, Range) for v in spec.vary.values()) else "vary"
        return [
            Problem(
                *located.where((key,)),
                key,
                f"the sweep resolves {_big(strategies * points)} scenarios ({plural(strategies, 'strategy')} × "
                f"{_big(points)} points), more than the limit of {MAX_SCENARIOS:,}: vary fewer values or lower samples",
            )
        ]
    if runs <= MAX_RUNS:
        return []
    sampled = any(isinstance(v, Range) for v in spec.vary.values()) and spec.samples > 1
    key = "samples" if sampled and "samples" in data and points >= spec.replications else "replications"
    return [
        Problem(
            *located.where((key,)),
            key,
            f"the sweep plans {_big(runs)} runs ({plural(strategies, 'strategy')} × {_big(points)} points × "
            f"{plural(spec.replications, 'replication')}), more than the limit of {MAX_RUNS:,}: lower "
            "replications or samples, or vary fewer values",
        )
    ]


DESIGN_KEYS = {"second_order": "sobol", "trajectories": "morris", "levels": "morris"}


def _design_problems(spec: SweepSpec, data: dict, located: Located) -> list[Problem]:
    """A design key the design does not read, or an analysis design with no range to sample."""
    problems = [
        Problem(*located.where((key,)), key, f"`{key}` is read by design: {design} only, not {spec.design}")
        for key, design in DESIGN_KEYS.items()
        if key in data and spec.design != design
    ]
    if spec.design in ("sobol", "morris") and not any(isinstance(v, Range) for v in spec.vary.values()):
        problems.append(
            Problem(
                *located.where(("design",)),
                "design",
                f"design: {spec.design} samples the ranges of vary ({{low, high}}), and vary has none: "
                "give the parameters to analyse as ranges",
            )
        )
    return problems


def _big(n: int) -> str:
    return f"{n:,}" if n < 10**18 else f"about {float(n):.1e}"


def parameter_points(spec: SweepSpec, whole: set[str] = frozenset()) -> list[dict[str, Any]]:
    """The parameter points: lists in full factorial × ranges sampled by the design (:func:`design_rows`).

    The ranges named in ``whole`` (:func:`whole_ranges`) are rounded to whole numbers.
    """
    lists = {k: v for k, v in spec.vary.items() if isinstance(v, list)}
    ranges = [k for k, v in spec.vary.items() if isinstance(v, Range)]
    range_points = [{}]
    if ranges:
        range_points = [
            {k: (round(v) if k in whole else float(v)) for k, v in zip(ranges, row, strict=True)}
            for row in design_rows(spec)
        ]
    list_points = [dict(zip(lists, combo, strict=True)) for combo in itertools.product(*lists.values())]
    return [{**a, **b} for a in list_points for b in range_points]


def whole_ranges(spec: SweepSpec, base: dict) -> set[str]:
    """The ranges whose key holds a whole number (an int, as ``metrics.every``) in the base scenario.

    They sample whole numbers; every other range samples decimals, even between
    whole bounds (``reach: {low: 0, high: 1}`` samples shares, not 0 and 1).
    """
    found = set()
    for key, value in spec.vary.items():
        if not isinstance(value, Range):
            continue
        node: Any = base
        for part in key_path(base, key):
            node = node[part] if isinstance(node, (dict, list)) else None
        if isinstance(node, int) and not isinstance(node, bool) and node is not base:
            found.add(key)
    return found


def load_sweep(path: str | Path, scale: float = 1.0) -> Sweep:
    """Read and validate a sweep file and every run it implies; raise ScenarioError listing every problem.

    ``scale`` (``--scale``): every resolved scenario (strategy × point) is made that many times larger
    (:func:`silosim.scenario.scaled`) before its memory check; their run keys change with it.
    """
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read file: {exc}")]) from None
    data, located = parse_yaml(text, source)
    if not isinstance(data, dict):
        raise ScenarioError([Problem(source, 1, "", "expected a mapping of sweep keys (base, strategies, vary…)")])
    data.setdefault("name", default_name(path))
    problems = located.problems + schema_problems(data, located, SweepSpec)
    problems += _measure_problems(data, located) + _objective_problems(data, located)
    # one pass: the keys with a problem are set aside and the rest (base, strategies) is still checked
    spec = _spec_without(data, problems)
    if spec is None:
        raise ScenarioError(problems)
    problems += _design_problems(spec, data, located) + _too_many_runs(spec, data, located)  # before any point
    if any(p.path in ("samples", "replications", "vary", "design") for p in problems):
        raise ScenarioError(problems)
    memory = scale == 1  # a scaled scenario's memory is checked once scaled
    try:
        base = _base_data(spec, path, located, memory)
    except ScenarioError as exc:
        raise ScenarioError(problems + exc.problems) from None
    if spec.steps is not None:
        base["steps"] = spec.steps
    points = parameter_points(spec, whole_ranges(spec, base))
    resolved = {}
    strategies = spec.strategies or {"base": {}}
    for name, overrides in strategies.items():
        for index, point in enumerate(points):
            changes = [(("strategies", name, k), k, v) for k, v in overrides.items()]
            changes += [(("vary", k), k, v) for k, v in point.items()]
            scenario, found = _resolve(base, changes, located, name, memory)
            problems += found
            if scenario is not None:
                resolved[(name, index)] = scenario
    if problems:
        raise ScenarioError(problems)
    if scale != 1:
        for (name, index), scenario in resolved.items():
            try:
                label = f"{source} ({name}, point {index})"
                resolved[(name, index)] = to_dict(scaled(Scenario.model_validate(scenario), scale, label))
            except ScenarioError as exc:
                problems += exc.problems
        if problems:
            raise ScenarioError(problems)
    return Sweep(spec, source, points, resolved, replication_seeds(spec.seed, spec.replications), scale)


def _spec_without(data: dict, problems: list[Problem]) -> SweepSpec | None:
    """The spec read from the keys that have no problem (so the others can still be checked), or None."""
    bad = {p.path.split(".")[0].split("[")[0] for p in problems}
    try:
        return SweepSpec.model_validate({k: v for k, v in data.items() if k not in bad})
    except ValueError:  # a required key (base) is the one with the problem
        return None


def _measure_problems(data: dict, located: Located) -> list[Problem]:
    measures = data.get("measures")
    if not isinstance(measures, list):
        return []
    return [
        Problem(*located.where(("measures", i)), f"measures[{i}]", f"unknown measure '{m}'{nearest(m, MEASURES)}")
        for i, m in enumerate(measures)
        if m not in MEASURES
    ]


def _objective_problems(data: dict, located: Located) -> list[Problem]:
    """An objective naming no measure (with the nearest name), or one whose direction must be said."""
    value = data.get("objective")
    path: tuple = ("objective",)
    if isinstance(value, dict):
        value, path = value.get("measure"), ("objective", "measure")
        if "goal" in data["objective"]:
            return _unknown_measure(value, path, located)
    if not isinstance(value, str):
        return []  # absent, or the wrong type: the schema says so
    problems = _unknown_measure(value, path, located)
    if not problems and GOALS.get(value) is None:
        message = f"'{value}' has no default direction: write objective: {{measure: {value}, goal: max}} (or goal: min)"
        problems.append(Problem(*located.where(path), ".".join(path), message))
    return problems


def _unknown_measure(value: Any, path: tuple, located: Located) -> list[Problem]:
    if not isinstance(value, str) or value in MEASURES:
        return []
    return [Problem(*located.where(path), ".".join(path), f"unknown measure '{value}'{nearest(value, MEASURES)}")]


def _base_data(spec: SweepSpec, path: Path, located: Located, memory: bool = True) -> dict:
    """The base scenario as validated raw data (its memory checked if ``memory``): a file or inline."""
    if isinstance(spec.base, str):
        base_path = (path.parent / spec.base).resolve()
        if not base_path.is_file():
            there = sorted(p.name for p in base_path.parent.glob("*.yaml")) if base_path.parent.is_dir() else []
            raise ScenarioError(
                [Problem(*located.where(("base",)), "base", f"no scenario file {base_path}{nearest(spec.base, there)}")]
            )
        return to_dict(load(base_path, check_memory=memory))
    inner = Located(located.source)
    inner.lines = {p[1:]: line for p, line in located.lines.items() if p[:1] == ("base",)}
    data = dict(spec.base)
    data.setdefault("name", spec.name)
    try:
        return to_dict(validate(data, inner, memory))
    except ScenarioError as exc:
        raise ScenarioError([Problem(p.source, p.line, f"base.{p.path}", p.message) for p in exc.problems]) from None


def _resolve(
    base: dict, changes: list, located: Located, strategy: str, memory: bool = True
) -> tuple[dict | None, list[Problem]]:
    """Apply one run's overrides to the base and validate (memory too if ``memory``); problems at the sweep's lines."""
    data, problems = base, []
    for where, key, value in changes:
        try:
            data = apply_override(data, key, value)
        except OverrideError as exc:  # set aside, so the other changes are still checked
            problems.append(Problem(*located.where(where), ".".join(where), str(exc)))
    try:
        scenario = to_dict(validate(data, Located(located.source), memory))
        return (None if problems else scenario), problems
    except ScenarioError as exc:
        for problem in exc.problems:
            dotted = problem.path.replace("[", ".").replace("]", "")
            culprit = next((w for w, k, _ in changes if dotted == k or dotted.startswith(k + ".")), None)
            culprit = culprit or _introduced_by(base, changes, problem)
            where = culprit or ("strategies", strategy)
            label = ".".join(str(p) for p in where)
            message = problem.message if culprit else f"{problem.path}: {problem.message}"
            problems.append(Problem(*located.where(where), label, message))
        return None, problems


def _introduced_by(base: dict, changes: list, problem: Problem) -> tuple | None:
    """The change (a strategy's or a varied key's) that alone brings a problem whose path names no change.

    E.g. a varied ``steps`` that puts one of the base's events past the end: the problem is at
    ``events[0].at``, the culprit is the ``vary`` line.
    """
    for where, key, value in changes:
        try:
            validate(apply_override(base, key, value), Located(problem.source))
        except ScenarioError as exc:
            if any((p.path, p.message) == (problem.path, problem.message) for p in exc.problems):
                return where
        except OverrideError:
            continue
    return None
