"""Smoke test of benchmarks/validity.py: it runs, prints one row per property and writes its files.

Whether the rows pass is the benchmark's report, not this test's concern.
"""

import re
import subprocess
import sys

import pandas as pd
import pytest

from tests.helpers import ROOT

PROPERTIES = ("1. Size", "2. Run length", "3. Word of mouth", "4. Cost", "5. Structure", "6. Determinism")


@pytest.mark.model
def test_quick_validity_run_writes_the_table_and_the_runs(tmp_path):
    out = tmp_path / "tmp"
    result = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "validity.py"), "--quick", "--jobs", "1", "--out", str(out)],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "ALL PASS" or lines[-1].startswith("FAIL: ")

    table = (out / "table.md").read_text()
    header = table.splitlines()[0]
    assert re.fullmatch(r"\| property \| measured \| threshold \| result \|", header)
    rows = [line for line in table.splitlines() if line.startswith("| ") and line[2].isdigit()]
    assert [row.split(" | ")[0].removeprefix("| ") for row in rows] == list(PROPERTIES)
    assert all(row.endswith(("| pass |", "| FAIL |")) for row in rows)
    assert all(row in result.stdout for row in rows)

    runs = pd.read_csv(out / "runs.csv")
    assert {"case", "seed", "cross_reach", "silo_count", "verdict", "converged"} <= set(runs.columns)
    assert len(runs) > 0
    assert (out / "validity.png").stat().st_size > 0
