"""The browser view: figures and text built from a model, the page's model, and the server.

Everything but :func:`serve` is plain Python that returns matplotlib figures
or strings, so the page's components are tested without a browser;
:mod:`silosim.app` wraps them in Mesa's SolaraViz. :func:`serve` runs that
page with solara's server in this process, every JavaScript asset coming
from the installed ``solara-assets`` package: nothing is fetched from the
internet, and no version check or telemetry is sent. It answers only
requests addressed to the page itself from the page itself (the ``Host`` and
``Origin`` checks of :class:`HostGuard`, against DNS rebinding and
cross-site websockets).
"""

from __future__ import annotations

import errno
import io
import ipaddress
import json
import math
import os
import re
import socket
import sys
import textwrap
import threading
import typing
import warnings
import weakref
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import numpy as np
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from silosim import metrics, rules
from silosim.analysis.plots import PANELS, community_layout
from silosim.model import SiloModel
from silosim.scenario import Ownership, Scenario, ScenarioError, load

STOPPING = threading.Event()  # set when the server stops: Mesa's Play threads are not daemons
ENV_SCENARIO = "SILOSIM_VIZ_SCENARIO"  # the scenario file the page serves (set by serve)
ENV_SEED = "SILOSIM_VIZ_SEED"  # the --seed given to serve, if any
ENV_SCALE = "SILOSIM_VIZ_SCALE"  # the --scale given to serve, if not 1
NONE = "(none)"  # the select entry for "no department"
CROSS_POSTING = typing.get_args(Ownership.model_fields["cross_posting"].annotation)
ACTOR_RADIUS = 1.75  # departments and CMs ring the communities (on the unit circle)
# light enough for black labels on the nodes
SILO_COLOURS = (
    "#7ba3cc",
    "#f5a55c",
    "#8cc17f",
    "#ec8a8b",
    "#9fd0cb",
    "#f1d77a",
    "#c9a3c0",
    "#ffc1c7",
    "#c4a28c",
    "#b5d6d2",
)
DEPARTMENT_COLOUR, CM_COLOUR, GLUE_COLOUR, ABSENT_COLOUR = "#f4f4f4", "#8e6bb8", "#d4a017", "#d9d9d9"


# --------------------------------------------------------------------------- the community graph


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
    inner = community_layout(n_c)
    community_xy = np.array([inner[c] for c in range(n_c)], dtype=float)
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


def silo_colour(label: int) -> str:
    """Colour of a silo label (grey for communities no agent has as primary)."""
    return ABSENT_COLOUR if label < 0 else SILO_COLOURS[int(label) % len(SILO_COLOURS)]


def community_graph_figure(model: SiloModel) -> Figure:
    """Communities sized by membership and coloured by silo, linked to each other and to their actors.

    Edge width between two communities is the share of the smaller one's tie
    weight that runs between them (dotted: below ``silo_floor``, so not
    joined); between an actor and a community, the actor's share of the
    community's tie weight (dashed: takes part but holds no tie yet). The
    glue department is a gold star, community managers are purple diamonds.
    """
    data = community_graph_data(model)
    pos = data.positions
    fig = Figure(figsize=(6.2, 4.2), dpi=120)  # the shape of a cell of Mesa's page grid, 744 x 504 px
    ax = fig.add_axes((0.0, 0.05, 1.0, 0.88))
    ax.set_aspect("equal")
    ax.axis("off")
    lim = ACTOR_RADIUS + 0.3
    ax.set_xlim(-1.45 * lim, 1.45 * lim)
    ax.set_ylim(-lim, lim)

    between = [edge for edge in data.edges if edge[3] == "between"]
    for solid in (True, False):  # one collection per line style: fast at any number of edges
        chosen = [e for e, j in zip(between, data.joined, strict=True) if j == solid]
        widths = [min(0.6 + 14 * e[2], 10) if solid else 0.6 for e in chosen]
        ax.add_collection(
            LineCollection(
                [pos[[e[0], e[1]]] for e in chosen],
                linewidths=widths,
                colors="#444444",
                alpha=0.55 if solid else 0.35,
                linestyles="-" if solid else ":",
                zorder=1,
            )
        )
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

    n_c = len(data.members)
    size = 150 + 1700 * np.sqrt(data.members / max(data.members.max(), 1))
    ax.scatter(
        *pos[:n_c].T,
        s=size,
        c=[silo_colour(s) for s in data.silos],
        edgecolors="#333333",
        linewidths=0.8,
        zorder=3,
        label="communities",
        gid="communities",
    )
    for c in range(n_c):
        label = f"{data.names[c].replace('_', ' ')}\n{data.members[c]:,} members\nowner {data.owners[c]}"
        ax.annotate(label, pos[c], ha="center", va="center", fontsize=6.5, zorder=4)

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

    n_silos = metrics.silo_count(data.silos)
    handles = [
        Line2D([], [], ls="", marker="o", ms=9, mfc=silo_colour(0), mec="#333333", label="community (colour: silo)"),
        Line2D([], [], ls="", marker="s", ms=7, mfc=DEPARTMENT_COLOUR, mec="#333333", label="department"),
    ]
    if data.glue is not None:
        handles.append(Line2D([], [], ls="", marker="*", ms=12, mfc=GLUE_COLOUR, mec="#333333", label="glue"))
    if "cm" in data.kinds:
        handles.append(Line2D([], [], ls="", marker="D", ms=6, mfc=CM_COLOUR, mec="#333333", label="community manager"))
    fig.legend(
        handles=handles,
        loc="lower center",
        ncol=len(handles),
        fontsize=7,
        frameon=False,
        handletextpad=0.3,
        columnspacing=1.0,
    )
    fig.suptitle(
        f"step {model.steps}: {n_silos} silo{'s' if n_silos != 1 else ''} · rule {model.config.ownership.rule}"
        f" · cross-posting {model.config.ownership.cross_posting}",
        fontsize=9,
    )
    return fig


def figure_png(figure: Figure) -> bytes:
    """A figure as PNG bytes (what the page sends to the browser)."""
    out = io.BytesIO()
    figure.savefig(out, format="png")
    return out.getvalue()


# --------------------------------------------------------------------------- measures over time


def measures_figure(model: SiloModel) -> Figure:
    """The measures over time (one panel each), the scenario's events marked, the verdict as title."""
    frame = model.datacollector.get_model_vars_dataframe()
    cfg = model.config
    fig = Figure(figsize=(10, 4.65), dpi=120)  # 1200 x 558 px
    axes = fig.subplots(
        2,
        4,
        sharex=True,
        gridspec_kw={"left": 0.06, "right": 0.98, "top": 0.84, "bottom": 0.15, "wspace": 0.25, "hspace": 0.3},
    )
    bounds = {"ei_index": (-1.05, 1.05)} | dict.fromkeys(
        ("cross_reach", "practice_convergence", "fit", "knowledge"), (-0.02, 1.02)
    )
    bounds["silo_count"] = (0, len(cfg.communities) + 0.5)
    for ax, (column, title) in zip(axes.ravel(), PANELS, strict=True):
        values = frame[column].astype(float) if len(frame) else None
        if values is not None and values.notna().any():
            ax.plot(frame["step"], values, color="#1f77b4", marker="o", ms=2.5, lw=1.4)
            if column == "ei_index":
                ax.plot(
                    frame["step"],
                    frame["ei_baseline"].astype(float),
                    color="grey",
                    ls="--",
                    lw=1,
                    label="random mixing",
                )
                ax.legend(loc="best", fontsize=7, frameon=False)
        for event in cfg.events:
            ax.axvline(event.at, color="#d62728", ls=":", lw=1.2)
        ax.set_xlim(0, max(cfg.steps, 1))
        if column in bounds:
            ax.set_ylim(*bounds[column])
        if values is not None and values.isna().all():
            ax.text(0.5, 0.5, "n/a so far", transform=ax.transAxes, ha="center", va="center", fontsize=8, color="grey")
            ax.set_yticks([])
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step", fontsize=8)
    if cfg.events:
        events = "red dotted lines: " + "; ".join(event_label(e.at, e.set) for e in cfg.events)
        fig.text(0.5, 0.01, textwrap.fill(events, 120), ha="center", va="bottom", fontsize=7.5)
    fig.suptitle(textwrap.fill(verdict_text(model), 100), fontsize=9)
    return fig


def event_label(at: int, changes: dict) -> str:
    """One scheduled event in words, e.g. ``step 100: ownership.rule=glue``."""
    return f"step {at}: " + ", ".join(f"{key}={value}" for key, value in changes.items())


# --------------------------------------------------------------------------- text


def verdict_text(model: SiloModel) -> str:
    """The verdict of the latest measurement, in words."""
    if "verdict" not in model.measures:
        return f"No measurement yet: the first is at step {model.config.metrics.every}."
    return f"{model.measures['verdict'].upper()} at step {model.measures['step']}: {model.verdict_reason}"


def status_text(model: SiloModel) -> str:
    """The step counter and the ownership in force, e.g. ``Step 5 of 300 · rule glue · glue hr · ...``."""
    own = model.config.ownership
    parts = [f"Step {model.steps} of {model.config.steps}", f"rule {own.rule}"]
    if own.rule == "glue":
        parts.append(f"glue {own.glue}")
    if own.rule == "single_owner":
        parts.append(f"owner {own.owner}")
    parts += [f"cross-posting {own.cross_posting}", f"seed {model.config.seed}"]
    return " · ".join(parts)


def dynamics_text(model: SiloModel) -> str:
    """The dynamics in force that the page's sliders set, e.g. ``exploration 0.1 · tie decay 0.02 · ...``."""
    dyn = model.config.dynamics
    values = {"exploration": dyn.exploration, "tie decay": dyn.tie_decay}
    values |= {"reinforcement": dyn.reinforcement, "drift": dyn.drift}
    return " · ".join(f"{name} {value:g}" for name, value in values.items())


def timeseries_csv(model: SiloModel) -> str:
    """The measurements so far as CSV, the same columns as ``timeseries.csv`` of ``silosim run``."""
    return model.datacollector.get_model_vars_dataframe().to_csv(index=False)


# --------------------------------------------------------------------------- the page's model and controls


class VizModel(SiloModel):
    """A SiloModel built from the page's controls (Mesa's Reset calls it with their current values).

    The controls become ``--set`` overrides of the scenario file and go
    through the same validation as ``silosim run``. Invalid settings never
    raise: the model is built from ``fallback`` (the scenario the server
    started with) and ``reset_error`` holds the validation message.
    """

    def __init__(
        self,
        *,
        source: str,
        fallback: Scenario,
        rule: str,
        glue: str,
        owner: str,
        cross_posting: str,
        exploration: float,
        tie_decay: float,
        reinforcement: float,
        drift: float,
        seed: int | str,
        scale: float = 1.0,
    ):
        """Validate the controls against the scenario file, then build the model.

        Args:
            source: the scenario file.
            fallback: scenario to run when the controls are invalid.
            rule: ownership rule.
            glue: glue department, or :data:`NONE`.
            owner: ``single_owner``'s department, or :data:`NONE`.
            cross_posting: cross-posting policy.
            exploration: ``dynamics.exploration``.
            tie_decay: ``dynamics.tie_decay``.
            reinforcement: ``dynamics.reinforcement``.
            drift: ``dynamics.drift``.
            seed: the seed, as typed (a string from the text field is parsed like ``--seed``).
            scale: ``--scale``: the organisation this many times larger (:func:`silosim.scenario.scaled`).
        """
        overrides = control_overrides(
            rule=rule,
            glue=glue,
            owner=owner,
            cross_posting=cross_posting,
            exploration=exploration,
            tie_decay=tie_decay,
            reinforcement=reinforcement,
            drift=drift,
            seed=seed,
        )
        try:
            scenario, error = load(source, overrides, scale), None
        except ScenarioError as exc:  # the CLI's message; the page's controls are the CLI's --set
            scenario = fallback
            error = "\n".join(f"{p.path}: {p.message}" if p.source == "--set" else str(p) for p in exc.problems)
        super().__init__(scenario)
        self.source = source
        self.reset_error: str | None = error

    def step(self) -> None:
        """One step; none once the server is stopping (Mesa's Play loop then ends, and the process can exit)."""
        if STOPPING.is_set():
            self.running = False
            return
        super().step()


def control_overrides(
    *,
    rule: str,
    glue: str,
    owner: str,
    cross_posting: str,
    exploration: float,
    tie_decay: float,
    reinforcement: float,
    drift: float,
    seed: int | str,
) -> list[str]:
    """The controls as ``key=value`` overrides, as ``silosim run --set`` takes them."""

    def name(value: str | None) -> str:  # quoted, so that a department called 'no' stays a string
        return "" if value in (None, "", NONE) else json.dumps(value)

    def number(value: float) -> str:
        return repr(round(float(value), 6))

    return [
        f"ownership.rule={rule}",
        f"ownership.glue={name(glue)}",
        f"ownership.owner={name(owner)}",
        f"ownership.cross_posting={cross_posting}",
        f"dynamics.exploration={number(exploration)}",
        f"dynamics.tie_decay={number(tie_decay)}",
        f"dynamics.reinforcement={number(reinforcement)}",
        f"dynamics.drift={number(drift)}",
        f"seed={str(seed).strip()}",
    ]


def model_params(source: str, scenario: Scenario, seed: int | None = None, scale: float = 1.0) -> dict:
    """SolaraViz ``model_params`` for :class:`VizModel`: the controls, defaulting to the scenario's values."""
    own, dyn = scenario.ownership, scenario.dynamics
    departments = [NONE, *(d.name for d in scenario.organization.departments)]

    def slider(label: str, value: float, high: float, step: float) -> dict:
        return {
            "type": "SliderFloat",
            "label": label,
            "value": value,
            "min": 0.0,
            "max": max(high, value),
            "step": step,
        }

    return {
        "source": source,
        "fallback": scenario,
        "rule": {"type": "Select", "label": "ownership rule", "value": own.rule, "values": list(rules.RULES)},
        "glue": {
            "type": "Select",
            "label": "glue department (rule glue)",
            "value": own.glue or NONE,
            "values": departments,
        },
        "owner": {
            "type": "Select",
            "label": "owner (rule single_owner)",
            "value": own.owner or NONE,
            "values": departments,
        },
        "cross_posting": {
            "type": "Select",
            "label": "cross-posting",
            "value": own.cross_posting,
            "values": list(CROSS_POSTING),
        },
        "exploration": slider("exploration", dyn.exploration, 1.0, 0.01),
        "tie_decay": slider("tie decay", dyn.tie_decay, 0.2, 0.001),
        "reinforcement": slider("reinforcement", dyn.reinforcement, 1.0, 0.01),
        "drift": slider("drift", dyn.drift, 0.01, 0.0001),
        "seed": {"type": "InputText", "label": "seed", "value": str(scenario.seed if seed is None else seed)},
        "scale": scale,  # fixed: the --scale the server was started with
    }


def initial_kwargs(params: dict) -> dict:
    """Keyword arguments of :class:`VizModel` for the controls' default values."""
    return {key: value["value"] if isinstance(value, dict) else value for key, value in params.items()}


def page_scenario() -> tuple[str, Scenario, int | None, float]:
    """The scenario file the page serves (``SILOSIM_VIZ_SCENARIO``), validated, and the seed and scale asked for."""
    source = os.environ.get(ENV_SCENARIO, "scenarios/default.yaml")
    seed = int(os.environ[ENV_SEED]) if os.environ.get(ENV_SEED) else None
    scale = float(os.environ.get(ENV_SCALE) or 1)
    return source, load(source, [] if seed is None else [f"seed={seed}"], scale), seed, scale


# --------------------------------------------------------------------------- the server

# solara-assets ships these at full versions; solara's Altair widget asks for the short names
ASSET_ALIASES = {"vega@5": "vega@5.21.0", "vega-lite@5": "vega-lite@5.2.0", "vega-embed@6": "vega-embed@6.20.2"}
# where solara would fetch a missing asset: a loopback port, so that no request can leave the machine
OFFLINE_CDN = "http://127.0.0.1:9/npm/"


def prepare_offline_assets() -> Path:
    """Make solara serve its JavaScript from the installed solara-assets and never go online.

    Turns off solara's telemetry, points its asset proxy at the installed
    asset folder (``sys.prefix/share/solara/cdn``), adds the short-name
    aliases its Altair widget asks for, and makes a missing asset a local 404
    instead of a fetch from a CDN. Must run before solara's server is
    imported; returns the asset folder.

    Raises:
        RuntimeError: solara-assets is not installed, or its folder cannot be used.
    """
    os.environ["SOLARA_TELEMETRY_MIXPANEL_ENABLE"] = "False"
    os.environ["SOLARA_ASSETS_PROXY"] = "True"
    os.environ["SOLARA_ASSETS_CDN"] = OFFLINE_CDN
    os.environ["SOLARA_MODE"] = "production"
    import solara.server.cdn_helper as cdn_helper
    import solara.server.settings as server_settings
    import solara.settings

    server_settings.telemetry.mixpanel_enable = False
    server_settings.main.mode = "production"
    solara.settings.assets.cdn = OFFLINE_CDN
    folder = Path(server_settings.assets.proxy_cache_dir)
    if not solara.settings.assets.proxy:
        raise RuntimeError(f"solara cannot use its asset folder {folder}; the page would load its scripts from a CDN")
    if not (folder / "requirejs@2.3.6").is_dir():
        raise RuntimeError(f"no JavaScript assets in {folder}: install solara-assets (pip install solara-assets)")
    for short, full in ASSET_ALIASES.items():
        if (folder / full).is_dir() and not (folder / short).exists():
            try:
                (folder / short).symlink_to(full, target_is_directory=True)
            except OSError as exc:  # a read-only environment: only Altair charts would miss them
                print(f"silosim viz: cannot alias {short} -> {full} in {folder}: {exc}", file=sys.stderr)

    def offline(url: str) -> bytes:
        raise FileNotFoundError(f"{url}: not in the installed assets, and silosim viz never fetches from the internet")

    if hasattr(cdn_helper, "fetch_from_cdn"):
        cdn_helper.fetch_from_cdn = offline
    return folder


# --------------------------------------------------------------------------- who may use the page

LOOPBACK_NAMES = ("localhost", "127.0.0.1", "[::1]")  # always allowed when bound to loopback or everywhere
_LABEL = re.compile(r"[a-z0-9_]([a-z0-9_-]{0,61}[a-z0-9_])?")
EXAMPLE_HOSTS = "127.0.0.1 (this machine only), 0.0.0.0 (every interface) or a name this machine resolves"


class AddressError(ValueError):
    """A ``--host`` or ``--allow-host`` value that cannot be used; the message names the flag and the value."""


@dataclass(frozen=True)
class Address:
    """Where the server listens: the ``--host`` as given, resolved to one numeric address.

    Attributes:
        host: the host as given (a name, or a literal address).
        ip: the address it resolved to.
        family: ``socket.AF_INET`` or ``socket.AF_INET6``.
        sockaddr: what ``socket.bind`` takes.
    """

    host: str
    ip: ipaddress.IPv4Address | ipaddress.IPv6Address
    family: int
    sockaddr: tuple

    @property
    def loopback(self) -> bool:
        """Whether only this machine can reach the address."""
        return self.ip.is_loopback

    @property
    def everywhere(self) -> bool:
        """Whether it is the wildcard address (0.0.0.0 or ::): every interface, loopback included."""
        return self.ip.is_unspecified


def check_port(port: int) -> int:
    """The port, if it is a TCP port or 0 (any free port).

    Raises:
        ValueError: not a whole number from 0 to 65535.
    """
    if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port <= 65535:
        raise ValueError(f"--port {port!r}: expected a port from 1 to 65535, or 0 for any free port")
    return port


def _is_host_name(name: str) -> bool:
    """Whether ``name`` is a syntactically valid host name (dot-separated labels, an optional final dot)."""
    name = name.lower().removesuffix(".")
    return 0 < len(name) <= 253 and all(_LABEL.fullmatch(label) for label in name.split("."))


def resolve_host(host: str, port: int = 0) -> Address:
    """The address to listen on for ``--host``, found without any network lookup beyond the local resolver.

    Literal addresses are parsed, never looked up; a name is checked for
    syntax, refused at once if it is under ``.invalid`` (RFC 6761: such names
    never resolve), and otherwise asked of the system resolver; the first
    IPv4 address it gives is used, else the first IPv6 one.

    Args:
        host: a literal IPv4 or IPv6 address (brackets allowed) or a host name.
        port: the port, for the returned ``sockaddr``.

    Returns:
        The resolved address.

    Raises:
        AddressError: empty, malformed, or the name does not resolve.
    """
    if not isinstance(host, str) or not host.strip():
        raise AddressError(f"--host {host!r}: expected an address such as {EXAMPLE_HOSTS}; got nothing")
    text = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        ip = None
    if ip is None:
        if re.fullmatch(r"[0-9.]+", text):
            raise AddressError(
                f"--host {host!r}: not an IPv4 address: expected four numbers from 0 to 255 joined by dots, "
                "such as 127.0.0.1"
            )
        if ":" in text:
            raise AddressError(f"--host {host!r}: not an IPv6 address: expected one such as ::1")
        if not _is_host_name(text):
            raise AddressError(
                f"--host {host!r}: not a host name: expected labels of letters, digits and '-' joined by dots, "
                "none starting or ending with '-', such as localhost"
            )
        if text.lower().removesuffix(".").split(".")[-1] == "invalid":
            raise AddressError(f"--host {host!r}: names under .invalid never resolve; expected {EXAMPLE_HOSTS}")
    flags = socket.AI_NUMERICHOST if ip is not None else 0
    try:
        found = socket.getaddrinfo(text, port, socket.AF_UNSPEC, socket.SOCK_STREAM, 0, flags)
    except (socket.gaierror, UnicodeError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise AddressError(f"--host {host!r}: cannot resolve it ({reason}); expected {EXAMPLE_HOSTS}") from None
    found = [f for f in found if f[0] in (socket.AF_INET, socket.AF_INET6)]
    if not found:
        raise AddressError(f"--host {host!r}: resolves to no IPv4 or IPv6 address; expected {EXAMPLE_HOSTS}")
    family, _, _, _, sockaddr = next((f for f in found if f[0] == socket.AF_INET), found[0])
    return Address(host=host, ip=ipaddress.ip_address(sockaddr[0].split("%")[0]), family=family, sockaddr=sockaddr)


def normalize_authority(text: str) -> str | None:
    """``host`` or ``host:port`` in one canonical spelling (lower case, IPv6 in brackets), or None if malformed.

    Examples: ``LocalHost:08765`` → ``localhost:8765``; ``[0:0::1]`` → ``[::1]``; ``::1`` → ``[::1]``.
    """
    text = text.strip().lower()
    port = None
    if text.startswith("["):
        name, _, rest = text[1:].partition("]")
        if rest:
            if not rest.startswith(":"):
                return None
            port = rest[1:]
    elif text.count(":") == 1:
        name, port = text.split(":")
    else:
        name = text
    try:
        ip = ipaddress.ip_address(name)
    except ValueError:
        ip = None
    if ip is not None:
        name = f"[{ip.compressed}]" if ip.version == 6 else ip.compressed
    elif _is_host_name(name):
        name = name.removesuffix(".")
    else:
        return None
    if port is None:
        return name
    if not port.isascii() or not port.isdigit() or not 0 < int(port) <= 65535:
        return None
    return f"{name}:{int(port)}"


def origin_authority(origin: str) -> str | None:
    """The ``host[:port]`` of an http(s) ``Origin`` header (canonical), or None for any other origin."""
    parts = urlsplit(origin.strip())
    if parts.scheme.lower() not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        return None
    if parts.query or parts.fragment or "@" in parts.netloc:
        return None
    return normalize_authority(parts.netloc)


def allow_host_entry(text: str) -> str:
    """One ``--allow-host`` value as a canonical ``host`` or ``host:port``.

    Takes a host name or address, with or without a port, or an origin such
    as ``https://sim.example.org``.

    Raises:
        AddressError: none of those.
    """
    entry = origin_authority(text) if "://" in text else normalize_authority(text)
    if not text.strip() or entry is None:
        raise AddressError(
            f"--allow-host {text!r}: expected a host name or address, with or without a port, or an origin, "
            "such as sim.example.org, 10.0.0.5:8765 or https://sim.example.org"
        )
    return entry


def allowed_hosts(
    address: Address, port: int, extra: typing.Iterable[str] = (), hostname: str | None = None
) -> frozenset[str]:
    """The ``Host`` (and ``Origin`` host) values the page answers, each as ``host`` and ``host:port``.

    Always the bound address, as given and as resolved. Bound to loopback or
    to every interface (which includes loopback): also ``localhost``,
    ``127.0.0.1`` and ``[::1]``. Bound beyond loopback: also the machine's
    host name (``hostname``, full and first label). Then each ``extra``
    entry (see :func:`allow_host_entry`): with its port as given, without
    one as the bare name and with ``port``.

    Args:
        address: where the server listens.
        port: the port it listens on (the real one, if 0 was asked for).
        extra: ``--allow-host`` values.
        hostname: this machine's name (``socket.gethostname()``); used only beyond loopback.

    Returns:
        Canonical ``host`` / ``host:port`` strings.
    """
    names = {address.host, str(address.ip)}
    if address.loopback or address.everywhere:
        names.update(LOOPBACK_NAMES)
    if not address.loopback and hostname:
        names.update({hostname, hostname.split(".")[0]})
    allowed: set[str] = set()
    for name in names:
        canonical = normalize_authority(name)
        if canonical is not None:
            allowed.update({canonical, f"{canonical}:{port}"})
    for entry in extra:
        canonical = allow_host_entry(entry)
        has_port = canonical.rsplit("]", 1)[-1].count(":") == 1
        allowed.update({canonical} if has_port else {canonical, f"{canonical}:{port}"})
    return frozenset(allowed)


def refusal(host_header: str | None, origin_header: str | None, allowed: frozenset[str]) -> tuple[int, str] | None:
    """Whether to refuse a request: None to serve it, else the HTTP status and a one-line reason.

    The ``Host`` must be one of ``allowed`` (else 400: a DNS-rebinding page
    sends its own name); an ``Origin``, if sent, must be an http(s) origin
    whose host is one of ``allowed`` (else 403: another site's page, e.g. a
    cross-site websocket). A request without ``Origin`` (not sent by a
    browser for a plain page load) passes.

    Args:
        host_header: the ``Host`` header, or None if missing (or sent more than once).
        origin_header: the ``Origin`` header, or None if not sent.
        allowed: from :func:`allowed_hosts`.
    """
    if host_header is None or not host_header.strip():
        return 400, "silosim viz: refused: the request has no Host header (or more than one)"
    host = normalize_authority(host_header)
    if host not in allowed:
        fix = f"; start silosim viz with --allow-host {host} to allow it" if host else ""
        return 400, f"silosim viz: refused: Host {host_header!r} is not an address of this page{fix}"
    if origin_header is not None and (origin := origin_authority(origin_header)) not in allowed:
        fix = f"; start silosim viz with --allow-host {origin_header} to allow it" if origin else ""
        return 403, f"silosim viz: refused: requests from origin {origin_header!r} are not allowed{fix}"
    return None


def allowed(host_header: str | None, origin_header: str | None, allowed_hosts: frozenset[str]) -> bool:
    """Whether a request with these ``Host`` and ``Origin`` headers is served (see :func:`refusal`)."""
    return refusal(host_header, origin_header, allowed_hosts) is None


class HostGuard:
    """ASGI middleware: answers only requests for this page's addresses, from this page's origins.

    HTTP requests refused by :func:`refusal` get its status (400 or 403)
    and a short text body; refused websockets are closed before the
    handshake is accepted (HTTP 403). Other scopes (lifespan) pass through.
    Each distinct refusal is also reported once on stderr.
    """

    def __init__(self, app: typing.Callable, allowed: frozenset[str]):
        """Wrap ``app``.

        Args:
            app: the ASGI application (solara's starlette app).
            allowed: from :func:`allowed_hosts`.
        """
        self.app = app
        self.allowed = allowed
        self.reported: set[str] = set()

    async def __call__(self, scope: dict, receive: typing.Callable, send: typing.Callable) -> None:
        """Check the request's headers, then pass it on or refuse it."""
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        hosts = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == b"host"]
        origins = [value.decode("latin-1") for key, value in scope["headers"] if key.lower() == b"origin"]
        host = hosts[0] if len(hosts) == 1 else None
        origin = None if not origins else origins[0] if len(origins) == 1 else "(several)"
        refused = refusal(host, origin, self.allowed)
        if refused is None:
            await self.app(scope, receive, send)
            return
        status, reason = refused
        if reason not in self.reported and len(self.reported) < 100:
            self.reported.add(reason)
            print(reason, file=sys.stderr, flush=True)
        body = (reason + "\n").encode()
        headers = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]
        if scope["type"] == "http":
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        message = await receive()  # websocket.connect: the handshake waits for the answer
        if message["type"] != "websocket.connect":
            return
        if "websocket.http.response" in scope.get("extensions", {}):
            await send({"type": "websocket.http.response.start", "status": 403, "headers": headers})
            await send({"type": "websocket.http.response.body", "body": body})
        else:
            await send({"type": "websocket.close", "code": 1008})  # before accept: the server answers 403


def exposure_warning(address: Address, port: int) -> str | None:
    """The warning printed when the page is reachable from other machines (None on loopback)."""
    if address.loopback:
        return None
    where = "every network interface" if address.everywhere else f"{address.ip}, not only this machine"
    return (
        f"silosim viz: warning: --host {address.host} listens on {where}: anyone who can reach this machine "
        f"on port {port} can open the page and make it run simulations; use --host 127.0.0.1 to keep it on "
        "this machine"
    )


# --------------------------------------------------------------------------- listening and running


def _listen(address: Address) -> socket.socket:
    """A listening TCP socket on the address.

    Raises:
        OSError: the address cannot be used (in use, not this machine's, ...).
    """
    sock = socket.socket(address.family, socket.SOCK_STREAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address.sockaddr)
        sock.listen(128)
    except OSError:
        sock.close()
        raise
    return sock


def serve(
    scenario: str | Path,
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int | None = None,
    allow_hosts: typing.Sequence[str] = (),
    scale: float = 1.0,
) -> int:
    """Serve the page for one scenario file until Ctrl-C (or SIGTERM); print its address.

    Only requests for the page's own addresses are answered, and only from
    its own origins (see :func:`allowed_hosts` and :class:`HostGuard`).
    Listening beyond loopback prints a warning on stderr first.

    Args:
        scenario: scenario YAML file (validated by the caller; invalid input raises ScenarioError).
        host: address to listen on; 127.0.0.1 keeps the page on this machine.
        port: port to listen on (0: any free port; the printed address says which).
        seed: seed for the page's models (default: the scenario's).
        allow_hosts: more host names, addresses or origins the page answers (``--allow-host``).
        scale: ``--scale``: the organisation this many times larger (:func:`silosim.scenario.scaled`).

    Returns:
        0 when stopped by Ctrl-C or SIGTERM, 1 when the address cannot be used (e.g. the port is busy).

    Raises:
        ValueError: the port is not 0 to 65535.
        AddressError: the host or an allowed host is malformed, does not resolve, or is not this machine's.
    """
    address = resolve_host(host, check_port(port))
    extra = [allow_host_entry(entry) for entry in allow_hosts]
    source = str(Path(scenario).resolve())
    base = load(source, [] if seed is None else [f"seed={seed}"], scale)
    try:
        sock = _listen(address)
    except OSError as exc:
        if exc.errno == errno.EADDRNOTAVAIL:
            raise AddressError(
                f"--host {host!r}: {address.ip} is not an address of this machine; expected {EXAMPLE_HOSTS}"
            ) from None
        print(f"silosim viz: cannot listen on {host}:{port}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    try:
        bound_port = sock.getsockname()[1]
        warning = exposure_warning(address, bound_port)
        if warning:
            print(warning, file=sys.stderr, flush=True)
        allowed = allowed_hosts(address, bound_port, extra, socket.gethostname())
        url_host = f"[{host.strip('[]')}]" if ":" in host else host
        print(f"silosim viz: {base.name} at http://{url_host}:{bound_port}/  (Ctrl-C to stop)", flush=True)
        os.environ.pop(ENV_SCALE, None)  # the page reads the scale as it reads the seed (page_scenario)
        if scale != 1:
            os.environ[ENV_SCALE] = repr(float(scale))
        return _run(sock, source, seed, allowed)
    finally:
        sock.close()


def _run(sock: socket.socket, source: str, seed: int | None, allowed: frozenset[str]) -> int:
    """Run solara's app, behind :class:`HostGuard`, on the listening socket until Ctrl-C or SIGTERM."""
    import signal

    os.environ[ENV_SCENARIO] = source
    os.environ.pop(ENV_SEED, None)
    if seed is not None:
        os.environ[ENV_SEED] = str(seed)
    os.environ["SOLARA_APP"] = "silosim.app"
    prepare_offline_assets()
    import uvicorn
    from solara.server.starlette import app

    # solara warns on every page load over plain http to a host other than 'localhost'; the page needs no cookie
    warnings.filterwarnings("ignore", message="Cookies with samesite=none require https", category=UserWarning)

    config = uvicorn.Config(HostGuard(app, allowed), log_level="warning", access_log=False, timeout_graceful_shutdown=3)
    server = uvicorn.Server(config)

    def stop(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, stop)  # uvicorn re-raises it after a clean shutdown
    try:
        server.run(sockets=[sock])
    except KeyboardInterrupt:
        pass
    finally:
        STOPPING.set()
        signal.signal(signal.SIGTERM, previous)
    print("silosim viz: stopped", flush=True)
    return 0
