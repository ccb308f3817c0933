"""`graphlab gradcheck` and the nudge: backprop against central differences computed here by hand
(math.sin, math.log, ...), derivatives worked by hand at kinks, and an op registered with a wrong
local rule, which the check must catch."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from hypothesis import assume, given
from test_trace import expressions, points, well_behaved

import graphlab as gl
from graphlab import ops
from graphlab.cli import main
from graphlab.gradcheck import DEFAULT_H, gradcheck, nudge
from graphlab.ops import Op

GRAPHLAB = shutil.which("graphlab") or str(Path(sys.executable).parent / "graphlab")


def run(*args):
    return subprocess.run([GRAPHLAB, *args], capture_output=True, text=True, timeout=120)


def central(g, x: float, h: float = DEFAULT_H) -> float:
    """Seed 004's (g(w0 + h) - g(w0 - h)) / 2h."""
    return (g(x + h) - g(x - h)) / (2 * h)


def test_the_central_difference_is_the_lectures():
    r = gradcheck(gl.from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3})
    x1, x2 = r.checks
    assert x1.central == pytest.approx(central(lambda a: math.log(a * 3) * math.sin(3), 2), rel=1e-12)
    assert x2.central == pytest.approx(central(lambda b: math.log(2 * b) * math.sin(b), 3), rel=1e-12)
    assert x1.backprop == pytest.approx(math.sin(3) / 2, rel=1e-14)  # sin(x2)/x1, by hand
    assert x2.backprop == pytest.approx(math.log(6) * math.cos(3) + math.sin(3) / 3, rel=1e-14)
    for c in r.checks:
        assert c.ok and c.status == "ok" and c.note == ""
        assert c.relative_error == pytest.approx(abs(c.backprop - c.central) / max(abs(c.backprop), abs(c.central)))
        assert c.relative_error < 1e-8
    assert r.ok and r.value == pytest.approx(math.log(6) * math.sin(3))


def test_a_wrong_local_rule_is_caught():
    # "wcube": a cube whose registered derivative forgets the factor 3 (a bug gradcheck exists for)
    op = Op("wcube", 1, "c", r"\operatorname{{wcube}}\left({0}\right)", lambda a: a**3, "a ** 3", ("a ** 2",))
    ops.register(op)
    try:
        r = gradcheck(gl.from_text("wcube(x) + y"), {"x": 2, "y": 1})
        x, y = r.checks
        assert x.backprop == 4 and x.central == pytest.approx(12, rel=1e-8)  # 3 x^2 at 2
        assert x.status == "off" and not x.ok and "differ by" in x.note
        assert x.relative_error == pytest.approx(8 / 12, rel=1e-6)
        assert y.ok and not r.ok
        assert main(["gradcheck", "wcube(x) + y", "--at", "x=2,y=1"]) == 1
    finally:
        ops.unregister("wcube")


@pytest.mark.parametrize("text, at, variable, node, one_sided", [
    ("relu(x) + x", {"x": 0}, "x", "v1", (2, 1)),  # relu at 0: slope 1 on the right, 0 on the left, plus x's 1
    ("abs(x) y", {"x": 0, "y": 2}, "x", "v1", (2, -2)),  # |x| y: slopes y and -y
    ("max(x, y) * 2", {"x": 1, "y": 1}, "x", "v1", (2, 0)),  # a tie: x wins to the right only
    ("3 relu(relu(x) - 1)", {"x": 1}, "x", "v3", (3, 0)),  # the outer relu is at its kink; the inner is not
])
def test_a_kink_fails_with_a_note_naming_the_node(text, at, variable, node, one_sided):
    r = gradcheck(gl.from_text(text), at)
    c = next(c for c in r.checks if c.variable == variable)
    assert c.status == "kink" and not c.ok and not r.ok and c.kink_node == node
    assert (c.forward_difference, c.backward_difference) == pytest.approx(one_sided, rel=1e-6)
    assert "kink" in c.note and f"node {node}" in c.note


def test_relu_at_zero_says_which_convention_backprop_used():
    c = gradcheck(gl.from_text("relu(x)"), {"x": 0}).checks[0]
    assert c.backprop == 1 and c.central == pytest.approx(0.5)  # relu'(0) = 1, the lecture's convention
    assert "relu'(0) = 1" in c.note


def test_a_jump_is_caught_too_and_a_point_away_from_the_kink_passes():
    assert gradcheck(gl.from_text("step(x) + x"), {"x": 0}).checks[0].status == "kink"
    assert gradcheck(gl.from_text("relu(x) + abs(x)"), {"x": 0.5}).ok
    assert gradcheck(gl.from_text("relu(x)"), {"x": -0.001}).ok


def test_a_kink_within_h_is_reported_and_a_smaller_h_settles_it():
    assert gradcheck(gl.from_text("abs(x)"), {"x": 1e-7}).checks[0].status == "kink"
    assert gradcheck(gl.from_text("abs(x)"), {"x": 1e-7}, h=1e-9).ok


def test_smooth_but_curved_is_not_a_kink():
    # 1/x near 0: the one-sided differences differ a lot, but ten times as much ten times wider
    c = gradcheck(gl.from_text("1/x"), {"x": 1e-3}).checks[0]
    assert c.status == "off"  # the central difference's error h^2 g'''/6 = 1e-10 * 6e12 / 6 = 100 is real
    assert c.central - c.backprop == pytest.approx(-100, rel=1e-3)
    assert gradcheck(gl.from_text("1/x"), {"x": 1e-3}, h=1e-8).ok


def test_non_finite_values_fail():
    c = gradcheck(gl.from_text("log(x)"), {"x": -1}).checks[0]
    assert c.status == "nonfinite" and not c.ok and "not finite" in c.note


@given(expressions(max_leaves=6), points)
def test_backprop_passes_on_random_smooth_points(text, point):
    g = gl.graph(text)
    point = {v: point[v] for v in g.graph["variables"]}
    t = gl.trace(g, point)
    assume(well_behaved(t) and all(abs(float(x)) < 1e3 for x in t.values.values()))
    # well inside every op's smooth region: no kink, no domain edge within 0.01
    for v in point:
        for k in (-1, 1):
            assume(well_behaved(gl.trace(g, {**point, v: point[v] + k * 0.01})))
    r = gradcheck(g, point, h=1e-6, rtol=1e-4, atol=1e-6)
    assume(all(c.status != "kink" for c in r.checks))  # a jump in a step() or a tie nearby
    for c in r.checks:
        assert c.status == "ok", (text, point, c)


def test_the_tolerances_decide():
    r = gradcheck(gl.from_text("x^2"), {"x": 3}, h=0.1, rtol=1e-3)
    assert r.checks[0].ok  # (3.1^2 - 2.9^2)/0.2 = 6 exactly for a parabola, up to rounding
    r = gradcheck(gl.from_text("x^3"), {"x": 1}, h=0.1, rtol=1e-3)
    assert r.checks[0].central == pytest.approx(3.01) and not r.ok  # (1.1^3 - 0.9^3)/0.2 = 3 + h^2
    assert gradcheck(gl.from_text("x^3"), {"x": 1}, h=0.1, rtol=1e-2).ok


# --------------------------------------------------------------------------- command line
def test_gradcheck_text():
    r = run("gradcheck", "(x+y)z", "--at", "x=-2,y=5,z=-4")
    assert r.returncode == 0, r.stderr
    lines = r.stdout.splitlines()
    assert lines[0] == "(x+y)z   at x = -2, y = 5, z = -4"
    assert lines[1] == "h = 1e-05; a check passes when the relative error is at most 1e-06 (or the difference " \
                       "at most 1e-08)"
    assert lines[3].split() == ["variable", "backprop", "central", "difference", "relative", "error", "check"]
    assert lines[4].split()[:3] == ["x", "-4", "-4"] and lines[4].endswith("✓")
    assert lines[-1] == "all 3 checks pass"


def test_gradcheck_at_a_kink_exits_1_with_a_note():
    r = run("gradcheck", "relu(x) + x", "--at", "x=0")
    assert r.returncode == 1, r.stderr
    assert "✗ kink" in r.stdout and "note: x = 0 is at a kink of relu at node v1" in r.stdout
    assert r.stdout.splitlines()[-1] == "1 of 1 checks fail"


def test_gradcheck_json():
    r = run("gradcheck", "abs(x) y", "--at", "x=0,y=2", "--json", "--h", "1e-4")
    assert r.returncode == 1, r.stderr
    out = json.loads(r.stdout)
    assert out["h"] == 1e-4 and out["rtol"] == 1e-6 and out["atol"] == 1e-8 and out["ok"] is False
    x, y = out["checks"]
    assert x["status"] == "kink" and x["kink_node"] == "v1" and x["ok"] is False
    assert (x["forward_difference"], x["backward_difference"]) == pytest.approx((2, -2))
    assert y["status"] == "ok" and y["backprop"] == 0 and y["central_difference"] == 0 and y["relative_error"] == 0
    assert set(x) >= {"variable", "backprop", "central_difference", "relative_error", "absolute_error", "note"}


@pytest.mark.parametrize("args, message", [
    (["x y", "--at", "x=1"], "no value for y: give it (--at y=...)"),
    (["x y", "--at", "x=1,y=2", "--h", "0"], "--h must be a positive number"),
    (["x y", "--at", "x=1,y=2", "--rtol", "-1"], "--rtol must be a positive number"),
    (["x y", "--at", "x=1,y=2", "--h", "tiny"], "invalid float value"),
    (["x y", "--at", "x=1,y=2,w=3"], "--at w: not a variable"),
    (["x +", "--at", "x=1"], "column"),
    (["sqrt(x)", "--at", "x=sqrt(-1)"], "--at x: I is not a real number"),
])
def test_gradcheck_bad_input_is_one_error_line(args, message):
    r = run("gradcheck", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr, r.stderr


# --------------------------------------------------------------------------- nudge
def test_a_nudge_changes_each_node_by_about_its_tangent_times_h():
    # f = x^2 y at x = 3, y = 2, x moved by h = 0.1: v1 = x^2 changes by 6.1 h (= 0.61) against
    # the prediction 2x h = 0.6; f by 0.61 y = 1.22 against 2xy h = 1.2: the difference is h^2 y.
    n = nudge(gl.from_text("x^2 y"), {"x": 3, "y": 2}, "x", 0.1)
    rows = {r.node: r for r in n.rows}
    assert rows["x"].change == pytest.approx(0.1) and rows["x"].predicted == pytest.approx(0.1)
    assert rows["y"].change == 0 and rows["y"].predicted == 0
    assert rows["v1"].change == pytest.approx(0.61) and rows["v1"].predicted == pytest.approx(0.6)
    assert rows["f"].nudged == pytest.approx(3.1**2 * 2) and rows["f"].predicted == pytest.approx(1.2)
    assert rows["f"].change - rows["f"].predicted == pytest.approx(0.1**2 * 2)


def test_a_nudge_of_a_linear_function_is_predicted_exactly():
    n = nudge(gl.from_text("q = x + y; f = q z"), {"x": -2, "y": 5, "z": -4}, "x", 0.5)
    for r in n.rows:
        assert r.change == pytest.approx(r.predicted, abs=1e-12)
    assert [r.node for r in n.rows] == ["x", "y", "q", "z", "f"]


def test_the_nudge_prediction_is_sympys_derivative():
    g = gl.from_text("sigmoid(w0 x0 + w1 x1 + w2)")
    at = {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}
    n = nudge(g, at, "w1", 1e-3)
    point = {sp.Symbol(k, real=True): v for k, v in at.items()}
    for r in n.rows:
        d = float(sp.diff(gl.node_expr(g, r.node), sp.Symbol("w1", real=True)).xreplace(point))
        assert r.predicted == pytest.approx(d * 1e-3, rel=1e-12, abs=1e-15)
        assert r.change == pytest.approx(r.predicted, rel=1e-2, abs=1e-6)
