"""The model end to end: behaviour, determinism, events, the scenario library."""

import multiprocessing

import mesa
import numpy as np
import pandas as pd
import pytest
import yaml

from silosim import scenario
from silosim.agents import CommunityManager, Department, Stakeholder
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.runner import run
from tests.helpers import ROOT, glued, three_islands

DEFAULT = ROOT / "scenarios" / "default.yaml"

SCENARIOS = sorted((ROOT / "scenarios").glob("*.yaml"))


def test_disjoint_closed_communities_end_siloed_one_silo_each():
    result = run(scenario.from_dict(three_islands()))
    m = result.summary["measures"]
    assert result.summary["verdict"] == "siloed"
    assert m["silo_count"] == 3
    assert m["ei_index"] == -1.0  # no tie crosses a community boundary
    assert m["cross_reach"] == 0.0
    assert sorted(map(sorted, result.summary["silos"])) == [["brand_page"], ["esn"], ["lab"]]


def test_glue_open_posting_and_outside_cm_merge_the_same_organisation():
    result = run(scenario.from_dict(glued(three_islands())))
    m = result.summary["measures"]
    assert result.summary["verdict"] == "merged"
    assert m["silo_count"] == 1
    assert m["largest_merged_share"] == 1.0
    assert m["ei_index"] > -1.0
    assert m["cross_reach"] > 0.4


def test_same_scenario_and_seed_give_identical_results():
    sc = scenario.from_dict(three_islands() | {"steps": 60})
    a, b = run(glued_sc := scenario.from_dict(glued(three_islands()) | {"steps": 60})), run(glued_sc)
    pd.testing.assert_frame_equal(a.timeseries, b.timeseries)
    strip = lambda s: {k: v for k, v in s.items() if k != "wall_time_s"}  # noqa: E731
    assert strip(a.summary) == strip(b.summary)
    c = run(sc.model_copy(update={"seed": sc.seed + 1}))
    d = run(sc)
    assert not c.timeseries["modularity"].equals(d.timeseries["modularity"])


def test_agents_are_mesa_handles_on_the_state_rows():
    data = glued(three_islands())
    model = SiloModel(scenario.from_dict(data))
    assert len(model.agents_by_type[Department]) == 4
    assert len(model.agents_by_type[CommunityManager]) == 1
    assert len(model.agents_by_type[Stakeholder]) == 900
    hr = next(a for a in model.departments if a.name == "hr")
    assert np.array_equal(hr.culture, model.world.culture[hr.row])
    employee = next(a for a in model.agents_by_type[Stakeholder] if a.group == "employees")
    assert employee.communities == ["esn"]  # share 1.0 of employees join the esn, nothing else
    assert not employee.external


def test_measurements_every_k_steps_and_at_the_end():
    data = three_islands() | {"steps": 25, "metrics": {"every": 10}}
    result = run(scenario.from_dict(data))
    assert result.timeseries["step"].tolist() == [10, 20, 25]
    assert set(MEASURES) <= set(result.timeseries.columns)


def test_event_switches_the_rule_mid_run():
    data = three_islands() | {"steps": 40}
    data["events"] = [
        {"at": 20, "set": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"}}
    ]
    model = SiloModel(scenario.from_dict(data))
    for _ in range(20):
        assert model.config.ownership.rule == "most_involved"
        model.step()
    assert model.config.ownership.rule == "glue"
    assert model.assignment.posting[3].tolist() == [1.0, 1.0, 1.0]  # comms now posts everywhere
    assert model.world.relay_mask[3] == 0b111


def test_glue_brokers_info_that_delegation_keeps_inside():
    base = three_islands() | {"steps": 120}
    base["ownership"]["cross_posting"] = "owner_only"
    delegation = run(scenario.from_dict(base)).summary["measures"]
    with_glue = run(scenario.from_dict(base | {"ownership": {"rule": "glue", "glue": "comms"}})).summary["measures"]
    assert delegation["cross_reach"] == 0.0  # each owner owns one community and relays only into it
    assert with_glue["cross_reach"] > 0.2


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_every_shipped_scenario_validates_and_runs_20_steps(path):
    model = SiloModel(scenario.load(path))
    for _ in range(20):
        model.step()
    model.collect()
    # no item has ended after 20 steps (they live 100): nothing is judged yet, and the reason says so
    assert model.window_items == 0
    assert model.measures["verdict"] == "n/a"
    assert model.verdict_reason == f"no item has ended yet (items live {model.config.dynamics.item_lifetime} steps)"
    assert model.measures["silo_count"] >= 1


def _state(model: SiloModel) -> tuple:
    w = model.world
    return w.culture.tobytes(), w.tie_partner.tobytes(), w.tie_weight.tobytes(), model.needs.tobytes()


def test_a_path_and_rng_build_the_model_of_the_loaded_scenario_with_that_seed():
    a = SiloModel(DEFAULT, rng=5)
    b = SiloModel(scenario.changed(scenario.load(DEFAULT), {"seed": 5}))
    assert a.config.seed == 5 and scenario.to_dict(a.config) == scenario.to_dict(b.config)
    for _ in range(30):
        a.step()
        b.step()
        assert _state(a) == _state(b)
    a.collect(), b.collect()
    pd.testing.assert_frame_equal(a.timeseries(), b.timeseries())
    assert not np.array_equal(SiloModel(str(DEFAULT), rng=6).world.culture, a.world.culture)


def test_keyword_changes_are_dotted_keys_applied_by_changed():
    data = three_islands()
    glue = {"ownership.rule": "glue", "ownership.glue": "comms"}
    model = SiloModel(data, steps=30, **glue)
    expected = scenario.changed(scenario.from_dict(data), glue | {"steps": 30})
    assert scenario.to_dict(model.config) == scenario.to_dict(expected)
    assert scenario.to_dict(SiloModel(data).config) == scenario.to_dict(scenario.from_dict(data))
    with pytest.raises(scenario.ScenarioError, match="did you mean 'ownership'"):
        SiloModel(data, **{"ownershp.rule": "glue"})
    with pytest.raises(scenario.ScenarioError, match=r"needs ownership\.glue"):
        SiloModel(data, **{"ownership.rule": "glue"})
    with pytest.raises(TypeError, match="rng must be an int"):
        SiloModel(data, rng="1")


@pytest.fixture
def start_method():
    """Mesa's batch_run forces the ``spawn`` start method on the whole process: put it back afterwards."""
    before = multiprocessing.get_start_method(allow_none=True)
    yield
    multiprocessing.set_start_method(before, force=True)


def test_mesa_batch_run_builds_the_model_from_a_path_seeds_and_keyword_changes(tmp_path, start_method):
    path = tmp_path / "islands.yaml"
    path.write_text(yaml.safe_dump(three_islands() | {"steps": 20, "metrics": {"every": 10}}))
    rows = mesa.batch_run(
        SiloModel,
        parameters={"scenario": str(path), "ownership.cross_posting": ["closed", "open"]},
        rng=[1, 2],  # batch_run's own argument: it overwrites an "rng" in parameters
        max_steps=100,
        number_processes=1,
        display_progress=False,
    )
    assert len(rows) == 4
    assert {(r["rng"], r["ownership.cross_posting"]) for r in rows} == {
        (1, "closed"),
        (1, "open"),
        (2, "closed"),
        (2, "open"),
    }
    assert {r["step"] for r in rows} == {20} and set(MEASURES) <= set(rows[0])
    row = next(r for r in rows if r["rng"] == 2 and r["ownership.cross_posting"] == "open")
    direct = run(scenario.load(path, ["seed=2", "ownership.cross_posting=open"])).timeseries.iloc[-1]
    np.testing.assert_array_equal([row[m] for m in MEASURES], direct[list(MEASURES)].astype(float))
    assert row["verdict"] == direct["verdict"]


def test_the_model_gives_its_time_series_as_the_run_does():
    sc = scenario.from_dict(three_islands() | {"steps": 25, "metrics": {"every": 10}})
    model = SiloModel(sc)
    while model.running:
        model.step()
    frame = model.timeseries()
    assert isinstance(frame, pd.DataFrame) and frame["step"].tolist() == [10, 20, 25]
    pd.testing.assert_frame_equal(frame, run(sc).timeseries)
