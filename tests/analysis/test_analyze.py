"""``silosim analyze`` on a real (small) sweep: the command, its files and what it prints."""

from __future__ import annotations

import re

import pandas as pd

from silosim.cli import main
from tests.experiments.test_sweep import write_sweep


def test_analyze_a_real_sobol_sweep(tmp_path, capsys):
    vary = {"dynamics.exploration": {"low": 0.0, "high": 0.3}, "dynamics.tie_decay": {"low": 0.005, "high": 0.08}}
    sweep = write_sweep(tmp_path, vary=vary, design="sobol", samples=4, replications=2, measures=["cross_reach"])
    out = tmp_path / "out"
    assert main(["sweep", str(sweep), "--out", str(out), "--jobs", "1", "--quiet"]) == 0
    capsys.readouterr()
    assert main(["analyze", str(out), "--sobol", "--prim", "glue_open", "--margin", "-1"]) == 0
    printed = capsys.readouterr().out
    assert "small: 64 of 64 planned runs stored" in printed
    assert "`glue_open − closed cross_reach`" in printed and "4 of 4 base samples complete" in printed
    sobol = pd.read_csv(out / "analysis" / "sobol.csv")
    # 3 targets (closed, glue_open, their difference) × 2 parameters on the one measure
    assert len(sobol) == 6 and set(sobol["parameter"]) == set(vary)
    assert set(zip(sobol["strategy"], sobol["versus"].fillna(""), strict=True)) == {
        ("closed", ""),
        ("glue_open", ""),
        ("glue_open", "closed"),
    }
    # a margin of −1 holds everywhere: PRIM's box is the whole space, nothing restricted
    assert "it holds at every one of the 16 points, so there is no region to find" in printed
    text = (out / "analysis" / "analysis.md").read_text()
    assert "## Scenario discovery" in text and "## Method" in text
    images = re.findall(r"^!\[[^]]*\]\(([^)]+)\)$", text, flags=re.M)
    noted = text.count(": constant (")  # a target constant at every point gets a sentence, not a plot
    assert len(images) == 3 - noted and images  # one Sobol plot per target; PRIM found nothing to draw
    page = (out / "analysis" / "analysis.html").read_text()
    assert page.count('src="data:image/png;base64,') == len(images)  # self-contained, as the sweep report
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)
    assert main(["analyze", str(out), "--morris"]) == 2
    assert "design is sobol" in capsys.readouterr().err
