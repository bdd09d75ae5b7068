"""The browser page (Solara): ``silosim viz SCENARIO.yaml`` serves it.

The scenario file comes from ``SILOSIM_VIZ_SCENARIO`` (set by
:func:`silosim.viz.server.serve`). Each browser session builds its own
model; the controls in the sidebar (:mod:`silosim.viz.page`) rebuild it
through the scenario validation of ``silosim run`` when Reset is pressed,
and then show what the new model runs (the scenario file's values when the
settings were refused). The figures are drawn by :mod:`silosim.viz.figures`
and sent as PNG images.

Play steps the model at the chosen speed and redraws whenever it is on time:
a redraw that takes longer than a step delays the next picture, not the
model (the steps it fell behind are run before the next redraw, and a
picture is drawn at least every :data:`MAX_BLIND_S` seconds).
"""

from __future__ import annotations

import time
from typing import Any

import reacton.ipywidgets as rw
import solara
import solara.lab

from silosim.viz import figures, page

# validated at start-up: a bad file stops the server, not a session
SOURCE, SCENARIO, SEED, SCALE = page.page_scenario()
PARAMS = page.model_params(SOURCE, SCENARIO, SEED, SCALE)
FIXED = {key: value for key, value in PARAMS.items() if not isinstance(value, dict)}  # source, fallback, scale
SPEED = 20  # Play's default speed, in steps per second
MAX_SPEED = 60
MAX_BLIND_S = 1.0  # Play redraws at least this often, even when behind
IMAGE = {"max_width": "100%", "object_fit": "contain"}
CSS = """
.silosim-value { min-width: 4.5em; text-align: right; font-variant-numeric: tabular-nums; }
"""


def play(model: page.VizModel, speed: float, playing: Any, redraw: Any) -> None:
    """Step ``model`` at ``speed`` steps per second while ``playing`` holds and the model runs.

    Redraws (``redraw()``) after a step when the next step is not yet due,
    at least every :data:`MAX_BLIND_S` seconds, and when the run ends.

    Args:
        model: the model to step.
        speed: steps per second.
        playing: a callable telling whether Play is still on (Pause, Reset and a new session turn it off).
        redraw: draws the page for the model's current step.
    """
    started = drawn = time.perf_counter()
    done, fresh = 0, True
    while playing() and model.running:
        now = time.perf_counter()
        due = (now - started) * speed - done  # steps owed
        if due < 1:
            time.sleep((1 - due) / speed)
            continue
        model.step()
        done, fresh = done + 1, False
        if due < 2 or not model.running or now - drawn >= MAX_BLIND_S:
            redraw()
            drawn, fresh = time.perf_counter(), True
    if not fresh:
        redraw()


@solara.component
def Status(model: page.VizModel, frame: int):  # noqa: N802 (Solara components are named like classes)
    """Step counter, settings in force, verdict and conclusion in words, validation message, CSV download."""
    rows = len(model.datacollector.model_vars.get("step", []))
    csv = solara.use_memo(lambda: figures.timeseries_csv(model), [model, rows])
    conclusion = solara.use_memo(lambda: figures.conclusion_text(model), [model, model.steps])
    with solara.Column(gap="6px", style={"padding": "8px"}):
        solara.Text(figures.status_text(model), classes=["silosim-status"], style={"font-weight": "bold"})
        solara.Text(figures.dynamics_text(model), classes=["silosim-dynamics"])
        if model.reset_error:
            solara.Error(
                "Reset refused, these settings are not valid (running the scenario file as given instead; "
                "the controls show its values):\n" + model.reset_error,
                classes=["silosim-error"],
                style_="white-space: pre-wrap",
            )
        box = figures.verdict_box(model)
        {"merged": solara.Success, "fragmented": solara.Warning, "siloed": solara.Error}.get(box, solara.Info)(
            figures.verdict_text(model), classes=["silosim-verdict"], icon=False
        )
        solara.Text(conclusion, classes=["silosim-conclusion"], style={"white-space": "pre-wrap"})
        solara.FileDownload(
            csv,
            filename=f"{model.config.name}-seed{model.config.seed}-timeseries.csv",
            label=f"Download CSV ({rows} measurement{'s' if rows != 1 else ''})",
            mime_type="text/csv",
        )


@solara.component
def CommunityGraph(model: page.VizModel, frame: int):  # noqa: N802 (Solara components are named like classes)
    """The community graph, redrawn at each frame."""
    png = solara.use_memo(lambda: figures.figure_png(figures.community_graph_figure(model)), [model, model.steps])
    rw.Image(value=png, format="png", layout=IMAGE)


@solara.component
def Measures(model: page.VizModel, frame: int):  # noqa: N802 (Solara components are named like classes)
    """The measures over time, redrawn only when a new measurement arrives."""
    rows = len(model.datacollector.model_vars.get("step", []))
    chart = solara.use_memo(lambda: figures.MeasuresChart(model), [model])
    png = solara.use_memo(lambda: figures.figure_png(chart.update()), [chart, rows])
    rw.Image(value=png, format="png", layout=IMAGE)


@solara.component
def Control(control: page.Control, value: Any, on_value: Any):  # noqa: N802 (Solara components are named like classes)
    """One control of the sidebar, showing ``value``; a slider shows its number beside it."""
    settings = control.param(SCENARIO) | {"value": value}
    if control.kind == "slider":
        with solara.Row(style={"align-items": "center"}, gap="4px"):
            with solara.Column(style={"flex-grow": "1"}):
                solara.SliderFloat(
                    control.label,
                    value=value,
                    min=settings["min"],
                    max=settings["max"],
                    step=settings["step"],
                    on_value=on_value,
                    thumb_label=False,
                )
            solara.Text(f"{value:g}", classes=["silosim-value", f"silosim-value-{control.name}"])
    elif control.kind == "text":
        solara.InputText(control.label, value=str(value), on_value=on_value, continuous_update=True)
    else:
        solara.Select(control.label, value=value, values=settings["values"], on_value=on_value)


@solara.component
def Page():  # noqa: N802 (Solara components are named like classes)
    """One page per browser session, each with its own model."""
    first = solara.use_memo(lambda: page.VizModel(**page.initial_kwargs(PARAMS)), [])
    model = solara.use_reactive(first)
    values = solara.use_reactive(page.control_values(first.config))
    frame = solara.use_reactive(0)
    playing = solara.use_reactive(False)
    speed = solara.use_reactive(SPEED)

    def redraw() -> None:
        frame.value += 1

    def run_play() -> None:
        if not playing.value:
            return
        current, chosen = model.value, speed.value  # a new speed restarts Play at it
        play(current, chosen, lambda: playing.value and model.value is current and speed.value == chosen, redraw)
        if model.value is current and not current.running:
            playing.value = False  # the run has ended: the button reads ▶ again (disabled)

    solara.lab.use_task(run_play, dependencies=[playing.value, speed.value], prefer_threaded=True, raise_error=False)

    def do_step() -> None:
        if model.value.running:
            model.value.step()
            redraw()

    def do_reset() -> None:
        playing.value = False
        new = page.VizModel(**FIXED, **values.value)
        values.value = page.control_values(new.config)  # what the model runs, refused settings or not
        model.value = new  # after the controls: the page never shows the new model beside the old settings
        redraw()

    def set_value(name: str) -> Any:
        return lambda value: values.set({**values.value, name: value})

    m = model.value
    solara.Title(f"silosim · {SCENARIO.name}")
    solara.Style(CSS)
    with solara.AppBar():
        solara.AppBarTitle(f"silosim · {SCENARIO.name}")
    with solara.Sidebar():
        with solara.Card("Controls"):
            with solara.Row(justify="space-between"):
                solara.Button(label="Reset", color="primary", on_click=do_reset)
                solara.Button(
                    label="❚❚" if playing.value else "▶",
                    color="primary",
                    on_click=lambda: playing.set(not playing.value),
                    disabled=not m.running,
                )
                solara.Button(label="Step", color="primary", on_click=do_step, disabled=playing.value or not m.running)
            with solara.Row(style={"align-items": "center"}, gap="4px"):
                with solara.Column(style={"flex-grow": "1"}):
                    solara.SliderInt("speed (steps per second)", value=speed, min=1, max=MAX_SPEED, thumb_label=False)
                solara.Text(f"{speed.value}", classes=["silosim-value", "silosim-value-speed"])
        with solara.Card("Settings (applied by Reset)"):
            for control in page.CONTROLS:
                Control(control, values.value[control.name], set_value(control.name)).key(control.name)
    Status(m, frame.value)
    with solara.Columns([5, 7]):
        CommunityGraph(m, frame.value)
        Measures(m, frame.value)
