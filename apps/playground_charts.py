"""The Playground's charts as Vega-Lite specs: plain dicts, each holding its data as named datasets.

A playing session redraws every chart on each tick. Built with Altair, a tick spent most of its CPU in
Altair's JSON-schema validation and spec building (about 200 ms of a tick's drawing); these dicts cost
next to nothing, and ``tests/test_playground_charts.py`` validates every kind against the Vega-Lite
schema once, in the tests, instead of on every tick. Each spec is what the Altair code drew (the same
marks, encodings, scales and the "pick" selection), so the charts look and click the same.

The datasets keep one name per chart kind, so from one tick to the next a chart whose axes did not move
keeps the same spec and the browser swaps only its data. Each function returns the spec for
``st.vega_lite_chart(spec=...)``.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
import playground_model as m

Spec = dict[str, Any]
SETS = {"domain": ["train", "test"], "range": [m.POSITIVE, "#888888"]}  # train blue, test grey
# a point's outline: white, training point; black, test point (said in the caption: a legend would draw black dots)
OUTLINES = {"domain": ["train", "test"], "range": ["#ffffff", "#000000"]}
VALUE_SCALE = {"domain": [-1, 0, 1], "range": [m.NEGATIVE, "#ffffff", m.POSITIVE], "clamp": True}
MOST_EPOCHS = 400  # the epoch charts draw at most this many epochs (evenly spread, the last always): ~1 per pixel


def field(name: str, kind: str = "quantitative", **more: Any) -> dict[str, Any]:
    return {"field": name, "type": kind, **more}


def pick(view: Spec) -> tuple[Spec, list[Spec]]:
    """The points layer made clickable for "Open this prediction": a click selects the nearest point, by set
    and index. (Vega-Lite wants a layered chart's selection at the top, naming the layer it listens on.)"""
    view["name"] = "view_1"
    return view, [{"name": "pick", "select": {"type": "point", "fields": ["set", "index"], "nearest": True,
                                              "on": "click"}, "views": ["view_1"]}]


def boundary(run: m.Run, show_test: bool) -> Spec:
    """The decision boundary (or, for a regression, the network's output) over the plane, and the points."""
    x0, x1, y0, y1 = run.extent()
    xs = {"domain": [x0, x1], "nice": False, "zero": False}
    ys = {"domain": [y0, y1], "nice": False, "zero": False}
    cells: Spec = {"data": {"name": "cells"}, "mark": {"type": "rect", "opacity": 0.85, "strokeWidth": 0},
                   "encoding": {"x": field("x", scale=xs, title="x₁"), "x2": {"field": "x2"},
                                "y": field("y", scale=ys, title="x₂"), "y2": {"field": "y2"}}}
    points: Spec = {"data": {"name": "points"}, "mark": {"type": "circle", "opacity": 1, "size": 36, "strokeWidth": 1},
                    "encoding": {"x": field("x", scale=xs), "y": field("y", scale=ys),
                                 "stroke": field("set", "nominal", scale=OUTLINES, legend=None)}}
    if run.regression:
        cells["encoding"]["color"] = field("value", scale=VALUE_SCALE, legend=None)
        points["encoding"]["fill"] = field("value", scale=VALUE_SCALE, legend=None)
        points["encoding"]["tooltip"] = [field("set", "nominal"), field("index"), field("value", format=".3f"),
                                         field("x", format=".2f"), field("y", format=".2f")]
        title = "The network's output"
    else:
        classes = [str(i) for i in range(len(run.data.classes))]
        palette = {"domain": classes, "range": list(m.CLASS_COLOURS[:len(classes)])}
        if len(classes) == 2:  # the probability of class 1, orange 0 to blue 1 (said in the caption)
            cells["encoding"]["color"] = field("p1", scale={"domain": [0, 0.5, 1],
                                                            "range": [m.NEGATIVE, "#ffffff", m.POSITIVE]}, legend=None)
        else:  # the class predicted there, paler where the network is less sure
            cells["encoding"]["color"] = field("class", "nominal", scale=palette, legend=None)
            cells["encoding"]["opacity"] = field("confidence", scale={"domain": [1 / len(classes), 1],
                                                                      "range": [0.05, 0.8]}, legend=None)
        points["encoding"]["fill"] = field("class", "nominal", scale=palette, legend=None if len(classes) == 2 else
                                           {"orient": "right", "title": "class"})
        points["encoding"]["tooltip"] = [field("set", "nominal"), field("index"), field("class", "nominal"),
                                         field("x", format=".2f"), field("y", format=".2f")]
        title = "Decision boundary"
    points, params = pick(points)
    return {"layer": [cells, points], "params": params, "width": 380, "height": 440,  # the plot comes out square
            "title": title, "datasets": {"cells": run.boundary(), "points": run.points(show_test)}}


def curve(run: m.Run, show_test: bool, units: bool) -> Spec:
    """A 1-D fit: the points (x, f(x) + noise), the network's curve and, optionally, each last-layer unit's share."""
    line = run.curve()
    points, params = pick({
        "data": {"name": "points"}, "mark": {"type": "circle", "opacity": 0.7, "size": 30},
        "encoding": {"x": field("x", title="x"), "y": field("y", title="y"),
                     "color": field("set", "nominal", scale=SETS, legend={"orient": "top", "title": None}),
                     "tooltip": [field("set", "nominal"), field("index"), field("x", format=".3f"),
                                 field("y", format=".3f")]}})
    layers = [points, {"data": {"name": "curve"}, "mark": {"type": "line", "color": m.NEGATIVE, "strokeWidth": 3},
                       "encoding": {"x": field("x"), "y": field("network")}}]
    datasets = {"points": run.points(show_test), "curve": line}
    shares = [c for c in line.columns if c.startswith("h")]
    if units and shares:
        datasets["shares"] = line.melt(id_vars="x", value_vars=shares, var_name="unit", value_name="adds")
        layers.insert(0, {"data": {"name": "shares"},
                          "mark": {"type": "line", "opacity": 0.8, "strokeDash": [4, 3], "strokeWidth": 1},
                          "encoding": {"x": field("x"), "y": field("adds"), "detail": field("unit", "nominal"),
                                       "color": {"value": "#2ca02c"}, "tooltip": [field("unit", "nominal")]}})
    return {"layer": layers, "params": params, "height": 380, "datasets": datasets,
            "title": "The fit: points, and the network's curve (orange)"}


def epochs_shown(last: int) -> np.ndarray:
    """Which of epochs 0..``last`` the epoch charts draw: all, or ``MOST_EPOCHS`` evenly spread, the first and
    the last among them (a long run's chart would otherwise send and draw every epoch on every tick)."""
    if last < MOST_EPOCHS:
        return np.arange(last + 1)
    return np.unique(np.linspace(0, last, MOST_EPOCHS).round().astype(np.int64))


def epoch_axis(run: m.Run) -> Spec:
    # Epochs are whole numbers: integer labels, whole ticks, and a domain of at least [0, 1], so
    # epoch 0 alone is not one point that Vega-Lite labels "0.000000".
    return field("epoch", axis={"format": "d", "tickMinStep": 1}, scale={"domain": [0, max(1, run.epoch)],
                                                                         "nice": False})


def loss(run: m.Run) -> Spec:
    return {"data": {"name": "loss"}, "mark": {"type": "line", "point": run.epoch == 0, "strokeWidth": 2},
            "encoding": {"x": {**epoch_axis(run), "title": "epoch"}, "y": field("loss", scale={"zero": True},
                                                                              title="loss"),
                         "color": field("set", "nominal", scale=SETS, legend={"orient": "top", "title": None}),
                         "tooltip": [field("epoch"), field("set", "nominal"), field("loss", format=".4f")]},
            "height": 380, "title": "Loss", "datasets": {"loss": run.curves(epochs_shown(len(run.train_loss) - 1))}}


def confusion(run: m.Run, split: str) -> Spec:
    table = run.confusion(split)
    order_true = [c.removeprefix("true ") for c in table.index]
    order_pred = [c.removeprefix("predicted ") for c in table.columns]
    long = pd.DataFrame({"true": order_true * len(order_pred), "predicted": np.repeat(order_pred, len(order_true)),
                         "count": table.to_numpy().T.ravel()})  # column by column, as DataFrame.melt
    x = field("predicted", "nominal", sort=order_pred, title="predicted class", axis={"labelAngle": 0, "orient": "top"})
    y = field("true", "nominal", sort=order_true, title="true class", axis={"labelOverlap": False})
    dark = f"(datum.count > {float(long['count'].max()) / 2!r})"  # white text on the darker cells
    return {"layer": [{"mark": {"type": "rect"}, "encoding": {
                          "x": x, "y": y, "color": field("count", scale={"scheme": "blues"}, legend=None)}},
                      {"mark": {"type": "text", "fontSize": 11}, "encoding": {
                          "x": x, "y": y, "text": field("count"),
                          "color": {"condition": {"test": dark, "value": "white"}, "value": "black"}}}],
            "data": {"name": "counts"}, "width": 340, "height": 300, "title": f"Confusion matrix ({split} set)",
            "datasets": {"counts": long}}


def network(run: m.Run, show: str = "weight") -> Spec:
    """The network: neurons as circles at fixed places, links as lines coloured and sized by weight (or gradient)."""
    nodes, links = m.network(run, show)
    rows = int(nodes["row"].max()) + 1
    many = rows > 16  # digits: 64 inputs, drawn small and unlabelled
    names = nodes.iloc[0:0] if many else nodes[nodes["label"].str.len() < 8]
    datasets = {"links": links, "nodes": nodes, "titles": nodes.drop_duplicates("layer")}
    if len(names) < len(nodes):  # else the labels are drawn from the nodes' own dataset, not sent twice
        datasets["names"] = names
    x = field("layer", axis=None, scale={"domain": [-0.4, float(nodes["layer"].max()) + 0.4]})
    y = field("row", axis=None, scale={"domain": [rows - 0.5, -1.2]})
    return {"layer": [
        {"data": {"name": "links"}, "mark": {"type": "rule", "opacity": 0.8},
         "encoding": {"x": x, "y": y, "x2": {"field": "layer2"}, "y2": {"field": "row2"},
                      "color": field("colour", "nominal", scale=None), "strokeWidth": field("width", scale=None),
                      "tooltip": [field("link", "nominal"), field(show, format=".3g")]}},
        {"data": {"name": "nodes"},
         "mark": {"type": "circle", "color": "#f4f4f4", "opacity": 1, "size": 60 if many else 900, "stroke": "#888888"},
         "encoding": {"x": x, "y": y, "tooltip": [field("label", "nominal")]}},
        {"data": {"name": "names" if "names" in datasets else "nodes"},
         "mark": {"type": "text", "color": "#333333", "fontSize": 11},
         "encoding": {"x": x, "y": y, "text": field("label", "nominal")}},
        {"data": {"name": "titles"}, "mark": {"type": "text", "dy": -4, "fontSize": 12, "fontWeight": "bold"},
         "encoding": {"x": x, "y": {"datum": -1}, "text": field("title", "nominal")}}],
        "height": 520 if many else min(640, 36 * rows + 60), "datasets": datasets}


def layers(run: m.Run) -> Spec:
    """Per weight matrix and epoch: the gradient's norm and the update ratio, side by side, on log scales."""
    names = [f"W{i}" for i in range(1, len(run.model.graph.graph["sizes"]))]
    return {"data": {"name": "layers"},
            "facet": {"column": field("what", "nominal", title=None,
                                      sort=["gradient norm ‖∇W‖", "update ratio ‖ΔW‖/‖W‖"])},
            "spec": {"mark": {"type": "line", "point": run.epoch < 2},
                     "encoding": {"x": epoch_axis(run), "y": field("value", scale={"type": "log"}, title=None),
                                  "color": field("layer", "nominal", sort=names, scale={"scheme": "viridis"},
                                                 legend={"orient": "right", "title": "weights"}),
                                  "tooltip": [field("epoch"), field("layer", "nominal"), field("what", "nominal"),
                                              field("value", format=".3g")]},
                     "height": 220, "width": 420},
            "resolve": {"scale": {"y": "independent"}}, "title": "Per layer: gradient norms and update ratios",
            "datasets": {"layers": run.layer_chart_data(epochs_shown(len(run.train_loss) - 1))}}
