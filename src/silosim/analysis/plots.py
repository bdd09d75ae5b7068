"""Static plots of a run (PNG): the measures over time and the community graph."""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import networkx as nx
import numpy as np
import pandas as pd

if TYPE_CHECKING:
    from silosim.model import SiloModel
    from silosim.scenario import Scenario

PANELS = (
    ("ei_index", "E-I index (−1 silos … +1 open)"),
    ("modularity", "modularity Q"),
    ("silo_count", "silo count"),
    ("cross_reach", "cross-community reach"),
    ("practice_convergence", "practice convergence"),
    ("time_to_insight", "time to insight (steps)"),
    ("fit", "fit to stakeholders' needs"),
    ("knowledge", "knowledge (best practice held)"),
)


def plot_timeseries(timeseries: pd.DataFrame, scenario: Scenario, path: Path) -> None:
    """Eight panels of measures against step, with the scenario's events marked."""
    fig, axes = plt.subplots(2, 4, figsize=(17, 6.5), sharex=True)
    for ax, (column, title) in zip(axes.ravel(), PANELS, strict=True):
        ax.plot(timeseries["step"], timeseries[column], color="tab:blue")
        if column == "ei_index":
            ax.plot(timeseries["step"], timeseries["ei_baseline"], color="grey", ls="--", label="random mixing")
            ax.legend(loc="best", fontsize=8)
        for event in scenario.events:
            ax.axvline(event.at, color="tab:red", ls=":", lw=1)
        ax.set_title(title, fontsize=10)
        ax.grid(alpha=0.3)
    for ax in axes[-1]:
        ax.set_xlabel("step")
    verdict = timeseries["verdict"].iloc[-1] if len(timeseries) else "?"
    fig.suptitle(f"{scenario.name}: {verdict}", fontsize=12)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def community_layout(n: int) -> dict[int, tuple[float, float]]:
    """Fixed positions on a circle: the same every frame, no re-layout jitter."""
    return {c: (math.cos(2 * math.pi * c / max(n, 1)), math.sin(2 * math.pi * c / max(n, 1))) for c in range(n)}


def plot_community_graph(model: SiloModel, path: Path | None = None) -> plt.Figure:
    """Communities sized by members, edges by two-way item flow between them, one colour per silo."""
    names = [c.name for c in model.config.communities]
    labels, sizes = model.silo_labels, model.community_sizes
    mutual = np.nan_to_num(np.minimum(model.flow, model.flow.T), nan=0.0)
    graph = nx.Graph()
    graph.add_nodes_from(range(len(names)))
    for a in range(len(names)):
        for b in range(a + 1, len(names)):
            if mutual[a, b] > 0:
                graph.add_edge(a, b, share=mutual[a, b])
    pos = community_layout(len(names))
    fig, ax = plt.subplots(figsize=(7, 6))
    colours = plt.get_cmap("tab10")
    node_colour = [colours(int(label) % 10) if label >= 0 else "lightgrey" for label in labels]
    widths = [0.5 + 8 * graph.edges[e]["share"] for e in graph.edges]
    nx.draw_networkx_edges(graph, pos, width=widths, alpha=0.5, ax=ax)
    nx.draw_networkx_nodes(graph, pos, node_size=300 + 3000 * np.sqrt(sizes / max(sizes.max(), 1)),
                           node_color=node_colour, ax=ax)  # fmt: skip
    owners = model.assignment.owners
    nx.draw_networkx_labels(graph, pos, {c: f"{names[c]}\n({owners[c]})" for c in range(len(names))},
                            font_size=8, ax=ax)  # fmt: skip
    ax.set_title(f"{model.config.name}, step {model.steps}: {model.measures.get('silo_count')} silo(s)")
    ax.axis("off")
    ax.margins(0.25)
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return fig
