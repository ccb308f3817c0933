"""Worksheets and exercises: values drawn per student in range and in domain, reproducibly; every
answer in the manifest equals the trace at that student's values, and each variable's gradient
equals SymPy's derivative there; the files are what they say; bad input is one line, exit 2."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import sympy as sp
from pypdf import PdfReader

from graphlab.build import from_text, node_expr, symbol
from graphlab.errors import GraphlabError
from graphlab.exercise import Ranges, draw_values, exercise, problem
from graphlab.trace import trace
from graphlab.worksheet import write_worksheets

GRAPHLAB = shutil.which("graphlab") or str(Path(sys.executable).parent / "graphlab")

LECTURE = ["(x+y)z", "q = x + y; f = q z", "log(x1 x2) sin(x2)", "sigmoid(w0 x0 + w1 x1 + w2)", "(y - x theta)^2",
           "h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
           "E = (y - t)^2 / 2"]
# Each op that has a domain, with the condition written here independently of the registry.
DOMAINS = {"log": lambda a: a > 0, "sqrt": lambda a: a > 0, "asin": lambda a: -1 < a < 1,
           "acos": lambda a: -1 < a < 1, "relu": lambda a: a != 0, "abs": lambda a: a != 0}


def run(*args):
    return subprocess.run([GRAPHLAB, *args], capture_output=True, text=True, timeout=120)


def answers_from_trace(graph, values):
    """Every blank's answer, read off an independent float trace at the student's values."""
    t = trace(graph, values)
    out = {}
    for node in graph:
        if graph.nodes[node]["kind"] == "op":
            out[f"value:{node}"] = t.values[node]
    for s in t.backward_steps:
        for e in s.edges:
            out[f"local:{s.node}:{e.input}:{e.position}"] = e.local
            out[f"gradient:{s.node}:{e.input}:{e.position}"] = e.contribution
            if e.consumers > 1:
                out[f"sum:{e.input}"] = t.grads[e.input]
    return out


@pytest.mark.parametrize("expr", LECTURE)
def test_every_answer_is_the_trace_at_the_students_values(tmp_path, expr):
    graph = from_text(expr)
    done = write_worksheets(tmp_path, graph, "both", students=2, seed=5, fmt="svg")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest == json.loads(json.dumps(done.manifest))
    assert [s["student"] for s in manifest["students"]] == [1, 2]
    for student in manifest["students"]:
        values = {v: sp.Rational(str(x)) for v, x in student["values"].items()}
        assert set(values) == set(graph.graph["variables"])
        expected = answers_from_trace(graph, values)
        assert {b["id"] for b in student["blanks"]} == set(expected)
        assert [b["number"] for b in student["blanks"]] == list(range(1, len(expected) + 1))
        for b in student["blanks"]:
            assert b["answer"] == pytest.approx(expected[b["id"]], rel=1e-9, abs=1e-12), b
        # the variables' gradients (a sum, or the one edge's gradient) against SymPy's derivative
        f = node_expr(graph, graph.graph["output"])
        point = {symbol(v): x for v, x in values.items()}
        by_id = {b["id"]: b["answer"] for b in student["blanks"]}
        for v in graph.graph["variables"]:
            ids = [k for k in by_id if k == f"sum:{v}"] or [k for k in by_id if k.startswith("gradient:")
                                                           and k.split(":")[2] == v]
            assert len(ids) == 1
            assert by_id[ids[0]] == pytest.approx(float(sp.diff(f, symbol(v)).xreplace(point)), rel=1e-9, abs=1e-12)
        for name in student["files"].values():
            assert (tmp_path / name).is_file()


def test_values_are_reproducible_from_the_seed():
    graph = from_text("log(x1 x2) sin(x2)")
    first = [draw_values(graph, f"3/{k}") for k in range(1, 6)]
    assert first == [draw_values(graph, f"3/{k}") for k in range(1, 6)]
    assert len({tuple(v.values()) for v in first}) > 1  # students differ
    assert [draw_values(graph, f"4/{k}") for k in range(1, 6)] != first


def test_the_same_seed_writes_the_same_manifest(tmp_path):
    graph = from_text("(x+y)z")
    a = write_worksheets(tmp_path / "a", graph, "gradients", students=4, seed=11, fmt="svg").manifest
    b = write_worksheets(tmp_path / "b", graph, "gradients", students=4, seed=11, fmt="svg").manifest
    c = write_worksheets(tmp_path / "c", graph, "gradients", students=4, seed=12, fmt="svg").manifest
    assert a == b
    assert [s["values"] for s in a["students"]] != [s["values"] for s in c["students"]]


@pytest.mark.parametrize("expr", ["log(x) + sqrt(y) / z", "asin(x) acos(y)", "relu(x - y) + abs(y z)",
                                  "x / (y - z)", "log(x1 x2) sin(x2)", "x^y"])
def test_drawn_values_are_hand_computable_and_inside_every_domain(expr):
    graph = from_text(expr)
    for k in range(8):
        values = draw_values(graph, k)
        for v in values.values():
            assert v != 0 and abs(v) <= 5
            assert (v * 10).is_Integer  # an integer or one decimal
        for node, data in graph.nodes(data=True):
            if data["kind"] != "op":
                continue
            args = [node_expr(graph, a).xreplace({symbol(n): x for n, x in values.items()}) for a in data["args"]]
            if data["op"] in DOMAINS:
                assert DOMAINS[data["op"]](args[0]), (expr, node, values)
            if data["op"] == "div":
                assert args[1] != 0
            if data["op"] == "pow":
                assert args[0] > 0 or args[1].is_Integer
        t = trace(graph, values)
        assert not t.nonfinite
        assert all(abs(g) <= 1000 for g in t.gradient.values())


def test_integers_first_then_one_decimal_where_integers_cannot_work():
    assert all(v.is_Integer for v in draw_values(from_text("(x+y)z"), 1).values())
    values = draw_values(from_text("asin(x)"), 1)  # |x| < 1: no integer but 0, which is left out
    assert not values["x"].is_Integer and -1 < values["x"] < 1 and (values["x"] * 10).is_Integer


def test_fixed_values_are_kept_and_the_others_drawn():
    values = draw_values(from_text("(x+y)z"), 2, fixed={"y": sp.Integer(5)}, ranges=(Ranges(1, 3, 0),))
    assert values["y"] == 5 and values["x"] in (1, 2, 3) and values["z"] in (1, 2, 3)


def test_an_expression_with_no_hand_computable_values_is_refused_in_one_line():
    with pytest.raises(GraphlabError) as e:
        draw_values(from_text("log(x - 10)"), 0)
    assert e.value.field == "range" and "log(x - 10)" in str(e.value) and "domain" in str(e.value)
    with pytest.raises(GraphlabError, match="too large"):
        draw_values(from_text("exp(exp(x^2 + 3))"), 0)
    assert problem(from_text("log(x)"), {"x": -1}) is not None
    assert problem(from_text("log(x)"), {"x": 2}) is None


def test_blank_modes():
    graph = from_text("q = x + y; f = q z")
    values = {"x": -2, "y": 5, "z": -4}
    kinds = {mode: [b.kind for b in exercise(graph, values, mode).blanks] for mode in ("values", "gradients", "both")}
    assert kinds["values"] == ["value", "value"]
    assert kinds["gradients"] == ["local", "gradient"] * 4
    assert kinds["both"] == kinds["values"] + kinds["gradients"]
    ex = exercise(graph, values, "both")
    assert [ex.answer(b) for b in ex.blanks] == [3, -12, -4, -4, 3, 3, 1, -4, 1, -4]  # the lecture's numbers
    with pytest.raises(GraphlabError, match="values, gradients or both"):
        exercise(graph, values, "all")
    with pytest.raises(GraphlabError, match="nothing to fill in"):
        exercise(from_text("x"), {"x": 1}, "both")
    big = from_text(" + ".join(f"x{k} y{k}" for k in range(70)))  # 210 nodes
    with pytest.raises(GraphlabError, match="too large for an exercise: at most 40 variables and 200 nodes"):
        exercise(big, dict.fromkeys(big.graph["variables"], 1), "both")


# --------------------------------------------------------------------------- the command
def test_cli_pdf_worksheets_keys_and_one_pdf(tmp_path):
    out = tmp_path / "sheets"
    r = run("worksheet", "log(x1 x2) sin(x2)", "--blank", "gradients", "--students", "3", "--seed", "1",
            "--single-pdf", "-o", str(out))
    assert r.returncode == 0, r.stderr
    assert "3 worksheets" in r.stdout
    key_pages = 0
    for k in (1, 2, 3):
        sheet, key = PdfReader(out / f"worksheet-0{k}.pdf"), PdfReader(out / f"key-0{k}.pdf")
        assert len(sheet.pages) == 1 and len(key.pages) >= 2  # the key: the diagram, then the explanation
        key_pages += len(key.pages)
    assert len(PdfReader(out / "worksheets.pdf").pages) == 3 + key_pages
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["blanks"] == "gradients" and manifest["single_pdf"] == "worksheets.pdf"


def test_cli_svg_and_tikz(tmp_path):
    r = run("worksheet", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--format", "svg", "-o", str(tmp_path / "svg"))
    assert r.returncode == 0, r.stderr
    sheet = (tmp_path / "svg" / "worksheet-01.svg").read_text()
    key = (tmp_path / "svg" / "key-01.svg").read_text()
    assert "<svg" in sheet and ">&#45;12<" not in sheet and ">&#45;12<" in key  # the key fills the boxes in (−: &#45;)
    manifest = json.loads((tmp_path / "svg" / "manifest.json").read_text())
    assert manifest["students"][0]["values"] == {"x": -2, "y": 5, "z": -4}
    r = run("worksheet", "(x+y)z", "--format", "tikz", "--blank", "values", "-o", str(tmp_path / "tex"))
    assert r.returncode == 0, r.stderr
    tex = (tmp_path / "tex" / "worksheet-01.tex").read_text()
    assert r"\begin{tikzpicture}" in tex and r"\boxed{\rule" in tex
    key = (tmp_path / "tex" / "key-01.tex").read_text()
    assert r"\begin{gather*}" in key and r"\boxed{\rule" not in key


@pytest.mark.parametrize("args, message", [
    (["x+", "-o", "D"], "column 3"),
    (["log(x - 10)", "-o", "D"], "--range gives no hand-computable numbers"),
    (["x+y", "--range", "5:1", "-o", "D"], "--range '5:1' is not LOW:HIGH"),
    (["x+y", "--students", "0", "-o", "D"], "--students must be between 1 and 500"),
    (["x+y", "--at", "z=1", "-o", "D"], "--at z: not a variable"),
    (["log(x)", "--at", "x=-1", "-o", "D"], "--at gives values that make no exercise"),
    (["x", "-o", "D"], "nothing to fill in"),
])
def test_cli_bad_input_is_one_line(tmp_path, args, message):
    args = [str(tmp_path / a) if a == "D" else a for a in args]
    r = run("worksheet", *args)
    assert r.returncode == 2
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("error:") and message in r.stderr, r.stderr
