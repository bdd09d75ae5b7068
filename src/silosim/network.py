"""Measures of an observed organisational network: its groups' ties against chance, its brokers.

Pure functions (no Mesa, no plotting, no model) of a *graph*, a square scipy
sparse matrix of tie weights, and a *partition*, an integer group per node
(−1: in no group; such nodes and their ties are left out, as in
:mod:`silosim.metrics`, whose measures are reused here).

How a matrix is read:

- ``directed=False``: the matrix must be symmetric, each tie stored both ways
  with its weight (as ``networkx.to_scipy_sparse_array`` writes an undirected
  graph, and :func:`graph_from_edges` builds one); a tie is an entry of the
  upper triangle.
- ``directed=True``: ``graph[i, j]`` is the weight of the tie i → j.
- Self-loops and stored zeros are dropped everywhere.

Weighted measures (E-I, modularity, tie weights, constraint, effective size)
use the weights; pass weights of 1 to count ties. Brokerage counts two-paths
and ignores weights, as ``sna::brokerage`` does.

Cost: everything is linear in ties except three measures that look at
two-step paths (effective size, brokerage, and nothing else), which cost
Σ_k deg(k)² sparse products, computed in blocks of rows so memory stays
bounded (a few seconds for 100,000 nodes and 1,000,000 random ties); and the
permutation test, linear in ties per permutation; and community detection
(igraph's compiled Leiden, seconds at a million ties).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from silosim import metrics

# Gould & Fernandez's roles, in sna::brokerage's column order, with sna's names.
ROLES = ("coordinator", "itinerant", "representative", "gatekeeper", "liaison", "total")
SNA_ROLES = ("w_I", "w_O", "b_IO", "b_OI", "b_O", "t")
_BLOCK = 20_000_000  # entries of a sparse product computed at once (about 250 MB)


def graph_from_edges(
    source: np.ndarray, target: np.ndarray, weight: np.ndarray | None, n: int, *, directed: bool = False
) -> sp.csr_array:
    """The tie matrix of an edge list: duplicate ties summed; undirected ties stored both ways.

    Args:
        source: each tie's first node (0..n-1).
        target: each tie's second node.
        weight: each tie's weight; None: 1.
        n: number of nodes.
        directed: ``source → target``; otherwise the tie counts both ways once (a tie listed as
            (a, b) and (b, a) is one tie of the summed weight).

    Returns:
        (n × n) CSR matrix, symmetric when undirected, without self-loops.
    """
    source, target = np.asarray(source, dtype=np.int64), np.asarray(target, dtype=np.int64)
    weight = np.ones(len(source)) if weight is None else np.asarray(weight, dtype=float)
    keep = source != target
    source, target, weight = source[keep], target[keep], weight[keep]
    if not directed:
        source, target = np.minimum(source, target), np.maximum(source, target)
        source, target, weight = np.r_[source, target], np.r_[target, source], np.r_[weight, weight]
    graph = sp.csr_array((weight, (source, target)), shape=(n, n))
    graph.sum_duplicates()
    return graph


def ties(graph: sp.sparray | sp.spmatrix, *, directed: bool = False) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Each tie once: ``(source, target, weight)``, self-loops and zeros dropped.

    Raises:
        ValueError: an undirected graph whose matrix is not symmetric.
    """
    csr = _clean(graph)
    if not directed:
        if (csr != csr.T).nnz:
            raise ValueError(
                "an undirected graph needs a symmetric matrix (each tie stored both ways); "
                "pass directed=True for one-way ties"
            )
        csr = sp.triu(csr, k=1, format="csr")
    coo = csr.tocoo()
    return coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(float)


@dataclass(frozen=True)
class GroupMixing:
    """Ties within and between groups (:func:`group_mixing`).

    Attributes:
        counts: (G × G) ties from group g to group h; undirected: symmetric, the diagonal counting
            each tie inside a group once.
        weights: the same for tie weight.
        internal: (G,) tie weight inside each group.
        external: (G,) tie weight crossing its boundary (either way when directed).
        external_share: external / (internal + external): the group's share of ties leaving it.
        ei: each group's E-I index, (external − internal) / (external + internal) = 2 × share − 1.
        sent: (G,) directed only (else equal to external): weight of ties from the group to others.
        received: (G,) weight of ties from others into the group.
    """

    counts: np.ndarray
    weights: np.ndarray
    internal: np.ndarray
    external: np.ndarray
    external_share: np.ndarray
    ei: np.ndarray
    sent: np.ndarray
    received: np.ndarray


def group_mixing(
    graph: sp.sparray | sp.spmatrix, partition: np.ndarray, *, directed: bool = False, n_groups: int | None = None
) -> GroupMixing:
    """The group-to-group tie matrix (counts and weights) and each group's ties inside and leaving it.

    A group's E-I index counts each tie once: 3 ties inside and 1 out gives (1 − 3) / 4 = −0.5
    (Krackhardt & Stern 1988, applied to one subunit's ties).
    """
    partition = np.asarray(partition)
    n_groups = int(partition.max()) + 1 if n_groups is None else n_groups
    source, target, weight = _labelled_ties(graph, partition, directed)
    a, b = partition[source], partition[target]
    cell = a * n_groups + b

    def square(w: np.ndarray) -> np.ndarray:
        tab = np.bincount(cell, weights=w, minlength=n_groups * n_groups).reshape(n_groups, n_groups)
        return tab if directed else tab + tab.T - np.diag(np.diag(tab))

    counts, weights = square(np.ones(len(cell))), square(weight)
    internal = np.diag(weights).copy()
    off = weights - np.diag(internal)
    sent, received = off.sum(axis=1), off.sum(axis=0)
    external = sent + received if directed else sent
    with np.errstate(invalid="ignore", divide="ignore"):
        share = external / (external + internal)
    return GroupMixing(counts, weights, internal, external, share, 2 * share - 1, sent, received)


@dataclass(frozen=True)
class EITest:
    """The E-I index against chance (:func:`ei_test`); per-group arrays are indexed by group.

    Attributes:
        observed: the whole network's E-I index over tie weight (:func:`silosim.metrics.ei_index`).
        baseline: its random-mixing baseline given each group's tie-ends (:func:`silosim.metrics.ei_baseline`).
        null: the E-I index of each permutation of the group labels.
        null_mean: mean of ``null``; ``null_low``, ``null_high``: its 2.5 % and 97.5 % quantiles.
        p_internal: one-sided p-value of "more internal than chance": (1 + #{null ≤ observed}) / (1 + n).
        p_two_sided: ``min(1, 2 × min(p_internal, p_external))``, p_external the other tail.
        group_observed: each group's E-I index (:class:`GroupMixing` ``ei``), and the same fields per group.
    """

    observed: float
    baseline: float
    null: np.ndarray
    null_mean: float
    null_low: float
    null_high: float
    p_internal: float
    p_two_sided: float
    group_observed: np.ndarray
    group_null_mean: np.ndarray
    group_null_low: np.ndarray
    group_null_high: np.ndarray
    group_p_internal: np.ndarray
    group_p_two_sided: np.ndarray
    n_permutations: int
    seed: int


def ei_test(
    graph: sp.sparray | sp.spmatrix,
    partition: np.ndarray,
    *,
    directed: bool = False,
    n_permutations: int = 999,
    seed: int = 0,
    n_groups: int | None = None,
) -> EITest:
    """The E-I index, whole network and per group, with a permutation test of the group labels.

    The labels of the nodes in a group are shuffled ``n_permutations`` times (group sizes kept;
    nodes in no group stay out), seeded; each shuffle's E-I, whole and per group, is counted
    from the tie list at once (label lookups at both ends of every tie, no loop over ties):
    about 15 ms per shuffle for a million ties.

    Args:
        graph: tie weights.
        partition: group per node, −1 for none.
        directed: read ``graph`` as one-way ties (E-I counts each tie once either way).
        n_permutations: shuffles of the labels (the smallest p-value is 1 / (n + 1)).
        seed: the shuffles' seed.
        n_groups: number of groups (default: the largest label + 1).
    """
    partition = np.asarray(partition)
    n_groups = int(partition.max()) + 1 if n_groups is None else n_groups
    source, target, weight = _labelled_ties(graph, partition, directed)
    mixing = group_mixing(graph, partition, directed=directed, n_groups=n_groups)
    labelled = np.flatnonzero(partition >= 0)
    place = np.full(len(partition), -1, dtype=np.int64)
    place[labelled] = np.arange(len(labelled))
    source, target = place[source], place[target]  # positions among labelled nodes
    labels = partition[labelled].astype(np.min_scalar_type(max(n_groups - 1, 0)))  # small: faster lookups
    strength = np.bincount(source, weight, len(labelled)) + np.bincount(target, weight, len(labelled))
    total = weight.sum()
    unweighted = bool(np.all(weight == 1))
    rng = np.random.default_rng(seed)
    null = np.full(n_permutations, math.nan)
    group_null = np.empty((n_permutations, n_groups))
    for k in range(n_permutations):  # each shuffle vectorised over the ties: O(ties) time and memory
        shuffled = rng.permutation(labels)
        a = np.take(shuffled, source)
        same = a == np.take(shuffled, target)
        inside = np.bincount(a[same], None if unweighted else weight[same], n_groups)
        ends = np.bincount(shuffled, strength, n_groups)
        if total > 0:
            null[k] = (total - 2 * inside.sum()) / total
        with np.errstate(invalid="ignore", divide="ignore"):
            group_null[k] = (ends - 3 * inside) / (ends - inside)
    observed = metrics.ei_index(graph, partition)
    group_stats = [_tails(group_null[:, g], mixing.ei[g]) for g in range(n_groups)]
    whole = _tails(null, observed)
    return EITest(
        observed=observed,
        baseline=metrics.ei_baseline(graph, partition),
        null=null,
        null_mean=whole[0],
        null_low=whole[1],
        null_high=whole[2],
        p_internal=whole[3],
        p_two_sided=whole[4],
        group_observed=mixing.ei,
        group_null_mean=np.array([s[0] for s in group_stats]),
        group_null_low=np.array([s[1] for s in group_stats]),
        group_null_high=np.array([s[2] for s in group_stats]),
        group_p_internal=np.array([s[3] for s in group_stats]),
        group_p_two_sided=np.array([s[4] for s in group_stats]),
        n_permutations=n_permutations,
        seed=seed,
    )


def _tails(null: np.ndarray, observed: float) -> tuple[float, float, float, float, float]:
    """Mean, 2.5 % and 97.5 % quantiles of a null sample, and the p-values of ``observed`` against it."""
    null = null[np.isfinite(null)]
    if null.size == 0 or not math.isfinite(observed):
        return (math.nan,) * 5
    low, high = np.quantile(null, [0.025, 0.975])
    slack = 1e-9 * max(1.0, abs(observed))  # the null and the observed value are the same ratio computed two ways
    below = (1 + np.sum(null <= observed + slack)) / (1 + null.size)
    above = (1 + np.sum(null >= observed - slack)) / (1 + null.size)
    return float(null.mean()), float(low), float(high), float(below), float(min(1.0, 2 * min(below, above)))


def adjusted_rand_index(a: np.ndarray, b: np.ndarray) -> float:
    """Hubert & Arabie's (1985) adjusted Rand index of two labellings of the same items.

    From the contingency table n_ij of the two labellings, with row sums a_i, column sums b_j
    and n items: (Σ C(n_ij, 2) − E) / (½ [Σ C(a_i, 2) + Σ C(b_j, 2)] − E), where
    E = Σ C(a_i, 2) Σ C(b_j, 2) / C(n, 2). 1: the same partition (whatever the names); about 0:
    no more alike than chance; negative: less. 1 when both put every item alone or all together
    (scikit-learn's convention).
    """
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape:
        raise ValueError(f"two labellings of different lengths ({a.size} and {b.size})")
    _, ia = np.unique(a, return_inverse=True)
    _, ib = np.unique(b, return_inverse=True)
    table = sp.coo_array((np.ones(a.size), (ia.ravel(), ib.ravel()))).tocsr()
    table.sum_duplicates()

    def pairs(x: np.ndarray) -> float:
        x = np.asarray(x, dtype=float)
        return float((x * (x - 1) / 2).sum())

    together = pairs(table.data)
    rows, cols = pairs(table.sum(axis=1)), pairs(table.sum(axis=0))
    expected = rows * cols / pairs(np.array([a.size])) if a.size > 1 else 0.0
    most = (rows + cols) / 2
    return 1.0 if most == expected else float((together - expected) / (most - expected))


@dataclass(frozen=True)
class Communities:
    """Formal groups against the communities a detection finds (:func:`communities`).

    Attributes:
        labels: detected community per node, numbered by size (0: the largest); isolated nodes alone.
        modularity_formal: Newman's modularity of the given partition (:func:`silosim.metrics.modularity`).
        modularity_detected: the same for the detected communities.
        n_detected: detected communities with at least two nodes.
        ari: adjusted Rand index between formal groups and detected communities, over the nodes
            that have a group and a tie.
    """

    labels: np.ndarray
    modularity_formal: float
    modularity_detected: float
    n_detected: int
    ari: float


def communities(
    graph: sp.sparray | sp.spmatrix,
    partition: np.ndarray,
    *,
    directed: bool = False,
    seed: int = 0,
    resolution: float = 1.0,
) -> Communities:
    """The best partition the Leiden algorithm finds for modularity (igraph, seeded), against the formal one.

    Leiden (Traag, Waltman & van Eck 2019) refines Louvain: the same greedy moves of nodes
    between communities to raise modularity, then a refinement that keeps every community
    connected. igraph's compiled ``community_leiden`` runs it (the objective ``modularity``,
    node weights their strength, two iterations: igraph's default; iterating until stable
    took 60 % longer for 0.5 % more modularity on a million ties). networkx's pure-Python
    Louvain took over 5 minutes on 100,000 nodes and a million ties, igraph's Leiden 5-10 s,
    with a higher modularity than igraph's Louvain (``community_multilevel``), which took 30 s.
    Seeded: igraph draws from a ``random.Random(seed)`` during the call only.

    The detection runs on the undirected graph (a directed tie's weight counts in both
    directions' sum), the graph :func:`silosim.metrics.modularity` measures, so the two
    modularities compare.
    """
    import random

    import igraph

    partition = np.asarray(partition)
    csr = _clean(graph)
    undirected = (csr + csr.T).tocsr() if directed else csr
    n = csr.shape[0]
    source, target, weight = ties(undirected)
    tie_graph = igraph.Graph(n=n, edges=np.column_stack([source, target]), directed=False)
    igraph.set_random_number_generator(random.Random(seed))
    try:
        found = tie_graph.community_leiden(
            objective_function="modularity", weights=weight.tolist(), resolution=resolution, n_iterations=2
        )
    finally:
        igraph.set_random_number_generator(random)  # igraph's default: the random module
    membership = np.asarray(found.membership, dtype=np.int64)
    sizes = np.bincount(membership, minlength=int(membership.max()) + 1 if n else 0)
    _, first = np.unique(membership, return_index=True)  # each community's smallest member
    rank = np.empty(len(sizes), dtype=np.int64)
    rank[np.lexsort((first, -sizes))] = np.arange(len(sizes))  # by size (0: largest), then smallest member
    labels = rank[membership]
    degree = np.diff(undirected.indptr)
    keep = (partition >= 0) & (degree > 0)
    return Communities(
        labels=labels,
        modularity_formal=metrics.modularity(csr, partition),
        modularity_detected=metrics.modularity(csr, labels),
        n_detected=int(np.sum(sizes > 1)),
        ari=adjusted_rand_index(partition[keep], labels[keep]) if keep.any() else math.nan,
    )


def constraint(graph: sp.sparray | sp.spmatrix) -> np.ndarray:
    """Burt's (1992) constraint of every node (:func:`silosim.metrics.burt_constraint`); NaN when isolated.

    Ties are read undirected, a pair's weight the sum both ways (as ``networkx.constraint``).
    """
    csr = _clean(graph)
    return metrics.burt_constraint(csr, np.arange(csr.shape[0]))


def effective_size(graph: sp.sparray | sp.spmatrix) -> np.ndarray:
    """Burt's (1992) effective size of every node's network: its contacts less their redundancy.

    e(u) = Σ_{v ∈ N(u)} (1 − Σ_w p_uw m_vw), p_uw w's share of u's tie weight, m_vw the tie
    v–w over v's strongest tie; ties read undirected, a pair's weight the sum both ways, as
    ``networkx.effective_size`` (which, unweighted, is Borgatti's n − 2t/n). NaN when isolated.
    """
    csr = _clean(graph)
    mutual = (csr + csr.T).tocsr()
    mutual.sort_indices()
    strength = np.asarray(mutual.sum(axis=1)).ravel()
    strongest = mutual.max(axis=1).toarray().ravel()
    rows = np.repeat(np.arange(mutual.shape[0]), np.diff(mutual.indptr))
    with np.errstate(invalid="ignore", divide="ignore"):
        share = _pattern(mutual, mutual.data / strength[rows])
        relative = _pattern(mutual, mutual.data / strongest[rows])
    (redundancy,) = _masked_sums(share, relative.T.tocsr(), [(_pattern(mutual, 1.0), 1)])
    degree = np.diff(mutual.indptr).astype(float)
    size = degree - redundancy
    size[degree == 0] = np.nan
    return size


def bridges(constraint: np.ndarray, effective_size: np.ndarray, k: int = 10) -> np.ndarray:
    """The ``k`` nodes that bridge most: least constrained first, the larger effective size on ties."""
    constraint, effective_size = np.asarray(constraint, dtype=float), np.asarray(effective_size, dtype=float)
    finite = np.flatnonzero(np.isfinite(constraint))
    order = np.lexsort((-np.nan_to_num(effective_size[finite], nan=-np.inf), constraint[finite]))
    return finite[order[:k]]


@dataclass(frozen=True)
class Brokerage:
    """Gould & Fernandez's (1989) brokerage roles (:func:`brokerage`), columns in :data:`ROLES` order.

    Attributes:
        scores: (N × 6) two-paths each node brokers in each role, and their total (sna ``raw.nli``).
        expected: (N × 6) their expected value for a node of its group (sna ``exp.nli``).
        sd: (N × 6) their standard deviation (sna ``sd.nli``).
        z: (N × 6) (scores − expected) / sd (sna ``z.nli``; NaN where both are 0).
        group_scores: (G × 6) the scores summed over each group's members.
        group_expected: (G × 6) the expected score of one member of each group (sna ``exp.grp``);
            a group's expected total is its size times this. NaN for an empty group.
        group_sd: (G × 6) the standard deviation of one member's score (sna ``sd.grp``).
        total: (6,) the whole network's two-paths in each role (sna ``raw.gli``), with
            ``total_expected``, ``total_sd`` and ``total_z`` (sna ``exp.gli``, ``sd.gli``, ``z.gli``).
        density: ties / (N (N − 1)), directed ties (an undirected tie counts twice).
        sizes: (G,) nodes in each group.
    """

    scores: np.ndarray
    expected: np.ndarray
    sd: np.ndarray
    z: np.ndarray
    group_scores: np.ndarray
    group_expected: np.ndarray
    group_sd: np.ndarray
    total: np.ndarray
    total_expected: np.ndarray
    total_sd: np.ndarray
    total_z: np.ndarray
    density: float
    sizes: np.ndarray


def brokerage(
    graph: sp.sparray | sp.spmatrix, partition: np.ndarray, *, directed: bool = False, n_groups: int | None = None
) -> Brokerage:
    """Gould & Fernandez's (1989) brokerage roles of every node, as R's ``sna::brokerage`` computes them.

    Node b brokers the ordered pair (a, c) when a → b → c and not a → c (a, b, c distinct).
    With A, B, C the groups: coordinator ``w_I`` (A → A → A, all in b's group), itinerant
    ``w_O`` (A → B → A, b outside its two contacts' group), representative ``b_IO``
    (A → A → B: b passes its own group's contact out), gatekeeper ``b_OI`` (A → B → B: b lets
    an outsider in to its group), liaison ``b_O`` (A → B → C, three groups). Weights are ignored.
    An undirected graph counts each tie both ways, as sna does with a symmetric matrix: each
    unordered pair is brokered twice, once each way, and representative equals gatekeeper.

    Expected values and standard deviations are sna's: under a random (Bernoulli) graph of the
    observed density d = ties / (N (N − 1)), with the observed group sizes (exact moments of the
    counts for a node of a given group; the network totals' are sna's too). The definitions, the
    role order and the moments follow sna 2.7-2, ``brokerage()`` in R/models.R and
    ``brokerage_R`` in src/gli.c (Butts, CRAN package sna).

    Cost: linear in ties, plus three sparse products at the ties' positions, Σ_k deg(k)²
    (hubs dominate), in blocks of rows. Self-loops are dropped (sna would count them in d).

    Args:
        graph: ties; their weights are ignored.
        partition: group per node; every node needs one (0..G-1).
        directed: read ``graph`` as one-way ties.
        n_groups: number of groups (default: the largest label + 1).

    Raises:
        ValueError: a node with no group, or a partition of the wrong length.
    """
    cl = np.asarray(partition, dtype=np.int64)
    n = graph.shape[0]
    if cl.shape != (n,):
        raise ValueError(f"partition has {cl.size} labels for {n} nodes")
    if n and cl.min() < 0:
        raise ValueError(f"brokerage needs every node in a group: node {int(np.argmax(cl < 0))} has none")
    n_groups = int(cl.max()) + 1 if n_groups is None and n else (n_groups or 0)
    arcs = _clean(graph)
    if not directed:
        ties(arcs)  # checks symmetry
    arcs = sp.csr_array((np.ones(arcs.nnz), arcs.indices, arcs.indptr), shape=arcs.shape)
    arcs.sort_indices()
    src = np.repeat(np.arange(n), np.diff(arcs.indptr))
    dst = arcs.indices.astype(np.int64)
    same = cl[src] == cl[dst]
    diff = ~same

    def per_broker(values: np.ndarray) -> np.ndarray:
        return np.bincount(dst, values, n).astype(float)  # float even with no arc

    # every two-path a -> b -> c, by the groups of a and c against b's
    indeg, outdeg = np.bincount(dst, minlength=n).astype(float), np.bincount(src, minlength=n).astype(float)
    in_own, out_own = per_broker(same.astype(float)), np.bincount(src, same.astype(float), n).astype(float)
    onehot = sp.csr_array((np.ones(n), (np.arange(n), cl)), shape=(n, max(n_groups, 1)))
    matched = np.asarray((arcs.T @ onehot).multiply(arcs @ onehot).sum(axis=1)).ravel()  # a, c in one group
    coordinator = in_own * out_own
    itinerant = matched - coordinator
    representative = in_own * (outdeg - out_own)
    gatekeeper = (indeg - in_own) * out_own
    liaison = (indeg - in_own) * (outdeg - out_own) - itinerant
    # less a -> b -> a (a = c) ...
    inside = _pattern(arcs, same)  # the arcs within a group
    across = _pattern(arcs, diff)
    reciprocal = arcs.T.tocsr()  # [a, b]: the arc b -> a
    mutual_inside, mutual_across = (np.asarray(reciprocal.multiply(m).sum(axis=0)).ravel() for m in (inside, across))
    coordinator -= mutual_inside
    itinerant -= mutual_across
    # ... and less those closed by a -> c: per arc a -> b, the common successors c of a and b, by c's group
    to_own = inside  # b -> c with c in b's group
    closed_inside, closed_across = _masked_sums(arcs, reciprocal, [(inside, 0), (across, 0)])
    if directed:
        c_in_b_inside, c_in_b_across = _masked_sums(arcs, to_own.T.tocsr(), [(inside, 0), (across, 0)])
        (c_in_a_across,) = _masked_sums(to_own, reciprocal, [(across, 0)])
    else:  # to_own @ arcs.T is (arcs @ to_own.T).T and the masks are symmetric: one product does both
        c_in_b_inside, c_in_b_across, c_in_a_across = _masked_sums(
            arcs, to_own.T.tocsr(), [(inside, 0), (across, 0), (across, 1)]
        )
    coordinator -= c_in_b_inside
    representative -= closed_inside - c_in_b_inside
    gatekeeper -= c_in_b_across
    itinerant -= c_in_a_across
    liaison -= closed_across - c_in_b_across - c_in_a_across
    scores = np.column_stack([coordinator, itinerant, representative, gatekeeper, liaison])
    scores = np.column_stack([scores, scores.sum(axis=1)])

    sizes = np.bincount(cl, minlength=n_groups).astype(float)
    d = arcs.nnz / (n * (n - 1)) if n > 1 else math.nan
    group_expected, group_var = _group_moments(sizes, float(n), d)
    total_expected, total_var = _total_moments(sizes, float(n), d)
    expected, sd = group_expected[cl], np.sqrt(group_var[cl])
    total = scores.sum(axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        z = (scores - expected) / sd
        total_z = (total - total_expected) / np.sqrt(total_var)
    empty = sizes == 0
    group_expected[empty], group_var[empty] = np.nan, np.nan
    group_scores = np.zeros((n_groups, 6))
    np.add.at(group_scores, cl, scores)
    return Brokerage(
        scores=scores,
        expected=expected,
        sd=sd,
        z=z,
        group_scores=group_scores,
        group_expected=group_expected,
        group_sd=np.sqrt(group_var),
        total=total,
        total_expected=total_expected,
        total_sd=np.sqrt(total_var),
        total_z=total_z,
        density=d,
        sizes=sizes,
    )


def _group_moments(n: np.ndarray, big_n: float, d: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of one broker's score in each role, by its group's size (sna's ``ebr``, ``vbr``)."""
    p, a = d**2 * (1 - d), d**3 * (1 - d) ** 3
    rest = n.sum() - n  # Σ over the other groups of n
    others2 = (n * (n - 1)).sum() - n * (n - 1)  # Σ_{h≠g} n_h (n_h − 1)
    others3 = (n * (n - 1) * (n - 2)).sum() - n * (n - 1) * (n - 2)
    mean = np.empty((len(n), 6))
    var = np.empty((len(n), 6))
    mean[:, 0] = p * (n - 1) * (n - 2)
    var[:, 0] = mean[:, 0] * (1 - p) + 2 * (n - 1) * (n - 2) * (n - 3) * a
    mean[:, 1] = p * others2
    var[:, 1] = mean[:, 1] * (1 - p) + 2 * others3 * a
    mean[:, 2] = p * (big_n - n) * (n - 1)
    var[:, 2] = mean[:, 2] * (1 - p) + 2 * ((n - 1) * _choose2(big_n - n) + (big_n - n) * _choose2(n - 1)) * a
    mean[:, 3], var[:, 3] = mean[:, 2], var[:, 2]
    mean[:, 4] = p * (rest**2 - ((n**2).sum() - n**2))  # Σ_{h≠k, both ≠ g} n_h n_k
    liaison = np.array([np.sum(np.delete(n, g) * _choose2(big_n - np.delete(n, g) - n[g])) for g in range(len(n))])
    var[:, 4] = mean[:, 4] * (1 - p) + 4 * liaison * a
    mean[:, 5] = p * (big_n - 1) * (big_n - 2)
    var[:, 5] = mean[:, 5] * (1 - p) + 2 * (big_n - 1) * (big_n - 2) * (big_n - 3) * a
    return mean, var


def _total_moments(n: np.ndarray, big_n: float, d: float) -> tuple[np.ndarray, np.ndarray]:
    """Mean and variance of the network's total in each role (sna's ``egbr``, ``vgbr``)."""
    p = d**2 * (1 - d)
    a, b, c = d**3 * (1 - d) ** 3, d**4 * (1 - d) ** 2, d**5 * (1 - d)
    mean, var = np.empty(6), np.empty(6)
    mean[0] = p * np.sum(n * (n - 1) * (n - 2))
    var[0] = mean[0] * (1 - p) + np.sum(n * (n - 1) * (n - 2) * ((4 * n - 10) * a - 4 * (n - 3) * b + (n - 3) * c))
    x, y = n[:, None], n[None, :]
    mean[1] = p * np.sum(n * (big_n - n) * (n - 1))
    var[1] = mean[1] * (1 - p) + (
        np.sum(x * y * (x - 1) * ((2 * x + 2 * y - 6) * a + (big_n - x - 1) * c))
        - np.sum(n * n * (n - 1) * ((4 * n - 6) * a + (big_n - n - 1) * c))
    )
    mean[2] = mean[1]
    var[2] = mean[2] * (1 - p) + np.sum(n * (big_n - n) * (n - 1) * ((big_n - 3) * a + (n - 2) * c))
    mean[3], var[3] = mean[2], var[2]
    mean[4] = p * (np.sum(x * y * (big_n - x - y)) - np.sum(n * n * (big_n - 2 * n)))
    triple = 0.0  # over groups i, j, k all distinct: O(G³) time, O(G²) memory
    distinct = ~np.eye(len(n), dtype=bool)
    for i in range(len(n)):
        ni, nj, nk = n[i], n[:, None], n[None, :]
        term = (
            ni
            * nj
            * nk
            * (
                (4 * (big_n - nj) - 2 * (ni + nk + 1)) * a
                - (4 * (big_n - nk) - 2 * (ni + nj + 1)) * b
                + (big_n - (ni + nk + 1)) * c
            )
        )
        keep = distinct.copy()
        keep[i, :], keep[:, i] = False, False
        triple += float(term[keep].sum())
    var[4] = mean[4] * (1 - p) + triple
    mean[5] = p * big_n * (big_n - 1) * (big_n - 2)
    var[5] = mean[5] * (1 - p) + big_n * (big_n - 1) * (big_n - 2) * (
        (4 * big_n - 10) * a - 4 * (big_n - 3) * b + (big_n - 3) * c
    )
    return mean, var


def _choose2(x: np.ndarray | float) -> np.ndarray | float:
    return x * (x - 1) / 2


def _clean(graph: sp.sparray | sp.spmatrix) -> sp.csr_array:
    """The matrix as CSR floats, self-loops and stored zeros dropped (a copy)."""
    csr = sp.csr_array(graph, dtype=float, copy=True)
    if csr.shape[0] != csr.shape[1]:
        raise ValueError(f"a graph needs a square matrix, not {csr.shape[0]} × {csr.shape[1]}")
    csr.setdiag(0)
    csr.eliminate_zeros()
    csr.sort_indices()
    return csr


def _labelled_ties(
    graph: sp.sparray | sp.spmatrix, partition: np.ndarray, directed: bool
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """:func:`ties` between nodes that both have a group."""
    partition = np.asarray(partition)
    if partition.shape != (graph.shape[0],):
        raise ValueError(f"partition has {partition.size} labels for {graph.shape[0]} nodes")
    source, target, weight = ties(graph, directed=directed)
    keep = (partition[source] >= 0) & (partition[target] >= 0)
    return source[keep], target[keep], weight[keep]


def _pattern(matrix: sp.csr_array, values: np.ndarray | float) -> sp.csr_array:
    """A matrix of ``matrix``'s pattern holding ``values`` (zeros dropped), sharing nothing with it."""
    data = np.broadcast_to(np.asarray(values, dtype=float), matrix.data.shape).copy()
    out = sp.csr_array((data, matrix.indices.copy(), matrix.indptr.copy()), shape=matrix.shape)
    out.eliminate_zeros()
    return out


def _masked_sums(left: sp.csr_array, right: sp.csr_array, masks: list[tuple[sp.csr_array, int]]) -> list[np.ndarray]:
    """For each ``(mask, axis)``, the sums along ``axis`` of ``(left @ right) ∘ mask``, a block of rows at a time.

    A block holds at most about ``_BLOCK`` entries of the product (Σ over its rows of the entries
    of ``right`` reached), so a hub costs time, never all the memory.
    """
    n_rows = left.shape[0]
    sums = [np.zeros(mask.shape[1 - axis]) for mask, axis in masks]
    if not n_rows:
        return sums
    reached = _pattern(left, 1.0) @ np.diff(right.indptr).astype(float)
    cumulative = np.cumsum(reached)
    cuts = np.searchsorted(cumulative, np.arange(_BLOCK, cumulative[-1], _BLOCK), side="right")
    for r0, r1 in itertools.pairwise(np.unique(np.r_[0, cuts, n_rows])):
        block = sp.csr_array(left[r0:r1] @ right)
        for total, (mask, axis) in zip(sums, masks, strict=True):
            part = np.asarray(block.multiply(mask[r0:r1]).sum(axis=axis)).ravel()
            if axis == 0:
                total += part
            else:
                total[r0:r1] += part
    return sums
