# %% [markdown]
# # silosim from Python
#
# A notebook-style script (percent cells: open it in Jupyter, VS Code or Spyder, or run it with
# `python examples/quickstart.py`). It loads a scenario, changes its ownership strategy, steps a
# Mesa model, runs the scenario, then runs a small sweep and reads its results as DataFrames.
# `tests/test_api.py` executes it.

# %%
import tempfile
from pathlib import Path

import silosim

ROOT = Path(__file__).resolve().parents[1] if "__file__" in globals() else Path.cwd()

# %% [markdown]
# ## A scenario, changed
# Dotted keys, as `--set` and events spell them; the result is validated again.

# %%
scenario = silosim.load_scenario(ROOT / "scenarios" / "default.yaml")
glue = silosim.changed(scenario, {"ownership.rule": "glue", "ownership.glue": "marketing", "steps": 150})
print(glue.ownership.rule, glue.steps)

# %% [markdown]
# ## A Mesa model, stepped by hand
# Built as Mesa's tools build models: a scenario (or a YAML file, or a dict), `rng` for the seed, and
# dotted keys to change as keyword arguments. `model.timeseries()` is its measurements as a DataFrame.

# %%
model = silosim.SiloModel(
    ROOT / "scenarios" / "default.yaml", rng=1, steps=150, **{"ownership.rule": "glue", "ownership.glue": "marketing"}
)
for _ in range(120):
    model.step()
model.collect()
frame = model.timeseries()
print(model.steps, model.measures["verdict"], round(model.measures["cross_reach"], 3), len(frame))

# %% [markdown]
# ## A run, and its time series as a pandas DataFrame

# %%
result = silosim.run(glue)
series = result.timeseries
print(result.summary["verdict"], len(series), list(series.columns[:4]))

# %% [markdown]
# ## A sweep, and its results as two tidy DataFrames

# %%
folder = Path(tempfile.mkdtemp(prefix="silosim-"))
(folder / "two_rules.yaml").write_text(
    f"""
name: two_rules
base: {ROOT / "scenarios" / "default.yaml"}
steps: 150
replications: 2
strategies:
  most_involved: {{ownership.rule: most_involved}}
  marketing_glue: {{ownership.rule: glue, ownership.glue: marketing}}
"""
)
sweep = silosim.load_sweep(folder / "two_rules.yaml")
counts = silosim.run_sweep(sweep, folder / "out", jobs=1, progress=False)
runs, timeseries = silosim.read_sweep(folder / "out")
print(counts["ran"], "runs;", runs.groupby("strategy").cross_reach.mean().round(3).to_dict())
