"""The Playground's charts, built as plain Vega-Lite dicts (apps/playground_charts.py; issue 17).

The page no longer has Altair validate each chart on every tick, so here every kind of chart is
checked against the Vega-Lite JSON schema itself (the one Altair validates against). The rest: the
epoch charts of a long run are bounded and still end at the run's own last losses, and the neuron
maps go to the browser as PNG data URLs that decode to the maps' pixels.
"""

from __future__ import annotations

import base64
import io
import sys
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest
from altair.vegalite.v6.schema.core import load_schema
from PIL import Image

APPS = Path(__file__).resolve().parent.parent / "apps"
sys.path.insert(0, str(APPS))

import playground_charts as charts  # noqa: E402
import playground_model as m  # noqa: E402

VEGA_LITE = jsonschema.Draft7Validator(load_schema())
RUNS = {  # every kind of plot the page draws: two classes, three, a regression plane, a 1-D fit, digits
    "xor": m.Config(dataset="xor", points=200, layers=(4, 2), activations=("tanh", "relu")),
    "spiral": m.Config(dataset="spiral", classes=3, points=200, layers=(4,), activations=("tanh",)),
    "plane": m.Config(dataset="plane", points=200, layers=(3,), activations=("tanh",)),
    "function": m.Config(dataset="function", points=200, layers=(3,), activations=("tanh",)),
    "digits": m.Config(dataset="digits", layers=(8,), activations=("relu",)),
    "perceptron": m.Config(dataset="gauss", points=200, layers=(), activations=(), rule="perceptron"),
}


def schema_errors(spec: dict) -> list[str]:
    """What the Vega-Lite schema finds wrong in ``spec``, its datasets given inline as rows (a few: the schema
    takes any row)."""
    inline = {**spec, "datasets": {name: frame.head(3).to_dict("records") for name, frame in spec["datasets"].items()}}
    return [f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}" for e in VEGA_LITE.iter_errors(inline)]


def page_specs(run: m.Run) -> list[dict]:
    """Every chart the page's live views draw for ``run``, with each toggle either way."""
    specs = [charts.loss(run), charts.layers(run), charts.network(run, "weight"), charts.network(run, "gradient")]
    if m.uses_features(run.data):
        specs += [charts.boundary(run, show) for show in (True, False)]
    elif run.regression:
        specs += [charts.curve(run, show, units) for show in (True, False) for units in (True, False)]
    if not run.regression:
        specs += [charts.confusion(run, split) for split in ("train", "test")]
    return specs


@pytest.mark.parametrize("name", RUNS)
def test_every_chart_is_valid_vega_lite_and_names_only_its_own_datasets(name):
    run = m.Run.start(RUNS[name])
    run.step(2)
    for spec in page_specs(run):
        assert schema_errors(spec) == [], spec.get("title")
        used = {d["name"] for d in [spec.get("data", {}), *(layer.get("data", {}) for layer in spec.get("layer", []))]
                if "name" in d}
        assert used == set(spec["datasets"]), spec.get("title")
        for frame in spec["datasets"].values():
            assert isinstance(frame, pd.DataFrame)


def test_the_schema_check_has_teeth():
    run = m.Run.start(RUNS["xor"])
    spec = charts.loss(run)
    spec["mark"]["type"] = "lines"
    assert schema_errors(spec)
    spec = charts.boundary(run, True)
    spec["layer"][1]["encoding"]["x"]["type"] = "quantity"
    assert schema_errors(spec)


def test_the_clickable_plots_select_a_point_by_set_and_index():
    """"Open this prediction" reads the selection named pick: on the points layer of both clickable plots."""
    for name, spec in (("xor", charts.boundary), ("plane", charts.boundary), ("function", charts.curve)):
        run = m.Run.start(RUNS[name])
        drawn = spec(run, True) if spec is charts.boundary else spec(run, True, False)
        (pick,) = drawn["params"]
        assert pick["name"] == "pick" and pick["select"]["fields"] == ["set", "index"]
        (layer,) = [layer for layer in drawn["layer"] if layer.get("name") in pick["views"]]
        points = drawn["datasets"][layer["data"]["name"]]
        assert {"set", "index"} <= set(points.columns) and len(points) == len(run.data.y_train) + len(run.data.y_test)


def test_a_long_runs_epoch_charts_are_bounded_and_end_at_its_last_losses():
    run = m.Run.start(m.Config(dataset="xor", points=100, layers=(2,), activations=("tanh",)))
    run.step(charts.MOST_EPOCHS * 2 + 17)
    last = run.epoch
    loss = charts.loss(run)["datasets"]["loss"]
    assert loss["epoch"].nunique() == charts.MOST_EPOCHS and {0, last} <= set(loss["epoch"])
    train = loss[loss["set"] == "train"].set_index("epoch")["loss"]
    assert train[last] == run.train_loss[-1] and train[0] == run.train_loss[0]
    assert loss[loss["set"] == "test"].set_index("epoch")["loss"][last] == run.test_loss[-1]
    assert charts.loss(run)["encoding"]["x"]["scale"]["domain"] == [0, last]
    layers = charts.layers(run)["datasets"]["layers"]
    assert set(layers["epoch"]) <= set(loss["epoch"]) and layers["epoch"].max() == last
    full = run.layer_chart_data()  # every epoch: the shown rows are its rows at the shown epochs
    shown = full[full["epoch"].isin(set(loss["epoch"]))].reset_index(drop=True)
    pd.testing.assert_frame_equal(layers, shown)
    short = m.Run.start(m.Config(dataset="xor", points=100, layers=(2,), activations=("tanh",)))
    short.step(3)
    assert list(charts.loss(short)["datasets"]["loss"]["epoch"]) == [0, 1, 2, 3] * 2  # a short run: every epoch


@pytest.mark.parametrize("last", [0, 1, 399, 400, 401, 12_345])
def test_the_epochs_shown_are_evenly_spread_with_the_first_and_last(last):
    shown = charts.epochs_shown(last)
    assert shown[0] == 0 and shown[-1] == last and len(shown) == min(last + 1, charts.MOST_EPOCHS)
    assert np.all(np.diff(shown) > 0)
    if last >= charts.MOST_EPOCHS:
        gaps = np.diff(shown)
        assert gaps.max() - gaps.min() <= 1


def test_a_neuron_map_travels_as_a_png_data_url_of_its_pixels():
    run = m.Run.start(RUNS["xor"])
    image = m.neuron_image(run.neuron_maps()[0][1], "tanh")
    url = m.png_data_url(image)
    assert url.startswith("data:image/png;base64,")
    decoded = np.asarray(Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))).convert("RGB"))
    np.testing.assert_array_equal(decoded, image)


def test_the_page_sends_the_neuron_maps_inside_its_elements():
    """Not as media files: the timed fragment would leave every tick's behind until the next run of the page."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(APPS / "graphlab_app.py"), default_timeout=60)
    at.run()
    at.query_params.update({"data": "xor", "n": "200", "layers": "3,2", "act": "tanh,relu"})
    at.switch_page("playground_page.py").run()
    at.button(key="pg_step").click().run()
    assert not at.exception, at.exception
    urls = [url for layer in at.image for url in layer.value]  # one st.image per hidden layer
    assert len(urls) == 3 + 2 and all(url.startswith("data:image/png;base64,") for url in urls)
    run = at.session_state["_pg_run"]
    first = m.neuron_image(run.neuron_maps()[0][0], "tanh")
    assert urls[0] == m.png_data_url(first)  # the maps at the weights the page shows
