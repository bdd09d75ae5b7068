"""``silosim measure``: a small network measured end to end, and bad flags and files refused with nothing written."""

import itertools
import os
import subprocess
import sys

import pandas as pd
import pytest

from silosim.cli import main

K = 5  # two K-cliques, sales p0…p4 and hr p5…p9, joined by the tie p4–p5


@pytest.fixture
def files(tmp_path):
    """edges.csv and nodes.csv of the two cliques; department and community attributes."""
    edges = [*itertools.combinations(range(K), 2), *itertools.combinations(range(K, 2 * K), 2), (K - 1, K)]
    (tmp_path / "edges.csv").write_text("source,target\n" + "".join(f"p{a},p{b}\n" for a, b in edges))
    rows = [f"p{i},{'sales' if i < K else 'hr'},{'forum' if i % 2 else 'lab'}\n" for i in range(2 * K)]
    (tmp_path / "nodes.csv").write_text("id,department,community\n" + "".join(rows))
    return tmp_path


def test_the_command_measures_a_small_network_end_to_end(files):
    out = files / "out"
    command = [sys.executable, "-m", "silosim.cli", "measure", "edges.csv", "--nodes", "nodes.csv"]
    command += ["--group-by", "department", "--out", str(out), "--permutations", "199"]
    env = {**os.environ, "PYTHONWARNINGS": "ignore"}
    done = subprocess.run(command, cwd=files, capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    names = ["measures.json", "nodes.csv", "groups.csv", "heatmap.png", "network.png", "ei_null.png", "conclusion.txt"]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)
    # the summary table: both groups silos; the conclusion; the paths written
    table = [line for line in done.stdout.splitlines() if line.startswith("| ")]
    assert table[0].split("|")[1].strip() == "department"
    rows = {line.split("|")[1].strip(): line for line in table[1:]}  # the separator starts "|-"
    assert set(rows) == {"(whole network)", "sales", "hr"}
    assert all("SILO" in rows[name] and "9%" in rows[name] for name in ("sales", "hr"))  # 1 of 11 ties leaving
    assert "Both groups by department are silos against chance" in done.stdout and "p4 (sales" in done.stdout
    assert f"results: {out}" in done.stdout and str(out / "groups.csv") in done.stdout
    assert (out / "conclusion.txt").read_text().split("\n\n")[0].replace("\n", " ") in done.stdout.replace("\n", " ")


def test_a_second_attribute_and_a_scenario(files, capsys):
    out, scenario = files / "out", files / "what-if" / "org.yaml"
    code = main(
        [
            "measure",
            str(files / "edges.csv"),
            "--nodes",
            str(files / "nodes.csv"),
            "--group-by",
            "department",
            "--community-by",
            "community",
            "--out",
            str(out),
            "--scenario",
            str(scenario),
            "--permutations",
            "99",
        ]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "By community:" in printed
    assert scenario.is_file() and str(scenario) in printed
    from silosim.scenario import load

    assert load(scenario).name  # the scenario written validates


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        (["--group-by", "departement"], "did you mean 'department'"),
        (["--group-by", "department", "--community-by", "comunity"], "did you mean 'community'"),
        (["--group-by", "department", "--weight", "wieght"], "wieght"),
        (["--group-by", "department", "--comunity-by", "community"], "did you mean '--community-by'"),
        (["--group-by", "department", "--permutations", "0"], "expected a positive whole number"),
        (["--group-by", "department", "--scenario", "org.txt"], "ending in .yaml"),
    ],
)
def test_bad_flags_exit_2_with_a_hint_and_write_nothing(files, capsys, flags, expected):
    out = files / "out"
    args = ["measure", str(files / "edges.csv"), "--nodes", str(files / "nodes.csv"), "--out", str(out), *flags]
    assert main(args) == 2
    err = capsys.readouterr().err
    assert expected in err and "Traceback" not in err
    assert not out.exists()
    assert sorted(p.name for p in files.iterdir()) == ["edges.csv", "nodes.csv"]


def test_a_typo_in_group_by_is_named_and_a_missing_one_lists_the_attributes(files, capsys):
    base = ["measure", str(files / "edges.csv"), "--nodes", str(files / "nodes.csv"), "--out", str(files / "out")]
    assert main([*base, "--group_by", "department"]) == 2
    assert "unknown argument '--group_by' (did you mean '--group-by'?)" in capsys.readouterr().err
    assert main(base) == 2
    message = "silosim measure: --group-by: missing: name the node attribute whose values are the groups"
    assert f"{message} (one of: department, community)" in capsys.readouterr().err
    assert not (files / "out").exists()


def test_an_edge_naming_an_absent_person_exits_2_and_writes_nothing(files, capsys):
    with open(files / "edges.csv", "a") as handle:
        handle.write("p0,p99\n")
    out = files / "out"
    code = main(["measure", str(files / "edges.csv"), "--nodes", str(files / "nodes.csv"), "--group-by", "department",
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    err = capsys.readouterr().err
    assert "p99" in err and "edges.csv" in err
    assert not out.exists()


def test_an_out_folder_in_use_is_refused_before_measuring(files, capsys):
    out = files / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    code = main(["measure", str(files / "edges.csv"), "--nodes", str(files / "nodes.csv"), "--group-by", "department",
                 "--out", str(out)])  # fmt: skip
    assert code == 2
    assert "not an empty folder" in capsys.readouterr().err
    assert [p.name for p in out.iterdir()] == ["keep.txt"]


@pytest.mark.parametrize(
    ("scenario", "expected"),
    [("taken.yaml", "is a folder"), ("out/org.yaml", "would be written inside --out")],
)
def test_a_scenario_path_that_cannot_be_written_is_refused_first(files, capsys, scenario, expected):
    (files / "taken.yaml").mkdir()
    code = main(["measure", str(files / "edges.csv"), "--nodes", str(files / "nodes.csv"), "--group-by", "department",
                 "--out", str(files / "out"), "--scenario", str(files / scenario)])  # fmt: skip
    assert code == 2
    assert expected in capsys.readouterr().err
    assert not (files / "out").exists() and list((files / "taken.yaml").iterdir()) == []


def test_the_default_folder_is_new_under_results(files, monkeypatch, capsys):
    monkeypatch.chdir(files)
    assert main(["measure", "edges.csv", "--nodes", "nodes.csv", "--group-by", "department", "--quiet",
                 "--permutations", "9"]) == 0  # fmt: skip
    (folder,) = (files / "results").iterdir()
    assert folder.name.startswith("edges-measure-") and folder.name.endswith("-seed0")
    assert pd.read_csv(folder / "groups.csv")["group"].tolist() == ["hr", "sales"]
    assert capsys.readouterr().out.startswith(f"results: {os.path.join('results', folder.name)}")


def test_measure_is_listed_after_validate_in_the_help():
    from silosim.cli import COMMANDS, measure, validate

    assert COMMANDS.index(measure) == COMMANDS.index(validate) + 1
