"""Mesa agents of silosim: handles onto rows of the model's state arrays.

The step is vectorised over every agent at once (see :mod:`silosim.dynamics`),
so agents carry no ``step`` of their own; they name an actor, hold its
static attributes and read its live state from the model's arrays.
:func:`populate` creates one per row, in the world's row order.
"""

from __future__ import annotations

import mesa
import numpy as np

from silosim.scenario.schema import Organization


class OrgAgent(mesa.Agent):
    """An agent whose state lives in row ``row`` of the model's arrays."""

    def __init__(self, model: mesa.Model, row: int):
        """Attach the handle to its row."""
        super().__init__(model)
        self.row = row

    @property
    def culture(self) -> np.ndarray:
        """Practice (departments, CMs) or viewpoint (stakeholders) traits."""
        return self.model.world.culture[self.row]

    @property
    def ties(self) -> dict[int, float]:
        """Row of each partner this agent keeps a tie to → tie weight."""
        partners = self.model.world.tie_partner[self.row]
        weights = self.model.world.tie_weight[self.row]
        return {int(p): float(w) for p, w in zip(partners, weights, strict=True) if p >= 0}

    @property
    def known_items(self) -> int:
        """How many of the live information items this agent knows."""
        return self.model.items.known_count(self.row)


class Department(OrgAgent):
    """A business function acting as one actor (marketing, HR, R&D, the mail room...)."""

    def __init__(self, model: mesa.Model, row: int, name: str, headcount: int, reach: float, openness: float):
        """A department and its static attributes."""
        super().__init__(model, row)
        self.name, self.headcount, self.reach, self.openness = name, headcount, reach, openness


class CommunityManager(OrgAgent):
    """A person animating communities; ``home`` None means hired outside the org chart."""

    def __init__(self, model: mesa.Model, row: int, name: str, home: str | None, capacity: int, brokerage: float):
        """A community manager and its static attributes."""
        super().__init__(model, row)
        self.name, self.home, self.capacity, self.brokerage = name, home, capacity, brokerage


class Stakeholder(OrgAgent):
    """An external or internal party (customer, partner, candidate, employee...)."""

    def __init__(self, model: mesa.Model, row: int, group: str, external: bool):
        """A stakeholder of a group."""
        super().__init__(model, row)
        self.group, self.external = group, external

    @property
    def communities(self) -> list[str]:
        """Names of the communities this stakeholder joined."""
        w = self.model.world
        i = self.row - self.model.n_actors
        return [self.model.config.communities[c].name for c in w.joined[w.joined_ptr[i] : w.joined_ptr[i + 1]]]


def populate(model: mesa.Model, organization: Organization) -> tuple[mesa.agent.AgentSet, mesa.agent.AgentSet]:
    """Create an agent for every row of the world (:mod:`silosim.world`), in row order.

    Args:
        model: the model whose ``world`` the agents read.
        organization: the scenario's organisation.

    Returns:
        The departments and the community managers (stakeholders are in ``model.agents_by_type``).
    """
    depts, cms = organization.departments, organization.community_managers
    departments = Department.create_agents(
        model,
        len(depts),
        list(range(len(depts))),
        [d.name for d in depts],
        [d.headcount for d in depts],
        [d.reach for d in depts],
        [d.openness for d in depts],
    )
    community_managers = CommunityManager.create_agents(
        model,
        len(cms),
        list(range(len(depts), len(depts) + len(cms))),
        [m.name for m in cms],
        [m.home for m in cms],
        [m.capacity for m in cms],
        [m.brokerage for m in cms],
    )
    start = len(depts) + len(cms)
    for group in organization.stakeholders:  # one group at a time: the per-agent lists stay one group long
        Stakeholder.create_agents(
            model, group.count, np.arange(start, start + group.count), group.group, group.external
        )
        start += group.count
    return departments, community_managers
