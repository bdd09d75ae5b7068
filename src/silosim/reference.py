"""The scenario format reference, generated from the schema so the README cannot drift from it.

``python -m silosim.reference`` prints the Markdown table that the README carries
between its ``<!-- reference -->`` markers; a test checks they are the same.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from silosim.scenario import Scenario, _inner_model

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


def rows(model: type[BaseModel] = Scenario, prefix: str = "") -> list[tuple[str, str, str]]:
    """(key path, default, meaning) for every key, depth first."""
    out = []
    for name, field in model.model_fields.items():
        annotation = field.annotation
        is_list = getattr(annotation, "__origin__", None) is list
        path = f"{prefix}{name}" + ("[]" if is_list else "")
        out.append((path, _default(field), field.description or ""))
        inner = _inner_model(annotation)
        if inner is not None:
            out += rows(inner, path + ".")
    return out


def markdown() -> str:
    """The reference table in Markdown."""
    lines = ["| key | default | meaning |", "|---|---|---|"]
    lines += [f"| `{path}` | {default} | {meaning} |" for path, default, meaning in rows()]
    return "\n".join(lines)


if __name__ == "__main__":
    print(markdown())
