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


def test_initial_ties_fill_slots_strongest_first_in_a_community_both_ends_joined(tmp_path):
    data = glued(three_islands())
    data["communities"][1]["members"] = {"employees": 0.5}  # esn
    data["communities"].append({"name": "guild", "audience": "internal", "involvement": {"hr": 0.5}, "members": {}})
    ties = tmp_path / "ties.csv"
    # employees 1 joins esn and guild, employees 2 only guild, employees 3 only esn; 1 holds ties to both
    ties.write_text(
        "group,index,communities,partner_group,partner_index,weight\n"
        "employees,1,esn;guild,employees,2,0.25\n"
        "employees,1,esn;guild,employees,3,0.75\n"
        "employees,2,guild,,,\n"
        "employees,3,esn,,,\n"
    )
    data["initial_ties"] = str(ties)
    sc = scenario.from_dict(data)
    built = build_world(sc, np.random.default_rng(1))
    w, first = built.world, built.n_actors + 300  # employees come after the 300 consumers
    esn, guild = 1, 3
    assert w.tie_partner[first].tolist()[:3] == [first + 2, first + 1, -1]  # the stronger (0.75) first
    assert w.tie_weight[first, :2].tolist() == [0.75, 0.25]
    assert w.tie_context[first, :2].tolist() == [esn, guild]  # where each partner is too, not the holder's first
    joined = [w.joined[w.joined_ptr[r] : w.joined_ptr[r + 1]].tolist() for r in (300, 301, 302)]
    assert joined == [[esn, guild], [guild], [esn]]
    assert built.group_members[1].tolist() == [0, int(np.sum(w.joined == esn)), 0, 2]
