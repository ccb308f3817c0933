"""Every registry entry against independent references: SymPy's diff and central differences."""

import itertools
import math

import numpy as np
import pytest
import sympy as sp

from graphlab.ops import FUNCTIONS, OPS, SYMPY_XP, operand_names

SCALAR = [op for op in OPS.values() if not op.tensor]
POINTS = [(0.3, 0.7), (0.62, 0.41), (-0.6, 0.45), (-0.35, -0.8), (1.7, 2.3)]


def arity(op):
    return op.arity or 2


def real_value(expr):
    v = complex(sp.N(expr, 30))
    return v.real if abs(v.imag) < 1e-12 and math.isfinite(v.real) else None


def in_domain(op, point):
    return real_value(op.sym(*(sp.Rational(repr(p)) for p in point))) is not None


def cases():
    """Every op at every point of POINTS inside its domain (log at -0.6 is no case)."""
    for op in SCALAR:
        points = [p[: arity(op)] for p in POINTS if in_domain(op, p[: arity(op)])]
        assert len(points) >= 3, f"{op.name}: too few points in its domain"
        for point in points:
            yield pytest.param(op, point, id=f"{op.name}-{point}")


@pytest.mark.parametrize("op, point", list(cases()))
def test_local_rule_matches_sympy_diff_and_finite_differences(op, point):
    n = arity(op)
    symbols = sp.symbols(operand_names(n), real=True)
    exact_point = [sp.Rational(repr(p)) for p in point]
    sym_out = op.sym(*symbols).subs(dict(zip(symbols, exact_point)))
    out = op.forward_fn(n)(np, *map(np.float64, point))
    assert float(out) == pytest.approx(real_value(sym_out), rel=1e-12, abs=1e-12)
    for i, rule in enumerate(op.local_fns(n)):
        got = float(rule(np, out, *map(np.float64, point)))
        derivative = sp.diff(op.sym(*symbols), symbols[i])
        reference = real_value(derivative.subs(dict(zip(symbols, exact_point))))
        assert got == pytest.approx(reference, rel=1e-9, abs=1e-12), f"d{op.name}/d{operand_names(n)[i]} vs SymPy"
        h = 1e-6
        up, down = list(point), list(point)
        up[i] += h
        down[i] -= h
        fd = (op.forward_fn(n)(np, *map(np.float64, up)) - op.forward_fn(n)(np, *map(np.float64, down))) / (2 * h)
        assert got == pytest.approx(float(fd), rel=1e-5, abs=1e-6), f"d{op.name}/d{operand_names(n)[i]} vs FD"


@pytest.mark.parametrize("op", SCALAR, ids=lambda op: op.name)
def test_rules_run_exactly_under_sympy(op):
    n = arity(op)
    args = [sp.Rational(1, 3), sp.Rational(1, 4)][:n]
    out = op.sym(*args)
    for rule in op.local_fns(n):
        value = rule(SYMPY_XP, out, *args)
        if isinstance(value, sp.Basic):
            assert value.is_number


@pytest.mark.parametrize("op", SCALAR, ids=lambda op: op.name)
def test_entry_is_complete(op):
    assert op.symbol and op.latex and op.sym and op.forward
    n = arity(op)
    assert len(op.local_rules(n)) == n == len(op.vjp_rules(n))
    assert op.latex_of(["x", "y"][:n])


def test_nary_ops():
    add, mul = OPS["add"], OPS["mul"]
    args = [np.float64(v) for v in (2.0, 3.0, 5.0)]
    assert add.forward_fn(3)(np, *args) == 10 and mul.forward_fn(3)(np, *args) == 30
    out = mul.forward_fn(3)(np, *args)
    assert [float(f(np, out, *args)) for f in mul.local_fns(3)] == [15.0, 10.0, 6.0]
    assert add.latex_of(["a", "b", "c"]) == "a + b + c"


def test_every_function_is_parseable_and_no_tensor_op_is():
    for _name, op_name in FUNCTIONS.items():  # only the tensor ops the language calls on matrices (mse, sum)
        assert not OPS[op_name].tensor or OPS[op_name].callable
    assert set(FUNCTIONS) >= {"sin", "cos", "tan", "asin", "acos", "atan", "sinh", "cosh", "tanh", "exp", "log",
                              "sqrt", "abs", "sigmoid", "σ", "relu", "softplus", "max", "min"}


def test_lecture_conventions_at_non_smooth_points():
    relu = OPS["relu"].local_fns(1)[0]
    assert float(relu(np, 0.0, np.float64(0.0))) == 1.0  # relu'(0) = 1: "0 if z < 0, 1 otherwise"
    assert float(relu(np, 0.0, np.float64(-1e-9))) == 0.0
    assert float(OPS["abs"].local_fns(1)[0](np, 0.0, np.float64(0.0))) == 0.0
    ga, gb = (float(f(np, 1.0, np.float64(1.0), np.float64(1.0))) for f in OPS["max"].local_fns(2))
    assert (ga, gb) == (1.0, 0.0)  # a tie goes to the first operand
    relu_exact = OPS["relu"].local_fns(1)[0](SYMPY_XP, sp.Integer(0), sp.Integer(0))
    assert relu_exact == 1


def test_stable_sigmoid_and_softplus():
    with np.errstate(over="raise", divide="raise", invalid="raise"):  # no overflow anywhere
        sig = OPS["sigmoid"].forward_fn(1)
        assert float(sig(np, np.float64(-1000))) == 0.0 and float(sig(np, np.float64(1000))) == 1.0
        assert float(OPS["softplus"].forward_fn(1)(np, np.float64(1000))) == 1000.0
        assert float(OPS["softplus"].forward_fn(1)(np, np.float64(-1000))) == pytest.approx(0.0)


def test_readme_documents_every_function():
    from pathlib import Path

    readme = Path(__file__).resolve().parents[1].joinpath("README.md").read_text()
    table = readme[readme.index("| function | derivative used |"):]
    missing = [name for name in FUNCTIONS if name != "σ" and f"{name}" not in table.split("\n\n")[0]]
    assert not missing, f"README's function table lacks {missing}"


GRID = [-2.5, -1.0, -0.5, 0.0, 0.5, 1.0, 2.0]


@pytest.mark.parametrize("op", SCALAR, ids=lambda op: op.name)
def test_domain_rule_holds_where_the_op_and_its_derivatives_are_finite(op):
    """Inside an op's ``domain``, its value and local gradients are finite, and SymPy's derivative
    exists there; where they are not, the domain rule says so (pow's d/db needs a > 0: not checked)."""
    n = arity(op)
    inside = op.domain_fn(n)
    symbols = sp.symbols(operand_names(n), real=True)
    for point in itertools.product(GRID, repeat=n):
        with np.errstate(all="ignore"):
            out = op.forward_fn(n)(np, *map(np.float64, point))
            locals_ = [rule(np, out, *map(np.float64, point)) for rule in op.local_fns(n)]
        checked = locals_[:1] if op.name == "pow" else locals_
        finite = np.isfinite(out) and all(np.isfinite(v) for v in checked)
        ok = True if inside is None else bool(inside(np, *map(np.float64, point)))
        if ok:
            assert finite, f"{op.name} at {point}: inside its domain but not finite"
            exact = [sp.Rational(repr(p)) for p in point]
            for i in range(1 if op.name == "pow" else n):  # the others fixed first: x^1 at 0 is x, not b a^b / a
                args = [symbols[i] if j == i else exact[j] for j in range(n)]
                d = sp.diff(op.sym(*args), symbols[i]).subs(symbols[i], exact[i])
                assert real_value(d) is not None, f"d{op.name} at {point}"
        if not finite:
            assert not ok, f"{op.name} at {point}: not finite, yet inside its domain"
