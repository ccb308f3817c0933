"""MLP graphs: parameter counts, the whole graph's gradient, and the lecture's sigmoid network."""

from __future__ import annotations

import json

import numpy as np
import pytest

from graphlab import trace
from graphlab.cli import main
from graphlab.compile import central_differences, compile_graph
from graphlab.errors import GraphlabError
from graphlab.nn import describe, layer_dot, mlp, neuron_graph, neuron_values, parameter_count, summary


def test_the_lectures_mnist_mlp_has_159010_parameters():
    g = mlp([784, 200, 10])
    assert parameter_count(g) == 159_010 == 784 * 200 + 200 + 200 * 10 + 10
    assert "159,010" in summary(g)
    info = describe(g)
    assert info["parameters"] == 159_010
    assert [(la["inputs"], la["units"], la["activation"]) for la in info["layers"]] == [(784, 200, "relu"),
                                                                                      (200, 10, None)]
    dot = layer_dot(g)
    assert "W1·x + b1" in dot and '"(N, 200)"' in dot


@pytest.mark.parametrize("loss", ["ce", "bce", "mse"])
@pytest.mark.parametrize("activation", ["relu", "tanh", "sigmoid"])
def test_the_whole_mlp_gradient_matches_central_differences(activation, loss):
    rng = np.random.default_rng(1)
    sizes = [3, 4, 2 if loss != "bce" else 1]
    g = mlp(sizes, activation, loss, l2=0.01)
    values = {"X": rng.normal(size=(5, 3))}
    for i in (1, 2):
        values[f"W{i}"] = rng.normal(size=(sizes[i - 1], sizes[i]))
        values[f"b{i}"] = rng.normal(size=sizes[i])
    y = rng.integers(0, 2, 5)
    values["Y"] = np.eye(2)[y] if loss != "bce" else y.reshape(-1, 1).astype(float)
    c = compile_graph(g, wrt=g.graph["params"])
    _, grads = c(values)
    numeric = central_differences(c, values, g.graph["params"])
    for p in g.graph["params"]:
        np.testing.assert_allclose(grads[p], numeric[p], rtol=1e-5, atol=1e-8)


# The lecture's network (004): x1 = 0.35, x2 = 0.9; top hidden neuron weights 0.1 (x1) and
# 0.8 (x2), bottom 0.4 (x1) and 0.6 (x2); output weights 0.3 (top) and 0.9 (bottom); no biases;
# sigmoid everywhere; target 0.5, eta = 1, E = (y - t)^2 / 2.
LECTURE = {"W1": np.array([[0.1, 0.4], [0.8, 0.6]]), "W2": np.array([[0.3], [0.9]])}


def test_the_lectures_sigmoid_network_at_the_neuron_level():
    g = neuron_graph((2, 2, 1), activation="sigmoid")
    values = neuron_values(g, LECTURE, x=[0.35, 0.9], target=[0.5])
    assert values["w1_11"] == 0.1 and values["w1_21"] == 0.8 and values["w2_21"] == 0.9
    t = trace(g, values)
    assert round(t.values["h1"], 2) == 0.68  # input 0.755
    assert round(t.values["h2"], 4) == 0.6637  # input 0.68
    assert round(t.values["y"], 2) == 0.69  # input 0.80133 at the lecture's rounding
    eta = 1.0
    w1_new = values["w2_11"] - eta * t.gradient["w2_11"]
    w2_new = values["w2_21"] - eta * t.gradient["w2_21"]
    # full precision; the lecture's 0.272392 and 0.87305 come from its rounded h1, y
    assert f"{w1_new:.4f}" == "0.2723" and w1_new == pytest.approx(0.272326, abs=1e-6)
    assert f"{w2_new:.4f}" == "0.8730" and w2_new == pytest.approx(0.872998, abs=1e-6)
    # the lecture's own formula: w1+ = w1 - (y - t) y (1 - y) h1
    y, h1 = t.values["y"], t.values["h1"]
    assert w1_new == pytest.approx(0.3 - (y - 0.5) * y * (1 - y) * h1, rel=1e-12)


def test_neuron_graph_agrees_with_the_tensor_forward():
    rng = np.random.default_rng(0)
    params = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=3), "W2": rng.normal(size=(3, 2)),
              "b2": rng.normal(size=2)}
    g = neuron_graph((2, 3, 2), activation="tanh", bias=True)
    t = trace(g, neuron_values(g, params, x=[0.2, -0.7], target=[1.0, 0.0]))
    h = np.tanh(np.array([0.2, -0.7]) @ params["W1"] + params["b1"])
    out = np.tanh(h @ params["W2"] + params["b2"])
    assert [t.values["y1"], t.values["y2"]] == pytest.approx(out.tolist())
    assert t.output == pytest.approx(((out - [1.0, 0.0]) ** 2).sum() / 2)


def _hand_loss(params: dict, x: np.ndarray, label: int, loss: str) -> float:
    """One point through a tanh-then-relu MLP with NumPy, and its loss: written here, not read from graphlab."""
    h = np.maximum(np.tanh(x @ params["W1"] + params["b1"]) @ params["W2"] + params["b2"], 0)
    z = h @ params["W3"] + params["b3"]
    if loss == "bce":
        return float(np.log1p(np.exp(z[0])) - label * z[0])
    if loss == "ce":
        return float(np.log(np.exp(z).sum()) - z[label])
    return float(((z - np.eye(len(z))[label]) ** 2).mean())


@pytest.mark.parametrize("loss,outputs", [("bce", 1), ("ce", 3), ("mse", 2)])
def test_neuron_graph_of_an_mlp_gives_the_points_loss_and_its_gradient(loss, outputs):
    rng = np.random.default_rng(1)
    sizes = (3, 4, 2, outputs)
    params = {f"{kind}{layer}": rng.normal(size=(sizes[layer - 1], sizes[layer]) if kind == "W" else sizes[layer])
              for layer in (1, 2, 3) for kind in "Wb"}
    g = neuron_graph(sizes, ("tanh", "relu"), bias=True, loss=loss, inputs=("a", "b", "c"))
    assert g.graph["units"][1][0] == "h1_1" and g.graph["units"][-1][0] == ("z" if outputs == 1 else "z1")
    x, label = np.array([0.3, -1.1, 0.8]), outputs - 1
    target = [label] if loss == "bce" else np.eye(outputs)[label]
    values = neuron_values(g, params, x, target)
    t = trace(g, values)
    assert t.output == pytest.approx(_hand_loss(params, x, label, loss), rel=1e-12)
    h = 1e-6
    for name, (key, index) in {"w1_23": ("W1", (1, 2)), "b2_1": ("b2", (0,)), "w3_11": ("W3", (0, 0))}.items():
        up, down = {k: v.copy() for k, v in params.items()}, {k: v.copy() for k, v in params.items()}
        up[key][index] += h
        down[key][index] -= h
        central = (_hand_loss(up, x, label, loss) - _hand_loss(down, x, label, loss)) / (2 * h)
        assert t.gradient[name] == pytest.approx(central, rel=1e-6, abs=1e-9)


def test_bad_networks_are_clear_errors():
    with pytest.raises(GraphlabError, match="activation"):
        mlp([2, 2], activation="swish")
    with pytest.raises(GraphlabError, match="one output unit"):
        mlp([2, 3], loss="bce")
    with pytest.raises(GraphlabError, match="limited to"):
        neuron_graph((784, 200, 10))
    with pytest.raises(GraphlabError, match="one activation"):
        neuron_graph((2, 2, 1), activation=("tanh",))
    with pytest.raises(GraphlabError, match="3 inputs need 3 names"):
        neuron_graph((3, 1), loss="bce", inputs=("a", "b"))


def test_cli_mlp_json_and_diagram(tmp_path, capsys):
    assert main(["mlp", "--layers", "784,200,10", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["parameters"] == 159_010 and len(info["layers"]) == 2
    svg = tmp_path / "diagram.svg"
    assert main(["mlp", "--layers", "784,200,10", "--activation", "relu", "-o", str(svg)]) == 0
    assert "<svg" in svg.read_text()
    assert main(["mlp", "--layers", "784,x"]) == 2
    assert "error: --layers" in capsys.readouterr().err


def test_cli_compile_prints_the_source(capsys):
    assert main(["compile", "(x+y)z"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("def compiled(xp, x, y, z):") and "return f, (d_x, d_y, d_z)" in out
    assert main(["compile", "x +"]) == 2
    assert capsys.readouterr().err.startswith("error:")
