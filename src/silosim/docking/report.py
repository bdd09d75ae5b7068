"""A docking's report: its tables, checks and text, and the folder they are written to, whole or not at all.

Every docking builds one :class:`Report`; :func:`write_folder` writes it as
CSV tables, ``dock.md``, ``dock.png`` and ``dock.json`` (the marker that
lets a later docking replace the folder) through :func:`silosim.atomic.atomic_folder`.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from silosim.atomic import atomic_folder

MARKER = "dock.json"


class DockError(Exception):
    """A bad request (exit code 2)."""


@dataclass
class Report:
    """A docking's tables, checks and text, ready to print and write."""

    model: str
    tables: dict[str, pd.DataFrame]  # file stem → table (CSV)
    markdown: str
    terminal: str
    checks: list[tuple[str, bool]]
    summary: dict
    plot: Callable[[Path], None]

    @property
    def passed(self) -> bool:
        """Whether every check that cannot be wrong held."""
        return all(ok for _, ok in self.checks)


def check_lines(checks: Sequence[tuple[str, bool]], marks: tuple[str, str] = ("PASS:", "FAIL:")) -> str:
    """The checks as a Markdown list, each marked as held or failed.

    Args:
        checks: ``(text, held)`` pairs.
        marks: the marks of a check that held and of one that failed.
    """
    return "\n".join(f"- {marks[0] if ok else marks[1]} {text}" for text, ok in checks)


def check_out_folder(out: Path) -> None:
    """Refuse an ``out`` that holds something other than a docking report, which must not be overwritten.

    Raises:
        DockError: ``out`` is a file, or a non-empty folder without :data:`MARKER`.
    """
    out = Path(out)
    if out.exists() and (not out.is_dir() or (any(out.iterdir()) and not (out / MARKER).exists())):
        raise DockError(f"silosim dock: --out {out} exists and is not a docking report folder; choose another")


def write_folder(out: Path, report: Report, meta: dict) -> Path:
    """Write the report into ``out`` atomically, replacing an earlier docking report there.

    Everything is written into a temporary folder beside ``out`` and renamed
    into place when complete, like :func:`silosim.runner.write_results`. A
    non-empty ``out`` that is not a docking report is left alone (DockError).
    """
    out = Path(out)
    check_out_folder(out)
    with atomic_folder(out, replace=True) as tmp:
        for stem, df in report.tables.items():
            df.to_csv(tmp / f"{stem}.csv", index=False)
        (tmp / "dock.md").write_text(meta["title"] + "\n\n" + meta["line"] + "\n\n" + report.markdown)
        report.plot(tmp / "dock.png")
        checks = [{"check": text, "passed": ok} for text, ok in report.checks]
        body = meta | {"checks": checks, "passed": report.passed} | report.summary
        (tmp / MARKER).write_text(json.dumps(body, indent=2, default=_json_default) + "\n")
    return out


def _json_default(value: object) -> object:
    if isinstance(value, np.generic):
        return value.item()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")
