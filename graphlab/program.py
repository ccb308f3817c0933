"""The operator graph's schema, and the typed :class:`Program` derived from a graph.

The graph stays a plain ``networkx.DiGraph``, the object users hold and inspect. Its schema,
written down once here:

* node fields: ``kind`` ("var", "const" or "op"); ``label`` (what a diagram writes); for an
  op ``op`` (a registry name) and ``args`` (operand keys, in order; an operand may repeat);
  for a constant ``value`` (an exact SymPy number); optional ``name`` (the user's name for an
  intermediate), ``pos`` (offset in the source), ``shape`` and ``param`` (tensor graphs);
* graph fields: ``output`` (a node key) and ``variables`` (the inputs, in order); optional
  ``source`` (the text), ``aliases`` (extra name -> node key), ``canonical``, and the MLP
  fields ``params``, ``inputs``, ``logits``, ``layers``, ``loss``....

Nothing derived is stored in the graph. Everything derived (the forward order, the operands'
consumers, which nodes a set of variables reaches, each interpretation's cached results)
lives in a :class:`Program`, built once per graph by :func:`program` and cached by the
graph's identity, so a copy or a subgraph never inherits another graph's cache.
"""

from __future__ import annotations

import weakref
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import networkx as nx

from .errors import GraphlabError
from .ops import OPS, Op

__all__ = ["NODE_KINDS", "Program", "program", "validate"]

NODE_KINDS = ("var", "const", "op")
REQUIRED_GRAPH_FIELDS = ("output", "variables")


def validate(graph: nx.DiGraph) -> None:
    """Raise :class:`GraphlabError` where ``graph`` does not follow the schema above."""
    for name in REQUIRED_GRAPH_FIELDS:
        if name not in graph.graph:
            raise GraphlabError(f"the graph has no {name!r} field (graph data: {', '.join(graph.graph) or 'none'})")
    if graph.graph["output"] not in graph:
        raise GraphlabError(f"the graph's output {graph.graph['output']!r} is not one of its nodes")
    for node, data in graph.nodes(data=True):
        kind = data.get("kind")
        if kind not in NODE_KINDS:
            raise GraphlabError(f"node {node!r} has kind {kind!r}; expected one of {', '.join(NODE_KINDS)}")
        if kind == "const" and "value" not in data:
            raise GraphlabError(f"constant node {node!r} has no value")
        if kind == "op":
            op = OPS.get(data.get("op"))
            if op is None:
                raise GraphlabError(f"node {node!r}: no op named {data.get('op')!r} in the registry")
            args = tuple(data.get("args", ()))
            if not op.check_arity(len(args)):
                raise GraphlabError(f"node {node!r}: op {op.name} takes {op.arity or '2 or more'} operands, "
                                    f"not {len(args)}")
            missing = [a for a in args if a not in graph]
            if missing:
                raise GraphlabError(f"node {node!r}: operand {missing[0]!r} is not a node of the graph")
    for v in graph.graph["variables"]:
        if v not in graph or graph.nodes[v]["kind"] != "var":
            raise GraphlabError(f"variable {v!r} is not a var node of the graph")


@dataclass(eq=False)
class Program:
    """A graph read once: a flat list of equations in forward order, and what is derived from it."""

    order: tuple[str, ...]  # every node, operands before the ops that use them
    kinds: dict[str, str]
    ops: dict[str, Op]  # op nodes only
    args: dict[str, tuple[str, ...]]  # op nodes only
    consts: dict[str, Any]  # constant nodes' exact values
    labels: dict[str, str]
    names: frozenset[str]  # op nodes the user named (q in q = x + y), and the output
    variables: tuple[str, ...]
    output: str
    consumers: dict[str, int]  # node -> how many operand slots read it (x*x: 2)
    cache: dict[Any, Any] = field(default_factory=dict, repr=False)  # per-interpretation results

    @classmethod
    def from_graph(cls, graph: nx.DiGraph) -> Program:
        validate(graph)
        order = tuple(nx.topological_sort(graph)) if not _stored_in_order(graph) else tuple(graph)
        kinds, ops, args, consts, labels = {}, {}, {}, {}, {}
        consumers = dict.fromkeys(order, 0)
        names = set()
        for node in order:
            data = graph.nodes[node]
            kinds[node] = data["kind"]
            labels[node] = data.get("label", node)
            if data["kind"] == "const":
                consts[node] = data["value"]
            elif data["kind"] == "op":
                ops[node] = OPS[data["op"]]
                args[node] = tuple(data["args"])
                for a in args[node]:
                    consumers[a] += 1
                if data.get("name"):
                    names.add(node)
        return cls(order, kinds, ops, args, consts, labels, frozenset(names), tuple(graph.graph["variables"]),
                   graph.graph["output"], consumers)

    def cone(self, output: str) -> tuple[str, ...]:
        """The nodes ``output`` depends on (itself included), in forward order."""
        key = ("cone", output)
        if key not in self.cache:
            if output not in self.kinds:
                raise GraphlabError(f"no node named {output!r} in the graph")
            keep = {output}
            for node in reversed(self.order):
                if node in keep and node in self.args:
                    keep.update(self.args[node])
            self.cache[key] = tuple(n for n in self.order if n in keep)
        return self.cache[key]

    def reached(self, sources: Iterable[str], nodes: Iterable[str] | None = None) -> frozenset[str]:
        """The nodes (of ``nodes``, forward order) that depend on some node in ``sources``:
        only these receive gradients with respect to the sources."""
        sources = frozenset(sources)
        key = ("reached", sources, None if nodes is None else tuple(nodes))
        if key not in self.cache:
            found: set[str] = set()
            for node in self.order if nodes is None else nodes:
                if node in sources or any(a in found for a in self.args.get(node, ())):
                    found.add(node)
            self.cache[key] = frozenset(found)
        return self.cache[key]

    def is_named(self, node: str) -> bool:
        """A variable, or an intermediate the user named: the lecture writes it by its name."""
        return self.kinds[node] == "var" or node in self.names


def _stored_in_order(graph: nx.DiGraph) -> bool:
    seen: set[str] = set()
    for node, data in graph.nodes(data=True):
        if any(a not in seen for a in data.get("args", ())):
            return False
        seen.add(node)
    return True


_PROGRAMS: weakref.WeakKeyDictionary[nx.DiGraph, tuple[tuple, Program]] = weakref.WeakKeyDictionary()


def _fingerprint(graph: nx.DiGraph) -> tuple:
    return (graph.number_of_nodes(), graph.number_of_edges(), graph.graph.get("output"),
            tuple(graph.graph.get("variables", ())))


def program(graph: nx.DiGraph) -> Program:
    """The :class:`Program` of ``graph``, built on first use and cached by the graph's identity
    (rebuilt if nodes, edges, the output or the variables changed since)."""
    fingerprint = _fingerprint(graph)
    found = _PROGRAMS.get(graph)
    if found is None or found[0] != fingerprint:
        found = (fingerprint, Program.from_graph(graph))
        _PROGRAMS[graph] = found
    return found[1]
