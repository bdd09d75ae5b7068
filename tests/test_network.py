"""The measures of an observed network (silosim.network), on graphs whose answers are worked by hand.

Brokerage is also checked against R's sna::brokerage (2.7-1): the reference values below were
printed by R for the same graph, and a plain port of sna's C loop (brokerage_R, src/gli.c)
counts the roles on random graphs.
"""

import itertools

import networkx as nx
import numpy as np
import pytest
import scipy.sparse as sp

from silosim import metrics, network


def undirected(edges, n, weights=None):
    source, target = np.array(edges).T
    return network.graph_from_edges(source, target, weights, n)


def directed(edges, n):
    source, target = np.array(edges).T
    return network.graph_from_edges(source, target, None, n, directed=True)


def karate():
    graph = nx.karate_club_graph()
    clubs = np.array([graph.nodes[v]["club"] == "Officer" for v in graph], dtype=np.int64)
    return graph, clubs


# --- reading a matrix ---------------------------------------------------------------------------


def test_an_edge_list_becomes_a_symmetric_matrix_with_duplicates_summed_and_loops_dropped():
    # (0, 1) listed twice, once each way, weights 2 and 3: one tie of weight 5; (2, 2) is a self-loop
    graph = network.graph_from_edges([0, 1, 1, 2], [1, 0, 2, 2], [2.0, 3.0, 1.0, 9.0], 3)
    assert graph.toarray().tolist() == [[0, 5, 0], [5, 0, 1], [0, 1, 0]]
    source, target, weight = network.ties(graph)
    assert list(zip(source, target, weight, strict=True)) == [(0, 1, 5.0), (1, 2, 1.0)]


def test_a_directed_edge_list_keeps_each_direction():
    graph = network.graph_from_edges([0, 1, 0], [1, 0, 1], None, 2, directed=True)
    assert graph.toarray().tolist() == [[0, 2], [1, 0]]
    assert len(network.ties(graph, directed=True)[0]) == 2


def test_an_undirected_graph_needs_a_symmetric_matrix():
    with pytest.raises(ValueError, match="symmetric"):
        network.ties(sp.csr_array(np.array([[0.0, 1.0], [0.0, 0.0]])))


# --- group-to-group ties and the E-I index -----------------------------------------------------------


def two_groups():
    # group 0 = {0, 1, 2}, group 1 = {3, 4}; ties 0-1 (w 2), 1-2 (w 1), 0-2 (w 1) inside group 0,
    # 3-4 (w 1) inside group 1, 2-3 (w 4) across
    graph = undirected([(0, 1), (1, 2), (0, 2), (3, 4), (2, 3)], 5, [2.0, 1.0, 1.0, 1.0, 4.0])
    return graph, np.array([0, 0, 0, 1, 1])


def test_group_mixing_counts_and_weighs_ties_inside_and_across_groups():
    graph, groups = two_groups()
    mixing = network.group_mixing(graph, groups)
    assert mixing.counts.tolist() == [[3, 1], [1, 1]]
    assert mixing.weights.tolist() == [[4, 4], [4, 1]]
    assert mixing.internal.tolist() == [4, 1]
    assert mixing.external.tolist() == [4, 4]
    # group 0: 4 of its 8 tie weight leaves it -> share 1/2, E-I 0; group 1: 4 of 5 -> 0.8, E-I (4 - 1) / 5
    assert mixing.external_share == pytest.approx([0.5, 0.8])
    assert mixing.ei == pytest.approx([0.0, 0.6])
    # whole network: E = 4, I = 5 -> (4 - 5) / 9, as metrics computes it
    assert metrics.ei_index(graph, groups) == pytest.approx(-1 / 9)


def test_directed_mixing_separates_ties_sent_and_received():
    # 0 -> 1 inside group 0; 0 -> 2 and 1 -> 2 from group 0 to group 1; 2 -> 0 back
    graph = directed([(0, 1), (0, 2), (1, 2), (2, 0)], 3)
    mixing = network.group_mixing(graph, np.array([0, 0, 1]), directed=True)
    assert mixing.counts.tolist() == [[1, 2], [1, 0]]
    assert mixing.sent.tolist() == [2, 1]
    assert mixing.received.tolist() == [1, 2]
    assert mixing.external.tolist() == [3, 3]  # each crossing tie counts for both groups
    assert mixing.ei == pytest.approx([(3 - 1) / 4, 1.0])
    assert metrics.ei_index(graph, np.array([0, 0, 1])) == pytest.approx((3 - 1) / 4)


def test_nodes_in_no_group_are_left_out_of_the_mixing():
    graph, groups = two_groups()
    graph = sp.lil_array(sp.block_diag([graph, sp.csr_array((1, 1))]))
    graph[0, 5] = graph[5, 0] = 7.0  # a tie to a node outside every group
    mixing = network.group_mixing(graph, np.r_[groups, -1])
    assert mixing.weights.tolist() == [[4, 4], [4, 1]]


def test_the_permutation_null_of_two_pairs_is_worked_by_hand():
    # ties 0-1 and 2-3, groups {0, 1} and {2, 3}: E-I = -1. Shuffling the labels (two of each)
    # gives one of three pairings, each with chance 1/3: {01|23} (E-I -1) or {02|13}, {03|12}
    # (both ties cross: +1). So the null is -1 a third of the time: mean 1/3, p(internal) 1/3.
    graph, groups = undirected([(0, 1), (2, 3)], 4), np.array([0, 0, 1, 1])
    test = network.ei_test(graph, groups, n_permutations=3000, seed=4)
    assert test.observed == -1.0
    assert set(np.unique(test.null)) == {-1.0, 1.0}
    assert test.null_mean == pytest.approx(1 / 3, abs=0.04)
    assert test.p_internal == pytest.approx(1 / 3, abs=0.03)
    assert test.p_two_sided == pytest.approx(2 / 3, abs=0.06)
    assert (test.null_low, test.null_high) == (-1.0, 1.0)
    # each group: E-I -1 in its own pairing, +1 (two ties leave it, none inside) otherwise
    assert test.group_observed.tolist() == [-1.0, -1.0]
    assert test.group_null_mean == pytest.approx([1 / 3, 1 / 3], abs=0.04)
    assert test.group_p_internal == pytest.approx([1 / 3, 1 / 3], abs=0.03)
    # the baseline of metrics (tie-ends shared equally): 1 - 2 (1/4 + 1/4) = 0
    assert test.baseline == 0.0


def test_the_permutation_test_is_seeded_and_ignores_nodes_outside_groups():
    graph, groups = two_groups()
    first = network.ei_test(graph, groups, n_permutations=200, seed=1)
    again = network.ei_test(graph, groups, n_permutations=200, seed=1)
    other = network.ei_test(graph, groups, n_permutations=200, seed=2)
    assert np.array_equal(first.null, again.null)
    assert not np.array_equal(first.null, other.null)
    # every label arrangement of 3 + 2 nodes has E-I in [-1, 1] and the observed one is among them
    assert first.observed == pytest.approx(-1 / 9)
    assert np.all(np.abs(first.null) <= 1)


def test_karate_club_ei_against_the_edges_counted_by_networkx():
    graph, clubs = karate()
    crossing = [(u, v) for u, v in graph.edges if clubs[u] != clubs[v]]
    assert (graph.number_of_edges(), len(crossing)) == (78, 11)
    plain = nx.to_scipy_sparse_array(graph, weight=None)
    test = network.ei_test(plain, clubs, n_permutations=999, seed=0)
    assert test.observed == pytest.approx((11 - 67) / 78)
    # 156 tie-ends: Mr. Hi's 35 ties inside and the 11 across give his club 81, the Officer's 32: 75
    inside = [sum(clubs[u] == clubs[v] == k for u, v in graph.edges) for k in (0, 1)]
    assert inside == [35, 32]
    ends = np.bincount(clubs, weights=np.asarray(plain.sum(axis=1)).ravel())
    assert ends.tolist() == [81, 75]
    assert test.baseline == pytest.approx(1 - 2 * ((81 / 156) ** 2 + (75 / 156) ** 2))
    # the clubs are silos against chance: no shuffle is as inward-looking
    assert test.p_internal == pytest.approx(1 / 1000)
    assert test.null_low < test.null_mean < test.null_high < test.observed + 1
    assert test.observed < test.null_low
    # labels shuffled over 34 nodes, 17 each: a tie's ends share a label with chance 16/33
    assert test.null_mean == pytest.approx(1 - 2 * 16 / 33, abs=0.02)
    weighted = nx.to_scipy_sparse_array(graph, weight="weight")
    assert metrics.ei_index(weighted, clubs) == pytest.approx((25 - 206) / 231)


# --- modularity, Louvain and the adjusted Rand index --------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ([0, 0, 1, 1], [5, 5, 3, 3], 1.0),  # the same partition under other names
        # contingency (2, 0, 0 / 0, 1, 1): Σ C(n_ij, 2) = 1, rows 2, columns 1, C(4, 2) = 6:
        # E = 2 × 1 / 6 = 1/3; (1 − 1/3) / (3/2 − 1/3) = 4/7
        ([0, 0, 1, 1], [0, 0, 1, 2], 4 / 7),
        # every cell 1: Σ = 0, rows 2, columns 2: E = 2/3; (0 − 2/3) / (2 − 2/3) = −1/2
        ([0, 0, 1, 1], [0, 1, 0, 1], -0.5),
        # (2, 1, 0 / 0, 1, 2): Σ = 2, rows 6, columns 3, C(6, 2) = 15: E = 1.2; 0.8 / 3.3 = 8/33
        ([0, 0, 0, 1, 1, 1], [0, 0, 1, 1, 2, 2], 8 / 33),
        ([0, 0, 0, 0], [0, 1, 2, 3], 0.0),  # all together against all alone: rows 6, columns 0
        ([1, 1, 1], [2, 2, 2], 1.0),  # both trivial: a perfect match by convention
    ],
)
def test_adjusted_rand_index_worked_by_hand(a, b, expected):
    assert network.adjusted_rand_index(np.array(a), np.array(b)) == pytest.approx(expected)
    assert network.adjusted_rand_index(np.array(b), np.array(a)) == pytest.approx(expected)


def two_cliques():
    # two K4 (nodes 0-3 and 4-7) joined by the tie 3-4: 13 ties, each group 6 inside and 13 tie-ends
    edges = [*itertools.combinations(range(4), 2), *itertools.combinations(range(4, 8), 2), (3, 4)]
    return undirected(edges, 8), np.array([0, 0, 0, 0, 1, 1, 1, 1])


def test_louvain_finds_two_cliques_and_they_match_the_formal_groups():
    graph, groups = two_cliques()
    found = network.communities(graph, groups, seed=1)
    # Q = 2 × (6/13 − (13/26)²) = 12/13 − 1/2
    assert found.modularity_formal == pytest.approx(12 / 13 - 1 / 2)
    assert found.modularity_detected == pytest.approx(12 / 13 - 1 / 2)
    assert found.n_detected == 2
    assert found.ari == 1.0


def test_louvain_on_a_mixed_labelling_is_far_from_it():
    graph, _ = two_cliques()
    mixed = np.array([0, 1, 0, 1, 0, 1, 0, 1])
    found = network.communities(graph, mixed, seed=1)
    # the cliques cut across the labels: contingency all 2s, Σ C = 4, rows 12, columns 12, C(8,2) = 28
    # E = 144/28; ARI = (4 − 36/7) / (12 − 36/7) = −1/6
    assert found.ari == pytest.approx(-1 / 6)
    assert found.modularity_formal < 0 < found.modularity_detected


def test_karate_modularity_against_networkx():
    graph, clubs = karate()
    parts = [set(np.flatnonzero(clubs == k)) for k in (0, 1)]
    for weight in (None, "weight"):
        matrix = nx.to_scipy_sparse_array(graph, weight=weight)
        found = network.communities(matrix, clubs, seed=7)
        assert found.modularity_formal == pytest.approx(nx.community.modularity(graph, parts, weight=weight))
        detected = [set(np.flatnonzero(found.labels == k)) for k in range(found.labels.max() + 1)]
        assert found.modularity_detected == pytest.approx(nx.community.modularity(graph, detected, weight=weight))
        assert found.modularity_detected > found.modularity_formal
        assert 0.3 < found.ari < 0.9  # Louvain splits the clubs in 3 or 4: related, not equal
    assert nx.community.modularity(graph, parts, weight=None) == pytest.approx(0.3582, abs=1e-4)


def test_a_directed_graph_is_detected_as_its_undirected_sum():
    graph, groups = two_cliques()
    upper = sp.triu(graph, k=1, format="csr")  # each tie once, one way
    found = network.communities(upper, groups, directed=True, seed=1)
    assert found.ari == 1.0
    assert found.modularity_formal == pytest.approx(12 / 13 - 1 / 2)


# --- constraint, effective size, bridges -------------------------------------------------------------


def test_constraint_and_effective_size_of_a_star_and_a_triangle_by_hand():
    # star 0-1, 0-2, 0-3: the centre's contacts are unconnected: constraint 3 × (1/3)², size 3;
    # a leaf has one contact: constraint 1, size 1. Triangle 4-5-6: p = 1/2 direct, 1/4 through
    # the third: (3/4)² × 2 = 9/8; size 2 − 2 × 1/2 = 1. Node 7 is isolated.
    graph = undirected([(0, 1), (0, 2), (0, 3), (4, 5), (5, 6), (4, 6)], 8)
    assert network.constraint(graph)[:7] == pytest.approx([1 / 3, 1, 1, 1, 9 / 8, 9 / 8, 9 / 8])
    assert network.effective_size(graph)[:7] == pytest.approx([3, 1, 1, 1, 1, 1, 1])
    assert np.isnan(network.constraint(graph)[7])
    assert np.isnan(network.effective_size(graph)[7])


@pytest.mark.parametrize("weight", [None, "weight"])
def test_constraint_and_effective_size_match_networkx_on_the_karate_club(weight):
    graph, _ = karate()
    matrix = nx.to_scipy_sparse_array(graph, weight=weight)
    ours_c, ours_e = network.constraint(matrix), network.effective_size(matrix)
    # networkx's sparse shortcut (all nodes, no nodes=) divides by the wrong axis's maximum when
    # weighted (networkx PR #8906); its per-node path is Burt's formula
    theirs_c = nx.constraint(graph, weight=weight)
    theirs_e = nx.effective_size(graph, nodes=list(graph), weight=weight)
    assert ours_c == pytest.approx([theirs_c[v] for v in graph])
    assert ours_e == pytest.approx([theirs_e[v] for v in graph])
    if weight is None:  # Mr. Hi: 16 contacts with 18 ties among them, Borgatti's n − 2t/n
        assert graph.subgraph(graph[0]).number_of_edges() == 18
        assert ours_e[0] == pytest.approx(16 - 2 * 18 / 16)


def test_constraint_and_effective_size_match_networkx_on_a_weighted_directed_graph():
    rng = np.random.default_rng(3)
    dense = (rng.random((12, 12)) < 0.3) * rng.integers(1, 5, (12, 12)).astype(float)
    np.fill_diagonal(dense, 0)
    graph = nx.from_numpy_array(dense, create_using=nx.DiGraph)
    matrix = sp.csr_array(dense)
    theirs_c = nx.constraint(graph, weight="weight")
    theirs_e = nx.effective_size(graph, nodes=list(graph), weight="weight")
    assert network.constraint(matrix) == pytest.approx([theirs_c[v] for v in graph], nan_ok=True)
    assert network.effective_size(matrix) == pytest.approx([theirs_e[v] for v in graph], nan_ok=True)


def test_effective_size_is_the_same_when_the_products_come_in_blocks(monkeypatch):
    graph, _ = karate()
    matrix = nx.to_scipy_sparse_array(graph, weight="weight")
    whole = network.effective_size(matrix)
    monkeypatch.setattr(network, "_BLOCK", 7)  # about one row per block
    assert network.effective_size(matrix) == pytest.approx(whole)


def test_the_bridges_are_the_ends_of_the_tie_between_two_cliques():
    graph, _ = two_cliques()
    # node 3 (degree 4, p = 1/4): to each clique-mate j, directly 1/4 and through the two others
    # 2 × 1/4 × 1/3; to 4 only directly: 3 × (1/4 + 1/6)² + (1/4)² = 7/12.
    # node 0 (degree 3, p = 1/3): to 1 (or 2) 1/3 + 1/3 × 1/3 + 1/3 × 1/4 = 19/36; to 3 1/3 + 2/9 = 20/36
    c, e = network.constraint(graph), network.effective_size(graph)
    assert c[3] == pytest.approx(7 / 12)
    assert c[0] == pytest.approx((2 * 19**2 + 20**2) / 36**2)
    # effective size, Borgatti's n − 2t/n: node 3 has 4 contacts with 3 ties among them: 4 − 6/4
    assert e[3] == pytest.approx(2.5)
    assert sorted(network.bridges(c, e, k=2).tolist()) == [3, 4]
    assert len(network.bridges(np.array([np.nan, 0.5]), np.array([np.nan, 2.0]))) == 1


# --- Gould & Fernandez brokerage ----------------------------------------------------------------------

# groups A = {0, 1, 2}, B = {3, 4}, C = {5, 6}; arcs (with 1 <-> 2 mutual):
ARCS = [(0, 1), (1, 2), (2, 1), (1, 3), (1, 4), (5, 3), (3, 4), (2, 6), (6, 4), (4, 5)]
GROUPS = np.array([0, 0, 0, 1, 1, 2, 2])
# Each broker b: its predecessors a and successors c, pairs a != c with no arc a -> c.
#   node 0: no predecessor.
#   node 1: in {0, 2}, out {2, 3, 4}: (0,2) A->A->A coordinator; (0,3), (0,4), (2,3), (2,4)
#           A->A->B representative; (2,2) is a = c.                     -> w_I 1, b_IO 4
#   node 2: in {1}, out {1, 6}: (1,6) A->A->C representative; (1,1) a = c. -> b_IO 1
#   node 3: in {1, 5}, out {4}: (1,4) closed by 1 -> 4; (5,4) C->B->B gatekeeper.   -> b_OI 1
#   node 4: in {1, 3, 6}, out {5}: (1,5) A->B->C liaison; (3,5) B->B->C representative;
#           (6,5) C->B->C itinerant.                               -> w_O 1, b_IO 1, b_O 1
#   node 5: in {4}, out {3}: (4,3) B->C->B itinerant.                               -> w_O 1
#   node 6: in {2}, out {4}: (2,4) A->C->B liaison.                                 -> b_O 1
HAND = [
    [0, 0, 0, 0, 0, 0],
    [1, 0, 4, 0, 0, 5],
    [0, 0, 1, 0, 0, 1],
    [0, 0, 0, 1, 0, 1],
    [0, 1, 1, 0, 1, 3],
    [0, 1, 0, 0, 0, 1],
    [0, 0, 0, 0, 1, 1],
]
# R: g <- matrix(0, 7, 7); g[arcs + 1] <- 1; b <- brokerage(g, c(1, 1, 1, 2, 2, 3, 3))
R_Z_NLI_NODE1 = [3.177864190920531, -0.424931203231733, 5.059849266652570, -0.478416193514012, -0.529325630378145]
R_Z_NLI_NODE4 = [np.nan, 1.031905130772571, 1.373132103823655, -0.378221210253038, 0.571337390054726]
R_EXP_GRP = [
    [0.0863837598531476, 0.172767519706295, 0.345535039412590, 0.345535039412590, 0.345535039412590, 1.29575639779721],
    [0.0, 0.345535039412590, 0.215959399632869, 0.215959399632869, 0.518302559118886, 1.29575639779721],
]
R_SD_GRP_A = [
    0.287493796228657,
    0.406577625724693,
    0.722247791979203,
    0.722247791979203,
    0.652783503352640,
    1.63478555309,
]
R_RAW_GLI = [1, 2, 6, 1, 2, 12]
R_EXP_GLI = [
    0.259151279559443,
    1.900442716769247,
    1.900442716769247,
    1.900442716769247,
    3.109815354713314,
    9.070294784580497,
]
R_SD_GLI = [
    0.565327097074791,
    1.691782435534990,
    1.697946359662321,
    1.697946359662321,
    2.280015844221095,
    5.046343212459196,
]
R_Z_GLI = [
    1.3104779945521448,
    0.0588475687769331,
    2.4144209620650519,
    -0.5303128168008341,
    -0.4867577379017959,
    0.5805600396315082,
]


def test_brokerage_roles_counted_by_hand_on_a_directed_graph():
    result = network.brokerage(directed(ARCS, 7), GROUPS, directed=True)
    assert result.scores.tolist() == HAND
    assert result.total.tolist() == R_RAW_GLI
    assert result.group_scores.tolist() == [[1, 0, 5, 0, 0, 6], [0, 1, 1, 1, 1, 4], [0, 1, 0, 0, 1, 2]]
    # d = 10 / (7 × 6) = 5/21; a coordinator in A brokers (3 − 1)(3 − 2) = 2 ordered pairs, each
    # open with chance d²(1 − d) = 400/9261
    assert result.density == pytest.approx(5 / 21)
    assert result.expected[0, 0] == pytest.approx(2 * 400 / 9261)
    assert result.group_expected.tolist()[0][0] == pytest.approx(2 * 400 / 9261)


def test_brokerage_expected_values_and_z_scores_match_sna():
    result = network.brokerage(directed(ARCS, 7), GROUPS, directed=True)
    assert result.group_expected[:2] == pytest.approx(np.array(R_EXP_GRP), rel=1e-12)
    assert result.group_sd[0] == pytest.approx(R_SD_GRP_A, rel=1e-12)
    assert result.z[1, :5] == pytest.approx(R_Z_NLI_NODE1, rel=1e-12)
    assert result.z[4, :5] == pytest.approx(R_Z_NLI_NODE4, rel=1e-12, nan_ok=True)  # B has no coordinator pair
    assert result.total_expected == pytest.approx(R_EXP_GLI, rel=1e-12)
    assert result.total_sd == pytest.approx(R_SD_GLI, rel=1e-12)
    assert result.total_z == pytest.approx(R_Z_GLI, rel=1e-12)


def test_undirected_brokerage_counts_each_pair_both_ways():
    # path 0 - 1 - 2, 0 and 2 in group 0, 1 in group 1: 1 brokers (0, 2) and (2, 0): itinerant 2.
    # Adding 2 - 3 (3 in group 2): 2 brokers (1, 3) and (3, 1): liaison 2; 1 brokers nothing new.
    path = network.brokerage(undirected([(0, 1), (1, 2)], 3), np.array([0, 1, 0]))
    assert path.scores[1].tolist() == [0, 2, 0, 0, 0, 2]
    longer = network.brokerage(undirected([(0, 1), (1, 2), (2, 3)], 4), np.array([0, 1, 0, 2]))
    assert longer.scores[2].tolist() == [0, 0, 0, 0, 2, 2]
    # representative and gatekeeper are the two directions of one pair
    star = network.brokerage(undirected([(0, 1), (0, 2), (0, 3)], 4), np.array([0, 0, 1, 1]))
    # centre 0 (group 0): (1,2), (1,3) representative; (2,1), (3,1) gatekeeper; (2,3), (3,2) itinerant
    assert star.scores[0].tolist() == [0, 2, 2, 2, 0, 6]
    assert star.density == pytest.approx(6 / 12)


def sna_loop(dense, cl):
    """sna's brokerage_R, line for line: for each ego i, alter j (i -> j), and k (j -> k), k != i, j."""
    n = len(dense)
    out = np.zeros((n, 5))
    for i in range(n):
        for j in np.flatnonzero(dense[i]):
            if j == i:
                continue
            for k in np.flatnonzero(dense[j]):
                if k in (i, j) or dense[i, k]:
                    continue
                if cl[j] == cl[i]:
                    out[j, 0 if cl[j] == cl[k] else 2] += 1
                elif cl[j] == cl[k]:
                    out[j, 3] += 1
                elif cl[i] == cl[k]:
                    out[j, 1] += 1
                else:
                    out[j, 4] += 1
    return out


@pytest.mark.parametrize("seed", range(6))
def test_brokerage_matches_a_port_of_sna_on_random_graphs(seed, monkeypatch):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(5, 25))
    dense = (rng.random((n, n)) < rng.uniform(0.1, 0.5)).astype(float)
    np.fill_diagonal(dense, 0)
    is_directed = seed % 2 == 0
    if not is_directed:
        dense = np.triu(dense, 1) + np.triu(dense, 1).T
    cl = rng.integers(0, 4, n)
    weighted = sp.csr_array(dense * rng.integers(1, 9, (n, n)) * (dense + dense.T > 0))  # weights are ignored
    if not is_directed:
        weighted = sp.csr_array(np.maximum(weighted.toarray(), weighted.toarray().T))
    monkeypatch.setattr(network, "_BLOCK", 11)  # the two-step products in many blocks
    result = network.brokerage(weighted, cl, directed=is_directed)
    assert result.scores[:, :5].tolist() == sna_loop(dense, cl).tolist()
    assert np.array_equal(result.scores[:, 5], result.scores[:, :5].sum(axis=1))
    if not is_directed:
        assert np.array_equal(result.scores[:, 2], result.scores[:, 3])


def test_brokerage_needs_a_group_for_every_node():
    with pytest.raises(ValueError, match="node 1 has none"):
        network.brokerage(undirected([(0, 1)], 2), np.array([0, -1]))


@pytest.mark.parametrize(
    ("groups", "role"),
    [
        ([0, 0, 0], "coordinator"),  # Gould & Fernandez (1989), Figure 1: all three in the broker's group
        ([0, 1, 0], "itinerant"),  # the broker outside its two contacts' group
        ([0, 0, 1], "representative"),  # the broker passes its own group's contact out
        ([1, 0, 0], "gatekeeper"),  # the broker lets an outsider in to its group
        ([0, 1, 2], "liaison"),  # three groups
    ],
)
def test_the_five_triads_of_gould_and_fernandez_each_count_once_in_their_role(groups, role):
    # the open two-path a -> b -> c, b the broker; the closed triad (a -> c too) brokers nothing
    open_path = network.brokerage(directed([(0, 1), (1, 2)], 3), np.array(groups), directed=True)
    expected = [0] * 6
    expected[network.ROLES.index(role)] = expected[-1] = 1
    assert open_path.scores[1].tolist() == expected
    assert open_path.scores[[0, 2]].sum() == 0
    closed = network.brokerage(directed([(0, 1), (1, 2), (0, 2)], 3), np.array(groups), directed=True)
    assert closed.scores.sum() == 0
