"""Case 4: the value and the full gradient of a scalar expression over 10^6 points (float64).

Two expressions: the lecture's ``log(x1 x2) sin(x2)`` and a 49-node one with shared
subexpressions (a small network in x1, x2). Contenders, all on the same points:

* graphlab: the compiled graph (``compile_graph(graph)(values)``): where numba is installed, its
  lines fused into one parallel loop over the points (backend "auto"), else the NumPy code;
* graphlab_numpy: the same, the generated NumPy code as printed (backend "numpy": the reference);
* graphlab_jax: the same generated code over ``jax.numpy`` under ``jax.jit`` (``Compiled.jax()``);
* lambdify: ``sympy.lambdify`` of the expression and its ``diff`` in each variable;
* numpy: reverse mode written by hand, each intermediate computed once;
* jax: ``jit(vmap(value_and_grad(f, argnums=(0, 1))))``.

Each contender's gradient is checked against graphlab's before anything is timed.
"""

from __future__ import annotations

import numpy as np
import sympy as sp

import graphlab as gl
from graphlab.build import node_expr, symbol
from graphlab.compile import compile_graph

from . import peers
from .timing import interleaved

LECTURE = "log(x1 x2) sin(x2)"
NET = """h1 = tanh(0.5 x1 - 1.2 x2 + 0.3)
h2 = tanh(0.4 x2 - 0.8 x1 - 0.1)
h3 = sigmoid(1.1 x1 + 0.7 x2)
s = 0.9 h1 - 1.3 h2 + 0.6 h3
f = log(1 + exp(s)) sin(x1 x2) + sqrt(x1^2 + x2^2) h1 / (1 + h3^2)"""


def hand_lecture(x1, x2):
    v = x1 * x2
    lg, sn = np.log(v), np.sin(x2)
    d_v = sn / v
    return lg * sn, (d_v * x2, d_v * x1 + lg * np.cos(x2))


def hand_net(x1, x2):
    h1 = np.tanh(0.5 * x1 - 1.2 * x2 + 0.3)
    h2 = np.tanh(0.4 * x2 - 0.8 * x1 - 0.1)
    h3 = 1 / (1 + np.exp(-(1.1 * x1 + 0.7 * x2)))
    es = np.exp(0.9 * h1 - 1.3 * h2 + 0.6 * h3)
    soft, p = np.log(1 + es), x1 * x2
    sn, r, q = np.sin(p), np.sqrt(x1 * x1 + x2 * x2), 1 + h3 * h3
    f = soft * sn + r * h1 / q
    d_s = sn * es / (1 + es)
    d_p = soft * np.cos(p)
    d_r = h1 / q
    d_a1 = (r / q + 0.9 * d_s) * (1 - h1 * h1)
    d_a2 = -1.3 * d_s * (1 - h2 * h2)
    d_a3 = (0.6 * d_s - 2 * h3 * r * h1 / (q * q)) * h3 * (1 - h3)
    d_rr = d_r / r
    return f, (0.5 * d_a1 - 0.8 * d_a2 + 1.1 * d_a3 + d_p * x2 + d_rr * x1,
               -1.2 * d_a1 + 0.4 * d_a2 + 0.7 * d_a3 + d_p * x1 + d_rr * x2)


def jax_fns(jnp, jax):
    def lecture(x1, x2):
        return jnp.log(x1 * x2) * jnp.sin(x2)

    def net(x1, x2):
        h1 = jnp.tanh(0.5 * x1 - 1.2 * x2 + 0.3)
        h2 = jnp.tanh(0.4 * x2 - 0.8 * x1 - 0.1)
        h3 = jax.nn.sigmoid(1.1 * x1 + 0.7 * x2)
        s = 0.9 * h1 - 1.3 * h2 + 0.6 * h3
        return jnp.log(1 + jnp.exp(s)) * jnp.sin(x1 * x2) + jnp.sqrt(x1**2 + x2**2) * h1 / (1 + h3**2)

    return {LECTURE: lecture, NET: net}


CASES = {"log(x1 x2) sin(x2)": (LECTURE, hand_lecture), "49-node network": (NET, hand_net)}


def contenders(text: str, hand, x1: np.ndarray, x2: np.ndarray) -> dict:
    graph = gl.graph(text)
    compiled = compile_graph(graph)
    names = compiled.inputs  # ("x1", "x2")
    symbols = [symbol(v) for v in names]
    expr = node_expr(graph, graph.graph["output"])
    lambdified = sp.lambdify(symbols, [expr, *(sp.diff(expr, s) for s in symbols)], "numpy")
    fns = {
        "graphlab": lambda: compiled({"x1": x1, "x2": x2}),
        "graphlab_numpy": lambda: compiled({"x1": x1, "x2": x2}, backend="numpy"),
        "graphlab_jax": None,
        "lambdify": lambda: lambdified(x1, x2),
        "numpy": lambda: hand(x1, x2),
        "jax": None,
    }
    jax = peers.jax()
    if jax is not None:
        f = jax_fns(jax.numpy, jax)[text]
        vg = jax.jit(jax.vmap(jax.value_and_grad(f, argnums=(0, 1))))
        xj1, xj2 = jax.numpy.asarray(x1), jax.numpy.asarray(x2)
        fns["jax"] = lambda: jax.block_until_ready(vg(xj1, xj2))
        jitted = compiled.jax()
        fns["graphlab_jax"] = lambda: jax.block_until_ready(jitted(xj1, xj2))
    _check(fns, names)
    return fns


def _check(fns: dict, names) -> None:
    """Every contender computes the same value and gradient as graphlab's NumPy code (the reference)."""
    out, grads = fns["graphlab_numpy"]()
    want = [out, *(grads[v] for v in names)]
    for name, fn in fns.items():
        if fn is None or name == "graphlab_numpy":
            continue
        got = fn()
        got = [got[0], *(got[1].values() if isinstance(got[1], dict) else got[1])] if name != "lambdify" else got
        for a, b in zip(got, want, strict=True):
            np.testing.assert_allclose(np.asarray(a), b, rtol=1e-9, atol=1e-12, err_msg=f"{name} disagrees")


def run(quick: bool = False) -> dict[str, dict[str, float | None]]:
    """Per expression, seconds per evaluation of value and gradient (None: the peer is not installed)."""
    n = 100_000 if quick else 1_000_000
    rng = np.random.default_rng(0)
    x1, x2 = rng.uniform(0.5, 2.0, n), rng.uniform(0.5, 2.0, n)
    results = {}
    for label, (text, hand) in CASES.items():
        results[label] = interleaved(contenders(text, hand, x1, x2), repeat=5 if quick else 9)
    return results
