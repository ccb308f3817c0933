"""The perceptron rule (seeds 003, 004): w += eta (y - y_hat) x, b += eta (y - y_hat), in the library and the CLI.

Oracles: steps worked by hand, Novikoff's bound on the number of mistakes, the separating hyperplane the
data were drawn from, and XOR's four points (no line separates them, so the rule cannot stop).
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphlab import data
from graphlab.cli import main
from graphlab.data import Dataset
from graphlab.errors import GraphlabError
from graphlab.perceptron import Perceptron, PerceptronModel, is_perceptron
from graphlab.train import train


def dataset(X, y, name="points") -> Dataset:
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y, dtype=np.int64)
    return Dataset(name, X, y, X[:0], y[:0], ("0", "1"))


def separable(n=200, seed=1, margin=0.3):
    """Points in [-3, 3]² labelled by the line u·x + c = 0, none closer to it than ``margin``."""
    rng = np.random.default_rng(seed)
    u, c = np.array([2.0, -1.0]), 0.5
    X = rng.uniform(-3, 3, (4 * n, 2))
    distance = (X @ u + c) / np.linalg.norm(u)
    X = X[np.abs(distance) > margin][:n]
    return X, (X @ u + c > 0).astype(np.int64), u, c


def test_one_update_by_hand():
    # two points with mean 0 and std 1 per column, so the rule sees them as given
    p = Perceptron(dataset([[1.0, -1.0], [-1.0, 1.0]], [0, 1]), lr=0.5)
    # w = 0, b = 0: y_hat = sign(0) = 1, but the class-0 point has y = -1: error -2
    assert p.update(np.array([1.0, -1.0]), -1.0) is True
    np.testing.assert_array_equal(p.params["W1"][:, 0], [-1.0, 1.0])  # 0 + 0.5 * (-2) * (1, -1)
    np.testing.assert_array_equal(p.params["b1"], [-1.0])  # 0 + 0.5 * (-2)
    # (-1, 1): z = 1 + 1 - 1 = 1, y_hat = 1 = y: nothing changes
    assert p.update(np.array([-1.0, 1.0]), 1.0) is False
    np.testing.assert_array_equal(p.params["W1"][:, 0], [-1.0, 1.0])
    # (1, -1) again: z = -1 - 1 - 1 = -3, y_hat = -1 = y: right
    assert p.update(np.array([1.0, -1.0]), -1.0) is False


def test_the_rule_converges_on_separable_data_within_novikoffs_bound():
    X, y, u, c = separable()
    p = Perceptron(dataset(X, y), lr=1.0, seed=0)
    for _ in range(200):
        p.epoch()
        if p.converged_at:
            break
    assert p.converged_at is not None and p.history[-1].train_loss == 0 and p.history[-1].train_accuracy == 1
    # every point on its side of the learned line, checked without the model: y (w·x_s + b) > 0
    xs = (X - p.model.mean) / p.model.std
    w, b = p.params["W1"][:, 0], p.params["b1"][0]
    assert np.all(np.where(y == 1, 1, -1) * (xs @ w + b) > 0)
    # Novikoff: from w = 0, at most (R / gamma)^2 updates, gamma the margin of a unit separator of (x_s, 1)
    v = np.append(u * p.model.std, u @ p.model.mean + c)
    v /= np.linalg.norm(v)
    augmented = np.column_stack([xs, np.ones(len(xs))])
    gamma = np.min(np.where(y == 1, 1, -1) * (augmented @ v))
    radius = np.max(np.linalg.norm(augmented, axis=1))
    mistakes = sum(round(e.train_loss * len(y)) for e in p.history)
    assert 0 < mistakes <= (radius / gamma) ** 2


def test_the_lecture_and_function_is_learned_and_xor_is_not():
    """AND is linearly separable; XOR is not (Minsky and Papert, seed 004): the rule never stops on XOR,
    and no line gets more than 3 of its 4 points right."""
    corners = [[0, 0], [0, 1], [1, 0], [1, 1]]
    p_and = Perceptron(dataset(corners, [0, 0, 0, 1]), lr=1.0)
    for _ in range(20):
        p_and.epoch()
    assert p_and.converged_at is not None and p_and.history[-1].train_accuracy == 1.0
    p_xor = Perceptron(dataset(corners, [0, 1, 1, 0]), lr=1.0)
    for _ in range(200):
        p_xor.epoch()
    assert p_xor.converged_at is None
    assert all(e.train_loss > 0 for e in p_xor.history)  # a mistake in every single pass
    assert max(e.train_accuracy for e in p_xor.history) <= 0.75


def test_train_dispatches_a_single_sign_unit_to_the_rule():
    assert is_perceptron([], "sign") and is_perceptron((), ["sign"])
    assert not is_perceptron([3], "sign") and not is_perceptron([], "tanh")
    r = train(data.gauss(n=300), layers=[], activation="sign", lr=1.0, epochs=10)
    assert isinstance(r.model, PerceptronModel) and tuple(r.model.graph.graph["sizes"]) == (2, 1)
    assert r.last.train_accuracy == 1.0 and r.last.train_loss == 0
    # its loss is the 0/1 loss: the share misclassified
    xr = train(data.xor(n=300), layers=[], activation="sign", lr=1.0, epochs=10)
    d = data.xor(n=300)
    assert xr.model.loss(d.X_train, d.y_train) == pytest.approx(1 - xr.model.accuracy(d.X_train, d.y_train))
    assert xr.last.train_accuracy < 0.8


def test_the_rule_refuses_what_it_cannot_train():
    with pytest.raises(GraphlabError, match="regression"):
        Perceptron(data.plane(n=100))
    with pytest.raises(GraphlabError, match="two classes; spiral has 3"):
        Perceptron(data.spiral(n=150, arms=3))
    with pytest.raises(GraphlabError, match="hidden sign units have no learning rule"):
        train(data.xor(), layers=[3], activation="sign", epochs=1)


def test_tuning_eta_keeps_the_weights():
    p = Perceptron(data.xor(n=200), lr=1.0)
    p.epoch()
    before = p.params["W1"].copy()
    p.tune(lr=0.1, batch_size=5, optimizer="adam")  # the rest does not apply to the rule
    assert p.lr == 0.1 and np.array_equal(p.params["W1"], before) and len(p.history) == 1
    g = p.gradients()  # the mean rule update, sign-flipped: -(y - y_hat) x averaged
    z = p.X @ p.params["W1"][:, 0] + p.params["b1"][0]
    error = p.Y - np.where(z >= 0, 1.0, -1.0)
    np.testing.assert_allclose(g["W1"][:, 0], -(p.X * error[:, None]).mean(axis=0))


def test_cli_trains_a_perceptron_and_says_whether_it_converged(capsys):
    assert main(["train", "--dataset", "gauss", "--layers", "", "--activation", "sign", "--lr", "1",
                 "--epochs", "10"]) == 0
    out = capsys.readouterr().out
    assert "MLP 2-1 perceptron rule eta=1" in out and "converged" in out and "not converged" not in out
    assert main(["train", "--dataset", "xor", "--layers", "", "--activation", "sign", "--epochs", "10",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 10 and summary["train_loss"] > 0 and summary["train_accuracy"] < 0.8
    assert main(["train", "--dataset", "xor", "--layers", "", "--activation", "sign", "--epochs", "10"]) == 0
    assert "not converged" in capsys.readouterr().out
    assert main(["train", "--dataset", "xor", "--layers", "3", "--activation", "sign"]) == 2
    assert "hidden sign units have no learning rule" in capsys.readouterr().err
