"""Checking hand derivations: right and wrong claims on the lecture's graphs, every
diagnosis kind, and properties (the true gradient always verifies; a perturbed one never)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphlab.build import from_text, node_expr, symbol
from graphlab.cli import main
from graphlab.errors import GraphlabError, ParseError
from graphlab.point import parse_point
from graphlab.trace import trace
from graphlab.verify import Finding, parse_claim, to_text, verify

_BESIDE = Path(sys.executable).parent / "graphlab"  # the command of this environment
GRAPHLAB = str(_BESIDE) if _BESIDE.exists() else shutil.which("graphlab")
CIRCUIT = "q = x + y; f = q z"  # the lecture's f(x, y, z) = (x + y) z
CIRCUIT_AT = parse_point("x=-2,y=5,z=-4")
LOGSIN = "log(x1 x2) sin(x2)"  # x2 feeds two ops
NET = "h1 = σ(w3 x1 + w4 x2); h2 = σ(w5 x1 + w6 x2); y = σ(w1 h1 + w2 h2); E = 1/2 (y - t)^2"
NET_AT = parse_point("x1=0.35,x2=0.9,w1=0.3,w2=0.9,w3=0.1,w4=0.8,w5=0.4,w6=0.6,t=0.5")


def one(expr, claim, at=None):
    return verify(expr, [claim], at).claims[0]


# --------------------------------------------------------------------------- right claims
@pytest.mark.parametrize("claim", [
    "df/dz = x + y", "df/dz = q", "df/dq = z", "df/dx = z", "∂f/∂y = z", "x = z", "dq/dx = 1", "df/df = 1",
])
def test_right_formulas_on_the_circuit(claim):
    result = one(CIRCUIT, claim)
    assert result.ok and result.verdict == "right", result.diagnosis


@pytest.mark.parametrize("claim", ["df/dz = 3", "df/dq = -4", "df/dx = -4", "df/dy = -4.0", "z = 3"])
def test_right_numbers_at_the_lecture_point(claim):
    # by hand: q = 3, f = -12; df/dz = q = 3; df/dq = z = -4; df/dx = df/dy = df/dq * 1 = -4
    assert one(CIRCUIT, claim, CIRCUIT_AT).ok


def test_both_paths_at_a_shared_input():
    # w = log(x1 x2) sin(x2): dw/dx2 = sin(x2)/x2 + log(x1 x2) cos(x2) (sum over the two consumers)
    assert one(LOGSIN, "df/dx2 = sin(x2)/x2 + log(x1 x2) cos(x2)").ok
    assert one(LOGSIN, "df/dx1 = sin(x2)/x1").ok


def test_domain_restricted_claim_judged_numerically():
    result = one("abs(x)", "df/dx = x/abs(x)")  # sign(x) away from 0
    assert result.ok and "sample points" in result.diagnosis


# --------------------------------------------------------------------------- numbers and precision
@pytest.mark.parametrize(("written", "ok"), [("0.272392", True), ("0.2724", True), ("0.27", True),
                                             ("0.3", True), ("0.273", False), ("0.2725", False)])
def test_number_matches_to_the_precision_written(written, ok):
    result = one("0.272392 x", f"df/dx = {written}", parse_point("x=1"))
    assert (result.verdict == "right") is ok


def test_lecture_sigmoid_network_right_up_to_rounding():
    # The lecture gets w1+ = 0.3 - 0.027608 = 0.272392; full precision gives 0.272326...,
    # i.e. dE/dw1 = 0.0276740... (by hand: y = 0.690283, h1 = 0.680267, (y - t) y (1 - y) h1).
    full = one(NET, "dE/dw1 = 0.027674", NET_AT)
    assert full.verdict == "right"
    assert float(full.expected_value) == pytest.approx(0.0276740, abs=5e-8)
    lecture = one(NET, "dE/dw1 = 0.027608", NET_AT)
    assert lecture.ok and lecture.verdict == "right up to rounding"
    assert min(lecture.spread.values()) <= 0.027608 <= max(lecture.spread.values())
    assert lecture.spread[2] == pytest.approx(0.0272)  # 0.19 * 0.21 -> 0.04, * 0.68
    far = one(NET, "dE/dw1 = 0.0261", NET_AT)
    assert not far.ok and far.verdict == "wrong"


def test_expected_is_written_in_the_users_names():
    assert one(NET, "dE/dw1 = 0").expected == "(y - t) y (1 - y) h1"  # seed 004: (y - d) y (1 - y) h


# --------------------------------------------------------------------------- diagnosis kinds
def test_dropping_one_path_at_a_node_with_two_consumers():
    result = one(LOGSIN, "df/dx2 = log(x1 x2) cos(x2)")  # the classic mistake
    assert not result.ok
    assert result.diagnosis.startswith("missing term: this is the path through sin(x2) only; "
                                       "x2 also reaches f through x1*x2")
    assert result.counterexample is not None
    point = {symbol(k): sp.Rational(v) for k, v in result.counterexample["point"].items()}
    true = sp.diff(sp.log(symbol("x1") * symbol("x2")) * sp.sin(symbol("x2")), symbol("x2"))
    assert float(true.xreplace(point)) == pytest.approx(result.counterexample["expected"])


def test_dropping_a_path_as_a_number():
    result = one(LOGSIN, "df/dx2 = " + str(round(float(sp.log(6) * sp.cos(3)), 6)), parse_point("x1=2,x2=3"))
    assert result.diagnosis.startswith("missing term")


def test_sign_error():
    result = one(CIRCUIT, "df/dq = -z")
    assert result.diagnosis.startswith("sign error: this is minus")
    assert one(CIRCUIT, "df/dx = 4", CIRCUIT_AT).diagnosis.startswith("sign error")


def test_sign_error_in_one_term():
    assert one("q = x + y; r = x y; f = q r", "df/dx = r - q y").diagnosis == "sign error in the term through r"


def test_local_one_edge_derivative_instead_of_total():
    result = one("q = x y; f = q + x", "df/dx = 1")
    assert not result.ok
    assert result.diagnosis.startswith("missing term: this is the local (one-edge) derivative ∂f/∂x only; "
                                       "x also reaches f through q (x feeds 2 ops, q, f,")
    result = one("q = x y; r = q + x; f = r^2", "dr/dx = 1")
    assert "local (one-edge) derivative ∂r/∂x only; x also reaches r through q" in result.diagnosis


def test_one_path_of_a_longer_chain():
    # x reaches f through a -> c and through b -> c: both paths enter c, so x has two consumers,
    # but c has one: dropping the path through b is "the path through a → c only".
    expr = "a = x^2; b = sin(x); c = a + b; f = c z"
    assert one(expr, "df/dx = z 2 x").diagnosis.startswith("missing term")
    result = one(expr, "dc/dx = 2 x")
    assert result.diagnosis.startswith("missing term: this is the path through a only; x also reaches c through b")


def test_path_through_named_intermediates_only():
    expr = "a = 2 x; b = a + x; f = b^2"  # paths x→a→b→f and x→b→f, the fan-out is at x
    result = one(expr, "df/dx = 4 b")  # 2b * 2: only the path through a
    assert result.diagnosis.startswith("missing term: this is the path through a only; x also reaches f through b")


def test_wrong_local_derivative():
    result = one(CIRCUIT, "df/dz = 2 q")  # f = q z, upstream df/df = 1 is known
    assert result.diagnosis == "wrong local derivative ∂f/∂z: your answer implies it is 2*q, but it is q"
    result = one(CIRCUIT, "df/dz = 6", CIRCUIT_AT)
    assert result.diagnosis == "wrong local derivative ∂f/∂z: your answer implies it is 6, but it is q = 3"
    report = verify(CIRCUIT, ["df/dq = z", "df/dx = 2 z"])  # df/dq claimed right: the local dq/dx is wrong
    assert report.claims[1].diagnosis.startswith("wrong local derivative ∂q/∂x: your answer implies it is 2")


def test_wrong_only_on_part_of_the_domain():
    result = one("abs(x)", "df/dx = 1")
    assert not result.ok and result.counterexample["point"]["x"] < 0
    assert one("abs(x)", "df/dx = 1", parse_point("x=2")).ok  # a number at a point where it holds


def test_first_wrong_step_in_backward_order():
    # upstream gradients at z, q, y, x (backward order): q has the sign error, x only carries it along
    report = verify(CIRCUIT, ["df/dx = -z", "df/dz = q", "df/dq = -z", "df/dy = -z"])
    assert not report.ok
    assert report.first_wrong == 2 and report.claims[2].node == "q"
    assert report.claims[0].diagnosis.startswith("carried forward: with your df/dq")
    assert report.claims[3].diagnosis.startswith("carried forward")


@pytest.mark.parametrize(("expr", "claim", "finding"), [
    ("log(x1 x2) sin(x2)", "df/dx2 = log(x1 x2) cos(x2)", Finding.MISSING_TERM),
    (CIRCUIT, "df/dx = -z", Finding.SIGN),
    ("q = x + y; r = x y; f = q r", "df/dx = r - q y", Finding.SIGN_IN_TERM),
    ("abs(x)", "df/dx = 1", Finding.WRONG_LOCAL),
    ("x abs(x)", "df/dx = 2 x", Finding.PART_OF_DOMAIN),
    ("x^2 + sin(x)", "df/dx = 7 x^5", Finding.WRONG),
])
def test_a_diagnosis_has_a_kind_to_decide_on(expr, claim, finding):
    result = one(expr, claim)
    assert not result.ok and result.finding is finding
    assert json.loads(json.dumps(verify(expr, [claim]).to_json()))["claims"][0]["finding"] == finding.value


def test_carried_forward_is_a_kind_not_a_prefix():
    report = verify(CIRCUIT, ["df/dx = -z", "df/dz = q", "df/dq = -z", "df/dy = -z"])
    assert [c.finding for c in report.claims] == [Finding.CARRIED_FORWARD, None, Finding.SIGN,
                                                  Finding.CARRIED_FORWARD]


def test_first_wrong_step_is_a_local_gradient():
    report = verify(CIRCUIT, ["df/dx = 2 z", "dq/dx = 2", "df/dq = z"])
    assert report.first_wrong == 1 and report.claims[1].node == "q"
    assert report.claims[0].diagnosis.startswith("carried forward: with your dq/dx")


def test_chain_of_numbers_on_the_lecture_network():
    # by hand: dE/dy = y - t = 0.1903; dE/dh1 = 0.1903 * y(1 - y) * w1 = 0.0122;
    # dE/dw3 = dE/dh1 * h1(1 - h1) * x1 = 0.0122 * 0.2175 * 0.35 = 0.00093: claimed with the wrong sign
    claims = ["dE/dy = 0.1903", "dE/dh1 = 0.0122", "dE/dw3 = -0.00093"]
    report = verify(NET, claims, NET_AT)
    assert [c.ok for c in report.claims] == [True, True, False]
    assert report.claims[2].diagnosis.startswith("sign error")


# --------------------------------------------------------------------------- products written y(1 - y)
LECTURE = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
           "E = (y - t)^2 / 2")
LECTURE_AT = "w1=0.1,w2=0.2,w3=0.3,w4=0.4,w5=0.5,w6=0.6,x1=0.35,x2=0.9,t=0.5"
PAREN_CLAIMS = [  # as the lecture notes write them, and the same with every product written out
    ("dE/dw5 = (y - t) y (1 - y) h1", "dE/dw5 = (y - t) * y * (1 - y) * h1"),
    ("dE/dw5 = (y - t)y(1 - y)h1", "dE/dw5 = (y - t) * y * (1 - y) * h1"),
    ("dE/dw1 = (y - t) y (1 - y) w5 h1 (1 - h1) x1", "dE/dw1 = (y - t) * y * (1 - y) * w5 * h1 * (1 - h1) * x1"),
    ("dE/dw1 = (y - t) y(1 - y) w5 h1(1 - h1) x1", "dE/dw1 = (y - t) * y * (1 - y) * w5 * h1 * (1 - h1) * x1"),
    ("dE/dw4 = (y - t) y(1 - y) w6 h2(1 - h2) x2", "dE/dw4 = (y - t) * y * (1 - y) * w6 * h2 * (1 - h2) * x2"),
    ("dE/dh1 = (y - t) y(1 - y) w5", "dE/dh1 = (y - t) * y * (1 - y) * w5"),
]


@pytest.mark.parametrize("claim, explicit", PAREN_CLAIMS)
def test_lecture_claims_with_products_before_parentheses(claim, explicit):
    graph = from_text(LECTURE)
    at = parse_point(LECTURE_AT)
    written, spelled = parse_claim(graph, claim), parse_claim(graph, explicit)
    assert sp.simplify(written.formula - spelled.formula) == 0
    # the claim's value at the point against graphlab's own backward pass
    point = {symbol(k): v for k, v in at.items()}
    wrt = claim.split("/d")[1].split(" ")[0]
    backprop = float(trace(graph, at).gradient[wrt]) if wrt in graph.graph["variables"] else None
    if backprop is not None:
        assert float(written.formula.xreplace(point)) == pytest.approx(backprop, rel=1e-12)
    result = one(graph, claim, at)
    assert result.ok and result.verdict == "right", result.diagnosis


@pytest.mark.parametrize("claim", ["dE/dw5 = (y - t) y (1 - y) h2", "dE/dw1 = (y - t) y(1 - y) w5 h1(1 - h1) x2",
                                   "dE/dw5 = (y - t) y (1 + y) h1"])
def test_wrong_lecture_claims_with_products_stay_wrong(claim):
    assert not one(LECTURE, claim, parse_point(LECTURE_AT)).ok


def test_cli_verifies_the_lecture_claims_end_to_end():
    r = subprocess.run([GRAPHLAB, "verify", LECTURE, "--at", LECTURE_AT,
                        "--claim", "dE/dw5 = (y - t) y (1 - y) h1",
                        "--claim", "dE/dw1 = (y - t) y (1 - y) w5 h1 (1 - h1) x1"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "✓ dE/dw5 = (y - t) y (1 - y) h1   right" in r.stdout
    assert "✓ dE/dw1 = (y - t) y (1 - y) w5 h1 (1 - h1) x1   right" in r.stdout
    assert "✗" not in r.stdout


def test_function_like_name_in_a_claim_names_its_column():
    claim = "dE/dw5 = (y - t) sigma(1 - sigma) h1"
    with pytest.raises(ParseError) as e:
        verify(LECTURE, [claim])
    assert "unknown function 'sigma': did you mean sigmoid or σ? (for a product write sigma * (...))" in str(e.value)
    assert e.value.column == claim.index("sigma") + 1
    r = subprocess.run([GRAPHLAB, "verify", LECTURE, "--claim", claim], capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: claim") and f"at column {claim.index('sigma') + 1}" in r.stderr


def test_a_claim_may_use_a_function_like_name_the_expression_assigns():
    # the lecture's σ(1 − σ), with the sigmoid's output named sigma in the expression
    expr = "sigma = σ(w x); E = (sigma - t)^2 / 2"
    result = one(expr, "dE/dw = (sigma - t) sigma(1 - sigma) x", parse_point("w=0.5,x=2,t=0.25"))
    assert result.ok and result.verdict == "right", result.diagnosis
    assert not one(expr, "dE/dw = (sigma - t) sigma(1 - sigma) w").ok


# --------------------------------------------------------------------------- bad input
@pytest.mark.parametrize("claim", ["df/dw = 1", "df/dx", "df/dx = ", "df/dx = z +", "df/dx = q; 1",
                                   "df/dx = __import__", "d f / d 2 = 1", "df/dx = w"])
def test_bad_claims_raise(claim):
    with pytest.raises(GraphlabError):
        verify(CIRCUIT, [claim])


def test_a_bad_formula_names_its_column_in_the_whole_claim():
    with pytest.raises(ParseError) as e:
        verify(CIRCUIT, ["df/dx = z +"])
    assert e.value.column == 12 and "column 12" in str(e.value)
    assert e.value.caret() == "df/dx = z +\n           ^"


# --------------------------------------------------------------------------- CLI
def test_cli_exit_codes_and_json(capsys):
    assert main(["verify", CIRCUIT, "--claim", "df/dx = z", "--claim", "df/dz = 3", "--at", "x=-2,y=5,z=-4"]) == 0
    assert "✓ df/dx = z" in capsys.readouterr().out
    assert main(["verify", LOGSIN, "--claim", "df/dx2 = log(x1 x2) cos(x2)", "--json"]) == 1
    out = json.loads(capsys.readouterr().out)
    assert out["ok"] is False
    claim = out["claims"][0]
    assert set(claim) >= {"claim", "ok", "expected", "expected_value", "counterexample", "diagnosis"}
    assert claim["expected"] == "log(x1*x2)*cos(x2) + sin(x2)/x2"
    assert out["first_wrong"]["node"] == "x2"
    assert main(["verify", CIRCUIT, "--claim", "df/dw = 1"]) == 2
    assert capsys.readouterr().err.startswith("error:")
    assert main(["verify", CIRCUIT]) == 2


# --------------------------------------------------------------------------- properties
_LEAVES = st.sampled_from(["x", "y", "2", "3", "0.5"])


@st.composite
def expressions(draw, depth=3):
    if depth == 0:
        return draw(_LEAVES)
    kind = draw(st.sampled_from(["leaf", "add", "sub", "mul", "fn", "pow"]))
    if kind == "leaf":
        return draw(_LEAVES)
    a = draw(expressions(depth=depth - 1))
    if kind == "fn":
        return f"{draw(st.sampled_from(['sin', 'cos', 'exp', 'tanh', 'σ']))}({a})"
    if kind == "pow":
        return f"({a})^{draw(st.sampled_from(['2', '3']))}"
    b = draw(expressions(depth=depth - 1))
    return f"({a}) {dict(add='+', sub='-', mul='*')[kind]} ({b})"


def _true_gradient(text):
    g = from_text(text)
    out = node_expr(g, g.graph["output"])
    return g, {v: sp.diff(out, symbol(v)) for v in g.graph["variables"]}


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions())
def test_property_true_gradient_always_verifies(text):
    g, grads = _true_gradient(text)
    if not grads:
        return
    claims = [f"d{g.graph['output']}/d{v} = {to_text(d)}" for v, d in grads.items()]
    report = verify(g, claims)
    assert report.ok, [(c.claim, c.diagnosis) for c in report.claims]


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.sampled_from(["+ 1", "- 0.5", "+ {v}", "+ sin({v})^2 + 0.1"]))
def test_property_perturbed_gradient_never_verifies(text, perturbation):
    g, grads = _true_gradient(text)
    if not grads:
        return
    claims = [f"d{g.graph['output']}/d{v} = ({to_text(d)}) {perturbation.format(v=v)}" for v, d in grads.items()]
    report = verify(g, claims)
    assert not any(c.ok for c in report.claims)
