"""The Playground page: its model (data, runs, the prediction's expression, exports) and, through
AppTest, its controls and state. The browser test is in test_e2e.py (it trains XOR from the page).

References are independent of the page: a hand-written forward pass, the stepper's own trace
of the prediction's expression, graphlab.train.Model.load for the exported weights.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from graphlab import data as datasets
from graphlab import from_text, trace
from graphlab.errors import GraphlabError
from graphlab.train import Model

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))

import playground_model as m  # noqa: E402

SMALL = m.Config(points=200, layers=(3,), activations=("tanh",))


# ----------------------------------------------------------------------------- the model
def test_the_url_round_trips_and_a_bad_link_is_reported_not_fatal():
    config = m.Config(dataset="spiral", classes=3, layers=(8, 8, 2), activations=("tanh", "relu", "sigmoid"),
                      features=("x1", "x2", "sinx1"), loss="ce", optimizer="sgd", lr=0.003, l2=0.001)
    assert m.from_query(m.to_query(config)) == (config, [])
    config, problems = m.from_query({"data": "nope", "layers": "4,99", "lr": "fast", "act": "tanh", "n": "300"})
    assert config.points == 300 and config.dataset == "xor" and config.layers == (4,)
    assert len(problems) == 3 and any("lr" in p for p in problems)
    assert m.from_query({"layers": "4,3", "act": "relu"})[0].activations == ("relu", "relu")  # one per layer


def test_features_are_computed_from_the_coordinates():
    X = np.array([[1.0, 2.0], [-0.5, 3.0]])
    F = m.feature_matrix(X, ("x1", "x2", "x1sq", "x2sq", "x1x2", "sinx1", "sinx2"))
    np.testing.assert_allclose(F[1], [-0.5, 3.0, 0.25, 9.0, -1.5, np.sin(-0.5), np.sin(3.0)])


def test_three_spirals_and_bce_falling_back_to_ce():
    run = m.Run.start(m.Config(dataset="spiral", classes=3, points=300, loss="bce", layers=(4,),
                               activations=("tanh",)))
    assert run.data.classes == ("0", "1", "2") and run.config.loss == "ce"
    assert run.model.graph.graph["sizes"] == (2, 4, 3)
    assert run.confusion("test").to_numpy().sum() == len(run.data.y_test)


@pytest.mark.parametrize("arms", [2, 3])
def test_spiral_arms_follow_the_playgrounds_formula(arms):
    # point i of arm k: radius 5 i/per at angle 1.75 · 2π i/per + 2πk/arms, (x, y) = r (sin, cos); label arms-1-k
    d = datasets.spiral(n=300, noise=0.0, test_fraction=0.0, seed=0, arms=arms)
    assert d.classes == tuple(str(c) for c in range(arms)) and len(d.y_train) == 300 // arms * arms
    per = 300 // arms
    for (x, y), label in zip(d.X_train, d.y_train, strict=True):
        r = np.hypot(x, y)
        i = round(r / 5 * per)
        k = arms - 1 - label
        angle = 1.75 * i / per * 2 * np.pi + k * 2 * np.pi / arms
        assert np.allclose([x, y], [r * np.sin(angle), r * np.cos(angle)], atol=1e-9)


def test_a_run_trains_an_epoch_at_a_time_and_records_both_losses():
    run = m.Run.start(SMALL)
    assert run.epoch == 0 and len(run.train_loss) == 1
    run.step(5)
    assert run.epoch == 5 and len(run.train_loss) == len(run.test_loss) == 6
    assert run.train_loss[-1] < run.train_loss[0]
    curves = run.curves()
    assert set(curves["set"]) == {"train", "test"} and len(curves) == 12


def test_the_boundary_and_neuron_maps_match_a_hand_forward_pass():
    run = m.Run.start(SMALL)
    run.step(2)
    mdl = run.model
    p = {k: np.asarray(v) for k, v in mdl.params.items()}
    cells = run.boundary(n=10)
    centres = np.column_stack([(cells["x"] + cells["x2"]) / 2, (cells["y"] + cells["y2"]) / 2])
    x = (centres - mdl.mean) / mdl.std
    h = np.tanh(x @ p["W1"] + p["b1"])
    z = (h @ p["W2"] + p["b2"])[:, 0]
    np.testing.assert_allclose(cells["p1"], 1 / (1 + np.exp(-z)), rtol=1e-9)
    maps = run.neuron_maps(n=10)
    assert len(maps) == 1 and len(maps[0]) == 3
    np.testing.assert_allclose(maps[0][1].ravel(), h[:, 1], rtol=1e-9)


def test_a_neuron_map_is_coloured_over_its_activations_range():
    white, orange, blue = [255, 255, 255], [245, 147, 34], [8, 119, 189]  # the Playground's colours
    for activation, values, colours in (("tanh", [-1.0, 0.0, 1.0], [orange, white, blue]),
                                        ("sigmoid", [0.0, 0.5, 1.0], [orange, white, blue]),
                                        ("relu", [0.0, 3.0], [white, blue])):  # unbounded: 0 white, the largest blue
        image = m.neuron_image(np.array([values]), activation, scale=1)
        assert image[0].tolist() == colours, activation


def test_the_network_diagram_sizes_links_by_weight():
    run = m.Run.start(m.Config(points=200, layers=(3, 2), activations=("tanh", "relu")))
    nodes, links = m.network(run)
    assert list(nodes["title"].unique()) == ["inputs", "tanh", "relu", "output"]
    assert len(links) == 2 * 3 + 3 * 2 + 2 * 1
    order = np.argsort(np.abs(links["weight"].to_numpy()))
    assert np.all(np.diff(links["width"].to_numpy()[order]) >= 0)  # larger |w|, thicker link
    assert set(links.loc[links["weight"] < 0, "colour"]) <= {m.NEGATIVE}


@pytest.mark.parametrize("loss,config", [
    ("bce", SMALL),
    ("ce", m.Config(dataset="spiral", classes=3, points=150, layers=(2, 2), activations=("sigmoid", "relu"),
                    loss="ce", features=("x1", "x2", "x1x2"))),
    ("mse", m.Config(dataset="gauss", points=100, layers=(2,), activations=("tanh",), loss="mse")),
])
def test_the_prediction_expression_traces_to_the_models_loss_on_that_point(loss, config):
    run = m.Run.start(config)
    run.step(3)
    p = m.prediction(run, "test", 4)
    assert run.config.loss == loss
    t = trace(from_text(p.expr), {k: float(v) for k, v in p.values.items()})
    assert t.output == pytest.approx(p.loss, rel=1e-9)
    assert p.nodes == from_text(p.expr).number_of_nodes()
    query = m.stepper_query(p)
    assert query["expr"] == p.expr and query["step"] == "1"


def test_the_default_prediction_is_drawable_and_big_networks_are_refused():
    run = m.Run.start(m.Config(points=100))
    assert m.prediction(run, "train", 0).nodes <= m.STEPPER_DRAW_LIMIT
    big = m.Run.start(m.Config(dataset="digits", layers=(16,), activations=("relu",), loss="ce"))
    with pytest.raises(GraphlabError, match="weights"):
        m.prediction(big, "test", 0)
    with pytest.raises(GraphlabError, match="no point 999"):
        m.prediction(run, "test", 999)


def test_exports_reload_and_the_code_computes_the_loss(tmp_path):
    run = m.Run.start(SMALL)
    run.step(2)
    path = tmp_path / "weights.npz"
    path.write_bytes(run.weights_npz())
    loaded = Model.load(path)
    d = run.inputs
    np.testing.assert_array_equal(loaded.predict(d.X_test), run.model.predict(d.X_test))
    namespace: dict = {}
    exec(compile(run.numpy_code(), "playground_network.py", "exec"), namespace)  # noqa: S102 - our own output
    mdl = run.model
    X = (d.X_train - mdl.mean) / mdl.std
    loss, grads = namespace["train_step"](np, X, *(mdl.params[k] for k in ("W1", "b1", "W2", "b2")),
                                          d.y_train.reshape(-1, 1).astype(float))
    assert loss == pytest.approx(mdl.loss(d.X_train, d.y_train), rel=1e-9) and len(grads) == 4


def test_a_csv_upload_with_several_columns_trains_without_the_plane():
    rows = ["a,b,c,label"] + [f"{i % 7},{i % 5},{(i * 3) % 11},{'yes' if i % 7 > 3 else 'no'}" for i in range(120)]
    run = m.Run.start(m.Config(dataset="csv", layers=(4,), activations=("relu",)), "\n".join(rows).encode())
    assert not m.uses_features(run.data) and run.data.classes == ("no", "yes")
    run.step(2)
    assert run.epoch == 2
    with pytest.raises(GraphlabError, match="upload"):
        m.Run.start(m.Config(dataset="csv"))


# ----------------------------------------------------------------------------- the page (AppTest)
def open_playground(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()  # the stepper first: AppTest switches pages only after a run
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page("playground_page.py").run()
    assert not at.exception, at.exception
    return at


def metrics(at: AppTest) -> dict[str, str]:
    return {x.label: x.value for x in at.metric}


def test_the_page_opens_from_a_link_and_writes_its_configuration_to_the_url():
    at = open_playground(data="circle", n="200", layers="3,2", act="relu,tanh", lr="0.01", seed="5")
    assert at.selectbox(key="pg_dataset").value == "circle"
    assert at.number_input(key="pg_hidden").value == 2
    assert [at.selectbox(key=f"pg_act_{i}").value for i in range(2)] == ["relu", "tanh"]
    assert at.query_params["layers"] == ["3,2"] or at.query_params["layers"] == "3,2"
    assert metrics(at)["Epoch"] == "0"


def test_step_trains_one_epoch_and_a_changed_control_starts_again():
    at = open_playground(n="200", layers="3", act="tanh")
    before = float(metrics(at)["Train loss"])
    at.button(key="pg_step").click().run()
    after = metrics(at)
    assert after["Epoch"] == "1" and float(after["Train loss"]) < before
    at.number_input(key="pg_units_0").set_value(5).run()
    assert metrics(at)["Epoch"] == "0"
    assert "5" in str(at.query_params["layers"])
    at.button(key="pg_step").click().run()
    at.button(key="pg_reset").click().run()
    assert metrics(at)["Epoch"] == "0"


def test_open_this_prediction_switches_to_the_stepper_with_the_points_graph():
    at = open_playground(n="200", layers="2", act="sigmoid")
    at.button(key="pg_step").click().run()
    at.button(key="pg_open").click().run()
    assert not at.exception, at.exception
    expr = at.query_params["expr"]
    expr = expr[0] if isinstance(expr, list) else expr
    assert "sigmoid(" in expr and expr.endswith("E = softplus(z) - t*z")
    assert at.text_input(key="expr").value == expr  # the stepper shows it
    assert len(at.get("bidi_component")) == 1  # the stepper's diagram view


def loss_spec(at: AppTest) -> dict:
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    return next(s for s in specs if s.get("title") == "Loss")


def test_the_loss_chart_counts_epochs_in_whole_numbers():
    at = open_playground(n="200", layers="3", act="tanh")
    for epochs in (0, 1):  # at epoch 0 a single point: Vega-Lite labelled it "0.000000" unless told otherwise
        spec = loss_spec(at)
        x = spec["encoding"]["x"]
        assert x["field"] == "epoch" and x["type"] == "quantitative"
        assert x["axis"]["format"] == "d" and x["axis"]["tickMinStep"] == 1  # d3-format "d": integer labels
        assert x["scale"]["domain"] == [0, max(1, epochs)]
        at.button(key="pg_step").click().run()
    run = m.Run.start(m.Config(points=200, layers=(3,)))
    run.step(2)
    assert run.curves()["epoch"].dtype.kind == "i" and sorted(set(run.curves()["epoch"])) == [0, 1, 2]
