"""Checking matrix work: is ``dE/dW2 = H1^T ((yhat - y)/N ⊙ yhat ⊙ (1 - yhat))`` right?

A claim over a graph of matrices is ``dE/dB = RHS`` with E the output (a scalar, or a matrix whose
entries are summed, as the trace does) and B a variable or a named intermediate; RHS is a matrix
formula in the input language over the expression's names (``H1^T (yhat - y)``, ``X^T``, ``W2^T``).

* Its shape comes first, from the formula's own shapes: a claim of the wrong shape is diagnosed by
  name ("this is 1×2, ∂E/∂W2 is 2×1: transpose?"); one whose factors do not fit is told where and
  why, as the parser tells it ("cannot multiply 4×2 by 4×1 ...; did you mean H1^T?").
* Then its values: the claim and the true gradient (graphlab's own backward pass over
  :class:`~graphlab.arithmetic.Arrays`) are computed at the values given, if every variable has
  one, and at :data:`SAMPLES` random points of the right shapes, drawn from ``seed`` (so a check
  is reproducible); a symbolic size (N) is :data:`SIZE` there. A wrong claim is named where it
  equals a telling wrong answer (minus the gradient, its transpose, the gradient without one or
  two of the local factors on the way: "missing the factor σ′(Z2)"), else the entries that
  differ are listed.

User text reaches only graphlab's own parser.
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from .arithmetic import Arrays, unbroadcast
from .build import from_text
from .errors import GraphlabError, ParseError
from .evaluate import evaluate
from .ops import OPS, Shape, shape_text
from .program import program

__all__ = ["MatrixClaim", "parse_matrix_claim", "name_shapes", "points", "judge", "expected_text", "check_values",
           "SAMPLES", "SIZE"]

SAMPLES = 3  # random points a claim is checked at, besides the values given
SIZE = 3  # a symbolic size (N) at the random points
MAX_FACTORS = 8  # with more local factors on the way, only single missing factors are tried
MAX_LISTED = 6  # entries named in a diagnosis
MAX_SEARCH_ENTRIES = 2_000_000  # beyond this many entries in a point's values, missing factors are not searched for


@dataclass(frozen=True)
class MatrixClaim:
    text: str
    of: str
    wrt: str
    rhs: str
    graph: nx.DiGraph | None  # the right-hand side's graph; None where its shapes do not fit
    shape_error: str | None = None  # why not, as the parser says it
    decimals: int | None = None  # a number claim written as a decimal: its precision
    gradients: Mapping[str, str] = field(default_factory=dict)  # dE_dZ2 (written dE/dZ2) -> Z2


def _same(a: Shape, b: Shape) -> bool:
    """Shapes equal up to a 1×1 matrix counting as a scalar."""
    return (a or (1, 1)) == (b or (1, 1))


def name_shapes(graph: nx.DiGraph) -> dict[str, Shape]:
    """The shape of every name a claim may use: the variables, the named intermediates, the aliases."""
    found = {n: d.get("shape", ()) for n, d in graph.nodes(data=True) if d["kind"] == "var" or d.get("name")}
    for alias, key in graph.graph.get("aliases", {}).items():
        found[alias] = graph.nodes[key].get("shape", ())
    return found


def _gradient_names(graph: nx.DiGraph, rhs: str, shapes: Mapping[str, Shape]) -> tuple[str, dict[str, str]]:
    """``H1^T dE/dZ2`` -> ``H1^T dE_dZ2``: each upstream gradient the claim uses (as the lecture writes
    ∂E/∂W = Hᵀ · ∂E/∂Z) becomes one name, as long as what it replaces, so columns stay; and the names."""
    out = graph.graph["output"]
    found: dict[str, str] = {}

    def name(m: re.Match) -> str:
        node = m.group(1)
        if node not in shapes:
            return m.group(0)  # left to the parser, which reads it as a division and names what it does not know
        found[f"d{out}_d{node}"] = node
        return f"d{out}_d{node}".ljust(len(m.group(0)))

    return re.sub(rf"(?<!\w)[d∂]{re.escape(out)}\s*/\s*[d∂]([^\W\d_]\w*)", name, rhs), found


def parse_matrix_claim(graph: nx.DiGraph, text: str, of: str, wrt: str, rhs: str, start: int,
                       decimals: Any) -> MatrixClaim:
    """The claim's right-hand side built with the names' shapes. Shapes that do not fit are the claim's
    mistake (kept, to be diagnosed); text that does not read is a :class:`ParseError` at its column."""
    if of != graph.graph["output"]:
        out = graph.graph["output"]
        raise GraphlabError(f"claim {text!r}: over matrices a claim is d{out}/dB (the gradient of the output "
                            f"{out}, in B's shape), not d{of}/d{wrt}")
    shapes = name_shapes(graph)
    written, gradients = _gradient_names(graph, rhs, shapes)
    shapes.update({g: shapes[node] for g, node in gradients.items()})
    try:
        g = from_text(written, names=list(shapes), shapes={k: s for k, s in shapes.items() if s})
    except ParseError as e:
        try:  # reads as text: its shapes are the mistake
            from_text(written, names=list(shapes))
        except ParseError:
            raise ParseError(f"claim {text!r}: {e.message}", start + e.pos, text) from None
        why = str(e)[len(f"{e.message} at column {e.column}"):]  # ": inner sizes 2 and 4 differ; did you mean H1^T?"
        return MatrixClaim(text, of, wrt, rhs, None, f"{e.message} at column {start + e.pos + 1}{why}")
    out = g.nodes[g.graph["output"]]
    return MatrixClaim(text, of, wrt, rhs, g, None, decimals(out["label"]) if out["kind"] == "const" else None,
                       gradients)


class _Sized(Arrays):
    """:class:`Arrays` with each symbolic size (N) a number, and optionally some local factors left out
    (``skip``: (node, operand position) whose contribution is the upstream gradient as it arrives)."""

    def __init__(self, shapes: Mapping[str, Shape], sizes: Mapping[str, int], skip: frozenset = frozenset()):
        super().__init__({n: tuple(sizes.get(d, d) for d in s) for n, s in shapes.items()})
        self.sizes = sizes
        self.skip = skip

    def constant(self, value: sp.Expr) -> Any:
        if isinstance(value, sp.Symbol) and value.name in self.sizes:
            return self.sizes[value.name]
        return super().constant(value)

    def edge(self, op, node, out, args, i, upstream):
        if (node, i) not in self.skip:
            return super().edge(op, node, out, args, i, upstream)
        g = np.full(np.shape(out), upstream) if np.ndim(out) and not np.ndim(upstream) else upstream
        return None, unbroadcast(g, np.shape(args[i]))


def _sizes(graph: nx.DiGraph) -> dict[str, int]:
    return {d: SIZE for _, s in graph.nodes(data="shape", default=()) for d in s if not isinstance(d, int)}


def _random_point(graph: nx.DiGraph, rng: np.random.Generator, sizes: Mapping[str, int]) -> dict[str, Any]:
    """Entries uniform in (-1, 1); a scalar 0.5 to 2 in size, either sign (it may divide)."""
    point = {}
    for v in graph.graph["variables"]:
        shape = tuple(sizes.get(d, d) for d in graph.nodes[v].get("shape", ()))
        point[v] = rng.uniform(-1, 1, shape) if shape else float(rng.choice([-1, 1]) * rng.uniform(0.5, 2))
    return point


@dataclass
class _Point:
    inputs: dict[str, Any]
    given: bool  # the values the user gave
    values: dict[str, Any]  # every node's
    grads: dict[str, Any]  # the true gradients of the claims' wrts


def _run(graph: nx.DiGraph, point: Mapping[str, Any], sizes: Mapping[str, int], wrt: Sequence[str],
         skip: frozenset = frozenset()) -> tuple[dict, dict]:
    prog = program(graph)
    shapes = dict(graph.nodes(data="shape", default=()))
    with np.errstate(all="ignore"):
        run = evaluate(prog, _Sized(shapes, sizes, skip), point, wrt=list(wrt))
    grads = dict(run.grads)
    for w in wrt:
        g = run.grads.get(w)
        if g is None:  # w does not reach the output
            shape = tuple(sizes.get(d, d) for d in shapes[w])
            g = np.zeros(shape) if shape else 0.0
        grads[w] = g
    return run.values, grads


def _claimed(claim: MatrixClaim, graph: nx.DiGraph, p: _Point, sizes: Mapping[str, int]) -> Any:
    g = claim.graph
    aliases = graph.graph.get("aliases", {})
    inputs = {v: p.grads[aliases.get(claim.gradients[v], claim.gradients[v])] if v in claim.gradients
              else p.values[aliases.get(v, v)] for v in g.graph["variables"]}
    with np.errstate(all="ignore"):
        run = evaluate(program(g), _Sized(dict(g.nodes(data="shape", default=())), sizes), inputs, backward=False)
    return run.values[g.graph["output"]]


def _as_matrix(value: Any, shape: tuple) -> np.ndarray:
    return np.reshape(np.asarray(value, dtype=np.float64), shape)


def _close(a: np.ndarray, b: np.ndarray, tolerance: float | None = None) -> np.ndarray:
    """Entry by entry, whether a and b agree (where both are finite)."""
    if tolerance is not None:
        return np.abs(a - b) <= tolerance
    return np.abs(a - b) <= 1e-9 * np.maximum(1.0, np.maximum(np.abs(a), np.abs(b)))


def _factor(graph: nx.DiGraph, node: str, position: int) -> str:
    """The local factor ∂node/∂operand as the lecture writes it: σ′(Z2), 1/(2 N), W."""
    from .formulas import written

    data = graph.nodes[node]
    op, args = OPS[data["op"]], data["args"]
    names = [written(graph, a) for a in args]
    group = lambda s: s if s.replace("_", "").isalnum() else f"({s})"  # noqa: E731
    if op.arity == 1:
        return f"{op.symbol if op.symbol == 'σ' else op.name}′({names[0]})"
    if op.name == "div" and position == 0:
        return f"1/{group(names[1])}"
    if op.name in ("mul", "hadamard") and len(args) == 2:
        return names[1 - position]
    return f"∂{group(written(graph, node))}/∂{group(names[position])}"


def _local_edges(graph: nx.DiGraph, wrt: str) -> list[tuple[str, int]]:
    """The edges from ``wrt`` to the output whose local factor is not ±1 and keeps the shape: the factors a
    hand derivation can forget (σ′(Z2), 1/(2N)...), in backward order."""
    prog = program(graph)
    out = prog.output
    on_way = set(nx.descendants(graph, wrt)) & (set(nx.ancestors(graph, out)) | {out})
    found = []
    for node in reversed(prog.order):
        if node not in on_way:
            continue
        op = prog.ops[node]
        if op.tensor or op.name in ("add", "sub", "neg", "linear"):
            continue
        shape = graph.nodes[node].get("shape", ())
        for i, a in enumerate(prog.args[node]):
            if (a == wrt or a in on_way) and _same(graph.nodes[a].get("shape", ()), shape):
                found.append((node, i))
    return found


def _entries(differ: np.ndarray) -> str:
    where = [f"({i + 1},{j + 1})" for i, j in zip(*np.nonzero(differ))]
    if len(where) == differ.size:
        return f"every entry differs ({differ.size})"
    shown = ", ".join(where[:MAX_LISTED]) + (f" and {len(where) - MAX_LISTED} more" if len(where) > MAX_LISTED else "")
    return f"entr{'y' if len(where) == 1 else 'ies'} (row,column) {shown} of {differ.size} differ"


def judge(graph: nx.DiGraph, claim: MatrixClaim, points: list[_Point], sizes: Mapping[str, int], result: Any,
          finding: Any, seed: int) -> None:
    """Fill in ``result`` (a :class:`graphlab.verify.ClaimResult`): right, or wrong and why."""
    from .formulas import gradient_name
    from .present import number

    wrt_shape = graph.nodes[claim.wrt].get("shape", ())
    name = gradient_name(graph, claim.wrt)
    if claim.graph is None:
        result.finding, result.diagnosis = finding.SHAPE, f"the shapes do not fit: {claim.shape_error}"
        return
    shape = claim.graph.nodes[claim.graph.graph["output"]].get("shape", ())
    if not _same(shape, wrt_shape) and not (not shape and claim.graph.graph["variables"] == ()):
        hint = ": transpose?" if _same(tuple(reversed(shape)), wrt_shape) else f" (it has {claim.wrt}'s shape)"
        result.finding = finding.SHAPE
        result.diagnosis = f"this is {shape_text(shape)}, {name} is {shape_text(wrt_shape)}{hint}"
        return
    concrete = lambda p, v: np.shape(p.grads[claim.wrt]) or (1, 1)  # noqa: E731
    number_claim = not claim.graph.graph["variables"] and points and points[0].given
    used = points[:1] if number_claim else points
    tolerance = 0.5 * 10.0 ** -claim.decimals * (1 + 1e-9) if number_claim and claim.decimals is not None else None
    claimed, true = [], []
    for p in used:
        c = _claimed(claim, graph, p, sizes)
        shape_here = concrete(p, None)
        claimed.append(np.broadcast_to(np.asarray(c, dtype=np.float64), shape_here) if not np.ndim(c)
                       else _as_matrix(c, shape_here))
        true.append(_as_matrix(p.grads[claim.wrt], shape_here))
    finite = [np.isfinite(a) & np.isfinite(b) for a, b in zip(claimed, true)]
    if not any(f.any() for f in finite):
        result.finding = finding.UNCHECKABLE
        result.diagnosis = "cannot be checked: the claim and the gradient are nowhere both finite at the samples"
        return
    agree = [_close(a, b, tolerance) | ~f for a, b, f in zip(claimed, true, finite)]
    if all(a.all() for a in agree):
        result.ok, result.verdict = True, "right"
        where = "the values given and " if used[0].given else ""
        result.diagnosis = None if number_claim else \
            f"checked at {where}{sum(not p.given for p in used)} random points of these shapes (seed {seed})"
        return
    k = next(i for i, a in enumerate(agree) if not a.all())
    where = "at the values given" if used[k].given else f"at random values (seed {seed})"
    result.counterexample = {"point": dict(used[k].inputs) if used[k].given and _small(used[k].inputs) else {},
                             "claimed": claimed[k] if claimed[k].size > 1 else float(claimed[k].item()),
                             "expected": true[k] if true[k].size > 1 else float(true[k].item())}

    def equals(candidates: list[np.ndarray]) -> bool:
        return all((_close(a, c) | ~np.isfinite(c) | ~np.isfinite(a)).all() for a, c in zip(claimed, candidates))

    if any(t.any() for t in true) and equals([-t for t in true]):
        result.finding, result.diagnosis = finding.SIGN, f"sign error: this is −{name}"
        return
    if len(set(wrt_shape)) == 1 and equals([t.T for t in true]):
        result.finding, result.diagnosis = finding.SHAPE, f"this is the transpose of {name}: transpose it"
        return
    edges = _local_edges(graph, claim.wrt)
    subsets = [(e,) for e in edges] + (list(itertools.combinations(edges, 2)) if len(edges) <= MAX_FACTORS else [])
    if sum(np.size(v) for v in used[0].values.values() if v is not None) > MAX_SEARCH_ENTRIES:
        subsets = []  # each candidate is a backward pass: huge matrices get the entries that differ, quickly
    for subset in subsets:
        without = [_run(graph, p.inputs, sizes, [claim.wrt], frozenset(subset))[1][claim.wrt] for p in used]
        without = [_as_matrix(w, np.shape(c)) for w, c in zip(without, claimed)]
        missing = " and ".join(_factor(graph, n, i) for n, i in subset)
        if equals(without):
            result.finding = finding.MISSING_FACTOR
            result.diagnosis = f"missing the factor{'s' if len(subset) > 1 else ''} {missing}: {name} has it"
            return
        scale = _scale(claimed, without)
        if scale is not None:
            result.finding = finding.MISSING_FACTOR
            result.diagnosis = (f"missing the factor{'s' if len(subset) > 1 else ''} {missing}, and a number "
                                f"factor: yours is {number(scale, digits=4)} times {name} without "
                                f"{'them' if len(subset) > 1 else 'it'} {where}")
            return
    scale = _scale(claimed, true)
    if scale is not None:
        result.finding = finding.WRONG
        result.diagnosis = f"a number factor off: yours is {number(scale, digits=4)} times {name} {where}"
        return
    result.finding = finding.WRONG
    result.diagnosis = f"wrong {where}: {_entries(~agree[k])}"


def _scale(claimed: list[np.ndarray], base: list[np.ndarray]) -> float | None:
    """c where each claimed matrix is c_p times its base, c_p one number per point (c at the first); None
    where it is not, or c is 1."""
    first = None
    for a, b in zip(claimed, base):
        ok = np.isfinite(a) & np.isfinite(b) & (np.abs(b) > 1e-12)
        if not ok.any() or (np.abs(a[~ok]) > 1e-12).any():
            return None
        ratio = a[ok] / b[ok]
        if not np.allclose(ratio, ratio[0], rtol=1e-9, atol=0):
            return None
        first = ratio[0] if first is None else first
    return None if first is None or abs(first - 1) < 1e-9 else float(first)


def _small(point: Mapping[str, Any]) -> bool:
    return all(np.size(v) <= 16 for v in point.values())


def points(graph: nx.DiGraph, at: Mapping[str, Any], wrt: Sequence[str], seed: int) -> tuple[list[_Point], dict]:
    """The values given (if every variable has one) and :data:`SAMPLES` random points, each with every node's
    value and the true gradient of each of ``wrt``."""
    sizes = _sizes(graph)
    rng = np.random.default_rng(seed)
    inputs = []
    if at and all(v in at for v in graph.graph["variables"]):
        inputs.append((dict(at), True))
    inputs += [(_random_point(graph, rng, sizes), False) for _ in range(SAMPLES)]
    out = []
    for point, given in inputs:
        values, grads = _run(graph, point, sizes, list(dict.fromkeys((*graph.graph["variables"], *wrt))))
        out.append(_Point(point, given, values, grads))
    return out, sizes


def expected_text(graph: nx.DiGraph, wrt: str) -> str:
    """∂E/∂W in the lecture's matrix form: the VJP of each edge out of ``wrt`` (summed where it feeds several)."""
    from .formulas import matrix_edge

    prog = program(graph)
    reach = set(nx.ancestors(graph, prog.output)) | {prog.output}
    terms = [matrix_edge(graph, c, i).rhs for c in graph.successors(wrt) if c in reach
             for i, a in enumerate(prog.args[c]) if a == wrt]
    return " + ".join(terms) if terms else "0"


def check_values(graph: nx.DiGraph, at: Mapping[str, Any]) -> None:
    """Refuse a value whose shape is not its variable's."""
    for v, value in at.items():
        shape = graph.nodes[v].get("shape", ())
        if np.ndim(value) and not all(not isinstance(d, int) or d == n for d, n in zip(shape, np.shape(value))):
            raise GraphlabError(f"{v}: the value is {shape_text(np.shape(value))}, the expression's {v} is "
                                f"{shape_text(shape)}", field="values")
