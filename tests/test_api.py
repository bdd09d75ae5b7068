"""The public Python API: ``import silosim`` gives the documented names, and the example runs."""

import runpy
import subprocess
import sys

import pandas as pd

import silosim
from tests.helpers import ROOT


def test_every_public_name_resolves_and_import_stays_light():
    for name in silosim.__all__:
        assert getattr(silosim, name) is not None, name
    assert {"SiloModel", "load_scenario", "changed", "run", "load_sweep", "run_sweep", "read_sweep"} <= set(
        silosim.__all__
    )
    code = "import sys, silosim; print('mesa' in sys.modules, 'numba' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_changed_sets_dotted_keys_and_validates_again():
    scenario = silosim.load_scenario(ROOT / "scenarios" / "default.yaml")
    glue = silosim.changed(scenario, {"ownership.rule": "glue", "ownership.glue": "marketing"})
    assert (glue.ownership.rule, glue.ownership.glue, scenario.ownership.rule) == ("glue", "marketing", "most_involved")
    try:
        silosim.changed(scenario, {"ownership.rule": "glue"})  # glue needs a department
    except silosim.ScenarioError as exc:
        assert "needs ownership.glue" in str(exc)
    else:
        raise AssertionError("an invalid change was accepted")


def test_the_quickstart_example_runs_and_gives_dataframes(capsys):
    namespace = runpy.run_path(str(ROOT / "examples" / "quickstart.py"))
    assert isinstance(namespace["series"], pd.DataFrame) and len(namespace["series"]) > 0
    runs = namespace["runs"]
    assert len(runs) == 4 and set(runs.strategy) == {"most_involved", "marketing_glue"}
    assert namespace["model"].steps == 120 and namespace["frame"]["step"].iloc[-1] == 120
    assert namespace["model"].config == namespace["glue"].model_copy(update={"seed": 1})
    assert "4 runs;" in capsys.readouterr().out


def test_a_notebook_builds_and_steps_a_model_then_reads_its_time_series_as_a_dataframe():
    model = silosim.SiloModel(ROOT / "scenarios" / "default.yaml", rng=3, steps=40, **{"metrics.every": 10})
    while model.running:
        model.step()
    frame = model.timeseries()
    assert isinstance(frame, pd.DataFrame) and frame["step"].tolist() == [10, 20, 30, 40]
    assert list(frame.columns) == ["step", *silosim.MEASURES, "verdict"]
    pd.testing.assert_frame_equal(frame, silosim.run(model.config).timeseries)
