import math
import re
import shutil
import subprocess
import xml.etree.ElementTree as ET
from dataclasses import replace

import graphviz
import pygraphviz
import pytest

from graphlab import from_text, trace
from graphlab.errors import GraphlabError
from graphlab.export import Diagram, render_bytes, save, show, to_tikz
from graphlab.render import OUTPUT_SINK, to_dot


def nodes(dot):
    """node id -> attribute dict, from the DOT text through Graphviz's own parser."""
    a = pygraphviz.AGraph(string=dot.source)
    return {str(n): dict(n.attr) for n in a.nodes()}


def edges(dot):
    a = pygraphviz.AGraph(string=dot.source)
    return {e.attr["id"]: dict(e.attr) for e in a.edges()}


def text(label):
    return re.sub(r"<[^>]+>", " ", label)


def label_lines(label):
    return [re.sub(r"<[^>]+>", "", line).strip() for line in label.split("<br/>")]


def step_at(t, phase, node):
    return next(s.index for s in t.steps if s.phase == phase and s.node == node)


def test_to_dot_is_a_graphviz_digraph_with_graph_keys_as_ids(lecture):
    g, t = lecture
    dot = to_dot(g, t)
    assert isinstance(dot, graphviz.Digraph)
    assert set(nodes(dot)) - {"__corner_ll__", "__corner_ur__"} == {"x", "y", "q", "z", "f", OUTPUT_SINK}
    assert "rankdir=LR" in dot.source


def test_lecture_final_frame_shows_values_and_gradients(lecture):
    g, t = lecture
    n, e = nodes(to_dot(g, t)), edges(to_dot(g, t))
    assert n["q"]["shape"] == "circle" and text(n["q"]["label"]).strip() == "+"
    assert text(n["f"]["label"]).strip() == "*"
    assert n["x"]["shape"] == "plaintext"
    # value (green) then gradient (red) on each edge, CS231n numbers
    assert text(e["x->q#0"]["label"]).split() == ["-2", "-4"]
    assert text(e["y->q#1"]["label"]).split() == ["5", "-4"]
    assert text(e["q->f#0"]["label"]).split() == ["q", "=", "3", "-4"]
    assert text(e["z->f#1"]["label"]).split() == ["-4", "3"]
    assert text(e["f->output"]["label"]).split() == ["f", "=", "-12", "1"]
    assert "#1b7f3b" in e["x->q#0"]["label"] and "#c62828" in e["x->q#0"]["label"]
    assert not any("current" in a.get("class", "") for a in n.values())


def test_forward_step_shows_values_so_far_and_highlights_the_node(lecture):
    g, t = lecture
    k = step_at(t, "forward", "q")
    dot = to_dot(g, t, k)
    n, e = nodes(dot), edges(dot)
    assert n["q"]["class"] == "op current" and n["q"]["style"] == "filled"
    assert text(e["x->q#0"]["label"]).split() == ["-2"]
    assert text(e["q->f#0"]["label"]).split() == ["q", "=", "3"]
    assert "label" not in e["z->f#1"] or not text(e["z->f#1"]["label"]).strip()  # z comes later
    assert not text(e["f->output"].get("label", "")).strip()


def test_backward_step_shows_upstream_local_and_contribution(lecture):
    g, t = lecture
    dot = to_dot(g, t, step_at(t, "backward", "q"))
    n, e = nodes(dot), edges(dot)
    assert "current" in n["q"]["class"]
    assert text(e["q->f#0"]["label"]).split() == ["q", "=", "3", "-4"]  # upstream arriving at q
    assert text(e["x->q#0"]["label"]).split() == ["-2", "∂q/∂x", "=", "1", "-4", "×", "1", "=", "-4"]
    assert e["x->q#0"]["class"] == "active"
    assert e["z->f#1"]["class"] == "edge"


def test_highlight_marks_any_node_without_a_step(fanout):
    g, t = fanout
    last_forward = len(g) - 1  # values known, no gradient yet; its own node would be f
    dot = to_dot(g, t, last_forward, highlight=("x2",))
    n = nodes(dot)
    assert [k for k, a in n.items() if "current" in a.get("class", "").split()] == ["x2"]
    assert n["x2"]["style"] == "filled"
    assert not any("current" in a.get("class", "") for a in nodes(to_dot(g, t, last_forward, highlight=())).values())
    assert "current" in n["x2"]["class"] and to_dot(g, t, highlight="x2").source.count("current") == 1
    with pytest.raises(GraphlabError, match="cannot highlight q"):
        to_dot(g, t, highlight=("q",))


def test_symbolic_local_gradient(lecture):
    g, t = lecture
    e = edges(to_dot(g, t, step_at(t, "backward", "f"), symbolic=True))
    assert "∂f/∂q = z = -4" in text(e["q->f#0"]["label"])


def test_fanout_sum_is_visible(fanout):
    g, t = fanout
    first = nodes(to_dot(g, t, step_at(t, "backward", "v3")))
    # one piece a line: the label is as narrow as its longest piece (the pinned layout keeps its room)
    assert label_lines(first["x2"]["xlabel"]) == ["∂f/∂x2 = -1.774", "+ …"]
    final = nodes(to_dot(g, t))
    assert label_lines(final["x2"]["xlabel"]) == ["∂f/∂x2 = -1.774", "+ 0.04704", "= -1.727"]
    assert text(final["x2"]["label"]).strip() == "x2"
    # the hand-worked terms: d/dx2 of log(x1 x2) sin(x2) = log(6) cos(3) + sin(3)/3
    assert math.isclose(math.log(6) * math.cos(3), -1.774, abs_tol=5e-4)
    assert math.isclose(math.sin(3) / 3, 0.04704, abs_tol=5e-6)


def test_pow_with_constant_exponent_folds():
    g = from_text("(x+1)^2")
    n = nodes(to_dot(g))
    pow_node = next(k for k, d in g.nodes(data=True) if d.get("op") == "pow")
    assert text(n[pow_node]["label"]).strip() == "^2"
    assert "2" not in n  # the exponent is inside the circle


def test_record_and_plain_styles(lecture):
    g, t = lecture
    rec = nodes(to_dot(g, t, style="record"))
    assert "data 3" in text(rec["q"]["label"]) and "grad -4" in text(rec["q"]["label"])
    assert text(rec["q/op"]["label"]).strip() == "+"
    plain = to_dot(g, t, style="plain")
    assert "-12" not in plain.source and "-4" not in plain.source


def test_options_direction_palette_font(lecture):
    g, t = lecture
    dot = to_dot(g, t, direction="TB", palette="colorblind", font="DejaVu Serif", precision=2)
    assert "rankdir=TB" in dot.source and "#0072B2" in dot.source and "DejaVu Serif" in dot.source
    assert "#1b7f3b" not in dot.source
    grey = to_dot(g, t, palette="greyscale").source
    assert "<i>" in grey and "#c62828" not in grey
    with pytest.raises(GraphlabError):
        to_dot(g, t, palette="rainbow")
    with pytest.raises(GraphlabError):
        to_dot(g, t, colour="red")
    with pytest.raises(GraphlabError):
        to_dot(g, t, style="fancy")


def test_step_out_of_range(lecture):
    g, t = lecture
    with pytest.raises(GraphlabError, match="out of range"):
        to_dot(g, t, len(t.steps))


SVG = "{http://www.w3.org/2000/svg}"


def _positions(svg: bytes) -> dict[str, tuple[float, float]]:
    """node title -> centre of its circle or box, and the page transform, from the SVG."""
    root = ET.fromstring(svg)
    out = {"(transform)": next(root.iter(SVG + "g")).get("transform")}
    for group in root.iter(SVG + "g"):
        if "node" not in group.get("class", "").split():
            continue
        title = group.find(SVG + "title").text
        ellipse = next(group.iter(SVG + "ellipse"), None)
        polygon = next(group.iter(SVG + "path"), None) or next(group.iter(SVG + "polygon"), None)
        if ellipse is not None:
            out[title] = (round(float(ellipse.get("cx")), 1), round(float(ellipse.get("cy")), 1))
        elif polygon is not None:  # a box: the centre of its corners
            numbers = [float(v) for v in re.findall(r"-?\d+(?:\.\d+)?", polygon.get("d") or polygon.get("points"))]
            xs, ys = numbers[0::2], numbers[1::2]
            out[title] = (round((min(xs) + max(xs)) / 2, 1), round((min(ys) + max(ys)) / 2, 1))
    return out


@pytest.mark.parametrize("style", ["lecture", "record"])
def test_positions_are_equal_across_frames(fanout, style):
    g, t = fanout
    layouts = []
    for k in [*range(len(t.steps)), None]:
        a = pygraphviz.AGraph(string=to_dot(g, t, k, style).source)
        a.layout(prog="neato", args="-n2")
        layouts.append({str(n): n.attr["pos"] for n in a.nodes()})
    assert all(layout == layouts[0] for layout in layouts)
    svgs = [_positions(render_bytes(to_dot(g, t, k, style), "svg")) for k in (0, 6, 10, None)]
    common = set.intersection(*(set(s) for s in svgs))  # a leaf shows a box only while highlighted
    assert len(common) >= 5
    assert all(s[k] == svgs[0][k] for s in svgs for k in common)


def test_unpinned_frames_do_move(fanout):
    """The check above can fail: without pinning, label widths move nodes."""
    g, t = fanout
    svgs = [_positions(render_bytes(to_dot(g, t, k, pin=False), "svg")) for k in (0, 9)]
    assert svgs[0] != svgs[1]


def test_files_have_valid_signatures(lecture, tmp_path):
    g, t = lecture
    assert save(tmp_path / "a.png", g, t, 7, dpi=150).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert save(tmp_path / "a.pdf", g, t).read_bytes()[:5] == b"%PDF-"
    assert save(tmp_path / "a.dot", g, t).read_text().startswith("digraph")
    svg = save(tmp_path / "a.svg", g, t).read_bytes()
    root = ET.fromstring(svg)
    assert root.tag.endswith("svg")
    words = " ".join(root.itertext())
    for value in ("-12", "-4", "3", "5", "-2"):
        assert value in words.split() or value in words
    titles = [el.text for el in root.iter("{http://www.w3.org/2000/svg}title")]
    assert {"x", "y", "q", "z", "f"} <= set(titles)


def test_png_dpi_changes_size(lecture):
    g, t = lecture
    small = render_bytes(to_dot(g, t), "png", dpi=72)
    big = render_bytes(to_dot(g, t), "png", dpi=200)
    width = lambda png: int.from_bytes(png[16:20], "big")  # noqa: E731
    assert width(big) > 2 * width(small)


def test_current_node_is_findable_in_svg(lecture):
    g, t = lecture
    svg = render_bytes(to_dot(g, t, step_at(t, "backward", "q")), "svg").decode()
    root = ET.fromstring(svg)
    current = [el for el in root.iter("{http://www.w3.org/2000/svg}g") if "current" in el.get("class", "")]
    assert len(current) == 1
    assert current[0].find("{http://www.w3.org/2000/svg}title").text == "q"


def _balanced(tex: str) -> None:
    assert tex.count("{") == tex.count("}")
    envs = re.findall(r"\\(begin|end)\{(\w+)\}", tex)
    stack = []
    for kind, name in envs:
        if kind == "begin":
            stack.append(name)
        else:
            assert stack.pop() == name
    assert not stack


def test_tikz_standalone_and_bare(fanout, tmp_path):
    g, t = fanout
    doc = to_tikz(g, t, step_at(t, "backward", "x2"))
    _balanced(doc)
    assert doc.startswith(r"\documentclass") and r"\begin{tikzpicture}" in doc
    assert r"\frac{\partial f}{\partial x_{2}}" in doc
    assert r"\log" in doc and r"\sin" in doc and "current" in doc
    bare = to_tikz(g, t, bare=True)
    _balanced(bare)
    assert r"\documentclass" not in bare and r"\begin{tikzpicture}" in bare
    path = save(tmp_path / "f.tex", g, t)
    _balanced(path.read_text())


def test_tikz_powers_a_variable_exponent_and_a_folded_constant():
    g = from_text("x^y + x^2")
    doc = to_tikz(g, trace(g, {"x": 2, "y": 3}))
    _balanced(doc)
    assert r"{$\wedge$}" in doc and r"{${}^{2}$}" in doc  # x^y draws a ∧ circle; ^2 folds into its circle


def test_tikz_uses_graphviz_coordinates(lecture):
    g, t = lecture
    a = pygraphviz.AGraph(string=to_dot(g, t).source)
    a.layout(prog="neato", args="-n2")
    x, y = (float(v) for v in a.get_node("q").attr["pos"].split(","))
    assert f"at ({x:.2f},{y:.2f})" in to_tikz(g, t)


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="pdflatex is not installed")
def test_tikz_compiles(fanout, tmp_path):
    g, t = fanout
    save(tmp_path / "f.tex", g, t, 9, symbolic=True)
    subprocess.run(["pdflatex", "-interaction=nonstopmode", "f.tex"], cwd=tmp_path, check=True,
                   capture_output=True, timeout=120)
    assert (tmp_path / "f.pdf").read_bytes()[:5] == b"%PDF-"


def test_notebook_display(lecture):
    g, t = lecture
    for obj in (g, t):
        svg = show(obj)._repr_svg_()
        assert ET.fromstring(svg).tag.endswith("svg")
    d = Diagram(t, 3)
    assert len(d.frames()) == len(t.steps)
    with pytest.raises(GraphlabError):
        Diagram(g).frames()


def test_exact_mode_values(lecture):
    g = from_text("x / 2")
    t = trace(g, {"x": 1}, mode="exact")
    assert text(edges(to_dot(g, t))["f->output"]["label"]).split() == ["f", "=", "1/2", "1"]


# --------------------------------------------------------------------------- the pinned layout, computed once
def _reference_dot(g, t, k, style, **options):
    """Each frame as the drawing code made it before the layout was cached: the layout recomputed from
    every frame, and every statement quoted by the graphviz package's own node() and edge()."""
    from graphlab import render

    writer, node_list, edge_list = render.build(g, t, k, style, render.Writer, **options)
    opts = writer.opts
    layout = render._positions(g, t, style, replace(opts, highlight=None))
    name = g.graph.get("source", "graph").strip() or "graph"
    graph_attrs = {**render._graph_attrs(opts), "layout": "nop2", "bb": layout.bb, "splines": "true",
                   "overlap": "true", "notranslate": "true"}
    dot = graphviz.Digraph(name=name, graph_attr=graph_attrs,
                           node_attr={"fontname": opts.font, "fontsize": f"{opts.fontsize:g}", "color": writer.pal.ink,
                                      "fontcolor": writer.pal.ink},
                           edge_attr={"fontname": opts.font, "color": writer.pal.ink, "arrowsize": "0.7"})
    for node, attrs, lines in node_list:
        dot.node(node, writer.label(lines, node=True), **attrs, pos=layout.nodes[node] + "!")
    llx, lly, urx, ury = layout.bb.split(",")
    for corner, xy in (("__corner_ll__", f"{llx},{lly}"), ("__corner_ur__", f"{urx},{ury}")):
        dot.node(corner, "", shape="point", width="0.01", style="invis", pos=xy + "!")
    for tail, head, attrs, lines in edge_list:
        label = writer.label(lines, node=False)
        spline, centre = layout.edges[attrs["id"]]
        dot.edge(tail, head, **({"label": label} if label else {}), **attrs, pos=spline,
                 **({"lp": centre} if centre else {}))
    return dot.source


@pytest.mark.parametrize("style", ["lecture", "record", "plain"])
@pytest.mark.parametrize("options", [{}, {"symbolic": True, "palette": "greyscale", "direction": "TB", "precision": 2}])
def test_frames_are_byte_identical_to_the_uncached_drawing(style, options):
    g = from_text("a = x*y; b = a + x; f = sin(a) * b^2 + b")
    t = trace(g, {"x": 1.5, "y": -2})
    steps = [None, *reversed(range(len(t.steps)))]  # any order: the cache must not depend on which frame came first
    for k in steps:
        assert to_dot(g, t, k, style, **options).source == _reference_dot(g, t, k, style, **options)
    assert to_dot(g, t, 3, style, highlight=("x",), **options).source == \
        _reference_dot(g, t, 3, style, highlight=("x",), **options)
    assert render_bytes(to_dot(g, t, 5, style, **options), "svg") == \
        render_bytes(graphviz.Source(_reference_dot(g, t, 5, style, **options)), "svg")


def test_the_pinned_layout_is_computed_once_per_trace_style_and_options(fanout, monkeypatch):
    from graphlab import render

    g, t = fanout
    calls = []
    original = render._positions
    monkeypatch.setattr(render, "_positions", lambda *a: calls.append(a[2]) or original(*a))
    for k in range(len(t.steps)):
        to_dot(g, t, k)
        to_tikz(g, t, k)
        to_dot(g, t, k, highlight=("x1",))  # highlight does not change sizes: the same layout
    assert calls == ["lecture"]
    to_dot(g, t, 0, "record")
    to_dot(g, t, 0, precision=6)
    assert calls == ["lecture", "record", "lecture"]
    t2 = trace(g, {"x1": 2, "x2": 3})  # another trace (with the same values) has its own layout
    to_dot(g, t2, 0)
    assert len(calls) == 4
    del t2
    import gc

    gc.collect()
    assert all(entry[0]() is not None for entry in render._PINNED.values())  # dropped with the trace


@pytest.mark.parametrize("style", ["lecture", "record"])
def test_tikz_positions_are_graphvizs_for_the_drawn_frame(fanout, style):
    """TikZ reads the pinned layout directly; Graphviz, run on the frame's DOT, puts everything at the same places."""
    from graphlab.export import _laid_out, _xy

    g, t = fanout
    for k in (0, 7, None):
        agraph = _laid_out(to_dot(g, t, k, style))
        tex = to_tikz(g, t, k, style)
        for n in agraph.nodes():
            if n.attr.get("style") != "invis" and not str(n).startswith("__"):
                assert f"at {_xy(n.attr['pos'])} " in tex, n
        for e in agraph.edges():
            if e.attr.get("lp") and e.attr.get("label"):
                assert f"at {_xy(e.attr['lp'])} " in tex


# --------------------------------------------------------------------------- every frame's SVG, from the last
def _traces():
    import numpy as np

    from graphlab.fold import auto_groups
    from graphlab.forward import forward_trace

    chain = from_text("tanh(tanh(tanh(tanh(tanh(tanh(tanh(x) * w)))))) + 1")
    net = from_text("h1 = tanh(x w1 + b1); h2 = tanh(h1 w2 + b2); f = (h2 - t)^2")
    point = {"X": np.array([[0.0, 0], [0, 1], [1, 0], [1, 1]]), "W1": np.array([[5.0, -5], [-5, 5]]),
             "b1": np.array([[1.0], [1]]), "W2": np.array([[2.0], [-1]]), "b2": np.array([[0.5]]),
             "y": np.array([[0.0], [1], [1], [0]]), "N": 4.0}
    matrices = from_text("Z1 = X W1 + b1; H1 = σ(Z1); Z2 = H1 W2 + b2; yhat = σ(Z2); "
                         "E = (y - yhat)^T (y - yhat) / (2 N)", shapes={k: np.shape(v) for k, v in point.items()})
    fan = from_text("a = x*y; b = a + x; f = sin(a) * b^2 + b")
    return [(trace(chain, {"x": 0.5, "w": -2}), "lecture", {}),
            (trace(chain, {"x": 0.5, "w": -2}), "record", {"direction": "TB", "palette": "colorblind"}),
            (trace(chain, {"x": 0.5, "w": -2}), "plain", {}),
            (trace(net, {"x": 1, "w1": 2, "b1": 0, "w2": -1, "b2": 0.5, "t": 1}), "lecture", {"symbolic": True}),
            (trace(net, {"x": 1, "w1": 2, "b1": 0, "w2": -1, "b2": 0.5, "t": 1}), "lecture",
             {"fold": auto_groups(net)}),
            (trace(matrices, point), "lecture", {}),
            (trace(fan, {"x": 1.5, "y": -2}), "lecture", {}),  # running sums beside nodes: xlabels
            (forward_trace(fan, {"x": 1.5, "y": -2}, wrt="x"), "lecture", {})]


@pytest.mark.parametrize("case", range(8))
def test_every_frame_written_is_the_svg_graphviz_draws_of_it_whole(case, tmp_path, monkeypatch):
    """save_frames draws a frame from the one before, Graphviz drawing again only the statements that differ:
    every frame is still byte for byte what Graphviz draws of the frame's whole DOT, and all share positions."""
    from graphlab import export
    from graphlab.export import save_frames

    t, style, options = _traces()[case]
    drawn = []
    draw = export._draw
    monkeypatch.setattr(export, "_draw", lambda source, *a: drawn.append(source) or draw(source, *a))
    export._LAST.clear()
    paths = save_frames(tmp_path, t, "svg", style, **options)
    assert len(paths) == len(t.steps)
    whole = [draw(to_dot(t.graph, t, k, style, **options).source, "svg") for k in range(len(t.steps))]
    assert [p.read_bytes() for p in paths] == whole
    where = [_positions(svg) for svg in whole]
    common = set.intersection(*(set(w) for w in where))  # a leaf shows a box only while highlighted
    assert "(transform)" in common and all(w[k] == where[0][k] for w in where for k in common)
    if case in (0, 1, 2, 3):  # no running sums (xlabels): after the first frame, Graphviz draws a few statements
        lines = [source.count("\n") for source in drawn]
        assert len(lines) == len(t.steps) and all(n < lines[0] / 2 for n in lines[1:]), lines


def test_frames_dot_builds_each_frame_once_and_draws_what_to_dot_draws(fanout, monkeypatch):
    from graphlab import render
    from graphlab.render import frames_dot

    g = fanout[0]
    for style, options in (("lecture", {}), ("record", {"precision": 2}), ("plain", {}),
                           ("lecture", {"highlight": ("x1",)})):
        dots = frames_dot(trace(g, {"x1": 2, "x2": 3}), style, **options)
        t = trace(g, {"x1": 2, "x2": 3})  # a trace of its own: its layout made the usual way, by to_dot
        assert [d.source for d in dots] == [to_dot(g, t, k, style, **options).source for k in range(len(t.steps))]
    built = []
    elements = render.Writer.elements
    monkeypatch.setattr(render.Writer, "elements", lambda self: built.append(1) or elements(self))
    t = trace(g, {"x1": 2, "x2": 3})
    frames_dot(t)
    assert len(built) == len(t.steps) + 1  # every frame once, and the final frame for the layout
