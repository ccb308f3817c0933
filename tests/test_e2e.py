"""The app in a real browser: `streamlit run` on a free local port, driven by Playwright + Debian's Chromium.

Runs wherever /usr/bin/chromium exists; CI (.ci/run) sets GRAPHLAB_E2E=1, under which a
missing browser fails instead of skipping. Screenshots (light and dark theme) go to out/e2e/.
"""

from __future__ import annotations

import io
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHOTS = ROOT / "out" / "e2e"
CHROMIUM = os.environ.get("GRAPHLAB_CHROMIUM", "/usr/bin/chromium")
REQUIRED = os.environ.get("GRAPHLAB_E2E") == "1"
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run"]
TIMEOUT_MS = 30_000

# one server and one browser for all of them, on one xdist worker (--dist loadfile in pyproject.toml)
pytestmark = pytest.mark.e2e


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"GRAPHLAB_E2E=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (install Debian's chromium, or set GRAPHLAB_E2E=1 to require it)")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`graphlab app` (which becomes `streamlit run`); waits until healthy, always stops it."""
    port = _free_port()
    log_path = tmp_path_factory.mktemp("streamlit") / "server.log"
    command = [sys.executable, "-m", "graphlab.cli", "app", "--port", str(port), "--headless", "--",
               "--server.address", "127.0.0.1", "--server.fileWatcherType", "none"]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            if proc.poll() is not None:
                pytest.fail(f"streamlit exited with {proc.returncode}:\n{log_path.read_text()}")
            try:
                with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                    if r.read().strip() == b"ok":
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                pytest.fail(f"streamlit did not become healthy in 60 s:\n{log_path.read_text()}")
            time.sleep(0.2)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="session")
def browser():
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture(scope="session")
def context(browser):
    """One context for all tests: its HTTP cache keeps Streamlit's scripts loaded between pages."""
    c = browser.new_context(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    c.set_default_timeout(TIMEOUT_MS)
    yield c
    c.close()


@pytest.fixture
def page(context):
    p = context.new_page()  # a new page is a new Streamlit session
    yield p
    p.close()


def open_app(page, server: str, **query: str):
    page.goto(f"{server}/?{urlencode(query)}" if query else server)
    wait_for_chart(page)


def wait_for_chart(page):
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg g.node', state="attached")
    wait_idle(page)


def wait_idle(page):
    """Until the script has finished its run (Streamlit shows a status widget while running)."""
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')")
    page.wait_for_timeout(200)


def _titles(page, selector: str) -> list[str]:
    return page.locator(f'[data-testid="stGraphVizChart"] svg {selector} > title').evaluate_all(
        "titles => titles.map(t => t.textContent)")


def node_titles(page) -> list[str]:
    return _titles(page, "g.node")


def highlighted(page) -> list[str]:
    return _titles(page, "g.node.current")


def step_label(page) -> str:
    return page.get_by_text(" of ", exact=False).filter(has_text="node").first.inner_text()


def click_next(page, expected: str):
    page.get_by_role("button", name="next").click()
    page.wait_for_function(
        "(node) => [...document.querySelectorAll('[data-testid=\"stGraphVizChart\"] svg g.node.current > title')]"
        ".map(t => t.textContent).join() === node", arg=expected)


def tall_screenshot(page, name: str):
    """The whole tab: Streamlit scrolls inside its own container, so full_page alone stops at the window."""
    page.set_viewport_size({"width": 1400, "height": 1500})
    wait_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_the_page_draws_the_lecture_graph(page, server):
    open_app(page, server)
    assert set(node_titles(page)) == {"x", "y", "v1", "z", "f"}
    assert highlighted(page) == ["x"]
    assert "forward 1 of 5: node x" in step_label(page)


def test_next_moves_the_highlight(page, server):
    open_app(page, server)
    for node in ("y", "v1"):
        click_next(page, node)
        assert highlighted(page) == [node]
    assert "forward 3 of 5: node v1" in step_label(page)
    assert "step=3" in page.url


def test_a_shared_link_restores_the_step(page, server):
    open_app(page, server, expr="(x+y)z", at="x=-2,y=5,z=-4", step="8")
    assert highlighted(page) == ["v1"]
    assert "backward 3 of 5: node v1" in step_label(page)
    # the gradient arriving at x through the add node: upstream -4 times local 1
    assert "-4 × 1 = -4" in page.locator('[data-testid="stGraphVizChart"] svg').text_content()


def test_a_bad_expression_shows_the_error_and_its_column(page, server):
    open_app(page, server)
    box = page.get_by_role("textbox", name="Expression")
    box.fill("(x + * y)")
    box.press("Enter")
    error = page.locator('[data-testid="stAlert"]').filter(has_text="Cannot read the expression")
    error.wait_for()
    assert "column 6" in error.inner_text()
    assert "^" in page.locator('[data-testid="stCode"]').inner_text()
    assert page.locator('[data-testid="stException"]').count() == 0


def test_downloads_return_valid_files(page, server):
    open_app(page, server, expr="(x+y)z", at="x=-2,y=5,z=-4", step="6")
    with page.expect_download() as info:
        page.get_by_role("button", name="SVG").click()
    svg = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == "graphlab-step-06-backward-f.svg"
    assert b"<svg" in svg and b"<title>v1</title>" in svg
    with page.expect_download() as info:
        page.get_by_role("button", name="PNG").click()
    assert Path(info.value.path()).read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    with page.expect_download() as info:
        page.get_by_role("button", name="All 10 frames (ZIP)").click()
    names = zipfile.ZipFile(io.BytesIO(Path(info.value.path()).read_bytes())).namelist()
    assert len(names) == 10 * 4 and "svg/graphlab-step-10-backward-x.svg" in names


@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_screenshot(page, server, scheme):
    """The screenshots docs/app.png is taken from; both themes must stay readable (look at them)."""
    page.emulate_media(color_scheme=scheme)  # Streamlit follows the system's theme by default
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", step="11")
    assert highlighted(page) == ["x2"]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"app-{scheme}.png"), full_page=True)


def test_check_my_work_marks_the_dropped_path(page, server):
    """The Check tab in a real browser: a claim that drops one of x2's two paths gets ✗ and x2 is marked."""
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    page.get_by_role("tab", name="Check my work").click()
    box = page.get_by_role("textbox", name="Your derivatives, one per line")
    box.fill("df/dx1 = sin(x2)/x1\ndf/dx2 = log(x1 x2) cos(x2)")
    box.press("Control+Enter")
    wrong = page.locator('[data-testid="stAlert"]').filter(has_text="✗")
    wrong.wait_for()
    page.wait_for_function(
        "() => [...document.querySelectorAll('[data-testid=\"stGraphVizChart\"] svg g.node.current > title')]"
        ".map(t => t.textContent).join() === 'x2'")
    wait_idle(page)
    assert "log(x1*x2)*cos(x2) + sin(x2)/x2 = -1.727" in wrong.inner_text()
    assert "missing term: this is the path through sin(x2) only" in wrong.inner_text()
    assert page.locator('[data-testid="stAlert"]').filter(has_text="✓ df/dx1 = sin(x2)/x1").count() == 1
    assert highlighted(page) == ["x2"]
    assert "tab=check" in page.url and "claims=" in page.url
    tall_screenshot(page, "app-check.png")


def test_gradient_descent_tab_shows_the_exercise(page, server):
    """The lecture's exercise from a link: the table and the loss chart draw."""
    page.goto(f"{server}/?{urlencode({'expr': '(y - x theta)^2', 'tab': 'descent'})}")
    page.wait_for_selector('[data-testid="stVegaLiteChart"]')
    wait_idle(page)
    assert page.get_by_text("theta ← theta − η ∂f/∂theta, η = 0.01; y = 10, x = 2").count() == 1
    assert page.locator('[data-testid="stDataFrame"]').count() == 1
    assert page.locator('[data-testid="stException"]').count() == 0
    tall_screenshot(page, "app-descent.png")

# ----------------------------------------------------------------------------- the Playground page
def metric(page, label: str) -> str:
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator(
        '[data-testid="stMetricValue"]').inner_text()


def percent(text: str) -> float:
    return float(text.rstrip("%")) / 100


def test_playground_trains_xor_and_opens_a_prediction_in_the_stepper(page, server):
    query = {"data": "xor", "noise": "0", "seed": "0", "layers": "4", "act": "tanh", "lr": "0.03", "batch": "10"}
    page.goto(f"{server}/playground?{urlencode(query)}")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(1).locator("canvas, svg").first.wait_for()
    wait_idle(page)
    assert metric(page, "Epoch") == "0"
    boundary_before, loss_before = charts.nth(0).screenshot(), charts.nth(1).screenshot()

    page.get_by_role("button", name="Play").click()
    page.wait_for_function(  # the live fragment keeps training and redrawing until paused
        "() => [...document.querySelectorAll('[data-testid=\"stMetric\"]')].filter(m => "
        "m.innerText.includes('accuracy')).every(m => parseFloat(m.querySelector("
        "'[data-testid=\"stMetricValue\"]').innerText) >= 97)", timeout=60_000)
    page.get_by_role("button", name="Pause").click()
    page.get_by_role("button", name="Play").wait_for()
    wait_idle(page)
    assert int(metric(page, "Epoch").replace(",", "")) > 0
    assert percent(metric(page, "Train accuracy")) >= 0.95 and percent(metric(page, "Test accuracy")) >= 0.95
    assert charts.nth(0).screenshot() != boundary_before  # the boundary moved
    assert charts.nth(1).screenshot() != loss_before  # the loss curves grew
    assert "layers=4" in page.url and "data=xor" in page.url  # the URL carries the configuration
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1500})  # Streamlit scrolls inside the page: show more of it
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "playground.png"))

    page.get_by_role("button", name="Open in the stepper").click()
    page.wait_for_url("**/?expr=*")
    page.wait_for_selector('[data-testid="stGraphVizChart"] svg g.node > title:text-is("E")', state="attached")
    wait_idle(page)
    titles = node_titles(page)
    assert {"x1", "x2", "h1_1", "z", "E"} <= set(titles)
    assert "forward 1 of" in step_label(page)
    assert "expr=" in page.url and "softplus" in page.url
