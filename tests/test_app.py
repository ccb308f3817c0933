"""The Streamlit app, driven by streamlit.testing's AppTest (no browser; see test_e2e.py for one).

Expected numbers are the lecture's, worked by hand: f = (x + y) z at x = -2, y = 5, z = -4
gives q = 3, f = -12, df/dx = df/dy = z = -4, df/dz = q = 3.
"""

from __future__ import annotations

import io
import json
import sys
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pygraphviz
import pytest
from streamlit.testing.v1 import AppTest

from graphlab.present import node_table

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules

import stepper_model  # noqa: E402

LECTURE = {"x": "-2", "y": "5", "z": "-4"}
# (x+y)z: forward in topological order, backward in reverse; the add node is v1
ORDER = ["x", "y", "v1", "z", "f", "f", "z", "v1", "y", "x"]


def open_app(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    at.run()
    assert not at.exception, at.exception
    return at


class Shown:
    """The step's diagram as the page sent it to the browser: Graphviz's SVG, read with ElementTree."""

    def __init__(self, data: dict):
        self.direction = data["direction"]
        self.svg = ElementTree.fromstring(data["svg"])

    def groups(self, kind: str):
        for g in self.svg.iter(f"{SVG}g"):
            if kind in (g.get("class") or "").split():
                yield g.findtext(f"{SVG}title"), g

    def current(self) -> list[str]:
        return [title for title, g in self.groups("node") if "current" in g.get("class").split()]

    def edge_lines(self, tail: str, head: str) -> list[str]:
        """The text lines on the edge tail -> head, top to bottom."""
        [g] = [g for title, g in self.groups("edge") if title == f"{tail}->{head}"]
        return [t.text for t in g.iter(f"{SVG}text")]

    @property
    def text(self) -> str:
        return " ".join(t.text or "" for t in self.svg.iter(f"{SVG}text"))


SVG = "{http://www.w3.org/2000/svg}"


def shown(at: AppTest) -> Shown:
    """The diagram the stepper shows (the diagram component's data)."""
    views = at.get("bidi_component")
    assert len(views) == 1
    return Shown(json.loads(views[0].proto.json))


def current(g: pygraphviz.AGraph) -> list[str]:
    return [str(n) for n in g.nodes() if "current" in n.attr.get("class", "").split()]


def label(at: AppTest) -> str:
    return next(m.value.strip("*") for m in at.markdown if " of " in m.value)


def table(at: AppTest):
    return at.dataframe[0].value


def type_expression(at: AppTest, expr: str, values: dict[str, str]) -> None:
    at.text_input(key="expr").input(expr).run()
    for name, text in values.items():
        at.text_input(key=stepper_model.value_key(name)).input(text)
    at.run()
    assert not at.exception, at.exception


def test_typing_the_lecture_example_and_stepping_shows_each_node_in_turn():
    at = open_app()
    type_expression(at, "(x+y)z", LECTURE)
    assert label(at) == "forward 1 of 5: node x"
    for k, node in enumerate(ORDER):
        if k:
            at.button(key="go:next").click().run()
        assert shown(at).current() == [node], k
        assert table(at).loc[table(at)[""] == "▶", "node"].tolist() == [node]
        assert at.query_params["step"] == str(k + 1)
    assert label(at) == "backward 5 of 5: node x"
    assert at.button(key="go:next").disabled and at.button(key="go:last").disabled


def test_the_dot_carries_the_values_and_gradients_of_each_step():
    at = open_app()
    type_expression(at, "(x+y)z", LECTURE)
    at.slider[0].set_value(3).run()  # forward: q = x + y = 3 has just been computed
    diagram = shown(at)
    assert diagram.current() == ["v1"]
    assert "3" in diagram.edge_lines("v1", "f")
    assert diagram.edge_lines("z", "f") == [] and "f = -12" not in diagram.text  # z comes next
    at.button(key="go:last").click().run()
    at.slider[0].set_value(8).run()  # backward at the add node: upstream -4 times local 1
    assert label(at) == "backward 3 of 5: node v1"
    diagram = shown(at)
    assert diagram.current() == ["v1"]
    assert diagram.edge_lines("x", "v1")[-2:] == ["-4 × 1", "= -4"]  # the product, its result under it
    assert "f = -12" in diagram.text
    rows = table(at).set_index("node")
    assert rows.loc["v1", "value"] == "3" and rows.loc["v1", "∂f/∂node"] == "-4"
    assert rows.loc["z", "∂f/∂node"] == "3"
    assert rows.loc["x", "∂f/∂node"] == "-4"  # arrived at this step
    assert rows.loc["f", "local gradients"] == "∂f/∂v1 = z = -4; ∂f/∂z = v1 = 3"


def test_first_prev_next_last():
    at = open_app()
    assert at.button(key="go:first").disabled and at.button(key="go:prev").disabled
    at.button(key="go:last").click().run()
    assert label(at) == "backward 5 of 5: node x"
    at.button(key="go:prev").click().run()
    assert label(at) == "backward 4 of 5: node y"
    at.button(key="go:first").click().run()
    assert label(at) == "forward 1 of 5: node x"


def test_stepping_reuses_the_cached_trace(monkeypatch):
    calls = []
    real = stepper_model.trace
    monkeypatch.setattr(stepper_model, "trace", lambda *a, **k: calls.append(a) or real(*a, **k))
    stepper_model.clear_caches()
    at = open_app()
    for _ in range(4):
        at.button(key="go:next").click().run()
    at.slider[0].set_value(9).run()
    assert len(calls) == 1
    at.text_input(key=stepper_model.value_key("x")).input("7").run()
    assert len(calls) == 2
    assert table(at).set_index("node").loc["v1", "value"] == "12"


def test_a_shared_link_restores_expression_values_options_and_step():
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", mode="exact", direction="TB", step="9")
    assert at.text_input(key="expr").value == "log(x1 x2) sin(x2)"
    assert at.text_input(key=stepper_model.value_key("x1")).value == "2"
    assert at.text_input(key=stepper_model.value_key("x2")).value == "3"
    assert at.session_state["mode"] == "exact" and at.session_state["direction"] == "TB"
    # x1 x2 -> v1, log -> v2, sin -> v3, product -> f; backward visits f, v3, v2...
    assert label(at) == "backward 3 of 6: node v2"
    assert at.slider[0].value == 9
    diagram = shown(at)
    assert diagram.direction == "TB"
    assert diagram.current() == ["v2"]
    # exact mode: log(x1 x2) = log(6) is kept exact; its local gradient is 1/(x1 x2) = 1/6
    rows = table(at).set_index("node")
    assert rows.loc["v1", "value"] == "6"
    assert rows.loc["v2", "local gradients"] == "∂v2/∂v1 = 1/v1 = 1/6"
    assert at.query_params["step"] == "9" and at.query_params["mode"] == "exact"


def test_a_link_with_bad_parameters_still_opens():
    at = open_app(expr="(x+y)z", mode="fast", step="many")
    assert any("mode must be one of" in w.value for w in at.warning)
    assert any("step must be a whole number" in w.value for w in at.warning)
    assert label(at) == "forward 1 of 5: node x"


def test_a_step_past_the_end_of_a_link_is_clamped():
    at = open_app(expr="(x+y)z", step="99")
    assert label(at) == "backward 5 of 5: node x"


@pytest.mark.parametrize("expr, column", [("(x+y", 1), ("x + * y", 5), ("2x)", 3), ("x y +", 6)])
def test_bad_expression_shows_the_error_inline_with_its_column(expr, column):
    at = open_app()
    at.text_input(key="expr").input(expr).run()
    assert not at.exception
    assert len(at.error) == 1 and f"column {column}" in at.error[0].value
    caret = at.code[0].value.splitlines()
    assert caret[0] == expr and caret[1] == " " * (column - 1) + "^"
    assert not at.get("bidi_component")


def test_bad_value_names_the_variable():
    at = open_app()
    at.text_input(key=stepper_model.value_key("y")).input("5+").run()
    assert not at.exception
    assert "value of y" in at.error[0].value
    assert at.code[0].value.splitlines()[1] == "  ^"


def test_example_buttons_load_the_lecture_values():
    at = open_app()
    at.button(key="example:sigmoid(w0 x0 + w1 x1 + w2)").click().run()
    assert at.text_input(key=stepper_model.value_key("w0")).value == "2"
    at.button(key="go:last").click().run()
    rows = table(at).set_index("node")
    assert rows.loc["f", "value"] == "0.7311"  # sigma(2*-1 + -3*-2 - 3) = sigma(1)
    assert rows.loc["w0", "∂f/∂node"] == "-0.1966" and rows.loc["x0", "∂f/∂node"] == "0.3932"


def test_a_fan_out_node_shows_its_running_sum():
    # x2 feeds both log(x1 x2) (through the product) and sin(x2): two terms
    at = open_app(expr="log(x1 x2) sin(x2)", at="x1=2,x2=3")
    shown = []
    for step in range(1, int(at.slider[0].max) + 1):
        at.slider[0].set_value(step).run()
        shown.append(table(at).set_index("node").loc["x2", "∂f/∂node"])
    assert any(s.endswith("(1 of 2 terms)") for s in shown)
    assert shown[-1] and "terms" not in shown[-1]


def test_a_graph_too_large_even_folded_gets_the_table_and_a_message_not_a_drawing():
    expr = " + ".join(f"x{i}" for i in range(150))  # folded, still its 150 variables and one group
    at = open_app(expr=expr)
    assert not at.get("bidi_component")
    assert any(f"more than the {stepper_model.MAX_FOLDED_NODES}" in i.value for i in at.info)
    assert len(table(at)) == 299


def test_non_finite_values_are_flagged_not_raised():
    at = open_app(expr="log(x)", at="x=-1")
    assert any("Non-finite value" in w.value and "node f" in w.value for w in at.warning)
    assert table(at).set_index("node").loc["x", "value"] == "-1"


def test_downloads_of_a_step_and_of_all_frames():
    key = stepper_model.Key("(x+y)z", tuple(LECTURE.items()), "float")
    drawing = stepper_model.Drawing()
    dot = stepper_model.figure(key, 7, drawing, "dot").decode()
    assert current(pygraphviz.AGraph(string=dot)) == ["v1"]
    assert stepper_model.figure(key, 7, drawing, "pdf").startswith(b"%PDF")
    assert b"\\begin{tikzpicture}" in stepper_model.figure(key, 7, drawing, "tex")
    assert stepper_model.file_name(key, 7, "svg") == "graphlab-step-08-backward-v1.svg"
    with zipfile.ZipFile(io.BytesIO(stepper_model.frames_zip(key, drawing))) as archive:
        names = archive.namelist()
        assert len(names) == 10 * len(stepper_model.ZIP_FORMATS)
        assert archive.read("pdf/graphlab-step-01-forward-x.pdf").startswith(b"%PDF")


def test_graphlab_app_runs_streamlit_on_the_app(monkeypatch):
    from graphlab import cli

    seen = []
    monkeypatch.setattr(cli.os, "execv", lambda path, command: seen.append(command))
    cli.main(["app", "--port", "8765", "--headless", "--", "--server.address", "127.0.0.1"])
    command = seen[0]
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4] == APP
    assert command[command.index("--server.port") + 1] == "8765"
    assert command[-2:] == ["--server.address", "127.0.0.1"]
    settings = dict(zip(command[5:-2:2], command[6:-2:2]))  # the shipped configuration, each option once
    assert settings["--server.maxUploadSize"] == "10" and settings["--browser.gatherUsageStats"] == "false"
    assert settings["--server.port"] == "8765" and settings["--server.headless"] == "true"


LECTURE_Q = "q = x + y; f = q z"  # steps: forward x y q z f, then backward f z q y x


@pytest.mark.parametrize("k, node", [(1, "x"), (5, "f"), (8, "q"), (10, "x")])
def test_a_step_number_is_the_same_step_in_the_app_url_the_cli_and_the_frame_files(k, node, tmp_path, capsys):
    from graphlab import cli

    at = open_app(expr=LECTURE_Q, at="x=-2,y=5,z=-4", step=str(k))
    assert shown(at).current() == [node]  # the hand-counted order above
    argv = ["draw", LECTURE_Q, "--at", "x=-2,y=5,z=-4"]
    assert cli.main([*argv, "--step", str(k), "-o", str(tmp_path / "step.dot")]) == 0
    assert current(pygraphviz.AGraph(str(tmp_path / "step.dot"))) == [node]
    assert cli.main([*argv, "--frames", str(tmp_path / "frames"), "--format", "dot"]) == 0
    assert current(pygraphviz.AGraph(str(tmp_path / "frames" / f"step-{k:02d}.dot"))) == [node]
    key = stepper_model.Key(LECTURE_Q, tuple(LECTURE.items()), "float")
    assert stepper_model.file_name(key, k - 1, "dot").startswith(f"graphlab-step-{k:02d}-")  # the app's download
    capsys.readouterr()


def test_the_node_table_writes_local_gradients_in_the_input_language():
    key = stepper_model.Key("x^3", (("x", "2"),), "float")
    t = stepper_model.compute(key)
    table = node_table(t, len(t.steps) - 1, digits=4, compact=True)  # what the page shows at the last step
    rows = {row[table.columns.index("node")]: row[table.columns.index("local gradients")] for row in table.rows}
    assert rows["f"] == "∂f/∂x = 3*x^2 = 12"  # d(x^3)/dx = 3x^2 = 12 at x = 2, written as typed


NET = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
       "E = (y - t)^2 / 2")
NET_AT = "w1=0.1,w2=0.2,w3=0.3,w4=0.4,w5=0.5,w6=0.6,x1=0.35,x2=0.9,t=0.5"


@pytest.mark.parametrize(("form", "shown"), [
    ("names", r"&= \left(y - t\right) y \left(1 - y\right) h_{1}"),  # seed 004: (y - d) y (1 - y) h
    ("delta", r"\delta_{h1} &= \delta_{y} y \left(1 - y\right) w_{5}"),
    ("expanded", r"e^{"),
])
def test_every_gradient_in_the_chosen_form(form, shown):
    at = open_app(expr=NET, at=NET_AT, form=form)
    assert at.segmented_control(key="form").value == form
    gradients = " ".join(x.value for x in at.latex)
    assert shown in gradients
    assert at.query_params["form"] == form  # a link keeps the form


def test_a_bad_form_in_a_link_is_ignored_with_a_message():
    at = open_app(expr="(x+y)z", at="x=-2,y=5,z=-4", form="nonsense")
    assert at.segmented_control(key="form").value == "names"
    assert any("form must be one of names, expanded, delta" in w.value for w in at.warning)


# --------------------------------------------------------------------------- the diagram view
def test_auto_direction_follows_the_screen_shape_unless_chosen():
    key = stepper_model.Key("log(x1 x2) sin(x2)", (("x1", "2"), ("x2", "3")), "float")
    auto = stepper_model.Drawing()
    assert auto.direction == "auto" and auto.options()["direction"] == "LR"  # drawn alone (downloads, CLI): LR
    assert stepper_model.laid_out(key, auto, None).direction == "LR"  # before the page has said its size
    assert stepper_model.laid_out(key, auto, {"w": 374, "h": 600}).direction == "TB"  # a phone, upright
    assert stepper_model.laid_out(key, auto, {"w": 1800, "h": 500}).direction == "LR"  # a wide screen
    assert stepper_model.laid_out(key, auto, {"w": "wide", "h": None}).direction == "LR"  # nonsense: the default
    chosen = stepper_model.Drawing(direction="LR")
    assert stepper_model.laid_out(key, chosen, {"w": 374, "h": 600}) == chosen  # the user's choice stands


def test_the_diagram_view_gets_the_step_and_presenting_comes_from_the_link():
    at = open_app(expr="(x+y)z", at="x=-2,y=5,z=-4", step="7", present="1")
    [view] = at.get("bidi_component")
    data = json.loads(view.proto.json)
    assert (data["step"], data["count"], data["present"]) == (7, 10, True)
    assert data["label"] == "backward 2 of 5: node z" and data["svg"].startswith("<svg")
    assert at.query_params["present"] == "1" and at.query_params["direction"] == "auto"
    at = open_app(expr="(x+y)z")
    assert not json.loads(at.get("bidi_component")[0].proto.json)["present"] and "present" not in at.query_params


def test_pan_and_zoom_come_from_the_vendored_library_with_its_licence():
    import diagram_view

    static = Path(stepper_model.__file__).resolve().parent.parent / "graphlab" / "static"
    assert "Panzoom" in (static / "panzoom.min.js").read_text()[:200]
    assert "Permission is hereby granted, free of charge" in (static / "panzoom.LICENSE.txt").read_text()  # MIT
    at = open_app()
    js = at.get("bidi_component")[0].proto.js_content
    assert js.startswith(diagram_view._LIBRARY) and not at.get("bidi_component")[0].proto.js_source_path
