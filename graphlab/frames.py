"""What a picture of the graph shows at one step of a trace.

A :class:`Frame` is the state of the computation as a lecturer would draw it at step
``k``: the values known so far, the gradients arrived so far (running sums at a node
with several consumers), the node being visited, and, at a backward step, what that
step sends along each input edge. The DOT and TikZ writers and the explanations read
frames; none of them replays the trace on its own. A forward-mode trace's frames also
carry each node's tangent ∂node/∂x (:mod:`graphlab.forward`).

Step numbers are indices into ``Trace.steps`` (forward steps first, then backward);
``step=None`` with a trace is the final frame (everything known), and no trace at all
is the bare structure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

import networkx as nx

from .errors import GraphlabError
from .forward import TangentStep
from .trace import BackwardStep, Edge, Trace

__all__ = ["Frame", "frame", "operand_edges", "folded_constants", "check_step"]


@dataclass(frozen=True)
class Frame:
    graph: nx.DiGraph
    trace: Trace | None = None
    step: Any = None  # the ForwardStep / BackwardStep shown, or None
    values: dict[str, Any] = field(default_factory=dict)  # node -> value, known so far
    grads: dict[str, Any] = field(default_factory=dict)  # node -> d out / d node so far (running sums)
    # (input, node, position) -> the contribution sent back along that edge so far
    contributions: dict[tuple[str, str, int], Any] = field(default_factory=dict)
    # input -> (consumer, Edge) for each contribution arrived so far: the sums at fan-out nodes
    terms: dict[str, list[tuple[str, Edge]]] = field(default_factory=dict)
    # forward mode (a ForwardTrace): node -> its tangent ∂node/∂wrt, known so far
    tangents: dict[str, Any] = field(default_factory=dict)

    @property
    def phase(self) -> str:
        """"structure", "forward", "backward" or "final"."""
        if self.trace is None:
            return "structure"
        return "final" if self.step is None else self.step.phase

    @property
    def current(self) -> str | None:
        return None if self.step is None else self.step.node

    @cached_property  # read for every edge of a frame: built once per frame
    def active(self) -> dict[tuple[str, int], Edge]:
        """At a backward step, the Edge records it sends, by (input, position)."""
        if not isinstance(self.step, BackwardStep):
            return {}
        return {(e.input, e.position): e for e in self.step.edges}

    @property
    def output_grad(self) -> Any:
        return self.grads.get(self.graph.graph["output"])


def check_step(trace: Trace, step: int | None) -> int | None:
    """``step`` as an index into ``trace.steps``; negative counts from the end."""
    if step is None:
        return None
    n = len(trace.steps)
    if not -n <= step < n:
        raise GraphlabError(f"step index {step} is out of range: trace.steps has indices 0 to {n - 1}")
    return step % n


def frame(graph: nx.DiGraph, trace: Trace | None = None, step: int | None = None) -> Frame:
    """The frame at ``step`` of ``trace`` (see the module docstring)."""
    if trace is None:
        if step is not None:
            raise GraphlabError("a step needs a trace: trace the graph at some values first")
        return Frame(graph)
    index = check_step(trace, step)
    last = len(trace.steps) - 1 if index is None else index
    values: dict[str, Any] = {}
    grads: dict[str, Any] = {}
    contributions: dict[tuple[str, str, int], Any] = {}
    terms: dict[str, list[tuple[str, Edge]]] = {}
    tangents: dict[str, Any] = {}
    for s in trace.steps[: last + 1]:
        if s.phase == "forward":
            values[s.node] = s.value
            if isinstance(s, TangentStep):
                tangents[s.node] = s.tangent
            continue
        if not grads:  # the first backward step starts from d out / d out = 1
            grads[s.node] = s.upstream
        for e in s.edges:
            contributions[(e.input, s.node, e.position)] = e.contribution
            grads[e.input] = e.accumulated
            terms.setdefault(e.input, []).append((s.node, e))
    if index is None:
        grads = {n: g for n, g in trace.grads.items() if g is not None}
    step_record = None if index is None else trace.steps[index]
    return Frame(graph, trace, step_record, values, grads, contributions, terms, tangents)


def operand_edges(graph: nx.DiGraph, hidden: set[str] = frozenset()) -> list[tuple[str, str, int]]:
    """Every (input, node, position) drawn as an edge: ``x*x`` has two, unlike the DiGraph."""
    return [(arg, node, i) for node, data in graph.nodes(data=True) if data["kind"] == "op"
            for i, arg in enumerate(data["args"]) if arg not in hidden]


def folded_constants(graph: nx.DiGraph) -> set[str]:
    """Constants used only as the exponent of a pow: drawn inside the op (``^2``), not as leaves."""
    folded = set()
    for node, data in graph.nodes(data=True):
        if data["kind"] != "const" or node == graph.graph["output"]:
            continue
        uses = [(c, graph.nodes[c]) for c in graph.successors(node)]
        if uses and all(d.get("op") == "pow" and d["args"][1] == node and d["args"][0] != node for _, d in uses):
            folded.add(node)
    return folded
