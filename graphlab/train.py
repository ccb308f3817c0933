"""Training an MLP graph: compiled forward/backward, mini-batches, SGD / momentum / Adam.

One code path for CPU and GPU: everything goes through the array module ``xp`` (NumPy,
or CuPy for ``device="gpu"``). The hot loop reuses preallocated buffers: the mini-batch
is gathered into fixed arrays with ``xp.take(..., out=)``, and the optimizers update
parameters and their state in place through one scratch array per parameter. For plain
SGD the compiled code starts its backward pass from -lr instead of 1 (``seed``), so what
it returns are the updates themselves, added in one pass. The gradients returned by the
compiled function are never written to (two of them may be the same array).
"""

from __future__ import annotations

import json
import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import networkx as nx
import numpy as np

from .compile import compile_graph
from .data import Dataset
from .errors import GraphlabError
from .nn import NOT_TRAINABLE, mlp

__all__ = ["OPTIMIZERS", "DEVICES", "TrainingDiverged", "Model", "Epoch", "Result", "Trainer", "CompiledStep", "train",
           "array_module", "to_numpy"]

OPTIMIZERS = ("sgd", "momentum", "adam")
DEVICES = ("cpu", "gpu")
DTYPES = ("float32", "float64")


class TrainingDiverged(GraphlabError):
    """The loss became NaN or infinite."""


def array_module(device: str) -> Any:
    """NumPy for ``"cpu"``, CuPy for ``"gpu"``; a clear error when CuPy or a GPU is missing."""
    if device == "cpu":
        return np
    if device != "gpu":
        raise GraphlabError(f"unknown device {device!r} (choose from {', '.join(DEVICES)})")
    try:
        import cupy
    except ImportError:
        raise GraphlabError("device gpu needs CuPy, which is not installed (pip install 'graphlab[gpu]')") from None
    try:
        count = cupy.cuda.runtime.getDeviceCount()
    except Exception as e:  # CUDA driver missing or broken: CuPy raises its own runtime errors
        raise GraphlabError(f"device gpu: CuPy cannot reach a GPU ({type(e).__name__}: {e})".splitlines()[0]) from None
    if count < 1:
        raise GraphlabError("device gpu: CuPy found no GPU")
    return cupy


def to_numpy(a: Any) -> np.ndarray:
    return a.get() if hasattr(a, "get") else np.asarray(a)


# ----------------------------------------------------------------------------- the model
@dataclass
class Model:
    """An MLP graph with its parameters (on the device of ``xp``) and input standardization."""

    graph: nx.DiGraph
    params: dict[str, Any]
    xp: Any = np
    mean: np.ndarray | None = None  # features are standardized with the training set's statistics
    std: np.ndarray | None = None
    classes: tuple[str, ...] = ()

    @property
    def dtype(self) -> Any:
        return next(iter(self.params.values())).dtype

    def _inputs(self, X: np.ndarray) -> Any:
        X = np.asarray(X, dtype=np.float64)
        if self.mean is not None:
            X = (X - self.mean) / self.std
        return self.xp.asarray(X, dtype=self.dtype)

    def logits(self, X: np.ndarray, standardized: bool = False) -> Any:
        """The last layer's outputs on raw features ``X`` (or on device inputs already standardized)."""
        forward = compile_graph(self.graph, wrt=(), output=self.graph.graph["logits"])
        values = {"X": X if standardized else self._inputs(X), **self.params}
        return forward.fn(self.xp, *(values[v] for v in forward.inputs))[0]

    def hidden(self, X: np.ndarray) -> list[np.ndarray]:
        """Each hidden layer's outputs ``H1, H2, ...`` on raw features ``X``: what every neuron computes."""
        g, inputs = self.graph, {"X": self._inputs(X), **self.params}
        out = []
        for i, layer in enumerate(g.graph["layers"][:-1], 1):
            forward = compile_graph(g, wrt=(), output=f"H{i}" if layer["activation"] else f"Z{i}")
            out.append(to_numpy(forward.fn(self.xp, *(inputs[v] for v in forward.inputs))[0]))
        return out

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        """The data loss (the L2 term left out) on raw features ``X`` with class indices ``y``."""
        g = self.graph
        if len(y) == 0:
            return float("nan")
        forward = compile_graph(g, wrt=(), output="loss" if g.graph["l2"] <= 0 else "data_loss")
        classes = len(self.classes) if self.classes or g.graph["loss"] != "mse" else 0  # 0: a regression
        targets = self.xp.asarray(_targets(np.asarray(y), g.graph["loss"], classes), dtype=self.dtype)
        inputs = {"X": self._inputs(X), "Y": targets, **self.params}
        return float(forward.fn(self.xp, *(inputs[v] for v in forward.inputs))[0])

    @property
    def regression(self) -> bool:
        return not self.classes and self.graph.graph["loss"] == "mse"

    def predict(self, X: np.ndarray, standardized: bool = False) -> np.ndarray:
        """Class indices (a regression: the predicted numbers)."""
        z = self.logits(X, standardized)
        if self.regression:
            return to_numpy(z[:, 0]).astype(np.float64)
        if self.graph.graph["loss"] == "bce":
            return to_numpy(z[:, 0] >= 0).astype(np.int64)  # a tie is class 1, as sign(0) = 1
        return to_numpy(self.xp.argmax(z, axis=1))

    def accuracy(self, X: np.ndarray, y: np.ndarray, standardized: bool = False) -> float:
        """The share classified right; for a regression the coefficient of determination R² instead."""
        if self.regression:
            return r_squared(y, self.predict(X, standardized)) if len(y) else float("nan")
        if len(y) == 0:
            return float("nan")
        return float(np.mean(self.predict(X, standardized) == to_numpy(y)))

    def save(self, path: str | Path) -> Path:
        """Parameters and everything needed to rebuild the model, in one ``.npz`` (no pickles).
        Returns the path written: NumPy adds ``.npz`` to a name without it."""
        g = self.graph.graph
        meta = {"sizes": list(g["sizes"]), "activation": g["activation"], "loss": g["loss"], "l2": g["l2"],
                "classes": list(self.classes), "residual": list(g["residual"])}
        arrays = {name: to_numpy(p) for name, p in self.params.items()}
        if self.mean is not None:
            arrays.update(_mean=self.mean, _std=self.std)
        path = Path(path)
        path = path if path.suffix == ".npz" else path.with_name(path.name + ".npz")
        try:
            np.savez(path, _meta=np.array(json.dumps(meta)), **arrays)
        except OSError as e:
            raise GraphlabError(f"cannot write {path}: {e.strerror or e}") from None
        return path

    @classmethod
    def load(cls, path: str | Path, device: str = "cpu") -> Model:
        xp = array_module(device)
        try:
            with np.load(Path(path), allow_pickle=False) as f:
                meta = json.loads(str(f["_meta"]))
                graph = mlp(meta["sizes"], meta["activation"], meta["loss"], meta["l2"], meta.get("residual", ()))
                params = {name: xp.asarray(f[name]) for name in graph.graph["params"]}
                mean, std = (f["_mean"], f["_std"]) if "_mean" in f else (None, None)
        except (OSError, KeyError, ValueError) as e:
            raise GraphlabError(f"cannot load weights from {path}: {e}") from None
        return cls(graph, params, xp, mean, std, tuple(meta["classes"]))


def r_squared(y: np.ndarray, predicted: np.ndarray) -> float:
    """1 - Σ(y - ŷ)² / Σ(y - ȳ)²: 1 for a perfect fit, 0 for predicting the mean."""
    y = to_numpy(y).astype(np.float64)
    total = float(np.sum((y - y.mean()) ** 2))
    residual = float(np.sum((y - predicted) ** 2))
    return 1.0 - residual / total if total > 0 else float("nan")


# ----------------------------------------------------------------------------- optimizers
class _Optimizer:
    seed = 1.0  # where the compiled backward pass starts: d loss / d loss, so the code returns the gradients

    def __init__(self, xp: Any, params: Sequence[Any], lr: float):
        self.xp, self.params, self.lr = xp, list(params), lr
        self.scratch = [xp.empty_like(p) for p in self.params]
        self.t = 0

    def step(self, grads: Sequence[Any]) -> None:
        self.t += 1
        for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
            self.update(i, p, g, self.scratch[i])

    def update(self, i: int, p: Any, g: Any, s: Any) -> None:  # plain SGD: p -= lr g
        xp = self.xp
        xp.multiply(g, self.lr, out=s)
        xp.subtract(p, s, out=p)


class _SGD(_Optimizer):
    """Plain SGD, p -= lr g: the compiled backward pass starts from -lr (the seed), so what it returns are
    the updates themselves, added in one pass: p += g."""

    @property
    def seed(self) -> float:
        return -float(self.lr)

    def step(self, grads: Sequence[Any]) -> None:
        self.t += 1
        add = self.xp.add
        for p, g in zip(self.params, grads):  # as many as the compiled code's wrt, by construction
            add(p, g, out=p)


class _Momentum(_Optimizer):
    mu = 0.9

    def __init__(self, xp, params, lr):
        super().__init__(xp, params, lr)
        self.velocity = [xp.zeros_like(p) for p in self.params]

    def update(self, i, p, g, s):  # v = mu v - lr g; p += v
        xp, v = self.xp, self.velocity[i]
        xp.multiply(v, self.mu, out=v)
        xp.multiply(g, self.lr, out=s)
        xp.subtract(v, s, out=v)
        xp.add(p, v, out=p)


class _Adam(_Optimizer):
    beta1, beta2, eps = 0.9, 0.999, 1e-8

    def __init__(self, xp, params, lr):
        super().__init__(xp, params, lr)
        self.m = [xp.zeros_like(p) for p in self.params]
        self.v = [xp.zeros_like(p) for p in self.params]

    def update(self, i, p, g, s):
        xp, m, v = self.xp, self.m[i], self.v[i]
        b1, b2 = self.beta1, self.beta2
        xp.multiply(m, b1, out=m)
        xp.multiply(g, 1 - b1, out=s)
        xp.add(m, s, out=m)  # m = b1 m + (1 - b1) g
        xp.multiply(v, b2, out=v)
        xp.multiply(g, g, out=s)
        xp.multiply(s, 1 - b2, out=s)
        xp.add(v, s, out=v)  # v = b2 v + (1 - b2) g²
        step = self.lr * math.sqrt(1 - b2**self.t) / (1 - b1**self.t)  # bias corrections folded into lr
        xp.sqrt(v, out=s)
        xp.add(s, self.eps, out=s)
        xp.divide(m, s, out=s)
        xp.multiply(s, step, out=s)
        xp.subtract(p, s, out=p)


_OPTIMIZERS = {"sgd": _SGD, "momentum": _Momentum, "adam": _Adam}


# ----------------------------------------------------------------------------- the hot loop
class CompiledStep:
    """One compiled forward/backward step and one optimizer over an MLP graph's ``params`` (updated in place).

    The mini-batch is gathered into buffers allocated once, and the compiled function's
    arguments are a list built once (the parameters are updated in place, so it stays valid):
    per step, Python does little more than call the generated code and the optimizer.
    """

    def __init__(self, graph: nx.DiGraph, params: dict[str, Any], optimizer: str = "sgd", lr: float = 0.01,
                 batch_size: int = 32, xp: Any = np):
        if optimizer not in _OPTIMIZERS:
            raise GraphlabError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        self.xp, self.params, self.batch_size = xp, params, batch_size
        # the code's last parameter is the seed its backward pass starts from: the optimizer's, read each step
        # (SGD's -lr: the code returns the updates), so a tuned learning rate or optimizer takes effect
        self.compiled = compile_graph(graph, wrt=graph.graph["params"], seed=True)
        self.optimizer = _OPTIMIZERS[optimizer](xp, [params[p] for p in self.compiled.wrt], lr)
        inputs = self.compiled.inputs
        self._args = [params.get(v) for v in inputs] + [1.0]
        self._x, self._t = inputs.index("X"), inputs.index("Y")
        self._buffers: tuple[Any, Any] | None = None

    def step(self, X: Any, T: Any) -> Any:
        """One update on the batch ``X`` (inputs) and ``T`` (targets); the batch loss (on the device)."""
        args = self._args
        args[self._x], args[self._t], args[-1] = X, T, self.optimizer.seed
        loss, grads = self.compiled.fn(self.xp, *args)
        self.optimizer.step(grads)
        return loss

    def epoch(self, X: Any, T: Any, order: np.ndarray) -> Any:
        """One pass over the rows of ``X``, ``T`` in ``order``: the summed loss (on the device, one sync)."""
        xp, n = self.xp, X.shape[0]
        bs = min(self.batch_size, n)
        shapes = (bs, X.shape[1]), (bs, T.shape[1])
        if self._buffers is None or tuple(b.shape for b in self._buffers) != shapes:
            self._buffers = xp.empty(shapes[0], dtype=X.dtype), xp.empty(shapes[1], dtype=T.dtype)
        X_batch, T_batch = self._buffers
        order = xp.asarray(order)
        total = 0.0
        for lo in range(0, n, bs):
            idx = order[lo:lo + bs]
            m = idx.shape[0]
            xb, tb = X_batch[:m], T_batch[:m]
            xp.take(X, idx, axis=0, out=xb)
            xp.take(T, idx, axis=0, out=tb)
            total = total + self.step(xb, tb) * m
        return total


# ----------------------------------------------------------------------------- training
@dataclass(frozen=True)
class Epoch:
    epoch: int
    train_loss: float  # mean mini-batch loss over the epoch (the L2 term included)
    train_accuracy: float  # after the epoch (a regression: R², see r_squared)
    test_accuracy: float


@dataclass
class Result:
    model: Model
    history: list[Epoch] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def last(self) -> Epoch:
        return self.history[-1]

    def as_json(self) -> dict[str, Any]:
        last = self.last
        return {"train_loss": last.train_loss, "train_accuracy": last.train_accuracy,
                "test_accuracy": None if math.isnan(last.test_accuracy) else last.test_accuracy,
                "epochs": len(self.history), "seconds": round(self.seconds, 3)}


def _init_params(sizes: Sequence[int], activations: Sequence[str], rng: np.random.Generator) -> dict[str, np.ndarray]:
    """``activations[i]`` follows layer i + 1 (the output layer counts as the last hidden layer's kind)."""
    params = {}
    for i, (fan_in, units) in enumerate(zip(sizes[:-1], sizes[1:], strict=True), 1):
        # He for ReLU, Glorot for the saturating activations
        scale = math.sqrt(2 / fan_in) if activations[i - 1] == "relu" else math.sqrt(2 / (fan_in + units))
        params[f"W{i}"] = rng.normal(0.0, scale, (fan_in, units))
        params[f"b{i}"] = np.zeros(units)
    return params


def _targets(y: np.ndarray, loss: str, classes: int) -> np.ndarray:
    if loss == "bce" or classes == 0:  # two classes on one output, or a regression target
        return y.reshape(-1, 1).astype(np.float64)
    return np.eye(classes)[y]


class Trainer:
    """Training one epoch at a time, so a caller (the app's Playground) can stop, look and go on.

    Holds the model, the optimizer's state, the shuffling generator and the history;
    :func:`train` is a loop over :meth:`epoch`. Same seed, same result, however the epochs
    are spread over calls.
    """

    def __init__(self, data: Dataset, layers: Sequence[int] = (16, 16), activation: str | Sequence[str] = "relu",
                 loss: str = "ce", optimizer: str = "adam", lr: float = 0.01, batch_size: int = 32, l2: float = 0.0,
                 seed: int = 0, device: str = "cpu", dtype: str = "float32", residual: Sequence[int] = ()):
        if optimizer not in _OPTIMIZERS:
            raise GraphlabError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if dtype not in DTYPES:
            raise GraphlabError(f"unknown dtype {dtype!r} (choose from {', '.join(DTYPES)})")
        if batch_size < 1 or not lr > 0 or l2 < 0:
            raise GraphlabError("epochs, batch size and learning rate must be positive, L2 not negative")
        n_classes = len(data.classes)
        if data.regression and loss != "mse":
            raise GraphlabError(f"{data.name} is a regression set (a number per point): use loss mse, not {loss}")
        if loss == "bce" and n_classes != 2:
            raise GraphlabError(f"loss bce is for two classes; this dataset has {n_classes} (use ce)")
        self.xp = xp = array_module(device)
        self.data, self.lr, self.l2, self.batch_size, self.optimizer = data, lr, l2, batch_size, optimizer
        sizes = [data.features, *layers, 1 if loss == "bce" or data.regression else n_classes]
        graph = mlp(sizes, activation, loss, l2, residual)
        refused = [NOT_TRAINABLE[a] for a in graph.graph["activations"] if a in NOT_TRAINABLE]
        if refused:
            raise GraphlabError(refused[0])
        self.rng = np.random.default_rng(seed)

        mean = data.X_train.mean(axis=0)
        std = data.X_train.std(axis=0)
        std[std == 0] = 1.0
        acts = graph.graph["activations"]
        acts = [*acts, acts[-1] if acts else graph.graph["activation"]]
        params = {k: xp.asarray(v, dtype=dtype) for k, v in _init_params(sizes, acts, self.rng).items()}
        self.params = params
        self.model = Model(graph, params, xp, mean, std, data.classes)
        self.X = self.model._inputs(data.X_train)
        self.T = xp.asarray(_targets(data.y_train, loss, n_classes), dtype=dtype)
        self.X_test = self.model._inputs(data.X_test)

        self.steps = CompiledStep(graph, params, optimizer, lr, batch_size, xp)
        self.history: list[Epoch] = []

    def tune(self, lr: float | None = None, l2: float | None = None, batch_size: int | None = None,
             optimizer: str | None = None) -> None:
        """Change the learning rate, L2, batch size or optimizer between epochs: the weights, the history and
        the shuffling go on. The optimizer keeps its state (Adam's moments) unless it is the one changed; a new
        L2 recompiles the step for the new loss."""
        lr = self.lr if lr is None else lr
        l2 = self.l2 if l2 is None else l2
        batch_size = self.batch_size if batch_size is None else batch_size
        optimizer = self.optimizer if optimizer is None else optimizer
        if optimizer not in _OPTIMIZERS:
            raise GraphlabError(f"unknown optimizer {optimizer!r} (choose from {', '.join(OPTIMIZERS)})")
        if batch_size < 1 or not lr > 0 or l2 < 0:
            raise GraphlabError("epochs, batch size and learning rate must be positive, L2 not negative")
        steps = self.steps
        if l2 != self.l2:
            g = self.model.graph.graph
            self.model.graph = mlp(g["sizes"], g["activation"], g["loss"], l2, g["residual"])
            self.steps = CompiledStep(self.model.graph, self.params, optimizer, lr, batch_size, self.xp)
            if optimizer == self.optimizer:  # the same parameters, in the same order: the state carries over
                self.steps.optimizer = steps.optimizer
        elif optimizer != self.optimizer:
            self.steps.optimizer = _OPTIMIZERS[optimizer](self.xp, steps.optimizer.params, lr)
        self.steps.optimizer.lr = lr
        self.steps.batch_size = batch_size
        self.lr, self.l2, self.batch_size, self.optimizer = lr, l2, batch_size, optimizer

    def gradients(self) -> dict[str, np.ndarray]:
        """d loss / d each parameter at the current weights over the whole training set, without updating:
        what the per-layer gradient charts show (one more compiled call; training itself never calls it)."""
        steps = self.steps
        args = list(steps._args)
        args[steps._x], args[steps._t], args[-1] = self.X, self.T, 1.0  # seed 1: the gradients, not SGD's steps
        _, grads = steps.compiled.fn(self.xp, *args)
        return {name: to_numpy(g).astype(np.float64) for name, g in zip(steps.compiled.wrt, grads, strict=True)}

    def epoch(self) -> Epoch:
        """One pass over the training set in shuffled mini-batches; its record is appended to ``history``."""
        n = self.X.shape[0]
        number = len(self.history) + 1
        with np.errstate(over="ignore", invalid="ignore"):  # divergence is reported below, naming the epoch
            total = self.steps.epoch(self.X, self.T, self.rng.permutation(n))
            train_loss = float(total) / n
            if not math.isfinite(train_loss):
                raise TrainingDiverged(f"training diverged at epoch {number}: the loss became {train_loss} "
                                       f"(try a smaller learning rate than {self.lr:g})")
            record = Epoch(number, train_loss, self.model.accuracy(self.X, self.data.y_train, standardized=True),
                           self.model.accuracy(self.X_test, self.data.y_test, standardized=True))
        self.history.append(record)
        return record


def train(data: Dataset, layers: Sequence[int] = (16, 16), activation: str | Sequence[str] = "relu",
          loss: str = "ce", optimizer: str = "adam", lr: float = 0.01, epochs: int = 100, batch_size: int = 32,
          l2: float = 0.0, seed: int = 0, device: str = "cpu", dtype: str = "float32",
          on_epoch: Callable[[Epoch], None] | None = None, residual: Sequence[int] = ()) -> Result:
    """Train an MLP with hidden sizes ``layers`` on ``data``; same seed, same result. No hidden layers and the
    ``sign`` activation: a perceptron, trained by the perceptron rule (:mod:`graphlab.perceptron`, which ignores
    ``loss``, ``optimizer``, ``batch_size`` and ``l2``; ``lr`` is its eta).

    Raises :class:`TrainingDiverged` naming the epoch when the loss becomes NaN or infinite.
    """
    from .perceptron import Perceptron, is_perceptron  # it builds on Model and Epoch, defined here

    if epochs < 1:
        raise GraphlabError("epochs, batch size and learning rate must be positive, L2 not negative")
    if is_perceptron(layers, activation):  # a single sign unit: Rosenblatt's rule, not gradient descent
        trainer = Perceptron(data, lr, seed, dtype, device)
    else:
        trainer = Trainer(data, layers, activation, loss, optimizer, lr, batch_size, l2, seed, device, dtype, residual)
    result = Result(trainer.model, trainer.history)
    start = time.perf_counter()
    for _ in range(epochs):
        record = trainer.epoch()
        if on_epoch is not None:
            on_epoch(record)
    result.seconds = time.perf_counter() - start
    return result
