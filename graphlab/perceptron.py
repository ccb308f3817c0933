"""The perceptron rule (Rosenblatt 1958; seeds 003 and 004): one layer of sign units, trained without gradients.

The unit outputs ŷ = sign(w·x + b) ∈ {-1, 1} (the registry's ``sign``, with sign(0) = 1); a point of class 1
has y = 1, a point of class 0 has y = -1. For each training point in turn, as the lecture writes it::

    w_i = w_i + eta (y - y_hat) x_i        b = b + eta (y - y_hat)

A point classified right changes nothing; a wrong one moves w by ±2 eta x towards its side. On linearly
separable data the rule stops making mistakes after finitely many updates (Novikoff's theorem); on XOR it
never does (Minsky and Papert). Only a single layer has this rule: a network with hidden sign units has no
learning rule at all, which is what backpropagation with smooth activations solved.

:class:`Perceptron` has the interface of :class:`graphlab.train.Trainer` (``epoch``, ``history``, ``model``,
``tune``, ``gradients``), so the Playground and ``graphlab train`` drive it the same way.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .data import Dataset
from .errors import GraphlabError
from .nn import mlp
from .ops import OPS
from .train import Epoch, Model

__all__ = ["Perceptron", "PerceptronModel", "is_perceptron"]

_SIGN = OPS["sign"].forward_fn(1)  # the activation's own forward rule: one definition of sign(0)


def is_perceptron(layers, activation) -> bool:
    """A network the perceptron rule trains: no hidden layers and the ``sign`` activation."""
    names = (activation,) if isinstance(activation, str) else tuple(activation)
    return not len(layers) and names == ("sign",)


class PerceptronModel(Model):
    """A single sign unit: the model of :class:`graphlab.train.Model` (one output z = w·x + b, class 1 where
    sign(z) = 1, i.e. z >= 0) whose loss is the 0/1 loss, the share of points misclassified: the rule has no
    smooth loss, and the 0/1 loss is what it drives to zero on separable data."""

    def loss(self, X: np.ndarray, y: np.ndarray) -> float:
        return 1.0 - self.accuracy(X, y) if len(y) else float("nan")


class Perceptron:
    """The perceptron rule over a two-class :class:`Dataset`, one epoch (one shuffled pass) at a time.

    ``lr`` is the lecture's eta. The weights start at zero, as Rosenblatt's did; ``seed`` orders the passes.
    Inputs are standardized with the training set's statistics, like every graphlab model.
    """

    def __init__(self, data: Dataset, lr: float = 1.0, seed: int = 0, dtype: str = "float64", device: str = "cpu"):
        if data.regression:
            raise GraphlabError(f"{data.name} is a regression set: the perceptron rule separates two classes")
        if len(data.classes) != 2:
            raise GraphlabError(f"the perceptron rule separates two classes; {data.name} has {len(data.classes)}")
        if device != "cpu":
            raise GraphlabError("the perceptron rule runs on the CPU: it updates after every single point")
        if not lr > 0:
            raise GraphlabError("the learning rate eta must be positive")
        self.data, self.lr = data, lr
        self.rng = np.random.default_rng(seed)
        graph = mlp([data.features, 1], "sign", "bce")
        params = {"W1": np.zeros((data.features, 1), dtype=dtype), "b1": np.zeros(1, dtype=dtype)}
        mean = data.X_train.mean(axis=0)
        std = data.X_train.std(axis=0)
        std[std == 0] = 1.0
        self.params = params
        self.model = PerceptronModel(graph, params, np, mean, std, data.classes)
        self.X = self.model._inputs(data.X_train)
        self.X_test = self.model._inputs(data.X_test)
        self.Y = np.where(data.y_train == 1, 1.0, -1.0)  # class 1 -> +1, class 0 -> -1: sign's outputs
        self.history: list[Epoch] = []
        self.converged_at: int | None = None  # the first epoch with no mistake (the rule changes nothing after)

    def tune(self, lr: float | None = None, **ignored: Any) -> None:
        """A new eta between epochs (the rule has no optimizer, batches or L2: the rest is ignored)."""
        if lr is not None:
            if not lr > 0:
                raise GraphlabError("the learning rate eta must be positive")
            self.lr = lr

    def update(self, x: np.ndarray, y: float) -> bool:
        """The rule on one point: w += eta (y - y_hat) x, b += eta (y - y_hat). True when y_hat was wrong."""
        w, b = self.params["W1"][:, 0], self.params["b1"]
        error = y - float(_SIGN(np, x @ w + b[0]))
        if error:
            w += self.lr * error * x  # in place: the model's parameters
            b += self.lr * error
        return bool(error)

    def gradients(self) -> dict[str, np.ndarray]:
        """The mean of -(y - y_hat) x over the training set (and -(y - y_hat) for b): the direction one pass
        of the rule would move the weights down, per unit eta, if it updated once after the whole pass. The
        rule has no gradient; this is what the Playground's gradient view draws for it."""
        z = self.X @ self.params["W1"][:, 0] + self.params["b1"][0]
        error = self.Y - _SIGN(np, z)
        return {"W1": -(self.X * error[:, None]).mean(axis=0)[:, None], "b1": np.array([-error.mean()])}

    def epoch(self) -> Epoch:
        """One pass over the training points in a shuffled order; ``train_loss`` is the share of points the
        rule corrected during the pass (its mistakes), the accuracies are measured after it."""
        n = self.X.shape[0]
        mistakes = sum(self.update(self.X[i], self.Y[i]) for i in self.rng.permutation(n))
        number = len(self.history) + 1
        if mistakes == 0 and self.converged_at is None:
            self.converged_at = number
        record = Epoch(number, mistakes / n if n else float("nan"),
                       self.model.accuracy(self.X, self.data.y_train, standardized=True),
                       self.model.accuracy(self.X_test, self.data.y_test, standardized=True))
        self.history.append(record)
        return record

