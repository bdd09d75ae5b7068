"""Problems with a scenario, and the one message format every bad input uses.

A :class:`Problem` is located (file, line, key path) and says what was expected; a
:class:`ScenarioError` carries every problem of one source, sorted, so the same bad file
gives the same message every time. :func:`nearest` adds the "did you mean" hint.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a scenario, located in its file."""

    source: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.source}:{self.line}" if self.line else self.source
        return printable(f"{where}: {self.path or '(top level)'}: {self.message}")


def printable(text: str) -> str:
    """Text safe to print on one terminal line: control characters and terminal escapes shown escaped."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


class ScenarioError(Exception):
    """Every problem found in one scenario (or sweep) source, in file order (the same order every time)."""

    def __init__(self, problems: list[Problem]):
        self.problems = sorted(set(problems), key=lambda p: (p.source, p.line or 0, p.path, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


def nearest(word: str, candidates: list[str] | tuple[str, ...]) -> str:
    """A ' (did you mean X?)' hint naming the closest valid name, or ''."""
    candidates = list(dict.fromkeys(str(c) for c in candidates))
    match = difflib.get_close_matches(str(word), candidates, n=1, cutoff=0.5)
    if match:
        return f" (did you mean '{match[0]}'?)"
    return f" (valid: {', '.join(candidates)})" if candidates and len(candidates) <= 8 else ""
