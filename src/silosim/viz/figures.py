"""What the page shows of a model: its figures (as PNG) and its texts, plain Python without a browser.

The community graph is drawn by :mod:`silosim.analysis.graph` (with the
actors, a legend and the step as title); the measures over time one panel
per measure of :data:`silosim.analysis.plots.PANELS`, from step 0 (the
page's first measurement, :func:`silosim.viz.page.first_measurement`). The
verdict reads "so far" until the run has converged or ended, and the
conclusion in words is :func:`silosim.analysis.conclusion.run_conclusion`
of the run's summary so far. :mod:`silosim.app` wraps them in Solara
components.
"""

from __future__ import annotations

import io
import textwrap

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from silosim.analysis.conclusion import run_conclusion
from silosim.analysis.graph import community_graph_data, draw_community_graph, legend_handles
from silosim.analysis.plots import PANELS, graph_title
from silosim.model import SiloModel
from silosim.runner import summarise
from silosim.viz.page import CONTROLS

# --------------------------------------------------------------------------- figures


def community_graph_figure(model: SiloModel) -> Figure:
    """The community graph with its actors (:func:`silosim.analysis.graph.draw_community_graph`), step and rule."""
    data = community_graph_data(model)
    fig = Figure(figsize=(6.2, 5.0), dpi=120)  # 744 x 600 px
    draw_community_graph(fig.add_axes((0.02, 0.07, 0.96, 0.79)), data, labels_outside=True)
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
    ownership = model.config.ownership
    fig.suptitle(  # in words that agree with the verdict (one joined group is not "merged")
        f"{graph_title(model)}\nrule {ownership.rule} · cross-posting {ownership.cross_posting}", fontsize=9
    )
    return fig


def figure_png(figure: Figure) -> bytes:
    """A figure as PNG bytes (what the page sends to the browser; fast compression: it is redrawn while playing)."""
    out = io.BytesIO()
    figure.savefig(out, format="png", pil_kwargs={"compress_level": 1})
    return out.getvalue()


def measurements(model: SiloModel) -> pd.DataFrame:
    """The measurements so far, one row each: the page's step-0 measurement (if any), then the model's."""
    frame = model.timeseries()
    first = getattr(model, "first_measurement", None)  # a VizModel's (silosim.viz.page); a SiloModel has none
    if first is None:
        return frame
    row = pd.DataFrame([first], columns=list(frame.columns) if len(frame.columns) else list(first))
    return row if frame.empty else pd.concat([row, frame], ignore_index=True)


def measures_figure(model: SiloModel) -> Figure:
    """The measures over time (one panel each), the scenario's events marked, the verdict as title."""
    return MeasuresChart(model).update()


class MeasuresChart:
    """The measures figure of one model, built once and brought up to date by :meth:`update`.

    The page keeps one per model: a redraw then only moves the lines and the
    texts, without building the axes and their ticks again (about half the
    cost of drawing the figure anew).
    """

    BOUNDS = {"ei_index": (-1.05, 1.05), "silo_count": None} | dict.fromkeys(
        ("cross_reach", "practice_convergence", "fit", "knowledge"), (-0.02, 1.02)
    )

    def __init__(self, model: SiloModel):
        """Build the figure's panels, axes, titles and event lines for ``model`` (1200 x 558 px)."""
        self.model = model
        cfg = model.config
        self.figure = fig = Figure(figsize=(10, 4.65), dpi=120)
        axes = fig.subplots(
            2,
            4,
            sharex=True,
            gridspec_kw={"left": 0.06, "right": 0.98, "top": 0.84, "bottom": 0.15, "wspace": 0.25, "hspace": 0.3},
        )
        self.panels = []  # (column, axes, its line, its "n/a" text, whether its y axis follows the data)
        for ax, (column, title) in zip(axes.ravel(), PANELS, strict=True):
            (line,) = ax.plot([], [], color="#1f77b4", marker="o", ms=2.5, lw=1.4)
            if column == "ei_index":
                (self.baseline,) = ax.plot([], [], color="grey", ls="--", lw=1, label="random mixing")
                ax.legend(loc="upper right", fontsize=7, frameon=False)
            for event in cfg.events:
                ax.axvline(event.at, color="#d62728", ls=":", lw=1.2)
            ax.set_xlim(0, max(cfg.steps, 1))
            bounds = (0, len(cfg.communities) + 0.5) if column == "silo_count" else self.BOUNDS.get(column)
            if bounds:
                ax.set_ylim(*bounds)
            na = ax.text(0.5, 0.5, "n/a so far", transform=ax.transAxes, ha="center", va="center", fontsize=8)
            na.set_color("grey")
            ax.set_title(title, fontsize=9)
            ax.tick_params(labelsize=8)
            ax.grid(alpha=0.3)
            self.panels.append((column, ax, line, na, bounds is None))
        for ax in axes[-1]:
            ax.set_xlabel("step", fontsize=8)
        if cfg.events:
            events = "red dotted lines: " + "; ".join(event_label(e.at, e.set) for e in cfg.events)
            fig.text(0.5, 0.01, textwrap.fill(events, 120), ha="center", va="bottom", fontsize=7.5)

    def update(self) -> Figure:
        """Set the lines to the measurements so far and the title to the verdict; returns the figure."""
        frame = measurements(self.model)
        steps = frame["step"].to_numpy(dtype=float)
        for column, ax, line, na, autoscale in self.panels:
            values = frame[column].to_numpy(dtype=float)
            line.set_data(steps, values)
            if column == "ei_index":
                self.baseline.set_data(steps, frame["ei_baseline"].to_numpy(dtype=float))
            defined = bool(np.isfinite(values).any())
            na.set_visible(not defined)
            if autoscale and defined:
                ax.relim()
                ax.autoscale_view(scalex=False)
        self.figure.suptitle(textwrap.fill(verdict_text(self.model), 100), fontsize=9)
        return self.figure


def event_label(at: int, changes: dict) -> str:
    """One scheduled event in words, e.g. ``step 100: ownership.rule=glue``."""
    return f"step {at}: " + ", ".join(f"{key}={value}" for key, value in changes.items())


# --------------------------------------------------------------------------- text


def finished(model: SiloModel) -> bool:
    """Whether the run has reached its last step (its latest measurement is then the final one)."""
    return model.steps >= model.config.steps


def settled(model: SiloModel) -> bool:
    """Whether the latest verdict stands: the run has ended, or its measures have converged."""
    return "verdict" in model.measures and (finished(model) or bool(model.measures["converged"]))


def verdict_text(model: SiloModel) -> str:
    """The verdict of the latest measurement in words: "so far" until the run has converged or ended.

    E.g. ``siloed so far (step 10 of 300; not converged): ...`` mid-run,
    ``FRAGMENTED (final, step 300 of 300; converged): ...`` at the end.
    """
    cfg, m = model.config, model.measures
    if "verdict" not in m:
        return (
            f"No verdict yet (step {model.steps} of {cfg.steps}): the flow between communities is first "
            f"measured at step {min(cfg.metrics.every, cfg.steps)}."
        )
    where = f"step {m['step']} of {cfg.steps}"
    if m["verdict"] == "n/a":
        return f"No verdict yet ({where}): {model.verdict_reason}"
    state = "converged" if m["converged"] else "not converged"
    if finished(model):
        return f"{m['verdict'].upper()} (final, {where}; {state}): {model.verdict_reason}"
    if m["converged"]:
        return f"{m['verdict'].upper()} at {where} (converged; the run goes on): {model.verdict_reason}"
    return f"{m['verdict']} so far ({where}; {state}): {model.verdict_reason}"


def verdict_box(model: SiloModel) -> str | None:
    """The verdict whose colour the page gives its box: None (neutral) until the verdict stands."""
    return model.measures["verdict"] if settled(model) else None


def conclusion_text(model: SiloModel) -> str:
    """The conclusion in words of the run so far (:func:`silosim.analysis.conclusion.run_conclusion`)."""
    if "verdict" not in model.measures:
        return f"No conclusion yet: the first measurement of the flow is at step {model.config.metrics.every}."
    return run_conclusion(summarise(model, final=finished(model)))


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
