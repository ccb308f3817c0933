"""Training on the compiled graph: the quality bar, determinism, save/load, errors, the CLI, the GPU."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphlab import data
from graphlab.cli import main
from graphlab.compile import compile_graph
from graphlab.errors import GraphlabError
from graphlab.nn import mlp
from graphlab.train import Model, Trainer, TrainingDiverged, array_module, train


# ----------------------------------------------------------------------------- the quality bar
def test_digits_one_hidden_layer_of_64_reaches_95_percent_test_accuracy():
    r = train(data.digits(), layers=[64], lr=0.003, epochs=10, seed=0)
    assert r.last.test_accuracy >= 0.95


@pytest.mark.parametrize("name", ["xor", "circle", "moons"])
def test_playground_sets_reach_97_percent_train_accuracy(name):
    r = train(data.load(name, noise=0.1), layers=[8, 8], lr=0.01, epochs=30, seed=0)
    assert r.last.train_accuracy >= 0.97


def test_spiral_reaches_90_percent_with_a_deeper_net():
    r = train(data.spiral(), layers=[32, 32, 32], lr=0.01, epochs=150, seed=0)
    assert r.last.train_accuracy >= 0.90 and r.last.test_accuracy >= 0.90


# ----------------------------------------------------------------------------- behaviour
@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
@pytest.mark.parametrize("loss", ["ce", "bce", "mse"])
def test_every_optimizer_and_loss_learns(optimizer, loss):
    lr = {"sgd": 0.1, "momentum": 0.05, "adam": 0.01}[optimizer]
    r = train(data.moons(), layers=[8], activation="tanh", loss=loss, optimizer=optimizer, lr=lr, epochs=15)
    assert r.history[-1].train_loss < r.history[0].train_loss
    assert r.last.train_accuracy >= 0.85


def test_same_seed_same_result_and_another_seed_differs():
    d = data.xor()
    a, b = (train(d, layers=[4], epochs=3, seed=7) for _ in range(2))
    c = train(d, layers=[4], epochs=3, seed=8)
    assert all(np.array_equal(a.model.params[k], b.model.params[k]) for k in a.model.params)
    assert a.history == b.history
    assert not np.array_equal(a.model.params["W1"], c.model.params["W1"])


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_dtype_is_kept_and_weights_save_and_load_exactly(tmp_path, dtype):
    d = data.circle()
    r = train(d, layers=[5], epochs=2, dtype=dtype, l2=1e-3)
    assert all(p.dtype == np.dtype(dtype) for p in r.model.params.values())
    path = tmp_path / "w.npz"
    r.model.save(path)
    loaded = Model.load(path)
    assert loaded.params.keys() == r.model.params.keys()
    for k, p in r.model.params.items():
        assert loaded.params[k].dtype == p.dtype and np.array_equal(loaded.params[k], p)
    assert np.array_equal(loaded.logits(d.X_test), r.model.logits(d.X_test))
    assert loaded.accuracy(d.X_test, d.y_test) == r.last.test_accuracy


def test_a_trainer_epoch_by_epoch_is_train_in_one_call():
    d = data.xor(n=200, noise=0.1)
    r = train(d, layers=[4], activation="tanh", loss="bce", lr=0.03, epochs=5, batch_size=10, seed=3)
    trainer = Trainer(d, [4], "tanh", "bce", lr=0.03, batch_size=10, seed=3)
    for _ in range(5):
        trainer.epoch()
    assert trainer.history == r.history
    for name, p in r.model.params.items():
        np.testing.assert_array_equal(trainer.model.params[name], p)


def test_per_layer_activations_build_train_and_reload(tmp_path):
    g = mlp([2, 3, 4, 2], ["tanh", "relu"], "ce")
    assert [g.nodes[n]["op"] for n in ("H1", "H2")] == ["tanh", "relu"]
    d = data.moons(n=200)
    trainer = Trainer(d, [3, 4], ["tanh", "relu"], "ce", lr=0.01)
    trainer.epoch()
    trainer.model.save(tmp_path / "w.npz")
    loaded = Model.load(tmp_path / "w.npz")
    assert loaded.graph.graph["activations"] == ("tanh", "relu")
    np.testing.assert_array_equal(loaded.predict(d.X_test), trainer.model.predict(d.X_test))
    with pytest.raises(GraphlabError, match="2 hidden layers need 2 activations"):
        mlp([2, 3, 4, 2], ["tanh"], "ce")


def test_model_loss_and_hidden_outputs_match_a_hand_computation():
    d = data.gauss(n=100)
    trainer = Trainer(d, [3], "sigmoid", "bce", l2=0.1, seed=1)
    trainer.epoch()
    m, X, y = trainer.model, d.X_test, d.y_test
    p = {k: np.asarray(v, dtype=np.float64) for k, v in m.params.items()}
    x = (X - m.mean) / m.std
    h = 1 / (1 + np.exp(-(x @ p["W1"] + p["b1"])))
    z = (h @ p["W2"] + p["b2"])[:, 0]
    bce = np.mean(np.log1p(np.exp(z)) - y * z)  # the data loss: the L2 term is left out
    np.testing.assert_allclose(m.loss(X, y), bce, rtol=1e-5)
    (hidden,) = m.hidden(X)
    np.testing.assert_allclose(hidden, h, rtol=1e-5)


def test_divergence_names_the_epoch():
    with pytest.raises(TrainingDiverged, match=r"diverged at epoch 1: the loss became (nan|inf)"):
        train(data.xor(), layers=[8], loss="mse", optimizer="sgd", lr=1e6, epochs=3)


def test_csv_dataset_with_a_header_and_text_labels(tmp_path, capsys):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(120, 2))
    rows = ["a,b,kind"] + [f"{x:.5f},{y:.5f},{'pos' if x + y > 0 else 'neg'}" for x, y in X]
    path = tmp_path / "points.csv"
    path.write_text("\n".join(rows) + "\n")
    d = data.load(str(path))
    assert d.classes == ("neg", "pos") and d.features == 2 and len(d.y_train) == 96
    assert main(["train", "--dataset", str(path), "--layers", "4", "--epochs", "20", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"train_loss", "train_accuracy", "test_accuracy", "epochs", "seconds"}
    assert summary["epochs"] == 20 and summary["train_accuracy"] >= 0.9


def test_bad_inputs_are_one_line_errors(tmp_path, capsys):
    assert main(["train", "--dataset", "nope"]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,a\n1,x,b\n")
    assert main(["train", "--dataset", str(bad)]) == 2
    assert "line 2: a feature is not a number" in capsys.readouterr().err
    assert main(["train", "--dataset", "digits", "--loss", "bce"]) == 2
    assert "bce is for two classes" in capsys.readouterr().err
    assert main(["train", "--dataset", "xor", "--lr", "1e6", "--optimizer", "sgd", "--loss", "mse"]) == 2
    assert "diverged at epoch" in capsys.readouterr().err


def test_cli_train_saves_weights(tmp_path, capsys):
    path = tmp_path / "w.npz"
    assert main(["train", "--dataset", "gauss", "--layers", "4", "--epochs", "3", "--save", str(path)]) == 0
    assert "train accuracy" in capsys.readouterr().out
    assert Model.load(path).graph.graph["sizes"] == (2, 4, 2)


def _gpu_available() -> tuple[bool, str]:
    try:
        import cupy
    except ImportError:
        return False, "CuPy is not installed"
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return False, "CuPy found no GPU"
    except Exception as e:  # no driver
        return False, f"no usable GPU ({type(e).__name__})"
    return True, ""


GPU, WHY_NOT = _gpu_available()


@pytest.mark.skipif(GPU, reason="a GPU is present")
def test_gpu_request_without_one_is_a_clear_error():
    with pytest.raises(GraphlabError, match="device gpu"):
        array_module("gpu")


@pytest.mark.skipif(not GPU, reason=f"GPU test skipped: {WHY_NOT}")
def test_gpu_training_matches_the_cpu_path():
    import cupy

    from graphlab import from_text
    from graphlab.compile import compile_graph

    c = compile_graph(from_text("log(x1 x2) sin(x2)"))
    x1, x2 = np.linspace(0.5, 2, 7), np.linspace(0.1, 3, 7)
    out_cpu, g_cpu = c({"x1": x1, "x2": x2})
    out_gpu, g_gpu = c({"x1": cupy.asarray(x1), "x2": cupy.asarray(x2)}, xp=cupy)
    np.testing.assert_allclose(out_gpu.get(), out_cpu, rtol=1e-12)
    np.testing.assert_allclose(g_gpu["x2"].get(), g_cpu["x2"], rtol=1e-12)
    r = train(data.digits(), layers=[64], lr=0.003, epochs=10, device="gpu")
    assert isinstance(r.model.params["W1"], cupy.ndarray) and r.last.test_accuracy >= 0.95


# ----------------------------------------------------------------------------- linear and sign (issue 18)
def test_stacked_linear_layers_stay_linear():
    """Seed 000: W2 (W1 x + b1) + b2 = W' x + b'. Three linear layers on xor do no better than none."""
    d = data.xor(n=400)
    g = mlp([2, 3, 4, 1], "linear", "bce")
    assert [g.nodes[n]["op"] for n in ("H1", "H2")] == ["linear", "linear"]
    trainer = Trainer(d, [3, 4], "linear", "bce", lr=0.03, batch_size=10)
    for _ in range(30):
        trainer.epoch()
    p = {k: np.asarray(v, dtype=np.float64) for k, v in trainer.model.params.items()}
    w = p["W1"] @ p["W2"] @ p["W3"]  # the one linear map the network is
    b = (p["b1"] @ p["W2"] + p["b2"]) @ p["W3"] + p["b3"]
    x = (d.X_test - trainer.model.mean) / trainer.model.std
    np.testing.assert_allclose(np.asarray(trainer.model.logits(d.X_test)), x @ w + b, rtol=1e-4, atol=1e-5)
    assert trainer.history[-1].train_accuracy < 0.7  # a straight boundary cannot split xor
    tanh = train(d, [8], "tanh", "bce", lr=0.03, batch_size=10, epochs=30)  # one nonlinear layer does
    assert tanh.last.train_accuracy > 0.9


def test_sign_is_refused_for_gradient_training_pointing_to_the_perceptron_rule(capsys):
    g = mlp([2, 3, 1], "sign", "bce")  # the graph knows it
    assert g.nodes["H1"]["op"] == "sign"
    with pytest.raises(GraphlabError, match="perceptron rule"):
        Trainer(data.xor(), [3], "sign", "bce")
    with pytest.raises(GraphlabError, match="perceptron rule"):
        Trainer(data.xor(), [3, 3], ["relu", "sign"], "bce")
    assert main(["train", "--dataset", "xor", "--layers", "3", "--activation", "sign"]) == 2
    assert "perceptron rule" in capsys.readouterr().err
    assert main(["mlp", "--layers", "2,3,1", "--activation", "sign", "--loss", "bce"]) == 0
    assert "H1 = sign(Z1)" in capsys.readouterr().out


def test_cli_trains_and_describes_linear_layers(capsys):
    assert main(["train", "--dataset", "circle", "--layers", "4", "--activation", "linear", "--epochs", "5",
                 "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["epochs"] == 5 and summary["train_accuracy"] < 0.8  # circle is not linearly separable
    assert main(["mlp", "--layers", "2,4,2", "--activation", "linear", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["layers"][0]["activation"] == "linear"


# ----------------------------------------------------------------------------- live tuning (issue 18)
def test_tuning_between_epochs_keeps_the_weights_and_the_history():
    d = data.xor(n=200, noise=0.1)
    trainer = Trainer(d, [4], "tanh", "bce", lr=0.03, batch_size=10, seed=3)
    trainer.epoch()
    before = {k: np.array(v) for k, v in trainer.params.items()}
    adam = trainer.steps.optimizer
    trainer.tune(lr=0.1, batch_size=20)
    assert trainer.steps.optimizer is adam and adam.lr == 0.1 and trainer.steps.batch_size == 20
    for k, v in before.items():
        np.testing.assert_array_equal(trainer.params[k], v)  # tuning itself changes no weight
    trainer.epoch()
    assert len(trainer.history) == 2
    trainer.tune(optimizer="sgd", l2=0.01)
    assert type(trainer.steps.optimizer).__name__ == "_SGD" and trainer.model.graph.graph["l2"] == 0.01
    trainer.epoch()
    assert [e.epoch for e in trainer.history] == [1, 2, 3]
    with pytest.raises(GraphlabError, match="learning rate must be positive"):
        trainer.tune(lr=0)


def test_a_tuned_run_equals_a_fresh_run_with_the_new_settings_from_the_same_state():
    """After tune(lr, batch), an epoch is exactly the epoch a trainer built with those settings takes."""
    d = data.circle(n=200, noise=0.1)
    a = Trainer(d, [4], "tanh", "bce", optimizer="sgd", lr=0.03, batch_size=10, seed=1)
    b = Trainer(d, [4], "tanh", "bce", optimizer="sgd", lr=0.1, batch_size=25, l2=0.01, seed=1)
    for k in a.params:
        b.params[k][...] = a.params[k]  # the same start (the same seed gives the same weights anyway)
    a.tune(lr=0.1, batch_size=25, l2=0.01)
    a.epoch()
    b.epoch()
    assert a.history[-1].train_loss == pytest.approx(b.history[-1].train_loss, rel=1e-6)
    for k in a.params:
        np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-6)



def test_sgds_seed_follows_a_learning_rate_or_optimizer_tuned_without_recompiling():
    """SGD's step starts the backward pass from -lr, so its code returns the updates: a tuned lr or optimizer
    (the same compiled code) must change that seed, and gradients() must still give d loss / d w."""
    d = data.circle(n=200, noise=0.1)
    for settings in ({"lr": 0.3}, {"optimizer": "adam", "lr": 0.01}):
        a = Trainer(d, [4], "tanh", "bce", optimizer="sgd", lr=0.03, batch_size=10, seed=1)
        b = Trainer(d, [4], "tanh", "bce", **{"optimizer": "sgd", **settings}, batch_size=10, seed=1)
        for k in a.params:
            b.params[k][...] = a.params[k]
        a.tune(**settings)
        a.epoch()
        b.epoch()
        for k in a.params:
            np.testing.assert_allclose(a.params[k], b.params[k], rtol=1e-9, err_msg=str(settings))
    sgd = Trainer(d, [4], "tanh", "bce", optimizer="sgd", lr=0.5, seed=2)
    plain = compile_graph(sgd.model.graph, wrt=sgd.model.graph.graph["params"])  # no seed: d loss / d w
    _, want = plain({**sgd.params, "X": sgd.X, "Y": sgd.T})
    got = sgd.gradients()
    for k in want:
        np.testing.assert_allclose(got[k], want[k], rtol=1e-9, atol=1e-15, err_msg=k)

# ----------------------------------------------------------------------------- regression (issue 18)
def test_the_playgrounds_regression_sets_follow_its_formulas():
    d = data.plane(n=300)
    X = np.concatenate([d.X_train, d.X_test])
    y = np.concatenate([d.y_train, d.y_test])
    assert d.regression and d.classes == () and np.abs(X).max() <= 6
    np.testing.assert_allclose(y, X.sum(axis=1) / 10)  # no noise: the label is (x + y)/10 exactly
    b = data.bumps(n=300)
    X, y = np.concatenate([b.X_train, b.X_test]), np.concatenate([b.y_train, b.y_test])
    assert np.all(np.abs(y) <= 1) and y.min() < -0.5 and y.max() > 0.5
    for (cx, cy, sign) in data._BUMPS:  # the label at a point 1 from a centre (and 2+ from the others) is ±0.5
        near = np.hypot(X[:, 0] - cx, X[:, 1] - cy)
        inside = (near < 2) & (np.min([np.hypot(X[:, 0] - ox, X[:, 1] - oy) for ox, oy, _ in data._BUMPS
                                       if (ox, oy) != (cx, cy)], axis=0) > 2)
        np.testing.assert_allclose(y[inside], sign * (1 - near[inside] / 2))


def test_a_function_is_parsed_and_run_by_graphlab_never_eval():
    d = data.function("abs(x) - 1", n=100, test_fraction=0)
    np.testing.assert_allclose(d.y_train, np.abs(d.X_train[:, 0]) - 1)
    step = data.function("step(x)", n=100, test_fraction=0)
    assert set(step.y_train) == {0.0, 1.0}
    assert data.function("2", n=10).y_train.tolist() == [2.0] * 8  # a constant is a (flat) function too
    for bad, message in (("sin(y)", "only the variable x"), ("__import__('os')", "at column"),
                         ("log(x)", "not a finite number at x ="), ("x +", "at column")):
        with pytest.raises(GraphlabError, match=message):
            data.function(bad)


def test_a_network_fits_sin_with_mse_and_reports_r_squared():
    d = data.function("sin(x)", n=300, seed=1)
    with pytest.raises(GraphlabError, match="regression set .* use loss mse"):
        Trainer(d, [8], "tanh", "bce")
    trainer = Trainer(d, [16, 16], "tanh", "mse", lr=0.01, batch_size=16)
    first = trainer.epoch()
    for _ in range(150):
        last = trainer.epoch()
    assert last.train_loss < first.train_loss / 10 and last.test_accuracy > 0.95  # R² on the test set
    predicted = trainer.model.predict(d.X_test)
    y = d.y_test
    assert last.test_accuracy == pytest.approx(1 - np.sum((y - predicted) ** 2) / np.sum((y - y.mean()) ** 2))
    assert trainer.model.loss(d.X_test, y) == pytest.approx(np.mean((predicted - y) ** 2), rel=1e-5)
    linear = train(d, [16, 16], "linear", "mse", lr=0.01, batch_size=16, epochs=40)
    assert linear.last.test_accuracy < 0.5  # a straight line through a sine


# ----------------------------------------------------------------------------- residual blocks (issue 18)
def test_a_residual_layer_is_seed_004s_block_and_its_gradients_check():
    """Res(z) = z + σ(MM(σ(MM(z)))): layer 3 of 2-4-4-4-1 gives H3 = H1 + tanh(tanh(H1 W2 + b2) W3 + b3)."""
    from graphlab.compile import central_differences, compile_graph

    g = mlp([2, 4, 4, 4, 1], "tanh", "mse", residual=[3])
    assert g.nodes["H3"]["op"] == "add" and list(g.predecessors("H3")) == ["H1", "S3"]
    assert g.graph["residual"] == (3,) and g.graph["layers"][2]["residual"] == "H1"
    rng = np.random.default_rng(0)
    values = {"X": rng.normal(size=(5, 2)), "Y": rng.normal(size=(5, 1))}
    values |= {f"W{i}": rng.normal(size=s) for i, s in enumerate([(2, 4), (4, 4), (4, 4), (4, 1)], 1)}
    values |= {f"b{i}": rng.normal(size=(n,)) for i, n in enumerate([4, 4, 4, 1], 1)}
    compiled = compile_graph(g, wrt=g.graph["params"])
    loss, grads = compiled(values)
    h1 = np.tanh(values["X"] @ values["W1"] + values["b1"])
    h3 = h1 + np.tanh(np.tanh(h1 @ values["W2"] + values["b2"]) @ values["W3"] + values["b3"])
    assert float(loss) == pytest.approx(np.mean((h3 @ values["W4"] + values["b4"] - values["Y"]) ** 2))
    numeric = central_differences(compiled, values, g.graph["params"])
    for name in g.graph["params"]:
        np.testing.assert_allclose(grads[name], numeric[name], rtol=1e-5, atol=1e-7)
    with pytest.raises(GraphlabError, match="widths must match: 2 in, 4 out"):
        mlp([2, 4, 4, 1], residual=[2])
    with pytest.raises(GraphlabError, match="ends at one of layers 2 to 2"):
        mlp([2, 4, 4, 1], residual=[1])


def test_residual_networks_train_save_and_reload_and_the_cli_knows_them(tmp_path, capsys):
    d = data.circle(n=300)
    trainer = Trainer(d, [4, 4, 4], "relu", "ce", residual=[3])
    trainer.epoch()
    trainer.tune(l2=0.01)  # a new loss graph keeps the blocks
    assert trainer.model.graph.graph["residual"] == (3,)
    path = trainer.model.save(tmp_path / "res.npz")
    loaded = Model.load(path)
    assert loaded.graph.graph["residual"] == (3,)
    np.testing.assert_array_equal(loaded.logits(d.X_test), trainer.model.logits(d.X_test))
    assert main(["mlp", "--layers", "2,8,8,8,1", "--activation", "sigmoid", "--residual", "3"]) == 0
    assert "H3 = H1 + sigmoid(Z3)" in capsys.readouterr().out
    assert main(["mlp", "--layers", "2,8,8,1", "--residual", "2"]) == 2
    assert "widths must match: 2 in, 8 out" in capsys.readouterr().err
    assert main(["train", "--dataset", "circle", "--layers", "8,8,8", "--residual", "3", "--epochs", "3",
                 "--json"]) == 0
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["epochs"] == 3


# ----------------------------------------------------------------------------- regression in the CLI (issue 18)
def test_cli_fits_the_regression_sets_with_mse_and_reports_r2(capsys):
    assert main(["train", "--dataset", "plane", "--layers", "8", "--epochs", "20"]) == 0  # mse without --loss
    out = capsys.readouterr().out
    assert ", mse, " in out and "train R² " in out and "accuracy" not in out
    assert main(["train", "--dataset", "function", "--function", "abs(x)", "--layers", "16", "--activation", "tanh",
                 "--epochs", "60", "--lr", "0.03", "--json"]) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.strip().splitlines()]
    assert lines[-1]["train_accuracy"] > 0.9 and lines[-1]["train_loss"] < lines[0]["train_loss"]
    assert main(["train", "--dataset", "plane", "--loss", "ce"]) == 2
    assert "regression set" in capsys.readouterr().err


def test_cli_fits_a_csv_with_a_numeric_target(tmp_path, capsys):
    rng = np.random.default_rng(4)
    X = rng.uniform(-2, 2, size=(200, 2))
    target = X[:, 0] * X[:, 1] + 0.5 * X[:, 0]  # a number to fit, not a class
    path = tmp_path / "fit.csv"
    path.write_text("\n".join(["u,v,y"] + [f"{a:.6f},{b:.6f},{t:.6f}" for (a, b), t in zip(X, target)]) + "\n")
    d = data.load(str(path), regression=True)
    assert d.regression and d.classes == () and d.y_train.dtype == np.float64 and len(d.y_train) == 160
    assert main(["train", "--dataset", str(path), "--regression", "--layers", "16", "--activation", "tanh",
                 "--epochs", "80", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert set(summary) == {"train_loss", "train_accuracy", "test_accuracy", "epochs", "seconds"}
    assert summary["train_accuracy"] > 0.9 and summary["test_accuracy"] > 0.8  # R², checked below by hand
    result = train(d, [16], "tanh", "mse", epochs=80)
    predicted = result.model.predict(d.X_test)
    r2 = 1 - np.sum((d.y_test - predicted) ** 2) / np.sum((d.y_test - d.y_test.mean()) ** 2)
    assert result.last.test_accuracy == pytest.approx(r2)
    bad = tmp_path / "bad.csv"
    bad.write_text("1,2,3.5\n1,2,high\n")
    assert main(["train", "--dataset", str(bad), "--regression"]) == 2
    assert "line 2: the target 'high' is not a finite number" in capsys.readouterr().err
    assert main(["train", "--dataset", "xor", "--regression"]) == 2
    assert "only a CSV file's label column is read as numbers by --regression" in capsys.readouterr().err
