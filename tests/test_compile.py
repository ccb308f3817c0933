"""The compiler against the step-by-step trace, and every tensor op's VJP against finite differences."""

from __future__ import annotations

import linecache

import networkx as nx
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from graphlab import from_text, trace
from graphlab.compile import Compiled, central_differences, compile_graph, unbroadcast
from graphlab.errors import GraphlabError
from graphlab.ops import FUNCTIONS, OPS

SCALAR_OPS = [op for op in OPS.values() if not op.tensor]
TENSOR_OPS = [op for op in OPS.values() if op.tensor]
# scalar expressions: the functions the language calls on numbers (mse, sum... take matrices)
UNARY = sorted(name for name, op in OPS.items() if name in FUNCTIONS and op.arity == 1 and not op.tensor)
BINARY_FUNCTIONS = sorted(name for name, op in OPS.items() if name in FUNCTIONS and op.arity == 2 and not op.tensor)
INFIX = {op.infix for op in SCALAR_OPS if op.infix}


def expressions():
    leaves = st.sampled_from(["x", "y", "z", "2", "0.5", "3"])

    def extend(children):
        return st.one_of(
            st.builds(lambda f, a: f"{f}({a})", st.sampled_from(UNARY), children),
            st.builds(lambda o, a, b: f"({a}) {o} ({b})", st.sampled_from(sorted(INFIX)), children, children),
            st.builds(lambda f, a, b: f"{f}({a}, {b})", st.sampled_from(BINARY_FUNCTIONS), children, children),
            st.builds(lambda a: f"-({a})", children),
        )

    return st.recursive(leaves, extend, max_leaves=8)


def assert_same(compiled, traced):
    compiled, traced = np.float64(compiled), np.float64(traced)
    if np.isfinite(traced):
        assert compiled == pytest.approx(traced, rel=1e-9, abs=1e-12)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expressions(), st.lists(st.floats(-3, 3, allow_nan=False), min_size=3, max_size=3))
def test_compiled_equals_trace_on_scalar_expressions(text, point):
    graph = from_text(text)
    values = dict(zip(("x", "y", "z"), point, strict=True))
    values = {v: values[v] for v in graph.graph["variables"]}
    t = trace(graph, values)
    with np.errstate(all="ignore"):
        out, grads = compile_graph(graph)(values)
    assert_same(out, t.output)
    for v, g in t.gradient.items():
        assert_same(grads[v], g)


@pytest.mark.parametrize("op", SCALAR_OPS, ids=lambda op: op.name)
def test_every_scalar_op_compiles_like_the_trace(op):
    args = {1: "x", 2: "x, y"}
    if op.infix:
        text = f"x {op.infix} y"
    elif op.name == "neg":
        text = "-x"
    else:
        text = f"{op.name}({args[op.arity]})"
    graph = from_text(text)
    values = {"x": 0.4, "y": 0.7}
    values = {v: values[v] for v in graph.graph["variables"]}
    t = trace(graph, values)
    out, grads = compile_graph(graph)(values)
    assert_same(out, t.output)
    for v in values:
        assert_same(grads[v], t.gradient[v])


def test_a_scalar_expression_runs_over_a_grid():
    graph = from_text("log(x1 x2) sin(x2)")
    x1, x2 = np.meshgrid(np.linspace(0.5, 2, 5), np.linspace(0.1, 3, 4))
    out, grads = compile_graph(graph)({"x1": x1, "x2": x2})
    assert out.shape == x1.shape == grads["x1"].shape == grads["x2"].shape
    for i in np.ndindex(x1.shape):
        t = trace(graph, {"x1": x1[i], "x2": x2[i]})
        assert out[i] == pytest.approx(t.output)
        assert grads["x2"][i] == pytest.approx(t.gradient["x2"])


def test_a_broadcast_operand_gets_the_summed_gradient():
    graph = from_text("x * y + x")
    y = np.arange(6.0).reshape(2, 3)
    out, grads = compile_graph(graph)({"x": 2.0, "y": y})
    assert np.shape(grads["x"]) == () and grads["x"] == pytest.approx(y.sum() + 6)
    assert np.array_equal(grads["y"], np.full((2, 3), 2.0))


def test_unbroadcast():
    g = np.ones((4, 2, 3))
    assert unbroadcast(np, g, (3,)).tolist() == [8.0] * 3
    assert unbroadcast(np, g, (2, 1)).tolist() == [[12.0], [12.0]]
    assert unbroadcast(np, g, ()) == 24.0
    assert unbroadcast(np, g, (4, 2, 3)) is g


def test_source_is_printable_named_after_nodes_cached_and_in_linecache():
    graph = from_text("q = x + y; f = q z")
    c = compile_graph(graph)
    assert compile_graph(graph) is c
    assert "q = x + y" in c.source and "f = q * z" in c.source and "d_q" in c.source
    filename = c.fn.__code__.co_filename
    assert linecache.getline(filename, 1).startswith("def compiled(xp, x, y, z)")


def test_linecache_keeps_only_the_most_recent_generated_sources(monkeypatch):
    """A server compiling architecture after architecture keeps a bounded number of sources in linecache: the
    oldest are dropped, the newest stay, and a function whose source was dropped still runs."""
    import graphlab.compile as compile_module

    monkeypatch.setattr(compile_module, "MAX_REGISTERED", 3)
    compiled = [compile_graph(from_text(f"(x + {k}) * y + z^{k + 2}")) for k in range(5)]  # five distinct sources
    names = [c.fn.__code__.co_filename for c in compiled]
    assert len(set(names)) == 5
    kept = [name for name in names if linecache.getline(name, 1)]
    assert kept == names[-3:]
    assert all(name not in linecache.cache for name in names[:2])
    assert len([name for name in linecache.cache if name.startswith("<graphlab")]) <= 3
    assert compiled[0]({"x": 1.0, "y": 2.0, "z": 3.0})[0] == (1 + 0) * 2 + 3 ** 2


def test_forward_only_and_a_subset_of_gradients():
    graph = from_text("(x+y)z")
    assert compile_graph(graph, wrt=["z"])({"x": -2, "y": 5, "z": -4})[1] == {"z": 3.0}
    forward = compile_graph(graph, wrt=())
    assert "d_" not in forward.source and forward({"x": -2, "y": 5, "z": -4}) == (-12, {})
    with pytest.raises(GraphlabError, match="cannot differentiate with respect to w"):
        compile_graph(graph, wrt=["w"])


def test_odd_node_names_become_identifiers():
    g = nx.DiGraph(output="lambda", variables=("xp", "2x"))
    g.add_node("xp", kind="var", label="xp")
    g.add_node("2x", kind="var", label="2x")
    g.add_node("lambda", kind="op", op="mul", args=("xp", "2x"), label="lambda")
    g.add_edges_from([("xp", "lambda"), ("2x", "lambda")])
    c = compile_graph(g)
    assert "lambda_ = xp_ * n_2x" in c.source
    assert c({"xp": 3.0, "2x": 4.0}) == (12.0, {"xp": 4.0, "2x": 3.0})


# ----------------------------------------------------------------------------- tensor VJPs
def _operands(name: str, rng: np.random.Generator):
    n, k, m = rng.integers(2, 5, size=3)
    if name == "matmul":
        return [rng.normal(size=(n, k)), rng.normal(size=(k, m))]
    if name == "bias_add":
        return [rng.normal(size=(n, m)), rng.normal(size=m)]
    if name == "softmax_ce":
        return [rng.normal(size=(n, m)) * 3, rng.dirichlet(np.ones(m), size=n)]
    if name == "bce_logits":
        return [rng.normal(size=(n, 1)) * 3, rng.uniform(size=(n, 1))]
    if name == "mse":
        return [rng.normal(size=(n, m)), rng.normal(size=(n, m))]
    a = rng.normal(size=(n, m))
    return [np.where(np.abs(a) < 0.1, 0.5, a)]  # keep relu away from its kink


def _probe_graph(op_name: str, arity: int) -> nx.DiGraph:
    """L = mean(op(a, b) * G): its gradient is the op's VJP applied to the upstream G / size."""
    names = ("a", "b")[:arity]
    g = nx.DiGraph(output="L", variables=(*names, "G"))
    for v in (*names, "G"):
        g.add_node(v, kind="var", label=v)
    g.add_node("o", kind="op", op=op_name, args=names, label="o")
    g.add_node("p", kind="op", op="mul", args=("o", "G"), label="p")
    g.add_node("L", kind="op", op="mean", args=("p",), label="L")
    g.add_edges_from([*((v, "o") for v in names), ("o", "p"), ("G", "p"), ("p", "L")])
    return g


# repmat's second operand is a row count, not an array to differentiate: tests/test_matrices.py checks it
@pytest.mark.parametrize("name", [op.name for op in TENSOR_OPS if op.name != "repmat"] + ["relu", "sigmoid", "tanh"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tensor_vjp_matches_central_differences(name, seed):
    rng = np.random.default_rng(seed)
    operands = _operands(name, rng)
    graph = _probe_graph(name, len(operands))
    names = ("a", "b")[: len(operands)]
    out_shape = np.shape(OPS[name].forward_fn(len(operands))(np, *operands))
    values = {**dict(zip(names, operands, strict=True)), "G": rng.normal(size=out_shape)}
    c = compile_graph(graph, wrt=names)
    _, grads = c(values)
    numeric = central_differences(c, values, names)
    for v in names:
        assert grads[v].shape == values[v].shape
        np.testing.assert_allclose(grads[v], numeric[v], rtol=1e-5, atol=1e-8)


def test_losses_on_logits_are_stable():
    big = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    with np.errstate(over="raise", invalid="raise", divide="raise"):  # underflow to 0 is fine
        ce = OPS["softmax_ce"].forward_fn(2)(np, big, np.array([[1.0, 0.0], [1.0, 0.0]]))
        bce = OPS["bce_logits"].forward_fn(2)(np, np.array([[1000.0], [-1000.0]]), np.array([[1.0], [1.0]]))
    assert ce == pytest.approx(1000.0) and bce == pytest.approx(500.0)


def test_tensor_ops_are_not_in_the_input_language():
    assert all(op.name not in FUNCTIONS or op.callable for op in TENSOR_OPS)  # mse(Yhat, Y) on matrices only
    with pytest.raises(ValueError, match="tensor op"):
        OPS["matmul"].local_rules(2)


# --------------------------------------------------------------------------- the fused loop (numba), against NumPy
ALL_SCALAR_OPS = ("sin(x) + cos(y) + tan(x / 4) + asin(x / 3) + acos(y / 3) + atan(x) + sinh(y) + cosh(x / 2)"
                  " + tanh(x y) + exp(x / 2) + log(y) + sqrt(y) + abs(x) + sigmoid(x - y) + relu(x - 0.5)"
                  " + step(y - 1) + softplus(x) + max(x, y) + min(x, y^2) + x^y + x / y - (-x) * y"
                  " + linear(x) + sign(y - 1) + x .* y")


def test_the_fused_loop_agrees_with_the_numpy_code_on_every_scalar_op():
    pytest.importorskip("numba")
    g = from_text(ALL_SCALAR_OPS)
    used = {d["op"] for _, d in g.nodes(data=True) if d["kind"] == "op"}
    assert used == {op.name for op in SCALAR_OPS}, {op.name for op in SCALAR_OPS} - used
    c = compile_graph(g)
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.uniform(-3, 3, 5000), [0.0, 0.5, -1.0, 2.0, np.nan, np.inf]])
    y = np.concatenate([rng.uniform(-1, 3, 5000), [0.0, 0.5, 1.0, 2.0, 1.0, 1.0]])
    with np.errstate(all="ignore"):
        for dtype, rtol in ((np.float64, 1e-9), (np.float32, 1e-5)):
            xs, ys = x.astype(dtype), y.astype(dtype)  # the reference: NumPy in float64 on the same inputs
            want_out, want = c({"x": xs.astype(np.float64), "y": ys.astype(np.float64)}, backend="numpy")
            got_out, got = c({"x": xs, "y": ys}, backend="numba")
            assert got_out.dtype == dtype and got_out.shape == x.shape
            np.testing.assert_allclose(got_out, want_out, rtol=rtol, atol=rtol, equal_nan=True)
            for v in ("x", "y"):
                np.testing.assert_allclose(got[v], want[v], rtol=rtol, atol=rtol, equal_nan=True, err_msg=v)


def test_auto_takes_the_fused_loop_only_where_it_applies(monkeypatch):
    from graphlab import compile as comp

    c = compile_graph(from_text("log(x1 x2) sin(x2)"))
    small = {"x1": np.full(10, 2.0), "x2": np.full(10, 3.0)}
    big = {"x1": np.full(comp.FUSE_MIN, 2.0), "x2": np.full(comp.FUSE_MIN, 3.0)}
    calls = []
    monkeypatch.setattr(Compiled, "_fused", lambda self, args, forced: calls.append(len(args[0])) or None)
    c(small)
    c(big)
    c(big, backend="numpy")
    assert calls == [10, comp.FUSE_MIN]  # asked for both; the small one declines inside _fused


def test_without_numba_auto_falls_back_and_numba_is_refused(monkeypatch):
    from graphlab import compile as comp

    monkeypatch.setattr(comp, "numba_available", lambda: False)
    g = from_text("x * sin(y) + 0.5")
    c = comp.Compiled(*[getattr(compile_graph(g), f) for f in ("fn", "source", "inputs", "wrt", "output")])
    big = {"x": np.full(comp.FUSE_MIN, 2.0), "y": np.full(comp.FUSE_MIN, 3.0)}
    out, grads = c(big)
    np.testing.assert_allclose(out, 2 * np.sin(3.0) + 0.5)
    np.testing.assert_allclose(grads["y"], 2 * np.cos(3.0))
    with pytest.raises(GraphlabError, match="needs numba"):
        c(big, backend="numba")


def test_tensor_graphs_have_no_fused_loop():
    from graphlab.compile import loop_source
    from graphlab.nn import mlp

    g = mlp((3, 4, 2))
    assert loop_source(compile_graph(g, wrt=g.graph["params"]).source) is None
    assert loop_source(compile_graph(from_text("x^2 + y")).source) is not None


def test_a_seed_scales_every_gradient_and_keeps_their_shapes():
    from graphlab.nn import mlp

    g = from_text("log(x1 x2) sin(x2) + x1")
    plain, seeded = compile_graph(g), compile_graph(g, seed=True)
    assert seeded.source.splitlines()[0] == "def compiled(xp, x1, x2, seed):"
    x1, x2 = np.linspace(1, 2, 7), np.float64(3.0)  # x2 broadcast against x1
    out, grads = plain({"x1": x1, "x2": x2})
    out2, grads2 = seeded.fn(np, x1, x2, np.full(7, -0.25))  # the seed has the output's shape
    np.testing.assert_allclose(out2, out)
    for w, g2 in zip(plain.wrt, grads2, strict=True):
        assert np.shape(g2) == np.shape(grads[w])
        np.testing.assert_allclose(g2, -0.25 * grads[w])
    net = mlp((3, 4, 2))
    rng = np.random.default_rng(0)
    values = {"X": rng.normal(size=(5, 3)), "Y": np.eye(2)[[0, 1, 1, 0, 1]], "W1": rng.normal(size=(3, 4)),
              "b1": rng.normal(size=4), "W2": rng.normal(size=(4, 2)), "b2": rng.normal(size=2)}
    plain = compile_graph(net, wrt=net.graph["params"])
    seeded = compile_graph(net, wrt=net.graph["params"], seed=True)
    _, grads = plain(values)
    _, grads2 = seeded.fn(np, *(values[v] for v in seeded.inputs), 0.1)
    for w, g2 in zip(seeded.wrt, grads2, strict=True):
        np.testing.assert_allclose(g2, 0.1 * grads[w])
