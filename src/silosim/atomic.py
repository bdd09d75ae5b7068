"""Folders written whole or not at all: write into a partial folder beside the target, then rename it into place.

Used by every folder silosim writes (a run's results, a sweep's report, a
docking report). The partial folder ``.NAME.partial-XXXXXXXX`` sits beside
``NAME`` so the final rename stays on one file system; it is removed when
the writing fails. A process killed while writing (SIGKILL) leaves its
partial folder behind: :func:`remove_stale` removes those, when the caller
knows no other process writes the same folder (a sweep's report, written
under the sweep's lock).

The finished folder has the mode of the folder it replaces (an empty folder
given with ``--out``, an earlier report) or, when new, the mode ``mkdir``
gives (``0o777`` less the umask), not the ``0o700`` of a temporary folder.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import stat
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

PARTIAL = ".partial-"


def partial_pattern(name: str) -> str:
    """The glob pattern of the partial folders of a folder named ``name`` (beside it)."""
    return f".{glob.escape(name)}{PARTIAL}*"


def remove_stale(out: Path) -> list[Path]:
    """Remove the partial folders that writers of ``out`` killed mid-way left beside it; return them."""
    out = Path(out)
    removed = []
    for partial in out.parent.glob(partial_pattern(out.name)):
        if partial.is_dir() and not partial.is_symlink():
            shutil.rmtree(partial, ignore_errors=True)
            removed.append(partial)
    return removed


def _new_partial(out: Path) -> Path:
    """Create an empty partial folder beside ``out`` with the mode a new folder gets (umask applied)."""
    while True:
        partial = out.parent / f".{out.name}{PARTIAL}{secrets.token_hex(4)}"
        try:
            partial.mkdir(0o777)
        except FileExistsError:
            continue
        return partial


@contextmanager
def atomic_folder(out: Path, replace: bool = False, clean_stale: bool = False) -> Iterator[Path]:
    """Yield an empty partial folder to write into; on success it becomes ``out`` in one rename.

    Args:
        out: the folder to write. Its parents are created.
        replace: replace an existing ``out`` with its content (a report rewritten). Without it,
            ``out`` may only be missing or an empty folder (``--out EMPTY_DIR``); else FileExistsError.
        clean_stale: first remove partial folders of ``out`` that killed writers left behind; only
            when no other process may be writing ``out`` at the same time.

    Raises:
        FileExistsError: ``out`` is not empty and ``replace`` is false.
        NotADirectoryError: ``out`` exists and is not a folder.
    """
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    if clean_stale:
        remove_stale(out)
    _check_target(out, replace)
    partial = _new_partial(out)
    try:
        yield partial
        if out.is_dir():  # keep the mode of the folder replaced
            os.chmod(partial, stat.S_IMODE(out.stat().st_mode))
        _swap(partial, out, replace)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise


def _check_target(out: Path, replace: bool) -> None:
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        raise NotADirectoryError(f"{out} exists and is not a folder")
    if out.is_dir() and not replace and any(out.iterdir()):
        raise FileExistsError(f"{out} exists and is not an empty folder")


def _swap(partial: Path, out: Path, replace: bool) -> None:
    """Rename ``partial`` to ``out``; an existing ``out`` is first moved into a partial folder, then removed."""
    _check_target(out, replace)
    if not out.exists() or not any(out.iterdir()):
        os.replace(partial, out)  # over an empty folder: one atomic rename
        return
    holder = _new_partial(out)  # named like a partial folder: a kill from here on leaves only stale partials
    try:
        os.replace(out, holder / out.name)
        try:
            os.replace(partial, out)
        except BaseException:
            os.replace(holder / out.name, out)  # put the old one back
            raise
    finally:
        shutil.rmtree(holder, ignore_errors=True)


def replaceable(out: Path, ours: Callable[[set[str]], bool], what: str) -> str | None:
    """Why ``out`` may not be written as a whole (not a folder, or one holding files not ``ours``), or None.

    Args:
        out: the folder a command would replace.
        ours: whether a folder holding these file names is one this command wrote (an earlier export,
            an earlier analysis): only such a folder, an empty one or none is replaced.
        what: what the command writes, for the message ("an export").
    """
    if out.is_symlink() or (out.exists() and not out.is_dir()):
        return "exists and is not a folder: choose another"
    if out.is_dir() and (names := {p.name for p in out.iterdir()}) and not ours(names):
        return f"holds files that are not {what}: choose another"
    return None
