"""A scenario written from an observed network: it validates, runs, and starts with the measured ties.

The tolerance on the first measurement's E-I: 1e-6 for weighted networks (the model keeps tie
weights as float32: each weight is rounded by at most 6e-8 of itself, so a ratio of weight sums
moves by less than 1e-7), exact (1e-12) for unweighted ones (every weight is 1).
"""

from pathlib import Path

import networkx as nx
import numpy as np
import pandas as pd
import pytest
import yaml

from silosim import metrics
from silosim import network as net
from silosim.model import SiloModel
from silosim.ona.read import ObservedNetwork
from silosim.ona.scenario import safe_names, scenario_from_network
from silosim.scenario import Problem, ScenarioError, load


def observed(edges, attributes: dict, *, weight=None, directed=False) -> ObservedNetwork:
    """An ObservedNetwork of nodes 0..n-1 (ids 'p0', 'p1'...), built directly."""
    n = len(next(iter(attributes.values())))
    ids = [f"p{i}" for i in range(n)]
    src = np.array([e[0] for e in edges], dtype=np.int64)
    tgt = np.array([e[1] for e in edges], dtype=np.int64)
    w = np.ones(len(edges)) if weight is None else np.asarray(weight, dtype=float)
    return ObservedNetwork(
        ids=ids,
        attributes=pd.DataFrame(attributes, index=ids),
        source=src,
        target=tgt,
        weight=w,
        directed=directed,
        graph=net.graph_from_edges(src, tgt, w, n, directed=directed),
        notes=["built in a test"],
        edges_path=Path("edges.csv"),
        nodes_path=None,
        weight_column=None if weight is None else "weight",
        format="csv",
    )


def labels(values: list[str]) -> tuple[np.ndarray, list[str]]:
    names = sorted(set(values))
    return np.array([names.index(v) for v in values], dtype=np.int64), names


# two teams of three: a triangle each, one tie across (2–3): 6 internal tie-ends pairs, 1 external
TEAMS = [(0, 1), (1, 2), (0, 2), (3, 4), (4, 5), (3, 5), (2, 3)]
TEAM = ["a", "a", "a", "b", "b", "b"]


def test_the_written_scenario_validates_and_its_people_and_ties_are_the_data(tmp_path):
    groups, names = labels(TEAM)
    path = scenario_from_network(observed(TEAMS, {"team": TEAM}), groups, names, None, tmp_path / "teams.yaml")
    assert path == tmp_path / "teams.yaml" and (tmp_path / "teams_ties.csv").is_file()
    sc = load(path)
    assert [(g.group, g.count, g.external) for g in sc.organization.stakeholders] == [("a", 3, False), ("b", 3, False)]
    assert [(d.name, d.headcount) for d in sc.organization.departments] == [("a", 3), ("b", 3)]
    # reach: the share of tie weight leaving the group: team a has 7 tie-ends, 1 crossing
    assert [d.reach for d in sc.organization.departments] == [round(1 / 7, 4)] * 2
    assert [(c.name, c.members, c.involvement) for c in sc.communities] == [
        ("a", {"a": 1.0}, {"a": 0.9}),
        ("b", {"b": 1.0}, {"b": 0.9}),
    ]
    assert sc.initial_ties == str((tmp_path / "teams_ties.csv").resolve())
    assert sc.dynamics.max_ties == 8  # nobody has more than 3 partners: the default stays
    model = SiloModel(sc)
    w, a = model.world, model.n_actors
    assert np.diff(w.joined_ptr).tolist() == [1] * 6 and w.joined.tolist() == [0, 0, 0, 1, 1, 1]
    # every tie held by both ends, weight 1 (unweighted), in the holder's community
    held = {(h - a, int(w.tie_partner[h, s])) for h in range(a, a + 6) for s in range(8) if w.tie_partner[h, s] >= 0}
    assert held == {(i, j + a) for i, j in TEAMS} | {(j, i + a) for i, j in TEAMS}
    assert set(w.tie_weight[w.tie_partner >= 0].tolist()) == {1.0}
    assert w.tie_context[a + 2][w.tie_partner[a + 2] == a + 3].tolist() == [0]  # 2 (team a) → 3: a's community
    assert w.tie_context[a + 3][w.tie_partner[a + 3] == a + 2].tolist() == [1]  # 3 (team b) → 2: b's
    text = path.read_text()
    assert "guess" in text and "the group's share of tie weight leaving it" in text


def test_its_first_measurement_reproduces_the_observed_ei_then_it_runs(tmp_path):
    groups, names = labels(TEAM)
    network = observed(TEAMS, {"team": TEAM})
    model = SiloModel(load(scenario_from_network(network, groups, names, None, tmp_path / "t.yaml")))
    # by hand: 6 ties inside, 1 across: E-I = (1 − 6) / 7
    assert metrics.ei_index(network.graph, groups) == pytest.approx(-5 / 7, abs=1e-12)
    assert model._tie_snapshot()["ei_index"] == pytest.approx(-5 / 7, abs=1e-12)
    for _ in range(3):
        model.step()
    assert model.steps == 3 and np.isfinite(model.measure()["ei_index"])


def test_the_karate_club_starts_with_its_weighted_ei(tmp_path):
    g = nx.karate_club_graph()
    edges = list(g.edges())
    weight = [g[u][v]["weight"] for u, v in edges]
    clubs = [g.nodes[i]["club"] for i in range(g.number_of_nodes())]
    network = observed(edges, {"club": clubs}, weight=weight)
    groups, names = labels(clubs)
    path = scenario_from_network(network, groups, names, None, tmp_path / "karate.yaml")
    sc = load(path)
    assert [g.group for g in sc.organization.stakeholders] == ["Mr__Hi", "Officer"]  # "Mr. Hi" made a name
    assert sc.dynamics.max_ties == 17  # node 33 has 17 partners
    model = SiloModel(sc)
    expected = metrics.ei_index(network.graph, groups)
    # networkx's own count of the clubs' weighted cut, as a cross-check of the observed value
    cut = nx.cut_size(g, [i for i, c in enumerate(clubs) if c == "Mr. Hi"], weight="weight")
    total = g.size(weight="weight")
    assert expected == pytest.approx((cut - (total - cut)) / total, abs=1e-12)
    assert model._tie_snapshot()["ei_index"] == pytest.approx(expected, abs=1e-6)
    weights = model.world.tie_weight[model.world.tie_partner >= 0]
    assert weights.max() == 1.0 and weights.min() == pytest.approx(1 / 7)  # weights 1..7, the strongest 1
    assert f"{expected:.6f} in the data; {expected:.6f} as the model measures" in path.read_text()
    model.step()


def test_communities_from_another_attribute_give_exact_memberships(tmp_path):
    # two departments across two offices: the communities are the offices
    dept = ["x", "x", "x", "y", "y", "y", "y", "x"]
    office = ["n", "n", "s", "s", "s", "n", "s", "s"]
    edges = [(0, 1), (2, 3), (3, 4), (4, 6), (6, 7), (2, 7), (5, 0), (5, 1), (1, 2)]
    network = observed(edges, {"dept": dept, "office": office})
    groups, names = labels(dept)
    path = scenario_from_network(network, groups, names, labels(office), tmp_path / "o.yaml")
    sc = load(path)
    members = {c.name: c.members for c in sc.communities}
    assert members == {"n": {"x": 0.5, "y": 0.25}, "s": {"x": 0.5, "y": 0.75}}
    involvement = {c.name: c.involvement for c in sc.communities}
    # office n: 2 of x, 1 of y → x 0.9, y 0.45; office s: 2 of x, 3 of y → y 0.9, x 0.6
    assert involvement == {"n": {"x": 0.9, "y": 0.45}, "s": {"x": 0.6, "y": 0.9}}
    model = SiloModel(sc)
    a = model.n_actors
    # stakeholder rows: group x (nodes 0, 1, 2, 7) then group y (3, 4, 5, 6)
    node_of_row = [0, 1, 2, 7, 3, 4, 5, 6]
    joined = [model.world.joined[model.world.joined_ptr[r] : model.world.joined_ptr[r + 1]].tolist() for r in range(8)]
    assert joined == [[["n", "s"].index(office[node])] for node in node_of_row]
    off = labels(office)[0]
    expected = metrics.ei_index(network.graph, off)
    assert expected == pytest.approx((1 - 8) / 9)  # by hand: only 1–2 crosses offices
    assert model._tie_snapshot()["ei_index"] == pytest.approx(expected, abs=1e-12)
    assert a == 2  # the departments x and y


def test_a_directed_networks_two_directions_are_one_tie_of_their_summed_weight(tmp_path):
    team = ["a", "a", "b", "b"]
    edges = [(0, 1), (1, 0), (0, 2), (2, 3)]
    network = observed(edges, {"team": team}, weight=[1, 3, 2, 4], directed=True)
    groups, names = labels(team)
    model = SiloModel(load(scenario_from_network(network, groups, names, None, tmp_path / "d.yaml")))
    w, a = model.world, model.n_actors
    weight_of = {
        (h - a, int(w.tie_partner[h, s]) - a): float(w.tie_weight[h, s])
        for h, s in zip(*np.nonzero(w.tie_partner >= 0), strict=True)
    }
    # 0↔1 weighs 1 + 3 = 4, 0↔2 2, 2↔3 4: scaled by the strongest, 4
    assert weight_of == {(0, 1): 1.0, (1, 0): 1.0, (0, 2): 0.5, (2, 0): 0.5, (2, 3): 1.0, (3, 2): 1.0}
    # observed, directed: inside 1 + 3 + 4 = 8, across 2: E-I = (2 − 8) / 10
    assert metrics.ei_index(network.graph, groups) == pytest.approx(-0.6)
    assert model._tie_snapshot()["ei_index"] == pytest.approx(-0.6, abs=1e-6)


def test_a_person_with_more_than_64_partners_keeps_its_64_strongest(tmp_path):
    n = 71  # a hub (node 0) and 70 others, weights 1..70
    team = ["hub"] + ["rest"] * 70
    edges = [(0, i) for i in range(1, n)]
    network = observed(edges, {"team": team}, weight=list(range(1, n)))
    groups, names = labels(team)
    path = scenario_from_network(network, groups, names, None, tmp_path / "hub.yaml")
    sc = load(path)
    assert sc.dynamics.max_ties == 64
    model = SiloModel(sc)
    hub = model.n_actors  # group "hub" comes first
    kept = model.world.tie_partner[hub]
    assert sorted((kept - hub).tolist()) == list(range(7, 71))  # partners 1..6 (the weakest) dropped
    assert "keep their 64 strongest ties (6 tie end(s) dropped)" in path.read_text()
    # each leaf still holds its tie to the hub
    assert all(hub in model.world.tie_partner[hub + i].tolist() for i in range(1, 71))


def test_awkward_names_become_scenario_names():
    assert safe_names(["R&D", "Sales EMEA", "-x", "no", "R&D"]) == ["R_D", "Sales_EMEA", "_x", "no", "R_D_2"]


def test_names_yaml_would_read_as_values_stay_names(tmp_path):
    team = ["no", "no", "1", "1"]
    network = observed([(0, 1), (2, 3), (1, 2)], {"team": team})
    groups, names = labels(team)
    sc = load(scenario_from_network(network, groups, names, None, tmp_path / "n.yaml"))
    assert [g.group for g in sc.organization.stakeholders] == ["1", "no"]


def test_a_person_without_ties_is_listed_with_its_community(tmp_path):
    team = ["a", "a", "b", "b", "b"]  # node 4 has no tie
    network = observed([(0, 1), (2, 3), (1, 2)], {"team": team})
    groups, names = labels(team)
    path = scenario_from_network(network, groups, names, None, tmp_path / "iso.yaml")
    rows = pd.read_csv(tmp_path / "iso_ties.csv", dtype=str, keep_default_na=False)
    alone = rows[rows["id"] == "p4"]
    assert alone[["group", "index", "communities", "partner_group", "weight"]].values.tolist() == [
        ["b", "3", "b", "", ""]
    ]
    model = SiloModel(load(path))
    assert np.diff(model.world.joined_ptr).tolist() == [1] * 5


def test_nothing_is_written_when_the_scenario_would_not_validate(tmp_path, monkeypatch):
    team = ["a", "b"]
    network = observed([(0, 1)], {"team": team})
    groups, names = labels(team)

    def refuse(path, *args, **kwargs):  # as load() refuses a scenario too big for this machine
        raise ScenarioError([Problem(str(path), 3, "organization", "too big")])

    monkeypatch.setattr("silosim.scenario.load", refuse)
    with pytest.raises(ScenarioError) as caught:
        scenario_from_network(network, groups, names, None, tmp_path / "x.yaml")
    assert list(tmp_path.iterdir()) == []
    assert [str(p) for p in caught.value.problems] == [f"{tmp_path / 'x.yaml'}:3: organization: too big"]


def test_the_written_yaml_says_how_each_value_was_estimated(tmp_path):
    groups, names = labels(TEAM)
    path = scenario_from_network(observed(TEAMS, {"team": TEAM}), groups, names, None, tmp_path / "c.yaml")
    data = yaml.safe_load(path.read_text())
    assert data["initial_ties"] == "c_ties.csv"  # beside the file, relative to it
    for line in path.read_text().splitlines():
        value_line = ": " in line and not line.lstrip().startswith("#") and not line.rstrip().endswith(":")
        if value_line and not line.lstrip().startswith(("name: ", "- name: ", "description: ", "seed: ", "audience: ")):
            assert "#" in line, line  # every estimated value carries its comment


# --------------------------------------------------------------------------- the initial_ties key


def small(ties: str | None = "ties.csv", **dynamics) -> dict:
    """Two internal groups (3 and 2 people), two communities, ties from a file beside the scenario."""
    data = {
        "name": "small",
        "organization": {
            "departments": [{"name": "ops"}, {"name": "eng"}],
            "stakeholders": [
                {"group": "ops_people", "count": 3, "external": False},
                {"group": "eng_people", "count": 2, "external": False},
                {"group": "clients", "count": 2, "external": True},
            ],
        },
        "communities": [
            {"name": "floor", "audience": "internal", "involvement": {"ops": 0.9}, "members": {"ops_people": 1.0}},
            {"name": "lab", "audience": "internal", "involvement": {"eng": 0.9}, "members": {"eng_people": 0.5}},
            {"name": "shop", "audience": "external", "involvement": {"ops": 0.5}, "members": {"clients": 1.0}},
        ],
        "dynamics": dynamics,
    }
    if ties is not None:
        data["initial_ties"] = ties
    return data


def write(tmp_path: Path, csv: str | None, data: dict | None = None) -> Path:
    if csv is not None:
        (tmp_path / "ties.csv").write_text(csv)
    path = tmp_path / "small.yaml"
    path.write_text(yaml.safe_dump(small() if data is None else data, sort_keys=False))
    return path


HEADER = "group,index,communities,partner_group,partner_index,weight\n"


def problems(path: Path) -> list[str]:
    with pytest.raises(ScenarioError) as caught:
        load(path)
    return [str(p) for p in caught.value.problems]


def test_a_ties_file_is_read_relative_to_the_scenario_file(tmp_path, monkeypatch):
    folder = tmp_path / "org"
    folder.mkdir()
    write(folder, HEADER + "ops_people,1,floor,eng_people,2,0.5\neng_people,2,lab;floor,,,\n")
    monkeypatch.chdir(tmp_path)  # elsewhere: the file is still found beside the scenario
    sc = load(Path("org") / "small.yaml")
    assert sc.initial_ties == str(folder / "ties.csv")
    model = SiloModel(sc)
    w, a = model.world, model.n_actors
    # stakeholders 0..2 ops_people, 3..4 eng_people: eng_people 2 is stakeholder 4, in floor and lab exactly
    assert w.joined[w.joined_ptr[4] : w.joined_ptr[5]].tolist() == [0, 1]
    assert w.tie_partner[a + 0].tolist()[:2] == [a + 4, -1] and w.tie_weight[a + 0, 0] == 0.5
    assert w.tie_context[a + 0, 0] == 0  # floor: the community both joined
    assert (w.tie_partner[a + 4] == -1).all()  # a tie is held by its row's person only


def test_a_tie_across_communities_lives_in_the_holders_first_community(tmp_path):
    path = write(tmp_path, HEADER + "eng_people,1,lab,ops_people,1,1\nops_people,1,floor,,,\n")
    model = SiloModel(load(path))
    a = model.n_actors
    assert model.world.tie_context[a + 3, 0] == 1  # eng_people 1 (stakeholder 3) holds it in lab


def test_persons_the_file_leaves_out_keep_their_draw_and_every_other_draw_is_unchanged(tmp_path):
    path = write(tmp_path, HEADER + "ops_people,1,floor;lab,ops_people,2,0.3\n")
    with_ties = SiloModel(load(path))
    without = SiloModel(load(write(tmp_path, None, small(ties=None))))
    assert np.array_equal(with_ties.world.culture, without.world.culture)
    assert np.array_equal(with_ties.needs, without.needs)
    j1, p1 = with_ties.world.joined, with_ties.world.joined_ptr
    j0, p0 = without.world.joined, without.world.joined_ptr
    assert j1[p1[0] : p1[1]].tolist() == [0, 1]  # ops_people 1: the file's communities
    for r in range(1, 7):  # everybody else: the draw
        assert j1[p1[r] : p1[r + 1]].tolist() == j0[p0[r] : p0[r + 1]].tolist()


def test_a_scenario_without_the_key_draws_the_same_world_as_before(tmp_path):
    # the key absent and the key naming a file that lists nobody give one world, draw for draw
    listed_nobody = SiloModel(load(write(tmp_path, HEADER)))
    absent = SiloModel(load(write(tmp_path, None, small(ties=None))))
    for name in ("culture", "joined", "joined_ptr", "tie_partner", "tie_weight"):
        assert np.array_equal(getattr(listed_nobody.world, name), getattr(absent.world, name)), name
    for _ in range(5):
        listed_nobody.step()
        absent.step()
    assert np.array_equal(listed_nobody.world.culture, absent.world.culture)


def test_a_missing_ties_file_is_named_at_the_scenarios_line_with_the_nearest_file(tmp_path):
    (tmp_path / "ties_v2.csv").write_text(HEADER)
    path = write(tmp_path, None, small(ties="ties_v3.csv"))
    lines = problems(path)
    assert len(lines) == 1
    line = next(i for i, t in enumerate(path.read_text().splitlines(), 1) if t.startswith("initial_ties"))
    assert lines[0].startswith(f"{path}:{line}: initial_ties: no ties file {tmp_path / 'ties_v3.csv'}")
    assert "did you mean 'ties_v2.csv'" in lines[0]


def test_a_bad_ties_file_gets_every_problem_at_its_line_and_column(tmp_path):
    csv = HEADER + (
        "ops_peple,1,floor,,,\n"  # 2: unknown group
        "ops_people,4,floor,,,\n"  # 3: index past the count
        "ops_people,x,floor,,,\n"  # 4: not an integer
        "ops_people,1,flor,,,\n"  # 5: unknown community
        "ops_people,2,floor,eng_people,1,\n"  # 6: tie without a weight
        "ops_people,2,floor,eng_people,1,1.5\n"  # 7: weight out of range
        "ops_people,3,floor,ops_people,3,0.5\n"  # 8: a tie to oneself
        "ops_people,1,floor,eng_people,2,0.5\n"  # 9: fine
        "ops_people,1,floor,eng_people,2,0.7\n"  # 10: the same tie again
        "ops_people,1,lab,,,\n"  # 11: communities differ from line 9's... (line 5 was refused)
        "clients,1,floor,,,\n"  # 12: an external group in an internal community
        "eng_people,2,lab,clients,3,0.5\n"  # 13: partner index past the count
    )
    ties = str(tmp_path / "ties.csv")
    assert problems(write(tmp_path, csv)) == [
        f"{ties}:2: group: unknown stakeholder group 'ops_peple' (did you mean 'ops_people'?)",
        f"{ties}:3: index: expected an integer in 1 … 3 (the count of group 'ops_people'), got '4'",
        f"{ties}:4: index: expected an integer in 1 … 3 (the count of group 'ops_people'), got 'x'",
        f"{ties}:5: communities: unknown community 'flor' (did you mean 'floor'?)",
        f"{ties}:6: weight: a tie needs partner_group, partner_index and weight (all three empty: a person "
        "without a tie)",
        f"{ties}:7: weight: expected a tie weight above 0 and at most 1, got '1.5'",
        f"{ties}:8: partner_index: a tie to the person itself",
        f"{ties}:10: partner_index: the same tie again (first on line 9)",
        f"{ties}:11: communities: this person's communities differ from those on line 9",
        f"{ties}:12: communities: external group 'clients' cannot join the internal community 'floor'",
        f"{ties}:13: partner_index: expected an integer in 1 … 2 (the count of group 'clients'), got '3'",
    ]


def test_ties_file_columns_are_checked_with_the_nearest_name(tmp_path):
    csv = "group,idx,partner_group,partner_index,weigth\n"
    ties = str(tmp_path / "ties.csv")
    assert problems(write(tmp_path, csv)) == [
        f"{ties}:1: idx: unknown column 'idx' (did you mean 'id'?)",
        f"{ties}:1: index: missing column 'index' (expected columns group, index, partner_group, partner_index, "
        "weight)",
        f"{ties}:1: weight: missing column 'weight' (expected columns group, index, partner_group, partner_index, "
        "weight)",
        f"{ties}:1: weigth: unknown column 'weigth' (did you mean 'weight'?)",
    ]


def test_more_ties_than_slots_is_refused_with_what_to_do(tmp_path):
    rows = "".join(f"ops_people,1,,{g},{i},0.5\n" for g, i in [("ops_people", 2), ("ops_people", 3), ("eng_people", 1)])
    data = small(max_ties=2)
    lines = problems(write(tmp_path, HEADER + rows, data))
    assert lines == [
        f"{tmp_path / 'ties.csv'}:4: partner_index: this person holds 3 ties, more than dynamics.max_ties (2): "
        "raise it (at most 64) or keep its 2 strongest"
    ]


def test_many_bad_rows_are_listed_ten_per_column_and_counted(tmp_path):
    csv = HEADER + "".join("nobody,1,,,,\n" for _ in range(25))
    lines = problems(write(tmp_path, csv))
    assert (
        len(lines) == 11
        and lines[0] == f"{tmp_path / 'ties.csv'}: group: and 15 more row(s) with a problem in this column"
    )


def test_silosim_validate_exits_2_on_a_bad_ties_file(tmp_path):
    import subprocess
    import sys

    path = write(tmp_path, HEADER + "ops_people,9,floor,,,\n")
    result = subprocess.run(
        [sys.executable, "-m", "silosim.cli", "validate", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "ties.csv:2: index: expected an integer in 1 … 3" in result.stdout + result.stderr
