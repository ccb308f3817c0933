"""The stepper's folding and paths controls, driven by AppTest: a graph over the draw limit is drawn folded
into its layers, one group is expanded at a time, a step inside a folded group marks the group, and the paths
from a variable are marked with their products, whose sum is the gradient."""

from __future__ import annotations

import pytest
from test_app import open_app, shown, stepper_model

from graphlab import from_text, trace
from graphlab.nn import neuron_graph
from graphlab.present import number

# a 2-4-4-1 tanh network at the neuron level: 137 nodes, over the draw limit
NET = neuron_graph((2, 4, 4, 1), "tanh", bias=True, loss="bce")
AT = ",".join(f"{v}={0.1 * (k % 7) - 0.3:g}" for k, v in enumerate(NET.graph["variables"]))


def groups_drawn(at) -> list[str]:
    return [title.removeprefix("fold//") for title, g in shown(at).groups("group")]


def test_a_graph_over_the_draw_limit_is_drawn_folded_into_layers():
    assert NET.number_of_nodes() > stepper_model.MAX_DRAW_NODES
    at = open_app(expr=NET.graph["source"], at=AT)
    assert groups_drawn(at) == ["layer1", "layer2", "layer3", "layer4"]
    assert at.toggle(key="fold").value and at.toggle(key="fold").disabled
    assert at.query_params["fold"] == "1"
    assert "layer 2: H2 = tanh(H1 W2 + b2)" in shown(at).text


def test_expanding_a_layer_shows_its_neurons_then_fold_all_again():
    at = open_app(expr=NET.graph["source"], at=AT)
    at.pills(key="expand_pick").set_value("layer2").run()
    assert groups_drawn(at) == ["layer1", "h2_1", "h2_2", "h2_3", "h2_4", "layer3", "layer4"]
    assert at.query_params["expand"] == "layer2"
    at.pills(key="expand_pick").set_value("h2_3").run()  # one more: a neuron to its operators
    assert "h2_3" not in groups_drawn(at) and "tanh" in shown(at).text
    at.button(key="fold_all").click().run()
    assert groups_drawn(at) == ["layer1", "layer2", "layer3", "layer4"]


def test_a_step_inside_a_folded_group_marks_the_group():
    t = trace(NET, {k: float(v) for k, v in (p.split("=") for p in AT.split(","))})
    k = next(i for i, s in enumerate(t.steps) if s.phase == "backward" and s.node == "h2_3")
    at = open_app(expr=NET.graph["source"], at=AT, step=str(k + 1))
    assert shown(at).current() == ["fold//layer2"]
    at.pills(key="expand_pick").set_value("layer2").run()
    assert shown(at).current() == ["fold//h2_3"]


def test_a_small_graph_folds_on_request_and_a_link_keeps_it():
    at = open_app(expr="h = x y; f = h + sin(h)", at="x=1,y=2")
    assert not groups_drawn(at)
    at.toggle(key="fold").set_value(True).run()
    assert groups_drawn(at) == ["layer1", "layer2"]
    again = open_app(**dict(at.query_params))
    assert groups_drawn(again) == ["layer1", "layer2"]


@pytest.mark.parametrize("variable", ["x2", "x1"])
def test_paths_from_a_variable_are_marked_and_their_products_sum_to_the_gradient(variable):
    g = from_text("log(x1 x2) sin(x2)")
    t = trace(g, {"x1": 2.0, "x2": 3.0})
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    at.selectbox(key="paths").set_value(variable).run()
    assert not at.exception
    rows = at.dataframe[0].value
    assert len(rows) == {"x1": 1, "x2": 2}[variable]
    assert all(p.endswith("f") and p.startswith(variable) for p in rows["path"])
    gradient = number(t.grads[variable], digits=4, compact=True)
    assert any(f"= **{gradient}**" in m.value and "Sum of the products" in m.value for m in at.markdown)
    marked = [title for title, e in shown(at).groups("path")]
    assert len(marked) == {"x1": 3, "x2": 5}[variable]  # x2: x2 → x1 x2 → log → f and x2 → sin → f
    assert at.query_params["paths"] == variable


def test_paths_over_matrices_say_why_not():
    expr = "H = σ(X W + b)"
    at = open_app(expr=expr, at="X=[[0,0],[0,1]],W=[[5,-5],[-5,5]],b=[1,1]")
    at.selectbox(key="paths").set_value("W").run()
    assert not at.exception
    assert any("over matrices" in i.value for i in at.info)


def nodes_drawn(at) -> set[str]:
    return {title for title, g in shown(at).groups("node")}


def test_a_picked_set_is_drawn_as_one_node_and_a_link_keeps_it():
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    before = nodes_drawn(at)
    assert {"v1", "v2"} <= before
    at.multiselect(key="fold_set").set_value(["v1", "v2"]).run()
    at.text_input(key="fold_name").set_value("inner").run()
    assert not at.exception and not at.error
    drawn = nodes_drawn(at)
    assert "fold//inner" in drawn and not {"v1", "v2"} & drawn
    assert len(drawn) == len(before) - 1
    assert at.query_params["fold_set"] == "v1,v2" and at.query_params["fold_name"] == "inner"
    again = open_app(**dict(at.query_params))
    assert nodes_drawn(again) == drawn
    assert again.multiselect(key="fold_set").value == ["v1", "v2"]


def test_a_step_inside_a_picked_set_marks_it_and_layers_fold_beside_it():
    g = from_text("h = x y; f = h + sin(h)")
    t = trace(g, {"x": 1.0, "y": 2.0})
    k = next(i for i, s in enumerate(t.steps) if s.phase == "backward" and g.nodes[s.node]["label"] == "h")
    at = open_app(expr="h = x y; f = h + sin(h)", at="x=1,y=2", fold_set="x,y,h", step=str(k + 1))
    assert shown(at).current() == ["fold//group"]
    at.toggle(key="fold").set_value(True).run()  # layer 1 is h's statement: the set takes it in
    assert not at.error and sorted(groups_drawn(at)) == ["group", "layer2"]
    sin = next(d["label"] for _, d in g.nodes(data=True) if d.get("op") == "sin")
    at.multiselect(key="fold_set").set_value(["h", sin]).run()  # sin, but not all of layer 2
    assert any("in two folded groups, layer2 and group" in e.value for e in at.error)
    assert groups_drawn(at) == ["layer1", "layer2"]  # drawn without the set


@pytest.mark.parametrize(("picked", "said"), [(["x1", "v2"], "a path leaves it and comes back through"),
                                              (["v1"], None)])
def test_a_set_that_cannot_fold_says_why_beside_its_control(picked, said):
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    at.multiselect(key="fold_set").set_value(picked).run()
    at.text_input(key="fold_name").set_value("x1" if said is None else "group").run()  # a node's name: taken
    assert not at.exception
    [error] = at.error
    assert error.value.startswith("Cannot fold this set:") and "\n" not in error.value
    assert (said or "already a node of the expression") in error.value
    assert not any(t.startswith("fold//") for t in nodes_drawn(at))


@pytest.mark.parametrize("query", [{"fold_set": "v1,nosuch,<script>", "fold_name": "a b"},
                                   {"fold_set": ",".join(["v1"] * 5_000)},
                                   {"fold_set": "x" * 5_000, "fold_name": "n" * 500}])
def test_a_hostile_fold_set_link_opens_without_it(query):
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", **query)
    assert not at.exception and not at.error
    assert at.multiselect(key="fold_set").value in ([], ["v1"])
    assert at.text_input(key="fold_name").value == "group"


def test_over_the_draw_limit_a_set_is_picked_from_the_statements():
    at = open_app(expr=NET.graph["source"], at=AT, fold="1", expand="layer2", fold_set="h2_1,h2_2,w1_11")
    offered = at.multiselect(key="fold_set").options
    assert "h2_1" in offered and "w1_11" not in offered
    assert at.multiselect(key="fold_set").value == ["h2_1", "h2_2"]
    assert not at.error
    assert "group" in groups_drawn(at) and not {"h2_1", "h2_2"} & set(groups_drawn(at))
