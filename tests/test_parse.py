"""The input language, rule by rule, and its refusals."""

import math
import time

import pytest
import sympy as sp
from conftest import cpu_time
from hypothesis import given, settings
from hypothesis import strategies as st

import graphlab as gl
from graphlab.build import node_expr
from graphlab.ops import FUNCTIONS
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
        ("foo(a, b)", "unknown function 'foo'", 1),  # foo(x) is now foo * (x): see below
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


# --------------------------------------------------------------------------- a name or number before '('
def expr_of(text, names=()):
    g = gl.from_text(text, names=names)
    return node_expr(g, g.graph["output"])


def sig(z):
    return 1 / (1 + math.exp(-z))


PAREN_PRODUCTS = [
    # (juxtaposed, the same with '*', a point, the value computed here in Python)
    ("x(y+z)", "x * (y+z)", dict(x=2, y=3, z=5), lambda x, y, z: x * (y + z)),
    ("x (y+z)", "x * (y+z)", dict(x=2, y=3, z=5), lambda x, y, z: x * (y + z)),
    ("y(1 - y)", "y * (1 - y)", dict(y=0.3), lambda y: y * (1 - y)),
    ("h1(1 - h1)", "h1 * (1 - h1)", dict(h1=0.6), lambda h1: h1 * (1 - h1)),
    ("2(x+1)", "2 * (x+1)", dict(x=4), lambda x: 2 * (x + 1)),
    ("-2(x+1)", "-2 * (x+1)", dict(x=4), lambda x: -2 * (x + 1)),
    ("0.5(x+1)", "0.5 * (x+1)", dict(x=4), lambda x: 0.5 * (x + 1)),
    ("x_2(a + b)", "x_2 * (a + b)", dict(x_2=3, a=1, b=2), lambda x_2, a, b: x_2 * (a + b)),
    ("w5(x)(y)", "w5 * (x) * (y)", dict(w5=2, x=3, y=7), lambda w5, x, y: w5 * x * y),
    ("rate(1 - p)", "rate * (1 - p)", dict(rate=0.1, p=0.25), lambda rate, p: rate * (1 - p)),
    ("xy(x + y)", "xy * (x + y)", dict(xy=3, x=1, y=2), lambda xy, x, y: xy * (x + y)),
    ("y(1 - y)^2", "y * (1 - y)^2", dict(y=0.3), lambda y: y * (1 - y) ** 2),
    ("2^x(1 - x)", "2^x * (1 - x)", dict(x=3), lambda x: 2**x * (1 - x)),
    ("a/b(c)", "a/b * (c)", dict(a=1, b=4, c=2), lambda a, b, c: a / b * c),
    ("e(x+1)", "e * (x+1)", dict(x=1), lambda x: math.e * (x + 1)),
    ("sin x(1 - x)", "sin(x) * (1 - x)", dict(x=0.3), lambda x: math.sin(x) * (1 - x)),
    ("(y - t) y (1 - y) h1", "(y - t) * y * (1 - y) * h1", dict(y=0.6, t=0.5, h1=0.7),
     lambda y, t, h1: (y - t) * y * (1 - y) * h1),
    ("s = σ(z); s(1 - s)", "s = σ(z); s * (1 - s)", dict(z=0.4), lambda z: sig(z) * (1 - sig(z))),
    # a name that looks like a function is a variable once a statement assigns it
    ("sigma = σ(z); sigma(1 - sigma)", "sigma = σ(z); sigma * (1 - sigma)", dict(z=0.4),
     lambda z: sig(z) * (1 - sig(z))),
]


@pytest.mark.parametrize("text, explicit, point, expected", PAREN_PRODUCTS, ids=[c[0] for c in PAREN_PRODUCTS])
def test_name_or_number_before_paren_is_a_product(text, explicit, point, expected):
    assert sp.simplify(expr_of(text) - expr_of(explicit)) == 0
    assert structure(text) == structure(explicit)  # the same graph, not just the same value
    assert value(text, **point) == pytest.approx(expected(**point), rel=1e-12)


POINT = dict(x=0.3, y=-1.5, h1=2.0, w_2=0.7, rate=0.1)
FACTORS = {  # factor -> its value at POINT, computed here
    "x": 0.3, "y": -1.5, "h1": 2.0, "w_2": 0.7, "rate": 0.1, "2": 2.0, "0.5": 0.5,
    "(x + 1)": 1.3, "(1 - y)": 2.5, "(h1 - rate)": 1.9,
}


@settings(max_examples=200, deadline=None)
@given(st.lists(st.sampled_from(sorted(FACTORS)), min_size=1, max_size=6), st.data())
def test_fuzz_juxtaposition_equals_explicit_product(factors, data):
    # "x(1 - y)h1 2(x + 1)" is x * (1 - y) * h1 * 2 * (x + 1)
    text = factors[0]
    for f in factors[1:]:
        # a '(' may touch what comes before it; names and numbers need a space between them
        text += data.draw(st.sampled_from(["", " "])) if f.startswith("(") else " "
        text += f
    used = {k: v for k, v in POINT.items() if k in gl.graph(text).graph["variables"]}
    assert value(text, **used) == pytest.approx(math.prod(FACTORS[f] for f in factors), rel=1e-12)
    assert sp.simplify(expr_of(text) - expr_of(" * ".join(factors))) == 0


def known_in(message):
    return set(message.split("(known: ", 1)[1].split(")", 1)[0].split(", "))


@pytest.mark.parametrize(
    "text, suggestion, column",
    [
        ("sigma(x)", "did you mean sigmoid or σ?", 1),
        ("Sigma(x)", "did you mean sigmoid or σ?", 1),
        ("logistic(x)", "did you mean sigmoid or σ?", 1),
        ("sigm(x)", "did you mean sigmoid or σ?", 1),
        ("ln(x)", "did you mean log", 1),
        ("arctan(x)", "did you mean atan?", 1),
        ("arcsin(x)", "did you mean asin?", 1),
        ("relU(x)", "did you mean relu?", 1),
        ("ReLU(x)", "did you mean relu?", 1),
        ("Sin(x)", "did you mean sin?", 1),
        ("LOG(x)", "did you mean log?", 1),
        ("sigmod(x)", "did you mean sigmoid", 1),  # close misspellings, by difflib
        ("sigmoud(x)", "did you mean sigmoid", 1),
        ("tahn(x)", "did you mean tan or tanh?", 1),
        ("sqr(x)", "did you mean sqrt?", 1),
        ("softplu(x)", "did you mean softplus?", 1),
        ("expp(x)", "did you mean exp?", 1),
        ("x + sigma(z)", "did you mean sigmoid or σ?", 5),
        ("w5 h1 Sin(x)", "did you mean sin?", 7),
        ("q = 2; f = q ln(x)", "did you mean log", 14),
    ],
)
def test_function_like_name_refused_with_suggestion(text, suggestion, column):
    with pytest.raises(gl.ParseError) as err:
        gl.graph(text)
    message = str(err.value)
    name = text[column - 1:].split("(")[0]
    assert message.startswith(f"unknown function {name!r}: {suggestion}")
    assert f"for a product write {name} * (...)" in message
    assert err.value.column == column and message.endswith(f"at column {column}")
    assert "\n" not in message


@pytest.mark.parametrize(
    "text, hint",
    [
        ("log10(x)", "write log(...)/log(10) instead"),
        ("log2(x)", "write log(...)/log(2) instead"),
        ("sgn(x)", "write sign(x)"),
        ("floor(x)", ""),
        ("atanh(x)", "write log((1 + x)/(1 - x))/2 instead"),
    ],
)
def test_missing_function_refused_with_known_list(text, hint):
    with pytest.raises(gl.ParseError) as err:
        gl.graph(text)
    message = str(err.value)
    name = text.split("(")[0]
    assert message.startswith(f"unknown function {name!r} (known: ")
    assert known_in(message) == set(FUNCTIONS) and "σ" in known_in(message)
    assert hint in message and f"for a product write {name} * (...)" in message
    assert err.value.column == 1


@pytest.mark.parametrize("text, name, column", [("foo(a, b)", "foo", 1), ("x(a, b)", "x", 1),
                                                ("2 + rate(a, b)", "rate", 5)])
def test_name_with_two_arguments_is_an_unknown_function(text, name, column):
    with pytest.raises(gl.ParseError) as err:
        gl.graph(text)
    assert str(err.value).startswith(f"unknown function {name!r} (known: ")
    assert known_in(str(err.value)) == set(FUNCTIONS)
    assert err.value.column == column


def test_function_like_name_on_a_later_line():
    with pytest.raises(gl.ParseError) as err:
        gl.graph("h = x\nf = h sigma(h)")
    assert str(err.value).endswith("at line 2, column 7") and "did you mean sigmoid or σ?" in str(err.value)


def test_function_like_names_stay_variables_without_paren():
    # mu + sigma z: only a '(' right after a name makes it look like a call
    assert value("mu + sigma z", mu=1, sigma=2, z=3) == 7
    assert value("ln", ln=2) == 2


def test_declared_names_make_a_product():
    # a claim may use its expression's names: parse(..., names=) declares them
    assert sp.simplify(expr_of("sigma(1 - sigma)", names={"sigma"}) - expr_of("sigma * (1 - sigma)")) == 0
    with pytest.raises(gl.ParseError, match="did you mean sigmoid"):
        gl.from_text("sigma(1 - sigma)")
    with pytest.raises(gl.ParseError, match="did you mean sigmoid"):
        gl.graph("sigma = sigma(z)")  # a name is not assigned before its own statement ends


def test_sigmoid_without_argument_explains_the_lecture_notation():
    with pytest.raises(gl.ParseError) as err:
        gl.graph("σ(1 - σ)")
    assert "needs an argument" in str(err.value) and "s = σ(z); s (1 - s)" in str(err.value)
    assert err.value.column == 7


def test_many_distinct_names_before_paren_are_fast():
    """Deciding whether each name before '(' looks like a function costs little next to the parse
    itself: compared with the same input written with '*', in one run (a ratio, not a wall time,
    so a busy machine does not fail it)."""
    def timed(text: str) -> float:
        best = float("inf")
        for _ in range(3):
            start = time.perf_counter()
            g = gl.graph(text)
            best = min(best, time.perf_counter() - start)
        assert len(g.graph["variables"]) == 2001
        return best

    juxtaposed = timed(" + ".join(f"rate{i}(x + 1)" for i in range(2000)))
    explicit = timed(" + ".join(f"rate{i} * (x + 1)" for i in range(2000)))
    assert juxtaposed < 4 * explicit


def test_size_limit_refused_fast():
    with cpu_time(0.5), pytest.raises(gl.ParseError, match="limit"):
        gl.graph("x+" * MAX_CHARS)


@pytest.mark.parametrize("make", [
    lambda n: "(" * n + "x" + ")" * n,
    lambda n: "sin(" * n + "x" + ")" * n,
    lambda n: "-" * n + "x",
    lambda n: "2^" * n + "2",
    lambda n: "sin " * n + "x",
])
def test_nesting_limit(make):
    gl.graph(make(MAX_DEPTH // 2))  # reasonable nesting is fine
    with cpu_time(0.5), pytest.raises(gl.ParseError, match="nesting deeper"):
        gl.graph(make(1000))


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
    with cpu_time(0.25):
        try:
            gl.graph(text)
        except gl.ParseError as e:
            assert 1 <= e.column and "\n" not in str(e)
