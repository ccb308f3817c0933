"""The sum over paths (issue #13, §3): every path's product of local gradients, summed, is the gradient.

The reference is the trace's own reverse-mode gradient (which never lists paths) and SymPy's diff;
the lecture's fan-out example log(x1 x2) sin(x2) at x1 = 2, x2 = 3 has two paths from x2."""

from __future__ import annotations

import json
import math

import pytest
import sympy as sp

import graphlab
from graphlab.build import from_text
from graphlab.cli import main
from graphlab.errors import GraphlabError
from graphlab.paths import MAX_PATHS, paths


@pytest.mark.parametrize("text, point", [
    ("log(x1 x2) sin(x2)", {"x1": 2, "x2": 3}),
    ("q = x + y; f = q z", {"x": -2, "y": 5, "z": -4}),
    ("sigmoid(w0 x0 + w1 x1 + w2)", {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3}),
    ("a = x y; b = a + x; c = b a; c + b x", {"x": 0.7, "y": -1.3}),
])
def test_the_products_sum_to_the_gradient(text, point):
    g = from_text(text)
    t = graphlab.trace(g, point)
    for v in g.graph["variables"]:
        found = paths(t, v)
        assert math.isclose(sum(p.product for p in found), t.gradient[v], rel_tol=1e-12, abs_tol=1e-15)
        for p in found:  # each path runs from v to the output along operand edges
            assert p.nodes[0] == v and p.nodes[-1] == g.graph["output"]
            assert [e[0] for e in reversed(p.edges)] == list(p.nodes[1:])
            assert math.isclose(math.prod(p.locals), p.product, rel_tol=1e-12)


def test_the_lecture_fan_out_has_two_paths_from_x2():
    t = graphlab.trace(from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3})
    found = paths(t, "x2")
    assert len(found) == 2
    by_length = sorted(found, key=lambda p: len(p.nodes))
    # through sin: log(6) cos(3); through the product and log: sin(3) / 6 · x1 = sin(3)/3
    assert by_length[0].product == pytest.approx(math.log(6) * math.cos(3))
    assert by_length[1].product == pytest.approx(math.sin(3) / 3)


def test_exact_paths_sum_to_sympy_diff():
    g = from_text("q = x + y; f = q z + x^2")
    t = graphlab.trace(g, {"x": sp.Rational(1, 3), "y": 2, "z": -4}, mode="exact")
    x, y, z = sp.symbols("x y z", real=True)
    want = sp.diff((x + y) * z + x**2, x).subs({x: sp.Rational(1, 3), y: 2, z: -4})
    assert sp.simplify(sum(p.product for p in paths(t, "x")) - want) == 0


def test_too_many_paths_and_matrices_are_refused():
    text = "x1 = x + x"
    for i in range(2, 9):  # each doubling line doubles the paths: 2^8 = 256 > MAX_PATHS
        text += f"; x{i} = x{i - 1} + x{i - 1}"
    t = graphlab.trace(from_text(text), {"x": 1})
    with pytest.raises(GraphlabError, match=f"256 paths; at most {MAX_PATHS}"):
        paths(t, "x")
    m = graphlab.trace(from_text("sum(A)", shapes={"A": (2, 2)}), {"A": [[1, 2], [3, 4]]})
    with pytest.raises(GraphlabError, match="over matrices"):
        paths(m, "A")


def test_cli_paths(capsys):
    assert main(["grad", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--paths", "x2"]) == 0
    out = capsys.readouterr().out
    assert "2 paths from x2 to f; the sum over paths is ∂f/∂x2:" in out
    assert "x2 → v3 → f: ∂f/∂v3 · ∂v3/∂x2 = (v2) · (cos(x2)) = (1.79176) · (-0.989992) = -1.77383" in out
    assert "sum: (0.04704) + (-1.77383) = -1.72679 = ∂f/∂x2" in out
    assert main(["grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--paths", "x", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["paths"] == [{"nodes": ["x", "v1", "f"], "product": -4.0, "factors": [
        {"node": "f", "input": "v1", "formula": "z", "local": -4.0},
        {"node": "v1", "input": "x", "formula": "1", "local": 1.0}]}]
    assert main(["grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--paths", "w"]) == 2
    assert "no variable named 'w'" in capsys.readouterr().err


def test_draw_paths_marks_every_node_on_them(tmp_path, capsys):
    out = tmp_path / "paths.dot"
    assert main(["draw", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--paths", "x1", "-o", str(out)]) == 0
    dot = out.read_text()
    marked = {line.split()[0].strip('"') for line in dot.splitlines() if "current" in line and "->" not in line}
    assert marked == {"x1", "v1", "v2", "f"}  # x1 → x1 x2 → log → f; not x2, not sin
