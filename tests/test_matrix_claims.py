"""Checking matrix work (issue #13 §4) and the "Done when" of the lecture's three matrix networks.

The claims are seed 003's backward formulas in matrix notation (∂E/∂W_M = H_{M-1}ᵀ (∂E/∂ŷ ⊙ σ′(z_M)),
∂E/∂H_{m-1} = (∂E/∂H_m ⊙ σ′(Z_m)) W_mᵀ, ∂E/∂W_{m-1} = H_{m-2}ᵀ (∂E/∂H_{m-1} ⊙ σ′(Z_{m-1})), with
∂E/∂ŷ = (ŷ - y)/N and σ′ = σ (1 - σ)); the true gradient they are judged against is the evaluator's, which
tests/test_matrices.py checks against SymPy, finite differences and the scalar graph.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphlab.build import from_text
from graphlab.cli import main
from graphlab.errors import GraphlabError, ParseError
from graphlab.point import parse_point, shapes_of
from graphlab.verify import Finding, parse_claim, verify

NET = "Z1 = X W1 + b1; H1 = σ(Z1); Z2 = H1 W2 + b2; yhat = σ(Z2); E = (y - yhat)^T (y - yhat) / (2 N)"
NET_AT = ["X=[[0,0],[0,1],[1,0],[1,1]]", "W1=[[5,-5],[-5,5]],b1=[1,1],W2=[-20,-20],b2=[25],y=[0,1,1,0],N=4"]
XOR = "H = σ(X W + b)"
XOR_AT = ["X=[[0,0],[0,1],[1,0],[1,1]]", "W=[[5,-5],[-5,5]],b=[1,1]"]
MNIST = "H1 = σ(X W1 + b1); Yhat = H1 W2 + b2; E = softmax_ce(Yhat, Y)"
MNIST_SHAPES = ["X=Nx784,W1=784x200,b1=200x1", "W2=200x10,b2=10x1,Y=Nx10"]

D2 = "((yhat - y)/N ⊙ yhat ⊙ (1 - yhat))"  # ∂E/∂ŷ ⊙ σ′(z_M), the lecture's δ of the output layer
RIGHT = {
    "W2": f"dE/dW2 = H1^T {D2}",
    "H1": f"dE/dH1 = {D2} W2^T",
    "W1": f"dE/dW1 = X^T ({D2} W2^T ⊙ H1 ⊙ (1 - H1))",
    "b2": f"dE/db2 = sum({D2})",
    "yhat": "dE/dyhat = (yhat - y) / N",
    "W1 by name": "dE/dW1 = X^T (dE/dH1 ⊙ H1 ⊙ (1 - H1))",  # through the upstream gradient, as the lecture writes it
}


def net(*claims, at=True, seed=0):
    point = parse_point(*NET_AT, matrices=True) if at else {}
    shapes = shapes_of(point) or {"X": (4, 2), "W1": (2, 2), "b1": (2, 1), "W2": (2, 1), "b2": (1, 1), "y": (4, 1)}
    return verify(from_text(NET, shapes=shapes), list(claims), point, seed=seed)


def run(capsys, *argv):
    code = main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


# --------------------------------------------------------------------------- right claims
@pytest.mark.parametrize("name", sorted(RIGHT))
@pytest.mark.parametrize("at", [True, False])
def test_seed003_formulas_are_accepted(name, at):
    report = net(RIGHT[name], at=at)
    c = report.claims[0]
    assert c.ok and c.verdict == "right", c.diagnosis
    assert "random points of these shapes (seed 0)" in c.diagnosis
    assert ("the values given" in c.diagnosis) is at


def test_right_claims_carry_the_lecture_form_and_the_value_at_the_values_given():
    c = net(RIGHT["W1"]).claims[0]
    assert c.expected == "Xᵀ · (∂E/∂H1 ⊙ σ′(Z1))"
    assert np.shape(c.expected_value) == (2, 2)


# --------------------------------------------------------------------------- wrong claims, diagnosed
def test_a_transposed_claim_is_diagnosed_by_name():
    c = net(f"dE/dW2 = {D2}^T H1").claims[0]
    assert not c.ok and c.finding is Finding.SHAPE
    assert c.diagnosis == "this is 1×2, ∂E/∂W2 is 2×1: transpose?"


def test_a_transposed_square_claim_is_named():
    c = net(f"dE/dW1 = (X^T ({D2} W2^T ⊙ H1 ⊙ (1 - H1)))^T").claims[0]
    assert not c.ok and c.finding is Finding.SHAPE and c.diagnosis == "this is the transpose of ∂E/∂W1: transpose it"


def test_factors_that_do_not_fit_are_told_where_with_the_transpose_to_try():
    c = net("dE/dW2 = H1 (yhat - y)").claims[0]
    assert not c.ok and c.finding is Finding.SHAPE
    assert "cannot multiply 4×2 by 4×1 at column 13: inner sizes 2 and 4 differ; did you mean H1^T?" in c.diagnosis


@pytest.mark.parametrize("claim, factor", [
    ("dE/dW2 = H1^T ((yhat - y)/N)", "σ′(Z2)"),  # ∂E/∂ŷ without σ′(z_M)
    (f"dE/dW1 = X^T ({D2} W2^T)", "σ′(Z1)"),
    ("dE/dW1 = X^T dE/dH1", "σ′(Z1)"),
])
def test_a_missing_local_factor_is_named(claim, factor):
    c = net(claim).claims[0]
    assert not c.ok and c.finding is Finding.MISSING_FACTOR
    assert c.diagnosis.startswith(f"missing the factor {factor}")


def test_the_lectures_shortcut_without_sigma_prime_and_1_over_n_is_named():
    c = net("dE/dW2 = H1^T (yhat - y)").claims[0]  # right for a linear output and E = mse; here σ′ and 1/N are missing
    assert not c.ok and c.finding is Finding.MISSING_FACTOR
    assert "σ′(Z2)" in c.diagnosis and "yours is 4 times" in c.diagnosis  # N = 4 at the values given


def test_a_sign_error_and_differing_entries():
    c = net(f"dE/dW2 = -H1^T {D2}").claims[0]
    assert c.finding is Finding.SIGN and c.diagnosis == "sign error: this is −∂E/∂W2"
    c = net(f"dE/dW1 = X^T ({D2} W2^T ⊙ H1 ⊙ (1 - H1)) + W1").claims[0]
    assert not c.ok and c.finding is Finding.WRONG and "every entry differs (4)" in c.diagnosis
    assert np.shape(c.counterexample["claimed"]) == (2, 2)


def test_the_first_wrong_step_in_backward_order():
    report = net(RIGHT["W1"], "dE/dW2 = H1^T ((yhat - y)/N)", RIGHT["H1"])
    assert [c.ok for c in report.claims] == [True, False, True]
    assert report.claims[report.first_wrong].wrt == "W2"


def test_checks_are_reproducible_and_the_seed_matters():
    wrong = f"dE/dW1 = X^T ({D2} W2^T ⊙ H1 ⊙ (1 - H1)) + W1"
    first, again = (net(wrong, at=False, seed=5).to_json() for _ in range(2))
    assert first == again
    assert net(wrong, at=False, seed=6).to_json()["claims"][0]["counterexample"] != first["claims"][0]["counterexample"]


def test_bad_claims_are_one_line_errors():
    g = from_text(NET, shapes=shapes_of(parse_point(*NET_AT, matrices=True)))
    with pytest.raises(ParseError, match="column"):
        parse_claim(g, "dE/dW2 = H1^T (yhat - ")
    with pytest.raises(GraphlabError, match="over matrices a claim is dE/dB"):
        parse_claim(g, "dZ2/dW2 = H1")
    with pytest.raises(GraphlabError, match="the value is 2×2, the expression's W2 is 2×1"):
        verify(g, [RIGHT["W2"]], {**parse_point(*NET_AT, matrices=True), "W2": np.ones((2, 2))})


def test_the_784_200_10_network_is_checked_by_shape_only():
    shapes = {"X": ("N", 784), "W1": (784, 200), "b1": (200, 1), "W2": (200, 10), "b2": (10, 1), "Y": ("N", 10)}
    report = verify(from_text(MNIST, shapes=shapes), ["dE/dW2 = H1^T dE/dYhat", "dE/dH1 = dE/dYhat W2^T",
                                                      "dE/dW1 = X^T (dE/dH1 ⊙ H1 ⊙ (1 - H1))",
                                                      "dE/dW2 = dE/dYhat^T H1"])
    assert [c.ok for c in report.claims] == [True, True, True, False]
    assert report.claims[3].diagnosis == "this is 10×200, ∂E/∂W2 is 200×10: transpose?"


# --------------------------------------------------------------------------- Done when: the CLI
def test_xor_batch_from_the_cli(capsys, tmp_path):
    at = [a for v in XOR_AT for a in ("--at", v)]
    code, out, _ = run(capsys, "grad", XOR, *at)
    assert code == 0 and "[2×4]·[4×2] = [2×2]" in out
    code, out, _ = run(capsys, "explain", XOR, *at)
    assert code == 0 and "∂H/∂W = Xᵀ · ∂H/∂(X W)" in out and "so Xᵀ goes on the left" in out
    code, _, _ = run(capsys, "draw", XOR, *at, "--step", "14", "-o", str(tmp_path / "xor.svg"))
    assert code == 0 and "[4×2]" in (tmp_path / "xor.svg").read_text()
    code, out, _ = run(capsys, "verify", XOR, *at, "--claim", "dH/dW = X^T (H ⊙ (1 - H))", "--claim",
                          "dH/dW = (H ⊙ (1 - H))^T X")
    assert code == 1 and "✓ dH/dW = X^T (H ⊙ (1 - H))" in out and "this is the transpose of ∂H/∂W: transpose it" in out


def test_seed003_net_from_the_cli(capsys, tmp_path):
    at = [a for v in NET_AT for a in ("--at", v)]
    code, out, _ = run(capsys, "grad", NET, *at)
    assert code == 0 and "= Xᵀ · (∂E/∂H1 ⊙ σ′(Z1))" in out
    code, out, _ = run(capsys, "explain", NET, *at)
    assert code == 0 and "[2×4]·[4×2] = [2×2]" in out
    code, _, _ = run(capsys, "draw", NET, *at, "-o", str(tmp_path / "net.dot"))
    assert code == 0 and "[4×1]" in (tmp_path / "net.dot").read_text()
    code, out, _ = run(capsys, "verify", NET, *at, "--claim", RIGHT["W2"], "--claim", RIGHT["W1"], "--json")
    data = json.loads(out)
    assert code == 0 and data["ok"] and np.shape(data["claims"][0]["expected_value"]) == (2, 1)
    code, out, _ = run(capsys, "verify", NET, *at, "--claim", f"dE/dW2 = {D2}^T H1")
    assert code == 1 and "this is 1×2, ∂E/∂W2 is 2×1: transpose?" in out


def test_the_784_200_10_network_from_the_cli(capsys, tmp_path):
    shapes = [a for v in MNIST_SHAPES for a in ("--shape", v)]
    code, out, _ = run(capsys, "grad", MNIST, *shapes)
    assert code == 0 and "total 159,010" in out
    code, out, _ = run(capsys, "explain", MNIST, *shapes)
    assert code == 0 and "= Xᵀ · (∂E/∂H1 ⊙ σ′(X W1 + repmat(b1ᵀ)))" in out
    assert "backward W1: upstream ∂E/∂W1 [784×200] = ?" in out and "backward b2: upstream ∂E/∂b2 [10×1] = ?" in out
    code, _, _ = run(capsys, "draw", MNIST, *shapes, "--step", "18", "-o", str(tmp_path / "mnist.svg"))
    assert code == 0 and "[784×200]" in (tmp_path / "mnist.svg").read_text()
    code, out, _ = run(capsys, "verify", MNIST, *shapes, "--claim", "dE/dW2 = H1^T dE/dYhat", "--seed", "3")
    assert code == 0 and "checked at 3 random points of these shapes (seed 3)" in out


# --------------------------------------------------------------------------- exact arithmetic over matrices
def test_exact_matrices_keep_fractions_and_agree_with_float64():
    import sympy as sp

    from graphlab import trace

    g = from_text("E = mse(X W, Y)", shapes={"X": (2, 2), "W": (2, 2), "Y": (2, 2)})
    point = {"X": np.array([[1, 2], [3, 4]]), "W": np.eye(2), "Y": np.array([[0, 1], [1, 0]])}
    exact, floats = trace(g, point, mode="exact"), trace(g, point)
    assert exact.output == sp.Rational(11, 2)  # mean of 1, 1, 4, 16: the rule's 2 / a.size stays exact
    # ∂E/∂W = Xᵀ (X W − Y) 2/4, by hand
    assert exact.gradient["W"].tolist() == [[sp.Rational(7, 2), sp.Rational(13, 2)], [5, 9]]
    np.testing.assert_allclose(exact.gradient["W"].astype(float), floats.gradient["W"], rtol=1e-15)


@pytest.mark.parametrize("expr, at", [(XOR, XOR_AT), (NET, NET_AT)])
def test_exact_matrices_on_the_lecture_networks(expr, at):
    import sympy as sp

    from graphlab import trace

    point = parse_point(*at, matrices=True)
    g = from_text(expr, shapes=shapes_of(point))
    exact, floats = trace(g, point, mode="exact"), trace(g, point)
    for v in g.graph["variables"]:
        np.testing.assert_allclose(np.asarray(exact.gradient[v], dtype=float), floats.gradient[v], rtol=1e-12,
                                   atol=1e-15)
    if expr == XOR:  # seed 002's neuron at the corner (0, 0): σ(1), exactly
        assert sp.simplify(exact.output[0, 0] - 1 / (1 + sp.exp(-1))) == 0


def test_exact_matrices_are_limited_in_size(capsys):
    code, _, err = run(capsys, "grad", "E = mse(X W, Y)", "--shape", "X=30x30,W=30x30,Y=30x30", "--seed", "1",
                       "--exact")
    assert code == 2 and "exact mode is limited to matrices of 400 entries (this one has 900); use float mode" in err


def test_exact_matrices_from_the_cli_json(capsys):
    code, out, _ = run(capsys, "grad", "E = mse(X W, Y)", "--at", "X=[[1,2],[3,4]],W=[[1,0],[0,1]],Y=[[0,1],[1,0]]",
                       "--exact", "--json")
    data = json.loads(out)
    assert code == 0 and data["output_exact"] == "11/2" and data["gradient_exact"]["W"] == [["7/2", "13/2"], ["5", "9"]]


def test_every_matrix_op_in_exact_mode_agrees_with_float64():
    from test_matrices import MATRIX_OPS

    from graphlab import trace

    rng = np.random.default_rng(13)
    for case, (text, shapes, _) in MATRIX_OPS.items():
        point = {n: np.round(rng.uniform(0.1, 0.9, s), 2) if s else 2.0 for n, s in shapes.items()}
        g = from_text(text, shapes={n: s for n, s in shapes.items() if s})
        exact, floats = trace(g, point, mode="exact"), trace(g, point)
        assert float(np.sum(np.asarray(exact.output, dtype=float))) == pytest.approx(
            float(np.sum(floats.output)), rel=1e-12), case
        for n in shapes:
            np.testing.assert_allclose(np.asarray(exact.gradient[n], dtype=float), floats.gradient[n], rtol=1e-11,
                                       atol=1e-14, err_msg=case)


# --------------------------------------------------------------------------- one representation of an MLP
@pytest.mark.parametrize("sizes, activation, loss, l2, residual", [
    ((784, 200, 10), "relu", "ce", 0.0, ()), ((2, 4, 1), "sigmoid", "bce", 0.0, ()),
    ((3, 5, 5, 2), "tanh", "mse", 0.001, ()), ((4, 6, 6, 6, 3), ("relu", "tanh", "linear"), "ce", 0.01, (3,)),
])
def test_an_mlp_is_a_program_of_the_language(sizes, activation, loss, l2, residual):
    from graphlab.compile import compile_source
    from graphlab.nn import mlp

    g = mlp(sizes, activation, loss, l2, residual)
    text = g.graph["program"]
    assert text.startswith("M1 = X W1\nZ1 = M1 + b1\n") and "repmat" not in text
    shapes = {v: g.nodes[v]["shape"] for v in g.graph["variables"]}
    again = from_text(text, shapes=shapes)  # the text alone, through the parser: the same layers
    for node in again:
        assert {k: again.nodes[node].get(k) for k in ("op", "args", "shape")} == \
               {k: g.nodes[node].get(k) for k in ("op", "args", "shape")}, node
    for i in range(1, len(sizes)):
        assert g.nodes[f"M{i}"]["op"] == "matmul" and g.nodes[f"Z{i}"]["op"] == "bias_add"
        assert g.nodes[f"Z{i}"]["args"] == (f"M{i}", f"b{i}") and g.nodes[f"W{i}"]["param"]
    if l2:
        assert g.nodes["reg"]["args"][0] == repr(float(l2)) and g.nodes["loss"]["args"] == ("data_loss", "reg")
    source = compile_source(g, wrt=g.graph["params"])[0]
    assert "xp.repeat" not in source and source.count(" + b") >= len(sizes) - 1  # the bias broadcast, per layer
