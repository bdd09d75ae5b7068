"""silosim: do an organisation's communities merge, or harden into "silos 2.0"?

The public Python API (``docs/api.md``)::

    import silosim

    scenario = silosim.load_scenario("scenarios/default.yaml")
    glue = silosim.changed(scenario, {"ownership.rule": "glue", "ownership.glue": "marketing"})
    model = silosim.SiloModel(glue, rng=1)            # a Mesa model: model.step(), model.datacollector
    model = silosim.SiloModel("scenarios/default.yaml", rng=2, steps=150, **{"ownership.cross_posting": "open"})
    frame = model.timeseries()                        # its measurements so far (a DataFrame)
    result = silosim.run(glue)                        # result.summary, result.timeseries (a DataFrame)
    sweep = silosim.load_sweep("scenarios/sweeps/strategies.yaml")
    silosim.run_sweep(sweep, "results/my-sweep", jobs=2)
    runs, timeseries = silosim.read_sweep("results/my-sweep")

Names are imported when first used, so ``import silosim`` stays light (no Mesa, no compiled code).
"""

from __future__ import annotations

import importlib
from importlib.metadata import PackageNotFoundError, version
from typing import Any

try:
    __version__ = version("silosim")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

# public name -> (module, attribute)
_API = {
    "Scenario": ("silosim.scenario", "Scenario"),
    "ScenarioError": ("silosim.scenario", "ScenarioError"),
    "load_scenario": ("silosim.scenario", "load"),
    "scenario_from_dict": ("silosim.scenario", "from_dict"),
    "scenario_to_dict": ("silosim.scenario", "to_dict"),
    "changed": ("silosim.scenario", "changed"),
    "scaled": ("silosim.scenario", "scaled"),
    "SiloModel": ("silosim.model", "SiloModel"),
    "MEASURES": ("silosim.metrics", "MEASURES"),
    "run": ("silosim.runner", "run"),
    "RunResult": ("silosim.runner", "RunResult"),
    "write_results": ("silosim.runner", "write_results"),
    "load_sweep": ("silosim.experiments.design", "load_sweep"),
    "run_sweep": ("silosim.experiments.sweep", "run_sweep"),
    "read_sweep": ("silosim.analysis.export", "read_sweep"),
    "export": ("silosim.analysis.export", "export"),
}
__all__ = ["__version__", *_API]


def __getattr__(name: str) -> Any:
    """Import a public name on first use (PEP 562)."""
    if name not in _API:
        raise AttributeError(f"module 'silosim' has no attribute {name!r}")
    module, attribute = _API[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_API))
