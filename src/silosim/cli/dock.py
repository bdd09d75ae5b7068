"""``silosim dock MODEL``: reproduce a published model with silosim's own mechanisms (:mod:`silosim.docking`)."""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.cli.parser import positive_int


class _Models(tuple):
    """The models the help lists; a renamed one passes too, so that ``run_docking`` says what it became."""

    def __contains__(self, name: object) -> bool:
        return super().__contains__(name) or name == "deffuant"  # now drift: run_docking explains why


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim dock`` and its arguments."""
    parser = subparsers.add_parser("dock", help="reproduce the published models the mechanisms stand on")
    parser.add_argument(
        "model",
        choices=_Models(("axelrod", "drift", "march")),
        help="which published model: axelrod (Axelrod 1997), drift (silosim's drift against Klemm et al. 2003) "
        "or march (March 1991, through silosim.needs' learning rules)",
    )
    parser.add_argument("--runs", type=positive_int, help="runs per cell (default: the published count)")
    parser.add_argument("--jobs", type=positive_int, help="worker processes (default: all cores)")
    parser.add_argument("--out", type=Path, help="report folder (default: results/dock-MODEL)")
    parser.add_argument("--quick", action="store_true", help="a short version (under a minute)")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run the docking: 0 when its checks hold, 1 when one fails, 2 on bad input (a taken ``--out``)."""
    from silosim.docking import run_docking

    return run_docking(args.model, runs=args.runs, jobs=args.jobs, out=args.out, quick=args.quick)
