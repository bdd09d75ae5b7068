"""Sobol indices, Morris screening and replication noise, fed through the sweep store and ``silosim analyze``.

Known answers: the Ishigami function (Ishigami & Homma 1990; a = 7, b = 0.1)
has S1 = 0.314, 0.442, 0.000 and ST = 0.558, 0.442, 0.244 (Saltelli et al.
2008, *Global Sensitivity Analysis: The Primer*); a function linear in x1 with
slope 2, quadratic in x2 and blind to x3 has μ*(x1) = 2, σ(x1) = 0 and
μ*(x3) = σ(x3) = 0 exactly.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from silosim.analysis.analyze import analyze
from silosim.analysis.sensitivity import Target, analyse
from silosim.cli import main
from silosim.experiments.design import SweepSpec, design_meta, parameter_points
from silosim.scenario import ScenarioError
from silosim.stats import noise_share
from silosim.store import Store

ISHIGAMI_S1 = [0.3139, 0.4424, 0.0]
ISHIGAMI_ST = [0.5576, 0.4424, 0.2437]
ISHIGAMI_VARIANCE = 7**2 / 8 + 0.1 * math.pi**4 / 5 + 0.1**2 * math.pi**8 / 18 + 0.5  # 13.84


def ishigami(x: np.ndarray) -> np.ndarray:
    return np.sin(x[:, 0]) + 7 * np.sin(x[:, 1]) ** 2 + 0.1 * x[:, 2] ** 4 * np.sin(x[:, 0])


def fake_sweep(folder: Path, function, vary: dict, replications: int = 2, noise: float = 0.0, skip=(), **design):
    """A sweep store whose runs' cross_reach is ``function`` of the point (+ seeded noise): the analysis path.

    ``function`` may be a mapping strategy → function (several strategies, the first the reference).
    """
    functions = function if isinstance(function, dict) else {"f": function}
    spec = SweepSpec.model_validate(
        {
            "base": "b.yaml",
            "vary": vary,
            "replications": replications,
            "strategies": {name: {} for name in functions},
            **design,
        }
    )
    points = parameter_points(spec)
    x = np.array([[p[k] for k in vary] for p in points], dtype=float)
    meta = {
        "name": "fake",
        "strategies": list(functions),
        "vary": list(vary),
        "measures": ["cross_reach"],
        "replications": replications,
        "runs_total": len(functions) * len(points) * replications,
        "objective": {"measure": "cross_reach", "goal": "max", "stated": True},
        "design": design_meta(spec),
    }
    store = Store(folder)
    plan = [
        {"strategy": s, "point": p, "replication": r, "seed": r, "key": f"{s}-{p}-{r}", "params": points[p]}
        for r in range(replications)
        for p in range(len(points))
        for s in functions
    ]
    store.write_plan(meta, plan)
    rng = np.random.default_rng(1)
    values = {s: f(x) for s, f in functions.items()}
    with store.db:  # one transaction: thousands of runs
        for cell in plan:
            if (cell["point"], cell["replication"]) in skip or cell["point"] in skip:
                continue
            value = float(values[cell["strategy"]][cell["point"]] + noise * rng.normal())
            verdict = "merged" if value >= 0.5 else "fragmented"  # what a verdict condition reads
            store.db.execute(
                "INSERT INTO runs (key, status, verdict, cross_reach) VALUES (?, 'ok', ?, ?)",
                (cell["key"], verdict, value),
            )
    store.close()
    return folder


PI_RANGES = {f"x{i}": {"low": -math.pi, "high": math.pi} for i in (1, 2, 3)}


def test_ishigami_indices_through_the_store(tmp_path):
    fake_sweep(tmp_path, ishigami, PI_RANGES, design="sobol", samples=1024, second_order=True)
    found = analyze(tmp_path)  # the design's own analysis: Sobol
    [result] = [r for r in found.results if r.target == Target("f", "cross_reach")]
    table = result.indices.set_index("parameter")
    for name, s1, st in zip(PI_RANGES, ISHIGAMI_S1, ISHIGAMI_ST, strict=True):
        row = table.loc[name]
        assert abs(row.S1 - s1) <= row.S1_conf, (name, row.S1, row.S1_conf)
        assert abs(row.ST - st) <= row.ST_conf, (name, row.ST, row.ST_conf)
        assert 0 < row.S1_conf < 0.1 and 0 < row.ST_conf < 0.1  # intervals that say something
    pairs = result.second_order.set_index(["parameter_a", "parameter_b"])
    assert abs(pairs.loc[("x1", "x3"), "S2"] - (0.5576 - 0.3139)) < 0.1  # x1 and x3 act together (ST1 − S1)
    assert abs(pairs.loc[("x1", "x2"), "S2"]) < 0.1  # x2 acts alone
    assert result.units_used == 1024 and result.points_missing == 0 and result.runs_used == 2 * 1024 * 8
    text = found.text
    assert "turns on `x2`" in text or "turns on `x1`" in text
    sobol = pd.read_csv(tmp_path / "analysis" / "sobol.csv")
    assert set(sobol["parameter"]) == {"x1", "x2", "x3"}
    assert (tmp_path / "analysis" / "sobol_second_order.csv").is_file()
    assert (tmp_path / "analysis" / "analysis.md").read_text().count("matters") >= 2


def test_replication_noise_is_measured_and_warned(tmp_path):
    quiet = analyze(fake_sweep(tmp_path / "quiet", ishigami, PI_RANGES, design="sobol", samples=256, noise=2.0))
    [result] = quiet.results
    # noise variance 4 against the function's 13.84: 22% of the runs' variance, 13% of the means' (2 replications)
    assert result.noise_runs == pytest.approx(4 / (ISHIGAMI_VARIANCE + 4), abs=0.03)
    assert result.noise_means == pytest.approx(2 / (ISHIGAMI_VARIANCE + 2), abs=0.03)
    assert quiet.warnings == []
    loud = analyze(fake_sweep(tmp_path / "loud", ishigami, PI_RANGES, design="sobol", samples=256, noise=10.0))
    assert loud.results[0].noise_means == pytest.approx(50 / (ISHIGAMI_VARIANCE + 50), abs=0.12)  # 0.78
    assert len(loud.warnings) == 1 and "dwarfs" in loud.warnings[0]
    assert "dwarfs" in loud.text and "But replication noise is" in loud.text


def test_noise_share_by_hand():
    # two points, two replications each: within variance ((−1)² + 1² + (−1)² + 1²) / 2 = 2; means 1 and 5
    values, points = [0, 2, 4, 6], [0, 0, 1, 1]
    runs, means = noise_share(values, points)
    assert runs == pytest.approx(2 / np.var(values, ddof=1))
    assert means == pytest.approx((2 / 2) / np.var([1, 5], ddof=1))
    assert all(math.isnan(v) for v in noise_share([1, 2, 3], [0, 1, 2]))  # one replication per point


def linear_quadratic_inert(x: np.ndarray) -> np.ndarray:
    return 2 * x[:, 0] + x[:, 1] ** 2 + 0 * x[:, 2]


def test_morris_finds_the_inert_parameter(tmp_path):
    unit = {f"x{i}": {"low": 0.0, "high": 1.0} for i in (1, 2, 3)}
    fake_sweep(tmp_path, linear_quadratic_inert, unit, design="morris", trajectories=20, levels=4)
    found = analyze(tmp_path, morris=True)
    [result] = found.results
    table = result.indices.set_index("parameter")
    assert table.loc["x1", "mu_star"] == pytest.approx(2.0) and table.loc["x1", "sigma"] == pytest.approx(0.0)
    assert table.loc["x3", "mu_star"] == pytest.approx(0.0) and table.loc["x3", "sigma"] == pytest.approx(0.0)
    assert 0.3 < table.loc["x2", "mu_star"] < 1.7 and table.loc["x2", "sigma"] > 0  # (x + Δ)² − x²)/Δ = 2x + Δ
    assert "barely by `x3`" in found.text
    assert (tmp_path / "analysis" / "morris.csv").is_file()


def test_partial_sweep_says_what_it_lacks(tmp_path):
    # points 0 and 5 of base sample 0 (rows 0–4) and 1 (rows 5–9) have no run, point 12 only one replication
    fake_sweep(tmp_path, ishigami, PI_RANGES, design="sobol", samples=64, skip=(0, 5, (12, 1)))
    found = analyze(tmp_path)
    [result] = found.results
    assert result.points_missing == 2
    assert result.units_used == 62 and result.units_planned == 64
    assert result.runs_used == 62 * 5 * 2 - 1
    assert "62 of 64 base samples complete" in found.text and "2 planned points lack a run" in found.text
    assert "639 of 640 planned runs stored" not in found.text  # the store's own count
    assert f"{64 * 5 * 2 - 5} of 640 planned runs stored" in found.text


def test_grid_sweep_refuses_sobol_with_exit_2(tmp_path, capsys):
    fake_sweep(tmp_path, ishigami, PI_RANGES, design="grid", samples=3)
    assert main(["analyze", str(tmp_path), "--sobol"]) == 2
    err = capsys.readouterr().err
    assert "design is grid" in err and "design: sobol" in err and "Traceback" not in err
    assert not (tmp_path / "analysis").exists()  # nothing written
    assert main(["analyze", str(tmp_path)]) == 2  # no analysis asked, and the design supports none by default
    assert "--prim" in capsys.readouterr().err
    with pytest.raises(ScenarioError, match="design: morris"):
        analyze(tmp_path, morris=True)


def test_bad_names_get_the_nearest_one(tmp_path, capsys):
    fake_sweep(tmp_path, ishigami, PI_RANGES, design="sobol", samples=8)
    assert main(["analyze", str(tmp_path), "--objective", "cross_rech", "--prim", "g", "--verdict", "merge"]) == 2
    err = capsys.readouterr().err
    assert "did you mean 'cross_reach'" in err and "no strategy 'g'" in err and "did you mean 'merged'" in err
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "keep.txt").write_text("mine")
    assert main(["analyze", str(tmp_path), "--out", str(tmp_path / "other")]) == 2
    assert (tmp_path / "other" / "keep.txt").read_text() == "mine"
    assert main(["analyze", str(tmp_path / "nowhere")]) == 2


def test_listed_values_are_analysed_one_block_each(tmp_path):
    vary = {"k": [0.0, 1.0], **PI_RANGES}

    def shifted(x):  # k adds a constant: the same indices in both blocks
        return ishigami(x[:, 1:]) + 100 * x[:, 0]

    fake_sweep(tmp_path, shifted, vary, design="sobol", samples=256)
    found = analyze(tmp_path)
    blocks = found.results
    assert [r.where for r in blocks] == [{"k": 0.0}, {"k": 1.0}]
    for result in blocks:
        assert result.indices.set_index("parameter").loc["x2", "S1"] == pytest.approx(0.44, abs=0.1)
    st = [r.indices["ST"].to_numpy() for r in blocks]
    assert np.allclose(st[0], st[1])  # a constant shift changes nothing


def test_analyse_is_seeded(tmp_path):
    fake_sweep(tmp_path, ishigami, PI_RANGES, design="sobol", samples=64, noise=1.0)
    store = Store(tmp_path, writable=False)
    runs, meta = store.runs_frame(), store.meta()
    store.close()
    one = analyse(runs, meta["design"], Target("f", "cross_reach"), "sobol", 320, seed=3)[0].indices
    two = analyse(runs, meta["design"], Target("f", "cross_reach"), "sobol", 320, seed=3)[0].indices
    pd.testing.assert_frame_equal(one, two)


def test_prim_finds_where_one_strategy_beats_another(tmp_path):
    """g beats f by 0.5 where x1 ≤ 0.4 and x2 ≥ 0.6 (by 0.05 elsewhere): with a margin of 0.1, that box."""
    unit = {f"x{i}": {"low": 0.0, "high": 1.0} for i in (1, 2, 3)}

    def g(x):
        return np.where((x[:, 0] <= 0.4) & (x[:, 1] >= 0.6), 0.5, 0.05)

    fake_sweep(tmp_path, {"f": lambda x: 0 * x[:, 0], "g": g}, unit, design="lhs", samples=2000, noise=0.01)
    found = analyze(tmp_path, prim="g", margin=0.1, threshold=0.95)
    box = found.prim.boxes[found.prim.chosen]
    assert sorted(box.restricted) == ["x1", "x2"]
    assert box.limits["x1"][1] == pytest.approx(0.4, abs=0.05) and box.limits["x2"][0] == pytest.approx(0.6, abs=0.05)
    assert box.density >= 0.9 and box.coverage >= 0.8
    assert "`g` beats `f` on `cross_reach` (higher is better) by more than 0.1" in found.text
    assert (tmp_path / "analysis" / "prim.csv").is_file()
    # the other way round (f beats g), it holds nowhere
    nowhere = analyze(tmp_path, prim="f", versus="g", out=tmp_path / "f")
    assert nowhere.prim is None and "it holds at no point" in nowhere.text


def test_prim_on_a_verdict(tmp_path):
    """f's runs end merged (cross_reach ≥ 0.5 in this store) where x1 ≥ 0.5: the box is x1 ≥ 0.5."""
    unit = {f"x{i}": {"low": 0.0, "high": 1.0} for i in (1, 2)}
    fake_sweep(tmp_path, {"f": lambda x: x[:, 0]}, unit, design="lhs", samples=500, replications=3)
    found = analyze(tmp_path, prim="f", verdict="merged", threshold=0.95)
    box = found.prim.boxes[found.prim.chosen]
    assert box.restricted == ["x1"] and box.limits["x1"][0] == pytest.approx(0.5, abs=0.03)
    assert "`f` ends merged in most of its replications" in found.text
    assert "PRIM reads whether most of each point's replications end merged" in found.text
    assert found.prim_points[:2] == (500, 1500)


def test_prim_needs_a_direction_and_stored_runs(tmp_path, capsys):
    unit = {"x1": {"low": 0.0, "high": 1.0}}
    fake_sweep(tmp_path / "a", {"f": lambda x: x[:, 0], "g": lambda x: 1 - x[:, 0]}, unit, design="lhs", samples=20)
    assert main(["analyze", str(tmp_path / "a"), "--prim", "g", "--objective", "practice_diversity"]) == 2
    assert "'practice_diversity' has no natural direction" in capsys.readouterr().err
    empty = fake_sweep(tmp_path / "b", {"f": lambda x: x[:, 0]}, unit, design="lhs", samples=20, skip=tuple(range(20)))
    assert main(["analyze", str(empty), "--prim", "f", "--verdict", "merged"]) == 2
    assert "no stored run of f yet" in capsys.readouterr().err
    [sobol] = analyze(
        fake_sweep(tmp_path / "c", ishigami, PI_RANGES, design="sobol", samples=8, skip=tuple(range(40)))
    ).results
    assert sobol.note == "0 complete base samples: at least 2 are needed" and "0 of 8 planned runs" not in sobol.note
