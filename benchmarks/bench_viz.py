"""Speed of the browser view: Play's steps per second, what a Play tick costs, start-up, one Step.

Figures, each over repeats, printed as median (and spread):

- ``tick, in process``: what one Play tick costs, part by part, as the page's components pay it: ``model.step()``,
  the community graph's PNG (each redraw), the measures chart's PNG and the conclusion (each new measurement),
  the status texts; and the time a run would take redrawing everything at every step;
- ``play, in the browser``: press Play on a fresh page, until the counter reads the last step: steps per second
  (the figure the issue asks to be at least 10 on the default scenario), and redraws per second of the graph;
- ``startup``: from launching ``silosim viz`` to both figures drawn in headless Chromium (a new server each repeat);
- ``step, in the browser``: click Step, until the page shows the new step and the new graph image.

Needs Debian's chromium and the playwright package, like ``tests/viz/test_browser.py``.

    .venv/bin/python benchmarks/bench_viz.py [--scenario scenarios/default.yaml] [--repeats 3] [--frames 20]
                                             [--only play]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot import launch_chromium, start_viz, stop_viz  # noqa: E402

FIGURES = "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).length"
STEP = "() => parseInt(document.querySelector('.silosim-status').innerText.split(' ')[1])"


def summary(label: str, values: list[float], unit: str = "s") -> str:
    ordered = sorted(values)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{label}: median {statistics.median(ordered):.3f} {unit}, p90 {p90:.3f} {unit}, "
        f"min {ordered[0]:.3f} {unit}, max {ordered[-1]:.3f} {unit} (n={len(ordered)})"
    )


def tick_in_process(path: Path) -> None:
    """Run the scenario to its end as Play does, timing each part of a tick; print the medians."""
    from silosim.scenario import load
    from silosim.viz import figures, page

    base = load(path)
    model = page.VizModel(**page.initial_kwargs(page.model_params(str(path), base)))
    figures.figure_png(figures.community_graph_figure(model))  # fonts and caches warm
    chart = figures.MeasuresChart(model)  # the page keeps one per model
    parts: dict[str, list[float]] = {"step": [], "graph": [], "measures": [], "conclusion": [], "texts": []}
    rows = 0
    while model.running:
        started = time.perf_counter()
        model.step()
        parts["step"].append(time.perf_counter() - started)
        started = time.perf_counter()
        figures.figure_png(figures.community_graph_figure(model))
        parts["graph"].append(time.perf_counter() - started)
        started = time.perf_counter()
        figures.status_text(model), figures.dynamics_text(model), figures.verdict_text(model)
        parts["texts"].append(time.perf_counter() - started)
        if len(model.datacollector.model_vars.get("step", [])) != rows:
            rows = len(model.datacollector.model_vars["step"])
            started = time.perf_counter()
            figures.figure_png(chart.update())
            parts["measures"].append(time.perf_counter() - started)
            started = time.perf_counter()
            figures.conclusion_text(model)
            parts["conclusion"].append(time.perf_counter() - started)
    for name, seconds in parts.items():
        print(summary(f"tick, in process ({path.name}): {name}", seconds))
    total = sum(sum(seconds) for seconds in parts.values())
    print(
        f"tick, in process ({path.name}): {model.steps} steps, redrawing everything at every step: {total:.1f} s "
        f"({model.steps / total:.1f} steps/s); stepping only: {sum(parts['step']):.2f} s"
    )


def open_page(playwright: Playwright, url: str) -> Page:
    browser = launch_chromium(playwright)
    page = browser.new_page(viewport={"width": 1600, "height": 1000})
    page.set_default_timeout(120_000)
    page.goto(url)
    page.locator(".silosim-status").wait_for()
    page.wait_for_function(f"() => ({FIGURES})(Array.from(document.querySelectorAll('img'))) >= 2")
    return page


def play_in_browser(playwright: Playwright, scenario: Path, repeats: int, log: Path) -> tuple[list, list, list]:
    """Press Play on a fresh page ``repeats`` times (Reset between); steps/s, redraws/s, seconds per run."""
    process, url, _ = start_viz(scenario, log)
    rates, redraws, runs = [], [], []
    try:
        page = open_page(playwright, url)
        steps = int(page.locator(".silosim-status").inner_text().split(" of ")[1].split()[0])
        for _ in range(repeats):
            page.get_by_role("button", name="Reset", exact=True).click()
            page.wait_for_function(f"() => ({STEP})() === 0")
            page.evaluate(  # count the graph's redraws (its image's source changes)
                """() => { window.redraws = 0; const img = document.querySelector('img');
                new MutationObserver(() => window.redraws++).observe(img, {attributes: true,
                attributeFilter: ['src']}); }"""
            )
            started = time.perf_counter()
            page.get_by_role("button", name="▶", exact=True).click()
            page.wait_for_function(f"() => ({STEP})() >= 1", polling=20)
            first = time.perf_counter()
            page.wait_for_function(f"() => ({STEP})() >= {steps}", polling=50, timeout=600_000)
            ended = time.perf_counter()
            rates.append((steps - 1) / (ended - first))
            redraws.append(page.evaluate("() => window.redraws") / (ended - started))
            runs.append(ended - started)
        page.context.browser.close()
    finally:
        stop_viz(process)
    return rates, redraws, runs


def startup(playwright: Playwright, scenario: Path, repeats: int, log: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        process, url, launched = start_viz(scenario, log)
        try:
            page = open_page(playwright, url)
            times.append(time.perf_counter() - launched)
            page.context.browser.close()
        finally:
            stop_viz(process)
    return times


def step_in_browser(playwright: Playwright, scenario: Path, frames: int, log: Path) -> list[float]:
    process, url, _ = start_viz(scenario, log)
    times = []
    try:
        page = open_page(playwright, url)
        button = page.get_by_role("button", name="Step", exact=True)
        graph = page.locator("img").first
        for k in range(1, frames + 1):
            before = graph.get_attribute("src")
            started = time.perf_counter()
            button.click()
            page.wait_for_function(f"() => ({STEP})() === {k}")
            page.wait_for_function(
                "before => document.querySelector('img').src !== before && document.querySelector('img').complete",
                arg=before,
            )
            times.append(time.perf_counter() - started)
        page.context.browser.close()
    finally:
        stop_viz(process)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description="speed of silosim viz")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "default.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=20)
    parser.add_argument("--only", choices=["tick", "play", "startup", "step"], action="append")
    args = parser.parse_args()
    only = set(args.only or ["tick", "play", "startup", "step"])

    from playwright.sync_api import sync_playwright

    name = args.scenario.name
    if "tick" in only:
        tick_in_process(args.scenario)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        log = Path(tmp) / "server.log"
        if "play" in only:
            rates, redraws, runs = play_in_browser(playwright, args.scenario, args.repeats, log)
            print(summary(f"play, in the browser ({name}): steps per second", rates, "steps/s"))
            print(summary(f"play, in the browser ({name}): graph redraws per second", redraws, "/s"))
            print(summary(f"play, in the browser ({name}): whole run, Play to last step", runs))
        if "startup" in only:
            print(summary(f"startup ({name})", startup(playwright, args.scenario, args.repeats, log)))
        if "step" in only:
            times = step_in_browser(playwright, args.scenario, args.frames, log)
            print(summary(f"step, in the browser ({name})", times))
    return 0


if __name__ == "__main__":
    sys.exit(main())
