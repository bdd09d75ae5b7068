"""``silosim init FILE.yaml``: write a commented scenario to fill in, from department, group and community names.

The file validates and runs as written (:func:`silosim.scenario.template.template`); with no flags
its organisation is the default one (``scenarios/default.yaml``). An existing file is refused
unless ``--force``; the file is written whole or not at all (a temporary file beside it, then one
rename). How to estimate each value: ``docs/modelling-your-organisation.md``.
"""

from __future__ import annotations

import argparse
import os
import secrets
from pathlib import Path

from silosim.analysis.text import plural
from silosim.cli.parser import UsageError
from silosim.scenario import default_name, parse_yaml, validate
from silosim.scenario.schema import MAX_COMMUNITIES
from silosim.scenario.template import (
    DEFAULT_COMMUNITIES,
    DEFAULT_DEPARTMENTS,
    DEFAULT_GROUPS,
    GUIDE,
    name_problems,
    template,
)

LISTS = (  # flag, what its names are, default, most names
    ("departments", "department", DEFAULT_DEPARTMENTS, 1000),
    ("groups", "stakeholder group", DEFAULT_GROUPS, 1000),
    ("communities", "community", DEFAULT_COMMUNITIES, MAX_COMMUNITIES),
)


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    """Add ``silosim init`` and its arguments."""
    parser = subparsers.add_parser(
        "init",
        help="write a commented scenario of your organisation to fill in",
        description=f"Write a commented scenario that validates and runs as written; how to estimate each value: "
        f"{GUIDE}.",
    )
    parser.add_argument("file", type=Path, help="the scenario file to write (FILE.yaml)")
    for flag, kind, default, _ in LISTS:
        parser.add_argument(
            f"--{flag}",
            default=",".join(default),
            metavar="A,B,...",
            help=f"{kind} names, comma-separated (default: {','.join(default)})",
        )
    parser.add_argument("--force", action="store_true", help="replace FILE if it exists")
    return parser


def main(args: argparse.Namespace) -> int:
    """Check the names, write the scenario, say what to do next."""
    names, problems = {}, []
    for flag, kind, _, limit in LISTS:
        names[flag] = [n.strip() for n in getattr(args, flag).split(",")] if getattr(args, flag).strip() else []
        problems += [f"silosim init: argument --{flag}: {p}" for p in name_problems(kind, names[flag], limit)]
    path: Path = args.file
    if path.is_dir():
        problems.append(f"silosim init: {path} is a folder: give a file name such as {path / 'scenario.yaml'}")
    elif (path.exists() or path.is_symlink()) and not args.force:
        problems.append(f"silosim init: {path} exists: nothing written (--force replaces it)")
    if problems:
        raise UsageError("\n".join(problems))
    text = template(default_name(path), names["departments"], names["groups"], names["communities"])
    validate(*parse_yaml(text, str(path)))  # the template is valid by construction; never write one that is not
    _write(path, text, replace=args.force)
    counts = ", ".join(plural(len(names[flag]), kind) for flag, kind, *_ in LISTS)
    print(f"{path}: written ({counts}, rule most_involved)")
    print(f"next: fill in the values ({GUIDE}), then `silosim validate {path}` and `silosim run {path}`")
    return 0


def _write(path: Path, text: str, replace: bool) -> None:
    """Write ``text`` to ``path`` whole or not at all; without ``replace``, never over an existing file."""
    partial = path.with_name(f".{path.name}.partial-{secrets.token_hex(4)}")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)  # the umask applies, as for a new file
    except OSError as exc:
        raise UsageError(f"silosim init: cannot write {path}: {exc.strerror}") from None
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as file:
            file.write(text)
        if replace:
            os.replace(partial, path)
        else:
            try:
                os.link(partial, path)  # fails if the file appeared meanwhile: never overwrites
            except FileExistsError:
                raise UsageError(f"silosim init: {path} exists: nothing written (--force replaces it)") from None
    finally:
        partial.unlink(missing_ok=True)
