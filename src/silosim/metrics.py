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

from silosim.needs import match

VERDICTS = ("merged", "fragmented", "siloed")
# What the model measures, in the order the summary, time series, sweep store and reports show them.
MEASURES = (
    "cross_reach",
    "silo_count",
    "largest_merged_share",
    "reach_trend",
    "converged",
    "steps_to_merge",
    "time_to_insight",
    "relay_load",
    "ei_index",
    "ei_baseline",
    "modularity",
    "practice_convergence",
    "practice_regions",
    "broker_constraint",
    "fit",
    "knowledge",
    "practice_diversity",
)
# The verdict thresholds when a scenario gives none (the scenario schema reads them from here).
VERDICT_DEFAULTS = {"merged_share": 0.9, "merged_reach": 0.5, "siloed_reach": 0.05, "silo_floor": 0.2}


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


def flow_matrix(share_sum: np.ndarray, item_count: np.ndarray) -> np.ndarray:
    """The flow between communities: ``F[a, b]``, the mean share of b's members who knew an item from a.

    Args:
        share_sum: (C × C) for the items that ended, Σ over items from a of
            the share of b's members who knew the item at the end of its life.
        item_count: (C,) items that ended, by origin community.

    Returns:
        (C × C) flow; rows of communities with no item are NaN. The diagonal
        is each community's own reach (how far its items spread at home).
    """
    share_sum, item_count = np.asarray(share_sum, dtype=float), np.asarray(item_count, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(item_count[:, None] > 0, share_sum / item_count[:, None], np.nan)


def cross_reach(flow: np.ndarray, present: np.ndarray | None = None) -> float:
    """Mean over ordered pairs of distinct communities a → b of ``flow[a, b]``.

    The share of another community's members an item reaches, each pair of
    communities counting once whatever their sizes (so it compares across
    populations). Pairs from a community with no ended item, or with an
    absent community, are left out; NaN when no pair is left.
    """
    flow = np.asarray(flow, dtype=float)
    n = len(flow)
    present = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    pairs = present[:, None] & present[None, :] & ~np.eye(n, dtype=bool) & np.isfinite(flow)
    return float(flow[pairs].mean()) if pairs.any() else math.nan


def silo_labels(flow: np.ndarray, floor: float, present: np.ndarray | None = None) -> np.ndarray:
    """Silos: connected components of the communities joined by flow, as a label per community.

    Communities a and b are joined when items cross both ways: ``flow[a, b]``
    and ``flow[b, a]`` are both at least ``floor``. Communities not
    ``present`` (no members) get label −1.
    """
    flow = np.nan_to_num(np.asarray(flow, dtype=float), nan=0.0)
    n = len(flow)
    present = np.ones(n, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    joined = (flow >= floor) & (floor <= flow.T) & (flow > 0) & (flow.T > 0)
    np.fill_diagonal(joined, False)
    joined &= present[:, None] & present[None, :]
    return _components_in_order(joined, present)


def trend(steps: np.ndarray, values: np.ndarray, span: float | None = None) -> tuple[float, float]:
    """Least-squares change of ``values`` over ``span`` steps (default: the span of ``steps``), and its standard error.

    The slope of the line through (step, value), times the span; NaN values
    are left out; ``(nan, nan)`` with fewer than three points.
    """
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    keep = np.isfinite(values)
    x, y = steps[keep], values[keep]
    if x.size < 3 or np.ptp(x) == 0:
        return math.nan, math.nan
    dx = x - x.mean()
    slope = float(dx @ (y - y.mean()) / (dx @ dx))
    residual = y - y.mean() - slope * dx
    se = math.sqrt(float(residual @ residual) / (x.size - 2) / float(dx @ dx))
    span = float(np.ptp(steps)) if span is None else float(span)
    return slope * span, se * span


def batch_means(steps: np.ndarray, values: np.ndarray, batches: int = 4) -> tuple[np.ndarray, np.ndarray]:
    """The series cut into ``batches`` consecutive batches: each batch's mean step and mean value.

    Measurements of a simulation are autocorrelated; a trend fitted to batch
    means has a standard error that accounts for it (the method of batch
    means, Law & Kelton). With fewer than ``2 × batches`` points the series
    is returned as it is.
    """
    steps, values = np.asarray(steps, dtype=float), np.asarray(values, dtype=float)
    if steps.size < 2 * batches:
        return steps, values
    parts = np.array_split(np.arange(steps.size), batches)
    with np.errstate(invalid="ignore"):
        means = [np.nanmean(values[p]) if np.isfinite(values[p]).any() else np.nan for p in parts]
    return np.array([steps[p].mean() for p in parts]), np.array(means)


def converged(change: float, error: float, tolerance: float) -> bool:
    """Settled: the change over the window is under ``tolerance``, or within two standard errors of none.

    The second clause keeps a small organisation, whose measurements are
    noisy, from being called unsettled on noise alone; a trend both larger
    than ``tolerance`` and than its noise is not converged.
    """
    if not math.isfinite(change):
        return False
    return abs(change) <= max(tolerance, 2 * error)


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


def community_fit(practice: np.ndarray, effort: np.ndarray, needs: np.ndarray, group_members: np.ndarray) -> np.ndarray:
    """Per community, how well the practice its members meet matches what they need (March's knowledge, applied).

    The practice a community's members meet is every actor's that engages
    there (owner, posting departments, community managers), weighted by the
    effort it spends there; its members' needs are their groups', weighted by
    how many members each group has there.

    Args:
        practice: (actors × features) practice traits.
        effort: (actors × communities) exchanges per step each actor spends in each community.
        needs: (groups × features) the trait each stakeholder group needs.
        group_members: (groups × communities) stakeholder members of each group in each community.

    Returns:
        (communities,) share of features matched, 0–1; nan where no actor engages or no stakeholder belongs.
    """
    matched = _matched(practice, needs)
    effort, group_members = np.asarray(effort, dtype=float), np.asarray(group_members, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        met = effort / effort.sum(axis=0)
        members = group_members / group_members.sum(axis=0)
    return np.einsum("ac,ag,gc->c", met, matched, members)


def fit(practice: np.ndarray, effort: np.ndarray, needs: np.ndarray, group_members: np.ndarray) -> float:
    """The organisation's fit: :func:`community_fit` averaged over communities, weighted by stakeholder members."""
    return _member_mean(community_fit(practice, effort, needs, group_members), group_members)


def knowledge(practice: np.ndarray, needs: np.ndarray, group_members: np.ndarray) -> float:
    """The organisation's best practice for each community's needs (March's code knowledge), member-weighted.

    Per community, the largest match any actor's practice reaches against its
    members' needs, used there or not: what the organisation knows, beside
    :func:`fit`, what its communities meet (fit ≤ knowledge).
    """
    matched = _matched(practice, needs)
    group_members = np.asarray(group_members, dtype=float)
    with np.errstate(invalid="ignore", divide="ignore"):
        best = (matched @ (group_members / group_members.sum(axis=0))).max(axis=0, initial=-np.inf)
    return _member_mean(np.where(np.isfinite(best), best, np.nan), group_members)


def _matched(practice: np.ndarray, needs: np.ndarray) -> np.ndarray:
    """(actors × groups) share of features on which each actor's practice meets each group's need."""
    return match(np.asarray(practice)[:, None, :], np.asarray(needs)[None, :, :])


def _member_mean(values: np.ndarray, group_members: np.ndarray) -> float:
    weights = np.asarray(group_members, dtype=float).sum(axis=0)
    ok = np.isfinite(values) & (weights > 0)
    return float(np.average(values[ok], weights=weights[ok])) if ok.any() else math.nan


def practice_diversity(practice: np.ndarray) -> float:
    """Ways of working the organisation keeps: distinct traits among actors per feature, averaged over features.

    1 means every actor works the same way on every feature: nothing left to
    learn from each other (March 1991); the most is min(actors, traits).
    """
    practice = np.asarray(practice)
    if practice.size == 0:
        return math.nan
    ordered = np.sort(practice, axis=0)
    return float(1 + (ordered[1:] != ordered[:-1]).sum(axis=0).mean())


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


def verdict(largest_share: float, n_silos: int, n_communities: int, reach: float, **thresholds: float) -> str:
    """Judge a run: ``merged``, ``fragmented`` or ``siloed``, checked in that order.

    ``merged``: the largest group of communities joined by two-way flow holds
    at least ``merged_share`` of the members, and items reach at least
    ``merged_reach`` of other communities' members (one organic, interactive
    system). ``siloed``: items reach less than ``siloed_reach`` of other
    communities' members, or no two communities are joined while reach stays
    under ``merged_reach`` (wide crossing is never siloed). ``fragmented``:
    anything else. ``thresholds``: ``merged_share``, ``merged_reach``,
    ``siloed_reach`` (default :data:`VERDICT_DEFAULTS`).
    """
    return verdict_reason(largest_share, n_silos, n_communities, reach, **thresholds)[0]


def verdict_reason(
    largest_share: float,
    n_silos: int,
    n_communities: int,
    reach: float,
    merged_share: float = VERDICT_DEFAULTS["merged_share"],
    merged_reach: float = VERDICT_DEFAULTS["merged_reach"],
    siloed_reach: float = VERDICT_DEFAULTS["siloed_reach"],
) -> tuple[str, str]:
    """The :func:`verdict` with one sentence naming the threshold that decided it."""
    if n_communities == 1:
        return "merged", "one community: nothing to cross"
    reach = 0.0 if math.isnan(reach) else reach
    share = 0.0 if math.isnan(largest_share) else largest_share
    reach_text = f"items reach {reach:.0%} of other communities' members"
    structure = f"the largest group of joined communities holds {share:.0%} of members"
    if share >= merged_share and reach >= merged_reach:
        return (
            "merged",
            f"{structure} (merged_share {merged_share:.0%}) and {reach_text} (merged_reach {merged_reach:.0%})",
        )
    if reach < siloed_reach:
        return "siloed", f"{reach_text} (siloed_reach {siloed_reach:.0%})"
    if n_communities > 1 and n_silos >= n_communities and reach < merged_reach:
        return "siloed", f"no two of the {n_communities} communities exchange items both ways (silo_floor)"
    missing = [f"{structure} (merged from merged_share {merged_share:.0%})"] if share < merged_share else []
    missing += [f"{reach_text} (merged from merged_reach {merged_reach:.0%})"] if reach < merged_reach else []
    return "fragmented", "; ".join(missing)


def structure(block: np.ndarray, practices: np.ndarray, constraint: np.ndarray) -> dict[str, float]:
    """The structural measures of one measurement: tie mixing between communities and departments' practices.

    Args:
        block: community × community tie weights (:func:`block_matrix`).
        practices: the departments' practices (departments × features).
        constraint: Burt's constraint of each broker (NaN where it has no ties).
    """
    return {
        "ei_index": ei_from_block(block),
        "ei_baseline": ei_baseline_from_block(block),
        "modularity": modularity_from_block(block),
        "practice_convergence": practice_convergence(practices),
        "practice_regions": culture_regions(practices),
        "broker_constraint": float(np.nanmean(constraint)) if np.any(np.isfinite(constraint)) else math.nan,
    }
