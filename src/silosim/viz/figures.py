"""What the page shows of a model: its figures (as PNG) and its texts, plain Python without a browser.

The community graph is drawn by :mod:`silosim.analysis.graph` (with the
actors, a legend and the step as title); the measures over time one panel
per measure of :data:`silosim.analysis.plots.PANELS`, at the size of a cell
of Mesa's page grid. :mod:`silosim.app` wraps them in Solara components.
"""

from __future__ import annotations

import io
import textwrap

from matplotlib.figure import Figure

from silosim import metrics
from silosim.analysis.graph import community_graph_data, draw_community_graph, legend_handles
from silosim.analysis.plots import PANELS
from silosim.model import SiloModel
from silosim.viz.page import CONTROLS

# --------------------------------------------------------------------------- figures


def community_graph_figure(model: SiloModel) -> Figure:
    """The community graph with its actors (:func:`silosim.analysis.graph.draw_community_graph`), step and rule."""
    data = community_graph_data(model)
    fig = Figure(figsize=(6.2, 4.2), dpi=120)  # the shape of a cell of Mesa's page grid, 744 x 504 px
    draw_community_graph(fig.add_axes((0.0, 0.05, 1.0, 0.88)), data)
    handles = legend_handles(data)
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.0,
    )
    n_silos = metrics.silo_count(data.silos)
    fig.suptitle(
        f"step {model.steps}: {n_silos} silo{'s' if n_silos != 1 else ''} · rule {model.config.ownership.rule}"
        f" · cross-posting {model.config.ownership.cross_posting}",
        fontsize=9,
    )
    return fig


def figure_png(figure: Figure) -> bytes:
    """A figure as PNG bytes (what the page sends to the browser)."""
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


def measures_figure(model: SiloModel) -> Figure:
    """The measures over time (one panel each), the scenario's events marked, the verdict as title."""
    frame = model.datacollector.get_model_vars_dataframe()
    cfg = model.config
    fig = Figure(figsize=(10, 4.65), dpi=120)  # 1200 x 558 px
    axes = fig.subplots(
        2,
        4,
        sharex=True,
        gridspec_kw={"left": 0.06, "right": 0.98, "top": 0.84, "bottom": 0.15, "wspace": 0.25, "hspace": 0.3},
    )
    bounds = {"ei_index": (-1.05, 1.05)} | dict.fromkeys(
        ("cross_reach", "practice_convergence", "fit", "knowledge"), (-0.02, 1.02)
    )
    bounds["silo_count"] = (0, len(cfg.communities) + 0.5)
    for ax, (column, title) in zip(axes.ravel(), PANELS, strict=True):
        values = frame[column].astype(float) if len(frame) else None
        if values is not None and values.notna().any():
            ax.plot(frame["step"], values, color="#1f77b4", marker="o", ms=2.5, lw=1.4)
            if column == "ei_index":
                ax.plot(
                    frame["step"],
                    frame["ei_baseline"].astype(float),
                    color="grey",
                    ls="--",
                    lw=1,
                    label="random mixing",
                )
                ax.legend(loc="best", fontsize=7, frameon=False)
        for event in cfg.events:
            ax.axvline(event.at, color="#d62728", ls=":", lw=1.2)
        ax.set_xlim(0, max(cfg.steps, 1))
        if column in bounds:
            ax.set_ylim(*bounds[column])
        if values is not None and values.isna().all():
            ax.text(0.5, 0.5, "n/a so far", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="grey")
            ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=8)
    if cfg.events:
        events = "red dotted lines: " + "; ".join(event_label(e.at, e.set) for e in cfg.events)
        fig.text(0.5, 0.01, textwrap.fill(events, 120), ha="center", va="bottom", fontsize=7.5)
    fig.suptitle(textwrap.fill(verdict_text(model), 100), fontsize=9)
    return fig


def event_label(at: int, changes: dict) -> str:
    """One scheduled event in words, e.g. ``step 100: ownership.rule=glue``."""
    return f"step {at}: " + ", ".join(f"{key}={value}" for key, value in changes.items())


# --------------------------------------------------------------------------- text


def verdict_text(model: SiloModel) -> str:
    """The verdict of the latest measurement, in words."""
    if "verdict" not in model.measures:
        return f"No measurement yet: the first is at step {model.config.metrics.every}."
    return f"{model.measures['verdict'].upper()} at step {model.measures['step']}: {model.verdict_reason}"


def status_text(model: SiloModel) -> str:
    """The step counter and the ownership in force, e.g. ``Step 5 of 300 · rule glue · glue hr · ...``."""
    own = model.config.ownership
    parts = [f"Step {model.steps} of {model.config.steps}", f"rule {own.rule}"]
    if own.rule == "glue":
        parts.append(f"glue {own.glue}")
    if own.rule == "single_owner":
        parts.append(f"owner {own.owner}")
    parts += [f"cross-posting {own.cross_posting}", f"seed {model.config.seed}"]
    return " · ".join(parts)


def dynamics_text(model: SiloModel) -> str:
    """The dynamics in force that the page's sliders set, e.g. ``exploration 0.1 · tie decay 0.02 · ...``."""
    sliders = [c for c in CONTROLS if c.kind == "slider"]
    return " · ".join(f"{c.label} {c.current(model.config):g}" for c in sliders)


def timeseries_csv(model: SiloModel) -> str:
    """The measurements so far as CSV, the same columns as ``timeseries.csv`` of ``silosim run``."""
    return model.datacollector.get_model_vars_dataframe().to_csv(index=False)
