"""Forward and backward interpretation of a graph, recorded step by step.

Forward visits every node in topological order and records its value. Backward starts
from d(out)/d(out) = 1 and visits every node in reverse order: at a node it records the
upstream gradient that arrived there and, for each operand that depends on a variable,
the local gradient, the contribution upstream x local, and the operand's running sum
(the lecture's "sum over successors" when the operand feeds several ops).

Two modes: ``"float"`` (NumPy float64; non-finite results are flagged, never raised)
and ``"exact"`` (SymPy numbers: ``log(6)*cos(3) + sin(3)/3``, ``1/2`` kept exact; a
variable without a value stays a symbol). Every loop is iterative: a 10,000-node graph
is no problem.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from .build import MAX_EXACT_BITS, check_exact_pow, check_symbolic_size, forward_order, gc_paused, node_expr, symbol
from .errors import EvaluationError, GraphlabError
from .ops import OPS, SYMPY_XP

__all__ = ["ForwardStep", "Edge", "BackwardStep", "Trace", "trace", "local_formula", "gradient_exprs",
           "MAX_EXACT_NODES", "MAX_SYMBOLIC_WORK", "is_finite", "as_json_number"]

MAX_EXACT_NODES = 2_000  # exact (SymPy) arithmetic is slow: larger graphs use float mode
MAX_SYMBOLIC_WORK = 1_200  # gradient_exprs: symbolic size x variables, beyond which it returns None


@dataclass(frozen=True, slots=True)
class ForwardStep:
    index: int  # position in Trace.steps
    node: str
    value: Any
    phase: str = "forward"


@dataclass(frozen=True, slots=True)
class Edge:
    """What a backward step sends to one operand."""

    input: str
    position: int  # which operand (0-based)
    local: Any  # d node / d input
    contribution: Any  # upstream * local
    accumulated: Any  # the input's gradient after this contribution: the running sum
    term: int  # this contribution is term `term` of `consumers` at the input
    consumers: int


@dataclass(frozen=True, slots=True)
class BackwardStep:
    index: int
    node: str
    upstream: Any  # d out / d node, complete when the node is visited
    edges: tuple[Edge, ...]
    phase: str = "backward"


Step = ForwardStep | BackwardStep


@dataclass(repr=False)
class Trace:
    graph: nx.DiGraph
    mode: str
    inputs: dict[str, Any]
    values: dict[str, Any]
    grads: dict[str, Any]  # d out / d node; None for nodes no variable reaches
    steps: list[Step]
    nonfinite: dict[str, list[str]] = field(default_factory=dict)  # node -> ["value", "gradient"]
    missing: tuple[str, ...] = ()  # variables given no value

    @property
    def output(self) -> Any:
        return self.values[self.graph.graph["output"]]

    @property
    def gradient(self) -> dict[str, Any]:
        """d out / d variable, for every variable."""
        return {v: self.grads[v] for v in self.graph.graph["variables"]}

    @property
    def forward_steps(self) -> list[ForwardStep]:
        return [s for s in self.steps if s.phase == "forward"]

    @property
    def backward_steps(self) -> list[BackwardStep]:
        return [s for s in self.steps if s.phase == "backward"]

    def __repr__(self) -> str:  # a REPL shows the result, not every record
        from .present import trace_summary

        return trace_summary(self)

    def _repr_svg_(self) -> str | None:
        """Jupyter shows the final frame (values and gradients); graphlab.show(trace, step=k) shows a step."""
        from .present import diagram_svg

        return diagram_svg(self)


def is_finite(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, sp.Basic):
        if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            return False
        return value.is_extended_real is not False  # log(-1) = i*pi is not a real result
    return bool(np.isfinite(value))


def as_json_number(value: Any) -> float | str | None:
    """A JSON-safe number: non-finite floats become "inf", "-inf", "nan"."""
    if value is None:
        return None
    if isinstance(value, sp.Basic):
        if not value.is_number:
            return None  # symbolic (a variable had no value)
        if not is_finite(value):
            c = complex(value.evalf()) if value.is_finite else None
            if value in (sp.oo, -sp.oo):
                return "inf" if value is sp.oo else "-inf"
            return "nan" if c is None or c.imag else float(c.real)
        value = float(value.evalf(17))
    value = float(value)
    if np.isnan(value):
        return "nan"
    if np.isinf(value):
        return "inf" if value > 0 else "-inf"
    return value


class _Float:
    """float64 arithmetic through NumPy: 1/0 is inf, log(-1) is nan, nothing raises.

    Rules run on NumPy scalars (so nothing raises); what is recorded is a plain Python float,
    which prints as ``-12.0``, not ``np.float64(-12.0)``."""

    xp = np

    @staticmethod
    def number(v: Any) -> float:
        return float(np.float64(v))

    @staticmethod
    def forward(op, args):
        return float(op.forward_fn(len(args))(np, *map(np.float64, args)))

    @staticmethod
    def local(op, out, args, i):
        return float(op.local_fns(len(args))[i](np, np.float64(out), *map(np.float64, args)))


def _exact_size_check(node: str, value: sp.Expr) -> None:
    if value.is_Rational and max(abs(value.p).bit_length(), value.q.bit_length()) > MAX_EXACT_BITS:
        raise EvaluationError(f"the exact value of node {node} is over {MAX_EXACT_BITS:,} bits; use float mode")


def _exact_number(v: Any) -> sp.Expr:
    if isinstance(v, sp.Basic):
        return v
    if isinstance(v, (int, np.integer)):
        return sp.Integer(int(v))
    if isinstance(v, str):  # decimal text from the command line: 0.35 -> 7/20
        return sp.Rational(v)
    return sp.Rational(repr(float(v)))  # a float: its shortest decimal form, exactly


class _Exact:
    xp = SYMPY_XP

    @staticmethod
    def number(v: Any) -> sp.Expr:
        return _exact_number(v)

    @staticmethod
    def forward(op, args):
        if op.name == "pow":
            check_exact_pow(*args)
        return op.sym(*args)

    @staticmethod
    def local(op, out, args, i):
        return _exact_number(op.local_fns(len(args))[i](SYMPY_XP, out, *args))


def _needs_grad(graph: nx.DiGraph) -> set[str]:
    """Nodes some variable reaches: only these receive gradients."""
    needs: set[str] = set()
    for node in forward_order(graph):
        data = graph.nodes[node]
        if data["kind"] == "var" or (data["kind"] == "op" and any(a in needs for a in data["args"])):
            needs.add(node)
    return needs


def trace(graph: nx.DiGraph, values: Mapping[str, Any] | None = None, /, mode: str = "float",
          **named: Any) -> Trace:
    """Run ``graph`` forward at ``values`` (variable -> number) and backward from the output.

    Values may also be keywords: ``trace(g, x=-2, y=5, z=-4)``; a variable called ``mode``
    goes in the mapping."""
    if mode not in ("float", "exact"):
        raise GraphlabError(f"unknown mode {mode!r}: use 'float' or 'exact'")
    values = dict(values or {})
    twice = sorted(set(values) & set(named))
    if twice:
        raise GraphlabError(f"{', '.join(twice)} given twice: in the mapping and as a keyword")
    values.update(named)
    variables = graph.graph["variables"]
    unknown = sorted(set(values) - set(variables) - set(graph.graph.get("aliases", {})))
    if unknown:
        raise GraphlabError(f"no variable named {', '.join(unknown)} in the expression "
                            f"(variables: {', '.join(variables) or 'none'})")
    if mode == "exact" and graph.number_of_nodes() > MAX_EXACT_NODES:
        raise EvaluationError(f"exact mode is limited to {MAX_EXACT_NODES:,} nodes "
                              f"(this graph has {graph.number_of_nodes():,}); use float mode")
    arith = _Exact if mode == "exact" else _Float
    missing = tuple(v for v in variables if v not in values)
    order = forward_order(graph)
    vals: dict[str, Any] = {}
    steps: list[Step] = []
    nonfinite: dict[str, list[str]] = {}

    with np.errstate(all="ignore"), gc_paused():
        for node in order:
            data = graph.nodes[node]
            kind = data["kind"]
            if kind == "var":
                given = values.get(node)
                if given is None:
                    value = symbol(node) if mode == "exact" else None
                else:
                    value = arith.number(given)
            elif kind == "const":
                value = data["value"] if mode == "exact" else float(data["value"])
            else:
                args = [vals[a] for a in data["args"]]
                value = None if any(a is None for a in args) else arith.forward(OPS[data["op"]], args)
                if mode == "exact" and value is not None:
                    _exact_size_check(node, value)
            vals[node] = value
            if not is_finite(value):
                nonfinite.setdefault(node, []).append("value")
            steps.append(ForwardStep(len(steps), node, value))

        needs = _needs_grad(graph)
        consumers = {n: sum(1 for s in graph.successors(n) for a in graph.nodes[s]["args"] if a == n)
                     for n in needs}
        terms_seen = dict.fromkeys(needs, 0)
        zero = sp.Integer(0) if mode == "exact" else 0.0
        output = graph.graph["output"]
        grads: dict[str, Any] = {n: (None if n not in needs else zero) for n in order}
        if output in needs:
            grads[output] = sp.Integer(1) if mode == "exact" else 1.0
        for node in reversed(order):
            upstream = grads[node]
            data = graph.nodes[node]
            edges = []
            if data["kind"] == "op" and node in needs:
                op = OPS[data["op"]]
                args = [vals[a] for a in data["args"]]
                for i, arg in enumerate(data["args"]):
                    if arg not in needs:
                        continue
                    if upstream is None or vals[node] is None or any(a is None for a in args):
                        local = contribution = None
                    else:
                        local = arith.local(op, vals[node], args, i)
                        contribution = upstream * local
                    before = grads[arg]
                    grads[arg] = None if before is None or contribution is None else before + contribution
                    terms_seen[arg] += 1
                    edges.append(Edge(arg, i, local, contribution, grads[arg], terms_seen[arg], consumers[arg]))
            if node in needs and not is_finite(upstream):
                nonfinite.setdefault(node, []).append("gradient")
            steps.append(BackwardStep(len(steps), node, upstream, tuple(edges)))

    inputs = {v: vals[v] for v in variables}
    return Trace(graph, mode, inputs, vals, grads, steps, nonfinite, missing)


@cache
def _local_formulas(op_name: str, labels: tuple) -> tuple[sp.Expr, ...]:
    """The op's local rules run on SymPy: operands are labels (symbols) or constant values."""
    op = OPS[op_name]
    args = [symbol(a) if isinstance(a, str) else a for a in labels]
    out = (op.out_display or op.sym)(*args)
    rules = op.local_fns(len(args))
    return tuple(_exact_number(rule(SYMPY_XP, out, *args)) for rule in rules)


@cache
def _placeholders(arity: int) -> tuple[sp.Dummy, ...]:
    return tuple(sp.Dummy(f"a{i}", real=True) for i in range(arity))


def local_formula(graph: nx.DiGraph, node: str, position: int) -> sp.Expr:
    """d node / d operand ``position``, written in the operands' labels (∂f/∂q = z)."""
    data = graph.nodes[node]
    operands = [graph.nodes[a] for a in data["args"]]
    if any(o["kind"] == "const" for o in operands):  # constants simplify the formula: (x^2)' = 2x
        return _local_formulas(data["op"], tuple(o["value"] if o["kind"] == "const" else o["label"]
                                                 for o in operands))[position]
    # all operands named: one formula per op, its placeholders renamed (10,000 nodes in well under a second)
    slots = _placeholders(len(operands))
    formula = _local_formulas(data["op"], tuple(d.name for d in slots))[position]
    return formula.xreplace({symbol(d.name): symbol(o["label"]) for d, o in zip(slots, operands)})


def gradient_exprs(graph: nx.DiGraph) -> dict[str, sp.Expr] | None:
    """d out / d variable as SymPy expressions, or None when the graph is too large to say."""
    try:
        check_symbolic_size(graph)
    except GraphlabError:
        return None
    if graph.graph["_symbolic_size"] * max(len(graph.graph["variables"]), 1) > MAX_SYMBOLIC_WORK:
        return None  # each derivative costs about the expression's size: a product of 38 variables took 2 s
    out = node_expr(graph, graph.graph["output"])
    return {v: sp.diff(out, symbol(v)) for v in graph.graph["variables"]}

