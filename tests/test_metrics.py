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
    block = metrics.block_matrix(adj, partition)
    labels = metrics.silo_labels(block, floor=0.01)
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
    labels = metrics.silo_labels(metrics.block_matrix(adj, partition), floor=0.5)
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
        for floor in (0.0, 0.01, 0.05, 0.2):
            assert list(metrics.silo_labels(block_var, floor)) == list(metrics.silo_labels(block_sym, floor))
        np.testing.assert_allclose(metrics.burt_constraint(variant, nodes), expected_constraint)


# --------------------------------------------------------------------------- silos


def test_silo_labels_floor_on_a_bridge():
    # symmetric input: B[0, 0] = 2 * 2 * 6 = 24 per clique, B[0, 1] = 2 * bridge, strength = 24 + 2 * bridge
    partition = np.repeat([0, 1], 4)
    weak = metrics.block_matrix(adjacency(two_cliques_bridged(0.05)), partition)
    np.testing.assert_allclose(weak, [[24, 0.1], [0.1, 24]])
    assert metrics.silo_count(metrics.silo_labels(weak, floor=0.01)) == 2  # 0.1 < 0.01 * 24.1
    strong = metrics.block_matrix(adjacency(two_cliques_bridged(1.0)), partition)
    assert metrics.silo_count(metrics.silo_labels(strong, floor=0.01)) == 1  # 2 >= 0.01 * 26
    assert metrics.silo_count(metrics.silo_labels(strong, floor=0.1)) == 2  # 2 < 0.1 * 26
    assert metrics.largest_merged_share(metrics.silo_labels(strong, floor=0.01), [4, 4]) == pytest.approx(1.0)


def test_silo_labels_floor_boundary_is_inclusive():
    block = np.array([[7.0, 1.0], [1.0, 7.0]])  # strength 8 each
    assert list(metrics.silo_labels(block, floor=0.125)) == [0, 0]  # 1 >= 0.125 * 8
    assert list(metrics.silo_labels(block, floor=0.126)) == [0, 1]
    # floor 0 joins any pair with a tie, never a pair without one
    assert list(metrics.silo_labels(np.diag([3.0, 3.0]), floor=0.0)) == [0, 1]


def test_silo_labels_floor_uses_the_smaller_strength():
    block = np.array([[100.0, 2.0], [2.0, 8.0]])  # strengths 102 and 10
    assert metrics.silo_count(metrics.silo_labels(block, floor=0.2)) == 1  # 2 >= 0.2 * 10
    assert metrics.silo_count(metrics.silo_labels(block, floor=0.21)) == 2


def test_silo_labels_absent_communities_and_renumbering():
    block = np.array([[4.0, 0.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 4.0]])
    labels = metrics.silo_labels(block, floor=0.1, present=np.array([True, False, True]))
    assert list(labels) == [0, -1, 0]
    assert metrics.silo_count(labels) == 1
    # present but tieless: a silo of its own
    assert list(metrics.silo_labels(block, floor=0.1)) == [0, 1, 0]
    # labels run 0..k-1 in order of first appearance among present communities
    chain = np.zeros((4, 4))
    chain[1, 3] = chain[3, 1] = 1.0
    chain[np.diag_indices(4)] = 1.0
    labels = metrics.silo_labels(chain, floor=0.1, present=[False, True, True, True])
    assert list(labels) == [-1, 0, 1, 0]
    assert metrics.silo_count(labels) == 2
    # a join through an absent community does not count
    through = np.array([[2.0, 1.0, 0.0], [1.0, 2.0, 1.0], [0.0, 1.0, 2.0]])
    assert list(metrics.silo_labels(through, floor=0.1)) == [0, 0, 0]
    assert list(metrics.silo_labels(through, floor=0.1, present=[True, False, True])) == [0, -1, 1]


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


def test_cross_reach_by_hand():
    membership = np.array(
        [
            0b001,  # agent 0 takes part in community 0
            0b011,  # agent 1 in communities 0 and 1: inside for items from either
            0b010,  # agent 2 in community 1
            0b010,  # agent 3 in community 1
            0b100,  # agent 4 in community 2
            0b000,  # agent 5 in none: ignored
        ],
        dtype=np.uint64,
    )
    item_origin = np.array([0, 1, -1])  # item 2 has no origin: not counted
    known = np.array(
        [
            0b011,  # agent 0 knows items 0 and 1
            0b011,  # agent 1 knows items 0 and 1
            0b001,  # agent 2 knows item 0
            0b000,  # agent 3 knows nothing
            0b101,  # agent 4 knows items 0 and 2
            0b011,  # agent 5 knows items 0 and 1, but takes part nowhere
        ],
        dtype=np.uint64,
    )
    # item 0 (from community 0): outside are agents 2, 3, 4, of whom 2 and 4 know it: 2/3
    # item 1 (from community 1): outside are agents 0 and 4, of whom 0 knows it: 1/2
    assert metrics.cross_reach(known, item_origin, membership) == pytest.approx((2 / 3 + 1 / 2) / 2)


def test_cross_reach_uses_all_64_bits():
    membership = np.array([1 << 63, 1, 1], dtype=np.uint64)  # agent 0 in community 63, agents 1, 2 in community 0
    item_origin = np.full(64, -1)
    item_origin[63] = 63
    item_origin[0] = 0
    known = np.array([0, 1 << 63, 0], dtype=np.uint64)
    # item 63 reached 1 of the 2 outside community 63; item 0 none of the 1 outside community 0
    assert metrics.cross_reach(known, item_origin, membership) == pytest.approx((1 / 2 + 0) / 2)


def test_cross_reach_nan_without_countable_items():
    membership = np.array([1, 1, 0], dtype=np.uint64)
    known = np.array([1, 1, 1], dtype=np.uint64)
    assert math.isnan(metrics.cross_reach(known, np.array([-1, -1]), membership))
    assert math.isnan(metrics.cross_reach(known, np.array([], dtype=int), membership))
    # the origin community holds everyone who takes part anywhere: nobody outside to reach
    assert math.isnan(metrics.cross_reach(known, np.array([0]), membership))
    # an origin community nobody joined: everyone who takes part is outside
    assert metrics.cross_reach(np.array([1, 0, 1], dtype=np.uint64), np.array([3]), membership) == pytest.approx(0.5)


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
        # merged needs both thresholds: largest share >= 0.9 and reach >= 0.4
        (0.9, 1, 3, 0.4, "merged"),  # exactly at both thresholds
        (1.0, 1, 3, 0.9, "merged"),
        (0.89, 1, 3, 0.9, "fragmented"),  # share just under
        (1.0, 1, 3, 0.39, "fragmented"),  # reach just under
        (math.nan, 1, 3, 0.9, "fragmented"),
        # siloed: no two communities joined, or reach under 0.1
        (0.5, 3, 3, 0.5, "siloed"),
        (0.5, 2, 3, 0.5, "fragmented"),
        (1.0, 1, 3, 0.09, "siloed"),  # merged structure but nothing crosses
        (0.5, 2, 3, 0.1, "fragmented"),  # reach exactly at the siloed threshold
        (1.0, 1, 3, math.nan, "siloed"),  # no items: no reach
        # a single community is not siloed just because it is alone
        (1.0, 1, 1, 0.5, "merged"),
    ],
)
def test_verdict_thresholds(largest, silos, communities, reach, expected):
    assert metrics.verdict(largest, silos, communities, reach) == expected
    assert (
        metrics.verdict(largest, silos, communities, reach, merged_share=0.9, merged_reach=0.4, siloed_reach=0.1)
        == expected
    )


def test_verdict_custom_thresholds_boundary():
    kwargs = {"merged_share": 0.75, "merged_reach": 0.3, "siloed_reach": 0.05}
    assert metrics.verdict(0.75, 2, 4, 0.3, **kwargs) == "merged"
    assert metrics.verdict(np.nextafter(0.75, 0), 2, 4, 0.3, **kwargs) == "fragmented"
    assert metrics.verdict(0.75, 2, 4, np.nextafter(0.3, 0), **kwargs) == "fragmented"
    assert metrics.verdict(0.5, 2, 4, 0.05, **kwargs) == "fragmented"
    assert metrics.verdict(0.5, 2, 4, np.nextafter(0.05, 0), **kwargs) == "siloed"
    assert metrics.verdict(0.5, 4, 4, 0.9, **kwargs) == "siloed"
    assert set(metrics.VERDICTS) == {"merged", "fragmented", "siloed"}


def test_verdict_reason_names_the_deciding_threshold():
    assert metrics.verdict_reason(1.0, 3, 3, 0.8) == ("siloed", "no two of the 3 communities are joined by ties")
    verdict, reason = metrics.verdict_reason(1.0, 1, 3, 0.05)
    assert verdict == "siloed" and "5%" in reason and "below 10%" in reason
    verdict, reason = metrics.verdict_reason(0.5, 2, 3, 0.5)
    assert verdict == "fragmented" and "holds 50%" in reason and "reach" not in reason
    verdict, reason = metrics.verdict_reason(0.95, 1, 3, 0.2)
    assert verdict == "fragmented" and "20%" in reason and "holds" not in reason
    assert metrics.verdict_reason(0.95, 1, 3, 0.45)[0] == "merged"
