"""Forward mode and the cost of the three ways to every gradient.

References: SymPy's ``diff`` of what each node computes, central differences, the reverse pass
(a separate walk: backward from the output), and multiplications counted by hand on the graph
the parser builds (binary + and *, left to right; a constant exponent is an operand no variable
reaches). Every count is of multiplications by a local gradient, a product of k factors costing
k - 1 (so the seed 1 is no factor).
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import sympy as sp
from hypothesis import assume, given
from test_trace import expressions, points, well_behaved

import graphlab as gl
from graphlab.arithmetic import symbol
from graphlab.cost import cost, count_json, count_text
from graphlab.explain import explain
from graphlab.forward import ForwardTrace, forward_trace
from graphlab.render import to_dot

GRAPHLAB = shutil.which("graphlab") or str(Path(sys.executable).parent / "graphlab")
LECTURE = {"x": -2, "y": 5, "z": -4}
NETWORK = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
           "E = (y - t)^2 / 2")
NETWORK_AT = {"w1": 0.1, "w2": 0.2, "w3": 0.3, "w4": 0.4, "w5": 0.5, "w6": 0.6, "x1": 0.35, "x2": 0.9, "t": 0.5}


def run(*args):
    return subprocess.run([GRAPHLAB, *args], capture_output=True, text=True, timeout=120)


# --------------------------------------------------------------------------- tangents
def test_the_lecture_example_by_hand():
    # q = x + y, f = q z: ∂q/∂x = 1, ∂f/∂x = z ∂q/∂x = -4; ∂f/∂z = q = 3
    g = gl.from_text("q = x + y; f = q z")
    t = forward_trace(g, LECTURE, "x")
    assert t.tangents == {"x": 1, "y": 0, "q": 1, "z": 0, "f": -4}
    assert t.gradient == {"x": -4} and t.output == -12 and t.grads == {}
    assert forward_trace(g, LECTURE, "z").tangents == {"x": 0, "y": 0, "q": 0, "z": 1, "f": 3}
    assert [s.phase for s in t.steps] == ["forward"] * 5 and [s.node for s in t.steps] == list(g)
    f = t.steps[-1]
    assert [(e.input, e.local, e.tangent, e.product) for e in f.terms] == [("q", -4, 1, -4)]  # z: no term


def test_a_node_used_twice_sums_its_terms():
    # w = log(x1 x2) sin(x2): ∂w/∂x2 = sin(x2)·(1/(x1 x2))·x1 + log(x1 x2)·cos(x2)
    t = forward_trace(gl.from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3}, "x2")
    f = t.steps[-1]
    assert len(f.terms) == 2
    assert f.terms[0].product == pytest.approx(math.sin(3) / 3)
    assert f.terms[1].product == pytest.approx(math.log(6) * math.cos(3))
    assert f.tangent == pytest.approx(math.sin(3) / 3 + math.log(6) * math.cos(3))


def test_exact_tangents_are_sympy_derivatives():
    g = gl.from_text(NETWORK)
    at = {k: sp.Rational(repr(v)) for k, v in NETWORK_AT.items()}
    for wrt in ("w1", "x2", "t"):
        t = forward_trace(g, at, wrt, mode="exact")
        for node in g:
            reference = sp.diff(gl.node_expr(g, node), symbol(wrt)).xreplace({symbol(k): v for k, v in at.items()})
            assert sp.simplify(t.tangents[node] - reference) == 0, (wrt, node)


def test_a_variable_with_no_value_keeps_the_tangent_symbolic():
    t = forward_trace(gl.from_text("(x+y)z"), {"x": 1}, "x", mode="exact")
    assert t.gradient == {"x": symbol("z")} and t.missing == ("y", "z")
    float_mode = forward_trace(gl.from_text("(x+y)z"), {"x": 1}, "x")
    assert float_mode.tangents["f"] is None and float_mode.tangents["x"] == 1


@given(expressions(), points)
def test_forward_tangents_equal_reverse_gradients_sympy_and_central_differences(text, point):
    g = gl.graph(text)
    point = {v: point[v] for v in g.graph["variables"]}
    reverse = gl.trace(g, point)
    assume(well_behaved(reverse))
    out = g.graph["output"]
    subs = {symbol(v): sp.Float(p, 30) for v, p in point.items()}
    for v in point:
        t = forward_trace(g, point, v)
        assert not t.nonfinite
        assert t.gradient[v] == pytest.approx(reverse.gradient[v], rel=1e-9, abs=1e-12), "forward vs reverse"
        for node in g:  # every tangent, not only the output's
            want = complex(sp.diff(gl.node_expr(g, node), symbol(v)).subs(subs).evalf(30)).real
            assert t.tangents[node] == pytest.approx(want, rel=1e-7, abs=1e-9), f"∂{node}/∂{v} vs SymPy diff"
        h = 1e-6 * max(1.0, abs(point[v]))
        up = gl.trace(g, {**point, v: point[v] + h})
        down = gl.trace(g, {**point, v: point[v] - h})
        assume(well_behaved(up) and well_behaved(down))
        central = (float(up.output) - float(down.output)) / (2 * h)
        assert t.gradient[v] == pytest.approx(central, rel=1e-4, abs=1e-5), "forward vs central difference"
        assert forward_trace(g, point, v).tangents[out] == t.gradient[v]


def test_forward_mode_refuses_what_it_cannot_do():
    g = gl.from_text("(x+y)z")
    with pytest.raises(gl.GraphlabError, match="w: not a variable"):
        forward_trace(g, LECTURE, "w")
    with pytest.raises(gl.GraphlabError, match="names no variable"):
        forward_trace(g, LECTURE)
    with pytest.raises(gl.GraphlabError, match="q: not a variable"):
        forward_trace(g, {"q": 1}, "x")


def test_a_long_chain_is_no_problem():
    chain = gl.graph("; ".join(["q0 = x"] + [f"q{i} = sin(q{i - 1})" for i in range(1, 3000)]))
    t = forward_trace(chain, {"x": 0.5}, "x")
    assert t.gradient["x"] == pytest.approx(gl.trace(chain, {"x": 0.5}).gradient["x"], rel=1e-12)


# --------------------------------------------------------------------------- what the views show
def test_explain_writes_the_tangent_sum_at_each_step():
    t = forward_trace(gl.from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3}, "x2")
    texts = [e.text for e in explain(t)]
    assert texts[0] == "x1 = 2\n∂x1/∂x2 = 0 [another input]"
    assert texts[1] == "x2 = 3\n∂x2/∂x2 = 1 [the seed]"
    assert texts[2].endswith("∂v1/∂x2 = ∂v1/∂x2 · ∂x2/∂x2 = (x1)(1) = (2)(1) = 2")
    assert texts[3].endswith("∂v2/∂x2 = ∂v2/∂v1 · ∂v1/∂x2 = (1/v1)(2) = (0.1667)(2) = 0.3333")
    assert texts[5].endswith("∂f/∂x2 = ∂f/∂v2 · ∂v2/∂x2 + ∂f/∂v3 · ∂v3/∂x2 = (v3)(0.3333) + (v2)(-0.99) "
                             "= (0.1411)(0.3333) + (1.792)(-0.99) = 0.04704 + (-1.774) = -1.727")
    latex = explain(t)[5].latex
    assert r"\frac{\partial f}{\partial x_{2}}" in latex and "0.04704" in latex


def test_a_node_the_input_does_not_reach_says_so():
    t = forward_trace(gl.from_text("q = y^2; f = q + x"), {"x": 1, "y": 3}, "x")
    q = next(e for e in explain(t) if e.node == "q")
    assert q.text.endswith("∂q/∂x = 0 [it does not depend on x]")


def test_the_diagram_writes_tangents_and_the_terms_of_the_visited_node():
    g = gl.from_text("q = x + y; f = q z")
    t = forward_trace(g, LECTURE, "x")
    dot = to_dot(g, t, 4).source  # the last step: f = q z
    assert "∂x/∂x = 1" in dot and "∂y/∂x = 0" in dot
    assert "∂f/∂q = -4" in dot and "-4 × 1</font><br/><font color=\"#c62828\">= -4" in dot  # local × tangent at f
    assert "∂f/∂x = -4" in dot  # the output's tangent, on the arrow leaving f
    active = {line.split("[")[0].strip() for line in dot.splitlines() if 'class=active' in line}
    assert active == {"q -> f"}  # the edge whose term f sums; z's tangent is 0 by structure: no term
    early = to_dot(g, t, 1).source  # after y: q not computed yet
    assert "∂y/∂x = 0" in early and "∂q/∂x" not in early
    record = to_dot(g, t, None, "record").source
    assert "∂/∂x -4" in record


def test_trace_is_a_forward_trace_with_a_summary():
    t = forward_trace(gl.from_text("(x+y)z"), LECTURE, "y")
    assert isinstance(t, ForwardTrace) and "∂f/∂y = -4" in repr(t)


# --------------------------------------------------------------------------- cost, counted by hand
COUNTS = [
    # (expression, reverse, forward per input, paths, path products)
    # (x+y)z: edges x→+, y→+, +→*, z→*; the two into the output multiply the seed 1.
    ("(x+y)z", 2, {"x": 1, "y": 1, "z": 0}, 3, 2),
    # log(x1 x2) sin(x2): edges x1→*, x2→*, *→log, x2→sin, log→*, sin→*; paths x1·log·f (2 mult.),
    # x2·log·f (2), x2·sin·f (1).
    ("log(x1 x2) sin(x2)", 4, {"x1": 2, "x2": 3}, 3, 5),
    # σ(w0 x0 + w1 x1 + w2): two products, two sums, σ: 9 edges, one into the output
    ("sigmoid(w0 x0 + w1 x1 + w2)", 8, {"w0": 3, "x0": 3, "w1": 3, "x1": 3, "w2": 1}, 5, 13),
    # (y - x θ)^2: x θ, y - ·, ^2 (the exponent 2 is a constant)
    ("(y - x theta)^2", 4, {"y": 1, "x": 2, "theta": 2}, 3, 5),
    # seed 004's network: 25 edges a variable reaches (4 products, 2 sums, σ per hidden neuron; 2
    # products, a sum, σ at y; y - t, ^2, /2), one into E. Forward: w1..w4 each pass through 8 edges
    # after their own (into the sum, σ, w5 h1, the sum, σ, y - t, ^2, /2), x1 and x2 through 12
    # (both neurons), w5 and w6 through 5, t through 2: 4·8 + 2·12 + 2·5 + 2 = 68. Paths: one per
    # weight, two per input, one for t: 11; w1's has 9 factors (8 multiplications), x1's two 16,
    # w5's 5, t's 2: 4·8 + 2·16 + 2·5 + 2 = 76.
    (NETWORK, 24, {"w1": 8, "x1": 12, "w2": 8, "x2": 12, "w3": 8, "w4": 8, "w5": 5, "w6": 5, "t": 2}, 11, 76),
]


@pytest.mark.parametrize("text, reverse, forward, paths, products", COUNTS, ids=[c[0][:30] for c in COUNTS])
def test_the_lecture_examples_cost_what_a_hand_count_gives(text, reverse, forward, paths, products):
    c = cost(gl.from_text(text))
    assert (c.reverse, c.forward, c.paths, c.path_products) == (reverse, forward, paths, products)
    assert c.forward_total == sum(forward.values())


def layer(d: int, m: int) -> str:
    """One dense layer, d inputs and m sigmoid neurons, summed into a scalar: h_j = σ(Σ_i w_ij x_i)."""
    neurons = [f"h{j} = sigmoid({' + '.join(f'w{i}_{j} x{i}' for i in range(1, d + 1))})" for j in range(1, m + 1)]
    return "; ".join([*neurons, f"E = {' + '.join(f'h{j}' for j in range(1, m + 1))}"])


def test_an_mlp_layer_costs_what_a_hand_count_gives():
    # 3 inputs, 2 neurons, E = h1 + h2. Per neuron: 3 products (6 edges), 2 sums (4), σ (1) = 11 edges;
    # E's sum 2: 24 edges, 2 into the output, so reverse = 22. Forward: w1_j, w2_j pass through
    # product → sum → sum → σ → E (4 edges after their own), w3_j through 3: 11 per neuron, 22 for
    # the weights; x1 and x2 feed both neurons (4 + 4 each), x3 (3 + 3): 22. So 44 in all, twice
    # reverse's. No path is shared between inputs' passes here, so the path products cost the same
    # 44, over 6 weight paths and 2 per input: 12 paths.
    c = cost(gl.from_text(layer(3, 2)))
    assert (c.reverse, c.forward_total, c.paths, c.path_products) == (22, 44, 12, 44)
    assert c.forward == {"w1_1": 4, "x1": 8, "w2_1": 4, "x2": 8, "w3_1": 3, "x3": 6, "w1_2": 4, "w2_2": 4,
                         "w3_2": 3}
    # 784 inputs, 10 neurons: reverse grows with the edges, forward with edges × inputs
    big = cost(gl.from_text(layer(784, 10)))
    assert big.reverse == 4 * 784 * 10 + 10 - 4  # every edge once, less the two into the output
    assert big.forward_total > 100 * big.reverse


def test_paths_explode_where_reverse_mode_reuses():
    # q_i = q_{i-1} q_{i-1}, n times: 2n edges (two into the output), 2^n paths of n factors each
    n = 40
    c = cost(gl.graph("; ".join(["q0 = x"] + [f"q{i} = q{i - 1} * q{i - 1}" for i in range(1, n + 1)])))
    assert c.reverse == 2 * n - 2 and c.forward == {"x": 2 * n - 2}
    assert c.paths == 2**n and c.path_products == 2**n * (n - 1)
    assert count_text(c.path_products) == "42,880,953,483,264" and count_text(12345) == "12,345"
    assert count_json(2**60) == "1.2e+18" and count_json(7) == 7
    huge = cost(gl.graph("; ".join(["q0 = x"] + [f"q{i} = q{i - 1} * q{i - 1}" for i in range(1, 5001)])))
    assert count_text(huge.paths) == "1.4e+1505"


def test_the_counts_are_the_multiplications_the_passes_make():
    """The walks themselves: reverse's Edge records off the seed, forward's terms off the seed."""
    g = gl.from_text(NETWORK)
    c = cost(g)
    t = gl.trace(g, NETWORK_AT)
    assert c.reverse == sum(len(s.edges) for s in t.backward_steps if s.node != "E")
    for v in g.graph["variables"]:
        f = forward_trace(g, NETWORK_AT, v)
        assert c.forward[v] == sum(1 for s in f.steps for e in s.terms if e.input != v)


# --------------------------------------------------------------------------- the command line
def test_grad_forward_json_has_tangents_equal_to_reverse():
    r = run("grad", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--mode", "forward", "--wrt", "x2", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["differentiation"] == "forward" and out["wrt"] == "x2"
    assert out["gradient"]["x2"] == pytest.approx(math.log(6) * math.cos(3) + math.sin(3) / 3, rel=1e-12)
    assert out["tangents"]["v1"] == 2 and out["tangents"]["x1"] == 0
    last = out["steps"][-1]
    assert [term["input"] for term in last["terms"]] == ["v2", "v3"]
    assert last["terms"][0]["formula"] == "v3" and last["tangent"] == out["gradient"]["x2"]
    assert out["cost"]["reverse"] == 4 and out["cost"]["forward"] == 5 and out["cost"]["path_products"] == 5
    reverse = json.loads(run("grad", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--json").stdout)
    assert reverse["gradient"]["x2"] == pytest.approx(out["gradient"]["x2"], rel=1e-12)
    assert reverse["cost"] == out["cost"]


def test_grad_forward_exact_json_adds_strings():
    out = json.loads(run("grad", "x^2 y", "--at", "x=1/3,y=2", "--mode", "forward", "--wrt", "x", "--exact",
                         "--json").stdout)
    assert out["tangents_exact"]["f"] == "4/3"


def test_grad_forward_text():
    r = run("grad", "q = x + y; f = q z", "--at", "x=-2,y=5,z=-4", "--mode", "forward", "--wrt", "x")
    assert r.returncode == 0, r.stderr
    assert "node  op   inputs  value  ∂node/∂x" in r.stdout
    assert "∂f/∂x = z = -4" in r.stdout
    assert "  one reverse pass                   2" in r.stdout


@pytest.mark.parametrize("args, message", [
    (["--mode", "forward"], "--mode forward needs --wrt"),
    (["--wrt", "x"], "--wrt is for --mode forward"),
    (["--mode", "forward", "--wrt", "w"], "--wrt w: not a variable"),
    (["--mode", "forward", "--wrt", "x", "--form", "delta"], "--form delta"),
    (["--mode", "sideways"], "invalid choice"),
])
def test_grad_forward_bad_input_is_one_error_line(args, message):
    r = run("grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", *args)
    assert r.returncode == 2 and r.stdout == ""
    assert r.stderr.startswith("error: ") and r.stderr.count("\n") == 1 and message in r.stderr


def test_explain_and_draw_in_forward_mode(tmp_path):
    r = run("explain", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--mode", "forward", "--wrt", "z")
    assert r.returncode == 0, r.stderr
    assert "∂f/∂z = ∂f/∂z · ∂z/∂z = (v1)(1) = (3)(1) = 3" in r.stdout
    r = run("draw", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--mode", "forward", "--wrt", "z", "--step", "5",
            "-o", str(tmp_path / "f.dot"))
    assert r.returncode == 0, r.stderr
    assert "3 × 1</font><br/><font color=\"#c62828\">= 3<" in (tmp_path / "f.dot").read_text()  # two lines


def test_the_tangent_arithmetic_runs_through_the_one_evaluator():
    from graphlab.arithmetic import Tangent
    from graphlab.evaluate import evaluate
    from graphlab.program import program

    g = gl.from_text("(x+y)z")
    run_ = evaluate(program(g), Tangent("y"), LECTURE, backward=False)
    assert run_.values["f"].tangent == -4 and run_.grads == {}
    with pytest.raises(NotImplementedError):
        evaluate(program(g), Tangent("y"), LECTURE)
    bad = forward_trace(gl.from_text("log(x) + 1/y"), {"x": -1, "y": 0}, "y")
    assert np.isnan(bad.values["v1"]) and bad.nonfinite == {"v1": ["value"], "v2": ["value", "tangent"],
                                                            "f": ["value", "tangent"]}


def test_the_tangent_table_shows_what_is_known_at_a_step():
    from graphlab.present import tangent_table

    t = forward_trace(gl.from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3}, "x2", mode="exact")
    table = tangent_table(t, 3, compact=True)  # after v2 = log(v1): ∂v2/∂x2 = (1/6)·2 = 1/3
    assert table.columns == ("", "node", "op", "inputs", "value", "∂node/∂x2")
    rows = {r[1]: r for r in table.rows}
    assert rows["v2"][0] == "▶" and rows["v2"][5] == "1/3" and rows["v1"][4:] == ("6", "2")
    assert rows["v3"][4:] == ("", "")  # not reached yet
