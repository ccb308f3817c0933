"""How graphlab's results read to a person: formulas in the input language, numbers, tables.

One place for what the front ends show. :func:`formula` writes a SymPy expression the way
a user types it (``x^2``, ``e``, ``abs``, ``σ``), so printed text can be pasted back into
``graphlab grad`` or a ``--claim``; :func:`number` is the one number formatter, for the
command line, the app, the diagrams and the explanations; :func:`equation` joins
``lhs = formula = value`` without repeating a side.

The records of a trace, a descent and a verify report become text here: :func:`node_table`
(what is known at a step), :func:`descent_table` and :func:`report_lines`; forward mode's
:func:`tangent_table`, the :func:`cost_table` of every gradient, a gradient check's
:func:`check_table` and a nudge's :func:`nudge_table` too. The front ends only
lay them out: the CLI as aligned columns, the app as ``st.dataframe`` and Markdown. A graph and
a trace read in a REPL as :func:`graph_summary` and :func:`trace_summary`, and draw themselves in
Jupyter through :func:`diagram_svg`; a trace is also the interactive stepper there (:func:`stepper_inline`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from .formulas import matrix_edge
from .frames import frame
from .ops import shape_text
from .program import program
from .trace import Trace, as_json_number, local_formula

if TYPE_CHECKING:
    import networkx as nx

    from .cost import Cost
    from .descend import Descent
    from .forward import ForwardTrace
    from .gradcheck import GradCheck, Nudge
    from .verify import Report

__all__ = ["matrix", "matrix_rows", "MAX_SHOWN_SIZE",
           "formula", "latex", "number", "equation", "assignments", "Table", "node_table", "descent_table",
           "ClaimLines", "report_lines", "CHECK_MARKS", "tangent_table", "cost_table", "check_table", "nudge_table",
           "graph_summary", "trace_summary", "diagram_svg", "stepper_inline", "MAX_INLINE_NODES", "step_label"]

MAX_INLINE_NODES = 60  # as the app: a larger diagram is illegible, and Jupyter shows the summary instead

def _language_name(func: Any) -> str | None:
    """What the input language calls a SymPy function: from the registry (Max -> max, sigma -> σ)."""
    from .ops import OPS, sympy_heads

    name = sympy_heads().get(func)
    if name is not None:
        return min(OPS[name].input_names, key=len) if OPS[name].input_names else name
    for op in OPS.values():  # an op's output as a local formula shows it (sigmoid's sigma)
        if op.out_display is not None and op.out_display == func and op.input_names:
            return min(op.input_names, key=len)
    return None


def _natural_terms(expr: sp.Add, ordered: list) -> list:
    """A sum's terms with the positive ones first, as people write them: y - t, not -t + y."""
    return [t for t in ordered if not t.could_extract_minus_sign()] + \
        [t for t in ordered if t.could_extract_minus_sign()]


def _join_terms(texts: list[str]) -> str:
    text = ""
    for i, t in enumerate(texts):
        if t.startswith("-"):
            text += (" - " if i else "-") + t[1:].lstrip()
        else:
            text += (" + " if i else "") + t
    return text


class _InputLanguagePrinter(StrPrinter):
    """SymPy's ``str``, but in graphlab's input language where they differ: ``^``, ``e``, ``abs``, ``σ``,
    ``step``, and sums with their positive terms first."""

    def _print_Pow(self, expr, rational=False):
        text = super()._print_Pow(expr, rational)
        prec = precedence(expr)
        python = (f"{self.parenthesize(expr.base, prec, strict=False)}**"
                  f"{self.parenthesize(expr.exp, prec, strict=False)}")
        return python.replace("**", "^", 1) if text == python else text  # sqrt(x), 1/x stay as SymPy writes them

    def _print_Exp1(self, expr):
        return "e"

    def _print_Add(self, expr, order=None):
        terms = _natural_terms(expr, self._as_ordered_terms(expr, order=order))
        return _join_terms([self._print(term) for term in terms])

    def _print_Function(self, expr):
        name = _language_name(expr.func)
        if name is not None:
            return f"{name}({self.stringify(expr.args, ', ')})"
        return super()._print_Function(expr)

    _print_Abs = _print_Function

    def _print_Heaviside(self, expr):
        if expr.args[1:] == (sp.Integer(1),):  # the lecture's step: 1 at 0 (relu'(0) = 1)
            return f"step({self._print(expr.args[0])})"
        return super()._print_Function(expr)

    def _print_MinMaxBase(self, expr):
        # SymPy's Max/Min are n-ary, the language's max/min binary: nest them
        name = _language_name(expr.func)
        args = [self._print(a) for a in expr.args]
        text = args[0]
        for a in args[1:]:
            text = f"{name}({text}, {a})"
        return text

    _print_Max = _print_Min = _print_MinMaxBase


class _JuxtaposingPrinter(_InputLanguagePrinter):
    """Products as the lecture writes them, side by side: ``y (1 - y)``, ``log(x1 x2) cos(x2)``."""

    def _print_Mul(self, expr):
        return super()._print_Mul(expr).replace("*", " ")


class _LatexPrinter(LatexPrinter):
    """SymPy's LaTeX, with relu's step as an Iverson bracket, [z ≥ 0], and sums positive terms first."""

    def _print_Heaviside(self, expr, exp=None):
        if expr.args[1:] == (sp.Integer(1),):
            text = rf"\left[{self._print(expr.args[0])} \geq 0\right]"
            return f"{text}^{{{exp}}}" if exp else text
        return super()._print_Heaviside(expr, exp)

    def _print_Add(self, expr, order=None):
        terms = _natural_terms(expr, self._as_ordered_terms(expr, order=order))
        return _join_terms([self._print(term) for term in terms])


_PRINTER = _InputLanguagePrinter()
_JUXTAPOSING = _JuxtaposingPrinter()
_LATEX = _LatexPrinter()


def formula(expr: Any, juxtapose: bool = False) -> str:
    """``expr`` written in the input language: ``2*x^3``, ``σ(z)*(1 - σ(z))``, ``log(x1*x2)``, ``step(z)``
    (relu′); ``juxtapose``: products side by side, as the lecture writes them (``y (1 - y)``).
    The text parses back. Functions the language lacks (``sign``, from abs′) keep SymPy's names."""
    if not isinstance(expr, sp.Basic):
        return str(expr)
    return (_JUXTAPOSING if juxtapose else _PRINTER).doprint(expr)


def latex(expr: Any) -> str:
    """``expr`` in LaTeX, with relu′ written [z ≥ 0]."""
    return _LATEX.doprint(expr) if isinstance(expr, sp.Basic) else str(expr)


def number(value: Any, exact: bool = False, digits: int = 6, compact: bool = False) -> str:
    """A number for people, with ``digits`` significant digits (``-0`` is ``0``).

    ``exact``: an exact value also shows its exact form, ``log(6)*sin(3) ≈ 0.252853``, ``1/4 ≈ 0.25``.
    ``compact``, where room is short (a diagram's label, a table cell): a short fraction is written as
    itself, ``148/25``, and no value at all as nothing. Otherwise no value (None) is ``?``, and a
    symbolic value (a variable had no number) is its formula.
    """
    if value is None:
        return "" if compact else "?"
    if isinstance(value, np.ndarray):
        return matrix(value, digits, exact)
    if isinstance(value, sp.Basic):
        if not value.is_number:
            return formula(value)
        if compact and value.is_Rational and len(str(value)) <= digits + 3:
            return formula(value)
    approx = as_json_number(value)
    text = approx if isinstance(approx, str) else f"{approx:.{digits}g}"
    text = "0" if text == "-0" else text
    if exact and isinstance(value, sp.Basic) and not value.is_Integer and formula(value) != text:
        return f"{formula(value)} ≈ {text}"
    return text


MAX_SHOWN_SIZE = 4  # a matrix up to 4×4 is written out; a larger one as its shape and a summary


def matrix_rows(value: np.ndarray, digits: int = 4, exact: bool = False) -> list[list[str]] | None:
    """A small matrix's entries as text, row by row (None: over :data:`MAX_SHOWN_SIZE` rows or columns,
    summarised); ``exact``: an exact entry also in its exact form, as :func:`number` writes it."""
    if any(n > MAX_SHOWN_SIZE for n in np.shape(value)):
        return None
    return [[number(v if exact else float(v), exact, digits) for v in row] for row in np.atleast_2d(value)]


def matrix(value: np.ndarray, digits: int = 6, exact: bool = False) -> str:
    """``[[0.7311, 0.7311], [0.01799, 0.9975]]``; a larger one ``784×200 matrix, mean 0.01, range -4.1…4.3``."""
    from .ops import shape_text

    rows = matrix_rows(value, digits, exact)
    if rows is not None:
        return "[" + ", ".join("[" + ", ".join(r) + "]" for r in rows) + "]"
    return (f"{shape_text(value.shape)} matrix, mean {number(float(np.mean(value)), digits=3)}, "
            f"range {number(float(np.min(value)), digits=3)}…{number(float(np.max(value)), digits=3)}")


def equation(*sides: str) -> str:
    """``a = b = c``, each side once: ``∂f/∂x = 0``, never ``∂f/∂x = 0 = 0``."""
    shown: list[str] = []
    for side in sides:
        if side and (not shown or side != shown[-1]):
            shown.append(side)
    return " = ".join(shown)


def assignments(values: Mapping[str, Any], exact: bool = False, digits: int = 6, compact: bool = False) -> str:
    """``x = -2, y = 5``: a point, each value by :func:`number`."""
    return ", ".join(f"{name} = {number(v, exact, digits, compact)}" for name, v in values.items())


# --------------------------------------------------------------------------- tables
@dataclass(frozen=True)
class Table:
    """Rows of text under named columns. Columns are kept by position: a parameter may be called ``loss``."""

    columns: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]

    def only(self, *columns: str) -> Table:
        """The same rows with only ``columns``, in that order."""
        keep = [self.columns.index(c) for c in columns]
        return Table(columns, tuple(tuple(row[i] for i in keep) for row in self.rows))


def local_text(graph: nx.DiGraph, node: str, position: int) -> str:
    """:func:`local_formula` as text; the same at every step, so written once per graph (the app's table
    asks for every node's at each step)."""
    written = program(graph).cache.setdefault("local_text", {})
    if (node, position) not in written:
        written[(node, position)] = formula(local_formula(graph, node, position))
    return written[(node, position)]


def node_table(trace: Trace, step: int | None = None, exact: bool = False, digits: int = 6,
               compact: bool = False) -> Table:
    """A row per node of what is known at ``step``, an index into ``trace.steps`` (None: the end).

    Columns: ``""`` (▶ at the node visited), ``node``, ``op``, ``inputs``, over matrices ``shape``,
    ``value``, ``∂f/∂node``, ``local gradients`` (over matrices: each VJP in matrix form). A value
    appears when the forward pass reaches it (``?`` if it has no number);
    a gradient as soon as a contribution arrives, marked "k of n terms" while a node with several
    consumers is still summing; local gradients are formulas until their node's backward step, then
    numbers too.
    """
    g = trace.graph
    fr = frame(g, trace, step)
    index = len(trace.steps) - 1 if step is None else step % len(trace.steps)
    backward = {s.node: s for s in trace.backward_steps}
    out = g.graph["output"]

    def num(value: Any) -> str:
        return number(value, exact, digits, compact)

    rows = []
    for node, data in g.nodes(data=True):
        grad = "" if fr.grads.get(node) is None else num(fr.grads[node])
        arrived = fr.terms.get(node, [])
        if arrived and len(arrived) < arrived[-1][1].consumers:
            grad += f" ({len(arrived)} of {arrived[-1][1].consumers} terms)"
        visited = backward[node].index <= index
        if g.graph.get("matrices"):  # a VJP in matrix form, not a local gradient
            local = "; ".join(f"{m.lhs} = {m.step}" for m in (matrix_edge(g, node, e.position)
                                                                for e in backward[node].edges))
        else:
            local = "; ".join(equation(f"∂{node}/∂{e.input}", local_text(g, node, e.position),
                                       num(e.local) if visited else "") for e in backward[node].edges)
        shape = (shape_text(data.get("shape", ())),) if g.graph.get("matrices") else ()
        rows.append(("▶" if node == fr.current else "", node, data.get("op", data["kind"]),
                     " ".join(data.get("args", ())), *shape,
                     num(fr.values[node]) if node in fr.values else "", grad, local))
    shape = ("shape",) if g.graph.get("matrices") else ()
    return Table(("", "node", "op", "inputs", *shape, "value", f"∂{out}/∂node", "local gradients"), tuple(rows))


def descent_table(descent: Descent, exact: bool = False, digits: int = 10, compact: bool = False) -> Table:
    """A row per step k: θ_k, the loss L(θ_k), the gradient ∇L(θ_k) and the update −η∇L(θ_k) that gives
    θ_(k+1) (none on the last row); with mini-batches, the rows of the data (from 1) that step averages over.
    Ten digits by default: a hand calculation carries more than a diagram's few."""
    d, out = descent, descent.output

    def num(value: Any) -> str:
        return number(value, exact, digits, compact)

    columns = ("step", *d.wrt, "batch loss" if d.batch_size else "loss", *(f"∂{out}/∂{w}" for w in d.wrt),
               *(f"update {w}" for w in d.wrt), *(("rows",) if d.batch_size else ()))
    rows = tuple((str(s.step), *(num(s.params[w]) for w in d.wrt), num(s.loss), *(num(s.gradient[w]) for w in d.wrt),
                  *(num(s.update[w]) if s.update else "" for w in d.wrt),
                  *((" ".join(str(i + 1) for i in s.batch or ()),) if d.batch_size else ()))
                 for s in d.history)
    return Table(columns, rows)


@dataclass(frozen=True)
class ClaimLines:
    """One claim of a verify report, as text."""

    mark: str  # ✓ or ✗
    claim: str
    verdict: str  # right, right up to rounding, wrong
    derivative: str  # the right one, formula and value: df/dq = z = -4
    counterexample: str  # for a wrong claim: at x = 1: yours gives 4, the derivative -4; else ""
    diagnosis: str  # why it is wrong, or the note on a right one; else ""


def report_lines(report: Report, exact: bool = False, digits: int = 6, compact: bool = False) -> list[ClaimLines]:
    """The lines under each claim of ``report``, in the claims' order."""
    def num(value: Any) -> str:
        return number(value, exact, digits, compact)

    lines = []
    for c in report.claims:
        value = "" if c.expected_value is None else num(c.expected_value)
        wrong = ""
        if c.counterexample and not c.ok:
            point = assignments(c.counterexample["point"], digits=digits, compact=compact)
            wrong = (f"{'at ' + point + ': ' if point else ''}yours gives {num(c.counterexample['claimed'])}, "
                     f"the derivative {num(c.counterexample['expected'])}")
        derivative = equation(f"d{c.of}/d{c.wrt}", c.expected, value)
        lines.append(ClaimLines("✓" if c.ok else "✗", c.claim, c.verdict, derivative, wrong, c.diagnosis or ""))
    return lines


# --------------------------------------------------------------------------- forward mode, cost, gradient checks
CHECK_MARKS = {"ok": "✓", "off": "✗", "kink": "✗ kink", "nonfinite": "✗ not finite"}  # gradcheck.STATUSES


def tangent_table(trace: ForwardTrace, step: int | None = None, exact: bool = False, digits: int = 6,
                  compact: bool = False) -> Table:
    """Forward mode: a row per node of what is known at ``step`` (None: the end), its value and its
    tangent ∂node/∂x once the pass reaches it. Columns ``""`` (▶ at the node visited), ``node``,
    ``op``, ``inputs``, ``value``, ``∂node/∂x``."""
    fr = frame(trace.graph, trace, step)

    def num(value: Any) -> str:
        return number(value, exact, digits, compact)

    rows = tuple(("▶" if node == fr.current else "", node, data.get("op", data["kind"]), " ".join(data.get("args", ())),
                  num(fr.values[node]) if node in fr.values else "",
                  num(fr.tangents[node]) if node in fr.tangents else "")
                 for node, data in trace.graph.nodes(data=True))
    return Table(("", "node", "op", "inputs", "value", f"∂node/∂{trace.wrt}"), rows)


def cost_table(cost: Cost) -> Table:
    """The multiplications every gradient costs, a row per approach (:mod:`graphlab.cost`)."""
    from .cost import count_text

    return Table(("to get every gradient", "multiplications"),
                 tuple((label, count_text(n)) for label, n in cost.rows()))


def check_table(check: GradCheck, digits: int = 10, compact: bool = False) -> Table:
    """A row per variable of a gradient check: backprop, the central difference, their relative error
    and the verdict (✓, ✗, ✗ kink, ✗ not finite). Ten digits: the two agree to about that many."""
    def num(value: Any) -> str:
        return number(value, digits=digits, compact=compact)

    return Table(("variable", "backprop", "central difference", "relative error", "check"),
                 tuple((c.variable, num(c.backprop), num(c.central),
                        f"{c.relative_error:.1e}" if c.relative_error else "0", CHECK_MARKS[c.status])
                       for c in check.checks))


def nudge_table(nudge: Nudge, digits: int = 6, compact: bool = False) -> Table:
    """A row per node: its value, the value with the input moved by h, the change, and the linear
    prediction ∂node/∂w · h beside it."""
    def num(value: Any) -> str:
        return number(value, digits=digits, compact=compact)

    w = nudge.wrt
    return Table(("node", "value", f"after {w} + {nudge.h:g}", "change", f"∂node/∂{w} · h", "change − prediction"),
                 tuple((r.node, num(r.value), num(r.nudged), num(r.change), num(r.predicted),
                        num(r.change - r.predicted)) for r in nudge.rows))


def step_label(trace: Trace, index: int) -> str:
    """``"backward 3 of 5: node q"`` for the step at ``index`` (0-based) of ``trace.steps``."""
    s = trace.steps[index]
    n = trace.graph.number_of_nodes()
    k = index + 1 if s.phase == "forward" else index - n + 1
    return f"{s.phase} {k} of {n}: node {s.node}"


def _short(text: str, limit: int = 60) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def graph_summary(graph: nx.DiGraph) -> str:
    """``<graphlab graph '(x+y)z': 5 nodes, variables x, y, z, output f>``: a graph's repr."""
    data = graph.graph
    source = f" {_short(data['source'])!r}" if data.get("source") else ""
    variables = [v for v in data.get("variables", ()) if v in graph]  # a subgraph shares the graph data
    parts = [f"{graph.number_of_nodes():,} node{'s' if graph.number_of_nodes() != 1 else ''}"]
    if variables:
        shown = ", ".join(variables[:8]) + (f", … ({len(variables)} in all)" if len(variables) > 8 else "")
        parts.append(f"variable{'s' if len(variables) != 1 else ''} {shown}")
    if data.get("output") in graph:
        parts.append(f"output {data['output']}")
    return f"<graphlab graph{source}: {', '.join(parts)}>"


def trace_summary(trace: Trace) -> str:
    """``<graphlab trace of '(x+y)z' at x = -2, ...: f = -12, ∂f/∂x = -4, ..., 10 steps>``: a trace's repr."""
    data = trace.graph.graph
    exact = trace.mode == "exact"
    out = data.get("output", "output")
    given = [f"{v} = {number(x, exact)}" for v, x in trace.inputs.items() if v not in trace.missing]
    grads = [f"∂{out}/∂{v} = {number(x, exact)}" for v, x in trace.gradient.items()]
    if len(grads) > 8:
        grads = [*grads[:8], f"… ({len(grads)} in all)"]
    at = f" at {', '.join(given[:8])}{', …' if len(given) > 8 else ''}" if given else ""
    mode = " (exact)" if exact else ""
    return (f"<graphlab trace of {_short(data.get('source', ''))!r}{at}{mode}: {out} = {number(trace.output, exact)}"
            f"{'; ' if grads else ''}{', '.join(grads)}; {len(trace.steps)} steps>")


def diagram_svg(obj: nx.DiGraph | Trace) -> str | None:
    """The diagram of a graph or of a trace's final frame, as SVG for Jupyter; None (Jupyter then
    shows the summary) when the graph is too large to draw legibly."""
    from .export import Diagram  # Graphviz loads only when a diagram is asked for

    graph = obj.graph if hasattr(obj, "steps") else obj
    if graph.number_of_nodes() > MAX_INLINE_NODES:
        return None
    return Diagram(obj)._repr_svg_()


def stepper_inline(trace: Trace, step: int | None = None, style: str = "lecture", **options: Any) -> str | None:
    """The HTML stepper of ``trace`` for a notebook's output, opening on ``step`` (None: the last); None
    (Jupyter then shows the SVG or the summary) when the graph is too large to draw legibly."""
    from .stepper import stepper_html  # Graphviz loads only when a diagram is asked for

    if trace.graph.number_of_nodes() > MAX_INLINE_NODES:
        return None
    start = len(trace.steps) - 1 if step is None else step
    return stepper_html(trace, start, style, standalone=False, **options)
