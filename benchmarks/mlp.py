"""Case 1: one epoch of MLP training, 784-200-10, ReLU, softmax cross-entropy, SGD lr 0.1, batch 128.

60,000 synthetic MNIST-shaped float32 samples (pixels in [0, 1], mostly dark; labels from a
fixed random teacher, so there is something to learn). Every contender starts from the same
weights, sees the same data in the same order, and trains on: seconds per epoch.

* graphlab: the compiled graph through :class:`graphlab.train.CompiledStep` (what ``train`` runs);
* numpy: the straightforward hand-written version a user would write;
* torch: PyTorch eager, ``nn.Sequential`` + ``CrossEntropyLoss`` + ``optim.SGD``, all cores;
* jax: one ``jax.jit`` step (gather, forward, ``grad``, update), the batches looped in Python;
* gemm_floor: the five matrix products of a step alone (forward two, backward three: the
  input's gradient is never needed), into preallocated outputs: no framework does less;
* torch_gemm_floor: the same products in PyTorch (MKL rather than NumPy's OpenBLAS).
"""

from __future__ import annotations

import numpy as np

from graphlab.nn import mlp
from graphlab.train import CompiledStep

from . import peers
from .timing import interleaved

SIZES = (784, 200, 10)
LR, BATCH = 0.1, 128


def data(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` MNIST-shaped rows (float32 in [0, 1], about 20 % lit) and their labels 0-9."""
    rng = np.random.default_rng(seed)
    X = rng.random((n, SIZES[0]), dtype=np.float32)
    X *= rng.random((n, SIZES[0]), dtype=np.float32) < 0.2
    teacher = rng.standard_normal((SIZES[0], SIZES[-1])).astype(np.float32)
    return X, np.argmax(X @ teacher, axis=1)


def init(seed: int = 1) -> dict[str, np.ndarray]:
    """He-initialized float32 weights, ``W`` as (fan_in, units)."""
    rng = np.random.default_rng(seed)
    params = {}
    for i, (fan_in, units) in enumerate(zip(SIZES[:-1], SIZES[1:]), 1):
        params[f"W{i}"] = (rng.standard_normal((fan_in, units)) * np.sqrt(2 / fan_in)).astype(np.float32)
        params[f"b{i}"] = np.zeros(units, np.float32)
    return params


def batches(n: int) -> range:
    return range(0, n, BATCH)


def graphlab_epoch(X, y, order):
    params = {k: v.copy() for k, v in init().items()}
    trainer = CompiledStep(mlp(SIZES), params, "sgd", LR, BATCH)
    T = np.eye(SIZES[-1], dtype=np.float32)[y]
    return lambda: trainer.epoch(X, T, order)


def numpy_epoch(X, y, order):
    p = {k: v.copy() for k, v in init().items()}
    T = np.eye(SIZES[-1], dtype=np.float32)[y]

    def epoch():
        W1, b1, W2, b2 = p["W1"], p["b1"], p["W2"], p["b2"]
        for lo in batches(len(X)):
            idx = order[lo:lo + BATCH]
            x, t = X[idx], T[idx]
            z1 = x @ W1 + b1
            h = np.maximum(z1, 0)
            z2 = h @ W2 + b2
            z2 = z2 - z2.max(axis=1, keepdims=True)
            e = np.exp(z2)
            prob = e / e.sum(axis=1, keepdims=True)
            dz2 = (prob - t) / len(x)
            dW2, db2 = h.T @ dz2, dz2.sum(axis=0)
            dz1 = (dz2 @ W2.T) * (z1 > 0)
            dW1, db1 = x.T @ dz1, dz1.sum(axis=0)
            W1 -= LR * dW1
            b1 -= LR * db1
            W2 -= LR * dW2
            b2 -= LR * db2

    return epoch


def torch_epoch(X, y, order):
    th = peers.torch()
    if th is None:
        return None
    p = init()
    model = th.nn.Sequential(th.nn.Linear(SIZES[0], SIZES[1]), th.nn.ReLU(), th.nn.Linear(SIZES[1], SIZES[2]))
    with th.no_grad():  # the same starting weights (Linear keeps W as (units, fan_in))
        for layer, i in ((model[0], 1), (model[2], 2)):
            layer.weight.copy_(th.from_numpy(p[f"W{i}"].T))
            layer.bias.copy_(th.from_numpy(p[f"b{i}"]))
    opt = th.optim.SGD(model.parameters(), lr=LR)
    loss_fn = th.nn.CrossEntropyLoss()
    Xt, yt, ot = th.from_numpy(X), th.from_numpy(y), th.from_numpy(order)

    def epoch():
        for lo in batches(len(X)):
            idx = ot[lo:lo + BATCH]
            opt.zero_grad()
            loss = loss_fn(model(Xt[idx]), yt[idx])
            loss.backward()
            opt.step()

    return epoch


def jax_epoch(X, y, order):
    jax = peers.jax()
    if jax is None:
        return None
    jnp = jax.numpy
    params = {k: jnp.asarray(v) for k, v in init().items()}
    Xj, yj, oj = jnp.asarray(X), jnp.asarray(y), jnp.asarray(order)

    def loss(p, x, t):
        h = jax.nn.relu(x @ p["W1"] + p["b1"])
        logits = h @ p["W2"] + p["b2"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), t[:, None], axis=1))

    @jax.jit
    def step(p, idx):
        g = jax.grad(loss)(p, Xj[idx], yj[idx])
        return jax.tree_util.tree_map(lambda w, d: w - LR * d, p, g)

    state = {"p": params}

    def epoch():
        p = state["p"]
        for lo in batches(len(X)):
            p = step(p, oj[lo:lo + BATCH])
        state["p"] = jax.block_until_ready(p)

    return epoch


def _gemm_floor(lib, asarray, X):
    """The five products of a step into preallocated outputs, with ``lib`` (numpy or torch) alone."""
    p = init()
    W1, W2, x = asarray(p["W1"]), asarray(p["W2"]), asarray(np.ascontiguousarray(X[:BATCH]))
    h, z2 = lib.empty((BATCH, SIZES[1]), dtype=lib.float32), lib.empty((BATCH, SIZES[2]), dtype=lib.float32)
    dh, dW1, dW2 = lib.empty_like(h), lib.empty_like(W1), lib.empty_like(W2)
    dz2 = lib.full_like(z2, 0.01)

    def epoch():
        for _ in batches(len(X)):
            lib.matmul(x, W1, out=h)
            lib.matmul(h, W2, out=z2)
            lib.matmul(h.T, dz2, out=dW2)
            lib.matmul(dz2, W2.T, out=dh)
            lib.matmul(x.T, dh, out=dW1)

    return epoch


def gemm_floor(X, y, order):
    return _gemm_floor(np, np.asarray, X)


def torch_gemm_floor(X, y, order):
    """The same five products in PyTorch (MKL), for what bounds a NumPy (OpenBLAS) trainer against torch."""
    th = peers.torch()
    return None if th is None else _gemm_floor(th, th.from_numpy, X)


CONTENDERS = {"graphlab": graphlab_epoch, "numpy": numpy_epoch, "torch": torch_epoch, "jax": jax_epoch,
              "gemm_floor": gemm_floor, "torch_gemm_floor": torch_gemm_floor}


def run(quick: bool = False) -> dict[str, float | None]:
    """Seconds per epoch, each contender's median (None: the peer is not installed)."""
    n = 6_000 if quick else 60_000
    X, y = data(n)
    order = np.random.default_rng(2).permutation(n)
    fns = {name: make(X, y, order) for name, make in CONTENDERS.items()}
    with np.errstate(over="ignore", invalid="ignore"):
        return interleaved(fns, repeat=3 if quick else 5)
