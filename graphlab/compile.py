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
traceback through generated code shows its lines. Compiled functions are cached in the graph's
:class:`~graphlab.program.Program`.
"""

from __future__ import annotations

import ast
import hashlib
import importlib.util
import keyword
import linecache
import operator
import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np

from .errors import GraphlabError
from .evaluate import evaluate
from .ops import operand_names
from .program import program

__all__ = ["Compiled", "compile_graph", "compile_source", "unbroadcast", "central_differences", "loop_source",
           "BACKENDS", "FUSE_MIN"]

# Stands for an upstream gradient of exactly 1 (at the output): dropped from products, and a rule
# it cannot be dropped from falls back to an array of ones.
_ONE = "_one_"


# Names the generated code uses for itself; a node with one of these names is renamed.
_RESERVED = {"xp", "unbroadcast", _ONE}


def unbroadcast(xp: Any, g: Any, shape: tuple[int, ...], full: tuple[int, ...] | None = None) -> Any:
    """Sum ``g`` back to ``shape``: the gradient of an operand that was broadcast.

    NumPy broadcasting prepends axes and stretches axes of length 1; the gradient sums
    over exactly those. The one place broadcasting is undone, for every op. ``full``: the
    shape ``g`` stands for, where it was computed without the upstream ones (at the output).
    """
    g_shape = xp.shape(g)
    stretched = full is not None and g_shape != tuple(full)
    if stretched:  # a rule without the upstream ones may give a smaller shape than they had
        g = xp.broadcast_to(g, xp.broadcast_shapes(g_shape, tuple(full)))
        g_shape = xp.shape(g)
    if g_shape == tuple(shape):
        return xp.array(g) if stretched else g  # a fresh array, not a read-only view
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
        if isinstance(node.op, ast.Pow) and isinstance(right, ast.Constant) and right.value == 1:
            return left  # a ** 1.0 (pow's local gradient at exponent 2) is a
        if isinstance(node.op, ast.Div) and isinstance(left, ast.Name) and left.id == _ONE:
            return ast.BinOp(ast.Constant(1), ast.Div(), right)
        if isinstance(node.op, ast.Mult):
            for keep, const in ((left, right), (right, left)):
                if isinstance(const, ast.Constant) and const.value == 1 or \
                        isinstance(const, ast.Name) and const.id == _ONE:
                    return keep
                if isinstance(const, ast.UnaryOp) and isinstance(const.op, ast.USub) and \
                        isinstance(const.operand, ast.Constant) and const.operand.value == 1:
                    return ast.UnaryOp(ast.USub(), keep)
        return node


def _instantiate(rule: str, names: Mapping[str, ast.expr]) -> str:
    tree = ast.parse(rule, mode="eval")
    return ast.unparse(ast.fix_missing_locations(_Substitute(names).visit(tree)))


def _without_upstream(rule: str, names: Mapping[str, ast.expr], inputs: Iterable[str]) -> str | None:
    """The rule with ``g`` = 1 dropped from its product; ``_ONE`` where the rule is ``g`` alone; None
    where that leaves no array of its own (``g @ b.T``, a constant, or an input, which must not come
    back as a gradient)."""
    tree = ast.parse(rule, mode="eval")
    tree = ast.fix_missing_locations(_Substitute({**names, "g": ast.Name(_ONE, ast.Load())}).visit(tree))
    body = tree.body
    if isinstance(body, ast.Name) and body.id == _ONE:
        return _ONE  # the rule was g alone (times 1): the operand's gradient is the ones too
    if isinstance(body, ast.Constant) or isinstance(body, ast.Name) and body.id in inputs or any(
            isinstance(n, ast.Name) and n.id == _ONE for n in ast.walk(tree)):
        return None
    return ast.unparse(tree)


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


class Emit:
    """The arithmetic of code generation: a value is a name (or an inlined constant) in the source
    being written, and applying a rule writes the line that computes it.

    Backward, ``d_n`` names node n's gradient. A node in ``unit`` has a gradient of exactly the
    output's ones (the output itself, and what add or the like passes on unchanged): no line
    computes it, and the rules at it drop ``g`` from their products. Past the output only
    through elementwise (scalar) ops, where a term computed without ``g``, broadcast to the
    output's shape and summed back to the operand's by unbroadcast, is exactly what multiplying
    by the ones would have given.
    """

    def __init__(self, prog, ident: dict[str, str], taken: set[str], output: str, lines: list[str],
                 seed: str | None = None):
        self.prog, self.ident, self.taken, self.output, self.lines = prog, ident, taken, output, lines
        self.seed = seed  # the name of a scalar d output / d output other than 1 (SGD's -lr), or None
        self.saved: dict[str, dict[str, ast.expr]] = {}  # per op node: its operands' and saved intermediates' names
        self.grad: dict[str, str] = {}
        self.unit: set[str] = set()
        self.ones: list[str] = []  # the name of xp.ones_like(output), made only where a rule needs it
        self.input_names = {ident[v] for v in prog.variables if v in ident}

    # forward
    def variable(self, node: str, given: Any) -> ast.expr:
        return ast.Name(self.ident[node], ast.Load())

    def constant(self, value: Any) -> ast.expr:
        return ast.Constant(float(value))  # inlined: 2.0, 3.141592653589793

    def apply(self, op, node: str, args: list[ast.expr]) -> ast.expr:
        names = dict(zip(operand_names(len(args)), args, strict=True))
        for saved, rule in op.saved:  # computed once, read by the forward and the VJP rules
            names[saved] = ast.Name(_identifier(f"{self.ident[node]}_{saved}", self.taken), ast.Load())
            self.lines.append(f"    {names[saved].id} = {_instantiate(rule, names)}")
        self.saved[node] = names
        code = _instantiate(op.forward_rule(len(args), inline=False), names)
        if all(isinstance(a, ast.Constant) for a in args):  # an array, not a Python float: (-2) ^ 0.5 is nan
            code = f"xp.asarray({code})"
        self.lines.append(f"    {self.ident[node]} = {code}")
        return ast.Name(self.ident[node], ast.Load())

    # backward
    def zero(self) -> str:
        return "0"  # no gradient yet

    def one(self) -> str:
        if self.seed is not None:  # d output / d output is given: every gradient comes out multiplied by it
            self.lines.append(f"    # backward: d_n is d {self.output} / d n times {self.seed}")
            self.grad[self.output] = self.seed
            return self.seed
        self.lines.append("    # backward: d_n is d " + self.output + " / d n")
        self.unit.add(self.output)
        return "1"

    def materialize(self, node: str) -> None:
        """Give a node in `unit` its gradient as an array after all: the output's ones summed to its shape."""
        ident, out = self.ident, self.output
        if not self.ones:
            self.ones.append(_identifier(f"d_{ident[out]}", self.taken))
            self.lines.append(f"    {self.ones[0]} = xp.ones_like({ident[out]})")
        self.unit.discard(node)
        if node == out:
            self.grad[node] = self.ones[0]
        else:
            self.grad[node] = _identifier(f"d_{ident[node]}", self.taken)
            self.lines.append(f"    {self.grad[node]} = unbroadcast(xp, {self.ones[0]}, xp.shape({ident[node]}))")

    def edge(self, op, node: str, out: ast.expr, args: list[ast.expr], i: int, upstream: Any) -> tuple[None, str]:
        arg = self.prog.args[node][i]
        rule = op.vjp_rules(len(args), inline=False)[i]
        names = {**self.saved[node], "out": out}
        at_unit = node in self.unit
        term = _without_upstream(rule, names, self.input_names) if at_unit else None
        if term == _ONE and not op.tensor and arg not in self.grad and arg not in self.unit:
            return None, _ONE  # passed on unchanged: still the output's ones
        if term is None or term == _ONE:  # the rule needs g itself
            if at_unit:
                self.materialize(node)
                at_unit = False
            names["g"] = ast.Name(self.grad[node], ast.Load())
            term = _instantiate(rule, names)
        if at_unit and (node != self.output or op.broadcast and len(args) > 1):
            term = f"unbroadcast(xp, {term}, xp.shape({self.ident[arg]}), xp.shape({self.ident[self.output]}))"
        elif not at_unit and op.broadcast and len(args) > 1:  # operands of different shapes
            term = f"unbroadcast(xp, {term}, xp.shape({self.ident[arg]}))"
        return None, term

    def accumulate(self, arg: str, before: Any, term: str) -> str:
        if term == _ONE:
            self.unit.add(arg)
            return "1"
        if arg in self.unit:  # a second path reaches it
            self.materialize(arg)
        if arg in self.grad:
            self.lines.append(f"    {self.grad[arg]} = {self.grad[arg]} + {term}")
        else:
            self.grad[arg] = _identifier(f"d_{self.ident[arg]}", self.taken)
            self.lines.append(f"    {self.grad[arg]} = {term}")
        return self.grad[arg]


def compile_source(graph: nx.DiGraph, wrt: Iterable[str] | None = None, output: str | None = None,
                   name: str = "compiled", seed: bool = False) -> tuple[str, tuple[str, ...], tuple[str, ...]]:
    """The source of ``def name(xp, <inputs>)`` returning ``(output, (d output / d w for w in wrt))``.

    ``wrt`` defaults to every variable; ``()`` gives a forward-only function. ``output``
    defaults to the graph's output; only the nodes it depends on are computed.
    ``seed``: the function takes one more parameter, ``seed``, which the backward pass starts from
    instead of d output / d output = 1 (so it has the output's shape: a number for a loss), and
    returns ``seed * d output / d w``: SGD passes ``-lr`` and gets its updates, with no pass of
    their own over the gradients.
    Returns ``(source, inputs, wrt)``: the function's parameters after ``xp``, in order (``seed`` last).
    """
    prog = program(graph)
    output = prog.output if output is None else output
    live = prog.cone(output)
    inputs = tuple(v for v in prog.variables if v in live)
    wrt = inputs if wrt is None else tuple(wrt)
    unknown = [w for w in wrt if w not in inputs]
    if unknown:
        raise GraphlabError(f"cannot differentiate with respect to {', '.join(unknown)}: "
                            f"not a variable the output depends on (variables: {', '.join(inputs) or 'none'})")

    taken = set(_RESERVED) | {name}
    ident = {node: _identifier(node, taken) for node in live if prog.kinds[node] != "const"}
    seed_name = _identifier("seed", taken) if seed else None
    params = [ident[v] for v in inputs] + ([seed_name] if seed_name else [])
    lines = [f"def {name}(xp, {', '.join(params)}):" if params else f"def {name}(xp):"]
    source_text = graph.graph.get("source", "")
    if source_text:
        one_line = " ".join(source_text.replace("\n", "; ").split())  # a comment no text can escape
        lines.append(f"    # {one_line[:100]}")
    emit = Emit(prog, ident, taken, output, lines, seed_name)
    run = evaluate(prog, emit, output=output, wrt=wrt, backward=prog.kinds[output] != "const")
    if prog.kinds[output] == "const":
        lines.append(f"    return {ast.unparse(run.values[output])}, ()")
        return "\n".join(lines) + "\n", inputs, wrt
    for w in wrt:
        if w in emit.unit:
            emit.materialize(w)
    results = [emit.grad.get(w, f"xp.zeros_like({ident[w]})") for w in wrt]
    lines.append(f"    return {ident[output]}, ({', '.join(results)}{',' if len(results) == 1 else ''})")
    return "\n".join(_free_dead(_as_methods(_share_common(lines, taken)))) + "\n", inputs, wrt


def _share_common(lines: list[str], taken: set[str]) -> list[str]:
    """Compute once what two lines compute alike, as ``common_k`` (MSE's loss and its gradient both
    take ``Z3 - Y``): an array expression over names no line reassigns between its two uses."""
    body = {i: ast.parse(line.strip()).body[0] for i, line in enumerate(lines)
            if line.startswith("    ") and not line.strip().startswith("#")}
    assigned = {i: {t.id for t in ast.walk(stmt) if isinstance(t, ast.Name) and isinstance(t.ctx, ast.Store)}
                for i, stmt in body.items()}
    uses: dict[str, list[int]] = {}
    exprs: dict[str, ast.expr] = {}
    for i, stmt in body.items():
        if not isinstance(stmt, ast.Assign):
            continue
        for node in ast.walk(stmt.value):
            if isinstance(node, (ast.BinOp, ast.Call)) and _on_arrays(node):
                key = ast.dump(node)
                exprs.setdefault(key, node)
                if i not in uses.setdefault(key, []):
                    uses[key].append(i)
    chosen: list[str] = []
    for key in sorted(uses, key=len, reverse=True):  # the largest first; their parts are then shared already
        at = uses[key]
        names = {n.id for n in ast.walk(exprs[key]) if isinstance(n, ast.Name)}
        if len(at) < 2 or any(key in c for c in chosen) or \
                any(names & assigned[i] for i in body if at[0] <= i < at[-1]):
            continue
        chosen.append(key)
    if not chosen:
        return lines
    first: dict[int, list[tuple[str, str]]] = {}
    replace: dict[str, str] = {}
    kept: dict[int, str] = {}  # line -> the expression its own name now stands for (sin(v1) is v2 later on)
    for key in chosen:
        start = body[uses[key][0]]
        target = start.targets[0] if len(start.targets) == 1 else None
        if isinstance(target, ast.Name) and ast.dump(start.value) == key and \
                not any(target.id in assigned[i] for i in body if uses[key][0] < i < uses[key][-1]):
            replace[key], kept[uses[key][0]] = target.id, key
        else:
            replace[key] = _identifier("common", taken)
            first.setdefault(uses[key][0], []).append((replace[key], ast.unparse(exprs[key])))

    class Share(ast.NodeTransformer):
        def __init__(self, keep: str | None):
            self.keep = keep

        def generic_visit(self, node: ast.AST) -> ast.AST:
            key = ast.dump(node)
            if key in replace and key != self.keep:
                return ast.Name(replace[key], ast.Load())
            return super().generic_visit(node)

    out = []
    for i, line in enumerate(lines):
        out += [f"    {name} = {text}" for name, text in first.get(i, [])]
        if i in body and isinstance(body[i], ast.Assign):
            stmt = Share(kept.get(i)).visit(body[i])
            line = "    " + ast.unparse(ast.fix_missing_locations(stmt))
        out.append(line)
    return out


_METHODS = ("sum", "mean", "max")  # xp.sum(a, axis=0) is a.sum(axis=0) on every array module, and cheaper in NumPy


def _as_methods(lines: list[str]) -> list[str]:
    """``xp.sum(a, ...)`` as ``a.sum(...)`` where ``a`` is an array expression (the tensor rules' reductions):
    NumPy's function form costs a Python call more (7.4 against 5.7 µs on a 200 x 16 array)."""

    class Methods(ast.NodeTransformer):
        def visit_Call(self, node: ast.Call) -> ast.expr:
            self.generic_visit(node)
            func = node.func
            if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "xp" and \
                    func.attr in _METHODS and node.args and isinstance(node.args[0], (ast.Name, ast.BinOp)):
                return ast.Call(ast.Attribute(node.args[0], func.attr, ast.Load()), node.args[1:], node.keywords)
            return node

    out = []
    for line in lines:
        if line.startswith("    ") and not line.strip().startswith("#") and "xp." in line:
            stmt = Methods().visit(ast.parse(line.strip()).body[0])
            line = "    " + ast.unparse(ast.fix_missing_locations(stmt))
        out.append(line)
    return out


def _on_arrays(node: ast.expr) -> bool:
    """Whether ``node`` may compute on arrays: a name is read other than for its shape or size."""
    shapes = {id(n.value) for n in ast.walk(node) if isinstance(n, ast.Attribute) and n.attr in ("shape", "size")}
    shapes |= {id(a) for n in ast.walk(node) if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute)
               and n.func.attr == "shape" for a in n.args}  # xp.shape(a)
    return any(isinstance(n, ast.Name) and n.id != "xp" and id(n) not in shapes for n in ast.walk(node))


def _free_dead(lines: list[str]) -> list[str]:
    """Add ``del`` after the last line that reads each intermediate, so that its array is freed then.

    Straight-line code would otherwise keep every forward value and gradient alive until it
    returns: over 10^6 points that is hundreds of MB of fresh memory per call, page-faulted
    in each time, where freed arrays are reused.
    """
    body = [ast.parse(line.strip()).body[0] if line.startswith("    ") and not line.strip().startswith("#") else None
            for line in lines]
    last: dict[str, int] = {}
    assigned: set[str] = set()
    for i, stmt in enumerate(body):
        if stmt is None:
            continue
        for node in ast.walk(stmt):
            if isinstance(node, ast.Name):
                last[node.id] = i
                if isinstance(node.ctx, ast.Store):
                    assigned.add(node.id)
    returned = {n.id for stmt in body if isinstance(stmt, ast.Return)
                for n in ast.walk(stmt) if isinstance(n, ast.Name)}
    dead: dict[int, list[str]] = {}
    for name, i in last.items():
        if name in assigned and name not in returned:
            dead.setdefault(i, []).append(name)
    out = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in dead:
            out.append(f"    del {', '.join(sorted(dead[i]))}")
    return out


# ----------------------------------------------------------------------------- one fused loop (numba)
# Over many points, every line of the generated code is a pass over memory, and the arrays it
# writes are as large as the inputs. For a graph of scalar ops the same lines can instead run
# once per point inside one loop, which numba compiles and spreads over the cores: each value
# lives in a register, and memory is read once and written once per output. This is a
# post-pass over the very source compile_source wrote; the NumPy function stays the reference.
FUSE_MIN = 1 << 15  # points; below this, the NumPy code is about as fast and compiles nothing
BACKENDS = ("auto", "numpy", "numba")
_SCALAR_HELPERS = {"where": "_where", "heaviside": "_heaviside"}  # rules' NumPy names numba lacks for scalars


class _Scalarize(ast.NodeTransformer):
    """One point's arithmetic: ``xp.f`` -> ``np.f``; unbroadcast, asarray and ``*_like`` become what they
    stand for at a point. Anything else about arrays (shapes, axes, ``.T``) marks the code as not elementwise."""

    elementwise = True

    def visit_Call(self, node: ast.Call) -> ast.expr:
        if isinstance(node.func, ast.Name) and node.func.id == "unbroadcast":
            return self.visit(node.args[1])  # every operand has the points' shape: nothing was broadcast
        self.generic_visit(node)
        func = node.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.value.id == "np":
            if func.attr == "asarray":
                return node.args[0]
            inner = _logistic_argument(node)
            if inner is not None:  # the rules' overflow-safe sigmoid takes three transcendentals; at a point, one
                return ast.Call(ast.Name("_sigmoid", ast.Load()), [inner], [])
            if func.attr in ("ones_like", "zeros_like"):
                return ast.Constant(1.0 if func.attr == "ones_like" else 0.0)
        return node

    def visit_Attribute(self, node: ast.Attribute) -> ast.expr:
        self.generic_visit(node)
        if isinstance(node.value, ast.Name) and node.value.id == "xp":
            if node.attr in _SCALAR_HELPERS:
                return ast.Name(_SCALAR_HELPERS[node.attr], ast.Load())
            if node.attr in ("sum", "mean", "max", "min", "shape", "reshape", "broadcast_to"):
                self.elementwise = False
            return ast.Attribute(ast.Name("np", ast.Load()), node.attr, ast.Load())
        self.elementwise = False  # a.shape, a.T, a.size: tensor code
        return node


def _logistic_argument(node: ast.Call) -> ast.expr | None:
    """``a`` where ``node`` is ``np.exp(-np.logaddexp(0, -a))`` (sigmoid's rule), else None."""
    match node:
        case ast.Call(args=[ast.UnaryOp(op=ast.USub(), operand=ast.Call(
                func=ast.Attribute(value=ast.Name(id="np"), attr="logaddexp"),
                args=[ast.Constant(value=0), ast.UnaryOp(op=ast.USub(), operand=inner)]))]) \
                if isinstance(node.func, ast.Attribute) and node.func.attr == "exp":
            return inner
    return None


def _sigmoid(a: Any) -> Any:
    if a >= 0:
        return 1.0 / (1.0 + np.exp(-a))
    e = np.exp(a)  # a < 0, or nan (which stays nan)
    return e / (1.0 + e)


def loop_source(source: str, name: str = "kernel") -> str | None:
    """The generated function's lines as the body of one ``prange`` loop over flat arrays of points:
    ``def kernel(IN0, IN1, ..., OUT0, OUT1, ...)`` writing the output and each gradient at point
    ``i``. None where the code is not elementwise (tensor ops)."""
    fn = ast.parse(source).body[0]
    taken = {n.id for n in ast.walk(fn) if isinstance(n, ast.Name)} | {a.arg for a in fn.args.args}
    params = [a.arg for a in fn.args.args[1:]]  # after xp
    scalarize = _Scalarize()
    body, results = [], []
    for stmt in fn.body:
        if isinstance(stmt, ast.Delete):
            continue
        if isinstance(stmt, ast.Return):
            out, grads = stmt.value.elts
            results = [out, *grads.elts]
            continue
        body.append(scalarize.visit(stmt))
    results = [scalarize.visit(r) for r in results]
    if not scalarize.elementwise:
        return None

    def fresh(base: str) -> str:
        k = 0
        while f"{base}{k}" in taken:
            k += 1
        taken.add(f"{base}{k}")
        return f"{base}{k}"

    ins = [fresh("IN") for _ in params]
    outs = [fresh("OUT") for _ in results]
    i = fresh("i")
    lines = [f"def {name}({', '.join(ins + outs)}):", f"    for {i} in prange({outs[0]}.shape[0]):"]
    lines += [f"        {p} = {a}[{i}]" for p, a in zip(params, ins, strict=True)]
    lines += ["        " + ast.unparse(ast.fix_missing_locations(stmt)) for stmt in body]
    lines += [f"        {o}[{i}] = {ast.unparse(ast.fix_missing_locations(r))}"
              for o, r in zip(outs, results, strict=True)]
    return "\n".join(lines) + "\n"


def numba_available() -> bool:
    return importlib.util.find_spec("numba") is not None


def _where(cond: Any, a: Any, b: Any) -> Any:
    return a if cond else b


def _heaviside(a: Any, at_zero: Any) -> Any:
    return at_zero if a == 0 else (1.0 if a > 0 else (0.0 if a < 0 else a))  # nan stays nan


# The generated sources kept in linecache, oldest first: a long-running server (the Playground compiles each
# architecture a student tries) registers without end, so only the most recent MAX_REGISTERED stay; an older
# function still runs, its traceback just shows no source line.
MAX_REGISTERED = 256
_registered: OrderedDict[str, None] = OrderedDict()
_registered_lock = threading.Lock()


def _register(source: str, filename: str) -> None:
    """``source`` kept under ``filename`` by :mod:`linecache`, so a traceback shows the generated line; the
    least recently registered beyond ``MAX_REGISTERED`` are dropped from it."""
    with _registered_lock:
        linecache.cache[filename] = (len(source), None, source.splitlines(keepends=True), filename)
        _registered[filename] = None
        _registered.move_to_end(filename)
        while len(_registered) > MAX_REGISTERED:
            old, _ = _registered.popitem(last=False)
            linecache.cache.pop(old, None)


def _load_kernel(source: str, filename: str) -> Callable | None:
    """``loop_source``'s text compiled by numba (parallel; floats as NumPy does them: 1/0 is inf)."""
    import numba

    _register(source, filename)
    namespace: dict[str, Any] = {"np": np, "prange": numba.prange, "_where": numba.njit(_where),
                                 "_heaviside": numba.njit(_heaviside),
                                 "_sigmoid": numba.njit(error_model="numpy")(_sigmoid)}
    exec(compile(source, filename, "exec"), namespace)  # noqa: S102 - generated from compile_source's code only
    return numba.njit(parallel=True, error_model="numpy", nogil=True)(namespace["kernel"])


def _load(source: str, filename: str, name: str) -> Callable:
    # Only source generated by compile_source reaches exec: the registry's own rule texts
    # and identifiers made from node keys (sanitized by _identifier); constants are
    # inlined as float literals. User text never reaches exec or eval.
    _register(source, filename)
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
    _kernels: dict = field(default_factory=dict, compare=False, repr=False)  # the fused loop, built on first use

    def __call__(self, values: Mapping[str, Any], xp: Any = np, backend: str = "auto") -> tuple[Any, dict[str, Any]]:
        """Run on ``values`` (variable -> number or array): the output and ``{w: d output / d w}``.

        ``backend``: "numpy" runs the generated code as printed; "numba" runs the same lines fused
        into one parallel loop over the points (numba must be installed; elementwise graphs with
        inputs of one shape); "auto" (default) takes numba's loop where it applies and there are
        at least :data:`FUSE_MIN` points, the NumPy code otherwise.
        """
        if backend not in BACKENDS:
            raise GraphlabError(f"unknown backend {backend!r}: use {', '.join(BACKENDS)}")
        missing = [v for v in self.inputs if v not in values]
        if missing:
            raise GraphlabError(f"no value for {', '.join(missing)}")
        # plain Python numbers become float64 arrays: 1/0 is inf (with a warning), as in the trace
        args = [values[v] if hasattr(values[v], "shape") else xp.asarray(values[v], dtype=xp.float64)
                for v in self.inputs]
        if xp is np and backend != "numpy":
            fused = self._fused(args, forced=backend == "numba")
            if fused is not None:
                return fused[0], dict(zip(self.wrt, fused[1:], strict=True))
        out, grads = self.fn(xp, *args)
        return out, dict(zip(self.wrt, grads, strict=True))

    def _fused(self, args: list[Any], forced: bool) -> list[np.ndarray] | None:
        shape = args[0].shape if args else ()
        dtype = np.result_type(*args) if args else None
        fits = args and all(isinstance(a, np.ndarray) and a.shape == shape for a in args) and \
            dtype in (np.float32, np.float64)
        if not forced and (not fits or args[0].size < FUSE_MIN or not numba_available()):
            return None
        if not fits:
            raise GraphlabError("backend numba needs every input as a float array of one shape")
        if "loop" not in self._kernels:
            source = loop_source(self.source)
            if source is None:
                if forced:
                    raise GraphlabError("backend numba runs elementwise graphs only (this one has tensor ops)")
                self._kernels["loop"] = None
            else:
                if not numba_available():
                    raise GraphlabError("backend numba needs numba (pip install numba)")
                digest = hashlib.sha1(source.encode()).hexdigest()[:10]
                self._kernels["loop"] = _load_kernel(source, f"<graphlab fused loop {digest}>")
        kernel = self._kernels["loop"]
        if kernel is None:
            return None
        flat = [np.ascontiguousarray(a, dtype=dtype).reshape(-1) for a in args]
        outs = [np.empty(flat[0].shape, dtype) for _ in range(1 + len(self.wrt))]
        kernel(*flat, *outs)
        return [o.reshape(shape) for o in outs]

    def jax(self) -> Callable:
        """The same generated code over ``jax.numpy``, compiled by ``jax.jit``: ``f(*inputs) -> (output,
        grads)`` on JAX arrays, XLA's fused loops from the code graphlab writes (JAX must be installed)."""
        if "jax" not in self._kernels:
            try:
                import jax
            except ImportError:
                raise GraphlabError("the jax backend needs JAX (pip install jax)") from None
            fn = self.fn
            self._kernels["jax"] = jax.jit(lambda *args: fn(jax.numpy, *args))
        return self._kernels["jax"]

    def __str__(self) -> str:
        return self.source


def compile_graph(graph: nx.DiGraph, wrt: Iterable[str] | None = None, output: str | None = None,
                  seed: bool = False) -> Compiled:
    """Compile ``graph`` (cached per graph, ``wrt``, ``output`` and ``seed``: see :func:`compile_source`)."""
    key = ("compiled", None if wrt is None else tuple(wrt), output, seed)
    cache = program(graph).cache
    if key not in cache:
        source, inputs, wrt_names = compile_source(graph, wrt, output, seed=seed)
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
