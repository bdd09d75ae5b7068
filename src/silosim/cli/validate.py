"""``silosim validate FILE...``: check scenario files without running them, reporting every problem of every file."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from silosim.scenario import ScenarioError, load


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim validate`` and its arguments."""
    parser = subparsers.add_parser("validate", help="check scenario files without running them")
    parser.add_argument("files", type=Path, nargs="+", help="scenario YAML files")
    return parser


def main(args: argparse.Namespace) -> int:
    """Check every file; print one ok line per good file and every problem of the others; 2 if any is bad."""
    from silosim.cli import EXIT_BAD_INPUT

    failed = False
    for path in args.files:
        try:
            scenario = load(path)
            print(
                f"{path}: ok ({scenario.name}, {len(scenario.communities)} communities, rule {scenario.ownership.rule})"
            )
        except ScenarioError as exc:
            print(exc, file=sys.stderr)
            failed = True
    return EXIT_BAD_INPUT if failed else 0
