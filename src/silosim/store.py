"""The sweep store: one SQLite file that every finished run is appended to.

SQLite rather than Parquet: a run is one small transaction (its summary row
and its time series together), committed as it finishes; a process killed at
any moment, even by SIGKILL, leaves every committed run intact and nothing
half-written, which Parquet's write-once files cannot give without one file
per run. It ships with Python, and the report's aggregates (means over time
per strategy) run in SQL, so the coordinator never holds every time series.

Runs are keyed by a hash of the resolved scenario (which holds the seed) and
the silosim version; the sweep's *plan* maps each strategy, parameter point
and replication to the key it needs, so two cells that resolve to the same
scenario share one run.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path
from typing import Any

import pandas as pd

from silosim import __version__
from silosim.model import MEASURES

STORE_NAME = "runs.sqlite"
_MEASURE_COLUMNS = ", ".join(f"{m} REAL" for m in MEASURES)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (
    strategy TEXT NOT NULL, point INTEGER NOT NULL, replication INTEGER NOT NULL,
    seed INTEGER NOT NULL, key TEXT NOT NULL, params TEXT NOT NULL,
    PRIMARY KEY (strategy, point, replication));
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT, seed INTEGER, version TEXT,
    wall_s REAL, finished_at TEXT, verdict TEXT, verdict_reason TEXT, {_MEASURE_COLUMNS});
CREATE TABLE IF NOT EXISTS timeseries (
    key TEXT NOT NULL, step INTEGER NOT NULL, verdict TEXT, {_MEASURE_COLUMNS},
    PRIMARY KEY (key, step));
"""


def run_key(resolved: dict) -> str:
    """Hash of a resolved scenario (seed included) and the silosim version."""
    text = json.dumps({"scenario": resolved, "silosim": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


class Store:
    """A sweep's runs, plan and metadata in ``DIR/runs.sqlite``."""

    def __init__(self, sweep_dir: Path):
        """Open (creating if needed) the store of a sweep folder."""
        Path(sweep_dir).mkdir(parents=True, exist_ok=True)
        self.path = Path(sweep_dir) / STORE_NAME
        self.db = sqlite3.connect(self.path, timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process; WAL keeps it consistent
        self.db.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    # ---------------------------------------------------------------- writing

    def write_plan(self, meta: dict, plan: list[dict]) -> None:
        """Replace the metadata and plan (a rerun may have changed the sweep file); runs stay."""
        with self.db:
            self.db.execute("DELETE FROM meta")
            self.db.executemany("INSERT INTO meta VALUES (?, ?)", [(k, json.dumps(v)) for k, v in meta.items()])
            self.db.execute("DELETE FROM plan")
            self.db.executemany(
                "INSERT INTO plan VALUES (?, ?, ?, ?, ?, ?)",
                [
                    (c["strategy"], c["point"], c["replication"], c["seed"], c["key"], json.dumps(c["params"]))
                    for c in plan
                ],
            )

    def add(self, record: dict) -> None:
        """Store one finished (or failed) run and its time series in one transaction."""
        measures = record.get("measures") or {}
        row = [record["key"], record["status"], record.get("error"), record.get("seed"), __version__]
        row += [record.get("wall_s"), record.get("finished_at"), record.get("verdict"), record.get("verdict_reason")]
        row += [measures.get(m) for m in MEASURES]
        series = [(record["key"], *values) for values in record.get("timeseries", [])]
        columns = 2 + len(MEASURES)
        with self.db:
            self.db.execute("DELETE FROM timeseries WHERE key = ?", (record["key"],))
            self.db.execute(f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(row))})", row)
            self.db.executemany(f"INSERT INTO timeseries VALUES (?, {', '.join('?' * columns)})", series)

    # ---------------------------------------------------------------- reading

    def stored_keys(self, include_failed: bool = True) -> set[str]:
        """Keys of the runs already stored (ok ones, and failed ones unless they are to be retried)."""
        query = "SELECT key FROM runs" + ("" if include_failed else " WHERE status = 'ok'")
        return {key for (key,) in self.db.execute(query)}

    def meta(self) -> dict:
        """The sweep's metadata: name, strategies (in order), vary, measures, replications, runs_total."""
        return {name: json.loads(value) for name, value in self.db.execute("SELECT name, value FROM meta")}

    def runs_frame(self) -> pd.DataFrame:
        """One row per planned run that has a result: its cell, parameters, status, verdict and measures."""
        frame = pd.read_sql_query(
            "SELECT p.strategy, p.point, p.replication, p.seed, p.params, r.status, r.error, r.verdict, "
            f"r.verdict_reason, {', '.join('r.' + m for m in MEASURES)}, r.wall_s, r.key "
            "FROM plan p JOIN runs r ON r.key = p.key ORDER BY p.replication, p.point, p.strategy",
            self.db,
        )
        params = pd.DataFrame([json.loads(p) for p in frame.pop("params")], index=frame.index)
        for name in reversed(self.meta().get("vary", [])):
            frame.insert(2, name, params.get(name))
        frame[list(MEASURES)] = frame[list(MEASURES)].astype(float)
        return frame

    def timeseries_means(self) -> pd.DataFrame:
        """Mean of each measure per strategy and step over the strategy's ok runs (aggregated in SQL)."""
        means = ", ".join(f"AVG(t.{m}) AS {m}" for m in MEASURES)
        return pd.read_sql_query(
            f"SELECT p.strategy, t.step, {means} FROM plan p "
            "JOIN runs r ON r.key = p.key AND r.status = 'ok' JOIN timeseries t ON t.key = p.key "
            "GROUP BY p.strategy, t.step ORDER BY p.strategy, t.step",
            self.db,
        )

    def counts(self) -> dict[str, Any]:
        """Planned, stored (ok) and failed runs of the current plan."""
        planned, ok, failed = self.db.execute(
            "SELECT COUNT(*), SUM(r.status = 'ok'), SUM(r.status = 'failed') "
            "FROM plan p LEFT JOIN runs r ON r.key = p.key"
        ).fetchone()
        return {"planned": planned, "ok": ok or 0, "failed": failed or 0}


def open_store(sweep_dir: Path) -> Store:
    """Open the store of an existing sweep folder; raise FileNotFoundError if it has none."""
    if not (Path(sweep_dir) / STORE_NAME).is_file():
        raise FileNotFoundError(f"{sweep_dir}: no sweep store ({STORE_NAME}) in this folder")
    return Store(sweep_dir)
