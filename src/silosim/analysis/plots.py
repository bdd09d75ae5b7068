"""Static plots of a run (PNG, 200 dpi): the measures over time and the community graph (:mod:`.graph`)."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd
from matplotlib.lines import Line2D

from silosim.analysis import style
from silosim.analysis.graph import community_graph_data, draw_community_graph, legend_handles
from silosim.metrics import VERDICT_DEFAULTS

if TYPE_CHECKING:
    from silosim.model import SiloModel
    from silosim.scenario import Scenario

SIZE = 1.4  # community node area in the static graph
# (column, title) of the browser page's eight panels (silosim.viz.figures); kept for it
PANELS = (
    ("ei_index", "E-I index (−1 silos … +1 open)"),
    ("modularity", "modularity Q"),
    ("silo_count", "silo count"),
    ("cross_reach", "cross-community reach"),
    ("practice_convergence", "practice convergence"),
    ("time_to_insight", "time to insight (steps)"),
    ("fit", "fit to stakeholders' needs"),
    ("knowledge", "knowledge (best practice held)"),
)
# the measures of the run's static plot, in order (each labelled from silosim.analysis.style)
RUN_PANELS = (
    "cross_reach",
    "largest_merged_share",
    "silo_count",
    "ei_index",
    "modularity",
    "practice_convergence",
    "time_to_insight",
    "fit",
    "knowledge",
)


def event_label(event: object) -> str:
    """A short label of an event: its first change, e.g. ``ownership.rule → glue`` (+n more)."""
    changes = list(getattr(event, "set", {}).items())
    if not changes:
        return f"event at {event.at}"
    key, value = changes[0]
    text = f"{key.split('.')[-1]} → {value}"
    return text + (f" (+{len(changes) - 1})" if len(changes) > 1 else "")


def thresholds(scenario: Scenario | None) -> dict[str, float]:
    """The verdict thresholds in force: the scenario's, else :data:`silosim.metrics.VERDICT_DEFAULTS`."""
    try:
        return {**VERDICT_DEFAULTS, **scenario.metrics.verdict.model_dump()}
    except AttributeError:
        return dict(VERDICT_DEFAULTS)


def draw_thresholds(ax: plt.Axes, measure: str, values: dict[str, float]) -> None:
    """The verdict thresholds that apply to ``measure`` as labelled horizontal lines (gid ``threshold:<name>``)."""
    for name in style.THRESHOLD_LINES.get(measure, ()):
        y = values[name]
        ax.axhline(y, color=style.REFERENCE_COLOUR, ls="--", lw=0.9, gid=f"threshold:{name}")
        ax.annotate(
            f"{name.replace('_', ' ')} {y:g}",
            (1.0, y),
            xycoords=("axes fraction", "data"),
            xytext=(-3, 2),
            textcoords="offset points",
            ha="right",
            va="bottom",
            fontsize=7,
            color=style.REFERENCE_COLOUR,
        )


def draw_events(ax: plt.Axes, events: list[tuple[int, str]], labelled: bool = True) -> None:
    """Each event as a vertical line at its step (gid ``event``), with its label at the top when ``labelled``."""
    for step, text in events:
        ax.axvline(step, color=style.EVENT_COLOUR, ls=":", lw=1.2, gid="event")
        if labelled:
            ax.annotate(
                text,
                (step, 1.0),
                xycoords=("data", "axes fraction"),
                xytext=(2, -2),
                textcoords="offset points",
                rotation=90,
                ha="left",
                va="top",
                fontsize=6.5,
                color=style.EVENT_COLOUR,
            )


def timeseries_figure(timeseries: pd.DataFrame, scenario: Scenario) -> plt.Figure:
    """The figure of :func:`plot_timeseries`: measures against step, constant and undefined ones left out and named.

    Thresholds of the verdict are drawn on the panels they apply to, the
    scenario's events as labelled vertical lines, each axis labelled with its
    unit and on the measure's natural range (shares 0–1, E-I −1…1).
    """
    present = [m for m in RUN_PANELS if m in timeseries]
    hidden = {m: why for m in present if (why := style.status(timeseries[m])) is not None}
    shown = [m for m in present if m not in hidden]
    rows, cols = style.grid_shape(len(shown), 4)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3.2 * rows + 1.0), squeeze=False)
    axes = list(axes.ravel())
    for ax in axes[len(shown) :]:
        ax.set_visible(False)
    limits = thresholds(scenario)
    events = [(event.at, event_label(event)) for event in scenario.events]
    steps = timeseries["step"]
    for i, (ax, measure) in enumerate(zip(axes, shown, strict=False)):
        ax.plot(steps, timeseries[measure], color=style.colour(0), lw=1.4, label="this run")
        if measure == "ei_index" and "ei_baseline" in timeseries:
            ax.plot(steps, timeseries["ei_baseline"], color=style.colour(1), ls="--", lw=1, label="random mixing")
            ax.legend(loc="lower right", fontsize=7, frameon=False)
        ax.set_ylim(*style.y_limits(measure, timeseries[measure]))
        if len(steps):
            ax.set_xlim(0, max(int(steps.max()), 1))  # one step axis on every panel, measured from the start
        draw_thresholds(ax, measure, limits)
        draw_events(ax, events, labelled=i == 0 or measure in style.THRESHOLD_LINES)
        ax.set_ylabel(style.label(measure), fontsize=8)
        ax.set_xlabel("step", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
    verdict = timeseries["verdict"].iloc[-1] if len(timeseries) and "verdict" in timeseries else "?"
    fig.suptitle(f"{scenario.name}: {verdict} at step {int(steps.iloc[-1]) if len(steps) else 0}", fontsize=12)
    note = style.hidden_note(hidden)
    if note:
        fig.text(0.01, 0.005, note, fontsize=8, color="#444444", ha="left", va="bottom", gid="hidden-note")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 1))
    return fig


def plot_timeseries(timeseries: pd.DataFrame, scenario: Scenario, path: Path) -> None:
    """Save :func:`timeseries_figure` to ``path`` at 200 dpi."""
    fig = timeseries_figure(timeseries, scenario)
    fig.savefig(path, dpi=style.DPI)
    plt.close(fig)


def graph_title(model: SiloModel) -> str:
    """The graph's title in words, agreeing with the verdict, e.g. ``fragmented: 2 groups of joined communities``."""
    measures = model.measures
    verdict = measures.get("verdict") or getattr(model, "verdict", None) or "n/a"
    verdict = "no verdict yet" if verdict == "n/a" else verdict
    count = measures.get("silo_count")
    if count is None or count != count:
        groups = "silos not measured yet"
    else:
        count = int(count)
        groups = "all communities joined in one group" if count == 1 else f"{count} groups of joined communities"
        if count == 1 and verdict != "merged":
            share = measures.get("largest_merged_share")
            groups = "one group of joined communities" + (
                f", holding {share:.0%} of members" if share is not None and share == share else ""
            )
    return f"{model.config.name}, step {model.steps} — {verdict}: {groups}"


def plot_community_graph(model: SiloModel, path: Path | None = None) -> plt.Figure:
    """The communities, departments, glue department and community managers, linked by ties; 200 dpi, ≥1600×1200 px.

    Legends give the node kinds, community size (members) and edge width
    (share of the smaller community's ties between two communities).
    """
    data = community_graph_data(model)
    fig, ax = plt.subplots(figsize=(10, 8.5))
    draw_community_graph(ax, data, actors=True, size=SIZE, labels_outside=True)
    ax.set_title(graph_title(model), fontsize=11)
    widths = [
        Line2D([], [], color="#444444", lw=min(0.6 + 14 * share, 10), alpha=0.55, label=f"{share:.0%} of the ties")
        for share in (0.05, 0.25, 0.5)
    ]
    widths.append(Line2D([], [], color="#444444", lw=0.6, ls=":", label="under the silo floor: not joined"))
    big = max(int(data.members.max()), 1) if len(data.members) else 1
    sizes = [
        Line2D(
            [],
            [],
            ls="",
            marker="o",
            mfc="white",
            mec="#333333",
            ms=math.sqrt(SIZE * (150 + 1700 * math.sqrt(m / big))),
            label=f"{m:,} members",
        )
        for m in sorted({big, max(big // 10, 1)})
    ]
    legends = (
        (legend_handles(data), "nodes", 0.02),
        (widths, "edge width: share of the smaller community's ties between two", 0.30),
        (sizes, "community size", 0.74),
    )
    for handles, title, x in legends:
        fig.legend(
            handles=handles,
            loc="lower left",
            bbox_to_anchor=(x, 0.0),
            fontsize=7.5,
            title=title,
            title_fontsize=8,
            frameon=False,
            # the size bubbles one above the other, a bubble's height apart (labelspacing counts font sizes)
            labelspacing=max(h.get_markersize() for h in sizes) / 7.5 if handles is sizes else 0.5,
            borderpad=1.2 if handles is sizes else 0.4,
            handletextpad=3.0 if handles is sizes else 0.8,
        )
    fig.subplots_adjust(left=0.01, right=0.99, top=0.95, bottom=0.24)
    if path is not None:
        fig.savefig(path, dpi=style.DPI)
        plt.close(fig)
    return fig
