"""The sum over paths, made visible: every path from a variable to the output, the product of the
local gradients along it, and their sum, which is the gradient.

The chain rule read path by path: ∂f/∂x = Σ over paths x → … → f of the product of the local
gradients on the path's edges. Reverse mode computes the same sum without listing the paths (a node
used twice sums what arrives); listing them shows where each part of the gradient comes from, as
the lecture's "sum over successors" unrolled. The local gradients are the trace's own, so the sum
equals the trace's gradient; their number can grow exponentially with depth, so at most
:data:`MAX_PATHS` are listed.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from .errors import GraphlabError
from .program import program
from .trace import Trace, local_formula

__all__ = ["MAX_PATHS", "PathTerm", "paths", "path_count", "path_edges"]

MAX_PATHS = 64


@dataclass(frozen=True)
class PathTerm:
    """One path from the variable to the output: its nodes (variable first), its edges (node, operand
    position), each edge's local gradient as a formula and a number (output end first, as the lecture
    writes ∂f/∂q · ∂q/∂x), and their product."""

    nodes: tuple[str, ...]
    edges: tuple[tuple[str, int], ...]  # (the op node, the operand position), output end first
    formulas: tuple[str, ...]
    locals: tuple[Any, ...]
    product: Any


def path_edges(terms: list[PathTerm]) -> tuple[tuple[str, str, int], ...]:
    """The operand edges (input, node, position) the paths run along, each once: what a diagram marks."""
    return tuple(dict.fromkeys((p.nodes[i], node, position) for p in terms
                               for i, (node, position) in enumerate(reversed(p.edges))))


def path_count(trace: Trace, variable: str) -> int:
    """How many paths lead from ``variable`` to the output (counted, not listed)."""
    prog = program(trace.graph)
    count = dict.fromkeys(prog.order, 0)
    count[prog.output] = 1
    for node in reversed(prog.order):
        for a in prog.args.get(node, ()):
            count[a] += count[node]
    return count[variable]


def paths(trace: Trace, variable: str) -> list[PathTerm]:
    """Every path from ``variable`` to the output, with its product of local gradients; the products sum
    to ``trace.gradient[variable]``. Refused over matrices (a path's factors are matrices there) and
    beyond :data:`MAX_PATHS` paths."""
    from .present import formula

    g = trace.graph
    if g.graph.get("matrices"):
        raise GraphlabError("paths multiply scalar local gradients; over matrices the factors are VJPs: "
                            "see the backward steps in matrix form")
    prog = program(g)
    if variable not in prog.variables:
        raise GraphlabError(f"no variable named {variable!r} (variables: {', '.join(prog.variables) or 'none'})")
    n = path_count(trace, variable)
    if n > MAX_PATHS:
        raise GraphlabError(f"{variable} reaches the output by {n:,} paths; at most {MAX_PATHS} are listed")
    local = {(s.node, e.position): e.local for s in trace.backward_steps for e in s.edges}
    users: dict[str, list[tuple[str, int]]] = {}
    for node in prog.order:
        for i, a in enumerate(prog.args.get(node, ())):
            users.setdefault(a, []).append((node, i))
    found: list[PathTerm] = []
    stack: list[tuple[str, tuple[tuple[str, int], ...]]] = [(variable, ())]
    while stack:  # iterative: deep graphs must not hit the recursion limit
        node, edges = stack.pop()
        if node == prog.output:
            chain = tuple(reversed(edges))  # output end first
            factors = tuple(local.get(e) for e in chain)
            product = None if any(f is None for f in factors) else _product(factors, trace)
            found.append(PathTerm((variable, *(e[0] for e in edges)), chain,
                                  tuple(formula(local_formula(g, *e)) for e in chain), factors, product))
            continue
        for user in reversed(users.get(node, [])):
            stack.append((user[0], (*edges, user)))
    return found


def _product(factors: tuple[Any, ...], trace: Trace) -> Any:
    result = 1.0 if trace.mode == "float" else 1
    for f in factors:
        result = result * f
    return result
