"""How graphlab's results read to a person: formulas in the input language, numbers, summaries.

One place for what the front ends print. :func:`formula` writes a SymPy expression the way
a user types it (``x^2``, ``e``, ``abs``, ``σ``), so printed text can be pasted back into
``graphlab grad`` or a ``--claim``; :func:`number` is the command line's number formatter;
:func:`equation` joins ``lhs = formula = value`` without repeating a side.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import sympy as sp
from sympy.printing.latex import LatexPrinter
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from .trace import as_json_number

if TYPE_CHECKING:
    import networkx as nx

    from .trace import Trace

__all__ = ["formula", "latex", "number", "equation", "graph_summary", "trace_summary", "diagram_svg",
           "MAX_INLINE_NODES"]

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


def number(value: Any, exact: bool = False, digits: int = 6) -> str:
    """A number for people: ``digits`` significant digits; exact values also show their exact form
    (``log(6)*sin(3) ≈ 0.252853``); a symbolic value (no number given) is its formula; None is ``?``."""
    if value is None:
        return "?"
    if isinstance(value, sp.Basic) and not value.is_number:
        return formula(value)
    approx = as_json_number(value)
    text = approx if isinstance(approx, str) else f"{approx:.{digits}g}"
    if exact and isinstance(value, sp.Basic) and not value.is_Integer and formula(value) != text:
        return f"{formula(value)} ≈ {text}"
    return text


def equation(*sides: str) -> str:
    """``a = b = c``, each side once: ``∂f/∂x = 0``, never ``∂f/∂x = 0 = 0``."""
    shown: list[str] = []
    for side in sides:
        if side and (not shown or side != shown[-1]):
            shown.append(side)
    return " = ".join(shown)


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
