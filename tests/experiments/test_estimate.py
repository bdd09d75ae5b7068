"""The dry run's time estimate, the sweep's progress bar and what a finished sweep prints."""

from __future__ import annotations

import functools
import re
from pathlib import Path

import pytest
from tqdm import tqdm

from silosim.cli import main
from silosim.cli.sweep import report_text
from silosim.experiments import design as design_mod
from silosim.experiments import sweep as sweep_mod
from silosim.experiments.sweep import progress_text, remaining_seconds
from silosim.resources import (
    REFERENCE_PROBE_S,
    REPORT_FIGURE_S,
    REPORT_FIXED_S,
    REPORT_PANEL_S,
    StepCost,
    contention,
    makespan,
    report_seconds,
    run_seconds,
    speed_factor,
    work_per_step,
)
from tests.experiments.test_sweep import write_sweep as small_sweep


def write_sweep(folder: Path, **changes) -> Path:
    """test_sweep's small sweep (2 strategies × 2 points × 3 replications), reporting one measure."""
    return small_sweep(folder, **{"measures": ["cross_reach"], **changes})


# --------------------------------------------------------------------------- the arithmetic of the estimate


def test_a_run_costs_its_fixed_part_and_each_further_step():
    assert run_seconds([StepCost(work=1000, fixed_s=0.5, step_s=0.01)], 1000, 101) == pytest.approx(1.5)
    assert run_seconds([StepCost(work=1000, fixed_s=0.5, step_s=0.01)], 1000, 1) == pytest.approx(0.5)


def test_run_seconds_interpolate_between_calibrations_and_scale_beyond_them():
    costs = [StepCost(100, 0.1, 0.001), StepCost(300, 0.3, 0.003)]
    assert run_seconds(costs, 200, 11) == pytest.approx(0.2 + 10 * 0.002)  # halfway: both halves
    assert run_seconds(costs, 100, 11) == pytest.approx(0.1 + 10 * 0.001)
    assert run_seconds(costs, 600, 11) == pytest.approx(0.3 + 10 * 0.006)  # twice the dearest: twice its step
    assert run_seconds(costs, 50, 11) == pytest.approx(0.1 + 10 * 0.0005)


def test_calibrations_of_about_the_same_work_are_averaged_not_extrapolated():
    # 1,000 and 1,100 are within 25 %: their steps (noise) are averaged, never a slope between them
    costs = [StepCost(1000, 0.2, 0.004), StepCost(1100, 0.4, 0.006)]
    assert run_seconds(costs, 1050, 101) == pytest.approx(0.3 + 100 * 0.005)
    assert run_seconds(costs, 1000, 101) == pytest.approx(0.3 + 100 * 0.005)
    with pytest.raises(ValueError):
        run_seconds([], 1000, 10)


def test_runs_are_handed_to_the_worker_free_first_after_its_load():
    assert makespan([3, 1, 1, 1], workers=2, first_s=0.5) == pytest.approx(3.5)  # 0.5+3 | 0.5+1+1+1
    assert makespan([2, 2, 2], workers=2, first_s=1) == pytest.approx(5)  # the third waits for a worker
    assert makespan([2, 2, 2], workers=1, first_s=1) == pytest.approx(7)
    assert makespan([1], workers=4, first_s=2) == pytest.approx(3)  # idle workers add nothing
    assert makespan([], workers=2, first_s=2) == 0


def test_the_report_costs_its_figures_and_panels_at_this_machines_speed():
    # 1 varied key, 6 measures: 4 figures (by strategy, against the key, verdicts, over time)
    # holding 6 + 6 + 6 + 1 panels
    expected = REPORT_FIXED_S + 4 * REPORT_FIGURE_S + 19 * REPORT_PANEL_S
    assert report_seconds(1, 6) == pytest.approx(expected)
    assert report_seconds(1, 6, speed=2.0) == pytest.approx(2 * expected)
    assert report_seconds(0, 1) == pytest.approx(REPORT_FIXED_S + 3 * REPORT_FIGURE_S + 3 * REPORT_PANEL_S)


def test_the_speed_factor_compares_the_probe_with_the_reference_machine():
    assert speed_factor(2 * REFERENCE_PROBE_S) == pytest.approx(2.0)
    assert speed_factor(0.5 * REFERENCE_PROBE_S) == pytest.approx(0.5)
    assert speed_factor(100 * REFERENCE_PROBE_S) == 4.0  # kept within 0.25-4
    assert speed_factor(0.0) == 0.25


def test_the_estimate_adds_start_up_runs_on_the_workers_and_the_report(tmp_path, monkeypatch):
    sweep = design_mod.load_sweep(write_sweep(tmp_path))
    record = sweep_mod.execute("probe", {**sweep.scenario("closed", 0, sweep.seeds[0]), "steps": 1})
    work = work_per_step(sweep.validated[("closed", 0)])
    cost = StepCost(work, 0.5, 0.01)  # every cell: 0.5 + 19 × 0.01 = 0.69 s

    def fake(sweep, budget_s):
        return sweep_mod.Calibration(1.0, {("closed", 0): cost}, record, busy_cores=0.0, probe_s=3 * REFERENCE_PROBE_S)

    monkeypatch.setattr(sweep_mod, "calibrate", fake)
    monkeypatch.setattr(sweep_mod.os, "sched_getaffinity", lambda pid: {0, 1})  # 2 cores, idle
    figures = sweep_mod.estimate(sweep, tmp_path / "out", retry_failed=False, workers=2, startup_s=3.0)
    assert figures["to_run"] == 12 and figures["seconds_per_run"] == pytest.approx(0.69)
    assert figures["runs_s"] == pytest.approx(1.0 + 6 * 0.69)  # 12 runs, 6 on each worker after its load
    report = report_seconds(1, 1, speed=3.0)  # the probe took 3 times the reference's
    assert figures["report_s"] == pytest.approx(report)
    assert figures["seconds"] == pytest.approx(3.0 + 1.0 + 6 * 0.69 + report)
    one = sweep_mod.estimate(sweep, tmp_path / "out", retry_failed=False, workers=1, startup_s=3.0)
    assert one["runs_s"] == pytest.approx(1.0 + 12 * 0.69)
    assert figures["bytes"] > 0 and figures["contention"] == 1.0
    four = sweep_mod.estimate(sweep, tmp_path / "out", retry_failed=False, workers=4, startup_s=3.0)
    assert four["contention"] == 2.0  # 4 workers on 2 cores: each at half speed
    assert four["runs_s"] == pytest.approx(2 * 1.0 + 3 * 2 * 0.69)  # 3 runs each, at half speed


def test_workers_and_other_work_beyond_the_cores_slow_each_run():
    assert contention(workers=2, cores=2) == 1.0
    assert contention(workers=4, cores=2) == 2.0
    assert contention(workers=1, cores=2, busy=1.0) == 1.0  # a free core for the one worker
    # 2 workers + 2 cores of other work on 2 cores: half a core each; the calibration had 2/3 of one
    assert contention(workers=2, cores=2, busy=2.0) == pytest.approx((4 / 2) / (3 / 2))
    assert contention(workers=0, cores=0, busy=-1) == 1.0


# --------------------------------------------------------------------------- the progress bar


def test_no_time_is_promised_before_a_warm_run_has_finished():
    assert progress_text([], 12, 0, 12, 0, 2) == "starting: loading the model on 2 workers, stored 0/12, failed 0"
    assert progress_text([], 4, 8, 12, 0, 1) == "starting: loading the model on 1 worker, stored 8/12, failed 0"
    # the first run of each worker loaded the compiled code: nothing to go by yet
    assert progress_text([9.0], 12, 1, 12, 0, 2) == "remaining ?, stored 1/12, failed 0"
    assert progress_text([9.0, 8.5], 12, 2, 12, 1, 2) == "remaining ?, stored 2/12, failed 1"
    assert remaining_seconds([9.0, 8.5], 12, 2) is None


def test_the_time_left_comes_from_warm_runs_over_the_workers():
    # two loads (9, 8 s) left out; warm runs of 2 and 4 s: 3 s each, 8 runs left on 2 workers
    assert remaining_seconds([9.0, 8.0, 2.0, 4.0], 12, 2) == pytest.approx(12.0)
    assert progress_text([9.0, 8.0, 2.0, 4.0], 12, 4, 12, 0, 2) == "remaining 12 s, stored 4/12, failed 0"
    assert remaining_seconds([9.0, 8.0, 2.0, 4.0], 5, 2) == pytest.approx(3.0)  # one left: one worker runs it
    assert remaining_seconds([9.0, 3.0], 2, 1) == 0
    assert remaining_seconds([], 0, 2) == 0  # nothing to run


def test_the_stored_count_moves_as_runs_are_stored(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(sweep_mod, "tqdm", functools.partial(tqdm, mininterval=0, miniters=1))  # every frame
    sweep = design_mod.load_sweep(write_sweep(tmp_path, replications=1))
    sweep_mod.run_sweep(sweep, tmp_path / "out", jobs=1, progress=True)
    frames = [f.strip() for f in capsys.readouterr().err.split("\r") if f.strip()]
    assert (
        frames[0] == "small:   0%|          | 0/4 runs [00:00, starting: loading the model on 1 worker, "
        "stored 0/4, failed 0]"
    )
    assert [int(re.search(r"stored (\d)/4", f)[1]) for f in frames] == [0, 1, 2, 3, 4, 4]  # the last: on closing
    assert "remaining ?, stored 1/4" in frames[1] and "remaining 0 s, stored 4/4" in frames[-1]


# --------------------------------------------------------------------------- what a finished sweep prints


def test_report_text_prints_the_conclusion_then_the_html_and_markdown_paths(tmp_path):
    (tmp_path / "report.md").write_text("# report\n")
    (tmp_path / "report.html").write_text("<html></html>\n")
    (tmp_path / "conclusion.txt").write_text("Marketing as the glue is best on cross_reach.\n")
    assert report_text(tmp_path / "report.md").splitlines() == [
        "Marketing as the glue is best on cross_reach.",
        "",
        f"report: {tmp_path / 'report.html'}",
        f"report (Markdown): {tmp_path / 'report.md'}",
    ]
    (tmp_path / "conclusion.txt").unlink()
    (tmp_path / "report.html").unlink()
    assert report_text(tmp_path / "report.md") == f"report (Markdown): {tmp_path / 'report.md'}"


def test_a_finished_sweep_prints_its_conclusion_and_the_html_report(tmp_path, capsys):
    path, out = write_sweep(tmp_path, replications=1, vary={}), tmp_path / "out"
    assert main(["sweep", str(path), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    printed = capsys.readouterr().out
    conclusion = (out / "report" / "conclusion.txt").read_text().strip()
    assert conclusion and conclusion in printed
    assert f"report: {out / 'report' / 'report.html'}" in printed
    assert printed.index(conclusion) < printed.index("report.html")
    assert "2 runs done (0 failed), 0 already stored" in printed
