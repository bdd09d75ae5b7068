"""Ownership rules: who owns, posts in, animates and relays across each community.

Each rule is a small class in :data:`RULES`, named in a scenario's
``ownership.rule``. A rule turns a validated scenario into an
:class:`Assignment`; the cross-posting policy then decides who may relay
(:func:`relay_rights`). Events can switch the rule mid-run: the model simply
asks the new rule for a new assignment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

import numpy as np

if TYPE_CHECKING:  # rules read a validated scenario; the schema reads the rule names from here
    from silosim.scenario import Scenario


@dataclass
class Assignment:
    """What an ownership rule decides, as arrays indexed by department, CM and community.

    Attributes:
        owners: owning actor's name per community (a department or a community manager).
        posting: (departments × communities) weight of each department's posting, 0 = absent.
        animates: (community managers × communities) True where the CM animates it.
        brokers: (departments + CMs) × communities: who may relay into the community
            under the ``owner_only`` policy (owners and the rule's designated brokers).
        council: names of the departments that meet in council (``federated``).
    """

    owners: list[str]
    posting: np.ndarray
    animates: np.ndarray
    brokers: np.ndarray
    council: list[str] = field(default_factory=list)


def community_sizes(scenario: Scenario) -> np.ndarray:
    """Expected stakeholder members of each community."""
    counts = {g.group: g.count for g in scenario.organization.stakeholders}
    return np.array([sum(counts[g] * s for g, s in c.members.items()) for c in scenario.communities])


def involvement_matrix(scenario: Scenario) -> np.ndarray:
    """(departments × communities) involvement, 0 where not stated."""
    names = [d.name for d in scenario.organization.departments]
    out = np.zeros((len(names), len(scenario.communities)))
    for c, community in enumerate(scenario.communities):
        for dept, value in community.involvement.items():
            out[names.index(dept), c] = value
    return out


class OwnershipRule:
    """Base: delegation-style posting and the standard community-manager placement.

    Non-owning departments post where involved, in proportion to
    involvement × openness; the owner posts fully.
    """

    name: ClassVar[str]

    def owners(self, scenario: Scenario) -> list[str]:
        """The owner of each community."""
        raise NotImplementedError

    def glue(self, scenario: Scenario) -> str | None:
        """A department that joins and brokers every community, if the rule has one."""
        return None

    def council(self, scenario: Scenario, owners: list[str]) -> list[str]:
        """Departments that meet in council every ``council_every`` steps."""
        return []

    def assign(self, scenario: Scenario) -> Assignment:
        """Apply the rule to a scenario."""
        org = scenario.organization
        depts = [d.name for d in org.departments]
        cms = [m.name for m in org.community_managers]
        n_c = len(scenario.communities)
        owners = self.owners(scenario)
        openness = np.array([d.openness for d in org.departments])
        posting = involvement_matrix(scenario) * openness[:, None]
        animates = self.place_cms(scenario, owners)
        brokers = np.zeros((len(depts) + len(cms), n_c), dtype=bool)
        for c, owner in enumerate(owners):
            if owner in depts:
                posting[depts.index(owner), c] = 1.0
                brokers[depts.index(owner), c] = True
            else:
                animates[cms.index(owner), c] = True
        glue = self.glue(scenario)
        if glue is not None:
            posting[depts.index(glue), :] = 1.0
            brokers[depts.index(glue), :] = True
        for m, cm in enumerate(org.community_managers):
            # a CM relays for the owner it works for, or freely if hired outside the org chart
            for c in np.flatnonzero(animates[m]):
                if cm.home is None or cm.home == owners[c] or cm.name == owners[c]:
                    brokers[len(depts) + m, c] = True
        return Assignment(owners, posting, animates, brokers, self.council(scenario, owners))

    def place_cms(self, scenario: Scenario, owners: list[str]) -> np.ndarray:
        """Place community managers on communities, up to each one's capacity.

        A CM animates its home department's communities (largest first); CMs hired
        outside the org chart take the largest communities with the fewest CMs.
        """
        cms = scenario.organization.community_managers
        sizes = community_sizes(scenario)
        animates = np.zeros((len(cms), len(sizes)), dtype=bool)
        for m, cm in enumerate(cms):
            if cm.home is not None:
                candidates = [c for c in np.argsort(-sizes, kind="stable") if owners[c] == cm.home]
            else:
                load = animates.sum(axis=0)
                candidates = sorted(range(len(sizes)), key=lambda c: (load[c], -sizes[c], c))
            animates[m, candidates[: cm.capacity]] = True
        return animates


def most_involved_owners(scenario: Scenario) -> list[str]:
    """Each community's most involved department (first listed on a tie)."""
    depts = [d.name for d in scenario.organization.departments]
    return [depts[int(np.argmax(column))] for column in involvement_matrix(scenario).T]


class MostInvolved(OwnershipRule):
    """Delegation: each community goes to the department most involved in it.

    The efficient-looking default that risks "silos 2.0": each department
    runs its communities its own way.
    """

    name = "most_involved"

    def owners(self, scenario: Scenario) -> list[str]:  # noqa: D102
        return most_involved_owners(scenario)


class SingleOwner(OwnershipRule):
    """Centralisation: one named department (often marketing or HR) owns every community."""

    name = "single_owner"

    def owners(self, scenario: Scenario) -> list[str]:  # noqa: D102
        return [scenario.ownership.owner] * len(scenario.communities)


class Glue(MostInvolved):
    """Delegation plus a glue ("liant") department that joins every community and relays.

    The remedy: the department that already talks to the whole organisation
    (often marketing, at worst the mail room) takes part everywhere.
    """

    name = "glue"

    def glue(self, scenario: Scenario) -> str | None:  # noqa: D102
        return scenario.ownership.glue


class DedicatedCMs(OwnershipRule):
    """Community managers, possibly hired outside the org chart, own and animate communities.

    Communities go, largest first, to the CM with the most spare capacity;
    any left over when capacity runs out stay with the most involved department.
    """

    name = "dedicated_cms"

    def owners(self, scenario: Scenario) -> list[str]:  # noqa: D102
        cms = scenario.organization.community_managers
        spare = [cm.capacity for cm in cms]
        owners = most_involved_owners(scenario)
        for c in np.argsort(-community_sizes(scenario), kind="stable"):
            m = int(np.argmax(spare))
            if spare[m] > 0:
                owners[c] = cms[m].name
                spare[m] -= 1
        return owners

    def place_cms(self, scenario: Scenario, owners: list[str]) -> np.ndarray:
        """CMs animate the communities they own, nothing else."""
        names = [cm.name for cm in scenario.organization.community_managers]
        return np.array([[owner == name for owner in owners] for name in names], dtype=bool).reshape(
            len(names), len(owners)
        )


class Federated(MostInvolved):
    """Each department owns its own communities; a council of owners meets every k steps.

    The council exchanges practices between owners and lets each owner relay
    what it learnt into its own communities.
    """

    name = "federated"

    def council(self, scenario: Scenario, owners: list[str]) -> list[str]:  # noqa: D102
        depts = [d.name for d in scenario.organization.departments]
        return [d for d in depts if d in owners]


class Explicit(OwnershipRule):
    """The scenario maps each community to its owner (a department or a community manager)."""

    name = "explicit"

    def owners(self, scenario: Scenario) -> list[str]:  # noqa: D102
        return [scenario.ownership.owners[c.name] for c in scenario.communities]


RULES: dict[str, type[OwnershipRule]] = {
    rule.name: rule for rule in (MostInvolved, SingleOwner, Glue, DedicatedCMs, Federated, Explicit)
}
RULE_NAMES = tuple(RULES)  # what ``ownership.rule`` accepts


def assign(scenario: Scenario) -> Assignment:
    """The assignment of the scenario's ownership rule."""
    return RULES[scenario.ownership.rule]().assign(scenario)


def relay_rights(policy: str, participates: np.ndarray, brokers: np.ndarray) -> np.ndarray:
    """Who may relay items into which community, by cross-posting policy.

    Args:
        policy: ``open`` (any participant), ``owner_only`` (owners and the
            rule's brokers) or ``closed`` (nobody).
        participates: (agents × communities) bool, who takes part where.
        brokers: the assignment's brokers, for the first rows (departments, CMs).

    Returns:
        (agents × communities) bool.
    """
    if policy == "open":
        return participates.copy()
    rights = np.zeros_like(participates)
    if policy == "owner_only":
        rights[: len(brokers)] = brokers & participates[: len(brokers)]
    return rights
