"""The app's "Practice" tab, driven by AppTest (no browser).

The lecture's circuit (x+y)z at x = -2, y = 5, z = -4, worked by hand: q = x + y = 3, f = q z = -12;
backward, ∂f/∂q = z = -4, ∂f/∂z = q = 3, and along x → q and y → q the local gradient 1 times the
upstream -4 gives -4.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pygraphviz
import pytest
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules

import practice_tab  # noqa: E402

from graphlab.build import from_text  # noqa: E402
from graphlab.exercise import exercise  # noqa: E402

LECTURE = {"expr": "(x+y)z", "at": "x=-2,y=5,z=-4"}
BLANKS = {b.id: b.number for b in exercise(from_text("(x+y)z"), {"x": -2, "y": 5, "z": -4}, "both").blanks}


def open_practice(**query: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(tab="practice", **query)
    at.run()
    assert not at.exception, at.exception
    return at


def fill(at: AppTest, blank_id: str, text: str) -> AppTest:
    at.text_input(key=practice_tab.entry_key(BLANKS[blank_id])).input(text).run()
    assert not at.exception, at.exception
    return at


def verdicts(at: AppTest) -> list[str]:
    return [e.value for e in (*at.success, *at.error, *at.warning)]


def score(at: AppTest) -> str:
    return next(md.value for md in at.markdown if md.value.startswith("**Score"))


def test_the_tab_draws_blank_boxes_and_one_input_per_blank():
    at = open_practice(**LECTURE, blanks="both")
    assert len(at.text_input) == 1 + 3 + len(BLANKS)  # the expression, its three values, then the blanks
    assert score(at).startswith(f"**Score: 0 of {len(BLANKS)}**")
    g = pygraphviz.AGraph(string=at.get("graphviz_chart")[0].proto.spec)
    labels = " ".join(e.attr.get("label") or "" for e in g.edges())
    assert labels.count('border="1"') == len(BLANKS)  # every blank a box on its edge (each node here has one)
    assert at.query_params["blanks"] == "both" and at.query_params["tab"] == "practice"


def test_right_wrong_and_carried_forward():
    at = open_practice(**LECTURE, blanks="both")
    fill(at, "value:v1", "3")
    assert verdicts(at) == ["✓ right"]
    fill(at, "gradient:v1:x:0", "1")  # the local gradient alone
    assert "✗ wrong: this is the local gradient ∂v1/∂x; multiply by the upstream -4" in verdicts(at)
    fill(at, "local:f:v1:0", "-5")  # ∂f/∂v1 = z = -4: wrong...
    fill(at, "gradient:f:v1:0", "-5")  # ...and carried along the edge: upstream 1 × your -5
    carried = [w.value for w in at.warning if w.value.startswith("carried forward")]
    assert len(carried) == 1 and f"with your ({BLANKS['local:f:v1:0']}) -5 (wrong)" in carried[0]
    assert score(at).startswith(f"**Score: 1 of {len(BLANKS)}** · 1 carried forward")
    g = pygraphviz.AGraph(string=at.get("graphviz_chart")[0].proto.spec)
    spec = g.string()
    assert "#e6f4ea" in spec and "#fdecea" in spec and "#fff4e0" in spec  # right, wrong, carried boxes coloured


def test_all_right_scores_full():
    at = open_practice(**LECTURE, blanks="values")
    fill(at, "value:v1", "3")
    fill(at, "value:f", "-12")
    assert score(at) == "**Score: 2 of 2** · all right"


def test_new_numbers_changes_the_values_and_empties_the_blanks():
    at = open_practice(**LECTURE, blanks="gradients")
    gradient = {b.id: b.number for b in exercise(from_text("(x+y)z"), {"x": -2, "y": 5, "z": -4},
                                                   "gradients").blanks}
    at.text_input(key=practice_tab.entry_key(gradient["local:f:z:1"])).input("3").run()
    before = at.query_params["at"]
    at.button(key="practice:new").click().run()
    assert not at.exception, at.exception
    assert at.query_params["at"] != before
    assert at.query_params["blanks"] == "gradients"
    assert all(not at.text_input(key=practice_tab.entry_key(n)).value for n in gradient.values())
    values = [at.text_input(key=f"value:{v}").value for v in "xyz"]
    assert all(v and v != "0" for v in values)


def test_values_outside_the_domain_say_so():
    at = open_practice(expr="log(x)", at="x=-1")
    assert any("leave log's domain" in i.value and "New numbers" in i.value for i in at.info)


@pytest.mark.parametrize("query, problem", [({"blanks": "all"}, "blanks must be one of values, gradients, both")])
def test_a_bad_link_is_ignored_with_a_warning(query, problem):
    at = open_practice(**LECTURE, **query)
    assert any(problem in w.value for w in at.warning)


def test_from_query_round_trip():
    entries, problems = practice_tab.from_query({"blanks": "values"})
    assert entries == {practice_tab.MODE: "values"} and not problems
    assert practice_tab.to_query(entries) == {"blanks": "values"}
    assert practice_tab.from_query({}) == ({}, [])
