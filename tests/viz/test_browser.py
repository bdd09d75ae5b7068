"""The browser page in real headless Chromium: `silosim viz` as a subprocess, driven by Playwright.

Needs Debian's chromium at /usr/bin/chromium and the Python package
playwright (never a browser downloaded by Playwright). Missing either is a
failure, not a skip. The screenshot and the start-up timing are written to
``results/test-artifacts/`` (or ``$SILOSIM_TEST_ARTIFACTS``).
"""

import io
import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

import pandas as pd
import pytest
from playwright.sync_api import Page, sync_playwright

from silosim import scenario
from silosim.viz.figures import timeseries_csv
from silosim.viz.page import VizModel, control, initial_kwargs, model_params
from tests.helpers import ROOT

SCENARIO = ROOT / "scenarios" / "default.yaml"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ARTIFACTS = Path(os.environ.get("SILOSIM_TEST_ARTIFACTS", ROOT / "results" / "test-artifacts"))
GRAPH_SIZE, CHARTS_SIZE = (744, 504), (1200, 558)  # natural sizes of the two figures (pixels)
TIMEOUT_MS = 60_000
RULE, GLUE = control("rule").label, control("glue").label  # the sidebar's selects, as the page labels them


@dataclass
class Server:
    url: str
    process: subprocess.Popen
    launched: float  # perf_counter when `silosim viz` was started
    log: Path
    first_render_s: list[float] = field(default_factory=list)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    exe = Path(sys.executable).parent / "silosim"
    assert exe.exists(), f"the silosim console script is not installed next to {sys.executable}"
    port = free_port()
    log = tmp_path_factory.mktemp("viz") / "server.log"
    with log.open("w") as out:
        launched = time.perf_counter()
        process = subprocess.Popen(
            [str(exe), "viz", str(SCENARIO), "--port", str(port)], cwd=ROOT, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}/"
    try:
        deadline = time.monotonic() + 90
        while True:
            if process.poll() is not None:
                pytest.fail(f"silosim viz exited with {process.returncode}:\n{log.read_text()}")
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"silosim viz did not answer within 90 s:\n{log.read_text()}")
            time.sleep(0.2)
        yield Server(url, process, launched, log)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)  # what Ctrl-C sends
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
                pytest.fail(f"silosim viz did not stop on SIGINT within 30 s:\n{log.read_text()}")
    text = log.read_text()
    assert process.returncode == 0, text
    assert f"silosim viz: default at {url}" in text
    assert "silosim viz: stopped" in text


@pytest.fixture(scope="module")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium (apt-get install -y chromium)")
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True)
        yield browser
        browser.close()


class Network:
    """Every request, websocket and failure a page makes."""

    def __init__(self, page: Page):
        self.urls: list[str] = []
        self.failures: list[str] = []
        page.on("request", lambda r: self.urls.append(r.url))
        page.on("websocket", lambda ws: self.urls.append(ws.url))
        page.on("requestfailed", lambda r: self.failures.append(f"{r.url}: {r.failure}"))
        page.on("response", lambda r: self.failures.append(f"{r.url}: HTTP {r.status}") if r.status >= 400 else None)

    def assert_offline(self, server: Server) -> None:
        assert self.failures == []
        port = urlparse(server.url).port
        for url in self.urls:
            parsed = urlparse(url)
            if parsed.scheme in ("data", "blob"):
                continue  # in the page itself
            assert (parsed.hostname, parsed.port) == ("127.0.0.1", port), url


@pytest.fixture
def page(browser, server):
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, accept_downloads=True)
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    network = Network(page)
    page.goto(server.url)
    page.locator(".silosim-status").wait_for()
    wait_for_figures(page)
    if not server.first_render_s:
        server.first_render_s.append(time.perf_counter() - server.launched)
    yield page
    network.assert_offline(server)
    context.close()


def figure_sizes(page: Page) -> list[tuple[int, int]]:
    return [
        tuple(size)
        for size in page.locator("img").evaluate_all(
            "imgs => imgs.filter(i => i.complete && i.naturalWidth > 0).map(i => [i.naturalWidth, i.naturalHeight])"
        )
    ]


def wait_for_figures(page: Page) -> None:
    deadline = time.monotonic() + TIMEOUT_MS / 1000
    while not {GRAPH_SIZE, CHARTS_SIZE} <= set(figure_sizes(page)):
        assert time.monotonic() < deadline, f"figures not drawn; images: {figure_sizes(page)}"
        time.sleep(0.1)


def status(page: Page) -> str:
    return page.locator(".silosim-status").inner_text()


def step(page: Page, times: int) -> None:
    button = page.get_by_role("button", name="Step", exact=True)
    start = int(status(page).split()[1])
    for k in range(start + 1, start + times + 1):
        button.click()
        page.get_by_text(f"Step {k} of ").wait_for()


def choose(page: Page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).click()
    menu = page.locator(".menuable__content__active")
    menu.locator(".v-list-item").filter(has_text=option).first.click()
    menu.wait_for(state="hidden")


def reset(page: Page) -> None:
    page.get_by_role("button", name="Reset", exact=True).click()


# --------------------------------------------------------------------------- tests


def test_page_draws_the_graph_and_the_charts_offline(page, server):
    """Both figures are drawn from local assets; the screenshot is kept as an artefact."""
    assert status(page) == "Step 0 of 300 · rule most_involved · cross-posting owner_only · seed 42"
    assert page.locator(".silosim-verdict").inner_text() == "No measurement yet: the first is at step 10."
    graph_before = page.locator("img").first.get_attribute("src")
    step(page, 12)
    wait_for_figures(page)
    assert page.locator("img").first.get_attribute("src") != graph_before  # redrawn at each step
    verdict = page.locator(".silosim-verdict").inner_text()
    assert verdict == "N/A at step 10: no item has ended yet (items live 100 steps)"  # nothing judged before
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "browser-view.png", full_page=True)
    timing = {"silosim_viz_to_rendered_page_s": round(server.first_render_s[0], 2)}
    (ARTIFACTS / "browser-timing.json").write_text(json.dumps(timing, indent=2) + "\n")


def test_step_five_times_advances_the_counter_to_five(page):
    step(page, 5)
    assert status(page).startswith("Step 5 of 300 · ")


def test_play_runs_the_model_and_pause_stops_it(page):
    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(  # the counter may pass any given step between two looks
        "() => parseInt(document.querySelector('.silosim-status').innerText.split(' ')[1]) >= 3"
    )
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_role("button", name="▶", exact=True).wait_for()
    time.sleep(1)  # a step already under way when Pause was pressed may still land
    paused_at = status(page)
    time.sleep(1.5)
    assert status(page) == paused_at


def test_switching_the_rule_and_reset_restart_at_step_zero_with_the_new_rule(page):
    step(page, 3)
    choose(page, RULE, "federated")
    assert status(page).startswith("Step 3 of 300 · rule most_involved")  # nothing changes before Reset
    reset(page)
    page.get_by_text("Step 0 of 300 · rule federated · ").wait_for()
    step(page, 1)
    assert status(page) == "Step 1 of 300 · rule federated · cross-posting owner_only · seed 42"


def test_invalid_settings_show_the_validation_message_and_the_page_keeps_working(page):
    choose(page, RULE, "glue")
    reset(page)
    error = page.locator(".silosim-error")
    error.wait_for()
    assert "ownership.rule: rule 'glue' needs ownership.glue: a department name" in error.inner_text()
    choose(page, GLUE, "marketing")
    reset(page)
    page.get_by_text("Step 0 of 300 · rule glue · glue marketing · ").wait_for()
    assert error.count() == 0
    step(page, 2)


def test_csv_download_has_one_row_per_measurement(page):
    step(page, 25)
    link = page.get_by_text("Download CSV (2 measurements)")
    with page.expect_download() as download:
        link.click()
    frame = pd.read_csv(download.value.path())
    assert frame["step"].tolist() == [10, 20]
    # the same numbers as the model run in this process with the same scenario and seed
    model = VizModel(**initial_kwargs(model_params(str(SCENARIO), scenario.load(SCENARIO))))
    for _ in range(25):
        model.step()
    pd.testing.assert_frame_equal(frame, pd.read_csv(io.StringIO(timeseries_csv(model))))


def test_each_browser_session_has_its_own_model(page, browser, server):
    step(page, 2)
    other = browser.new_page()
    try:
        other.goto(server.url)
        other.locator(".silosim-status").wait_for(timeout=TIMEOUT_MS)
        assert status(other).startswith("Step 0 of 300")
        step(other, 1)
        assert status(page).startswith("Step 2 of 300")
    finally:
        other.close()


def test_a_busy_port_is_reported_not_crashed():
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        exe = Path(sys.executable).parent / "silosim"
        result = subprocess.run(
            [str(exe), "viz", str(SCENARIO), "--port", str(port)], capture_output=True, text=True, timeout=120
        )
    assert result.returncode == 1
    assert f"silosim viz: cannot listen on 127.0.0.1:{port}: Address already in use" in result.stderr
