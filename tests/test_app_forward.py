"""The app's "Forward mode" and "Gradient check" tabs, driven by AppTest (no browser).

Expected numbers are worked by hand: q = x + y, f = q z at x = -2, y = 5, z = -4 carries
∂q/∂x = 1 and ∂f/∂x = z·1 = -4; for z, ∂f/∂z = q = 3. Every gradient of (x+y)z costs 2
multiplications each way (two edges off the seed). f = x^2 y at x = 3, y = 2 nudged by h = 0.1 in x:
x^2 changes by 3.1^2 - 9 = 0.61 against 2x·h = 0.6, f by 1.22 against 2xy·h = 1.2.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pygraphviz
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules

import forward_tab  # noqa: E402
import gradcheck_tab  # noqa: E402

LECTURE = {"expr": "q = x + y; f = q z", "at": "x=-2,y=5,z=-4"}


def open_tab(tab: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(tab=tab, **query)
    at.run()
    assert not at.exception, at.exception
    return at


def chart(at: AppTest) -> pygraphviz.AGraph:
    charts = at.get("graphviz_chart")
    assert len(charts) == 1  # only the open tab draws
    return pygraphviz.AGraph(string=charts[0].proto.spec)


def current(g: pygraphviz.AGraph) -> list[str]:
    return [str(n) for n in g.nodes() if "current" in (n.attr.get("class") or "").split()]


def table(at: AppTest, k: int = 0):
    return at.dataframe[k].value


# --------------------------------------------------------------------------- forward mode
def test_stepping_forward_mode_carries_the_tangents():
    at = open_tab("forward", **LECTURE)
    assert at.selectbox(key=forward_tab.WRT).value == "x"
    assert at.slider(key=forward_tab.STEP).value == 1
    g = chart(at)
    assert current(g) == ["x"] and "∂x/∂x = 1" in g.get_edge("x", "q").attr["label"]
    rows = table(at).set_index("node")
    assert rows.loc["x", "∂node/∂x"] == "1" and rows.loc["q", "∂node/∂x"] == ""  # not reached yet
    at.slider(key=forward_tab.STEP).set_value(5).run()
    g = chart(at)
    assert current(g) == ["f"]
    assert "∂f/∂q = -4" in g.get_edge("q", "f").attr["label"] and "-4 × 1<" in g.get_edge("q", "f").attr["label"]
    assert ">= -4<" in g.get_edge("q", "f").attr["label"]  # the term's result, on the line under the product
    rows = table(at).set_index("node")
    assert rows["∂node/∂x"].tolist() == ["1", "0", "1", "0", "-4"]
    assert rows.loc["f", ""] == "▶"
    assert "∂f/∂x = -4" in at.success[0].value
    assert r"\frac{\partial f}{\partial x} = \frac{\partial f}{\partial q}" in at.get("latex")[0].value


def test_another_input_and_the_url():
    at = open_tab("forward", **LECTURE, forward="z")
    assert at.selectbox(key=forward_tab.WRT).value == "z"
    at.slider(key=forward_tab.STEP).set_value(5).run()
    assert table(at).set_index("node")["∂node/∂z"].tolist() == ["0", "0", "0", "1", "3"]
    at.selectbox(key=forward_tab.WRT).set_value("y").run()
    assert at.query_params["forward"] == "y" and at.query_params["tab"] == "forward"
    assert table(at).set_index("node").loc["f", "∂node/∂y"] == "-4"


def test_the_cost_table():
    at = open_tab("forward", **LECTURE)
    costs = table(at, 1)
    assert costs["to get every gradient"].tolist() == ["one reverse pass", "3 forward passes, one per input",
                                                       "3 paths, each product written out"]
    assert costs["multiplications"].tolist() == ["2", "2", "2"]
    at = open_tab("forward", expr="h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); "
                                  "y = sigmoid(w5 h1 + w6 h2); E = (y - t)^2 / 2")
    assert table(at, 1)["multiplications"].tolist() == ["24", "68", "76"]  # hand-counted in test_forward.py


def test_the_forward_tab_in_exact_mode_and_without_variables():
    at = open_tab("forward", expr="log(x1 x2) sin(x2)", at="x1=2,x2=3", mode="exact", forward="x2")
    at.slider(key=forward_tab.STEP).set_value(6).run()
    assert table(at).set_index("node").loc["v2", "∂node/∂x2"] == "1/3"
    at = open_tab("forward", expr="2 + 3")
    assert "no variables" in at.info[0].value


# --------------------------------------------------------------------------- gradient check
def test_the_lecture_example_passes_every_check():
    at = open_tab("gradcheck", **LECTURE)
    checks = table(at)
    assert checks["variable"].tolist() == ["x", "y", "z"]
    assert checks["backprop"].tolist() == ["-4", "-4", "3"]
    assert checks["central difference"].tolist() == ["-4", "-4", "3"]  # to 10 digits
    assert checks["check"].tolist() == ["✓"] * 3
    assert any("every check passes" in m.value for m in at.markdown)


def test_a_kink_is_a_warning_naming_the_node():
    at = open_tab("gradcheck", expr="relu(x - 1) + x", at="x=1")
    assert table(at)["check"].tolist() == ["✗ kink"]
    assert len(at.warning) == 1 and "kink of relu at node v2" in at.warning[0].value
    assert any("1 of 1 checks fail" in m.value for m in at.markdown)


def test_a_smaller_h_settles_a_kink_close_by():
    at = open_tab("gradcheck", expr="abs(x)", at="x=1e-7")
    assert table(at)["check"].tolist() == ["✗ kink"]
    at.select_slider(key=gradcheck_tab.H).set_value(1e-9).run()
    assert table(at)["check"].tolist() == ["✓"]


def test_the_nudge_sets_each_change_beside_its_prediction():
    at = open_tab("gradcheck", expr="x^2 y", at="x=3,y=2")
    assert at.selectbox(key=gradcheck_tab.NUDGE).value == "x"
    at.number_input(key=gradcheck_tab.NUDGE_H).set_value(0.1).run()
    rows = table(at, 1).set_index("node")
    assert rows.loc["v1", "change"] == "0.61" and rows.loc["v1", "∂node/∂x · h"] == "0.6"
    assert rows.loc["f", "change"] == "1.22" and rows.loc["f", "∂node/∂x · h"] == "1.2"
    assert rows.loc["f", "after x + 0.1"] == "19.22" and rows.loc["y", "change"] == "0"
    assert at.query_params["nudge"] == "x" and at.query_params["nudge_h"] == "0.1"
    at.selectbox(key=gradcheck_tab.NUDGE).set_value("y").run()
    rows = table(at, 1).set_index("node")
    assert rows.loc["f", "change"] == rows.loc["f", "∂node/∂y · h"] == "0.9"  # linear in y: x^2 h


def test_a_missing_value_is_an_inline_error():
    at = open_tab("gradcheck", expr="x y", at="x=1,y=")
    assert not at.exception
    assert len(at.error) == 1 and "no value for y: give it above" in at.error[0].value
