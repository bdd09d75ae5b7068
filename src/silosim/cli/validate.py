"""``silosim validate FILE...``: check scenario and sweep files without running them, every problem of every file.

A file whose keys are a sweep's (``base``, ``strategies``, ``vary``, ``replications``...) is
checked as a sweep (:func:`silosim.experiments.design.load_sweep`: the sweep file, its base
and every scenario it resolves); any other file as a scenario, with the ``--set`` flags given.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from silosim.analysis.text import plural
from silosim.cli.parser import SWEEP_KEYS, UsageError
from silosim.scenario import Problem, ScenarioError, load, parse_yaml


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim validate`` and its arguments."""
    parser = subparsers.add_parser("validate", help="check scenario and sweep files without running them")
    parser.add_argument("files", type=Path, nargs="+", help="scenario or sweep YAML files")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="check each scenario with this dotted key overridden, as `silosim run --set` would (repeatable)",
    )
    return parser


def main(args: argparse.Namespace) -> int:
    """Check every file; print one ok line per good file and every problem of the others; 2 if any is bad."""
    from silosim.cli import EXIT_BAD_INPUT

    failed = False
    for path in args.files:
        try:
            print(f"{path}: ok ({_check(path, args.overrides)})")
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            failed = True
    return EXIT_BAD_INPUT if failed else 0


def _check(path: Path, overrides: list[str]) -> str:
    """Validate one file as a sweep or a scenario; what it holds, in a few words."""
    if is_sweep(path):
        if overrides:
            problem = Problem("--set", None, "", f"{path} is a sweep file: --set applies to scenarios; use strategies")
            raise ScenarioError([problem])
        from silosim.experiments.design import load_sweep, planned_runs  # numpy, scipy: only for sweeps

        sweep = load_sweep(path)
        points, runs = planned_runs(sweep.spec)
        strategies = plural(len(sweep.strategies), "strategy")
        return f"sweep {sweep.spec.name}, {strategies}, {plural(points, 'point')}, {plural(runs, 'run')}"
    scenario = load(path, list(overrides))
    return f"{scenario.name}, {len(scenario.communities)} communities, rule {scenario.ownership.rule}"


def is_sweep(path: Path) -> bool:
    """Whether a file is a sweep: a mapping with a sweep's keys and none of a scenario's sections.

    A file that cannot be read or parsed is not a sweep (:func:`~silosim.scenario.load` reports why).
    """
    try:
        data, _ = parse_yaml(path.read_text(encoding="utf-8"), str(path))
    except (OSError, UnicodeDecodeError, ScenarioError, UsageError):
        return False
    if not isinstance(data, dict):
        return False
    keys = set(map(str, data))
    return bool(keys & set(SWEEP_KEYS)) and not keys & {"organization", "communities"}
