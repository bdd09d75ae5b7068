"""One run of a scenario: step the model, then write a complete results folder.

The folder is written under a temporary name and renamed into place only
when every file is there, so a failed or interrupted run leaves nothing
half-written.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pandas as pd
import yaml
from tqdm import tqdm

from silosim import __version__
from silosim.model import MEASURES, SiloModel
from silosim.scenario import Scenario, to_dict


@dataclass
class RunResult:
    """What one run produced."""

    scenario: Scenario
    seed: int
    timeseries: pd.DataFrame
    summary: dict
    model: SiloModel


def run(scenario: Scenario, progress: bool = False) -> RunResult:
    """Run a validated scenario for its ``steps`` with its ``seed``."""
    started = time.perf_counter()
    model = SiloModel(scenario)
    with tqdm(total=scenario.steps, desc=scenario.name, unit="step", disable=not progress, leave=False) as bar:
        while model.running:
            model.step()
            bar.update(1)
            if model.measures.get("step") == model.steps:
                bar.set_postfix(silos=model.measures["silo_count"], ei=f"{model.measures['ei_index']:.2f}")
    model.collect()
    timeseries = model.datacollector.get_model_vars_dataframe()
    summary = {
        "scenario": scenario.name,
        "verdict": model.measures["verdict"],
        "verdict_reason": model.verdict_reason,
        "seed": scenario.seed,
        "steps": model.steps,
        "silosim_version": __version__,
        "measures": {name: _plain(model.measures[name]) for name in MEASURES},
        "constraint": {name: _plain(value) for name, value in model.constraint.items()},
        "silos": _silos(model),
        "owners": dict(zip((c.name for c in scenario.communities), model.assignment.owners, strict=True)),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    return RunResult(scenario, scenario.seed, timeseries, summary, model)


def _plain(value: float | int) -> float | int | None:
    """JSON-friendly: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _silos(model: SiloModel) -> list[list[str]]:
    names = [c.name for c in model.config.communities]
    groups: dict[int, list[str]] = {}
    for name, label in zip(names, model.silo_labels, strict=True):
        if label >= 0:
            groups.setdefault(int(label), []).append(name)
    return list(groups.values())


def default_out_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """A new folder under ``results/`` named after the scenario, time and seed."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / f"{scenario.name}-{stamp}-seed{scenario.seed}"
    out, k = base, 1
    while out.exists():
        k += 1
        out = base.with_name(f"{base.name}-{k}")
    return out


def write_results(result: RunResult, out: Path) -> Path:
    """Write timeseries.csv, summary.json, scenario.yaml and the plots into ``out``, atomically."""
    from silosim import plots  # matplotlib: imported only by those who write plots, not by sweep workers

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.partial-", dir=out.parent))
    try:
        result.timeseries.to_csv(tmp / "timeseries.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
        resolved = to_dict(result.scenario)
        (tmp / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        plots.plot_timeseries(result.timeseries, result.scenario, tmp / "measures.png")
        plots.plot_community_graph(result.model, tmp / "community_graph.png")
        if out.exists():  # an empty folder given with --out
            out.rmdir()
        os.replace(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out
