"""Generate the README screenshot of the browser page: ``docs/browser-view.png``.

Starts ``silosim viz`` on a free loopback port, opens the page in Debian's
headless Chromium (Playwright, never a browser of its own), presses Step
until the chosen step, saves a screenshot and stops the server with Ctrl-C's
signal. The same scenario, seed and steps give the same picture.

    .venv/bin/python scripts/screenshot.py [--scenario scenarios/default.yaml] [--steps 150]
                                           [--out docs/browser-view.png]
"""

from __future__ import annotations

import argparse
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page, Playwright

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
FIGURE_SIZES = {(744, 600), (1200, 558)}  # natural sizes of the community graph and the measures chart


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_viz(scenario: Path, log: Path, timeout: float = 90) -> tuple[subprocess.Popen, str, float]:
    """Start ``silosim viz`` and wait until it answers; return the process, its URL and the launch time."""
    exe = Path(sys.executable).parent / "silosim"
    port = free_port()
    with log.open("w") as out:
        launched = time.perf_counter()
        process = subprocess.Popen(
            [str(exe), "viz", str(scenario), "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + timeout
    while True:
        if process.poll() is not None:
            raise RuntimeError(f"silosim viz exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=5) as response:
                if response.status == 200:
                    return process, url, launched
        except OSError:
            pass
        if time.monotonic() > deadline:
            stop_viz(process)
            raise RuntimeError(f"silosim viz did not answer within {timeout} s:\n{log.read_text()}")
        time.sleep(0.2)


def stop_viz(process: subprocess.Popen) -> int:
    """Stop the server as Ctrl-C does; kill it if it does not stop within 30 s. Returns its exit code."""
    if process.poll() is None:
        process.send_signal(signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium, headless, with no background networking."""
    if not Path(CHROMIUM).exists():
        raise RuntimeError(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)


def wait_for_figures(page: Page, timeout: float = 60) -> None:
    """Wait until both figures are drawn (images of their natural sizes are loaded)."""
    deadline = time.monotonic() + timeout
    script = "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => [i.naturalWidth, i.naturalHeight])"
    while not FIGURE_SIZES.issubset(tuple(size) for size in page.locator("img").evaluate_all(script)):
        if time.monotonic() > deadline:
            raise RuntimeError("the figures were not drawn")
        time.sleep(0.1)


def step_to(page: Page, target: int) -> None:
    """Press Step until the page's step counter reads ``target``."""
    button = page.get_by_role("button", name="Step", exact=True)
    current = int(page.locator(".silosim-status").inner_text().split()[1])
    for k in range(current + 1, target + 1):
        button.click()
        page.locator(".silosim-status").filter(has_text=re.compile(f"^Step {k} of ")).wait_for()


def main(argv: list[str] | None = None) -> int:
    """Write the screenshot."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scenario", type=Path, default=ROOT / "scenarios" / "default.yaml")
    parser.add_argument("--steps", type=int, default=150, help="steps to run before the screenshot (default 150)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "browser-view.png")
    parser.add_argument("--width", type=int, default=1600)
    parser.add_argument("--height", type=int, default=1000)
    args = parser.parse_args(argv)

    from playwright.sync_api import sync_playwright

    args.out.parent.mkdir(parents=True, exist_ok=True)
    log = args.out.with_suffix(".server.log")
    process, url, _ = start_viz(args.scenario.resolve(), log)
    try:
        with sync_playwright() as playwright:
            browser = launch_chromium(playwright)
            page = browser.new_page(viewport={"width": args.width, "height": args.height})
            page.set_default_timeout(60_000)
            page.goto(url)
            page.locator(".silosim-status").wait_for()
            step_to(page, args.steps)
            wait_for_figures(page)
            page.mouse.move(0, args.height - 1)  # no hover highlight on a button
            time.sleep(0.5)
            page.screenshot(path=args.out)
            browser.close()
    finally:
        code = stop_viz(process)
    if code != 0:
        print(f"silosim viz stopped with exit code {code}; its log: {log}", file=sys.stderr)
        return 1
    log.unlink(missing_ok=True)
    print(f"screenshot: {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
