"""An observed network measured and reported (silosim.ona.report), on hand-built graphs with answers worked by hand."""

import itertools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from silosim import network
from silosim.ona import report
from silosim.ona.read import ObservedNetwork


def observed(edges, attributes: dict[str, list[str]], *, weights=None, directed=False, notes=None) -> ObservedNetwork:
    """An ObservedNetwork built by hand: nodes p0, p1, … with the given attribute columns."""
    n = len(next(iter(attributes.values())))
    ids = [f"p{i}" for i in range(n)]
    source, target = (np.array(edges, dtype=np.int64).reshape(-1, 2).T) if edges else (np.zeros(0, int),) * 2
    weight = np.ones(len(source)) if weights is None else np.asarray(weights, dtype=float)
    return ObservedNetwork(
        ids=ids,
        attributes=pd.DataFrame(attributes, index=pd.Index(ids, name="id")),
        source=source,
        target=target,
        weight=weight,
        directed=directed,
        graph=network.graph_from_edges(source, target, weight, n, directed=directed),
        notes=notes if notes is not None else ["no weight column: every tie weighs 1."],
        edges_path=Path("edges.csv"),
        nodes_path=Path("nodes.csv"),
        weight_column=None if weights is None else "weight",
        format="csv",
    )


def groups_of(net: ObservedNetwork, attribute: str) -> tuple[np.ndarray, list[str]]:
    values = net.attributes[attribute].to_numpy()
    names = sorted(set(values))
    return np.array([names.index(v) for v in values], dtype=np.int64), names


def measure(net: ObservedNetwork, attribute: str = "department", **options) -> dict:
    groups, names = groups_of(net, attribute)
    return report.measure_network(net, groups, names, group_by=attribute, **options)


def two_cliques(k: int = 5) -> ObservedNetwork:
    """Two k-cliques, sales p0…p(k-1) and hr pk…p(2k-1), joined by the one tie p(k-1)–pk."""
    edges = [*itertools.combinations(range(k), 2), *itertools.combinations(range(k, 2 * k), 2), (k - 1, k)]
    return observed(edges, {"department": ["sales"] * k + ["hr"] * k, "site": ["paris", "lyon"] * k})


# --- two cliques joined by a bridge -------------------------------------------------------------------


def test_two_cliques_are_silos_against_chance_and_the_bridge_ends_broker():
    result = measure(two_cliques())
    by = {r["name"]: r for r in result["groups"]}
    for name in ("sales", "hr"):
        # 10 ties inside, 1 leaving: share 1/11, E-I (1 − 10) / 11
        assert by[name]["ties_inside"] == 10 and by[name]["ties_leaving"] == 1
        assert by[name]["share_leaving"] == pytest.approx(1 / 11)
        assert by[name]["ei"] == pytest.approx(-9 / 11)
        # only 2 of the C(10, 5) = 252 labellings (this one and its mirror) are as inward
        assert by[name]["p_internal"] < 0.05
        assert by[name]["ei"] < by[name]["null_low"]
        assert by[name]["verdict"] == "silo"
    ei = result["ei"]
    assert ei["observed"] == pytest.approx((1 - 20) / 21)
    assert ei["baseline"] == pytest.approx(0.0)  # two groups holding half the tie-ends each: half the ties across
    assert ei["verdict"] == "silo" and len(ei["null"]) == 999
    # the bridge's ends: least constrained, and the only brokers between groups (4 pairs, both ways, 2 roles)
    assert [b["id"] for b in result["bridges"][:2]] == ["p4", "p5"] or [b["id"] for b in result["bridges"][:2]] == [
        "p5",
        "p4",
    ]
    assert {b["id"] for b in result["brokers"]} == {"p4", "p5"}
    for b in result["brokers"]:
        assert b["brokerage_between_groups"] == 8
        assert b["brokerage"]["representative"] == 4 and b["brokerage"]["gatekeeper"] == 4
    assert result["modularity"]["n_detected"] == 2 and result["modularity"]["ari"] == 1.0


def test_the_conclusion_names_the_silos_and_the_bridges():
    text = report.conclusion(measure(two_cliques()))
    first = text.split("\n\n")[0]
    assert first.startswith("Both groups by department are silos against chance")
    assert "sales (E-I −0.82 against" in first and "hr (E-I −0.82" in first
    assert "Not silos" not in first
    bridges = next(p for p in text.split("\n\n") if p.startswith("Who bridges"))
    assert "p4 (sales" in bridges and "p5 (hr" in bridges
    assert "8 two-paths between groups: 4 as representative, 4 as gatekeeper" in bridges
    assert "no weight column: every tie weighs 1" in text  # the reader's notes
    assert "closely follow" in text  # ARI 1


def test_a_complete_graph_mixes_as_chance_whatever_the_labels():
    # in K_12 every labelling has the same ties inside each group: the null is one value, p = 1
    net = observed(list(itertools.combinations(range(12), 2)), {"department": ["a", "b", "c"] * 4})
    result = measure(net, n_permutations=99)
    for record in result["groups"]:
        # 6 ties inside a group of 4, 4 × 8 = 32 leaving: E-I (32 − 6) / 38
        assert record["ei"] == pytest.approx(26 / 38)
        assert record["null_low"] == pytest.approx(26 / 38) == record["null_high"]
        assert record["verdict"] == "chance"  # not below its interval, though it rounds 1 ulp under it
    assert result["ei"]["p_internal"] == 1.0
    assert "No group by department is a silo against chance" in report.conclusion(result)


def test_a_group_whose_every_shuffle_ties_it_has_p_one():
    net = observed(list(itertools.combinations(range(12), 2)), {"department": ["a", "b", "c"] * 4})
    assert [r["p_internal"] for r in measure(net, n_permutations=99)["groups"]] == [1.0, 1.0, 1.0]


def test_a_random_graph_has_no_silo():
    rng = np.random.default_rng(5)
    n = 120
    pairs = np.array(list(itertools.combinations(range(n), 2)))
    edges = pairs[rng.random(len(pairs)) < 0.06]
    labels = rng.permutation(np.repeat(["a", "b", "c", "d"], n // 4)).tolist()  # labels unrelated to the ties
    result = measure(observed(edges.tolist(), {"department": labels}), n_permutations=199)
    assert [r["verdict"] for r in result["groups"]] == ["chance"] * 4
    assert result["ei"]["verdict"] == "chance"
    assert result["ei"]["null_low"] <= result["ei"]["observed"] <= result["ei"]["null_high"]
    assert abs(result["modularity"]["ari"]) < 0.1  # Leiden's communities have nothing to do with the labels


def test_a_bipartite_graph_between_two_groups_is_more_open_than_chance():
    edges = [(i, j) for i in range(5) for j in range(5, 10)]
    result = measure(observed(edges, {"department": ["a"] * 5 + ["b"] * 5}), n_permutations=199)
    assert [r["ei"] for r in result["groups"]] == [1.0, 1.0]
    assert [r["verdict"] for r in result["groups"]] == ["open", "open"]
    assert "More open than chance: a (E-I 1.00" in report.conclusion(result)


# --- the tie matrix and the files ------------------------------------------------------------------


def weighted() -> ObservedNetwork:
    # A = {p0, p1, p2}, B = {p3, p4}, C = {p5} alone with no tie
    edges = [(0, 1), (1, 2), (0, 3), (3, 4), (2, 4)]
    return observed(edges, {"department": ["A", "A", "A", "B", "B", "C"]}, weights=[2, 1, 3, 4, 1])


def test_the_group_to_group_matrix_and_shares_leaving_by_hand():
    result = measure(weighted(), n_permutations=49)
    mixing = result["mixing"]
    assert mixing["groups"] == ["A", "B", "C"]
    # A inside: 2 + 1; A–B: 3 + 1; B inside: 4
    assert mixing["weights"] == [[3.0, 4.0, 0.0], [4.0, 4.0, 0.0], [0.0, 0.0, 0.0]]
    assert mixing["counts"] == [[2.0, 2.0, 0.0], [2.0, 1.0, 0.0], [0.0, 0.0, 0.0]]
    assert mixing["row_share"][0] == pytest.approx([3 / 7, 4 / 7, 0.0])
    assert mixing["row_share"][2] == [None, None, None]  # C has no tie: 0 / 0
    by = {r["name"]: r for r in result["groups"]}
    assert by["A"]["share_leaving"] == pytest.approx(4 / 7)
    assert by["B"]["share_leaving"] == pytest.approx(0.5)
    assert by["C"]["ei"] is None and by["C"]["verdict"] == "undefined"


def test_the_files_hold_every_node_and_group_with_values_worked_by_hand(tmp_path):
    net = weighted()
    result = measure(net, n_permutations=49)
    written = report.write_measures(result, net, tmp_path / "out")
    assert sorted(p.name for p in written) == sorted(report.FILES)
    assert all(p.is_file() and p.stat().st_size > 0 for p in written)

    groups = pd.read_csv(tmp_path / "out" / "groups.csv")
    assert groups["group"].tolist() == ["A", "B", "C"]
    assert groups["size"].tolist() == [3, 2, 1]
    a = groups.iloc[0]
    assert (a["weight_inside"], a["weight_leaving"]) == (3.0, 4.0)
    assert a["share_leaving"] == pytest.approx(a["weight_leaving"] / (a["weight_inside"] + a["weight_leaving"]))
    shares = groups["weight_leaving"] / (groups["weight_inside"] + groups["weight_leaving"])
    assert groups["share_leaving"].iloc[:2].tolist() == pytest.approx(shares.iloc[:2].tolist())
    assert groups["ei_index"].iloc[0] == pytest.approx((4 - 3) / 7)
    for column in ("null_low", "null_high", "p_internal", "verdict", "brokerage_total", "z_mean_total"):
        assert column in groups

    nodes = pd.read_csv(tmp_path / "out" / "nodes.csv", dtype={"id": str})
    assert nodes["id"].tolist() == [f"p{i}" for i in range(6)]
    expected = ["id", "department", "group", "degree", "strength", "constraint", "effective_size"]
    expected += [f"brokerage_{role}" for role in network.ROLES] + [f"z_{role}" for role in network.ROLES]
    expected += ["community_detected"]
    assert nodes.columns.tolist() == expected
    assert nodes["degree"].tolist() == [2, 2, 2, 2, 2, 0]
    assert nodes["strength"].tolist() == [5.0, 3.0, 2.0, 7.0, 5.0, 0.0]
    assert math.isnan(nodes["constraint"].iloc[5])  # the isolated p5: an empty cell
    # p3's contacts p0 (3) and p4 (4), unconnected: constraint (3/7)² + (4/7)², effective size 2
    assert nodes["constraint"].iloc[3] == pytest.approx((3 / 7) ** 2 + (4 / 7) ** 2)
    assert nodes["effective_size"].iloc[3] == pytest.approx(2.0)

    document = json.loads((tmp_path / "out" / "measures.json").read_text(), parse_constant=_refuse)
    assert document["nodes"] == {"file": "nodes.csv", "columns": expected}
    assert document["groups"][2]["ei"] is None  # NaN written as null
    assert document["mixing"]["row_share"][2] == [None, None, None]
    assert (tmp_path / "out" / "conclusion.txt").read_text().strip() == report.conclusion(result)


def _refuse(constant: str) -> None:
    raise AssertionError(f"measures.json holds {constant}, which is not JSON")


def test_json_ready_turns_nan_and_infinities_into_null():
    value = {"a": math.nan, "b": np.array([1.0, np.nan]), "c": np.float64(np.inf), "d": [np.int64(3)], 4: (1.5,)}
    assert report.json_ready(value) == {"a": None, "b": [1.0, None], "c": None, "d": [3], "4": [1.5]}
    assert report.json_ready(np.array([[np.nan, 2.0]])) == [[None, 2.0]]


def test_nothing_is_left_when_writing_fails(tmp_path, monkeypatch):
    net = weighted()
    result = measure(net, n_permutations=9)

    def broken(*args):
        raise RuntimeError("disk full")

    monkeypatch.setattr(report, "_plots", broken)
    with pytest.raises(RuntimeError):
        report.write_measures(result, net, tmp_path / "out")
    assert list(tmp_path.iterdir()) == []


def test_directed_ties_leaving_count_both_ways():
    # A = {p0, p1}, B = {p2}: p0 → p1 inside, p0 → p2 sent, p2 → p1 received
    net = observed([(0, 1), (0, 2), (2, 1)], {"department": ["A", "A", "B"]}, directed=True)
    result = measure(net, n_permutations=9)
    a, b = result["groups"]
    assert (a["ties_inside"], a["ties_leaving"], a["share_leaving"]) == (1.0, 2.0, pytest.approx(2 / 3))
    assert (b["ties_inside"], b["ties_leaving"], b["share_leaving"]) == (0.0, 2.0, 1.0)
    assert result["mixing"]["counts"] == [[1.0, 1.0], [1.0, 0.0]]  # from row to column


def test_a_second_partition_is_measured_and_compared():
    net = two_cliques(4)
    groups, names = groups_of(net, "department")
    result = report.measure_network(
        net, groups, names, communities=groups_of(net, "site"), group_by="department", community_by="site"
    )
    second = result["community_by"]
    assert second["attribute"] == "site"
    # the sites alternate across the cliques: modularity 4/13 − 2 × (1/2)², ARI −1/6 (tests/test_network.py)
    assert second["modularity"] == pytest.approx(4 / 13 - 1 / 2)
    assert second["ari_with_groups"] == pytest.approx(-1 / 6)
    assert second["ari_with_detected"] == pytest.approx(-1 / 6)
    assert [r["verdict"] for r in second["groups"]] != ["silo", "silo"]
    text = report.conclusion(result)
    assert "By site:" in text and "cut across the department groups" in text


def test_the_network_plot_draws_groups_as_nodes_above_the_limit(monkeypatch):
    import matplotlib.pyplot as plt

    net = two_cliques()
    result = measure(net, n_permutations=9)
    fig = report.network_figure(result, net)
    assert "too many" not in fig.axes[0].get_title()
    plt.close(fig)
    monkeypatch.setattr(report, "DRAW_NODES", 5)
    fig = report.network_figure(result, net)
    title = fig.axes[0].get_title()
    assert "too many to draw one by one" in title and "sized by headcount" in title
    labels = [t.get_text() for t in fig.axes[0].texts]
    assert any(label.startswith("sales\n5\n") and "p4" in label for label in labels)  # the brokers marked
    plt.close(fig)


def test_the_timings_name_every_stage():
    timings: dict[str, float] = {}
    measure(two_cliques(), n_permutations=9, timings=timings)
    assert set(timings) == {"other", "E-I test", "communities (Leiden)", "constraint", "effective size", "brokerage"}
    assert all(t >= 0 for t in timings.values())
