"""``silosim export``: a sweep's runs and time series as tidy Parquet or CSV tables, read back by pyarrow."""

import pandas as pd
import pyarrow.parquet as pq
import pytest

from silosim.analysis.export import export
from silosim.cli import main
from silosim.store import open_store

SWEEP = """
name: tiny
base:
  name: tiny_base
  steps: 30
  organization:
    departments: [{name: a, headcount: 4}, {name: b, headcount: 4}]
    stakeholders: [{group: g, count: 40}]
  communities:
    - {name: one, involvement: {a: 0.9}, members: {g: 0.6}}
    - {name: two, involvement: {b: 0.9}, members: {g: 0.6}}
  dynamics: {item_lifetime: 8, practice_rate: 0.5}
  metrics: {burn_in: 5, window: 20, every: 10}
replications: 2
strategies:
  delegation: {ownership.rule: most_involved}
  glue: {ownership.rule: glue, ownership.glue: a}
vary:
  dynamics.word_of_mouth: [0.0, 0.05]
"""


@pytest.fixture(scope="module")
def sweep_dir(tmp_path_factory):
    root = tmp_path_factory.mktemp("export")
    (root / "tiny.yaml").write_text(SWEEP)
    out = root / "sweep"
    assert main(["sweep", str(root / "tiny.yaml"), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    return out


def test_parquet_has_one_row_per_run_and_per_run_and_step_with_every_identifier(sweep_dir):
    runs_path, series_path = export(sweep_dir)
    runs, series = pq.read_table(runs_path).to_pandas(), pq.read_table(series_path).to_pandas()
    assert len(runs) == 2 * 2 * 2  # strategies × points × replications
    for frame in (runs, series):
        assert {"strategy", "point", "dynamics.word_of_mouth", "replication", "seed", "silosim_version"} <= set(frame)
    assert sorted(runs["dynamics.word_of_mouth"].unique()) == [0.0, 0.05]
    assert set(runs.strategy) == {"delegation", "glue"}
    assert series.groupby("key").step.apply(list).map(tuple).unique().tolist() == [(10, 20, 30)]  # metrics.every
    assert runs.fit.dtype == float and runs.seed.dtype.kind == "i"


def test_the_tables_hold_what_the_store_holds(sweep_dir):
    runs = pq.read_table(export(sweep_dir)[0]).to_pandas()
    store = open_store(sweep_dir)
    stored = store.runs_frame()
    store.close()
    merged = runs.merge(stored, on="key", suffixes=("", "_store"))
    assert len(merged) == len(stored) and merged.cross_reach.notna().all()
    assert (merged.cross_reach == merged.cross_reach_store).all()
    assert (merged.verdict == merged.verdict_store).all()


def test_csv_is_the_same_table(sweep_dir, tmp_path):
    runs_csv, _ = export(sweep_dir, "csv", tmp_path / "csv")
    parquet = pq.read_table(export(sweep_dir)[0]).to_pandas()
    csv = pd.read_csv(runs_csv)
    assert list(csv.columns) == list(parquet.columns)
    assert csv.cross_reach.tolist() == pytest.approx(parquet.cross_reach.tolist())


def test_a_folder_without_a_sweep_is_refused_with_exit_2_and_nothing_written(tmp_path, capsys):
    assert main(["export", str(tmp_path)]) == 2
    assert "no sweep store" in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_an_unknown_format_is_refused_with_exit_2(sweep_dir, capsys):
    assert main(["export", str(sweep_dir), "--format", "xlsx"]) == 2
    assert "invalid choice: 'xlsx'" in capsys.readouterr().err


def test_an_out_folder_holding_other_files_is_refused_and_left_alone(sweep_dir, tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("mine")
    assert main(["export", str(sweep_dir), "--out", str(tmp_path)]) == 2
    assert "not an export" in capsys.readouterr().err
    assert [p.name for p in tmp_path.iterdir()] == ["notes.txt"]
    export(sweep_dir, out=tmp_path / "again")
    export(sweep_dir, "csv", out=tmp_path / "again")  # an earlier export is replaced
    assert sorted(p.name for p in (tmp_path / "again").iterdir()) == ["runs.csv", "timeseries.csv"]
