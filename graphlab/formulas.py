"""Gradients as formulas, in three forms: names (the lecture's), δ, and expanded.

* **names**: ∂out/∂v over the user's named intermediates, as the lecture writes it: for each
  path from v to the output, the product of the local factors along it, summed over paths.
  The lecture's sigmoid network gives ∂E/∂w5 = (y - t) y (1 - y) h1. σ′ is written through the
  node's own output (y (1 - y)), tanh′ as 1 - h^2, exp′ as the output, relu′ as step(z).
* **delta**: δ_n = ∂out/∂n for each named node n, each defined from the ones after it
  (δ_y = y - t, δ_h1 = δ_y y (1 - y) w5), and each variable's gradient from them.
* **expanded**: in the variables only, as SymPy writes it.

All three come from the one evaluator. The names and δ forms walk backward with :class:`Paths`,
an arithmetic whose value is a sum of products of local factors (kept apart, in path order, so
they print as the lecture writes them); the expanded form walks backward with
:class:`~graphlab.arithmetic.Symbolic`, so every form keeps the registry's conventions at
kinks (relu′(0) = 1).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import networkx as nx
import sympy as sp

from .arithmetic import Names, Symbolic, symbol
from .build import MAX_SYMBOLIC_NODES, check_symbolic_size
from .errors import GraphlabError
from .evaluate import evaluate
from .ops import Op
from .program import Program, program

__all__ = ["FORMS", "MAX_TERMS", "MAX_SYMBOLIC_WORK", "Product", "Formula", "Forms", "gradient_forms",
           "gradient_exprs", "names_form", "delta_symbol", "names_to_variables", "text", "latex", "as_expr"]

FORMS = ("names", "expanded", "delta")
MAX_TERMS = 64  # a names-form gradient with more paths than this is not written out (the δ form still is)
MAX_SYMBOLIC_WORK = 1_200  # expanded forms: symbolic size x variables, beyond which there are none


@dataclass(frozen=True)
class Product:
    """One path's term: a numeric coefficient and the local factors along the path, output first."""

    coefficient: sp.Expr
    factors: tuple[sp.Expr, ...]

    def expr(self) -> sp.Expr:
        return sp.Mul(self.coefficient, *self.factors)


Formula = tuple[Product, ...]  # a sum of products; () is 0


def _product(factors: tuple[sp.Expr, ...]) -> Product:
    """Constant factors folded into one coefficient; factors of 1 dropped."""
    coefficient = sp.Integer(1)
    kept = []
    for f in factors:
        c, rest = sp.factor_terms(f).as_coeff_Mul()
        coefficient *= c
        if rest != 1:
            kept.append(rest)
    return Product(coefficient, tuple(kept))


def delta_symbol(node: str) -> sp.Symbol:
    """δ_n as a symbol: ``delta_h1`` in text (a name the input language reads), δ_{h1} in LaTeX."""
    return sp.Symbol(f"delta_{node}", real=True)


class Paths(Names):
    """A gradient is a sum over paths of products of local factors, each factor as the lecture writes it.

    With ``deltas``, the backward walk stops each sum at a named node n: what arrives at n is
    recorded as δ_n and sent on as the single factor δ_n."""

    def __init__(self, prog: Program, deltas: bool = False):
        super().__init__(prog.names, prog.labels)
        self.output = prog.output
        self.deltas: dict[str, tuple[tuple[sp.Expr, ...], ...]] | None = {} if deltas else None

    def zero(self) -> tuple:
        return ()

    def one(self) -> tuple:
        return ((),)

    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]:
        local = self.local(op, out, args, i)
        if self.deltas is not None and node in self.named and node != self.output:
            self.deltas[node] = upstream
            upstream = ((delta_symbol(node),),)
        if local == 0:
            return local, ()
        return local, tuple((*term, local) for term in upstream)

    def accumulate(self, node: str, before: Any, contribution: Any) -> Any:
        terms = before + contribution
        return terms if len(terms) <= MAX_TERMS else None  # None: too many paths to write out


def _formula(terms: tuple[tuple[sp.Expr, ...], ...] | None) -> Formula | None:
    if terms is None:
        return None
    products = [_product(t) for t in terms]
    return tuple(p for p in products if p.coefficient != 0)


@dataclass(frozen=True)
class Forms:
    """Every variable's gradient (and the named nodes' δ) in each form."""

    output: str
    names: dict[str, Formula | None]  # variable -> names form (None: too many paths to write out)
    deltas: dict[str, Formula]  # named node -> δ_n, from the δ of the nodes after it
    in_deltas: dict[str, Formula]  # variable -> its gradient in the δ form
    expanded: dict[str, sp.Expr] | None  # variable -> in the variables only (None: too large a graph)


def gradient_forms(graph: nx.DiGraph) -> Forms:
    """d out / d variable in the names, δ and expanded forms."""
    prog = program(graph)
    if "forms" not in prog.cache:
        if len(prog.order) > MAX_SYMBOLIC_NODES:  # the forms are SymPy expressions: SymPy is slow
            raise GraphlabError(f"formulas are limited to {MAX_SYMBOLIC_NODES} nodes "
                                f"(this graph has {len(prog.order):,})")
        names = evaluate(prog, Paths(prog), wrt=prog.variables).grads
        walk = Paths(prog, deltas=True)
        in_deltas = evaluate(prog, walk, wrt=prog.variables).grads
        prog.cache["forms"] = Forms(
            prog.output,
            {v: _formula(names[v]) for v in prog.variables},
            {n: _formula(t) for n, t in sorted(walk.deltas.items(), key=lambda kv: -prog.order.index(kv[0]))},
            {v: _formula(in_deltas[v]) for v in prog.variables},
            gradient_exprs(graph))
    return prog.cache["forms"]


def names_form(graph: nx.DiGraph, of: str, wrt: str) -> Formula | None:
    """d of/d wrt in the names form, for any two nodes (``of`` need not be the output)."""
    prog = program(graph)
    if wrt not in prog.cone(of):
        return ()
    return _formula(evaluate(prog, Paths(prog), output=of, wrt=[wrt]).grads[wrt])


def _tidy(expr: sp.Expr) -> sp.Expr:
    """Common factors out and powers combined (x x^(x-1) + x^x log(x) reads x^x log(x) + x^x)."""
    return sp.powsimp(sp.factor_terms(expr))


def gradient_exprs(graph: nx.DiGraph) -> dict[str, sp.Expr] | None:
    """d out / d variable in the variables only, or None when the graph is too large to say."""
    try:
        size = check_symbolic_size(graph)
    except GraphlabError:
        return None
    prog = program(graph)
    if size * max(len(prog.variables), 1) > MAX_SYMBOLIC_WORK:
        return None  # each derivative costs about the expression's size: a product of 38 variables took 2 s
    if "expanded" not in prog.cache:
        try:
            grads = evaluate(prog, Symbolic(), wrt=prog.variables).grads
        except GraphlabError:  # SymPy cannot write it (relu of a complex constant)
            return None
        prog.cache["expanded"] = {v: _tidy(grads[v]) if grads[v] is not None else sp.Integer(0)
                                  for v in prog.variables}
    return dict(prog.cache["expanded"])


def names_to_variables(graph: nx.DiGraph, expr: sp.Expr) -> sp.Expr:
    """A names-form expression with every named intermediate (and δ) written out in the variables."""
    from .build import node_expr

    forms = gradient_forms(graph)
    defs = {symbol(n): node_expr(graph, n) for n in program(graph).names}
    deltas = {delta_symbol(n): as_expr(f) for n, f in forms.deltas.items()}
    for _ in range(len(deltas) + 1):  # each δ is defined from later ones
        expr = expr.xreplace(deltas)
    return expr.xreplace(defs)


# --------------------------------------------------------------------------- writing them
def _needs_group(factor: sp.Expr, alone: bool) -> bool:
    """A sum, or a quotient among other factors, is put in parentheses."""
    if isinstance(factor, sp.Add):
        return not alone
    return not alone and any(isinstance(p, sp.Pow) and p.exp.is_negative for p in sp.Mul.make_args(factor))


def _write(products: Formula | None, factor, group, number) -> str | None:
    if products is None:
        return None
    if not products:
        return "0"
    terms = []
    for p in products:
        alone = len(p.factors) == 1 and p.coefficient == 1
        parts = [group(factor(f)) if _needs_group(f, alone) else factor(f) for f in p.factors]
        c = p.coefficient
        if c not in (1, -1) or not parts:
            parts.insert(0, number(abs(c)) if c.is_Integer or not parts else group(number(abs(c))))
        terms.append(("-" if c < 0 else "") + " ".join(parts))
    text = terms[0]
    for t in terms[1:]:
        text += f" - {t[1:]}" if t.startswith("-") else f" + {t}"
    return text


def _greek(products: Formula | None) -> Formula | None:
    """δ written δ_y instead of delta_y (for people, not for parsing back)."""
    if not products:
        return products
    names = {s: sp.Symbol("δ_" + s.name[len("delta_"):], real=True) for p in products for f in p.factors
             for s in f.free_symbols if s.name.startswith("delta_")}
    return tuple(Product(p.coefficient, tuple(f.xreplace(names) for f in p.factors)) for p in products)


def text(products: Formula | None, greek: bool = False) -> str | None:
    """A form in the input language, products side by side: ``(y - t) y (1 - y) h1``. It parses back
    (``greek``: δ_y for delta_y, which reads better and does not)."""
    from .present import formula

    return _write(_greek(products) if greek else products, lambda f: formula(f, juxtapose=True),
                  lambda t: f"({t})", formula)


def latex(products: Formula | None) -> str | None:
    """A form in LaTeX: ``\\left(y - t\\right) y \\left(1 - y\\right) h_{1}``."""
    from .present import latex as to_latex

    return _write(products, to_latex, lambda t: rf"\left({t}\right)", to_latex)


def as_expr(products: Formula) -> sp.Expr:
    """A form as one SymPy expression (δ and named intermediates kept as symbols)."""
    return sp.Add(*(p.expr() for p in products))
