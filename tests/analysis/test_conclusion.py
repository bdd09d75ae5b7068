"""One run's conclusion in words, the sentence that reconciles a figure with the verdict, and the warnings.

Summaries are built by hand (figures chosen so that each sentence can be
checked against the verdict's rule), scenarios from small dicts; one short
real run goes through :func:`silosim.runner.run` and the ``silosim run`` CLI.
"""

from __future__ import annotations

import copy
import glob
import math
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from silosim import runner
from silosim.analysis.conclusion import run_conclusion, scenario_warnings, structure_note
from silosim.cli import main
from silosim.cli.run import WIDTH, summary_table
from silosim.experiments.design import load_sweep
from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.scenario import from_dict, load
from tests.helpers import ROOT, three_islands


def summary(**changes) -> dict:
    """A finished, converged run of three communities: two joined (owned by marketing, hr), lab apart."""
    base = {
        "scenario": "bank",
        "seed": 1,
        "verdict": "fragmented",
        "verdict_reason": "the largest group of joined communities holds 70% of members (merged from merged_share 90%)",
        "final": True,
        "steps": 300,
        "steps_planned": 300,
        "measured_step": 300,
        "measures": {name: 0.5 for name in MEASURES}
        | {
            "cross_reach": 0.62,
            "silo_count": 2,
            "largest_merged_share": 0.7,
            "reach_trend": 0.01,
            "converged": 1.0,
            "steps_to_merge": None,
            "time_to_insight": 12.0,
            "fit": 0.64,
            "knowledge": 0.71,
        },
        "constraint": {"cm": 0.2},
        "window": [100, 300],
        "window_items": 150,
        "items_retired_early": 0,
        "convergence": "converged: cross_reach moved +0.010 over steps 100-300, within the tolerance 0.05",
        "verdict_variants": {},
        "thresholds": {"merged_share": 0.9, "merged_reach": 0.5, "siloed_reach": 0.05, "silo_floor": 0.2},
        "metrics": {"every": 10, "burn_in": 100, "window": 200, "tolerance": 0.05},
        "insight_target": "rnd",
        "silos": [["brand_page", "esn"], ["lab"]],
        "silo_shares": [0.7, 0.3],
        "owners": {"brand_page": "marketing", "esn": "hr", "lab": "rnd"},
        "warnings": [],
    }
    measures = changes.pop("measures", {})
    base.update(changes)
    base["measures"] = base["measures"] | measures
    return base


ONE_GROUP = {"silos": [["brand_page", "esn", "lab"]], "silo_shares": [1.0]}


# --------------------------------------------------------------------------- a figure that seems to contradict


def test_fragmented_with_one_silo_says_joined_is_not_merged_and_why():
    s = summary(**ONE_GROUP, measures={"silo_count": 1, "largest_merged_share": 1.0, "cross_reach": 0.31})
    note = structure_note(s)
    assert note.startswith("Joined is not merged")
    assert "silo_count 1" in note and "largest_merged_share 1.000" in note
    assert "31%" in note and "merged_reach of 50%" in note  # the threshold it misses, and by what
    text = run_conclusion(s)
    assert "fragmented after 300 steps" in text and note in text


def test_siloed_with_one_silo_is_explained_by_siloed_reach():
    s = summary(
        **ONE_GROUP, verdict="siloed", measures={"silo_count": 1, "largest_merged_share": 1.0, "cross_reach": 0.03}
    )
    note = structure_note(s)
    assert "silo_count 1" in note and "3%" in note and "siloed_reach 5%" in note
    assert note in run_conclusion(s)


def test_high_reach_yet_fragmented_names_the_community_apart_and_its_owner():
    s = summary(measures={"cross_reach": 0.79})  # above merged_reach 0.5: the structure decides
    note = structure_note(s)
    assert "cross_reach 0.790 is above merged_reach 50%" in note
    assert "lab (owned by rnd)" in note and "holds only 70%" in note
    text = run_conclusion(s)
    assert "Items do travel" in text and "Where to act: lab (owned by rnd)" in text


def test_merged_with_a_small_silo_apart_says_merged_does_not_ask_for_all():
    s = summary(
        verdict="merged",
        silo_shares=[0.95, 0.05],
        measures={"largest_merged_share": 0.95, "cross_reach": 0.6, "steps_to_merge": 130},
    )
    note = structure_note(s)
    assert "silo_count 2" in note and "lab (owned by rnd) stays apart" in note and "only 5%" in note
    assert note in run_conclusion(s)


@pytest.mark.parametrize(
    "changes",
    [
        {"measures": {"cross_reach": 0.3}},  # fragmented on both counts: nothing looks merged
        {
            "verdict": "siloed",
            "silos": [["brand_page"], ["esn"], ["lab"]],
            "silo_shares": [0.5, 0.3, 0.2],
            "measures": {"silo_count": 3, "largest_merged_share": 0.5, "cross_reach": 0.02},
        },
        {"verdict": "merged", **ONE_GROUP, "measures": {"silo_count": 1, "largest_merged_share": 1.0}},
    ],
)
def test_no_note_when_the_figures_agree_with_the_verdict(changes):
    assert structure_note(summary(**changes)) is None


def test_the_summary_table_prints_the_explaining_line_within_88_columns():
    s = summary(**ONE_GROUP, measures={"silo_count": 1, "largest_merged_share": 1.0, "cross_reach": 0.31})
    table = summary_table(s)
    assert "  why " in table and "Joined is not merged" in table
    assert max(len(line) for line in table.splitlines()) <= WIDTH


# --------------------------------------------------------------------------- caveats


def test_not_converged_says_so_with_how_many_more_steps():
    s = summary(measures={"converged": 0.0, "reach_trend": 0.12})
    text = run_conclusion(s)
    assert "Not converged: cross_reach still moved +0.120" in text
    assert "run at least 600 steps (300 more)" in text


def test_a_run_ending_in_its_burn_in_asks_for_burn_in_plus_window():
    s = summary(steps=80, steps_planned=80, measured_step=80, measures={"converged": 0.0})
    assert "run at least 300 steps (220 more)" in run_conclusion(s)


def test_mid_run_it_says_so_far_and_that_the_run_is_not_over():
    s = summary(final=False, steps=40, steps_planned=300, measured_step=40)
    text = run_conclusion(s)
    assert "fragmented so far, at step 40 of 300" in text
    assert "inside the 100-step burn-in" in text and "the run is not over" in text
    assert "after 300 steps" not in text


def test_no_verdict_yet_gives_the_reason():
    s = summary(verdict="n/a", verdict_reason="no item has ended yet (items live 100 steps)", final=False)
    s["measured_step"], s["steps"] = 20, 20
    assert run_conclusion(s).startswith(
        "No verdict yet for the bank organisation at step 20 of 300: no item has ended yet (items live 100 steps)."
    )


def test_undefined_time_to_insight_says_why_no_target_or_never_reached():
    no_target = run_conclusion(summary(insight_target=None, measures={"time_to_insight": None}))
    assert "time_to_insight, as no department is the insight target" in no_target
    assert "metrics.insight_target is not set" in no_target
    never = run_conclusion(summary(measures={"time_to_insight": math.nan}))
    assert "time_to_insight, as most stakeholder insights that ended in the window never reached rnd" in never
    defined = run_conclusion(summary())  # a figure, not a caveat
    assert "reaches the rnd department in a median 12 steps" in defined and "time_to_insight," not in defined


def test_a_threshold_that_flips_the_verdict_and_a_close_figure_are_caveats():
    s = summary(verdict_variants={"merged_share x0.5": "merged", "merged_share x1.5": "fragmented"})
    assert "with merged_share halved (0.45) it would be merged" in run_conclusion(s)
    close = run_conclusion(summary(measures={"largest_merged_share": 0.85}, silo_shares=[0.85, 0.15]))
    assert "largest_merged_share 0.850 is close to merged_share 0.9" in close
    assert "close to" not in run_conclusion(summary())  # 0.70 against 0.9: not close


def test_items_retired_early_and_scenario_warnings_are_mentioned():
    text = run_conclusion(summary(items_retired_early=7, warnings=["a", "b"]))
    assert "7 items ended before their item_lifetime" in text
    assert "2 warnings about the scenario" in text


def test_a_converged_run_with_no_caveat_has_no_caveats_paragraph():
    text = run_conclusion(summary(measures={"steps_to_merge": 120}))
    assert "Caveats" not in text


# --------------------------------------------------------------------------- the convergence note


def note_for(change: float, converged: bool, step: int = 300, final: bool = True) -> str:
    scenario = from_dict(three_islands())
    model = SimpleNamespace(
        config=scenario,
        measures={"step": step, "reach_trend": change, "converged": float(converged)},
        window_start=lambda s=None: 100,
    )
    return runner.convergence_note(model, final=final)


def test_converged_beyond_the_tolerance_says_it_is_within_the_noise():
    assert note_for(-0.099, True) == (
        "converged: cross_reach moved -0.099 over steps 100-300, more than the tolerance 0.05 but within two "
        "standard errors of no change: noise between measurements, not a trend"
    )
    assert note_for(0.02, True).endswith("within the tolerance 0.05")
    assert "run at least 600 steps" in note_for(0.2, False)
    assert "the run goes on to step 150" in note_for(0.2, False, step=140, final=False)  # three_islands: 150 steps


# --------------------------------------------------------------------------- warnings


def scenario_with(change) -> object:
    data = three_islands()
    change(data)
    return from_dict(data)


def test_no_insight_target_warns_naming_the_field_and_the_departments():
    def rename(d):
        d["organization"]["departments"][2]["name"] = "lab_team"
        d["communities"][2]["involvement"] = {"lab_team": 0.9}

    (warning,) = [w for w in scenario_warnings(scenario_with(rename)) if "insight" in w]
    assert warning.startswith("metrics.insight_target is not set and no department is called rnd")
    assert "time_to_insight can never be measured" in warning and "lab_team" in warning


def test_a_zero_insight_rate_warns():
    warnings = scenario_warnings(scenario_with(lambda d: d.setdefault("dynamics", {}).update(insight_rate=0)))
    assert any(w.startswith("dynamics.insight_rate is 0") for w in warnings)


def test_a_community_without_stakeholders_warns_naming_it():
    warnings = scenario_warnings(scenario_with(lambda d: d["communities"][2].update(members={})))
    (warning,) = [w for w in warnings if "members" in w]
    assert warning.startswith("communities[2].members (lab) has no stakeholder members")


def test_no_community_with_stakeholders_warns_that_fit_can_never_be_measured():
    def empty(d):
        for c in d["communities"]:
            c["members"] = {}

    (warning,) = [w for w in scenario_warnings(scenario_with(empty)) if "members" in w]
    assert "fit, knowledge and time_to_insight can never be measured" in warning


@pytest.mark.parametrize(
    ("steps", "metrics", "expected"),
    [
        (80, {}, "steps (80) ends inside the burn-in (metrics.burn_in 100)"),
        (250, {}, "steps (250) is shorter than metrics.burn_in + metrics.window (100 + 200)"),
        (300, {"every": 100}, "metrics.every (100) leaves 2 measurements in the verdict window (steps 100-300)"),
        (60, {"burn_in": 0, "window": 60}, "dynamics.item_lifetime (100) is not shorter than steps (60)"),
    ],
)
def test_runs_too_short_or_measured_too_rarely_warn(steps, metrics, expected):
    def change(d):
        d["steps"] = steps
        d["metrics"] = metrics

    assert any(w.startswith(expected) for w in scenario_warnings(scenario_with(change)))


def test_an_event_inside_the_window_warns_and_one_before_it_does_not():
    def event_at(at):
        def change(d):
            d["steps"] = 300
            d["events"] = [{"at": at, "set": {"ownership.cross_posting": "open"}}]

        return change

    (warning,) = scenario_warnings(scenario_with(event_at(250)))
    assert warning.startswith("events[0] at step 250 (ownership.cross_posting) falls inside the verdict window")
    assert "set steps to at least 450" in warning
    assert scenario_warnings(scenario_with(event_at(100))) == []


def test_one_community_and_thresholds_in_the_wrong_order_warn():
    def one(d):
        d["communities"] = d["communities"][:1]

    assert any(w.startswith("communities: there is one community") for w in scenario_warnings(scenario_with(one)))
    flipped = scenario_with(lambda d: d.update(steps=300, metrics={"verdict": {"siloed_reach": 0.6}}))
    assert scenario_warnings(flipped) == [
        "metrics.verdict.siloed_reach (0.6) is above merged_reach (0.5): a run whose items reach between the two is "
        "called siloed, although it crosses more than merged asks: set siloed_reach below merged_reach."
    ]


SHIPPED = sorted(glob.glob(str(ROOT / "scenarios" / "**" / "*.yaml"), recursive=True)) + sorted(
    glob.glob(str(ROOT / "examples" / "*.yaml"))
)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: str(Path(p).relative_to(ROOT)))
def test_shipped_scenarios_and_every_sweep_strategy_raise_no_warning(path):
    if "base" in yaml.safe_load(Path(path).read_text()):
        scenarios = list(load_sweep(path).validated.values())  # the base under every strategy and point
    else:
        scenarios = [load(path)]
    assert scenarios
    assert {w for s in scenarios for w in scenario_warnings(s)} == set()


# --------------------------------------------------------------------------- a real run


@pytest.mark.model
def test_a_short_real_run_has_a_conclusion_and_its_warnings():
    result = runner.run(from_dict(three_islands()))  # 150 steps: shorter than burn-in + window
    s = result.summary
    assert s["final"] is True and s["steps"] == s["measured_step"] == 150
    assert s["warnings"] == scenario_warnings(result.scenario)
    assert [w[:22] for w in s["warnings"]] == ["steps (150) is shorter"]
    assert s["conclusion"] == run_conclusion(s)
    assert "three_islands organisation" in s["conclusion"] and "1 warning about the scenario" in s["conclusion"]
    assert sorted(s["owners"]) == ["brand_page", "esn", "lab"]
    assert sum(s["silo_shares"]) == pytest.approx(1.0)
    assert max(s["silo_shares"]) == pytest.approx(s["measures"]["largest_merged_share"])


@pytest.mark.model
def test_summarise_mid_run_never_changes_the_run_and_works_at_step_0():
    scenario = from_dict(three_islands() | {"steps": 30})
    watched, alone = SiloModel(scenario), SiloModel(scenario)
    first = runner.summarise(watched, final=False)
    assert first["verdict"] == "n/a" and first["measures"]["cross_reach"] is None
    assert first["conclusion"].startswith("No verdict yet for the three_islands organisation at step 0 of 30")
    seen = []
    while watched.running:
        watched.step()
        seen.append(runner.summarise(watched, final=False)["measured_step"])
    while alone.running:
        alone.step()
    assert first["measured_step"] is None and seen[:11] == [None] * 9 + [10, 10]  # measured every 10 steps
    pd.testing.assert_frame_equal(watched.timeseries(), alone.timeseries())


@pytest.mark.model
def test_silosim_run_prints_warnings_before_the_run_then_the_table_and_the_conclusion(tmp_path, capsys):
    path = tmp_path / "short.yaml"
    data = copy.deepcopy(three_islands())
    path.write_text(yaml.safe_dump(data))
    assert main(["run", str(path), "--out", str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert captured.err.startswith("warning: steps (150) is shorter than metrics.burn_in + metrics.window")
    out = captured.out
    assert out.index("  warning ") < out.index("The three_islands organisation is") < out.index("results: ")
    assert max(len(line) for line in out.splitlines() if not line.startswith("results: ")) <= WIDTH


def test_the_conclusion_is_pure_no_mesa_model_or_screen():
    from tests.test_architecture import _roots, reached

    found = _roots(reached("silosim.analysis.conclusion"))
    assert not {"mesa", "solara", "matplotlib", "silosim.model", "silosim.viz", "silosim.cli"} & found


@pytest.mark.model
def test_the_progress_bar_shows_no_time_left_until_the_first_measurement(capsys):
    runner.run(from_dict(three_islands() | {"steps": 30}), progress=True)
    frames = [f.strip() for f in capsys.readouterr().err.split("\r") if "/30" in f]
    early = [f for f in frames if int(f.split("/30")[0].split()[-1]) < 10]
    assert early and all("time left after step 10" in f and "<" not in f for f in early)
    assert any(f.startswith("three_islands:  33%") and "10/30 [00:00<?" in f for f in frames)  # a fresh clock
