"""Check a student's hand derivation: is each claimed derivative right, and if not, why?

A claim is ``dA/dB = RHS`` (or ``∂A/∂B``; the shorthand ``x = RHS`` means d output/dx).
A and B are the output, a variable or a named intermediate; RHS is a formula in the input
language (it may mention named intermediates) or a number. Everything is compared in the
variables: an intermediate in a claim is replaced by what it computes.

* The derivative a claim is judged against is the total one, the sum over every path from
  B to A (what backpropagation gives). Claims that equal a part of it are named: the local
  one-edge derivative, one path, the terms through some of B's consumers.
* A formula is right when SymPy simplifies the difference to 0, or failing that when both
  agree at sample points (so ``x/abs(x)`` for ``d abs(x)/dx`` is right); a wrong one gets
  the true derivative and a point where they differ. The sample points are tried first:
  a disagreement there settles it without a slow ``simplify``.
* A number is judged at the ``at`` point to the precision it was written with (0.27 and
  0.2724 accept 0.272392; 0.273 does not). A number outside that but inside the spread a
  hand calculation gets by rounding intermediates to 2, 3 or 4 decimals is "right up to
  rounding".
* Diagnosis reads the claims as one backward pass: the first wrong one in backward order
  is the first wrong step, and later ones that only carry its error along are said to.

User text reaches SymPy only through graphlab's own parser (``from_text``).
"""

from __future__ import annotations

import enum
import itertools
import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from . import formulas
from .arithmetic import Exact, Names, Rounded, Symbolic, symbol
from .build import from_text, node_expr
from .errors import GraphlabError, ParseError
from .evaluate import evaluate
from .matrix_claims import MatrixClaim, parse_matrix_claim
from .ops import OPS
from .present import equation, formula, number
from .program import program
from .trace import as_json_number, local_formula

__all__ = ["Claim", "ClaimResult", "Finding", "Report", "parse_claim", "verify", "total_derivative", "paths",
           "rounding_spread", "to_text", "ROUNDING_DECIMALS", "BlankResult", "check_blanks", "MAX_ENTRY_CHARS"]

ROUNDING_DECIMALS = (2, 3, 4)
SAMPLES = 24  # sample points for a formula
MAX_PATHS = 8  # beyond this many paths, subsets of them are not tried as explanations
MAX_SIMPLIFY_OPS = 40  # larger differences are confirmed numerically only (simplify can take minutes)

_NAME = r"([^\W\d_]\w*)"  # letters of any script: dσ/dx is then told that σ is not a node, by name
_LONG = re.compile(rf"\s*[d∂]\s*{_NAME}\s*/\s*[d∂]\s*{_NAME}\s*")
_SHORT = re.compile(rf"\s*{_NAME}\s*")
_LITERAL = re.compile(r"-?(\d*)(?:\.(\d*))?(?:[eE]([-+]?\d+))?")


# --------------------------------------------------------------------------- printing
def to_text(expr: sp.Expr) -> str:
    """A SymPy expression as text, in the input language (graphlab.present.formula)."""
    return formula(expr)


# --------------------------------------------------------------------------- claims
@dataclass(frozen=True)
class Claim:
    text: str
    of: str  # A: the node differentiated
    wrt: str  # B: the node it is differentiated with respect to
    rhs: str
    formula: sp.Expr  # the claimed value, in the variables
    written: sp.Expr  # the claimed value as written (named intermediates kept)
    decimals: int | None  # a number claim written as a decimal: its precision; None: exact

    @property
    def is_number(self) -> bool:
        return not self.formula.free_symbols


def _resolve(graph: nx.DiGraph, name: str, claim: str) -> str:
    if name in graph.graph.get("aliases", {}):
        return graph.graph["aliases"][name]
    if name in graph and graph.nodes[name]["kind"] != "const":
        return name
    names = [n for n, d in graph.nodes(data=True) if d["kind"] == "var" or d.get("name")]
    raise GraphlabError(f"claim {claim!r}: {name!r} is not a variable or named node of the expression "
                        f"(names: {', '.join(names + list(graph.graph.get('aliases', {})))})")


def _decimals(literal: str) -> int | None:
    m = _LITERAL.fullmatch(literal)
    if m is None or (m.group(2) is None and m.group(3) is None):
        return None  # an integer: exact
    return len(m.group(2) or "") - int(m.group(3) or 0)


def parse_claim(graph: nx.DiGraph, text: str) -> Claim | MatrixClaim:
    """``"df/dx = z"`` -> a :class:`Claim` (raises GraphlabError on bad input); over matrices a
    :class:`~graphlab.matrix_claims.MatrixClaim`."""
    lhs, eq, rhs = text.partition("=")
    if not eq or not rhs.strip():
        raise GraphlabError(f"claim {text!r}: write it as dA/dB = VALUE or x = VALUE")
    if any(c in rhs for c in "=;\n"):
        raise GraphlabError(f"claim {text!r}: the right-hand side must be one expression")
    if m := _LONG.fullmatch(lhs):
        of, wrt = _resolve(graph, m.group(1), text), _resolve(graph, m.group(2), text)
    elif m := _SHORT.fullmatch(lhs):
        of, wrt = graph.graph["output"], _resolve(graph, m.group(1), text)
    else:
        raise GraphlabError(f"claim {text!r}: the left side must be dA/dB (or ∂A/∂B) or a variable name")
    if graph.graph.get("matrices"):  # a matrix formula, judged by graphlab.matrix_claims
        start = len(lhs) + 1 + len(rhs) - len(rhs.lstrip())
        return parse_matrix_claim(graph, text.strip(), of, wrt, rhs.strip(), start, _decimals)
    names = [n for n, d in graph.nodes(data=True) if d["kind"] == "var" or d.get("name")]
    try:  # the expression's names are variables in the claim: sigma(1 - sigma) is a product there
        g = from_text(rhs.strip(), names=[*names, *graph.graph.get("aliases", {})])
    except ParseError as e:  # the column counts in the whole claim, as the user wrote it
        start = len(lhs) + 1 + len(rhs) - len(rhs.lstrip())
        raise ParseError(f"claim {text!r}: {e.message}", start + e.pos, text) from None
    formula = written = node_expr(g, g.graph["output"])
    subs = {}
    for s in formula.free_symbols:
        key = _resolve(graph, s.name, text)
        if graph.nodes[key]["kind"] == "op" or key != s.name:
            subs[s] = node_expr(graph, key)  # an intermediate (or alias): what it computes
    formula = formula.xreplace(subs)
    out = g.nodes[g.graph["output"]]
    decimals = _decimals(out["label"]) if out["kind"] == "const" else None
    return Claim(text.strip(), of, wrt, rhs.strip(), formula, written, decimals)


# --------------------------------------------------------------------------- the true derivative
def _node_exprs(graph: nx.DiGraph, top: str, in_names: bool = False, leaf: str | None = None,
                leaf_symbol: sp.Symbol | None = None) -> dict[str, sp.Expr]:
    """Each node up to ``top`` as a SymPy expression: in the variables, or ``in_names`` as the
    diagram writes it (a named intermediate is its name, sigmoid is σ); ``leaf`` is cut loose
    and stands as ``leaf_symbol``."""
    prog = program(graph)
    arith = Names(prog.names) if in_names else Symbolic()
    cut = {leaf: leaf_symbol} if leaf is not None else None
    return evaluate(prog, arith, output=top, cut=cut, backward=False).values


def derivative_in_names(graph: nx.DiGraph, of: str, wrt: str) -> sp.Expr:
    """d of/d wrt as a backward pass over the diagram writes it, in the user's names
    (``(y - t)*σ'...*h1`` rather than everything expanded into the variables)."""
    if of == wrt or wrt not in nx.ancestors(graph, of):
        return sp.Integer(1 if of == wrt else 0)
    prog = program(graph)
    return evaluate(prog, Names(prog.names), output=of, wrt=[wrt]).grads[wrt]


def total_derivative(graph: nx.DiGraph, of: str, wrt: str) -> sp.Expr:
    """d of / d wrt over all paths, in the variables (``wrt`` may be an intermediate), by the
    backward pass itself, so the registry's conventions at kinks hold (relu'(0) = 1)."""
    if of == wrt:
        return sp.Integer(1)
    if wrt not in nx.ancestors(graph, of):
        return sp.Integer(0)
    return evaluate(program(graph), Symbolic(), output=of, wrt=[wrt]).grads[wrt]


def _edge_local(graph: nx.DiGraph, node: str, operand: str) -> sp.Expr:
    """∂node/∂operand along the one edge, in the variables (x*x counts both operand slots), by the
    registry's own local rule, so its conventions at kinks hold (relu'(0) = 1)."""
    data = graph.nodes[node]
    op, arith = OPS[data["op"]], Symbolic()
    args = [node_expr(graph, a) for a in data["args"]]
    out = arith.apply(op, node, args)
    return sum((arith.local(op, out, args, i) for i, a in enumerate(data["args"]) if a == operand), sp.Integer(0))


@dataclass(frozen=True)
class Path:
    nodes: tuple[str, ...]  # wrt ... of
    term: sp.Expr  # the product of the edge derivatives along it


def paths(graph: nx.DiGraph, of: str, wrt: str, limit: int = 64) -> list[Path]:
    """The paths from ``wrt`` to ``of`` with their chain-rule products (at most ``limit``)."""
    if of == wrt or wrt not in nx.ancestors(graph, of):
        return []
    out = []
    for nodes in itertools.islice(nx.all_simple_paths(graph, wrt, of), limit):
        term = sp.Mul(*(_edge_local(graph, v, u) for u, v in itertools.pairwise(nodes)))
        out.append(Path(tuple(nodes), term))
    return out


def _describe(graph: nx.DiGraph, node: str) -> str:
    data = graph.nodes[node]
    if data["kind"] == "var" or data.get("name"):
        return node
    text = to_text(_node_exprs(graph, node, in_names=True)[node])
    return text if len(text) <= 40 else node


def _names(graph: nx.DiGraph, nodes: Sequence[str]) -> str:
    return ", ".join(_describe(graph, n) for n in nodes)


def _through(graph: nx.DiGraph, path: Path) -> str:
    inner = path.nodes[1:-1]
    return " → ".join(_describe(graph, n) for n in inner) if inner else f"the edge {path.nodes[0]} → {path.nodes[-1]}"


# --------------------------------------------------------------------------- rounding
def _rounded_derivative(graph: nx.DiGraph, of: str, wrt: str, point: Mapping[str, Any], decimals: int) -> float:
    """d of/d wrt as a hand calculation does it: every value, local gradient and upstream
    gradient written down rounded to ``decimals``; only the answer itself is left as is."""
    with np.errstate(all="ignore"):
        run = evaluate(program(graph), Rounded(decimals), point, output=of, wrt=[wrt])
    return float(run.grads[wrt])


def rounding_spread(graph: nx.DiGraph, of: str, wrt: str, point: Mapping[str, Any],
                    decimals: Sequence[int] = ROUNDING_DECIMALS) -> dict[int, float]:
    """d of/d wrt at ``point`` with intermediates rounded to each number of decimals."""
    return {d: _rounded_derivative(graph, of, wrt, point, d) for d in decimals}


# --------------------------------------------------------------------------- comparing
class _Judge:
    """Evaluates expressions at a fixed list of points and compares them there."""

    def __init__(self, variables: Sequence[str], points: list[dict[str, sp.Expr]], tolerance: Any = None):
        self.symbols = [symbol(v) for v in variables]
        self.points = points
        self.tolerance = tolerance  # None: relative 1e-9 (formulas); else absolute (a written number)
        self._cache: dict[sp.Expr, np.ndarray] = {}

    def values(self, expr: sp.Expr) -> np.ndarray:
        if expr not in self._cache:
            out = []
            for p in self.points:
                try:
                    v = complex(expr.xreplace({s: p[s.name] for s in self.symbols if s.name in p}).evalf(30))
                    out.append(v.real if abs(v.imag) <= 1e-12 * max(1.0, abs(v.real)) else np.nan)
                except (TypeError, ValueError, ZeroDivisionError, OverflowError):
                    out.append(np.nan)
            self._cache[expr] = np.array(out, dtype=float)
        return self._cache[expr]

    def differ(self, a: sp.Expr, b: sp.Expr) -> np.ndarray | None:
        """Per point, whether a and b differ (False where either is undefined); None if
        they are nowhere both defined."""
        va, vb = self.values(a), self.values(b)
        with np.errstate(all="ignore"):
            both = np.isfinite(va) & np.isfinite(vb)
            if not both.any():
                return None
            if self.tolerance is None:
                close = np.abs(va - vb) <= 1e-9 * np.maximum(1.0, np.maximum(np.abs(va), np.abs(vb)))
            else:
                close = np.abs(va - vb) <= self.tolerance
        return both & ~close

    def same(self, a: sp.Expr, b: sp.Expr) -> bool:
        d = self.differ(a, b)
        return d is not None and not d.any()


def _sample_points(variables: Sequence[str], at: Mapping[str, sp.Expr], seed: int) -> list[dict[str, sp.Expr]]:
    """Friendly points first (1, 2, -1, 1/2...), so a counterexample reads easily; then random ones."""
    rng = random.Random(seed)
    nice = [sp.Integer(1), sp.Integer(2), sp.Integer(-1), sp.Rational(1, 2), sp.Integer(3), sp.Rational(-1, 2)]
    points = []
    if variables and all(v in at for v in variables):
        points.append({v: at[v] for v in variables})
    for k in range(len(nice)):
        points.append({v: nice[(k + i) % len(nice)] for i, v in enumerate(variables)})
    while len(points) < SAMPLES:
        points.append({v: sp.Rational(rng.choice([-1, 1]) * rng.randint(5, 300), 100) for v in variables})
    return points


# --------------------------------------------------------------------------- results
class Finding(enum.Enum):
    """What verify found about a claim; the diagnosis text says it to a person."""

    SAMPLED = "sampled"  # right: checked at sample points, SymPy did not simplify the difference to 0
    ROUNDING = "rounding"  # right up to rounding the intermediates
    SIGN = "sign"  # minus the right derivative
    SIGN_IN_TERM = "sign_in_term"  # one path's term with its sign flipped
    MISSING_TERM = "missing_term"  # some of the paths only (the local derivative, one consumer...)
    WRONG_LOCAL = "wrong_local"  # the upstream gradient is right, the local derivative is not
    CARRIED_FORWARD = "carried_forward"  # right given an earlier wrong claim
    LOCAL_ONLY = "local_only"  # a blank: the local gradient alone, not multiplied by the upstream one
    UPSTREAM_ONLY = "upstream_only"  # a blank: the upstream gradient alone, not multiplied by the local one
    SHAPE = "shape"  # a matrix claim of the wrong shape (a transpose, or factors that do not fit)
    MISSING_FACTOR = "missing_factor"  # a matrix claim without one or two of the local factors on the way
    PART_OF_DOMAIN = "part_of_domain"  # wrong, but right at some points
    UNCHECKABLE = "uncheckable"  # nowhere both defined at the samples
    WRONG = "wrong"  # wrong, and no explanation found


@dataclass
class ClaimResult:
    claim: str
    of: str
    wrt: str
    ok: bool
    verdict: str  # "right", "right up to rounding", "wrong"
    expected: str  # the true derivative, as a formula in the variables
    expected_value: Any = None  # at the `at` point, where every variable it needs has a value
    counterexample: dict[str, Any] | None = None  # {"point", "claimed", "expected"}
    diagnosis: str | None = None  # why it is wrong (or the note for a right one)
    finding: Finding | None = None  # the same, as a kind to decide on
    spread: dict[int, float] | None = None  # rounded-intermediates values, number claims only
    step: tuple[int, int] = (0, 0)  # position in backward order
    node: str = ""  # the node to highlight for this claim

    def to_json(self) -> dict[str, Any]:
        return {"claim": self.claim, "ok": self.ok, "verdict": self.verdict, "of": self.of, "wrt": self.wrt,
                "expected": self.expected, "expected_value": as_json_number(self.expected_value),
                "counterexample": _counterexample_json(self.counterexample),
                "diagnosis": self.diagnosis, "node": self.node,
                "finding": None if self.finding is None else self.finding.value,
                "spread": None if self.spread is None else {str(k): v for k, v in self.spread.items()}}


def _counterexample_json(c: dict[str, Any] | None) -> dict[str, Any] | None:
    """Matrices (a matrix claim's) as nested lists."""
    if c is None:
        return None
    plain = lambda v: as_json_number(v) if isinstance(v, np.ndarray) else v  # noqa: E731
    return {"point": {k: plain(v) for k, v in c["point"].items()}, "claimed": plain(c["claimed"]),
            "expected": plain(c["expected"])}


@dataclass
class Report:
    expression: str
    output: str
    claims: list[ClaimResult]
    first_wrong: int | None = None  # index into claims: the first wrong step in backward order
    at: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.claims)

    def to_json(self) -> dict[str, Any]:
        first = None
        if self.first_wrong is not None:
            c = self.claims[self.first_wrong]
            first = {"index": self.first_wrong, "claim": c.claim, "node": c.node, "diagnosis": c.diagnosis}
        return {"ok": self.ok, "expression": self.expression, "at": {k: as_json_number(v) for k, v in self.at.items()},
                "claims": [c.to_json() for c in self.claims], "first_wrong": first}


# --------------------------------------------------------------------------- explanations
def _explanations(graph: nx.DiGraph, claim: Claim, true: sp.Expr) -> list[tuple[sp.Expr, Finding, str]]:
    """Candidate wrong answers and what each one means, most telling first."""
    of, wrt = claim.of, claim.wrt
    out: list[tuple[sp.Expr, Finding, str]] = []
    if true != 0:
        out.append((-true, Finding.SIGN, "sign error: this is minus the right derivative"))
    found = paths(graph, of, wrt, limit=MAX_PATHS + 1)
    if 1 < len(found) <= MAX_PATHS:
        consumers = list(dict.fromkeys(p.nodes[1] for p in found))
        for size in range(1, len(found)):
            for subset in itertools.combinations(range(len(found)), size):
                chosen = [found[i] for i in subset]
                rest = [found[i] for i in range(len(found)) if i not in subset]
                value = sp.Add(*(p.term for p in chosen))
                firsts = {p.nodes[1] for p in chosen}
                if len(consumers) > 1 and all(p.nodes[1] not in firsts for p in rest):
                    kept = [c for c in consumers if c in firsts]
                    lost = [c for c in consumers if c not in firsts]
                    part = (f"the local (one-edge) derivative ∂{of}/∂{wrt}" if kept == [of]
                            else f"the path through {_names(graph, kept)}")
                    msg = (f"missing term: this is {part} only; {wrt} also reaches {of} through {_names(graph, lost)} "
                           f"({wrt} feeds {len(consumers)} ops, {_names(graph, consumers)}, and its gradient sums "
                           f"the terms through all of them)")
                else:
                    msg = (f"missing term: this is the path through {' + '.join(_through(graph, p) for p in chosen)} "
                           f"only; {wrt} also reaches {of} through {'; '.join(_through(graph, p) for p in rest)}")
                out.append((value, Finding.MISSING_TERM, msg))
        for p in found:  # one term with its sign flipped
            msg = f"sign error in the term through {_through(graph, p)}"
            out.append((true - 2 * p.term, Finding.SIGN_IN_TERM, msg))
    return out


def _consumers(graph: nx.DiGraph, node: str, of: str) -> list[str]:
    """The ops that use ``node`` and lie on a way to ``of``."""
    reach = nx.ancestors(graph, of) | {of}
    return [c for c in graph.successors(node) if c in reach]


def _explain(graph: nx.DiGraph, claim: Claim, true: sp.Expr, judge: _Judge, result: ClaimResult) -> bool:
    """Name the wrong answer the claim equals, if any (sign error, missing term...)."""
    for candidate, finding, msg in _explanations(graph, claim, true):
        if judge.same(claim.formula, candidate):
            result.finding, result.diagnosis = finding, msg
            return True
    return False


def _chain_diagnosis(graph: nx.DiGraph, claim: Claim, earlier: Mapping[tuple[str, str], tuple[Claim, ClaimResult]],
                     judge: _Judge, at: Mapping[str, Any]) -> tuple[Finding, str] | None:
    """Read a wrong claim as one backward step, d of/d wrt = Σ_c (d of/d c)(∂c/∂wrt) over the
    consumers c of wrt, given the claims made before it in backward order (``earlier``, keyed
    by (of, wrt)): upstream gradients d of/d c and local gradients ∂c/∂wrt."""
    consumers = _consumers(graph, claim.wrt, claim.of)
    upstream = {c: earlier.get((claim.of, c)) for c in consumers}
    local = {c: earlier.get((c, claim.wrt)) for c in consumers}
    wrong = [f"d{a.of}/d{a.wrt}" for a, r in filter(None, (*upstream.values(), *local.values())) if not r.ok]
    if wrong:
        carried = sp.Add(*((upstream[c][0].formula if upstream[c] else total_derivative(graph, claim.of, c))
                           * (local[c][0].formula if local[c] else _edge_local(graph, c, claim.wrt))
                           for c in consumers))
        if judge.same(claim.formula, carried):
            return Finding.CARRIED_FORWARD, (f"carried forward: with your {', '.join(wrong)} (wrong) this step is "
                                             f"right; the first wrong step is earlier")
        return None
    if len(consumers) != 1:
        return None
    c = consumers[0]
    if c != claim.of and upstream[c] is None:
        return None  # the upstream gradient at c is not known: cannot tell which factor is wrong
    true_upstream = total_derivative(graph, claim.of, c)
    if true_upstream == 0:
        return None
    right = _edge_local(graph, c, claim.wrt)
    if not claim.formula.free_symbols and set(map(symbol, at)) >= right.free_symbols | true_upstream.free_symbols:
        point = {symbol(k): v for k, v in at.items()}
        implied, right = number((claim.formula / true_upstream).xreplace(point)), number(right.xreplace(point))
    else:
        implied = to_text(sp.simplify(claim.written / derivative_in_names(graph, claim.of, c)))
        right = to_text(derivative_in_names(graph, c, claim.wrt))
    rule = local_formula(graph, c, graph.nodes[c]["args"].index(claim.wrt))
    name = _describe(graph, c)
    shown = equation(formula(rule), right)
    return Finding.WRONG_LOCAL, (f"wrong local derivative ∂{name}/∂{claim.wrt}: your answer implies it is {implied}, "
                                 f"but it is {shown}")


# --------------------------------------------------------------------------- verify
def _true_value(graph: nx.DiGraph, of: str, wrt: str, at: Mapping[str, sp.Expr]) -> Any:
    """d of/d wrt at ``at`` by graphlab's own exact backward pass (its conventions at kinks)."""
    prog = program(graph)
    if wrt not in prog.cone(of):
        return sp.Integer(0)
    value = evaluate(prog, Exact(), at, output=of, wrt=[wrt]).grads[wrt]
    return value if value is not None and not value.free_symbols else None


def _step(order: dict[str, int], graph: nx.DiGraph, claim: Claim) -> tuple[int, int]:
    """Where the claimed quantity is known in the backward pass: d out/d N when N is
    visited; a local ∂A/∂B while A is visited, after A's own upstream gradient."""
    if claim.of == graph.graph["output"]:
        return (order[claim.wrt], 0)
    return (order[claim.of], 1)


def verify(expr: str | nx.DiGraph, claims: Sequence[str], at: Mapping[str, Any] | None = None,
           seed: int = 0) -> Report:
    """Judge each claim; find the first wrong step in backward order."""
    graph = from_text(expr) if isinstance(expr, str) else expr
    at = dict(at or {})
    variables = graph.graph["variables"]
    unknown = sorted(set(at) - set(variables))
    if unknown:
        raise GraphlabError(f"{', '.join(unknown)}: not {'a variable' if len(unknown) == 1 else 'variables'} of the "
                            f"expression (variables: {', '.join(variables) or 'none'})", field="values")
    if not claims:
        raise GraphlabError("none to check: give one such as 'df/dx = ...'", field="claims")
    parsed = [parse_claim(graph, c) for c in claims]
    if graph.graph.get("matrices"):
        return _verify_matrices(graph, parsed, at, seed)
    backward = {n: i for i, n in enumerate(reversed(program(graph).order))}
    formula_judge = _Judge(variables, _sample_points(variables, at, seed))
    results: list[ClaimResult] = []
    trues: list[sp.Expr] = []
    for claim in parsed:
        true = total_derivative(graph, claim.of, claim.wrt)
        trues.append(true)
        needed = {s.name for s in true.free_symbols}
        value = _true_value(graph, claim.of, claim.wrt, at) if needed <= set(at) else None
        result = ClaimResult(claim.text, claim.of, claim.wrt, False, "wrong", _expected_text(graph, claim, true), value,
                             step=_step(backward, graph, claim),
                             node=claim.wrt if claim.of == graph.graph["output"] else claim.of)
        if claim.is_number and value is not None:
            _judge_number(graph, claim, true, at, result)
        else:
            _judge_formula(graph, claim, true, formula_judge, at, result)
        results.append(result)

    # The chain: read the wrong claims in backward order, each against those made before it.
    order = sorted(range(len(parsed)), key=lambda i: results[i].step)
    for n, i in enumerate(order):
        claim, result = parsed[i], results[i]
        if result.ok:
            continue
        judge = _number_judge(claim, at) if _pointwise(claim, result) else formula_judge
        earlier = {(parsed[j].of, parsed[j].wrt): (parsed[j], results[j]) for j in order[:n]}
        chain = _chain_diagnosis(graph, claim, earlier, judge, at)
        generic = result.finding in (None, Finding.WRONG, Finding.PART_OF_DOMAIN)
        if chain and (generic or chain[0] is Finding.CARRIED_FORWARD):
            result.finding, result.diagnosis = chain
    first_wrong = next((i for i in order if not results[i].ok
                        and results[i].finding is not Finding.CARRIED_FORWARD), None)
    return Report(graph.graph["source"], graph.graph["output"], results, first_wrong, at)


def _verify_matrices(graph: nx.DiGraph, parsed: list[MatrixClaim], at: dict[str, Any], seed: int) -> Report:
    """Matrix claims, judged at the values given and at random points of the right shapes
    (:mod:`graphlab.matrix_claims`); the first wrong one in backward order is the first wrong step."""
    from . import matrix_claims

    matrix_claims.check_values(graph, at)
    aliases = graph.graph.get("aliases", {})
    wanted = [c.wrt for c in parsed] + [aliases.get(n, n) for c in parsed for n in c.gradients.values()]
    found, sizes = matrix_claims.points(graph, at, list(dict.fromkeys(wanted)), seed)
    backward = {n: i for i, n in enumerate(reversed(program(graph).order))}
    results = []
    for claim in parsed:
        given = found[0].grads[claim.wrt] if found and found[0].given else None
        expected = matrix_claims.expected_text(graph, claim.wrt)
        result = ClaimResult(claim.text, claim.of, claim.wrt, False, "wrong", expected, given,
                             step=(backward[claim.wrt], 0), node=claim.wrt)
        matrix_claims.judge(graph, claim, found, sizes, result, Finding, seed)
        results.append(result)
    order = sorted(range(len(parsed)), key=lambda i: results[i].step)
    first_wrong = next((i for i in order if not results[i].ok), None)
    return Report(graph.graph["source"], graph.graph["output"], results, first_wrong, at)


def _expected_text(graph: nx.DiGraph, claim: Claim, true: sp.Expr) -> str:
    """The right derivative, written the way the claim is: in the variables only where the claim
    is, otherwise (names, or a number) in the lecture's names form."""
    names = {s.name for s in claim.written.free_symbols}
    if names and names <= set(graph.graph["variables"]):
        return to_text(true)
    products = formulas.names_form(graph, claim.of, claim.wrt)
    return formulas.text(products) if products is not None else to_text(true)


def _pointwise(claim: Claim, result: ClaimResult) -> bool:
    """A number with a point to judge it at; a number without one is a constant formula."""
    return claim.is_number and result.expected_value is not None


def _number_judge(claim: Claim, at: Mapping[str, Any]) -> _Judge:
    tol = sp.Rational(1, 2) / sp.Integer(10) ** claim.decimals if claim.decimals is not None else None
    return _Judge(list(at), [dict(at)], tolerance=None if tol is None else float(tol) * (1 + 1e-9))


def _judge_formula(graph: nx.DiGraph, claim: Claim, true: sp.Expr, judge: _Judge, at: Mapping[str, Any],
                   result: ClaimResult) -> None:
    if sp.expand(claim.formula - true) == 0:
        result.ok, result.verdict = True, "right"
        return
    # Numbers first: a difference at a sample point settles it, and simplify can take seconds.
    differ = judge.differ(claim.formula, true)
    if differ is None:
        result.finding = Finding.UNCHECKABLE
        result.diagnosis = "cannot be checked: the claim and the derivative are nowhere both defined at the samples"
        return
    if not differ.any():
        result.ok, result.verdict = True, "right"
        difference = claim.formula - true
        if sp.count_ops(difference) > MAX_SIMPLIFY_OPS or sp.simplify(difference) != 0:
            result.finding = Finding.SAMPLED
            result.diagnosis = f"checked at {len(judge.points)} sample points (SymPy did not simplify it to 0)"
        return
    k = int(np.argmax(differ))
    point = judge.points[k]
    result.counterexample = {"point": {v: as_json_number(x) for v, x in point.items()},
                             "claimed": float(judge.values(claim.formula)[k]), "expected": float(judge.values(true)[k])}
    if _explain(graph, claim, true, judge, result):
        return
    result.finding, result.diagnosis = Finding.WRONG, "wrong: it differs from the derivative"
    agree = ~differ & np.isfinite(judge.values(claim.formula)) & np.isfinite(judge.values(true))
    if agree.any():
        some = "the given point" if agree[0] and at and len(at) >= len(graph.graph["variables"]) else "some points"
        result.finding = Finding.PART_OF_DOMAIN
        result.diagnosis += f" (it agrees at {some}: right on part of the domain only)"


def _tolerance(decimals: int | None, expected: float) -> float:
    """How far a written number may be from ``expected``: half its last decimal (0.27 accepts 0.272392);
    an integer or fraction is exact."""
    return 0.5 * 10.0 ** -decimals if decimals is not None else 1e-9 * max(1.0, abs(expected))


def _judge_number(graph: nx.DiGraph, claim: Claim, true: sp.Expr, at: Mapping[str, Any], result: ClaimResult) -> None:
    claimed = float(claim.formula.evalf(30))
    expected = float(sp.N(result.expected_value, 30))
    tolerance = _tolerance(claim.decimals, expected)
    if abs(claimed - expected) <= tolerance * (1 + 1e-9):
        result.ok, result.verdict = True, "right"
        return
    result.counterexample = {"point": {v: as_json_number(x) for v, x in at.items()}, "claimed": claimed,
                             "expected": expected}
    try:
        result.spread = rounding_spread(graph, claim.of, claim.wrt, at)
    except (KeyError, TypeError, ValueError, OverflowError):  # KeyError: the point misses a variable
        result.spread = None
    if result.spread:
        low = min(*result.spread.values(), expected) - tolerance
        high = max(*result.spread.values(), expected) + tolerance
        if low <= claimed <= high:
            result.ok, result.verdict = True, "right up to rounding"
            shown = ", ".join(f"{number(v)} ({d} decimals)" for d, v in result.spread.items())
            result.finding = Finding.ROUNDING
            result.diagnosis = (f"full precision gives {number(expected)}; rounding the intermediate values gives "
                                f"{shown}, and {number(claimed)} lies in that spread")
            return
    judge = _number_judge(claim, at)
    if _explain(graph, claim, true, judge, result):
        return
    result.finding, result.diagnosis = Finding.WRONG, f"wrong: the derivative at this point is {number(expected)}"


# --------------------------------------------------------------------------- blanks
MAX_ENTRY_CHARS = 40  # a blank holds a number: longer text is refused unread


@dataclass(frozen=True)
class BlankResult:
    """What one filled-in blank of an :class:`~graphlab.exercise.Exercise` is worth."""

    number: int
    entered: str
    ok: bool  # right (to the precision it was written with)
    verdict: str  # "right", "wrong", "carried forward", "cannot read"
    finding: Finding | None = None
    hint: str | None = None


_NUMBER = r"[-+]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][-+]?\d{1,3})?"
_ENTRY = re.compile(rf"\s*({_NUMBER})\s*(?:/\s*({_NUMBER})\s*)?")


def _entry(text: str) -> tuple[float, int | None] | str:
    """A blank's text, a number (-4, 0.25, 1e-3) or a fraction of two (1/3) -> (value, decimals
    written; None for a fraction), or why it cannot be read."""
    from fractions import Fraction

    text = text.strip()
    if len(text) > MAX_ENTRY_CHARS:
        return f"too long: a number has at most {MAX_ENTRY_CHARS} characters"
    m = _ENTRY.fullmatch(text)
    if m is None:
        return "write a number such as -4 or 0.25, or a fraction such as 1/3"
    if m.group(2) is not None and Fraction(m.group(2)) == 0:
        return "division by 0"
    value = Fraction(m.group(1)) / (Fraction(m.group(2)) if m.group(2) is not None else 1)
    try:
        number_ = float(value)
    except OverflowError:
        return "not a finite number"
    return number_, (_decimals(text) if m.group(2) is None else None)


def check_blanks(ex: Any, entries: Mapping[int, str]) -> dict[int, BlankResult]:
    """Judge the blanks filled in (blank number -> text), in any order, each as one step of the pass.

    A blank is right when it matches the answer to the precision it is written with, as a number claim
    is judged. A wrong one is "carried forward" when it is what the step gives from the student's own
    earlier blanks, one of them wrong; otherwise the hint names the slip (the local gradient alone, the
    upstream one alone, a sign, a missing term of a sum) or says how the blank is computed."""
    from .arithmetic import Float

    graph, prog = ex.graph, program(ex.graph)
    out = graph.graph["output"]
    by_id = {b.id: b for b in ex.blanks}
    truth = {b.id: float(sp.N(ex.answer(b), 30)) for b in ex.blanks}
    read = {b.id: _entry(entries[b.number]) for b in ex.blanks if str(entries.get(b.number) or "").strip()}
    mine = {k: r[0] for k, r in read.items() if not isinstance(r, str)}
    results: dict[int, BlankResult] = {}

    def used(kind: str, node: str, arg: str | None = None, pos: int | None = None) -> float:
        """The student's number where they wrote one, the true one elsewhere."""
        key = f"{kind}:{node}" if arg is None else f"{kind}:{node}:{arg}:{pos}"
        if key in mine:
            return mine[key]
        if key in truth:
            return truth[key]
        if kind == "value":
            return float(sp.N(ex.trace.values[node], 30))
        if kind == "sum":
            return float(sp.N(ex.trace.grads[node], 30))
        step, edge = ex.edges[(node, pos)]
        return float(sp.N(edge.local if kind == "local" else edge.contribution, 30))

    def upstream(node: str) -> tuple[float, list[str]]:
        """d out/d node as the student has it, and the blank it comes from."""
        if node == out:
            return 1.0, []
        if f"sum:{node}" in by_id or prog.consumers[node] > 1:
            return used("sum", node), [f"sum:{node}"]
        consumer = next(c for c in graph.successors(node))
        pos = graph.nodes[consumer]["args"].index(node)
        return used("gradient", consumer, node, pos), [f"gradient:{consumer}:{node}:{pos}"]

    def outgoing(node: str) -> list[tuple[str, int]]:
        return [(c, i) for c in graph.successors(node) for i, a in enumerate(graph.nodes[c]["args"]) if a == node
                and (c, i) in ex.edges]

    arith = Float()
    for b in ex.blanks:
        if b.id not in read:
            continue
        entered = str(entries[b.number]).strip()
        if isinstance(read[b.id], str):
            results[b.number] = BlankResult(b.number, entered, False, "cannot read", None, f"cannot read it: "
                                                                                          f"{read[b.id]}")
            continue
        x, decimals = read[b.id]
        true = truth[b.id]
        tol = _tolerance(decimals, true)
        near = lambda a, c, tol=tol: abs(a - c) <= max(tol, 1e-9 * max(1.0, abs(c))) * (1 + 1e-9)  # noqa: E731
        if near(x, true):
            results[b.number] = BlankResult(b.number, entered, True, "right")
            continue
        # what this step gives from the student's own numbers, and the blanks those come from
        with np.errstate(all="ignore"):
            if b.kind == "value":
                op, args = prog.ops[b.node], prog.args[b.node]
                inputs = [f"value:{a}" for a in args]
                carried = arith.apply(op, b.node, [used("value", a) for a in args])
            elif b.kind == "local":
                op, args = prog.ops[b.node], prog.args[b.node]
                inputs = [f"value:{a}" for a in (*args, b.node)]
                carried = arith.local(op, used("value", b.node), [used("value", a) for a in args], b.position)
            elif b.kind == "gradient":
                u, inputs = upstream(b.node)
                local = used("local", b.node, b.arg, b.position)
                inputs = [*inputs, f"local:{b.node}:{b.arg}:{b.position}"]
                carried = u * local
            else:
                terms = [(c, used("gradient", c, b.node, i)) for c, i in outgoing(b.node)]
                inputs = [f"gradient:{c}:{b.node}:{i}" for c, i in outgoing(b.node)]
                carried = sum(t for _, t in terms)
        wrong = [by_id[k] for k in inputs if k in mine and not near(mine[k], truth[k], _tolerance(read[k][1],
                                                                                                   truth[k]))]
        if wrong and np.isfinite(carried) and near(x, carried):
            shown = ", ".join(f"({w.number}) {number(mine[w.id], digits=4, compact=True)}" for w in wrong)
            results[b.number] = BlankResult(b.number, entered, False, "carried forward", Finding.CARRIED_FORWARD,
                                            f"carried forward: with your {shown} (wrong) this step is right; "
                                            f"the slip is earlier")
            continue
        finding, hint = _blank_hint(ex, b, x, true, near, used, upstream, outgoing)
        results[b.number] = BlankResult(b.number, entered, False, "wrong", finding, hint)
    return results


def _blank_hint(ex: Any, b: Any, x: float, true: float, near, used, upstream, outgoing) -> tuple[Finding, str]:
    """Name the slip in a wrong blank, or say how the blank is computed (without giving the number)."""
    graph, label = ex.graph, ex.label
    out = label(graph.graph["output"])
    if b.kind in ("local", "gradient"):
        d_local = f"∂{label(b.node)}/∂{label(b.arg)}"
        rule = formula(local_formula(graph, b.node, b.position))
        u = upstream(b.node)[0]
        local = used("local", b.node, b.arg, b.position)
        if b.kind == "gradient" and near(x, local) and not near(u, 1.0):
            return Finding.LOCAL_ONLY, (f"this is the local gradient {d_local}; multiply by the upstream "
                                        f"{number(u, digits=4, compact=True)}")
        if b.kind == "gradient" and near(x, u) and not near(local, 1.0):
            return Finding.UPSTREAM_ONLY, (f"this is the upstream gradient ∂{out}/∂{label(b.node)}; multiply by "
                                           f"the local gradient {d_local} = {rule}")
        if true != 0 and near(x, -true):
            return Finding.SIGN, "sign error: this is minus the right number"
        if b.kind == "local":
            if not near(u, 1.0) and near(x, true * u):
                return Finding.WRONG, (f"this is upstream × local; the blank asks for the local gradient {d_local} "
                                       f"= {rule} alone")
            return Finding.WRONG_LOCAL, f"the local gradient {d_local} = {rule}: evaluate it at the values on the edges"
        return Finding.WRONG, (f"the gradient sent back is upstream × local: {number(u, digits=4, compact=True)} × "
                               f"{d_local}, with {d_local} = {rule}")
    if true != 0 and near(x, -true):
        return Finding.SIGN, "sign error: this is minus the right number"
    if b.kind == "sum":
        edges = outgoing(b.node)
        terms = [used("gradient", c, b.node, i) for c, i in edges]
        for size in range(1, len(terms) if len(terms) <= MAX_PATHS else 1):
            for subset in itertools.combinations(range(len(terms)), size):
                if near(x, sum(terms[i] for i in subset)):
                    through = _names(graph, [edges[i][0] for i in subset])
                    name = label(b.node)
                    return Finding.MISSING_TERM, (f"missing term: this is the gradient through {through} only; "
                                                  f"{name} feeds {len(terms)} ops, and ∂{out}/∂{name} sums the "
                                                  "gradients on all its outgoing edges")
        return Finding.WRONG, (f"∂{out}/∂{label(b.node)} is the sum of the gradients on its {len(terms)} outgoing "
                               "edges")
    return Finding.WRONG, f"{label(b.node)} = {ex.computes(b.node)}: compute it from the values on its incoming edges"
