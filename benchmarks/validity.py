"""Validity check of the model: does it behave as the model description says it must?

Runs scenarios over many seeds (each run = one (scenario, seed) in a process pool, returning only a
few numbers) and prints one markdown table, one row per property, with what was measured, the
threshold and pass/fail:

1. Size: the default organisation made k times larger (``scenario.scaled``, k = 0.25, 1, 4, 16) keeps
   its mean cross_reach and its mean fit (each: all k within 0.05 of each other) and its verdict
   shares (within 15 points).
2. Run length: among seeds converged at both T (the scenario's steps) and 2T, the verdict at T is the
   verdict at 2T in at least 90% (most_involved, and glue marketing); mean fit at T and 2T within 0.05.
3. Word of mouth: (a) with cross-posting closed, items still cross (mean cross_reach > 0);
   (b) in an organisation whose communities share no member, nothing crosses: cross_reach 0 and
   3 silos in every seed.
4. Cost: (a) a glue with no capacity (marketing reach 0 in both arms) changes nothing (paired 95% CI
   of Δ cross_reach contains 0); (b) the glue's effect grows with its capacity (reach 0.05 … 0.8) and
   is significant at the largest; (c) a glue that relays engages less in the communities it owns.
5. Structure: cross-posting closed vs open gives a different silo_count (Welch t, p < 0.05).
6. Determinism: a seed run twice gives identical measures, another seed different ones.

The per-run results go to DIR/runs.csv, the table to DIR/table.md, the plot to DIR/validity.png.
Results do not depend on --jobs. The exit status is 0 unless the script crashed: it is a report, not
a gate; its last line is "ALL PASS" or "FAIL: <rows>".

    python benchmarks/validity.py                      # 20 seeds, tens of minutes on 2 cores
    python benchmarks/validity.py --seeds 5 --jobs 2
    python benchmarks/validity.py --quick --out /tmp/v # a smoke test, well under a minute
"""

from __future__ import annotations

import argparse
import math
import os
import sys
import time
import warnings
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats as sps
from tqdm import tqdm

from silosim.metrics import MEASURES
from silosim.model import SiloModel
from silosim.scenario import apply_override, from_dict, load, scaled, to_dict
from silosim.stats import mean_ci, paired_difference

ROOT = Path(__file__).resolve().parents[1]
SCALES, QUICK_SCALES = (0.25, 1, 4, 16), (0.25, 1, 2)
REACHES, QUICK_REACHES = (0.05, 0.2, 0.4, 0.8), (0.05, 0.4, 0.8)
VERDICTS = ("merged", "fragmented", "siloed")
GLUE = {"ownership.rule": "glue", "ownership.glue": "marketing"}
CLOSED, OPEN = {"ownership.cross_posting": "closed"}, {"ownership.cross_posting": "open"}


def reach(r: float) -> dict:
    """Marketing's reach (its capacity, in both the glue and the most_involved arm)."""
    return {"organization.departments.marketing.reach": r}


def room_reach(r: float) -> dict:
    """The added mail room's reach (its capacity, in both arms)."""
    return {"organization.departments.mail_room.reach": r}


MAIL_ROOM = {"name": "mail_room", "headcount": 20, "reach": 0.5, "openness": 0.5}  # involved nowhere: owns nothing
ROOM_GLUE = {"ownership.rule": "glue", "ownership.glue": "mail_room"}


COVERED_ELSEWHERE = (
    "Not re-run here: identical sweep results across executors, bench_scale speed and bad-input exit codes "
    "are covered by the tests (tests/experiments/test_sweep.py, tests/cli/test_cli.py, "
    "tests/experiments/test_sweep_reliability.py) and "
    "benchmarks/bench_scale.py."
)


# --------------------------------------------------------------------------- organisations and runs


def disjoint(steps: int) -> dict:
    """Three communities that share no member: each has its own group and only its owner department."""
    names = ("north", "south", "east")
    return to_dict(
        from_dict(
            {
                "name": "disjoint",
                "steps": steps,
                "organization": {
                    "departments": [{"name": d, "headcount": 20, "reach": 0.5, "openness": 0.5} for d in names],
                    "stakeholders": [{"group": f"{d}_people", "count": 1000, "activity": 0.5} for d in names],
                },
                "communities": [
                    {"name": f"{d}_forum", "involvement": {d: 0.9}, "members": {f"{d}_people": 1.0}} for d in names
                ],
                "ownership": {"rule": "most_involved", "cross_posting": "closed"},
            }
        )
    )


class Plan:
    """The cases (name → scenario data) and seeds that the properties need; a name fixes its content."""

    def __init__(self, seeds: int, steps: int | None, quick: bool):
        self.base = load(ROOT / "scenarios" / "default.yaml")
        self.steps = steps or self.base.steps
        self.seeds = list(range(seeds))
        self.scales = QUICK_SCALES if quick else SCALES
        self.reaches = QUICK_REACHES if quick else REACHES
        self.cases: dict[str, dict] = {}

    def case(self, label: str = "default", sets: dict | None = None, scale: float = 1, steps: int | None = None) -> str:
        """Register a case and return its name.

        Cases: ``default``, ``glue`` (marketing as glue), ``room`` / ``room_glue`` (a mail room added, as glue),
        ``disjoint``, with overrides, scale and steps.
        """
        steps, sets = steps or self.steps, sets or {}
        name = label + (f" k={scale:g}" if scale != 1 else "") + (f" T={steps}" if steps != self.steps else "")
        name += "".join(f" {key.rsplit('.', 1)[-1]}={value}" for key, value in sets.items())
        if name not in self.cases:
            if label == "disjoint":
                data = disjoint(steps)
            else:
                data = apply_override(to_dict(self.base), "steps", steps)
                if label.startswith("room"):  # the default organisation with a mail room that owns nothing
                    data["organization"]["departments"].append(dict(MAIL_ROOM))
                glue = {"glue": GLUE, "room_glue": ROOM_GLUE}.get(label, {})
                for key, value in glue.items():
                    data = apply_override(data, key, value)
            for key, value in sets.items():
                data = apply_override(data, key, value)
            self.cases[name] = to_dict(scaled(from_dict(data, source=name), scale))
        return name

    def tasks(self) -> list[tuple[str, dict, int, int]]:
        """Every (case, data, seed, repeat) to run; one extra repeat of the default's first seed."""
        out = [(name, data, seed, 0) for name, data in self.cases.items() for seed in self.seeds]
        return [*out, (self.case(), self.cases[self.case()], self.seeds[0], 1)]


def run_one(task: tuple[str, dict, int, int]) -> dict:
    """One run to its end: the measures and a few attributes of the model, as plain numbers."""
    name, data, seed, repeat = task
    scenario = from_dict(data, source=name)
    model = SiloModel(scenario, rng=seed)
    while model.running:
        model.step()
    model.collect()
    row = {"case": name, "seed": seed, "repeat": repeat, "steps": model.steps}
    row["stakeholders"] = sum(g.count for g in scenario.organization.stakeholders)
    row |= {key: float(model.measures[key]) for key in MEASURES}
    row |= {"verdict": model.measures["verdict"], "window_items": model.window_items}
    row["retired_early"] = int(model.items.retired_early)
    g = model.glue_row
    if g is not None:
        owned = [c for c, owner in enumerate(model.assignment.owners) if owner == scenario.ownership.glue]
        capacity = model.world.budget[g] * (model.steps - model.window_start())
        posts = float(model.window_posts[g])
        row["glue_owned_engaged"] = float(model.window_engaged[g, owned].sum())
        row["glue_posts"] = posts
        row["glue_relay_load"] = posts * scenario.dynamics.relay_cost / capacity if capacity > 0 else 0.0
    return row


def run_all(plan: Plan, jobs: int) -> pd.DataFrame:
    """Run every task (the largest first), after timing a small and the largest run to print an ETA."""
    tasks = plan.tasks()
    size = [t[1]["steps"] * sum(g["count"] for g in t[1]["organization"]["stakeholders"]) for t in tasks]
    small, large = size.index(min(size)), size.index(max(size))
    rows, clock = {}, {}
    for i in dict.fromkeys((small, large)):  # in this process; the first also loads the compiled code
        started = time.perf_counter()
        rows[i] = run_one(tasks[i])
        clock[i] = time.perf_counter() - started
    per_unit = (clock[large] - clock[small]) / max(size[large] - size[small], 1)
    per_unit = max(per_unit, clock[large] / size[large] / 2)
    fixed = max(clock[small] - per_unit * size[small], 0.0)
    eta = sum(fixed + per_unit * s for i, s in enumerate(size) if i not in rows) / jobs
    big = tasks[large]
    print(
        f"one run of '{big[0]}' ({rows[large]['stakeholders']:,} stakeholders × {big[1]['steps']} steps) took "
        f"{clock[large]:.1f} s; {len(tasks)} runs, ETA ≈ {eta / 60:.1f} min on {jobs} job(s)",
        flush=True,
    )
    todo = sorted((i for i in range(len(tasks)) if i not in rows), key=lambda i: -size[i])
    bar = tqdm(total=len(todo), desc="validity", unit="run")
    if jobs == 1:
        for i in todo:
            rows[i] = run_one(tasks[i])
            bar.update()
    else:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            futures = {pool.submit(run_one, tasks[i]): i for i in todo}
            for future in as_completed(futures):
                rows[futures[future]] = future.result()
                bar.update()
    bar.close()
    return pd.DataFrame([rows[i] for i in range(len(tasks))])


# --------------------------------------------------------------------------- the properties


def values(runs: pd.DataFrame, case: str, column: str = "cross_reach") -> np.ndarray:
    """One column of a case's runs (first repeat), in seed order."""
    picked = runs[(runs.case == case) & (runs.repeat == 0)].sort_values("seed")
    return picked[column].to_numpy(dtype=float) if column != "verdict" else picked[column].to_numpy()


def ci(stat: tuple[float, float, float, int], digits: int = 3) -> str:
    """A mean and its interval as text."""
    mean, low, high, _ = stat
    return f"{mean:.{digits}f} [{low:.{digits}f}, {high:.{digits}f}]"


def se(x: np.ndarray) -> float:
    """Standard error of the mean of the finite values."""
    x = x[np.isfinite(x)]
    return float(x.std(ddof=1) / math.sqrt(len(x))) if len(x) > 1 else math.nan


def check_size(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    means, shares = {}, {}
    for k in plan.scales:
        name = plan.case(scale=k)
        means[k] = values(runs, name).mean()
        verdicts = values(runs, name, "verdict")
        shares[k] = {v: float(np.mean(verdicts == v)) for v in VERDICTS}
    fits = {k: np.nanmean(values(runs, plan.case(scale=k), "fit")) for k in plan.scales}
    spread = max(means.values()) - min(means.values())
    fit_spread = max(fits.values()) - min(fits.values())
    share_spread = max(max(s[v] for s in shares.values()) - min(s[v] for s in shares.values()) for v in VERDICTS)
    text = "; ".join(
        f"k={k:g}: reach {means[k]:.3f}, fit {fits[k]:.3f}, " + "/".join(f"{shares[k][v]:.0%}" for v in VERDICTS)
        for k in plan.scales
    )
    text += (
        f" (shares merged/fragmented/siloed); reach spread {spread:.3f}, fit spread {fit_spread:.3f}, "
        f"share spread {share_spread:.0%}"
    )
    ok = spread <= 0.05 and fit_spread <= 0.05 and share_spread <= 0.15
    return text, "reach and fit max−min ≤ 0.05; each verdict share max−min ≤ 15 pts", ok


def check_run_length(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    parts, ok = [], True
    for label in ("default", "glue"):
        at_t, at_2t = plan.case(label), plan.case(label, steps=2 * plan.steps)
        both = (values(runs, at_t, "converged") == 1) & (values(runs, at_2t, "converged") == 1)
        same = values(runs, at_t, "verdict")[both] == values(runs, at_2t, "verdict")[both]
        agree = float(same.mean()) if both.any() else math.nan
        ok &= both.any() and agree >= 0.9
        fit_t, fit_2t = np.nanmean(values(runs, at_t, "fit")), np.nanmean(values(runs, at_2t, "fit"))
        ok &= abs(fit_2t - fit_t) <= 0.05
        name = "most_involved" if label == "default" else "glue marketing"
        parts.append(
            f"{name}: {int(both.sum())}/{len(both)} converged at both, verdict agrees in {agree:.0%}, "
            f"fit {fit_t:.3f} → {fit_2t:.3f}"
        )
    threshold = "agreement ≥ 90% (n ≥ 1); fit within 0.05"
    return "; ".join(parts) + f" (T={plan.steps}, 2T={2 * plan.steps})", threshold, bool(ok)


def check_word_of_mouth(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    closed = mean_ci(values(runs, plan.case("default", CLOSED)))
    name = plan.case("disjoint")
    reach, silos = values(runs, name), values(runs, name, "silo_count")
    text = (
        f"(a) default, closed: cross_reach {ci(closed, 4)}; (b) disjoint, closed: cross_reach max "
        f"{reach.max():.3g}, silo_count {sorted(set(silos.astype(int).tolist()))}"
    )
    ok = closed[0] > 0 and bool(np.all(reach == 0)) and bool(np.all(silos == 3))
    return text, "(a) mean > 0; (b) cross_reach = 0 and silo_count = 3 in every seed", ok


def check_cost(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    def delta(r: float) -> np.ndarray:
        return values(runs, plan.case("glue", reach(r))) - values(runs, plan.case("default", reach(r)))

    zero = mean_ci(delta(0))
    ok_a = zero[1] <= 0 <= zero[2] or (zero[0] == 0 and np.isnan(zero[1]))

    def room_delta(r: float) -> np.ndarray:
        return values(runs, plan.case("room_glue", room_reach(r))) - values(runs, plan.case("room", room_reach(r)))

    curve = {r: room_delta(r) for r in plan.reaches}
    owner = {r: float(np.nanmean(delta(r))) for r in plan.reaches}
    means = [float(np.nanmean(curve[r])) for r in plan.reaches]
    errors = [se(curve[r]) for r in plan.reaches]
    rising = all(means[i + 1] >= means[i] - math.hypot(errors[i], errors[i + 1]) for i in range(len(means) - 1))
    top = mean_ci(curve[plan.reaches[-1]])
    ok_b = rising and top[1] > 0
    relaying = plan.case("glue")
    engaged = values(runs, relaying, "glue_owned_engaged")
    closed = values(runs, plan.case("glue", CLOSED), "glue_owned_engaged")
    local = paired_difference(engaged, closed)
    load = values(runs, relaying, "glue_relay_load")
    ok_c = local[2] < 0
    text = (
        f"(a) reach 0: Δ {ci(zero, 4)}; (b) Δ by reach "
        + ", ".join(f"{r:g}: {m:.3f}±{e:.3f}" for r, m, e in zip(plan.reaches, means, errors, strict=True))
        + f" (mean±SE), at {plan.reaches[-1]:g}: {ci(top)} [a mail room that owns nothing as glue, 20 people; "
        "marketing as glue, which leaves its own brand page for it, by its reach: "
        + ", ".join(f"{r:g}: {owner[r]:+.3f}" for r in plan.reaches)
        + "]; (c) glue's exchanges in its own communities "
        f"{np.mean(engaged):.0f} relaying vs {np.mean(closed):.0f} closed, Δ {ci(local, 0)}, "
        f"its relay_load {np.mean(load):.2f}"
    )
    threshold = "(a) 0 in 95% CI; (b) non-decreasing within 1 SE, largest CI > 0; (c) paired CI < 0"
    return text, threshold, bool(ok_a and ok_b and ok_c)


def check_structure(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    closed = values(runs, plan.case("default", CLOSED), "silo_count")
    opened = values(runs, plan.case("default", OPEN), "silo_count")
    if closed.var() == 0 and opened.var() == 0:
        p = 0.0 if closed.mean() != opened.mean() else 1.0
    else:
        with warnings.catch_warnings():  # one arm constant: scipy warns of precision loss, the test still holds
            warnings.simplefilter("ignore", RuntimeWarning)
            p = float(sps.ttest_ind(closed, opened, equal_var=False).pvalue)
    text = f"silo_count closed {ci(mean_ci(closed), 2)}, open {ci(mean_ci(opened), 2)}; Welch p = {p:.3g}"
    return text, "Welch t p < 0.05", p < 0.05


def same_values(a: pd.Series, b: pd.Series) -> bool:
    """Two runs' results are equal field by field (NaN equal to NaN)."""
    return all(x == y or (x != x and y != y) for x, y in zip(a, b, strict=True))


def check_determinism(runs: pd.DataFrame, plan: Plan) -> tuple[str, str, bool]:
    name, first = plan.case(), plan.seeds[0]
    picked = runs[runs.case == name]
    fields = [c for c in runs.columns if c not in ("case", "seed", "repeat")]
    once, twice = (picked[(picked.seed == first) & (picked.repeat == r)][fields].iloc[0] for r in (0, 1))
    others = [row for _, row in picked[(picked.seed != first) & (picked.repeat == 0)][fields].iterrows()]
    same = same_values(once, twice)
    differs = bool(others) and not any(same_values(once, row) for row in others)
    text = f"seed {first} run twice: {'identical' if same else 'DIFFERENT'}; vs the {len(others)} other seeds: "
    text += "all differ" if differs else "SOME IDENTICAL"
    return text, "identical with one seed, different across seeds", same and differs


PROPERTIES = {
    "1. Size": check_size,
    "2. Run length": check_run_length,
    "3. Word of mouth": check_word_of_mouth,
    "4. Cost": check_cost,
    "5. Structure": check_structure,
    "6. Determinism": check_determinism,
}


def register(plan: Plan) -> None:
    """Every case the properties read (the checks call the same ``plan.case`` to find them)."""
    for k in plan.scales:
        plan.case(scale=k)
    for label in ("default", "glue"):
        plan.case(label)
        plan.case(label, steps=2 * plan.steps)
    for policy in ("closed", "open"):
        plan.case("default", {"ownership.cross_posting": policy})
    plan.case("glue", CLOSED)
    plan.case("disjoint")
    for r in (0, *plan.reaches):
        plan.case("default", reach(r))
        plan.case("glue", reach(r))
        plan.case("room", room_reach(r))
        plan.case("room_glue", room_reach(r))


# --------------------------------------------------------------------------- output


def table(rows: list[tuple[str, str, str, bool]]) -> str:
    lines = ["| property | measured | threshold | result |", "| --- | --- | --- | --- |"]
    lines += [f"| {p} | {m} | {t} | {'pass' if ok else 'FAIL'} |" for p, m, t, ok in rows]
    return "\n".join(lines)


def plot(runs: pd.DataFrame, plan: Plan, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4.2))
    stats = [mean_ci(values(runs, plan.case(scale=k))) for k in plan.scales]
    means = np.array([s[0] for s in stats])
    low, high = means - np.array([s[1] for s in stats]), np.array([s[2] for s in stats]) - means
    left.errorbar(plan.scales, means, yerr=np.nan_to_num([low, high]), marker="o", capsize=4)
    left.axhspan(means.mean() - 0.025, means.mean() + 0.025, color="0.9", label="±0.025 around the mean")
    left.set(xscale="log", xlabel="scale k (scenario.scaled)", ylabel="cross_reach (mean, 95% CI)")
    left.set_xticks(plan.scales, [f"{k:g}" for k in plan.scales])
    left.minorticks_off()
    left.set_title("1. Size: default organisation k times larger")
    left.legend()
    reaches = (0, *plan.reaches)
    for label, arm in (("glue marketing", "glue"), ("most_involved", "default")):
        s = [mean_ci(values(runs, plan.case(arm, reach(r)))) for r in reaches]
        right.plot(reaches, [x[0] for x in s], marker="o", label=f"{label}: cross_reach")
    d = [
        paired_difference(values(runs, plan.case("glue", reach(r))), values(runs, plan.case("default", reach(r))))
        for r in reaches
    ]
    m = np.array([x[0] for x in d])
    right.errorbar(reaches, m, yerr=np.nan_to_num([m - [x[1] for x in d], [x[2] for x in d] - m]), marker="s",
                   capsize=4, color="k", label="Δ glue − most_involved (paired 95% CI)")  # fmt: skip
    right.axhline(0, color="0.6", lw=0.8)
    right.set(xlabel="marketing reach (the glue's capacity)", ylabel="cross_reach")
    right.set_title("4b. Glue capacity curve")
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20, help="seeds per case (default 20)")
    parser.add_argument("--steps", type=int, default=None, help="steps T per run (default: the scenario's)")
    parser.add_argument("--quick", action="store_true", help="few seeds, small scales: a smoke test")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="worker processes")
    parser.add_argument("--out", type=Path, default=Path("results/validity"), help="output folder")
    args = parser.parse_args(argv)
    seeds = min(args.seeds, 3) if args.quick else args.seeds
    steps = args.steps or (150 if args.quick else None)
    started = time.perf_counter()
    plan = Plan(max(seeds, 2), steps, args.quick)
    register(plan)
    runs = run_all(plan, max(args.jobs, 1))
    rows = [(name, *check(runs, plan)) for name, check in PROPERTIES.items()]
    args.out.mkdir(parents=True, exist_ok=True)
    runs.to_csv(args.out / "runs.csv", index=False)
    report = table(rows)
    short = int(runs.retired_early.sum())
    notes = [
        f"{len(runs)} runs, {len(plan.seeds)} seeds, T={plan.steps}, wall {time.perf_counter() - started:.0f} s",
        COVERED_ELSEWHERE,
    ]
    if short:
        notes.append(f"WARNING: {short} items retired early (item store too small): flows are understated")
    (args.out / "table.md").write_text(report + "\n\n" + "\n\n".join(notes) + "\n")
    plot(runs, plan, args.out / "validity.png")
    print()
    print(report)
    print()
    print("\n".join(notes))
    print(f"written: {args.out / 'runs.csv'}, {args.out / 'table.md'}, {args.out / 'validity.png'}")
    failed = [name for name, *_, ok in rows if not ok]
    print("ALL PASS" if not failed else "FAIL: " + ", ".join(failed))
    return 0


if __name__ == "__main__":
    sys.exit(main())
