"""A commented scenario to fill in, for ``silosim init``: an organisation from a few names, every key explained.

:func:`template` turns lists of department, stakeholder-group and community names into the text of a
scenario file that validates and runs as written: typical placeholder values for the names silosim
knows (those of ``scenarios/default.yaml``; with its names the organisation is the default one),
generic ones for the others, the communities' involvement and membership spread so that every
department takes part somewhere and every group joins somewhere, and on every key a comment saying
what it means and how to estimate it (``§ x``: section x of ``docs/modelling-your-organisation.md``).
The text is generated as plain lines, so no YAML library has to keep comments.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

import yaml

from silosim.rules import RULE_NAMES
from silosim.scenario.schema import MAX_COMMUNITIES, NAME_PATTERN

GUIDE = "docs/modelling-your-organisation.md"

# typical values, from scenarios/default.yaml: headcount, reach, openness
DEPARTMENTS = {
    "marketing": (30, 0.6, 0.6),
    "hr": (15, 0.4, 0.4),
    "sales": (40, 0.3, 0.3),
    "customer_relations": (25, 0.3, 0.4),
    "rnd": (35, 0.2, 0.3),
}
GENERIC_DEPARTMENT = (20, 0.3, 0.4)
# count, external, activity
GROUPS = {
    "consumers": (3000, True, 0.3),
    "customers": (1500, True, 0.5),
    "partners": (200, True, 0.6),
    "employees": (1200, False, 0.5),
}
GENERIC_GROUP = (500, True, 0.4)
INTERNAL_GROUPS = ("employees", "staff", "managers")  # names taken as inside the organisation


@dataclass
class CommunityPlan:
    """A community's audience, involvement and members, as :func:`spread` decides them."""

    audience: str | None  # None: decided by its members
    involvement: dict[str, float] = field(default_factory=dict)
    members: dict[str, float] = field(default_factory=dict)


COMMUNITIES = {
    "brand_page": CommunityPlan("external", {"marketing": 0.9, "sales": 0.3, "customer_relations": 0.2},
                             {"consumers": 0.6, "customers": 0.2}),
    "support_forum": CommunityPlan("external", {"customer_relations": 0.9, "rnd": 0.2},
                                {"customers": 0.5, "consumers": 0.05}),
    "partner_forum": CommunityPlan("external", {"sales": 0.9, "marketing": 0.2}, {"partners": 0.8, "customers": 0.05}),
    "enterprise_social_network": CommunityPlan("internal", {"hr": 0.8, "marketing": 0.2, "rnd": 0.3, "sales": 0.2},
                                            {"employees": 0.7}),
    "co_creation_lab": CommunityPlan("mixed", {"rnd": 0.9, "marketing": 0.3},
                                  {"customers": 0.05, "partners": 0.2, "employees": 0.05}),
}  # fmt: skip
DEFAULT_DEPARTMENTS = ("marketing", "hr", "sales", "customer_relations", "rnd")
DEFAULT_GROUPS = tuple(GROUPS)
DEFAULT_COMMUNITIES = tuple(COMMUNITIES)
LEAD, SECOND, EXTRA_DEPARTMENT, SHARE, EXTRA_SHARE = 0.8, 0.2, 0.3, 0.3, 0.2  # placeholders where no archetype says

# one comment per key: what it means, how to estimate it (§: a section of the guide)
COMMENTS = {
    "name": "short name; names the results folder",
    "description": "the situation this file models, in a sentence",
    "seed": "seed of the random draws: same file, same seed, same numbers",
    "steps": "steps to run: at least burn-in + window (100 + 200) § steps",
    "organization": "who exists: departments, community managers, stakeholder groups",
    "departments": "each business function that posts in communities § departments",
    "department.name": "unique name; involvement, owners and `home` refer to it",
    "headcount": "its people who could take part: HRIS headcount § headcount",
    "reach": "0-1: share of its people active in the communities per step § reach",
    "openness": "0-1: how readily it posts where it does not own § openness",
    "community_managers": "people who animate communities; [] if none § community-managers",
    "cm.name": "unique name (departments and CMs share one namespace)",
    "home": "department that employs it; null: hired outside the org chart",
    "capacity": "communities it can animate § community-managers",
    "stakeholders": "the populations the communities serve § stakeholders",
    "group": "unique group name; communities' members refer to it",
    "count": "people who could join: CRM, HRIS, partner list § count",
    "external": "true outside the organisation, false for employees",
    "activity": "0-1: share of its members active per step § activity",
    "communities": "the spaces: brand pages, social network, forums, labs § communities",
    "community.name": "unique community name",
    "audience": "who may join: internal | external | mixed § audience",
    "involvement": "department → 0-1 stake in it; the largest owns it § involvement",
    "members": "group → 0-1 share of the group that is a member § membership",
    "ownership": "who owns, posts in, relays across each community § rule",
    "rule": "today's practice (the others: below) § rule",
    "cross_posting": "who may relay into a community: open | owner_only | closed § rule",
    "dynamics": "model parameters; others keep their defaults § dynamics",
    "needs_overlap": "0-1: how far the audiences need the same (1: all) § needs",
    "turbulence": "0-1: chance per step that a group's need changes § needs",
    "metrics": "when to measure and how to judge",
    "insight_target": "department whose learning of insights is timed § insight",
}
COMMENT_COLUMN = 38


def name_problems(kind: str, names: list[str], limit: int) -> list[str]:
    """What is wrong with a list of names given for one kind (``--departments``...), one message each.

    Args:
        kind: what the names are, as the messages say it (``department``).
        names: the names, as given.
        limit: how many there may be at most.

    Returns:
        One message per problem (a name that is not a name, with the nearest one that is; a
        duplicate; too few or too many); empty when the names are fine.
    """
    problems = []
    if not names:
        problems.append(f"expected at least one {kind} name, got none")
    if len(names) > limit:
        problems.append(f"expected at most {limit} {kind} names, got {len(names)}")
    seen: set[str] = set()
    for name in names:
        if not name:
            problems.append(f"an empty {kind} name (two commas in a row, or one at an end)")
        elif not re.fullmatch(NAME_PATTERN, name):
            fixed = re.sub(r"[^A-Za-z0-9_-]+", "_", name.strip()).strip("_-")[:64] or "name"
            problems.append(
                f"'{name}' is not a valid {kind} name: expected letters, digits, '_' and '-', "
                f"1-64 characters, not starting with '-' (did you mean '{fixed}'?)"
            )
        elif name in seen:
            problems.append(f"duplicate {kind} name '{name}'")
        seen.add(name)
    return problems


def _external(group: str) -> bool:
    return GROUPS.get(group, (0, group not in INTERNAL_GROUPS, 0))[1]


def _accepts(audience: str | None, group: str) -> bool:
    return audience in (None, "mixed") or (audience == "external") == _external(group)


def spread(departments: list[str], groups: list[str], communities: list[str]) -> dict[str, CommunityPlan]:
    """Each community's audience, involvement and members, spread over the departments and groups given.

    A community silosim knows keeps its typical involvement and members among the names given; one it
    does not know (or whose typical names are all missing) is led by the next department that leads
    nothing yet (involvement 0.8, the following department 0.2) and joined by the next group it may
    take that joins nothing yet (share 0.3). A department still outside every community then takes part
    in one (0.3), a group still outside joins one (0.2); the audience of a community silosim does not
    know follows its members.
    """
    plans: dict[str, CommunityPlan] = {}
    for name in communities:
        known = COMMUNITIES.get(name, CommunityPlan(None))
        audience = known.audience
        involvement = {d: v for d, v in known.involvement.items() if d in departments}
        members = {g: v for g, v in known.members.items() if g in groups and _accepts(audience, g)}
        if not members and not any(_accepts(audience, g) for g in groups):
            audience = None
        plans[name] = CommunityPlan(audience, involvement, members)

    def next_of(candidates: list[str], taken: set[str], i: int) -> str:
        free = [c for c in candidates if c not in taken]
        return free[0] if free else candidates[i % len(candidates)]

    leading = {max(p.involvement, key=p.involvement.get) for p in plans.values() if p.involvement}
    joined = {g for p in plans.values() for g in p.members}
    for i, plan in enumerate(plans.values()):
        if not plan.involvement:
            lead = next_of(departments, leading, i)
            leading.add(lead)
            plan.involvement[lead] = LEAD
            if len(departments) > 1:
                plan.involvement[departments[(departments.index(lead) + 1) % len(departments)]] = SECOND
        if not plan.members:
            group = next_of([g for g in groups if _accepts(plan.audience, g)], joined, i)
            joined.add(group)
            plan.members[group] = SHARE
    plan_list = list(plans.values())
    idle = [d for d in departments if not any(d in p.involvement for p in plan_list)]
    for k, dept in enumerate(idle):
        plan_list[k % len(plan_list)].involvement[dept] = EXTRA_DEPARTMENT
    for group in (g for g in groups if g not in {m for p in plan_list for m in p.members}):
        accepting = [p for p in plan_list if _accepts(p.audience, group)]
        plan = min(accepting, key=lambda p: len(p.members)) if accepting else None
        if plan is None:
            plan = min(plan_list, key=lambda p: len(p.members))
            plan.audience = "mixed"
        plan.members[group] = EXTRA_SHARE
    for plan in plan_list:
        if plan.audience is None:
            kinds = {_external(g) for g in plan.members}
            plan.audience = "mixed" if len(kinds) > 1 else ("external" if kinds == {True} else "internal")
    return plans


def _scalar(value: object) -> str:
    """A YAML scalar that reads back as ``value`` (a name such as ``null`` or ``1e3`` is quoted)."""
    if isinstance(value, str):
        return value if re.fullmatch(NAME_PATTERN, value) and yaml.safe_load(value) == value else json.dumps(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


class _Lines:
    """Lines of YAML, each key with its comment in one column."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def key(self, indent: int, key: str, value: object, comment: str, item: bool = False) -> None:
        head = " " * indent + ("- " if item else "") + _scalar(key) + ":"
        text = head if value is _SECTION else f"{head} {_scalar(value)}"
        self.lines.append(f"{text:<{COMMENT_COLUMN - 1}} # {comment}" if comment else text)

    def comment(self, indent: int, text: str) -> None:
        self.lines.append(" " * indent + "# " + text)


_SECTION = object()  # a key whose value is the block below it


def _cm_name(departments: list[str]) -> str:
    base = "cm_" + departments[0][:61]
    name, k = base, 2
    while name in departments:
        name, k = f"{base[:60]}_{k}", k + 1
    return name


def insight_target(departments: list[str]) -> str:
    """The department whose learning of insights is timed: ``rnd`` if there is one, else the first department."""
    return "rnd" if "rnd" in departments else departments[0]


def template(name: str, departments: list[str], groups: list[str], communities: list[str]) -> str:
    """The text of a commented scenario to fill in, that validates and runs as written.

    Args:
        name: the scenario's name (a file name's stem, as :func:`~silosim.scenario.default_name` makes it).
        departments: department names, valid and distinct (:func:`name_problems`).
        groups: stakeholder group names, valid and distinct.
        communities: community names, valid and distinct, at most 64.

    Returns:
        The YAML text, ending with a newline.
    """
    if len(communities) > MAX_COMMUNITIES:
        raise ValueError(f"at most {MAX_COMMUNITIES} communities")
    plans = spread(departments, groups, communities)
    out = _Lines()
    out.comment(0, "A scenario written by `silosim init`: replace the placeholder values with your organisation's.")
    out.comment(0, f"Each comment says what its key means and how to estimate it; '§ x' is section x of {GUIDE}.")
    out.comment(0, "Check it with `silosim validate FILE`, then run it with `silosim run FILE`.")
    out.key(0, "name", name, COMMENTS["name"])
    out.key(0, "description", "Fill in: the organisation and the question asked of it.", COMMENTS["description"])
    out.key(0, "seed", 42, COMMENTS["seed"])
    out.key(0, "steps", 300, COMMENTS["steps"])
    out.key(0, "organization", _SECTION, COMMENTS["organization"])
    out.key(2, "departments", _SECTION, COMMENTS["departments"])
    for dept in departments:
        headcount, reach, openness = DEPARTMENTS.get(dept, GENERIC_DEPARTMENT)
        out.key(4, "name", dept, COMMENTS["department.name"], item=True)
        out.key(6, "headcount", headcount, COMMENTS["headcount"])
        out.key(6, "reach", reach, COMMENTS["reach"])
        out.key(6, "openness", openness, COMMENTS["openness"])
    out.key(2, "community_managers", _SECTION, COMMENTS["community_managers"])
    out.key(4, "name", _cm_name(departments), COMMENTS["cm.name"], item=True)
    out.key(6, "home", departments[0], COMMENTS["home"])
    out.key(6, "capacity", 2, COMMENTS["capacity"])
    out.key(2, "stakeholders", _SECTION, COMMENTS["stakeholders"])
    for group in groups:
        count, _, activity = GROUPS.get(group, GENERIC_GROUP)
        out.key(4, "group", group, COMMENTS["group"], item=True)
        out.key(6, "count", count, COMMENTS["count"])
        out.key(6, "external", _external(group), COMMENTS["external"])
        out.key(6, "activity", activity, COMMENTS["activity"])
    out.key(0, "communities", _SECTION, COMMENTS["communities"])
    for community, plan in plans.items():
        out.key(2, "name", community, COMMENTS["community.name"], item=True)
        out.key(4, "audience", plan.audience, COMMENTS["audience"])
        out.key(4, "involvement", _SECTION, COMMENTS["involvement"])
        for dept, value in plan.involvement.items():
            out.key(6, dept, value, f"stake of {dept}")
        out.key(4, "members", _SECTION, COMMENTS["members"])
        for group, share in plan.members.items():
            out.key(6, group, share, f"share of {group} who are members")
    first = departments[0]
    out.key(0, "ownership", _SECTION, COMMENTS["ownership"])
    out.key(2, "rule", "most_involved", COMMENTS["rule"])
    out.key(2, "cross_posting", "owner_only", COMMENTS["cross_posting"])
    out.comment(2, f"rule is one of {' | '.join(RULE_NAMES)}; what the others need (uncomment):")
    out.comment(2, f"owner: {_scalar(first)}  # single_owner: the one owner")
    out.comment(2, f"glue: {_scalar(first)}  # glue: joins and relays everywhere")
    out.comment(2, "council_every: 10  # federated: steps between owners' councils")
    example = f"{_scalar(next(iter(plans)))}: {_scalar(first)}"
    out.comment(2, f"owners: {{{example}, ...}}  # explicit: every community's owner")
    out.comment(2, "dedicated_cms needs community managers; most_involved needs nothing more")
    out.key(0, "dynamics", _SECTION, COMMENTS["dynamics"])
    out.key(2, "needs_overlap", 0.5, COMMENTS["needs_overlap"])
    out.key(2, "turbulence", 0.0, COMMENTS["turbulence"])
    out.comment(0, "events: a pilot then a rollout, e.g. [{at: 100, set: {ownership.rule: glue, ownership.glue: X}}]")
    out.key(0, "metrics", _SECTION, COMMENTS["metrics"])
    out.key(2, "insight_target", insight_target(departments), COMMENTS["insight_target"])
    return "\n".join(out.lines) + "\n"
