"""Measures of merge versus silo: pure functions of a weighted graph and a partition.

No Mesa here. A *graph* is a square scipy sparse matrix of tie weights; it
is read as undirected, the tie between i and j weighing ``w[i, j] + w[j, i]``
(so a symmetric matrix and its upper triangle give the same answers). A
*partition* gives each node's group (its primary community), ``-1`` for
nodes outside every group, which the measures ignore.

Measures that a large organisation makes expensive (primary communities,
cross-community reach, Burt's constraint of a few brokers) run as compiled
loops (numba) over the graph's edges: linear in ties, never in agents squared.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import connected_components

VERDICTS = ("merged", "fragmented", "siloed")


def block_matrix(graph: sp.sparray | sp.spmatrix, partition: np.ndarray, n_groups: int | None = None) -> np.ndarray:
    """Tie weight between and within groups: ``B[a, b]`` sums the ties from group a to group b.

    Symmetric; a tie inside group a counts twice on ``B[a, a]``, as in Newman's
    modularity, so ``B.sum()`` is twice the total tie weight.
    """
    partition = np.asarray(partition)
    n_groups = int(partition.max()) + 1 if n_groups is None else n_groups
    coo = sp.coo_array(graph)
    keep = (coo.row != coo.col) & (partition[coo.row] >= 0) & (partition[coo.col] >= 0)
    a, b, w = partition[coo.row[keep]], partition[coo.col[keep]], coo.data[keep].astype(float)
    block = np.bincount(a * n_groups + b, weights=w, minlength=n_groups * n_groups).reshape(n_groups, n_groups)
    return block + block.T


def primary_community(graph: sp.sparray | sp.spmatrix, edge_group: np.ndarray, n_groups: int) -> np.ndarray:
    """Each node's primary group: the one where it holds most tie weight, counting both ends of a tie.

    Args:
        graph: tie weights, as COO entries (one per tie).
        edge_group: group of each COO entry (the community a tie lives in); negative: in no group.
        n_groups: number of groups.

    Returns:
        A group per node, −1 for nodes with no tie in any group.
    """
    coo = sp.coo_array(graph)
    return _primary_community(coo.row, coo.col, coo.data, np.asarray(edge_group), coo.shape[0], n_groups)


@njit(cache=True)
def _primary_community(rows, cols, weights, edge_group, n, n_groups):
    ptr, edge, _ = _incidence(rows, cols, n)
    strength = np.zeros(max(n_groups, 1))
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        for t in range(ptr[i], ptr[i + 1]):
            if edge_group[edge[t]] >= 0:
                strength[edge_group[edge[t]]] += weights[edge[t]]
        best = 0
        for g in range(1, n_groups):
            if strength[g] > strength[best]:
                best = g
        if strength[best] > 0:
            out[i] = best
        for t in range(ptr[i], ptr[i + 1]):  # reset only what this node touched
            if edge_group[edge[t]] >= 0:
                strength[edge_group[edge[t]]] = 0.0
    return out


@njit(cache=True)
def _incidence(rows, cols, n):
    """Every COO entry listed under both its ends, grouped by node (a counting sort, linear in ties).

    Returns ``(ptr, edge, other)``: node i's entries are ``edge[ptr[i]:ptr[i+1]]``, the entries where it
    is the row first, each in COO order; ``other`` is the far end.
    """
    ptr = np.zeros(n + 1, dtype=np.int64)
    for ends in (rows, cols):
        for e in range(len(ends)):
            ptr[ends[e] + 1] += 1
    for i in range(n):
        ptr[i + 1] += ptr[i]
    fill = ptr[:-1].copy()
    edge = np.empty(2 * len(rows), dtype=np.int64)
    other = np.empty(2 * len(rows), dtype=np.int64)
    for ends, far in ((rows, cols), (cols, rows)):
        for e in range(len(ends)):
            edge[fill[ends[e]]], other[fill[ends[e]]] = e, far[e]
            fill[ends[e]] += 1
    return ptr, edge, other


def ei_index(graph: sp.sparray | sp.spmatrix, partition: np.ndarray) -> float:
    """Krackhardt & Stern's (1988) E-I index over tie weight: (E − I) / (E + I).

    E is the weight of ties across groups, I within. −1: closed silos; +1: every
    tie crosses. NaN when there are no ties.
    """
    return ei_from_block(block_matrix(graph, partition))


def ei_from_block(block: np.ndarray) -> float:
    """E-I index from a :func:`block_matrix`."""
    total = block.sum()
    return float((total - 2 * np.trace(block)) / total) if total > 0 else math.nan


def ei_baseline(graph: sp.sparray | sp.spmatrix, partition: np.ndarray) -> float:
    """E-I index expected if ties fell at random, given each group's share of tie weight.

    1 − 2 Σ_g s_g², with s_g the group's share of all tie-ends (a configuration
    model); for g equal groups, 1 − 2/g. An observed E-I below it means more
    inward-looking than chance.
    """
    return ei_baseline_from_block(block_matrix(graph, partition))


def ei_baseline_from_block(block: np.ndarray) -> float:
    """E-I baseline from a :func:`block_matrix`."""
    total = block.sum()
    return float(1 - 2 * np.sum((block.sum(axis=1) / total) ** 2)) if total > 0 else math.nan


def modularity(graph: sp.sparray | sp.spmatrix, partition: np.ndarray) -> float:
    """Newman's (2006) weighted modularity Q = Σ_g [e_gg − a_g²] of the partition.

    e_gg is the share of tie weight inside group g, a_g its share of tie-ends.
    Above 0.3: strong community structure. Equals (ei_baseline − ei_index) / 2.
    """
    return modularity_from_block(block_matrix(graph, partition))


def modularity_from_block(block: np.ndarray) -> float:
    """Modularity from a :func:`block_matrix`."""
    total = block.sum()
    return float(np.trace(block) / total - np.sum((block.sum(axis=1) / total) ** 2)) if total > 0 else math.nan


def silo_labels(block: np.ndarray, floor: float, present: np.ndarray | None = None) -> np.ndarray:
    """Connected components of the community graph (silos), as a label per community.

    Communities a and b are joined when the tie weight between them is at
    least ``floor`` times the smaller of their total tie weights. Communities
    not ``present`` (no agents) get label −1.
    """
    n = block.shape[0]
    present = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    strength = block.sum(axis=1)
    smaller = np.minimum.outer(strength, strength)
    joined = (block > 0) & (block >= floor * smaller)
    np.fill_diagonal(joined, False)
    joined &= present[:, None] & present[None, :]
    return _components_in_order(joined, present)


@njit(cache=True)
def _components_in_order(joined, present):
    """Connected components of a small symmetric adjacency, numbered 0..k-1 by first node (−1: absent)."""
    n = len(present)
    labels = np.full(n, -1, dtype=np.int64)
    stack = np.empty(n, dtype=np.int64)
    k = 0
    for start in range(n):
        if not present[start] or labels[start] >= 0:
            continue
        labels[start], stack[0], top = k, start, 1
        while top:
            top -= 1
            a = stack[top]
            for b in range(n):
                if joined[a, b] and labels[b] < 0:
                    labels[b] = k
                    stack[top] = b
                    top += 1
        k += 1
    return labels


def silo_count(labels: np.ndarray) -> int:
    """Number of silos (1 = one merged system)."""
    labels = np.asarray(labels)
    return len(np.unique(labels[labels >= 0]))


def largest_merged_share(labels: np.ndarray, group_sizes: np.ndarray) -> float:
    """Share of agents in the largest silo (merged component of communities)."""
    labels, group_sizes = np.asarray(labels), np.asarray(group_sizes, dtype=float)
    keep = labels >= 0
    total = group_sizes[keep].sum()
    if total == 0:
        return math.nan
    return float(np.bincount(labels[keep], weights=group_sizes[keep]).max() / total)


def cross_reach(known: np.ndarray, item_origin: np.ndarray, membership: np.ndarray) -> float:
    """Mean share of the agents outside an item's origin community that the item reached.

    Outside means not a member of the origin community (members of several
    communities count as inside each), so only items that truly crossed a
    boundary (relayed, cross-posted) count.

    Args:
        known: (agents,) uint64, bit b set when the agent knows item b.
        item_origin: (items,) origin community of item b, −1 for no item.
        membership: (agents,) uint64, bit c set when the agent takes part in
            community c; agents in no community are ignored.

    Returns:
        The mean over items of reached-outside / agents-outside; NaN with no items.
    """
    origin = np.asarray(item_origin, dtype=np.int64)
    reached, outside = _reach_counts(
        np.asarray(known, dtype=np.uint64), origin, np.asarray(membership, dtype=np.uint64)
    )
    counted = (origin >= 0) & (outside > 0)
    return float(np.mean(reached[counted] / outside[counted])) if counted.any() else math.nan


@njit(cache=True)
def _reach_counts(known, origin, membership):
    """Per item: agents outside its origin community that know it, and agents outside it."""
    in_community = np.zeros(64, dtype=np.int64)
    reached = np.zeros(len(origin), dtype=np.int64)
    n_in_any = 0
    for i in range(len(membership)):
        m = membership[i]
        if m == 0:
            continue
        n_in_any += 1
        for c in range(64):
            if (m >> np.uint64(c)) & np.uint64(1):
                in_community[c] += 1
        if known[i] == 0:
            continue
        for b in range(len(origin)):
            knows = (known[i] >> np.uint64(b)) & np.uint64(1)
            if origin[b] >= 0 and knows and not (m >> np.uint64(origin[b])) & np.uint64(1):
                reached[b] += 1
    outside = np.zeros(len(origin), dtype=np.int64)
    for b in range(len(origin)):
        if origin[b] >= 0:
            outside[b] = n_in_any - in_community[origin[b]]
    return reached, outside


def time_to_insight(delays: np.ndarray) -> float:
    """Median steps for a stakeholder insight to reach the target department.

    ``delays`` holds one entry per insight originated, ``inf`` for those that
    have not reached it; the median is NaN when most never did.
    """
    delays = np.asarray(delays, dtype=float)
    if delays.size == 0:
        return math.nan
    median = float(np.median(delays))
    return median if math.isfinite(median) else math.nan


def practice_convergence(culture: np.ndarray) -> float:
    """Mean pairwise overlap (share of identical features) of practice vectors; 1 = one way of working."""
    culture = np.asarray(culture)
    n = len(culture)
    if n < 2:
        return 1.0
    same = (culture[:, None, :] == culture[None, :, :]).mean(axis=2)
    return float(same[np.triu_indices(n, k=1)].mean())


def culture_regions(culture: np.ndarray, edges: np.ndarray | None = None) -> int:
    """Number of regions: connected sets of nodes with identical culture (Axelrod 1997).

    Args:
        culture: (nodes × features) traits.
        edges: (m × 2) adjacent pairs; None means every pair is adjacent, so
            regions are the distinct practice vectors.
    """
    culture = np.asarray(culture)
    n = len(culture)
    if n == 0:
        return 0
    if edges is None:
        return len(np.unique(culture, axis=0))
    edges = np.asarray(edges).reshape(-1, 2)
    same = np.all(culture[edges[:, 0]] == culture[edges[:, 1]], axis=1)
    a, b = edges[same, 0], edges[same, 1]
    graph = sp.csr_array((np.ones(len(a)), (a, b)), shape=(n, n))
    return int(connected_components(graph, directed=False)[0])


def burt_constraint(graph: sp.sparray | sp.spmatrix, nodes: np.ndarray) -> np.ndarray:
    """Burt's (1992) constraint of each given node: Σ_j (p_ij + Σ_q p_iq p_qj)².

    p_ij is j's share of i's tie weight. Low constraint: the node bridges
    structural holes between otherwise separate groups (a broker). NaN for
    an isolated node.
    """
    coo = sp.coo_array(graph)
    return _constraint(coo.row, coo.col, coo.data.astype(float), np.asarray(nodes, dtype=np.int64), coo.shape[0])


@njit(cache=True)
def _constraint(rows, cols, weights, nodes, n):
    """Burt's constraint of ``nodes``, from the incidence lists: linear in the ties around each node."""
    ptr, edge, other = _incidence(rows, cols, n)
    strength = np.zeros(n)
    for i in range(n):
        for t in range(ptr[i], ptr[i + 1]):
            if other[t] != i:
                strength[i] += weights[edge[t]]
    out = np.full(len(nodes), np.nan)
    position = np.full(n, -1, dtype=np.int64)  # a node's place among i's neighbours
    for k in range(len(nodes)):
        i = nodes[k]
        neighbours = []
        for t in range(ptr[i], ptr[i + 1]):
            if other[t] != i and position[other[t]] < 0:
                position[other[t]] = len(neighbours)
                neighbours.append(other[t])
        tie = np.zeros(len(neighbours))  # undirected tie weight between i and each neighbour
        for t in range(ptr[i], ptr[i + 1]):
            if other[t] != i:
                tie[position[other[t]]] += weights[edge[t]]
        indirect = np.zeros(len(neighbours))  # Σ_q p_iq p_qj through neighbours q
        for q in neighbours:
            for t in range(ptr[q], ptr[q + 1]):
                j = other[t]
                if j != q and weights[edge[t]] != 0 and position[j] >= 0:
                    indirect[position[j]] += tie[position[q]] / strength[i] * weights[edge[t]] / strength[q]
        total, any_tie = 0.0, False
        for j in range(len(neighbours)):
            if tie[j] != 0:
                any_tie = True
                total += (tie[j] / strength[i] + indirect[j]) ** 2
            position[neighbours[j]] = -1
        if any_tie:
            out[k] = total
    return out


def verdict(
    largest_share: float,
    n_silos: int,
    n_communities: int,
    reach: float,
    merged_share: float = 0.9,
    merged_reach: float = 0.4,
    siloed_reach: float = 0.1,
) -> str:
    """Judge a run: ``merged``, ``siloed`` or ``fragmented``.

    ``merged``: one component of communities holds at least ``merged_share``
    of the agents *and* items reach at least ``merged_reach`` of the agents
    outside their origin community (one organic, interactive system).
    ``siloed``: no two communities are joined, or items reach less than
    ``siloed_reach`` outside their origin. ``fragmented``: in between.
    """
    return verdict_reason(largest_share, n_silos, n_communities, reach, merged_share, merged_reach, siloed_reach)[0]


def verdict_reason(
    largest_share: float,
    n_silos: int,
    n_communities: int,
    reach: float,
    merged_share: float = 0.9,
    merged_reach: float = 0.4,
    siloed_reach: float = 0.1,
) -> tuple[str, str]:
    """The :func:`verdict` with one sentence saying which threshold decided it."""
    reach = 0.0 if math.isnan(reach) else reach
    reach_text = f"items reach {reach:.0%} of agents outside their origin community"
    if n_silos >= n_communities and n_communities > 1:
        return "siloed", f"no two of the {n_communities} communities are joined by ties"
    if reach < siloed_reach:
        return "siloed", f"{reach_text} (siloed below {siloed_reach:.0%})"
    share = 0.0 if math.isnan(largest_share) else largest_share
    structure = f"the largest group of joined communities holds {share:.0%} of agents"
    if share >= merged_share and reach >= merged_reach:
        return "merged", f"{structure} (>= {merged_share:.0%}) and {reach_text} (>= {merged_reach:.0%})"
    missing = [f"{structure} (merged from {merged_share:.0%})"] if share < merged_share else []
    missing += [f"{reach_text} (merged from {merged_reach:.0%})"] if reach < merged_reach else []
    return "fragmented", "; ".join(missing)
