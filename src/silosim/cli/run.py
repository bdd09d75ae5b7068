"""``silosim run SCENARIO.yaml``: run one scenario, print its summary table, write its results folder."""

from __future__ import annotations

import argparse
from pathlib import Path

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
    result = runner.run(scenario, progress=not args.quiet)
    out = runner.write_results(result, out)
    if not args.quiet:
        print(summary_table(result.summary))
    print(f"results: {out}")
    return 0


def summary_table(summary: dict) -> str:
    """The final measures and the verdict as an aligned text table."""
    rows = [(name, number(value)) for name, value in summary["measures"].items()]
    width = max(len(name) for name, _ in rows)
    lines = [f"{summary['scenario']} (seed {summary['seed']}, {summary['steps']} steps)"]
    lines += [f"  {name:<{width}}  {value}" for name, value in rows]
    silos = " | ".join(", ".join(group) for group in summary["silos"])
    verdict = f"{summary['verdict'].upper()}: {summary['verdict_reason']}"
    lines += [f"  {'silos':<{width}}  {silos}", f"  {'verdict':<{width}}  {verdict}"]
    if "convergence" in summary:
        start, end = summary["window"]
        lines += [f"  {'window':<{width}}  steps {start}-{end}, {summary['window_items']} items ended in it"]
        lines += [f"  {'':<{width}}  {summary['convergence']}"]
    if summary.get("items_retired_early"):
        lines += [f"  {'warning':<{width}}  {summary['items_retired_early']} items ended before item_lifetime"]
    return "\n".join(lines)
