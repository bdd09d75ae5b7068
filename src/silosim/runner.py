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
from typing import Any, NoReturn

import pandas as pd
import yaml
from tqdm import tqdm

from silosim import __version__
from silosim.analysis.conclusion import insight_target, run_conclusion, scenario_warnings
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


# The bar's format until the first measurement: no time left, since the first steps load (or compile) the
# numba code and a remaining time read from them would be wildly long ("21:35" for a 4-second run).
WARMING_FORMAT = "{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} [{elapsed}, time left after step WARM]"


def run(scenario: Scenario, progress: bool = False) -> RunResult:
    """Run a validated scenario for its ``steps`` with its ``seed``.

    The progress bar shows no time left until the first measurement (step
    ``metrics.every``): until then every step may load compiled code. The bar
    then starts again from that step, so its rate and time left are the run's.
    """
    started = time.perf_counter()
    model = SiloModel(scenario)
    warm = min(scenario.metrics.every, scenario.steps)
    bar = _bar(scenario, progress, bar_format=WARMING_FORMAT.replace("WARM", str(warm)))
    try:
        while model.running:
            model.step()
            if model.steps == warm and model.running:
                bar.close()
                bar = _bar(scenario, progress, initial=model.steps)
            else:
                bar.update(1)
            if model.measures.get("step") == model.steps and model.window_items:  # no verdict before items end
                bar.set_postfix(reach=f"{model.measures['cross_reach']:.2f}", verdict=model.measures["verdict"])
    finally:
        bar.close()
    model.collect()
    timeseries = model.timeseries()
    summary = summarise(model, final=True, wall_time_s=round(time.perf_counter() - started, 3))
    return RunResult(scenario, scenario.seed, timeseries, summary, model)


def _bar(scenario: Scenario, progress: bool, **options: Any) -> tqdm:
    return tqdm(total=scenario.steps, desc=scenario.name, unit="step", disable=not progress, leave=False, **options)


def summarise(model: SiloModel, *, final: bool = True, wall_time_s: float | None = None) -> dict:
    """The summary of a run as it stands: the latest measurement, the verdict, its caveats and its conclusion.

    Reads the model's latest measurement and never measures (measuring closes
    an interval, which would change the run), so it can be called after any
    step, mid-run too (the page calls it with ``final=False``); before the
    first measurement every measure is None and the verdict ``n/a``.

    Args:
        model: the model, finished or not.
        final: whether the run is over; when false the conclusion says "so far".
        wall_time_s: the run's time, for ``summary.json``.

    Returns:
        The dict written as ``summary.json``: ``scenario``, ``verdict``, ``verdict_reason``,
        ``conclusion`` (:func:`silosim.analysis.conclusion.run_conclusion`), ``warnings``
        (:func:`silosim.analysis.conclusion.scenario_warnings`), ``seed``, ``steps``, ``measures``, …
    """
    scenario, m = model.config, model.measures
    measured = "step" in m
    cfg = scenario.metrics
    step = m["step"] if measured else model.steps
    summary = {
        "scenario": scenario.name,
        "verdict": m.get("verdict", "n/a"),
        "verdict_reason": model.verdict_reason if measured else f"not measured yet (first at step {cfg.every})",
        "conclusion": "",
        "warnings": scenario_warnings(scenario),
        "final": final,
        "seed": scenario.seed,
        "steps": model.steps,
        "steps_planned": scenario.steps,
        "measured_step": m.get("step"),  # the latest measurement's step; None before the first
        "silosim_version": __version__,
        "measures": {name: _plain(m.get(name, math.nan)) for name in MEASURES},
        "constraint": {name: _plain(value) for name, value in getattr(model, "constraint", {}).items()},
        "window": [model.window_start(step), step],
        "window_items": getattr(model, "window_items", 0),
        "items_retired_early": model.items.retired_early,
        "convergence": convergence_note(model, final=final),
        "verdict_variants": model.verdict_variants() if measured else {},
        "thresholds": cfg.verdict.model_dump(),
        "metrics": {"every": cfg.every, "burn_in": cfg.burn_in, "window": cfg.window, "tolerance": cfg.tolerance},
        "insight_target": insight_target(scenario),
        "silos": _silos(model) if measured else [],
        "silo_shares": _silo_shares(model) if measured else [],
        "owners": dict(zip((c.name for c in scenario.communities), model.assignment.owners, strict=True)),
        "wall_time_s": wall_time_s,
    }
    summary["conclusion"] = run_conclusion(summary)
    return summary


def convergence_note(model: SiloModel, *, final: bool = True) -> str:
    """Whether the verdict describes a steady state, and if not, how much longer to run.

    ``converged`` (:func:`silosim.metrics.converged`) holds when the trend of
    ``cross_reach`` over the window is within ``tolerance``, or within two
    standard errors of no change (noise between measurements, not a trend);
    the note says which.
    """
    cfg, m = model.config.metrics, model.measures
    if "step" not in m:
        return f"not measured yet: the first measurement is at step {cfg.every}"
    step = m["step"]
    start, change = model.window_start(step), m["reach_trend"]
    if step <= cfg.burn_in:
        need = cfg.burn_in + cfg.window
        if final:
            return f"not converged: the run ends inside its burn-in ({cfg.burn_in} steps); run at least {need} steps"
        return f"not converged yet: step {step} is inside the burn-in ({cfg.burn_in} steps), still settling"
    trend = "n/a" if math.isnan(change) else f"{change:+.3f}"
    moved = f"cross_reach moved {trend} over steps {start}-{step}"
    if m["converged"]:
        if abs(change) <= cfg.tolerance:
            return f"converged{'' if final else ' so far'}: {moved}, within the tolerance {cfg.tolerance}"
        return (
            f"converged{'' if final else ' so far'}: {moved}, more than the tolerance {cfg.tolerance} but within two "
            "standard errors of no change: noise between measurements, not a trend"
        )
    if math.isnan(change):
        why = f"too few measurements with a value in steps {start}-{step} to fit a trend (cross_reach moved n/a)"
    else:
        why = f"cross_reach still moved {trend} over steps {start}-{step}, more than the tolerance {cfg.tolerance} and "
        why += "than two standard errors of its noise"
    if final:
        return f"not converged: {why}; the verdict may change: run at least {2 * step} steps"
    return f"not converged yet: {why}; the run goes on to step {model.config.steps}"


def _plain(value: float | int) -> float | int | None:
    """JSON-friendly: NaN becomes null."""
    if isinstance(value, float) and math.isnan(value):
        return None
    return value


def _silo_shares(model: SiloModel) -> list[float]:
    """Each silo's share of the communities' members, in :func:`_silos` order (as ``largest_merged_share``)."""
    labels, sizes = model.silo_labels, model.community_sizes
    keep = labels >= 0
    total = float(sizes[keep].sum())
    if total == 0:
        return []
    return [float(sizes[labels == label].sum()) / total for label in dict.fromkeys(labels[keep].tolist())]


def _silos(model: SiloModel) -> list[list[str]]:
    names = [c.name for c in model.config.communities]
    groups: dict[int, list[str]] = {}
    for name, label in zip(names, model.silo_labels, strict=True):
        if label >= 0:
            groups.setdefault(int(label), []).append(name)
    return list(groups.values())


def default_out_dir(scenario: Scenario, root: Path = Path("results")) -> Path:
    """A new folder under ``results/`` named after the scenario, time and seed."""
    return new_results_dir(scenario.name, scenario.seed, root)


def new_results_dir(name: str, seed: int | None, root: Path = Path("results")) -> Path:
    """A folder under ``root`` that does not exist yet: ``NAME-YYYYmmdd-HHMMSS-seedN``, then ``-2``, ``-3``."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    base = root / f"{name}-{stamp}-seed{seed}"
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
