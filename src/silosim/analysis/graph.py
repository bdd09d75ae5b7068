"""The community graph: what it shows of a model, and how it is drawn on a matplotlib axes.

Communities sit on the unit circle, sized by membership and coloured by
silo, linked by the two-way flow of items between them; departments and
community managers ring them, linked to the communities they take part in
by their share of each one's ties. One renderer for the run's plot
(:mod:`silosim.analysis.plots`, communities only) and the browser page
(:mod:`silosim.viz.figures`, with the actors).
"""

from __future__ import annotations

import math
import weakref
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.lines import Line2D

from silosim import metrics, rules

if TYPE_CHECKING:
    from matplotlib.axes import Axes

    from silosim.model import SiloModel

ACTOR_RADIUS = 1.75  # departments and CMs ring the communities (on the unit circle)
# light enough for black labels on the nodes
# Okabe–Ito hues (colour-blind safe) lightened halfway to white, light enough for black labels on the nodes
SILO_COLOURS = (
    "#7fb8d8",
    "#f2cf7f",
    "#7fceb9",
    "#eaaf7f",
    "#aad9f4",
    "#e5bcd3",
    "#f7f1a0",
    "#b0b0b0",
)
DEPARTMENT_COLOUR, CM_COLOUR, GLUE_COLOUR, ABSENT_COLOUR = "#f4f4f4", "#8e6bb8", "#d4a017", "#d9d9d9"


@dataclass
class GraphData:
    """What the community graph shows, node by node and edge by edge.

    Nodes are the communities, then the departments, then the community
    managers (in scenario order).

    Attributes:
        names: node names.
        kinds: ``community``, ``department`` or ``cm`` per node.
        positions: (nodes × 2) fixed positions.
        members: members of each community (stakeholders who joined, actors who take part).
        silos: silo label of each community (−1: no agent has it as primary community).
        owners: owner of each community.
        glue: node index of the glue department, or None.
        edges: (node, node, strength, kind) with kind ``between`` (two communities: share of
            the smaller one's tie weight between them) or ``takes_part`` (an actor and a
            community: the actor's share of the community's tie weight).
        joined: per ``between`` edge in order, whether it joins the two communities into one silo.
        taking_part: (actor node, community node) pairs where the rule makes the actor post or animate.
    """

    names: list[str]
    kinds: list[str]
    positions: np.ndarray
    members: np.ndarray
    silos: np.ndarray
    owners: list[str]
    glue: int | None
    edges: list[tuple[int, int, float, str]]
    joined: list[bool]
    taking_part: set[tuple[int, int]]


# --------------------------------------------------------------------------- what the graph shows

_LAYOUTS: weakref.WeakKeyDictionary[SiloModel, np.ndarray] = weakref.WeakKeyDictionary()


def graph_layout(model: SiloModel) -> np.ndarray:
    """Fixed node positions: communities on the unit circle, actors on an outer ring.

    Computed once per model (the first call) and reused at every step, so
    nothing moves from frame to frame. Each actor's slot on the ring follows
    the circular mean of the communities it is involved in (its home
    department's, for a community manager), so links stay short.
    """
    if model in _LAYOUTS:
        return _LAYOUTS[model]
    cfg = model.config
    n_c = len(cfg.communities)
    turn = 2 * math.pi * np.arange(n_c) / max(n_c, 1)
    community_xy = np.column_stack([np.cos(turn), np.sin(turn)])
    involvement = rules.involvement_matrix(cfg)  # departments × communities
    preferred = [_circular_mean(community_xy, row) for row in involvement]
    dept_index = {d.name: i for i, d in enumerate(cfg.organization.departments)}
    for m, cm in enumerate(cfg.organization.community_managers):
        animated = model.assignment.animates[m].astype(float) if model.assignment.animates.size else np.zeros(n_c)
        home = preferred[dept_index[cm.home]] if cm.home is not None else None
        preferred.append(home if home is not None else _circular_mean(community_xy, animated))
    n_a = len(preferred)
    fallback = np.linspace(0, 2 * math.pi, n_a, endpoint=False)
    angles = np.array([p if p is not None else f for p, f in zip(preferred, fallback, strict=True)])
    order = np.argsort(angles, kind="stable")
    slots = 2 * math.pi * np.arange(n_a) / max(n_a, 1)
    offset = math.atan2(np.sin(angles[order] - slots).sum(), np.cos(angles[order] - slots).sum()) if n_a else 0.0
    actor_xy = np.zeros((n_a, 2))
    actor_xy[order] = ACTOR_RADIUS * np.column_stack([np.cos(slots + offset), np.sin(slots + offset)])
    positions = np.vstack([community_xy, actor_xy]) if n_a else community_xy
    _LAYOUTS[model] = positions
    return positions


def _circular_mean(points: np.ndarray, weights: np.ndarray) -> float | None:
    """Angle of the weighted mean of points on the unit circle (None without weight)."""
    if weights.sum() <= 0:
        return None
    x, y = (points * weights[:, None]).sum(axis=0)
    return math.atan2(y, x) if abs(x) + abs(y) > 1e-9 else None


def community_graph_data(model: SiloModel) -> GraphData:
    """The community graph: two-way item flow between communities as of the latest measurement, live actor ties."""
    cfg, w = model.config, model.world
    n_c, n_d, n_a = len(cfg.communities), model.n_departments, model.n_actors
    flow = getattr(model, "flow", np.full((n_c, n_c), np.nan))
    present = w.member_count > 0
    floor = cfg.metrics.verdict.silo_floor
    silos = metrics.silo_labels(flow, floor, present=present)
    members = w.member_count.astype(int)
    mutual = np.nan_to_num(np.minimum(flow, flow.T), nan=0.0)

    edges: list[tuple[int, int, float, str]] = []
    joined: list[bool] = []
    for a in range(n_c):
        for b in range(a + 1, n_c):
            if mutual[a, b] > 0:
                edges.append((a, b, float(mutual[a, b]), "between"))
                joined.append(bool(mutual[a, b] >= floor and present[a] and present[b]))

    actor_weight, community_weight = _actor_tie_weight(model)
    posting = model.assignment.posting > 0
    animates = model.assignment.animates.astype(bool)
    takes_part = np.vstack([posting, animates]) if animates.size else posting
    taking_part = {(n_c + r, c) for r, c in zip(*np.nonzero(takes_part), strict=True)}
    for r, c in zip(*np.nonzero((actor_weight > 0) | takes_part), strict=True):
        share = actor_weight[r, c] / community_weight[c] if community_weight[c] > 0 else 0.0
        edges.append((int(n_c + r), int(c), float(share), "takes_part"))

    names = [c.name for c in cfg.communities]
    names += [d.name for d in cfg.organization.departments] + [m.name for m in cfg.organization.community_managers]
    kinds = ["community"] * n_c + ["department"] * n_d + ["cm"] * (n_a - n_d)
    return GraphData(
        names=names,
        kinds=kinds,
        positions=graph_layout(model),
        members=members,
        silos=silos,
        owners=list(model.assignment.owners),
        glue=None if model.glue_row is None else n_c + int(model.glue_row),
        edges=edges,
        joined=joined,
        taking_part=taking_part,
    )


def _actor_tie_weight(model: SiloModel) -> tuple[np.ndarray, np.ndarray]:
    """(actors × communities) tie weight at each actor, and each community's total tie weight.

    A tie counts in the community where it was made (its context); an actor's
    weight there sums the ties it holds and the ties held to it.
    """
    w, n_a, n_c = model.world, model.n_actors, len(model.config.communities)
    k = w.tie_partner.shape[1]
    holder = np.repeat(np.arange(len(w.culture)), k)
    partner, ctx, weight = w.tie_partner.ravel(), w.tie_context.ravel().astype(np.int64), w.tie_weight.ravel()
    keep = (partner >= 0) & (ctx >= 0)
    holder, partner, ctx, weight = holder[keep], partner[keep], ctx[keep], weight[keep].astype(float)
    total = np.bincount(ctx, weights=weight, minlength=n_c)
    out = np.zeros((n_a, n_c))
    for end in (holder, partner):
        at_actor = end < n_a
        np.add.at(out, (end[at_actor], ctx[at_actor]), weight[at_actor])
    return out, total


# --------------------------------------------------------------------------- drawing it


def silo_colour(label: int) -> str:
    """Colour of a silo label (grey for communities no agent has as primary)."""
    return ABSENT_COLOUR if label < 0 else SILO_COLOURS[int(label) % len(SILO_COLOURS)]


def draw_community_graph(
    ax: Axes, data: GraphData, actors: bool = True, size: float = 1.0, labels_outside: bool = False
) -> None:
    """Draw the graph on ``ax``: communities sized by membership and coloured by silo, linked to each other.

    Edge width between two communities is the share of the smaller one's tie
    weight that runs between them (dotted: below ``silo_floor``, so not
    joined). With ``actors``, also the departments (squares; the glue
    department a gold star) and community managers (purple diamonds) on
    their ring, each linked to a community by its share of the community's
    tie weight (dashed: takes part but holds no tie yet). Node collections
    carry the gids ``communities``, ``departments``, ``cms`` and ``glue``.

    Args:
        ax: the axes (set to equal aspect, no frame, limits fitting the nodes drawn).
        data: from :func:`community_graph_data`.
        actors: whether to draw the departments and community managers and their links.
        size: how large the communities are drawn (their area; their labels grow with its root).
        labels_outside: place each community's label beside its node, away from the centre, on a white box
            (readable over the edges; for the static plot), instead of on the node.
    """
    pos = data.positions
    ax.set_aspect("equal")
    ax.axis("off")
    lim = ACTOR_RADIUS + 0.3 if actors else 1.45
    ax.set_xlim(-1.45 * lim, 1.45 * lim)
    ax.set_ylim(-lim, lim)

    between = [edge for edge in data.edges if edge[3] == "between"]
    for solid in (True, False):  # one collection per line style: fast at any number of edges
        chosen = [e for e, j in zip(between, data.joined, strict=True) if j == solid]
        ax.add_collection(
            LineCollection(
                [pos[[e[0], e[1]]] for e in chosen],
                linewidths=[min(0.6 + 14 * e[2], 10) if solid else 0.6 for e in chosen],
                colors="#444444",
                alpha=0.55 if solid else 0.35,
                linestyles="-" if solid else ":",
                zorder=1,
            )
        )
    if actors:
        _draw_actor_links(ax, data)

    n_c = len(data.members)
    areas = size * (150 + 1700 * np.sqrt(data.members / max(data.members.max(), 1)))
    ax.scatter(
        *pos[:n_c].T,
        s=areas,
        c=[silo_colour(s) for s in data.silos],
        edgecolors="#333333",
        linewidths=0.8,
        zorder=3,
        label="communities",
        gid="communities",
    )
    for c in range(n_c):
        label = f"{data.names[c].replace('_', ' ')}\n{data.members[c]:,} members\nowner {data.owners[c]}"
        if not labels_outside:
            ax.annotate(label, pos[c], ha="center", va="center", fontsize=6.5 * math.sqrt(size), zorder=4)
            continue
        x, y = pos[c]
        radial = _label_direction(math.atan2(y, x), pos[n_c:] if actors else pos[:0])
        gap = math.sqrt(areas[c]) / 2 + 4  # the node's radius in points, and a little
        ax.annotate(
            label,
            (x, y),
            xytext=tuple(gap * radial),
            textcoords="offset points",
            ha="left" if radial[0] > 0.2 else "right" if radial[0] < -0.2 else "center",
            va="bottom" if radial[1] > 0.2 else "top" if radial[1] < -0.2 else "center",
            fontsize=7.5,
            zorder=2.5,  # over the edges, under the actors
            bbox={"boxstyle": "round,pad=0.2", "fc": "white", "ec": "none", "alpha": 0.85},
        )
    if actors:
        _draw_actors(ax, data)


LABEL_CLEARANCE = math.radians(40)  # a community's label turns away from an actor closer than this


def _label_direction(angle: float, actors: np.ndarray) -> np.ndarray:
    """Unit vector from a community to its label: outwards, turned away from an actor on the same bearing."""
    if len(actors):
        bearings = np.arctan2(actors[:, 1], actors[:, 0])
        gaps = np.angle(np.exp(1j * (angle - bearings)))
        nearest = int(np.argmin(np.abs(gaps)))
        if abs(gaps[nearest]) < LABEL_CLEARANCE:
            angle = bearings[nearest] + math.copysign(LABEL_CLEARANCE, gaps[nearest])
    return np.array([math.cos(angle), math.sin(angle)])


def _draw_actor_links(ax: Axes, data: GraphData) -> None:
    """The links between actors and the communities they take part in (solid: with ties, dashed: none yet)."""
    pos = data.positions
    part = [edge for edge in data.edges if edge[3] == "takes_part"]
    for tied in (True, False):
        chosen = [e for e in part if (e[2] > 0) == tied]
        colours = [
            GLUE_COLOUR if e[0] == data.glue else CM_COLOUR if data.kinds[e[0]] == "cm" else "#5a7fa3" for e in chosen
        ]
        ax.add_collection(
            LineCollection(
                [pos[[e[0], e[1]]] for e in chosen],
                colors=colours,
                linewidths=[0.5 + 8 * e[2] for e in chosen] if tied else 0.5,
                alpha=0.6 if tied else 0.4,
                linestyles="-" if tied else "--",
                zorder=1,
            )
        )


def _draw_actors(ax: Axes, data: GraphData) -> None:
    """The departments, the glue department and the community managers on their ring, with their names."""
    pos, n_c = data.positions, len(data.members)
    for kind, marker, colour, gid in (
        ("department", "s", DEPARTMENT_COLOUR, "departments"),
        ("cm", "D", CM_COLOUR, "cms"),
    ):
        nodes = [i for i, k in enumerate(data.kinds) if k == kind and i != data.glue]
        ax.scatter(
            *pos[nodes].reshape(-1, 2).T,
            s=110,
            marker=marker,
            c=colour,
            edgecolors="#333333",
            linewidths=0.8,
            zorder=3,
            gid=gid,
        )
    if data.glue is not None:
        ax.scatter(*pos[[data.glue]].T, s=380, marker="*", c=GLUE_COLOUR, edgecolors="#333333", zorder=3, gid="glue")
    for i in range(n_c, len(data.names)):
        x, y = pos[i]
        radial = np.array([x, y]) / max(math.hypot(x, y), 1e-9)
        name = data.names[i] + (" (glue)" if i == data.glue else "")
        ax.annotate(
            name,
            (x, y),
            xytext=tuple(14 * radial),
            textcoords="offset points",
            fontsize=7.5,
            ha="left" if x > 0.1 else "right" if x < -0.1 else "center",
            va="bottom" if y > 0.1 else "top" if y < -0.1 else "center",
            zorder=4,
        )


def legend_handles(data: GraphData) -> list[Line2D]:
    """Legend entries for the node kinds drawn with actors: community, department, glue and CM if any."""
    handles = [
        Line2D([], [], ls="", marker="o", ms=9, mfc=silo_colour(0), mec="#333333", label="community (colour: silo)"),
        Line2D([], [], ls="", marker="s", ms=7, mfc=DEPARTMENT_COLOUR, mec="#333333", label="department"),
    ]
    if data.glue is not None:
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mfc=GLUE_COLOUR, mec="#333333", label="glue"))
    if "cm" in data.kinds:
        handles.append(Line2D([], [], ls="", marker="D", ms=6, mfc=CM_COLOUR, mec="#333333", label="community manager"))
    return handles
