"""Everything wrong with a scenario's raw data, found at once and located: types, references, events.

Three passes over the data as read, each a list of :class:`~silosim.scenario.errors.Problem`:
the schema (pydantic errors translated into the file's words), the cross-references the schema
cannot see (a name that refers to nothing, a duplicate, a rule missing its department), and the
events (each applies, and the scenario stays valid after each). :func:`validate` raises them all
in one :class:`~silosim.scenario.errors.ScenarioError`, so a user fixes a file in one go.
"""

from __future__ import annotations

import copy
import difflib
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from itertools import chain
from pathlib import Path
from typing import Any

import numpy as np
from pydantic import BaseModel, ValidationError

from silosim.scenario.errors import Problem, ScenarioError, nearest, printable
from silosim.scenario.located import MAX_YAML_DEPTH, Located, render_path
from silosim.scenario.overrides import OverrideError, apply_override, check_runtime_key
from silosim.scenario.schema import RUN_NAME_PATTERN, Scenario, flatten_changes, inner_model

ORG = ("organization",)

# --------------------------------------------------------------------------- the schema


def schema_problems(data: dict, located: Located, schema: type[BaseModel] | None = None) -> list[Problem]:
    """Types, ranges and unknown keys, via a pydantic schema (the scenario's by default).

    A misspelled key does not hide what it holds: where a mapping has an unknown key whose
    nearest valid name is absent (``organisation:`` for ``organization:``), its content is checked
    against that name's schema, its problems named at the key as written, and the intended key is
    not also called missing.

    Args:
        data: raw data, as parsed.
        located: where each key path of ``data`` came from.
        schema: the model ``data`` should fit; :class:`~silosim.scenario.schema.Scenario` by default.

    Returns:
        One problem per pydantic error, in the file's words.
    """
    return _schema_check(data, located, schema or Scenario)[0]


def _schema_check(data: Any, located: Located, schema: type[BaseModel]) -> tuple[list[Problem], Any, dict[tuple, str]]:
    """:func:`schema_problems`, with the data respelled and its renames (:func:`respelled`)."""
    spelled, renames, errors = _respell(data, schema)
    problems = [
        Problem(*located.where(written), render_path(written, data), f"unknown key '{written[-1]}'{hint}")
        for written, hint in _renamed_keys(renames, schema)
    ]
    problems += [_pydantic_problem(err, data, located, schema, renames) for err in errors]
    return problems, spelled, renames


# a misspelling close enough to be read as the key it misses (organisation → organization: 0.92)
_RESPELL_CUTOFF = 0.8


def respelled(data: Any, schema: type[BaseModel]) -> tuple[Any, dict[tuple, str]]:
    """Raw data with each misspelled key renamed to the valid key it nearly spells, where that key is absent.

    Args:
        data: raw data, as parsed.
        schema: the model ``data`` should fit.

    Returns:
        The data respelled (``data`` itself when nothing is), and the renames: the key path as
        respelled → the key as written.
    """
    spelled, renames, _ = _respell(data, schema)
    return spelled, renames


def _respell(data: Any, schema: type[BaseModel]) -> tuple[Any, dict[tuple, str], list]:
    """:func:`respelled`, with the pydantic errors of the respelled data (one validation when nothing is)."""
    renames: dict[tuple, str] = {}
    spelled = data
    for _ in range(MAX_YAML_DEPTH + 1):  # a typo inside a typo's content shows once the outer one is respelled
        try:
            schema.model_validate(spelled)
            return spelled, renames, []
        except ValidationError as exc:
            errors = exc.errors()
        found = False
        for err in errors if isinstance(data, dict) else ():
            if err["type"] != "extra_forbidden":
                continue
            loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
            parent, key = _node(spelled, loc[:-1]), loc[-1]
            model = _model_at(loc[:-1], schema)
            if not isinstance(parent, dict) or model is None or key not in parent:
                continue
            match = difflib.get_close_matches(str(key), list(model.model_fields), n=1, cutoff=_RESPELL_CUTOFF)
            if not match or match[0] in parent:
                continue
            if spelled is data:
                spelled = copy.deepcopy(data)
                parent = _node(spelled, loc[:-1])
            parent[match[0]] = parent.pop(key)
            renames[(*loc[:-1], match[0])] = key
            found = True
        if not found:
            break
    return spelled, renames, errors


def written_path(path: tuple, renames: dict[tuple, str]) -> tuple:
    """A key path of respelled data (:func:`respelled`) as the file writes it."""
    out = list(path)
    for n in range(1, len(path) + 1):
        if tuple(path[:n]) in renames:
            out[n - 1] = renames[tuple(path[:n])]
    return tuple(out)


def _renamed_keys(renames: dict[tuple, str], schema: type[BaseModel]) -> Iterator[tuple[tuple, str]]:
    """(written key path, hint) of each key :func:`respelled` renamed: still an unknown key, with its hint."""
    for path in renames:
        model = _model_at(path[:-1], schema)
        written = written_path(path, renames)
        yield written, nearest(written[-1], list(model.model_fields) if model else [])


def _node(data: Any, path: tuple) -> Any:
    """The value at a key path of raw data, or None."""
    for part in path:
        if isinstance(data, dict):
            data = data.get(part)
        elif isinstance(data, list) and isinstance(part, int) and 0 <= part < len(data):
            data = data[part]
        else:
            return None
    return data


def _pydantic_problem(
    err: dict, data: Any, located: Located, schema: type[BaseModel], renames: dict[tuple, str] | None = None
) -> Problem:
    spelled_loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
    loc = written_path(spelled_loc, renames or {})
    kind, got = err["type"], err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(spelled_loc[:-1], schema)
        message = f"unknown key '{loc[-1]}'{nearest(loc[-1], list(parent.model_fields) if parent else [])}"
    elif kind == "missing":
        message = "required key is missing"
    elif kind == "literal_error":
        expected = err["ctx"]["expected"]
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",")]
        hint = nearest(str(got), options)
        message = f"expected one of {expected}, got {got!r}" + (hint if "did you mean" in hint else "")
    elif kind == "too_short":
        message = f"expected at least {err['ctx']['min_length']} item(s), got {err['ctx']['actual_length']}"
    elif kind == "string_pattern_mismatch":
        run_name = err["ctx"]["pattern"] == RUN_NAME_PATTERN
        allowed, limit = ("'_', '-' or '.'", 100) if run_name else ("'_' or '-'", 64)
        message = (
            f"expected a name of letters, digits, {allowed} (at most {limit}, not starting with '-'"
            f"{' or .' if run_name else ''}), got {got!r}"
        )
    elif kind == "value_error":
        message = str(err["ctx"]["error"])
    elif kind in _EXPECTED_TYPE:
        message = f"expected {_EXPECTED_TYPE[kind]}, got {described(got)}"
    elif isinstance(got, (dict, list)):
        message = err["msg"][0].lower() + err["msg"][1:] + f", got {described(got)}"
    else:
        message = f"{err['msg'][0].lower()}{err['msg'][1:]}, got {got!r}"
    return Problem(*located.where(loc), render_path(loc, data), message)


# what a wrong type of value should have been, by pydantic error type (strict mode: no "300" for 300)
_EXPECTED_TYPE = {
    "int_type": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "bool_type": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
}


def described(value: Any) -> str:
    """A value of raw data as the file wrote it: ``the string '300' (write it without quotes)``, ``true``, ``null``."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if value is None:
        return "null (no value)"
    if isinstance(value, str):
        quoted = f"the string {printable(repr(value))}"
        try:
            float(value)
        except ValueError:
            return quoted
        return quoted + " (write the number without quotes)"
    if isinstance(value, (dict, list)):
        return "a list" if isinstance(value, list) else "a mapping"
    return repr(value)


# pydantic names the branch of a union in an error's location (a sweep's vary: values, range; objective: spec):
# not a key of the file
_UNION_TAGS = {"values", "range", "str", "dict[str,any]", "spec"}


def _model_at(path: tuple, schema: type[BaseModel]) -> type[BaseModel] | None:
    """The pydantic model that describes the mapping at a key path."""
    model: Any = schema
    free_key = False  # the part after a dict-typed field is a free key, not a field
    for part in path:
        if isinstance(part, int) or free_key:
            free_key = False
            continue
        field = model.model_fields.get(part) if model else None
        if field is None:
            return None
        free_key = getattr(field.annotation, "__origin__", None) is dict
        model = inner_model(field.annotation)
    return model


# --------------------------------------------------------------------------- cross-references


def _items(data: dict, *path: str) -> list[tuple[int, dict]]:
    """(index, mapping) pairs of a list in raw data, skipping malformed entries."""
    node: Any = data
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return [(i, item) for i, item in enumerate(node)] if isinstance(node, list) else []


def _name(entry: Any, key: str) -> str | None:
    """The name an entry of raw data gives under ``key``, if it is a string."""
    value = entry.get(key) if isinstance(entry, dict) else None
    return value if isinstance(value, str) else None


def _section(data: dict, key: str) -> dict:
    """A top-level section of raw data, or {} if it is absent or not a mapping (the schema's to report)."""
    value = data.get(key)
    return value if isinstance(value, dict) else {}


def _unknown(kind: str, name: Any, names: list) -> str:
    """The message for a name that refers to nothing, with the nearest valid one."""
    return f"unknown {kind} '{name}'{nearest(name, names)}"


@dataclass(frozen=True)
class _Names:
    """The names raw data defines, read leniently: names of the wrong type (a list, a number) are the schema's."""

    departments: list[tuple[int, str]]  # (index, name)
    managers: list[tuple[int, str]]
    groups: dict[str, dict]  # group → its first entry; a duplicate is reported
    communities: list[tuple[int, dict]]  # (index, entry)

    @classmethod
    def of(cls, data: dict) -> _Names:
        groups: dict = {}
        for _, g in _items(data, *ORG, "stakeholders"):
            if _name(g, "group"):
                groups.setdefault(g["group"], g)
        return cls(
            departments=[(i, _name(d, "name")) for i, d in _items(data, *ORG, "departments") if _name(d, "name")],
            managers=[(i, _name(c, "name")) for i, c in _items(data, *ORG, "community_managers") if _name(c, "name")],
            groups=groups,
            communities=[(i, c) for i, c in _items(data, "communities") if isinstance(c, dict)],
        )

    @property
    def dept_names(self) -> list[str]:
        return [n for _, n in self.departments]

    @property
    def actor_names(self) -> list[str]:
        return self.dept_names + [n for _, n in self.managers]

    @property
    def community_names(self) -> list:
        return [c.get("name") for _, c in self.communities]

    def unknown_dept(self, name: Any) -> bool:
        """Not a department; with no valid departments the schema already says so: nothing is called unknown."""
        return bool(self.departments) and name not in self.dept_names


_Found = Iterator[tuple[tuple, str]]  # (key path, message) pairs


def _duplicates(data: dict, names: _Names) -> _Found:
    """Departments and community managers share one namespace; groups and communities each have their own."""
    seen: dict[str, str] = {}
    for kind, entries in (("departments", names.departments), ("community_managers", names.managers)):
        for i, name in entries:
            if name in seen:
                yield (*ORG, kind, i, "name"), f"duplicate name '{name}' (already a {seen[name]})"
            seen[name] = kind[:-1].replace("_", " ")
    for where, key, entries in (
        ((*ORG, "stakeholders"), "group", _items(data, *ORG, "stakeholders")),
        (("communities",), "name", names.communities),
    ):
        taken: set = set()
        for i, entry in entries:
            value = _name(entry, key)
            if value is None:
                continue
            if value in taken:
                yield (*where, i, key), f"duplicate {key} '{value}'"
            taken.add(value)


def _homes(data: dict, names: _Names) -> _Found:
    """A community manager's home is a department."""
    for i, cm in _items(data, *ORG, "community_managers"):
        home = cm.get("home") if isinstance(cm, dict) else None
        if home is not None and names.unknown_dept(home):
            yield (*ORG, "community_managers", i, "home"), _unknown("department", home, names.dept_names)


def _communities(names: _Names) -> _Found:
    """Involvement names departments; members name groups allowed by the community's audience."""
    for i, community in names.communities:
        involvement = community.get("involvement")
        if isinstance(involvement, dict):
            for dept in involvement:
                if names.unknown_dept(dept):
                    yield ("communities", i, "involvement", dept), _unknown("department", dept, names.dept_names)
        members = community.get("members")
        audience = community.get("audience", "mixed")
        if not isinstance(members, dict):
            continue
        for group, share in members.items():
            where = ("communities", i, "members", group)
            if group not in names.groups:
                if names.groups:
                    yield where, _unknown("stakeholder group", group, list(names.groups))
                continue
            external = names.groups[group].get("external", True)
            if not isinstance(external, bool):
                continue  # the schema's to report
            joins = isinstance(share, (int, float)) and share > 0
            if joins and audience in ("internal", "external") and external != (audience == "external"):
                yield (
                    where,
                    f"{'external' if external else 'internal'} group '{group}' cannot join an {audience} community",
                )


def _ownership(data: dict, names: _Names) -> _Found:
    """The rule has what it needs (a department, an owner per community, a community manager), and names exist."""
    ownership = _section(data, "ownership")
    rule = ownership.get("rule", "most_involved")
    for key, needed_by in (("owner", "single_owner"), ("glue", "glue")):
        value = ownership.get(key)
        if rule == needed_by and value is None:
            yield ("ownership", "rule"), f"rule '{rule}' needs ownership.{key}: a department name"
        if value is not None and names.unknown_dept(value):
            yield ("ownership", key), _unknown("department", value, names.dept_names)
    owners = ownership.get("owners")
    if isinstance(owners, dict):
        for community, owner in owners.items():
            if community not in names.community_names:
                yield ("ownership", "owners", community), _unknown("community", community, names.community_names)
            if names.actor_names and owner not in names.actor_names:
                yield (
                    ("ownership", "owners", community),
                    _unknown("department or community manager", owner, names.actor_names),
                )
    if rule == "explicit":
        owned = list(owners) if isinstance(owners, dict) else []  # a list, as a name may be a list (unhashable)
        missing = [c for c in names.community_names if c not in owned]
        if missing:
            yield (
                ("ownership", "owners"),
                f"rule 'explicit' needs an owner for every community; missing: {', '.join(map(str, missing))}",
            )
    if rule == "dedicated_cms" and not names.managers:
        yield ("ownership", "rule"), "rule 'dedicated_cms' needs at least one community manager"


def _needs(data: dict) -> _Found:
    """A group's needs hold one trait per feature, each a trait that exists (the dynamics' sizes)."""
    dyn = _section(data, "dynamics")
    features, traits = dyn.get("features", 5), dyn.get("traits", 10)
    if not isinstance(features, int) or not isinstance(traits, int):
        return
    for i, group in _items(data, *ORG, "stakeholders"):
        need = group.get("needs") if isinstance(group, dict) else None
        if not need or not isinstance(need, list):
            continue  # an empty list is the schema's to refuse
        if len(need) != features:
            yield (*ORG, "stakeholders", i, "needs"), f"expected {features} traits (dynamics.features), got {len(need)}"
        for j, trait in enumerate(need):
            if isinstance(trait, int) and not isinstance(trait, bool) and not 0 <= trait < traits:
                yield (
                    (*ORG, "stakeholders", i, "needs", j),
                    f"expected a trait in 0 … {traits - 1} (dynamics.traits), got {trait}",
                )


def _insight_target(data: dict, names: _Names) -> _Found:
    """The department whose learning is timed exists."""
    target = _section(data, "metrics").get("insight_target")
    if target is not None and names.unknown_dept(target):
        yield ("metrics", "insight_target"), _unknown("department", target, names.dept_names)


@dataclass(frozen=True)
class _Where:
    """Locates problems found in respelled data (:func:`respelled`) at the keys as the file writes them."""

    located: Located
    written: Any  # the data as written: its list items name the path (`departments[hr]`)
    renames: dict[tuple, str]

    def problem(self, path: tuple, message: str) -> Problem:
        path = written_path(path, self.renames)
        return Problem(*self.located.where(path), render_path(path, self.written), message)


def _reference_problems(data: dict, located: Located | _Where) -> list[Problem]:
    """Names that refer to nothing, duplicate names, impossible combinations."""
    where = located if isinstance(located, _Where) else _Where(located, data, {})
    names = _Names.of(data)
    found = chain(
        _duplicates(data, names),
        _homes(data, names),
        _communities(names),
        _ownership(data, names),
        _needs(data),
        _insight_target(data, names),
    )
    return [where.problem(path, message) for path, message in found]


# --------------------------------------------------------------------------- events


def _event_problems(data: dict, where: _Where) -> list[Problem]:
    """Each event lands within the run and applies cleanly; then all of them, in order, keep it valid.

    A change that does not apply is reported and left out, so the others are still checked.
    """
    problems: list[Problem] = []
    refused: set[tuple[int, str]] = set()
    steps = data.get("steps", 200)
    for i, event in _items(data, "events"):
        if not isinstance(event, dict):
            continue
        at = event.get("at")
        if isinstance(at, int) and isinstance(steps, int) and at > steps:
            problems.append(where.problem(("events", i, "at"), f"event at step {at} is past the last step ({steps})"))
        changes = event.get("set")
        if not isinstance(changes, dict):
            continue
        for key, value in flatten_changes(changes).items():
            written = next((k for k in changes if key == k or key.startswith(f"{k}.")), key)
            try:
                check_runtime_key(str(key))
                if value == {}:
                    raise OverrideError("an empty mapping sets nothing: name the keys to change")
                apply_override(data, str(key), value)
            except OverrideError as exc:
                refused.add((i, key))
                problem = where.problem(("events", i, "set", written), str(exc))
                problems.append(Problem(problem.source, problem.line, f"events[{i}].set.{key}", problem.message))
    return problems + _after_events(data, where, refused)


def _step(event: Any) -> float:
    """The step an event of raw data applies after, for sorting (a malformed one is the schema's: 0)."""
    at = event.get("at", 0) if isinstance(event, dict) else 0
    return at if isinstance(at, (int, float)) else 0


def _after_events(data: dict, where: _Where, refused: set[tuple[int, str]]) -> list[Problem]:
    """Every event's changes together, in order, give a valid scenario (changes ``refused`` left out).

    Only the problems an event introduces are reported, once, at the event (the file's own are
    reported at their lines).
    """
    problems: list[Problem] = []
    base = Located(where.located.source)
    reported = {(p.path, p.message) for p in schema_problems(data, base) + _reference_problems(data, base)}
    current = data
    for i, event in sorted(_items(data, "events"), key=lambda e: _step(e[1])):
        if not isinstance(event, dict) or not isinstance(event.get("set"), dict):
            continue
        for key, value in flatten_changes(event["set"]).items():
            if (i, key) in refused:
                continue
            try:
                current = apply_override(current, str(key), value)
            except OverrideError:  # applies to the file's data, not after an earlier event: that event's problem
                continue
        inner = Located(where.located.source)
        for problem in schema_problems(current, inner) + _reference_problems(current, inner):
            if (problem.path, problem.message) in reported:
                continue
            reported.add((problem.path, problem.message))
            problems.append(where.problem(("events", i, "set"), f"after this event, {problem.path}: {problem.message}"))
    return problems


def validate(data: Any, located: Located, check_memory: bool = True) -> Scenario:
    """Validate raw data: the schema, the cross-references, the events, then the memory a run needs.

    Args:
        data: raw data, as parsed (overrides applied).
        located: where each key path of ``data`` came from.
        check_memory: ``False`` leaves out the memory check, for a scenario that is scaled
            (:func:`~silosim.scenario.loading.scaled`) before it runs.

    Returns:
        The validated scenario.

    Raises:
        ScenarioError: listing every problem found.
    """
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ScenarioError(
            [Problem(located.source, located.line(()) or 1, "", f"expected a mapping of scenario keys, got {got}")]
        )
    # `organisation:` is checked as the organization it misspells, its cross-references and events too
    problems, spelled, renames = _schema_check(data, located, Scenario)
    where = _Where(located, data, renames)
    problems = located.problems + problems + _reference_problems(spelled, where) + _event_problems(spelled, where)
    if problems:
        raise ScenarioError(problems)
    scenario = Scenario.model_validate(data)
    if scenario.initial_ties is not None:
        initial_ties(scenario, located)  # raises with every problem of the ties file
    if not check_memory:
        return scenario
    from silosim import resources  # reads the schema: imported here, not at the top

    too_big = resources.memory_problem(scenario)
    if too_big is not None:
        raise ScenarioError([Problem(*located.where(too_big.path), render_path(too_big.path, data), too_big.message)])
    return scenario


# --------------------------------------------------------------------------- initial ties

TIE_COLUMNS = ("group", "index", "partner_group", "partner_index", "weight")  # required
TIE_OPTIONAL = ("communities", "id", "partner_id")  # memberships; the observed ids, for the reader only
MAX_TIE_PROBLEMS = 10  # problems listed per column and kind; the rest are counted in one more line


@dataclass(frozen=True)
class InitialTies:
    """The ties and memberships an ``initial_ties`` file gives, numbered as the model numbers stakeholders.

    Stakeholders are numbered 0 … S − 1 over the groups in scenario order (the world's rows less
    the actors). Each tie is held by one stakeholder (the slot of ``holder`` points at ``partner``);
    a tie both ends know is two rows.
    """

    holder: np.ndarray  # (ties,) int64 stakeholder holding the tie
    partner: np.ndarray  # (ties,) int64 stakeholder it points at
    weight: np.ndarray  # (ties,) float64 in (0, 1]
    person: np.ndarray  # (P,) int64 stakeholders whose communities the file gives, ascending
    person_ptr: np.ndarray  # (P + 1,) CSR into communities
    communities: np.ndarray  # int64 community numbers (scenario order) each listed person joins


def initial_ties(scenario: Scenario, located: Located | None = None) -> InitialTies:
    """Read and check the scenario's ``initial_ties`` file (the read is cached while the file is unchanged).

    The file is a CSV with a header: one row per tie held by the person of ``group`` and ``index``
    (1 … the group's ``count``) to the person of ``partner_group`` and ``partner_index``, of
    ``weight`` in (0, 1] (the model's tie weights: a new tie weighs ``reinforcement``, use adds
    ``reinforcement × (1 − weight)``, decay takes ``tie_decay`` a step, under ``tie_floor`` it drops);
    a row with the three partner fields empty lists a person without a tie. ``communities``
    (optional) names the communities the person joins, joined by ``;``: those memberships replace
    the person's draw from the shares (on every row of a person that gives them, the same list);
    a person whose rows never give them keeps the draw. ``id`` and ``partner_id`` (optional) carry
    the observed ids, for the reader.

    Args:
        scenario: a scenario whose other keys are valid; its ``initial_ties`` is set.
        located: where the scenario's keys came from (the file problems are then at its line).

    Returns:
        The ties and memberships, numbered as the model numbers stakeholders.

    Raises:
        ScenarioError: every problem: the file missing or unreadable (at the scenario's
            ``initial_ties`` line), a missing or unknown column, a group, community or index that
            does not exist, a weight out of range, a tie to oneself or listed twice, a person's
            communities differing between rows, a person holding more ties than ``dynamics.max_ties``
            (each at the file's line and column, with the nearest valid name).
    """
    assert scenario.initial_ties is not None
    source, line = located.where(("initial_ties",)) if located else (scenario.name, None)
    path = Path(scenario.initial_ties)
    if not scenario.initial_ties.strip():
        raise ScenarioError([Problem(source, line, "initial_ties", "expected a CSV file name, got an empty string")])
    try:
        stat = path.stat()
        if path.is_dir():
            raise IsADirectoryError
    except FileNotFoundError:
        there = sorted(p.name for p in path.parent.glob("*.csv")) if path.parent.is_dir() else []
        hint = nearest(path.name, there) if there else ""
        raise ScenarioError(
            [Problem(source, line, "initial_ties", f"no ties file {path}" + (hint if "did you mean" in hint else ""))]
        ) from None
    except IsADirectoryError:
        raise ScenarioError([Problem(source, line, "initial_ties", f"a folder, not a CSV file: {path}")]) from None
    except OSError as exc:
        message = f"cannot read ties file {path}: {exc.strerror or exc}"
        raise ScenarioError([Problem(source, line, "initial_ties", message)]) from None
    org = scenario.organization
    key = (
        str(path.resolve()),
        stat.st_mtime_ns,
        stat.st_size,
        tuple((g.group, g.count, g.external) for g in org.stakeholders),
        tuple((c.name, c.audience) for c in scenario.communities),
        scenario.dynamics.max_ties,
    )
    return _initial_ties(*key)


@functools.lru_cache(maxsize=8)
def _initial_ties(path: str, _mtime: int, _size: int, groups: tuple, communities: tuple, max_ties: int) -> InitialTies:
    """:func:`initial_ties` on what it depends on (hashable, so a file read once serves every validation)."""
    import pandas as pd  # heavy: only scenarios with initial ties need it

    try:
        table = pd.read_csv(path, dtype=object, keep_default_na=False, skipinitialspace=True, encoding="utf-8")
    except UnicodeDecodeError:
        raise ScenarioError([Problem(path, None, "", "not a UTF-8 text file")]) from None
    except pd.errors.EmptyDataError:
        raise ScenarioError([Problem(path, 1, "", f"empty file: expected a header {','.join(TIE_COLUMNS)}")]) from None
    except (pd.errors.ParserError, OSError) as exc:
        raise ScenarioError([Problem(path, None, "", f"cannot read CSV: {exc}")]) from None
    table.columns = [str(c).strip() for c in table.columns]
    known = TIE_COLUMNS + TIE_OPTIONAL
    problems = [
        Problem(path, 1, column, f"unknown column '{column}'{nearest(column, known)}")
        for column in table.columns
        if column not in known
    ]
    problems += [
        Problem(path, 1, column, f"missing column '{column}' (expected columns {', '.join(TIE_COLUMNS)})")
        for column in TIE_COLUMNS
        if column not in table.columns
    ]
    if problems:
        raise ScenarioError(problems)
    n_rows = len(table)
    lines = np.arange(n_rows) + 2  # the header is line 1
    report = _TieReport(path, lines)
    names = [g[0] for g in groups]
    counts = np.array([g[1] for g in groups], dtype=np.int64)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    column = {name: table[name].to_numpy(dtype=object) for name in table.columns}

    def person(group_column: str, index_column: str, considered: np.ndarray) -> np.ndarray:
        """Each row's stakeholder number, −1 where not considered or the group or index is wrong (reported)."""
        group, raw = column[group_column], column[index_column]
        code, unique = pd.factorize(group)
        lookup = np.array([names.index(u) if u in names else -1 for u in unique] + [-1], dtype=np.int64)
        k = lookup[code]  # a missing value's code is −1: the last entry, −1
        bad = considered & (k < 0)
        report.add(np.flatnonzero(bad), group_column, lambda r: _unknown("stakeholder group", group[r], names))
        k = np.maximum(k, 0)
        index = np.full(len(raw), np.nan)
        index[considered] = _numbers(raw[considered])
        fits = np.isfinite(index) & (index == np.round(index)) & (index >= 1) & (index <= counts[k])
        wrong = considered & ~bad & ~fits
        report.add(
            np.flatnonzero(wrong),
            index_column,
            lambda r: (
                f"expected an integer in 1 … {counts[k[r]]} (the count of group '{group[r]}'), "
                f"got {printable(repr(raw[r]))}"
            ),
        )
        number = start[k] + np.where(fits, index, 1).astype(np.int64) - 1
        return np.where(considered & ~bad & ~wrong, number, -1)

    holder = person("group", "index", np.ones(n_rows, dtype=bool))
    filled = np.column_stack([column[c] != "" for c in ("partner_group", "partner_index", "weight")])
    is_tie = filled.all(axis=1)
    partly = filled.any(axis=1) & ~is_tie
    for j, name in enumerate(("partner_group", "partner_index", "weight")):
        report.add(
            np.flatnonzero(partly & ~filled[:, j]),
            name,
            lambda r: "a tie needs partner_group, partner_index and weight (all three empty: a person without a tie)",
        )
    partner = person("partner_group", "partner_index", is_tie)
    raw_weight = column["weight"]
    weight = np.full(n_rows, np.nan)
    weight[is_tie] = _numbers(raw_weight[is_tie])
    bad_weight = is_tie & ~(np.isfinite(weight) & (weight > 0) & (weight <= 1))
    report.add(
        np.flatnonzero(bad_weight),
        "weight",
        lambda r: f"expected a tie weight above 0 and at most 1, got {printable(repr(raw_weight[r]))}",
    )
    found = is_tie & (holder >= 0) & (partner >= 0)
    itself = found & (holder == partner)
    report.add(np.flatnonzero(itself), "partner_index", lambda r: "a tie to the person itself")
    pairs = np.flatnonzero(found & ~itself)
    _, first, inverse = np.unique(holder[pairs] * int(counts.sum()) + partner[pairs], return_index=True,
                                  return_inverse=True)  # fmt: skip
    first_row = pairs[first[inverse]]
    twice = first_row != pairs
    report.add(
        pairs[twice],
        "partner_index",
        lambda r: f"the same tie again (first on line {lines[first_row[np.searchsorted(pairs, r)]]})",
    )
    good = pairs[~twice & ~bad_weight[pairs]]
    degree = np.bincount(holder[good], minlength=int(counts.sum()))
    over = degree[holder[good]] > max_ties
    if over.any():
        order = np.argsort(holder[good], kind="stable")
        rank = np.empty(good.size, dtype=np.int64)
        rank[order] = np.arange(good.size) - np.searchsorted(holder[good][order], holder[good][order])
        report.add(
            good[over & (rank == max_ties)],
            "partner_index",
            lambda r: (
                f"this person holds {degree[holder[r]]} ties, more than dynamics.max_ties ({max_ties}): "
                f"raise it (at most 64) or keep its {max_ties} strongest"
            ),
        )
    person_rows, member_ptr, member_comm = _memberships(table, column, holder, groups, counts, communities, report)
    if report.problems:
        raise ScenarioError(report.finish())
    return InitialTies(
        holder=holder[good].astype(np.int64),
        partner=partner[good].astype(np.int64),
        weight=weight[good].astype(np.float64),
        person=person_rows,
        person_ptr=member_ptr,
        communities=member_comm,
    )


def _memberships(table: Any, column: dict, holder: np.ndarray, groups: tuple, counts: np.ndarray,
                 communities: tuple, report: _TieReport) -> tuple[np.ndarray, np.ndarray, np.ndarray]:  # fmt: skip
    """The communities a ties file gives its persons: (persons ascending, CSR pointers, community numbers)."""
    import pandas as pd

    empty = np.zeros(0, dtype=np.int64), np.zeros(1, dtype=np.int64), np.zeros(0, dtype=np.int64)
    if "communities" not in table.columns:
        return empty
    community_names = [c[0] for c in communities]
    audience = {c[0]: c[1] for c in communities}
    text = column["communities"]
    given = np.flatnonzero((text != "") & (holder >= 0))
    parsed: dict[str, tuple[int, ...]] = {}
    problem: dict[str, Any] = {}  # value → a message, or (community, its audience) a group may not join
    for value in pd.unique(text[given]) if given.size else ():
        listed = [c.strip() for c in value.split(";") if c.strip()]
        unknown = [c for c in listed if c not in community_names]
        if unknown:
            problem[value] = _unknown("community", unknown[0], community_names)
        parsed[value] = tuple(sorted({community_names.index(c) for c in listed if c in audience}))
    # one message per (communities text, group) pair that occurs, not per row
    text_code, texts = pd.factorize(text[given])
    group_of = np.searchsorted(np.cumsum(counts), holder[given], side="right")
    pair_code, pair_row = np.unique(text_code * len(groups) + group_of, return_inverse=True)
    pair_message = []
    for code in pair_code:
        value, (group_name, _, ext) = texts[code // len(groups)], groups[code % len(groups)]
        closed = next((community_names[c] for c in parsed[value] if audience[community_names[c]] == ("internal" if ext
                       else "external")), None)  # fmt: skip
        pair_message.append(
            problem.get(value)
            or (f"{'external' if ext else 'internal'} group '{group_name}' cannot join the {audience[closed]} "
                f"community '{closed}'" if closed else "")
        )  # fmt: skip
    messages = np.array(pair_message, dtype=object)[pair_row.reshape(-1)] if given.size else np.zeros(0, object)
    wrong = messages != ""
    report.add(given[wrong], "communities", lambda r: messages[np.searchsorted(given, r)])
    given = given[~wrong]
    frame = pd.DataFrame({"person": holder[given], "text": text[given], "row": given})
    first_text = frame.groupby("person")["text"].transform("first").to_numpy()
    first_row = frame.groupby("person")["row"].transform("first").to_numpy()
    differ = first_text != frame["text"].to_numpy()
    report.add(
        given[differ],
        "communities",
        lambda r: f"this person's communities differ from those on line {first_row[np.searchsorted(given, r)] + 2}",
    )
    once = frame[~differ].drop_duplicates("person").sort_values("person")
    lists = [parsed[t] for t in once["text"]]
    return (
        once["person"].to_numpy(dtype=np.int64),
        np.concatenate([[0], np.cumsum([len(x) for x in lists], dtype=np.int64)]).astype(np.int64),
        np.array([c for x in lists for c in x], dtype=np.int64),
    )


def _numbers(raw: np.ndarray) -> np.ndarray:
    """Text as float64, NaN where it is no number (a fast path when every value is one)."""
    try:
        return np.asarray(raw, dtype=np.float64)
    except (ValueError, TypeError):
        import pandas as pd

        return pd.to_numeric(pd.Series(raw, dtype=object), errors="coerce").to_numpy(dtype=float, na_value=np.nan)


class _TieReport:
    """Problems of a ties file, at most :data:`MAX_TIE_PROBLEMS` listed per column and kind, the rest counted."""

    def __init__(self, path: str, lines: np.ndarray):
        self.path, self.lines = path, lines
        self.problems: list[Problem] = []
        self.more: dict[str, int] = {}

    def add(self, rows: np.ndarray, column: str, message: Any) -> None:
        """One problem per row (``message(row)``), the first rows listed."""
        rows = np.asarray(rows, dtype=np.int64)
        for r in rows[:MAX_TIE_PROBLEMS]:
            self.problems.append(Problem(self.path, int(self.lines[r]), column, message(int(r))))
        if rows.size > MAX_TIE_PROBLEMS:
            self.more[column] = self.more.get(column, 0) + rows.size - MAX_TIE_PROBLEMS

    def finish(self) -> list[Problem]:
        """The problems, with one line per column counting those not listed."""
        return self.problems + [
            Problem(self.path, None, column, f"and {n:,} more row(s) with a problem in this column")
            for column, n in self.more.items()
        ]
