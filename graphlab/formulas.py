"""Gradients as formulas, in three forms: names (the lecture's), δ, and expanded.

* **names**: ∂out/∂v over the user's named intermediates, as the lecture writes it: for each
  path from v to the output, the product of the local factors along it, summed over paths.
  The lecture's sigmoid network gives ∂E/∂w5 = (y - t) y (1 - y) h1. σ′ is written through the
  node's own output (y (1 - y)), tanh′ as 1 - h^2, exp′ as the output, relu′ as step(z).
* **delta**: δ_n = ∂out/∂n for each named node n, each defined from the ones after it
  (δ_y = y - t, δ_h1 = δ_y y (1 - y) w5), and each variable's gradient from them.
* **expanded**: in the variables only, as SymPy writes it.
* **matrix** (graphs over matrices): each backward edge's VJP as the lecture writes it,
  ``∂E/∂W1 = X^T · (∂E/∂H1 ⊙ σ′(Z1))``, with each factor's shape and why the shape is right
  (:func:`matrix_edge`). The scalar forms above are for scalar graphs.

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

__all__ = ["MatrixEdge", "matrix_edge", "written", "gradient_name",
           "FORMS", "MAX_TERMS", "MAX_SYMBOLIC_WORK", "Product", "Formula", "Forms", "gradient_forms",
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
    if graph.graph.get("matrices"):
        raise GraphlabError("a graph over matrices is written in matrix form (formulas.matrix_edge)")
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
    if graph.graph.get("matrices"):
        return None
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


# --------------------------------------------------------------------------- matrix form
@dataclass(frozen=True)
class MatrixEdge:
    """One operand's VJP at a backward step over matrices, as the lecture writes it."""

    lhs: str  # ∂E/∂W1
    rhs: str  # X^T · (∂E/∂H1 ⊙ σ′(Z1)): the upstream written out back to a named gradient
    step: str  # X^T · ∂E/∂Z1: over this node's upstream only
    shapes: str  # [2×4]·[4×2] = [2×2]
    why: str  # why the factors stand where they do


_PRECEDENCE = {"add": 1, "sub": 1, "matmul": 2, "mul": 2, "hadamard": 2, "div": 2, "neg": 2, "pow": 3,
               "transpose": 4}


def _shape(graph: nx.DiGraph, node: str) -> tuple:
    return tuple(graph.nodes[node].get("shape", ()))


def written(graph: nx.DiGraph, node: str, define: bool = False) -> str:
    """What a node computes, in the lecture's matrix notation over named nodes: ``X W1 + repmat(b1ᵀ)``;
    a named node is its name (``define``: the node itself is written out, ``σ(Z1)`` for H1)."""
    from .ops import OPS

    cache: dict[str, str] = {}
    prog = program(graph)
    for n in prog.cone(node):
        data = graph.nodes[n]
        if data["kind"] != "op" or (n in prog.names and not (define and n == node)):
            cache[n] = data["label"]
            continue
        op = OPS[data["op"]]
        level = _PRECEDENCE.get(op.name, 5)

        def part(a: str, level: int = level) -> str:
            inner = graph.nodes[a]
            wrap = inner["kind"] == "op" and a not in prog.names and _PRECEDENCE.get(inner["op"], 5) <= level
            return f"({cache[a]})" if wrap else cache[a]

        args = data["args"]
        symbols = {"add": " + ", "sub": " − ", "matmul": " ", "mul": " ", "hadamard": " ⊙ ", "div": " / "}
        if op.name in symbols:
            cache[n] = symbols[op.name].join(part(a) for a in args)
        elif op.name == "transpose":
            cache[n] = part(args[0]) + "ᵀ"
        elif op.name == "repmat":
            cache[n] = f"repmat({part(args[0])}ᵀ)"
        elif op.name == "neg":
            cache[n] = "−" + part(args[0])
        elif op.name == "pow":
            cache[n] = f"{part(args[0])}^{part(args[1])}"
        else:
            name = op.symbol if op.symbol == "σ" else (op.input_names or (op.name,))[0]
            cache[n] = f"{name}({', '.join(cache[a] for a in args)})"
    return cache[node]


def gradient_name(graph: nx.DiGraph, node: str) -> str:
    """``∂E/∂W1``; an unnamed node is written out: ``∂E/∂(X W1)``."""
    text = written(graph, node)
    return f"∂{graph.graph['output']}/∂{text if graph.nodes[node]['kind'] != 'op' or ' ' not in text else f'({text})'}"


def _closes_at_end(text: str, start: int) -> bool:
    """Whether the parenthesis opened at ``start`` is closed by the text's last character."""
    depth = 0
    for i in range(start, len(text)):
        depth += {"(": 1, ")": -1}.get(text[i], 0)
        if depth == 0:
            return i == len(text) - 1
    return False


def _group(text: str) -> str:
    """Parentheses around a sum or product among other factors; a gradient's name ∂E/∂(X W) and a call
    σ′(X W + b) are one factor each."""
    if text.startswith("∂") and "/∂" in text:
        rest = text.split("/∂", 1)[1]
        if " " not in rest or (rest.startswith("(") and _closes_at_end(rest, 0)):
            return text
    call = text.find("(")
    if " " not in text or (call >= 0 and " " not in text[:call] and _closes_at_end(text, call)):
        return text
    return f"({text})"


def _template(graph: nx.DiGraph, node: str, position: int) -> str:
    """The op's matrix-form VJP for one operand, from the registry; an elementwise op's g ⊙ local."""
    from .ops import OPS
    from .present import formula
    from .trace import local_formula

    op = OPS[graph.nodes[node]["op"]]
    if op.matrix_vjp is not None:
        text = op.matrix_vjp[position]
    elif op.arity == 1:
        text = f"{{g}} ⊙ {op.symbol if op.symbol == 'σ' else op.name}′({{a}})"
    else:
        local = local_formula(graph, node, position)
        text = "{g}" if local == 1 else "−{g}" if local == -1 else f"{{g}} ⊙ {_group(formula(local, juxtapose=True))}"
    operand = graph.nodes[node]["args"][position]
    if not op.tensor and not _shape(graph, operand) and _shape(graph, node):  # a scalar used in every entry
        text = f"Σ({text})"
    return text


def _fill(template: str, g: str, names: list[str], shapes: list[tuple]) -> str:
    first = shapes[0] if shapes else ()
    if g == "1":  # at the output: the upstream 1 multiplies nothing
        for one in ("{g} ⊙ ", " ⊙ {g}", "{g} · ", " · {g}", " {g}"):
            template = template.replace(one, "")
    if template in ("{g}", "−{g}"):
        return template.replace("{g}", g if template == "{g}" else _group(g))
    out = template.replace("{g}ᵀ", (f"({g})" if g.startswith("∂") else _group(g)) + "ᵀ").replace("{g}", _group(g))
    out = out.replace("{n}", str(first[0] * first[1]) if len(first) == 2 and
                      all(isinstance(d, int) for d in first) else "n")
    out = out.replace("{r}", str(first[0]) if first else "1")
    for key, name in zip("ab", names):
        untransposed = name[:-1] if name.endswith("ᵀ") else None  # (Aᵀ)ᵀ is A
        if untransposed is not None:
            out = out.replace("{" + key + "}ᵀ", untransposed)
        out = out.replace("(" + "{" + key + "})", f"({name})").replace("{" + key + "}", _group(name))
    return out


def _t(shape: tuple) -> tuple:
    return tuple(reversed(shape))


def _product_shapes(template: str, g: tuple, operands: list[tuple], result: tuple) -> tuple[list, str] | None:
    """Each factor's shape in a product template (``{a}ᵀ · {g}``), and the side the transposed operand stands."""
    if " · " not in template:
        return None

    found, side = [], ""
    factors = template.split(" · ")
    for i, f in enumerate(factors):
        key = f.strip("ᵀ")
        base = g if key == "{g}" else operands["ab".index(key[1])] if key in ("{a}", "{b}") else None
        if base is None:  # 1: a column of ones, as long as the previous factor is wide
            base = (found[-1][1] if found else 1, 1)
        shape = _t(base) if f.endswith("ᵀ") else base
        found.append(shape or (1, 1))
        if f.endswith("ᵀ") and key != "{g}":
            side = "left" if i == 0 else "right"
    return found, side if side else ""


def matrix_edge(graph: nx.DiGraph, node: str, position: int) -> MatrixEdge:
    """∂out/∂operand at ``node``'s backward step: the VJP over the node's upstream, and written out. The same at
    every step, so worked out once per graph (the app's node table asks for every node's at each step)."""
    edges = program(graph).cache.setdefault("matrix_edge", {})
    if (node, position) not in edges:
        edges[(node, position)] = _matrix_edge(graph, node, position)
    return edges[(node, position)]


def _matrix_edge(graph: nx.DiGraph, node: str, position: int) -> MatrixEdge:
    from .ops import shape_text

    prog = program(graph)
    args = graph.nodes[node]["args"]
    operand = args[position]
    names = [written(graph, a) for a in args]
    shapes = [_shape(graph, a) for a in args]
    g_shape, target = _shape(graph, node), _shape(graph, operand)
    template = _template(graph, node, position)
    upstream = gradient_name(graph, node) if node != prog.output else "1"
    step = _fill(template, upstream, names, shapes)
    rhs = _fill(template, _upstream_written(graph, prog, node), names, shapes)
    bracket = lambda s: f"[{shape_text(s)}]"  # noqa: E731
    product = _product_shapes(template, g_shape, shapes, target)
    if product is not None:
        factors, side = product
        line = "·".join(bracket(f) for f in factors) + f" = {bracket(target)}"
        transposed = step.split(" · ")[0 if side == "left" else -1]
        why = (f"the gradient has {names[position]}'s shape {shape_text(target)}, so "
               + (f"{transposed} goes on the {side}" if side else "the rows are summed: ᵀ · 1 adds up each column")
               if side or "1" in template else f"the gradient has {names[position]}'s shape {shape_text(target)}")
    elif "⊙" in template and g_shape == target:
        line = f"{bracket(g_shape)} ⊙ {bracket(target)} = {bracket(target)}"
        why = f"entry by entry: the gradient has {names[position]}'s shape {shape_text(target)}"
    elif not target and g_shape:
        line = f"Σ over {bracket(g_shape)} = {bracket(target)}"
        why = f"{names[position]} is one number used in every entry, so its gradient sums over them"
    else:
        line = f"{bracket(target)}"
        why = (f"the transpose of the gradient has {names[position]}'s shape {shape_text(target)}"
               if "ᵀ" in template else f"the gradient has {names[position]}'s shape {shape_text(target)}")
    return MatrixEdge(gradient_name(graph, operand), rhs, step, line, why)


def _upstream_written(graph: nx.DiGraph, prog: Program, node: str) -> str:
    """The upstream gradient of ``node`` as the lecture writes it: a named gradient (∂E/∂H1), or, for a
    node the lecture does not name (an unnamed one, or the input of an activation, Z1), the one VJP
    that brought it, written out the same way: ∂E/∂H1 ⊙ σ′(Z1)."""
    from .ops import OPS

    chain = []
    while True:
        users = [(n, i) for n in prog.order if n in prog.args for i, a in enumerate(prog.args[n]) if a == node]
        named = graph.nodes[node]["kind"] != "op" or node in prog.names
        activation = len(users) == 1 and OPS[graph.nodes[users[0][0]]["op"]].arity == 1 and \
            not OPS[graph.nodes[users[0][0]]["op"]].tensor
        if node == prog.output or len(users) != 1 or (named and not activation):
            break
        chain.append(users[0])
        node = users[0][0]
    text = gradient_name(graph, node) if node != prog.output else "1"
    for user, i in reversed(chain):
        args = graph.nodes[user]["args"]
        text = _fill(_template(graph, user, i), text, [written(graph, a) for a in args],
                     [_shape(graph, a) for a in args])
    return text
