"""Docking March (1991), Exploration and Exploitation in Organizational Learning: Figures 1, 2 and 4, turbulence.

``silosim dock march`` runs March's model (:mod:`silosim.docking.march_model`)
through the learning rules the organisation model uses,
:func:`silosim.needs.socialise` and :func:`silosim.needs.learn_code`, and sets
its equilibrium knowledge (Figures 1 and 2), turnover and turbulence beside
the paper's findings. Every condition starts its runs from the same states, so
each check compares two conditions run by run (:func:`silosim.docking.stats.paired`).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from silosim.analysis.text import markdown_table
from silosim.docking.march_model import MARCH_MAX_PERIODS, run_march
from silosim.docking.report import Report, check_lines
from silosim.docking.stats import Paired, interval, paired
from silosim.docking.tasks import Task

MARCH_SEED = 1991  # the docking's root seed
MARCH_RUNS = 80  # March (1991) averaged 80 runs per point


@dataclass(frozen=True)
class MarchPlan:
    """What ``silosim dock march`` runs; rates are March's p1 (socialisation) to p4 (turbulence).

    Every condition runs the same ``runs`` starting states (run j of each
    condition starts from the same reality and beliefs), so conditions are
    compared run by run.
    """

    runs: int
    p1: tuple[float, ...]  # Figure 1: socialisation rates, for each code learning rate in p2
    p2: tuple[float, ...]
    fast: tuple[int, ...]  # Figure 2: fast learners among the n (must include 0 and n)
    turnover: tuple[float, ...]  # p3 (must include 0 and ``moderate``)
    turnover_p1: tuple[float, ...]  # socialisation rates of the turnover runs (must include ``check_p1``)
    slow_p1: float = 0.1
    fast_p1: float = 0.9
    mix_p2: float = 0.5
    turnover_p2: float = 0.5
    check_p1: float = 0.5  # the turnover checks are made at this socialisation rate
    moderate: float = 0.1  # the turnover the checks call moderate
    snapshot: int = 20  # March's Figure 4 shows the code's knowledge at period 20
    horizon: int = 200  # turnover runs; the long run is the mean over the last ``late`` periods
    late: int = 50
    turbulence: float = 0.02  # p4
    turbulence_turnover: tuple[float, ...] = (0.0, 0.1)  # must include 0
    turbulence_p1: float = 0.5
    turbulence_p2: float = 0.5
    turbulence_horizon: int = 100
    turbulence_late: int = 20
    max_periods: int = MARCH_MAX_PERIODS
    dimensions: int = 30
    individuals: int = 50

    def mean_p1(self, fast: int) -> float:
        """Average socialisation rate of a population with ``fast`` fast learners."""
        return round((fast * self.fast_p1 + (self.individuals - fast) * self.slow_p1) / self.individuals, 6)


MARCH_FULL = MarchPlan(
    runs=MARCH_RUNS,
    p1=tuple(round(0.1 * k, 1) for k in range(1, 10)),
    p2=(0.1, 0.5, 0.9),
    fast=(0, 10, 20, 30, 40, 50),
    turnover=(0.0, 0.02, 0.05, 0.1, 0.2, 0.3, 0.5, 0.7, 0.9, 1.0),
    turnover_p1=(0.1, 0.5, 0.9),
)
MARCH_QUICK = MarchPlan(
    runs=40,
    p1=(0.1, 0.5, 0.9),
    p2=(0.1, 0.5, 0.9),
    fast=(0, 10, 30, 50),
    turnover=(0.0, 0.1, 0.3, 1.0),
    turnover_p1=(0.5,),
)


def march_conditions(plan: MarchPlan) -> dict[tuple, tuple]:
    """Every point of the four experiments and the condition it runs, ``(p1, p2, fast, p3, p4, horizon)``.

    A population of fast learners only is the homogeneous fast one, and a
    condition that two experiments share (all slow learners is Figure 1's
    p1 = 0.1 at p2 = 0.5) is one set of runs.
    """
    n = plan.individuals

    def condition(p1: float, p2: float, fast: int = 0, p3: float = 0.0, p4: float = 0.0, horizon: int = 0) -> tuple:
        return (plan.fast_p1, p2, 0, p3, p4, horizon) if fast == n else (p1, p2, fast, p3, p4, horizon)

    points = {("figure1", p2, p1): condition(p1, p2) for p2 in plan.p2 for p1 in plan.p1}
    for fast in plan.fast:
        points["mixed", fast] = condition(plan.slow_p1, plan.mix_p2, fast)
        if 0 < fast < n:
            points["same mean", fast] = condition(plan.mean_p1(fast), plan.mix_p2)
    for p1 in plan.turnover_p1:
        for p3 in plan.turnover:
            points["turnover", p1, p3] = condition(p1, plan.turnover_p2, p3=p3, horizon=plan.horizon)
    for p3 in plan.turbulence_turnover:
        points["turbulence", p3] = condition(
            plan.turbulence_p1, plan.turbulence_p2, p3=p3, p4=plan.turbulence, horizon=plan.turbulence_horizon
        )
    return points


def march_tasks(plan: MarchPlan) -> list[Task]:
    """One task per condition (:func:`march_conditions`), seeded by the condition's own parameters.

    The results thus depend neither on ``--jobs`` nor on which other
    conditions run. Every condition starts its runs from the same states.
    """
    n = plan.individuals
    if not ({0, n} <= set(plan.fast) and {0.0, plan.moderate} <= set(plan.turnover)):
        raise ValueError("the plan lacks a condition its checks compare")
    if plan.check_p1 not in plan.turnover_p1 or 0.0 not in plan.turbulence_turnover:
        raise ValueError("the plan lacks a condition its checks compare")
    tasks = []
    for key in dict.fromkeys(march_conditions(plan).values()):
        p1, p2, fast, p3, p4, horizon = key
        rates = (p1, p2, plan.fast_p1 if fast else 0.0, p3, p4)
        args = {
            "runs": plan.runs,
            "seed": [MARCH_SEED, 1, *(round(1000 * r) for r in rates), fast, horizon],
            "start_seed": [MARCH_SEED, 0, plan.dimensions, n],
            "p1": p1,
            "p2": p2,
            "fast": fast,
            "fast_p1": plan.fast_p1,
            "p3": p3,
            "p4": p4,
            "horizon": horizon or None,
            "max_periods": plan.max_periods,
            "dimensions": plan.dimensions,
            "individuals": n,
        }
        periods = horizon or 10 / p1  # slow learners take ~10/p1 periods to settle
        tasks.append(Task(run_march, key, args, cost=plan.runs * (periods + 5)))
    return tasks


def _cell(values: np.ndarray) -> str:
    mean, low, high = interval(values)
    return f"{mean:.3f} ({low:.3f}–{high:.3f})"


def march_report(results: Iterable[tuple[Task, dict[str, np.ndarray]]], plan: MarchPlan) -> Report:
    """March's four experiments as tables beside the published findings, with the checks."""
    by_condition = {task.key: result for task, result in results}
    res = {point: by_condition[condition] for point, condition in march_conditions(plan).items()}
    n, snap = plan.individuals, plan.snapshot
    runs_rows: list[dict] = []

    def keep_runs(experiment: str, r: dict[str, np.ndarray], **condition: float) -> None:
        for j in range(plan.runs):
            row = {"experiment": experiment, "p1": math.nan, "p2": math.nan, "fast": 0, "p3": 0.0, "p4": 0.0}
            row |= condition | {"run": j}
            if "trace" in r:
                late = plan.late if experiment == "turnover" else plan.turbulence_late
                row |= {"knowledge": r["trace"][j, -1], "at_snapshot": r["trace"][j, snap - 1]}
                row |= {"late_mean": r["trace"][j, -late:].mean()}
            else:
                row |= {"knowledge": r["knowledge"][j], "periods": int(r["periods"][j])}
                row |= {"settled": bool(r["settled"][j]), "superior_left": bool(r["superior"][j])}
            runs_rows.append(row)

    # Figure 1: equilibrium knowledge against p1, for each p2
    rows = []
    for p2 in plan.p2:
        for p1 in plan.p1:
            r = res["figure1", p2, p1]
            keep_runs("figure1", r, p1=p1, p2=p2)
            mean, low, high = interval(r["knowledge"])
            rows.append(
                {
                    "p2": p2,
                    "p1": p1,
                    "runs": len(r["knowledge"]),
                    "knowledge": mean,
                    "low": low,
                    "high": high,
                    "sd": float(r["knowledge"].std(ddof=1)) if plan.runs > 1 else math.nan,
                    "median_periods": float(np.median(r["periods"])),
                    "max_periods": int(r["periods"].max()),
                    "capped": int((~r["settled"]).sum()),
                    "superior_left": int(r["superior"].sum()),
                }
            )
    figure1 = pd.DataFrame(rows)

    # Figure 2: fast and slow learners mixed, against homogeneous populations
    rows = []
    for fast in plan.fast:
        r = res["mixed", fast]
        keep_runs("mixed", r, p1=plan.slow_p1, p2=plan.mix_p2, fast=fast)
        mean, low, high = interval(r["knowledge"])
        row = {
            "fast": fast,
            "slow": n - fast,
            "mean_p1": plan.mean_p1(fast),
            "runs": len(r["knowledge"]),
            "knowledge": mean,
            "low": low,
            "high": high,
            "median_periods": float(np.median(r["periods"])),
            "capped": int((~r["settled"]).sum()),
        }
        same = res.get(("same mean", fast))
        if same is not None:
            keep_runs("same mean", same, p1=plan.mean_p1(fast), p2=plan.mix_p2)
            h_mean, h_low, h_high = interval(same["knowledge"])
            c = paired(r["knowledge"], same["knowledge"])
            row |= {"homogeneous": h_mean, "homogeneous_low": h_low, "homogeneous_high": h_high}
            row |= {"homogeneous_median_periods": float(np.median(same["periods"]))}
            row |= {"mix_minus_homogeneous": c.diff, "diff_low": c.low, "diff_high": c.high}
        rows.append(row)
    mixed = pd.DataFrame(rows)

    # turnover (Figure 4) and turbulence: fixed horizons
    rows = []
    for p1 in plan.turnover_p1:
        for p3 in plan.turnover:
            trace = res["turnover", p1, p3]["trace"]
            keep_runs("turnover", res["turnover", p1, p3], p1=p1, p2=plan.turnover_p2, p3=p3)
            at, at_low, at_high = interval(trace[:, snap - 1])
            late, late_low, late_high = interval(trace[:, -plan.late :].mean(axis=1))
            rows.append(
                {
                    "p1": p1,
                    "p3": p3,
                    "runs": len(trace),
                    f"period_{snap}": at,
                    "low": at_low,
                    "high": at_high,
                    "long_run": late,
                    "long_run_low": late_low,
                    "long_run_high": late_high,
                }
            )
    turnover = pd.DataFrame(rows)
    marks = sorted({t for t in (10, snap, 50, plan.turbulence_horizon) if t <= plan.turbulence_horizon})
    rows, trace_rows = [], []
    for p3 in plan.turbulence_turnover:
        trace = res["turbulence", p3]["trace"]
        keep_runs(
            "turbulence", res["turbulence", p3], p1=plan.turbulence_p1, p2=plan.turbulence_p2, p3=p3, p4=plan.turbulence
        )
        late, late_low, late_high = interval(trace[:, -plan.turbulence_late :].mean(axis=1))
        rows.append(
            {"p3": p3, "runs": len(trace)}
            | {f"period_{t}": float(trace[:, t - 1].mean()) for t in marks}
            | {"late": late, "late_low": late_low, "late_high": late_high}
        )
        for t in range(trace.shape[1]):
            mean, low, high = interval(trace[:, t])
            trace_rows.append({"p3": p3, "period": t + 1, "knowledge": mean, "low": low, "high": high})
    turbulence, turbulence_trace = pd.DataFrame(rows), pd.DataFrame(trace_rows)
    runs = pd.DataFrame(runs_rows)

    # checks: what the paper states, each a run-by-run comparison of conditions that start alike
    settling = [r for r in by_condition.values() if "settled" in r]
    total = sum(len(r["settled"]) for r in settling)
    capped = sum(int((~r["settled"]).sum()) for r in settling)
    checks = [
        (
            f"every run without turnover or turbulence reached equilibrium within {plan.max_periods} periods "
            f"({total - capped} of {total})",
            capped == 0,
        )
    ]
    lo1, hi1, lo2, hi2 = min(plan.p1), max(plan.p1), min(plan.p2), max(plan.p2)

    def k(p2: float, p1: float) -> np.ndarray:
        return res["figure1", p2, p1]["knowledge"]

    for p2 in plan.p2:
        c = paired(k(p2, lo1), k(p2, hi1))
        checks.append(
            (
                f"Figure 1, p2 = {p2:g}: slower socialisation, more knowledge: p1 = {lo1:g} {_cell(k(p2, lo1))} "
                f"above p1 = {hi1:g} {_cell(k(p2, hi1))} ({c.text()})",
                c.above,
            )
        )
    c = paired(k(hi2, lo1), k(lo2, lo1))
    checks.append(
        (
            f"Figure 1, slow socialisation (p1 = {lo1:g}): faster code learning, more knowledge: "
            f"p2 = {hi2:g} {_cell(k(hi2, lo1))} above p2 = {lo2:g} {_cell(k(lo2, lo1))} ({c.text()})",
            c.above,
        )
    )
    all_fast = res["mixed", n]["knowledge"]
    mixes = [f for f in plan.fast if 0 < f < n]
    versus_fast = {f: paired(res["mixed", f]["knowledge"], all_fast) for f in mixes}
    checks.append(
        (
            f"Figure 2 (p2 = {plan.mix_p2:g}): every mix of slow (p1 = {plan.slow_p1:g}) and fast "
            f"(p1 = {plan.fast_p1:g}) learners knows more than all {n} fast {_cell(all_fast)}: "
            + "; ".join(
                f"{f} fast {_cell(res['mixed', f]['knowledge'])}, {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}]"
                for f, c in versus_fast.items()
            ),
            bool(versus_fast) and all(c.above for c in versus_fast.values()),
        )
    )

    def at(p3: float, p1: float = plan.check_p1) -> np.ndarray:
        return res["turnover", p1, p3]["trace"][:, snap - 1]

    heavy = max(plan.turnover)
    c = paired(at(plan.moderate), at(0.0))
    checks.append(
        (
            f"turnover (p1 = {plan.check_p1:g}, p2 = {plan.turnover_p2:g}, period {snap}): moderate turnover "
            f"p3 = {plan.moderate:g} raises the code's knowledge: {_cell(at(plan.moderate))} above "
            f"{_cell(at(0.0))} without ({c.text()})",
            c.above,
        )
    )
    c = paired(at(plan.moderate), at(heavy))
    checks.append(
        (
            f"turnover (p1 = {plan.check_p1:g}, period {snap}): too much lowers it again: p3 = {heavy:g} "
            f"{_cell(at(heavy))} below p3 = {plan.moderate:g} {_cell(at(plan.moderate))} ({c.text()})",
            c.above,
        )
    )
    late_n, hz = plan.turbulence_late, plan.turbulence_horizon
    still = res["turbulence", 0.0]["trace"]
    still_end = still[:, -late_n:].mean(axis=1)
    c = paired(still[:, snap - 1], still_end)
    window = f"periods {hz - late_n + 1}–{hz}"
    checks.append(
        (
            f"turbulence (p4 = {plan.turbulence:g}, p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g}), "
            f"no turnover: the code's knowledge erodes: {window} {_cell(still_end)} below period {snap} "
            f"{_cell(still[:, snap - 1])} ({c.text()})",
            c.above,
        )
    )
    for p3 in (p for p in plan.turbulence_turnover if p > 0):
        moving_end = res["turbulence", p3]["trace"][:, -late_n:].mean(axis=1)
        c = paired(moving_end, still_end)
        checks.append(
            (
                f"turbulence: with turnover p3 = {p3:g} the code knows more in {window}: {_cell(moving_end)} "
                f"above {_cell(still_end)} without ({c.text()})",
                c.above,
            )
        )

    # tables for the report
    fig_md = markdown_table(
        ["p1", *(f"p2 = {p2:g}" for p2 in plan.p2)],
        [[f"{p1:g}", *(_cell(k(p2, p1)) for p2 in plan.p2)] for p1 in plan.p1],
    )
    mix_md = markdown_table(
        [
            f"fast (p1 = {plan.fast_p1:g})",
            f"slow (p1 = {plan.slow_p1:g})",
            "mean p1",
            "knowledge (95%)",
            "median periods",
            "homogeneous at the mean p1",
            "median periods",
            "mix − homogeneous (paired 95%)",
        ],
        [
            [
                r.fast,
                r.slow,
                f"{r.mean_p1:.2f}",
                f"{r.knowledge:.3f} ({r.low:.3f}–{r.high:.3f})",
                f"{r.median_periods:g}",
                *(
                    (
                        f"{r.homogeneous:.3f} ({r.homogeneous_low:.3f}–{r.homogeneous_high:.3f})",
                        f"{r.homogeneous_median_periods:g}",
                        f"{r.mix_minus_homogeneous:+.3f} [{r.diff_low:+.3f}, {r.diff_high:+.3f}]",
                    )
                    if 0 < r.fast < n
                    else ("(is homogeneous)", "", "")
                ),
            ]
            for r in mixed.itertuples()
        ],
    )

    def turnover_md(column: str, low: str, high: str) -> str:
        t = turnover.set_index(["p1", "p3"])
        return markdown_table(
            ["p3", *(f"p1 = {p1:g}" for p1 in plan.turnover_p1)],
            [
                [
                    f"{p3:g}",
                    *(
                        f"{t.loc[(p1, p3), column]:.3f} ({t.loc[(p1, p3), low]:.3f}–{t.loc[(p1, p3), high]:.3f})"
                        for p1 in plan.turnover_p1
                    ),
                ]
                for p3 in plan.turnover
            ],
        )

    turn_md = turnover_md(f"period_{snap}", "low", "high")
    long_md = turnover_md("long_run", "long_run_low", "long_run_high")
    turb_md = markdown_table(
        ["p3", *(f"period {t}" for t in marks), f"{window} (95%)"],
        [
            [
                f"{r['p3']:g}",
                *(f"{r[f'period_{t}']:.3f}" for t in marks),
                f"{r['late']:.3f} ({r['late_low']:.3f}–{r['late_high']:.3f})",
            ]
            for r in turbulence.to_dict(orient="records")
        ],
    )
    findings = _march_findings(plan, res, figure1, versus_fast, turnover)
    text = {
        "figure1": fig_md,
        "mixed": mix_md,
        "turnover": turn_md,
        "long_run": long_md,
        "turbulence_md": turb_md,
        "checks": check_lines(checks, ("✓", "✗")),
        "runs": plan.runs,
        "m": plan.dimensions,
        "n": n,
        "snap": snap,
        "horizon": plan.horizon,
        "late": plan.late,
        "late_from": plan.horizon - plan.late + 1,
        "window": window,
        "max_periods": plan.max_periods,
        "capped": capped,
        "total": total,
        "superior_left": int(sum(int(r["superior"].sum()) for r in settling)),
        **findings,
        **{
            f: getattr(plan, f)
            for f in (
                "slow_p1",
                "fast_p1",
                "mix_p2",
                "turnover_p2",
                "turbulence",
                "turbulence_p1",
                "turbulence_p2",
                "turbulence_horizon",
            )
        },
    }
    markdown = MARCH_TEXT.format(headline=MARCH_HEADLINE, **text)
    terminal = (
        f"March (1991), {plan.runs} runs per point; knowledge = the code's share of the {plan.dimensions} dimensions "
        f"matching reality, mean (95% interval)\n\nFigure 1: equilibrium knowledge\n{fig_md}\n\n"
        f"Figure 2: mixed learners (p2 = {plan.mix_p2:g})\n{mix_md}\n\n"
        f"Turnover: the code's knowledge at period {snap} (p2 = {plan.turnover_p2:g})\n{turn_md}\n\n"
        f"Turbulence p4 = {plan.turbulence:g} (p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g})\n{turb_md}\n\n"
        f"Checks\n{check_lines(checks, ('✓', '✗'))}"
    )
    summary = {
        "capped_runs": capped,
        "figure1": figure1.to_dict(orient="records"),
        "mixed": mixed.to_dict(orient="records"),
        "turnover": turnover.to_dict(orient="records"),
        "turbulence": turbulence.to_dict(orient="records"),
    }
    return Report(
        "march",
        {
            "figure1": figure1,
            "mixed": mixed,
            "turnover": turnover,
            "turbulence": turbulence,
            "turbulence_trace": turbulence_trace,
            "runs": runs,
        },
        markdown,
        terminal,
        checks,
        summary,
        lambda path: plot_march(figure1, mixed, turnover, turbulence_trace, plan, path),
    )


def _march_findings(
    plan: MarchPlan,
    res: dict[tuple, dict[str, np.ndarray]],
    figure1: pd.DataFrame,
    versus_fast: dict[int, Paired],
    turnover: pd.DataFrame,
) -> dict[str, str]:
    """What came out of each experiment, in words taken from the numbers only."""
    n, snap = plan.individuals, plan.snapshot
    lo1, hi1 = min(plan.p1), max(plan.p1)
    parts = []
    for p2, g in figure1.groupby("p2"):
        values = g.sort_values("p1")["knowledge"].to_numpy()
        down = int((np.diff(values) < 0).sum())
        parts.append(
            f"p2 = {p2:g}: {values[0]:.3f} at p1 = {lo1:g}, {values[-1]:.3f} at p1 = {hi1:g} "
            f"({down} of {len(values) - 1} steps in p1 lower the mean)"
        )
    by_p1 = figure1.groupby("p1")["knowledge"]
    spread = by_p1.max() - by_p1.min()
    periods = figure1.groupby("p1")["median_periods"].median()
    figure1_found = (
        "What came out: " + "; ".join(parts) + f". The spread between code learning rates is {spread[lo1]:.3f} "
        f"at p1 = {lo1:g} and {spread[hi1]:.3f} at p1 = {hi1:g}. Median periods to equilibrium: "
        f"{periods[lo1]:g} at p1 = {lo1:g}, {periods[hi1]:g} at p1 = {hi1:g}."
    )

    def k(key: tuple) -> np.ndarray:
        return res[key]["knowledge"]

    mixes = list(versus_fast)
    beats_fast = [f for f, c in versus_fast.items() if c.above]
    versus_slow = {f: paired(k(("mixed", f)), k(("mixed", 0))) for f in mixes}
    above_slow = [f for f, c in versus_slow.items() if c.above]
    below_slow = [f for f, c in versus_slow.items() if c.high < 0]
    means = [float(k(("mixed", f)).mean()) for f in sorted(plan.fast)]
    words = [f"{len(beats_fast)} of {len(mixes)} mixes know more than all {n} fast learners."]
    if above_slow:
        words.append(f"Mixes with {', '.join(map(str, above_slow))} fast learners know more than even all {n} slow.")
    elif mixes:
        level = "; ".join(f"{f} fast {c.diff:+.3f} [{c.low:+.3f}, {c.high:+.3f}]" for f, c in versus_slow.items())
        tied = [f for f in mixes if f not in below_slow]
        apart = f"; with {', '.join(map(str, tied))} fast learners a mix cannot be told apart from it" if tied else ""
        verdict = "a mix beats all-fast but not all-slow" if len(beats_fast) == len(mixes) else "no mix beats all-slow"
        words.append(
            f"No mix knows more than all {n} slow learners ({_cell(k(('mixed', 0)))}); run-by-run differences "
            f"from it: {level}{apart}. So {verdict}: all slow has the highest mean of the populations run here"
            + (", and every step toward more fast learners lowers the mean." if np.all(np.diff(means) < 0) else ".")
        )
    versus_same = {f: paired(k(("mixed", f)), k(("same mean", f))) for f in mixes}
    above_same = [f for f, c in versus_same.items() if c.above]
    below_same = [f for f, c in versus_same.items() if c.high < 0]
    words.append(
        f"Against a homogeneous population at the same average rate, {len(above_same)} of {len(mixes)} mixes know more "
        f"and {len(below_same)} less (last column; this comparison is reported, not checked)."
    )
    median = {f: float(np.median(res["mixed", f]["periods"])) for f in plan.fast}
    words.append(
        "Median periods to equilibrium: "
        + ", ".join(f"{f} fast {median[f]:g}" for f in sorted(plan.fast))
        + " (equilibrium waits for the slowest learner to conform)."
    )
    mixed_found = "What came out: " + " ".join(words)

    t = turnover.set_index(["p1", "p3"])
    heavy = max(plan.turnover)
    parts = []
    for p1 in plan.turnover_p1:
        for column, label in ((f"period_{snap}", f"at period {snap}"), ("long_run", "in the long run")):
            col = t.loc[p1][column]
            ups = downs = 0
            for p3 in plan.turnover:
                if p3 > 0:
                    key = (
                        (lambda r: r[:, snap - 1])
                        if column != "long_run"
                        else (lambda r: r[:, -plan.late :].mean(axis=1))
                    )
                    c = paired(key(res["turnover", p1, p3]["trace"]), key(res["turnover", p1, 0.0]["trace"]))
                    ups, downs = ups + c.above, downs + (c.high < 0)
            parts.append(
                f"p1 = {p1:g} {label}: {col[0.0]:.3f} without turnover, highest mean {col.max():.3f} at "
                f"p3 = {col.idxmax():g}, {col[heavy]:.3f} at p3 = {heavy:g}; {ups} of {len(col) - 1} turnover rates "
                f"raise it above none, {downs} lower it"
            )
    turnover_found = "What came out: " + "; ".join(parts) + "."
    words = []
    for p3 in plan.turbulence_turnover:
        mean = res["turbulence", p3]["trace"].mean(axis=0)
        peak = int(mean.argmax())
        words.append(
            f"p3 = {p3:g}: highest mean {mean[peak]:.3f} at period {peak + 1}, {mean[-1]:.3f} at period {len(mean)}"
        )
    turbulence_found = "What came out: " + "; ".join(words) + " (chance level: 0.5)."
    return {
        "figure1_found": figure1_found,
        "mixed_found": mixed_found,
        "turnover_found": turnover_found,
        "turbulence_found": turbulence_found,
    }


MARCH_HEADLINE = (
    "March's (1991) model of mutual learning between an organisational code and its members, run through the "
    "rules by which the organisation model's stakeholders and owners learn: silosim.needs.socialise (March's p1) "
    "and silosim.needs.learn_code (p2). Each table sets the measured orderings beside the paper's finding."
)

MARCH_TEXT = """\
{headline}

## How it is run

- **Reality**: m = {m} dimensions, each ±1 with equal chance (here traits 1 and 0).
- **Individuals**: n = {n}; each belief is March's 1, 0 or −1 with equal chance (here 1, no belief,
  `silosim.needs.UNKNOWN`, or 0). **The code** starts with no belief on any dimension.
- **Socialisation (p1)**: `needs.socialise`. Where the code holds a belief and an individual holds
  another or none, the individual adopts the code's with chance p1, independently per dimension
  (the paper's text; March's own program moved a belief one step at a time, −1 → 0 → 1,
  Christensen 2015, which is not done here). Mixed learners: p1 per individual.
- **Code learning (p2)**: `needs.learn_code`. The superior group is the individuals whose
  knowledge (`needs.match`) exceeds the code's, strictly (the paper's text; March's program compared
  the scores of actions instead, Christensen 2015). On each dimension the superior individuals who
  hold a belief vote; k = votes for the majority belief − votes for the other. If the majority is
  not the code's belief, the code adopts it with chance 1 − (1 − p2)^k; a tie (k = 0) changes
  nothing. March's footnote 1 counts "individuals ... who differ from the code ... minus the number
  who do not": the same k when individuals without a belief do not vote; where the code has no
  belief, the footnote is silent and `needs.learn_code` uses the majority's margin there too.
- **Order within a period**: first turbulence (each dimension of reality flips with chance p4) and
  turnover (each individual is replaced with chance p3 by a newcomer whose beliefs are drawn like
  the first individuals'), then both learning rules **from the same state**: the code learns from
  the superior group's beliefs as they stand while every individual is socialised toward the code
  as it stood before learning. Why: the paper has the code adapt "at the same time" and the code's
  chance of staying unchanged set by the majority "at the start of a time period" (footnote 1); a
  port of March's own program (Watts & Gilbert 2014) also takes the superior group and its votes
  before socialising; and neither rule then sees the other's change of the same period, so the
  order favours neither rate.
- **Equilibrium**: after every period both rules are applied at rate 1 to a copy. At rate 1 they
  change exactly what they could change at any positive rate, so when neither changes anything
  (every individual holds the code's belief wherever the code has one, and the code cannot learn:
  no superior individual, or their majority agrees with the code or ties) no later period changes
  anything, and the run stops. Knowledge is the code's share of the {m} dimensions equal to reality.
  Cap: {max_periods} periods; {capped} of {total} runs reached it; {superior_left} ended with superior
  individuals left whose votes tie.
- **Turnover and turbulence** never settle. The code's knowledge is read at period {snap}, the
  horizon of March's Figure 4 as re-creations read it (Watts & Gilbert 2014; the paper itself could
  not be consulted here), and, for the long run, averaged over periods {late_from}–{horizon}.
- **Runs and intervals**: {runs} runs per point (the paper's count is 80). Run j of every condition
  starts from the same reality and beliefs (only the learning draws differ), so conditions are
  compared run by run: a check holds when the 95% interval of the mean run-by-run difference
  (± 1.96 SE) lies on the side the paper states; each check also says whether the two means' own
  intervals overlap. Tables give mean (95% interval, ± 1.96 SE).

## Figure 1: learning rates

Published (March 1991, Figure 1, 80 runs per point): equilibrium knowledge falls as socialisation
speeds up (higher p1), since slow learners keep the diversity the code learns from; faster code
learning (higher p2) gives more knowledge when socialisation is slow.

Equilibrium knowledge of the code:

{figure1}

{figure1_found}

## Figure 2: mixed learners

Published (March 1991, Figure 2, p2 = {mix_p2}): a population mixing slow (p1 = {slow_p1}) and fast
(p1 = {fast_p1}) learners reaches higher equilibrium knowledge than one of fast learners only; March
reads the mix as joining the fast learners' speed to the slow learners' exploration.

{mixed}

{mixed_found}

## Turnover (Figure 4): a stable reality

Published (March 1991, Figure 4): in a stable reality moderate turnover raises the code's
knowledge above none; too much lowers it again. p2 = {turnover_p2}. The code's knowledge at period {snap}:

{turnover}

Long run, mean over periods {late_from}–{horizon}:

{long_run}

{turnover_found}

## Turbulence

Published (March 1991, turbulence, p4): once everyone has been socialised, a code in a changing
reality has no one left to learn from and its knowledge decays; turnover brings in newcomers who
keep it learning. p4 = {turbulence}, p1 = {turbulence_p1}, p2 = {turbulence_p2}, {turbulence_horizon} periods:

{turbulence_md}

{turbulence_found}

## Checks

{checks}

## What it does not show

The paper's curves are not matched number for number, and levels are not checked: the paper
prints no table of values, and its program differs from its text (gradual socialisation;
superiority judged on the outcomes of actions). A re-creation of that program (Workiewicz 2019,
after Christensen 2015) reaches higher knowledge, about 0.95 at p1 = 0.1, p2 = 0.5. This docking
runs the text's rules, the ones the organisation model uses, and checks the orderings the paper
states.
"""


def plot_march(
    figure1: pd.DataFrame,
    mixed: pd.DataFrame,
    turnover: pd.DataFrame,
    trace: pd.DataFrame,
    plan: MarchPlan,
    path: Path,
) -> None:
    """The four experiments, one panel each, with 95% intervals."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def bars(df: pd.DataFrame, mean: str, low: str, high: str) -> list[pd.Series]:
        return [df[mean] - df[low], df[high] - df[mean]]

    fig, ((a, b), (c, d)) = plt.subplots(2, 2, figsize=(12, 9))
    for p2, g in figure1.groupby("p2"):
        a.errorbar(
            g["p1"], g["knowledge"], yerr=bars(g, "knowledge", "low", "high"), fmt="o-", capsize=2, label=f"p2 = {p2:g}"
        )
    a.set(xlabel="socialisation rate p1", ylabel="equilibrium knowledge of the code", title="Figure 1: learning rates")
    a.legend(fontsize=8)
    b.errorbar(
        mixed["fast"],
        mixed["knowledge"],
        yerr=bars(mixed, "knowledge", "low", "high"),
        fmt="o-",
        capsize=2,
        label=f"mix: p1 = {plan.fast_p1:g} for the fast, {plan.slow_p1:g} for the rest",
    )
    if "homogeneous" in mixed:  # a plan with mixes
        same = mixed.dropna(subset=["homogeneous"])
        b.errorbar(
            same["fast"],
            same["homogeneous"],
            yerr=bars(same, "homogeneous", "homogeneous_low", "homogeneous_high"),
            fmt="s--",
            capsize=2,
            label="homogeneous at the same mean p1",
        )
    b.set(
        xlabel=f"fast learners (of {plan.individuals})",
        ylabel="equilibrium knowledge of the code",
        title=f"Figure 2: mixed learners, p2 = {plan.mix_p2:g}",
    )
    b.legend(fontsize=8)
    for p1, g in turnover.groupby("p1"):
        line = c.errorbar(
            g["p3"],
            g[f"period_{plan.snapshot}"],
            yerr=bars(g, f"period_{plan.snapshot}", "low", "high"),
            fmt="o-",
            capsize=2,
            label=f"p1 = {p1:g}, period {plan.snapshot}",
        )
        c.plot(g["p3"], g["long_run"], "--", color=line[0].get_color(), label=f"p1 = {p1:g}, long run")
    c.set(xlabel="turnover p3", ylabel="knowledge of the code", title=f"Turnover (Figure 4), p2 = {plan.turnover_p2:g}")
    c.legend(fontsize=8)
    for p3, g in trace.groupby("p3"):
        d.plot(g["period"], g["knowledge"], label=f"p3 = {p3:g}")
        d.fill_between(g["period"], g["low"], g["high"], alpha=0.25)
    d.axhline(0.5, color="grey", lw=0.8, ls=":")
    d.set(
        xlabel="period",
        ylabel="knowledge of the code",
        title=f"Turbulence p4 = {plan.turbulence:g}, p1 = {plan.turbulence_p1:g}, p2 = {plan.turbulence_p2:g}",
    )
    d.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
