"""The graph's schema, the Program derived from it, and the one evaluator under every view."""

from __future__ import annotations

import re
from pathlib import Path

import networkx as nx
import numpy as np
import pytest
import sympy as sp

import graphlab as gl
from graphlab.arithmetic import Exact, Float, Names, Rounded, Symbolic, symbol
from graphlab.errors import GraphlabError
from graphlab.evaluate import evaluate
from graphlab.program import program

ROOT = Path(__file__).resolve().parent.parent


def test_nothing_derived_is_stored_in_the_graph():
    g = gl.from_text("log(x1 x2) sin(x2)")
    before = dict(g.graph)
    gl.trace(g, {"x1": 2, "x2": 3}, mode="exact")
    gl.node_expr(g, g.graph["output"])
    gl.gradient_exprs(g)
    gl.compile_graph(g)
    gl.verify(g, ["df/dx2 = 1"], at={"x1": 2, "x2": 3})
    assert g.graph == before


def test_a_copy_or_subgraph_gets_its_own_program():
    g = gl.from_text("q = x + y; f = q z")
    p = program(g)
    assert program(g) is p  # cached by the graph
    copy = g.copy()
    assert program(copy) is not p and program(copy).order == p.order
    sub = g.subgraph(["x", "y", "q"]).copy()
    sub.graph.update(output="q", variables=("x", "y"))
    assert program(sub).order == ("x", "y", "q")
    assert gl.node_expr(sub, "q") == symbol("x") + symbol("y")


def test_a_changed_graph_is_read_again():
    g = gl.from_text("x + y")
    assert program(g).output == "f"
    g.add_node("w", kind="var", label="w")
    g.graph["variables"] = (*g.graph["variables"], "w")
    assert "w" in program(g).order


@pytest.mark.parametrize("mutate, message", [
    (lambda g: g.graph.pop("output"), "no 'output' field"),
    (lambda g: g.nodes["x"].update(kind="leaf"), "kind 'leaf'"),
    (lambda g: g.nodes["f"].update(op="nope"), "no op named 'nope'"),
    (lambda g: g.nodes["f"].update(args=("x",)), "takes 2 or more operands"),
    (lambda g: g.nodes["f"].update(args=("x", "ghost")), "'ghost' is not a node"),
])
def test_the_schema_is_checked(mutate, message):
    g = gl.from_text("x + y")
    mutate(g)
    with pytest.raises(GraphlabError, match=message):
        program(g)


def test_a_graph_not_stored_in_topological_order_is_sorted():
    g = nx.DiGraph(output="f", variables=("x",))
    g.add_node("f", kind="op", op="mul", args=("v", "x"), label="f")
    g.add_node("v", kind="op", op="sin", args=("x",), label="v")
    g.add_node("x", kind="var", label="x")
    g.add_edges_from([("x", "v"), ("v", "f"), ("x", "f")])
    t = gl.trace(g, {"x": 0.5})
    assert t.output == pytest.approx(np.sin(0.5) * 0.5)
    assert t.gradient["x"] == pytest.approx(np.cos(0.5) * 0.5 + np.sin(0.5))


def test_every_arithmetic_agrees_with_sympy_on_the_lecture_network():
    text = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
            "E = (y - t)^2 / 2")
    at = {"w1": 0.1, "w2": 0.2, "w3": 0.3, "w4": 0.4, "w5": 0.5, "w6": 0.6, "x1": 0.35, "x2": 0.9, "t": 0.5}
    g = gl.from_text(text)
    prog = program(g)
    out = gl.node_expr(g, "E")
    point = {symbol(k): sp.Rational(repr(v)) for k, v in at.items()}
    floats = evaluate(prog, Float(), at)
    exact = evaluate(prog, Exact(), at)
    names = evaluate(prog, Names(prog.names), at)
    fine = evaluate(prog, Rounded(12), at)
    exprs = evaluate(prog, Symbolic(), backward=False).values
    defs = {symbol(n): exprs[n] for n in prog.names}
    for v in g.graph["variables"]:
        want = float(sp.diff(out, symbol(v)).xreplace(point))
        assert float(floats.grads[v]) == pytest.approx(want, rel=1e-12)
        assert float(exact.grads[v]) == pytest.approx(want, rel=1e-12)
        assert fine.grads[v] == pytest.approx(want, rel=1e-9)
        # the names form, with each name replaced by what it computes, is the same derivative
        in_vars = names.grads[v].subs(defs).subs(defs).subs(defs)
        assert float(in_vars.xreplace(point)) == pytest.approx(want, rel=1e-12)


def test_rounding_changes_the_numbers_a_little_not_the_structure():
    g = gl.from_text("log(x1 x2) sin(x2)")
    exact = gl.trace(g, {"x1": 2, "x2": 3}).gradient["x2"]
    rough = evaluate(program(g), Rounded(2), {"x1": 2, "x2": 3}, wrt=["x2"]).grads["x2"]
    assert rough != exact and abs(rough - exact) < 0.05


_RULE_CALLS = re.compile(r"\.(forward_fn|local_fns|vjp_rules|forward_rule)\(|\bop\.sym\(")
# The arithmetics apply rules; ops.py defines them; trace.local_formula writes one op's rule as a
# formula and verify._edge_local asks the symbolic arithmetic for one edge's: neither walks the graph.
_ALLOWED = {"graphlab/ops.py", "graphlab/arithmetic.py", "graphlab/compile.py", "graphlab/trace.py",
            "graphlab/verify.py"}


def test_only_the_arithmetics_apply_rules_to_a_graph():
    """No module but the evaluator's arithmetics walks the graph applying op rules."""
    offenders = []
    for path in sorted([*ROOT.glob("graphlab/*.py"), *ROOT.glob("apps/*.py")]):
        rel = path.relative_to(ROOT).as_posix()
        text = path.read_text()
        if rel in _ALLOWED:
            continue
        for n, line in enumerate(text.splitlines(), 1):
            # one op applied to an array (the Playground's sigmoid, an activation's range) walks no graph
            if _RULE_CALLS.search(line) and not re.search(r"OPS\[\w+\]\.forward_fn|OPS\[\"\w+\"\]", line):
                offenders.append(f"{rel}:{n}: {line.strip()}")
    assert offenders == []
    for rel in ("graphlab/trace.py", "graphlab/verify.py", "graphlab/compile.py", "graphlab/explain.py"):
        assert "forward_order(" not in (ROOT / rel).read_text(), f"{rel} walks the graph itself"
