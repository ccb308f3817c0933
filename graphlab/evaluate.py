"""The one evaluator: a forward and a backward walk over a :class:`~graphlab.program.Program`.

Forward visits the nodes in topological order and records each value. Backward starts from
d(out)/d(out) = 1 and visits the nodes in reverse order: at each op node it records the
upstream gradient that arrived there and, for each operand a requested variable reaches, the
local gradient, the contribution (upstream × local) and the operand's running sum (the
lecture's "sum over successors" when the operand feeds several ops).

What a value *is* comes from an arithmetic (:mod:`graphlab.arithmetic`): float64 numbers,
exact SymPy numbers, numbers rounded as a hand calculation rounds them, SymPy expressions in
the variables or in the user's names, or lines of generated code. The evaluator knows no op's
maths: the arithmetic applies the registry's rule texts. Every loop is iterative, so a
10,000-node graph is no problem. A value of None means "unknown" (a variable given no value
in float mode) and stays unknown downstream.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from .ops import Op
from .program import Program

__all__ = ["ForwardStep", "Edge", "BackwardStep", "Step", "Evaluation", "Arithmetic", "evaluate"]


@dataclass(frozen=True, slots=True)
class ForwardStep:
    index: int  # position in the list of steps, from 0
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


class Arithmetic(Protocol):
    """What a value is, and how a registry rule is applied to values."""

    def variable(self, node: str, given: Any) -> Any: ...  # given is None where no value was given
    def constant(self, value: Any) -> Any: ...  # value: the constant's exact SymPy number
    def apply(self, op: Op, node: str, args: list[Any]) -> Any: ...
    def zero(self) -> Any: ...
    def one(self) -> Any: ...
    def edge(self, op: Op, node: str, out: Any, args: list[Any], i: int, upstream: Any) -> tuple[Any, Any]: ...
    def accumulate(self, node: str, before: Any, contribution: Any) -> Any: ...


@dataclass
class Evaluation:
    nodes: tuple[str, ...]  # the nodes walked, in forward order
    values: dict[str, Any]
    grads: dict[str, Any]  # d out / d node; None where no requested variable reaches the node
    steps: list[Step]
    needs: frozenset[str]  # the nodes that received gradients


def evaluate(prog: Program, arith: Arithmetic, inputs: Mapping[str, Any] | None = None, *,
             output: str | None = None, wrt: Iterable[str] | None = None, cut: Mapping[str, Any] | None = None,
             backward: bool = True) -> Evaluation:
    """Walk ``prog`` forward at ``inputs`` (variable -> value) and, unless ``backward`` is False,
    backward from ``output``.

    ``output``: differentiate this node instead of the program's output; only the nodes it
    depends on are walked. ``wrt``: only the nodes these reach receive gradients (default: every
    variable). ``cut``: nodes whose value is given instead of computed (a node cut loose from
    its operands, as ``∂f/∂q`` treats ``q``; forward walks only).
    """
    inputs = inputs or {}
    cut = cut or {}
    nodes = prog.order if output is None else prog.cone(output)
    out = prog.output if output is None else output
    values: dict[str, Any] = {}
    steps: list[Step] = []
    kinds, ops, operands = prog.kinds, prog.ops, prog.args
    for node in nodes:
        if node in cut:
            value = cut[node]
        elif kinds[node] == "var":
            value = arith.variable(node, inputs.get(node))
        elif kinds[node] == "const":
            value = arith.constant(prog.consts[node])
        else:
            args = [values[a] for a in operands[node]]
            value = None if any(a is None for a in args) else arith.apply(ops[node], node, args)
        values[node] = value
        steps.append(ForwardStep(len(steps), node, value))
    if cut and backward:
        raise ValueError("a cut is for forward walks only")
    if not backward:
        return Evaluation(nodes, values, {}, steps, frozenset())

    sources = [v for v in (prog.variables if wrt is None else wrt) if v in values]
    needs = prog.reached(sources, nodes)
    consumers = dict.fromkeys(needs, 0)
    for node in nodes:
        if node in needs:
            for a in operands.get(node, ()):
                if a in needs:
                    consumers[a] += 1
    seen = dict.fromkeys(needs, 0)
    zero = arith.zero()
    grads: dict[str, Any] = {n: (zero if n in needs else None) for n in nodes}
    if out in needs:
        grads[out] = arith.one()
    for node in reversed(nodes):
        upstream = grads[node]
        edges = []
        if node in ops and node in needs:
            op = ops[node]
            args = [values[a] for a in operands[node]]
            known = upstream is not None and values[node] is not None and all(a is not None for a in args)
            for i, arg in enumerate(operands[node]):
                if arg not in needs:
                    continue
                local, contribution = arith.edge(op, node, values[node], args, i, upstream) if known else (None, None)
                before = grads[arg]
                grads[arg] = None if before is None or contribution is None else \
                    arith.accumulate(arg, before, contribution)
                seen[arg] += 1
                edges.append(Edge(arg, i, local, contribution, grads[arg], seen[arg], consumers[arg]))
        steps.append(BackwardStep(len(steps), node, upstream, tuple(edges)))
    return Evaluation(nodes, values, grads, steps, needs)
