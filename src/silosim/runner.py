"""One run of a scenario: step the model, then write a complete results folder.

The folder is written under a temporary name and renamed into place only
when every file is there, so a failed or interrupted run leaves nothing
half-written.
"""

from __future__ import annotations

import json
import math
import os
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import NoReturn

import pandas as pd
import yaml
from tqdm import tqdm

from silosim import __version__
from silosim.atomic import atomic_folder
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.scenario import Problem, Scenario, ScenarioError, to_dict


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
            if model.measures.get("step") == model.steps and model.window_items:  # no verdict before items end
                bar.set_postfix(reach=f"{model.measures['cross_reach']:.2f}", verdict=model.measures["verdict"])
    model.collect()
    timeseries = model.timeseries()
    summary = {
        "scenario": scenario.name,
        "verdict": model.measures["verdict"],
        "verdict_reason": model.verdict_reason,
        "seed": scenario.seed,
        "steps": model.steps,
        "silosim_version": __version__,
        "measures": {name: _plain(model.measures[name]) for name in MEASURES},
        "constraint": {name: _plain(value) for name, value in model.constraint.items()},
        "window": [model.window_start(), model.steps],
        "window_items": model.window_items,
        "items_retired_early": model.items.retired_early,
        "convergence": convergence_note(model),
        "verdict_variants": model.verdict_variants(),
        "silos": _silos(model),
        "owners": dict(zip((c.name for c in scenario.communities), model.assignment.owners, strict=True)),
        "wall_time_s": round(time.perf_counter() - started, 3),
    }
    return RunResult(scenario, scenario.seed, timeseries, summary, model)


def convergence_note(model: SiloModel) -> str:
    """Whether the verdict describes a steady state, and if not, how much longer to run."""
    cfg, m = model.config.metrics, model.measures
    start, change = model.window_start(), m["reach_trend"]
    if model.steps <= cfg.burn_in:
        need = cfg.burn_in + cfg.window
        return f"not converged: the run ends inside its burn-in ({cfg.burn_in} steps); run at least {need} steps"
    trend = "n/a" if math.isnan(change) else f"{change:+.3f}"
    if m["converged"]:
        return f"converged: cross_reach moved {trend} over steps {start}-{model.steps} (tolerance {cfg.tolerance})"
    return (
        f"not converged: cross_reach still moved {trend} over steps {start}-{model.steps} (tolerance {cfg.tolerance}); "
        f"the verdict may change: run at least {2 * model.steps} steps"
    )


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
    """Write timeseries.csv, summary.json, scenario.yaml and the plots into ``out``, atomically.

    ``out`` may be missing or an empty folder (whose mode it keeps); see :func:`silosim.atomic.atomic_folder`.
    """
    from silosim.analysis import plots  # matplotlib: imported only by those who write plots, not by sweep workers

    out = Path(out)
    with atomic_folder(out) as tmp:
        result.timeseries.to_csv(tmp / "timeseries.csv", index=False)
        (tmp / "summary.json").write_text(json.dumps(result.summary, indent=2) + "\n")
        resolved = to_dict(result.scenario)
        (tmp / "scenario.yaml").write_text(yaml.safe_dump(resolved, sort_keys=False, allow_unicode=True))
        plots.plot_timeseries(result.timeseries, result.scenario, tmp / "measures.png")
        plots.plot_community_graph(result.model, tmp / "community_graph.png")
    return out


NAME_MAX = 255  # bytes in one path component (Linux, macOS)
PATH_MAX = 4096  # bytes in a whole path (Linux)


def check_out_dir(path: Path, flag: str = "--out") -> None:
    """Refuse, before any work, an output folder that cannot be written; create nothing that stays.

    Checks that no path component is longer than 255 bytes, that the path has
    no NUL character, that it is a folder if it exists, and that its nearest
    existing ancestor is a folder in which a folder can really be created (a
    probe folder is created there and removed at once).

    Args:
        path: the output folder (it may not exist yet).
        flag: the command-line flag it came from, named in the message.

    Raises:
        ScenarioError: one problem naming ``flag`` and ``path``: what is wrong and what to do.
    """

    def refuse(message: str) -> NoReturn:
        raise ScenarioError([Problem(flag, None, str(path), message)])

    text = str(path)
    if "\0" in text:
        refuse("contains a NUL character, which no file name may hold: choose another folder")
    for part in Path(text).parts:
        size = len(os.fsencode(part))
        if size > NAME_MAX:
            refuse(f"has a name {size} bytes long ('{part[:24]}…'); the limit is {NAME_MAX} bytes: use a shorter name")
    absolute = Path(os.path.abspath(text))
    if len(os.fsencode(str(absolute))) >= PATH_MAX:
        refuse(f"is longer than the {PATH_MAX - 1} bytes a path may have: choose a shorter path")
    if absolute.exists() and not absolute.is_dir():
        refuse("exists and is not a folder: choose another")
    ancestor = next(p for p in (absolute, *absolute.parents) if os.path.lexists(p))
    if not ancestor.is_dir():
        refuse(f"cannot be created: {ancestor} is not a folder (a file or a broken link); choose another")
    try:
        probe = tempfile.mkdtemp(prefix=".silosim-probe-", dir=ancestor)
        os.rmdir(probe)
    except OSError as exc:
        refuse(
            f"cannot be written: creating a folder in {ancestor} fails ({exc.strerror or exc}); choose a writable place"
        )
