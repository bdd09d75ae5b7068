"""A sweep's conclusion in words, its warnings, and the compact strategy table.

The conclusion ranks the strategies on the sweep's **objective** (``objective:``
in the sweep file, :mod:`silosim.experiments.design`): a measure and a goal,
``max`` or ``min``. A measure name alone takes its direction from
:data:`GOALS`; the measures without a natural direction (``reach_trend``,
``ei_baseline``, ``practice_convergence``, ``practice_regions``,
``practice_diversity``) must say it. Absent, the objective is
:data:`DEFAULT_OBJECTIVE`: ``cross_reach`` maximised, the README's headline
question (which strategy lets information cross the communities).

It says which strategy is best (mean and 95% interval, pooled over the
parameter points), by how much it beats the runner-up (paired difference over
the replications that share a seed, with its 95% paired-t interval), how often
it wins those pairs, the verdict shares, and the caveats: runs not converged,
a verdict threshold close, the objective undefined in some runs and why,
differences within noise (``no strategy is distinguishable from …``), a winner
that changes across parameter points, base events that apply to every strategy.

Pure: pandas and :mod:`silosim.stats`; the scenario warnings come from
:func:`silosim.analysis.conclusion.scenario_warnings`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from silosim.analysis.conclusion import scenario_warnings
from silosim.analysis.text import plural
from silosim.metrics import VERDICT_DEFAULTS, VERDICTS
from silosim.stats import paired_difference

if TYPE_CHECKING:
    from silosim.analysis.report import Group
    from silosim.scenario import Scenario

ALL = "all"  # the point of a group pooled over every parameter point
# The direction in which each measure is better; None: no natural one, the sweep file must say it.
GOALS: dict[str, str | None] = {
    "cross_reach": "max",
    "silo_count": "min",
    "largest_merged_share": "max",
    "reach_trend": None,
    "converged": "max",
    "steps_to_merge": "min",
    "time_to_insight": "min",
    "relay_load": "min",
    "ei_index": "max",
    "ei_baseline": None,
    "modularity": "min",
    "practice_convergence": None,
    "practice_regions": None,
    "broker_constraint": "min",
    "fit": "max",
    "knowledge": "max",
    "practice_diversity": None,
}
DEFAULT_OBJECTIVE = {"measure": "cross_reach", "goal": "max", "stated": False}
# Why a measure can be n/a in a run (README, "Measures").
UNDEFINED_WHY = {
    "time_to_insight": "n/a when most insights never reach the insight_target department, or there is none",
    "steps_to_merge": "n/a when the run is never merged after burn-in",
}
CLOSE = 0.1  # a mean within this share of a verdict threshold (at least 0.01) is close to it
MAX_LISTED = 6  # parameter points named where the winner changes


@dataclass
class Standing:
    """One strategy's line of the strategy table, pooled over the parameter points."""

    strategy: str
    runs: int
    mean: tuple[float, float, float, int]
    diff: tuple[float, float, float, int] | None  # against the reference; None for the reference
    best_share: float | None  # share of complete paired replications in which it is best (ties count)
    verdicts: dict[str, float]


# --------------------------------------------------------------------------- warnings (computed when planned)


def base_events(resolved: list[dict], changed: Iterable[str]) -> list[dict]:
    """The events every strategy runs (those of the base), each with the strategy or varied keys it sets.

    Args:
        resolved: one resolved scenario per strategy (at the first parameter point).
        changed: the dotted keys the strategies and ``vary`` set.

    Returns:
        ``{"at", "set", "overrides"}`` per event in every scenario, ``overrides`` the changed keys it
        sets again (after step ``at`` every strategy runs the event's value).
    """
    changed = set(changed)
    lists = [scenario.get("events", []) for scenario in resolved]
    if not lists:
        return []
    common = [e for e in lists[0] if all(e in other for other in lists[1:])]
    return [
        {"at": e["at"], "set": e["set"], "overrides": sorted(k for k in e["set"] if _covers(k, changed))}
        for e in common
    ]


def _covers(key: str, changed: set[str]) -> bool:
    """Whether an event's key sets one a strategy or ``vary`` sets (the same, inside, or around it)."""
    return any(key == c or c.startswith(key + ".") or key.startswith(c + ".") for c in changed)


def sweep_warnings(scenarios: dict[str, list[Scenario]], limit: int = 200) -> list[str]:
    """The scenario warnings of a sweep's strategies: once when every strategy has it, else naming them.

    Args:
        scenarios: strategy → its validated scenario at each parameter point.
        limit: scenarios checked at most (the first points of each strategy).
    """
    per = max(limit // max(len(scenarios), 1), 1)
    found: dict[str, list[str]] = {}
    for strategy, points in scenarios.items():
        for scenario in points[:per]:
            for warning in scenario_warnings(scenario):
                found.setdefault(warning, [])
                if strategy not in found[warning]:
                    found[warning].append(strategy)
    return [
        text if len(names) == len(scenarios) else f"{', '.join(f'`{n}`' for n in names)}: {text}"
        for text, names in found.items()
    ]


def warnings(meta: dict) -> list[str]:
    """The warnings at the top of the report: base events applying to every strategy, then the scenarios'."""
    out = []
    for event in meta.get("base_events", []):
        changes = ", ".join(f"`{k}: {_value(v)}`" for k, v in event["set"].items())
        text = f"The base scenario has an event at step {event['at']} ({changes}) that applies to every strategy"
        if event["overrides"]:
            keys = ", ".join(f"`{k}`" for k in event["overrides"])
            text += (
                f": it sets {keys}, which the strategies or `vary` set, so after step {event['at']} every "
                "strategy runs the event's value and the comparison is of their first steps only. Move the "
                "event into the strategies that should have it, or remove it from the base."
            )
        else:
            text += ": the comparison is of the strategies with this change, not without it."
        out.append(text)
    return out + list(meta.get("warnings", []))


# --------------------------------------------------------------------------- the conclusion


def objective(meta: dict) -> dict[str, Any]:
    """The sweep's objective as ``{"measure", "goal", "stated"}`` (the default for an older store)."""
    return {**DEFAULT_OBJECTIVE, **meta.get("objective", {})}


def pooled(groups: list[Group]) -> list[Group]:
    """One group per strategy over every point: the ``all`` groups, or the only point's."""
    over_all = [g for g in groups if g.point == ALL]
    return over_all or [g for g in groups if g.point != ALL]


def paired_values(runs: pd.DataFrame, measure: str, strategies: list[str]) -> pd.DataFrame:
    """The objective of the ok runs: one row per (point, replication), one column per strategy."""
    ok = runs[runs["status"] == "ok"]
    table = ok.pivot_table(index=["point", "replication"], columns="strategy", values=measure, dropna=False)
    return table.reindex(columns=strategies)


def _better(a: pd.Series, b: pd.Series, goal: str) -> pd.Series:
    return a > b if goal == "max" else a < b


def _ranked(groups: list[Group], measure: str, goal: str) -> list[Group]:
    """Best first on the objective's mean; strategies where it is never defined last."""
    sign = -1 if goal == "max" else 1

    def key(g: Group) -> tuple[bool, float]:
        mean = g.means[measure][0]
        return (math.isnan(mean), 0.0 if math.isnan(mean) else sign * mean)

    return sorted(groups, key=key)


def standings(runs: pd.DataFrame, groups: list[Group], meta: dict) -> list[Standing]:
    """The strategy table: each strategy's objective, difference from the reference, share of wins, verdicts."""
    goal = objective(meta)
    measure = goal["measure"]
    strategies = meta["strategies"]
    table = paired_values(runs, measure, strategies).dropna()
    best = table.max(axis=1) if goal["goal"] == "max" else table.min(axis=1)
    rows = []
    for g in pooled(groups):
        share = float((table[g.strategy] == best).mean()) if len(table) and len(strategies) > 1 else None
        diff = g.diffs.get(measure) if g.pairs is not None else None
        rows.append(Standing(g.strategy, g.runs, g.means[measure], diff, share, g.verdicts))
    return rows


def conclusion(runs: pd.DataFrame, groups: list[Group], meta: dict) -> str:
    """The sweep's conclusion in words (one paragraph), from its groups and the store's runs.

    Args:
        runs: the store's runs frame (ok and failed; only ok runs count).
        groups: :func:`silosim.analysis.report.summarise` of the same runs.
        meta: the sweep's metadata (strategies, objective, thresholds, base events, …).

    Returns:
        The result in one paragraph, then (after an empty line) a paragraph of caveats if any.
    """
    goal = objective(meta)
    measure, direction = goal["measure"], goal["goal"]
    strategies, reference = meta["strategies"], meta["strategies"][0]
    overall = pooled(groups)
    if not overall:
        return "No run has completed yet: there is nothing to conclude."
    wording = f"{'highest' if direction == 'max' else 'lowest'} `{measure}`"
    default = "" if goal["stated"] else " (the default objective; set `objective:` in the sweep file to change it)"
    n_points = len({g.point for g in groups if g.point != ALL})
    over = f" over {plural(n_points, 'parameter point')}" if n_points > 1 else ""
    ranked = _ranked(overall, measure, direction)
    best = ranked[0]
    sentences = []
    if best.means[measure][3] == 0:
        why = UNDEFINED_WHY.get(measure, "no run produced a value")
        sentences.append(f"No strategy can be ranked on `{measure}`: it is undefined in every run ({why}).")
    elif len(ranked) == 1:
        sentences.append(
            f"One strategy, `{best.strategy}`: `{measure}` {_interval(best.means[measure])}{over}; "
            f"nothing to compare it with{default}."
        )
    else:
        sentences.append(
            f"Objective: {wording}{default}. Best: `{best.strategy}`, {_interval(best.means[measure])}{over}."
        )
        sentences += _against_runner_up(runs, ranked, measure, direction, strategies)
        if len(overall) > 2:
            sentences += _within_noise(overall, reference, measure)
        sentences += _same_objective_other_verdict(overall, measure, meta)
        sentences += _winner_by_point(groups, best.strategy, measure, direction, meta)
    sentences += _structure_against_verdict(runs, overall, meta)
    sentences.append(_verdict_sentence(overall))
    caveats = _caveats(runs, overall, ranked, measure, meta)
    text = " ".join(s for s in sentences if s)
    return text + ("\n\nCaveats: " + " ".join(caveats) if caveats else "")


def _against_runner_up(
    runs: pd.DataFrame, ranked: list[Group], measure: str, direction: str, strategies: list[str]
) -> list[str]:
    best, runner = ranked[0], ranked[1]
    table = paired_values(runs, measure, strategies)
    pairs = table[[best.strategy, runner.strategy]].dropna()
    diff = paired_difference(pairs[best.strategy], pairs[runner.strategy])
    if diff[3] == 0:
        return [f"The runner-up `{runner.strategy}` has no run paired with it: no paired difference."]
    wins = int(_better(pairs[best.strategy], pairs[runner.strategy], direction).sum())
    ties = int((pairs[best.strategy] == pairs[runner.strategy]).sum())
    tied = f", equal in {ties}" if ties else ""
    record = f"it is better in {wins} of {plural(diff[3], 'paired replication')} ({wins / diff[3]:.0%}){tied}"
    if _resolved(diff):
        return [
            f"It beats the runner-up `{runner.strategy}` ({_interval(runner.means[measure])}) by "
            f"{abs(diff[0]):.3f} (paired difference {_interval(diff, signed=True)}); {record}."
        ]
    return [
        f"It is not distinguishable from the runner-up `{runner.strategy}` ({_interval(runner.means[measure])}): "
        f"the paired difference {_interval(diff, signed=True)} includes 0, and {record}."
    ]


def _resolved(interval: tuple[float, float, float, int]) -> bool:
    """Whether a difference's 95% interval excludes 0 (a single pair resolves nothing)."""
    mean, low, high, n = interval
    if n < 2 or math.isnan(low):
        return False
    return low > 0 or high < 0 or (low == high and mean != 0)


def _within_noise(overall: list[Group], reference: str, measure: str) -> list[str]:
    others = [g for g in overall if g.strategy != reference]
    if others and not any(_resolved(g.diffs[measure]) for g in others if measure in g.diffs):
        return [
            f"No strategy is distinguishable from the reference `{reference}` on `{measure}`: every paired "
            "difference's 95% interval includes 0, so on this objective any of them will do, the reference "
            "included."
        ]
    return []


def _majority(group: Group) -> str:
    return max(VERDICTS, key=lambda v: group.verdicts[v])


def _same_objective_other_verdict(overall: list[Group], measure: str, meta: dict) -> list[str]:
    """Strategies the objective cannot tell from the reference whose verdict differs: why, in words."""
    reference = overall[0]
    share = {**VERDICT_DEFAULTS, **meta.get("thresholds", {})}["merged_share"]
    out = []
    for g in overall[1:]:
        diff = g.diffs.get(measure)
        if diff is None or diff[3] < 2 or _resolved(diff) or _majority(g) == _majority(reference):
            continue
        text = (
            f"`{g.strategy}` is not distinguishable from `{reference.strategy}` on `{measure}` (Δ "
            f"{_interval(diff, signed=True)}) yet ends {_majority(g)} where `{reference.strategy}` ends "
            f"{_majority(reference)}: the verdict also asks whether communities exchange items both ways"
        )
        if "largest_merged_share" in g.means and "largest_merged_share" in reference.means:
            text += (
                f" (merged needs the largest group of joined communities to hold {share:.0%} of members: "
                f"`largest_merged_share` {_interval(g.means['largest_merged_share'])} against "
                f"{_interval(reference.means['largest_merged_share'])})"
            )
        out.append(text + ".")
    return out


def _structure_against_verdict(runs: pd.DataFrame, overall: list[Group], meta: dict) -> list[str]:
    """Why a strategy's verdict and its silo count seem to disagree (one silo yet not merged, several yet merged)."""
    t = {**VERDICT_DEFAULTS, **meta.get("thresholds", {})}
    ok = runs[runs["status"] == "ok"]
    if not {"silo_count", "cross_reach"} <= set(ok.columns):
        return []
    out = []
    for g in overall:
        mine, verdict = ok[ok["strategy"] == g.strategy], _majority(g)
        silos, reach = mine["silo_count"].mean(), mine["cross_reach"].mean()
        if not (np.isfinite(silos) and np.isfinite(reach)):
            continue
        if verdict != "merged" and silos <= 1.05:
            needed = (
                f"under the siloed_reach of {t['siloed_reach']:.0%}"
                if verdict == "siloed"
                else f"under the merged_reach of {t['merged_reach']:.0%} that merged needs"
            )
            out.append(
                f"`{g.strategy}` ends {verdict} with silo_count {silos:.1f}: joined is not merged. Its communities "
                f"exchange items both ways (one group), but an item reaches {reach:.0%} of another community's "
                f"members on average (`cross_reach`), {needed}."
            )
        elif verdict == "merged" and silos > 1.05:
            out.append(
                f"`{g.strategy}` ends merged with silo_count {silos:.1f}: the communities apart hold less than "
                f"{1 - t['merged_share']:.0%} of the members, and merged asks the largest joined group for "
                f"{t['merged_share']:.0%} of them, not for all."
            )
    return out


def _winner_by_point(groups: list[Group], best: str, measure: str, direction: str, meta: dict) -> list[str]:
    points: dict[Any, list[Group]] = {}
    for g in groups:
        if g.point != ALL:
            points.setdefault(g.point, []).append(g)
    if len(points) < 2:
        return []
    winners = {p: _ranked(gs, measure, direction)[0] for p, gs in points.items()}
    names = list(dict.fromkeys(w.strategy for w in winners.values()))
    if len(names) == 1:
        return [f"`{best}` is best at every one of the {len(points)} parameter points."]
    vary = meta.get("vary", [])
    counts = ", ".join(f"`{n}` at {sum(w.strategy == n for w in winners.values())}" for n in names)
    head = f"The best strategy changes with the parameters ({counts} of {len(points)} points)"
    if len(winners) > MAX_LISTED:  # too many points to list: PRIM says where each one wins
        other = next(n for n in names if n != best)
        return [
            f"{head}: `silosim analyze SWEEP_DIR --prim {other}` finds the ranges of the varied parameters where "
            f"`{other}` wins (scenario discovery); each point is in `summary.csv`."
        ]
    listed = [
        f"`{w.strategy}` at {', '.join(f'{k} = {_value(w.params.get(k))}' for k in vary) or f'point {p}'}"
        for p, w in winners.items()
    ]
    return [f"{head}: {'; '.join(listed)}."]


def _verdict_sentence(overall: list[Group]) -> str:
    parts = []
    for g in overall:
        shares = sorted(((s, v) for v, s in g.verdicts.items() if s > 0), reverse=True)
        parts.append(f"`{g.strategy}` " + ", ".join(f"{v} {s:.0%}" for s, v in shares))
    return f"Verdicts (share of runs): {'; '.join(parts)}."


def _caveats(runs: pd.DataFrame, overall: list[Group], ranked: list[Group], measure: str, meta: dict) -> list[str]:
    out = []
    ok = runs[runs["status"] == "ok"]
    unsettled = []
    for g in overall:
        mine = ok.loc[ok["strategy"] == g.strategy, "converged"] if "converged" in ok else pd.Series(dtype=float)
        not_converged = int((mine == 0).sum())
        if not_converged:
            unsettled.append(f"{not_converged} of {g.runs} runs of `{g.strategy}`")
    if unsettled:
        out.append(
            f"Not converged (`cross_reach` still moving over the window, so the verdict may change with more "
            f"steps): {', '.join(unsettled)}."
        )
    out += _thresholds_close(ranked[:2], meta)
    for g in overall:
        n = g.means[measure][3]
        if 0 < n < g.runs:
            why = UNDEFINED_WHY.get(measure, "no value in those runs")
            out.append(f"`{measure}` is undefined in {g.runs - n} of {g.runs} runs of `{g.strategy}` ({why}).")
    overriding = [e for e in meta.get("base_events", []) if e["overrides"]]
    for event in overriding:
        keys = ", ".join(f"`{k}`" for k in event["overrides"])
        out.append(
            f"The base scenario's event at step {event['at']} sets {keys} for every strategy: after it the "
            "strategies differ less than their names say (see the warnings)."
        )
    failed = int((runs["status"] == "failed").sum())
    missing = meta.get("runs_total", len(runs)) - len(runs)
    if failed or missing > 0:
        out.append(
            f"Based on {plural(len(ok), 'ok run')} of {meta.get('runs_total', len(runs))} planned "
            f"({failed} failed, {max(missing, 0)} not run yet)."
        )
    return out


def _thresholds_close(groups: list[Group], meta: dict) -> list[str]:
    """Strategies (the best two) whose verdict is split or whose mean sits close to a verdict threshold."""
    thresholds = {**VERDICT_DEFAULTS, **meta.get("thresholds", {})}
    checks = [
        ("cross_reach", "merged_reach"),
        ("cross_reach", "siloed_reach"),
        ("largest_merged_share", "merged_share"),
    ]
    out = []
    for g in groups:
        split = [f"{v} {g.verdicts[v]:.0%}" for v in VERDICTS if 0 < g.verdicts[v] < 1]
        close = []
        for measure, name in checks:
            if measure not in g.means or g.means[measure][3] == 0:
                continue
            limit = thresholds[name]
            if abs(g.means[measure][0] - limit) < max(CLOSE * limit, 0.01):
                close.append(f"`{measure}` {_interval(g.means[measure])} is close to `{name}` {limit:g}")
        if close:
            out.append(f"For `{g.strategy}`, {'; '.join(close)}: its verdict turns on that threshold.")
        elif split:
            out.append(f"The runs of `{g.strategy}` split between verdicts ({', '.join(split)}).")
    return out


def _interval(interval: tuple[float, float, float, int], signed: bool = False) -> str:
    """``0.412 [0.380, 0.444]``, ``n/a`` without values."""
    mean, low, high, n = interval
    if n == 0 or mean is None or np.isnan(mean):
        return "n/a"
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    return text + (f" [{low:+.3f}, {high:+.3f}]" if signed else f" [{low:.3f}, {high:.3f}]") if n >= 2 else text


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)
