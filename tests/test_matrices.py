"""Matrices (issue #13, §1-2): the language, the Arrays arithmetic, the matrix form of each VJP.

References are independent of graphlab's rules: SymPy's ``diff`` of each op written entry by entry,
central finite differences in float64, the same network expanded neuron by neuron as a scalar
graph, and the lecture's own numbers (seed 002's XOR neurons, seed 003's 159,010 parameters and
its backward formulas).
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import sympy as sp
from conftest import cpu_time

import graphlab
from graphlab.build import from_text
from graphlab.cli import main
from graphlab.cost import parameters
from graphlab.errors import GraphlabError, ParseError
from graphlab.formulas import matrix_edge
from graphlab.ops import FUNCTIONS, OPS
from graphlab.point import parse_matrix, parse_point

CORNERS = [[0, 0], [0, 1], [1, 0], [1, 1]]
NET = "Z1 = X W1 + b1; H1 = σ(Z1); Z2 = H1 W2 + b2; yhat = σ(Z2); E = (y - yhat)^T (y - yhat) / (2 N)"


def shapes_of(point):
    return {k: np.shape(v) for k, v in point.items() if np.ndim(v)}


def traced(text, point):
    point = {k: np.array(v, dtype=float) if isinstance(v, list) else v for k, v in point.items()}
    for k, v in point.items():
        if isinstance(v, np.ndarray) and v.ndim == 1:
            point[k] = v.reshape(-1, 1)
    return graphlab.trace(from_text(text, shapes=shapes_of(point)), point), point


def central(text, point, name, h=1e-6):
    """∂out/∂name entry by entry, by central differences of the traced output."""
    g = from_text(text, shapes=shapes_of(point))
    value = np.array(point[name], dtype=float)
    grad = np.zeros_like(value)
    for idx in np.ndindex(value.shape or (1,)):
        up, down = dict(point), dict(point)
        if value.shape:
            a, b = value.copy(), value.copy()
            a[idx] += h
            b[idx] -= h
            up[name], down[name] = a, b
        else:
            up[name], down[name] = float(value) + h, float(value) - h
        diff = (graphlab.trace(g, up).output - graphlab.trace(g, down).output) / (2 * h)
        if value.shape:
            grad[idx] = diff
        else:
            grad = diff
    return grad


def seed003_point(rng):
    return {"X": np.array(CORNERS, dtype=float), "W1": rng.standard_normal((2, 2)), "b1": rng.standard_normal((2, 1)),
            "W2": rng.standard_normal((2, 1)), "b2": rng.standard_normal((1, 1)),
            "y": np.array([[0.0], [1.0], [1.0], [0.0]]), "N": 4.0}


# --------------------------------------------------------------------------- the lecture's examples
def test_xor_batch_gives_the_lecture_neurons_at_the_four_corners():
    """Seed 002: σ(5x₁ − 5x₂ + 1) and σ(−5x₁ + 5x₂ + 1), all four corners in one 4×2 by 2×2 product."""
    t, _ = traced("H = σ(X W + b)", {"X": CORNERS, "W": [[5, -5], [-5, 5]], "b": [1, 1]})
    sigma = lambda z: 1 / (1 + math.exp(-z))  # noqa: E731
    for row, (x1, x2) in enumerate(CORNERS):
        assert t.output[row, 0] == pytest.approx(sigma(5 * x1 - 5 * x2 + 1), rel=1e-12)
        assert t.output[row, 1] == pytest.approx(sigma(-5 * x1 + 5 * x2 + 1), rel=1e-12)
    ops = [d.get("op") for _, d in t.graph.nodes(data=True)]
    assert ops.count("matmul") == 1 and ops.count("repmat") == 1  # the bias broadcast is a visible node


def test_seed003_net_matches_finite_differences_and_the_lecture_formulas():
    rng = np.random.default_rng(3)
    point = seed003_point(rng)
    t = graphlab.trace(from_text(NET, shapes=shapes_of(point)), point)
    assert isinstance(t.output, float)  # (y - ŷ)ᵀ (y - ŷ) is 1×1: a scalar
    for name in ("W1", "b1", "W2", "b2", "X"):
        assert t.gradient[name].shape == point[name].shape
        np.testing.assert_allclose(t.gradient[name], central(NET, point, name), rtol=1e-6, atol=1e-9)
    # the lecture's backward pass in matrix notation, written out in NumPy
    X, W1, b1, W2, b2, y, N = (point[k] for k in ("X", "W1", "b1", "W2", "b2", "y", "N"))
    s = lambda z: 1 / (1 + np.exp(-z))  # noqa: E731
    H1 = s(X @ W1 + b1.T)
    yhat = s(H1 @ W2 + b2.T)
    assert t.output == pytest.approx(((y - yhat).T @ (y - yhat)).item() / (2 * N))
    d2 = (yhat - y) / N * yhat * (1 - yhat)  # ∂E/∂ŷ ⊙ σ′(z_M)
    np.testing.assert_allclose(t.gradient["W2"], H1.T @ d2, rtol=1e-12)
    np.testing.assert_allclose(t.gradient["b2"], d2.T @ np.ones((4, 1)), rtol=1e-12)
    d1 = (d2 @ W2.T) * H1 * (1 - H1)  # ∂E/∂H1 ⊙ σ′(Z1)
    np.testing.assert_allclose(t.gradient["W1"], X.T @ d1, rtol=1e-12)
    np.testing.assert_allclose(t.gradient["b1"], d1.T @ np.ones((4, 1)), rtol=1e-12)


def test_seed003_net_matches_the_scalar_graph_expanded_neuron_by_neuron():
    rng = np.random.default_rng(7)
    point = seed003_point(rng)
    t = graphlab.trace(from_text(NET, shapes=shapes_of(point)), point)
    # the same network as a scalar expression: one neuron at a time, one sample at a time
    terms = []
    for i in range(4):
        hidden = [f"σ({' + '.join(f'x{i}_{k} w1_{k}_{j}' for k in range(2))} + b1_{j})" for j in range(2)]
        out = f"σ({' + '.join(f'{h} w2_{j}' for j, h in enumerate(hidden))} + b2)"
        terms.append(f"(y{i} - {out})^2")
    scalar = f"({' + '.join(terms)}) / (2 N)"
    values = {"N": 4.0, "b2": float(point["b2"][0, 0])}
    for i in range(4):
        values[f"y{i}"] = float(point["y"][i, 0])
        for k in range(2):
            values[f"x{i}_{k}"] = float(point["X"][i, k])
    for k in range(2):
        for j in range(2):
            values[f"w1_{k}_{j}"] = float(point["W1"][k, j])
    for j in range(2):
        values[f"b1_{j}"] = float(point["b1"][j, 0])
        values[f"w2_{j}"] = float(point["W2"][j, 0])
    s = graphlab.trace(from_text(scalar), values)
    assert s.output == pytest.approx(t.output, rel=1e-12)
    for k in range(2):
        for j in range(2):
            assert t.gradient["W1"][k, j] == pytest.approx(s.gradient[f"w1_{k}_{j}"], rel=1e-10)
    for j in range(2):
        assert t.gradient["b1"][j, 0] == pytest.approx(s.gradient[f"b1_{j}"], rel=1e-10)
        assert t.gradient["W2"][j, 0] == pytest.approx(s.gradient[f"w2_{j}"], rel=1e-10)
    assert t.gradient["b2"][0, 0] == pytest.approx(s.gradient["b2"], rel=1e-10)
    for i in range(4):
        for k in range(2):
            assert t.gradient["X"][i, k] == pytest.approx(s.gradient[f"x{i}_{k}"], rel=1e-9, abs=1e-15)


def test_seed003_backward_steps_read_as_the_lecture_writes_them():
    g = from_text(NET, shapes={"X": (4, 2), "W1": (2, 2), "b1": (2, 1), "W2": (2, 1), "b2": (1, 1), "y": (4, 1)})
    product = next(n for n, d in g.nodes(data=True) if d.get("op") == "matmul" and d["args"] == ("X", "W1"))
    w1 = matrix_edge(g, product, 1)
    assert (w1.lhs, w1.rhs, w1.shapes) == ("∂E/∂W1", "Xᵀ · (∂E/∂H1 ⊙ σ′(Z1))", "[2×4]·[4×2] = [2×2]")
    assert "Xᵀ goes on the left" in w1.why
    hidden = next(n for n, d in g.nodes(data=True) if d.get("op") == "matmul" and d["args"] == ("H1", "W2"))
    h1 = matrix_edge(g, hidden, 0)
    assert (h1.lhs, h1.rhs, h1.shapes) == ("∂E/∂H1", "(∂E/∂yhat ⊙ σ′(Z2)) · W2ᵀ", "[4×1]·[1×2] = [4×2]")
    bias = next(n for n, d in g.nodes(data=True) if d.get("op") == "repmat" and d["args"][0] == "b1")
    b1 = matrix_edge(g, bias, 0)
    assert (b1.lhs, b1.rhs, b1.shapes) == ("∂E/∂b1", "(∂E/∂H1 ⊙ σ′(Z1))ᵀ · 1", "[2×4]·[4×1] = [2×1]")
    # the same at every step: worked out once per graph, and what a fresh working out gives
    assert matrix_edge(g, product, 1) is w1
    fresh = from_text(NET, shapes={"X": (4, 2), "W1": (2, 2), "b1": (2, 1), "W2": (2, 1), "b2": (1, 1), "y": (4, 1)})
    assert matrix_edge(fresh, product, 1) == w1 and matrix_edge(fresh, product, 1) is not w1


def test_mnist_784_200_10_by_shape_only_has_159010_parameters():
    text = "H1 = σ(X W1 + b1); Yhat = H1 W2 + b2; E = softmax_ce(Yhat, Y)"
    g = from_text(text, shapes={"X": ("N", 784), "W1": (784, 200), "b1": (200, 1), "W2": (200, 10),
                                "b2": (10, 1), "Y": ("N", 10)})
    counts = parameters(g)
    assert counts == {"W1": 784 * 200, "b1": 200, "W2": 200 * 10, "b2": 10} and sum(counts.values()) == 159_010
    assert g.nodes["Yhat"]["shape"] == ("N", 10) and g.nodes["E"]["shape"] == ()
    t = graphlab.trace(g)  # no numbers: shapes and formulas only
    assert t.output is None and set(t.missing) == {"X", "W1", "b1", "W2", "b2", "Y"}


# --------------------------------------------------------------------------- every matrix op
def _sym_matrix(name, shape):
    return sp.Matrix(shape[0], shape[1], lambda i, j: sp.Symbol(f"{name}_{i}_{j}", real=True))


def _softmax_ce(a, b):
    rows = []
    for i in range(a.rows):
        s = sum(sp.exp(a[i, j]) for j in range(a.cols))
        rows.append(sum(b[i, j] * (a[i, j] - sp.log(s)) for j in range(a.cols)))
    return -sum(rows) / a.rows


# text, operand shapes, the result written entry by entry in SymPy (the independent reference)
MATRIX_OPS = {
    "matmul": ("A B", {"A": (3, 2), "B": (2, 4)}, lambda A, B: A * B),
    "matmul@": ("A @ B", {"A": (3, 2), "B": (2, 4)}, lambda A, B: A * B),
    "transpose": ("A^T", {"A": (3, 2)}, lambda A: A.T),
    "hadamard": ("A ⊙ B", {"A": (3, 2), "B": (3, 2)}, lambda A, B: A.multiply_elementwise(B)),
    "hadamard.*": ("A .* B", {"A": (3, 2), "B": (3, 2)}, lambda A, B: A.multiply_elementwise(B)),
    "repmat": ("A B + b", {"A": (3, 2), "B": (2, 2), "b": (2, 1)},
               lambda A, B, b: A * B + sp.Matrix.vstack(*[b.T] * 3)),
    "row bias": ("A + b", {"A": (3, 2), "b": (1, 2)}, lambda A, b: A + sp.Matrix.vstack(*[b] * 3)),
    "sub": ("A - B", {"A": (3, 2), "B": (3, 2)}, lambda A, B: A - B),
    "scalar times": ("s A", {"A": (3, 2), "s": ()}, lambda A, s: s * A),
    "scalar plus": ("A + s", {"A": (3, 2), "s": ()}, lambda A, s: A.applyfunc(lambda e: e + s)),
    "divide": ("A / s", {"A": (3, 2), "s": ()}, lambda A, s: A / s),
    "square": ("A^2", {"A": (3, 2)}, lambda A: A.applyfunc(lambda e: e**2)),
    "sum": ("sum(A)", {"A": (3, 2)}, lambda A: sum(A)),
    "mean": ("mean(A)", {"A": (3, 2)}, lambda A: sum(A) / 6),
    "mse": ("mse(A, B)", {"A": (3, 2), "B": (3, 2)}, lambda A, B: sum((A - B).applyfunc(lambda e: e**2)) / 6),
    "bce_logits": ("bce_logits(A, B)", {"A": (3, 2), "B": (3, 2)},
                   lambda A, B: sum(sp.log(1 + sp.exp(A[k])) - A[k] * B[k] for k in range(6)) / 6),
    "softmax_ce": ("softmax_ce(A, B)", {"A": (3, 2), "B": (3, 2)}, _softmax_ce),
    "lecture error": ("(y - A)^T (y - A) / (2 N)", {"y": (3, 1), "A": (3, 1), "N": ()},
                      lambda y, A, N: ((y - A).T * (y - A))[0, 0] / (2 * N)),
}
UNARY = sorted({name for name in FUNCTIONS.values() if OPS[name].arity == 1 and not OPS[name].tensor})


def _check_against_references(text, shapes, reference, rng, positive=False):
    names = list(shapes)
    point = {}
    for n in names:
        v = rng.uniform(0.2, 0.8, shapes[n]) if positive else rng.uniform(-0.9, 0.9, shapes[n])
        point[n] = v if shapes[n] else float(rng.uniform(1.5, 2.5))
    if "B" in point and text.startswith(("bce", "softmax")):  # targets: probabilities; softmax's rows sum to 1
        point["B"] = rng.uniform(0, 1, shapes["B"])
        if text.startswith("softmax"):
            point["B"] /= point["B"].sum(axis=1, keepdims=True)
    g = from_text(text, shapes={n: s for n, s in shapes.items() if s})
    t = graphlab.trace(g, point)
    # a scalar loss of the result: sum(C ⊙ F), C fixed, so each entry's VJP is exercised
    symbols = {n: _sym_matrix(n, s) if s else sp.Symbol(n, real=True) for n, s in shapes.items()}
    result = reference(*(symbols[n] for n in names))
    if isinstance(result, sp.MatrixBase):
        C = rng.uniform(-1, 1, result.shape)
        loss = sum(C[i, j] * result[i, j] for i in range(result.rows) for j in range(result.cols))
        t = graphlab.trace(from_text(f"L = sum(C ⊙ ({text}))", shapes={**{n: s for n, s in shapes.items() if s},
                                                                       "C": C.shape}), {**point, "C": C})
    else:
        loss = result
    subs = {}
    for n, s in shapes.items():
        if s:
            subs.update({symbols[n][i, j]: point[n][i, j] for i in range(s[0]) for j in range(s[1])})
        else:
            subs[symbols[n]] = point[n]
    assert t.output == pytest.approx(float(loss.subs(subs)), rel=1e-10, abs=1e-12)
    for n, s in shapes.items():
        got = t.gradient[n]
        if s:
            want = np.array([[float(sp.diff(loss, symbols[n][i, j]).subs(subs)) for j in range(s[1])]
                             for i in range(s[0])])
        else:
            want = float(sp.diff(loss, symbols[n]).subs(subs))
        assert np.shape(got) == np.shape(want), n
        np.testing.assert_allclose(got, want, rtol=1e-9, atol=1e-12, err_msg=f"{text}: ∂/∂{n} against SymPy")
        loss_text = t.graph.graph["source"]
        fd = central(loss_text, {**point, **({"C": C} if isinstance(result, sp.MatrixBase) else {})}, n)
        np.testing.assert_allclose(got, fd, rtol=1e-6, atol=1e-8, err_msg=f"{text}: ∂/∂{n} against differences")


@pytest.mark.parametrize("case", sorted(MATRIX_OPS))
def test_every_matrix_op_against_sympy_and_finite_differences(case):
    text, shapes, reference = MATRIX_OPS[case]
    _check_against_references(text, shapes, reference, np.random.default_rng(abs(hash(case)) % 2**32))


@pytest.mark.parametrize("name", UNARY)
def test_every_elementwise_function_on_a_matrix(name):
    op = OPS[name]
    positive = name in ("log", "sqrt", "asin", "acos")  # their domains
    _check_against_references(f"{name}(A)", {"A": (2, 3)}, lambda A: A.applyfunc(op.sym),
                              np.random.default_rng(len(name)), positive=positive)


# --------------------------------------------------------------------------- the language
def test_operators_choose_by_shape():
    shapes = {"A": (2, 3), "B": (3, 2), "C": (2, 3)}
    op = lambda text: from_text(text, shapes=shapes).nodes["f"]["op"]  # noqa: E731
    assert op("A B") == op("A * B") == op("A @ B") == "matmul"
    assert op("A ⊙ C") == op("A .* C") == "hadamard"
    assert op("2 A") == "mul" and op("x y") == "mul"  # a scalar times a matrix, and scalars
    assert from_text("A^T", shapes=shapes).nodes["f"]["op"] == "transpose"
    assert from_text("x^T").nodes["f"]["op"] == "pow"  # T is a variable where x is a scalar
    assert from_text("(A B)^T", shapes=shapes).nodes["f"]["shape"] == (2, 2)


@pytest.mark.parametrize("text, message", [
    ("Z = X W1", "cannot multiply 4×2 by 3×2 at column 7: inner sizes 2 and 3 differ; did you mean W1^T?"),
    ("X @ W1", "cannot multiply 4×2 by 3×2 at column 3: inner sizes 2 and 3 differ; did you mean W1^T?"),
    ("X + W1", "cannot add 4×2 and 3×2 at column 3: the shapes differ"),
    ("X ⊙ W1", "cannot multiply 4×2 and 3×2 elementwise at column 3: the shapes differ"),
    ("mse(X, W1)", "cannot compare a 4×2 prediction with a 3×2 target at column 1: they must have one shape"),
    ("X @ 2", "cannot multiply a scalar with @ at column 3"),
])
def test_shape_errors_name_both_shapes_and_the_column(text, message):
    with pytest.raises(ParseError) as e:
        from_text(text, shapes={"X": (4, 2), "W1": (3, 2)})
    assert str(e.value).startswith(message)


def test_matrix_ops_on_scalars_are_refused_with_a_column():
    with pytest.raises(ParseError, match="cannot compare a 1×1 prediction with a 2×2 target at column 1"):
        from_text("mse(x, A)", shapes={"A": (2, 2)})
    with pytest.raises(ParseError, match="sum takes matrices at column 5"):
        from_text("1 + sum(x)")
    with pytest.raises(ParseError, match="mse takes matrices at column 1"):
        from_text("mse(x, y)")


def test_scalar_commands_refuse_matrix_values(capsys):
    code, _, err = run(capsys, "gradcheck", "x y", "--at", "x=[[1,2]],y=2")
    assert code == 2 and "x: matrices are traced in reverse mode by grad, draw and explain" in err


@pytest.mark.parametrize("text, value", [("[[0,0],[0,1]]", [[0, 0], [0, 1]]), ("[1, -2.5e1]", [[1], [-25]]),
                                         ("[[3]]", [[3]])])
def test_matrix_literals(text, value):
    np.testing.assert_array_equal(parse_matrix(text), np.array(value, dtype=float))


@pytest.mark.parametrize("text", ["[1 2]", "[[1,2],[3]]", "[[[1]]]", "[1,,2]", "[1,2", "[]", "[1e999]",
                                  "[__import__('os')]", "[1,2]]", "[[1,2][3,4]]", "[x]"])
def test_matrix_literals_are_read_strictly(text):
    with pytest.raises(GraphlabError):
        parse_point(f"A={text}", matrices=True)


def test_huge_matrix_literal_is_refused_quickly():
    with cpu_time(2.0):
        with pytest.raises(GraphlabError, match="entries"):
            parse_matrix("[" + ",".join(["1"] * 1_000_001) + "]")


# --------------------------------------------------------------------------- the command line
def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_cli_xor_batch_json(capsys):
    code, out, _ = run(capsys, "grad", "H = σ(X W + b)", "--at", "X=[[0,0],[0,1],[1,0],[1,1]]",
                       "--at", "W=[[5,-5],[-5,5]],b=[1,1]", "--json")
    assert code == 0
    data = json.loads(out)
    nodes = {n["id"]: n for n in data["nodes"]}
    assert nodes["X"]["shape"] == [4, 2] and nodes["b"]["shape"] == [2, 1] and nodes["H"]["shape"] == [4, 2]
    assert nodes["H"]["value"][1][0] == pytest.approx(1 / (1 + math.exp(4)))
    assert np.shape(data["gradient"]["W"]) == (2, 2) and data["parameters"] == {"W": 4, "b": 2}
    repmat = next(s for s in data["steps"] if s["phase"] == "backward" and s["node"] == nodes["b"]["id"] or
                  s["phase"] == "backward" and any(e["input"] == "b" for e in s["local"]))
    edge = repmat["local"][0]
    assert edge["matrix"]["shapes"] == "[2×4]·[4×1] = [2×1]" and "summed" in edge["matrix"]["why"]


def test_cli_scalar_json_contract_unchanged(capsys):
    code, out, _ = run(capsys, "grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--json")
    data = json.loads(out)
    assert code == 0 and "shape" not in data["nodes"][0] and "parameters" not in data and "cost" in data
    assert data["gradient"] == {"x": -4.0, "y": -4.0, "z": 3.0}


def test_cli_shape_only_mnist(capsys):
    code, out, _ = run(capsys, "grad", "H1 = σ(X W1 + b1); Yhat = H1 W2 + b2; E = softmax_ce(Yhat, Y)",
                       "--shape", "X=Nx784,W1=784x200,b1=200x1", "--shape", "W2=200x10,b2=10x1,Y=Nx10")
    assert code == 0
    assert "total 159,010" in out and "= Xᵀ · (∂E/∂H1 ⊙ σ′(X W1 + repmat(b1ᵀ)))" in out
    assert "[784×N]·[N×200] = [784×200]" in out


def test_cli_seed_is_reproducible(capsys):
    argv = ["grad", "E = mean(σ(X W))", "--shape", "X=3x2,W=2x2", "--json"]
    first = json.loads(run(capsys, *argv, "--seed", "1")[1])
    again = json.loads(run(capsys, *argv, "--seed", "1")[1])
    other = json.loads(run(capsys, *argv, "--seed", "2")[1])
    assert first["inputs"] == again["inputs"] and first["inputs"] != other["inputs"]
    assert np.shape(first["inputs"]["W"]) == (2, 2)


def test_cli_shape_error_is_one_line(capsys):
    code, out, err = run(capsys, "grad", "Z = X W1", "--at", "X=[[0,0],[0,1],[1,0],[1,1]]", "--shape", "W1=3x2")
    assert code == 2 and err.strip().count("\n") == 0
    assert "cannot multiply 4×2 by 3×2 at column 7: inner sizes 2 and 3 differ; did you mean W1^T?" in err


# --------------------------------------------------------------------------- the app
def test_app_steps_through_the_xor_batch_with_small_tables():
    import sys
    from pathlib import Path

    from streamlit.testing.v1 import AppTest

    apps = Path(__file__).resolve().parent.parent / "apps"
    sys.path.insert(0, str(apps))
    xor = "H = σ(X W + b)"
    at = AppTest.from_file(str(apps / "graphlab_app.py"), default_timeout=60)
    at.query_params.update({"expr": xor, "step": "3"})  # the example's values come with it
    at.run()
    assert not at.exception, at.exception
    assert [b.label for b in at.button if b.label == xor]  # a sidebar example
    # step 3 is forward at the matrix product X W: its value, the corners times W, as a 4×2 table
    product = next(n for n, d in from_text(xor, shapes={"X": (4, 2), "W": (2, 2), "b": (2, 1)}).nodes(data=True)
                   if d.get("op") == "matmul")
    assert any(f"{product} [4×2]" in m.value for m in at.markdown)
    values = at.dataframe[0].value
    assert values.shape == (4, 2) and list(values.iloc[1]) == ["-5", "5"]
    nodes = at.dataframe[-1].value
    assert "shape" in nodes.columns and set(nodes["shape"]) >= {"4×2", "2×2", "2×1"}
    # the backward step at the product: its gradient ∂H/∂(X W) = σ′(Z), a 4×2 table; σ′(1) = σ(1)(1 − σ(1))
    at.slider[0].set_value(14).run()
    assert not at.exception, at.exception
    assert any(f"∂H/∂{product}" in m.value for m in at.markdown)
    sigma1 = 1 / (1 + math.exp(-1))
    assert at.dataframe[1].value.iloc[0, 0] == f"{sigma1 * (1 - sigma1):.4g}"


# --------------------------------------------------------------------------- diagrams
def test_diagrams_label_edges_with_shapes_and_draw_small_matrices():
    from graphlab.export import to_tikz
    from graphlab.render import to_dot

    t, _ = traced("H = σ(X W + b)", {"X": CORNERS, "W": [[5, -5], [-5, 5]], "b": [1, 1]})
    product = next(n for n, d in t.graph.nodes(data=True) if d.get("op") == "matmul")
    step = next(s.index for s in t.backward_steps if s.node == product)
    dot = to_dot(t.graph, t, step).source
    assert "[4×2]" in dot and "[2×2]" in dot and "[2×1]" in dot  # each edge's shape
    assert "⎡" in dot and "⎣" in dot  # a little matrix, row by row
    assert "∂H/∂W = Xᵀ · ∂H/∂(X W)" in dot and "[2×4]·[4×2] = [2×2]" in dot  # the visited edge's VJP
    for style in ("record", "plain"):
        assert "[4×2]" in to_dot(t.graph, t, step, style).source or style == "record"
    tex = to_tikz(t.graph, t, step)
    assert r"\begin{bmatrix} 5 & -5 \\ -5 & 5 \end{bmatrix}" in tex
    assert r"X^{\top}" in tex and "⊙" not in tex and "∂" not in tex  # LaTeX, not Unicode
    big = graphlab.trace(from_text("E = mean(X W)", shapes={"X": (5, 4), "W": (4, 3)}),
                         {"X": np.ones((5, 4)), "W": np.ones((4, 3))})
    source = to_dot(big.graph, big).source
    assert "5×3 matrix, mean 4, range 4…4" in source and "⎡ 1  1  1 ⎤" in source  # over 4×4: a summary
