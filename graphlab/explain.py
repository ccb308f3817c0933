"""What happens at each step, in words: the chain-rule sentence as text, Markdown and LaTeX.

Forward: ``q = x + y = -2 + 5 = 3``. Backward, for each operand the visited node sends
to: ``∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)(1) = -4``; at a node with several consumers, the full
sum once every term has arrived: ``∂f/∂x2 = 0.04704 + (-1.774) = -1.727``. In forward mode
(:mod:`graphlab.forward`) each forward step also carries the tangent: ``∂f/∂x = ∂f/∂q · ∂q/∂x =
(z)(1) = (-4)(1) = -4``.

The sentences are written once, over a :class:`Notation` (plain text or LaTeX).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sympy as sp

from . import formulas
from .build import symbol
from .errors import GraphlabError
from .forward import ForwardTrace, TangentStep
from .frames import check_step
from .ops import OPS, shape_text
from .present import formula, latex, number
from .program import program
from .trace import BackwardStep, Trace, local_formula

__all__ = ["Explanation", "explain", "explain_step", "explain_text"]


@dataclass(frozen=True)
class Explanation:
    step: int  # index into Trace.steps, from 0; the texts number steps from 1
    phase: str  # forward or backward
    node: str
    text: str  # plain text, one line per sentence
    markdown: str  # Markdown with inline $math$
    latex: str  # LaTeX math, one ``\\`` line per sentence (for an align* or a gather*)


class Notation:
    """Plain text: ∂f/∂q, ·, numbers as printed."""

    times = " · "

    def __init__(self, precision: int):
        self.precision = precision

    def name(self, label: str) -> str:
        return label

    def d(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"

    def num(self, value: Any) -> str:
        return number(value, digits=self.precision, compact=True)

    def paren(self, value: Any) -> str:
        return self.group(self.num(value))

    def group(self, text: str) -> str:
        return f"({text})"

    def operand(self, value: Any) -> str:
        """A number inside a formula: in parentheses when negative or a fraction."""
        text = self.num(value)
        return self.group(text) if _negative(value) or "/" in text or " " in text else text

    def note(self, text: str) -> str:
        return f" [{text}]"

    def formula(self, expr: sp.Expr) -> str:
        return formula(expr)

    def form(self, products: formulas.Formula | None) -> str | None:
        return formulas.text(products, greek=True)

    def apply(self, op: str, args: list[str]) -> str:
        entry = OPS[op]
        if entry.infix:
            return f" {entry.infix} ".join(args)
        if entry.prefix:
            return f"{entry.prefix}{args[0]}"
        return f"{op}({', '.join(args)})"


class LatexNotation(Notation):
    times = r" \cdot "

    def name(self, label: str) -> str:
        return sp.latex(symbol(label))

    def d(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    def num(self, value: Any) -> str:
        text = number(value, digits=self.precision, compact=True)
        if isinstance(value, sp.Basic) and ("/" in text or not value.is_number):
            return sp.latex(value)
        return text

    def group(self, text: str) -> str:
        return rf"\left({text}\right)"

    def note(self, text: str) -> str:
        return rf"\ \text{{({text})}}"

    def formula(self, expr: sp.Expr) -> str:
        return latex(expr)

    def form(self, products: formulas.Formula | None) -> str | None:
        return formulas.latex(products)

    def apply(self, op: str, args: list[str]) -> str:
        return OPS[op].latex_of(args)


def _label(trace: Trace, node: str, n: Notation) -> str:
    data = trace.graph.nodes[node]
    return n.num(data["value"]) if data["kind"] == "const" else n.name(data["label"])


def _forward(trace: Trace, node: str, value: Any, n: Notation) -> list[str]:
    data = trace.graph.nodes[node]
    if data["kind"] == "var":
        if value is None or not getattr(value, "is_number", True):  # no value given
            return [f"{n.name(data['label'])}{n.note('no value')}"]
        return [f"{n.name(data['label'])} = {n.num(value)}"]
    if data["kind"] == "const":
        return [f"{n.num(value)}{n.note('constant')}"]
    args = data["args"]
    symbols = n.apply(data["op"], [_label(trace, a, n) for a in args])
    if value is None:  # an operand has no value (float mode)
        return [f"{n.name(data['label'])} = {symbols}"]
    numbers = n.apply(data["op"], [n.operand(trace.values[a]) for a in args])
    return [f"{n.name(data['label'])} = {symbols} = {numbers} = {n.num(value)}"]


def _negative(value: Any) -> bool:
    try:
        return bool(value < 0)
    except TypeError:  # symbolic
        return False


def _backward(trace: Trace, step: BackwardStep, n: Notation, form: str | None = "names") -> list[str]:
    g = trace.graph
    out = g.graph["output"]
    f = n.name(g.nodes[out]["label"])
    node_name = _label(trace, step.node, n)
    lines = []
    if step.node == out:
        lines.append(f"{n.d(f, f)} = {n.num(step.upstream)}")
    terms = _terms(trace, step.node)
    if terms and step.upstream is None:  # float mode, a value is missing: no number to show
        lines.append(f"{n.d(f, node_name)}{n.note('no number: a value is missing')}")
    elif len(terms) > 1:  # the node is complete now: its gradient is the sum over its consumers
        chains = " + ".join(f"{n.d(f, _label(trace, c, n))}{n.times}{n.d(_label(trace, c, n), node_name)}"
                            for c, _ in terms)
        parts = " + ".join(n.paren(e.contribution) if _negative(e.contribution) and i else n.num(e.contribution)
                           for i, (_, e) in enumerate(terms))
        lines.append(f"{n.d(f, node_name)} = {chains} = {parts} = {n.num(step.upstream)}")
    elif step.node != out and step.upstream is not None and not step.edges:
        lines.append(f"{n.d(f, node_name)} = {n.num(step.upstream)}")
    for e in step.edges:
        arg = _label(trace, e.input, n)
        local = n.num(e.local)
        shown = n.formula(local_formula(g, step.node, e.position))
        factors = f"{n.paren(step.upstream)}{n.paren(e.local)}"
        if shown != local:  # the local gradient's formula, then its value
            factors = f"{n.paren(step.upstream)}{n.group(shown)} = {factors}"
        note = n.note(f"term {e.term} of {e.consumers}") if e.consumers > 1 else ""
        chain = f"{n.d(f, arg)} = {n.d(f, node_name)}{n.times}{n.d(node_name, arg)}"
        if e.contribution is None:  # float mode, a value is missing: the rule, without numbers
            upstream = n.group(n.d(f, node_name)) if step.upstream is None else n.paren(step.upstream)
            lines.append(f"{chain} = {upstream}{n.group(shown)}{note}")
            continue
        lines.append(f"{chain} = {factors} = {n.num(e.contribution)}{note}")
    if not lines:
        lines.append(f"{node_name}{n.note('no variable reaches it: no gradient')}")
    if form is not None and g.nodes[step.node]["kind"] == "var" and step.upstream is not None:
        written = _written(trace, step.node, form, n)  # the variable's gradient is complete: the whole of it
        if written is not None and written != n.num(step.upstream):
            total = f"{n.d(f, node_name)} = {n.num(step.upstream)}"
            line = f"{n.d(f, node_name)} = {written} = {n.num(step.upstream)}"
            lines = [line if x == total else x for x in lines] if total in lines else [*lines, line]
    return lines


def _tangent(trace: ForwardTrace, step: TangentStep, n: Notation) -> list[str]:
    """Forward mode: ∂node/∂x = Σ ∂node/∂operand · ∂operand/∂x, over the operands x reaches."""
    data = trace.graph.nodes[step.node]
    if data["kind"] == "const":
        return []
    x = n.name(trace.graph.nodes[trace.wrt]["label"])
    name = _label(trace, step.node, n)
    lhs = n.d(name, x)
    if step.tangent is None:  # float mode, a value is missing
        return [f"{lhs}{n.note('no number: a value is missing')}"]
    if data["kind"] == "var":
        return [f"{lhs} = {n.num(step.tangent)}{n.note('the seed' if step.node == trace.wrt else 'another input')}"]
    if not step.terms:
        return [f"{lhs} = {n.num(step.tangent)}{n.note('it does not depend on ' + x)}"]
    chains, shown, numbers = [], [], []
    for t in step.terms:
        arg = _label(trace, t.input, n)
        chains.append(f"{n.d(name, arg)}{n.times}{n.d(arg, x)}")
        local = n.formula(local_formula(trace.graph, step.node, t.position))
        shown.append(f"{n.group(local) if local != n.num(t.local) else n.paren(t.local)}{n.paren(t.tangent)}")
        numbers.append(f"{n.paren(t.local)}{n.paren(t.tangent)}")
    sides = [lhs, " + ".join(chains), " + ".join(shown), " + ".join(numbers)]
    if len(step.terms) > 1:
        sides.append(" + ".join(n.paren(t.product) if _negative(t.product) and i else n.num(t.product)
                                for i, t in enumerate(step.terms)))
    sides.append(n.num(step.tangent))
    return [" = ".join(dict.fromkeys(sides))]  # a side equal to the one before is written once


def _written(trace: Trace, variable: str, form: str, n: Notation) -> str | None:
    """d out / d variable in ``form`` (names, delta or expanded), or None where there is none."""
    if form == "expanded":
        exprs = formulas.gradient_exprs(trace.graph)
        return None if exprs is None else n.formula(exprs[variable])
    try:
        forms = formulas.gradient_forms(trace.graph)
    except GraphlabError:  # too large a graph for formulas
        return None
    return n.form(forms.in_deltas[variable] if form == "delta" else forms.names[variable])


def _terms(trace: Trace, node: str) -> list[tuple[str, Any]]:
    """Every (consumer, Edge) that sends a contribution to ``node``, in the order they arrive."""
    return [(s.node, e) for s in trace.backward_steps for e in s.edges if e.input == node]


def _matrix_sentences(trace: Trace, s: Any, precision: int) -> list[str]:
    """Over matrices: the node's value with its shape; backward, the upstream gradient in the node's shape,
    then each VJP in the lecture's matrix form, its factors' shapes, why, and the contribution."""
    g = trace.graph
    shape = shape_text(g.nodes[s.node].get("shape", ()))
    num = lambda v: number(v, digits=precision)  # noqa: E731
    if s.phase == "forward":
        data = g.nodes[s.node]
        if data["kind"] == "op":
            return [f"{data['label']} = {formulas.written(g, s.node, define=True)} [{shape}] = {num(s.value)}"]
        return [f"{data['label']} [{shape}] = {num(s.value)}"]
    out = g.graph["output"]
    if s.upstream is None and s.node not in program(g).reached(g.graph["variables"]):
        return [f"{g.nodes[s.node]['label']}: no variable reaches it, no gradient"]
    lines = [f"upstream {formulas.gradient_name(g, s.node) if s.node != out else '1'} [{shape}] = {num(s.upstream)}"]
    for e in s.edges:
        m = formulas.matrix_edge(g, s.node, e.position)
        note = f" (term {e.term} of {e.consumers})" if e.consumers > 1 else ""
        lines.append(f"{m.lhs} = {m.step}" + (f" = {m.rhs}" if m.rhs != m.step else "") + f", {m.shapes}{note}")
        lines.append(f"why this shape: {m.why}")
        if e.contribution is not None:
            lines.append(f"contribution = {num(e.contribution)}")
    return lines


def explain_step(trace: Trace, step: int, precision: int = 4, form: str | None = "names") -> Explanation:
    """The sentences for ``trace.steps[step]``. At a variable's backward step, where its gradient is
    complete, the whole gradient is written in ``form`` (names, delta, expanded; None: not at all).
    Over matrices, each step in the lecture's matrix form (text; the LaTeX of it is the same text)."""
    s = trace.steps[check_step(trace, step)]
    if trace.graph.graph.get("matrices"):
        lines = _matrix_sentences(trace, s, precision)
        header = f"Step {s.index + 1} ({s.phase}, node {s.node})"
        formulas_only = [line.split(" = [[")[0] for line in lines if not line.startswith("contribution")]
        return Explanation(step=s.index, phase=s.phase, node=s.node, text="\n".join(lines),
                           markdown=f"**{header}**: " + "; ".join(f"`{line}`" for line in lines),
                           # the matrices themselves are in the app's tables: LaTeX has the formulas and shapes
                           latex=" \\\\\n".join(rf"\text{{{line}}}" for line in formulas_only))
    sentences = {kind: _sentences(trace, s, notation, form)
                 for kind, notation in (("text", Notation(precision)), ("latex", LatexNotation(precision)))}
    header = f"Step {s.index + 1} ({s.phase}, node {s.node})"  # people count steps from 1, as the app does
    return Explanation(
        step=s.index, phase=s.phase, node=s.node,
        text="\n".join(sentences["text"]),
        markdown=f"**{header}**: " + "; ".join(f"${line}$" for line in sentences["latex"]),
        latex=" \\\\\n".join(sentences["latex"]),
    )


def _sentences(trace: Trace, s: Any, n: Notation, form: str | None) -> list[str]:
    if s.phase == "forward":
        lines = _forward(trace, s.node, s.value, n)
        return lines + _tangent(trace, s, n) if isinstance(s, TangentStep) else lines  # forward mode: the tangent
    return _backward(trace, s, n, form)


def explain_text(trace: Trace, step: int, precision: int = 4, form: str | None = "names") -> str:
    """``explain_step(...).text`` alone, without writing the LaTeX (a long gradient formula costs)."""
    s = trace.steps[check_step(trace, step)]
    if trace.graph.graph.get("matrices"):
        return "\n".join(_matrix_sentences(trace, s, precision))
    return "\n".join(_sentences(trace, s, Notation(precision), form))


def explain(trace: Trace, precision: int = 4, form: str | None = "names") -> list[Explanation]:
    """One explanation per step, forward then backward."""
    return [explain_step(trace, k, precision, form) for k in range(len(trace.steps))]
