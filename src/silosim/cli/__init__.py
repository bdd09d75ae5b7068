"""Command line: ``silosim COMMAND``, one module per command behind one error handler (pre-commit's layout).

Each command module has ``add_parser(subparsers)`` (its arguments and help)
and ``main(args) -> int``, and imports the model, Mesa and numba only inside
``main``: ``silosim --help`` and ``silosim validate`` stay light. Errors reach
:func:`main`, the one place that turns them into exit codes, one message and
no traceback: 2 for bad input (:class:`UsageError`, a ScenarioError naming
file, line, key and what was expected), 130 for Ctrl-C (a command that keeps
something says what, in its KeyboardInterrupt), 1 when a worker process died
(a command may say what it kept, in its BrokenProcessPool). A command returns
1 itself when its runs or checks failed.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures.process import BrokenProcessPool

from silosim import __version__
from silosim.cli import analyze, dock, export, init, measure, report, run, sweep, validate, viz
from silosim.cli.parser import Parser, UsageError
from silosim.scenario import ScenarioError

COMMANDS = (init, run, validate, measure, sweep, report, analyze, export, viz, dock)  # in the order of the help
EXIT_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    """The ``silosim`` argument parser: one subcommand per module of :data:`COMMANDS`."""
    parser = Parser(prog="silosim", description="Do an organisation's communities merge, or harden into silos?")
    parser.add_argument("--version", action="version", version=f"silosim {__version__}")
    subparsers = parser.add_subparsers(dest="command", required=True, parser_class=Parser)
    for command in COMMANDS:
        command.add_parser(subparsers).set_defaults(main=command.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``silosim`` console script and ``run.py``: parse, run the command, map its errors.

    Args:
        argv: the arguments (default: ``sys.argv[1:]``); a first argument
            ending in ``.yaml`` or ``.yml`` means ``run`` it.

    Returns:
        The command's exit code; 2 for bad input, 130 for Ctrl-C, 1 when a worker process died.
    """
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0].endswith((".yaml", ".yml")):
        argv.insert(0, "run")  # `python run.py SCENARIO.yaml`
    try:
        args = build_parser().parse_args(argv)
        return args.main(args)
    except (UsageError, ScenarioError) as exc:
        print(exc, file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt as exc:
        print(str(exc) or "interrupted: nothing was written", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenProcessPool as exc:
        print(exc, file=sys.stderr)
        return EXIT_FAILED
