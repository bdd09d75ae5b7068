"""The README's scenario-library table: each shipped scenario at its own seed, then over seeds 0–19.

    python scripts/library.py            # prints the table's rows (about 2 min on 2 cores)

One run decides nothing, so next to the file's own seed it gives the spread
of verdicts over seeds 0–19 and how many of those runs had converged.
"""

from __future__ import annotations

from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

from silosim import runner, scenario

ROOT = Path(__file__).resolve().parents[1]
FILES = (
    "default", "brand_led", "hr_led_large_group", "sales_led_internet_player", "rnd_cocreation", "outside_cms",
    "delegation", "marketing_glue", "mail_room_glue", "pilot_rollout", "federated",
)  # fmt: skip
SEEDS = range(20)


def one(args: tuple[str, int | None]) -> tuple[str, int | None, str, float, float, float]:
    """(file, seed, verdict, cross_reach, fit, converged) of one run; seed None is the file's own."""
    name, seed = args
    overrides = [("--seed", f"seed={seed}")] if seed is not None else []
    summary = runner.run(scenario.load(ROOT / "scenarios" / f"{name}.yaml", overrides)).summary
    m = summary["measures"]
    return name, seed, summary["verdict"], m["cross_reach"], m["fit"], m["converged"]


def main() -> None:
    """Print one table row per scenario file."""
    jobs = [(name, seed) for name in FILES for seed in (None, *SEEDS)]
    with ProcessPoolExecutor(2) as pool:
        results = list(pool.map(one, jobs, chunksize=4))
    for name in FILES:
        own = next(r for r in results if r[0] == name and r[1] is None)
        spread = [r for r in results if r[0] == name and r[1] is not None]
        counts = Counter(r[2] for r in spread)
        verdicts = ", ".join(f"{n} {v}" for v, n in counts.most_common())
        converged = sum(r[5] == 1.0 for r in spread)
        print(f"| `{name}.yaml` | {own[2]} | {own[3]:.2f} | {own[4]:.2f} | {verdicts} | {converged}/{len(spread)} |")


if __name__ == "__main__":
    main()
