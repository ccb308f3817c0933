"""What the reuse of computation saves: multiplications for every gradient of the output, three ways.

* **reverse**: one backward pass. Each edge (operand slot) on the way from a variable to the
  output multiplies the upstream gradient by its local gradient once, and a node used several
  times sums what arrives, so what is shared is computed once.
* **forward**: one forward-mode pass per input (:mod:`graphlab.forward`). The pass for x
  multiplies each edge that x reaches: its local gradient times the operand's tangent.
* **paths**: every path's product written out on its own, as the chain rule's "sum over paths"
  reads: a path of k local gradients is a product of k factors, k - 1 multiplications, and nothing
  is shared between paths (their number can grow exponentially with depth).

The count is of multiplications by a local gradient, and a product of k factors is k - 1 of them:
the seed 1 (∂out/∂out in reverse, ∂x/∂x in forward) is no factor, so ``(x+y)z`` costs 2 each way.
Additions, and the forward evaluation of the values that every approach needs first, are left out.
These are counts read from the graph's structure; a local gradient that happens to be 1 or 0 at
a point still counts.

A network over matrices is counted by its size instead: :func:`parameters` (the lecture's 784-200-10
MLP has 159,010).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import networkx as nx

from .program import program

__all__ = ["MAX_PER_INPUT", "Cost", "cost", "count_text", "count_json", "is_parameter", "parameters",
           "parameter_line"]


MAX_PER_INPUT = 64  # beyond this many inputs, the forward passes are counted in total only


@dataclass(frozen=True)
class Cost:
    inputs: tuple[str, ...]  # the variables, in order
    reverse: int  # one reverse pass
    forward_total: int  # one forward pass per input, all of them
    forward: dict[str, int] | None  # variable -> its forward pass (None past MAX_PER_INPUT inputs)
    paths: int  # paths from a variable to the output, over all variables
    path_products: int  # writing out every path's product

    def rows(self) -> list[tuple[str, int]]:
        """(approach, multiplications), as the CLI and the app show them."""
        n, paths = len(self.inputs), self.paths
        return [("one reverse pass", self.reverse),
                (f"{n:,} forward pass{'es' if n != 1 else ''}, one per input", self.forward_total),
                (f"{count_text(paths)} path{'s' if paths != 1 else ''}, each product written out", self.path_products)]

    def to_json(self) -> dict:
        return {"unit": "multiplications by a local gradient (a product of k factors is k - 1; the seed 1 is not one)",
                "inputs": len(self.inputs), "reverse": count_json(self.reverse),
                "forward": count_json(self.forward_total),
                "forward_per_input": None if self.forward is None else
                {v: count_json(n) for v, n in self.forward.items()},
                "paths": count_json(self.paths), "path_products": count_json(self.path_products)}


def cost(graph: nx.DiGraph) -> Cost:
    """The three counts for ∂out/∂v of every variable v (see the module docstring)."""
    prog = program(graph)
    if "cost" in prog.cache:
        return prog.cache["cost"]
    nodes = prog.cone(prog.output)
    variables = prog.variables
    slots = [(a, n) for n in nodes for a in prog.args.get(n, ())]  # every edge, once per operand slot
    # which variables reach each node, one bit per variable (a Python int: the OR is one C loop)
    bit = {v: 1 << i for i, v in enumerate(variables)}
    reaches: dict[str, int] = {}
    for n in nodes:
        mask = bit.get(n, 0)
        for a in prog.args.get(n, ()):
            mask |= reaches[a]
        reaches[n] = mask
    # reverse: upstream × local on each edge a variable reaches; at the output the upstream is the seed 1
    reverse = sum(1 for a, n in slots if reaches[a] and n != prog.output)
    # forward, per x: local × tangent on each edge x reaches; an edge out of x itself carries the seed 1
    # (and no other variable reaches a variable), so an edge counts once per variable reaching its op operand
    forward_total = sum(reaches[a].bit_count() for a, _ in slots if a in prog.ops)
    forward = None
    if len(variables) <= MAX_PER_INPUT:
        counts = [0] * len(variables)
        for a, _ in slots:
            mask = reaches[a] if a in prog.ops else 0
            while mask:
                low = mask & -mask
                counts[low.bit_length() - 1] += 1
                mask ^= low
        forward = dict(zip(variables, counts))
    # paths: for each node, how many paths lead from it to the output and their total length (in factors)
    count = dict.fromkeys(nodes, 0)
    factors = dict.fromkeys(nodes, 0)
    count[prog.output] = 1
    for n in reversed(nodes):
        for a in prog.args.get(n, ()):
            count[a] += count[n]
            factors[a] += factors[n] + count[n]
    paths = sum(count.get(v, 0) for v in variables)
    # k factors: k - 1 multiplications (a variable that is the output has one path, of no factors)
    products = sum(factors.get(v, 0) - count.get(v, 0) for v in variables if v != prog.output)
    found = Cost(variables, reverse, forward_total, forward, paths, products)
    prog.cache["cost"] = found
    return found


def _scientific(n: int) -> str:
    """A count too large to write out: ``2.1e+1505`` (the number of paths grows exponentially)."""
    shift = max(0, n.bit_length() - 60)
    exponent10 = math.log10(n >> shift) + shift * math.log10(2)
    whole = math.floor(exponent10)
    mantissa = f"{10 ** (exponent10 - whole):.2g}"
    if mantissa == "10":  # 9.96 rounds up
        mantissa, whole = "1", whole + 1
    return f"{mantissa}e+{whole}"


def count_text(n: int) -> str:
    """``1,234``; past fifteen digits, ``2.1e+1505``."""
    return f"{n:,}" if n < 10**15 else _scientific(n)


def count_json(n: int) -> int | str:
    """The count as a JSON number while it is exact in a double; past that, its text in scientific form."""
    return n if n < 2**53 else _scientific(n)


def is_parameter(name: str) -> bool:
    """The lecture's names for weights and biases (W1, w, b2, θ) are parameters; the others (X, y, N) data."""
    return name[:1] in ("W", "w", "b", "θ") or name.startswith("theta")


def parameters(graph: nx.DiGraph) -> dict[str, int | str]:
    """Each parameter's number of entries (``"200·l"`` where a size is a name), from the variables' shapes."""
    found: dict[str, int | str] = {}
    for v in graph.graph["variables"]:
        if is_parameter(v):
            shape = graph.nodes[v].get("shape", ())
            sizes = [n for n in shape if n != 1] or [1]
            found[v] = math.prod(sizes) if all(isinstance(n, int) for n in sizes) else "·".join(map(str, sizes))
    return found


def parameter_line(g: nx.DiGraph) -> str:
    """``parameters: W1 784×200 = 156,800, b1 200×1 = 200, ...; total 159,010``."""
    from .ops import shape_text

    found = parameters(g)
    if not found:
        return "parameters: none (weights and biases are named W..., w..., b... or θ)"
    parts = [f"{v} {shape_text(g.nodes[v].get('shape', ()))} = {count_text(n) if isinstance(n, int) else n}"
             for v, n in found.items()]
    total = sum(n for n in found.values() if isinstance(n, int))
    symbolic = [n for n in found.values() if not isinstance(n, int)]
    return f"parameters: {', '.join(parts)}; total {' + '.join([count_text(total), *symbolic])}"
