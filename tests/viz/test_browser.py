"""The browser page in real headless Chromium: `silosim viz` as a subprocess, driven by Playwright.

Needs Debian's chromium at /usr/bin/chromium and the Python package
playwright (never a browser downloaded by Playwright). Missing either is a
failure, not a skip. The screenshot and the start-up timing are written to
``results/test-artifacts/`` (or ``$SILOSIM_TEST_ARTIFACTS``).
"""

import base64
import io
import json
import os
import re
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
from silosim.viz import figures
from silosim.viz.figures import timeseries_csv
from silosim.viz.page import VizModel, control, initial_kwargs, model_params
from tests.helpers import CHROMIUM, CHROMIUM_ARGS, ROOT

SCENARIO = ROOT / "scenarios" / "default.yaml"
ARTIFACTS = Path(os.environ.get("SILOSIM_TEST_ARTIFACTS", ROOT / "results" / "test-artifacts"))
GRAPH_SIZE, CHARTS_SIZE = (744, 600), (1200, 558)  # natural sizes of the two figures (pixels)
TIMEOUT_MS = 60_000
RULE, GLUE = control("rule").label, control("glue").label  # the sidebar's selects, as the page labels them
PAGE_SHOTS = Path("/tmp")  # the page mid-run and at the end: /tmp/page.png, /tmp/page_end.png


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


def wait_status(page: Page, start: str) -> None:
    """Wait until the step counter line starts with ``start``."""
    page.locator(".silosim-status").filter(has_text=re.compile("^" + re.escape(start))).wait_for()


def step(page: Page, times: int) -> None:
    button = page.get_by_role("button", name="Step", exact=True)
    start = int(status(page).split()[1])
    for k in range(start + 1, start + times + 1):
        button.click()
        wait_status(page, f"Step {k} of ")


def choose(page: Page, label: str, option: str) -> None:
    page.locator(".v-select").filter(has_text=label).click()
    menu = page.locator(".menuable__content__active")
    menu.locator(".v-list-item").filter(has_text=option).first.click()
    menu.wait_for(state="hidden")


def reset(page: Page) -> None:
    page.get_by_role("button", name="Reset", exact=True).click()


def shown_value(page: Page, label: str) -> str:
    """What a select shows (its label, then its value)."""
    return page.locator(".v-select").filter(has_text=label).inner_text().split("\n")[-1].strip()


def slider(page: Page, label: str):
    return page.locator(".v-input").filter(has_text=label).locator("[role=slider]")


def current_step(page: Page) -> int:
    return int(status(page).split()[1])


def in_process(steps: int) -> VizModel:
    """The page's model, built and stepped in this process as the page builds and steps it."""
    model = VizModel(**initial_kwargs(model_params(str(SCENARIO), scenario.load(SCENARIO))))
    for _ in range(steps):
        model.step()
    return model


def image_bytes(page: Page, index: int) -> bytes:
    """The PNG the page shows in its ``index``-th image."""
    encoded = page.evaluate(
        """async i => { const img = document.querySelectorAll('img')[i];
        const bytes = new Uint8Array(await (await fetch(img.src)).arrayBuffer());
        let text = ''; for (const b of bytes) text += String.fromCharCode(b); return btoa(text); }""",
        index,
    )
    return base64.b64decode(encoded)


def pause(page: Page) -> None:
    page.get_by_role("button", name="❚❚", exact=True).click()
    page.get_by_role("button", name="▶", exact=True).wait_for()
    time.sleep(1)  # a step already under way when Pause was pressed may still land


# --------------------------------------------------------------------------- tests


def test_page_draws_the_graph_and_the_charts_offline(page, server):
    """Both figures are drawn from local assets; the screenshot is kept as an artefact."""
    assert status(page) == "Step 0 of 300 · rule most_involved · cross-posting owner_only · seed 42"
    assert page.locator(".silosim-verdict").inner_text() == (
        "No verdict yet (step 0 of 300): the flow between communities is first measured at step 10."
    )
    graph_before = page.locator("img").first.get_attribute("src")
    step(page, 12)
    wait_for_figures(page)
    assert page.locator("img").first.get_attribute("src") != graph_before  # redrawn at each step
    verdict = page.locator(".silosim-verdict").inner_text()
    assert verdict == "No verdict yet (step 10 of 300): no item has ended yet (items live 100 steps)"
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=ARTIFACTS / "browser-view.png", full_page=True)
    timing = {"silosim_viz_to_rendered_page_s": round(server.first_render_s[0], 2)}
    (ARTIFACTS / "browser-timing.json").write_text(json.dumps(timing, indent=2) + "\n")


def test_no_stray_tab_or_box_and_sliders_show_their_values(page):
    text = page.locator("body").inner_text()
    for stray in ("Page 0", "PAGE 0", "Use Threads", "USE THREADS", "Render Interval", "Play Interval"):
        assert stray not in text
    values = {c: page.locator(f".silosim-value-{c}").inner_text() for c in ("exploration", "tie_decay", "drift")}
    assert values == {"exploration": "0.1", "tie_decay": "0.02", "drift": "0.001"}  # the scenario's defaults
    assert page.locator(".silosim-value-speed").inner_text() == "20"
    slider(page, "exploration").press("ArrowRight")  # one step of 0.01
    page.locator(".silosim-value-exploration").filter(has_text=re.compile(r"^0\.11$")).wait_for()
    reset(page)
    # what the model now runs
    page.locator(".silosim-dynamics").filter(has_text="exploration 0.11 · tie decay 0.02 · ").wait_for()


def test_the_measures_chart_has_data_at_step_0(page):
    """The page shows, at step 0, the chart whose panels have their step-0 point (tests/viz/test_components)."""
    expected = figures.figure_png(figures.measures_figure(in_process(0)))
    assert image_bytes(page, 1) == expected


def test_verdict_reads_so_far_until_the_end_and_the_conclusion_is_shown(page):
    page.get_by_role("button", name="▶", exact=True).click()  # at the default speed, 20 steps per second
    page.wait_for_function("() => parseInt(document.querySelector('.silosim-status').innerText.split(' ')[1]) >= 112")
    pause(page)
    mid = current_step(page)
    assert mid < 170  # by hand (in process): the verdict reads "so far" at steps 110 to 160, converged at 170
    verdict = page.locator(".silosim-verdict").inner_text()
    model = in_process(mid)
    assert verdict == figures.verdict_text(model)  # the verdict of the model at that step
    assert re.fullmatch(r"(merged|fragmented|siloed) so far \(step 1\d0 of 300; not converged\): .+", verdict)
    assert page.locator(".silosim-conclusion").inner_text() == figures.conclusion_text(model)
    page.screenshot(path=PAGE_SHOTS / "page.png", full_page=True)
    slider(page, "speed").press("End")  # the fastest Play
    page.locator(".silosim-value-speed").filter(has_text=re.compile("^60$")).wait_for()
    page.get_by_role("button", name="▶", exact=True).click()
    wait_status(page, "Step 300 of 300 · ")
    page.get_by_role("button", name="▶", exact=True).wait_for()  # Play ends with the run
    model = in_process(300)
    verdict = page.locator(".silosim-verdict").inner_text()
    assert verdict == figures.verdict_text(model)
    assert verdict.startswith("FRAGMENTED (final, step 300 of 300; ")  # as silosim run says: fragmented
    assert page.locator(".silosim-conclusion").inner_text() == figures.conclusion_text(model)
    wait_for_figures(page)
    time.sleep(0.5)
    page.screenshot(path=PAGE_SHOTS / "page_end.png", full_page=True)


def test_step_five_times_advances_the_counter_to_five(page):
    step(page, 5)
    assert status(page).startswith("Step 5 of 300 · ")


def test_play_runs_the_model_and_pause_stops_it(page):
    page.get_by_role("button", name="▶", exact=True).click()
    page.wait_for_function(  # the counter may pass any given step between two looks
        "() => parseInt(document.querySelector('.silosim-status').innerText.split(' ')[1]) >= 3"
    )
    pause(page)
    paused_at = status(page)
    time.sleep(1.5)
    assert status(page) == paused_at


def test_switching_the_rule_and_reset_restart_at_step_zero_with_the_new_rule(page):
    step(page, 3)
    choose(page, RULE, "federated")
    assert status(page).startswith("Step 3 of 300 · rule most_involved")  # nothing changes before Reset
    reset(page)
    wait_status(page, "Step 0 of 300 · rule federated · ")
    step(page, 1)
    assert status(page) == "Step 1 of 300 · rule federated · cross-posting owner_only · seed 42"


def test_invalid_settings_show_the_validation_message_and_the_page_keeps_working(page):
    choose(page, RULE, "glue")
    reset(page)
    error = page.locator(".silosim-error")
    error.wait_for()
    assert "ownership.rule: rule 'glue' needs ownership.glue: a department name" in error.inner_text()
    assert status(page).startswith("Step 0 of 300 · rule most_involved · ")
    assert shown_value(page, RULE) == "most_involved"  # the controls show what the model runs, not `glue`
    choose(page, RULE, "glue")
    choose(page, GLUE, "marketing")
    reset(page)
    wait_status(page, "Step 0 of 300 · rule glue · glue marketing · ")
    error.wait_for(state="detached")  # the message goes (a closing alert may stay an instant)
    assert shown_value(page, RULE) == "glue" and shown_value(page, GLUE) == "marketing"
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
