"""The ways to a validated scenario: a file, a mapping, a change of one, the same organisation scaled.

:func:`load` reads a file, applies command-line overrides (each problem names its flag), validates
and scales; :func:`from_dict`, :func:`changed` and :func:`scaled` do the same from data already in
memory. Whatever the way in, the result passed :func:`~silosim.scenario.checks.validate`.
"""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

from silosim.scenario.checks import validate
from silosim.scenario.errors import Problem, ScenarioError, nearest
from silosim.scenario.located import MAX_YAML_BYTES, Located, parse_yaml
from silosim.scenario.overrides import OverrideError, apply_override, generic_key, key_path, parse_value
from silosim.scenario.schema import Scenario

MAX_SCALE = 1000
# what "the same organisation K times larger" multiplies (the keys of events included); rates per person stay
_SCALED_COUNTS = ("organization.stakeholders.*.count", "organization.departments.*.headcount")
# a community manager's capacity, and the practices a department originates, grow with the organisation
_SCALED_RATES = ("dynamics.cm_exchanges", "dynamics.practice_rate")


def default_name(path: Path) -> str:
    """A scenario or sweep name made from a file name: characters a name may not hold become '_'."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip(".") or "scenario"
    return name[:100]


Override = str | tuple[str, str]  # "key=value" from --set, or (flag, "key=value") from a flag such as --seed


def load(
    path: str | Path, overrides: list[Override] | None = None, scale: float = 1, check_memory: bool = True
) -> Scenario:
    """Read, override, scale and validate a scenario file.

    Args:
        path: the YAML file; its name is the scenario's ``name`` unless the file gives one.
        overrides: ``key=value`` strings (from ``--set``), or ``(flag, "key=value")`` pairs
            (from a flag such as ``--seed``), applied in order; problems name the flag.
        scale: the organisation this many times larger (:func:`scaled`).
        check_memory: ``False`` leaves out the memory check of the scenario as read
            (a scaled one is always checked).

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: every problem of the file and the overrides, with file, line and key path.
    """
    path = Path(path)
    source = str(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_YAML_BYTES:
            raise ScenarioError([Problem(source, None, "", f"file is larger than {MAX_YAML_BYTES:,} bytes: refused")])
        text = path.read_text(encoding="utf-8")
    except IsADirectoryError:
        message = f"a folder, not a file: give its YAML files, e.g. {path / '*.yaml'}"
        raise ScenarioError([Problem(source, None, "", message)]) from None
    except FileNotFoundError as exc:
        there = sorted(p.name for p in path.parent.glob("*.y*ml")) if path.parent.is_dir() else []
        hint = nearest(path.name, there) if there else ""
        message = f"cannot read file: {exc.strerror or exc}" + (hint if "did you mean" in hint else "")
        raise ScenarioError([Problem(source, None, "", message)]) from None
    except OSError as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(source, None, "", "not a UTF-8 text file")]) from None
    data, located = parse_yaml(text, source)
    if isinstance(data, dict):
        data.setdefault("name", default_name(path))
        ties = data.get("initial_ties")
        if isinstance(ties, str) and ties.strip() and not Path(ties).is_absolute():  # as a sweep's `base:`
            data["initial_ties"] = str((path.parent / ties).resolve())
    return validate_with_overrides(data, located, overrides or [], scale, check_memory)


def validate_with_overrides(
    data: Any, located: Located, overrides: list[Override], scale: float = 1, check_memory: bool = True
) -> Scenario:
    """Apply overrides to raw data, validate it all, then scale it; each problem names the flag it came from.

    Args:
        data: raw data, as parsed (:func:`~silosim.scenario.located.parse_yaml`).
        located: where each key path of ``data`` came from; overridden keys are recorded in it.
        overrides: as for :func:`load`.
        scale: as for :func:`load`.
        check_memory: as for :func:`load`.

    Returns:
        The validated, scaled scenario.

    Raises:
        ScenarioError: every problem found.
    """
    problems: list[Problem] = []
    try:
        _check_scale(scale)
    except ScenarioError as exc:
        problems += exc.problems
    for override in overrides:
        flag, item = override if isinstance(override, tuple) else ("--set", override)
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            problems.append(Problem(flag, None, item, _missing_equals(flag, item)))
            continue
        try:
            data = apply_override(data, key, parse_value(raw))
            located.overridden[key_path(data, key)] = flag
        except OverrideError as exc:
            problems.append(Problem(flag, None, key, str(exc)))
    try:  # the file's problems with those of the flags: a scaled scenario's memory is checked once scaled
        scenario = validate(data, located, check_memory and scale == 1 and not problems)
    except ScenarioError as exc:
        problems += exc.problems
    if problems:
        raise ScenarioError(problems)
    return scaled(scenario, scale, located.source)


def _missing_equals(flag: str, item: str) -> str:
    """The message for a ``--set`` item without ``=``: how to write it (``key:0.2``, ``key`` alone)."""
    key, sep, value = item.partition(":")
    if sep and key.strip() and value.strip():
        return f"expected key=value: write {flag} {key.strip()}={value.strip()}"
    example = item.strip() if item.strip() and " " not in item.strip() else "ownership.rule"
    return f"expected key=value: write {flag} {example}=VALUE, e.g. {flag} ownership.rule=glue"


def scaled(scenario: Scenario, k: float, source: str | None = None) -> Scenario:
    """The same organisation ``k`` times larger (``--scale K``), validated.

    Every stakeholder group's ``count`` and department's ``headcount`` becomes ``max(1, round(n * k))``
    and ``dynamics.cm_exchanges`` (a community manager's capacity) and ``dynamics.practice_rate`` (practices
    per department-step) are multiplied by ``k``, in the scenario and in the events that set them; shares,
    rates per person, reach, openness, steps, seed stay.

    Args:
        scenario: a validated scenario.
        k: the factor, above 0 and at most :data:`MAX_SCALE`; 1 returns ``scenario`` itself.
        source: the file it came from, named in problems (default: the scenario's name).

    Returns:
        The scaled scenario.

    Raises:
        ScenarioError: ``k`` is out of range, or the scaled scenario is invalid (a count over its bound,
            too big for this machine's memory); each problem names the file, the field and ``--scale``.
    """
    _check_scale(k)
    if k == 1:
        return scenario

    def scale(key: str, value: Any) -> Any:
        generic = generic_key(key)
        if generic in _SCALED_COUNTS and isinstance(value, int) and not isinstance(value, bool):
            return max(1, round(value * k))
        if generic in _SCALED_RATES and isinstance(value, (int, float)) and not isinstance(value, bool):
            return value * k
        return value

    data = to_dict(scenario)
    org = data["organization"]
    for group in org["stakeholders"]:
        group["count"] = scale("organization.stakeholders.*.count", group["count"])
    for department in org["departments"]:
        department["headcount"] = scale("organization.departments.*.headcount", department["headcount"])
    for key in _SCALED_RATES:
        name = key.split(".")[1]
        data["dynamics"][name] = scale(key, data["dynamics"][name])
    for event in data["events"]:
        event["set"] = {key: scale(key, value) for key, value in event["set"].items()}
    return validate(data, Located(f"{source or scenario.name} with --scale {k:g}"))


def _check_scale(k: float) -> None:
    """Raise ScenarioError naming ``--scale`` unless ``k`` is a number above 0 and at most MAX_SCALE."""
    if isinstance(k, bool) or not isinstance(k, (int, float)) or not 0 < k <= MAX_SCALE:
        raise ScenarioError([Problem("--scale", None, str(k), f"expected a number above 0 and at most {MAX_SCALE}")])


def from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a Python mapping (tests, sweeps, the browser page)."""
    return validate(copy.deepcopy(data), Located(source))


def to_dict(scenario: Scenario) -> dict:
    """The resolved scenario as plain data, every default filled in."""
    return scenario.model_dump(mode="json")


def changed(scenario: Scenario, changes: dict[str, Any], source: str = "changed()") -> Scenario:
    """The scenario with dotted keys set, as ``--set`` and events spell them, validated again.

    ``changed(s, {"ownership.rule": "glue", "ownership.glue": "marketing"})``; list items are
    addressed by name (``organization.departments.hr.reach``). Raises ScenarioError, naming the key,
    for a key that is no scenario key or a value the scenario does not accept.
    """
    data = to_dict(scenario)
    for key, value in changes.items():
        try:
            data = apply_override(data, key, value)
        except OverrideError as exc:
            raise ScenarioError([Problem(source, None, key, str(exc))]) from None
    return from_dict(data, source=source)
