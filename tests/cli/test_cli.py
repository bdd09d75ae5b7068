"""The command line, run as a user runs it: in a subprocess, through run.py and the silosim script."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path

import pandas as pd
import pytest

from silosim import scenario
from silosim.cli import main, validate
from silosim.cli.parser import UsageError
from tests.helpers import ROOT

DEFAULT = ROOT / "scenarios" / "default.yaml"


def _silosim_script() -> str | None:
    local = ROOT / ".venv" / "bin" / "silosim"
    if local.exists():
        return str(local)
    return shutil.which("silosim")


ENTRY_POINTS = {"run.py": [sys.executable, str(ROOT / "run.py")]}
if _silosim_script():
    ENTRY_POINTS["silosim"] = [_silosim_script()]


@pytest.fixture(params=sorted(ENTRY_POINTS))
def cli(request):
    """Run the CLI through one entry point; returns the CompletedProcess."""
    prefix = ENTRY_POINTS[request.param]

    def run(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
        env = {**os.environ, "PYTHONWARNINGS": "ignore"}
        return subprocess.run([*prefix, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300, env=env)

    return run


def run_py(*args: str | Path, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(ROOT / "run.py"), *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=300
    )


def bad_input(result: subprocess.CompletedProcess) -> list[str]:
    """Assert a clean bad-input exit; return the stderr lines."""
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.strip(), "a bad-input exit must say what is wrong"
    return result.stderr.strip().splitlines()


BAD = """\
organization:
  departments:
    - {name: marketing, reache: 0.3}
  stakeholders:
    - {group: customers, count: 20}
communities:
  - {name: forum, involvement: {marketng: 1.0}, members: {customers: 0.5}}
"""


@pytest.fixture
def bad_file(tmp_path) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(BAD)
    return path


# --------------------------------------------------------------------------- bad input


def test_bad_file_exits_2_with_file_and_line(cli, bad_file, tmp_path):
    lines = bad_input(cli("run", bad_file, "--quiet", cwd=tmp_path))
    assert len(lines) == 2
    assert lines[0].startswith(f"{bad_file}:3: organization.departments[marketing].reache:")
    assert "did you mean 'reach'" in lines[0]
    assert lines[1].startswith(f"{bad_file}:7: communities[forum].involvement.marketng:")
    assert "did you mean 'marketing'" in lines[1]


def test_bad_file_writes_nothing(cli, bad_file, tmp_path):
    out = tmp_path / "out"
    bad_input(cli("run", bad_file, "--out", out, cwd=tmp_path))
    assert not out.exists()
    assert not (tmp_path / "results").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["bad.yaml"]


def test_bad_file_without_out_creates_no_results_folder(cli, bad_file, tmp_path):
    bad_input(cli(bad_file, cwd=tmp_path))  # `run` implied by a .yaml first argument
    assert not (tmp_path / "results").exists()


def test_missing_file(cli, tmp_path):
    lines = bad_input(cli("run", tmp_path / "absent.yaml", cwd=tmp_path))
    assert lines == [f"{tmp_path / 'absent.yaml'}: (top level): cannot read file: No such file or directory"]


def test_bad_flag_suggests_the_nearest(cli, tmp_path):
    lines = bad_input(cli("run", DEFAULT, "--sed", "3", cwd=tmp_path))
    assert len(lines) == 1
    assert "'--sed' (did you mean '--seed'?)" in lines[0]


def test_bad_flag_value(cli, tmp_path):
    lines = bad_input(cli("run", DEFAULT, "--seed", "abc", cwd=tmp_path))
    assert "--seed" in lines[0]
    assert "'abc'" in lines[0]


def test_unknown_subcommand(cli, tmp_path):
    lines = bad_input(cli("runn", DEFAULT, cwd=tmp_path))
    assert "invalid choice: 'runn'" in lines[0]


def test_no_subcommand(cli, tmp_path):
    bad_input(cli(cwd=tmp_path))


def test_validate_reports_every_problem_of_every_file(cli, bad_file, tmp_path):
    other = tmp_path / "other.yaml"
    other.write_text(BAD.replace("count: 20", "count: 0"))
    result = cli("validate", bad_file, other, cwd=tmp_path)
    lines = bad_input(result)
    assert [line.split(": ")[0] for line in lines] == [
        f"{bad_file}:3",
        f"{bad_file}:7",
        f"{other}:3",
        f"{other}:5",
        f"{other}:7",
    ]
    assert "greater than or equal to 1" in lines[3]


def test_validate_good_and_bad_files(cli, bad_file, tmp_path):
    result = cli("validate", DEFAULT, bad_file, cwd=tmp_path)
    bad_input(result)
    assert result.stdout.startswith(f"{DEFAULT}: ok (default, 5 communities, rule most_involved)")


def test_validate_good_files_exit_0(cli, tmp_path):
    result = cli("validate", DEFAULT, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout


def test_out_folder_that_is_not_empty_is_refused(cli, tmp_path):
    out = tmp_path / "taken"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    lines = bad_input(cli("run", DEFAULT, "--steps", "2", "--quiet", "--out", out, cwd=tmp_path))
    assert "--out" in lines[0]
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    assert (out / "keep.txt").read_text() == "mine"


def test_set_rule_without_its_department_names_ownership(cli, tmp_path):
    out = tmp_path / "out"
    lines = bad_input(cli("run", DEFAULT, "--set", "ownership.rule=glue", "--out", out, cwd=tmp_path))
    assert lines == ["--set: ownership.rule: rule 'glue' needs ownership.glue: a department name"]
    assert not out.exists()


def test_set_unknown_key_suggests_the_nearest(cli, tmp_path):
    lines = bad_input(cli("run", DEFAULT, "--set", "ownership.rul=glue", cwd=tmp_path))
    assert len(lines) == 1
    assert "did you mean 'rule'" in lines[0]
    assert not (tmp_path / "results").exists()


def test_set_bad_value(cli, tmp_path):
    lines = bad_input(cli("run", DEFAULT, "--set", "dynamics.features=abc", cwd=tmp_path))
    assert lines[0].startswith("--set: dynamics.features: ")


def test_steps_out_of_range(cli, tmp_path):
    lines = bad_input(cli("run", DEFAULT, "--steps", "0", "--seed", "-1", cwd=tmp_path))
    assert lines[0].startswith("--seed: seed: ") and "greater than or equal to 0, got -1" in lines[0]
    assert lines[1].startswith("--steps: steps: ") and "greater than or equal to 1, got 0" in lines[1]


COMMANDS = {  # each command with the positional arguments it needs
    "init": ["x.yaml"],
    "run": [DEFAULT],
    "validate": [DEFAULT],
    "measure": ["edges.csv", "--group-by", "department"],
    "sweep": [ROOT / "scenarios" / "sweeps" / "strategies.yaml"],
    "report": ["some-sweep"],
    "export": ["some-sweep"],
    "viz": [DEFAULT],
    "dock": ["axelrod"],
}


@pytest.mark.parametrize("command", ["", *COMMANDS])
def test_every_help_exits_0(command, tmp_path):
    result = run_py(*([command] if command else []), "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"usage: silosim {command}".rstrip())
    assert result.stderr == ""
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("command", COMMANDS)
def test_a_bad_flag_of_every_command_exits_2_with_one_message(command, tmp_path):
    lines = bad_input(run_py(command, *COMMANDS[command], "--bogus", cwd=tmp_path))
    assert len(lines) == 1 and lines[0].startswith("silosim: unknown argument '--bogus'")
    assert list(tmp_path.iterdir()) == []


LOADED = """
import sys
from silosim.cli import main
try:
    code = main(sys.argv[1:])
except SystemExit as exit:  # --help
    code = exit.code
heavy = ("mesa", "silosim.model", "silosim.runner", "silosim.docking", "matplotlib", "distributed", "solara")
print(*[name for name in heavy if name in sys.modules])
sys.exit(code)
"""


@pytest.mark.parametrize("args", [["validate", str(DEFAULT)], ["--help"], ["sweep", "--help"]])
def test_validate_and_help_do_not_import_the_model(args, tmp_path):
    result = subprocess.run([sys.executable, "-c", LOADED, *args], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "", f"silosim {' '.join(args)} imported {result.stdout.split()[-1:]}"


def test_python_m_silosim_cli(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "silosim.cli", "validate", str(DEFAULT)], cwd=tmp_path, capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{DEFAULT}: ok")


# --------------------------------------------------------------------------- dock


def test_dock_deffuant_says_it_is_now_drift(tmp_path):
    out = tmp_path / "dock-deffuant"
    lines = bad_input(run_py("dock", "deffuant", "--quick", "--out", out, cwd=tmp_path))
    assert len(lines) == 1
    assert "silosim dock drift" in lines[0] and "Klemm" in lines[0] and "bounded confidence" in lines[0]
    assert not out.exists()


def test_dock_help_lists_drift_not_deffuant(tmp_path):
    result = run_py("dock", "--help", cwd=tmp_path)
    assert "{axelrod,drift,march}" in result.stdout
    assert "deffuant" not in result.stdout.lower()
    lines = bad_input(run_py("dock", "bogus", cwd=tmp_path))
    assert lines == ["silosim dock: argument model: invalid choice: 'bogus' (choose from 'axelrod', 'drift', 'march')"]


# --------------------------------------------------------------------------- the error handler


@pytest.mark.parametrize(
    ("error", "code", "message"),
    [
        (UsageError("silosim validate: bad"), 2, "silosim validate: bad"),
        (KeyboardInterrupt(), 130, "interrupted: nothing was written"),
        (KeyboardInterrupt("interrupted: the command's own words"), 130, "interrupted: the command's own words"),
        (BrokenProcessPool("a worker process died"), 1, "a worker process died"),
    ],
)
def test_the_error_handler_maps_errors_to_exit_codes(error, code, message, monkeypatch, capsys):
    def fail(args):
        raise error

    monkeypatch.setattr(validate, "main", fail)
    assert main(["validate", str(DEFAULT)]) == code
    captured = capsys.readouterr()
    assert captured.err == message + "\n" and captured.out == ""


def interrupt(command: list, cwd: Path, started) -> subprocess.CompletedProcess:
    """Run ``run.py COMMAND``, press Ctrl-C once ``started()`` holds, return the finished process."""
    with open(cwd / "stderr.txt", "w") as stderr:
        process = subprocess.Popen([sys.executable, str(ROOT / "run.py"), *map(str, command)], cwd=cwd, stderr=stderr)
        try:
            deadline = time.monotonic() + 120
            while not started() and process.poll() is None and time.monotonic() < deadline:
                time.sleep(0.1)
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            process.wait(timeout=60)
        finally:
            if process.poll() is None:
                process.kill()
    return subprocess.CompletedProcess(command, process.returncode, "", (cwd / "stderr.txt").read_text())


@pytest.fixture(scope="module")
def short_run(tmp_path_factory):
    """`run.py default.yaml --steps 20 --quiet --out tmp/x`, once for the module."""
    cwd = tmp_path_factory.mktemp("run")
    result = run_py("run", DEFAULT, "--steps", "20", "--quiet", "--out", "tmp/x", cwd=cwd)
    return result, cwd / "tmp" / "x", cwd


def test_short_run_succeeds_and_writes_every_file(short_run):
    result, out, cwd = short_run
    assert result.returncode == 0, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.strip() == "results: tmp/x"
    assert sorted(p.name for p in out.iterdir()) == [
        "community_graph.png",
        "measures.png",
        "scenario.yaml",
        "summary.json",
        "timeseries.csv",
    ]
    assert not (cwd / "results").exists()
    assert [p.name for p in (cwd / "tmp").iterdir()] == ["x"]  # no partial folder left behind


def test_timeseries_has_one_row_per_measurement(short_run):
    _, out, _ = short_run
    table = pd.read_csv(out / "timeseries.csv")
    assert table["step"].tolist() == [10, 20]
    for column in ("ei_index", "modularity", "silo_count", "cross_reach", "verdict"):
        assert column in table.columns


def test_summary_has_verdict_seed_version_and_measures(short_run):
    _, out, _ = short_run
    summary = json.loads((out / "summary.json").read_text())
    # 20 steps, items live 100: nothing has ended, so nothing is judged, and the summary says why
    assert summary["verdict"] == "n/a" and "no item has ended yet (items live 100 steps)" in summary["verdict_reason"]
    assert summary["convergence"].startswith("not converged: the run ends inside its burn-in")
    assert summary["seed"] == 42  # default.yaml's seed
    assert summary["steps"] == 20
    assert summary["silosim_version"]
    expected = {
        "ei_index",
        "ei_baseline",
        "modularity",
        "silo_count",
        "largest_merged_share",
        "cross_reach",
        "time_to_insight",
        "practice_convergence",
        "practice_regions",
    }
    assert expected <= set(summary["measures"])
    assert -1 <= summary["measures"]["ei_index"] <= 1
    table = pd.read_csv(out / "timeseries.csv")
    assert summary["measures"]["silo_count"] == table["silo_count"].iloc[-1]


def test_written_scenario_loads_back_equal(short_run):
    _, out, _ = short_run
    written = scenario.load(out / "scenario.yaml")
    original = scenario.load(DEFAULT, ["steps=20"])
    assert written == original
    assert written.steps == 20


def test_plots_are_png_images(short_run):
    _, out, _ = short_run
    for name in ("measures.png", "community_graph.png"):
        data = (out / name).read_bytes()
        assert data.startswith(b"\x89PNG\r\n\x1a\n")
        assert len(data) > 1000


def test_seed_flag_sets_the_summary_seed(tmp_path):
    result = run_py("run", DEFAULT, "--steps", "2", "--seed", "7", "--quiet", "--out", "o", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads((tmp_path / "o" / "summary.json").read_text())["seed"] == 7
    assert scenario.load(tmp_path / "o" / "scenario.yaml").seed == 7


def test_run_py_with_only_a_scenario_file(tmp_path):
    result = subprocess.run(
        [sys.executable, "run.py", "scenarios/default.yaml", "--steps", "10", "--quiet", "--out", str(tmp_path / "x")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert pd.read_csv(tmp_path / "x" / "timeseries.csv")["step"].tolist() == [10]


@pytest.mark.skipif("silosim" not in ENTRY_POINTS, reason="silosim script not installed")
def test_silosim_script_runs_into_an_empty_out_folder(tmp_path):
    out = tmp_path / "empty"
    out.mkdir()
    result = subprocess.run(
        [ENTRY_POINTS["silosim"][0], "run", str(DEFAULT), "--steps", "2", "--quiet", "--out", str(out)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert (out / "summary.json").exists()
