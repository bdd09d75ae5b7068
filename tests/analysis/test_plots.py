"""The deck-ready plots: dpi, units, thresholds, events, shared scales, hidden panels, the graph's marks."""

import math

import matplotlib
import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_hex
from PIL import Image

from silosim.analysis import plots, style, sweep_plots
from silosim.scenario.loading import from_dict
from tests.helpers import glued, three_islands

matplotlib.use("Agg")


def _scenario(events=None):
    data = three_islands()
    data["steps"] = 40
    if events:
        data["events"] = events
    return from_dict(data)


def _series(steps=(10, 20, 30, 40)):
    n = len(steps)
    frame = {"step": list(steps), "verdict": ["fragmented"] * n}
    for i, m in enumerate(plots.RUN_PANELS):
        frame[m] = np.linspace(0.1, 0.2 + 0.05 * i, n)
    frame["silo_count"] = [1.0] * n  # constant
    frame["time_to_insight"] = [math.nan] * n  # undefined
    frame["ei_baseline"] = [0.3] * n
    return pd.DataFrame(frame)


def _by_gid(fig, prefix):
    return [a for ax in fig.axes for a in ax.get_children() if (a.get_gid() or "").startswith(prefix)]


def test_timeseries_units_thresholds_events_hidden_and_dpi(tmp_path):
    scenario = _scenario([{"at": 20, "set": {"ownership.rule": "glue", "ownership.glue": "comms"}}])
    fig = plots.timeseries_figure(_series(), scenario)
    titles = [ax.get_ylabel() for ax in fig.axes if ax.get_visible()]
    assert "silos (count)" not in titles and not any("insight" in t for t in titles)
    note = [t.get_text() for t in fig.texts if t.get_gid() == "hidden-note"]
    assert note == ["not shown: silo_count (constant 1), time_to_insight (undefined in every run)"]
    for ax in fig.axes:
        if ax.get_visible():
            assert ax.get_xlabel() == "step" and "(" in ax.get_ylabel()  # a unit or range in brackets
    reach = next(ax for ax in fig.axes if ax.get_ylabel().startswith("cross-community reach"))
    lines = {a.get_gid(): a.get_ydata()[0] for a in reach.get_lines() if (a.get_gid() or "").startswith("threshold")}
    assert lines == {"threshold:merged_reach": 0.5, "threshold:siloed_reach": 0.05}
    assert reach.get_ylim()[0] < 0 < 1 < reach.get_ylim()[1] < 1.1  # the share's natural range, not the data's
    events = [a for a in reach.get_lines() if a.get_gid() == "event"]
    assert [e.get_xdata()[0] for e in events] == [20]
    assert "rule → glue (+1)" in [t.get_text() for t in reach.texts]
    path = tmp_path / "m.png"
    plots.plot_timeseries(_series(), scenario, path)
    assert round(Image.open(path).info["dpi"][0]) == 200


def test_scenario_thresholds_are_drawn():
    data = three_islands()
    data["metrics"] = {"verdict": {"merged_share": 0.7}}
    fig = plots.timeseries_figure(_series(), from_dict(data))
    share = next(ax for ax in fig.axes if ax.get_ylabel().startswith("largest merged share"))
    assert [a.get_ydata()[0] for a in share.get_lines() if a.get_gid() == "threshold:merged_share"] == [0.7]


def _sweep_frame():
    rows = []
    for s, base in (("a", 0.50), ("b", 0.518)):
        for r in range(4):
            rows.append(
                {
                    "strategy": s,
                    "cross_reach": base + 0.001 * r,
                    "silo_count": 1.0,
                    "steps_to_merge": math.nan,
                    "modularity": base,
                    "step": 10 * (r + 1),
                }
            )
    return pd.DataFrame(rows)


def test_sweep_panels_share_the_measure_scale_and_hide_the_flat_ones(tmp_path, monkeypatch):
    saved = {}
    monkeypatch.setattr(
        sweep_plots, "_save", lambda fig, path, legend=True, hidden=None: saved.update(fig=fig, hidden=hidden)
    )
    frame = _sweep_frame()
    measures = ["cross_reach", "silo_count", "steps_to_merge"]
    sweep_plots.measures_by_strategy(frame, ["a", "b"], measures, tmp_path / "x.png")
    by_strategy = saved["fig"]
    assert saved["hidden"] == {"silo_count": "constant 1", "steps_to_merge": "undefined in every run"}
    sweep_plots.measures_over_time(frame, ["a", "b"], measures, tmp_path / "y.png", events=[(20, "pilot")])
    over_time = saved["fig"]
    ylims = {ax.get_ylim() for fig in (by_strategy, over_time) for ax in fig.axes if ax.get_visible()}
    assert len(ylims) == 1 and next(iter(ylims))[1] - next(iter(ylims))[0] > 1  # 0–1 on both, not 0.50–0.52
    ax = over_time.axes[0]
    assert [a.get_xdata()[0] for a in ax.get_lines() if a.get_gid() == "event"] == [20]
    assert "pilot" in [t.get_text() for t in ax.texts]


def test_sweep_plot_saved_at_200_dpi_with_note(tmp_path):
    path = tmp_path / "m.png"
    sweep_plots.measures_by_strategy(_sweep_frame(), ["a", "b"], ["cross_reach", "silo_count"], path)
    assert round(Image.open(path).info["dpi"][0]) == 200


def test_palette_is_okabe_ito():
    okabe_ito = {"#0072b2", "#e69f00", "#009e73", "#d55e00", "#56b4e9", "#cc79a7", "#f0e442", "#000000"}
    assert {to_hex(c) for c in style.PALETTE} == okabe_ito
    assert to_hex(sweep_plots.colour(["x", "y"], "y")) == "#e69f00"
    assert set(map(to_hex, style.VERDICT_COLOURS.values())) <= okabe_ito


@pytest.fixture(scope="module")
def glued_model():
    from silosim.model import SiloModel

    data = glued(three_islands())
    data["steps"] = 30
    model = SiloModel(from_dict(data))
    for _ in range(30):
        model.step()
    return model


def test_community_graph_size_marks_and_title(glued_model, tmp_path):
    fig = plots.plot_community_graph(glued_model)
    ax = fig.axes[0]
    gids = {c.get_gid(): c for c in ax.collections if c.get_gid()}
    assert {"communities", "departments", "cms", "glue"} <= set(gids)
    assert len(gids["glue"].get_offsets()) == 1 and len(gids["cms"].get_offsets()) == 1
    glue_marker = gids["glue"].get_paths()[0].vertices
    assert len(glue_marker) != len(gids["communities"].get_paths()[0].vertices)  # a star, not a circle
    verdict = glued_model.measures["verdict"]
    said = "no verdict yet" if verdict == "n/a" else verdict
    assert ax.get_title().split(" — ")[1].startswith(f"{said}:") and "silo(s)" not in ax.get_title()
    legend_titles = {lg.get_title().get_text() for lg in fig.legends}
    assert {"nodes", "community size"} <= legend_titles and any("edge width" in t for t in legend_titles)
    path = tmp_path / "g.png"
    plots.plot_community_graph(glued_model, path)
    width, height = Image.open(path).size
    assert width >= 1600 and height >= 1200
