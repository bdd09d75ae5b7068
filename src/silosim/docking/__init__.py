"""Docking (Axtell, Axelrod, Epstein & Cohen 1996): silosim's mechanisms reproduce their published models.

``silosim dock MODEL`` runs one docking, prints its tables and writes its
report folder (:mod:`silosim.docking.report`):

- ``axelrod`` (:mod:`silosim.docking.axelrod`): Axelrod's (1997) culture
  model with :func:`silosim.dynamics.axelrod_exchange`, against Table 2 and
  the territory-size result;
- ``drift`` (:mod:`silosim.docking.drift`): silosim's drift,
  :func:`silosim.dynamics.drift_traits`, against Klemm, Eguíluz, Toral & San
  Miguel's (2003) noise-induced order–disorder transition;
- ``march`` (:mod:`silosim.docking.march`): March's (1991) exploration and
  exploitation through :func:`silosim.needs.socialise` and
  :func:`silosim.needs.learn_code`.

The lattice dockings share one engine (:mod:`silosim.docking.lattice`);
:mod:`silosim.docking.reference` docks the fast organisation model against a
per-agent Mesa one.
"""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from silosim.docking import axelrod, drift, march
from silosim.docking.report import DockError, Report, check_out_folder, write_folder
from silosim.docking.tasks import Task, run_tasks

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


@dataclass(frozen=True)
class Docking:
    """One docking: its report title, root seed, full and quick plans, tasks and report builder."""

    title: str
    seed: int
    full: Any  # a plan: a frozen dataclass with a ``runs`` field
    quick: Any
    tasks: Callable[[Any], list[Task]]
    report: Callable[[list, Any], Report]


DOCKINGS = {
    "axelrod": Docking(
        "# Docking: Axelrod (1997), The Dissemination of Culture",
        axelrod.AXELROD_SEED,
        axelrod.AXELROD_FULL,
        axelrod.AXELROD_QUICK,
        axelrod.axelrod_tasks,
        axelrod.axelrod_report,
    ),
    "drift": Docking(
        "# Docking: silosim's drift against Klemm, Eguíluz, Toral & San Miguel (2003)",
        drift.DRIFT_SEED,
        drift.DRIFT_FULL,
        drift.DRIFT_QUICK,
        drift.drift_tasks,
        drift.drift_report,
    ),
    "march": Docking(
        "# Docking: March (1991), Exploration and Exploitation in Organizational Learning",
        march.MARCH_SEED,
        march.MARCH_FULL,
        march.MARCH_QUICK,
        march.march_tasks,
        march.march_report,
    ),
}
SEEDS = {name: docking.seed for name, docking in DOCKINGS.items()}  # each docking's root seed

RENAMED = {
    "deffuant": "silosim dock deffuant is now `silosim dock drift`: silosim docks its drift against Klemm et al. "
    "(2003); it has no bounded confidence to dock against Deffuant et al. (2000)"
}


def run_docking(
    model: str,
    runs: int | None = None,
    jobs: int | None = None,
    out: Path | None = None,
    quick: bool = False,
    progress: bool = True,
) -> int:
    """``silosim dock MODEL``: run the docking, print the table, write the report folder.

    Args:
        model: ``axelrod`` (Axelrod 1997, Table 2 and territory size),
            ``drift`` (silosim's drift against Klemm et al. 2003) or
            ``march`` (March 1991: equilibrium knowledge against the
            learning rates, mixed learners, turnover and turbulence, through
            :mod:`silosim.needs`).
        runs: runs per cell (default: the published count, 10 for Axelrod's
            and the drift docking, 80 for March's).
        jobs: worker processes (default: all cores). Results do not depend on it.
        out: report folder (default: ``results/dock-MODEL``).
        quick: a short version (under a minute).
        progress: show a progress bar.

    Returns:
        0 when every check that cannot be wrong holds, 1 when one fails, 2 on bad input.
    """
    from silosim import __version__

    if model in RENAMED:
        print(f"silosim dock: {RENAMED[model]}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if model not in DOCKINGS:
        print(f"silosim dock: unknown model {model!r} ({', '.join(DOCKINGS)})", file=sys.stderr)
        return EXIT_BAD_INPUT
    docking = DOCKINGS[model]
    jobs = jobs or os.cpu_count() or 1
    out = Path(out) if out is not None else Path("results") / f"dock-{model}"
    command = "silosim dock " + model + (f" --runs {runs}" if runs else "") + (" --quick" if quick else "")
    plan = docking.quick if quick else docking.full
    plan = plan if runs is None else replace(plan, runs=runs)
    try:
        check_out_folder(out)  # say so before the work, not after
        started = time.perf_counter()
        report = docking.report(run_tasks(docking.tasks(plan), jobs, progress=progress), plan)
        wall = time.perf_counter() - started
        meta = {
            "title": docking.title,
            "line": f"`{command}` · silosim {__version__} · {wall:.0f} s on {jobs} process(es) · seed {docking.seed}",
            "model": model,
            "command": command,
            "runs": runs,
            "quick": quick,
            "jobs": jobs,
            "silosim_version": __version__,
            "wall_time_s": round(wall, 1),
        }
        written = write_folder(out, report, meta)
    except DockError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    print(report.terminal)
    print(f"\n{wall:.0f} s · report: {written}")
    return EXIT_OK if report.passed else EXIT_FAILED
