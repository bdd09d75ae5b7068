"""``silosim analyze SWEEP_DIR``: which parameters decide the answer (Sobol, Morris), where a strategy wins (PRIM)."""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.cli.parser import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim analyze`` and its arguments."""
    parser = subparsers.add_parser(
        "analyze",
        help="which parameters decide a sweep's answer (Sobol, Morris) and where a strategy wins (PRIM)",
        description="Analyse a finished or partial sweep. Without --sobol, --morris or --prim: the analysis its "
        "design supports (design: sobol, design: morris).",
    )
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder")
    parser.add_argument("--sobol", action="store_true", help="Sobol indices (a sweep with design: sobol)")
    parser.add_argument("--morris", action="store_true", help="Morris screening (a sweep with design: morris)")
    parser.add_argument("--prim", metavar="STRATEGY", help="scenario discovery: where STRATEGY beats another")
    parser.add_argument("--versus", metavar="STRATEGY", help="the strategy --prim's must beat (default: the reference)")
    parser.add_argument("--margin", type=float, default=0.0, help="by how much, on the objective (default 0)")
    parser.add_argument("--verdict", help="--prim's condition is instead that STRATEGY's runs mostly end so (merged…)")
    parser.add_argument("--threshold", type=float, default=0.8, help="the density PRIM's box must reach (0.8)")
    parser.add_argument("--objective", metavar="MEASURE", help="the measure read (default: the sweep's objective)")
    parser.add_argument("--out", type=Path, help="folder to write (default: SWEEP_DIR/analysis)")
    return parser


def main(args: argparse.Namespace) -> int:
    """Analyse the sweep, write the analysis folder, print its sentences and the path of analysis.md."""
    from silosim.analysis.analyze import analyze

    try:
        found = analyze(
            args.sweep_dir,
            sobol=args.sobol,
            morris=args.morris,
            prim=args.prim,
            objective=args.objective,
            out=args.out,
            versus=args.versus,
            margin=args.margin,
            verdict=args.verdict,
            threshold=args.threshold,
        )
    except FileNotFoundError as exc:
        raise UsageError(f"silosim analyze: {exc}") from None
    print(found.text)
    return 0
