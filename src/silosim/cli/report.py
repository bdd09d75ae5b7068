"""``silosim report SWEEP_DIR``: write the comparison report of a finished or partial sweep."""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.cli.parser import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim report`` and its arguments."""
    parser = subparsers.add_parser("report", help="write the comparison report of a (partial) sweep")
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder")
    return parser


def main(args: argparse.Namespace) -> int:
    """Write the report of a finished or partial sweep; print its conclusion and the reports' paths."""
    from silosim.analysis.report import write_report

    try:
        path = write_report(args.sweep_dir)
    except FileNotFoundError as exc:
        raise UsageError(f"silosim report: {exc}") from None
    print((path.parent / "conclusion.txt").read_text().rstrip())
    print(f"report: {path}\nreport: {path.with_suffix('.html')}")
    return 0
