"""The lecture's three matrix networks in the app, driven by AppTest (no browser): the XOR batch, seed 003's
two-layer net (numbers and shapes) and the 784-200-10 network by shape only, each traced, explained and
checked in "Check my work" (issue #13, Done when)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from graphlab import from_text, trace

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules

import check_tab  # noqa: E402
import stepper_model  # noqa: E402

XOR = "H = σ(X W + b)"
NET = "Z1 = X W1 + b1; H1 = σ(Z1); Z2 = H1 W2 + b2; yhat = σ(Z2); E = (y - yhat)^T (y - yhat) / (2 N)"
MNIST = "H1 = σ(X W1 + b1); Yhat = H1 W2 + b2; E = softmax_ce(Yhat, Y)"
D2 = "((yhat - y)/N ⊙ yhat ⊙ (1 - yhat))"


def open_app(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)  # an example's expression brings its values
    at.run()
    assert not at.exception, at.exception
    return at


def texts(at: AppTest, kind: str) -> list[str]:
    """The elements' text, Markdown's escapes (\\[) removed."""
    return [str(e.value).replace("\\", "") for e in at.get(kind)]


def results(at: AppTest) -> list[str]:
    """The claims' boxes in page order (✓ in success boxes, ✗ in error boxes)."""
    return [v for v in texts(at, "success") + texts(at, "error") if v.startswith(("✓", "✗"))]


def check(expr: str, *claims: str) -> AppTest:
    at = open_app(expr=expr, tab="check")
    at.text_area(key=check_tab.KEY).input("\n".join(claims)).run()
    assert not at.exception, at.exception
    return at


def test_the_three_networks_are_sidebar_examples():
    assert {XOR, NET, MNIST} <= set(stepper_model.EXAMPLES)
    assert stepper_model.EXAMPLES[MNIST]["W1"] == "784x200"


def first_product_step(expr: str) -> int:
    """The backward step (from 1) at the product X W, where ∂E/∂W = Xᵀ · (...)."""
    values = tuple(stepper_model.EXAMPLES[expr].items())
    t = trace(from_text(expr, shapes=dict(stepper_model.shapes_typed(values))))
    return next(s.index + 1 for s in t.backward_steps if t.graph.nodes[s.node].get("args", ())[:1] == ("X",))


@pytest.mark.parametrize("expr, shapes", [
    (XOR, "[2×4]·[4×2] = [2×2]"),  # ∂H/∂W = Xᵀ · ∂H/∂(X W)
    (NET, "[2×4]·[4×2] = [2×2]"),  # ∂E/∂W1 = Xᵀ · (∂E/∂H1 ⊙ σ′(Z1))
    (MNIST, "[784×N]·[N×200] = [784×200]"),
])
def test_each_network_is_traced_and_explained_in_the_stepper(expr, shapes):
    at = open_app(expr=expr, step=str(first_product_step(expr)))
    assert any(shapes in t for t in texts(at, "markdown")), texts(at, "markdown")
    nodes = at.dataframe[-1].value
    assert "shape" in nodes.columns
    assert not any("left out" in t for t in texts(at, "info"))  # drawn


def test_the_shape_only_network_says_its_size_and_that_it_has_no_numbers():
    at = open_app(expr=MNIST)
    assert any("total 159,010" in t for t in texts(at, "caption"))
    assert any("No value for X, W1, b1, W2, b2, Y: the steps show each node's shape" in t for t in texts(at, "info"))


def test_xor_claims_are_checked_in_the_app():
    at = check(XOR, "dH/dW = X^T (H ⊙ (1 - H))", "dH/dW = (H ⊙ (1 - H))^T X")
    found = results(at)
    assert len(found) == 2
    assert any(r.startswith("✓") and "dH/dW = X^T (H ⊙ (1 - H))" in r for r in found)
    assert any(r.startswith("✗") and "this is the transpose of ∂H/∂W" in r for r in found)


def test_seed003_claims_are_checked_in_the_app():
    at = check(NET, f"dE/dW1 = X^T ({D2} W2^T ⊙ H1 ⊙ (1 - H1))", "dE/dW2 = H1^T ((yhat - y)/N)",
               f"dE/dW2 = {D2}^T H1")
    found = results(at)
    assert sum(r.startswith("✓") for r in found) == 1
    assert any("missing the factor σ′(Z2)" in r for r in found)
    assert any("this is 1×2, ∂E/∂W2 is 2×1" in r and "transpose?" in r for r in found)


def test_the_shape_only_network_is_checked_in_the_app():
    at = check(MNIST, "dE/dW2 = H1^T dE/dYhat", "dE/dW2 = dE/dYhat^T H1", "dE/dW1 = X^T dE/dH1")
    found = results(at)
    assert sum(r.startswith("✓") for r in found) == 1
    assert any("this is 10×200, ∂E/∂W2 is 200×10" in r for r in found)
    assert any("missing the factor σ′(X W1 + repmat(b1ᵀ))" in r for r in found)


def test_a_claim_that_cannot_be_read_is_an_inline_error_over_matrices():
    at = check(NET, "dE/dW2 = H1^T (", "dZ2/dW2 = H1")
    errors = [t for t in texts(at, "error") if t.startswith("**Cannot read line")]
    assert len(errors) == 2 and "over matrices a claim is dE/dB" in errors[1]
