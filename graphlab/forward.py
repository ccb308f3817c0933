"""Forward-mode differentiation, recorded node by node: each node's value and its tangent ∂node/∂x.

Reverse mode (:func:`graphlab.trace.trace`) walks forward for the values, then backward from
∂out/∂out = 1, and gets ∂out/∂v for every variable v in one backward pass. Forward mode seeds one
input instead, ∂x/∂x = 1 (every other input 0), and carries the tangent along with the value in
the one forward walk: at each node, ∂node/∂x = Σ_i ∂node/∂operand_i · ∂operand_i/∂x, the local
gradients being the same registry rules reverse mode uses. The output's tangent is ∂out/∂x: one
input's gradient per pass, so a gradient of n inputs takes n passes (see :mod:`graphlab.cost`).

It is the one evaluator's forward walk with the :class:`~graphlab.arithmetic.Tangent` arithmetic;
this module only turns its records into steps that say what each node received.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from .arithmetic import Exact, Float, Tangent
from .build import gc_paused
from .errors import EvaluationError, GraphlabError
from .evaluate import evaluate
from .program import program
from .trace import MAX_EXACT_NODES, Trace, is_finite

__all__ = ["TangentTerm", "TangentStep", "ForwardTrace", "forward_trace"]


@dataclass(frozen=True, slots=True)
class TangentTerm:
    """One operand's share of a node's tangent: local × the operand's tangent."""

    input: str
    position: int  # which operand (0-based)
    local: Any  # ∂node/∂input
    tangent: Any  # ∂input/∂x, what arrived from the operand
    product: Any  # local × tangent


@dataclass(frozen=True, slots=True)
class TangentStep:
    """A forward-mode step: the node's value and tangent, and the terms the tangent sums."""

    index: int
    node: str
    value: Any
    tangent: Any  # ∂node/∂x; None where a value is missing
    terms: tuple[TangentTerm, ...] = ()  # one per operand x reaches (none: the tangent is 0, or the seed)
    phase: str = "forward"


@dataclass(repr=False)
class ForwardTrace(Trace):
    """A :class:`~graphlab.trace.Trace` of forward mode: only forward steps, each carrying a tangent.
    ``grads`` is empty (no backward pass); ``tangents`` maps each node to ∂node/∂wrt."""

    wrt: str = ""
    tangents: dict[str, Any] = field(default_factory=dict)

    @property
    def gradient(self) -> dict[str, Any]:
        """The one gradient a forward pass gives: ∂out/∂wrt, the output's tangent."""
        return {self.wrt: self.tangents[self.graph.graph["output"]]}


def forward_trace(graph: nx.DiGraph, values: Mapping[str, Any] | None = None, wrt: str | None = None,
                  mode: str = "float") -> ForwardTrace:
    """Forward-mode differentiation of ``graph`` at ``values`` with respect to the variable ``wrt``."""
    if mode not in ("float", "exact"):
        raise GraphlabError(f"unknown mode {mode!r}: use 'float' or 'exact'")
    prog = program(graph)
    variables = prog.variables
    known = f"(variables: {', '.join(variables) or 'none'})"
    if wrt is None:
        raise GraphlabError(f"names no variable: forward mode differentiates with respect to one {known}",
                            field="wrt")
    if wrt not in variables:
        raise GraphlabError(f"{wrt}: not a variable of the expression {known}", field="wrt")
    values = dict(values or {})
    unknown = sorted(set(values) - set(variables) - set(graph.graph.get("aliases", {})))
    if unknown:
        raise GraphlabError(f"{', '.join(unknown)}: not a variable of the expression {known}", field="values")
    if mode == "exact" and len(prog.order) > MAX_EXACT_NODES:
        raise EvaluationError(f"exact mode is limited to {MAX_EXACT_NODES:,} nodes "
                              f"(this graph has {len(prog.order):,}); use float mode")
    base = Exact() if mode == "exact" else Float()
    with np.errstate(all="ignore"), gc_paused():
        run = evaluate(prog, Tangent(wrt, base), values, backward=False)
    steps, node_values, tangents = [], {}, {}
    for s in run.steps:
        dual = s.value
        if dual is None:  # a value is missing (float mode): nothing known here
            steps.append(TangentStep(s.index, s.node, None, None))
            node_values[s.node] = tangents[s.node] = None
            continue
        operands = prog.args.get(s.node, ())
        terms = tuple(TangentTerm(operands[i], i, local, run.values[operands[i]].tangent, product)
                      for i, local, product in dual.terms)
        steps.append(TangentStep(s.index, s.node, dual.value, dual.tangent, terms))
        node_values[s.node], tangents[s.node] = dual.value, dual.tangent
    nonfinite: dict[str, list[str]] = {}
    for node in run.nodes:
        for what, x in (("value", node_values[node]), ("tangent", tangents[node])):
            if not is_finite(x):
                nonfinite.setdefault(node, []).append(what)
    missing = tuple(v for v in variables if values.get(v) is None)
    inputs = {v: node_values[v] for v in variables}
    return ForwardTrace(graph, mode, inputs, node_values, {}, steps, nonfinite, missing, wrt=wrt, tangents=tangents)
