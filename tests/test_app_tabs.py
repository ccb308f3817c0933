"""The app's "Check my work" and "Gradient descent" tabs, driven by AppTest (no browser).

Expected numbers are worked by hand from the lecture:

* log(x1 x2) sin(x2) at x1 = 2, x2 = 3: df/dx1 = sin(x2)/x1 = sin(3)/2 = 0.07056;
  df/dx2 = log(x1 x2) cos(x2) + sin(x2)/x2 = log(6) cos(3) + sin(3)/3 = -1.727. Writing only
  the first term (the path through sin) is the classic dropped path: -1.774.
* (x+y)z at x = -2, y = 5, z = -4: df/dq = z = -4, df/dz = q = 3.
* (y - x θ)^2 with y = 10, x = 2, θ0 = 6, η = 0.01: ∇ = 2x(xθ - y), so θ_k = 5 + 0.92^k:
  6, 5.92, 5.8464, 5.778688, losses (xθ - y)^2 = 4, 3.3856, 2.86557184, 2.425420005.
"""

from __future__ import annotations

import io
import sys
from pathlib import Path

import pyarrow as pa
import pygraphviz
import pytest
from streamlit.testing.v1 import AppTest

from graphlab.present import descent_table, report_lines

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules

import check_tab  # noqa: E402
import descent_tab  # noqa: E402

LOGSIN = {"expr": "log(x1 x2) sin(x2)", "at": "x1=2,x2=3"}
RIGHT_X1 = "df/dx1 = sin(x2)/x1"
DROPPED_PATH = "df/dx2 = log(x1 x2) cos(x2)"


def open_tab(tab: str, **query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(tab=tab, **query)
    at.run()
    assert not at.exception, at.exception
    return at


def write_claims(at: AppTest, *claims: str) -> None:
    at.text_area(key=check_tab.KEY).input("\n".join(claims)).run()
    assert not at.exception, at.exception


def chart(at: AppTest) -> pygraphviz.AGraph:
    charts = at.get("graphviz_chart")
    assert len(charts) == 1  # only the open tab draws
    return pygraphviz.AGraph(string=charts[0].proto.spec)


def marked(at: AppTest) -> list[str]:
    g = chart(at)  # held: a node's attributes read as None once its AGraph is collected
    return [str(n) for n in g.nodes() if "current" in (n.attr.get("class") or "").split()]


def results(at: AppTest) -> list[str]:
    """The claims' boxes in page order (✓ in success boxes, ✗ in error boxes)."""
    found = []

    def walk(node):
        if type(node).__name__ in ("Success", "Error") and node.value.startswith(("✓", "✗")):
            found.append(node.value)
        for child in getattr(node, "children", {}).values():
            walk(child)

    walk(at.main)
    return found


# --------------------------------------------------------------------------- check my work
def test_the_dropped_path_at_x2_is_wrong_and_x2_is_marked():
    at = open_tab("check", **LOGSIN)
    assert marked(at) == []  # no claims yet: nothing marked
    write_claims(at, RIGHT_X1, DROPPED_PATH)
    right, wrong = results(at)
    assert right.startswith("✓ **df/dx1 = sin(x2)/x1** — right")
    assert "= 0.07056" in right
    assert wrong.startswith("✗ **df/dx2 = log(x1 x2) cos(x2)** — wrong")
    # the right answer, formula and value, and why
    assert r"df/dx2 = log(x1\*x2)\*cos(x2) + sin(x2)/x2 = -1.727" in wrong
    assert "yours gives -1.774" in wrong
    assert "missing term" in wrong and "x2 also reaches f through x1" in wrong
    assert [s.value for s in at.success] == [right] and [e.value for e in at.error] == [wrong]
    assert "1 of 2 wrong" in at.markdown[0].value and "node **x2**" in at.markdown[0].value
    assert marked(at) == ["x2"]
    # the diagram has the values but not the gradients: those are the student's to find
    g = chart(at)
    assert ">6<" in g.get_edge("v1", "v2").attr["label"]  # x1 x2 = 6
    assert "-1.727" not in g.string()


def test_right_claims_on_the_lecture_circuit_mark_nothing():
    at = open_tab("check", expr="q = x + y; f = q z", at="x=-2,y=5,z=-4")
    write_claims(at, "df/dq = z", "df/dz = 3", "  ", "df/dx = -4", "y = z")
    assert len(results(at)) == 4 and all(r.startswith("✓") for r in results(at))
    assert at.markdown[0].value == "All 4 right."
    assert marked(at) == [] and not at.error


def test_a_sign_error_upstream_is_the_first_wrong_step():
    at = open_tab("check", expr="q = x + y; f = q z", at="x=-2,y=5,z=-4")
    write_claims(at, "df/dx = 4", "df/dq = 4")  # backward order: q comes before x
    first, second = results(at)
    assert "carried forward" in first and "sign error" in second
    assert marked(at) == ["q"]


def test_right_up_to_rounding():
    at = open_tab("check", expr="h1 = σ(w3 x1 + w4 x2); h2 = σ(w5 x1 + w6 x2); y = σ(w1 h1 + w2 h2); E = 1/2 (y - t)^2",
                  at="x1=0.35,x2=0.9,w1=0.3,w2=0.9,w3=0.1,w4=0.8,w5=0.4,w6=0.6,t=0.5")
    write_claims(at, "dE/dw1 = 0.027608")
    assert results(at)[0].startswith("✓ **dE/dw1 = 0.027608** — right up to rounding")


@pytest.mark.parametrize("claim, where", [("df/dx2 = cos(x2) +", "column 19"), ("dg/dx1 = 1", "'g' is not"),
                                          ("df/dx1", "write it as")])
def test_a_bad_claim_is_an_inline_error_and_the_others_are_still_checked(claim, where):
    at = open_tab("check", **LOGSIN)
    write_claims(at, RIGHT_X1, claim)
    assert not at.exception
    errors = [e.value for e in at.error]
    assert len(errors) == 1 and errors[0].startswith("**Cannot read line 2:**") and where in errors[0]
    if where.startswith("column"):
        assert at.code[0].value == "df/dx2 = cos(x2) +\n                  ^"
    assert results(at)[0].startswith("✓ **df/dx1")


def test_claims_live_in_the_url():
    at = open_tab("check", **LOGSIN, claims=f"{RIGHT_X1}\n{DROPPED_PATH}")
    assert at.text_area(key=check_tab.KEY).value == f"{RIGHT_X1}\n{DROPPED_PATH}"
    assert marked(at) == ["x2"]
    write_claims(at, RIGHT_X1, "", "df/dx2 = 1")
    assert at.query_params["claims"] == f"{RIGHT_X1}\ndf/dx2 = 1" and at.query_params["tab"] == "check"


def test_claims_survive_a_visit_to_another_tab():
    at = open_tab("check", **LOGSIN)
    write_claims(at, DROPPED_PATH)
    at.session_state["tab"] = "Step through"
    at.run()
    assert not at.get("text_area")
    at.session_state["tab"] = "Check my work"
    at.run()
    assert at.text_area(key=check_tab.KEY).value == DROPPED_PATH and marked(at) == ["x2"]


def test_a_link_with_a_bad_tab_or_steps_opens_the_stepper():
    at = open_tab("bogus", steps="many")
    assert [w.value for w in at.warning] == [
        "Ignored from the link: tab must be one of step, check, descent, forward, gradcheck, practice",
        "Ignored from the link: steps must be a whole number"]
    assert at.session_state["tab"] == "Step through" and "tab" not in at.query_params
    assert len(at.get("bidi_component")) == 1 and at.button(key="go:next")  # the stepper's diagram


def test_describe_escapes_markdown():
    assert check_tab.plain("log(x1*x2)*cos(x2) w_0") == r"log(x1\*x2)\*cos(x2) w\_0"


def test_describe_says_a_derivative_once_in_the_input_language():
    from graphlab.verify import verify

    report = verify("x^3 + 0 y", ["df/dy = 1", "df/dx = 3x"], at={"x": 2, "y": 1})
    dy, dx = (check_tab.describe(c) for c in report_lines(report, digits=4, compact=True))
    assert "right derivative: df/dy = 0  \n" in dy  # not "df/dy = 0 = 0"
    assert r"right derivative: df/dx = 3\*x^2 = 12" in dx  # ^, as typed; 3 x^2 = 12 at x = 2


# --------------------------------------------------------------------------- gradient descent
def vega_data(at: AppTest):
    chart = at.get("vega_lite_chart")
    assert len(chart) == 1
    (dataset,) = chart[0].proto.datasets
    return pa.ipc.open_stream(io.BytesIO(dataset.data.data)).read_pandas()


def test_the_lecture_exercise_in_one_click():
    at = open_tab("descent")
    at.button(key="example:(y - x theta)^2").click().run()
    assert not at.exception
    assert at.multiselect(key=descent_tab.WRT).value == ["theta"]
    table = at.dataframe[0].value
    assert table["theta"].tolist() == ["6", "5.92", "5.8464", "5.778688"]
    assert table["loss"].tolist() == ["4", "3.3856", "2.86557184", "2.425420005"]
    assert table["∂f/∂theta"].tolist() == ["8", "7.36", "6.7712", "6.229504"]
    assert table["update theta"].tolist() == ["-0.08", "-0.0736", "-0.067712", ""]
    data = vega_data(at)
    assert data["step"].tolist() == [0, 1, 2, 3]
    assert data["loss"].tolist() == pytest.approx([4, 3.3856, 2.86557184, 2.425420005])
    assert at.query_params["wrt"] == "theta" and at.query_params["lr"] == "0.01" and at.query_params["steps"] == "3"


def test_exact_mode_keeps_fractions_and_a_link_sets_rate_and_steps():
    at = open_tab("descent", expr="(y - x theta)^2", at="y=10,x=2,theta=6", mode="exact", wrt="theta", lr="1/100",
                  steps="2")
    table = at.dataframe[0].value
    assert table["theta"].tolist() == ["6", "148/25", "3654/625"]  # 5.92, 5.8464
    assert len(vega_data(at)) == 3


def test_two_parameters_and_the_steps_box():
    at = open_tab("descent", expr="(y - w x - b)^2", at="y=3,x=1,w=0,b=0")
    assert at.multiselect(key=descent_tab.WRT).value == ["w", "b"]
    at.number_input(key=descent_tab.STEPS).set_value(1).run()
    table = at.dataframe[0].value
    # d/dw = -2x(y - wx - b) = -6, d/db = -6: one step of 0.01 gives 0.06 each
    assert table["w"].tolist() == ["0", "0.06"] and table["b"].tolist() == ["0", "0.06"]


@pytest.mark.parametrize("change, message", [
    ({"lr": "0.01 +"}, "Learning rate η: unexpected end of input"),
    ({"at": "y=10,x=2,theta="}, "Parameters θ: theta: give its starting value above"),
])
def test_bad_descent_input_is_an_inline_error_naming_its_box(change, message):
    at = open_tab("descent", **{"expr": "(y - x theta)^2", "at": "y=10,x=2,theta=6", "wrt": "theta", **change})
    assert not at.exception
    assert len(at.error) == 1 and at.error[0].value.startswith(f"**Cannot descend:** {message}")
    assert "--" not in at.error[0].value  # no option of the command line
    if "lr" in change:
        assert at.code[0].value == "0.01 +\n      ^"  # where the rate stops making sense
    assert not at.get("vega_lite_chart")


LINE_CSV = (Path(__file__).resolve().parent.parent / "examples" / "line.csv").read_bytes()  # 4 rows of x, y


@pytest.mark.parametrize("upload, batch, message", [
    (LINE_CSV, 5, "Batch size: must be between 1 and the number of rows (4)"),
    (b"x,q\n1,2\n", 1, "Data table: column 'q' is not a variable of the expression (variables: y, w, x, b)"),
    (b"x,y\n1,abc\n", 1, "Data table: the uploaded table line 2: y = 'abc' is not a number"),
])
def test_an_error_in_the_uploaded_table_names_the_box_it_came_from(upload, batch, message):
    at = open_tab("descent", expr="(y - w x - b)^2", at="y=3,x=1,w=0,b=0")
    at.file_uploader(key=descent_tab.DATA).set_value(("data.csv", upload, "text/csv"))
    at.number_input(key=descent_tab.BATCH).set_value(batch).run()
    assert not at.exception
    assert [e.value for e in at.error] == [f"**Cannot descend:** {message}"]


def test_each_field_descend_names_is_the_label_of_a_box_on_the_tab():
    at = open_tab("descent", expr="(y - w x - b)^2", at="y=3,x=1,w=0,b=0")
    widgets = {"wrt": at.multiselect(key=descent_tab.WRT), "learning_rate": at.text_input(key=descent_tab.LR),
               "steps": at.number_input(key=descent_tab.STEPS), "batch_size": at.number_input(key=descent_tab.BATCH),
               "data": at.file_uploader(key=descent_tab.DATA)}
    assert {field: w.label for field, w in widgets.items()} == descent_tab.LABELS
    assert open_tab("check").text_area(key=check_tab.KEY).label == check_tab.LABELS["claims"]


def test_no_parameter_chosen_is_a_hint_not_an_error():
    at = open_tab("descent", expr="(x+y)z")
    assert at.multiselect(key=descent_tab.WRT).value == []
    assert "Choose the parameters" in at.info[0].value and not at.error


def test_mini_batches_from_a_table():
    # what the app runs after an upload: examples/line.csv, batches of 2 (the CLI's example in docs/verify.md)
    key = descent_tab.m.Key("(y - w x - b)^2", (("y", ""), ("w", "0"), ("x", ""), ("b", "0")), "float")
    table = (Path(__file__).resolve().parent.parent / "examples" / "line.csv").read_text()
    d = descent_tab.run(key, ("w", "b"), "0.05", 2, table, 2, 1)
    rows = descent_table(d, digits=descent_tab.DIGITS, compact=True)
    column = {name: [row[i] for row in rows.rows] for i, name in enumerate(rows.columns)}
    assert column["w"] == ["0", "1.295", "1.80925"] and column["rows"] == ["2 3", "1 4", "1 2"]
    assert column["batch loss"][0] == "25.81"


def test_default_parameters_read_like_parameters():
    assert descent_tab.default_wrt(("y", "x", "theta")) == ["theta"]
    assert descent_tab.default_wrt(("w0", "x0", "w1", "x1", "w2")) == ["w0", "w1", "w2"]
    assert descent_tab.default_wrt(("x", "y", "z")) == []
