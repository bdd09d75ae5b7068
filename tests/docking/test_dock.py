"""Docking (``silosim dock``): lattices, the stopping rule, regions, the batched engine, the quick dockings.

The interaction rule alone (identical agents never change, agents sharing
nothing never interact, one exchange changes at most one feature, toward the
partner's trait) is tested in ``test_dynamics.py``; the docking calls that
same function.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from silosim.docking import DOCKINGS, run_docking
from silosim.docking.axelrod import AXELROD_QUICK, PUBLISHED_RUNS, TABLE2, published_mean_check
from silosim.docking.drift import DriftPlan, crossing, curve_spread
from silosim.docking.lattice import is_frozen, lattice, regions, run_axelrod, run_drift
from silosim.docking.report import Report, write_folder
from silosim.dynamics import axelrod_exchange


def test_lattice_is_bounded_with_four_neighbours():
    neighbours, degree, edges = lattice(3)
    assert degree.reshape(3, 3).tolist() == [[2, 3, 2], [3, 4, 3], [2, 3, 2]]
    assert sorted(neighbours[0, :2]) == [1, 3]  # a corner: no wrap-around
    assert sorted(neighbours[4, :4]) == [1, 3, 5, 7]
    assert len(edges) == 12
    assert {tuple(sorted(e)) for e in edges} == {
        tuple(sorted((s, int(n)))) for s in range(9) for n in neighbours[s, : degree[s]]
    }


def test_stopping_rule_on_hand_built_lattices():
    same = np.zeros((3, 3, 4), dtype=int)
    assert is_frozen(same)  # every pair identical
    blocks = same.copy()
    blocks[:, 2] = 1
    assert is_frozen(blocks)  # two blocks that share nothing
    one_off = same.copy()
    one_off[1, 1, 0] = 1
    assert not is_frozen(one_off)  # shares 3 of 4 features with its neighbours: can still change


def test_regions_are_connected_sets_of_identical_culture():
    grid = np.zeros((4, 4, 2), dtype=int)
    grid[:, 2:] = 1  # two halves
    grid[0, 0] = grid[3, 3] = [3, 3]  # the same culture twice, not connected: two more regions
    count, largest = regions(grid[None])
    assert count.tolist() == [4]
    assert largest.tolist() == [7]
    count, largest = regions(np.stack([grid, np.zeros_like(grid)]))  # lattices are counted apart
    assert count.tolist() == [4, 1]
    assert largest.tolist() == [7, 16]


def one_event_at_a_time(side: int, features: int, traits: int, runs: int, seed: int) -> np.ndarray:
    """Reference: every lattice takes one event per step, each through axelrod_exchange; no batching tricks."""
    rng = np.random.default_rng(seed)
    neighbours, degree, _ = lattice(side)
    n = side * side
    culture = rng.integers(0, traits, (runs * n, features))
    base = np.arange(runs) * n
    while True:
        for _ in range(n):
            site = rng.integers(0, n, runs)
            other = neighbours[site, (rng.random(runs) * degree[site]).astype(int)]
            _, new = axelrod_exchange(culture[base + site], culture[base + other], rng.random(runs), rng.random(runs))
            culture[base + site] = new
        grids = culture.reshape(runs, side, side, features)
        if all(is_frozen(g) for g in grids):
            return regions(grids)[0]


def test_batched_engine_gives_the_same_distribution_as_one_event_at_a_time():
    reference = one_event_at_a_time(4, 3, 4, 1000, seed=1)
    batched = run_axelrod(4, 3, 4, 1000, seed=2)
    assert batched["frozen"].all()
    assert stats.mannwhitneyu(reference, batched["regions"]).pvalue > 0.05
    se = math.sqrt(reference.var() / 1000 + batched["regions"].var() / 1000)
    assert abs(reference.mean() - batched["regions"].mean()) < 3 * se


def test_same_seed_same_runs():
    a, b = run_axelrod(6, 5, 10, 8, seed=[1, 2]), run_axelrod(6, 5, 10, 8, seed=[1, 2])
    for key in a:
        assert np.array_equal(a[key], b[key])


def test_published_mean_check():
    ones = np.ones(50)
    assert published_mean_check(ones, 1.0, 0.05)["consistent"]
    assert not published_mean_check(ones, 1.2, 0.05)["consistent"]
    spread = np.arange(20.0)
    check = published_mean_check(spread, spread.mean(), 0.05)
    assert check["consistent"] and check["p"] > 0.9
    assert check["range_low"] < spread.mean() < check["range_high"]
    assert not published_mean_check(spread, 30.0, 0.05)["consistent"]


def test_crossing_interpolates_on_a_log_scale():
    assert crossing([1, 10, 100], [0.9, 0.7, 0.3]) == pytest.approx(10**1.5)
    assert math.isnan(crossing([1, 10], [0.9, 0.7]))


def test_drift_lattices_sweep_together_and_weak_drift_keeps_one_culture():
    run = run_drift(6, 5, 15, [0.0, 0.0, 0.5, 0.5], seed=3, sweeps=60, burn_in=30, uniform=True)
    assert run["order"][:2].tolist() == [1.0, 1.0]  # no drift: one culture stays one region
    assert run["regions"][:2].tolist() == [1, 1]
    assert (run["order"][2:] < 0.5).all()  # every site redrawn every other sweep or so: disorder


@pytest.fixture(scope="module")
def quick_axelrod(tmp_path_factory):
    out = tmp_path_factory.mktemp("dock") / "dock-axelrod"
    return run_docking("axelrod", jobs=2, out=out, quick=True, progress=False), out


def test_quick_axelrod_docking_holds_what_cannot_be_wrong(quick_axelrod):
    code, out = quick_axelrod
    assert code == 0
    table = pd.read_csv(out / "table2.csv").set_index(["F", "q"])
    runs = pd.read_csv(out / "runs.csv")
    assert table.loc[(5, 5), "mean"] <= 1.5  # (almost) one region
    assert table.loc[(5, 15), "mean"] > 10  # many regions
    at_f5 = table.loc[5, "mean"]
    assert at_f5[5] <= at_f5[10] <= at_f5[15]  # more traits never fewer regions
    assert runs["stopping_rule_met"].all()  # the stopping rule holds at the end of every run
    assert (table["runs"] == PUBLISHED_RUNS).all()
    assert table["published"].tolist() == list(TABLE2.values())


def test_quick_axelrod_report_folder(quick_axelrod):
    _, out = quick_axelrod
    assert {p.name for p in out.iterdir()} == {
        "table2.csv",
        "territory.csv",
        "runs.csv",
        "dock.md",
        "dock.png",
        "dock.json",
    }
    summary = json.loads((out / "dock.json").read_text())
    assert summary["passed"] and summary["command"] == "silosim dock axelrod --quick"
    territory = pd.read_csv(out / "territory.csv")
    assert territory["side"].tolist() == list(AXELROD_QUICK.sides)
    markdown = (out / "dock.md").read_text()
    assert "silosim dock axelrod --quick" in markdown and "| 15 | 15 |" in markdown.replace("  ", " ")


def test_drift_docks_against_klemm_and_says_why_not_deffuant(tmp_path, monkeypatch, capsys):
    tiny = DriftPlan(
        runs=3,
        sides=(6, 8),
        noise=(0.1, 10.0),
        sweep_factor=1.0,
        min_sweeps=200,
        polarized_side=6,
        polarized_noise=(0.0, 0.3, 10.0),
        polarized_sweeps=600,
    )
    monkeypatch.setitem(DOCKINGS, "drift", replace(DOCKINGS["drift"], quick=tiny))
    code = run_docking("drift", jobs=1, out=tmp_path / "dock-drift", quick=True, progress=False)
    printed = capsys.readouterr().out
    assert code in (0, 1)  # the checks are the docking's verdict, not the test's
    assert "Klemm" in printed and "bounded-confidence" in printed and "drift_traits" in printed
    order = pd.read_csv(tmp_path / "dock-drift" / "drift.csv")
    one = order[order.start == "one culture"].set_index(["side", "x"])["order"]
    assert (one.xs(0.1, level="x") > 0.8).all()
    assert (one.xs(10.0, level="x") < 0.3).all()
    assert len(pd.read_csv(tmp_path / "dock-drift" / "thresholds.csv")) == 2


def test_deffuant_is_refused_with_the_new_name(tmp_path, capsys):
    out = tmp_path / "dock-deffuant"
    assert run_docking("deffuant", out=out, quick=True, progress=False) == 2
    err = capsys.readouterr().err
    assert "silosim dock drift" in err and "Klemm" in err and "bounded confidence" in err
    assert not out.exists()
    assert run_docking("bogus", out=out, quick=True, progress=False) == 2
    assert "unknown model 'bogus' (axelrod, drift, march)" in capsys.readouterr().err


def test_an_out_folder_that_is_not_a_docking_report_is_left_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    assert run_docking("axelrod", out=out, quick=True, progress=False) == 2
    assert "not a docking report" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


def test_a_docking_report_is_replaced_whole(tmp_path):
    report = Report(
        "axelrod",
        {"table2": pd.DataFrame({"a": [1]})},
        "text",
        "terminal",
        [("holds", True)],
        {},
        lambda path: path.write_bytes(b"png"),
    )
    out = tmp_path / "dock-axelrod"
    for _ in range(2):
        write_folder(out, report, {"title": "# t", "line": "l"})
    assert [p.name for p in tmp_path.iterdir()] == ["dock-axelrod"]  # no partial or old folder left
    assert {p.name for p in out.iterdir()} == {"table2.csv", "dock.md", "dock.png", "dock.json"}


def test_curve_spread_is_zero_when_curves_collapse():
    rows = []
    for side in (10, 20):
        n = side * side
        for x, order in ((0.1, 0.9), (1.0, 0.5), (10.0, 0.1)):
            rows.append({"side": side, "x": x, "rate": x / (n * math.log(n)), "order": order})
    table = pd.DataFrame(rows)
    assert curve_spread(table, 1.0) == pytest.approx(0.0)  # the same curve against r·N·ln N
    assert curve_spread(table, 0.0) > 0.01  # shifted by ln N against r·N
