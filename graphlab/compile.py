"""Graph -> the Python source of one function computing the output and its gradients.

The function is straight-line code over the array module ``xp`` it is given (NumPy,
CuPy, anything with NumPy's names), so it is vectorized for free: a scalar expression
runs over a grid of points, a tensor graph over a batch. Variables are named after the
graph's nodes, so the code reads like the diagram::

    def compiled(xp, x, y, z):
        q = x + y
        f = q * z
        d_f = xp.ones_like(f)
        d_q = unbroadcast(xp, d_f * z, xp.shape(q))
        ...

Every line comes from the op registry's rule texts (forward, and VJP: ``g * local`` for
scalar ops), with the operands' names put in for ``a``, ``b``, ``out`` and ``g``; the
compiler knows no op's math. Broadcasting is undone in one helper, :func:`unbroadcast`.
The source is kept (``Compiled.source``) and registered with :mod:`linecache`, so a
traceback through generated code shows its lines. Compiled functions are cached per graph.
"""

from __future__ import annotations

import ast
import hashlib
import keyword
import linecache
import operator
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from .errors import GraphlabError
from .ops import OPS, operand_names

__all__ = ["Compiled", "compile_graph", "compile_source", "unbroadcast", "central_differences"]

# Names the generated code uses for itself; a node with one of these names is renamed.
_RESERVED = {"xp", "unbroadcast"}


def unbroadcast(xp: Any, g: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``g`` back to ``shape``: the gradient of an operand that was broadcast.

    NumPy broadcasting prepends axes and stretches axes of length 1; the gradient sums
    over exactly those. The one place broadcasting is undone, for every op.
    """
    g_shape = xp.shape(g)
    if g_shape == tuple(shape):
        return g
    extra = len(g_shape) - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1 and g_shape[i + extra] != 1)
    g = xp.sum(g, axis=axes, keepdims=True) if axes else g
    return xp.reshape(g, shape)


# ----------------------------------------------------------------------------- rule text -> code
_FOLD = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


class _Substitute(ast.NodeTransformer):
    """Put the operands' names (or constants' values) in for a rule's ``a``, ``b``, ``out``, ``g``."""

    def __init__(self, names: Mapping[str, ast.expr]):
        self.names = names

    def visit_Name(self, node: ast.Name) -> ast.expr:
        return self.names.get(node.id, node)

    def visit_BinOp(self, node: ast.BinOp) -> ast.expr:
        # Fold what the substitution made trivial: 2.0 - 1 -> 1.0, g * 1 -> g, g * -1 -> -g.
        self.generic_visit(node)
        left, right = node.left, node.right
        num = (int, float)
        if isinstance(left, ast.Constant) and isinstance(right, ast.Constant) and type(node.op) in _FOLD:
            if isinstance(left.value, num) and isinstance(right.value, num) and not (
                    isinstance(node.op, ast.Div) and right.value == 0):
                return ast.Constant(_FOLD[type(node.op)](left.value, right.value))
        if isinstance(node.op, ast.Mult):
            for keep, const in ((left, right), (right, left)):
                if isinstance(const, ast.Constant) and const.value == 1:
                    return keep
                if isinstance(const, ast.UnaryOp) and isinstance(const.op, ast.USub) and \
                        isinstance(const.operand, ast.Constant) and const.operand.value == 1:
                    return ast.UnaryOp(ast.USub(), keep)
        return node


def _instantiate(rule: str, names: Mapping[str, ast.expr]) -> str:
    tree = ast.parse(rule, mode="eval")
    return ast.unparse(ast.fix_missing_locations(_Substitute(names).visit(tree)))


def _identifier(key: str, taken: set[str]) -> str:
    name = re.sub(r"\W", "_", key)
    if not name or name[0].isdigit():
        name = "n_" + name
    if keyword.iskeyword(name) or name in _RESERVED:
        name += "_"
    base, i = name, 1
    while name in taken:
        i += 1
        name = f"{base}_{i}"
    taken.add(name)
    return name


def _ancestors_and_self(graph: nx.DiGraph, node: str) -> set[str]:
    return nx.ancestors(graph, node) | {node}


def compile_source(graph: nx.DiGraph, wrt: Iterable[str] | None = None, output: str | None = None,
                   name: str = "compiled") -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The source of ``def name(xp, <inputs>)`` returning ``(output, (d output / d w for w in wrt))``.

    ``wrt`` defaults to every variable; ``()`` gives a forward-only function. ``output``
    defaults to the graph's output; only the nodes it depends on are computed.
    Returns ``(source, inputs, wrt)``: the function's parameters after ``xp``, in order.
    """
    output = graph.graph["output"] if output is None else output
    if output not in graph:
        raise GraphlabError(f"no node named {output!r} in the graph")
    live = _ancestors_and_self(graph, output)
    order = [n for n in graph if n in live]
    inputs = tuple(v for v in graph.graph["variables"] if v in live)
    wrt = inputs if wrt is None else tuple(wrt)
    unknown = [w for w in wrt if w not in inputs]
    if unknown:
        raise GraphlabError(f"cannot differentiate with respect to {', '.join(unknown)}: "
                            f"not a variable the output depends on (variables: {', '.join(inputs) or 'none'})")

    taken = set(_RESERVED) | {name}
    ident: dict[str, str] = {}
    for node in order:
        if graph.nodes[node]["kind"] != "const":
            ident[node] = _identifier(node, taken)

    def operand(node: str) -> ast.expr:
        data = graph.nodes[node]
        if data["kind"] == "const":  # inlined: 2.0, 3.141592653589793
            return ast.Constant(float(data["value"]))
        return ast.Name(ident[node], ast.Load())

    lines = [f"def {name}(xp, {', '.join(ident[v] for v in inputs)}):" if inputs else f"def {name}(xp):"]
    source_text = graph.graph.get("source", "")
    if source_text:
        lines.append(f"    # {' '.join(source_text.replace(chr(10), '; ').split())[:100]}")  # one line: no text escapes it
    for node in order:
        data = graph.nodes[node]
        if data["kind"] != "op":
            continue
        args = data["args"]
        names = dict(zip(operand_names(len(args)), map(operand, args), strict=True))
        lines.append(f"    {ident[node]} = {_instantiate(OPS[data['op']].forward_rule(len(args)), names)}")
    if not ident.get(output):  # a constant output
        lines.append(f"    return {ast.unparse(operand(output))}, ()")
        return "\n".join(lines) + "\n", inputs, wrt

    # Backward: only nodes on a path from a requested variable to the output get gradients.
    needs: set[str] = set(wrt)
    for node in order:
        data = graph.nodes[node]
        if data["kind"] == "op" and any(a in needs for a in data["args"]):
            needs.add(node)
    grad: dict[str, str] = {}
    if wrt:
        lines.append("    # backward: d_n is d " + output + " / d n")
        grad[output] = _identifier(f"d_{ident[output]}", taken)
        lines.append(f"    {grad[output]} = xp.ones_like({ident[output]})")
    for node in reversed(order):
        data = graph.nodes[node]
        if data["kind"] != "op" or node not in needs or node not in grad:
            continue
        args = data["args"]
        op = OPS[data["op"]]
        names = dict(zip(operand_names(len(args)), map(operand, args), strict=True))
        names["out"] = ast.Name(ident[node], ast.Load())
        names["g"] = ast.Name(grad[node], ast.Load())
        for arg, rule in zip(args, op.vjp_rules(len(args)), strict=True):
            if arg not in needs:
                continue
            term = f"unbroadcast(xp, {_instantiate(rule, names)}, xp.shape({ident[arg]}))"
            if arg in grad:
                lines.append(f"    {grad[arg]} = {grad[arg]} + {term}")
            else:
                grad[arg] = _identifier(f"d_{ident[arg]}", taken)
                lines.append(f"    {grad[arg]} = {term}")
    results = [grad.get(w, f"xp.zeros_like({ident[w]})") for w in wrt]
    lines.append(f"    return {ident[output]}, ({', '.join(results)}{',' if len(results) == 1 else ''})")
    return "\n".join(lines) + "\n", inputs, wrt


def _load(source: str, filename: str, name: str) -> Callable:
    # Only source generated by compile_source reaches exec: the registry's own rule texts
    # and identifiers made from node keys (sanitized by _identifier); constants are
    # inlined as float literals. User text never reaches exec or eval.
    linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
    namespace: dict[str, Any] = {"unbroadcast": unbroadcast}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated code only, see above
    return namespace[name]


@dataclass(frozen=True)
class Compiled:
    """A compiled graph: ``fn(xp, *inputs) -> (output, grads)`` and its printable source."""

    fn: Callable
    source: str
    inputs: tuple[str, ...]  # fn's parameters after xp, in order
    wrt: tuple[str, ...]  # grads[i] is d output / d wrt[i]
    output: str

    def __call__(self, values: Mapping[str, Any], xp: Any = np) -> tuple[Any, dict[str, Any]]:
        """Run on ``values`` (variable -> number or array): the output and ``{w: d output / d w}``."""
        missing = [v for v in self.inputs if v not in values]
        if missing:
            raise GraphlabError(f"no value for {', '.join(missing)}")
        # plain Python numbers become float64 arrays: 1/0 is inf (with a warning), as in the trace
        args = (values[v] if hasattr(values[v], "shape") else xp.asarray(values[v], dtype=xp.float64)
                for v in self.inputs)
        out, grads = self.fn(xp, *args)
        return out, dict(zip(self.wrt, grads, strict=True))

    def __str__(self) -> str:
        return self.source


def compile_graph(graph: nx.DiGraph, wrt: Iterable[str] | None = None, output: str | None = None) -> Compiled:
    """Compile ``graph`` (cached per graph, ``wrt`` and ``output``)."""
    key = (None if wrt is None else tuple(wrt), output)
    cache: dict = graph.graph.setdefault("_compiled", {})
    if key not in cache:
        source, inputs, wrt_names = compile_source(graph, wrt, output)
        digest = hashlib.sha1(source.encode()).hexdigest()[:10]
        fn = _load(source, f"<graphlab compiled {digest}>", "compiled")
        cache[key] = Compiled(fn, source, inputs, wrt_names, graph.graph["output"] if output is None else output)
    return cache[key]


def central_differences(compiled: Compiled, values: Mapping[str, Any], wrt: Iterable[str],
                        h: float = 1e-6) -> dict[str, np.ndarray]:
    """d output / d w by central differences, element by element: the independent check of every VJP."""
    numeric = {}
    for w in wrt:
        base = np.asarray(values[w], dtype=np.float64)
        grad = np.zeros_like(base)
        for i in np.ndindex(base.shape):
            plus, minus = base.copy(), base.copy()
            plus[i] += h
            minus[i] -= h
            grad[i] = (compiled({**values, w: plus})[0] - compiled({**values, w: minus})[0]) / (2 * h)
        numeric[w] = grad
    return numeric
