"""Gradients written the way the lecture writes them: names, δ and expanded forms.

Every form is checked against SymPy's own diff of what the output computes, and against the
trace's number at the point; the lecture's own wording (seed 004: (y - t) y (1 - y) h1) is the
expected text."""

from __future__ import annotations

import json
import random

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import graphlab as gl
from graphlab import formulas
from graphlab.arithmetic import symbol
from graphlab.cli import main
from graphlab.program import program

NET = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
       "E = (y - t)^2 / 2")
NET_AT = {"w1": 0.1, "w2": 0.2, "w3": 0.3, "w4": 0.4, "w5": 0.5, "w6": 0.6, "x1": 0.35, "x2": 0.9, "t": 0.5}
# the lecture's products of local factors, output first (seed 004: (y - d) y (1 - y) h)
LECTURE = {
    "w5": "(y - t) y (1 - y) h1", "w6": "(y - t) y (1 - y) h2",
    "w1": "(y - t) y (1 - y) w5 h1 (1 - h1) x1", "w2": "(y - t) y (1 - y) w5 h1 (1 - h1) x2",
    "w3": "(y - t) y (1 - y) w6 h2 (1 - h2) x1", "w4": "(y - t) y (1 - y) w6 h2 (1 - h2) x2",
}


def _check_form(graph, products, v, at):
    """A form, written out in the variables, is SymPy's derivative; at the point it is the trace's number."""
    out = gl.node_expr(graph, graph.graph["output"])
    derivative = sp.diff(out, symbol(v))
    in_variables = formulas.names_to_variables(graph, formulas.as_expr(products))
    point = {symbol(k): sp.Rational(repr(float(x))) for k, x in at.items()}
    want = float(derivative.xreplace(point))
    assert float(in_variables.xreplace(point)) == pytest.approx(want, rel=1e-12, abs=1e-15)
    assert float(gl.trace(graph, at).gradient[v]) == pytest.approx(want, rel=1e-12, abs=1e-15)


@pytest.mark.parametrize("v", sorted(LECTURE))
def test_the_lecture_network_reads_as_the_lecture_writes_it(v):
    g = gl.from_text(NET)
    forms = formulas.gradient_forms(g)
    assert formulas.text(forms.names[v]) == LECTURE[v]
    _check_form(g, forms.names[v], v, NET_AT)
    _check_form(g, forms.in_deltas[v], v, NET_AT)


def test_the_delta_form_defines_each_delta_from_the_one_after_it():
    forms = formulas.gradient_forms(gl.from_text(NET))
    assert list(forms.deltas) == ["y", "h2", "h1"]
    assert formulas.text(forms.deltas["y"]) == "y - t"
    assert formulas.text(forms.deltas["h1"]) == "delta_y y (1 - y) w5"
    assert formulas.text(forms.in_deltas["w5"]) == "delta_y y (1 - y) h1"
    assert formulas.text(forms.in_deltas["w1"], greek=True) == "δ_h1 h1 (1 - h1) x1"
    assert formulas.latex(forms.deltas["h1"]) == r"\delta_{y} y \left(1 - y\right) w_{5}"


@pytest.mark.parametrize(("text", "at", "want"), [
    ("(x+y)z", {"x": -2, "y": 5, "z": -4}, {"x": "z", "y": "z", "z": "x + y"}),
    ("q = x + y; f = q z", {"x": -2, "y": 5, "z": -4}, {"x": "z", "y": "z", "z": "q"}),
    ("log(x1 x2) sin(x2)", {"x1": 2, "x2": 3},
     {"x1": "sin(x2) (1/(x1 x2)) x2", "x2": "log(x1 x2) cos(x2) + sin(x2) (1/(x1 x2)) x1"}),
    ("h = tanh(x); g = tanh(h); f = exp(g)", {"x": 0.3}, {"x": "f (1 - g^2) (1 - h^2)"}),
])
def test_lecture_examples(text, at, want):
    g = gl.from_text(text)
    forms = formulas.gradient_forms(g)
    for v, written in want.items():
        assert formulas.text(forms.names[v]) == written
        _check_form(g, forms.names[v], v, at)


def test_constant_factors_fold_and_signs_read_right():
    forms = formulas.gradient_forms(gl.from_text(NET))
    assert formulas.text(forms.names["t"]) == "-(y - t)"  # 1/2 · 2 (y - t) · (-1): folded
    forms = formulas.gradient_forms(gl.from_text("f = 3 x^2 / 6"))
    assert formulas.text(forms.names["x"]) == "x"


def test_relu_is_the_lecture_step_in_every_form():
    """relu'(0) = 1, written step(z) (LaTeX [z ≥ 0]), never Heaviside's 1/2 or a Piecewise."""
    g = gl.from_text("z = w x + b; f = relu(z)")
    forms = formulas.gradient_forms(g)
    assert formulas.text(forms.names["w"]) == "step(z) x"
    assert formulas.latex(forms.names["w"]) == r"\left[z \geq 0\right] x"
    at = {"w": 1, "x": 2, "b": -2}  # z = 0: the kink
    exact = gl.trace(g, at, mode="exact")
    assert exact.gradient["w"] == 2 and gl.trace(g, at).gradient["w"] == 2.0
    expanded = gl.gradient_exprs(g)["w"]
    assert expanded.xreplace({symbol(k): v for k, v in at.items()}) == 2
    assert "1/2" not in str(expanded) and not expanded.has(sp.Piecewise)
    report = gl.verify(g, ["df/dw = 2", "df/dw = 0", "df/dw = step(z) x"], at=at)
    assert [c.ok for c in report.claims] == [True, False, True]
    assert all("0.5" not in (c.expected + str(c.diagnosis)) for c in report.claims)
    # the issue's own case: relu(x) at 0 says 1 everywhere, never Heaviside's 1/2
    result = gl.verify("relu(x)", ["df/dx = 0"], at={"x": 0}).claims[0]
    assert result.expected == "step(x)" and result.expected_value == 1
    assert "step(x) = 1" in result.diagnosis and "0.5" not in result.diagnosis


def test_grad_prints_the_forms_and_json_carries_them(capsys):
    at = ",".join(f"{k}={v}" for k, v in NET_AT.items())
    assert main(["grad", NET, "--at", at]) == 0
    out = capsys.readouterr().out
    assert "∂E/∂w5 = (y - t) y (1 - y) h1 = 0.0194817" in out
    assert main(["grad", NET, "--at", at, "--form", "delta"]) == 0
    out = capsys.readouterr().out
    assert "δ_h1 = ∂E/∂h1 = δ_y y (1 - y) w5 = 0.0175973" in out and "∂E/∂w1 = δ_h1 h1 (1 - h1) x1" in out
    assert main(["grad", NET, "--at", at, "--form", "expanded"]) == 0
    assert "exp(" in capsys.readouterr().out
    assert main(["grad", NET, "--at", at, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["gradient_names"]["w1"] == LECTURE["w1"] and data["deltas"]["y"] == "y - t"
    assert set(data["gradient_expr"]) == set(data["gradient_names"])  # the expanded form stays


def test_names_form_text_parses_back():
    """A names-form formula is input-language text: with the named intermediates as values it
    evaluates, through graphlab's own parser, to the gradient."""
    g = gl.from_text(NET)
    t = gl.trace(g, NET_AT)
    forms = formulas.gradient_forms(g)
    named = {n: float(t.values[n]) for n in program(g).names}
    for v, products in forms.names.items():
        written = gl.from_text(formulas.text(products))
        values = {**NET_AT, **named}
        got = gl.trace(written, {k: values[k] for k in written.graph["variables"]}).output
        assert got == pytest.approx(float(t.gradient[v]), rel=1e-12)


_UNARY = ["sin", "cos", "exp", "tanh", "sigmoid", "softplus", "atan"]


@st.composite
def programs(draw):
    """A few named intermediates, each an op over earlier names or variables."""
    names = ["x", "y"]
    lines = []
    for i in range(draw(st.integers(1, 4))):
        a, b = draw(st.sampled_from(names)), draw(st.sampled_from(names))
        kind = draw(st.sampled_from(["unary", "add", "mul", "sub", "div"]))
        if kind == "unary":
            rhs = f"{draw(st.sampled_from(_UNARY))}({a})"
        elif kind == "div":
            rhs = f"{a} / (2 + {b}^2)"
        else:
            rhs = f"{a} {dict(add='+', mul='*', sub='-')[kind]} {b}"
        lines.append(f"n{i} = {rhs}")
        names.append(f"n{i}")
    lines.append(f"f = {names[-1]} * {draw(st.sampled_from(names))}")
    return "; ".join(lines)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs(), st.integers(0, 10_000))
def test_random_programs_every_form_is_the_derivative(text, seed):
    g = gl.from_text(text)
    rng = random.Random(seed)
    at = {v: rng.choice([-1, 1]) * rng.uniform(0.2, 1.5) for v in g.graph["variables"]}
    forms = formulas.gradient_forms(g)
    for v in g.graph["variables"]:
        _check_form(g, forms.names[v], v, at)
        _check_form(g, forms.in_deltas[v], v, at)
