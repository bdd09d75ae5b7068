"""The world a scenario describes: rows in order, memberships as drawn, one world per seed."""

import numpy as np

from silosim import scenario
from silosim.model import SiloModel
from silosim.world import build_world
from tests.helpers import glued, three_islands


def test_rows_are_departments_then_cms_then_stakeholders_group_by_group():
    sc = scenario.from_dict(glued(three_islands()))
    built = build_world(sc, np.random.default_rng(1))
    assert (built.n_departments, built.n_actors) == (4, 5)
    assert built.world.culture.shape == (5 + 900, sc.dynamics.features)
    assert built.world.is_actor.tolist() == [True] * 5 + [False] * 900
    assert built.group_of.tolist() == [0] * 300 + [1] * 300 + [2] * 300
    # every stakeholder joins exactly its group's community (share 1.0), and only it
    assert np.diff(built.world.joined_ptr).tolist() == [1] * 900
    assert built.world.joined.tolist() == [0] * 300 + [1] * 300 + [2] * 300
    assert built.group_members.tolist() == [[300, 0, 0], [0, 300, 0], [0, 0, 300]]
    assert (built.world.tie_partner == -1).all() and built.items.slots >= 1024


def test_a_cm_brings_its_home_departments_culture():
    data = glued(three_islands())
    data["organization"]["community_managers"][0]["home"] = "hr"
    built = build_world(scenario.from_dict(data), np.random.default_rng(7))
    assert np.array_equal(built.world.culture[4], built.world.culture[1])


def test_the_models_world_is_the_one_its_seed_draws():
    sc = scenario.from_dict(glued(three_islands()))
    model = SiloModel(sc, rng=11)
    built = build_world(sc, np.random.default_rng(11))
    for name in ("culture", "joined", "joined_ptr", "activity"):
        assert np.array_equal(getattr(model.world, name), getattr(built.world, name)), name
    assert np.array_equal(model.needs, built.needs) and np.array_equal(model.group_of, built.group_of)
    other = build_world(sc, np.random.default_rng(12))
    assert not np.array_equal(other.world.culture, built.world.culture)
