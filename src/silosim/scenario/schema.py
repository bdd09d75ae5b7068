"""The scenario schema: pydantic models of an organisation, its communities and dynamics, with their limits.

A scenario describes an organisation (departments, community managers, stakeholder groups), its
communities, the ownership strategy and the dynamics. Every key but ``organization`` and
``communities`` has a default, so a short file runs. The models are strict (unknown keys, wrong
types and out-of-range values are errors) and frozen; their field descriptions and bounds are
the format reference (:mod:`silosim.scenario.reference`). Verdict defaults come from
:data:`silosim.metrics.VERDICT_DEFAULTS`, rule names from :data:`silosim.rules.RULE_NAMES`.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator

from silosim.metrics import VERDICT_DEFAULTS
from silosim.rules import RULE_NAMES

MAX_COMMUNITIES = 64  # communities are bits of one uint64 mask in the dynamics
MAX_STEPS = 1_000_000
MAX_ITEMS_PER_STEP = 64  # practices per department-step
MAX_LIVE_ITEMS = 65_536  # the item store: bits of 1,024 uint64 words per agent


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


class Department(StrictModel):
    """A business function acting as one actor (marketing, hr, rnd, mail_room...)."""

    name: Name = Field(description="Unique name, referred to by involvement, owners and `home`.")
    headcount: int = Field(10, ge=1, le=1_000_000, description="People in the department.")
    reach: float = Field(
        0.3,
        ge=0,
        le=1,
        description="Share of its people who engage each step (its glue quality): its capacity is "
        "headcount × reach exchanges per step.",
    )
    openness: float = Field(0.5, ge=0, le=1, description="Willingness to post in communities it does not own.")


class CommunityManager(StrictModel):
    """A person who animates communities, employed by a department or hired outside."""

    name: Name = Field(description="Unique name (departments and community managers share one namespace).")
    home: str | None = Field(None, description="Department that employs it, or `null` for hired outside the org chart.")
    capacity: int = Field(2, ge=0, le=MAX_COMMUNITIES, description="Number of communities it can animate.")
    brokerage: float = Field(
        0.5,
        ge=0,
        le=1,
        description="Not read by the Model 2.0 dynamics (a manager's relaying is its capacity × "
        "`dynamics.cm_exchanges`); accepted so that older files load.",
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
        0.05,
        gt=0,
        le=1,
        description="`converged` when `cross_reach` moves less than this over the window, "
        "or less than two standard errors of its noise.",
    )
    insight_target: str | None = Field(
        None, description="Department whose learning of insights is timed; `null` means `rnd` if present."
    )
    verdict: Verdict = Field(default_factory=Verdict, description="Verdict thresholds.")


def flatten_changes(changes: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """An event's changes one dotted key each: ``{dynamics: {drift: 0.5}}`` becomes ``{dynamics.drift: 0.5}``.

    A mapping sets only the keys it names, however the change is spelled, so an event can neither
    reset the keys it does not name nor slip a structural key (``dynamics.features``) past
    :func:`~silosim.scenario.overrides.check_runtime_key` inside a section.
    """
    out: dict[str, Any] = {}
    for key, value in changes.items():
        dotted = f"{prefix}{key}"
        if isinstance(value, dict) and value:
            out.update(flatten_changes(value, dotted + "."))
        else:
            out[dotted] = value
    return out


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
    initial_ties: str | None = Field(
        None,
        description="CSV file of the ties (and communities) some stakeholders start with, relative to the "
        "scenario file: columns `group`, `index` (1 … count), `communities` (names joined by `;`), "
        "`partner_group`, `partner_index`, `weight` (0–1]; `null`: no ties, memberships drawn from the shares.",
    )


def inner_model(annotation: Any) -> type[BaseModel] | None:
    """The schema section a field holds, inside ``list[...]``, ``dict[..., ...]`` or ``X | None``; None if none."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = inner_model(arg)
        if found:
            return found
    return None
