"""Measures of merge versus silo, checked on small graphs whose answers are known by hand."""

from __future__ import annotations

import math

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from silosim import metrics

# --------------------------------------------------------------------------- helpers


def adjacency(graph: nx.Graph, weight: str | None = "weight") -> sp.csr_array:
    """Symmetric sparse adjacency in node order 0..n-1."""
    return sp.csr_array(nx.to_scipy_sparse_array(graph, nodelist=sorted(graph.nodes), weight=weight))


def upper(graph: sp.csr_array) -> sp.csr_array:
    """Upper triangle of a symmetric matrix: each tie stored once."""
    return sp.csr_array(sp.triu(graph, k=1))


def two_cliques(size: int = 4) -> tuple[nx.Graph, np.ndarray]:
    """Two disjoint complete graphs of `size` nodes, partition = clique."""
    graph = nx.disjoint_union(nx.complete_graph(size), nx.complete_graph(size))
    return graph, np.repeat([0, 1], size)


def two_cliques_bridged(bridge: float, size: int = 4) -> nx.Graph:
    """Two cliques joined by one tie of weight `bridge` between node size-1 and node size."""
    graph, _ = two_cliques(size)
    graph.add_edge(size - 1, size, weight=bridge)
    return graph


def sets_to_partition(communities: list[set], n: int) -> np.ndarray:
    partition = np.full(n, -1)
    for g, members in enumerate(communities):
        partition[list(members)] = g
    return partition


def karate() -> tuple[nx.Graph, np.ndarray]:
    """Zachary's karate club (weighted), partition = the club each member joined."""
    graph = nx.karate_club_graph()
    partition = np.array([0 if graph.nodes[v]["club"] == "Mr. Hi" else 1 for v in sorted(graph.nodes)])
    return graph, partition


def les_miserables() -> tuple[nx.Graph, np.ndarray, list[str]]:
    """Les Misérables co-appearances (weighted, integer-labelled), partition = Louvain communities."""
    named = nx.les_miserables_graph()
    names = sorted(named.nodes)
    graph = nx.relabel_nodes(named, {name: i for i, name in enumerate(names)})
    communities = nx.community.louvain_communities(graph, weight="weight", seed=7)
    return graph, sets_to_partition(communities, len(names)), names


# --------------------------------------------------------------------------- block matrix


def test_block_matrix_by_hand():
    # path 0 -(2)- 1 -(3)- 2, groups {0, 1} and {2}
    tri = sp.csr_array(np.array([[0, 2, 0], [0, 0, 3], [0, 0, 0]], dtype=float))
    partition = np.array([0, 0, 1])
    block = metrics.block_matrix(tri, partition)
    # the 0-1 tie (weight 2) is inside group 0: counted twice on B[0, 0]
    np.testing.assert_allclose(block, [[4, 3], [3, 0]])
    assert block.sum() == pytest.approx(2 * 5)  # twice the total tie weight
    # the symmetric matrix reads each tie as w[i, j] + w[j, i]: twice the weight
    np.testing.assert_allclose(metrics.block_matrix(tri + tri.T, partition), [[8, 6], [6, 0]])


def test_block_matrix_extra_groups_ignored_nodes_and_diagonal():
    tri = sp.csr_array(np.array([[5, 2, 0, 1], [0, 0, 3, 1], [0, 0, 0, 1], [0, 0, 0, 0]], dtype=float))
    partition = np.array([0, 0, 1, -1])  # node 3 is outside every group; the self-tie of node 0 is ignored
    block = metrics.block_matrix(tri, partition, n_groups=3)
    np.testing.assert_allclose(block, [[4, 3, 0], [3, 0, 0], [0, 0, 0]])


# --------------------------------------------------------------------------- primary community


def test_primary_community_by_hand():
    # ties as COO entries holder -> partner, each living in a community (-1: a council tie, in none)
    rows, cols = np.array([0, 0, 1, 2, 3, 4]), np.array([1, 2, 2, 0, 4, 3])
    weights = np.array([0.5, 0.4, 0.3, 0.2, 0.7, 0.1])
    community = np.array([0, 1, 1, 1, -1, -1])
    graph = sp.coo_array((weights, (rows, cols)), shape=(6, 6))
    # node 0: community 0 holds 0.5, community 1 holds 0.4 + 0.2 (both ends count) = 0.6 -> 1
    # node 1: 0.5 in 0, 0.3 in 1 -> 0; node 2: 0.4 + 0.3 + 0.2 in 1 -> 1
    # nodes 3 and 4: only council ties -> -1; node 5: no tie -> -1
    assert metrics.primary_community(graph, community, 2).tolist() == [1, 0, 1, -1, -1, -1]
    # a tie in community 2 of weight 1 makes it node 4's, and node 3's, primary community
    more = sp.coo_array((np.r_[weights, 1.0], (np.r_[rows, 4], np.r_[cols, 3])), shape=(6, 6))
    assert metrics.primary_community(more, np.r_[community, 2], 3).tolist() == [1, 0, 1, 2, 2, -1]
    # equal weight in two communities: the lower-numbered one
    tie = sp.coo_array((np.array([0.5, 0.5]), (np.array([0, 0]), np.array([1, 2]))), shape=(3, 3))
    assert metrics.primary_community(tie, np.array([1, 0]), 2).tolist() == [0, 1, 0]


# --------------------------------------------------------------------------- E-I index


def test_two_disconnected_cliques_are_two_closed_silos():
    graph, partition = two_cliques(4)
    adj = adjacency(graph)
    assert metrics.ei_index(adj, partition) == pytest.approx(-1.0)
    # nothing crosses: each community's items stay at home, so each is a silo of its own
    labels = metrics.silo_labels(np.eye(2), floor=0.01)
    assert metrics.silo_count(labels) == 2
    assert list(labels) == [0, 1]
    assert metrics.largest_merged_share(labels, np.bincount(partition)) == pytest.approx(0.5)
    # equal groups, every tie inside: Q = 1 - 1/2
    assert metrics.modularity(adj, partition) == pytest.approx(0.5)


def test_complete_bipartite_every_tie_crosses():
    graph = nx.complete_bipartite_graph(3, 4)
    partition = np.array([0] * 3 + [1] * 4)
    adj = adjacency(graph)
    assert metrics.ei_index(adj, partition) == pytest.approx(1.0)
    # both sides hold half the tie-ends (3 * 4 each): Q = 0 - 2 * (1/2)^2
    assert metrics.modularity(adj, partition) == pytest.approx(-0.5)
    # every item reaches every member of the other side: one silo
    labels = metrics.silo_labels(np.array([[0.3, 1.0], [1.0, 0.3]]), floor=0.5)
    assert metrics.silo_count(labels) == 1


def test_ei_index_by_hand_on_weights():
    # triangle 0-1 (w 1, inside), 1-2 (w 3, across), 0-2 (w 2, across): E = 5, I = 1
    graph = nx.Graph()
    graph.add_weighted_edges_from([(0, 1, 1.0), (1, 2, 3.0), (0, 2, 2.0)])
    assert metrics.ei_index(adjacency(graph), np.array([0, 0, 1])) == pytest.approx((5 - 1) / (5 + 1))


def test_ei_index_ignores_nodes_outside_every_group():
    graph, partition = two_cliques(3)
    graph.add_edges_from([(6, 0), (6, 3)])  # a node outside every group tied to both cliques
    with_outsider = metrics.ei_index(adjacency(graph), np.append(partition, -1))
    assert with_outsider == pytest.approx(-1.0)


def test_ei_index_nan_without_ties():
    empty = sp.csr_array((4, 4))
    partition = np.array([0, 0, 1, 1])
    assert math.isnan(metrics.ei_index(empty, partition))
    assert math.isnan(metrics.ei_baseline(empty, partition))
    assert math.isnan(metrics.modularity(empty, partition))


@pytest.mark.parametrize("groups", [2, 3, 4])
def test_ei_baseline_equal_groups_regular_graph(groups):
    expected = 1 - 2 / groups
    regular = nx.random_regular_graph(3, 12, seed=groups)
    assert metrics.ei_baseline(adjacency(regular), np.arange(12) % groups) == pytest.approx(expected)
    cycle = nx.cycle_graph(12)
    assert metrics.ei_baseline(adjacency(cycle), np.arange(12) // (12 // groups)) == pytest.approx(expected)


def test_ei_baseline_unequal_shares_by_hand():
    # star: centre 0 in group 0, four leaves in group 1; tie-ends: group 0 holds 4 of 8
    star = nx.star_graph(4)
    partition = np.array([0, 1, 1, 1, 1])
    assert metrics.ei_baseline(adjacency(star), partition) == pytest.approx(1 - 2 * (0.5**2 + 0.5**2))
    # centre and one leaf in group 0: tie-ends 5 of 8 vs 3 of 8
    partition = np.array([0, 0, 1, 1, 1])
    assert metrics.ei_baseline(adjacency(star), partition) == pytest.approx(1 - 2 * ((5 / 8) ** 2 + (3 / 8) ** 2))


# --------------------------------------------------------------------------- modularity


def _modularity_cases():
    graph, partition = two_cliques(4)
    yield "two cliques", graph, partition
    yield "bridged cliques", two_cliques_bridged(1.0), np.repeat([0, 1], 4)
    yield "barbell with path", nx.barbell_graph(4, 2), np.array([0] * 5 + [1] * 5)
    yield "karate (weighted)", *karate()
    graph, partition, _ = les_miserables()
    yield "les miserables (weighted)", graph, partition
    weighted = nx.Graph()
    weighted.add_weighted_edges_from([(0, 1, 5.0), (1, 2, 0.5), (2, 3, 4.0), (3, 0, 0.25), (0, 2, 2.0), (4, 1, 1.5)])
    yield "small weighted, three groups", weighted, np.array([0, 0, 1, 1, 2])


@pytest.mark.parametrize(
    ("label", "graph", "partition"), [pytest.param(*case, id=case[0]) for case in _modularity_cases()]
)
def test_modularity_matches_networkx(label, graph, partition):
    groups = [set(np.flatnonzero(partition == g).tolist()) for g in range(partition.max() + 1)]
    expected = nx.community.modularity(graph, groups, weight="weight")
    adj = adjacency(graph)
    assert metrics.modularity(adj, partition) == pytest.approx(expected), label
    relation = (metrics.ei_baseline(adj, partition) - metrics.ei_index(adj, partition)) / 2
    assert metrics.modularity(adj, partition) == pytest.approx(relation), label


def test_from_block_variants_agree():
    graph, partition = karate()
    adj = adjacency(graph)
    block = metrics.block_matrix(adj, partition)
    assert metrics.ei_from_block(block) == pytest.approx(metrics.ei_index(adj, partition))
    assert metrics.ei_baseline_from_block(block) == pytest.approx(metrics.ei_baseline(adj, partition))
    assert metrics.modularity_from_block(block) == pytest.approx(metrics.modularity(adj, partition))


# --------------------------------------------------------------------------- undirected reading


def test_upper_triangle_and_directed_inputs_read_as_the_symmetric_graph():
    graph, partition, _ = les_miserables()
    sym = adjacency(graph)
    tri = upper(sym)
    # a directed matrix whose two directions sum to the symmetric weight
    rng = np.random.default_rng(3)
    coo = sp.coo_array(tri)
    split = rng.uniform(0, 1, coo.nnz)
    directed = sp.csr_array(
        (
            np.concatenate([coo.data * split, coo.data * (1 - split)]),
            (np.r_[coo.row, coo.col], np.r_[coo.col, coo.row]),
        ),
        shape=sym.shape,
    )
    nodes = np.arange(sym.shape[0])
    expected_constraint = metrics.burt_constraint(sym, nodes)
    for variant in (tri, directed, tri.T):
        for measure in (metrics.ei_index, metrics.ei_baseline, metrics.modularity):
            assert measure(variant, partition) == pytest.approx(measure(sym, partition))
        block_sym = metrics.block_matrix(sym, partition)
        block_var = metrics.block_matrix(variant, partition)
        np.testing.assert_allclose(block_var / block_var.sum(), block_sym / block_sym.sum())
        np.testing.assert_allclose(metrics.burt_constraint(variant, nodes), expected_constraint)


# --------------------------------------------------------------------------- silos (from the flow matrix)

# A flow matrix F[a, b] is the mean share of b's members who knew an item from a (metrics.flow_matrix).


def test_silo_labels_join_only_two_way_flow():
    one_way = np.array([[1.0, 0.6], [0.0, 1.0]])  # 0's items reach 60% of 1's members, 1's reach nobody in 0
    assert list(metrics.silo_labels(one_way, floor=0.1)) == [0, 1]
    assert list(metrics.silo_labels(one_way.T, floor=0.1)) == [0, 1]
    two_way = np.array([[1.0, 0.6], [0.3, 1.0]])
    assert list(metrics.silo_labels(two_way, floor=0.1)) == [0, 0]
    # the rule reads both directions alike: the transpose joins the same pairs
    assert list(metrics.silo_labels(two_way.T, floor=0.1)) == [0, 0]


def test_silo_labels_floor_applies_to_the_weaker_direction():
    flow = np.array([[1.0, 0.5], [0.2, 1.0]])  # weaker direction: 1 -> 0 at 0.2
    assert metrics.silo_count(metrics.silo_labels(flow, floor=0.2)) == 1
    assert metrics.silo_count(metrics.silo_labels(flow, floor=0.21)) == 2
    assert metrics.largest_merged_share(metrics.silo_labels(flow, floor=0.2), [4, 4]) == pytest.approx(1.0)
    # the diagonal (reach at home) joins nothing: full reach at home leaves two silos
    assert metrics.silo_count(metrics.silo_labels(np.diag([1.0, 1.0]), floor=0.0)) == 2


def test_silo_labels_floor_boundary_is_inclusive():
    flow = np.array([[0.9, 0.125], [0.125, 0.9]])  # 0.125 is exact in binary
    assert list(metrics.silo_labels(flow, floor=0.125)) == [0, 0]  # 0.125 >= 0.125
    assert list(metrics.silo_labels(flow, floor=np.nextafter(0.125, 1))) == [0, 1]
    # floor 0 joins any pair that exchanges something both ways, never a pair short of one direction
    assert list(metrics.silo_labels(np.array([[1.0, 1e-9], [1e-9, 1.0]]), floor=0.0)) == [0, 0]
    assert list(metrics.silo_labels(np.array([[1.0, 1e-9], [0.0, 1.0]]), floor=0.0)) == [0, 1]
    assert list(metrics.silo_labels(np.eye(2), floor=0.0)) == [0, 1]


def test_silo_labels_communities_without_ended_items_join_nothing():
    nan = math.nan
    flow = np.array([[1.0, 0.5, 0.5], [nan, nan, nan], [0.5, 0.5, 1.0]])  # no item from community 1 ended
    assert list(metrics.silo_labels(flow, floor=0.1)) == [0, 1, 0]


def test_silo_labels_chains_absent_communities_and_renumbering():
    # 0 <-> 1 and 1 <-> 2 at 0.2 both ways, nothing between 0 and 2: one silo through 1
    chain = np.array([[1.0, 0.2, 0.0], [0.2, 1.0, 0.2], [0.0, 0.2, 1.0]])
    assert list(metrics.silo_labels(chain, floor=0.1)) == [0, 0, 0]
    # a join through an absent community does not count
    labels = metrics.silo_labels(chain, floor=0.1, present=np.array([True, False, True]))
    assert list(labels) == [0, -1, 1]
    assert metrics.silo_count(labels) == 2
    # labels run 0..k-1 in order of first appearance among present communities
    flow = np.eye(4)
    flow[1, 3] = flow[3, 1] = 0.5
    labels = metrics.silo_labels(flow, floor=0.1, present=[False, True, True, True])
    assert list(labels) == [-1, 0, 1, 0]
    assert metrics.silo_count(labels) == 2
    # an absent community joins nothing, whatever flow is recorded to and from it
    assert list(metrics.silo_labels(flow, floor=0.1, present=[True, True, True, False])) == [0, 1, 2, -1]


def test_silo_count_and_largest_merged_share():
    assert metrics.silo_count(np.array([-1, -1])) == 0
    assert metrics.silo_count(np.array([0, 2, 2, -1, 1])) == 3
    assert metrics.largest_merged_share([0, 0, 1], [3, 5, 2]) == pytest.approx(0.8)
    assert metrics.largest_merged_share([0, -1, 1], [3, 100, 1]) == pytest.approx(0.75)
    assert metrics.largest_merged_share([0, 1, 2], [1, 1, 1]) == pytest.approx(1 / 3)
    assert math.isnan(metrics.largest_merged_share([-1, -1], [3, 4]))
    assert math.isnan(metrics.largest_merged_share([0, 1], [0, 0]))


# --------------------------------------------------------------------------- Burt's constraint


def test_burt_constraint_barbell_matches_networkx_and_bridges_are_less_constrained():
    graph = nx.barbell_graph(5, 0)  # K5 on 0..4, K5 on 5..9, bridge 4-5
    adj = adjacency(graph)
    nodes = np.arange(10)
    constraint = metrics.burt_constraint(adj, nodes)
    expected = nx.constraint(graph)
    np.testing.assert_allclose(constraint, [expected[v] for v in nodes])
    assert constraint[4] == pytest.approx(constraint[5])
    assert constraint[4] < constraint[0]
    assert constraint[5] < constraint[9]


def test_burt_constraint_barbell_with_path_by_hand():
    graph = nx.barbell_graph(5, 1)  # K5 on 0..4, path node 5, K5 on 6..10
    constraint = metrics.burt_constraint(adjacency(graph), np.array([5, 4, 0]))
    # path node: two unconnected neighbours with half its ties each
    assert constraint[0] == pytest.approx(0.5)
    # bridge end 4: five neighbours at 1/5; each of 0..3 also reached through 3 others at 1/4
    assert constraint[1] == pytest.approx(4 * (1 / 5 + 3 * (1 / 5) * (1 / 4)) ** 2 + (1 / 5) ** 2)
    # clique node 0: four neighbours at 1/4; 1..3 reached through two clique nodes (1/4) and node 4 (1/5)
    to_clique = (1 / 4 + (1 / 4) * (1 / 4 + 1 / 4 + 1 / 5)) ** 2
    to_bridge = (1 / 4 + 3 * (1 / 4) * (1 / 4)) ** 2
    assert constraint[2] == pytest.approx(3 * to_clique + to_bridge)
    assert constraint[0] < constraint[1] < constraint[2]
    expected = nx.constraint(graph)
    np.testing.assert_allclose(constraint, [expected[5], expected[4], expected[0]])


def test_burt_constraint_weighted_matches_networkx():
    graph, _ = karate()
    nodes = np.array([0, 2, 11, 33])  # 11 has a single tie: constraint 1
    constraint = metrics.burt_constraint(adjacency(graph), nodes)
    expected = nx.constraint(graph, nodes=nodes.tolist(), weight="weight")
    np.testing.assert_allclose(constraint, [expected[v] for v in nodes])
    assert constraint[2] == pytest.approx(1.0)


def test_burt_constraint_isolated_node_is_nan():
    graph = nx.barbell_graph(3, 0)
    graph.add_node(6)
    constraint = metrics.burt_constraint(adjacency(graph), np.array([6, 0]))
    assert math.isnan(constraint[0])
    assert math.isfinite(constraint[1])


# --------------------------------------------------------------------------- information


def test_flow_matrix_by_hand():
    # items that ended, by origin: 4 from community 0, 2 from community 1, none from community 2;
    # share_sum[a, b]: the sum over a's items of the share of b's members who knew the item
    share_sum = np.array([[4.0, 1.0, 2.0], [0.6, 1.5, 0.2], [0.0, 0.0, 0.0]])
    flow = metrics.flow_matrix(share_sum, np.array([4, 2, 0]))
    np.testing.assert_allclose(flow[:2], [[1.0, 0.25, 0.5], [0.3, 0.75, 0.1]])
    assert np.isnan(flow[2]).all()  # no item from community 2 ended: unknown, not zero


def test_cross_reach_is_the_mean_over_ordered_pairs_of_distinct_communities():
    flow = np.array([[1.0, 0.25, 0.5], [0.3, 0.75, 0.1], [math.nan] * 3])
    # pairs 0->1, 0->2, 1->0, 1->2 (the diagonal and community 2's unknown row are left out)
    assert metrics.cross_reach(flow) == pytest.approx((0.25 + 0.5 + 0.3 + 0.1) / 4)
    # an absent community is left out as origin and as destination: 0->1 and 1->0 only
    assert metrics.cross_reach(flow, np.array([True, True, False])) == pytest.approx((0.25 + 0.3) / 2)
    # each pair counts once whatever the communities' sizes: a flow of shares, not of people
    assert metrics.cross_reach(np.array([[1.0, 0.0], [1.0, 1.0]])) == pytest.approx(0.5)


def test_cross_reach_nan_without_a_pair():
    assert math.isnan(metrics.cross_reach(np.array([[0.7]])))  # one community: no pair
    assert math.isnan(metrics.cross_reach(np.full((2, 2), math.nan)))  # no item ended
    flow = np.array([[1.0, 0.4], [0.2, 1.0]])
    assert math.isnan(metrics.cross_reach(flow, np.array([True, False])))
    assert math.isnan(metrics.cross_reach(np.zeros((0, 0))))
    assert metrics.cross_reach(np.eye(3)) == 0.0  # items that stay home: exactly zero


def test_time_to_insight():
    assert metrics.time_to_insight(np.array([4.0, 1.0, 3.0])) == pytest.approx(3.0)
    assert metrics.time_to_insight(np.array([1.0, 2.0, 4.0, 10.0])) == pytest.approx(3.0)
    # a minority never arrived: still a finite median
    assert metrics.time_to_insight(np.array([1.0, 3.0, np.inf])) == pytest.approx(3.0)
    assert metrics.time_to_insight(np.array([2.0, 5.0, 7.0, np.inf, np.inf])) == pytest.approx(7.0)
    # half never arrived: the median sits on a never, so it is not finite
    assert math.isnan(metrics.time_to_insight(np.array([1.0, 2.0, np.inf, np.inf])))
    # most never arrived
    assert math.isnan(metrics.time_to_insight(np.array([1.0, np.inf, np.inf])))
    assert math.isnan(metrics.time_to_insight(np.array([np.inf])))
    assert math.isnan(metrics.time_to_insight(np.array([])))
    assert math.isnan(metrics.time_to_insight([]))


# --------------------------------------------------------------------------- trend and convergence


def test_trend_of_a_straight_line_is_its_rise_over_the_span():
    steps = np.array([110, 120, 130, 140, 150])
    values = 0.2 + 0.004 * (steps - 110)  # up 0.004 a step, over a span of 40 steps
    change, error = metrics.trend(steps, values)
    assert change == pytest.approx(0.16)
    assert error == pytest.approx(0.0, abs=1e-12)
    falling, _ = metrics.trend(steps, values[::-1])
    assert falling == pytest.approx(-0.16)


def test_trend_of_a_flat_series_is_zero():
    change, error = metrics.trend(np.array([10, 20, 30, 40]), np.full(4, 0.3))
    assert change == pytest.approx(0.0, abs=1e-15)
    assert error == pytest.approx(0.0, abs=1e-15)


def test_trend_by_hand_with_noise_and_a_missing_value():
    # (0, 0), (1, 2), (2, 1): slope 1/2, residuals -1/2, 1, -1/2, SE sqrt(1.5 / 1 / 2); span 2
    change, error = metrics.trend(np.array([0, 1, 2]), np.array([0.0, 2.0, 1.0]))
    assert change == pytest.approx(1.0)
    assert error == pytest.approx(2 * math.sqrt(0.75))
    # the NaN at step 1 is left out: (0, 0), (2, 2), (3, 4): slope 9/7, SE sqrt(3) / 7; span 3
    change, error = metrics.trend(np.array([0, 1, 2, 3]), np.array([0.0, math.nan, 2.0, 4.0]))
    assert change == pytest.approx(27 / 7)
    assert error == pytest.approx(3 * math.sqrt(3) / 7)


def test_trend_needs_three_points_at_two_steps_at_least():
    for steps, values in (([0, 1], [0.0, 1.0]), ([0, 1, 2], [0.0, math.nan, 1.0]), ([5, 5, 5], [0.1, 0.2, 0.3])):
        change, error = metrics.trend(np.array(steps), np.array(values))
        assert math.isnan(change) and math.isnan(error)


@pytest.mark.parametrize(
    ("change", "error", "tolerance", "expected"),
    [
        (0.05, 0.0, 0.05, True),  # at the tolerance: settled (inclusive)
        (-0.05, 0.0, 0.05, True),  # a fall counts like a rise
        (0.0501, 0.0, 0.05, False),
        (0.08, 0.04, 0.05, True),  # beyond the tolerance but within two standard errors of none
        (0.081, 0.04, 0.05, False),
        (-0.081, 0.04, 0.05, False),
        (0.3, 0.2, 0.05, True),  # a noisy small organisation is not unsettled on noise alone
        (math.nan, 0.0, 0.05, False),  # no trend (fewer than three measurements): not settled
        (math.inf, 1.0, 0.05, False),
    ],
)
def test_converged(change, error, tolerance, expected):
    assert metrics.converged(change, error, tolerance) is expected


# --------------------------------------------------------------------------- practices


def test_practice_convergence():
    assert metrics.practice_convergence(np.array([[1, 2, 3]] * 4)) == pytest.approx(1.0)
    assert metrics.practice_convergence(np.array([[0, 0], [1, 1], [2, 2]])) == pytest.approx(0.0)
    # pairs: (a, b) share 2 of 3 features, (a, c) 0 of 3, (b, c) 1 of 3
    mixed = np.array([[0, 0, 0], [0, 0, 1], [1, 1, 1]])
    assert metrics.practice_convergence(mixed) == pytest.approx((2 / 3 + 0 + 1 / 3) / 3)
    # pairs: 3 identical of 6 pairs, 3 sharing half of the features
    half = np.array([[0, 0], [0, 0], [0, 0], [0, 1]])
    assert metrics.practice_convergence(half) == pytest.approx((3 * 1 + 3 * 0.5) / 6)
    assert metrics.practice_convergence(np.array([[5, 5]])) == pytest.approx(1.0)


def test_culture_regions_chain():
    culture = np.array([[0, 1], [0, 1], [2, 2], [0, 1]])
    chain = np.array([[0, 1], [1, 2], [2, 3]])
    assert metrics.culture_regions(culture, chain) == 3  # {0, 1}, {2}, {3}
    assert metrics.culture_regions(culture) == 2  # distinct vectors
    assert metrics.culture_regions(np.array([[1, 1]] * 4), chain) == 1
    assert metrics.culture_regions(culture, np.empty((0, 2), dtype=int)) == 4


def test_culture_regions_grid():
    # 2x2 grid: 0 1 / 2 3, edges 0-1, 2-3, 0-2, 1-3
    grid = np.array([[0, 1], [2, 3], [0, 2], [1, 3]])
    diagonal = np.array([[7, 7], [8, 8], [8, 8], [7, 7]])  # identical vectors on the diagonals only
    assert metrics.culture_regions(diagonal, grid) == 4
    assert metrics.culture_regions(diagonal) == 2
    ell = np.array([[7, 7], [7, 7], [8, 8], [7, 7]])  # 0, 1, 3 form an L
    assert metrics.culture_regions(ell, grid) == 2
    assert metrics.culture_regions(np.empty((0, 2)), grid[:0]) == 0
    assert metrics.culture_regions(np.empty((0, 2))) == 0


# --------------------------------------------------------------------------- verdict


@pytest.mark.parametrize(
    ("largest", "silos", "communities", "reach", "expected"),
    [
        # merged needs both thresholds: largest share >= 0.9 and reach >= 0.5
        (0.9, 1, 3, 0.5, "merged"),  # exactly at both thresholds
        (1.0, 1, 3, 0.9, "merged"),
        (0.89, 1, 3, 0.9, "fragmented"),  # share just under
        (1.0, 1, 3, 0.49, "fragmented"),  # reach just under
        (math.nan, 1, 3, 0.9, "fragmented"),
        # siloed when reach is under 0.05, whatever the structure...
        (1.0, 1, 3, 0.049, "siloed"),
        (1.0, 1, 3, 0.05, "fragmented"),  # exactly at siloed_reach
        (1.0, 1, 3, math.nan, "siloed"),  # no item ended: no reach
        # ... or when every community is its own silo and reach stays under merged_reach
        (0.4, 3, 3, 0.49, "siloed"),
        (0.4, 2, 3, 0.49, "fragmented"),
        # wide crossing is never siloed, even with no pair joined both ways
        (0.4, 3, 3, 0.5, "fragmented"),
        (0.4, 3, 3, 0.95, "fragmented"),
        # a single community is one system: nothing to cross, whatever the (undefined) reach
        (1.0, 1, 1, 0.3, "merged"),
        (1.0, 1, 1, math.nan, "merged"),
    ],
)
def test_verdict_thresholds(largest, silos, communities, reach, expected):
    assert metrics.verdict(largest, silos, communities, reach) == expected
    defaults = {"merged_share": 0.9, "merged_reach": 0.5, "siloed_reach": 0.05}  # the schema's defaults
    assert metrics.verdict(largest, silos, communities, reach, **defaults) == expected


def test_verdict_custom_thresholds_boundary():
    kwargs = {"merged_share": 0.75, "merged_reach": 0.3, "siloed_reach": 0.1}
    assert metrics.verdict(0.75, 2, 4, 0.3, **kwargs) == "merged"
    assert metrics.verdict(np.nextafter(0.75, 0), 2, 4, 0.3, **kwargs) == "fragmented"
    assert metrics.verdict(0.75, 2, 4, np.nextafter(0.3, 0), **kwargs) == "fragmented"
    assert metrics.verdict(0.5, 2, 4, 0.1, **kwargs) == "fragmented"
    assert metrics.verdict(0.5, 2, 4, np.nextafter(0.1, 0), **kwargs) == "siloed"
    # every community alone: siloed below merged_reach, fragmented from it on
    assert metrics.verdict(0.5, 4, 4, np.nextafter(0.3, 0), **kwargs) == "siloed"
    assert metrics.verdict(0.5, 4, 4, 0.3, **kwargs) == "fragmented"
    assert set(metrics.VERDICTS) == {"merged", "fragmented", "siloed"}


def test_verdict_merged_is_checked_before_siloed():
    # thresholds where merged_reach is under siloed_reach: a reach between them is merged, not siloed
    kwargs = {"merged_share": 0.9, "merged_reach": 0.02, "siloed_reach": 0.05}
    assert metrics.verdict(1.0, 1, 3, 0.03, **kwargs) == "merged"
    assert metrics.verdict(0.5, 2, 3, 0.03, **kwargs) == "siloed"


def test_verdict_reason_names_the_deciding_threshold():
    assert metrics.verdict_reason(1.0, 1, 3, 0.8) == (
        "merged",
        "the largest group of joined communities holds 100% of members (merged_share 90%) "
        "and items reach 80% of other communities' members (merged_reach 50%)",
    )
    assert metrics.verdict_reason(1.0, 1, 3, 0.04) == (
        "siloed",
        "items reach 4% of other communities' members (siloed_reach 5%)",
    )
    assert metrics.verdict_reason(0.4, 3, 3, 0.3) == (
        "siloed",
        "no two of the 3 communities exchange items both ways (silo_floor)",
    )
    assert metrics.verdict_reason(0.5, 2, 3, 0.6) == (
        "fragmented",
        "the largest group of joined communities holds 50% of members (merged from merged_share 90%)",
    )
    assert metrics.verdict_reason(0.95, 1, 3, 0.2) == (
        "fragmented",
        "items reach 20% of other communities' members (merged from merged_reach 50%)",
    )
    verdict, reason = metrics.verdict_reason(0.5, 2, 3, 0.2)
    assert verdict == "fragmented"
    assert reason.split("; ") == [
        "the largest group of joined communities holds 50% of members (merged from merged_share 90%)",
        "items reach 20% of other communities' members (merged from merged_reach 50%)",
    ]


def test_verdict_reason_precedence():
    # low reach decides before the structure: the reason names siloed_reach, not silo_floor
    verdict, reason = metrics.verdict_reason(0.4, 3, 3, 0.01)
    assert verdict == "siloed" and "siloed_reach" in reason and "silo_floor" not in reason
    # wide crossing with every community alone: fragmented, short of merged_share only
    verdict, reason = metrics.verdict_reason(0.4, 3, 3, 0.5)
    assert verdict == "fragmented"
    assert "merged_share" in reason and "merged_reach" not in reason and "silo" not in reason
    # custom thresholds are the ones named
    verdict, reason = metrics.verdict_reason(0.5, 2, 3, 0.15, merged_share=0.8, merged_reach=0.6, siloed_reach=0.2)
    assert (verdict, reason) == ("siloed", "items reach 15% of other communities' members (siloed_reach 20%)")
    # no item ended: reach reads as 0%
    assert metrics.verdict_reason(math.nan, 3, 3, math.nan)[1] == (
        "items reach 0% of other communities' members (siloed_reach 5%)"
    )
