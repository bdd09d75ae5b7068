"""Static plots of a sweep (PNG): measures per strategy, against a varied parameter, verdicts, over time.

Each strategy keeps one colour across the plots (its position among the
strategies). Intervals are :func:`silosim.stats.mean_ci` over ok runs.
"""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from silosim.analysis import style
from silosim.stats import mean_ci

MAX_LINE_VALUES = 10  # more distinct values (lhs, sobol): the runs as dots and a line through binned means
BINS = 8
VERDICT_COLOURS = style.VERDICT_COLOURS


def colour(strategies: list[str], strategy: str) -> tuple:
    """The strategy's colour, the same in every plot."""
    return style.colour(strategies.index(strategy))


def _grid(n: int, title: str) -> tuple[plt.Figure, list[plt.Axes]]:
    """A figure with one panel per measure (up to 4 a row); the unused panels hidden."""
    cols = max(min(n, 4), 1)  # no panel at all (every measure hidden): the figure holds the note alone
    rows = max(math.ceil(n / cols), 1)
    fig, axes = plt.subplots(rows, cols, figsize=(3.8 * cols, 3.0 * rows + 0.8), squeeze=False)
    axes = list(axes.ravel())
    for ax in axes[n:]:
        ax.set_visible(False)
    fig.suptitle(title, fontsize=12)
    return fig, axes[:n]


def _shown(frame: pd.DataFrame, measures: list[str]) -> tuple[list[str], dict[str, str]]:
    """The measures worth a panel, and the others with why (undefined in every run, constant)."""
    hidden = {m: why for m in measures if (why := style.status(frame[m])) is not None}
    return [m for m in measures if m not in hidden], hidden


def _panel(ax: plt.Axes, measure: str, values: pd.Series) -> None:
    """Title, unit label, grid and the measure's one y scale (its natural range, else its range over every run)."""
    ax.set_title(measure, fontsize=10)
    ax.set_ylabel(style.label(measure), fontsize=8)
    ax.set_ylim(*style.y_limits(measure, values))
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _save(fig: plt.Figure, path: Path, legend: bool = True, hidden: dict[str, str] | None = None) -> None:
    """Legend below the panels, the note of hidden panels under it, 200 dpi."""
    height = fig.get_figheight()
    note = style.hidden_note(hidden or {})
    if note:
        fig.text(0.01, 0.08 / height, note, fontsize=8, color="#444444", ha="left", va="bottom", gid="hidden-note")
    low = (0.3 if note else 0.0) / height  # figure fractions from inches: the same gaps at any height
    handles, labels = fig.axes[0].get_legend_handles_labels() if legend and fig.axes else ([], [])
    if labels:
        rows = math.ceil(len(labels) / 4)
        fig.legend(
            handles,
            labels,
            loc="lower center",
            ncol=min(len(labels), 4),
            fontsize=9,
            frameon=False,
            bbox_to_anchor=(0.5, low),
        )
        low += (0.15 + 0.25 * rows) / height
    fig.tight_layout(rect=(0, low, 1, 1 - 0.1 / height))
    fig.savefig(path, dpi=style.DPI)
    plt.close(fig)


def measures_by_strategy(ok: pd.DataFrame, strategies: list[str], measures: list[str], path: Path) -> None:
    """One panel per measure: each strategy's mean over its ok runs with 95% interval bars."""
    measures, hidden = _shown(ok, measures)
    fig, axes = _grid(len(measures), "Final measures per strategy (mean over its ok runs, 95% CI)")
    for ax, measure in zip(axes, measures, strict=True):
        for x, strategy in enumerate(strategies):
            mean, low, high, _ = mean_ci(ok.loc[ok["strategy"] == strategy, measure])
            error = [[mean - low], [high - mean]] if np.isfinite(low) else None
            ax.errorbar(x, mean, yerr=error, fmt="o", capsize=4, color=colour(strategies, strategy), label=strategy)
        ax.set_xticks(range(len(strategies)), strategies, rotation=30, ha="right", fontsize=8)
        ax.set_xlim(-0.5, len(strategies) - 0.5)
        _panel(ax, measure, ok[measure])
    _save(fig, path, hidden=hidden)


def measures_against(ok: pd.DataFrame, key: str, strategies: list[str], measures: list[str], path: Path) -> None:
    """One panel per measure against a varied parameter: a line per strategy with its 95% band.

    Up to ``MAX_LINE_VALUES`` distinct values, a point per value; beyond (lhs,
    sobol), every run as a dot and the line through means of ``BINS``
    quantile bins. Non-numeric values are placed in order of appearance.
    Other varied parameters are averaged over.
    """
    x = pd.to_numeric(ok[key], errors="coerce")
    ticks = None
    if x.isna().any():
        ticks = list(dict.fromkeys(ok[key].map(str)))
        x = ok[key].map(str).map(ticks.index).astype(float)
    scatter = x.nunique() > MAX_LINE_VALUES
    bins = pd.qcut(x, BINS, duplicates="drop") if scatter else x
    what = f"runs as dots, mean of {BINS} bins with 95% CI" if scatter else "mean, 95% CI"
    measures, hidden = _shown(ok, measures)
    fig, axes = _grid(len(measures), f"Final measures against {key} ({what})")
    for ax, measure in zip(axes, measures, strict=True):
        for strategy in strategies:
            mine = ok["strategy"] == strategy
            if scatter:
                ax.scatter(x[mine], ok.loc[mine, measure], s=6, alpha=0.25, color=colour(strategies, strategy))
            groups = ok[mine].groupby(bins[mine], observed=True).groups.values()
            line = [(x[rows].mean(), *mean_ci(ok.loc[rows, measure])[:3]) for rows in groups]
            xs, means, lows, highs = np.array(sorted(line)).T if line else ([], [], [], [])
            ax.plot(xs, means, marker="" if scatter else "o", color=colour(strategies, strategy), label=strategy)
            ax.fill_between(xs, lows, highs, color=colour(strategies, strategy), alpha=0.2, lw=0)
        if ticks is not None:
            ax.set_xticks(range(len(ticks)), ticks, rotation=30, ha="right", fontsize=8)
        ax.set_xlabel(".".join(key.split(".")[-2:]), fontsize=8)
        _panel(ax, measure, ok[measure])
    _save(fig, path, hidden=hidden)


def verdict_bars(bars: list[tuple[str, dict[str, float]]], path: Path) -> None:
    """Stacked bars of the share of runs per verdict, one bar per (label, shares)."""
    fig, ax = plt.subplots(figsize=(max(5.0, 0.7 * len(bars) + 2), 4.2))
    labels = [label for label, _ in bars]
    bottom = np.zeros(len(bars))
    for verdict, col in VERDICT_COLOURS.items():
        share = np.array([shares[verdict] for _, shares in bars])
        ax.bar(range(len(bars)), share, bottom=bottom, color=col, label=verdict, width=0.7)
        bottom += share
    ax.set_xticks(range(len(bars)), labels, rotation=30, ha="right", fontsize=8)
    ax.set_ylim(0, 1)
    ax.set_ylabel("share of runs")
    ax.set_title("Verdicts")
    ax.legend(loc="upper left", bbox_to_anchor=(1, 1), fontsize=9)
    _save(fig, path, legend=False)


def measures_over_time(
    series: pd.DataFrame,
    strategies: list[str],
    measures: list[str],
    path: Path,
    *,
    events: list[tuple[int, str]] | None = None,
) -> None:
    """One panel per measure: its mean over each strategy's ok runs at every step.

    Args:
        series: mean per (strategy, step) of each measure.
        strategies: in colour order.
        measures: the measures to draw (constant or undefined ones are left out and named in a note).
        path: the PNG to write.
        events: (step, label) of the base scenario's events, drawn as labelled vertical lines.
    """
    from silosim.analysis.plots import draw_events, draw_thresholds, thresholds

    measures, hidden = _shown(series, measures)
    fig, axes = _grid(len(measures), "Measures over time (mean over runs)")
    limits = thresholds(None)
    for i, (ax, measure) in enumerate(zip(axes, measures, strict=True)):
        for strategy in strategies:
            mine = series[series["strategy"] == strategy].sort_values("step")
            ax.plot(mine["step"], mine[measure], color=colour(strategies, strategy), label=strategy)
        ax.set_xlabel("step", fontsize=8)
        _panel(ax, measure, series[measure])
        draw_thresholds(ax, measure, limits)
        draw_events(ax, events or [], labelled=i == 0 or measure in style.THRESHOLD_LINES)
    _save(fig, path, hidden=hidden)
