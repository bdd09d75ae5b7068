"""The analysis plots draw what they are given: bars and their intervals, μ*–σ points, the chosen PRIM box."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.container import BarContainer
from matplotlib.image import imread

from silosim.analysis import sensitivity_plots as plots
from silosim.analysis.prim import prim

INDICES = pd.DataFrame(
    {
        "parameter": ["dynamics.exploration", "organization.departments.marketing.reach", "dynamics.tie_decay"],
        "S1": [0.10, 0.60, 0.0],
        "S1_conf": [0.02, 0.05, 0.01],
        "ST": [0.20, 0.70, 0.01],
        "ST_conf": [0.03, 0.06, 0.01],
    }
)


def _bars(ax: plt.Axes) -> dict[str, list[tuple[float, float]]]:
    """Each bar's (width, y) by its container's label."""
    return {
        c.get_label(): [(p.get_width(), p.get_y() + p.get_height() / 2) for p in c]
        for c in ax.containers
        if isinstance(c, BarContainer)
    }


def test_sobol_bars_draw_each_index_with_its_interval(tmp_path):
    fig = plots.sobol_figure(INDICES, "t")
    ax = fig.axes[0]
    bars = _bars(ax)
    st = sorted(w for w, _ in bars["ST (total)"])
    assert st == pytest.approx([0.01, 0.20, 0.70]) and sorted(w for w, _ in bars["S1 (alone)"]) == [0.0, 0.1, 0.6]
    labels = [t.get_text() for t in ax.get_yticklabels()]
    assert labels == ["dynamics.tie_decay", "dynamics.exploration", "marketing.reach"]  # by ST, the largest on top
    half_widths = sorted(
        round(float(np.ptp(seg[:, 0])) / 2, 6) for coll in ax.collections for seg in coll.get_segments()
    )
    assert half_widths == sorted([0.02, 0.05, 0.01, 0.03, 0.06, 0.01])
    plt.close(fig)
    path = plots.sobol_bars(INDICES, tmp_path / "s.png", "t")
    assert imread(path).shape[1] == 8 * 200  # 8 inches at 200 dpi


def test_morris_plot_puts_each_parameter_at_its_mu_star_and_sigma(tmp_path):
    screen = pd.DataFrame(
        {"parameter": ["a.x", "a.y"], "mu_star": [2.0, 0.5], "mu_star_conf": [0.1, 0.2], "sigma": [0.0, 0.7]}
    )
    fig = plots.morris_figure(screen, "t")
    ax = fig.axes[0]
    points = ax.lines[0].get_xydata()
    assert points.tolist() == [[2.0, 0.0], [0.5, 0.7]]
    assert sorted(t.get_text() for t in ax.texts if t.get_text() in ("a.x", "a.y")) == ["a.x", "a.y"]
    plt.close(fig)
    assert plots.morris_plot(screen, tmp_path / "m.png", "t").is_file()


def test_prim_plots_ring_the_chosen_box(tmp_path):
    rng = np.random.default_rng(0)
    x = pd.DataFrame(rng.random((500, 3)), columns=["p.a", "p.b", "p.c"])
    result = prim(x, (x["p.a"] > 0.5).to_numpy(), threshold=0.9)
    fig = plots.trajectory_figure(result, "t")
    ring = fig.axes[0].collections[-1].get_offsets()[0]
    chosen = result.boxes[result.chosen]
    assert ring.tolist() == pytest.approx([chosen.coverage, chosen.density])
    plt.close(fig)
    box = plots.box_figure(result, "t")
    [bar] = box.axes[0].patches  # one restricted parameter
    assert bar.get_x() == pytest.approx((chosen.limits["p.a"][0] - result.boxes[0].limits["p.a"][0]) / np.ptp(x["p.a"]))
    plt.close(box)
    assert plots.prim_trajectory(result, tmp_path / "t.png", "t").is_file()
    assert plots.prim_box(result, tmp_path / "b.png", "t").is_file()
