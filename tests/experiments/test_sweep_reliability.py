"""Hardening of sweeps (issue 10): folders, locks, damaged stores, dying processes, bad flags, huge plans."""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import select
import signal
import socket
import sqlite3
import stat
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

from silosim import runner
from silosim.analysis import report
from silosim.atomic import atomic_folder
from silosim.cli import main
from silosim.docking import report as dock
from silosim.experiments import design as design_mod
from silosim.experiments import executor as executor_mod
from silosim.experiments import sweep as sweep_mod
from silosim.metrics import MEASURES
from silosim.scenario import ScenarioError, from_dict
from silosim.store import LOCK_NAME, STORE_NAME, Store
from tests.helpers import ROOT, three_islands

SILOSIM = Path(sys.executable).with_name("silosim")
SEED = 99
REPLICATIONS = 3
DOOMED_SEED = design_mod.replication_seeds(SEED, REPLICATIONS)[1]
REAL_EXECUTE = sweep_mod.execute


def write_sweep(folder: Path, filename: str = "sweep.yaml", base_changes: dict | None = None, **changes) -> Path:
    """A small sweep: 2 strategies × 2 points × 3 replications of a 20-step base (12 runs)."""
    base = three_islands()
    base["steps"] = 20
    base.update(base_changes or {})
    (folder / "base.yaml").write_text(yaml.safe_dump(base))
    spec = {
        "name": "small",
        "base": "base.yaml",
        "replications": REPLICATIONS,
        "seed": SEED,
        "strategies": {
            "closed": {"ownership.cross_posting": "closed"},
            "glue_open": {"ownership.rule": "glue", "ownership.glue": "comms", "ownership.cross_posting": "open"},
        },
        "vary": {"dynamics.exploration": [0.05, 0.2]},
        "measures": ["cross_reach"],  # one measure: quicker reports
        **changes,
    }
    path = folder / filename
    path.write_text(yaml.safe_dump(spec, sort_keys=False))
    return path


def sweep(path: Path, out: Path, *flags: str) -> int:
    return main(["sweep", str(path), "--out", str(out), "--quiet", *flags])


def stored(out: Path) -> pd.DataFrame:
    db = sqlite3.connect(out / STORE_NAME)
    try:
        return pd.read_sql_query("SELECT key, status, error, verdict, seed FROM runs", db)
    finally:
        db.close()


def line_of(path: Path, key: str) -> int:
    return next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.startswith(f"{key}:"))


def listing(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


# --------------------------------------------------------------------------- 1. a folder that is not a sweep folder


def test_sweep_refuses_a_folder_that_is_not_a_sweep_folder_and_leaves_it_alone(tmp_path, capsys):
    out = tmp_path / "mine"
    (out / "report").mkdir(parents=True)
    (out / "report" / "draft.md").write_text("my draft")
    (out / "notes.txt").write_text("mine")
    before = listing(out)
    assert sweep(write_sweep(tmp_path), out, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--out: {out}: is not a sweep folder: it holds notes.txt")
    assert "Traceback" not in err
    assert listing(out) == before  # report/ kept, no store, no lock file
    assert (out / "report" / "draft.md").read_text() == "my draft"


def test_sweep_accepts_an_empty_folder_and_a_sweep_folder_with_leftovers(tmp_path, capsys):
    out = tmp_path / "empty"
    out.mkdir()
    path = write_sweep(tmp_path, replications=1, vary={})
    assert sweep(path, out, "--jobs", "1") == 0
    assert {p.name for p in out.iterdir()} >= {STORE_NAME, "report", LOCK_NAME}
    stale = out / ".report.partial-deadbeef"  # what a report writer killed mid-way leaves
    stale.mkdir()
    (stale / "report.md").write_text("half")
    assert sweep(path, out, "--jobs", "1") == 0
    assert "0 runs done (0 failed), 2 already stored" in capsys.readouterr().out
    assert not stale.exists()  # 8: removed by the report written under the lock


# --------------------------------------------------------------------------- 2. the lock

HOLDER = """
import sys
from pathlib import Path
from silosim.store import sweep_lock
with sweep_lock(Path(sys.argv[1])):
    print("locked", flush=True)
    sys.stdin.read()
"""


def wait_line(process: subprocess.Popen, timeout: float = 60) -> str:
    ready, _, _ = select.select([process.stdout], [], [], timeout)
    assert ready, "the helper process printed nothing"
    return process.stdout.readline().strip()


def test_a_second_process_on_a_locked_folder_is_refused_and_the_lock_dies_with_its_holder(tmp_path, capsys):
    out = tmp_path / "out"
    first = write_sweep(tmp_path, replications=1, vary={}, name="first")
    assert sweep(first, out, "--jobs", "1") == 0
    other = write_sweep(tmp_path, "other.yaml", replications=2, vary={}, name="other")
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(out)], cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )
    try:
        assert wait_line(holder) == "locked"
        capsys.readouterr()
        assert sweep(other, out, "--jobs", "1") == 2
        err = capsys.readouterr().err
        assert f"--out: {out}: is in use by another silosim process (pid {holder.pid})" in err
        assert main(["report", str(out)]) == 2
        assert f"pid {holder.pid}" in capsys.readouterr().err
        db = sqlite3.connect(out / STORE_NAME)
        assert db.execute("SELECT value FROM meta WHERE name = 'name'").fetchone() == ('"first"',)
        assert db.execute("SELECT COUNT(*) FROM plan").fetchone() == (2,)  # the first sweep's plan is intact
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone() == (2,)
        db.close()
        holder.kill()  # SIGKILL: the kernel releases the lock with the process
        holder.wait(timeout=30)
        assert sweep(other, out, "--jobs", "1") == 0
        assert len(stored(out)) == 4
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(timeout=30)


# --------------------------------------------------------------------------- 3. damaged stores


def real_store(folder: Path) -> bytes:
    """A valid store of several pages, checkpointed into the main file; return its bytes."""
    store = Store(folder)
    series = [(step, "merged", *[0.5] * len(MEASURES)) for step in range(30)]
    for k in range(40):
        store.add({"key": f"k{k}", "status": "ok", "seed": k, "measures": {}, "timeseries": series})
    store.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    store.close()
    for suffix in ("-wal", "-shm"):
        Path(f"{folder / STORE_NAME}{suffix}").unlink(missing_ok=True)
    return (folder / STORE_NAME).read_bytes()


def damage(kind: str, out: Path) -> None:
    out.mkdir()
    path = out / STORE_NAME
    if kind == "truncated":
        data = real_store(out)
        path.write_bytes(data[: len(data) // 2])
    elif kind == "random bytes":
        path.write_bytes(os.urandom(8192))
    elif kind == "a folder":
        path.mkdir()
    elif kind == "empty":
        path.touch()
    elif kind == "another database":
        db = sqlite3.connect(path)
        db.execute("CREATE TABLE notes (text TEXT)")
        db.commit()
        db.close()


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("truncated", "is damaged (database disk image is malformed: truncated or overwritten?): move it away"),
        ("random bytes", "is not a silosim sweep store (file is not a database): move it away"),
        ("a folder", "is a folder, not a silosim sweep store: move it away"),
        ("empty", "is empty (0 bytes), not a silosim sweep store"),
        ("another database", "is not a silosim sweep store (a SQLite database, but it holds the tables notes)"),
    ],
)
def test_a_damaged_store_is_refused_by_sweep_and_report(tmp_path, capsys, kind, expected):
    out = tmp_path / "out"
    damage(kind, out)
    before = {p: (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")}
    assert sweep(write_sweep(tmp_path), out, "--jobs", "1") == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--out: {out / STORE_NAME}: {expected}") and "choose another --out" in err
    assert "Traceback" not in err
    assert main(["report", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"silosim report: {out / STORE_NAME}: {expected}") and "give another sweep folder" in err
    assert {p: (p.read_bytes() if p.is_file() else None) for p in out.rglob("*")} == before  # nothing written


def test_a_read_only_store_is_refused_by_sweep_but_still_reported(tmp_path, capsys):
    """Root ignores permission bits: the immutable attribute (chattr +i) makes the file read-only even for root."""
    out = tmp_path / "out"
    path = write_sweep(tmp_path, replications=1, vary={})
    assert sweep(path, out, "--jobs", "1") == 0
    if subprocess.run(["chattr", "+i", str(out / STORE_NAME)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        capsys.readouterr()
        assert sweep(path, out, "--jobs", "1") == 2
        err = capsys.readouterr().err
        assert err.startswith(f"--out: {out / STORE_NAME}: cannot be written (attempt to write a readonly database)")
        assert "Traceback" not in err
        assert main(["report", str(out)]) == 0  # a report only reads the store
    finally:
        subprocess.run(["chattr", "-i", str(out / STORE_NAME)], check=True)


# --------------------------------------------------------------------------- 4. workers die with their coordinator


def children(pid: int) -> set[int]:
    """Pids whose parent is ``pid`` (field 4 of /proc/PID/stat, after the parenthesised command name)."""
    found = set()
    for stat_file in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            if int(stat_file.read_text().rsplit(")", 1)[1].split()[1]) == pid:
                found.add(int(stat_file.parent.name))
    return found


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie (an exited child nobody reaped yet)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_workers_exit_when_their_coordinator_is_killed_and_the_lock_goes_with_it(tmp_path, capsys):
    big = {"organization": three_islands()["organization"], "steps": 1000}  # about 10 s a run
    for group in big["organization"]["stakeholders"]:
        group["count"] = 20000
    path = write_sweep(tmp_path, base_changes=big, strategies={}, vary={}, replications=2)
    out = tmp_path / "out"
    command = [str(SILOSIM), "sweep", str(path), "--out", str(out), "--jobs", "2", "--quiet"]
    coordinator = subprocess.Popen(command, cwd=ROOT, start_new_session=True, stderr=subprocess.DEVNULL)
    try:
        cmdline = None
        workers: set[int] = set()
        deadline = time.monotonic() + 60
        while len(workers) < 2 and time.monotonic() < deadline and coordinator.poll() is None:
            time.sleep(0.1)
            cmdline = cmdline or Path(f"/proc/{coordinator.pid}/cmdline").read_bytes()
            for child in children(coordinator.pid):  # forked workers share the coordinator's command line
                with contextlib.suppress(OSError):
                    if Path(f"/proc/{child}/cmdline").read_bytes() == cmdline:
                        workers.add(child)
        assert len(workers) == 2, "the sweep's two workers did not start"
        time.sleep(1.0)  # mid-run
        assert main(["report", str(out)]) == 2  # the running sweep holds the lock
        assert f"pid {coordinator.pid}" in capsys.readouterr().err
        coordinator.send_signal(signal.SIGKILL)
        coordinator.wait(timeout=30)
        deadline = time.monotonic() + 5
        while any(alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not any(alive(w) for w in workers), "workers outlived their coordinator"
        assert main(["report", str(out)]) == 0  # the lock went with the coordinator and its workers
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(coordinator.pid, signal.SIGKILL)
        coordinator.wait(timeout=30)


# --------------------------------------------------------------------------- 5. a run that kills its worker


def execute_or_die(key: str, scenario: dict) -> dict:
    """The sweep's execute, except that the glue runs of replication 1 kill their worker (never this process)."""
    doomed = scenario["seed"] == DOOMED_SEED and scenario["ownership"]["rule"] == "glue"
    if doomed and multiprocessing.parent_process() is not None:
        os.kill(os.getpid(), signal.SIGKILL)
    return REAL_EXECUTE(key, scenario)


def test_a_run_that_kills_its_worker_is_stored_as_failed_and_the_sweep_goes_on(tmp_path, monkeypatch, capsys):
    # pickled by name, so forked and fork-server workers alike find it (module level)
    monkeypatch.setattr(sweep_mod, "execute", execute_or_die)
    path, out = write_sweep(tmp_path, replications=5, vary={}), tmp_path / "out"
    started = time.monotonic()
    assert sweep(path, out, "--jobs", "2") == 1
    assert time.monotonic() - started < 60
    assert "--retry-failed" in capsys.readouterr().err
    runs = stored(out)
    assert len(runs) == 10  # every run recorded: nothing lost to the broken pool
    failed = runs[runs["status"] == "failed"]
    assert failed["seed"].tolist() == [DOOMED_SEED]  # glue_open at replication 1 only
    for error in failed["error"]:
        assert error.startswith("WorkerDied: the worker process died running this run")
        assert "killed by signal 9 (SIGKILL: out of memory, or killed)" in error
    ok = runs[runs["status"] == "ok"]
    assert len(ok) == 9 and ok["verdict"].notna().all()
    report_md = (out / "report" / "report.md").read_text()
    assert "### Failed runs (1, left out of the statistics)" in report_md


# --------------------------------------------------------------------------- 6. stored failures keep the exit code


def test_a_rerun_exits_1_while_failed_runs_of_the_plan_remain(tmp_path, monkeypatch, capsys):
    real_run = sweep_mod.run

    def flaky(scenario):
        if scenario.seed == DOOMED_SEED:
            raise RuntimeError("boom")
        return real_run(scenario)

    path, out = write_sweep(tmp_path, vary={}), tmp_path / "out"
    monkeypatch.setattr(sweep_mod, "run", flaky)
    assert sweep(path, out, "--jobs", "1") == 1
    monkeypatch.setattr(sweep_mod, "run", real_run)
    capsys.readouterr()
    assert sweep(path, out, "--jobs", "1") == 1  # ran nothing, but 2 runs of the plan are still failed
    captured = capsys.readouterr()
    assert "0 runs done (0 failed), 6 already stored" in captured.out
    assert "2 runs of this sweep are stored as failed" in captured.err and "--retry-failed" in captured.err
    assert sweep(path, out, "--jobs", "1", "--retry-failed") == 0
    assert sweep(path, out, "--jobs", "1") == 0
    assert set(stored(out)["status"]) == {"ok"}


# --------------------------------------------------------------------------- 7. --out checked before the work


@pytest.mark.parametrize(
    ("where", "expected"),
    [
        ("under a file", "cannot be created: {tmp}/file.txt is not a folder"),
        ("a file", "exists and is not a folder"),
        ("/proc", "cannot be written: creating a folder in /proc fails (No such file or directory)"),
        ("/sys", "cannot be written: creating a folder in /sys fails (Operation not permitted)"),
        ("long name", "has a name 256 bytes long"),
        ("NUL", "contains a NUL character"),
    ],
)
def test_check_out_dir_refuses_what_cannot_be_written(tmp_path, where, expected):
    (tmp_path / "file.txt").write_text("x")
    path = {
        "under a file": tmp_path / "file.txt" / "out",
        "a file": tmp_path / "file.txt",
        "/proc": Path("/proc/silosim-nowhere/out"),
        "/sys": Path("/sys/silosim-nowhere"),
        "long name": tmp_path / ("x" * 256) / "out",
        "NUL": tmp_path / "o\0ut",
    }[where]
    with pytest.raises(ScenarioError) as info:
        runner.check_out_dir(path, "--out")
    [problem] = info.value.problems
    assert (problem.source, problem.line, problem.path) == ("--out", None, str(path))
    assert expected.format(tmp=tmp_path) in problem.message
    assert listing(tmp_path) == {"file.txt"}  # no probe left behind


def test_check_out_dir_accepts_new_and_empty_folders_and_creates_nothing(tmp_path):
    runner.check_out_dir(tmp_path / "a" / "b", "--out")
    (tmp_path / "empty").mkdir()
    runner.check_out_dir(tmp_path / "empty")
    assert listing(tmp_path) == {"empty"}


def test_check_out_dir_refuses_a_read_only_folder(tmp_path):
    folder = tmp_path / "frozen"
    folder.mkdir()
    if subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode != 0:
        pytest.skip("chattr +i is not available here")
    try:
        with pytest.raises(ScenarioError, match=r"--run-out: .*frozen/out: cannot be written: creating a folder in"):
            runner.check_out_dir(folder / "out", "--run-out")
    finally:
        subprocess.run(["chattr", "-i", str(folder)], check=True)
    assert list(folder.iterdir()) == []


def test_sweep_with_an_unwritable_out_is_refused_before_any_run(tmp_path, monkeypatch, capsys):
    calls = []
    monkeypatch.setattr(sweep_mod, "execute", lambda *task: calls.append(task))
    (tmp_path / "file.txt").write_text("x")
    out = tmp_path / "file.txt" / "out"
    assert sweep(write_sweep(tmp_path), out, "--jobs", "1") == 2
    assert capsys.readouterr().err.startswith(f"--out: {out}: cannot be created: {tmp_path / 'file.txt'} is not")
    assert calls == []


# --------------------------------------------------------------------------- 8. one atomic folder writer


@pytest.fixture
def umask_022():
    previous = os.umask(0o022)
    yield
    os.umask(previous)


def small_result() -> runner.RunResult:
    data = three_islands()
    data["steps"] = 3
    return runner.run(from_dict(data))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_written_folders_keep_the_mode_of_an_empty_out_or_get_the_normal_one(tmp_path, umask_022):
    result = small_result()
    empty = tmp_path / "empty"
    empty.mkdir()
    empty.chmod(0o750)
    assert runner.write_results(result, empty) == empty
    assert mode(empty) == 0o750 and (empty / "summary.json").is_file()
    fresh = runner.write_results(result, tmp_path / "fresh")
    assert mode(fresh) == 0o755  # 0o777 less the umask, not mkdtemp's 0o700
    assert sorted(p.name for p in tmp_path.iterdir()) == ["empty", "fresh"]  # no partial folder left
    with pytest.raises(FileExistsError):  # a folder with files is never replaced by a run
        runner.write_results(result, fresh)
    assert (fresh / "summary.json").is_file()


def test_reports_replace_the_old_one_keep_its_mode_and_clean_stale_partials(tmp_path, umask_022):
    columns = ["strategy", "point", "replication", "seed", "status", "verdict", "wall_s", "error", *MEASURES]
    runs = pd.DataFrame(columns=columns)
    meta = {"name": "n", "strategies": ["a"], "vary": [], "measures": ["cross_reach"], "replications": 1}
    meta["runs_total"] = 1
    out = tmp_path / "report"
    report.build_report(runs, pd.DataFrame(), meta, out)
    assert mode(out) == 0o755
    out.chmod(0o700)
    (out / "old.png").write_bytes(b"old")
    stale = tmp_path / ".report.partial-0badc0de"
    stale.mkdir()
    report.build_report(runs, pd.DataFrame(), meta, out, clean_stale=True)
    assert mode(out) == 0o700 and not (out / "old.png").exists() and (out / "report.md").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_docking_folders_are_written_by_the_same_writer(tmp_path, umask_022):
    written = dock.Report("axelrod", {"t": pd.DataFrame({"a": [1]})}, "md", "term", [("ok", True)], {}, Path.touch)
    out = tmp_path / "dock-axelrod"
    dock.write_folder(out, written, {"title": "# t", "line": "l"})
    assert mode(out) == 0o755
    out.chmod(0o750)
    dock.write_folder(out, written, {"title": "# t", "line": "l"})
    assert mode(out) == 0o750
    assert sorted(p.name for p in tmp_path.iterdir()) == ["dock-axelrod"]


def test_an_interrupted_atomic_folder_leaves_the_old_folder_and_no_partial(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep").write_text("old")
    with pytest.raises(KeyboardInterrupt), atomic_folder(out, replace=True) as partial:
        (partial / "new").write_text("new")
        raise KeyboardInterrupt
    assert listing(tmp_path) == {"out", "out/keep"}


# --------------------------------------------------------------------------- 9. --scheduler


@pytest.mark.parametrize(
    ("address", "expected"),
    [
        ("garbage", "is not a Dask scheduler address: expected HOST:PORT, tcp://HOST:PORT"),
        ("tcp://127.0.0.1:99999", "port 99999 is not between 1 and 65535"),
        ("http://127.0.0.1:8786", "is not a Dask scheduler address"),
        ("tcp://127.0.0.1", "is not a Dask scheduler address"),
    ],
)
def test_a_bad_scheduler_address_exits_2_before_anything(tmp_path, capsys, address, expected):
    out = tmp_path / "out"
    assert sweep(write_sweep(tmp_path), out, "--scheduler", address) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"--scheduler: {address}: {expected}") and "Traceback" not in err
    assert not out.exists()


def test_valid_scheduler_addresses_pass():
    for address in ("tcp://10.0.0.1:8786", "localhost:8786", "tls://sched.example.org:1", "[::1]:8786", "inproc://x/1"):
        executor_mod.check_scheduler(address)


def test_an_unreachable_scheduler_exits_2_naming_it_and_writes_nothing(tmp_path, capsys, monkeypatch):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setattr(executor_mod, "SCHEDULER_TIMEOUT_S", 1.0)
    out, address = tmp_path / "out", f"tcp://127.0.0.1:{port}"
    started = time.monotonic()
    assert sweep(write_sweep(tmp_path), out, "--scheduler", address) == 2
    assert time.monotonic() - started < 30
    err = capsys.readouterr().err
    assert err.startswith(f"--scheduler: {address}: cannot connect to a Dask scheduler there within 1 s (OSError")
    assert "Traceback" not in err
    assert not out.exists()


# --------------------------------------------------------------------------- 10. huge plans


def spec(**fields) -> design_mod.SweepSpec:
    return design_mod.SweepSpec.model_validate({"base": "b.yaml", **fields})


def test_planned_runs_is_arithmetic():
    ranges = {"a": {"low": 0, "high": 1}, "b": {"low": 0, "high": 1}}
    two = {"s": {}, "t": {}}
    big = spec(vary=ranges, samples=1000, strategies=two, replications=3)
    assert design_mod.planned_runs(big) == (10**6, 6 * 10**6)
    assert design_mod.planned_runs(spec(vary=ranges, samples=1000, design="lhs")) == (1000, 10_000)
    lists = {"c": [1, 2, 3], "d": [1, 2], "e": {"low": 0, "high": 1}}
    sobol = spec(vary=lists, samples=8, design="sobol", replications=1)
    assert design_mod.planned_runs(sobol) == (6 * 8 * 3, 144)  # Saltelli: samples × (D + 2), D = 1 range
    second = spec(vary=ranges, samples=8, design="sobol", second_order=True)
    assert design_mod.planned_runs(second) == (8 * 6, 480)  # × (2D + 2)
    assert design_mod.planned_runs(spec(vary=ranges, design="morris", trajectories=7, replications=2)) == (21, 42)
    assert design_mod.planned_runs(spec(vary={"c": [1, 2]}, samples=500, replications=2)) == (2, 4)  # no range


@pytest.fixture
def nothing_built(monkeypatch):
    """Building points or seeds of a refused sweep would be the bug: make it fail loudly instead of hanging."""

    def fail(*args, **kwargs):
        raise AssertionError("points or seeds were built before the run count was checked")

    monkeypatch.setattr(design_mod, "parameter_points", fail)
    monkeypatch.setattr(design_mod, "replication_seeds", fail)


def test_a_sweep_over_the_run_limit_is_refused_at_the_samples_line(tmp_path, capsys, nothing_built):
    ranges = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.5}}
    path = write_sweep(tmp_path, vary=ranges, samples=10_000, design="lhs", replications=100)
    assert sweep(path, tmp_path / "out", "--dry-run") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"{path}:{line_of(path, 'samples')}: samples: the sweep plans 2,000,000 runs (2 strategies × 10,000 points "
        "× 100 replications), more than the limit of 1,000,000"
    )


def test_a_sweep_resolving_too_many_scenarios_is_refused_before_resolving_them(tmp_path, capsys, nothing_built):
    ranges = {"dynamics.tie_decay": {"low": 0.01, "high": 0.05}, "dynamics.exploration": {"low": 0.0, "high": 0.5}}
    path = write_sweep(tmp_path, vary=ranges, samples=1000, replications=1)
    assert sweep(path, tmp_path / "out", "--dry-run") == 2
    err = capsys.readouterr().err
    assert err.startswith(
        f"{path}:{line_of(path, 'samples')}: samples: the sweep resolves 2,000,000 scenarios (2 strategies × "
        "1,000,000 points), more than the limit of 20,000"
    )


def test_a_sweep_over_the_run_limit_is_refused_at_the_replications_line(tmp_path, nothing_built):
    path = write_sweep(tmp_path, replications=400_000)
    with pytest.raises(ScenarioError) as info:
        design_mod.load_sweep(path)
    [problem] = info.value.problems
    assert (problem.line, problem.path) == (line_of(path, "replications"), "replications")
    assert "plans 1,600,000 runs" in problem.message and "limit of 1,000,000" in problem.message


@pytest.mark.parametrize(("key", "value"), [("replications", 10_000_000), ("samples", 1_000_000_000)])
def test_replications_and_samples_have_an_upper_bound(tmp_path, capsys, nothing_built, key, value):
    path = write_sweep(tmp_path, **{key: value})
    assert sweep(path, tmp_path / "out", "--dry-run") == 2
    err = capsys.readouterr().err
    assert f"{path}:{line_of(path, key)}: {key}:" in err and "1000000" in err


# --------------------------------------------------------------------------- 11. calibration across the sweep's sizes


def test_the_time_estimate_is_calibrated_on_the_cheapest_middle_and_dearest_scenarios(tmp_path, monkeypatch, capsys):
    path = write_sweep(tmp_path, vary={"organization.stakeholders.consumers.count": [10, 5000, 100]})
    loaded = design_mod.load_sweep(path)
    stepped = []

    def fake_steps(data, budget_s):
        stepped.append(data)
        return 0.001

    monkeypatch.setattr(sweep_mod, "_step_seconds", fake_steps)
    calibration = sweep_mod.calibrate(loaded)
    costs, record = calibration.costs, calibration.record
    counts = [data["organization"]["stakeholders"][0]["count"] for data in stepped]
    assert counts == [10, 100, 5000]  # by work per step, not in file order
    assert [point for _, point in costs] == [0, 2, 1]
    assert all(data["steps"] == 20 for data in stepped)  # the real scenario, stepped for the budget only
    assert record["status"] == "ok" and calibration.load_s >= 0 and calibration.busy_cores >= 0
    assert [c.work for c in costs.values()] == sorted(c.work for c in costs.values())
    monkeypatch.undo()
    assert sweep(path, tmp_path / "out", "--dry-run", "--jobs", "1") == 0
    assert "timed on warm short runs of " in capsys.readouterr().out


# --------------------------------------------------------------------------- blame and names


def test_a_problem_a_varied_key_brings_is_blamed_on_its_vary_line(tmp_path):
    # a varied `steps` puts the base's event past the end: the problem's path (events[0].at) names no change
    base_changes = {"events": [{"at": 15, "set": {"dynamics.drift": 0.01}}]}
    path = write_sweep(tmp_path, base_changes=base_changes, vary={"steps": [10, 20]})
    with pytest.raises(ScenarioError) as info:
        design_mod.load_sweep(path)
    [problem] = info.value.problems
    line = next(i for i, row in enumerate(path.read_text().splitlines(), 1) if row.strip().startswith("steps:"))
    assert (problem.line, problem.path) == (line, "vary.steps")
    assert "event at step 15 is past the last step (10)" in problem.message


@pytest.mark.parametrize("name", ["../../elsewhere/x", "/elsewhere/x", "a/b/c"])
def test_a_sweep_name_cannot_point_outside_results(tmp_path, monkeypatch, capsys, name):
    monkeypatch.chdir(tmp_path)
    path = write_sweep(tmp_path, name=name)
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert f"{path}:{line_of(path, 'name')}: name: expected a name of letters, digits" in capsys.readouterr().err
    assert not (tmp_path / "results").exists()


def test_a_strategy_name_must_be_a_name(tmp_path):
    path = write_sweep(tmp_path, strategies={"glue\x1b[2J": {"ownership.cross_posting": "open"}})
    with pytest.raises(ScenarioError) as info:
        design_mod.load_sweep(path)
    assert "expected a name of letters, digits" in str(info.value) and "\x1b" not in str(info.value)


def test_a_sweep_file_is_read_with_the_same_limits_as_a_scenario(tmp_path, capsys):
    bomb = ["a0: &a0 [x, x, x, x, x, x, x, x, x]"]
    bomb += [f"a{k}: &a{k} [{', '.join([f'*a{k - 1}'] * 9)}]" for k in range(1, 9)]
    (tmp_path / "bomb.yaml").write_text("\n".join(bomb) + "\n")
    (tmp_path / "deep.yaml").write_text("base: " + "[" * 600 + "]" * 600 + "\n")
    (tmp_path / "tag.yaml").write_text("base: !!python/object/apply:os.system ['true']\n")
    for name, expected in (
        ("bomb", "more than 100,000 values"),
        ("deep", "nested deeper than 32 levels"),
        ("tag", "unsupported YAML tag"),
    ):
        assert main(["sweep", str(tmp_path / f"{name}.yaml"), "--out", str(tmp_path / "out"), "--quiet"]) == 2
        err = capsys.readouterr().err
        assert err.startswith(f"{tmp_path / name}.yaml:") and expected in err and "Traceback" not in err
    assert not (tmp_path / "out").exists()
