"""The report of a sweep: its conclusion, warnings, strategy table, plots, method, then every measure.

Read from the sweep's store and written to ``SWEEP_DIR/report/``, replaced
as a whole: ``report.md`` and ``report.html`` (the same sections in the same
order: the conclusion in words, the warnings, one compact strategy table on
the objective, the plots, the method, then an appendix of every measure),
``conclusion.txt`` (the conclusion as the sweep command prints it),
``summary.csv`` (one row per strategy, point and measure), ``verdicts.csv``,
``runs.csv`` (one row per run, for pandas or R) and the PNG plots of
:mod:`silosim.analysis.sweep_plots`. The HTML embeds its plots and styles:
it makes no outside request. Failed runs are counted and listed but left out
of every statistic; a partial sweep reports what it has and what is missing.
"""

from __future__ import annotations

import inspect
import json
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from silosim import __version__
from silosim.analysis import report_html, sweep_conclusion, sweep_plots
from silosim.analysis.sweep_conclusion import ALL
from silosim.analysis.text import markdown_table, plural
from silosim.atomic import atomic_folder
from silosim.metrics import MEASURES, VERDICTS
from silosim.scenario import Problem, ScenarioError
from silosim.stats import mean_ci, paired_difference
from silosim.store import REPORT_NAME, open_store, sweep_lock

MAX_POINTS = 20  # more parameter points (lhs, sobol): the tables pool each strategy over every point
MAX_BARS = 24  # a verdict bar per strategy and point up to this many bars, per strategy beyond
MAX_LISTED_FAILURES = 50

Interval = tuple[float, float, float, int]  # mean, low, high, n


@dataclass
class Group:
    """The ok runs of one strategy at one parameter point (or pooled over all points), summarised."""

    strategy: str
    point: int | str
    params: dict[str, Any]
    runs: int
    verdicts: dict[str, float]
    means: dict[str, Interval]
    pairs: int | None  # complete pairs with the reference strategy; None for the reference itself
    diffs: dict[str, Interval]


def write_report(sweep_dir: Path, flag: str = "silosim report") -> Path:
    """Write the report of a finished or partial sweep into ``SWEEP_DIR/report/``; return report.md's path.

    Holds the sweep folder's lock while it reads and writes (a sweep running
    there, or another report, makes it a ScenarioError naming that process);
    a sweep calls it under the lock it already holds. Raises FileNotFoundError
    when the folder has no store, ScenarioError when its store is damaged.
    ``flag`` names where the folder came from in messages.
    """
    sweep_dir = Path(sweep_dir)
    target = sweep_dir / REPORT_NAME
    if os.path.lexists(target) and (target.is_symlink() or not target.is_dir()):
        raise ScenarioError([Problem(flag, None, str(target), "exists and is not a folder: move it away")])
    store = open_store(sweep_dir, flag)  # a damaged store is refused before the lock file is written
    try:
        with sweep_lock(sweep_dir, flag):
            runs, series, meta = store.runs_frame(), store.timeseries_means(), store.meta()
            store.close()
            return build_report(runs, series, meta, target, clean_stale=True)
    finally:
        store.close()


def build_report(
    runs: pd.DataFrame, series: pd.DataFrame, meta: dict, out_dir: Path, clean_stale: bool = False
) -> Path:
    """Write the report files from the store's frames into ``out_dir``, atomically; return report.md's path.

    ``clean_stale``: first remove the partial folders that a report writer killed mid-way left beside
    ``out_dir`` (only when no other process may be writing it: under the sweep's lock).
    """
    out_dir = Path(out_dir)
    with atomic_folder(out_dir, replace=True, clean_stale=clean_stale) as tmp:
        _write(runs, series, meta, tmp)
    return out_dir / "report.md"


def planned_points(meta: dict) -> int:
    """Number of parameter points the sweep plans."""
    return meta["runs_total"] // max(len(meta["strategies"]) * meta["replications"], 1)


def summarise(runs: pd.DataFrame, meta: dict) -> list[Group]:
    """One :class:`Group` per strategy and point, plus one per strategy pooled over the points.

    Only ok runs count; pooled groups (point ``all``) only when the sweep plans
    several points. Differences are strategy − first strategy over runs
    paired on (point, replication).
    """
    strategies, vary = meta["strategies"], meta["vary"]
    measures = list(dict.fromkeys([*meta["measures"], sweep_conclusion.objective(meta)["measure"]]))
    ok = runs[runs["status"] == "ok"]
    params = runs.drop_duplicates("point").set_index("point")[vary].sort_index()
    cells = ["point", "replication", *measures]
    reference = ok.loc[ok["strategy"] == strategies[0], cells]
    groups = []
    for strategy in strategies:
        mine = ok[ok["strategy"] == strategy]
        paired = (
            None if strategy == strategies[0] else mine[cells].merge(reference, on=cells[:2], suffixes=("", "_ref"))
        )
        for point, frame in mine.groupby("point", sort=True):
            pairs = None if paired is None else paired[paired["point"] == point]
            groups.append(_group(strategy, int(point), params.loc[point].to_dict(), frame, pairs, measures))
        if planned_points(meta) > 1:
            groups.append(_group(strategy, ALL, dict.fromkeys(vary, ""), mine, paired, measures))
    return [g for g in groups if g.runs > 0]


def _group(
    strategy: str,
    point: int | str,
    params: dict,
    frame: pd.DataFrame,
    paired: pd.DataFrame | None,
    measures: list[str],
) -> Group:
    """Summarise the ok runs of a group; ``paired``: its runs beside the reference's (``m``, ``m_ref``), or None."""
    shares = frame["verdict"].value_counts(normalize=True)
    return Group(
        strategy=strategy,
        point=point,
        params=params,
        runs=len(frame),
        verdicts={v: float(shares.get(v, 0.0)) for v in VERDICTS},
        means={m: mean_ci(frame[m]) for m in measures},
        pairs=None if paired is None else len(paired),
        diffs={} if paired is None else {m: paired_difference(paired[m], paired[f"{m}_ref"]) for m in measures},
    )


# --------------------------------------------------------------------------- files


def _write(runs: pd.DataFrame, series: pd.DataFrame, meta: dict, out: Path) -> None:
    strategies, vary = meta["strategies"], meta["vary"]
    order = {s: i for i, s in enumerate(strategies)}
    runs = runs.sort_values(
        ["strategy", "point", "replication"], key=lambda c: c.map(order) if c.name == "strategy" else c
    )
    columns = ["strategy", "point", *vary, "replication", "seed", "status", "verdict", *MEASURES, "wall_s", "error"]
    runs[columns].to_csv(out / "runs.csv", index=False)
    groups = summarise(runs, meta)
    summary_frame(groups, vary).to_csv(out / "summary.csv", index=False)
    verdict_frame(groups, vary).to_csv(out / "verdicts.csv", index=False)
    plots = _plots(runs[runs["status"] == "ok"], series, groups, meta, out)
    text = markdown(runs, groups, meta, plots)
    (out / "report.md").write_text(text)
    (out / "report.html").write_text(report_html.render(text, out, title=f"Sweep {meta['name']}"))
    (out / "conclusion.txt").write_text(sweep_conclusion.conclusion(runs, groups, meta) + "\n")


def _plots(ok: pd.DataFrame, series: pd.DataFrame, groups: list[Group], meta: dict, out: Path) -> dict[str, str]:
    """Draw the plots that have data into ``out``; return their names and file names."""
    strategies, vary, measures = meta["strategies"], meta["vary"], meta["measures"]
    if ok.empty:
        return {}
    files = {"measures": "measures.png", "verdicts": "verdicts.png"}
    sweep_plots.measures_by_strategy(ok, strategies, measures, out / files["measures"])
    for key in vary:
        files[f"against {key}"] = f"against_{re.sub(r'[^A-Za-z0-9_.-]', '_', key)}.png"
        sweep_plots.measures_against(ok, key, strategies, measures, out / files[f"against {key}"])
    per_point = len(strategies) * planned_points(meta) <= MAX_BARS
    bars = [(_bar_label(g, vary), g.verdicts) for g in groups if (g.point != ALL) == per_point]
    sweep_plots.verdict_bars(bars, out / files["verdicts"])
    if not series.empty:
        files["timeseries"] = "timeseries.png"
        marks = {}
        if "events" in inspect.signature(sweep_plots.measures_over_time).parameters:  # plots that mark events
            marks["events"] = [(e["at"], _event_label(e)) for e in meta.get("base_events", [])]
        sweep_plots.measures_over_time(series, strategies, measures, out / files["timeseries"], **marks)
    return files


def _event_label(event: dict) -> str:
    """``ownership.rule: glue`` for an event (its changes, comma-separated)."""
    return ", ".join(f"{k}: {_value(v)}" for k, v in event["set"].items())


def _bar_label(group: Group, vary: list[str]) -> str:
    if group.point == ALL or not vary:
        return group.strategy
    return f"{group.strategy}\n" + ", ".join(_value(group.params[k]) for k in vary)


def summary_frame(groups: list[Group], vary: list[str]) -> pd.DataFrame:
    """Tidy summary: one row per group and measure with mean, interval, n and the paired difference."""
    rows = []
    for g in groups:
        for m, (mean, low, high, n) in g.means.items():
            diff = g.diffs.get(m, (None, None, None, None))
            rows.append(
                {"strategy": g.strategy, "point": g.point, **g.params, "measure": m, "n": n}
                | {"mean": mean, "low": low, "high": high}
                | {"diff": diff[0], "diff_low": diff[1], "diff_high": diff[2], "diff_n": diff[3]}
            )
    columns = ["strategy", "point", *vary, "measure", "n", "mean", "low", "high", "diff", "diff_low", "diff_high"]
    frame = pd.DataFrame(rows, columns=[*columns, "diff_n"])
    return frame.astype({"diff_n": "Int64"})


def verdict_frame(groups: list[Group], vary: list[str]) -> pd.DataFrame:
    """Share of ok runs per verdict, one row per group."""
    rows = [{"strategy": g.strategy, "point": g.point, **g.params, "runs": g.runs, **g.verdicts} for g in groups]
    return pd.DataFrame(rows, columns=["strategy", "point", *vary, "runs", *VERDICTS])


# --------------------------------------------------------------------------- markdown


def markdown(runs: pd.DataFrame, groups: list[Group], meta: dict, plots: dict[str, str]) -> str:
    """The report: conclusion, warnings, strategy table, plots, method, runs, then every measure (appendix)."""
    strategies, vary, measures = meta["strategies"], meta["vary"], meta["measures"]
    n_points = planned_points(meta)
    lines = [f"# Sweep `{meta['name']}`", ""]
    lines += ["## Conclusion", "", sweep_conclusion.conclusion(runs, groups, meta), ""]
    if meta.get("description"):
        lines += [f"Question: {' '.join(meta['description'].split())}", ""]
    found = sweep_conclusion.warnings(meta)
    if found:
        lines += ["## Warnings", "", *(f"- {w}" for w in found), ""]
    if groups:
        lines += strategy_section(runs, groups, meta)
    lines += _plots_section(plots, vary)
    lines += method_section(meta)
    lines += _runs_section(runs, meta)
    groups = [g for g in groups if g.point == ALL or n_points <= MAX_POINTS]
    if not groups:
        return "\n".join([*lines, "No run has completed yet: nothing to summarise.", ""])
    lines += [
        "## Appendix: every measure",
        "",
        "The verdict shares, measures and paired differences of every strategy at every parameter point.",
        "",
    ]
    if n_points > MAX_POINTS:
        lines += [
            f"With {n_points} parameter points (more than {MAX_POINTS}), the tables pool each strategy over all "
            "points; the plots against each parameter show every run, and per-point values are in `summary.csv`.",
            "",
        ]
    elif n_points > 1:
        lines += [
            "Rows with point `all` pool every parameter point: their intervals also span the differences "
            "between points.",
            "",
        ]
    point_keys = vary if n_points <= MAX_POINTS else []  # pooled rows only: no point columns
    keys = ["strategy", *(["point", *point_keys] if point_keys else [])]
    shares = [[*_keys(g, point_keys), g.runs, *(f"{g.verdicts[v]:.0%}" for v in VERDICTS)] for g in groups]
    lines += ["## Verdicts", "", "Share of the ok runs that end in each verdict.", ""]
    lines += _table([*keys, "runs", *VERDICTS], shares)
    lines += sensitivity_section(runs, strategies)
    means = [[*_keys(g, point_keys), g.runs, *(_cell(g.means[m], g.runs) for m in measures)] for g in groups]
    lines += [
        "## Measures",
        "",
        "Mean of the final value over the ok runs, with its 95% Student-t confidence interval: `mean [low, high]`. "
        "`(n=k)`: the measure is undefined in some runs (`time_to_insight` when most insights never arrive) and "
        "only k runs count; an interval needs 2.",
        "",
        *_table([*keys, "runs", *measures], means),
    ]
    if len(strategies) > 1:
        diffs = [
            [*_keys(g, point_keys), g.pairs, *(_cell(g.diffs[m], g.pairs, signed=True) for m in measures)]
            for g in groups
            if g.pairs is not None
        ]
        lines += [
            f"## Paired differences against `{strategies[0]}`",
            "",
            f"Δ = strategy − `{strategies[0]}`, averaged over pairs of ok runs at the same parameter point and "
            "replication (so the same seed), with its 95% paired-t interval; `pairs` counts them. An interval "
            "that excludes 0 is a difference the replications resolve.",
            "",
            *_table([*keys, "pairs", *measures], diffs),
        ]
    lines += [
        "## Files",
        "",
        "`report.html`: this report, self-contained. `conclusion.txt`: the conclusion. `runs.csv`: one row per "
        "stored run (strategy, parameter values, replication, seed, status, verdict, every measure). "
        "`summary.csv`: one row per strategy, point and measure (mean, interval, n, paired difference). "
        "`verdicts.csv`: the verdict shares.",
        "",
    ]
    return "\n".join(lines)


def strategy_section(runs: pd.DataFrame, groups: list[Group], meta: dict) -> list[str]:
    """The compact strategy table: the objective with its interval, Δ against the reference, wins, verdicts."""
    goal = sweep_conclusion.objective(meta)
    measure, reference = goal["measure"], meta["strategies"][0]
    rows = sweep_conclusion.standings(runs, groups, meta)
    several = len(rows) > 1
    header = ["strategy", "runs", f"{measure} [95% CI]"]
    header += [f"Δ vs `{reference}` [95% CI]", "best in"] if several else []
    header += list(VERDICTS)
    table = []
    for row in rows:
        cells = [f"`{row.strategy}`", row.runs, _cell(row.mean, row.runs)]
        if several:
            diff = "—" if row.diff is None else _cell(row.diff, row.diff[3], signed=True)
            cells += [diff, "n/a" if row.best_share is None else f"{row.best_share:.0%}"]
        table.append(cells + [f"{row.verdicts[v]:.0%}" for v in VERDICTS])
    pooled = " pooled over every parameter point" if planned_points(meta) > 1 else ""
    direction = "higher" if goal["goal"] == "max" else "lower"
    note = f"The objective, `{measure}` ({direction} is better): mean of the ok runs{pooled} with its 95% interval"
    if several:
        note += (
            f"; Δ: paired difference against the reference `{reference}` (same point and seed); best in: share of "
            "the paired replications (every strategy ok) in which the strategy has the best value, ties counting "
            "for each"
        )
    return ["## Strategies", "", *_table(header, table), note + "; then the share of runs per verdict.", ""]


def _plots_section(plots: dict[str, str], vary: list[str]) -> list[str]:
    if not plots:
        return []
    lines = ["## Plots", ""]
    for name in ["verdicts", "measures", *(f"against {k}" for k in vary), "timeseries"]:
        lines += _image(plots, name)
    return lines


def method_section(meta: dict) -> list[str]:
    """How the sweep was run: strategies, seeds, replications, steps, thresholds, events in the base, version."""
    strategies, vary = meta["strategies"], meta["vary"]
    n_points, replications = planned_points(meta), meta["replications"]
    names = ", ".join(f"`{s}`" for s in strategies)
    varied = ", ".join(f"`{k}`" for k in vary) or "nothing"
    goal = sweep_conclusion.objective(meta)
    lines = [
        "## Method",
        "",
        f"Strategies {names}; the first, `{strategies[0]}`, is the reference. Varied: {varied} "
        f"({plural(n_points, 'parameter point')}). {plural(replications, 'replication')} per strategy and point; "
        "replication k of every strategy and point has the same seed (common random numbers)"
        + (f", spawned from the sweep seed {meta['seed']}." if "seed" in meta else "."),
        "",
        f"Objective: `{goal['measure']}`, {'maximised' if goal['goal'] == 'max' else 'minimised'}"
        + ("." if goal["stated"] else " (the default: the sweep file names none)."),
        "",
    ]
    metrics = meta.get("metrics")
    if metrics:
        lines += [
            f"Each run: {meta.get('steps')} steps, measured every {metrics['every']}; the verdict and final measures "
            f"pool the window of the last {metrics['window']} steps after a burn-in of {metrics['burn_in']}; "
            f"`converged` when `cross_reach` moves less than {metrics['tolerance']:g} over the window "
            "(values of the reference's first point).",
            "",
        ]
    thresholds = meta.get("thresholds")
    if thresholds:
        listed = ", ".join(f"`{k}` {v:g}" for k, v in thresholds.items())
        lines += [f"Verdict thresholds: {listed}.", ""]
    if "base_events" in meta:
        events = [f"- step {e['at']}: {_event_label(e)}" for e in meta["base_events"]]
        lines += (
            ["Events in the base scenario (every strategy runs them):", "", *events, ""]
            if events
            else [
                "Events in the base scenario: none.",
                "",
            ]
        )
    version = meta.get("version")
    lines += [
        f"silosim {version} ran the sweep; {__version__} wrote this report."
        if version and version != __version__
        else f"silosim {version or __version__}.",
        "",
    ]
    return lines


def verdict_sensitivity(runs: pd.DataFrame, strategies: list[str]) -> list[list[str]]:
    """Rows: as run, then each verdict threshold ×0.5 and ×1.5; cells: merged/fragmented/siloed % per strategy."""
    if "variants" not in runs:
        return []
    ok = runs[(runs["status"] == "ok") & runs["variants"].notna()]
    variants = ok["variants"].map(json.loads)
    names = list(variants.iloc[0]) if len(variants) else []

    def cell(verdicts: pd.Series) -> str:
        shares = verdicts.value_counts(normalize=True)
        return "/".join(f"{shares.get(v, 0.0):.0%}" for v in VERDICTS)

    rows = [["as run", *(cell(ok.loc[ok["strategy"] == st, "verdict"]) for st in strategies)]]
    for name in names:
        chosen = variants.map(lambda v, name=name: v[name])
        rows.append([f"`{name}`", *(cell(chosen[ok["strategy"] == st]) for st in strategies)])
    return rows if names else []


def sensitivity_section(runs: pd.DataFrame, strategies: list[str]) -> list[str]:
    """The report's section on how the verdict shares move with its thresholds."""
    rows = verdict_sensitivity(runs, strategies)
    if not rows:
        return []
    return [
        "## How the verdict depends on its thresholds",
        "",
        "Verdict shares (merged/fragmented/siloed) of the ok runs, pooled over points, as run and with each "
        "threshold of `metrics.verdict` moved by ±50% (the others kept), recomputed from each run's final "
        "window. A strategy whose shares barely move has a verdict that is a property of the organisation, not "
        "of a threshold.",
        "",
        *_table(["thresholds", *(f"`{st}`" for st in strategies)], rows),
        "",
    ]


def _runs_section(runs: pd.DataFrame, meta: dict) -> list[str]:
    planned, stored = meta["runs_total"], len(runs)
    failed = runs[runs["status"] == "failed"]
    missing = planned - stored
    counts = [[planned, stored, stored - len(failed), len(failed), missing]]
    lines = ["## Runs", "", *_table(["planned", "stored", "ok", "failed", "missing"], counts)]
    if missing > 0:
        per_strategy = planned // len(meta["strategies"])
        stored_by = runs["strategy"].value_counts()
        detail = ", ".join(f"`{s}` {per_strategy - stored_by.get(s, 0)}" for s in meta["strategies"])
        lines += [
            f"**Partial sweep**: {missing} of {planned} planned runs have no result ({detail}). Run the same "
            "`silosim sweep` command to complete it. The statistics use the stored runs; the paired differences "
            "only complete pairs.",
            "",
        ]
    if len(failed):
        listed = [
            [r.strategy, r.point, r.replication, r.seed, _error_line(r.error)]
            for r in failed.head(MAX_LISTED_FAILURES).itertuples()
        ]
        lines += [
            f"### Failed runs ({len(failed)}, left out of the statistics)",
            "",
            *_table(["strategy", "point", "replication", "seed", "error"], listed),
        ]
        if len(failed) > len(listed):
            lines += [f"… and {len(failed) - len(listed)} more, listed in `runs.csv`.", ""]
        lines += ["`silosim sweep --retry-failed` runs them again.", ""]
    return lines


def _error_line(error: str | None) -> str:
    """The exception line of an error (the last line of a traceback), safe in a table cell."""
    lines = [line.strip() for line in str(error or "").splitlines() if line.strip()]
    return (lines[-1] if lines else "?").replace("|", "\\|")


def _keys(group: Group, vary: list[str]) -> list[Any]:
    if not vary:
        return [group.strategy]
    return [group.strategy, group.point, *(_value(group.params[k]) for k in vary)]


def _value(value: Any) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _cell(interval: Interval, count: int | None, signed: bool = False) -> str:
    """``0.412 [0.380, 0.444]``; ``n/a`` without values; ``(n=k)`` when fewer values than runs."""
    mean, low, high, n = interval
    if n == 0:
        return "n/a"
    text = f"{mean:+.3f}" if signed else f"{mean:.3f}"
    if n >= 2:
        text += f" [{low:.3f}, {high:.3f}]"
    return text + (f" (n={n})" if n != count else "")


def _table(header: list[str], rows: list[list[Any]]) -> list[str]:
    """A Markdown table as report lines, with the empty line that ends it."""
    return [*markdown_table(header, rows).split("\n"), ""]


def _image(plots: dict[str, str], name: str) -> list[str]:
    """A Markdown image of a written plot (relative link), or nothing."""
    if name not in plots:
        return []
    return [f"![{name}]({plots[name]})", ""]
