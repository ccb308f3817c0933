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

from .arithmetic import Arrays, Exact, ExactArrays, Float, exact_number, symbol
from .build import gc_paused
from .errors import EvaluationError, GraphlabError
from .evaluate import BackwardStep, Edge, ForwardStep, Step, evaluate
from .formulas import gradient_exprs
from .ops import OPS, SYMPY_XP, Op
from .program import program

__all__ = ["ForwardStep", "Edge", "BackwardStep", "Trace", "trace", "local_formula", "gradient_exprs",
           "MAX_EXACT_NODES", "is_finite", "as_json_number"]

MAX_EXACT_NODES = 2_000  # exact (SymPy) arithmetic is slow: larger graphs use float mode




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

    def _repr_html_(self) -> str | None:
        """Jupyter and Colab: the interactive stepper (:mod:`graphlab.stepper`), on the last step."""
        from .present import stepper_inline

        return stepper_inline(self)


def is_finite(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, sp.Basic):
        if value.has(sp.zoo, sp.oo, -sp.oo, sp.nan):
            return False
        return value.is_extended_real is not False  # log(-1) = i*pi is not a real result
    if isinstance(value, np.ndarray) and value.dtype == object:  # an exact matrix: entry by entry
        return all(is_finite(v) for v in value.flat)
    return bool(np.all(np.isfinite(value)))


def as_json_number(value: Any) -> float | str | list | None:
    """A JSON-safe number: non-finite floats become "inf", "-inf", "nan"; a matrix is nested lists of them."""
    if value is None:
        return None
    if isinstance(value, np.ndarray):
        return [as_json_number(v) for v in value] if value.ndim else as_json_number(float(value))
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


def trace(graph: nx.DiGraph, values: Mapping[str, Any] | None = None, /, mode: str = "float",
          **named: Any) -> Trace:
    """Run ``graph`` forward at ``values`` (variable -> number) and backward from the output.

    Values may also be keywords: ``trace(g, x=-2, y=5, z=-4)``; a variable called ``mode``
    goes in the mapping."""
    if mode not in ("float", "exact"):
        raise GraphlabError(f"unknown mode {mode!r}: use 'float' or 'exact'")
    matrices = graph.graph.get("matrices", False)
    values = dict(values or {})
    twice = sorted(set(values) & set(named))
    if twice:
        raise GraphlabError(f"{', '.join(twice)} given twice: in the mapping and as a keyword")
    values.update(named)
    prog = program(graph)
    variables = prog.variables
    unknown = sorted(set(values) - set(variables) - set(graph.graph.get("aliases", {})))
    if unknown:
        raise GraphlabError(f"no variable named {', '.join(unknown)} in the expression "
                            f"(variables: {', '.join(variables) or 'none'})")
    if mode == "exact" and len(prog.order) > MAX_EXACT_NODES:
        raise EvaluationError(f"exact mode is limited to {MAX_EXACT_NODES:,} nodes "
                              f"(this graph has {len(prog.order):,}); use float mode")
    missing = tuple(v for v in variables if values.get(v) is None)
    with np.errstate(all="ignore"), gc_paused():
        shapes = dict(graph.nodes(data="shape", default=())) if matrices else {}
        arith = (ExactArrays(shapes) if mode == "exact" else Arrays(shapes)) if matrices else \
            Exact() if mode == "exact" else Float()
        run = evaluate(prog, arith, values)
    nonfinite: dict[str, list[str]] = {}
    for node in run.nodes:
        if not is_finite(run.values[node]):
            nonfinite.setdefault(node, []).append("value")
    for node in reversed(run.nodes):
        if node in run.needs and not is_finite(run.grads[node]):
            nonfinite.setdefault(node, []).append("gradient")
    inputs = {v: run.values[v] for v in variables}
    return Trace(graph, mode, inputs, run.values, run.grads, run.steps, nonfinite, missing)


@cache
def _local_formulas(op: Op, labels: tuple, name: str | None) -> tuple[sp.Expr, ...]:
    """The op's local rules run on SymPy: operands are labels (symbols) or constant values; the op's
    output, where a rule reuses it (σ′ = out (1 - out)), is the node's ``name`` if it has one."""
    args = [symbol(a) if isinstance(a, str) else a for a in labels]
    out = symbol(name) if name is not None else (op.out_display or op.sym)(*args)
    rules = op.local_fns(len(args))
    return tuple(exact_number(rule(SYMPY_XP, out, *args)) for rule in rules)


@cache
def _placeholders(arity: int) -> tuple[sp.Dummy, ...]:
    return tuple(sp.Dummy(f"a{i}", real=True) for i in range(arity))


def local_formula(graph: nx.DiGraph, node: str, position: int) -> sp.Expr:
    """d node / d operand ``position``, written in the operands' labels (∂f/∂q = z), and through the
    node's own name where a rule reuses its output and the user named it (∂y/∂z = y (1 - y))."""
    data = graph.nodes[node]
    operands = [graph.nodes[a] for a in data["args"]]
    name = data["label"] if data.get("name") else None
    if any(o["kind"] == "const" for o in operands):  # constants simplify the formula: (x^2)' = 2x
        return _local_formulas(OPS[data["op"]], tuple(o["value"] if o["kind"] == "const" else o["label"]
                                                      for o in operands), name)[position]
    # all operands named: one formula per op, its placeholders renamed (10,000 nodes in well under a second)
    slots = _placeholders(len(operands))
    formula = _local_formulas(OPS[data["op"]], tuple(d.name for d in slots), name)[position]
    return formula.xreplace({symbol(d.name): symbol(o["label"]) for d, o in zip(slots, operands)})
