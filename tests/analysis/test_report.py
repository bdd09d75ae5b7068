"""The sweep report, built from synthetic store frames whose statistics are worked out by hand."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path

import matplotlib.image
import numpy as np
import pandas as pd
import pytest

from silosim.analysis.report import build_report, verdict_sensitivity, write_report
from silosim.metrics import MEASURES
from silosim.store import Store

KEY = "organization.departments.marketing.reach"
REPORTED = ["cross_reach", "ei_index", "time_to_insight"]
NAN = math.nan
TRACEBACK = 'Traceback (most recent call last):\n  File "x.py", line 1, in run\nValueError: boom | bad\n'

# strategy, point, replication: (cross_reach, ei_index, time_to_insight, verdict); None = failed
VALUES = {
    ("a", 0, 0): (0.1, -0.5, 10, "merged"),
    ("a", 0, 1): (0.2, -0.4, NAN, "fragmented"),
    ("a", 0, 2): (0.3, -0.3, 30, "fragmented"),
    ("a", 1, 0): (0.5, 0.0, 5, "merged"),
    ("a", 1, 1): (0.6, 0.1, 5, "merged"),
    ("a", 1, 2): (0.7, 0.2, 5, "merged"),
    ("b", 0, 0): (0.2, -0.5, 12, "fragmented"),
    ("b", 0, 1): (0.3, -0.4, 14, "fragmented"),
    ("b", 0, 2): (0.4, -0.3, 30, "fragmented"),
    ("b", 1, 0): (0.9, 0.1, NAN, "siloed"),
    ("b", 1, 1): (0.7, 0.1, NAN, "merged"),
    ("b", 1, 2): None,
}
SEEDS = [11, 22, 33]


def meta(**changes) -> dict:
    base = {
        "name": "synthetic",
        "strategies": ["a", "b"],
        "vary": [KEY],
        "measures": REPORTED,
        "replications": 3,
        "runs_total": 12,
    }
    return base | changes


def runs_frame(values: dict = VALUES) -> pd.DataFrame:
    rows = []
    for (strategy, point, replication), result in values.items():
        row = {"strategy": strategy, "point": point, KEY: round(0.2 + 0.6 * point, 1), "replication": replication}
        row |= {"seed": SEEDS[replication], "wall_s": 1.5, "key": f"{strategy}{point}{replication}"}
        row |= dict.fromkeys(MEASURES, 0.5)  # measures that are not reported
        if result is None:
            row |= {"status": "failed", "error": TRACEBACK, "verdict": None} | dict.fromkeys(MEASURES, NAN)
        else:
            cross, ei, tti, verdict = result
            row |= {"status": "ok", "error": None, "verdict": verdict}
            row |= {"cross_reach": cross, "ei_index": ei, "time_to_insight": tti}
        rows.append(row)
    return pd.DataFrame(rows)


def series_frame() -> pd.DataFrame:
    rows = [
        {"strategy": s, "step": step} | dict.fromkeys(MEASURES, 0.1 * step / 10 + (s == "b") * 0.3)
        for s in ("a", "b")
        for step in (0, 10, 20)
    ]
    return pd.DataFrame(rows)


CELL_EDGE = re.compile(r"(?<!\\)\|")  # a pipe that is not escaped inside a cell


def read(path: Path) -> str:
    """A report's text with its tables' cells unpadded (``| a | 0.2 |``), whatever the column widths."""
    lines = path.read_text().split("\n")
    for k, line in enumerate(lines):
        if line.startswith("|") and not set(line) <= set("|-"):
            lines[k] = "| " + " | ".join(cell.strip() for cell in CELL_EDGE.split(line)[1:-1]) + " |"
    return "\n".join(lines)


def table_row(text: str, *cells: str) -> str:
    """The line of a Markdown table that starts with these cells."""
    start = "| " + " | ".join(cells) + " |"
    found = [line for line in text.splitlines() if line.startswith(start)]
    assert len(found) == 1, f"no single row starting {start!r}"
    return found[0]


def section(text: str, title: str) -> str:
    """The text of one `## ` section."""
    return text.split(f"## {title}\n", 1)[1].split("\n## ", 1)[0]


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> tuple[str, Path]:
    path = build_report(runs_frame(), series_frame(), meta(), tmp_path_factory.mktemp("sweep") / "report")
    return read(path), path.parent


# --------------------------------------------------------------------------- tables


def test_means_with_intervals_worked_by_hand(report):
    text = section(report[0], "Measures")
    # a at reach 0.2: cross_reach 0.1, 0.2, 0.3 → sd 0.1, t(0.975, 2) = 4.303: ±0.248
    # ei_index −0.5, −0.4, −0.3 → −0.4 ± 0.248; time_to_insight 10, 30 (one undefined) → 20 ± 12.706·14.142/√2
    row = table_row(text, "a", "0", "0.2", "3")
    assert row.split(" | ")[4:] == [
        "0.200 [-0.048, 0.448]",
        "-0.400 [-0.648, -0.152]",
        "20.000 [-107.062, 147.062] (n=2) |",
    ]
    # b at reach 0.8: one run failed; 0.9, 0.7 → 0.8 ± 12.706·0.1414/√2 = ±1.271; time_to_insight never defined
    row = table_row(text, "b", "1", "0.8", "2")
    assert row.split(" | ")[4:] == ["0.800 [-0.471, 2.071]", "0.100 [0.100, 0.100]", "n/a |"]
    # a over both points: 0.1 … 0.7, mean 0.4, sd √0.056 → t(0.975, 5) = 2.571: ±0.248
    assert "| a | all |  | 6 | 0.400 [0.152, 0.648] |" in text


def test_verdict_shares(report):
    text = section(report[0], "Verdicts")
    assert table_row(text, "a", "0", "0.2", "3") == "| a | 0 | 0.2 | 3 | 33% | 67% | 0% |"
    assert table_row(text, "b", "1", "0.8", "2") == "| b | 1 | 0.8 | 2 | 50% | 0% | 50% |"
    assert table_row(text, "b", "all", "", "5") == "| b | all |  | 5 | 20% | 60% | 20% |"
    assert (
        "| strategy | point | organization.departments.marketing.reach | runs | merged | fragmented | siloed |" in text
    )


def test_table_columns_line_up(report):
    raw = (report[1] / "report.md").read_text()
    table = [line for line in section(raw, "Verdicts").splitlines() if line.startswith("|")]
    assert len(table) > 3 and len({len(line) for line in table}) == 1


def test_paired_differences_against_the_first_strategy(report):
    text = section(report[0], "Paired differences against `a`")
    assert "| a |" not in text  # the reference is not compared with itself
    # reach 0.2: b = a + 0.1 in every replication → zero width; ei identical; tti pairs 0 and 2 differ by 2 and 0
    row = table_row(text, "b", "0", "0.2", "3")
    assert row.split(" | ")[4:] == [
        "+0.100 [0.100, 0.100]",
        "+0.000 [0.000, 0.000]",
        "+1.000 [-11.706, 13.706] (n=2) |",
    ]
    # reach 0.8: replication 2 of b failed, so 2 pairs: differences 0.4, 0.1 → 0.25 ± 12.706·0.2121/√2
    assert table_row(text, "b", "1", "0.8", "2").startswith("| b | 1 | 0.8 | 2 | +0.250 [-1.656, 2.156] |")
    # pooled, pairing on (point, replication): 0.1, 0.1, 0.1, 0.4, 0.1 → 0.16 ± 2.776·0.1342/√5
    assert table_row(text, "b", "all", "", "5").startswith("| b | all |  | 5 | +0.160 [-0.007, 0.327] |")


def test_runs_counted_and_failures_listed(report):
    text = section(report[0], "Runs")
    assert "| 12 | 12 | 11 | 1 | 0 |" in text
    assert "Partial sweep" not in text
    assert "| b | 1 | 2 | 33 | ValueError: boom \\| bad |" in text  # the exception line, its pipe escaped


def test_summary_csv_is_tidy(report):
    summary = pd.read_csv(report[1] / "summary.csv")
    assert list(summary.columns) == [
        "strategy", "point", KEY, "measure", "n", "mean", "low", "high", "diff", "diff_low", "diff_high", "diff_n"
    ]  # fmt: skip
    assert len(summary) == 2 * 3 * len(REPORTED)  # (2 points + all) per strategy
    row = summary[(summary.strategy == "b") & (summary.point == "1") & (summary.measure == "cross_reach")].iloc[0]
    assert (row["n"], row["mean"], row["diff"], row["diff_n"]) == (2, pytest.approx(0.8), pytest.approx(0.25), 2)
    assert summary.loc[summary.strategy == "a", "diff"].isna().all()
    verdicts = pd.read_csv(report[1] / "verdicts.csv")
    assert verdicts[verdicts.point == "all"][["merged", "fragmented", "siloed"]].values.tolist() == [
        pytest.approx([4 / 6, 2 / 6, 0]),
        pytest.approx([1 / 5, 3 / 5, 1 / 5]),
    ]


def test_runs_csv_has_one_row_per_run(report):
    runs = pd.read_csv(report[1] / "runs.csv")
    assert len(runs) == 12
    assert list(runs.columns[:8]) == ["strategy", "point", KEY, "replication", "seed", "status", "verdict", MEASURES[0]]
    assert set(MEASURES) <= set(runs.columns)
    assert runs["status"].value_counts().to_dict() == {"ok": 11, "failed": 1}
    assert runs["strategy"].tolist() == ["a"] * 6 + ["b"] * 6
    assert runs.loc[runs.strategy == "a", "cross_reach"].tolist() == [0.1, 0.2, 0.3, 0.5, 0.6, 0.7]


# --------------------------------------------------------------------------- plots


@pytest.mark.parametrize("name", ["measures.png", f"against_{KEY}.png", "verdicts.png", "timeseries.png"])
def test_plots_are_real_images_linked_from_the_report(report, name):
    text, folder = report
    assert f"]({name})" in text
    image = matplotlib.image.imread(folder / name)
    assert image.shape[0] > 300 and image.shape[1] > 400
    colours = np.unique(image.reshape(-1, image.shape[-1]).round(2), axis=0)
    assert len(colours) > 20  # drawn on, not a blank canvas


# --------------------------------------------------------------------------- partial, empty, many points


def test_partial_sweep_says_what_is_missing(tmp_path):
    runs = runs_frame()
    runs = runs[~((runs.strategy == "b") & (runs.replication == 0))]  # b's replication 0 never finished
    text = read(build_report(runs, series_frame(), meta(replications=4, runs_total=16), tmp_path / "r"))
    assert "| 16 | 10 | 9 | 1 | 6 |" in text
    assert "**Partial sweep**: 6 of 16 planned runs have no result (`a` 2, `b` 4)." in text
    # only complete pairs: replications 1, 2 at reach 0.2 and 1 at 0.8 (2 failed), each a difference of 0.1
    pooled = table_row(section(text, "Paired differences against `a`"), "b", "all", "", "3")
    assert pooled.startswith("| b | all |  | 3 | +0.100 [0.100, 0.100] |")


def test_no_completed_run_still_reports(tmp_path):
    failed = dict.fromkeys(VALUES)
    path = build_report(runs_frame(failed), series_frame().iloc[:0], meta(), tmp_path / "r")
    text = read(path)
    assert "| 12 | 12 | 0 | 12 | 0 |" in text
    assert "No run has completed yet" in text
    assert not list(path.parent.glob("*.png"))
    assert len(pd.read_csv(path.parent / "runs.csv")) == 12


def test_many_points_are_pooled_and_scattered(tmp_path):
    rng = np.random.default_rng(0)
    values = {(s, p, 0): (rng.uniform(), rng.uniform(-1, 1), 10.0, "merged") for s in "ab" for p in range(30)}
    runs = runs_frame(values)
    runs[KEY] = np.tile(np.linspace(0, 1, 30), 2)
    path = build_report(runs, series_frame(), meta(replications=1, runs_total=60), tmp_path / "r")
    text = read(path)
    assert "With 30 parameter points (more than 20), the tables pool each strategy" in text
    means = section(text, "Measures")
    assert "| strategy | runs | cross_reach |" in means
    assert len(table_row(means, "a", "30").split(" | ")) == 2 + len(REPORTED)
    assert (path.parent / f"against_{KEY}.png").stat().st_size > 20_000


def test_categorical_parameter_without_variation(tmp_path):
    runs = runs_frame()
    runs["ownership.cross_posting"] = runs["point"].map({0: "open", 1: "closed"})
    runs = runs.drop(columns=KEY)
    path = build_report(runs, series_frame(), meta(vary=["ownership.cross_posting"]), tmp_path / "r")
    assert table_row(section(read(path), "Verdicts"), "a", "1", "closed", "3").endswith("| 100% | 0% | 0% |")
    assert (path.parent / "against_ownership.cross_posting.png").is_file()


def test_one_strategy_no_parameters(tmp_path):
    runs = runs_frame()
    runs = runs[(runs.strategy == "a") & (runs.point == 0)].drop(columns=KEY)
    path = build_report(runs, series_frame(), meta(strategies=["a"], vary=[], runs_total=3), tmp_path / "r")
    text = read(path)
    assert "Paired differences" not in text
    assert "| a | 3 | 0.200 [-0.048, 0.448] |" in text


# --------------------------------------------------------------------------- from the store


def test_write_report_reads_the_store(tmp_path):
    store = Store(tmp_path)
    plan = [
        {"strategy": s, "point": p, "replication": r, "seed": SEEDS[r], "key": f"{s}{p}{r}", "params": {KEY: v}}
        for (s, p, r), v in ((cell, [0.2, 0.8][cell[1]]) for cell in VALUES)
    ]
    store.write_plan(meta(), plan)
    for row in runs_frame().to_dict("records"):
        measures = {m: None if math.isnan(row[m]) else row[m] for m in MEASURES}
        steps = [(step, row["verdict"], *(0.01 * step,) * len(MEASURES)) for step in (0, 10)]
        store.add({**row, "measures": measures, "timeseries": steps if row["status"] == "ok" else []})
    store.close()
    path = write_report(tmp_path)
    assert path == tmp_path / "report" / "report.md"
    text = read(path)
    row = table_row(section(text, "Paired differences against `a`"), "b", "all", "", "5")
    assert row.startswith("| b | all |  | 5 | +0.160 [-0.007, 0.327] |")
    assert (tmp_path / "report" / "timeseries.png").is_file()
    # rerunning replaces the report as a whole
    assert write_report(tmp_path) == path and path.is_file()


def test_verdict_sensitivity_counts_each_threshold_variant_by_strategy():
    """Shares as run and under each ±50% threshold variant, per strategy, by hand."""
    variants = [
        {"silo_floor x0.5": "merged", "silo_floor x1.5": "fragmented"},
        {"silo_floor x0.5": "merged", "silo_floor x1.5": "siloed"},
        {"silo_floor x0.5": "fragmented", "silo_floor x1.5": "fragmented"},
    ]
    runs = pd.DataFrame(
        {
            "strategy": ["a", "a", "b"],
            "status": ["ok", "ok", "ok"],
            "verdict": ["merged", "fragmented", "fragmented"],
            "variants": [json.dumps(v) for v in variants],
        }
    )
    rows = verdict_sensitivity(runs, ["a", "b"])
    assert rows == [
        ["as run", "50%/50%/0%", "0%/100%/0%"],
        ["`silo_floor x0.5`", "100%/0%/0%", "0%/100%/0%"],
        ["`silo_floor x1.5`", "0%/50%/50%", "0%/100%/0%"],
    ]
    assert verdict_sensitivity(runs.drop(columns="variants"), ["a", "b"]) == []  # an older store
