"""``silosim export``: a sweep's results as two tidy tables for analysts' tools (pandas, polars, DuckDB, R).

``runs.parquet`` has one row per stored run (its strategy, parameter point,
each varied parameter, replication, seed, silosim version, status, verdict
and every measure); ``timeseries.parquet`` one row per run and measurement
step. Parquet keeps the column types; ``--format csv`` writes the same tables
as CSV. The folder is written whole or not at all.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from silosim.atomic import atomic_folder, replaceable
from silosim.scenario import Problem, ScenarioError
from silosim.store import open_store

FORMATS = ("parquet", "csv")
EXPORT_NAME = "export"


def read_sweep(sweep_dir: Path | str, flag: str = "silosim.read_sweep") -> tuple[pd.DataFrame, pd.DataFrame]:
    """A (finished or partial) sweep's results as two tidy DataFrames: runs, and time series.

    The tables :func:`export` writes: one row per stored run, and one per ok run and measurement
    step, with the strategy, point, each varied parameter, replication, seed and silosim version.
    Raises FileNotFoundError when the folder holds no sweep store.
    """
    store = open_store(Path(sweep_dir), flag)
    try:
        return store.tidy_tables()
    finally:
        store.close()


def export(sweep_dir: Path, fmt: str = "parquet", out: Path | None = None) -> list[Path]:
    """Write ``runs`` and ``timeseries`` of a (finished or partial) sweep; return the files written.

    Args:
        sweep_dir: a sweep folder (its ``runs.sqlite``).
        fmt: ``parquet`` or ``csv``.
        out: the folder to write (default ``SWEEP_DIR/export``): missing, empty, or an earlier export
            (replaced); a folder holding anything else is refused.

    Raises:
        FileNotFoundError: the folder holds no sweep store.
        ScenarioError: a damaged store, an unknown format, or ``out`` is not a folder.
    """
    if fmt not in FORMATS:
        raise ScenarioError([Problem("--format", None, "", f"expected one of {', '.join(FORMATS)}, got {fmt!r}")])
    sweep_dir = Path(sweep_dir)
    out = Path(out) if out is not None else sweep_dir / EXPORT_NAME
    ours = {f"{name}.{f}" for name in ("runs", "timeseries") for f in FORMATS}
    if why := replaceable(out, lambda names: names <= ours, "an export"):  # never replace a folder of someone else's
        raise ScenarioError([Problem("--out", None, str(out), why)])
    runs, series = read_sweep(sweep_dir, "silosim export")
    with atomic_folder(out, replace=True) as partial:
        for name, frame in (("runs", runs), ("timeseries", series)):
            if fmt == "parquet":
                frame.to_parquet(partial / f"{name}.parquet", index=False)
            else:
                frame.to_csv(partial / f"{name}.csv", index=False)
    return [out / f"{name}.{fmt}" for name in ("runs", "timeseries")]
