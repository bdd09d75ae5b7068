"""Command line: ``silosim run|validate``.

Bad input (a scenario problem, a bad flag) prints one line per problem,
naming file, line, key and what was expected, and exits with code 2,
without a traceback.
"""

from __future__ import annotations

import argparse
import difflib
import math
import sys
from pathlib import Path

from silosim import __version__
from silosim.scenario import MAX_SCALE, ScenarioError, load

EXIT_BAD_INPUT = 2


class UsageError(Exception):
    """A bad command line."""


class _Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, and suggests the nearest option."""

    def error(self, message: str) -> None:
        if message.startswith("unrecognized arguments:"):
            words = message.split(":", 1)[1].split()
            # unknown words reach the top parser: suggest from the subcommands' options too
            owner = {o: "" for action in self._actions for o in action.option_strings}
            for action in self._actions:
                if isinstance(action, argparse._SubParsersAction):
                    for name, sub in action.choices.items():
                        for o in (o for a in sub._actions for o in a.option_strings):
                            owner.setdefault(o, name)
            hints = []
            for word in words:
                flag = word.split("=")[0]
                match = difflib.get_close_matches(flag, list(owner), n=1, cutoff=0.5)
                if match and match[0] == flag:
                    where = f"of 'silosim {owner[flag]}' only" if owner[flag] else "of silosim itself: put it first"
                    hints.append(f"'{word}' (an option {where})")
                else:
                    hints.append(f"'{word}'" + (f" (did you mean '{match[0]}'?)" if match else ""))
            message = "unknown argument " + ", ".join(hints)
        raise UsageError(f"{self.prog}: {message}")


def build_parser() -> argparse.ArgumentParser:
    """The ``silosim`` argument parser."""
    parser = _Parser(prog="silosim", description="Do an organisation's communities merge, or harden into silos?")
    parser.add_argument("--version", action="version", version=f"silosim {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    run = commands.add_parser("run", help="run one scenario and write a results folder")
    run.add_argument("scenario", type=Path, help="scenario YAML file")
    run.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    run.add_argument("--steps", type=int, help="number of steps (default: the scenario's)")
    run.add_argument("--out", type=Path, help="results folder (default: a new folder under results/)")
    run.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override a dotted key, e.g. ownership.rule=glue (repeatable)",
    )
    _add_scale(run)
    run.add_argument("--quiet", action="store_true", help="no progress bar, no summary table")

    validate = commands.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", type=Path, nargs="+", help="scenario YAML files")

    sweep = commands.add_parser("sweep", help="run a sweep file: strategies x parameters x replications")
    sweep.add_argument("sweep", type=Path, help="sweep YAML file")
    sweep.add_argument("--out", type=Path, help="sweep folder (default: results/sweep-NAME); reruns resume it")
    sweep.add_argument("--jobs", type=_positive_int, help="local worker processes (default: all cores)")
    backend = sweep.add_mutually_exclusive_group()
    backend.add_argument("--scheduler", metavar="ADDRESS", help="send runs to this Dask scheduler")
    backend.add_argument(
        "--dask-local", type=_positive_int, metavar="N", help="start a local Dask cluster of N workers"
    )
    sweep.add_argument("--retry-failed", action="store_true", help="run again the runs stored as failed")
    sweep.add_argument("--dry-run", action="store_true", help="print runs, estimated time and disk size; run nothing")
    _add_scale(sweep)
    sweep.add_argument("--quiet", action="store_true", help="no progress bar")

    report = commands.add_parser("report", help="write the comparison report of a (partial) sweep")
    report.add_argument("sweep_dir", type=Path, help="a sweep folder")

    export = commands.add_parser("export", help="a sweep's runs and time series as Parquet or CSV tables")
    export.add_argument("sweep_dir", type=Path, help="a sweep folder")
    export.add_argument("--format", choices=["parquet", "csv"], default="parquet", help="table format (parquet)")
    export.add_argument("--out", type=Path, help="folder to write (default: SWEEP_DIR/export)")

    def port(text: str) -> int:  # viz --port: a TCP port, or 0 for any free one
        if not (text.strip().isascii() and text.strip().isdigit()) or not 0 <= int(text) <= 65535:
            raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535 (or 0: any free port), got {text!r}")
        return int(text)

    viz = commands.add_parser(
        "viz",
        help="watch a scenario in the browser",
        description="Serve a page that watches a scenario and runs it on request. It answers only requests "
        "addressed to its own address (Host) from its own pages (Origin); --allow-host adds more.",
    )
    viz.add_argument("scenario", type=Path, help="scenario YAML file")
    viz.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default: 127.0.0.1, this machine only; any other address, such as 0.0.0.0, "
        "lets other machines reach the page, and a warning says so)",
    )
    viz.add_argument("--port", type=port, default=8765, help="port (default: 8765; 0: any free port)")
    viz.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    _add_scale(viz)
    viz.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name or address (with or without :PORT) or from this origin, "
        "e.g. sim.example.org or https://sim.example.org, such as a reverse proxy's (repeatable; by default "
        "only the --host address, plus localhost, 127.0.0.1 and [::1] on loopback or this machine's name beyond)",
    )

    dock = commands.add_parser("dock", help="reproduce the published models the mechanisms stand on")
    dock.add_argument(
        "model",
        choices=["axelrod", "deffuant", "march"],
        help="which published model: axelrod (Axelrod 1997), deffuant (silosim's drift against Klemm et al. 2003) "
        "or march (March 1991, through silosim.needs' learning rules)",
    )
    dock.add_argument("--runs", type=_positive_int, help="runs per cell (default: the published count)")
    dock.add_argument("--jobs", type=_positive_int, help="worker processes (default: all cores)")
    dock.add_argument("--out", type=Path, help="report folder (default: results/dock-MODEL)")
    dock.add_argument("--quick", action="store_true", help="a short version (under a minute)")
    return parser


def _add_scale(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--scale",
        type=_scale,
        default=1.0,
        metavar="K",
        help="the same organisation K times larger: stakeholder counts, department headcounts and community "
        "managers' capacity (dynamics.cm_exchanges) times K; rates per person, shares, reach, openness and steps "
        f"unchanged (0 < K <= {MAX_SCALE}; default 1)",
    )


def _scale(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not 0 < value <= MAX_SCALE:  # NaN, inf and non-numbers fail this too
        raise argparse.ArgumentTypeError(f"expected a number above 0 and at most {MAX_SCALE}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``silosim`` console script and ``run.py``."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].endswith((".yaml", ".yml")):
        argv.insert(0, "run")  # `python run.py SCENARIO.yaml`
    try:
        args = build_parser().parse_args(argv)
        commands = {
            "run": cmd_run,
            "validate": cmd_validate,
            "sweep": cmd_sweep,
            "report": cmd_report,
            "export": cmd_export,
            "viz": cmd_viz,
            "dock": cmd_dock,
        }
        return commands[args.command](args)
    except UsageError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ScenarioError as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted: nothing was written", file=sys.stderr)
        return 130


def cmd_validate(args: argparse.Namespace) -> int:
    """Check every file; report all problems of all files."""
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


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario; print the summary; write the results folder."""
    from silosim.runner import check_out_dir, default_out_dir, run, write_results

    overrides: list = list(args.overrides)
    if args.seed is not None:
        overrides.append(("--seed", f"seed={args.seed}"))
    if args.steps is not None:
        overrides.append(("--steps", f"steps={args.steps}"))
    scenario = load(args.scenario, overrides, scale=args.scale)  # scaled after the overrides
    out = args.out or default_out_dir(scenario)
    check_out_dir(out, "--out")  # before the run: an unwritable folder is found now, not after it
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise UsageError(f"silosim run: --out {out} exists and is not an empty folder; choose another")
    result = run(scenario, progress=not args.quiet)
    out = write_results(result, out)
    if not args.quiet:
        print(summary_table(result.summary))
    print(f"results: {out}")
    return 0


def cmd_sweep(args: argparse.Namespace) -> int:
    """Run (or resume) a sweep, then write its report."""
    from silosim.cli.sweep import main as sweep_main

    return sweep_main(args)


def cmd_export(args: argparse.Namespace) -> int:
    """Write a sweep's runs and time series as two tidy tables."""
    from silosim.analysis.export import export

    try:
        for path in export(args.sweep_dir, args.format, args.out):
            print(path)
    except FileNotFoundError as exc:
        raise UsageError(f"silosim export: {exc}") from None
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report of a finished or partial sweep."""
    from silosim.analysis.report import write_report

    try:
        print(f"report: {write_report(args.sweep_dir)}")
    except FileNotFoundError as exc:
        raise UsageError(f"silosim report: {exc}") from None
    return 0


def cmd_viz(args: argparse.Namespace) -> int:
    """Serve the browser page for one scenario until Ctrl-C."""
    from silosim.viz import AddressError, serve

    seed = [] if args.seed is None else [f"seed={args.seed}"]
    load(args.scenario, seed, scale=args.scale)  # bad input: exit 2 before serving
    try:  # a bad --host or --allow-host is found before anything is served
        return serve(
            args.scenario, host=args.host, port=args.port, seed=args.seed, allow_hosts=args.allow_host, scale=args.scale
        )
    except AddressError as exc:
        raise UsageError(f"silosim viz: {exc}") from None


def cmd_dock(args: argparse.Namespace) -> int:
    """Reproduce a published model with silosim's own mechanisms."""
    from silosim.docking import run_docking

    return run_docking(args.model, runs=args.runs, jobs=args.jobs, out=args.out, quick=args.quick)


def summary_table(summary: dict) -> str:
    """The final measures and the verdict as an aligned text table."""
    rows = [(name, _fmt(value)) for name, value in summary["measures"].items()]
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


def _fmt(value: float | int | None) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    return f"{value:.3f}" if isinstance(value, float) else str(value)


if __name__ == "__main__":
    sys.exit(main())
