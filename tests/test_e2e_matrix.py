"""The XOR batch (seed 002's two neurons over the four corners, one 4×2 by 2×2 product) stepped in a real
browser: the highlight moves with next, the matrix step's VJP and its shapes show, and the value and the
gradient of the visited node show as small tables. Every check waits for what it checks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect
from test_e2e import (  # noqa: F401 (the session's app and browser: fixtures)
    browser,
    click_next,
    context,
    highlighted,
    open_app,
    page,
    server,
    tall_screenshot,
    url_has,
    wait_idle,
)

pytestmark = pytest.mark.e2e

XOR = "H = σ(X W + b)"  # the example brings its values: X the corners, W = [[5,-5],[-5,5]], b = [1,1]


def test_stepping_the_xor_batch(page, server):  # noqa: F811 (fixtures imported above)
    open_app(page, server, expr=XOR, step="2")
    expect(highlighted(page)).to_have_text(["W"])
    click_next(page, "v1")  # forward at X W: the corners times W, a 4×2 table
    page.wait_for_url(url_has("step=3"))
    expect(page.get_by_text("v1 [4×2]", exact=True)).to_be_visible()
    page.get_by_role("button", name="last").click()  # backward, at X, the last step
    expect(highlighted(page)).to_have_text(["X"])
    wait_idle(page)
    page.get_by_role("button", name="prev").click()
    expect(highlighted(page)).to_have_text(["W"])
    page.get_by_role("button", name="prev").click()
    expect(highlighted(page)).to_have_text(["v1"])  # backward at X W: the VJPs in matrix form
    page.wait_for_url(url_has("step=14"))
    expect(page.get_by_text("Xᵀ goes on the left", exact=False).first).to_be_visible()
    expect(page.get_by_text("[2×4]·[4×2] = [2×2]", exact=False).first).to_be_visible()
    expect(page.get_by_text("∂H/∂v1", exact=True)).to_be_visible()  # the gradient at the node, as a table
    tall_screenshot(page, "xor-batch-backward.png")
