"""Mesa agents of silosim: handles onto rows of the model's state arrays.

The step is vectorised over every agent at once (see :mod:`silosim.dynamics`),
so agents carry no ``step`` of their own; they name an actor, hold its
static attributes and read its live state from the model's arrays.
"""

from __future__ import annotations

import mesa
import numpy as np


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
