"""The input language, rule by rule, and its refusals."""

import math
import time

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import graphlab as gl
from graphlab.parse import MAX_CHARS, MAX_DEPTH


def value(text, **point):
    return float(gl.trace(gl.graph(text), point).output)


def structure(text):
    """The graph as nested tuples from the output: (op, operand, ...) with leaf labels."""
    g = gl.graph(text)

    def walk(n):
        d = g.nodes[n]
        return d["label"] if d["kind"] != "op" else (d["op"], *(walk(a) for a in d["args"]))

    return walk(g.graph["output"])


@pytest.mark.parametrize(
    "text, expected",
    [
        ("2^3^2", ("pow", "2", ("pow", "3", "2"))),  # right-associative: 2^9
        ("-x^2", ("neg", ("pow", "x", "2"))),  # ^ binds tighter than unary minus
        ("x**2", ("pow", "x", "2")),  # ** is ^
        ("x1 x2", ("mul", "x1", "x2")),  # juxtaposition, names never split
        ("xy", "xy"),  # one variable
        ("(x+y)z", ("mul", ("add", "x", "y"), "z")),
        ("2x", ("mul", "2", "x")),
        ("2 x y", ("mul", ("mul", "2", "x"), "y")),
        ("a - b", ("sub", "a", "b")),
        ("a / b", ("div", "a", "b")),
        ("a + b + c", ("add", ("add", "a", "b"), "c")),  # binary, left to right
        ("a - b - c", ("sub", ("sub", "a", "b"), "c")),
        ("a / b / c", ("div", ("div", "a", "b"), "c")),
        ("a + b * c", ("add", "a", ("mul", "b", "c"))),
        ("a b / c", ("div", ("mul", "a", "b"), "c")),  # juxtaposition at * precedence
        ("sin x cos x", ("mul", ("sin", "x"), ("cos", "x"))),  # a function takes one factor
        ("sin x^2", ("sin", ("pow", "x", "2"))),
        ("sin(x)^2", ("pow", ("sin", "x"), "2")),
        ("σ(z)", ("sigmoid", "z")),
        ("max(a, b)", ("max", "a", "b")),
        ("-5 x1", ("mul", "-5", "x1")),  # a signed literal is one constant
        ("-2^2", ("neg", ("pow", "2", "2"))),  # ...but not under a power
        ("x - -y", ("sub", "x", ("neg", "y"))),
        ("2^-1", ("pow", "2", "-1")),
        ("e^x", ("pow", "e", "x")),
        ("1e-3 x", ("mul", "1e-3", "x")),
        ("0.35", "0.35"),
        (".5x", ("mul", ".5", "x")),
        ("x_1 + y", ("add", "x_1", "y")),
    ],
)
def test_grammar(text, expected):
    assert structure(text) == expected


@pytest.mark.parametrize(
    "text, point, expected",
    [
        ("2^3^2", {}, 512.0),
        ("-x^2", {"x": 3}, -9.0),
        ("2x", {"x": 4}, 8.0),
        ("e", {}, math.e),
        ("pi/2", {}, math.pi / 2),
        ("1e-3", {}, 0.001),
        ("sin x cos x", {"x": 0.3}, math.sin(0.3) * math.cos(0.3)),
    ],
)
def test_values(text, point, expected):
    assert value(text, **point) == pytest.approx(expected, rel=1e-15)


def test_shared_subexpression_is_one_node():
    g = gl.graph("log(x1 x2) sin(x2)")
    assert sorted(g.successors("x2")) == sorted(n for n, d in g.nodes(data=True) if d.get("args") and "x2" in d["args"])
    assert g.out_degree("x2") == 2
    g = gl.graph("sin(x) + sin(x)")
    assert sum(1 for _, d in g.nodes(data=True) if d.get("op") == "sin") == 1


def test_same_operand_twice_keeps_both():
    g = gl.graph("x^x")
    assert g.nodes["f"]["args"] == ("x", "x")
    t = gl.trace(g, {"x": 2.0})
    assert float(t.gradient["x"]) == pytest.approx(4 * (math.log(2) + 1))  # d/dx x^x = x^x (ln x + 1)


def test_assignments_name_nodes():
    g = gl.graph("q = x + y; f = q z")
    assert g.nodes["q"]["op"] == "add" and g.nodes["f"]["args"] == ("q", "z")
    assert g.graph["output"] == "f"
    g2 = gl.graph("q = x + y\nw = q z")
    assert g2.graph["output"] == "w"


def test_unnamed_output_is_f_unless_taken():
    assert gl.graph("(x+y)z").graph["output"] == "f"
    assert gl.graph("f + g").graph["output"] == "out"


def test_canonical_option():
    g = gl.from_text("x - y", canonical=True)
    ops = sorted(d["op"] for _, d in g.nodes(data=True) if d["kind"] == "op")
    assert ops == ["add", "mul"]  # Add(x, Mul(-1, y))
    g = gl.from_text("a + b + c", canonical=True)
    assert g.nodes[g.graph["output"]]["args"] == ("a", "b", "c")  # n-ary
    t = gl.trace(g, {"a": 1, "b": 2, "c": 3})
    assert float(t.output) == 6 and all(float(v) == 1 for v in t.gradient.values())


@pytest.mark.parametrize(
    "text, message, column",
    [
        ("", "empty input", 1),
        ("   ", "empty input", 4),
        ("x +", "operand is missing", 4),
        ("(x + y", "never closed", 1),
        ("x + y)", "unexpected ')'", 6),
        ("foo(x)", "unknown function 'foo'", 1),
        ("sin", "needs an argument", 1),
        ("max(a)", "takes 2 arguments", 1),
        ("sin(a, b)", "takes 1 argument", 1),
        ("e = x", "cannot assign to the constant 'e'", 1),
        ("pi = 3", "cannot assign to the constant 'pi'", 1),
        ("sin = x", "cannot assign to the function name", 1),
        ("q = x; q = y", "assigned twice", 8),
        ("f = q x; q = y", "used as a variable", 10),
        ("x + y; f = x", "only the last statement", 1),
        ("x + y = 3", "'=' must follow a single name", 7),
        ("x $ y", "unexpected character '$'", 3),
        ("x # comment", "unexpected character '#'", 3),
        ("(a, b)", "expected ')'", 3),
    ],
)
def test_errors_name_problem_and_column(text, message, column):
    with pytest.raises(gl.ParseError) as err:
        gl.graph(text)
    assert message in str(err.value)
    assert err.value.column == column
    assert "\n" not in str(err.value)


def test_multiline_error_names_line():
    with pytest.raises(gl.ParseError) as err:
        gl.graph("q = x + y\nf = q $ z")
    assert str(err.value).endswith("at line 2, column 7")
    assert err.value.caret().splitlines() == ["f = q $ z", "      ^"]


INJECTIONS = [
    "__import__('os').system('ls')",
    "__import__",
    "os.system('rm -rf /')",
    "x.__class__",
    "().__class__.__bases__[0]",
    "lambda: 1",
    "lambda x: x",
    "[x for x in y]",
    "{1: 2}",
    "'abc'",
    '"abc"',
    "x[0]",
    "exec('1')",
    "eval('1')",
    "open('/etc/passwd')",
    "globals()",
    "x; import os",
    "x @ y",
    "x % y",
    "x & y",
    "`ls`",
    "\\x41",
    "x := 1",
    "f\"{x}\"",
    "getattr(x, 'y')",
]


@pytest.mark.parametrize("text", INJECTIONS)
def test_injection_refused(text):
    with pytest.raises(gl.ParseError):
        gl.graph(text)


def test_function_like_names_are_not_calls():
    # 'import' and 'lambda' alone are just variable names: nothing is ever evaluated
    g = gl.graph("lambda import")
    assert g.graph["variables"] == ("lambda", "import")


def test_size_limit_refused_fast():
    start = time.perf_counter()
    with pytest.raises(gl.ParseError, match="limit"):
        gl.graph("x+" * MAX_CHARS)
    assert time.perf_counter() - start < 0.5


@pytest.mark.parametrize("make", [
    lambda n: "(" * n + "x" + ")" * n,
    lambda n: "sin(" * n + "x" + ")" * n,
    lambda n: "-" * n + "x",
    lambda n: "2^" * n + "2",
    lambda n: "sin " * n + "x",
])
def test_nesting_limit(make):
    gl.graph(make(MAX_DEPTH // 2))  # reasonable nesting is fine
    start = time.perf_counter()
    with pytest.raises(gl.ParseError, match="nesting deeper"):
        gl.graph(make(1000))
    assert time.perf_counter() - start < 0.5


def test_long_flat_input_is_fine():
    n = 5000
    g = gl.graph(" + ".join(f"x{i}" for i in range(n)))
    assert len(g.graph["variables"]) == n
    t = gl.trace(g, {f"x{i}": 1.0 for i in range(n)})
    assert float(t.output) == n


def test_huge_literal_refused():
    with pytest.raises(gl.ParseError, match="too large"):
        gl.graph("1e999999 x")


ALPHABET = "xyz12 .e+-*/^(),=;\nsinlogmaxσ_$'[]"


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=ALPHABET, max_size=40) | st.text(max_size=30))
def test_fuzz_parses_or_raises_parse_error(text):
    start = time.perf_counter()
    try:
        gl.graph(text)
    except gl.ParseError as e:
        assert 1 <= e.column and "\n" not in str(e)
    assert time.perf_counter() - start < 0.25
