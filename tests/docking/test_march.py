"""``silosim dock march``: March (1991) through silosim.needs' learning rules.

The rules alone (socialisation adopts the code where it differs and holds a
belief; code learning follows the superior majority by its margin k) are
tested in ``test_outcomes.py``; the docking calls those same functions.
"""

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from silosim import needs
from silosim.cli import main
from silosim.docking import DOCKINGS, run_docking
from silosim.docking.march import MARCH_FULL, MARCH_QUICK, march_tasks
from silosim.docking.march_model import march_period, march_settled, march_start, run_march, superior_individuals
from silosim.docking.stats import interval, paired

U = needs.UNKNOWN


def state(reality, code, beliefs):
    """One run (a batch of one) from hand-written beliefs."""
    return (
        np.array([reality], dtype=np.int8),
        np.array([code], dtype=np.int8),
        np.array([beliefs], dtype=np.int8),
    )


def test_one_period_by_hand_both_rules_from_the_start_of_the_period():
    reality, code, beliefs = state(
        [1, 0, 1],
        [U, 1, U],  # knows 0 of 3
        [
            [1, 0, U],  # knows 2: superior
            [1, 1, 0],  # knows 1: superior
            [U, 1, U],  # knows 0: not superior
        ],
    )
    socialised, learned = march_period(code, beliefs, reality, 1.0, 1.0, np.random.default_rng(0))
    # the code: feature 0, two votes for 1 (k = 2): adopted; feature 1, 0 against 1 (a tie, k = 0): kept;
    # feature 2, one vote for 0 (k = 1): adopted, though wrong
    assert code.tolist() == [[1, 1, 0]]
    assert learned == 2
    # the individuals follow the code as it was at the start (no belief on features 0 and 2): only
    # individual 0's feature 1 changes; had they followed the new code, individual 2 would hold [1, 1, 0]
    assert beliefs.tolist() == [[[1, 1, U], [1, 1, 0], [U, 1, U]]]
    assert socialised == 1
    assert not march_settled(code, beliefs, reality)[0]

    # period 2: the code knows 1 of 3, nobody knows more (no superior group); all adopt the code
    socialised, learned = march_period(code, beliefs, reality, 1.0, 1.0, np.random.default_rng(0))
    assert (socialised, learned) == (3, 0)
    assert code.tolist() == [[1, 1, 0]]
    assert beliefs.tolist() == [[[1, 1, 0]] * 3]
    assert march_settled(code, beliefs, reality)[0]
    assert superior_individuals(code, beliefs, reality).tolist() == [[False] * 3]


def test_settled_means_neither_rule_can_change_anything():
    # individuals differ from a code belief: socialisation can still change them
    reality, code, beliefs = state([1, 1], [1, U], [[0, U], [1, U]])
    assert not march_settled(code, beliefs, reality)[0]
    # everyone agrees with the code where it has a belief, but one knows more: the code can still learn
    reality, code, beliefs = state([1, 1], [1, U], [[1, 1], [1, U]])
    assert not march_settled(code, beliefs, reality)[0]
    # two superior individuals who tie on every feature where they differ from the code: an equilibrium
    # with a superior group left, which "no superior individual" alone would miss
    reality, code, beliefs = state([1, 1, 1], [1, U, U], [[1, 1, 0], [1, 0, 1]])
    assert superior_individuals(code, beliefs, reality).all()
    assert march_settled(code, beliefs, reality)[0]
    before = code.copy(), beliefs.copy()
    rng = np.random.default_rng(1)
    for _ in range(50):
        assert march_period(code, beliefs, reality, 0.9, 0.9, rng) == (0, 0)
    assert np.array_equal(code, before[0]) and np.array_equal(beliefs, before[1])


def test_runs_reach_equilibrium_and_nothing_changes_after():
    reality, beliefs, code = march_start(30, seed=5)
    rng = np.random.default_rng(6)
    settled = np.zeros(30, dtype=bool)
    for _ in range(2000):
        march_period(code, beliefs, reality, 0.3, 0.5, rng)
        settled = march_settled(code, beliefs, reality)
        if settled.all():
            break
    assert settled.all()
    # at equilibrium every individual holds the code's belief wherever the code has one
    holds = code[:, None, :] >= 0
    assert np.all((beliefs == code[:, None, :]) | ~holds)
    frozen = code.copy(), beliefs.copy()
    for _ in range(100):
        assert march_period(code, beliefs, reality, 0.9, 0.9, rng) == (0, 0)
    assert np.array_equal(code, frozen[0]) and np.array_equal(beliefs, frozen[1])
    # run_march stops each run there
    out = run_march(40, seed=[1, 2], start_seed=[3], p1=0.5, p2=0.5)
    assert out["settled"].all() and (out["periods"] > 0).all()
    assert ((out["knowledge"] >= 0) & (out["knowledge"] <= 1)).all()


def test_start_state_is_marchs():
    reality, beliefs, code = march_start(200, seed=0)
    assert reality.shape == (200, 30) and beliefs.shape == (200, 50, 30)
    assert (code == U).all()
    assert set(np.unique(reality)) == {0, 1}
    shares = np.bincount(beliefs.ravel() + 1) / beliefs.size  # −1, 0, 1 with equal chance
    assert shares == pytest.approx([1 / 3] * 3, abs=0.01)
    assert abs(reality.mean() - 0.5) < 0.02


def test_turnover_and_turbulence():
    reality, beliefs, code = march_start(50, seed=0)
    code[:] = reality  # a code that knows everything, and individuals who agree with it
    beliefs[:] = reality[:, None, :]
    old_reality = reality.copy()
    march_period(code, beliefs, reality, 0.0, 0.0, np.random.default_rng(1), p3=1.0, p4=1.0)
    assert np.array_equal(reality, 1 - old_reality)  # p4 = 1: every dimension flips
    shares = np.bincount(beliefs.ravel() + 1, minlength=3) / beliefs.size  # p3 = 1: all newcomers, naive
    assert shares == pytest.approx([1 / 3] * 3, abs=0.02)
    # no turnover, no turbulence: the same period changes neither
    reality, beliefs, code = march_start(5, seed=0)
    kept = reality.copy(), beliefs.copy()
    march_period(code, beliefs, reality, 0.0, 0.0, np.random.default_rng(1))
    assert np.array_equal(reality, kept[0]) and np.array_equal(beliefs, kept[1])


def test_a_population_of_fast_learners_is_the_homogeneous_fast_one():
    # the per-individual rate array (mixed learners) takes the same draws as a single rate
    args = {"runs": 20, "seed": [4], "start_seed": [5], "p2": 0.5}
    mixed = run_march(p1=0.1, fast=50, fast_p1=0.9, **args)
    plain = run_march(p1=0.9, **args)
    for key in plain:
        assert np.array_equal(mixed[key], plain[key])


def test_slow_socialisation_knows_more_than_fast():
    args = {"runs": 120, "start_seed": [7], "p2": 0.5}
    slow = run_march(p1=0.1, seed=[8], **args)["knowledge"]
    fast = run_march(p1=0.9, seed=[9], **args)["knowledge"]
    slow_mean, slow_low, _ = interval(slow)
    fast_mean, _, fast_high = interval(fast)
    assert slow_low > fast_high  # the 95% intervals do not overlap
    assert paired(slow, fast).above
    assert slow_mean - fast_mean > 0.05


def test_paired_comparison():
    a = np.array([0.8, 0.7, 0.9, 0.6])
    c = paired(a + 0.1, a)
    assert c.diff == pytest.approx(0.1) and c.above and c.overlap  # a constant shift: tight despite the spread
    assert not paired(a, a).above
    assert not paired(a, a + 0.1).above


@pytest.fixture(scope="module")
def quick_march(tmp_path_factory):
    base = tmp_path_factory.mktemp("dock")
    one = base / "jobs1"
    code = run_docking("march", jobs=1, out=one, quick=True, progress=False)
    two = base / "jobs2"
    cli_code = main(["dock", "march", "--quick", "--jobs", "2", "--out", str(two)])
    return code, one, cli_code, two


def test_quick_march_docking_passes_and_reports(quick_march):
    code, out, _, _ = quick_march
    assert code == 0
    summary = json.loads((out / "dock.json").read_text())
    assert summary["passed"] and summary["command"] == "silosim dock march --quick"
    assert summary["capped_runs"] == 0
    texts = [c["check"] for c in summary["checks"]]
    for claim in (
        "slower socialisation, more knowledge",
        "faster code learning, more knowledge",
        "every mix of slow",
        "moderate turnover",
        "too much lowers it again",
        "the code's knowledge erodes",
        "with turnover p3 = 0.1",
    ):
        assert any(claim in t for t in texts), claim
    assert {p.name for p in out.iterdir()} == {
        "figure1.csv",
        "mixed.csv",
        "turnover.csv",
        "turbulence.csv",
        "turbulence_trace.csv",
        "runs.csv",
        "dock.md",
        "dock.png",
        "dock.json",
    }
    markdown = (out / "dock.md").read_text()
    for heading in ("## How it is run", "## Figure 1", "## Figure 2", "## Turnover", "## Turbulence", "## Checks"):
        assert heading in markdown
    assert "from the same state" in markdown and "1 − (1 − p2)^k" in markdown
    assert "- ✗" not in markdown and markdown.count("- ✓") == len(texts)
    quick = MARCH_QUICK
    figure1 = {(r["p2"], r["p1"]): r for r in summary["figure1"]}
    assert set(figure1) == {(p2, p1) for p2 in quick.p2 for p1 in quick.p1}
    assert all(r["runs"] == quick.runs for r in summary["figure1"])
    for p2 in quick.p2:  # slower socialisation, more knowledge (run by run: the checks above)
        assert figure1[p2, 0.1]["knowledge"] > figure1[p2, 0.9]["knowledge"]
    assert figure1[0.5, 0.1]["low"] > figure1[0.5, 0.9]["high"]  # by far, at p2 = 0.5: the intervals apart
    mixed = {r["fast"]: r for r in summary["mixed"]}
    assert all(mixed[f]["knowledge"] > mixed[50]["knowledge"] for f in quick.fast if 0 < f < 50)


def test_quick_march_docking_does_not_depend_on_jobs(quick_march):
    _, one, cli_code, two = quick_march
    assert cli_code == 0
    a, b = (json.loads((out / "dock.json").read_text()) for out in (one, two))
    assert a["jobs"] == 1 and b["jobs"] == 2
    for key in ("figure1", "mixed", "turnover", "turbulence", "checks"):
        assert a[key] == b[key], key
    assert (one / "runs.csv").read_text() == (two / "runs.csv").read_text()


def test_a_failed_check_exits_1(tmp_path, monkeypatch):
    # "moderate" turnover set to the heaviest: it cannot lie below itself, nor beat none
    tiny = replace(MARCH_QUICK, runs=8, p1=(0.1, 0.9), fast=(0, 50), turnover=(0.0, 1.0), moderate=1.0)
    monkeypatch.setitem(DOCKINGS, "march", replace(DOCKINGS["march"], quick=tiny))
    out = tmp_path / "dock-march"
    assert run_docking("march", jobs=1, out=out, quick=True, progress=False) == 1
    summary = json.loads((out / "dock.json").read_text())
    failed = [c["check"] for c in summary["checks"] if not c["passed"]]
    assert any("too much lowers it again" in t for t in failed)
    assert "- ✗" in (out / "dock.md").read_text()


def test_a_plan_without_the_compared_conditions_is_refused():
    with pytest.raises(ValueError, match="lacks"):
        march_tasks(replace(MARCH_QUICK, turnover=(0.1, 0.3)))
    with pytest.raises(ValueError, match="horizon"):
        run_march(2, seed=[1], start_seed=[1], p1=0.5, p2=0.5, p3=0.1)
    assert math.isclose(MARCH_FULL.mean_p1(10), 0.26)
