"""Numbers and tables as text: one way to print them in the terminal, reports and dockings."""

from __future__ import annotations

import math
import numbers
from collections.abc import Iterable, Sequence


def number(value: float | int | None, digits: int = 3) -> str:
    """``0.412`` (``digits`` decimals) for a float, ``7`` for an integer, ``n/a`` for None or NaN."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "n/a"
    if isinstance(value, numbers.Integral | str):
        return str(value)
    return f"{float(value):.{digits}f}"


def markdown_table(headers: Sequence[object], rows: Iterable[Sequence[object]]) -> str:
    """A Markdown table with columns padded to line up in a terminal too."""
    cells = [list(map(str, headers))] + [[str(c) for c in row] for row in rows]
    widths = [max(len(row[k]) for row in cells) for k in range(len(cells[0]))]
    lines = ["| " + " | ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) + " |" for row in cells]
    lines.insert(1, "|" + "|".join("-" * (w + 2) for w in widths) + "|")
    return "\n".join(lines)


def plural(n: int, noun: str) -> str:
    """``1 strategy``, ``3 strategies``, ``2 points``."""
    many = noun[:-1] + "ies" if noun.endswith("y") else noun + "s"
    return f"{n} {noun if n == 1 else many}"


def duration(seconds: float) -> str:
    """``45 s``, ``12.5 min``, ``2.1 h``."""
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"
