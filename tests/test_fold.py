"""Folding (graphlab.fold): which nodes a statement, a layer or a picked set holds, the errors for bad groups,
and that a folded diagram shows the same numbers as the unfolded trace: a folded node's value and gradient
are its output's, and the gradient on an edge into a group is the sum of what the group's uses send back.

The network is lecture 004's sigmoid network: h1 and h2 read only variables (layer 1), y reads them
(layer 2), E reads y (layer 3).
"""

from __future__ import annotations

import numpy as np
import pytest

from graphlab import from_text, trace
from graphlab.cli import main
from graphlab.errors import GraphlabError
from graphlab.fold import auto_groups, folded_id, groups, inputs, layers, outputs, statements
from graphlab.nn import neuron_graph, neuron_values
from graphlab.paths import path_edges, paths
from graphlab.present import number
from graphlab.render import Writer, build

NETWORK = "h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); E = (y - t)^2 / 2"
AT = dict(w1=0.1, w2=0.2, w3=0.3, w4=0.4, w5=0.5, w6=0.6, x1=0.35, x2=0.9, t=0.5)


@pytest.fixture(scope="module")
def net():
    g = from_text(NETWORK)
    return g, trace(g, AT)


def labels(g, nodes) -> set[str]:
    return {g.nodes[n]["label"] for n in nodes}


def drawn(g, t, step=None, **options):
    """The frame's nodes {id: (attrs, text)} and edges {id: (tail, head, attrs, text)}."""
    _, nodes, edges = build(g, t, step, "lecture", Writer, **options)
    text = lambda lines: " | ".join("".join(s[0] for s in line) for line in lines or [])  # noqa: E731
    return ({n: (a, text(lines)) for n, a, lines in nodes},
            {a["id"]: (tail, head, a, text(lines)) for tail, head, a, lines in edges})


def test_a_statement_is_its_named_node_and_the_operators_only_it_uses(net):
    g, _ = net
    found = statements(g)
    assert list(found) == ["h1", "h2", "y", "E"]
    h1 = found["h1"].members
    assert "h1" in h1 and len(h1) == 4  # w1 x1, w2 x2, their sum, σ
    assert labels(g, inputs(g, found["h1"])) == {"w1", "x1", "w2", "x2"}
    # folded, h1 holds its own weights; x1 and x2, which h2 reads too, stay outside
    [h1] = groups(g, ["h1"])
    assert labels(g, inputs(g, h1)) == {"x1", "x2"} and {"w1", "w2"} <= labels(g, h1.members)
    assert outputs(g, found["h1"]) == ["h1"]
    assert outputs(g, found["E"]) == ["E"]  # the output leaves every group that holds it


def test_layers_are_statements_at_one_depth(net):
    g, _ = net
    found = layers(g)
    assert list(found) == ["layer1", "layer2", "layer3"]
    assert found["layer1"].members == statements(g)["h1"].members | statements(g)["h2"].members | {
        "w1", "w2", "w3", "w4"}
    assert found["layer2"].members == statements(g)["y"].members | {"w5", "w6"}
    assert found["layer1"].title == "layer 1: h1, h2 = σ(…)"
    assert outputs(g, found["layer1"]) == ["h1", "h2"]


def test_a_folded_node_shows_its_outputs_value_and_gradient_as_the_trace_has_them(net):
    g, t = net
    nodes, edges = drawn(g, t, fold=groups(g, ["y"]))
    assert "y" not in nodes and "v9" not in nodes  # the members are not drawn
    attrs, text = nodes[folded_id(groups(g, ["y"])[0])]
    assert attrs["peripheries"] == "2"
    assert f"y = {number(t.values['y'], digits=4, compact=True)}" in text
    assert f"∂E/∂y = {number(t.grads['y'], digits=4, compact=True)}" in text
    # the edge from the group to the rest of the graph carries y's value, as the unfolded edge does
    _, unfolded = drawn(g, t)
    [out_edge] = [e for e in edges.values() if e[0] == "fold//y"]
    assert out_edge[3] == unfolded["y->v10#0"][3]


def test_the_gradient_into_a_group_is_what_its_uses_send_back(net):
    g, t = net
    _, edges = drawn(g, t, fold=groups(g, ["layers"]))
    # x1 is used twice inside layer 1 (by h1 and h2): the edge sums both, which is x1's whole gradient
    assert edges["x1->fold//layer1"][3].endswith(number(t.grads["x1"], digits=4, compact=True))
    # the edge between two groups carries both outputs, h1 and h2
    h1, h2 = (number(t.values[n], digits=4, compact=True) for n in ("h1", "h2"))
    assert edges["fold//layer1->fold//layer2"][3].startswith(f"h1 … h2 = [{h1}, {h2}]")


def test_a_step_inside_a_folded_group_marks_the_group(net):
    g, t = net
    fold = groups(g, ["layers"])
    at_v3 = next(k for k, s in enumerate(t.steps) if s.phase == "backward" and s.node == "v3")  # h1's sum
    nodes, edges = drawn(g, t, at_v3, fold=fold)
    marked = [n for n, (a, _) in nodes.items() if "current" in a.get("class", "").split()]
    assert marked == ["fold//layer1"]
    assert all("v3" not in e[0] and "v3" not in e[1] for e in edges.values())


def test_a_picked_set_folds_as_one_named_node(net):
    g, t = net
    [hidden] = groups(g, ["hidden=h1,h2"])
    assert hidden.members == statements(g)["h1"].members | statements(g)["h2"].members  # no variables
    nodes, _ = drawn(g, t, fold=(hidden,))
    assert nodes["fold//hidden"][1].startswith("hidden")


@pytest.mark.parametrize(("spec", "message"), [
    (["q"], "cannot fold 'q': nothing is called that (statements: h1, h2, y, E"),
    (["h1", "layer1"], "h1 is in two folded groups, h1 and layer1"),
    (["g=h1,E"], "cannot fold g: a path leaves it and comes back through y"),
    (["w1=h1,h2"], "the group name w1 is already a node"),
    (["1g=h1"], "a group's name is a letter"),
    (["g=h1,nope"], "'nope' is no statement or node"),
])
def test_bad_groups_are_refused_with_one_line_naming_them(net, spec, message):
    g, _ = net
    with pytest.raises(GraphlabError) as e:
        groups(g, spec)
    assert message in str(e.value)


def test_draw_fold_in_the_cli(tmp_path, capsys):
    run = ["draw", NETWORK, "--at", ",".join(f"{k}={v}" for k, v in AT.items())]
    assert main([*run, "--fold", "layers", "-o", str(tmp_path / "f.svg")]) == 0
    svg = (tmp_path / "f.svg").read_text()
    assert "fold//layer1" in svg and ">v3<" not in svg
    capsys.readouterr()
    assert main([*run, "--fold", "q", "-o", str(tmp_path / "g.svg")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: cannot fold 'q'") and err.count("\n") == 1


def test_a_network_folds_to_its_layers_with_their_weights_and_each_expands_to_neurons():
    g = neuron_graph((2, 3, 1), "tanh", bias=True, loss="bce")
    folded = auto_groups(g)
    assert [x.title for x in folded] == ["layer 1: H1 = tanh(x W1 + b1)", "layer 2: z = H1 W2 + b2",
                                            "layer 3: E"]
    layer1 = folded[0]
    assert {"w1_11", "w1_23", "b1_3"} <= labels(g, layer1.members)  # the layer's own weights fold into it
    assert labels(g, inputs(g, layer1)) == {"x1", "x2"}  # the point's inputs stay outside
    open1 = auto_groups(g, ["layer1"])
    assert [x.name for x in open1] == ["h1_1", "h1_2", "h1_3", "layer2", "layer3"]
    assert labels(g, inputs(g, open1[0])) == {"x1", "x2"}  # a neuron holds its own weights and bias
    # folded or not, the numbers are the trace's: the folded output layer's value is the point's loss
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(2, 3)), "b1": rng.normal(size=3), "W2": rng.normal(size=(3, 1)),
              "b2": rng.normal(size=1)}
    t = trace(g, neuron_values(g, params, [0.5, -1.0], [1]))
    nodes, _ = drawn(g, t, fold=folded)
    assert f"E = {number(t.output, digits=4, compact=True)}" in nodes["fold//layer3"][1]


def test_auto_groups_ignore_names_they_do_not_have(net):
    g, _ = net
    assert auto_groups(g, ["nope"]) == auto_groups(g)


def test_paths_edges_are_marked_on_the_diagram(net):
    g, t = net
    marked = path_edges(paths(t, "x1"))
    assert len(marked) == 14  # two paths of 9 edges, x1 to y through h1 or h2, that share the 4 from y to E
    _, edges = drawn(g, t, paths=marked)
    on_path = {i for i, e in edges.items() if e[2]["class"] == "path"}
    assert on_path == {f"{a}->{n}#{p}" for a, n, p in marked}
