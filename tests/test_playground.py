"""The Playground page: its model (data, runs, the prediction's expression, exports) and, through
AppTest, its controls and state. The browser test is in test_e2e.py (it trains XOR from the page).

References are independent of the page: a hand-written forward pass, the stepper's own trace
of the prediction's expression, graphlab.train.Model.load for the exported weights.
"""

from __future__ import annotations

import json
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from graphlab import data as datasets
from graphlab import from_text, trace
from graphlab.errors import GraphlabError
from graphlab.fold import auto_groups
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


def test_training_for_a_time_can_be_stopped_between_two_epochs():
    """``between`` is the page's Streamlit yield point: when it raises (the script run was asked to stop), the
    epoch under way is finished and recorded, and no other begins."""
    class Stop(Exception):
        pass

    run, seen = m.Run.start(SMALL), []

    def between():
        seen.append(run.epoch)
        if run.epoch == 3:
            raise Stop

    with pytest.raises(Stop):
        run.train_for(3600.0, most=50, between=between)
    assert seen == [1, 2, 3]  # called between epochs, never before the first
    assert run.epoch == 3 and len(run.train_loss) == 4  # whole epochs only, each with its loss
    assert m.Run.start(SMALL).train_for(3600.0, most=4, between=lambda: None) == 4


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


def test_every_playground_network_opens_folded_into_its_layers():
    run = m.Run.start(m.Config(points=100))
    assert m.stepper_query(m.prediction(run, "train", 0))["fold"] == "1"
    # the largest network the page builds: digits' 64 pixels, six layers of 16, ten classes (2,464 weights)
    layers = (m.MAX_UNITS,) * m.MAX_LAYERS
    big = m.Run.start(m.Config(dataset="digits", layers=layers, activations=("relu",) * len(layers), loss="ce"))
    p = m.prediction(big, "test", 0)
    assert len(p.expr) <= m.MAX_EXPR_CHARS
    g = from_text(p.expr)
    assert [x.title for x in auto_groups(g)][:2] == ["layer 1: H1 = relu(x W1 + b1)", "layer 2: H2 = relu(H1 W2 + b2)"]
    assert m.prediction(big, "test", 0).nodes == g.number_of_nodes() > 5_000
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


# ----------------------------------------------------------------------------- issue 18
def test_training_controls_tune_the_run_and_the_rest_start_a_new_one():
    run = m.Run.start(m.Config(points=200, layers=(3,)))
    run.step(2)
    trainer = run.trainer
    for change in ({"lr": 0.1}, {"l2": 0.01}, {"batch_size": 25}, {"optimizer": "sgd"}):
        config = replace(run.requested, **change)
        assert run.follow(config) and run.trainer is trainer and run.epoch == 2
        assert run.config == config
    assert (trainer.lr, trainer.l2, trainer.batch_size, trainer.optimizer) == (0.1, 0.01, 25, "sgd")
    run.step()
    assert run.epoch == 3 and len(run.train_loss) == 4
    for change in ({"layers": (4,)}, {"activations": ("relu",)}, {"features": ("x1",)}, {"seed": 1},
                   {"dataset": "circle"}, {"loss": "mse"}):
        assert not run.follow(replace(run.requested, **change)), change


def test_the_page_changes_the_learning_rate_without_resetting_and_says_which_controls_do_what():
    at = open_playground(n="200", layers="3", act="tanh")
    at.button(key="pg_step").click().run()
    at.button(key="pg_step").click().run()
    run = at.session_state["_pg_run"]
    at.select_slider(key="pg_lr").set_value(0.1).run()
    at.selectbox(key="pg_optimizer").set_value("momentum").run()
    at.slider(key="pg_batch_size").set_value(20).run()
    at.select_slider(key="pg_l2").set_value(0.01).run()
    assert at.session_state["_pg_run"] is run and metrics(at)["Epoch"] == "2"
    assert (run.trainer.lr, run.trainer.optimizer, run.trainer.batch_size, run.trainer.l2) == (0.1, "momentum", 20,
                                                                                              0.01)
    assert at.query_params["lr"] in ("0.1", ["0.1"])
    at.button(key="pg_step").click().run()
    assert metrics(at)["Epoch"] == "3"
    assert any("Training changes apply as it trains" in c.value for c in at.sidebar.caption)
    at.selectbox(key="pg_act_0").set_value("relu").run()
    assert metrics(at)["Epoch"] == "0"


def test_the_page_offers_linear_and_explains_why_sign_does_not_train():
    at = open_playground(n="200", layers="3,3", act="linear,linear")
    at.button(key="pg_step").click().run()
    assert metrics(at)["Epoch"] == "1" and not at.error
    at.selectbox(key="pg_act_1").set_value("sign").run()
    assert "perceptron rule" in at.error[0].value
    run = m.Run.start(m.Config(points=200, layers=(3, 3), activations=("linear", "linear")))
    nodes, links = m.network(run)
    assert list(nodes.drop_duplicates("layer")["title"]) == ["inputs", "linear", "linear", "output"]


def test_a_curve_fit_trains_and_each_units_share_sums_to_the_curve():
    config, problems = m.from_query({"data": "function", "f": "abs(x)", "n": "200", "layers": "6", "act": "relu",
                                     "loss": "bce"})
    assert not problems and config.loss == "mse" and config.function == "abs(x)"
    run = m.Run.start(config)
    assert run.regression and m.input_names(run.data, config.features) == ["x"]
    before = run.train_loss[-1]
    run.step(60)
    assert run.train_loss[-1] < before / 3
    curve = run.curve(50)
    shares = curve[[f"h1_{j}" for j in range(1, 7)]].sum(axis=1) + float(np.asarray(run.model.params["b2"])[0])
    np.testing.assert_allclose(shares, curve["network"], atol=1e-9)
    train_r2, _ = run.accuracy()
    assert train_r2 > 0.8
    p = m.prediction(run, "test", 0)  # the stepper's graph of one point: mse on its target
    assert "E = (z - t)^2" in p.expr and float(p.values["t"]) == pytest.approx(run.data.y_test[0])
    assert float(trace(from_text(p.expr), {k: float(v) for k, v in p.values.items()}).output) == \
        pytest.approx(p.loss, rel=1e-9)
    assert m.from_query({"data": "function", "f": "x" * 300})[1] == [
        f"f: must be an expression in x of 1 to {m.MAX_FUNCTION} characters"]
    with pytest.raises(GraphlabError, match="only the variable x"):
        m.Run.start(replace(config, function="x + y"))


def test_the_regression_planes_colour_by_the_networks_output():
    run = m.Run.start(m.Config(dataset="bumps", points=300, layers=(8,), activations=("tanh",)))
    run.step(3)
    cells = run.boundary(10)
    np.testing.assert_allclose(cells["value"], run.values(run.grid(10)[2]))
    points = run.points()
    assert {"value", "set"} <= set(points.columns) and "class" not in points.columns


def test_the_page_fits_a_typed_function_and_the_presets_fill_it_in():
    at = open_playground(data="function", f="x^2/10", n="200", layers="8", act="tanh")
    assert at.text_input(key="pg_function").value == "x^2/10"
    assert "Train R²" in metrics(at) and at.selectbox(key="pg_loss").disabled
    at.button(key="pg_step").click().run()
    assert metrics(at)["Epoch"] == "1"
    assert any(json.loads(c.proto.spec).get("title", "").startswith("The fit") for c in at.get("vega_lite_chart"))
    at.toggle(key="pg_unit_curves").set_value(True).run()
    at.button(key="pg_f_sin").click().run()
    assert at.text_input(key="pg_function").value == "sin(x)" and metrics(at)["Epoch"] == "0"
    at.text_input(key="pg_function").set_value("sin(y)").run()
    assert "only the variable x" in at.error[0].value
    at.selectbox(key="pg_dataset").set_value("plane").run()
    assert not at.error and "Test R²" in metrics(at)


def test_a_deep_sigmoid_networks_first_layers_gradients_vanish_and_relus_do_not():
    """Seed 003, shown: the per-layer gradient norms of a 6-layer network after a few epochs."""
    def norms(act: str) -> list[float]:
        run = m.Run.start(m.Config(dataset="circle", points=400, layers=(8,) * 6, activations=(act,) * 6,
                                   optimizer="sgd", lr=0.3))
        run.step(3)
        last = [r for r in run.layer_history if r["epoch"] == 3]
        assert [r["layer"] for r in last] == [f"W{i}" for i in range(1, 8)]
        first = run.trainer.gradients()["W1"]  # the norm is that of the full-batch gradient
        assert last[0]["gradient"] == pytest.approx(float(np.linalg.norm(first)))
        return [r["gradient"] for r in last]

    sigmoid, relu = norms("sigmoid"), norms("relu")
    assert sigmoid[0] < sigmoid[-1] / 100  # W1's gradient is orders of magnitude below the output layer's
    assert relu[0] > relu[-1] / 10


def test_the_gradient_matches_finite_differences_and_the_links_can_show_it():
    run = m.Run.start(m.Config(points=100, layers=(3,), activations=("tanh",), l2=0.01))
    run.step(2)
    grads = run.trainer.gradients()
    params, (i, j) = run.model.params, (1, 2)
    d = run.inputs
    w, h = params["W1"], 1e-6
    losses = []
    for sign in (1, -1):
        w[i, j] += sign * h
        penalty = 0.01 * sum(float(np.sum(np.asarray(params[f"W{k}"]) ** 2)) for k in (1, 2))
        losses.append(run.model.loss(d.X_train, d.y_train) + penalty)
        w[i, j] -= sign * h
    assert grads["W1"][i, j] == pytest.approx((losses[0] - losses[1]) / (2 * h), rel=1e-5)
    _, links = m.network(run, "gradient")
    assert links["gradient"].tolist()[:3] == grads["W1"][0].tolist()
    data = run.layer_chart_data()
    assert set(data["what"]) == {"gradient norm ‖∇W‖", "update ratio ‖ΔW‖/‖W‖"} and set(data["epoch"]) == {0, 1, 2}


def test_the_page_draws_the_layer_chart_and_links_by_gradient():
    at = open_playground(n="200", layers="3,3", act="sigmoid,sigmoid")
    at.button(key="pg_step").click().run()
    specs = [json.loads(c.proto.spec) for c in at.get("vega_lite_chart")]
    assert any(s.get("title") == "Per layer: gradient norms and update ratios" for s in specs)
    at.segmented_control(key="pg_links").set_value("gradient").run()
    assert not at.exception
    network = next(s for s in (json.loads(c.proto.spec) for c in at.get("vega_lite_chart"))
                   if "layer" in s and any("gradient" in json.dumps(x.get("encoding", {})) for x in s["layer"]))
    assert network


def test_residual_blocks_keep_a_deep_sigmoid_networks_gradients():
    def first_over_last(residual: tuple[int, ...]) -> float:
        run = m.Run.start(m.Config(dataset="circle", points=400, layers=(8,) * 6, activations=("sigmoid",) * 6,
                                   optimizer="sgd", lr=0.3, residual=residual))
        run.step(3)
        norms = [r["gradient"] for r in run.layer_history if r["epoch"] == 3]
        return norms[0] / norms[-1]

    assert first_over_last((3, 5)) > 100 * first_over_last(())


def test_the_page_makes_residual_layers_and_opens_their_prediction():
    at = open_playground(n="200", layers="4,4,4", act="tanh", res="3,1")
    assert [at.checkbox(key=f"pg_res_{i}").value for i in (1, 2)] == [False, True]
    assert at.query_params["res"] in ("3", ["3"])  # layer 1 cannot end a block: dropped
    run = at.session_state["_pg_run"]
    assert run.model.graph.graph["residual"] == (3,)
    at.checkbox(key="pg_res_1").check().run()
    assert "widths must match: 2 in, 4 out" in at.error[0].value
    at.checkbox(key="pg_res_1").uncheck().run()
    at.button(key="pg_step").click().run()
    p = m.prediction(at.session_state["_pg_run"], "test", 3)
    assert "h3_1 = h1_1 + tanh(" in p.expr
    assert float(trace(from_text(p.expr), {k: float(v) for k, v in p.values.items()}).output) == \
        pytest.approx(p.loss, rel=1e-9)


def test_a_weight_typed_by_hand_changes_the_network_and_its_loss_at_once():
    at = open_playground(n="200", layers="3", act="tanh")
    at.button(key="pg_step").click().run()
    run = at.session_state["_pg_run"]
    before = metrics(at)["Train loss"]
    label = "W1[2,3]: x₂ → h1_3"
    assert label in at.selectbox(key="pg_weight").options
    at.selectbox(key="pg_weight").set_value(label).run()
    assert at.number_input(key="pg_weight_value").value == pytest.approx(float(run.model.params["W1"][1, 2]), abs=1e-4)
    at.number_input(key="pg_weight_value").set_value(5.0).run()
    assert float(run.model.params["W1"][1, 2]) == 5.0 and metrics(at)["Epoch"] == "1"
    assert metrics(at)["Train loss"] != before
    assert float(metrics(at)["Train loss"]) == pytest.approx(run.model.loss(run.inputs.X_train, run.inputs.y_train),
                                                             abs=1e-4)
    at.selectbox(key="pg_weight").set_value("b2[1]: bias of z").run()
    at.number_input(key="pg_weight_value").set_value(-2.0).run()
    assert float(run.model.params["b2"][0]) == -2.0
    with pytest.raises(GraphlabError, match="finite number"):
        run.set_weight("W1", (0, 0), float("nan"))


def test_the_plots_points_are_selectable_for_open_this_prediction():
    at = open_playground(n="200", layers="3", act="tanh")
    charts = {json.loads(c.proto.spec).get("title"): c.proto for c in at.get("vega_lite_chart")}
    boundary = charts["Decision boundary"]
    spec = json.loads(boundary.spec)
    params = [p for layer in spec["layer"] for p in layer.get("params", [])] + spec.get("params", [])
    assert any(p["name"] == "pick" and p["select"]["fields"] == ["set", "index"] for p in params)
    assert list(boundary.selection_mode) == ["pick"]


# ----------------------------------------------------------------------------- the perceptron rule (issue 18)
def test_a_perceptron_run_learns_a_separable_set_by_the_rule_and_not_xor():
    config, problems = m.from_query({"data": "gauss", "n": "200", "layers": "", "rule": "perceptron", "lr": "1"})
    assert problems == [] and config.rule == "perceptron" and config.layers == ()
    assert m.from_query(m.to_query(config))[0] == config
    run = m.Run.start(config)
    assert run.perceptron and tuple(run.model.graph.graph["sizes"]) == (2, 1)
    assert run.train_loss[0] == pytest.approx(1 - run.accuracy()[0])  # the 0/1 loss, before any update
    run.step(5)
    assert run.train_loss[-1] == 0 and run.accuracy()[0] == 1.0
    # the boundary is sign(w·x + b) of the standardized point, computed here by hand
    cells = run.boundary(n=10)
    centres = np.column_stack([(cells["x"] + cells["x2"]) / 2, (cells["y"] + cells["y2"]) / 2])
    w, b = np.asarray(run.model.params["W1"])[:, 0], float(run.model.params["b1"][0])
    z = (centres - run.model.mean) / run.model.std @ w + b
    np.testing.assert_array_equal(cells["p1"].to_numpy(), (z >= 0).astype(float))
    lr_run = m.Run.start(replace(config, dataset="xor", lr=0.1))
    lr_run.step(10)
    assert min(lr_run.train_loss) > 0.1  # no line separates xor: the rule never stops making mistakes
    assert lr_run.follow(replace(lr_run.requested, lr=1.0)) and lr_run.trainer.lr == 1.0 and lr_run.epoch == 10


def test_the_perceptron_rule_refuses_hidden_layers_and_regression():
    with pytest.raises(GraphlabError, match="single layer of sign units, and this network has 2 hidden layers"):
        m.Run.start(m.Config(points=200, layers=(3, 3), rule="perceptron"))
    with pytest.raises(GraphlabError, match="regression"):
        m.Run.start(m.Config(dataset="plane", points=200, layers=(), rule="perceptron"))


def test_the_page_trains_a_perceptron_from_the_learning_rule_control():
    at = open_playground(data="gauss", n="200", layers="", lr="1")
    at.selectbox(key="pg_rule").set_value("perceptron").run()
    assert not at.error and not at.exception and at.session_state["_pg_run"].perceptron
    assert any("w += η (y − ŷ) x" in c.value for c in at.caption)
    assert at.selectbox(key="pg_loss").disabled and at.selectbox(key="pg_optimizer").disabled
    at.button(key="pg_step").click().run()
    at.button(key="pg_step").click().run()
    assert metrics(at)["Epoch"] == "2" and metrics(at)["Train accuracy"] == "100.0%"
    assert float(metrics(at)["Train loss"]) == 0
    assert at.query_params["rule"] in ("perceptron", ["perceptron"])
    at.number_input(key="pg_hidden").set_value(1).run()  # a hidden layer: the rule has nothing for it
    assert "single layer of sign units" in at.error[0].value


def test_a_perceptrons_prediction_is_the_lectures_sign_unit_with_nothing_to_descend():
    run = m.Run.start(m.Config(dataset="xor", points=200, layers=(), rule="perceptron", lr=1.0))
    run.step(3)
    losses = set()
    for index in range(10):
        p = m.prediction(run, "test", index)
        assert p.expr.startswith("y = sign(") and p.expr.endswith("E = (y - t)^2/2")
        t = trace(from_text(p.expr), {k: float(v) for k, v in p.values.items()})
        assert t.output == pytest.approx(p.loss)  # 2 when sign(z) misses the ±1 target, 0 when it hits
        assert all(t.gradient[w] == 0 for w in ("w1_11", "w1_21", "b1_1"))  # sign' = 0: why the rule exists
        losses.add(p.loss)
    assert losses == {0.0, 2.0}  # xor: some right, some wrong


# ----------------------------------------------------------------------------- the lectures' exercises, by widget
def train_as_play_does(at: AppTest, epochs: int) -> None:
    at.session_state["_pg_run"].step(epochs)  # Play runs Run.train_for, an epoch at a time, on a timer
    at.run()


def last_gradient_norms(at: AppTest) -> list[float]:
    run = at.session_state["_pg_run"]
    return [r["gradient"] for r in run.layer_history if r["epoch"] == run.epoch]


def test_exercise_stacked_linear_layers_stay_linear_and_tanh_does_not():
    """Seed 000: two linear hidden layers on xor are one straight boundary; tanh layers bend it."""
    at = open_playground(data="xor", n="400", layers="4,4", act="linear")
    train_as_play_does(at, 50)
    assert metrics(at)["Epoch"] == "50" and float(metrics(at)["Train accuracy"].rstrip("%")) < 70
    for i in range(2):
        at.selectbox(key=f"pg_act_{i}").set_value("tanh").run()
    assert metrics(at)["Epoch"] == "0"  # a new network
    train_as_play_does(at, 50)
    assert float(metrics(at)["Train accuracy"].rstrip("%")) > 95


def test_exercise_vanishing_gradients_and_residual_connections():
    """Seed 003 and seed 004: six sigmoid layers of 8 with sgd; residual blocks ending at layers 3 and 5 keep
    W1's gradient within a factor of about 20 of the output layer's, where without them it is 10,000 below."""
    at = open_playground(data="circle", n="400", layers="8,8,8,8,8,8", act="sigmoid", opt="sgd", lr="0.3")
    assert [at.selectbox(key=f"pg_act_{i}").value for i in range(6)] == ["sigmoid"] * 6
    train_as_play_does(at, 3)
    plain = last_gradient_norms(at)
    assert len(plain) == 7 and plain[0] < plain[-1] / 1000
    for i in (2, 4):  # "Layer 3: residual", "Layer 5: residual"
        at.checkbox(key=f"pg_res_{i}").check().run()
    assert not at.error and at.session_state["_pg_run"].config.residual == (3, 5)
    train_as_play_does(at, 3)
    residual = last_gradient_norms(at)
    assert residual[0] / residual[-1] > 100 * plain[0] / plain[-1]


def test_a_hidden_browser_tab_trains_no_more_and_goes_on_when_shown():
    at = open_playground(n="200", layers="3", act="tanh")
    at.button(key="pg_play").click().run()
    at.run()
    playing = int(metrics(at)["Epoch"])
    assert playing > 0
    at.session_state["pg_visibility"] = {"hidden": True}  # what the page's visibility component reports
    at.run()
    at.run()
    assert int(metrics(at)["Epoch"]) == playing and not at.exception
    at.session_state["pg_visibility"] = {"hidden": False}
    at.run()
    assert int(metrics(at)["Epoch"]) > playing
