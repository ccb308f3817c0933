"""The op registry: everything graphlab knows about each operator, in one table.

Each rule is written once, as a Python expression over an array module ``xp`` (the
NumPy names: ``xp.sin``, ``xp.where``, ``xp.logaddexp``...). The same text serves
three interpreters:

* float mode runs it with NumPy on float64 scalars or arrays;
* exact mode runs it with :data:`SYMPY_XP`, a namespace that maps the NumPy names
  onto SymPy functions, so values stay exact (``log(6)``, ``1/2``);
* the compiler pastes it into generated source (NumPy, CuPy or anything alike).

In a rule, the operands are ``a``, ``b`` (or ``a0``, ``a1``... for n-ary ops) and
the op's own output is ``out``: a local gradient may reuse it, as sigmoid's
``out * (1 - out)`` and exp's ``out`` do.

A tensor op may name intermediates that its forward and VJP rules share (``saved``:
softmax's exponentials, say): the compiler computes each once, in the forward pass, and
the other interpreters read the rules with them written out.

``sym`` builds the op's SymPy expression. It is the independent reference: tests
check every ``local`` rule against ``sympy.diff`` of ``sym`` and against central
finite differences of ``forward``.

Adding an op means adding one entry to :data:`OPS` (or calling :func:`register`): the
parser, the drawings, the explanations, TikZ and :func:`graphlab.from_sympy` read it from there.
"""

from __future__ import annotations

import ast
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cache

import sympy as sp

__all__ = ["OPS", "FUNCTIONS", "Op", "SYMPY_XP", "get_op", "operand_names", "register", "unregister", "sympy_heads",
           "Shape", "ShapeError", "shape_text", "elementwise_shape"]


def operand_names(arity: int) -> tuple[str, ...]:
    """Names of the operands inside a rule: ``a``, ``b`` for binary ops, ``a0``... for more."""
    if arity <= 2:
        return ("a", "b")[:arity]
    return tuple(f"a{i}" for i in range(arity))


@dataclass(frozen=True)
class Op:
    """One operator. ``arity`` None means n-ary (``add`` and ``mul`` in canonical form)."""

    name: str
    arity: int | None
    symbol: str  # drawn inside the diagram's circle
    latex: str  # format string over the operands' LaTeX: {0}, {1}...
    sym: Callable[..., sp.Expr]  # SymPy builder: the reference definition
    forward: str | Callable[[int], str]  # rule over xp and the operands (n-ary: built per arity)
    local: tuple[str, ...] | Callable[[int], tuple[str, ...]]  # d out / d operand_i
    note: str = ""  # convention at non-smooth points, domain
    infix: str | None = None  # the operator the input language writes it with: "+" for add
    prefix: str | None = None  # the sign the input language writes before its one operand: "-" for neg
    aliases: tuple[str, ...] = ()  # more names the input language calls it by (sigmoid: "σ")
    tikz: str | None = None  # the symbol in a TikZ diagram's circle, LaTeX math; default \mathrm{symbol}
    # How a local-gradient formula writes the op's output when a rule reuses it
    # (sigmoid's out * (1 - out) reads better as sigma(z) * (1 - sigma(z))); default: sym.
    out_display: Callable[..., sp.Expr] | None = None
    # Vector-Jacobian products over upstream gradient ``g``, one per operand. Scalar ops
    # leave this None: their VJP is g * local. Tensor ops (matmul...) must give it.
    vjp: tuple[str, ...] | None = None
    tensor: bool = False  # a tensor op (MLPs): not in the input language, no scalar local rule
    # Intermediates the forward and VJP rules share, (name, rule over the operands and earlier names),
    # computed once by the compiler; forward_rule / vjp_rules write them out unless inline=False.
    saved: tuple[tuple[str, str], ...] = ()
    # False: the operands never broadcast against each other, so each VJP rule already gives its
    # operand's shape and the compiler skips unbroadcast (unary ops never broadcast either).
    broadcast: bool = True
    # Where the op is defined and has one derivative: a rule over xp and the operands, true inside
    # (log: a > 0). None: everywhere. Values drawn for exercises stay inside (graphlab.exercise).
    domain: str | None = None
    # A tensor op the input language calls by name (mse(Yhat, Y), sum(A)); other tensor ops are the MLPs' own.
    callable: bool = False
    # Matrices (graphlab.shapes): the shape of the result from the operands' shapes, raising ShapeError;
    # None: elementwise (equal shapes, or a scalar with anything).
    shape: Callable[..., Shape] | None = None
    # Each operand's VJP as the lecture writes it in matrix form, over {g} (the upstream gradient),
    # {a}, {b} (the operands), {n} (a's number of entries) and {r} (a's rows); ᵀ transposes, · is the matrix product,
    # ⊙ the elementwise one, 1 a column of ones. None: an elementwise op's g ⊙ local.
    matrix_vjp: tuple[str, ...] | None = None
    _fns: dict = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        if self.tikz is None:
            object.__setattr__(self, "tikz", rf"\mathrm{{{self.symbol}}}")

    @property
    def input_names(self) -> tuple[str, ...]:
        """The names the input language calls it by: none for an op written with a sign, or a tensor op."""
        if self.infix or self.prefix or (self.tensor and not self.callable):
            return ()
        return (self.name, *self.aliases)

    def local_rules(self, arity: int) -> tuple[str, ...]:
        if self.tensor:
            raise ValueError(f"op {self.name!r} is a tensor op: it has VJP rules (vjp_rules), no scalar local rule")
        rules = self.local(arity) if callable(self.local) else self.local
        if len(rules) != arity:
            raise ValueError(f"op {self.name!r}: {len(rules)} local rules for {arity} operands")
        return rules

    def vjp_rules(self, arity: int, inline: bool = True) -> tuple[str, ...]:
        """The rule giving each operand's contribution from the upstream gradient ``g``."""
        if self.vjp is not None:
            if len(self.vjp) != arity:
                raise ValueError(f"op {self.name!r}: {len(self.vjp)} VJP rules for {arity} operands")
            return tuple(_inline(r, self.saved) for r in self.vjp) if inline else self.vjp
        return tuple(f"g * ({rule})" for rule in self.local_rules(arity))

    def forward_rule(self, arity: int, inline: bool = True) -> str:
        rule = self.forward(arity) if callable(self.forward) else self.forward
        return _inline(rule, self.saved) if inline else rule

    def forward_fn(self, arity: int) -> Callable:
        """``f(xp, *operands) -> out``, built once from the rule text."""
        return _rule_function(self.forward_rule(arity), arity, with_out=False)

    def domain_fn(self, arity: int) -> Callable | None:
        """``d(xp, *operands) -> bool``: inside the op's domain; None where it has none."""
        return None if self.domain is None else _rule_function(self.domain, arity, with_out=False)

    def latex_of(self, args: list[str]) -> str:
        """LaTeX of the op applied to operands already in LaTeX (n-ary ops fold left)."""
        text = self.latex.format(*args[:2]) if len(args) > 1 else self.latex.format(*args)
        for arg in args[2:]:
            text = self.latex.format(text, arg)
        return text

    def local_fns(self, arity: int) -> tuple[Callable, ...]:
        """One ``g(xp, out, *operands) -> d out / d operand_i`` per operand."""
        return tuple(_rule_function(r, arity, with_out=True) for r in self.local_rules(arity))

    def vjp_fns(self, arity: int) -> tuple[Callable, ...]:
        """One ``f(xp, g, out, *operands) -> operand_i's contribution`` per operand (before unbroadcasting)."""
        return tuple(_rule_function(r, arity, with_out=True, with_g=True) for r in self.vjp_rules(arity))

    def result_shape(self, shapes: list[Shape]) -> Shape:
        """The shape of this op's result from its operands' shapes; :class:`ShapeError` if they do not fit."""
        return (self.shape or elementwise_shape)(*shapes)

    def check_arity(self, n: int) -> bool:
        return n >= 2 if self.arity is None else n == self.arity


@cache
def _rule_function(rule: str, arity: int, with_out: bool, with_g: bool = False) -> Callable:
    # The rule is graphlab's own source text from the table below, never user input.
    params = ", ".join(("xp", *("g",) * with_g, *("out",) * with_out, *operand_names(arity)))
    code = compile(f"lambda {params}: {rule}", f"<graphlab rule: {rule}>", "eval")
    return types.FunctionType(code.co_consts[0], {"__builtins__": {}})


@cache
def _inline(rule: str, saved: tuple[tuple[str, str], ...]) -> str:
    """``rule`` with each saved intermediate's name replaced by its own rule (later ones may use earlier)."""
    if not saved:
        return rule
    defs: dict[str, ast.expr] = {}

    class Inline(ast.NodeTransformer):
        def visit_Name(self, node: ast.Name) -> ast.expr:
            return defs.get(node.id, node)

    for name, text in saved:
        defs[name] = Inline().visit(ast.parse(text, mode="eval").body)
    return ast.unparse(Inline().visit(ast.parse(rule, mode="eval")))


Shape = tuple  # () a scalar, (rows, columns) a matrix; a size is an int or a name (N)


class ShapeError(ValueError):
    """Operands whose shapes do not fit the op: ``ShapeError(what, why)``; the parser adds the column
    between the two (``cannot multiply 4×2 by 3×2 at column 9: inner sizes 2 and 3 differ``)."""


def shape_text(shape: Shape) -> str:
    """``4×2``; a scalar is ``1×1``."""
    return "×".join(map(str, shape)) if shape else "1×1"


def elementwise_shape(*shapes: Shape) -> Shape:
    """Equal shapes, or scalars with anything: the result has the one non-scalar shape."""
    found = {s for s in shapes if s}
    if len(found) > 1:
        raise ShapeError(f"cannot combine {' and '.join(shape_text(s) for s in shapes)}", "the shapes differ")
    return found.pop() if found else ()


def _matmul_shape(a: Shape, b: Shape) -> Shape:
    if len(a) != 2 or len(b) != 2:
        raise ShapeError("cannot multiply a scalar with @", "a matrix product needs two matrices (write * for a scalar)")
    if a[1] != b[0]:
        raise ShapeError(f"cannot multiply {shape_text(a)} by {shape_text(b)}", f"inner sizes {a[1]} and {b[0]} differ")
    return () if (a[0], b[1]) == (1, 1) else (a[0], b[1])  # a 1×1 result counts as a scalar


def _transpose_shape(a: Shape) -> Shape:
    return (a[1], a[0]) if a else ()


def _scalar_shape(*shapes: Shape) -> Shape:
    return ()


def _same_shape(a: Shape, b: Shape) -> Shape:
    if a != b:
        raise ShapeError(f"cannot compare a {shape_text(a)} prediction with a {shape_text(b)} target",
                         "they must have one shape")
    return ()


def _bias_shape(a: Shape, b: Shape) -> Shape:
    if len(a) != 2 or len(b) != 1 or a[1] != b[0]:
        raise ShapeError(f"cannot add a bias of {shape_text(b)} to each row of {shape_text(a)}",
                         "the bias has one entry per column")
    return a


def _repmat_shape(a: Shape, b: Shape) -> Shape:
    raise ShapeError("repmat is not written by hand", "X W + b repeats the bias b as each row of X W")


def _nary(symbol: str) -> Callable[[int], str]:
    return lambda n: f" {symbol} ".join(operand_names(n))


def _nary_add_local(n: int) -> tuple[str, ...]:
    return ("1",) * n


def _nary_mul_local(n: int) -> tuple[str, ...]:
    names = operand_names(n)
    return tuple(" * ".join(o for o in names if o != name) for name in names)


def _sigmoid(a):
    return 1 / (1 + sp.exp(-a))


# The order of this table is the order of the docs. Conventions at non-smooth points
# follow the lecture: relu'(z) = 0 for z < 0, else 1.
_TABLE = [
    Op("add", None, "+", "{0} + {1}", sp.Add, _nary("+"), _nary_add_local, infix="+", tikz="+",
       matrix_vjp=("{g}", "{g}")),
    Op("sub", 2, "−", "{0} - {1}", lambda a, b: a - b, "a - b", ("1", "-1"), infix="-", tikz="-",
       matrix_vjp=("{g}", "−{g}")),
    Op("mul", None, "*", r"{0} \cdot {1}", sp.Mul, _nary("*"), _nary_mul_local, infix="*", tikz=r"\times",
       matrix_vjp=("{b} {g}", "{a} {g}")),
    # the elementwise product of matrices (the lecture's ⊙; ASCII .*, as in MATLAB); of scalars, a product
    Op("hadamard", 2, "⊙", r"{0} \odot {1}", lambda a, b: a * b, "a * b", ("b", "a"), infix="⊙", tikz=r"\odot",
       matrix_vjp=("{g} ⊙ {b}", "{a} ⊙ {g}")),
    Op("div", 2, "/", r"\frac{{{0}}}{{{1}}}", lambda a, b: a / b, "a / b", ("1 / b", "-out / b"), infix="/", tikz=r"\div",
       domain="b != 0", vjp=("g / b", "g * (-out / b)"),  # g / b: one division, not g * (1 / b)
       matrix_vjp=("{g} / {b}", "−{g} ⊙ {a} / {b}^2")),
    Op("neg", 1, "−", "-{0}", lambda a: -a, "-a", ("-1",), prefix="-", tikz="-", matrix_vjp=("−{g}",)),
    Op(
        "pow", 2, "^", "{{{0}}}^{{{1}}}", lambda a, b: a**b, "a ** b", ("b * a ** (b - 1)", "out * xp.log(a)"),
        note="d/db needs a > 0; it is only computed when the exponent depends on a variable.",
        infix="^", tikz=r"\wedge",
        domain="(a > 0) | ((b == xp.round(b)) & ((a != 0) | (b >= 1)))",  # real, and a^b differentiable in a
        matrix_vjp=("{g} ⊙ {b} {a}^({b} − 1)", "{g} ⊙ log({a}) {a}^{b}"),
    ),
    Op("sin", 1, "sin", r"\sin\left({0}\right)", sp.sin, "xp.sin(a)", ("xp.cos(a)",), tikz=r"\sin"),
    Op("cos", 1, "cos", r"\cos\left({0}\right)", sp.cos, "xp.cos(a)", ("-xp.sin(a)",), tikz=r"\cos"),
    Op("tan", 1, "tan", r"\tan\left({0}\right)", sp.tan, "xp.tan(a)", ("1 + out ** 2",), tikz=r"\tan",
       domain="xp.cos(a) != 0"),
    Op("asin", 1, "asin", r"\arcsin\left({0}\right)", sp.asin, "xp.arcsin(a)", ("1 / xp.sqrt(1 - a ** 2)",),
       note="domain -1 <= a <= 1", domain="(-1 < a) & (a < 1)"),
    Op("acos", 1, "acos", r"\arccos\left({0}\right)", sp.acos, "xp.arccos(a)", ("-1 / xp.sqrt(1 - a ** 2)",),
       note="domain -1 <= a <= 1", domain="(-1 < a) & (a < 1)"),
    Op("atan", 1, "atan", r"\arctan\left({0}\right)", sp.atan, "xp.arctan(a)", ("1 / (1 + a ** 2)",)),
    Op("sinh", 1, "sinh", r"\sinh\left({0}\right)", sp.sinh, "xp.sinh(a)", ("xp.cosh(a)",), tikz=r"\sinh"),
    Op("cosh", 1, "cosh", r"\cosh\left({0}\right)", sp.cosh, "xp.cosh(a)", ("xp.sinh(a)",), tikz=r"\cosh"),
    Op("tanh", 1, "tanh", r"\tanh\left({0}\right)", sp.tanh, "xp.tanh(a)", ("1 - out ** 2",), tikz=r"\tanh"),
    Op("exp", 1, "exp", r"e^{{{0}}}", sp.exp, "xp.exp(a)", ("out",), tikz=r"\exp"),
    Op("log", 1, "log", r"\log\left({0}\right)", sp.log, "xp.log(a)", ("1 / a",),
       note="natural logarithm, domain a > 0", vjp=("g / a",), tikz=r"\log", domain="a > 0"),
    Op("sqrt", 1, "√", r"\sqrt{{{0}}}", sp.sqrt, "xp.sqrt(a)", ("1 / (2 * out)",),
       note="domain a >= 0; no derivative at 0", tikz=r"\sqrt{\ }", domain="a > 0"),
    Op("abs", 1, "abs", r"\left|{0}\right|", sp.Abs, "xp.abs(a)", ("xp.sign(a)",), note="abs'(0) = 0", domain="a != 0"),
    Op(
        "sigmoid", 1, "σ", r"\sigma\left({0}\right)", _sigmoid,
        # exp(-logaddexp(0, -a)) = 1 / (1 + e^-a) without overflow for large |a|
        "xp.exp(-xp.logaddexp(0, -a))", ("out * (1 - out)",), out_display=sp.Function("sigma"),
        aliases=("σ",), tikz=r"\sigma",
    ),
    Op("relu", 1, "relu", r"\operatorname{{ReLU}}\left({0}\right)", lambda a: sp.Max(0, a), "xp.maximum(a, 0)",
       ("xp.heaviside(a, 1)",), note="relu'(z) = step(z): 0 for z < 0, 1 otherwise (so relu'(0) = 1), as in the lecture",
       # a mask by multiplication (a boolean array keeps g's dtype; where(a < 0, 0, 1) is int64 and
       # would turn float32 into float64), several times faster than where(a < 0, 0, g)
       vjp=("g * (a >= 0)",), domain="a != 0"),
    # relu's derivative as a function of its own, so that every form writes it the one way: step(z), [z ≥ 0]
    Op("step", 1, "step", r"\left[{0} \geq 0\right]", lambda a: sp.Heaviside(a, 1), "xp.heaviside(a, 1)", ("0 * a",),
       note="step(z) = 1 for z >= 0, else 0 (relu's derivative, the lecture's convention); step'(z) = 0 (z != 0)",
       domain="a != 0"),
    # Activations of their own: linear (the identity; stacked linear layers stay linear, seed 000) and the
    # perceptron's sign (seeds 003, 004), whose zero derivative gives gradient descent nothing to follow.
    Op("linear", 1, "lin", r"\operatorname{{linear}}\left({0}\right)", lambda a: a,
       "a", ("1",), note="linear(z) = z, the identity: linear'(z) = 1", vjp=("g",)),
    Op("sign", 1, "sign", r"\operatorname{{sign}}\left({0}\right)", lambda a: 2 * sp.Heaviside(a, 1) - 1,
       "2 * xp.heaviside(a, 1) - 1", ("0 * a",),
       note="sign(z) = 1 for z >= 0, else -1 (the perceptron's output, {-1, 1}); sign'(z) = 0 for z != 0 and, "
            "by convention, 0 at z = 0: no gradient to descend, so networks with it learn by the perceptron rule",
       domain="a != 0"),
    Op("softplus", 1, "softplus", r"\operatorname{{softplus}}\left({0}\right)", lambda a: sp.log(1 + sp.exp(a)),
       "xp.logaddexp(0, a)", ("xp.exp(-xp.logaddexp(0, -a))",)),
    Op("max", 2, "max", r"\max\left({0}, {1}\right)", sp.Max, "xp.maximum(a, b)",
       ("xp.where(a >= b, 1, 0)", "xp.where(a >= b, 0, 1)"), note="a tie sends the gradient to the first operand",
       tikz=r"\max", domain="a != b"),
    Op("min", 2, "min", r"\min\left({0}, {1}\right)", sp.Min, "xp.minimum(a, b)",
       ("xp.where(a <= b, 1, 0)", "xp.where(a <= b, 0, 1)"), note="a tie sends the gradient to the first operand",
       tikz=r"\min", domain="a != b"),
]

# Tensor ops, for MLPs on a batch: ``a`` is a (batch, features) array. They are not in the
# input language. Each gives its VJP directly, in its operand's shape (broadcast=False: the
# compiler calls no unbroadcast): bias_add's sums over the rows, and the losses' targets have
# the logits' shape.
# The losses are means over the batch and take targets as ``b`` (one-hot rows for softmax_ce).
def _tensor(name: str, arity: int, symbol: str, latex: str, forward: str, vjp: tuple[str, ...], note: str = "",
            saved: tuple[tuple[str, str], ...] = (), broadcast: bool = False, **language):
    return Op(name, arity, symbol, latex, sp.Function(name), forward, (), note=note, vjp=vjp, tensor=True,
              saved=saved, broadcast=broadcast, **language)


# Upstream g comes first in a product, with the scalar factors, so that the compiler can drop
# it where it is 1 (at the output) and an array is multiplied once.
_TABLE += [
    _tensor("matmul", 2, "·", r"{0} {1}", "a @ b", ("g @ b.T", "a.T @ g"), note="2-D operands: (n, k) @ (k, m)",
            infix="@", shape=_matmul_shape, matrix_vjp=("{g} · {b}ᵀ", "{a}ᵀ · {g}")),
    _tensor("transpose", 1, "ᵀ", r"{{{0}}}^{{\top}}", "a.T", ("g.T",), note="written W^T", shape=_transpose_shape,
            matrix_vjp=("{g}ᵀ",)),
    # the lecture's repmat(bᵀ): X W + b adds the bias row to each of the N rows; b is the operand, N the
    # number of rows (a constant); the VJP sums the upstream gradient over the rows, (∂E/∂Z)ᵀ · 1_N
    _tensor("repmat", 2, "repmat", r"\operatorname{{repmat}}\left({0}^{{\top}}\right)",
            "xp.repeat(xp.reshape(a, (1, -1)), b, axis=0)", ("xp.reshape(xp.sum(g, axis=0), a.shape)", "0 * b"),
            note="b (l×1 or 1×l) repeated as each of the N rows; its VJP sums over the rows", shape=_repmat_shape,
            matrix_vjp=("{g}ᵀ · 1", "")),
    _tensor("sum", 1, "Σ", r"\sum {0}", "xp.sum(a)", ("g * xp.ones_like(a)",), note="sum of the entries",
            callable=True, shape=_scalar_shape, matrix_vjp=("{g} 1 1ᵀ",)),
    _tensor("bias_add", 2, "+b", r"{0} + {1}", "a + b", ("g", "xp.sum(g, axis=0)"),
            note="b (features,) is added to every row, so its VJP sums over the rows", shape=_bias_shape),
    # log-softmax = z - log(s) with z = a - max(a), s = sum(exp(z)); softmax = exp(z) / s (stable, computed once)
    _tensor("softmax_ce", 2, "CE", r"\operatorname{{CE}}\left(\operatorname{{softmax}}({0}), {1}\right)",
            "-xp.sum(b * (z - xp.log(s))) / a.shape[0]",
            ("g * (1 / a.shape[0]) * (e / s - b)", "g * (-1 / a.shape[0]) * (z - xp.log(s))"),
            saved=(("z", "a - xp.max(a, axis=-1, keepdims=True)"), ("e", "xp.exp(z)"),
                   ("s", "xp.sum(e, axis=-1, keepdims=True)")),
            note="softmax and cross-entropy fused, through log-softmax (stable); mean over the rows; b has a's shape",
            callable=True, shape=_same_shape, matrix_vjp=("(softmax({a}) − {b}) {g} / {r}", "−log softmax({a}) {g} / {r}")),
    _tensor("bce_logits", 2, "BCE", r"\operatorname{{BCE}}\left(\sigma({0}), {1}\right)",
            "xp.mean(xp.logaddexp(0, a) - a * b)",
            ("g * (1 / a.size) * (xp.exp(-xp.logaddexp(0, -a)) - b)", "g * (-1 / a.size) * a"),
            note="binary cross-entropy on logits: mean of log(1 + e^a) - a b (stable); b has a's shape",
            callable=True, shape=_same_shape, matrix_vjp=("(σ({a}) − {b}) {g} / {n}", "−{a} {g} / {n}")),
    _tensor("mse", 2, "MSE", r"\operatorname{{MSE}}\left({0}, {1}\right)", "xp.mean((a - b) ** 2)",
            ("g * (2 / a.size) * (a - b)", "g * (2 / a.size) * (b - a)"),
            note="mean of the squared differences; b has a's shape",
            callable=True, shape=_same_shape, matrix_vjp=("2 ({a} − {b}) {g} / {n}", "2 ({b} − {a}) {g} / {n}")),
    _tensor("l2", 1, "‖·‖²", r"\left\lVert {0} \right\rVert^2", "xp.sum(a * a)", ("g * 2 * a",),
            note="sum of squares (the L2 penalty before its coefficient)", shape=_scalar_shape),
    _tensor("mean", 1, "mean", r"\operatorname{{mean}}\left({0}\right)", "xp.mean(a)",
            ("g * xp.ones_like(a) / a.size",), callable=True, shape=_scalar_shape, matrix_vjp=("{g} 1 1ᵀ / {n}",)),
]

OPS: dict[str, Op] = {}
FUNCTIONS: dict[str, str] = {}  # every name the input language calls a function by -> its op (σ -> sigmoid)


_HEADS: dict[type, str] = {}  # sympy_heads(), for the registry as it is now


def register(op: Op) -> Op:
    """Add ``op`` to :data:`OPS`, and its names (:attr:`Op.input_names`) to :data:`FUNCTIONS`."""
    taken = [n for n in op.input_names if n in FUNCTIONS]
    if op.name in OPS or taken:
        raise ValueError(f"op {op.name!r}: the name {(taken or [op.name])[0]!r} is taken")
    bad = [n for n in op.input_names if not n.isidentifier() or n.startswith("_")]
    if bad:
        raise ValueError(f"op {op.name!r}: {bad[0]!r} cannot be written in the input language")
    OPS[op.name] = op
    FUNCTIONS.update(dict.fromkeys(op.input_names, op.name))
    _HEADS.clear()
    return op


def unregister(name: str) -> Op:
    """Remove the op called ``name`` (and its names in the input language); returns it."""
    op = get_op(name)
    del OPS[name]
    for n in op.input_names:
        FUNCTIONS.pop(n, None)
    _HEADS.clear()
    return op


def get_op(name: str) -> Op:
    try:
        return OPS[name]
    except KeyError:
        raise KeyError(f"no op named {name!r} in the registry (known: {', '.join(OPS)})") from None


for _op in _TABLE:
    register(_op)


@cache
def _sympy_head(op: Op) -> tuple[type | None, bool]:
    """The class of ``op``'s SymPy definition at fresh symbols, and whether the definition is exactly
    that class applied to the operands in order (add: Add, True; sub, a - b: Add, False)."""
    slots = [sp.Dummy(real=True) for _ in range(op.arity or 2)]
    try:
        expr = op.sym(*slots)
        return expr.func, expr == expr.func(*slots)
    except (TypeError, ValueError):
        return None, False


def sympy_heads() -> dict[type, str]:
    """SymPy class -> the op that is exactly that class of its operands (sp.sin -> "sin", sp.Add -> "add"):
    how :func:`graphlab.from_sympy` reads SymPy's tree. The first op in :data:`OPS` wins. Built once per
    registry (register and unregister start it anew): every SymPy function a formula prints asks for it."""
    if not _HEADS:
        for op in OPS.values():
            head, exact = _sympy_head(op)
            if exact and not op.tensor:
                _HEADS.setdefault(head, op.name)
    return dict(_HEADS)


def sympy_family(op: Op) -> type | None:
    """``sp.Add`` or ``sp.Mul`` when SymPy writes ``op`` as a sum or product that flattens into its
    neighbours' (sub is a sum, div and neg are products); None otherwise."""
    head = _sympy_head(op)[0]
    return head if head in (sp.Add, sp.Mul) else None


def _sympy_where(cond, x, y):
    # cond comes from a rule's own comparison: a SymPy boolean or a Relational.
    if cond is True or cond is sp.true:
        return sp.Integer(x) if isinstance(x, int) else x
    if cond is False or cond is sp.false:
        return sp.Integer(y) if isinstance(y, int) else y
    return sp.Piecewise((x, cond), (y, True))


# The NumPy names the rules use, mapped onto SymPy, so exact mode and the symbolic
# local gradients run the very same rule text.
SYMPY_XP = types.SimpleNamespace(
    sin=sp.sin, cos=sp.cos, tan=sp.tan, arcsin=sp.asin, arccos=sp.acos, arctan=sp.atan,
    sinh=sp.sinh, cosh=sp.cosh, tanh=sp.tanh, exp=sp.exp, log=sp.log, sqrt=sp.sqrt,
    abs=sp.Abs, sign=sp.sign, maximum=sp.Max, minimum=sp.Min, where=_sympy_where, heaviside=sp.Heaviside,
    logaddexp=lambda x, y: sp.log(sp.exp(x) + sp.exp(y)),
)
