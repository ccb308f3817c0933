"""Case 2: a tiny net, 2-16-16-1, tanh, mean squared error, full batch of 200 points: seconds per step.

At this size the arithmetic is nothing; what is measured is each framework's overhead per
training step (forward, backward, SGD update with lr 0.1). Same data, same starting weights.

* graphlab: :meth:`graphlab.train.CompiledStep.step` on the compiled graph (float32);
* numpy: the hand-written float32 step;
* torch: PyTorch eager, ``nn.Sequential`` + ``MSELoss`` + ``optim.SGD`` (float32), every core;
* torch_1thread: the same on one thread (on a shared 2-core machine its thread pool stalls);
* micrograd: karpathy's scalar engine, one ``Value`` per weight and per product (float64
  Python numbers; tanh written as micrograd writes its ops, its engine has none).

Cross-checks, after the timing: every contender is put back to the starting weights and runs
its timed step 3 times; its losses and weights then agree with graphlab's, and its gradient
at the start, (W_before - W_after) / lr of its first step, with a float64 NumPy reference.
"""

from __future__ import annotations

import math

import numpy as np

from graphlab.nn import mlp
from graphlab.train import CompiledStep

from . import peers
from .timing import Contender, interleaved

SIZES = (2, 16, 16, 1)
N, LR = 200, 0.1


def data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.uniform(-1, 1, (N, 2)).astype(np.float32)
    return X, (np.sin(3 * X[:, :1]) * X[:, 1:]).astype(np.float32)


def init(seed: int = 1) -> dict[str, np.ndarray]:
    """Glorot-initialized float32 weights, ``W`` as (fan_in, units)."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, units) in enumerate(zip(SIZES[:-1], SIZES[1:]), 1):
        params[f"W{i}"] = (rng.standard_normal((fan_in, units)) * np.sqrt(2 / (fan_in + units))).astype(np.float32)
        params[f"b{i}"] = np.zeros(units, np.float32)
    return params


def _float64(p) -> dict[str, np.ndarray]:
    return {k: np.asarray(v, dtype=np.float64).copy() for k, v in p.items()}


def _resetter(p: dict[str, np.ndarray]):
    start = {k: v.copy() for k, v in p.items()}
    return lambda: [np.copyto(p[k], v) for k, v in start.items()] and None


def graphlab_step(X, Y):
    params = init()
    trainer = CompiledStep(mlp(SIZES, "tanh", "mse"), params, "sgd", LR, N)
    return Contender(lambda: trainer.step(X, Y), lambda: _float64(params), _resetter(params))


def numpy_step(X, Y):
    p = init()

    def step():
        W1, b1, W2, b2, W3, b3 = (p[k] for k in ("W1", "b1", "W2", "b2", "W3", "b3"))
        h1 = np.tanh(X @ W1 + b1)
        h2 = np.tanh(h1 @ W2 + b2)
        out = h2 @ W3 + b3
        d3 = 2 * (out - Y) / out.size
        d2 = (d3 @ W3.T) * (1 - h2 * h2)
        d1 = (d2 @ W2.T) * (1 - h1 * h1)
        for w, g in ((W3, h2.T @ d3), (b3, d3.sum(0)), (W2, h1.T @ d2), (b2, d2.sum(0)), (W1, X.T @ d1),
                     (b1, d1.sum(0))):
            w -= LR * g
        return np.mean((out - Y) ** 2)

    return Contender(step, lambda: _float64(p), _resetter(p))


def torch_step(X, Y, threads: int | None = None):
    """``threads`` None: every core (PyTorch's default here); 1: what a tiny net wants on a busy machine."""
    th = peers.torch()
    if th is None:
        return None
    want = threads or peers.cores()
    p = init()
    layers = [th.nn.Linear(a, b) for a, b in zip(SIZES[:-1], SIZES[1:])]
    model = th.nn.Sequential(layers[0], th.nn.Tanh(), layers[1], th.nn.Tanh(), layers[2])
    opt = th.optim.SGD(model.parameters(), lr=LR)
    loss_fn = th.nn.MSELoss()
    Xt, Yt = th.from_numpy(X), th.from_numpy(Y)

    def reset():
        with th.no_grad():
            for i, layer in enumerate(layers, 1):
                layer.weight.copy_(th.from_numpy(p[f"W{i}"].T.copy()))
                layer.bias.copy_(th.from_numpy(p[f"b{i}"]))

    def step():
        if th.get_num_threads() != want:
            th.set_num_threads(want)
        opt.zero_grad()
        loss = loss_fn(model(Xt), Yt)
        loss.backward()
        opt.step()
        return loss

    def weights():
        return _float64({name: w for i, layer in enumerate(layers, 1)
                         for name, w in ((f"W{i}", layer.weight.detach().numpy().T),
                                         (f"b{i}", layer.bias.detach().numpy()))})

    reset()
    return Contender(step, weights, reset)


def micrograd_step(X, Y):
    if peers.optional("micrograd") is None:
        return None
    from micrograd.engine import Value

    def tanh(v):
        t = math.tanh(v.data)
        out = Value(t, (v,), "tanh")

        def _backward():
            v.grad += (1 - t * t) * out.grad

        out._backward = _backward
        return out

    p = init()
    weights = [([[Value(float(w)) for w in row] for row in p[f"W{i}"]], [Value(float(b)) for b in p[f"b{i}"]])
               for i in range(1, len(SIZES))]
    params = [v for W, b in weights for v in (*(w for row in W for w in row), *b)]
    points = [([float(a) for a in x], float(t)) for x, t in zip(X, Y[:, 0])]

    def forward(x):
        h = [Value(a) for a in x]
        for layer, (W, b) in enumerate(weights, 1):
            z = [sum((h[i] * W[i][j] for i in range(len(h))), b[j]) for j in range(len(b))]
            h = z if layer == len(weights) else [tanh(v) for v in z]
        return h[0]

    def step():
        loss = sum(((forward(x) - t) ** 2 for x, t in points), Value(0.0)) * (1 / len(points))
        for v in params:
            v.grad = 0.0
        loss.backward()
        for v in params:
            v.data -= LR * v.grad
        return loss.data

    def current():
        return {name: np.array([[w.data for w in row] for row in W] if name[0] == "W" else [v.data for v in b])
                for i, (W, b) in enumerate(weights, 1) for name in (f"W{i}", f"b{i}")}

    def reset():
        for v, w in zip(params, (float(w) for i in range(1, len(SIZES)) for k in (f"W{i}", f"b{i}")
                                 for w in p[k].ravel())):
            v.data = w

    return Contender(step, current, reset)


def reference_gradient(X: np.ndarray, Y: np.ndarray) -> dict[str, np.ndarray]:
    """d loss / d w at the starting weights, by hand in float64."""
    w, x, y = _float64(init()), X.astype(np.float64), Y.astype(np.float64)
    h1 = np.tanh(x @ w["W1"] + w["b1"])
    h2 = np.tanh(h1 @ w["W2"] + w["b2"])
    out = h2 @ w["W3"] + w["b3"]
    d3 = 2 * (out - y) / out.size
    d2 = (d3 @ w["W3"].T) * (1 - h2 * h2)
    d1 = (d2 @ w["W2"].T) * (1 - h1 * h1)
    return {"W1": x.T @ d1, "b1": d1.sum(0), "W2": h1.T @ d2, "b2": d2.sum(0), "W3": h2.T @ d3, "b3": d3.sum(0)}


def _number(loss) -> float:
    return float(loss.detach() if hasattr(loss, "detach") else loss)  # a torch tensor, a NumPy scalar, a float


def check(fns: dict, X: np.ndarray, Y: np.ndarray, steps: int = 3) -> None:
    """Each contender, from the starting weights, runs its timed step ``steps`` times: the losses it
    returns and the weights it ends with agree with graphlab's; its first step's gradient with the reference."""
    want_grad = reference_gradient(X, Y)
    start = _float64(init())
    results = {}
    for name, fn in fns.items():
        if fn is None:
            continue
        fn.reset()
        losses = [_number(fn())]
        grad = {k: (start[k] - w) / LR for k, w in fn.weights().items()}
        losses += [_number(fn()) for _ in range(steps - 1)]
        results[name] = losses, fn.weights()
        for k in want_grad:
            np.testing.assert_allclose(grad[k], want_grad[k], rtol=1e-3, atol=1e-6, err_msg=f"{name}: d loss / d {k}")
    want_losses, want_weights = results["graphlab"]
    for name, (losses, weights) in results.items():
        np.testing.assert_allclose(losses, want_losses, rtol=1e-4, err_msg=f"{name}: losses")
        for k in want_weights:
            np.testing.assert_allclose(weights[k], want_weights[k], rtol=0, atol=1e-5, err_msg=f"{name}: {k}")


CONTENDERS = {"graphlab": graphlab_step, "numpy": numpy_step, "torch": torch_step,
              "torch_1thread": lambda X, Y: torch_step(X, Y, threads=1), "micrograd": micrograd_step}


def run(quick: bool = False) -> dict[str, float | None]:
    """Seconds per training step, each contender's median (None: the peer is not installed)."""
    X, Y = data()
    fns = {name: make(X, Y) for name, make in CONTENDERS.items()}
    fast = interleaved({k: v for k, v in fns.items() if k != "micrograd"}, repeat=5 if quick else 9,
                       min_time=0.02 if quick else 0.1)
    # micrograd takes a good fraction of a second per step: a few single steps suffice
    slow = interleaved({"micrograd": fns["micrograd"]}, repeat=3)
    check(fns, X, Y)
    return {name: (fast | slow)[name] for name in CONTENDERS}
