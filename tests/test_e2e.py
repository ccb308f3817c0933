"""The app in a real browser: `streamlit run` on a free local port, driven by Playwright + Debian's Chromium.

Runs wherever /usr/bin/chromium exists; CI (.ci/run) sets GRAPHLAB_E2E=1, under which a
missing browser fails instead of skipping. Screenshots (light and dark theme) go to out/e2e/.

Every check waits for what it checks (Playwright's expect, wait_for_url, wait_for_function):
Streamlit draws a run piece by piece, and the page's last lines (the URL's query parameters)
arrive after the diagram, so a value read once from the page is a race on a busy machine.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import sys
import time
import zipfile
from pathlib import Path
from urllib.parse import urlencode

import pytest

try:
    from playwright.sync_api import TimeoutError as PlaywrightTimeoutError
    from playwright.sync_api import expect, sync_playwright
except ImportError:  # the browser fixture says so: a skip, or a failure under GRAPHLAB_E2E=1
    sync_playwright = None

# one way to start the app, launch the browser and wait for a run, shared with the load benchmark
from benchmarks.app_load import CHROMIUM, IDLE, LAUNCH_ARGS, serve  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "apps"))  # what `streamlit run` does for the app's own modules
import stepper_model  # noqa: E402  (the lecture examples)

SHOTS = ROOT / "out" / "e2e"
REQUIRED = os.environ.get("GRAPHLAB_E2E") == "1"
TIMEOUT_MS = 30_000  # every wait: Playwright's actions and expect(...)
LOAD_TIMEOUT_MS = 90_000  # a new session's first run (imports, caches) on a loaded 2-core machine
TRAIN_TIMEOUT_MS = 180_000  # the Playground trains ~0.3 s of each 0.5 s tick: fewer epochs when the CPU is busy

# the diagram's SVG: the stepper's diagram view, or st.graphviz_chart (the other tabs)
DIAGRAM = ':is(.gl-stage, [data-testid="stGraphVizChart"]) svg'

# one server and one browser for all of them, on one xdist worker (--dist loadfile in pyproject.toml)
pytestmark = pytest.mark.e2e


def _unavailable(reason: str):
    if REQUIRED:
        pytest.fail(f"GRAPHLAB_E2E=1 but {reason}", pytrace=False)
    pytest.skip(f"browser tests skipped: {reason} (install Debian's chromium, or set GRAPHLAB_E2E=1 to require it)")


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """`graphlab app` (which becomes `streamlit run`), as the load benchmark starts it; healthy, always stopped."""
    try:
        with serve(tmp_path_factory.mktemp("streamlit") / "server.log") as (url, _):
            yield url
    except RuntimeError as e:
        pytest.fail(str(e), pytrace=False)


def browser_session():
    """The headless Chromium behind conftest's session fixture ``browser`` (one per worker process: a second
    sync_playwright() opened beside it would fail)."""
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        _unavailable(f"no Chromium at {CHROMIUM}")
    if sync_playwright is None:
        _unavailable("playwright is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=TIMEOUT_MS)  # its default is 5 s
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


def wait_for_chart(page, timeout: float = LOAD_TIMEOUT_MS):
    page.wait_for_selector(f'{DIAGRAM} g.node', state="attached", timeout=timeout)
    wait_idle(page, timeout)


def wait_idle(page, timeout: float = TIMEOUT_MS):
    """Until the script run has finished and its elements have drawn.

    Streamlit marks its root with the run's state (``data-test-script-state``, what Streamlit's own
    browser tests wait on), keeps the last run's elements marked stale until the run ends, and shows
    a skeleton while a component's code loads. After a click the state stays ``notRunning`` until the
    server answers, so first wait for something only the new run draws; then this waits for that run.
    """
    page.wait_for_function(IDLE, timeout=timeout)


def _titles(page, selector: str) -> list[str]:
    return page.locator(f'{DIAGRAM} {selector} > title').evaluate_all(
        "titles => titles.map(t => t.textContent)")


def expect_titles(page, selector: str, expected: set[str], *, at_least: bool = False):
    """Waits until the diagram's ``selector`` titles, as a set, are ``expected`` (or include it: at_least)."""
    try:
        page.wait_for_function(
            """([selector, want, atLeast]) => {
              const got = new Set([...document.querySelectorAll(selector)].map(t => t.textContent));
              return want.every(w => got.has(w)) && (atLeast || got.size === want.length);
            }""", arg=[f'{DIAGRAM} {selector} > title', sorted(expected), at_least])
    except PlaywrightTimeoutError:
        raise AssertionError(f"the diagram's {selector} are {sorted(set(_titles(page, selector)))} after "
                             f"{TIMEOUT_MS / 1000:.0f} s, expected {'at least ' if at_least else ''}{sorted(expected)}"
                             ) from None


def highlighted(page):
    """The titles of the highlighted nodes: expect(highlighted(page)).to_have_text([...]) is the exact list."""
    return page.locator(f'{DIAGRAM} g.node.current > title')


def step_label(page):
    return page.get_by_text(" of ", exact=False).filter(has_text="node").first


def url_has(*parts: str) -> re.Pattern:
    """The URL has each query parameter ``name=`` or ``name=value`` (the whole value)."""
    return re.compile("".join(rf"(?=.*[?&]{re.escape(p)}{'' if p.endswith('=') else '(&|$)'})" for p in parts))


def click_next(page, expected: str):
    page.get_by_role("button", name="next").click()
    expect(highlighted(page)).to_have_text([expected])
    wait_idle(page)


def tall_screenshot(page, name: str):
    """The whole tab: Streamlit scrolls inside its own container, so full_page alone stops at the window."""
    page.set_viewport_size({"width": 1400, "height": 1500})
    wait_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / name), full_page=True)


def test_the_page_draws_the_lecture_graph(page, server):
    open_app(page, server)
    expect_titles(page, "g.node", {"x", "y", "v1", "z", "f"})
    expect(highlighted(page)).to_have_text(["x"])
    expect(step_label(page)).to_contain_text("forward 1 of 5: node x", use_inner_text=True)


def test_next_moves_the_highlight(page, server):
    open_app(page, server)
    for node in ("y", "v1"):
        click_next(page, node)
        expect(highlighted(page)).to_have_text([node])
    expect(step_label(page)).to_contain_text("forward 3 of 5: node v1", use_inner_text=True)
    expect(page).to_have_url(url_has("step=3"))  # the page writes its URL last, after the diagram


def test_a_shared_link_restores_the_step(page, server):
    open_app(page, server, expr="(x+y)z", at="x=-2,y=5,z=-4", step="8")
    expect(highlighted(page)).to_have_text(["v1"])
    expect(step_label(page)).to_contain_text("backward 3 of 5: node v1", use_inner_text=True)
    # the gradient arriving at x through the add node: upstream -4 times local 1
    edge = page.locator(f"{DIAGRAM} g.edge").filter(has=page.locator("title", has_text=re.compile(r"^x->v1$")))
    expect(edge.locator("text").nth(-2)).to_have_text("-4 × 1")
    expect(edge.locator("text").last).to_have_text("= -4")  # the product's result, on the line under it


def test_a_bad_expression_shows_the_error_and_its_column(page, server):
    open_app(page, server)
    box = page.get_by_role("textbox", name="Expression")
    box.fill("(x + * y)")
    box.press("Enter")
    error = page.locator('[data-testid="stAlert"]').filter(has_text="Cannot read the expression")
    expect(error).to_be_visible()
    wait_idle(page)  # the run that drew the error has finished: nothing more will come
    expect(error).to_contain_text("column 6", use_inner_text=True)
    expect(page.locator('[data-testid="stCode"]')).to_contain_text("^", use_inner_text=True)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)


def test_downloads_return_valid_files(page, server):
    open_app(page, server, expr="(x+y)z", at="x=-2,y=5,z=-4", step="6")
    expect(highlighted(page)).to_have_text(["f"])  # step 6: the first backward step, at f
    with page.expect_download() as info:
        page.get_by_role("button", name="SVG").click()
    svg = Path(info.value.path()).read_bytes()
    assert info.value.suggested_filename == "graphlab-step-06-backward-f.svg"
    assert b"<svg" in svg and b"<title>v1</title>" in svg
    with page.expect_download() as info:
        page.get_by_role("button", name="PNG", exact=True).click()  # not APNG
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
    expect(highlighted(page)).to_have_text(["x2"])
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"app-{scheme}.png"), full_page=True)


def test_check_my_work_marks_the_dropped_path(page, server):
    """The Check tab in a real browser: a claim that drops one of x2's two paths gets ✗ and x2 is marked."""
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    page.get_by_role("tab", name="Check my work").click()
    box = page.get_by_role("textbox", name="Your derivatives, one per line")
    expect(box).to_be_visible()  # only the open tab is drawn: this is the tab's run
    wait_idle(page)
    box.fill("df/dx1 = sin(x2)/x1\ndf/dx2 = log(x1 x2) cos(x2)")
    box.press("Control+Enter")
    wrong = page.locator('[data-testid="stAlert"]').filter(has_text="✗")
    expect(wrong).to_be_visible()
    expect(highlighted(page)).to_have_text(["x2"])
    wait_idle(page)
    expect(wrong).to_contain_text("log(x1*x2)*cos(x2) + sin(x2)/x2 = -1.727", use_inner_text=True)
    expect(wrong).to_contain_text("missing term: this is the path through sin(x2) only", use_inner_text=True)
    expect(page.locator('[data-testid="stAlert"]').filter(has_text="✓ df/dx1 = sin(x2)/x1")).to_have_count(1)
    expect(highlighted(page)).to_have_text(["x2"])
    expect(page).to_have_url(url_has("tab=check", "claims="))
    tall_screenshot(page, "app-check.png")


def test_gradient_descent_tab_shows_the_exercise(page, server):
    """The lecture's exercise from a link: the table and the loss chart draw."""
    page.goto(f"{server}/?{urlencode({'expr': '(y - x theta)^2', 'tab': 'descent'})}")
    page.wait_for_selector('[data-testid="stVegaLiteChart"]', timeout=LOAD_TIMEOUT_MS)
    wait_idle(page, LOAD_TIMEOUT_MS)
    expect(page.get_by_text("theta ← theta − η ∂f/∂theta, η = 0.01; y = 10, x = 2")).to_have_count(1)
    expect(page.locator('[data-testid="stDataFrame"]')).to_have_count(1)
    expect(page.locator('[data-testid="stException"]')).to_have_count(0)
    tall_screenshot(page, "app-descent.png")

# ----------------------------------------------------------------------------- legible diagrams
# (width, height, the median label height the diagram must reach there, CSS px)
SCREENS = {"phone": (390, 844, 12), "laptop": (1366, 768, 14), "1080p": (1920, 1080, 14)}
LABEL_PX = """() => {
  const heights = [...document.querySelectorAll('.gl-stage svg text')].map(t => t.getBoundingClientRect().height)
    .filter(h => h > 0).sort((a, b) => a - b);
  return heights.length ? heights[Math.floor(heights.length / 2)] : 0;
}"""


def expect_legible(page, at_least: float, what: str):
    """Waits until the diagram's median label is at least ``at_least`` px high on the screen."""
    try:
        page.wait_for_function(f"() => ({LABEL_PX})() >= {at_least}")
    except PlaywrightTimeoutError:
        raise AssertionError(f"{what}: median label {page.evaluate(LABEL_PX):.1f} px after {TIMEOUT_MS / 1000:.0f} s,"
                             f" expected at least {at_least} px") from None


def a_backward_step(expr: str) -> int:
    """A step in the backward pass, where the edges carry the most text."""
    from graphlab import from_text

    shapes = dict(stepper_model.shapes_typed(tuple(stepper_model.EXAMPLES.get(expr, {}).items())))
    n = from_text(expr, shapes=shapes or None).number_of_nodes()  # matrices: the example's shapes
    return n + n // 2 + 1


@pytest.mark.parametrize("screen", SCREENS)
def test_every_lecture_example_is_legible(page, server, screen):
    """The lecture's examples and the 25-node sigmoid network of lecture 004 at phone, laptop and 1080p size:
    the median label is never under 12 px on the phone, 14 px on the larger screens (it pans instead)."""
    width, height, at_least = SCREENS[screen]
    page.set_viewport_size({"width": width, "height": height})
    for expr, values in stepper_model.EXAMPLES.items():
        at = ",".join(f"{k}={v}" for k, v in values.items())
        open_app(page, server, expr=expr, at=at, step=str(a_backward_step(expr)))
        expect_legible(page, at_least, f"{expr} on the {screen} ({width}x{height})")
        if expr in ("log(x1 x2) sin(x2)", stepper_model.NETWORK):
            wait_idle(page)
            page.locator(".st-key-stage").scroll_into_view_if_needed()
            SHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SHOTS / f"legible-{screen}-{'network' if '=' in expr else 'log-sin'}.png"))
        if screen == "phone":  # the chain rule wraps: nothing of it runs off the right edge
            page.wait_for_function("""() => [...document.querySelectorAll('.st-key-chainrule .katex')]
              .every(k => k.getBoundingClientRect().right <= window.innerWidth)""")


def test_keys_step_through_the_trace_unless_typing(page, server):
    """→ / PageDown / Space next, ← / PageUp back, Home / End: a presenter's clicker sends PageDown and PageUp."""
    page.set_viewport_size({"width": 1366, "height": 768})
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", step="1")
    for key, step, label in [("PageDown", 2, "forward 2 of 6"), ("PageDown", 3, "forward 3 of 6"),
                             ("PageUp", 2, "forward 2 of 6"), ("End", 12, "backward 6 of 6"),
                             ("ArrowLeft", 11, "backward 5 of 6"), ("Home", 1, "forward 1 of 6"),
                             ("Space", 2, "forward 2 of 6"), ("ArrowRight", 3, "forward 3 of 6")]:
        page.keyboard.press(key)
        expect(page).to_have_url(url_has(f"step={step}"))
        expect(step_label(page)).to_contain_text(label, use_inner_text=True)
        wait_idle(page)
    box = page.get_by_role("textbox", name="Expression")
    box.click()
    box.press("Home")  # moves the caret in the box, not the step
    page.locator("h1").first.click()  # focus leaves the box
    page.keyboard.press("PageUp")
    expect(page).to_have_url(url_has("step=2"))  # from 3, not from 1
    expect(step_label(page)).to_contain_text("forward 2 of 6", use_inner_text=True)


def test_the_zoom_button_zooms(page, server):
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", step="9")
    scale = "() => new DOMMatrix(getComputedStyle(document.querySelector('.gl-stage')).transform).a"
    page.get_by_role("button", name="Zoom in").click()
    page.wait_for_function(f"() => ({scale})() > 1.1")


def test_presentation_fills_the_screen_and_a_clicker_steps(page, server):
    """Present: only the diagram and the chain rule, on the whole window; PageDown / PageUp step; Exit returns."""
    page.set_viewport_size({"width": 1920, "height": 1080})
    expr = stepper_model.NETWORK
    at = ",".join(f"{k}={v}" for k, v in stepper_model.EXAMPLES[expr].items())
    open_app(page, server, expr=expr, at=at, step="39")
    page.get_by_role("button", name="Present").click()
    expect(page.locator(".gl-presenting")).to_have_count(1)
    expect(page).to_have_url(url_has("present=1", "step=39"))
    expect(page.locator('[data-testid="stSidebar"]')).to_be_hidden()
    expect(page.get_by_role("textbox", name="Expression")).to_be_hidden()
    page.keyboard.press("PageDown")
    expect(page).to_have_url(url_has("present=1", "step=40"))
    expect(page.locator(".gl-label")).to_contain_text("backward 13 of 27: node w1", use_inner_text=True)
    wait_idle(page)
    expect_legible(page, 14, "presenting the network at 1080p")
    page.wait_for_function("""() => {  // the diagram and the chain rule both on the screen, the chain rule under it
      const box = document.querySelector('.gl-box').getBoundingClientRect();
      const rule = document.querySelector('.st-key-chainrule .katex');
      return rule && box.height > 500 && rule.getBoundingClientRect().bottom <= window.innerHeight
        && rule.getBoundingClientRect().top >= box.bottom; }""")
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "present.png"))  # docs/present.png is this one
    page.keyboard.press("PageUp")
    expect(page).to_have_url(url_has("present=1", "step=39"))
    wait_idle(page)
    page.get_by_role("button", name="Exit presentation").click()
    expect(page.locator(".gl-presenting")).to_have_count(0)
    expect(page.get_by_role("textbox", name="Expression")).to_be_visible()


# ----------------------------------------------------------------------------- the Playground page
def metric(page, label: str):
    """The value of the metric labelled ``label``."""
    return page.locator('[data-testid="stMetric"]').filter(has_text=label).locator('[data-testid="stMetricValue"]')


AT_LEAST_95_PERCENT = re.compile(r"^(9[5-9](\.\d+)?|100(\.0+)?)%$")  # st.metric shows f"{accuracy:.1%}"


def steady_screenshot(locator, timeout: float = TIMEOUT_MS) -> bytes:
    """The element's screenshot once two in a row agree: a chart has finished drawing."""
    deadline = time.monotonic() + timeout / 1000
    shot = locator.screenshot()
    while (again := locator.screenshot()) != shot:
        assert time.monotonic() < deadline, f"{locator} kept changing for {timeout / 1000:.0f} s"
        shot = again
    return shot


def expect_new_look(locator, before: bytes, timeout: float = LOAD_TIMEOUT_MS):
    """Polls the element's screenshot until it differs from ``before`` (a chart redraws after its data arrive).

    The page's run after Pause redraws every chart; on a busy machine that run can take a while, so
    the poll has the page-load timeout, and each screenshot waits only for what is left of it."""
    deadline = time.monotonic() + timeout / 1000
    while locator.screenshot(timeout=max(1.0, deadline - time.monotonic()) * 1000) == before:
        assert time.monotonic() < deadline, f"{locator} looks as it did before, {timeout / 1000:.0f} s on"
        time.sleep(0.1)  # the poll's interval, as expect's


def test_playground_trains_xor_and_opens_a_prediction_in_the_stepper(page, server):
    query = {"data": "xor", "noise": "0", "seed": "0", "layers": "4", "act": "tanh", "lr": "0.03", "batch": "10"}
    page.goto(f"{server}/playground?{urlencode(query)}")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    charts.nth(1).locator("canvas, svg").first.wait_for(timeout=LOAD_TIMEOUT_MS)
    wait_idle(page, LOAD_TIMEOUT_MS)
    expect(metric(page, "Epoch")).to_have_text("0", use_inner_text=True)
    boundary_before, loss_before = steady_screenshot(charts.nth(0)), steady_screenshot(charts.nth(1))

    page.get_by_role("button", name="Play").click()
    page.wait_for_function(  # the live fragment keeps training and redrawing until paused
        "() => { const accuracies = [...document.querySelectorAll('[data-testid=\"stMetric\"]')].filter(m =>"
        " m.innerText.includes('accuracy'));"
        " return accuracies.length === 2 && accuracies.every(m => parseFloat(m.querySelector("
        "'[data-testid=\"stMetricValue\"]').innerText) >= 97); }", timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
    expect(metric(page, "Epoch")).to_have_text(re.compile(r"^[1-9][\d,]*$"), use_inner_text=True)  # > 0
    expect(metric(page, "Train accuracy")).to_have_text(AT_LEAST_95_PERCENT, use_inner_text=True)
    expect(metric(page, "Test accuracy")).to_have_text(AT_LEAST_95_PERCENT, use_inner_text=True)
    expect_new_look(charts.nth(0), boundary_before)  # the boundary moved
    expect_new_look(charts.nth(1), loss_before)  # the loss curves grew
    expect(page).to_have_url(url_has("layers=4", "data=xor"))  # the URL carries the configuration
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.set_viewport_size({"width": 1400, "height": 1500})  # Streamlit scrolls inside the page: show more of it
    wait_idle(page)
    page.screenshot(path=str(SHOTS / "playground.png"))

    page.get_by_role("button", name="Open in the stepper").click()
    page.wait_for_url("**/?expr=*", timeout=LOAD_TIMEOUT_MS)  # the Playground's run, then the stepper's
    page.wait_for_selector(f'{DIAGRAM} g.node > title:text-is("fold//layer3")', state="attached",
                           timeout=LOAD_TIMEOUT_MS)
    wait_idle(page)  # the network at the layer level: the inputs, then one node per layer
    expect_titles(page, "g.node", {"x1", "x2", "fold//layer1", "fold//layer2", "fold//layer3"}, at_least=True)
    expect(step_label(page)).to_contain_text("forward 1 of", use_inner_text=True)
    expect(page).to_have_url(re.compile(r"[?&]expr=[^&]*softplus"))
    expect(page).to_have_url(url_has("fold=1"))


def prediction_query(layers: tuple[int, ...]) -> dict[str, str]:
    """The stepper's link for a Playground prediction through a fresh network of hidden ``layers``."""
    import playground_model

    run = playground_model.Run.start(playground_model.Config(dataset="xor", layers=layers, activations=("tanh",)
                                                             * len(layers)))
    return playground_model.stepper_query(playground_model.prediction(run, "test", 0))


def test_a_prediction_opens_at_the_layer_level_legibly_and_a_layer_expands_to_its_neurons(page, server):
    """A 2-8-8-1 network's prediction (185 nodes, over the draw limit either way) at phone, laptop and 1080p size:
    one node per layer, in matrix form, legible; then layer 2 expanded to its 8 neurons."""
    query = prediction_query((8, 8))
    layers = {"fold//layer1", "fold//layer2", "fold//layer3", "fold//layer4"}
    SHOTS.mkdir(parents=True, exist_ok=True)
    open_app(page, server, **query)
    expect_titles(page, "g.node", layers | {"x1", "x2"}, at_least=True)
    expect(page.locator(DIAGRAM)).to_contain_text("H1 = tanh(x W1 + b1)")
    for screen, (width, height, at_least) in SCREENS.items():  # one page load: the view follows the window
        page.set_viewport_size({"width": width, "height": height})
        expect_legible(page, at_least, f"the layer-level prediction on the {screen}")
        wait_idle(page)
        page.locator(".st-key-stage").scroll_into_view_if_needed()
        page.screenshot(path=str(SHOTS / f"prediction-layers-{screen}.png"))
    page.get_by_role("radio", name="layer 2: H2 = tanh(H1 W2 + b2)").click()  # a pill
    neurons = {f"fold//h2_{j}" for j in range(1, 9)}
    expect_titles(page, "g.node", neurons | {"fold//layer1", "fold//layer3"}, at_least=True)
    expect(page).to_have_url(url_has("expand=layer2"))
    wait_idle(page)
    page.keyboard.press("End")  # the last step: backward at an input, outside every group
    expect(step_label(page)).to_contain_text("backward", use_inner_text=True)
    wait_idle(page)
    page.locator(".st-key-stage").scroll_into_view_if_needed()
    page.screenshot(path=str(SHOTS / "prediction-layer2-expanded-1080p.png"))


def test_paths_from_a_variable_are_marked_on_the_diagram(page, server):
    open_app(page, server, expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", paths="x2")
    expect(page.locator(f"{DIAGRAM} g.edge.path")).to_have_count(5)  # x2 → x1 x2 → log → f, x2 → sin → f
    expect(page.get_by_text("Sum of the products")).to_contain_text("-1.727", use_inner_text=True)


# ----------------------------------------------------------------------------- the Practice tab
PRACTICE = {"expr": "(x+y)z", "at": "x=-2,y=5,z=-4", "tab": "practice"}  # q = 3, f = -12, ∂f/∂q = -4


def open_practice(page, server: str, blanks: str):
    open_app(page, server, **PRACTICE, blanks=blanks)
    expect(page.get_by_text("Score: 0 of")).to_be_visible()
    wait_idle(page)


def fill_blank(page, label: str, text: str):
    box = page.get_by_role("textbox", name=label)
    box.fill(text)
    box.press("Enter")


def alerts(page, text: str):
    return page.locator('[data-testid="stAlert"]').filter(has_text=text)


def fill_then_see(page, label: str, text: str, alert: str, count: int):
    """Fill a blank, wait for ``count`` alerts saying ``alert``, and for that run to end."""
    fill_blank(page, label, text)
    expect(alerts(page, alert)).to_have_count(count)
    wait_idle(page)


def test_practice_blanks_filled_right(page, server):
    open_practice(page, server, "values")
    fill_then_see(page, "(1) the value of v1 = x + y", "3", "✓ right", 1)
    fill_blank(page, "(2) the value of f = v1 z", "-12")
    expect(page.get_by_text("Score: 2 of 2")).to_be_visible()
    expect(alerts(page, "✓ right")).to_have_count(2)
    expect(page).to_have_url(url_has("tab=practice", "blanks=values"))


def test_practice_blank_filled_wrong_gets_a_hint(page, server):
    open_practice(page, server, "both")
    fill_blank(page, "(8) the gradient sent back along x → v1 (upstream × local)", "1")
    wrong = alerts(page, "✗ wrong")
    expect(wrong).to_contain_text("this is the local gradient ∂v1/∂x; multiply by the upstream -4",
                                  use_inner_text=True)
    expect(page.get_by_text("Score: 0 of 10")).to_be_visible()


def test_practice_carried_forward_and_screenshots(page, server):
    open_practice(page, server, "both")
    fill_then_see(page, "(3) ∂f/∂v1, the local gradient on the edge v1 → f", "-5", "✗ wrong", 1)
    fill_blank(page, "(4) the gradient sent back along v1 → f (upstream × local)", "-5")
    carried = alerts(page, "carried forward")
    expect(carried).to_contain_text("with your (3) -5 (wrong) this step is right", use_inner_text=True)
    fill_blank(page, "(1) the value of v1 = x + y", "3")
    expect(alerts(page, "✓ right")).to_have_count(1)
    expect(page.get_by_text("1 carried forward")).to_be_visible()
    wait_idle(page)
    SHOTS.mkdir(parents=True, exist_ok=True)
    for name, size in (("laptop", (1366, 768)), ("phone", (390, 844)), ("1080p", (1920, 1080))):
        page.set_viewport_size({"width": size[0], "height": size[1]})
        wait_idle(page)
        page.screenshot(path=str(SHOTS / f"app-practice-{name}.png"), full_page=True)
    tall_screenshot(page, "app-practice.png")


def metric_number(page, label: str) -> float:
    return float(metric(page, label).inner_text().replace(",", ""))


def open_playground(page, server: str, **query: str):
    page.goto(f"{server}/playground?{urlencode(query)}")
    page.locator('[data-testid="stVegaLiteChart"]').nth(1).locator("canvas, svg").first.wait_for(
        timeout=LOAD_TIMEOUT_MS)
    wait_idle(page, LOAD_TIMEOUT_MS)
    expect(metric(page, "Epoch")).to_have_text("0", use_inner_text=True)


def test_playground_fits_a_curve_and_its_loss_falls(page, server):
    open_playground(page, server, data="function", f="sin(x)", n="200", layers="8,8", act="tanh", lr="0.03",
                    batch="10")
    start = metric_number(page, "Train loss")
    page.get_by_role("button", name="Play").click()
    page.wait_for_function(  # the live fragment trains until the train loss is a fifth of what it was
        "start => { const m = [...document.querySelectorAll('[data-testid=\"stMetric\"]')].find(m =>"
        " m.innerText.includes('Train loss'));"
        " return m && parseFloat(m.querySelector('[data-testid=\"stMetricValue\"]').innerText) < start / 5; }",
        arg=start, timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
    assert metric_number(page, "Train loss") < start / 5 and metric_number(page, "Epoch") > 0
    expect(metric(page, "Train R²")).to_be_visible()


def test_playground_changes_the_learning_rate_without_resetting_the_epochs(page, server):
    open_playground(page, server, data="xor", n="200", layers="4", act="tanh", lr="0.03", batch="10")
    for _ in range(3):
        before = metric(page, "Epoch").inner_text()
        page.get_by_role("button", name="Step", exact=True).click()
        expect(metric(page, "Epoch")).not_to_have_text(before, use_inner_text=True)
    wait_idle(page)
    expect(metric(page, "Epoch")).to_have_text("3", use_inner_text=True)
    slider = page.locator('[data-testid="stSidebar"] [data-testid="stSlider"]').filter(has_text="Learning rate")
    slider.get_by_role("slider").focus()
    slider.get_by_role("slider").press("ArrowRight")  # 0.03 -> 0.1
    page.wait_for_url(re.compile(r"[?&]lr=0\.1(&|$)"), timeout=LOAD_TIMEOUT_MS)
    wait_idle(page)
    expect(metric(page, "Epoch")).to_have_text("3", use_inner_text=True)  # the same network, not a new one
    page.get_by_role("button", name="Step", exact=True).click()
    expect(metric(page, "Epoch")).to_have_text("4", use_inner_text=True)


def test_playground_opens_a_clicked_point_in_the_stepper(page, server):
    open_playground(page, server, data="xor", n="400", layers="3", act="tanh", test="0")
    text = page.get_by_text(re.compile(r"^Point \([^)]*, ")).first  # the point, not the index box
    expect(text).to_contain_text("Point (", use_inner_text=True)
    first = text.inner_text()
    plot = page.locator('[data-testid="stVegaLiteChart"]').nth(0).locator("canvas, svg").first
    box = plot.bounding_box()
    plot.click(position={"x": box["width"] * 0.5, "y": box["height"] * 0.5})  # the nearest point to the middle
    expect(text).not_to_have_text(first, use_inner_text=True)
    wait_idle(page)
    x, y = (float(v) for v in re.search(r"Point \(([-\d.e]+), ([-\d.e]+)\)", text.inner_text()).groups())
    assert abs(x) < 3 and abs(y) < 3, (x, y)  # xor's points span ±5.3: the clicked one is near the middle
    page.get_by_role("button", name="Open in the stepper").click()
    page.wait_for_url("**/?expr=*", timeout=LOAD_TIMEOUT_MS)
    page.wait_for_selector(f'{DIAGRAM} g.node > title:text-is("fold//layer3")', state="attached",
                           timeout=LOAD_TIMEOUT_MS)
    expect(page).to_have_url(re.compile(r"[?&]expr=[^&]*softplus"))


# --------------------------------------------------------------------------- matrices (issue #13)
XOR_BATCH = "H = σ(X W + b)"  # the example brings its values: X the corners, W = [[5,-5],[-5,5]], b = [1,1]


def test_stepping_the_xor_batch(page, server):
    """Seed 002's two neurons over the four corners, one 4×2 by 2×2 product, stepped: the highlight moves, the
    matrix step's VJP and its shapes show, and the visited node's value and gradient show as small tables."""
    open_app(page, server, expr=XOR_BATCH, step="2")
    expect(highlighted(page)).to_have_text(["W"])
    click_next(page, "v1")  # forward at X W: the corners times W, a 4×2 table
    page.wait_for_url(url_has("step=3"))
    expect(page.get_by_text("v1 [4×2]", exact=True)).to_be_visible()
    page.get_by_role("button", name="last").click()  # backward, at X, the last step
    expect(highlighted(page)).to_have_text(["X"])
    wait_idle(page)
    page.get_by_role("button", name="prev").click()
    expect(highlighted(page)).to_have_text(["W"])
    wait_idle(page)
    page.get_by_role("button", name="prev").click()
    expect(highlighted(page)).to_have_text(["v1"])  # backward at X W: the VJPs in matrix form
    page.wait_for_url(url_has("step=14"))
    expect(page.get_by_text("Xᵀ goes on the left", exact=False).first).to_be_visible()
    expect(page.get_by_text("[2×4]·[4×2] = [2×2]", exact=False).first).to_be_visible()
    expect(page.get_by_text("∂H/∂v1", exact=True)).to_be_visible()  # the gradient at the node, as a table
    tall_screenshot(page, "xor-batch-backward.png")


def test_playground_trains_a_perceptron_by_the_rule(page, server):
    """Seed 004's perceptron: no hidden layer, Learning rule "perceptron rule", Play until every point is right."""
    open_playground(page, server, data="gauss", n="200", layers="", lr="1")
    rule = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text="Learning rule")
    rule.get_by_role("combobox").click()  # a selectbox is searchable: typing filters its options, Enter takes one
    page.keyboard.type("perceptron")
    expect(page.get_by_role("option", name="perceptron rule (one sign unit)")).to_be_visible()
    page.keyboard.press("Enter")
    page.wait_for_url(re.compile(r"[?&]rule=perceptron(&|$)"), timeout=LOAD_TIMEOUT_MS)
    expect(page.get_by_text("The perceptron rule: ŷ = sign(w·x + b)")).to_be_visible()
    wait_idle(page)
    page.get_by_role("button", name="Play").click()
    expect(metric(page, "Train accuracy")).to_have_text("100.0%", use_inner_text=True, timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
    expect(metric(page, "Train loss")).to_have_text("0.0000", use_inner_text=True)  # the 0/1 loss: no mistake left
    expect(metric(page, "Epoch")).to_have_text(re.compile(r"^[1-9][\d,]*$"), use_inner_text=True)
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / "playground-perceptron.png"))


# --------------------------------------------------------------------------- a hidden tab (issue #17)
# apps/visibility.py listens on the page's own document (components v2 mount there, not in an iframe).
# Headless Chromium never hides a page, so the test sets what the browser would: visibilityState and hidden,
# then the event. It also counts the script runs that start from then on, and the epoch shown as each starts.
SET_VISIBILITY = """state => {
  for (const [name, value] of [['visibilityState', state], ['hidden', state === 'hidden']])
    Object.defineProperty(document, name, {configurable: true, get: () => value});
  const app = document.querySelector('[data-testid="stApp"]');
  window.glRuns = app.dataset.testScriptState === 'running' ? [EPOCH] : [];  // the epoch as each run starts
  window.glObserver?.disconnect();
  window.glObserver = new MutationObserver(() => { if (app.dataset.testScriptState === 'running')
    window.glRuns.push(EPOCH); });
  window.glObserver.observe(app, {attributes: true, attributeFilter: ['data-test-script-state']});
  document.dispatchEvent(new Event('visibilitychange'));
}"""
EPOCH = ("[...document.querySelectorAll('[data-testid=\"stMetric\"]')].find(m => m.innerText.includes('Epoch'))"
         ".querySelector('[data-testid=\"stMetricValue\"]').innerText")
# The server has taken the hidden state: a run has started since, or was under way (the component's report; a
# tick of the timer may have been under way and trained), and the page has been idle for two of the timer's
# ticks (0.5 s) since, which a playing visible page never is.
HIDDEN_TAKEN = f"""() => {{
  const idle = ({IDLE})() && window.glRuns.length > 0;
  window.glSince = idle ? (window.glSince ?? performance.now()) : null;
  return idle && performance.now() - window.glSince > 1000;
}}"""
# Then for a few of the timer's ticks (0.5 s): returns whether any run started or the epoch changed.
STILL = f"""([runs, epoch, until]) => window.glRuns.length > runs || {EPOCH} !== epoch
  ? 'moved' : (performance.now() > until ? 'still' : false)"""


def test_a_hidden_tab_stops_training_and_goes_on_when_shown(page, server):
    open_playground(page, server, data="xor", n="200", layers="4", act="tanh", lr="0.03", batch="10")
    assert len(page.frames) == 1, [f.url for f in page.frames]  # the component runs in the page's own document
    page.get_by_role("button", name="Play").click()
    expect(metric(page, "Epoch")).not_to_have_text("0", use_inner_text=True, timeout=TRAIN_TIMEOUT_MS)

    page.evaluate(SET_VISIBILITY.replace("EPOCH", EPOCH), "hidden")
    page.wait_for_function(HIDDEN_TAKEN)
    epoch, runs = metric(page, "Epoch").inner_text(), page.evaluate("window.glRuns.length")
    until = page.evaluate("performance.now() + 3000")  # six ticks of the timer
    outcome = page.wait_for_function(STILL, arg=[runs, epoch, until], timeout=TIMEOUT_MS).json_value()
    assert outcome == "still", f"hidden, the page ran again or trained: {page.evaluate('window.glRuns')}"
    expect(page.get_by_role("button", name="Pause")).to_be_visible()  # still playing: only paused while hidden

    page.evaluate(SET_VISIBILITY.replace("EPOCH", EPOCH), "visible")
    expect(metric(page, "Epoch")).not_to_have_text(epoch, use_inner_text=True, timeout=TRAIN_TIMEOUT_MS)
    page.get_by_role("button", name="Pause").click()
    expect(page.get_by_role("button", name="Play")).to_be_visible()
    wait_idle(page)
