"""Dotted keys: how ``--set``, events and :func:`~silosim.scenario.loading.changed` name one value of a scenario.

``organization.departments.hr.reach`` addresses list items by name and walks the schema, so a
key that names nothing fails with the nearest valid name (:class:`OverrideError`). These
functions change raw data only; validating the result is :func:`~silosim.scenario.checks.validate`'s.
Keys in :data:`STRUCTURAL` are fixed once the model is built, so events cannot change them.
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from silosim.scenario.errors import nearest
from silosim.scenario.schema import Scenario, StakeholderGroup, inner_model


class OverrideError(ValueError):
    """A dotted key that names nothing or cannot change."""


# keys fixed once the model is built: changing them would need new agents or arrays
STRUCTURAL = {
    "name", "description", "seed", "steps", "events",
    "dynamics.features", "dynamics.traits", "dynamics.max_ties", "metrics.every",
    "dynamics.needs_overlap", "dynamics.need_noise", "organization.stakeholders.*.needs",
    "organization.departments.*.name", "organization.community_managers.*.name",
    "organization.stakeholders.*.group", "organization.stakeholders.*.count",
    "organization.stakeholders.*.external", "communities.*.name", "communities.*.audience",
    "communities.*.members", "organization", "communities", "organization.departments",
    "organization.community_managers", "organization.stakeholders", "initial_ties",
}  # fmt: skip


def parse_value(text: str) -> Any:
    """A typed value (``--set key=TEXT``, a text box of the page) read as YAML; empty text is null.

    Raises:
        OverrideError: the text is not YAML (the message quotes it).
    """
    try:
        return yaml.safe_load(text) if text.strip() else None
    except yaml.YAMLError as exc:
        reason = getattr(exc, "problem", None) or type(exc).__name__
        raise OverrideError(f"cannot parse value {text!r}: {reason}") from None


def generic_key(key: str) -> str:
    """A dotted key with its list item's name as ``*``: ``organization.departments.*.headcount``."""
    parts = key.split(".")
    return ".".join(
        "*" if (i == 2 and parts[0] == "organization") or (i == 1 and parts[0] == "communities") else p
        for i, p in enumerate(parts)
    )


def check_runtime_key(key: str) -> None:
    """Raise OverrideError if an event may not change this key mid-run."""
    generic = generic_key(key)
    for fixed in STRUCTURAL:
        if generic == fixed or (generic.startswith(fixed + ".") and fixed.endswith("members")):
            raise OverrideError(f"'{key}' is fixed when the model is built; events cannot change it")


def apply_override(data: dict, key: str, value: Any) -> dict:
    """Return a copy of raw scenario data with a dotted key set.

    List items are addressed by name: ``organization.departments.hr.reach``,
    ``communities.brand_page.involvement.marketing``.

    Raises:
        OverrideError: the key is malformed or names nothing (with the nearest valid name).
    """
    parts = [p for p in key.split(".")]
    if not key or any(not p for p in parts):
        raise OverrideError(f"'{key}' is not a dotted key such as ownership.rule")
    out = copy.deepcopy(data) if isinstance(data, dict) else {}
    node: Any = out
    model: Any = Scenario
    for depth, part in enumerate(parts):
        last = depth == len(parts) - 1
        if isinstance(node, list):
            label = "group" if model is StakeholderGroup else "name"
            names = [item.get(label) for item in node if isinstance(item, dict)]
            if part not in names:
                raise OverrideError(f"'{'.'.join(parts[:depth])}' has no item named '{part}'{nearest(part, names)}")
            if last:
                raise OverrideError(
                    f"'{key}' names a whole item; set one of its keys, e.g. {key}.{next(iter(model.model_fields))}"
                )
            node = node[names.index(part)]
            continue
        if model is not None:
            fields = model.model_fields
            if part not in fields:
                raise OverrideError(f"unknown key '{part}' in '{key}'{nearest(part, list(fields))}")
            annotation = fields[part].annotation
            sub = inner_model(annotation)
            is_list = getattr(annotation, "__origin__", None) is list
        else:
            sub, is_list = None, False
        if last:
            node[part] = value
            break
        if not isinstance(node.get(part), (dict, list)):
            if is_list:
                raise OverrideError(f"'{'.'.join(parts[: depth + 1])}' is empty; nothing named '{parts[depth + 1]}'")
            node[part] = {}
        node = node[part]
        model = sub
    return out


def key_path(data: Any, key: str) -> tuple:
    """The key path (list items as indices) that a dotted key names in raw data."""
    path: list = []
    node = data
    for part in key.split("."):
        if isinstance(node, list):
            index = next(
                (
                    i
                    for i, item in enumerate(node)
                    if isinstance(item, dict) and part in (item.get("name"), item.get("group"))
                ),
                None,
            )
            if index is None:
                break
            path.append(index)
            node = node[index]
        elif isinstance(node, dict):
            path.append(part)
            node = node.get(part)
        else:
            break
    return tuple(path)
