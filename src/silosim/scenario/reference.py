"""The scenario format reference, generated from the schema so the README cannot drift from it.

``python -m silosim.scenario.reference`` prints the Markdown table that the README carries
between its ``<!-- reference -->`` markers; a test checks they are the same.
"""

from __future__ import annotations

import json
from typing import Any, Literal, get_args

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from silosim.scenario.schema import Scenario, inner_model

START, END = "<!-- reference:start -->", "<!-- reference:end -->"


def _default(field: Any) -> str:
    if field.is_required():
        return "required"
    value = field.default_factory() if field.default_factory is not None else field.default
    if value is PydanticUndefined:
        return "required"
    if isinstance(value, BaseModel):
        return "see below"
    return f"`{json.dumps(value)}`"


def _bounds(metadata: list) -> str:
    """`0–1`, `≥ 1, ≤ 1,000,000`, `1–64 items`... from a field's constraints."""
    names = {"Ge": "ge", "Gt": "gt", "Le": "le", "Lt": "lt", "MinLen": "min_length", "MaxLen": "max_length"}
    limits = {type(m).__name__: getattr(m, names[type(m).__name__]) for m in metadata if type(m).__name__ in names}

    def number(value: float) -> str:
        return f"{value:,}" if isinstance(value, int) else f"{value:g}"

    if "MinLen" in limits or "MaxLen" in limits:
        low, high = limits.get("MinLen", 0), limits.get("MaxLen")
        return f"{low}–{number(high)} items" if high is not None else f"at least {low} item(s)"
    low = next((f"{op} {number(limits[k])}" for k, op in (("Ge", "≥"), ("Gt", ">")) if k in limits), "")
    high = next((f"{op} {number(limits[k])}" for k, op in (("Le", "≤"), ("Lt", "<")) if k in limits), "")
    if low.startswith("≥") and high.startswith("≤"):
        return f"{low[2:]}–{high[2:]}"
    return ", ".join(p for p in (low, high) if p)


def _allowed(field: Any) -> str:
    """What a key accepts: its range, options or name rule."""
    annotation = field.annotation
    if getattr(annotation, "__origin__", None) is Literal:
        return " ".join(f"`{option}`" for option in get_args(annotation))
    patterns = [m.pattern for m in field.metadata if getattr(m, "pattern", None)]
    if patterns:
        return "name: letters, digits, `_`, `-`" + (", `.`" if "." in patterns[0] else "")
    if annotation is str:
        return "text" + "".join(
            f", up to {m.max_length:,} characters" for m in field.metadata if hasattr(m, "max_length")
        )
    if getattr(annotation, "__origin__", None) is dict:
        value = get_args(annotation)[1]
        inner = _bounds(getattr(get_args(value)[1], "metadata", [])) if get_args(value) else ""
        return f"values {inner}" if inner else ""
    return _bounds(field.metadata)


def rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, str, str, str]]:
    """(key path, default, allowed values, meaning) for every key, depth first."""
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        is_list = getattr(annotation, "__origin__", None) is list
        path = f"{prefix}{name}" + ("[]" if is_list else "")
        out.append((path, _default(field), _allowed(field), field.description or ""))
        inner = inner_model(annotation)
        if inner is not None:
            out += rows(inner, path + ".")
    return out


def markdown() -> str:
    """The reference table in Markdown."""
    lines = ["| key | default | allowed | meaning |", "|---|---|---|---|"]
    lines += [f"| `{path}` | {default} | {allowed} | {meaning} |" for path, default, allowed, meaning in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
