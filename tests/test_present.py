"""What people read: formulas in the input language, numbers, the rows of the front ends' tables, and graphs
and traces in a REPL or notebook.

The formula printer's reference is graphlab's own parser and SymPy: printed text must parse back
to an expression SymPy finds equal to the one printed. The tables' references are the lecture's
numbers, worked by hand."""

import xml.etree.ElementTree as ET

import networkx as nx
import pytest
import sympy as sp
from hypothesis import assume, given
from hypothesis import strategies as st

import graphlab as gl
from graphlab.build import from_text, node_expr, symbol
from graphlab.errors import GraphlabError
from graphlab.ops import OPS
from graphlab.present import descent_table, equation, formula, node_table, number, report_lines
from graphlab.trace import gradient_exprs, local_formula

OUTSIDE_THE_LANGUAGE = (sp.sign, sp.Heaviside, sp.Piecewise)  # derivatives of abs, relu, max, min: no syntax


def reads_back(expr: sp.Expr) -> sp.Expr:
    """Print ``expr``, parse the text with graphlab's parser, and return what the graph computes."""
    text = formula(expr)
    assert "**" not in text, text
    g = from_text(text)
    return node_expr(g, g.graph["output"])


def same(a: sp.Expr, b: sp.Expr) -> bool:
    a = a.replace(sp.Function("sigma"), OPS["sigmoid"].sym)  # σ(z) in local formulas is the sigmoid
    return a == b or sp.simplify(a - b) == 0


@pytest.mark.parametrize("text", [
    "x^2", "x^-2", "x^(1/3)", "2^x", "x^x", "-x^2", "(x+y)^(x y)", "e^x", "sqrt(x)", "1/sqrt(x)", "x^y^2",
    "log(x1 x2) sin(x2)", "σ(w0 x0 + w1 x1 + w2)", "softplus(x) tanh(y)", "abs(x) + max(x, y) - min(x, 2)",
    "atan(x/y) + asin(x) acos(y)", "pi x / 3 + 0.35", "1/2 (y - t)^2", "exp(-x)/(1 + exp(-x))^2",
])
def test_formulas_print_in_the_input_language_and_parse_back(text):
    g = from_text(text)
    exprs = [node_expr(g, g.graph["output"])]
    exprs += [e for e in (gradient_exprs(g) or {}).values() if not e.has(*OUTSIDE_THE_LANGUAGE)]
    exprs += [local_formula(g, n, i) for n, d in g.nodes(data=True) if d["kind"] == "op"
              for i in range(len(d["args"]))]
    for expr in exprs:
        if not expr.has(*OUTSIDE_THE_LANGUAGE):
            assert same(expr, reads_back(expr)), (expr, formula(expr))


def test_the_printer_writes_powers_with_a_caret():
    x, y = symbol("x"), symbol("y")
    assert formula(3 * x**2 * y) == "3*x^2*y"
    assert formula(sp.E * y) == "e*y" and formula(sp.Abs(y)) == "abs(y)"
    assert formula(sp.Function("sigma")(x)) == "σ(x)"
    assert formula(sp.Max(x, y, 0)) == "max(max(0, x), y)"  # the language's max is binary


VARS = ["x", "y"]


@st.composite
def random_expressions(draw, depth=3):
    if depth == 0 or draw(st.booleans()):
        return draw(st.sampled_from([*VARS, "2", "3", "0.5", "e", "pi"]))
    op = draw(st.sampled_from([op for op in OPS.values() if not op.tensor]))
    args = [draw(random_expressions(depth - 1)) for _ in range(op.arity or 2)]
    if op.infix:
        return f"({args[0]}) {op.infix} ({args[1]})"
    return f"-({args[0]})" if op.name == "neg" else f"{op.name}({', '.join(args)})"


@given(random_expressions())
def test_random_formulas_read_back_equal(text):
    g = from_text(text)
    try:
        exprs = [node_expr(g, g.graph["output"]), *(gradient_exprs(g) or {}).values()]
    except (ValueError, GraphlabError):  # SymPy refuses max(0, asin(2)): not comparable; nothing to print
        exprs = []
    assume(exprs)
    for expr in exprs:
        if expr.has(*OUTSIDE_THE_LANGUAGE, sp.zoo, sp.oo, sp.nan, sp.I):
            continue
        assert same(expr, reads_back(expr)), (text, expr, formula(expr))


def test_an_equation_never_repeats_a_side():
    assert equation("∂f/∂x", "0", "0") == "∂f/∂x = 0"
    assert equation("∂f/∂x", "z", "-4") == "∂f/∂x = z = -4"
    assert equation("∂f/∂y", "x", "") == "∂f/∂y = x"
    assert number(sp.Rational(1, 4), exact=True) == "1/4 ≈ 0.25" and number(symbol("x") ** 2) == "x^2"


# --------------------------------------------------------------------------- numbers and tables
def test_one_number_formatter_for_every_display():
    assert number(-0.0) == "0" and number(2.5) == "2.5" and number(1 / 3, digits=4) == "0.3333"
    assert number(float("inf")) == "inf" and number(float("nan")) == "nan" and number(sp.oo) == "inf"
    theta1 = sp.Rational(148, 25)  # 6 - 0.08, the lecture's first update
    assert number(theta1, exact=True, digits=10) == "148/25 ≈ 5.92" and number(theta1) == "5.92"
    assert number(theta1, compact=True, digits=4) == "148/25"  # a diagram's label keeps a short fraction
    assert number(sp.Rational(1, 3_000_000), compact=True, digits=4) == "3.333e-07"  # a long one is a decimal
    lecture = sp.log(6) * sp.sin(3)  # log(6) sin(3) = 1.791759 * 0.141120 = 0.252853
    assert number(lecture, exact=True) == "log(6)*sin(3) ≈ 0.252853"
    assert number(lecture, compact=True, digits=4) == "0.2529"
    assert number(None) == "?" and number(None, compact=True) == ""  # no number; in a label, nothing
    assert number(symbol("y") * 2) == "2*y"


def column(table, name):
    (i,) = [k for k, c in enumerate(table.columns) if c == name]
    return [row[i] for row in table.rows]


def test_the_node_table_shows_what_is_known_at_each_step():
    # the lecture: x = -2, y = 5, z = -4; q = x + y = 3, f = q z = -12; df/dq = z = -4, df/dz = q = 3
    t = gl.trace(gl.graph("(x+y)z"), x=-2, y=5, z=-4)
    assert column(node_table(t), "node") == ["x", "y", "v1", "z", "f"]
    forward3 = node_table(t, 2)  # x, y, then q = x + y
    assert column(forward3, "value") == ["-2", "5", "3", "", ""] and set(column(forward3, "∂f/∂node")) == {""}
    assert column(forward3, "") == ["", "", "▶", "", ""]
    assert column(forward3, "local gradients")[4] == "∂f/∂v1 = z; ∂f/∂z = v1"  # formulas before the step
    backward1 = node_table(t, 5)  # at f: 1 arrives at f, then z to q and q to z
    assert column(backward1, "∂f/∂node") == ["", "", "-4", "3", "1"]
    assert column(backward1, "local gradients")[4] == "∂f/∂v1 = z = -4; ∂f/∂z = v1 = 3"
    final = node_table(t)
    assert column(final, "∂f/∂node") == ["-4", "-4", "-4", "3", "1"] and set(column(final, "")) == {""}


def test_a_node_with_two_consumers_counts_its_terms():
    # f = q + x with q = x y at x = 2, y = 3: df/dx = 1 (through f) + y (through q) = 4
    t = gl.trace(gl.graph("q = x y; f = q + x"), x=2, y=3)
    first = node_table(t, len(t.steps) // 2)  # the backward step at f: the first of x's two terms
    assert column(first, "∂f/∂node")[column(first, "node").index("x")] == "1 (1 of 2 terms)"
    assert column(node_table(t), "∂f/∂node")[0] == "4"


def test_a_value_that_has_no_number_is_a_question_mark_not_a_blank():
    t = gl.trace(gl.graph("x y"), x=1)  # float mode, y has no value
    assert column(node_table(t), "value") == ["1", "?", "?"]
    assert column(node_table(t, 0), "value") == ["1", "", ""]  # y not reached yet: nothing


def test_the_descent_table_has_a_column_per_quantity_even_when_a_parameter_is_called_loss():
    # (y - loss)^2 at y = 1, loss = 0, η = 1/4: the gradient -2(y - loss) = -2, so loss ← 0 + 1/2
    d = gl.descend("(y - loss)^2", ["loss"], {"y": 1, "loss": 0}, 0.25, 1)
    table = descent_table(d)
    assert table.columns == ("step", "loss", "loss", "∂f/∂loss", "update loss")
    assert table.rows == (("0", "0", "1", "-2", "0.5"), ("1", "0.5", "0.25", "-1", ""))
    exact = gl.descend("(y - x theta)^2", ["theta"], {"y": 10, "x": 2, "theta": 6}, sp.Rational(1, 100), 1, "exact")
    assert column(descent_table(exact, exact=True), "theta") == ["6", "148/25 ≈ 5.92"]
    assert column(descent_table(exact, compact=True), "theta") == ["6", "148/25"]


def test_the_verify_report_reads_line_by_line():
    report = gl.verify("q = x + y; f = q z", ["df/dz = 3", "df/dq = 4"], {"x": -2, "y": 5, "z": -4})
    right, wrong = report_lines(report)
    assert (right.mark, right.verdict, right.derivative, right.counterexample) == ("✓", "right", "df/dz = q = 3", "")
    assert (wrong.mark, wrong.claim, wrong.derivative) == ("✗", "df/dq = 4", "df/dq = z = -4")
    assert wrong.counterexample == "at x = -2, y = 5, z = -4: yours gives 4, the derivative -4"
    assert wrong.diagnosis.startswith("sign error")


# --------------------------------------------------------------------------- REPL and notebook
def test_a_graph_reads_as_a_summary_and_stays_a_digraph():
    g = gl.graph("(x+y)z")
    assert repr(g) == "<graphlab graph '(x+y)z': 5 nodes, variables x, y, z, output f>"
    assert isinstance(g, nx.DiGraph)
    copy = g.copy()
    assert isinstance(copy, nx.DiGraph) and repr(copy) == repr(g) and copy.graph is not g.graph
    sub = g.subgraph(["x", "y", "v1"])
    assert sorted(sub.edges) == [("x", "v1"), ("y", "v1")]
    assert repr(sub) == "<graphlab graph '(x+y)z': 3 nodes, variables x, y>"  # what the subgraph has
    assert repr(sub.copy()) == repr(sub)
    assert list(nx.topological_sort(g))[-1] == "f" and nx.ancestors(g, "f") == {"x", "y", "z", "v1"}
    assert nx.is_directed_acyclic_graph(g.reverse()) and set(nx.relabel_nodes(g, {"x": "a"})) >= {"a", "f"}
    assert gl.trace(g.copy(), x=-2, y=5, z=-4).output == -12.0


def svg_titles(svg: str) -> set[str]:
    return {t.text for t in ET.fromstring(svg).iter("{http://www.w3.org/2000/svg}title")}


def test_a_graph_and_a_trace_draw_themselves_in_jupyter():
    g = gl.graph("(x+y)z")
    assert {"x", "y", "z", "f"} <= svg_titles(g._repr_svg_())
    t = gl.trace(g, x=-2, y=5, z=-4)
    svg = t._repr_svg_()
    assert {"x", "y", "z", "f"} <= svg_titles(svg) and "-12" in svg  # the final frame, with values
    big = gl.graph(" + ".join(f"x{i}" for i in range(100)))
    assert big._repr_svg_() is None  # too large to read: Jupyter falls back to the summary


def test_a_trace_reads_as_output_gradient_and_steps():
    t = gl.trace(gl.graph("(x+y)z"), x=-2, y=5, z=-4)
    assert repr(t) == ("<graphlab trace of '(x+y)z' at x = -2, y = 5, z = -4: f = -12; "
                       "∂f/∂x = -4, ∂f/∂y = -4, ∂f/∂z = 3; 10 steps>")
    exact = gl.trace(gl.graph("log(x1 x2) sin(x2)"), x1=2, x2=3, mode="exact")
    assert "f = log(6)*sin(3) ≈ 0.252853" in repr(exact) and repr(exact).endswith("12 steps>")
    wide = gl.trace(gl.graph(" + ".join(f"x{i}" for i in range(300))))
    assert len(repr(wide)) < 400
