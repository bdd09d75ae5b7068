"""Static plots of a run (PNG): the measures over time and the community graph (:mod:`silosim.analysis.graph`)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd

from silosim.analysis.graph import community_graph_data, draw_community_graph

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


def plot_community_graph(model: SiloModel, path: Path | None = None) -> plt.Figure:
    """The communities, sized by members and coloured by silo, linked by the two-way item flow between them."""
    fig, ax = plt.subplots(figsize=(7, 6))
    draw_community_graph(ax, community_graph_data(model), actors=False, size=1.7)
    ax.set_title(f"{model.config.name}, step {model.steps}: {model.measures.get('silo_count')} silo(s)")
    if path is not None:
        fig.savefig(path, dpi=100, bbox_inches="tight")
        plt.close(fig)
    return fig
