"""The README's "When silos pay" tables and figure, from the two shipped sweeps' stores.

Run the sweeps first, then this script::

    silosim sweep scenarios/sweeps/needs_tradeoff.yaml
    silosim sweep scenarios/sweeps/integration.yaml
    python scripts/when_silos_pay.py            # prints the tables, writes docs/when_silos_pay.png

Each cell is a mean over replications with its 95% Student-t interval; a Δ
is paired on the common seed (replication k of every strategy shares it).
"""

from __future__ import annotations

import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from scipy import stats

ROOT = Path(__file__).resolve().parents[1]
OVERLAP, REACH = "dynamics.needs_overlap", "organization.departments.marketing.reach"


def interval(values: pd.Series) -> tuple[float, float]:
    """Mean and 95% Student-t half-width."""
    x = values.dropna().to_numpy(float)
    return float(x.mean()), float(stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))


def paired(runs: pd.DataFrame, strategy: str, reference: str, measure: str) -> tuple[float, float]:
    """Mean and half-width of strategy − reference over replications (common seeds)."""
    a = runs[runs.strategy == strategy].set_index("replication")[measure]
    b = runs[runs.strategy == reference].set_index("replication")[measure]
    return interval(a - b)


def cell(mean: float, half: float, signed: bool = False) -> str:
    """``mean [low, high]``."""
    f = "{:+.3f}" if signed else "{:.3f}"
    return f"{f.format(mean)} [{f.format(mean - half)}, {f.format(mean + half)}]"


def load(sweep: str) -> pd.DataFrame:
    """The ok runs of a sweep folder under results/."""
    path = ROOT / "results" / f"sweep-{sweep}" / "report" / "runs.csv"
    if not path.exists():
        sys.exit(f"{path} is missing: run `silosim sweep scenarios/sweeps/{sweep}.yaml` first")
    runs = pd.read_csv(path)
    return runs[runs.status == "ok"]


def tradeoff_table(runs: pd.DataFrame) -> str:
    """Fit per strategy against needs overlap, and each strategy − delegation."""
    strategies = list(dict.fromkeys(runs.strategy))
    ref, others = strategies[0], strategies[1:]
    lines = [
        "| needs_overlap | " + " | ".join(f"fit `{s}`" for s in strategies) + " | "
        + " | ".join(f"Δ `{s}`" for s in others) + " |",
        "|" + "---|" * (1 + len(strategies) + len(others)),
    ]  # fmt: skip
    for value, point in runs.groupby(OVERLAP):
        fits = [cell(*interval(point[point.strategy == s].fit)) for s in strategies]
        deltas = [cell(*paired(point, s, ref, "fit"), signed=True) for s in others]
        lines.append(f"| {value:g} | " + " | ".join(fits + deltas) + " |")
    return "\n".join(lines)


def integration_table(runs: pd.DataFrame) -> str:
    """Fit with marketing as the glue against its reach, and the glue effect (glue − delegation), per overlap."""
    lines = [
        "| marketing reach | needs_overlap | fit `marketing_glue` | fit `most_involved` | Δ fit (glue − delegation) "
        "| Δ cross_reach | practice_diversity `marketing_glue` |",
        "|---|---|---|---|---|---|---|",
    ]
    for (overlap, reach), point in runs.groupby([OVERLAP, REACH]):
        glue, mi = point[point.strategy == "marketing_glue"], point[point.strategy == "most_involved"]
        lines.append(
            f"| {reach:g} | {overlap:g} | {cell(*interval(glue.fit))} | {cell(*interval(mi.fit))} | "
            f"{cell(*paired(point, 'marketing_glue', 'most_involved', 'fit'), signed=True)} | "
            f"{cell(*paired(point, 'marketing_glue', 'most_involved', 'cross_reach'), signed=True)} | "
            f"{cell(*interval(glue.practice_diversity))} |"
        )
    return "\n".join(lines)


def figure(tradeoff: pd.DataFrame, integration: pd.DataFrame, path: Path) -> None:
    """Left: fit against needs overlap, per strategy. Right: fit against the glue's reach, per overlap."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(12, 4.5), dpi=150, sharey=True)
    for strategy, runs in tradeoff.groupby("strategy", sort=False):
        x, m, h = _curve(runs, OVERLAP, "fit")
        left.plot(x, m, marker="o", label=strategy)
        left.fill_between(x, m - h, m + h, alpha=0.2)
    left.set(
        xlabel="needs overlap (0: every audience needs its own, 1: all the same)",
        ylabel="fit (share of features matched)",
        title="Where integration pays: fit against needs overlap",
    )
    left.legend(fontsize=8)
    colours = dict(zip(sorted(integration[OVERLAP].unique()), ("tab:purple", "tab:green", "tab:brown"), strict=False))
    for (strategy, overlap), runs in integration.groupby(["strategy", OVERLAP], sort=False):
        x, m, h = _curve(runs, REACH, "fit")
        style = "-" if strategy == "marketing_glue" else "--"
        right.plot(x, m, style, marker="o", color=colours[overlap], label=f"{strategy}, needs overlap {overlap:g}")
        right.fill_between(x, m - h, m + h, alpha=0.12, color=colours[overlap])
    right.set(
        xlabel="marketing's reach (the glue's capacity)", title="Integration intensity: fit against the glue's capacity"
    )
    right.legend(fontsize=8)
    for ax in (left, right):
        ax.grid(alpha=0.3)
    fig.text(0.5, 0.005, "default organisation, turbulence 0.02; mean and 95% interval over 20 paired replications",
             ha="center", fontsize=8)  # fmt: skip
    fig.tight_layout(rect=(0, 0.03, 1, 1))
    fig.savefig(path)


def _curve(runs: pd.DataFrame, x: str, measure: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    points = [(value, *interval(g[measure])) for value, g in runs.groupby(x)]
    return tuple(np.array(column) for column in zip(*points, strict=True))


def main() -> None:
    """Print both tables and write the figure."""
    tradeoff, integration = load("needs_tradeoff"), load("integration")
    print("### needs_tradeoff: fit against needs overlap\n")
    print(tradeoff_table(tradeoff))
    print("\n### integration: fit against the glue's capacity\n")
    print(integration_table(integration))
    out = ROOT / "docs" / "when_silos_pay.png"
    figure(tradeoff, integration, out)
    print(f"\nfigure: {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
