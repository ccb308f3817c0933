"""Arithmetics for the evaluator: what a value is, and how a registry rule is applied to it.

| arithmetic | a value is | used by |
| --- | --- | --- |
| :class:`Float` | float64 number (NumPy: 1/0 is inf, nothing raises) | trace, app, descend |
| :class:`Exact` | SymPy number (a variable with no value: its symbol) | ``--exact``, verify |
| :class:`Symbolic` | SymPy expression in the variables | ``node_expr``, verify |
| :class:`Names` | SymPy expression in the user's named intermediates | lecture-form formulas |
| :class:`Rounded` | float rounded to d decimals at every step | verify's "right up to rounding" |
| :class:`Tangent` | a :class:`Dual`: (value, ∂node/∂x) for one input x | forward mode |
| :class:`Arrays` | float64 number or 2-D NumPy array (a matrix) | matrix traces |
| :class:`ExactArrays` | SymPy number or 2-D NumPy array of them | matrix traces, ``--exact`` |
| ``compile.Emit`` | a name in generated source; rules become lines | compile |

Each one runs the very same rule text from :mod:`graphlab.ops`: over NumPy, or over
:data:`~graphlab.ops.SYMPY_XP` for the SymPy ones.
"""

from __future__ import annotations

import types
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

import numpy as np
import sympy as sp

from .errors import EvaluationError
from .ops import SYMPY_XP, Op

__all__ = ["MAX_EXACT_BITS", "symbol", "exact_number", "check_exact_pow", "Float", "Exact", "Symbolic", "Names",
           "Rounded",
           "Dual", "Tangent", "Arrays", "ExactArrays", "ARRAY_SYMPY_XP", "MAX_EXACT_ENTRIES", "unbroadcast"]

MAX_EXACT_BITS = 100_000  # an exact integer or rational larger than this is refused


def symbol(name: str) -> sp.Symbol:
    """The SymPy symbol for a variable or node label: real, so |x|' is sign(x)."""
    return sp.Symbol(name, real=True)


def exact_number(v: Any) -> sp.Expr:
    """A value as an exact SymPy number: ``"0.35"`` is 7/20, a float its shortest decimal form."""
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, str):  # decimal text from the command line: 0.35 -> 7/20
        return sp.Rational(v)
    return sp.Rational(repr(float(v)))


def check_exact_pow(base: sp.Expr, exponent: sp.Expr) -> None:
    """Refuse, quickly, an exact power whose result would be too large to compute (9^9^9^9)."""
    if base.is_Rational and exponent.is_Rational and not exponent.is_zero:
        size = max(abs(base.p).bit_length(), abs(base.q).bit_length())
        if size > 1 and float(abs(exponent)) * size > MAX_EXACT_BITS:
            raise EvaluationError(
                f"{base}^{exponent} is too large to compute exactly (over {MAX_EXACT_BITS:,} bits); "
                "use float mode")


def _sympy(op: Op, node: str, args: list[Any]) -> sp.Expr:
    """The op's SymPy definition applied; SymPy's refusal (relu of the complex asin(2) is "not
    comparable") is an EvaluationError naming the node, not a crash."""
    try:
        return op.sym(*args)
    except (TypeError, ValueError) as e:
        raise EvaluationError(f"node {node}: {op.name} cannot be computed exactly here ({e}); use float mode") \
            from None


class _Products:
    """The chain rule of a scalar op: the local gradient, and upstream × local summed into the operand."""

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        local = self.local(op, out, args, i)
        return local, upstream * local

    def accumulate(self, node: str, before: Any, contribution: Any) -> Any:
        return before + contribution


class Float(_Products):
    """float64 through NumPy: 1/0 is inf, log(-1) is nan, nothing raises (callers silence the warnings).

    Rules run on NumPy scalars; what is recorded is a plain Python float, which prints as
    ``-12.0``, not ``np.float64(-12.0)``."""

    def variable(self, node: str, given: Any) -> Any:
        return None if given is None else float(np.float64(given))

    def constant(self, value: sp.Expr) -> float:
        return float(value)

    def apply(self, op: Op, node: str, args: list[Any]) -> float:
        return float(op.forward_fn(len(args))(np, *map(np.float64, args)))

    def local(self, op: Op, out: Any, args: list[Any], i: int) -> float:
        return float(op.local_fns(len(args))[i](np, np.float64(out), *map(np.float64, args)))

    def zero(self) -> float:
        return 0.0

    def one(self) -> float:
        return 1.0


def unbroadcast(x: Any, shape: tuple) -> Any:
    """A contribution summed back to its operand's shape, where the op broadcast the operand
    (a scalar times a matrix: the scalar's gradient is the sum over the entries)."""
    if np.shape(x) == tuple(shape):
        return x
    if not shape:
        return float(np.sum(x))
    return np.sum(x, axis=tuple(i for i, n in enumerate(shape) if n == 1 and np.shape(x)[i] != 1), keepdims=True)


class Arrays(Float):
    """Scalars and matrices: a value is a float64 number or a 2-D NumPy array, by its node's shape.

    Forward runs each op's forward rule on NumPy; backward runs each op's VJP rule over the upstream
    gradient ``g`` (the registry's ``vjp``, or ``g * local`` entry by entry for an elementwise op) and
    sums the result back to the operand's shape. A 1×1 result counts as a scalar (``(y - ŷ)ᵀ (y - ŷ)``).
    The local gradient recorded is the elementwise one (σ′(Z) as a matrix); a tensor op's is None:
    its Jacobian is never built, only the VJP."""

    def __init__(self, shapes: dict[str, tuple]):
        self.shapes = shapes  # node -> its shape, from the graph

    def variable(self, node: str, given: Any) -> Any:
        if given is None:
            return None
        if np.ndim(given):
            return np.array(given, dtype=np.float64).reshape(self.shapes[node])
        return float(np.float64(given))

    def constant(self, value: sp.Expr) -> Any:
        if not value.is_number:  # a symbolic size (N): a shape-only trace has no numbers
            return None
        return int(value) if value.is_Integer else float(value)  # an integer counts rows (repmat)

    def apply(self, op: Op, node: str, args: list[Any]) -> Any:
        if not op.tensor and not any(np.ndim(a) for a in args):
            return super().apply(op, node, args)
        out = op.forward_fn(len(args))(np, *args)
        if not self.shapes.get(node):
            return float(np.reshape(out, ()))
        return np.asarray(out, dtype=np.float64)

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        if not op.tensor and not any(np.ndim(a) for a in (out, upstream, *args)):
            return super().edge(op, node, out, args, i, upstream)
        g = upstream
        if not np.ndim(g):  # at the output, or a 1×1 result that counts as a scalar: g in the rule's shape
            g = np.full(np.shape(op.forward_fn(len(args))(np, *args)) if op.tensor else np.shape(out), g)
        contribution = unbroadcast(op.vjp_fns(len(args))[i](np, g, out, *args), np.shape(args[i]))
        local = None if op.tensor else op.local_fns(len(args))[i](np, out, *args)
        return local, contribution


MAX_EXACT_ENTRIES = 400  # an exact matrix with more entries is refused: SymPy works entry by entry


def _entrywise(f: Any) -> Any:
    each = np.vectorize(f, otypes=[object])
    return lambda *args: each(*args) if any(np.ndim(a) for a in args) else f(*args)


# SYMPY_XP entry by entry over NumPy arrays of SymPy numbers; NumPy's own sum, mean, max, repeat and reshape
# work on such arrays as they are (with + and * of the entries), as do @ and .T.
ARRAY_SYMPY_XP = types.SimpleNamespace(
    **{name: _entrywise(f) for name, f in vars(SYMPY_XP).items()},
    sum=np.sum, mean=np.mean, max=np.max, repeat=np.repeat, reshape=np.reshape, ones_like=np.ones_like)


def _rational(x: Any) -> Any:
    """An entry made exact again: a rule's ``1 / a.shape[0]`` is a Python float (1/4 -> 0.25), which SymPy keeps
    as a Float; sizes are at most a million, so the nearest fraction with a denominator up to 10^7 is exact."""
    from fractions import Fraction

    if isinstance(x, (float, np.floating)):
        x = sp.Float(x)
    if isinstance(x, sp.Basic) and x.has(sp.Float):
        return x.xreplace({f: sp.Rational(Fraction(float(f)).limit_denominator(10**7)) for f in x.atoms(sp.Float)})
    return x


_exact_entries = np.vectorize(_rational, otypes=[object])


class ExactArrays(Arrays):
    """:class:`Arrays` in exact arithmetic: a matrix is a NumPy array of SymPy numbers, and the rules run entry
    by entry over :data:`ARRAY_SYMPY_XP` (σ(1) stays 1/(1 + e⁻¹)). An elementwise op's backward step is the
    upstream gradient times its local rule, entry by entry, as :class:`Exact` does it; a tensor op's is its VJP.
    Matrices over :data:`MAX_EXACT_ENTRIES` entries are refused: use float mode."""

    def variable(self, node: str, given: Any) -> Any:
        if given is None:
            return None
        if np.ndim(given):
            if np.size(given) > MAX_EXACT_ENTRIES:
                raise EvaluationError(f"{node}: exact mode is limited to matrices of {MAX_EXACT_ENTRIES} entries "
                                      f"(this one has {np.size(given):,}); use float mode")
            return _exact_entries(np.asarray(given, dtype=object).reshape(self.shapes[node]))
        return exact_number(given)

    def constant(self, value: sp.Expr) -> Any:
        return value if value.is_number else None

    def apply(self, op: Op, node: str, args: list[Any]) -> Any:
        if not op.tensor and not any(np.ndim(a) for a in args):
            return Exact.apply(self, op, node, args)  # the scalar rule, exactly
        out = op.forward_fn(len(args))(ARRAY_SYMPY_XP, *args)
        if not self.shapes.get(node):
            return _rational(sp.sympify(np.reshape(np.asarray(out, dtype=object), ()).item()))
        return _exact_entries(np.asarray(out, dtype=object))

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        if not op.tensor and not any(np.ndim(a) for a in (out, upstream, *args)):
            local = Exact.local(self, op, out, args, i)
            return local, upstream * local
        g = upstream
        if not np.ndim(g):
            shape = np.shape(op.forward_fn(len(args))(ARRAY_SYMPY_XP, *args)) if op.tensor else np.shape(out)
            g = np.full(shape, g, dtype=object)
        if op.tensor:
            local, contribution = None, op.vjp_fns(len(args))[i](ARRAY_SYMPY_XP, g, out, *args)
        else:
            local = _exact_entries(np.asarray(op.local_fns(len(args))[i](ARRAY_SYMPY_XP, out, *args), dtype=object))
            contribution = g * local
        if not np.shape(args[i]):  # a scalar used in every entry: the sum, exactly
            return local, _rational(sp.sympify(np.sum(contribution)))
        return local, _exact_entries(np.asarray(unbroadcast(contribution, np.shape(args[i])), dtype=object))

    def zero(self) -> sp.Expr:
        return sp.Integer(0)

    def one(self) -> sp.Expr:
        return sp.Integer(1)


def _round(value: float, decimals: int) -> float:
    if not np.isfinite(value):
        return value
    return float(Decimal(repr(float(value))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


class Rounded(Float):
    """A hand calculation: every value, local and upstream gradient written down rounded to
    ``decimals`` (half up); the inputs and the final sum are left as they are."""

    def __init__(self, decimals: int):
        self.decimals = decimals

    def variable(self, node: str, given: Any) -> Any:
        return None if given is None else float(given)

    def apply(self, op: Op, node: str, args: list[Any]) -> float:
        return _round(super().apply(op, node, args), self.decimals)

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        local = _round(self.local(op, out, args, i), self.decimals)
        return local, _round(upstream, self.decimals) * local


class Exact(_Products):
    """SymPy numbers: ``log(6)*cos(3) + sin(3)/3``, 1/2 kept exact; a variable with no value is its symbol.
    Results over :data:`MAX_EXACT_BITS` are refused rather than computed for minutes."""

    def variable(self, node: str, given: Any) -> sp.Expr:
        return symbol(node) if given is None else exact_number(given)

    def constant(self, value: sp.Expr) -> sp.Expr:
        return value

    def apply(self, op: Op, node: str, args: list[Any]) -> sp.Expr:
        if op.name == "pow":
            check_exact_pow(*args)
        value = _sympy(op, node, args)
        if value.is_Rational and max(abs(value.p).bit_length(), value.q.bit_length()) > MAX_EXACT_BITS:
            raise EvaluationError(f"the exact value of node {node} is over {MAX_EXACT_BITS:,} bits; use float mode")
        return value

    def local(self, op: Op, out: Any, args: list[Any], i: int) -> sp.Expr:
        return exact_number(op.local_fns(len(args))[i](SYMPY_XP, out, *args))

    def zero(self) -> sp.Expr:
        return sp.Integer(0)

    def one(self) -> sp.Expr:
        return sp.Integer(1)


class Symbolic(Exact):
    """SymPy expressions in the variables (every variable is its symbol): what each node computes."""

    def variable(self, node: str, given: Any) -> sp.Expr:
        return symbol(node)

    def apply(self, op: Op, node: str, args: list[Any]) -> sp.Expr:
        if op.name == "pow":
            try:
                check_exact_pow(*args)
            except EvaluationError:  # 9^9^9 stays written as a power
                return sp.Pow(*args, evaluate=False)
        return _sympy(op, node, args)


class Names(Symbolic):
    """SymPy expressions as the lecture writes them: a named node (``q``, ``h1``, the output ``f``) is
    its name, an unnamed one its operation over its operands' names, and sigmoid is σ. A local
    gradient that reuses the op's output (σ's ``out * (1 - out)``) reads ``y*(1 - y)``."""

    def __init__(self, named: frozenset[str] | set[str], labels: dict[str, str] | None = None):
        self.named = named
        self.labels = labels or {}

    def apply(self, op: Op, node: str, args: list[Any]) -> sp.Expr:
        if node in self.named:
            return symbol(self.labels.get(node, node))
        return (op.out_display or op.sym)(*args)


@dataclass(frozen=True, slots=True)
class Dual:
    """A value in forward mode: the node's value and its tangent ∂node/∂x for the one input x.

    ``terms`` holds, for each operand that depends on x, (position, local, product): the local
    gradient ∂node/∂operand and the product local × the operand's tangent; the tangent is their sum.
    ``depends`` is False where x does not reach the node: its tangent is 0 without a multiplication."""

    value: Any
    tangent: Any
    depends: bool = False
    terms: tuple[tuple[int, Any, Any], ...] = ()


class Tangent:
    """Forward mode over another arithmetic (:class:`Float` or :class:`Exact`): the forward walk
    carries each node's tangent ∂node/∂x. At an op, the value comes from the op's forward rule and
    the tangent is Σ local_i · tangent_i over the operands x reaches, each local_i by the registry's
    rule: the chain rule, applied from the inputs towards the output. There is no backward walk."""

    def __init__(self, wrt: str, base: Float | Exact | None = None):
        self.wrt = wrt
        self.base = base if base is not None else Float()

    def variable(self, node: str, given: Any) -> Dual | None:
        value = self.base.variable(node, given)
        if value is None:
            return None
        seed = node == self.wrt
        return Dual(value, self.base.one() if seed else self.base.zero(), seed)

    def constant(self, value: Any) -> Dual:
        return Dual(self.base.constant(value), self.base.zero())

    def apply(self, op: Op, node: str, args: list[Dual]) -> Dual:
        values = [a.value for a in args]
        value = self.base.apply(op, node, values)
        terms = []
        for i, a in enumerate(args):
            if a.depends:  # an operand x does not reach adds nothing: no multiplication for it
                local = self.base.local(op, value, values, i)
                terms.append((i, local, local * a.tangent))
        tangent = self.base.zero()
        for k, (_, _, product) in enumerate(terms):
            tangent = product if k == 0 else tangent + product
        return Dual(value, tangent, bool(terms), tuple(terms))

    def zero(self) -> Any:
        return self.base.zero()

    def one(self) -> Any:
        return self.base.one()

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        raise NotImplementedError("forward mode walks forward only: evaluate(..., backward=False)")

    def accumulate(self, node: str, before: Any, contribution: Any) -> Any:
        raise NotImplementedError("forward mode walks forward only: evaluate(..., backward=False)")
