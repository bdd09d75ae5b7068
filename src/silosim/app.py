"""The browser page (Mesa SolaraViz): ``silosim viz SCENARIO.yaml`` serves it.

The scenario file comes from ``SILOSIM_VIZ_SCENARIO`` (set by
:func:`silosim.viz.server.serve`). Each browser session builds its own
model; the controls in the sidebar (:mod:`silosim.viz.page`) rebuild it
through the scenario validation of ``silosim run`` when Reset is pressed.
The figures are drawn by :mod:`silosim.viz.figures` and sent as PNG images.
"""

from __future__ import annotations

import reacton.ipywidgets as rw
import solara
from mesa.visualization import SolaraViz
from mesa.visualization.utils import update_counter

from silosim.viz import figures, page

# validated at start-up: a bad file stops the server, not a session
SOURCE, SCENARIO, SEED, SCALE = page.page_scenario()
PARAMS = page.model_params(SOURCE, SCENARIO, SEED, SCALE)
# Mesa's grid cells are 390 px tall: scale each figure down to fit, keeping its shape
FIT_CELL = {"max_width": "100%", "max_height": "385px", "object_fit": "contain"}


@solara.component
def Status(model: page.VizModel):  # noqa: N802 (Solara components are named like classes)
    """Step counter, settings in force, verdict in words, validation message, CSV download."""
    update_counter.get()
    rows = len(model.datacollector.model_vars.get("step", []))
    csv = solara.use_memo(lambda: figures.timeseries_csv(model), [model, rows])
    with solara.Column(gap="6px", style={"padding": "8px"}):
        solara.Text(figures.status_text(model), classes=["silosim-status"], style={"font-weight": "bold"})
        solara.Text(figures.dynamics_text(model), classes=["silosim-dynamics"])
        if model.reset_error:
            solara.Error(
                "Reset refused, these settings are not valid (running the scenario file as given instead):\n"
                + model.reset_error,
                classes=["silosim-error"],
                style_="white-space: pre-wrap",
            )
        verdict = model.measures.get("verdict")
        box = {"merged": solara.Success, "fragmented": solara.Warning, "siloed": solara.Error}.get(verdict, solara.Info)
        box(figures.verdict_text(model), classes=["silosim-verdict"], icon=False)
        solara.FileDownload(
            csv,
            filename=f"{model.config.name}-seed{model.config.seed}-timeseries.csv",
            label=f"Download CSV ({rows} measurement{'s' if rows != 1 else ''})",
            mime_type="text/csv",
        )


@solara.component
def CommunityGraph(model: page.VizModel):  # noqa: N802 (Solara components are named like classes)
    """The community graph, redrawn every step."""
    update_counter.get()
    rw.Image(value=figures.figure_png(figures.community_graph_figure(model)), format="png", layout=FIT_CELL)


@solara.component
def Measures(model: page.VizModel):  # noqa: N802 (Solara components are named like classes)
    """The measures over time, redrawn only when a new measurement arrives."""
    update_counter.get()
    rows = len(model.datacollector.model_vars.get("step", []))
    png = solara.use_memo(lambda: figures.figure_png(figures.measures_figure(model)), [model, rows])
    rw.Image(value=png, format="png", layout=FIT_CELL)


@solara.component
def Page():  # noqa: N802 (Solara components are named like classes)
    """One page per browser session, each with its own model."""
    model = solara.use_memo(lambda: page.VizModel(**page.initial_kwargs(PARAMS)), [])
    solara.Title(f"silosim · {SCENARIO.name}")
    SolaraViz(
        model,
        components=[CommunityGraph, Measures, Status],
        model_params=PARAMS,
        name=f"silosim · {SCENARIO.name}",
        play_interval=50,
    )
