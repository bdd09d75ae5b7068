"""``silosim export SWEEP_DIR``: a sweep's runs and time series as two tidy Parquet or CSV tables."""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.cli.parser import UsageError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim export`` and its arguments."""
    parser = subparsers.add_parser("export", help="a sweep's runs and time series as Parquet or CSV tables")
    parser.add_argument("sweep_dir", type=Path, help="a sweep folder")
    parser.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format (parquet)")
    parser.add_argument("--out", type=Path, help="folder to write (default: SWEEP_DIR/export)")
    return parser


def main(args: argparse.Namespace) -> int:
    """Write a sweep's runs and time series as two tidy tables; print their paths."""
    from silosim.analysis.export import export

    try:
        for path in export(args.sweep_dir, args.format, args.out):
            print(path)
    except FileNotFoundError as exc:
        raise UsageError(f"silosim export: {exc}") from None
    return 0
