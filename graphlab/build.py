"""Text (or a SymPy expression) -> the operator graph, a plain ``networkx.DiGraph``.

Conventions (see DESIGN.md):

* node keys are strings: a variable's name, a constant as written (``"2"``, ``"pi"``),
  the user's name for an intermediate (``"q"``), otherwise ``"v1"``, ``"v2"``...;
* node data is plain: ``kind`` ("var", "const", "op"), ``op`` and ``args`` (operand
  keys, in order, so ``x^x`` keeps both operands), ``name``, ``label``, ``pos``
  (0-based offset in the source) and, for constants, ``value`` (an exact SymPy number);
* a repeated subexpression is one node, so ``x2`` in ``log(x1 x2) sin(x2)`` feeds two ops;
* the user's grouping is kept; ``canonical=True`` gives SymPy's n-ary form instead;
* graph data: ``output`` (key), ``source``, ``variables`` (names, in order of first
  appearance), ``aliases`` (extra names for a node), ``canonical``;
* matrices: given the variables' ``shapes``, every node gets its ``shape`` (``()`` a scalar,
  ``(rows, columns)``), and the graph ``matrices=True``. The operands' shapes decide the op:
  a product of two matrices is ``matmul``, and ``X W + b`` with a bias vector ``b`` adds a
  visible ``repmat(b, N)`` node (the lecture's repmat(bᵀ)); a bias of shape ``(units,)`` (what
  :func:`graphlab.nn.mlp` declares; ``--shape`` cannot) is broadcast by one ``bias_add`` instead.
  Shapes that do not fit are a :class:`ParseError` at the operator's column that names both shapes;
* nodes are inserted in topological order, so ``list(graph)`` is a forward order.

Values never live in the graph: one graph serves many input points.
"""

from __future__ import annotations

import gc
import re
from collections.abc import Collection, Iterator
from contextlib import contextmanager

import networkx as nx
import sympy as sp

from .arithmetic import MAX_EXACT_BITS, Symbolic, check_exact_pow, symbol
from .errors import GraphlabError, ParseError
from .evaluate import evaluate
from .ops import OPS, Shape, ShapeError, shape_text, sympy_family, sympy_heads
from .parse import parse
from .program import program

__all__ = ["OperatorGraph", "MAX_NODES", "MAX_EXACT_BITS", "MAX_SYMBOLIC_NODES", "MAX_SYMBOLIC_DEPTH",
           "MAX_SYMBOLIC_SIZE",
           "GraphBuilder", "from_text", "from_sympy", "node_expr", "symbol", "check_exact_pow", "check_symbolic_size",
           "symbolic_shape", "forward_order", "gc_paused"]

MAX_NODES = 50_000  # a larger graph is refused while it is being built
MAX_SYMBOLIC_NODES = 400  # SymPy works recursively and slowly: symbolic forms stop at this size
MAX_SYMBOLIC_SIZE = 1_000  # ...and this many terms once shared subexpressions are written out
MAX_SYMBOLIC_DEPTH = 40  # ...and this depth: SymPy recurses, and diff of deep chains slows quadratically
MAX_LITERAL_DIGITS = 400  # longer number literals (or exponents beyond 10^±400) are refused


class OperatorGraph(nx.DiGraph):
    """The operator graph: a ``networkx.DiGraph`` in every way, that also reads well in a REPL
    (``<graphlab graph '(x+y)z': 5 nodes, ...>``) and draws itself in Jupyter. Copies, subgraphs
    and views keep the class (NetworkX builds them with ``G.__class__()``)."""

    def __repr__(self) -> str:
        from .present import graph_summary  # present needs trace, which needs this module

        return graph_summary(self)

    def _repr_svg_(self) -> str | None:
        from .present import diagram_svg

        return diagram_svg(self)


def _literal_value(text: str) -> sp.Expr:
    if text == "e":
        return sp.E
    if text == "pi":
        return sp.pi
    return sp.Rational(text)  # exact: 0.35 is 7/20


_LITERAL = re.compile(r"-?(\d*)\.?(\d*)(?:[eE]([+-]?\d+))?")


class GraphBuilder:
    """Receives the parser's calls and makes the graph, sharing repeated subexpressions."""

    def __init__(self, text: str = "", shapes: dict[str, Shape] | None = None):
        self.text = text
        self.shapes = shapes or {}  # variable -> its shape (matrices); others are scalars
        self.nodes: list[dict] = []  # in creation (= topological) order
        self.index: dict[tuple, int] = {}  # structural key -> node id
        self.names: dict[str, int] = {}  # assigned names
        self.var_pos: dict[str, int] = {}  # variable name -> first position
        self.aliases: dict[str, int] = {}
        self.output: int | None = None

    def _error(self, message: str, pos: int) -> ParseError:
        return ParseError(message, pos, self.text)

    def _add(self, key: tuple, pos: int, **data) -> str:
        found = self.index.get(key)
        if found is not None:
            return str(found)
        if len(self.nodes) >= MAX_NODES:
            raise self._error(f"the graph would have more than {MAX_NODES:,} nodes", pos)
        self.index[key] = len(self.nodes)
        self.nodes.append({"pos": pos, "name": None, **data})
        return str(len(self.nodes) - 1)

    # The parser speaks in string handles; internally they are node ids.
    def var(self, name: str, pos: int) -> str:
        if name in self.names:
            return str(self.names[name])
        self.var_pos.setdefault(name, pos)
        return self._add(("var", name), pos, kind="var", label=name, shape=tuple(self.shapes.get(name, ())))

    def const(self, text: str, pos: int) -> str:
        m = _LITERAL.fullmatch(text)
        if m and (len(m.group(1)) + len(m.group(2)) > MAX_LITERAL_DIGITS
                  or (m.group(3) and abs(int(m.group(3))) > MAX_LITERAL_DIGITS)):
            raise self._error(f"number {text[:20]}... is too large (at most {MAX_LITERAL_DIGITS} digits)", pos)
        value = _literal_value(text)
        return self._add(("const", value), pos, kind="const", label=text, value=value, shape=())

    def is_matrix(self, node: str) -> bool:
        return bool(self.nodes[int(node)]["shape"])

    def apply(self, op: str, args: list[str], pos: int) -> str:
        shapes = [self.nodes[int(a)]["shape"] for a in args]
        if op == "mul" and len(shapes) == 2 and all(shapes):  # X W: the product of two matrices
            op = "matmul"
        if op == "add" and len(shapes) == 2 and sorted(map(len, shapes)) == [1, 2]:  # an MLP's bias b (units,)
            op, args = "bias_add", args if len(shapes[0]) == 2 else args[::-1]  # broadcast, as nn.mlp trains it
            shapes = [self.nodes[int(a)]["shape"] for a in args]
        if op in ("add", "sub") and len(shapes) == 2 and all(shapes) and shapes[0] != shapes[1]:
            args = self._broadcast_bias(args, shapes)
            shapes = [self.nodes[int(a)]["shape"] for a in args]
        if OPS[op].tensor and not any(shapes):
            raise ParseError(f"{op} takes matrices", pos, self.text,
                             "give a variable a matrix value (--at A=[[1,2],[3,4]]) or a shape (--shape A=2x2)")
        try:
            shape = OPS[op].result_shape(shapes)
        except ShapeError as e:
            what, why = (*e.args, "")[:2]
            raise ParseError(self._shape_message(op, shapes, what), pos, self.text,
                             why + self._transpose_hint(op, args, shapes)) from None
        ids = tuple(int(a) for a in args)
        return self._add(("op", op, ids), pos, kind="op", op=op, args=ids, shape=shape)

    def _broadcast_bias(self, args: list[str], shapes: list[Shape]) -> list[str]:
        """``Z + b``, Z an N×l matrix and b a bias vector of l entries (l×1 or 1×l): b becomes the
        lecture's repmat(bᵀ), a visible node whose backward step sums over the rows."""
        for k in (1, 0):
            matrix, vector = shapes[1 - k], shapes[k]
            if 1 in vector and max(vector, key=lambda d: d != 1) == matrix[1] and matrix[0] != 1:
                rows = self.const(str(matrix[0]), 0) if isinstance(matrix[0], int) else self._size(matrix[0])
                ids = (int(args[k]), int(rows))
                repeated = self._add(("op", "repmat", ids), self.nodes[int(args[k])]["pos"], kind="op", op="repmat",
                                     args=ids, shape=matrix)
                return [repeated, args[1]] if k == 0 else [args[0], repeated]
        return args

    def _size(self, name: str) -> str:
        """A symbolic size (N) as a constant node: the row count of a repmat."""
        value = sp.Symbol(name, positive=True, integer=True)
        return self._add(("const", value), 0, kind="const", label=name, value=value, shape=())

    @staticmethod
    def _shape_message(op: str, shapes: list[Shape], what: str) -> str:
        a, b = (shape_text(s) for s in (shapes + shapes)[:2])
        return {"add": f"cannot add {a} and {b}", "sub": f"cannot subtract {b} from {a}",
                "hadamard": f"cannot multiply {a} and {b} elementwise",
                "div": f"cannot divide {a} by {b}"}.get(op, what)

    def _transpose_hint(self, op: str, args: list[str], shapes: list[Shape]) -> str:
        """``; did you mean W1^T?`` where transposing one operand makes the shapes fit."""
        if op != "matmul" or not all(shapes):
            return ""
        (r, k), (m, c) = shapes
        names = [self.nodes[int(a)].get("label") or self.nodes[int(a)].get("name") for a in args]
        for fits, i in ((k == c, 1), (r == m, 0)):
            if fits and names[i]:
                return f"; did you mean {names[i]}^T?"
        return ""

    def assign(self, name: str, node: str, pos: int) -> None:
        if name in self.names or name in self.aliases:
            raise self._error(f"{name!r} is assigned twice", pos)
        if name in self.var_pos:
            first = self.var_pos[name] + 1
            raise self._error(f"{name!r} is used as a variable at column {first} before it is assigned", pos)
        data = self.nodes[int(node)]
        if data["kind"] == "op" and data["name"] is None:
            data["name"] = name
            self.names[name] = int(node)
        else:  # a leaf, or a node the user already named: the name is an alias
            self.aliases[name] = int(node)
            self.names[name] = int(node)

    def finish(self, node: str) -> None:
        self.output = int(node)

    def graph(self, canonical: bool = False) -> nx.DiGraph:
        taken = set(self.var_pos) | set(self.names)
        out = self.nodes[self.output]
        if out["kind"] == "op" and out["name"] is None:  # the lecture's f(x, y, z)
            out["name"] = next(n for n in ("f", "out", "output") if n not in taken)
            taken.add(out["name"])
        keys: list[str] = []
        counter = 0
        for data in self.nodes:
            if data["kind"] == "var":
                keys.append(data["label"])
            elif data["kind"] == "const":
                keys.append(data["label"])
            elif data["name"] is not None:
                keys.append(data["name"])
            else:
                counter += 1
                while f"v{counter}" in taken:
                    counter += 1
                keys.append(f"v{counter}")
        g = OperatorGraph(
            output=keys[self.output],
            source=self.text,
            variables=tuple(self.var_pos),
            aliases={alias: keys[i] for alias, i in self.aliases.items()},
            canonical=canonical,
        )
        if any(data["shape"] for data in self.nodes):
            g.graph["matrices"] = True
        for key, data in zip(keys, self.nodes):
            attrs = dict(data)
            if data["kind"] == "op":
                attrs["args"] = tuple(keys[i] for i in data["args"])
                attrs["label"] = data["name"] or key
            g.add_node(key, **attrs)
            for arg in attrs.get("args", ()):
                g.add_edge(arg, key)
        return g


@contextmanager
def gc_paused() -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a graph or a trace is built.

    Building allocates tens of thousands of small objects (tokens, node dicts, steps) and no
    garbage cycles; every collection the allocations trigger rescans all of them, which made a
    10,000-node graph cost ~18x a 1,000-node one instead of ~10x. Cycles are collected as usual
    once the collector runs again.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def from_text(text: str, canonical: bool = False, names: Collection[str] = (),
              shapes: dict[str, Shape] | None = None) -> OperatorGraph:
    """Parse ``text`` and build its graph. Raises :class:`ParseError` for bad input.

    ``names`` are plainly variables (see :func:`graphlab.parse.parse`); ``shapes`` gives variables
    that hold matrices their shapes (``{"X": (4, 2), "W1": (2, 2)}``; a size may be a name, ``"N"``)."""
    if canonical and shapes and any(shapes.values()):
        raise GraphlabError("the canonical form is for scalar expressions; matrices keep your grouping")
    builder = GraphBuilder(text, shapes)
    with gc_paused():
        parse(text, builder, names)
        g = builder.graph()
    if canonical:
        return from_sympy(node_expr(g, g.graph["output"]), source=text)
    return g


def from_sympy(expr: sp.Expr, source: str = "") -> OperatorGraph:
    """Build the graph of a SymPy expression in its canonical n-ary form (Add, Mul, Pow...)."""
    builder = GraphBuilder(source)
    heads = sympy_heads()
    handle: dict[sp.Basic, str] = {}
    stack = [(expr, False)]
    while stack:  # iterative post-order: deep expressions must not hit the recursion limit
        e, ready = stack.pop()
        if e in handle:
            continue
        if e.is_Symbol:
            handle[e] = builder.var(e.name, 0)
        elif e.is_Number or e in (sp.E, sp.pi):
            handle[e] = builder.const("e" if e is sp.E else "pi" if e is sp.pi else str(e), 0)
        elif not ready:
            stack.append((e, True))
            stack.extend((a, False) for a in reversed(e.args))
        else:
            op = heads.get(e.func)
            if op is None:
                raise GraphlabError(f"no graphlab op for SymPy's {e.func.__name__}")
            args = [handle[a] for a in e.args]
            if OPS[op].arity == 2 and len(args) > 2:  # SymPy's Max/Min are n-ary; ours are binary
                node = args[0]
                for a in args[1:]:
                    node = builder.apply(op, [node, a], 0)
                handle[e] = node
            else:
                handle[e] = builder.apply(op, args, 0)
    builder.finish(handle[expr])
    return builder.graph(canonical=True)


def forward_order(graph: nx.DiGraph) -> list[str]:
    """Nodes in a topological order (graphs built here are stored in one already)."""
    return list(program(graph).order)


def symbolic_shape(graph: nx.DiGraph) -> tuple[int, int]:
    """(depth, size) of the graph's SymPy form, the DAG unfolded into a tree.

    SymPy flattens a + b + c (and a b c) into one node, so a chain of additions (or of
    products) adds no depth. A subexpression used twice is counted twice in the size:
    that is what SymPy's printing and diff pay for."""
    depth: dict[str, int] = {}
    size: dict[str, int] = {}
    family: dict[str, type | None] = {}  # sp.Add, sp.Mul or None, per node
    for node in forward_order(graph):
        data = graph.nodes[node]
        family[node] = sympy_family(OPS[data["op"]]) if data.get("op") else None
        args = data.get("args", ())
        depth[node] = max((depth[a] + (family[node] is None or family[a] != family[node])
                           for a in args), default=0)
        size[node] = 1 + sum(size[a] for a in args)
    out = graph.graph["output"]
    return depth[out], size[out]


def check_symbolic_size(graph: nx.DiGraph) -> int:
    """Refuse graphs too large or deep for SymPy (it recurses, and slows down with size); else
    the size of the graph's SymPy form."""
    cache = program(graph).cache
    if "symbolic_size" not in cache:
        n = graph.number_of_nodes()
        if n > MAX_SYMBOLIC_NODES:
            raise GraphlabError(f"symbolic forms are limited to {MAX_SYMBOLIC_NODES} nodes (this graph has {n:,})")
        depth, size = symbolic_shape(graph)
        if depth > MAX_SYMBOLIC_DEPTH:
            raise GraphlabError(f"symbolic forms are limited to depth {MAX_SYMBOLIC_DEPTH} "
                                f"(this graph's is {depth:,})")
        if size > MAX_SYMBOLIC_SIZE:
            raise GraphlabError(f"the symbolic form would have {size:,} terms, over the limit of "
                                f"{MAX_SYMBOLIC_SIZE:,} (shared subexpressions are repeated in it)")
        cache["symbolic_size"] = size
    return cache["symbolic_size"]


def node_expr(graph: nx.DiGraph, key: str) -> sp.Expr:
    """The SymPy expression a node computes, in the variables. Built on first use, then cached.

    Raises :class:`GraphlabError` for graphs beyond :func:`check_symbolic_size`'s limits."""
    prog = program(graph)
    if "exprs" not in prog.cache:
        check_symbolic_size(graph)
        prog.cache["exprs"] = evaluate(prog, Symbolic(), backward=False).values
    return prog.cache["exprs"][key]
