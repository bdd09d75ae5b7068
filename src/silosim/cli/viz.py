"""``silosim viz SCENARIO.yaml``: serve the browser page that watches a scenario, until Ctrl-C."""

from __future__ import annotations

import argparse
from pathlib import Path

from silosim.cli.parser import UsageError, add_scale
from silosim.scenario import load


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim viz`` and its arguments."""
    parser = subparsers.add_parser(
        "viz",
        help="watch a scenario in the browser",
        description="Serve a page that watches a scenario and runs it on request. It answers only requests "
        "addressed to its own address (Host) from its own pages (Origin); --allow-host adds more.",
    )
    parser.add_argument("scenario", type=Path, help="scenario YAML file")
    parser.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to serve on (default: 127.0.0.1, this machine only; any other address, such as 0.0.0.0, "
        "lets other machines reach the page, and a warning says so)",
    )
    parser.add_argument("--port", type=_port, default=8765, help="port (default: 8765; 0: any free port)")
    parser.add_argument("--seed", type=int, help="seed (default: the scenario's)")
    add_scale(parser)
    parser.add_argument(
        "--allow-host",
        action="append",
        default=[],
        metavar="NAME",
        help="also answer requests for this host name or address (with or without :PORT) or from this origin, "
        "e.g. sim.example.org or https://sim.example.org, such as a reverse proxy's (repeatable; by default "
        "only the --host address, plus localhost, 127.0.0.1 and [::1] on loopback or this machine's name beyond)",
    )
    return parser


def _port(text: str) -> int:
    """A TCP port, or 0 for any free one."""
    if not (text.strip().isascii() and text.strip().isdigit()) or not 0 <= int(text) <= 65535:
        raise argparse.ArgumentTypeError(f"expected a port from 1 to 65535 (or 0: any free port), got {text!r}")
    return int(text)


def main(args: argparse.Namespace) -> int:
    """Check the scenario and the addresses, then serve the page until Ctrl-C."""
    from silosim.viz import AddressError, serve

    seed = [] if args.seed is None else [f"seed={args.seed}"]
    load(args.scenario, seed, scale=args.scale)  # bad input: exit 2 before serving
    try:  # a bad --host or --allow-host is found before anything is served
        return serve(
            args.scenario, host=args.host, port=args.port, seed=args.seed, allow_hosts=args.allow_host, scale=args.scale
        )
    except AddressError as exc:
        raise UsageError(f"silosim viz: {exc}") from None
