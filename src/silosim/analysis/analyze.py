"""``silosim analyze``: which parameters decide a sweep's answer, and where a strategy wins.

Reads a finished or partial sweep's store and writes ``SWEEP_DIR/analysis/``
(or ``--out``), replaced as a whole:

- ``sobol.csv`` / ``morris.csv``: the indices of every strategy's measures and
  of every strategy's paired difference with the reference (the first
  strategy), one row per parameter (:mod:`silosim.analysis.sensitivity`);
  ``sobol_second_order.csv`` when the design sampled for it;
- the plots on the objective: Sobol bars with their intervals, the μ*–σ plot;
- ``prim.csv``, the peeling trajectory, and its plots, for ``--prim``: the
  box of varied-parameter ranges in which a condition holds (PRIM, Friedman &
  Fisher 1999: :mod:`silosim.analysis.prim`), the condition being that a
  strategy beats another on the objective by more than a margin, or that its
  runs mostly end with a verdict;
- ``analysis.md`` and ``analysis.html`` (the sentences, tables and plots;
  the page self-contained, as the sweep report) and ``conclusion.txt``, what
  the command prints.

Every analysis uses the mean over a point's replications and says how much of
the variance is replication noise.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from silosim.analysis import report_html, sensitivity
from silosim.analysis.report import planned_points
from silosim.analysis.sensitivity import DesignError, Sensitivity, Target
from silosim.analysis.sweep_conclusion import GOALS
from silosim.analysis.sweep_conclusion import objective as sweep_objective
from silosim.analysis.text import markdown_table, number, plural
from silosim.atomic import atomic_folder, replaceable
from silosim.metrics import MEASURES, VERDICTS
from silosim.scenario import Problem, ScenarioError, nearest
from silosim.store import open_store

ANALYSIS_NAME = "analysis"


@dataclass
class Condition:
    """What PRIM looks for: ``strategy`` beats ``versus`` by more than ``margin``, or ends with ``verdict``."""

    strategy: str
    versus: str | None = None
    margin: float = 0.0
    verdict: str | None = None

    def text(self, measure: str, goal: str) -> str:
        """The condition in words."""
        if self.verdict:
            return f"`{self.strategy}` ends {self.verdict} in most of its replications"
        better = "higher" if goal == "max" else "lower"
        return f"`{self.strategy}` beats `{self.versus}` on `{measure}` ({better} is better) by more than {self.margin}"


@dataclass
class Analysis:
    """What ``silosim analyze`` found and wrote."""

    out: Path
    text: str  # what the command prints
    results: list[Sensitivity] = field(default_factory=list)
    prim: Any = None  # silosim.analysis.prim.PrimResult, or None when the condition holds nowhere
    condition: str = ""  # PRIM's condition in words ("" without --prim)
    verdict: str | None = None  # the verdict PRIM's condition asks for, if it asks for one
    prim_points: tuple[int, int, int] = (0, 0, 0)  # points PRIM read, runs behind them, points where it holds
    prim_worth: dict[str, tuple[float, float]] = field(
        default_factory=dict
    )  # restriction → (density, coverage) without
    runs_used: int = 0
    runs_stored: int = 0
    runs_planned: int = 0
    warnings: list[str] = field(default_factory=list)


def analyze(
    sweep_dir: Path | str,
    sobol: bool = False,
    morris: bool = False,
    prim: str | None = None,
    objective: str | None = None,
    out: Path | str | None = None,
    versus: str | None = None,
    margin: float = 0.0,
    verdict: str | None = None,
    threshold: float = 0.8,
    flag: str = "silosim analyze",
) -> Analysis:
    """Analyse a sweep and write the analysis folder; the Python face of ``silosim analyze``.

    With none of ``sobol``, ``morris``, ``prim``: the analysis the sweep's design supports.

    Args:
        sweep_dir: the sweep folder (its store, ``runs.sqlite``).
        sobol: Sobol indices (needs ``design: sobol``).
        morris: Morris screening (needs ``design: morris``).
        prim: scenario discovery for this strategy (any design).
        objective: the measure read (default: the sweep's objective).
        out: where to write (default ``SWEEP_DIR/analysis``), replaced as a whole.
        versus: the strategy ``prim`` must beat (default: the reference, or the second when ``prim`` is it).
        margin: by how much it must beat it, in the objective's units and direction.
        verdict: instead, PRIM's condition is that ``prim``'s runs at a point mostly end with this verdict.
        threshold: the density (share of points where the condition holds) PRIM's box is asked to reach.
        flag: names the command in messages.

    Raises:
        ScenarioError: an unknown name, a design that cannot support the analysis, a damaged store.
        FileNotFoundError: the folder has no sweep store.
    """
    sweep_dir = Path(sweep_dir)
    out_dir = Path(out) if out else sweep_dir / ANALYSIS_NAME
    _check_out(out_dir, "--out" if out else flag)
    store = open_store(sweep_dir, flag)
    try:
        runs, meta, counts = store.runs_frame(), store.meta(), store.counts()
    finally:
        store.close()
    design = meta.get("design") or {"design": "grid", "ranges": {}}
    goal = sweep_objective(meta)
    measure = objective or goal["measure"]
    direction = goal["goal"] if measure == goal["measure"] else _goal(measure)
    _check_names(meta, measure, prim, versus, verdict, margin, threshold, flag, goal["measure"])
    if not (sobol or morris or prim):
        if design["design"] not in ("sobol", "morris"):
            raise _error(
                flag,
                "design",
                f"this sweep's design ({design['design']}) supports scenario discovery only: give --prim STRATEGY "
                "(a Sobol analysis needs design: sobol, a Morris screening design: morris)",
            )
        sobol, morris = design["design"] == "sobol", design["design"] == "morris"
    try:
        for method, asked in (("sobol", sobol), ("morris", morris)):
            if asked:
                sensitivity.require(design, method)
    except DesignError as exc:
        raise _error(flag, "design", str(exc)) from None
    planned = planned_points(meta)
    found = Analysis(
        out_dir,
        "",
        runs_stored=int(counts["ok"]),
        runs_planned=int(counts["planned"]),
    )
    tables: dict[str, pd.DataFrame] = {}
    seed = int(design.get("seed", 0))
    for method in [m for m, asked in (("sobol", sobol), ("morris", morris)) if asked]:
        results = []
        for target in _targets(meta, measure):
            results += sensitivity.analyse(runs, design, target, method, planned, seed)
        found.results += results
        tables[method] = _frame(results)
    if prim:
        condition = Condition(prim, None if verdict else _versus(meta, prim, versus), margin, verdict)
        discovered, found.prim_points = _discover(runs, meta, condition, measure, direction, threshold)
        found.prim, found.prim_worth = discovered or (None, {})
        found.condition, found.verdict = condition.text(measure, direction), verdict
    found.runs_used = max([r.runs_used for r in found.results] + [found.prim_points[1]])
    found.warnings = [w for r in found.results if r.target.measure == measure for w in r.warnings]
    _write(found, tables, meta, measure, direction)
    return found


def _check_out(out: Path, flag: str) -> None:
    """The folder may be missing, empty or an earlier analysis (replaced): nothing else is overwritten."""
    if why := replaceable(out, lambda names: "analysis.md" in names, "an analysis"):
        raise _error(flag, str(out), why)


def _goal(measure: str) -> str:
    return GOALS.get(measure) or "max"


def _error(flag: str, path: str, message: str) -> ScenarioError:
    return ScenarioError([Problem(flag, None, path, message)])


def _check_names(
    meta: dict,
    measure: str,
    prim: str | None,
    versus: str | None,
    verdict: str | None,
    margin: float,
    threshold: float,
    flag: str,
    objective: str,
) -> None:
    """Every unknown name (with the nearest one) or out-of-range value, in one error."""
    strategies = meta["strategies"]
    problems = []
    if measure not in MEASURES:
        problems.append(Problem(flag, None, "--objective", f"unknown measure '{measure}'{nearest(measure, MEASURES)}"))
    for option, name in (("--prim", prim), ("--versus", versus)):
        if name is not None and name not in strategies:
            problems.append(
                Problem(
                    flag,
                    None,
                    option,
                    f"no strategy '{name}' in this sweep{nearest(name, strategies)} (it has {', '.join(strategies)})",
                )
            )
    if verdict is not None and verdict not in VERDICTS:
        problems.append(Problem(flag, None, "--verdict", f"unknown verdict '{verdict}'{nearest(verdict, VERDICTS)}"))
    if (versus is not None or verdict is not None) and prim is None:
        problems.append(Problem(flag, None, "--prim", "--versus and --verdict set PRIM's condition: give --prim too"))
    if prim is not None and verdict is None and len(strategies) < 2:
        problems.append(
            Problem(flag, None, "--prim", "one strategy beats no other: give --verdict merged (or another verdict)")
        )
    if prim is not None and versus is not None and prim == versus:
        problems.append(Problem(flag, None, "--versus", f"'{prim}' cannot beat itself: name another strategy"))
    if prim is not None and verdict is None and measure in GOALS and GOALS[measure] is None and measure != objective:
        problems.append(
            Problem(
                flag,
                None,
                "--objective",
                f"'{measure}' has no natural direction, so no strategy beats another on it: give --verdict, or "
                "a measure with one (or set objective: {measure, goal} in the sweep file)",
            )
        )
    if not 0 < threshold <= 1:
        problems.append(Problem(flag, None, "--threshold", f"expected a share in (0, 1], got {threshold}"))
    if not math.isfinite(margin):
        problems.append(Problem(flag, None, "--margin", f"expected a number, got {margin}"))
    if problems:
        raise ScenarioError(problems)


def _versus(meta: dict, strategy: str, versus: str | None) -> str:
    strategies = meta["strategies"]
    return versus or (strategies[0] if strategy != strategies[0] else strategies[1])


def _targets(meta: dict, objective: str) -> list[Target]:
    """Every strategy's measures, then every other strategy's difference with the reference, objective first."""
    strategies = meta["strategies"]
    measures = list(dict.fromkeys([objective, *meta["measures"]]))
    targets = [Target(s, m) for m in measures for s in strategies]
    targets += [Target(s, m, strategies[0]) for m in measures for s in strategies[1:]]
    return targets


def _frame(results: list[Sensitivity]) -> pd.DataFrame:
    rows = []
    for r in results:
        head = {"strategy": r.target.strategy, "versus": r.target.versus or "", "measure": r.target.measure, **r.where}
        extra = {"runs_used": r.runs_used, "points_missing": r.points_missing}
        extra |= {"noise_share_runs": r.noise_runs, "noise_share_means": r.noise_means, "note": r.note}
        rows += [{**head, **row, **extra} for row in r.indices.to_dict("records")]
    return pd.DataFrame(rows)


def _discover(
    runs: pd.DataFrame, meta: dict, condition: Condition, measure: str, goal: str, threshold: float
) -> tuple[Any, tuple[int, int, int]]:
    """PRIM on the points: x the varied parameters, y the condition at each point (over its replications)."""
    from silosim.analysis.prim import prim, without_each

    ok = runs[runs["status"] == "ok"]
    mine = ok[ok["strategy"] == condition.strategy]
    if condition.verdict:
        holds = mine.groupby("point")["verdict"].apply(lambda v: (v == condition.verdict).mean() > 0.5)
        used = len(mine)
    else:
        target = Target(condition.strategy, measure, condition.versus)
        values = sensitivity.point_values(runs, target)
        sign = 1.0 if goal == "max" else -1.0
        holds = values.groupby("point")["value"].mean() * sign > condition.margin
        used = 2 * len(values)
    if holds.empty:
        who = condition.strategy if condition.verdict else f"{condition.strategy} and {condition.versus}"
        raise _error("silosim analyze", "--prim", f"no stored run of {who} yet: run (or resume) the sweep first")
    params = runs.drop_duplicates("point").set_index("point")[meta["vary"]]
    numeric = params.apply(pd.to_numeric, errors="coerce")
    x = numeric.loc[holds.index, [c for c in numeric if numeric[c].notna().all()]]
    if x.empty:
        raise ScenarioError([Problem("silosim analyze", None, "--prim", "the sweep varies no numeric parameter")])
    if holds.all() or not holds.any():
        return None, (len(holds), used, int(holds.sum()))  # nothing to tell apart
    found = prim(x.reset_index(drop=True), holds.to_numpy(dtype=bool), threshold=threshold)
    worth = without_each(x.reset_index(drop=True), holds.to_numpy(dtype=bool), found.boxes[found.chosen])
    return (found, worth), (len(holds), used, int(holds.sum()))


def _file_part(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", text).strip("_")


def _write(found: Analysis, tables: dict[str, pd.DataFrame], meta: dict, measure: str, goal: str) -> None:
    from silosim.analysis import sensitivity_plots

    planned = planned_points(meta)
    lines = [f"# Analysis of sweep `{meta['name']}`", ""]
    text = [
        f"{meta['name']}: {found.runs_stored} of {plural(found.runs_planned, 'planned run')} stored; "
        + (
            f"the analyses read the mean of `{measure}` over each point's replications"
            if found.results or not found.verdict
            else f"PRIM reads whether most of each point's replications end {found.verdict}"
        )
    ]
    with atomic_folder(found.out, replace=True) as tmp:
        for method, table in tables.items():
            table.to_csv(tmp / f"{method}.csv", index=False)
            seconds = [r.second_order.assign(**_head(r)) for r in found.results if r.second_order is not None]
            if method == "sobol" and seconds:
                pd.concat(seconds).to_csv(tmp / "sobol_second_order.csv", index=False)
        for result in [r for r in found.results if r.target.measure == measure]:
            title = f"{'Sobol indices' if result.method == 'sobol' else 'Morris screening'}: {result.target.label}"
            if result.where:
                title += " at " + ", ".join(f"{k} = {v}" for k, v in result.where.items())
            sentence = sensitivity.sentence(result)
            noise = _noise_text(result)
            text += ["", sentence, f"  ({sensitivity.usage(result)}; {noise})"]
            lines += [f"## {title}", "", sentence, "", f"{sensitivity.usage(result)}; {noise}.", ""]
            lines += [line for w in result.warnings for line in (f"**Warning:** {w}", "")]
            if result.note:
                continue
            name = _file_part(f"{result.method}_{result.target.label}_{'_'.join(map(str, result.where.values()))}")
            if result.method == "sobol":
                sensitivity_plots.sobol_bars(result.indices, tmp / f"{name}.png", title)
                lines += _sobol_table(result)
            else:
                sensitivity_plots.morris_plot(result.indices, tmp / f"{name}.png", title)
                lines += _morris_table(result)
            lines += ["", f"![{title}]({name}.png)", ""]
        if found.condition:
            part_text, part_md = _prim_section(found, tmp)
            text += part_text
            lines += part_md
        if found.warnings:
            text += ["", *[f"warning: {w}" for w in found.warnings]]
        text += ["", f"analysis: {found.out / 'analysis.md'}"]
        lines += ["## Method", "", _method(meta, planned, found), ""]
        lines += _every_measure(found.results)
        found.text = "\n".join(text)
        (tmp / "analysis.md").write_text("\n".join(lines))
        (tmp / "analysis.html").write_text(report_html.render("\n".join(lines), tmp, title=f"Analysis {meta['name']}"))
        (tmp / "conclusion.txt").write_text("\n".join(text[:-1]).strip() + "\n")


def _every_measure(results: list[Sensitivity]) -> list[str]:
    """Appendix: each target's total-order index (Sobol) or μ* (Morris) per parameter, every measure."""
    lines = []
    for method, column, name in (("sobol", "ST", "total-order index ST"), ("morris", "mu_star", "μ*")):
        mine = [r for r in results if r.method == method]
        if not mine:
            continue
        parameters = list(mine[0].indices["parameter"])
        rows = []
        for r in mine:
            values = r.indices.set_index("parameter")[column]
            cells = [r.note.split(":")[0] if r.note else number(values[p], 2) for p in parameters]
            noise = f"{r.noise_means:.0%}" if math.isfinite(r.noise_means) else "?"
            rows.append([f"`{r.target.label}`", *cells, noise + (" (dwarfs)" if r.warnings else "")])
        lines += [f"## Every measure: {name}", ""]
        lines += [
            "Rows: strategy (or difference) and measure; columns: parameters, then the share of the variance of the "
            "point means that is replication noise.",
            "",
        ]
        header = ["target", *(f"`{p}`" for p in parameters), "noise"]
        lines += [*markdown_table(header, rows).splitlines(), ""]
    return lines


def _head(result: Sensitivity) -> dict:
    return {"strategy": result.target.strategy, "versus": result.target.versus or "", "measure": result.target.measure}


def _noise_text(result: Sensitivity) -> str:
    if not math.isfinite(result.noise_runs):
        return "replication noise unknown (one replication per point)"
    return (
        f"replication noise: {result.noise_runs:.0%} of the runs' variance, "
        f"{result.noise_means:.0%} of the point means'"
        if math.isfinite(result.noise_means)
        else f"replication noise: {result.noise_runs:.0%} of the runs' variance"
    )


def _sobol_table(result: Sensitivity) -> list[str]:
    table = result.indices.sort_values("ST", ascending=False)
    rows = [
        [f"`{r.parameter}`", _pm(r.S1, r.S1_conf), _pm(r.ST, r.ST_conf), _role(r.ST, r.ST_conf)]
        for r in table.itertuples()
    ]
    lines = markdown_table(["parameter", "S1 (alone)", "ST (with interactions)", "reading"], rows).splitlines()
    if result.second_order is not None:
        pairs = result.second_order.sort_values("S2", ascending=False).head(5)
        lines += ["", "Largest second-order indices (pairs acting together):", ""]
        lines += markdown_table(
            ["pair", "S2"],
            [[f"`{r.parameter_a}` × `{r.parameter_b}`", _pm(r.S2, r.S2_conf)] for r in pairs.itertuples()],
        ).splitlines()
    return lines


def _role(st: float, conf: float) -> str:
    if st - conf > sensitivity.MATTERS:
        return "matters"
    if st + conf < sensitivity.MATTERS:
        return "does not matter"
    return "cannot tell"


def _morris_table(result: Sensitivity) -> list[str]:
    table = result.indices.sort_values("mu_star", ascending=False)
    rows = [
        [f"`{r.parameter}`", _pm(r.mu_star, r.mu_star_conf), number(r.mu, 3), number(r.sigma, 3)]
        for r in table.itertuples()
    ]
    return markdown_table(["parameter", "μ*", "μ", "σ"], rows).splitlines()


def _pm(value: float, conf: float) -> str:
    return f"{number(value, 3)} ± {number(conf, 3)}"


def _prim_section(found: Analysis, tmp: Path) -> tuple[list[str], list[str]]:
    from silosim.analysis import prim as prim_mod
    from silosim.analysis import sensitivity_plots

    points, _, holds = found.prim_points
    head = f"Where {found.condition} (PRIM over {plural(points, 'point')})"
    if found.prim is None:
        where = "no point" if holds == 0 else f"every one of the {points} points"
        sentence = f"{head}: it holds at {where}, so there is no region to find."
        return ["", sentence], ["## Scenario discovery", "", sentence, ""]
    result = found.prim
    result.trajectory().to_csv(tmp / "prim.csv", index_label="box")
    box = result.boxes[result.chosen]
    sentence = f"{head}: {prim_mod.describe(result)}"
    sensitivity_plots.prim_trajectory(result, tmp / "prim_trajectory.png", "PRIM peeling trajectory")
    sensitivity_plots.prim_box(result, tmp / "prim_box.png", "PRIM box")
    worth = found.prim_worth
    rows = [
        [f"`{k}`", number(box.limits[k][0], 3), number(box.limits[k][1], 3), f"{worth[k][0]:.0%}", f"{worth[k][1]:.0%}"]
        for k in box.restricted
    ]
    lines = ["## Scenario discovery", "", sentence, ""]
    lines += [
        f"Chosen box {result.chosen} of {len(result.boxes) - 1} peels: coverage {box.coverage:.0%}, density "
        f"{box.density:.0%} (the condition holds at {result.base_density:.0%} of all points), mass {box.mass:.0%}.",
        "",
    ]
    if rows:
        header = ["restricted parameter", "low", "high", "density without it", "coverage without it"]
        lines += markdown_table(header, rows).splitlines()
        loose = [k for k in box.restricted if box.density - worth[k][0] < 0.02]
        if loose:
            lines += [
                "",
                "Dropping " + ", ".join(f"`{k}`" for k in loose) + " costs under 2 points of density: "
                "a restriction PRIM kept by chance, which a simpler box can leave out.",
            ]
    lines += ["", "![PRIM peeling trajectory](prim_trajectory.png)", "", "![PRIM box](prim_box.png)", ""]
    return ["", sentence], lines


def _method(meta: dict, planned: int, found: Analysis) -> str:
    design = meta.get("design") or {}
    parts = [
        f"Design `{design.get('design', 'grid')}`, {plural(planned, 'planned point')} × "
        f"{plural(len(meta['strategies']), 'strategy')} × {plural(meta['replications'], 'replication')}; "
        f"{found.runs_stored} of {found.runs_planned} runs stored.",
        "Every analysis reads the mean over a point's replications; differences between strategies are over runs "
        "paired by seed (common random numbers). Sobol indices: SALib (Saltelli 2002; Saltelli et al. 2010; Jansen "
        f"1999 for ST), 95% bootstrap intervals ({sensitivity.RESAMPLES} resamples of the base samples). A parameter "
        f"matters when its ST's interval lies above {sensitivity.MATTERS}, does not when it lies below. Morris: SALib "
        "(Morris 1991; μ*, Campolongo et al. 2007). PRIM: Friedman & Fisher (1999). Replication noise: the pooled "
        "within-point variance over the runs' variance, and over the point means' variance once divided by the "
        f"replications; above {sensitivity.NOISY:.0%} of the latter the report warns.",
    ]
    return " ".join(parts)
