"""Speed of the browser view: start-up to a rendered page, and time per frame (one step + redraw).

Three figures, each over repeats, printed as median (and spread):

- ``startup``: from launching ``silosim viz`` to both figures drawn in headless Chromium (a new server each repeat);
- ``frame, in process``: one ``model.step()`` plus the PNG of the community graph (and of the measures
  chart when a new measurement arrives), as the page's components draw them;
- ``frame, in the browser``: click Step, until the page shows the new step and the new graph image.

Needs Debian's chromium and the playwright package, like ``tests/test_browser.py``.

    python benchmarks/bench_viz.py [--scenario scenarios/hr_led_large_group.yaml] [--repeats 3] [--frames 60]
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
    from playwright.sync_api import Playwright

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "scripts"))

from screenshot import launch_chromium, start_viz, stop_viz, wait_for_figures  # noqa: E402


def summary(label: str, seconds: list[float]) -> str:
    ordered = sorted(seconds)
    p90 = ordered[min(len(ordered) - 1, round(0.9 * (len(ordered) - 1)))]
    return (
        f"{label}: median {statistics.median(ordered):.3f} s, p90 {p90:.3f} s, "
        f"min {ordered[0]:.3f} s, max {ordered[-1]:.3f} s (n={len(ordered)})"
    )


def frames_in_process(path: Path, frames: int) -> list[float]:
    from silosim.model import SiloModel
    from silosim.scenario import load
    from silosim.viz import figures

    model = SiloModel(load(path))
    figures.figure_png(figures.community_graph_figure(model))  # fonts and caches warm
    rows, times = 0, []
    for _ in range(frames):
        started = time.perf_counter()
        model.step()
        figures.figure_png(figures.community_graph_figure(model))
        if len(model.datacollector.model_vars.get("step", [])) != rows:
            rows = len(model.datacollector.model_vars["step"])
            figures.figure_png(figures.measures_figure(model))
        times.append(time.perf_counter() - started)
    return times


def startup(playwright: Playwright, scenario: Path, repeats: int, log: Path) -> list[float]:
    times = []
    for _ in range(repeats):
        process, url, launched = start_viz(scenario, log)
        try:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": 1600, "height": 1000})
            page.goto(url)
            page.locator(".silosim-status").wait_for(timeout=120_000)
            wait_for_figures(page, timeout=120)
            times.append(time.perf_counter() - launched)
            browser.close()
        finally:
            stop_viz(process)
    return times


def frames_in_browser(playwright: Playwright, scenario: Path, frames: int, log: Path) -> list[float]:
    process, url, _ = start_viz(scenario, log)
    times = []
    try:
        browser = launch_chromium(playwright)
        page = browser.new_page(viewport={"width": 1600, "height": 1000})
        page.set_default_timeout(60_000)
        page.goto(url)
        page.locator(".silosim-status").wait_for()
        wait_for_figures(page)
        button = page.get_by_role("button", name="Step", exact=True)
        graph = page.locator("img").first
        for k in range(1, frames + 1):
            before = graph.get_attribute("src")
            started = time.perf_counter()
            button.click()
            page.get_by_text(f"Step {k} of ").wait_for()
            page.wait_for_function(
                "before => document.querySelector('img').src !== before && document.querySelector('img').complete",
                arg=before,
            )
            times.append(time.perf_counter() - started)
        browser.close()
    finally:
        stop_viz(process)
    return times


def main() -> int:
    parser = argparse.ArgumentParser(description="speed of silosim viz")
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "hr_led_large_group.yaml")
    parser.add_argument("--startup-scenario", type=Path, default=ROOT / "scenarios" / "default.yaml")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--frames", type=int, default=60)
    args = parser.parse_args()

    from playwright.sync_api import sync_playwright

    print(summary(f"frame, in process ({args.scenario.name})", frames_in_process(args.scenario, args.frames)))
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as playwright:
        log = Path(tmp) / "server.log"
        print(
            summary(
                f"startup ({args.startup_scenario.name})", startup(playwright, args.startup_scenario, args.repeats, log)
            )
        )
        print(
            summary(
                f"frame, in the browser ({args.scenario.name})",
                frames_in_browser(playwright, args.scenario, args.frames, log),
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
