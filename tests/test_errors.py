"""Library errors name the field they concern, never a front end's word for it.

Each case is a bad request made through the library, with the field and the values it wants
written out by hand; the CLI must then name the field as the option a user typed (the lines
below are the contract, written by hand), and the app as its widget's label (test_app_tabs.py).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from graphlab.build import from_text
from graphlab.cli import OPTIONS, build_parser, main
from graphlab.descend import descend, parse_table, read_table
from graphlab.errors import FIELDS, GraphlabError, ParseError
from graphlab.forward import forward_trace
from graphlab.gradcheck import gradcheck
from graphlab.materials import animation
from graphlab.nn import parse_layers
from graphlab.point import parse_point
from graphlab.trace import trace
from graphlab.verify import verify

ROOT = Path(__file__).resolve().parents[1]
LECTURE = "(y - x theta)^2"
START = {"y": 10, "x": 2, "theta": 6}
LINE = [{"x": "1", "y": "2"}, {"x": "2", "y": "4.1"}, {"x": "3", "y": "5.9"}, {"x": "4", "y": "8.2"}]


def descent(**kwargs):
    args = {"expr": LECTURE, "wrt": ["theta"], "at": START, "lr": 0.01, "steps": 3, **kwargs}
    return lambda: descend(args.pop("expr"), args.pop("wrt"), args.pop("at"), args.pop("lr"), args.pop("steps"),
                           **args)


# (the request, its field, the values it wants, the message without the field's name)
CASES = {
    "no parameter": (descent(wrt=[]), "wrt", (), "names no parameter"),
    "parameter not a variable": (descent(wrt=["w"]), "wrt", (),
                                 "w: not a variable of the expression (variables: y, x, theta)"),
    "parameter without a start": (descent(at={"y": 10, "x": 2}), "wrt", ("theta",), "theta: give its starting value"),
    "negative steps": (descent(steps=-1), "steps", (), "must be between 0 and 10,000"),
    "learning rate not a value": (descent(lr="x"), "learning_rate", (),
                                  "the value 'x' must be a number or a constant expression"),
    "batch larger than the data": (descent(expr="(y - w x)^2", wrt=["w"], at={"w": 0}, data=LINE, batch_size=5),
                                   "batch_size", (), "must be between 1 and the number of rows (4)"),
    "data column not a variable": (descent(expr="(y - w x)^2", wrt=["w"], at={"w": 0}, data=[{"x": "1", "q": "2"}]),
                                   "data", (), "column 'q' is not a variable of the expression (variables: y, w, x)"),
    "data column is a parameter": (descent(expr="(y - w x)^2", wrt=["w"], at={"w": 0}, data=[{"w": "1", "y": "2"}]),
                                   "data", (), "column 'w' is a parameter: it cannot also be data"),
    "values missing": (descent(at={"theta": 6}), None, ("y", "x"), "no value for y, x: give them"),
    "values missing, with data": (descent(expr="(y - w x - b)^2", wrt=["w"], at={"w": 0}, data=LINE), None, ("b",),
                                  "no value for b (neither given nor a data column): give it"),
    "table cell": (lambda: parse_table("x,y\n1,abc\n", "t.csv"), "data", (), "t.csv line 2: y = 'abc' is not a number"),
    "table file": (lambda: read_table("/nonexistent/t.csv"), "data", (),
                   "cannot read /nonexistent/t.csv: No such file or directory"),
    "value twice": (lambda: parse_point("x=1", "x=2"), "values", (), "x: given twice"),
    "value pairs": (lambda: parse_point("nonsense"), "values", (),
                    "expects NAME=VALUE pairs separated by commas, got 'nonsense'"),
    "value not a number": (lambda: parse_point("x=abc"), "values", (),
                           "x: the value 'abc' must be a number or a constant expression"),
    "value of no variable": (lambda: verify("(x+y)z", ["df/dx = z"], {"q": 1}), "values", (),
                             "q: not a variable of the expression (variables: x, y, z)"),
    "no claims": (lambda: verify("(x+y)z", []), "claims", (), "none to check: give one such as 'df/dx = ...'"),
    "layer sizes": (lambda: parse_layers("16,a"), "layers", (),
                    "expects comma-separated sizes such as 16,16, got '16,a'"),
    "layer sizes positive": (lambda: parse_layers("0"), "layers", (), "expects positive sizes such as 16,16, got '0'"),
    "forward mode of no variable": (lambda: forward_trace(from_text("(x+y)z"), {"x": 1}, "w"), "wrt", (),
                                    "w: not a variable of the expression (variables: x, y, z)"),
    "gradient check values missing": (lambda: gradcheck(from_text("x y"), {"x": 1}), None, ("y",),
                                      "a gradient check needs every variable's value; no value for y: give it"),
    "gradient check step": (lambda: gradcheck(from_text("x y"), {"x": 1, "y": 2}, h=0), "h", (),
                            "must be a positive number, not 0"),
    "gradient check rtol": (lambda: gradcheck(from_text("x"), {"x": 1}, rtol=-1.0), "rtol", (),
                            "must be a positive number, not -1.0"),
    "gradient check atol": (lambda: gradcheck(from_text("x"), {"x": 1}, atol=float("nan")), "atol", (),
                            "must be a positive number, not nan"),
    "animation rate": (lambda: animation(trace(from_text("x"), {"x": 1}), "gif", fps=0), "fps", (),
                       "must be between 0.05 and 50 steps a second, not 0"),
    "animation pause": (lambda: animation(trace(from_text("x"), {"x": 1}), "apng", pause=-1), "pause", (),
                        "must be between 0 and 60 seconds, not -1"),
}


@pytest.mark.parametrize("case", CASES)
def test_each_error_carries_its_field_and_reads_without_it(case):
    request, field, wanted, detail = CASES[case]
    with pytest.raises(GraphlabError) as caught:
        request()
    e = caught.value
    assert (e.field, e.wanted, e.detail) == (field, wanted, detail)
    assert str(e) == (f"{field} {detail}" if field else detail)  # Python names the field in the library's words
    assert "--" not in str(e) and "\n" not in str(e)


def test_a_learning_rate_that_does_not_parse_keeps_its_column():
    with pytest.raises(ParseError) as caught:
        descend(LECTURE, ["theta"], START, "0.01 +", 3)
    assert caught.value.field == "learning_rate" and caught.value.caret() == "0.01 +\n      ^"  # the end of the text


def test_fields_are_the_declared_ones_and_the_cli_has_an_option_for_each():
    used = set()
    for path in (ROOT / "graphlab").glob("*.py"):
        used |= set(re.findall(r'\bfield\s*=\s*"(\w+)"', path.read_text()))
        assert not re.search(r'GraphlabError\(f?"--', path.read_text()), path  # no option inside a message
    assert used <= set(FIELDS) and {c[1] for c in CASES.values()} - {None} == set(FIELDS)
    assert set(OPTIONS) == set(FIELDS)
    parser = build_parser()
    options = {o for sub in parser._subparsers._group_actions[0].choices.values() for a in sub._actions
               for o in a.option_strings}
    assert set(OPTIONS.values()) <= options


# What the CLI prints for each: the option a user typed, then the library's words; values it wants as --at.
DESCEND = ["descend", LECTURE, "--lr", "0.01"]
CLI = [
    ([*DESCEND, "--wrt", "theta", "--at", "y=10,x=2"], "--wrt theta: give its starting value (--at theta=...)"),
    ([*DESCEND, "--wrt", "w", "--at", "y=10,x=2,theta=6"],
     "--wrt w: not a variable of the expression (variables: y, x, theta)"),
    ([*DESCEND, "--wrt", "theta", "--at", "theta=6"], "no value for y, x: give them (--at y=...,x=...)"),
    ([*DESCEND, "--wrt", "theta", "--at", "y=10,x=2,theta=6", "--steps", "-1"], "--steps must be between 0 and 10,000"),
    (["descend", LECTURE, "--wrt", "theta", "--at", "y=10,x=2,theta=6", "--lr", "eta"],
     "--lr the value 'eta' must be a number or a constant expression"),
    (["descend", "(y - w x)^2", "--wrt", "w", "--at", "w=0", "--lr", "0.1", "--data", "examples/line.csv",
      "--batch-size", "5"], "--batch-size must be between 1 and the number of rows (4)"),
    (["descend", "(y - w x - b)^2", "--wrt", "w", "--at", "w=0", "--lr", "0.1", "--data", "examples/line.csv"],
     "no value for b (neither given nor a data column): give it (--at b=...)"),
    (["grad", "x", "--at", "x=1,x=2"], "--at x: given twice"),
    (["grad", "x", "--at", "x=abc"], "--at x: the value 'abc' must be a number or a constant expression"),
    (["verify", "(x+y)z", "--at", "q=1", "--claim", "df/dx = z"],
     "--at q: not a variable of the expression (variables: x, y, z)"),
    (["mlp", "--layers", "16,a"], "--layers expects comma-separated sizes such as 16,16, got '16,a'"),
    (["grad", "(x+y)z", "--mode", "forward", "--wrt", "w"],
     "--wrt w: not a variable of the expression (variables: x, y, z)"),
    (["gradcheck", "x y", "--at", "x=1"],
     "a gradient check needs every variable's value; no value for y: give it (--at y=...)"),
    (["gradcheck", "x y", "--at", "x=1,y=2", "--h", "-0.1"], "--h must be a positive number, not -0.1"),
]


@pytest.mark.parametrize("argv, line", CLI, ids=[line for _, line in CLI])
def test_the_cli_names_each_field_as_its_option(argv, line, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err == f"error: {line}\n"
