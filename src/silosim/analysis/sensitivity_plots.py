"""Static plots of ``silosim analyze`` (PNG): Sobol bars, Morris's μ*–σ plane, PRIM's trajectory and box.

Each ``*_figure`` function builds the figure (tests read it); the plain name
draws it and saves it at :data:`silosim.analysis.style.DPI`.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd

from silosim.analysis import style
from silosim.analysis.prim import PrimResult
from silosim.analysis.text import number


def short(name: str) -> str:
    """A dotted key's last two parts (``organization.departments.marketing.reach`` → ``marketing.reach``)."""
    return ".".join(name.split(".")[-2:])


def _save(fig: plt.Figure, path: Path) -> Path:
    fig.tight_layout()
    fig.savefig(path, dpi=style.DPI)
    plt.close(fig)
    return path


def sobol_figure(indices: pd.DataFrame, title: str) -> plt.Figure:
    """S1 and ST per parameter, bars with their 95% bootstrap intervals, sorted by ST."""
    table = indices.sort_values("ST", ascending=True)  # barh draws bottom-up: the largest on top
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.55 * len(table)))
    y = np.arange(len(table))
    ax.barh(y + 0.2, table["ST"], 0.4, xerr=table["ST_conf"], capsize=3, color=style.colour(0), label="ST (total)")
    ax.barh(y - 0.2, table["S1"], 0.4, xerr=table["S1_conf"], capsize=3, color=style.colour(1), label="S1 (alone)")
    ax.set_yticks(y, [short(p) for p in table["parameter"]], fontsize=9)
    ax.axvline(0, color="black", linewidth=0.8)
    ax.set_xlabel("Sobol index (share of variance; bars: 95% bootstrap interval)")
    ax.set_title(title, fontsize=10)
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return fig


def sobol_bars(indices: pd.DataFrame, path: Path, title: str) -> Path:
    """Save :func:`sobol_figure`."""
    return _save(sobol_figure(indices, title), path)


def morris_figure(screen: pd.DataFrame, title: str) -> plt.Figure:
    """μ* against σ per parameter, with the σ/μ* = 0.1 and 1 lines (Garcia Sanchez et al. 2014)."""
    fig, ax = plt.subplots(figsize=(7, 5))
    ax.errorbar(
        screen["mu_star"], screen["sigma"], xerr=screen["mu_star_conf"], fmt="o", capsize=3, color=style.colour(0)
    )
    # neighbours by μ* alternate above and below their point, so clustered labels do not print over each other
    for rank, row in enumerate(screen.sort_values("mu_star").itertuples()):
        offset = (5, 5) if rank % 2 == 0 else (5, -11)
        ax.annotate(
            short(row.parameter), (row.mu_star, row.sigma), textcoords="offset points", xytext=offset, fontsize=8
        )
    top = float(max(screen["mu_star"].max() + screen["mu_star_conf"].max(), screen["sigma"].max(), 1e-9)) * 1.15
    line = np.array([0, top])
    for ratio, words in ((1.0, "σ/μ* = 1: non-linear or interacting above"), (0.1, "σ/μ* = 0.1: linear below")):
        ax.plot(line, ratio * line, "--", color=style.REFERENCE_COLOUR, linewidth=0.8)
        ax.annotate(words, (top * 0.98, min(ratio * top * 0.98, top * 0.95)), fontsize=7, ha="right", va="top")
    ax.set_xlim(0, top)
    ax.set_ylim(0, top)
    ax.set_xlabel("μ* (mean absolute elementary effect; bars: 95% interval)")
    ax.set_ylabel("σ (spread of the elementary effects)")
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3)
    return fig


def morris_plot(screen: pd.DataFrame, path: Path, title: str) -> Path:
    """Save :func:`morris_figure`."""
    return _save(morris_figure(screen, title), path)


def trajectory_figure(result: PrimResult, title: str) -> plt.Figure:
    """Coverage against density of every box of the peeling trajectory, the chosen one ringed."""
    table = result.trajectory()
    fig, ax = plt.subplots(figsize=(7, 5))
    for i, count in enumerate(sorted(table["restricted"].unique())):
        part = table[table["restricted"] == count]
        ax.scatter(part["coverage"], part["density"], s=18, color=style.colour(i), label=f"{count} restricted")
    chosen = result.boxes[result.chosen]
    ax.scatter([chosen.coverage], [chosen.density], s=160, facecolors="none", edgecolors="black", linewidths=1.5)
    ax.annotate(
        f"chosen: coverage {chosen.coverage:.0%}, density {chosen.density:.0%}",
        (chosen.coverage, chosen.density),
        textcoords="offset points",
        xytext=(-10, -18),
        ha="right",
        fontsize=8,
    )
    ax.axhline(result.threshold, linestyle="--", color=style.REFERENCE_COLOUR, linewidth=0.8)
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel("coverage (share of the points where the condition holds that are in the box)")
    ax.set_ylabel("density (share of the box's points where it holds)")
    ax.set_title(title, fontsize=10)
    ax.legend(fontsize=8, loc="lower left")
    ax.grid(alpha=0.3)
    return fig


def prim_trajectory(result: PrimResult, path: Path, title: str) -> Path:
    """Save :func:`trajectory_figure`."""
    return _save(trajectory_figure(result, title), path)


def box_figure(result: PrimResult, title: str) -> plt.Figure:
    """The chosen box on each restricted parameter, as a bar over the parameter's range scaled to 0–1."""
    box, whole = result.boxes[result.chosen], result.boxes[0].limits
    names = box.restricted or list(box.limits)[:1]
    fig, ax = plt.subplots(figsize=(7, 1.2 + 0.6 * len(names)))
    for i, name in enumerate(reversed(names)):
        low, high = whole[name]
        span = high - low or 1.0
        a, b = (box.limits[name][0] - low) / span, (box.limits[name][1] - low) / span
        ax.barh(i, b - a, left=a, height=0.5, color=style.colour(0))
        ax.text(a, i + 0.32, number(box.limits[name][0], 3), fontsize=8, ha="left")
        ax.text(b, i + 0.32, number(box.limits[name][1], 3), fontsize=8, ha="right")
    ax.set_yticks(range(len(names)), [short(n) for n in reversed(names)], fontsize=9)
    ax.set_xlim(0, 1)
    ax.set_xlabel("share of the parameter's sampled range")
    ax.set_title(f"{title}: coverage {box.coverage:.0%}, density {box.density:.0%}", fontsize=10)
    return fig


def prim_box(result: PrimResult, path: Path, title: str) -> Path:
    """Save :func:`box_figure`."""
    return _save(box_figure(result, title), path)
