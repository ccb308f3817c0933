"""The HTML stepper (`graphlab draw ... -o steps.html`) in a real browser, opened from disk with every
request that is not file:// aborted: keys, buttons, slider, the hash link, and two stepper widgets on
one page as a notebook shows them. Screenshots at phone, laptop and 1080p sizes go to out/e2e/.

Every check waits for what it checks (Playwright's expect and wait_for_url)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect
from test_e2e import SHOTS

from graphlab import cli, from_text, show, trace

pytestmark = pytest.mark.e2e

LECTURE = "q = x + y; f = q z"
ORDER = ["x", "y", "q", "z", "f", "f", "z", "q", "y", "x"]  # the steps by hand: forward, then backward
SIZES = {"phone": (390, 844), "laptop": (1366, 768), "1080p": (1920, 1080)}


@pytest.fixture(scope="module")
def steps_html(tmp_path_factory):
    path = tmp_path_factory.mktemp("stepper") / "steps.html"
    assert cli.main(["draw", LECTURE, "--at", "x=-2,y=5,z=-4", "-o", str(path)]) == 0
    return path


@pytest.fixture
def offline(browser):  # browser: the session's Chromium (conftest)
    """A page that can read file:// and nothing else; ``requests`` lists every other URL it asked for."""
    context = browser.new_context(viewport={"width": 1366, "height": 768})
    context.set_default_timeout(30_000)
    requests: list[str] = []

    def only_files(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            requests.append(route.request.url)
            route.abort()

    context.route("**/*", only_files)
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    yield page, requests, errors
    context.close()


def current(page, root: str = "#glstep"):
    return page.locator(f"{root} .gl-figure svg g.node.current > title")


def at_step(page, k: int, root: str = "#glstep"):
    """Waits until the stepper shows step ``k`` (from 1): its label, its highlighted node, its slider."""
    expect(page.locator(root)).to_have_attribute("data-step", str(k))
    expect(current(page, root)).to_have_text([ORDER[k - 1]])
    expect(page.locator(f"{root} .gl-slider")).to_have_value(str(k))


def test_keys_buttons_and_slider_step_it_and_the_explanation_follows(offline, steps_html):
    page, requests, errors = offline
    page.goto(steps_html.as_uri())
    at_step(page, 1)
    expect(page.locator("#glstep .gl-label")).to_have_text("forward 1 of 5: node x")
    expect(page.locator("#glstep .gl-math")).to_contain_text("−2")  # x = -2, as MathML
    page.keyboard.press("ArrowRight")
    at_step(page, 2)
    page.wait_for_url(re.compile(r"#step=2$"))
    page.keyboard.press("End")
    at_step(page, 10)
    expect(page.locator("#glstep .gl-label")).to_have_text("backward 5 of 5: node x")
    expect(page.get_by_role("button", name="next")).to_be_disabled()
    page.keyboard.press("ArrowLeft")
    page.keyboard.press("ArrowLeft")
    at_step(page, 8)
    expect(page.locator("#glstep .gl-title")).to_have_text("The chain rule at this step")
    math = page.locator("#glstep .gl-math math")
    expect(math).to_have_count(2)  # q sends to x and to y
    expect(math.first).to_contain_text("∂q")
    expect(page.locator("#glstep tr.gl-cur td").nth(1)).to_have_text("q")
    page.get_by_role("button", name="prev").click()
    at_step(page, 7)
    expect(math).to_have_count(1)  # z: one line, ∂f/∂z = ∂f/∂f · ∂f/∂z
    expect(math.first).to_contain_text("∂z")
    page.get_by_role("button", name="first").click()
    at_step(page, 1)
    expect(page.get_by_role("button", name="prev")).to_be_disabled()
    page.get_by_role("button", name="last").click()
    at_step(page, 10)
    page.get_by_role("button", name="first").click()
    page.get_by_role("button", name="next").click()
    at_step(page, 2)
    page.locator("#glstep .gl-slider").focus()  # the slider's own keys move it, once a key
    page.keyboard.press("ArrowRight")
    at_step(page, 3)
    expect(page.locator("#glstep .gl-title")).to_have_text("Computed at this step")
    page.wait_for_url(re.compile(r"#step=3$"))
    assert requests == [] and errors == []


def test_a_hash_link_opens_on_its_step(offline, steps_html):
    page, requests, errors = offline
    page.goto(steps_html.as_uri() + "#step=8")
    at_step(page, 8)
    expect(page.locator("#glstep .gl-label")).to_have_text("backward 3 of 5: node q")
    page.goto(steps_html.as_uri() + "#step=5")  # the same page, another hash: it follows
    at_step(page, 5)
    assert requests == [] and errors == []


def test_two_notebook_widgets_on_one_page_each_keep_their_own_keys(offline, tmp_path):
    page, requests, errors = offline
    t = trace(from_text(LECTURE), {"x": -2, "y": 5, "z": -4})
    a, b = t._repr_html_(), show(t, step=0)._repr_html_()  # opens on the last step; on the first
    ids = [re.search(r'id="(gl[0-9a-f]+)"', h)[1] for h in (a, b)]
    cells = "".join(f'<div class="cell" style="margin:40px 0">{h}</div>' for h in (a, b))
    notebook = tmp_path / "notebook.html"
    notebook.write_text(f'<!doctype html><meta charset="utf-8"><body style="margin:0">{cells}</body>')
    page.goto(notebook.as_uri())
    one, two = f"#{ids[0]}", f"#{ids[1]}"
    at_step(page, 10, one)
    at_step(page, 1, two)
    page.mouse.move(1, 1)  # over neither: a key steps nothing
    page.keyboard.press("ArrowLeft")
    page.locator(two).get_by_role("button", name="next").click()  # a button focuses its widget
    at_step(page, 2, two)
    page.keyboard.press("ArrowRight")
    at_step(page, 3, two)
    at_step(page, 10, one)  # the keys went to the focused widget only
    page.mouse.click(1, 1)  # the focus leaves the second
    page.locator(f"{one} .gl-figure").hover()  # the pointer over the first: keys step it
    page.keyboard.press("ArrowLeft")
    at_step(page, 9, one)
    at_step(page, 3, two)
    assert "#" not in page.url  # a notebook's address is not the widget's to change
    assert requests == [] and errors == []


@pytest.mark.parametrize("size", SIZES)
def test_screenshots(offline, steps_html, size):
    """Look at them: out/e2e/stepper-SIZE.png (docs/stepper.png is the laptop one of log(x1 x2) sin(x2))."""
    page, _, _ = offline
    width, height = SIZES[size]
    page.set_viewport_size({"width": width, "height": height})
    page.goto(steps_html.as_uri() + "#step=8")
    at_step(page, 8)
    figure = page.locator("#glstep .gl-figure")
    assert figure.bounding_box()["width"] <= width  # the page never scrolls sideways; the diagram may
    assert page.evaluate("document.documentElement.scrollWidth") <= width
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SHOTS / f"stepper-{size}.png"), full_page=True)
