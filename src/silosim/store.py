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

import fcntl
import functools
import hashlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path
from typing import Any

import pandas as pd

from silosim import __version__
from silosim.atomic import partial_pattern
from silosim.metrics import MEASURES
from silosim.scenario import Problem, ScenarioError

STORE_NAME = "runs.sqlite"
LOCK_NAME = "sweep.lock"
REPORT_NAME = "report"
_MEASURE_COLUMNS = ", ".join(f"{m} REAL" for m in MEASURES)
_SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS plan (
    strategy TEXT NOT NULL, point INTEGER NOT NULL, replication INTEGER NOT NULL,
    seed INTEGER NOT NULL, key TEXT NOT NULL, params TEXT NOT NULL,
    PRIMARY KEY (strategy, point, replication));
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY, status TEXT NOT NULL, error TEXT, seed INTEGER, version TEXT,
    wall_s REAL, finished_at TEXT, verdict TEXT, verdict_reason TEXT, variants TEXT, {_MEASURE_COLUMNS});
CREATE TABLE IF NOT EXISTS timeseries (
    key TEXT NOT NULL, step INTEGER NOT NULL, verdict TEXT, {_MEASURE_COLUMNS},
    PRIMARY KEY (key, step));
"""
_COLUMNS = {  # the columns of each table, in order, as _SCHEMA creates them
    "meta": ["name", "value"],
    "plan": ["strategy", "point", "replication", "seed", "key", "params"],
    "runs": [
        "key",
        "status",
        "error",
        "seed",
        "version",
        "wall_s",
        "finished_at",
        "verdict",
        "verdict_reason",
        "variants",
        *MEASURES,
    ],
    "timeseries": ["key", "step", "verdict", *MEASURES],
}


def _another(flag: str) -> str:
    """What to choose instead, in the words of the command that was given the folder."""
    return f"choose another {flag}" if flag.startswith("-") else "give another sweep folder"


def run_key(resolved: dict) -> str:
    """Hash of a resolved scenario (seed included) and the silosim version."""
    text = json.dumps({"scenario": resolved, "silosim": __version__}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def _guarded(method: Callable) -> Callable:
    """A Store method whose SQLite errors become a ScenarioError naming the store (see :meth:`Store.error`)."""

    @functools.wraps(method)
    def wrapper(self: Store, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except (sqlite3.Error, pd.errors.DatabaseError) as exc:
            raise self.error(exc) from None

    return wrapper


class Store:
    """A sweep's runs, plan and metadata in ``DIR/runs.sqlite``.

    Only a missing file starts a new store. Anything else that is not a
    silosim store (a folder, an empty file, random bytes, a truncated or
    another program's database, a file that cannot be written) is refused
    with a :class:`~silosim.scenario.ScenarioError` naming the file, what is
    wrong and what to do; so is any SQLite error later on (disk full…).
    """

    def __init__(self, sweep_dir: Path, flag: str = "--out", writable: bool = True):
        """Open (creating if missing) the store of a sweep folder.

        Args:
            sweep_dir: the sweep folder.
            flag: where the folder came from (``--out``, ``silosim report``), named in messages.
            writable: check that runs can be stored (a sweep); a report only reads. A store that
                does not exist is created only when writable (else FileNotFoundError).
        """
        sweep_dir = Path(sweep_dir)
        self.path = sweep_dir / STORE_NAME
        self.flag = flag
        exists = os.path.lexists(self.path)
        if exists:
            self._check_file()
        elif not writable:
            raise FileNotFoundError(f"{sweep_dir}: no sweep store ({STORE_NAME}) in this folder")
        else:
            sweep_dir.mkdir(parents=True, exist_ok=True)
        self.db: sqlite3.Connection | None = None
        try:
            self.db = sqlite3.connect(self.path, timeout=30)
            if exists:
                self._check_tables()
            if writable:
                self.db.execute("PRAGMA journal_mode=WAL")
                self.db.execute("PRAGMA synchronous=NORMAL")  # durable across a killed process; WAL keeps it consistent
                if exists:
                    self._probe_write()
                else:
                    self.db.executescript(f"BEGIN;{_SCHEMA}COMMIT;")
        except sqlite3.Error as exc:
            self.close()
            raise self.error(exc) from None

    def _refuse(self, message: str) -> ScenarioError:
        return ScenarioError([Problem(self.flag, None, str(self.path), message)])

    def _check_file(self) -> None:
        """Refuse what is no SQLite file at all before SQLite sees it (a folder, a pipe, 0 bytes)."""
        info = self.path.stat() if self.path.exists() else None
        if info is None:
            raise self._refuse(f"is a broken link, not a silosim sweep store: remove it or {_another(self.flag)}")
        if stat.S_ISDIR(info.st_mode):
            raise self._refuse(f"is a folder, not a silosim sweep store: move it away or {_another(self.flag)}")
        if not stat.S_ISREG(info.st_mode):
            raise self._refuse(
                f"is not a regular file, so not a silosim sweep store: move it away or {_another(self.flag)}"
            )
        if info.st_size == 0:
            raise self._refuse(
                "is empty (0 bytes), not a silosim sweep store (a sweep killed as it created it?): "
                f"delete it to start the sweep afresh, or {_another(self.flag)}"
            )

    def _check_tables(self) -> None:
        """Refuse a SQLite database that is not a silosim sweep store of this version."""
        tables = [name for (name,) in self.db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
        if not set(tables) & set(_COLUMNS):
            holds = f"it holds the tables {', '.join(sorted(tables))}" if tables else "it holds no table"
            raise self._refuse(
                f"is not a silosim sweep store (a SQLite database, but {holds}): move it away or {_another(self.flag)}"
            )
        for table, expected in _COLUMNS.items():
            columns = [row[1] for row in self.db.execute(f"PRAGMA table_info({table})")]
            if columns != expected:
                missing = [c for c in expected if c not in columns]
                detail = f"lacks the columns {', '.join(missing)}" if missing else f"has the columns {columns}"
                raise self._refuse(
                    f"is not a sweep store of silosim {__version__} (its table {table} {detail}): "
                    f"move it away or {_another(self.flag)}"
                )

    def _probe_write(self) -> None:
        """Write nothing, but fail now rather than after the first run if the store cannot be written."""
        self.db.execute("BEGIN IMMEDIATE")
        try:
            self.db.execute("INSERT OR REPLACE INTO meta VALUES ('write probe', 'null')")
        finally:
            self.db.rollback()

    def error(self, exc: BaseException) -> ScenarioError:
        """The ScenarioError saying what a SQLite error means for this store and what to do."""
        cause = exc.__cause__ if not isinstance(exc, sqlite3.Error) and exc.__cause__ is not None else exc
        name = getattr(cause, "sqlite_errorname", "") or ""
        text = str(cause).splitlines()[0] if str(cause) else type(cause).__name__
        other = _another(self.flag)
        if name.startswith("SQLITE_NOTADB"):
            message = f"is not a silosim sweep store ({text}): move it away or {other}"
        elif name.startswith("SQLITE_CORRUPT"):
            message = f"is damaged ({text}: truncated or overwritten?): move it away or {other}"
        elif name.startswith("SQLITE_READONLY"):
            message = f"cannot be written ({text}): make it and its folder writable, or {other}"
        elif name.startswith("SQLITE_CANTOPEN"):
            message = f"cannot be opened ({text}): make it and its folder readable and writable, or {other}"
        elif name.startswith("SQLITE_FULL"):
            message = f"cannot be written: the disk is full ({text}); free some space and run the same command"
        elif name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")):
            message = f"is busy ({text}): another process is writing it; wait for it to finish, or {other}"
        else:
            message = f"cannot be used ({text}): move it away or {other}"
        return self._refuse(message)

    def close(self) -> None:
        """Close the connection."""
        if self.db is not None:
            self.db.close()
            self.db = None

    # ---------------------------------------------------------------- writing

    @_guarded
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

    @_guarded
    def add(self, record: dict) -> None:
        """Store one finished (or failed) run and its time series in one transaction."""
        measures = record.get("measures") or {}
        row = [record["key"], record["status"], record.get("error"), record.get("seed"), __version__]
        row += [record.get("wall_s"), record.get("finished_at"), record.get("verdict"), record.get("verdict_reason")]
        row += [json.dumps(record["variants"]) if record.get("variants") else None]
        row += [measures.get(m) for m in MEASURES]
        series = [(record["key"], *values) for values in record.get("timeseries", [])]
        columns = 2 + len(MEASURES)
        with self.db:
            self.db.execute("DELETE FROM timeseries WHERE key = ?", (record["key"],))
            self.db.execute(f"INSERT OR REPLACE INTO runs VALUES ({', '.join('?' * len(row))})", row)
            self.db.executemany(f"INSERT INTO timeseries VALUES (?, {', '.join('?' * columns)})", series)

    # ---------------------------------------------------------------- reading

    @_guarded
    def stored_keys(self, include_failed: bool = True) -> set[str]:
        """Keys of the runs already stored (ok ones, and failed ones unless they are to be retried)."""
        query = "SELECT key FROM runs" + ("" if include_failed else " WHERE status = 'ok'")
        return {key for (key,) in self.db.execute(query)}

    @_guarded
    def meta(self) -> dict:
        """The sweep's metadata: name, strategies (in order), vary, measures, replications, runs_total."""
        return {name: json.loads(value) for name, value in self.db.execute("SELECT name, value FROM meta")}

    @_guarded
    def runs_frame(self) -> pd.DataFrame:
        """One row per planned run that has a result: its cell, parameters, status, verdict and measures."""
        frame = pd.read_sql_query(
            "SELECT p.strategy, p.point, p.replication, p.seed, p.params, r.status, r.error, r.verdict, "
            f"r.verdict_reason, r.variants, {', '.join('r.' + m for m in MEASURES)}, r.wall_s, r.key "
            "FROM plan p JOIN runs r ON r.key = p.key ORDER BY p.replication, p.point, p.strategy",
            self.db,
        )
        params = pd.DataFrame([json.loads(p) for p in frame.pop("params")], index=frame.index)
        for name in reversed(self.meta().get("vary", [])):
            frame.insert(2, name, params.get(name))
        frame[list(MEASURES)] = frame[list(MEASURES)].astype(float)
        return frame

    @_guarded
    def timeseries_means(self) -> pd.DataFrame:
        """Mean of each measure per strategy and step over the strategy's ok runs (aggregated in SQL)."""
        means = ", ".join(f"AVG(t.{m}) AS {m}" for m in MEASURES)
        return pd.read_sql_query(
            f"SELECT p.strategy, t.step, {means} FROM plan p "
            "JOIN runs r ON r.key = p.key AND r.status = 'ok' JOIN timeseries t ON t.key = p.key "
            "GROUP BY p.strategy, t.step ORDER BY p.strategy, t.step",
            self.db,
        )

    @_guarded
    def tidy_tables(self) -> tuple[pd.DataFrame, pd.DataFrame]:
        """Every run, and every run's time series, as two tidy tables (one row per run, per run and step).

        Both carry the run's strategy, point, each varied parameter as a column, replication, seed and
        the silosim version that ran it; the time series only for runs stored as ok.
        """
        runs = pd.read_sql_query(
            "SELECT p.strategy, p.point, p.replication, p.seed, r.version AS silosim_version, p.params, r.status, "
            f"r.error, r.verdict, r.verdict_reason, {', '.join('r.' + m for m in MEASURES)}, r.wall_s, r.key "
            "FROM plan p JOIN runs r ON r.key = p.key ORDER BY p.replication, p.point, p.strategy",
            self.db,
        )
        series = pd.read_sql_query(
            "SELECT p.strategy, p.point, p.replication, p.seed, r.version AS silosim_version, p.params, t.step, "
            f"t.verdict, {', '.join('t.' + m for m in MEASURES)}, p.key FROM plan p "
            "JOIN runs r ON r.key = p.key AND r.status = 'ok' JOIN timeseries t ON t.key = p.key "
            "ORDER BY p.replication, p.point, p.strategy, t.step",
            self.db,
        )
        vary = self.meta().get("vary", [])
        for frame in (runs, series):
            params = pd.DataFrame([json.loads(p) for p in frame.pop("params")], index=frame.index)
            for name in reversed(vary):
                frame.insert(2, name, params.get(name))
            frame[list(MEASURES)] = frame[list(MEASURES)].astype(float)
        return runs, series

    @_guarded
    def counts(self) -> dict[str, Any]:
        """Planned, stored (ok) and failed runs of the current plan."""
        planned, ok, failed = self.db.execute(
            "SELECT COUNT(*), SUM(r.status = 'ok'), SUM(r.status = 'failed') "
            "FROM plan p LEFT JOIN runs r ON r.key = p.key"
        ).fetchone()
        return {"planned": planned, "ok": ok or 0, "failed": failed or 0}


def open_store(sweep_dir: Path, flag: str = "silosim report") -> Store:
    """Open the store of an existing sweep folder to read it; raise FileNotFoundError if it has none."""
    if not os.path.lexists(Path(sweep_dir) / STORE_NAME):
        raise FileNotFoundError(f"{sweep_dir}: no sweep store ({STORE_NAME}) in this folder")
    return Store(sweep_dir, flag, writable=False)


# --------------------------------------------------------------------------- the sweep folder

_STORE_FILES = {STORE_NAME, f"{STORE_NAME}-wal", f"{STORE_NAME}-shm", f"{STORE_NAME}-journal"}


def check_sweep_folder(sweep_dir: Path, flag: str = "--out") -> None:
    """Refuse a folder that holds anything but a sweep's own files, before anything is written in it.

    A sweep folder holds its store (``runs.sqlite`` and SQLite's ``-wal``,
    ``-shm``, ``-journal`` files), ``report/``, the lock file and partial
    report folders a killed report left. A missing or empty folder is fine.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return
    report_partials = partial_pattern(REPORT_NAME)
    foreign = []
    for entry in sorted(sweep_dir.iterdir()):
        name, is_dir = entry.name, entry.is_dir() and not entry.is_symlink()
        ours = (
            name in _STORE_FILES
            or (name == REPORT_NAME and is_dir)
            or (name == LOCK_NAME and entry.is_file() and not entry.is_symlink())
            or (is_dir and entry.match(report_partials))
        )
        if not ours:
            foreign.append(name + "/" * is_dir)
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise ScenarioError(
            [
                Problem(
                    flag,
                    None,
                    str(sweep_dir),
                    f"is not a sweep folder: it holds {shown}, which a sweep did not write (a sweep folder holds only "
                    f"{STORE_NAME}, {REPORT_NAME}/ and {LOCK_NAME}); {_another(flag)}, or a new or empty folder",
                )
            ]
        )


# --------------------------------------------------------------------------- the lock

_held: dict[str, list[int]] = {}  # real path of a locked sweep folder -> [lock file descriptor, depth]


@contextmanager
def sweep_lock(sweep_dir: Path, flag: str = "--out") -> Iterator[Path]:
    """Hold the sweep folder's lock (``DIR/sweep.lock``, ``flock``) for the duration; yield the lock file's path.

    One process at a time runs a sweep or writes a report in a folder. The
    lock is exclusive and taken without waiting: held elsewhere, a
    ScenarioError names the holder's pid and the folder. The kernel releases
    it when the holder exits, however it dies. Re-entrant within a process
    (a sweep writes its report under the lock it already holds). Creates the
    folder if needed.
    """
    sweep_dir = Path(sweep_dir)
    path = sweep_dir / LOCK_NAME
    key = os.path.realpath(sweep_dir)
    if key in _held:
        _held[key][1] += 1
        try:
            yield path
        finally:
            _held[key][1] -= 1
        return

    def refuse(message: str) -> ScenarioError:
        return ScenarioError([Problem(flag, None, str(sweep_dir), message)])

    try:
        sweep_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o666)  # never write through a link
    except OSError as exc:
        raise refuse(f"cannot create the lock file {path} ({exc.strerror or exc}): {_another(flag)}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = _holder(fd)
        os.close(fd)
        who = f"another silosim process (pid {holder})" if holder else "another silosim process"
        raise refuse(
            f"is in use by {who}, which holds its lock {path}: wait for it to finish (or stop it), or {_another(flag)}"
        ) from None
    except OSError as exc:
        os.close(fd)
        raise refuse(f"cannot be locked ({exc.strerror or exc}): {_another(flag)} on a local disk") from None
    try:
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[key] = [fd, 1]
        yield path
    finally:
        _held.pop(key, None)
        try:
            os.ftruncate(fd, 0)  # no stale pid for the next reader; the file itself stays (unlinking it races)
        finally:
            os.close(fd)  # releases the lock


def _holder(fd: int, wait: float = 0.5) -> int | None:
    """The pid the holder wrote in the lock file (it writes it just after locking: wait a little for it)."""
    deadline = time.monotonic() + wait
    while True:
        text = os.pread(fd, 32, 0).decode(errors="replace").strip()
        if text.isdigit():
            return int(text)
        if time.monotonic() > deadline:
            return None
        time.sleep(0.02)


def forget_inherited_locks() -> None:
    """In a forked child: close the lock descriptors inherited from the parent, without releasing the lock.

    The parent still holds its lock; closing the child's copies means the lock
    goes with the parent alone, not with the last of its children.
    """
    for fd, _ in _held.values():
        with suppress(OSError):
            os.close(fd)
    _held.clear()
