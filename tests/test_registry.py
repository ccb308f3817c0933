"""The op registry is the single source: an op registered at run time, with no other change, is
parsed, traced (float and exact), compiled, drawn, explained, verified and exported to TikZ.

References are independent of graphlab's own rules: SymPy's ``diff`` of the op's SymPy
definition, and central finite differences of the traced forward values.
"""

from __future__ import annotations

import numpy as np
import pytest
import sympy as sp

import graphlab
from graphlab import ops
from graphlab.errors import ParseError
from graphlab.export import save
from graphlab.ops import FUNCTIONS, OPS, Op

# A made-up op: nothing in graphlab names it. Its alias is outside ASCII, as σ is for sigmoid.
CUBE = Op("cube", 1, "³", r"\operatorname{{cube}}\left({0}\right)", lambda a: a**3, "a ** 3", ("3 * a ** 2",),
          aliases=("κύβος",), tikz=r"(\cdot)^{3}")
TEXT = "q = cube(x y); f = q + sin(x)"
X, Y = sp.symbols("x y", real=True)
REFERENCE = CUBE.sym(X * Y) + sp.sin(X)  # the expression, from the op's SymPy definition only
POINT = {"x": 0.7, "y": -1.3}


@pytest.fixture
def cube():
    before_ops, before_functions = dict(OPS), dict(FUNCTIONS)
    ops.register(CUBE)
    yield CUBE
    ops.unregister("cube")
    assert OPS == before_ops and FUNCTIONS == before_functions


def reference_at(expr: sp.Expr, point: dict) -> float:
    return float(expr.subs({X: point["x"], Y: point["y"]}))


def test_it_parses_under_its_name_and_its_alias(cube):
    g = graphlab.from_text("cube(x) + x")
    assert [d["op"] for _, d in g.nodes(data=True) if d["kind"] == "op"] == ["cube", "add"]
    assert graphlab.node_expr(g, g.graph["output"]) == X**3 + X
    alias = graphlab.from_text("κύβος(x) + x")
    assert [d.get("op") for _, d in alias.nodes(data=True)] == [d.get("op") for _, d in g.nodes(data=True)]
    with pytest.raises(ParseError, match="cannot assign to the function name 'cube'"):
        graphlab.from_text("cube = x")


def test_float_trace_against_sympy_diff_and_finite_differences(cube):
    g = graphlab.from_text(TEXT)
    t = graphlab.trace(g, POINT)
    assert t.output == pytest.approx(reference_at(REFERENCE, POINT), rel=1e-12)
    h = 1e-6
    for v, s in (("x", X), ("y", Y)):
        assert t.gradient[v] == pytest.approx(reference_at(sp.diff(REFERENCE, s), POINT), rel=1e-12)
        up, down = dict(POINT), dict(POINT)
        up[v] += h
        down[v] -= h
        central = (graphlab.trace(g, up).output - graphlab.trace(g, down).output) / (2 * h)
        assert t.gradient[v] == pytest.approx(central, rel=1e-7)
    # the local gradient as a formula, in the operands' labels: d q / d v1 = 3 v1^2
    q = g.graph["aliases"].get("q", "q")
    operand = graphlab.build.symbol(g.nodes[g.nodes[q]["args"][0]]["label"])
    assert graphlab.local_formula(g, q, 0) == sp.diff(CUBE.sym(operand), operand)


def test_exact_trace_equals_sympy(cube):
    g = graphlab.from_text(TEXT)
    point = {"x": sp.Rational(3, 2), "y": sp.Rational(-2, 3)}
    t = graphlab.trace(g, point, mode="exact")
    subs = {X: point["x"], Y: point["y"]}
    assert sp.simplify(t.output - REFERENCE.subs(subs)) == 0
    for v, s in (("x", X), ("y", Y)):
        assert sp.simplify(t.gradient[v] - sp.diff(REFERENCE, s).subs(subs)) == 0
    assert t.values["q"] == sp.Integer(-1)  # (3/2 · -2/3)^3, exactly


def test_compiled_agrees_with_the_trace(cube):
    g = graphlab.from_text(TEXT)
    t = graphlab.trace(g, POINT)
    out, grads = graphlab.compile_graph(g)(POINT)
    assert float(out) == pytest.approx(t.output, rel=1e-12)
    for v in ("x", "y"):
        assert float(grads[v]) == pytest.approx(t.gradient[v], rel=1e-12)
    xs = np.linspace(-1, 1, 5)  # and on arrays
    out, grads = graphlab.compile_graph(g)({"x": xs, "y": 2.0})
    np.testing.assert_allclose(out, [reference_at(REFERENCE, {"x": x, "y": 2.0}) for x in xs], rtol=1e-12)
    np.testing.assert_allclose(grads["x"], [reference_at(sp.diff(REFERENCE, X), {"x": x, "y": 2.0}) for x in xs],
                               rtol=1e-12)


def test_it_is_drawn_with_its_symbol(cube, tmp_path):
    g = graphlab.from_text(TEXT)
    t = graphlab.trace(g, POINT)
    assert "label=<³>" in graphlab.to_dot(g).source  # the circle's text
    svg = save(tmp_path / "cube.svg", g, t).read_text()
    assert "<svg" in svg and ("³" in svg or "&#179;" in svg)


def test_it_is_explained_with_its_name_and_latex(cube):
    t = graphlab.trace(graphlab.from_text(TEXT), POINT)
    forward_q = next(e for e in graphlab.explain(t) if e.phase == "forward" and e.node == "q")
    assert "cube(" in forward_q.text
    assert r"\operatorname{cube}" in forward_q.latex and r"\operatorname{cube}" in forward_q.markdown


def test_it_is_exported_to_tikz_with_its_symbol(cube, tmp_path):
    g = graphlab.from_text(TEXT)
    tex = save(tmp_path / "cube.tex", g, graphlab.trace(g, POINT)).read_text()
    assert r"\begin{tikzpicture}" in tex and r"{$(\cdot)^{3}$}" in tex


def test_a_derivative_claim_is_verified_against_its_definition(cube):
    report = graphlab.verify("f = cube(x) + x", ["df/dx = 3 x^2 + 1", "df/dx = 3 x^2"], at={"x": 2})
    assert [c.ok for c in report.claims] == [True, False]


def test_registering_is_undone_and_names_cannot_clash():
    g = graphlab.from_text("cube(x)")  # no longer a function: a name before '(' is a product
    assert [d["op"] for _, d in g.nodes(data=True) if d["kind"] == "op"] == ["mul"]
    with pytest.raises(ParseError, match="unknown function 'cube'"):
        graphlab.from_text("cube(x, 2)")
    with pytest.raises(ParseError, match="unexpected character"):
        graphlab.from_text("κύβος(x)")
    with pytest.raises(ValueError, match="taken"):
        ops.register(Op("sin", 1, "s", "{0}", sp.sin, "xp.sin(a)", ("xp.cos(a)",)))
    with pytest.raises(ValueError, match="taken"):
        ops.register(Op("sigma2", 1, "s", "{0}", sp.sin, "xp.sin(a)", ("xp.cos(a)",), aliases=("σ",)))
    with pytest.raises(ValueError, match="cannot be written"):
        ops.register(Op("bad", 1, "s", "{0}", sp.sin, "xp.sin(a)", ("xp.cos(a)",), aliases=("x y",)))
    assert "sigma2" not in OPS and "bad" not in OPS


def test_every_op_is_described_by_its_entry_alone():
    """What used to be tables beside the registry, now read from it (σ, neg's sign, TikZ, from_sympy)."""
    assert FUNCTIONS["σ"] == "sigmoid" and "neg" not in FUNCTIONS and "add" not in FUNCTIONS
    # a tensor op is called by name only where the entry says so (mse(Yhat, Y)); the MLPs' own are not
    assert all(OPS[name].callable for name in FUNCTIONS.values() if OPS[name].tensor)
    assert {"mse", "sum", "mean"} <= set(FUNCTIONS) and "bias_add" not in FUNCTIONS and "matmul" not in FUNCTIONS
    heads = ops.sympy_heads()
    assert heads[sp.sin] == "sin" and heads[sp.Add] == "add" and heads[sp.Max] == "max"
    assert "sub" not in heads.values() and "relu" not in heads.values()  # a - b and Max(0, a) are not Add, Max
    a, b = sp.symbols("a b", real=True)
    for func, name in heads.items():  # from_sympy reads SymPy's tree as the op whose definition it is
        args = (a,) if OPS[name].arity == 1 else (a, b)
        assert OPS[name].sym(*args) == func(*args)


def test_sympy_heads_follow_register_and_unregister():
    """sympy_heads() is built once per registry: registering or removing an op starts it anew."""
    erf = Op("erf_test", 1, "erf", r"\operatorname{{erf}}\left({0}\right)", sp.erf, "a", ("1",))
    assert sp.erf not in ops.sympy_heads()
    ops.register(erf)
    try:
        assert ops.sympy_heads()[sp.erf] == "erf_test"
    finally:
        ops.unregister("erf_test")
    assert sp.erf not in ops.sympy_heads() and ops.sympy_heads()[sp.sin] == "sin"
