"""Scenario files: the schema, its defaults, and validation with file and line.

A scenario describes an organisation (departments, community managers,
stakeholder groups), its communities, the ownership strategy and the
dynamics. Every key but ``organization`` and ``communities`` has a default,
so a short file runs. Bad input never reaches the model: :func:`load`
collects every problem in a file and raises one :class:`ScenarioError`
whose lines name the file, line, key path, what was expected and the
nearest valid name.
"""

from __future__ import annotations

import copy
import difflib
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError, field_validator

from silosim.metrics import VERDICT_DEFAULTS
from silosim.rules import RULE_NAMES

MAX_COMMUNITIES = 64  # communities are bits of one uint64 mask in the dynamics
MAX_STEPS = 1_000_000
MAX_ITEMS_PER_STEP = 64  # practices per department-step
MAX_LIVE_ITEMS = 65_536  # the item store: bits of 1,024 uint64 words per agent

# Input limits: a file is read whole and built in memory, so its size, nesting and number of values are bounded
MAX_YAML_BYTES = 1_000_000
MAX_YAML_DEPTH = 32
MAX_YAML_VALUES = 100_000

# A name is used as a key of --set and events (`communities.NAME.audience`) and printed: no dots, spaces or
# control characters. Scenario and sweep names also name output folders: no slashes, no leading dot.
NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_-]{0,63}$"
RUN_NAME_PATTERN = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,99}$"
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN)]
RunName = Annotated[str, StringConstraints(pattern=RUN_NAME_PATTERN)]
Share = Annotated[float, Field(ge=0, le=1)]


class StrictModel(BaseModel):
    """A schema section: unknown keys are errors, types are exact (no "50" for 50), values are immutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, allow_inf_nan=False)


def default_name(path: Path) -> str:
    """A scenario or sweep name made from a file name: characters a name may not hold become '_'."""
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", path.stem).lstrip(".") or "scenario"
    return name[:100]


class Department(StrictModel):
    """A business function acting as one actor (marketing, hr, rnd, mail_room...)."""

    name: Name = Field(description="Unique name, referred to by involvement, owners and `home`.")
    headcount: int = Field(10, ge=1, le=1_000_000, description="People in the department.")
    reach: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of its people who engage each step (its glue quality); "
        "also its chance per step to relay items across the communities it may relay in.",
    )
    openness: float = Field(0.5, ge=0, le=1, description="Willingness to post in communities it does not own.")


class CommunityManager(StrictModel):
    """A person who animates communities, employed by a department or hired outside."""

    name: Name = Field(description="Unique name (departments and community managers share one namespace).")
    home: str | None = Field(None, description="Department that employs it, or `null` for hired outside the org chart.")
    capacity: int = Field(2, ge=0, le=MAX_COMMUNITIES, description="Number of communities it can animate.")
    brokerage: float = Field(
        0.5, ge=0, le=1, description="Chance per step to relay items across the communities it animates."
    )


class StakeholderGroup(StrictModel):
    """A population of stakeholders: customers, partners, candidates, employees..."""

    group: Name = Field(description="Unique group name, referred to by `communities[].members`.")
    count: int = Field(ge=1, le=50_000_000, description="Number of stakeholders in the group.")
    external: bool = Field(True, description="Outside the organisation (false for employees).")
    activity: float = Field(0.5, ge=0, le=1, description="Chance that a member acts in a step.")
    needs: list[int] | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="The trait on each feature this group needs (March's reality): `features` traits "
        "in 0 … `traits` − 1; drawn from the seed and `needs_overlap` when absent.",
    )


class Community(StrictModel):
    """A space (brand page, enterprise social network, co-creation lab...); not an agent."""

    name: Name = Field(description="Unique community name.")
    audience: Literal["internal", "external", "mixed"] = Field(
        "mixed", description="Who may join: `internal` groups only, `external` only, or both."
    )
    involvement: dict[str, Share] = Field(default_factory=dict, description="Department name → involvement in 0–1.")
    members: dict[str, Share] = Field(
        default_factory=dict,
        description="Stakeholder group → share of the group that joins, 0–1 (joins are independent).",
    )


class Organization(StrictModel):
    """Who exists: departments, community managers and stakeholder groups."""

    departments: list[Department] = Field(min_length=1, max_length=1000, description="The departments.")
    community_managers: list[CommunityManager] = Field(
        default_factory=list, max_length=1000, description="The community managers (may be empty)."
    )
    stakeholders: list[StakeholderGroup] = Field(min_length=1, max_length=1000, description="The stakeholder groups.")


class Ownership(StrictModel):
    """Who owns, posts in, relays across and animates each community."""

    rule: Literal[RULE_NAMES] = Field(  # type: ignore[valid-type]
        "most_involved", description="One of " + ", ".join(f"`{r}`" for r in RULE_NAMES) + "."
    )
    owner: str | None = Field(None, description="`single_owner`: the department that owns everything.")
    glue: str | None = Field(None, description="`glue`: the department that joins every community.")
    owners: dict[str, str] = Field(
        default_factory=dict,
        description="`explicit`: community → owning department or community manager.",
    )
    council_every: int = Field(10, ge=1, le=MAX_STEPS, description="`federated`: steps between councils of owners.")
    cross_posting: Literal["open", "owner_only", "closed"] = Field(
        "owner_only",
        description="Who may relay items into a community: any participant (`open`), "
        "its owner and the rule's brokers (`owner_only`), nobody (`closed`).",
    )


class Dynamics(StrictModel):
    """Parameters of one step: exchange, ties, information, pull and drift."""

    features: int = Field(5, ge=1, le=64, description="Practice/viewpoint features per agent (Axelrod's F).")
    traits: int = Field(10, ge=2, le=32767, description="Traits per feature (Axelrod's q).")
    max_ties: int = Field(8, ge=1, le=64, description="Tie slots per agent (bounded attention).")
    exploration: float = Field(
        0.1, ge=0, le=1, description="Chance that an exchange seeks a new partner instead of a tie."
    )
    reinforcement: float = Field(
        0.2, gt=0, le=1, description="Weight a successful exchange adds, as a share of (1 − weight)."
    )
    tie_decay: float = Field(0.02, ge=0, lt=1, description="Share of weight every tie loses each step.")
    tie_floor: float = Field(0.05, ge=0, lt=1, description="Ties weaker than this are dropped.")
    drift: float = Field(
        0.001, ge=0, le=1, description="Chance per agent and step of one random trait change (Klemm et al. 2003)."
    )
    stakeholder_pull: float = Field(
        0.05,
        ge=0,
        le=1,
        description="Code learning (March's p2): per step and feature, an owner adopts the majority view "
        "of the people it met who outperform it with chance 1 − (1 − p2)^k (k: the majority's margin).",
    )
    needs_overlap: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Chance that a group's need on a feature is the one all groups share (1: the same needs).",
    )
    turbulence: float = Field(
        0.0,
        ge=0,
        le=1,
        description="Chance per step that a group's need changes on one feature (March's p4); shared needs "
        "change together.",
    )
    need_learning: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Chance per step and feature, times the stakeholder's activity, that it adopts its group's "
        "need where its viewpoint differs (March's socialisation, with reality as the code).",
    )
    need_noise: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Chance per feature that a stakeholder's first viewpoint is a random trait, not its need.",
    )
    practice_rate: float = Field(
        0.05, ge=0, le=MAX_ITEMS_PER_STEP, description="Best practices a department originates per step (mean)."
    )
    insight_rate: float = Field(
        5e-4, ge=0, le=1, description="Chance that an active stakeholder's exchange originates an insight."
    )
    item_lifetime: int = Field(
        100, ge=1, le=MAX_STEPS, description="Steps an information item lives; its reach is counted when it ends."
    )
    word_of_mouth: float = Field(
        0.01,
        ge=0,
        le=1,
        description="Chance per exchange that each side passes what it knows (in any community, any policy).",
    )
    relay_cost: float = Field(
        4.0,
        ge=0,
        le=10_000,
        description="Capacity (in exchanges) that cross-posting one item into one community costs.",
    )
    relay_share: float = Field(
        0.5, ge=0, le=1, description="Largest share of an actor's capacity it spends cross-posting (the rest engages)."
    )
    relay_rate: float = Field(
        0.05, ge=0, le=1, description="Chance per active step that a stakeholder allowed to cross-post does so."
    )
    cm_exchanges: float = Field(
        5.0,
        ge=0,
        le=10_000,
        description="Capacity (exchanges per step) a community manager has per community it can animate.",
    )


class Verdict(StrictModel):
    """Thresholds that turn the windowed flow measures into `merged`, `fragmented` or `siloed`.

    Checked in one order: `merged` when the largest group of joined communities
    holds at least `merged_share` of the members and `cross_reach` is at least
    `merged_reach`; else `siloed` when `cross_reach` is under `siloed_reach`, or
    no two communities are joined and `cross_reach` is under `merged_reach`;
    else `fragmented`. Wide crossing is never `siloed`.
    """

    merged_share: float = Field(
        VERDICT_DEFAULTS["merged_share"],
        gt=0,
        le=1,
        description="`merged` needs the largest group of joined communities to hold this share of members.",
    )
    merged_reach: float = Field(
        VERDICT_DEFAULTS["merged_reach"],
        ge=0,
        le=1,
        description="`merged` also needs `cross_reach` (share of other communities' members reached) at least this.",
    )
    siloed_reach: float = Field(
        VERDICT_DEFAULTS["siloed_reach"], ge=0, le=1, description="`siloed` when `cross_reach` is below this."
    )
    silo_floor: float = Field(
        VERDICT_DEFAULTS["silo_floor"],
        ge=0,
        lt=1,
        description="Communities a and b are joined when a's items reach at least this share of b's members "
        "and b's items at least this share of a's.",
    )


class Metrics(StrictModel):
    """When to measure, and how to judge."""

    every: int = Field(
        10, ge=1, le=MAX_STEPS, description="Steps between measurements (the last step is always measured)."
    )
    burn_in: int = Field(
        100, ge=0, le=MAX_STEPS, description="Steps left out of the verdict while the organisation settles."
    )
    window: int = Field(
        200,
        ge=1,
        le=MAX_STEPS,
        description="The verdict and final measures pool the last this many steps after burn-in.",
    )
    tolerance: float = Field(
        0.05, gt=0, le=1, description="`converged` when `cross_reach` moves less than this over the window."
    )
    insight_target: str | None = Field(
        None, description="Department whose learning of insights is timed; `null` means `rnd` if present."
    )
    verdict: Verdict = Field(default_factory=Verdict, description="Verdict thresholds.")


class Event(StrictModel):
    """A scheduled change: a pilot then a rollout, a reorganisation, a hire."""

    at: int = Field(ge=0, le=MAX_STEPS, description="Step after which the change applies (0 to `steps`).")
    set: dict[str, Any] = Field(
        min_length=1,
        description="Dotted key → new value, e.g. `ownership.rule: glue`; a mapping sets only the keys it names.",
    )

    @field_validator("set", mode="before")
    @classmethod
    def _one_key_at_a_time(cls, changes: Any) -> Any:
        return flatten_changes(changes) if isinstance(changes, dict) else changes


class Scenario(StrictModel):
    """A whole scenario file."""

    name: RunName = Field("scenario", description="Short name (defaults to the file name); names the results folder.")
    description: str = Field("", max_length=10_000, description="What organisational situation it models.")
    seed: int = Field(0, ge=0, le=2**63 - 1, description="Seed of the run's random generator.")
    steps: int = Field(200, ge=1, le=MAX_STEPS, description="Number of steps to run.")
    organization: Organization = Field(description="Departments, community managers, stakeholder groups.")
    communities: list[Community] = Field(min_length=1, max_length=MAX_COMMUNITIES, description="The communities.")
    ownership: Ownership = Field(default_factory=Ownership, description="The ownership strategy.")
    dynamics: Dynamics = Field(default_factory=Dynamics, description="Dynamics parameters.")
    events: list[Event] = Field(default_factory=list, max_length=10_000, description="Scheduled changes.")
    metrics: Metrics = Field(default_factory=Metrics, description="Measurement and verdict.")


# --------------------------------------------------------------------------- errors


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


# --------------------------------------------------------------------------- YAML with lines


class Located:
    """YAML data plus the line of every key path."""

    def __init__(self, source: str):
        self.source = source
        self.lines: dict[tuple, int] = {}
        self.problems: list[Problem] = []
        self.overridden: dict[tuple, str] = {}  # key path → the flag that set it (--set, --seed...): no line
        self._values = 0

    def build(self, node: yaml.Node, path: tuple = ()) -> Any:
        """Construct the data of a YAML node, recording the line of every key path.

        Aliases are expanded here, so the number of values built and their depth are bounded
        (an alias bomb or a self-referencing anchor stops with a problem instead of filling memory).
        """
        self._values += 1
        line = node.start_mark.line + 1
        if self._values > MAX_YAML_VALUES or len(path) > MAX_YAML_DEPTH:
            limit = f"more than {MAX_YAML_VALUES:,} values" if self._values > MAX_YAML_VALUES else "nested too deeply"
            raise ScenarioError(
                [Problem(self.source, line, _render(path), f"{limit} (anchors and aliases expanding?): refused")]
            )
        self.lines[path] = line
        if isinstance(node, yaml.MappingNode):
            out: dict = {}
            for key_node, value_node in node.value:
                key_line = key_node.start_mark.line + 1
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.problems.append(
                        Problem(
                            self.source,
                            key_line,
                            _render(path, out),
                            "merge keys (<<) are not supported: write the keys out",
                        )
                    )
                    continue
                if not isinstance(key_node, yaml.ScalarNode):
                    self.problems.append(
                        Problem(
                            self.source,
                            key_line,
                            _render(path, out),
                            "a key must be a plain name, not a list or mapping",
                        )
                    )
                    continue
                key = self._scalar(key_node, path)
                if key in out:
                    self.problems.append(Problem(self.source, key_line, _render((*path, key), out), "duplicate key"))
                self.lines[(*path, key)] = key_line
                out[key] = self.build(value_node, (*path, key))
                self.lines[(*path, key)] = key_line
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i)) for i, item in enumerate(node.value)]
        return self._scalar(node, path)

    def _scalar(self, node: yaml.Node, path: tuple) -> Any:
        try:
            return yaml.constructor.SafeConstructor().construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or str(exc)
            self.problems.append(Problem(self.source, node.start_mark.line + 1, _render(path), f"bad value: {reason}"))
            return None

    def where(self, path: tuple) -> tuple[str, int | None]:
        """(source, line) of a key path; keys set on the command line come from their flag (``--set``...)."""
        path = tuple(path)
        for n in range(len(path), -1, -1):
            if path[:n] in self.overridden:
                return self.overridden[path[:n]], None
        return self.source, self.line(path)

    def line(self, path: tuple) -> int | None:
        """Line of a key path, or of its nearest ancestor in the file."""
        path = tuple(path)
        while path not in self.lines and path:
            path = path[:-1]
        return self.lines.get(path)


def _render(path: tuple, data: Any = None) -> str:
    """Render a key path, naming list items by their name: `departments[hr].reach`."""
    out = ""
    node = data
    for part in path:
        if isinstance(part, int):
            label = str(part)
            if isinstance(node, list) and 0 <= part < len(node) and isinstance(node[part], dict):
                label = str(node[part].get("name", node[part].get("group", part)))
            out += f"[{label}]"
        else:
            out += ("." if out else "") + str(part)
        if isinstance(node, dict):
            node = node.get(part)
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            node = None
    return out


# explicit tags a scenario may carry (`!!str 50`); anything else (`!!python/object`, `!custom`) is refused
_PLAIN_TAGS = {None, "!"} | {f"tag:yaml.org,2002:{t}" for t in ("str", "int", "float", "bool", "null", "map", "seq")}


def parse_yaml(text: str, source: str) -> tuple[Any, Located]:
    """Parse YAML text keeping line numbers; syntax errors and unsafe input become a ScenarioError.

    Bounded before anything is built: the text's size, the nesting depth, the number of values
    (aliases included) and the tags.
    """
    located = Located(source)
    if len(text) > MAX_YAML_BYTES:
        raise ScenarioError([Problem(source, None, "", f"file is larger than {MAX_YAML_BYTES:,} characters: refused")])
    try:
        problems = _scan(text, source)
        if problems:
            raise ScenarioError(problems)
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        raise ScenarioError([Problem(source, line, "", f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.reader.ReaderError as exc:  # a character YAML does not allow (NUL, other control characters)
        line = text[: exc.position].count("\n") + 1
        code = exc.character if isinstance(exc.character, int) else ord(exc.character)
        message = f"character U+{code:04X} is not allowed in YAML: remove it"
        raise ScenarioError([Problem(source, line, "", message)]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Problem(source, None, "", f"YAML error: {exc}")]) from None
    data = located.build(node) if node is not None else None
    return data, located


def _scan(text: str, source: str) -> list[Problem]:
    """Read the YAML event stream (no recursion, nothing built) and refuse deep nesting and foreign tags."""
    problems, depth = [], 0
    for count, event in enumerate(yaml.parse(text, Loader=yaml.SafeLoader)):
        line = event.start_mark.line + 1
        if count > 2 * MAX_YAML_VALUES:
            return [Problem(source, line, "", f"more than {MAX_YAML_VALUES:,} values: refused")]
        if isinstance(event, yaml.CollectionStartEvent):
            depth += 1
            if depth > MAX_YAML_DEPTH:
                return [Problem(source, line, "", f"nested deeper than {MAX_YAML_DEPTH} levels: refused")]
        elif isinstance(event, yaml.CollectionEndEvent):
            depth -= 1
        tag = getattr(event, "tag", None)
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent)) and tag not in _PLAIN_TAGS:
            problems.append(Problem(source, line, "", f"unsupported YAML tag {tag!r}: write a plain value"))
    return problems


# --------------------------------------------------------------------------- validation


def schema_problems(data: dict, located: Located, schema: type[BaseModel] | None = None) -> list[Problem]:
    """Types, ranges and unknown keys, via a pydantic schema (the scenario's by default)."""
    schema = schema or Scenario
    try:
        schema.model_validate(data)
    except ValidationError as exc:
        return [_pydantic_problem(err, data, located, schema) for err in exc.errors()]
    return []


def _pydantic_problem(err: dict, data: Any, located: Located, schema: type[BaseModel]) -> Problem:
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p in _UNION_TAGS))
    kind, got = err["type"], err.get("input")
    if kind == "extra_forbidden":
        parent = _model_at(loc[:-1], schema)
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
    elif isinstance(got, (dict, list)):
        message = err["msg"][0].lower() + err["msg"][1:] + f", got a {'list' if isinstance(got, list) else 'mapping'}"
    else:
        message = f"{err['msg'][0].lower()}{err['msg'][1:]}, got {got!r}"
    return Problem(*located.where(loc), _render(loc, data), message)


# pydantic names the branch of a union in an error's location; it is not a key of the file
_UNION_TAGS = {"values", "range", "str", "dict[str,any]"}


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
        model = _inner_model(field.annotation)
    return model


def _inner_model(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _inner_model(arg)
        if found:
            return found
    return None


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


def _reference_problems(data: dict, located: Located) -> list[Problem]:
    """Names that refer to nothing, duplicate names, impossible combinations."""
    problems: list[Problem] = []

    def add(path: tuple, message: str) -> None:
        problems.append(Problem(*located.where(path), _render(path, data), message))

    org = ("organization",)
    # names of the wrong type (a list, a number) are the schema's to report: only strings are names here
    departments = [(i, _name(d, "name")) for i, d in _items(data, *org, "departments") if _name(d, "name")]
    cms = [(i, _name(c, "name")) for i, c in _items(data, *org, "community_managers") if _name(c, "name")]
    groups: dict = {}
    for _, g in _items(data, *org, "stakeholders"):
        if _name(g, "group"):
            groups.setdefault(g["group"], g)  # the first of duplicates; the duplicate is reported below
    communities = [(i, c) for i, c in _items(data, "communities") if isinstance(c, dict)]
    dept_names = [n for _, n in departments if isinstance(n, str)]
    actor_names = dept_names + [n for _, n in cms if isinstance(n, str)]
    community_names = [c.get("name") for _, c in communities]

    # with no valid departments (or groups) the schema already says so: do not call every name unknown
    def unknown_dept(name: Any) -> bool:
        return bool(dept_names) and name not in dept_names

    seen: dict[str, str] = {}
    for kind, entries in (("departments", departments), ("community_managers", cms)):
        for i, name in entries:
            if name in seen:
                add((*org, kind, i, "name"), f"duplicate name '{name}' (already a {seen[name]})")
            seen[name] = kind[:-1].replace("_", " ")
    for kind, key, names in (
        ("stakeholders", "group", [g for _, g in _items(data, *org, "stakeholders")]),
        ("communities", "name", [c for _, c in communities]),
    ):
        taken: set = set()
        for i, entry in enumerate(names):
            value = _name(entry, key)
            if value is None:
                continue
            if value in taken:
                where = (*org, kind, i, key) if kind == "stakeholders" else (kind, i, key)
                add(where, f"duplicate {key} '{value}'")
            taken.add(value)

    for i, cm in _items(data, *org, "community_managers"):
        home = cm.get("home") if isinstance(cm, dict) else None
        if home is not None and unknown_dept(home):
            add((*org, "community_managers", i, "home"), f"unknown department '{home}'{nearest(home, dept_names)}")

    for i, community in communities:
        involvement = community.get("involvement")
        if isinstance(involvement, dict):
            for dept in involvement:
                if unknown_dept(dept):
                    add(
                        ("communities", i, "involvement", dept),
                        f"unknown department '{dept}'{nearest(dept, dept_names)}",
                    )
        members = community.get("members")
        audience = community.get("audience", "mixed")
        if isinstance(members, dict):
            for group, share in members.items():
                if group not in groups:
                    if groups:
                        add(
                            ("communities", i, "members", group),
                            f"unknown stakeholder group '{group}'{nearest(group, list(groups))}",
                        )
                    continue
                external = groups[group].get("external", True)
                joins = isinstance(share, (int, float)) and share > 0
                if joins and audience in ("internal", "external") and external != (audience == "external"):
                    kind = "external" if external else "internal"
                    add(
                        ("communities", i, "members", group),
                        f"{kind} group '{group}' cannot join an {audience} community",
                    )

    ownership = data.get("ownership") if isinstance(data.get("ownership"), dict) else {}
    rule = ownership.get("rule", "most_involved")
    for key, needed_by in (("owner", "single_owner"), ("glue", "glue")):
        value = ownership.get(key)
        if rule == needed_by and value is None:
            add(("ownership", "rule"), f"rule '{rule}' needs ownership.{key}: a department name")
        if value is not None and unknown_dept(value):
            add(("ownership", key), f"unknown department '{value}'{nearest(value, dept_names)}")
    owners = ownership.get("owners")
    if isinstance(owners, dict):
        for community, owner in owners.items():
            if community not in community_names:
                add(
                    ("ownership", "owners", community),
                    f"unknown community '{community}'{nearest(community, community_names)}",
                )
            if actor_names and owner not in actor_names:
                add(
                    ("ownership", "owners", community),
                    f"unknown department or community manager '{owner}'{nearest(owner, actor_names)}",
                )
    if rule == "explicit":
        missing = [c for c in community_names if not isinstance(owners, dict) or c not in owners]
        if missing:
            add(
                ("ownership", "owners"),
                f"rule 'explicit' needs an owner for every community; missing: {', '.join(map(str, missing))}",
            )
    if rule == "dedicated_cms" and not cms:
        add(("ownership", "rule"), "rule 'dedicated_cms' needs at least one community manager")

    dyn = data.get("dynamics") if isinstance(data.get("dynamics"), dict) else {}
    features, traits = dyn.get("features", 5), dyn.get("traits", 10)
    for i, group in _items(data, *org, "stakeholders"):
        need = group.get("needs") if isinstance(group, dict) else None
        if not need or not isinstance(need, list) or not isinstance(features, int) or not isinstance(traits, int):
            continue  # an empty list is the schema's to refuse
        if len(need) != features:
            add((*org, "stakeholders", i, "needs"), f"expected {features} traits (dynamics.features), got {len(need)}")
        for j, trait in enumerate(need):
            if isinstance(trait, int) and not isinstance(trait, bool) and not 0 <= trait < traits:
                add(
                    (*org, "stakeholders", i, "needs", j),
                    f"expected a trait in 0 … {traits - 1} (dynamics.traits), got {trait}",
                )

    target = (data.get("metrics") or {}).get("insight_target") if isinstance(data.get("metrics"), dict) else None
    if target is not None and unknown_dept(target):
        add(("metrics", "insight_target"), f"unknown department '{target}'{nearest(target, dept_names)}")
    return problems


def _event_problems(data: dict, located: Located) -> list[Problem]:
    """Each event applies cleanly and lands within the run."""
    problems: list[Problem] = []
    steps = data.get("steps", 200)
    for i, event in _items(data, "events"):
        if not isinstance(event, dict):
            continue
        at = event.get("at")
        if isinstance(at, int) and isinstance(steps, int) and at > steps:
            problems.append(
                Problem(
                    *located.where(("events", i, "at")),
                    f"events[{i}].at",
                    f"event at step {at} is past the last step ({steps})",
                )
            )
        changes = event.get("set")
        if not isinstance(changes, dict):
            continue
        for key, value in flatten_changes(changes).items():
            written = next((k for k in changes if key == k or key.startswith(f"{k}.")), key)
            where = ("events", i, "set", written)
            try:
                check_runtime_key(str(key))
                if value == {}:
                    raise OverrideError("an empty mapping sets nothing: name the keys to change")
                apply_override(data, str(key), value)
            except OverrideError as exc:
                problems.append(Problem(*located.where(where), f"events[{i}].set.{key}", str(exc)))
                continue
    if not problems:
        # every event's changes together, in order, must give a valid scenario; report only
        # problems an event introduces (the file's own are reported at their lines), once
        base = Located(located.source)
        reported = {(p.path, p.message) for p in schema_problems(data, base) + _reference_problems(data, base)}
        current = data
        for i, event in sorted(
            _items(data, "events"), key=lambda e: e[1].get("at", 0) if isinstance(e[1], dict) else 0
        ):
            if not isinstance(event, dict) or not isinstance(event.get("set"), dict):
                continue
            for key, value in flatten_changes(event["set"]).items():
                current = apply_override(current, str(key), value)
            inner = Located(located.source)
            for problem in schema_problems(current, inner) + _reference_problems(current, inner):
                if (problem.path, problem.message) in reported:
                    continue
                reported.add((problem.path, problem.message))
                problems.append(
                    Problem(
                        *located.where(("events", i, "set")),
                        f"events[{i}].set",
                        f"after this event, {problem.path}: {problem.message}",
                    )
                )
    return problems


def validate(data: Any, located: Located, check_memory: bool = True) -> Scenario:
    """Validate raw data; raise ScenarioError listing every problem.

    ``check_memory=False`` leaves out the memory check, for a scenario that is scaled (:func:`scaled`) before it runs.
    """
    if not isinstance(data, dict):
        got = "an empty file" if data is None else type(data).__name__
        raise ScenarioError(
            [Problem(located.source, located.line(()) or 1, "", f"expected a mapping of scenario keys, got {got}")]
        )
    problems = located.problems + schema_problems(data, located) + _reference_problems(data, located)
    problems += _event_problems(data, located)
    if problems:
        raise ScenarioError(problems)
    scenario = Scenario.model_validate(data)
    if not check_memory:
        return scenario
    from silosim import resources  # reads the schema: imported here, not at the top

    too_big = resources.memory_problem(scenario)
    if too_big is not None:
        raise ScenarioError([Problem(*located.where(too_big.path), _render(too_big.path, data), too_big.message)])
    return scenario


Override = str | tuple[str, str]  # "key=value" from --set, or (flag, "key=value") from a flag such as --seed


def load(
    path: str | Path, overrides: list[Override] | None = None, scale: float = 1, check_memory: bool = True
) -> Scenario:
    """Read, override (``key=value`` strings, or ``(flag, "key=value")``), scale (:func:`scaled`), validate a file.

    ``check_memory=False`` leaves out the memory check of the scenario as read (a scaled one is always checked).
    """
    path = Path(path)
    source = str(path)
    try:
        if path.is_file() and path.stat().st_size > MAX_YAML_BYTES:
            raise ScenarioError([Problem(source, None, "", f"file is larger than {MAX_YAML_BYTES:,} bytes: refused")])
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ScenarioError([Problem(source, None, "", f"cannot read file: {exc.strerror or exc}")]) from None
    except UnicodeDecodeError:
        raise ScenarioError([Problem(source, None, "", "not a UTF-8 text file")]) from None
    data, located = parse_yaml(text, source)
    if isinstance(data, dict):
        data.setdefault("name", default_name(path))
    return validate_with_overrides(data, located, overrides or [], scale, check_memory)


def validate_with_overrides(
    data: Any, located: Located, overrides: list[Override], scale: float = 1, check_memory: bool = True
) -> Scenario:
    """Apply overrides to raw data, validate it all, then scale it; each problem names the flag it came from."""
    _check_scale(scale)
    problems: list[Problem] = []
    for override in overrides:
        flag, item = override if isinstance(override, tuple) else ("--set", override)
        key, sep, raw = item.partition("=")
        key = key.strip()
        if not sep:
            problems.append(Problem(flag, None, item, "expected key=value, e.g. ownership.rule=glue"))
            continue
        try:
            value = yaml.safe_load(raw) if raw.strip() else None
            data = apply_override(data, key, value)
            located.overridden[_key_path(data, key)] = flag
        except OverrideError as exc:
            problems.append(Problem(flag, None, key, str(exc)))
        except yaml.YAMLError as exc:
            reason = getattr(exc, "problem", None) or type(exc).__name__
            problems.append(Problem(flag, None, key, f"cannot parse value {raw!r}: {reason}"))
    if problems:
        raise ScenarioError(problems)
    scenario = validate(data, located, check_memory and scale == 1)  # a scaled one is checked once scaled
    return scaled(scenario, scale, located.source)


MAX_SCALE = 1000
# what "the same organisation K times larger" multiplies (the keys of events included); rates per person stay
_SCALED_COUNTS = ("organization.stakeholders.*.count", "organization.departments.*.headcount")
# a community manager's capacity, and the practices a department originates, grow with the organisation
_SCALED_RATES = ("dynamics.cm_exchanges", "dynamics.practice_rate")


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
        generic = _generic_key(key)
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


def _key_path(data: Any, key: str) -> tuple:
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


def from_dict(data: dict, source: str = "<scenario>") -> Scenario:
    """Validate a scenario given as a Python mapping (tests, sweeps, the browser page)."""
    return validate(copy.deepcopy(data), Located(source))


def to_dict(scenario: Scenario) -> dict:
    """The resolved scenario as plain data, every default filled in."""
    return scenario.model_dump(mode="json")


# --------------------------------------------------------------------------- dotted keys


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
    "organization.community_managers", "organization.stakeholders",
}  # fmt: skip


def flatten_changes(changes: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An event's changes one dotted key each: ``{dynamics: {drift: 0.5}}`` becomes ``{dynamics.drift: 0.5}``.

    A mapping sets only the keys it names, however the change is spelled, so an event can neither
    reset the keys it does not name nor slip a structural key (``dynamics.features``) past
    :func:`check_runtime_key` inside a section.
    """
    out: dict[str, Any] = {}
    for key, value in changes.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_changes(value, dotted + "."))
        else:
            out[dotted] = value
    return out


def _generic_key(key: str) -> str:
    """A dotted key with its list item's name as ``*``: ``organization.departments.*.headcount``."""
    parts = key.split(".")
    return ".".join(
        "*" if (i == 2 and parts[0] == "organization") or (i == 1 and parts[0] == "communities") else p
        for i, p in enumerate(parts)
    )


def check_runtime_key(key: str) -> None:
    """Raise OverrideError if an event may not change this key mid-run."""
    generic = _generic_key(key)
    for fixed in STRUCTURAL:
        if generic == fixed or (generic.startswith(fixed + ".") and fixed.endswith("members")):
            raise OverrideError(f"'{key}' is fixed when the model is built; events cannot change it")


def changed(scenario: Scenario, changes: dict[str, Any], source: str = "changed()") -> Scenario:
    """The scenario with dotted keys set, as ``--set`` and events spell them, validated again.

    ``changed(s, {"ownership.rule": "glue", "ownership.glue": "marketing"})``; list items are
    addressed by name (``organization.departments.hr.reach``). Raises ScenarioError or OverrideError.
    """
    data = to_dict(scenario)
    for key, value in changes.items():
        data = apply_override(data, key, value)
    return from_dict(data, source=source)


def apply_override(data: dict, key: str, value: Any) -> dict:
    """Return a copy of raw scenario data with a dotted key set.

    List items are addressed by name: ``organization.departments.hr.reach``,
    ``communities.brand_page.involvement.marketing``.
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
            sub = _inner_model(annotation)
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
