"""``silosim run SCENARIO.yaml``: run one scenario, print its summary table, write its results folder."""

from __future__ import annotations

import argparse
import sys
import textwrap
from pathlib import Path

from silosim.analysis.conclusion import scenario_warnings, structure_note
from silosim.analysis.text import number
from silosim.cli.parser import UsageError, add_scale
from silosim.scenario import load


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim run`` and its arguments."""
    parser = subparsers.add_parser("run", help="run one scenario and write a results folder")
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    parser.add_argument("--steps", type=int, help="number of steps (default: the scenario's)")
    parser.add_argument("--out", type=Path, help="results folder (default: a new folder under results/)")
    parser.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted key, e.g. ownership.rule=glue (repeatable)",
    )
    add_scale(parser)
    parser.add_argument("--quiet", action="store_true", help="no progress bar, no summary table")
    return parser


def main(args: argparse.Namespace) -> int:
    """Run one scenario; print the summary; write the results folder.

    The folder is checked before the run, so an unwritable or taken ``--out``
    is refused now rather than after the simulation.
    """
    from silosim import runner

    overrides: list = list(args.overrides)
    if args.seed is not None:
        overrides.append(("--seed", f"seed={args.seed}"))
    if args.steps is not None:
        overrides.append(("--steps", f"steps={args.steps}"))
    scenario = load(args.scenario, overrides, scale=args.scale)  # scaled after the overrides
    out = args.out or runner.default_out_dir(scenario)
    runner.check_out_dir(out, "--out")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"silosim run: --out {out} exists and is not an empty folder; choose another")
    for warning in scenario_warnings(scenario):  # before the run: the user may stop it and fix the file
        print(wrap(warning, "warning: "), file=sys.stderr)
    result = runner.run(scenario, progress=not args.quiet)
    out = runner.write_results(result, out)
    if not args.quiet:
        print(summary_table(result.summary))
        print()
        print("\n\n".join(wrap(paragraph) for paragraph in result.summary["conclusion"].split("\n\n")))
    print(f"results: {out}")
    return 0


WIDTH = 88  # columns of the printed conclusion and warnings


def wrap(text: str, first: str = "", indent: str = "", width: int = WIDTH) -> str:
    """``text`` wrapped to ``width`` columns, the first line after ``first``, the others after ``indent``."""
    return textwrap.fill(
        text, width, initial_indent=first, subsequent_indent=indent or " " * len(first), break_on_hyphens=False
    )


def summary_table(summary: dict) -> str:
    """The final measures and the verdict as an aligned text table."""
    rows = [(name, number(value)) for name, value in summary["measures"].items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{summary['scenario']} (seed {summary['seed']}, {summary['steps']} steps)"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    silos = " | ".join(", ".join(group) for group in summary["silos"]) or "n/a"
    verdict = f"{summary['verdict'].upper()}: {summary['verdict_reason']}"
    hang = " " * (width + 4)

    def row(label: str, text: str) -> str:
        return wrap(text, f"  {label:<{width}}  ", hang)

    lines += [row("silos", silos), row("verdict", verdict)]
    note = structure_note(summary)  # a figure above that seems to contradict the verdict: why it does not
    if note:
        lines += [row("why", note)]
    if "convergence" in summary:
        start, end = summary["window"]
        lines += [row("window", f"steps {start}-{end}, {summary['window_items']} items ended in it")]
        lines += [row("", summary["convergence"])]
    if summary.get("items_retired_early"):
        lines += [row("warning", f"{summary['items_retired_early']} items ended before item_lifetime")]
    lines += [row("warning", warning) for warning in summary.get("warnings", [])]
    return "\n".join(lines)
