"""The sweep's conclusion in words, its warnings, its objective and the self-contained HTML report.

A real sweep whose winner is known by construction (three isolated
communities closed, against a glue department with open cross-posting),
and synthetic store frames whose differences are worked out by hand.
"""

from __future__ import annotations

import math
import re
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml
from playwright.sync_api import sync_playwright

from silosim.analysis import sweep_conclusion
from silosim.analysis.report import build_report
from silosim.cli import main
from silosim.experiments.design import load_sweep
from silosim.metrics import MEASURES
from silosim.store import Store
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT, three_islands

STRATEGIES = {
    "closed": {"ownership.cross_posting": "closed"},
    "glue_open": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"},
}


def write_sweep(folder: Path, events: list | None = None, **changes) -> Path:
    """Two strategies on three isolated communities, 3 replications of 20 steps: `glue_open` crosses, `closed` not."""
    base = three_islands()
    base["steps"] = 20
    base.setdefault("dynamics", {})["item_lifetime"] = 5  # items end, and are measured, within 20 steps
    base["metrics"] = {"burn_in": 5, "window": 15, "every": 5}
    if events:
        base["events"] = events
    (folder / "base.yaml").write_text(yaml.safe_dump(base))
    spec = {"name": "islands", "base": "base.yaml", "replications": 3, "seed": 7, "strategies": STRATEGIES}
    path = folder / "sweep.yaml"
    path.write_text(yaml.safe_dump(spec | changes, sort_keys=False))
    return path


@pytest.fixture(scope="module")
def islands(tmp_path_factory) -> Path:
    """The real sweep, run once: its folder."""
    folder = tmp_path_factory.mktemp("islands")
    out = folder / "out"
    assert main(["sweep", str(write_sweep(folder)), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    return out


def stored(out: Path) -> tuple[pd.DataFrame, pd.DataFrame, dict]:
    store = Store(out)
    try:
        return store.runs_frame(), store.timeseries_means(), store.meta()
    finally:
        store.close()


# --------------------------------------------------------------------------- the winner by construction


def test_conclusion_names_the_winner_known_by_construction(islands):
    text = (islands / "report" / "conclusion.txt").read_text()
    runs = stored(islands)[0]
    closed = runs.loc[runs.strategy == "closed", "cross_reach"]
    glue = runs.loc[runs.strategy == "glue_open", "cross_reach"]
    assert (closed == 0).all() and (glue > 0).all()  # the construction: closed islands never cross
    assert text.startswith("Objective: highest `cross_reach` (the default objective;")
    assert "Best: `glue_open`" in text
    assert f"It beats the runner-up `closed` (0.000 [0.000, 0.000]) by {glue.mean():.3f}" in text
    assert "it is better in 3 of 3 paired replications (100%)" in text
    assert "Verdicts (share of runs): `closed` siloed 100%" in text


def test_goal_min_reverses_the_winner(islands, tmp_path):
    runs, series, meta = stored(islands)
    meta["objective"] = {"measure": "cross_reach", "goal": "min", "stated": True}
    text = (build_report(runs, series, meta, tmp_path / "r").parent / "conclusion.txt").read_text()
    assert text.startswith("Objective: lowest `cross_reach`. Best: `closed`, 0.000 [0.000, 0.000].")
    assert "It beats the runner-up `glue_open`" in text and "better in 3 of 3" in text


def test_report_opens_with_the_conclusion_then_the_strategy_table(islands):
    text = (islands / "report" / "report.md").read_text()
    titles = re.findall(r"^## (.+)$", text, flags=re.M)
    assert titles[:4] == ["Conclusion", "Strategies", "Plots", "Method"]  # no warnings on this sweep
    assert text.split("## Conclusion\n\n", 1)[1].startswith("Objective: highest `cross_reach`")
    table = text.split("## Strategies\n", 1)[1].split("\n## ", 1)[0]
    glue = next(line for line in table.splitlines() if line.startswith("| `glue_open`"))
    cells = [c.strip() for c in glue.strip("|").split("|")]
    assert cells[4] == "100%" and cells[1] == "3"  # best in every paired replication
    assert "Events in the base scenario: none." in text


# --------------------------------------------------------------------------- synthetic frames

KEY = "dynamics.exploration"


def frame(values: dict, measure: str = "cross_reach") -> pd.DataFrame:
    """Runs from {(strategy, point, replication): value}; every run ok and merged."""
    rows = []
    for (strategy, point, replication), value in values.items():
        row = {"strategy": strategy, "point": point, KEY: [0.05, 0.2][point], "replication": replication}
        row |= {"seed": replication, "status": "ok", "error": None, "verdict": "merged", "wall_s": 1.0}
        row |= dict.fromkeys(MEASURES, 1.0) | {measure: value}
        rows.append(row)
    return pd.DataFrame(rows)


def meta(strategies: list[str], points: int = 1, replications: int = 3, **changes) -> dict:
    return {
        "name": "synthetic",
        "strategies": strategies,
        "vary": [KEY] if points > 1 else [],
        "measures": ["cross_reach", "time_to_insight"],
        "replications": replications,
        "runs_total": len(strategies) * points * replications,
    } | changes


def conclude(tmp_path: Path, runs: pd.DataFrame, info: dict) -> str:
    return (build_report(runs, pd.DataFrame(), info, tmp_path / "r").parent / "conclusion.txt").read_text()


def test_equal_strategies_are_said_to_be_indistinguishable(tmp_path):
    # b − a: +0.1, −0.1, 0 and c − a: −0.1, +0.1, 0: mean 0, interval ±t·0.1/√3 around 0
    a = [0.5, 0.6, 0.7]
    values = {("a", 0, r): v for r, v in enumerate(a)}
    values |= {("b", 0, r): v + d for r, (v, d) in enumerate(zip(a, [0.1, -0.1, 0.0], strict=True))}
    values |= {("c", 0, r): v + d for r, (v, d) in enumerate(zip(a, [-0.1, 0.1, 0.0], strict=True))}
    text = conclude(tmp_path, frame(values), meta(["a", "b", "c"]))
    assert "It is not distinguishable from the runner-up" in text
    assert "No strategy is distinguishable from the reference `a` on `cross_reach`" in text
    assert "any of them will do, the reference included" in text
    assert "It beats" not in text


def test_win_rate_and_difference_by_hand(tmp_path):
    # b − a over 4 pairs: 0.2, 0.1, 0.3, −0.1 → mean 0.125, sd 0.17078, t(0.975, 3) = 3.1824: ±0.2718
    values = {("a", 0, r): 0.5 for r in range(4)}
    values |= {("b", 0, r): 0.5 + d for r, d in enumerate([0.2, 0.1, 0.3, -0.1])}
    text = conclude(tmp_path, frame(values), meta(["a", "b"], replications=4))
    assert "Best: `b`, 0.625 [0.353, 0.897]." in text
    assert "the paired difference +0.125 [-0.147, +0.397] includes 0" in text
    assert "it is better in 3 of 4 paired replications (75%)" in text


def test_winner_that_changes_across_points_is_named_per_point(tmp_path):
    values = {("a", 0, r): 0.8 for r in range(3)} | {("b", 0, r): 0.2 + 0.01 * r for r in range(3)}
    values |= {("a", 1, r): 0.1 for r in range(3)} | {("b", 1, r): 0.6 + 0.01 * r for r in range(3)}
    text = conclude(tmp_path, frame(values), meta(["a", "b"], points=2))
    assert "The best strategy changes with the parameters (" in text
    assert "`a` at dynamics.exploration = 0.05; `b` at dynamics.exploration = 0.2." in text


def test_winner_over_many_points_points_to_scenario_discovery(tmp_path):
    # 8 points: b wins at points 0, 1, 2 (by 0.5), a at the other 5 (by 0.1); b is best overall (0.58 against 0.45)
    values = {}
    for point in range(8):
        a, b = (0.2, 0.7) if point < 3 else (0.6, 0.5)
        values |= {("a", point, r): a for r in range(3)} | {("b", point, r): b + 0.01 * r for r in range(3)}
    per_point = [{(s, 0, r): v for (s, q, r), v in values.items() if q == p} for p in range(8)]
    runs = pd.concat([frame(v).assign(point=p, **{KEY: p / 10}) for p, v in enumerate(per_point)], ignore_index=True)
    text = conclude(tmp_path, runs, meta(["a", "b"], points=8))
    assert "Best: `b`" in text and "changes with the parameters (`b` at 3, `a` at 5 of 8 points)" in text
    assert "`silosim analyze SWEEP_DIR --prim a` finds the ranges of the varied parameters where `a` wins" in text


def test_undefined_objective_and_no_convergence_are_caveats(tmp_path):
    values = {("a", 0, 0): 10.0, ("a", 0, 1): math.nan, ("a", 0, 2): 12.0}
    values |= {("b", 0, r): 5.0 + r for r in range(3)}
    runs = frame(values, measure="time_to_insight")
    runs.loc[(runs.strategy == "b") & (runs.replication == 0), "converged"] = 0.0
    info = meta(["a", "b"], objective={"measure": "time_to_insight", "goal": "min", "stated": True})
    text = conclude(tmp_path, runs, info)
    result, caveats = text.split("\n\nCaveats: ")
    assert result.startswith("Objective: lowest `time_to_insight`. Best: `b`, 6.000")
    assert "`time_to_insight` is undefined in 1 of 3 runs of `a` (n/a when most insights never reach" in caveats
    assert "Not converged (" in caveats and "1 of 3 runs of `b`." in caveats


def test_a_measure_undefined_everywhere_cannot_rank(tmp_path):
    values = {(s, 0, r): math.nan for s in "ab" for r in range(3)}
    info = meta(["a", "b"], objective={"measure": "steps_to_merge", "goal": "min", "stated": True})
    text = conclude(tmp_path, frame(values, measure="steps_to_merge"), info)
    assert text.startswith("No strategy can be ranked on `steps_to_merge`: it is undefined in every run")


# --------------------------------------------------------------------------- the objective in the sweep file


@pytest.mark.parametrize(
    ("objective", "path", "expected"),
    [
        ("cross_rech", "objective", "unknown measure 'cross_rech' (did you mean 'cross_reach'?)"),
        ({"measure": "fitt", "goal": "max"}, "objective.measure", "unknown measure 'fitt' (did you mean 'fit'?)"),
        ("practice_diversity", "objective", "has no default direction: write objective: {measure: practice_divers"),
        ({"measure": "fit", "goal": "up"}, "objective.(spec.)?goal", "'max' or 'min'"),
    ],
)
def test_bad_objective_exits_2_at_its_line(tmp_path, capsys, objective, path, expected):
    sweep = write_sweep(tmp_path, objective=objective)
    line = next(i for i, row in enumerate(sweep.read_text().splitlines(), 1) if row.startswith("objective"))
    assert main(["sweep", str(sweep), "--out", str(tmp_path / "out"), "--jobs", "1"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and expected in err
    lines = f"({line}|{line + 1}|{line + 2})"  # the objective's line or one of its keys'
    assert re.search(rf"^{re.escape(str(sweep))}:{lines}: {path.replace('.', '[.]')}:", err, flags=re.M), err
    assert not (tmp_path / "out").exists()


def test_objective_name_takes_its_documented_direction(tmp_path):
    assert load_sweep(write_sweep(tmp_path, objective="silo_count")).meta()["objective"] == {
        "measure": "silo_count",
        "goal": "min",
        "stated": True,
    }
    absent = load_sweep(write_sweep(tmp_path)).meta()["objective"]
    assert absent == {"measure": "cross_reach", "goal": "max", "stated": False}
    assert set(sweep_conclusion.GOALS) == set(MEASURES)


# --------------------------------------------------------------------------- warnings


def test_base_event_overriding_the_strategies_is_warned(tmp_path):
    events = [{"at": 10, "set": {"ownership.cross_posting": "open"}}, {"at": 12, "set": {"dynamics.drift": 0.1}}]
    info = load_sweep(write_sweep(tmp_path, events=events)).meta()
    assert info["base_events"] == [
        {"at": 10, "set": {"ownership.cross_posting": "open"}, "overrides": ["ownership.cross_posting"]},
        {"at": 12, "set": {"dynamics.drift": 0.1}, "overrides": []},
    ]
    found = [w for w in sweep_conclusion.warnings(info) if w.startswith("The base scenario")]  # the run's aside
    assert len(found) == 2
    assert found[0].startswith("The base scenario has an event at step 10 (`ownership.cross_posting: open`)")
    assert "after step 10 every strategy runs the event's value" in found[0]
    assert "the comparison is of the strategies with this change" in found[1]


def test_an_event_of_one_strategy_only_is_not_a_base_event():
    closed, glue = {"events": [{"at": 3, "set": {"dynamics.drift": 0.2}}]}, {"events": []}
    assert sweep_conclusion.base_events([closed, glue], ["dynamics.drift"]) == []
    nested = sweep_conclusion.base_events([closed, closed], ["dynamics"])  # a strategy setting the section
    assert nested[0]["overrides"] == ["dynamics.drift"]


def test_scenario_warnings_are_grouped_across_strategies(monkeypatch):
    target = "insight target 'rnd' names no department"
    said = {"s1": [target], "s2": ["too short", target]}
    monkeypatch.setattr(sweep_conclusion, "scenario_warnings", lambda scenario: said[scenario.name])
    scenarios = {"a": [SimpleNamespace(name="s1")], "b": [SimpleNamespace(name="s2"), SimpleNamespace(name="s1")]}
    assert sweep_conclusion.sweep_warnings(scenarios) == [target, "`b`: too short"]


@pytest.mark.parametrize("path", sorted((ROOT / "scenarios" / "sweeps").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_sweeps_have_no_warning(path):
    info = load_sweep(path).meta()
    assert info["base_events"] == []
    assert sweep_conclusion.warnings(info) == []


# --------------------------------------------------------------------------- the HTML report in Chromium


def test_html_report_renders_in_chromium_without_outside_requests(islands, tmp_path):
    page_path = islands / "report" / "report.html"
    source = page_path.read_text()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", source)
    plots = re.findall(r"^!\[[^]]*\]\(([^)]+)\)$", (islands / "report" / "report.md").read_text(), flags=re.M)
    assert plots == ["verdicts.png", "measures.png", "timeseries.png"]
    assert source.count('src="data:image/png;base64,') == len(plots)  # every plot embedded
    requests: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900})
            page.on("request", lambda r: requests.append(r.url))
            page.goto(page_path.as_uri())
            page.wait_for_load_state("load")
            first_heading = page.locator("h2").first.inner_text()
            first_paragraph = page.locator("h2 + p").first.inner_text()
            sizes = page.eval_on_selector_all("img", "imgs => imgs.map(i => [i.naturalWidth, i.complete])")
            page.screenshot(path=str(tmp_path / "report.png"), full_page=False)
        finally:
            browser.close()
    assert requests and all(url.startswith(("data:", "file:")) for url in requests), requests
    assert first_heading == "Conclusion"
    assert first_paragraph.startswith("Objective: highest cross_reach") and "Best: glue_open" in first_paragraph
    assert len(sizes) == len(plots) and all(width > 300 and done for width, done in sizes)


def test_a_verdict_the_objective_does_not_explain_gets_its_sentence(tmp_path):
    # b − a: +0.01, −0.01, 0 on cross_reach (within noise), but a ends fragmented and b merged
    values = {("a", 0, r): 0.8 for r in range(3)} | {("b", 0, r): 0.8 + d for r, d in enumerate([0.01, -0.01, 0])}
    runs = frame(values)
    runs.loc[runs.strategy == "a", ["verdict", "largest_merged_share"]] = ["fragmented", 0.5]
    info = meta(["a", "b"], measures=["cross_reach", "largest_merged_share"])
    text = conclude(tmp_path, runs, info)
    assert "`b` is not distinguishable from `a` on `cross_reach` (Δ +0.000 [-0.025, +0.025]) yet ends merged" in text
    assert "where `a` ends fragmented" in text
    assert "`largest_merged_share` 1.000 [1.000, 1.000] against 0.500 [0.500, 0.500]" in text


def test_a_silo_count_that_seems_to_contradict_the_verdict_is_explained(tmp_path):
    values = {("a", 0, r): 0.03 for r in range(3)} | {("b", 0, r): 0.9 for r in range(3)}
    runs = frame(values)  # every measure 1.0 (one silo) unless set
    runs.loc[runs.strategy == "a", "verdict"] = "siloed"  # one silo, yet items reach 3% of the others
    runs.loc[runs.strategy == "b", "silo_count"] = 2.0  # two silos, yet merged
    text = conclude(tmp_path, runs, meta(["a", "b"]))
    assert "`a` ends siloed with silo_count 1.0: joined is not merged." in text
    assert "reaches 3% of another community's members on average (`cross_reach`), under the siloed_reach of 5%" in text
    assert "`b` ends merged with silo_count 2.0: the communities apart hold less than 10% of the members" in text
    runs.loc[runs.strategy == "a", "silo_count"] = 3.0  # now the figures agree with the verdict: no sentence
    (tmp_path / "again").mkdir()
    assert "`a` ends siloed" not in conclude(tmp_path / "again", runs, meta(["a", "b"]))
