"""The browser page's components, built from small models without a browser."""

import io
import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import LineCollection, PathCollection
from matplotlib.colors import to_hex

from silosim import rules, scenario
from silosim.analysis.graph import community_graph_data
from silosim.analysis.plots import PANELS
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.viz import figures, page, server
from tests.helpers import ROOT, glued, three_islands


def stepped(data: dict, steps: int = 30) -> SiloModel:
    model = SiloModel(scenario.from_dict(data))
    for _ in range(steps):
        model.step()
    return model


def flowing(data: dict) -> dict:
    """Items that end within 30 steps, often enough, told on often: a measurable flow by the step-30 measure.

    Silos are read from the flow of items that ended (default lifetime 100 steps, past a 30-step run).
    """
    data["dynamics"] = {"item_lifetime": 10, "practice_rate": 0.5, "word_of_mouth": 0.2}
    return data


def two_silos() -> dict:
    """The islands, with the lab recruiting consumers too: brand page and lab join, the ESN stays apart.

    Consumers in both tell the lab's partners about brand-page items and the brand page's consumers
    about lab items (word of mouth); nobody is in both the ESN and another community.
    """
    data = flowing(three_islands())
    data["communities"][2]["members"]["consumers"] = 0.3
    return data


def node_collections(fig) -> dict[str, PathCollection]:
    ax = fig.axes[0]
    return {c.get_gid(): c for c in ax.collections if isinstance(c, PathCollection)}


def community_colours(fig) -> list[str]:
    return [to_hex(c) for c in node_collections(fig)["communities"].get_facecolors()]


# --------------------------------------------------------------------------- the community graph


def test_graph_has_one_node_per_community_department_and_cm():
    model = stepped(glued(three_islands()))
    data = community_graph_data(model)
    assert len(data.names) == 3 + 4 + 1  # communities + departments + community managers
    assert data.kinds.count("community") == 3 and data.kinds.count("department") == 4 and data.kinds.count("cm") == 1
    fig = figures.community_graph_figure(model)
    drawn = sum(len(c.get_offsets()) for c in node_collections(fig).values())
    assert drawn == 3 + 4 + 1
    assert len(node_collections(fig)["communities"].get_offsets()) == 3


def test_two_silo_organisation_gets_two_colours():
    model = stepped(two_silos())
    data = community_graph_data(model)
    assert data.silos.tolist() == [0, 1, 0]  # brand page and lab joined, the ESN alone
    assert data.silos.tolist() == model.silo_labels.tolist()  # the silos of the latest measurement
    colours = community_colours(figures.community_graph_figure(model))
    assert colours[0] == colours[2] != colours[1]


def test_islands_get_three_colours_and_merged_organisation_one():
    islands = stepped(flowing(three_islands()))
    assert islands.window_items > 0  # items ended: the three colours come from measured flow, not its absence
    assert len(set(community_colours(figures.community_graph_figure(islands)))) == 3
    assert len(set(community_colours(figures.community_graph_figure(stepped(flowing(glued(three_islands()))))))) == 1


def test_before_any_item_ends_every_community_is_its_own_silo():
    model = stepped(three_islands() | {"dynamics": {"item_lifetime": 100}}, 30)
    assert model.window_items == 0
    assert community_graph_data(model).silos.tolist() == [0, 1, 2]
    assert [e for e in community_graph_data(model).edges if e[3] == "between"] == []


def test_communities_are_sized_by_membership():
    data = three_islands()
    data["organization"]["stakeholders"][1]["count"] = 60  # a small ESN
    model = stepped(data, 5)
    graph = community_graph_data(model)
    assert graph.members[1] < graph.members[0]
    sizes = node_collections(figures.community_graph_figure(model))["communities"].get_sizes()
    assert sizes[1] < sizes[0]


def test_glue_department_and_cms_are_marked():
    model = stepped(glued(three_islands()))
    data = community_graph_data(model)
    assert data.names[data.glue] == "comms"
    nodes = node_collections(figures.community_graph_figure(model))
    assert len(nodes["glue"].get_offsets()) == 1
    assert len(nodes["cms"].get_offsets()) == 1
    assert len(nodes["departments"].get_offsets()) == 3  # the glue is drawn as a star, not a square
    # the glue takes part in every community, and is linked to each
    assert {c for a, c in data.taking_part if a == data.glue} == {0, 1, 2}
    assert {c for a, c, _, kind in data.edges if kind == "takes_part" and a == data.glue} == {0, 1, 2}


def test_islands_have_no_glue_and_no_edge_between_communities():
    model = stepped(three_islands())
    data = community_graph_data(model)
    assert data.glue is None
    assert [e for e in data.edges if e[3] == "between"] == []
    assert "glue" not in node_collections(figures.community_graph_figure(model))


def test_edge_width_follows_two_way_flow_and_tie_weight():
    model = stepped(two_silos())
    data = community_graph_data(model)
    between = [e for e in data.edges if e[3] == "between"]
    assert [(a, b) for a, b, _, _ in between] == [(0, 2)]
    # between communities: the weaker direction of the flow, here above the silo floor (joined, solid)
    assert between[0][2] == pytest.approx(min(model.flow[0, 2], model.flow[2, 0]))
    assert model.config.metrics.verdict.silo_floor <= between[0][2] <= 1
    assert data.joined == [True]
    ax = figures.community_graph_figure(model).axes[0]
    solid = [c for c in ax.collections if isinstance(c, LineCollection) and len(c.get_segments())]
    widths = np.concatenate([c.get_linewidths() for c in solid])
    assert widths.max() > widths.min()  # widths vary with the weight they show


def test_positions_stay_fixed_from_step_to_step_and_across_a_rule_change():
    data = three_islands()
    data["events"] = [{"at": 10, "set": {"ownership.rule": "glue", "ownership.glue": "comms"}}]
    model = SiloModel(scenario.from_dict(data))
    before = community_graph_data(model).positions.copy()
    for _ in range(20):
        model.step()
    after = community_graph_data(model)
    assert model.config.ownership.rule == "glue"
    assert np.array_equal(before, after.positions)
    assert after.glue is not None


def test_graph_draws_fast_at_the_largest_shipped_scenario():
    model = SiloModel(scenario.load(ROOT / "scenarios" / "hr_led_large_group.yaml"))
    for _ in range(20):
        model.step()
    figures.community_graph_figure(model).savefig(io.BytesIO(), format="png")  # warm up fonts
    import time

    started = time.perf_counter()
    figures.community_graph_figure(model).savefig(io.BytesIO(), format="png")
    assert time.perf_counter() - started < 2.0  # about 0.1 s here; generous for a loaded CI machine


# --------------------------------------------------------------------------- measures, verdict, CSV


def test_measures_figure_has_a_panel_per_measure_and_marks_events():
    data = three_islands()
    data["events"] = [{"at": 20, "set": {"ownership.cross_posting": "open"}}]
    model = stepped(data, 35)
    fig = figures.measures_figure(model)
    assert len(fig.axes) == 8
    assert [ax.get_title() for ax in fig.axes] == [title for _, title in PANELS]
    for ax in fig.axes:
        xs = [line.get_xdata() for line in ax.get_lines()]
        assert any(list(x) == [20, 20] for x in xs)  # the event, on every panel
    ei = fig.axes[0].get_lines()[0]
    assert list(ei.get_xdata()) == [10, 20, 30]
    assert fig.axes[0].get_xlim() == (0, 150)  # the whole run, so the axis does not rescale
    assert "step 20: ownership.cross_posting=open" in " ".join(t.get_text() for t in fig.texts)
    assert fig.get_suptitle().startswith("No verdict yet (step 30 of 150): no item has ended yet")


def test_verdict_in_words():
    model = SiloModel(scenario.from_dict(three_islands()))
    assert figures.verdict_text(model) == (
        "No verdict yet (step 0 of 150): the flow between communities is first measured at step 10."
    )
    for _ in range(10):
        model.step()
    verdict = figures.verdict_text(model)
    assert verdict == "No verdict yet (step 10 of 150): no item has ended yet (items live 100 steps)"


def test_verdict_reads_so_far_until_the_run_converges_or_ends():
    data = flowing(three_islands()) | {"steps": 40}
    model = stepped(data, 20)
    reason = "items reach 0% of other communities' members (siloed_reach 5%)"  # three islands: nothing crosses
    assert figures.verdict_text(model) == f"siloed so far (step 20 of 40; not converged): {reason}"
    assert figures.verdict_box(model) is None  # a neutral box, not the red of a standing SILOED
    model.measures["converged"] = 1.0  # as if the window had settled: the verdict stands, the run goes on
    assert figures.verdict_text(model) == f"SILOED at step 20 of 40 (converged; the run goes on): {reason}"
    assert figures.verdict_box(model) == "siloed"
    for _ in range(20):
        model.step()
    assert not model.running
    assert figures.verdict_text(model) == f"SILOED (final, step 40 of 40; not converged): {reason}"
    assert figures.verdict_box(model) == "siloed"


def test_status_shows_step_counter_and_rule():
    model = stepped(glued(three_islands()), 5)
    text = figures.status_text(model)
    assert text.startswith("Step 5 of 150 · rule glue · glue comms · cross-posting open · seed 3")
    assert figures.dynamics_text(model) == "exploration 0.1 · tie decay 0.02 · reinforcement 0.2 · drift 0.001"


def test_csv_has_one_row_per_measurement_and_the_columns_of_silosim_run():
    model = stepped(three_islands(), 35)
    frame = pd.read_csv(io.StringIO(figures.timeseries_csv(model)))
    assert frame["step"].tolist() == [10, 20, 30]
    assert list(frame.columns) == ["step", *MEASURES, "verdict"]
    assert figures.timeseries_csv(SiloModel(scenario.from_dict(three_islands()))).strip() == ",".join(frame.columns)


# --------------------------------------------------------------------------- the page's model and controls


@pytest.fixture
def islands_file(tmp_path):
    import yaml

    path = tmp_path / "islands.yaml"
    path.write_text(yaml.safe_dump(three_islands()))
    return path


def controls(path, **changes):
    base = scenario.load(path)
    kwargs = page.initial_kwargs(page.model_params(str(path), base))
    return kwargs | changes


def test_controls_default_to_the_scenario_and_offer_every_rule(islands_file):
    base = scenario.load(islands_file)
    params = page.model_params(str(islands_file), base, seed=9)
    assert list(params) == ["source", "fallback", *(c.name for c in page.CONTROLS), "scale"]
    for control in page.CONTROLS:  # each control shows its label, set to the scenario's value
        assert params[control.name]["label"] == control.label
        if control.kind == "slider":
            assert params[control.name]["value"] == control.current(base)
    assert params["rule"]["values"] == list(rules.RULES)
    assert params["rule"]["value"] == "most_involved"
    assert params["cross_posting"] == {
        "type": "Select",
        "label": "cross-posting",
        "value": "closed",
        "values": ["open", "owner_only", "closed"],
    }
    assert params["glue"]["values"] == [page.NONE, "marketing", "hr", "rnd", "comms"]
    assert params["glue"]["value"] == page.NONE
    assert params["exploration"]["value"] == base.dynamics.exploration
    assert params["drift"] == {
        "type": "SliderFloat",
        "label": "drift",
        "value": base.dynamics.drift,
        "min": 0.0,
        "max": 0.01,
        "step": 0.0001,
    }
    assert params["seed"] == {"type": "InputText", "label": "seed", "value": "9"}
    model = page.VizModel(**page.initial_kwargs(params))
    assert model.reset_error is None
    assert model.config.seed == 9
    assert scenario.to_dict(model.config) == scenario.to_dict(scenario.load(islands_file, ["seed=9"]))


def test_valid_controls_rebuild_the_model(islands_file):
    model = page.VizModel(
        **controls(islands_file, rule="glue", glue="comms", cross_posting="open", exploration=0.3, seed=" 7 ")
    )
    assert model.reset_error is None
    own = model.config.ownership
    assert (own.rule, own.glue, own.cross_posting) == ("glue", "comms", "open")
    assert model.config.dynamics.exploration == 0.3
    assert model.config.seed == 7
    assert model.steps == 0


def test_each_control_sets_its_key(islands_file):
    values = {
        "rule": "single_owner", "glue": "hr", "owner": "rnd", "cross_posting": "open", "exploration": 0.5,
        "tie_decay": 0.05, "reinforcement": 0.4, "drift": 0.002, "seed": "11",
    }  # fmt: skip
    model = page.VizModel(**controls(islands_file, **values))
    assert model.reset_error is None
    for control in page.CONTROLS:
        assert control.current(model.config) == control.change(values[control.name])
    assert figures.dynamics_text(model) == "exploration 0.5 · tie decay 0.05 · reinforcement 0.4 · drift 0.002"


def test_invalid_controls_show_the_validation_message_and_never_raise(islands_file):
    model = page.VizModel(**controls(islands_file, rule="glue", glue=page.NONE))
    assert model.reset_error == "ownership.rule: rule 'glue' needs ownership.glue: a department name"
    assert model.config.ownership.rule == "most_involved"  # the fallback scenario runs
    model.step()
    bad_seed = page.VizModel(**controls(islands_file, seed="abc"))
    assert bad_seed.reset_error.startswith("seed: ")
    unparsed = page.VizModel(**controls(islands_file, seed="["))
    assert unparsed.reset_error.startswith("seed: cannot parse value '[': ")
    bad_file = page.VizModel(**controls(islands_file, source=str(islands_file.with_name("gone.yaml"))))
    assert "cannot read file" in bad_file.reset_error
    with pytest.raises(TypeError, match="VizModel takes the controls"):
        page.VizModel(**controls(islands_file) | {"colour": "red"})


def test_controls_are_scenario_changes():
    values = {
        "rule": "glue", "glue": "no", "owner": page.NONE, "cross_posting": "open", "exploration": 0.1 + 0.2,
        "tie_decay": 0.02, "reinforcement": 0.2, "drift": 0.001, "seed": " 5 ",
    }  # fmt: skip
    assert page.control_changes(values) == {
        "ownership.rule": "glue",
        "ownership.glue": "no",  # a name, never read as YAML (a bare no would be false)
        "ownership.owner": None,
        "ownership.cross_posting": "open",
        "dynamics.exploration": 0.3,  # rounded to 6 digits, as the sliders step
        "dynamics.tie_decay": 0.02,
        "dynamics.reinforcement": 0.2,
        "dynamics.drift": 0.001,
        "seed": 5,  # typed text, read as --set reads it
    }
    assert list(page.control_changes(values)) == [c.key for c in page.CONTROLS]


def test_after_a_refused_reset_the_controls_show_what_the_model_runs(islands_file):
    """The page sets its controls to ``control_values`` of the new model's scenario after each Reset."""
    refused = page.VizModel(**controls(islands_file, rule="glue", glue=page.NONE, exploration=0.5, seed="8"))
    assert refused.reset_error is not None
    shown = page.control_values(refused.config)
    assert shown == page.control_values(scenario.load(islands_file))  # the scenario file, as it runs
    assert (shown["rule"], shown["glue"], shown["exploration"], shown["seed"]) == ("most_involved", page.NONE, 0.1, "3")
    accepted = page.VizModel(**controls(islands_file, rule="glue", glue="comms", exploration=0.5, seed=" 8 "))
    shown = page.control_values(accepted.config)
    assert (shown["rule"], shown["glue"], shown["exploration"], shown["seed"]) == ("glue", "comms", 0.5, "8")


def test_the_first_measurement_is_at_step_0_and_changes_no_later_number(islands_file):
    viz = page.VizModel(**controls(islands_file))
    first = viz.first_measurement
    assert first["step"] == 0 and first["verdict"] == "n/a"
    assert math.isnan(first["cross_reach"]) and math.isnan(first["silo_count"])  # no item has ended
    assert math.isnan(first["ei_index"])  # no tie yet
    plain = SiloModel(scenario.load(islands_file))
    # practices and their fit to needs are there from the start: those panels have a point at step 0
    expected = plain._tie_snapshot()
    for name in ("fit", "knowledge", "practice_convergence", "practice_diversity"):
        assert math.isfinite(first[name]) and first[name] == expected[name]
    assert not hasattr(viz, "tie_block")  # measured on a copy: the model's own state is untouched
    plain = SiloModel(scenario.load(islands_file))
    for _ in range(30):
        viz.step()
        plain.step()
    pd.testing.assert_frame_equal(viz.timeseries(), plain.timeseries())  # the numbers of silosim run
    frame = figures.measurements(viz)
    assert frame["step"].tolist() == [0, 10, 20, 30]
    assert frame.iloc[0]["fit"] == first["fit"]
    assert figures.measurements(plain)["step"].tolist() == [10, 20, 30]


def test_the_charts_have_data_at_step_0(islands_file):
    viz = page.VizModel(**controls(islands_file))
    fig = figures.measures_figure(viz)
    titles = [ax.get_title() for ax in fig.axes]
    fit = fig.axes[titles.index(dict(PANELS)["fit"])]
    assert list(fit.get_lines()[0].get_xdata()) == [0]
    assert list(fit.get_lines()[0].get_ydata()) == [viz.first_measurement["fit"]]
    reach = fig.axes[titles.index(dict(PANELS)["cross_reach"])]
    assert "n/a so far" in [t.get_text() for t in reach.texts]  # nothing to show before an item ends


def test_the_page_chart_updated_in_place_draws_what_a_new_one_draws(islands_file):
    viz = page.VizModel(**controls(islands_file))
    chart = figures.MeasuresChart(viz)
    chart.update()
    for _ in range(30):
        viz.step()
    kept, fresh = chart.update(), figures.measures_figure(viz)
    for old, new in zip(kept.axes, fresh.axes, strict=True):
        np.testing.assert_array_equal(old.get_lines()[0].get_xydata(), new.get_lines()[0].get_xydata())
        assert old.get_ylim() == pytest.approx(new.get_ylim())  # modularity and time to insight follow the data
    assert kept.get_suptitle() == fresh.get_suptitle() and "step 30 of 150" in kept.get_suptitle()
    assert list(kept.axes[0].get_lines()[0].get_xdata()) == [0, 10, 20, 30]


class FakeClock:
    """time.perf_counter and time.sleep for :func:`silosim.app.play`: sleeping and redrawing advance it."""

    def __init__(self):
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class FakeModel:
    def __init__(self, steps: int, clock: FakeClock, cost: float = 0.0):
        self.steps, self.last, self.clock, self.cost, self.running, self.at = 0, steps, clock, cost, True, []

    def step(self) -> None:
        self.steps += 1
        self.at.append(round(self.clock.now, 6))
        self.clock.now += self.cost
        self.running = self.steps < self.last


def test_play_keeps_its_speed_when_a_redraw_costs_five_steps(monkeypatch):
    from silosim import app

    clock = FakeClock()
    monkeypatch.setattr(app, "time", clock)
    model, drawn = FakeModel(30, clock), []

    def redraw():
        drawn.append(model.steps)
        clock.now += 0.5  # five steps' time at 10 steps per second

    app.play(model, 10, lambda: True, redraw)
    # by hand: step 1 at 0.1 s, redrawn until 0.6 s; then 5 steps owed, run, redrawn when on time again
    assert drawn == [1, 6, 11, 16, 21, 26, 30]
    assert model.at[0] == 0.1 and model.at[-1] == 3.1  # 29 steps in 3.0 s: the speed asked for, 10 steps/s
    assert not model.running


def test_play_redraws_at_least_every_second_and_stops_when_told(monkeypatch):
    from silosim import app

    clock = FakeClock()
    monkeypatch.setattr(app, "time", clock)
    model, drawn = FakeModel(1000, clock, cost=0.0625), []  # a step costs half its time at 8 steps per second

    def redraw():
        drawn.append(model.steps)
        clock.now += 2.0  # a redraw slower than the longest wait between two pictures (1 s)

    app.play(model, 8, lambda: len(drawn) < 3, redraw)
    # by hand: step 1 at 0.125 s, redrawn until 2.1875 s: 16.5 steps owed, caught up at half a step per step,
    # so the picture waits for the blind limit: steps 2..17 take 1 s, redraw after step 18; then after 35
    assert drawn == [1, 18, 35]
    assert model.steps == 35  # told to stop: no step after the third picture


def test_the_page_imports_outside_the_repository(tmp_path):
    """Without SILOSIM_VIZ_SCENARIO the page serves the repository's default scenario, wherever it starts."""
    env = {k: v for k, v in os.environ.items() if k not in (server.ENV_SCENARIO, server.ENV_SEED, server.ENV_SCALE)}
    code = "import silosim.app; print(silosim.app.SOURCE)"
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == str(ROOT / "scenarios" / "default.yaml")


def test_without_a_scenario_the_page_names_the_variable_to_set(tmp_path, monkeypatch):
    monkeypatch.delenv(server.ENV_SCENARIO, raising=False)
    monkeypatch.setattr(page, "DEFAULT_SCENARIO", tmp_path / "scenarios" / "default.yaml")
    with pytest.raises(FileNotFoundError, match="SILOSIM_VIZ_SCENARIO is not set and there is no default scenario"):
        page.page_scenario()


# --------------------------------------------------------------------------- the server's offline set-up


def test_server_setup_keeps_every_request_on_this_machine():
    """Telemetry off, production mode, assets from the installed folder, a missing asset a local 404."""
    code = """
import solara.server.cdn_helper as cdn, solara.server.settings as server, solara.settings as solara_settings
from silosim.viz.server import prepare_offline_assets
folder = prepare_offline_assets()
print(server.telemetry.mixpanel_enable, server.main.mode, solara_settings.assets.proxy, solara_settings.assets.cdn)
print((folder / "vega@5").is_dir(), (folder / "@widgetti").is_dir())
try:
    cdn.get_path(folder, "no-such-package@1.0.0/index.js")
except FileNotFoundError as exc:
    print("offline:", exc)
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=True).stdout
    lines = out.splitlines()
    assert lines[0] == f"False production True {server.OFFLINE_CDN}"
    assert lines[1] == "True True"
    assert lines[2].startswith(
        f"offline: {server.OFFLINE_CDN}no-such-package@1.0.0/index.js: not in the installed assets"
    )
