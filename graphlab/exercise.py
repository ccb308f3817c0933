"""An exercise: an expression at values a person can work with by hand, and the blanks to fill in.

Values are drawn from a seed, so the same seed always gives the same numbers: each variable a
small integer (-5 to 5) or, where integers cannot work, a number with one decimal (-2 to 2),
never 0. A draw is kept only if every op's operands lie inside the op's domain (the registry's
``domain`` rule: log's operand > 0, no division by 0, no kink of relu or abs) and every value and
gradient is finite and of a size one writes by hand (no 10⁹, no 10⁻⁹). An expression no draw can
satisfy is refused with one line naming the reason.

The blanks are what the lecture's diagram writes on the edges: the forward value of each op
node (``values``); for each edge the local gradient ∂node/∂input and the gradient sent back
along it, upstream × local, and at a node with several consumers the sum of what arrives
(``gradients``); or all of them (``both``). They are numbered in the order a pass fills them in:
forward, then backward. Answers are exact: the trace at the drawn values, in exact arithmetic.

The worksheets (:mod:`graphlab.worksheet`) and the app's Practice tab both draw and number
exercises here; :func:`graphlab.verify.check_blanks` judges what a student wrote in them.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import Any

import networkx as nx
import numpy as np
import sympy as sp

from .arithmetic import Float, symbol
from .build import node_expr
from .errors import GraphlabError
from .evaluate import BackwardStep, Edge, evaluate
from .ops import OPS
from .present import formula, number
from .program import program
from .trace import Trace, as_json_number, is_finite, trace

__all__ = ["BLANKS", "KINDS", "Ranges", "AUTO", "Blank", "Exercise", "draw_values", "exercise", "parse_range",
           "problem"]

BLANKS = ("values", "gradients", "both")
KINDS = ("value", "local", "gradient", "sum")
TRIES = 400  # random draws per range before an expression is refused
MAX_MAGNITUDE = 1_000  # no value or gradient larger than this...
MIN_MAGNITUDE = 1e-4  # ...or nearer 0 than this (0 itself is fine)
MAX_DECIMALS = 3  # a fraction is kept only if it ends within this many decimals (1/4 yes, 1/3 no), if any draw can
MAX_VARIABLES = 40
MAX_NODES = 200  # a worksheet of more than this is not an exercise for a person


@dataclass(frozen=True)
class Ranges:
    """Where values are drawn from: multiples of 10^-decimals in [low, high], 0 left out."""

    low: float = -5
    high: float = 5
    decimals: int = 0

    def choices(self) -> list[sp.Rational]:
        scale = 10**self.decimals
        lo, hi = int(np.ceil(self.low * scale)), int(np.floor(self.high * scale))
        return [sp.Rational(k, scale) for k in range(lo, hi + 1) if k != 0]

    def __str__(self) -> str:
        kind = "integers" if self.decimals == 0 else f"numbers with {self.decimals} decimal{'s' * (self.decimals > 1)}"
        return f"{kind} from {self.low:g} to {self.high:g}"


AUTO = (Ranges(-5, 5, 0), Ranges(-2, 2, 1))  # integers first; one decimal where integers cannot work


def parse_range(text: str, decimals: int | None) -> tuple[Ranges, ...]:
    """``"-5:5"`` (and ``--decimals``) -> the ranges to draw from; errors concern the field ``range``."""
    if decimals is not None and not 0 <= decimals <= 2:
        raise GraphlabError(f"must be 0, 1 or 2, not {decimals}", field="decimals")
    if not text:
        if decimals is None:
            return AUTO
        return (Ranges(-5, 5, 0),) if decimals == 0 else (Ranges(-2, 2, decimals),)
    low, sep, high = text.partition(":")
    try:
        lo, hi = float(low), float(high)
    except ValueError:
        lo = hi = float("nan")
    if not sep or not (np.isfinite(lo) and np.isfinite(hi)) or lo >= hi or max(abs(lo), abs(hi)) > 100:
        raise GraphlabError(f"{text!r} is not LOW:HIGH with LOW < HIGH, both within -100 and 100 (e.g. -5:5)",
                            field="range")
    return (Ranges(lo, hi, 0 if decimals is None else decimals),)


# --------------------------------------------------------------------------- drawing values
# A reason a draw is no good: (what, node), put in words only for the message (node_expr is slow).
Reason = tuple[str, str]


def _domain_problem(graph: nx.DiGraph, values: Mapping[str, Any]) -> Reason | None:
    prog = program(graph)
    for node, op in prog.ops.items():
        inside = op.domain_fn(len(prog.args[node]))
        args = [values[a] for a in prog.args[node]]
        if inside is not None and not bool(inside(np, *map(np.float64, args))):
            return "domain", node
    return None


def _size_problem(numbers: Mapping[str, Any], what: str) -> Reason | None:
    for node, v in numbers.items():
        if v is None:
            continue
        if not is_finite(v):
            return f"{what} infinite", node
        a = abs(float(v))
        if a > MAX_MAGNITUDE or 0 < a < MIN_MAGNITUDE:
            return f"{what} {'large' if a > 1 else 'small'}", node
    return None


def _reason_text(graph: nx.DiGraph, reason: Reason) -> str:
    what, node = reason
    if what == "domain":
        op = OPS[graph.nodes[node]["op"]]
        return f"the operands of {_shown(graph, node, named=False)} leave {op.name}'s domain ({op.domain})"
    kind, size = what.split()
    if size == "infinite":
        return f"the {kind} of {_shown(graph, node)} is not finite"
    return f"the {kind} of {_shown(graph, node)} is too {size} to work with by hand"


def _shown(graph: nx.DiGraph, node: str, named: bool = True) -> str:
    """A node as a person reads it: its name, or (unnamed, or ``named=False``) what it computes."""
    data = graph.nodes[node]
    text = data["label"] if data["kind"] == "var" or (named and data.get("name")) else \
        formula(node_expr(graph, node))
    return text if len(text) <= 30 else node


def _long_fraction(numbers: Mapping[str, Any]) -> bool:
    """Some exact value is a fraction that does not end within MAX_DECIMALS decimals (1/3)."""
    return any(isinstance(v, sp.Rational) and 10**MAX_DECIMALS % int(v.q) for v in numbers.values())


def _problem(graph: nx.DiGraph, point: Mapping[str, sp.Expr]) -> Reason | None:
    """Why ``point`` is no good for an exercise (in float: fast), or None."""
    with np.errstate(all="ignore"):
        run = evaluate(program(graph), Float(), point)
    return (_domain_problem(graph, run.values) or _size_problem(run.values, "value")
            or _size_problem({n: g for n, g in run.grads.items() if n in run.needs}, "gradient"))


def draw_values(graph: nx.DiGraph, seed: int | str, fixed: Mapping[str, sp.Expr] | None = None,
                ranges: tuple[Ranges, ...] = AUTO) -> dict[str, sp.Expr]:
    """Values for every variable of ``graph`` (``fixed`` ones kept), the same for the same seed.

    Raises GraphlabError (field ``range``) naming the reason when no draw keeps the values in range."""
    fixed = dict(fixed or {})
    variables = graph.graph["variables"]
    _check_size(graph)
    free = [v for v in variables if v not in fixed]
    reasons: dict[Reason, int] = {}
    fallback = None
    for r in ranges:
        rng = random.Random(f"graphlab exercise {seed} {r}")  # a str seed: the same on every machine
        choices = r.choices()
        if not choices:
            continue
        exact_tries = 0
        for _ in range(TRIES if free else 1):
            point = {**fixed, **{v: rng.choice(choices) for v in free}}
            why = _problem(graph, point)
            if why is not None:
                reasons[why] = reasons.get(why, 0) + 1
                continue
            fallback = fallback or point
            exact_tries += 1
            t = trace(graph, point, mode="exact")
            if not _long_fraction({**t.values, **{n: g for n, g in t.grads.items() if g is not None}}):
                return point
            if exact_tries >= 20:  # fractions it is: 1/3 is still worked out by hand
                return fallback
        if fallback is not None:
            return fallback
    source = graph.graph.get("source", "the expression").strip()
    where = " or ".join(str(r) for r in ranges)
    if not free:
        why = _reason_text(graph, next(iter(reasons)))
        raise GraphlabError(f"gives values that make no exercise on {source}: {why}", field="values")
    top = _reason_text(graph, max(reasons, key=reasons.get)) if reasons else "there are no values to draw from"
    raise GraphlabError(f"gives no hand-computable numbers for {source} ({where}, 0 left out): in every draw "
                        f"tried, {top}", field="range")


def _check_size(graph: nx.DiGraph) -> None:
    """Refuse, before any work, a graph too large to be an exercise for a person."""
    if len(graph.graph["variables"]) > MAX_VARIABLES or graph.number_of_nodes() > MAX_NODES:
        raise GraphlabError(f"{graph.graph.get('source', '').strip()[:40]} is too large for an exercise: at most "
                            f"{MAX_VARIABLES} variables and {MAX_NODES} nodes")


# --------------------------------------------------------------------------- blanks
@dataclass(frozen=True)
class Blank:
    """One box to fill in, numbered from 1 in the order a forward then backward pass fills them."""

    number: int
    kind: str  # value: a node's forward value; local: ∂node/∂arg; gradient: upstream × local; sum: ∂out/∂node
    node: str  # value, sum: the node; local, gradient: the op the edge goes into
    arg: str | None = None  # local, gradient: the operand the edge comes from
    position: int | None = None  # local, gradient: which operand

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.node}" if self.arg is None else f"{self.kind}:{self.node}:{self.arg}:{self.position}"


@dataclass(frozen=True, eq=False)
class Exercise:
    graph: nx.DiGraph
    values: dict[str, sp.Expr]  # each variable's value (given on the sheet)
    blanks_mode: str  # values, gradients or both
    trace: Trace  # exact, at ``values``
    blanks: tuple[Blank, ...]

    @cached_property
    def edges(self) -> dict[tuple[str, int], tuple[BackwardStep, Edge]]:
        """(node, operand position) -> the backward step at node and the Edge it sends that operand."""
        return {(s.node, e.position): (s, e) for s in self.trace.backward_steps for e in s.edges}

    def answer(self, blank: Blank) -> sp.Expr:
        if blank.kind == "value":
            return self.trace.values[blank.node]
        if blank.kind == "sum":
            return self.trace.grads[blank.node]
        edge = self.edges[(blank.node, blank.position)][1]
        return edge.local if blank.kind == "local" else edge.contribution

    def label(self, node: str) -> str:
        return self.graph.nodes[node]["label"]

    def computes(self, node: str) -> str:
        """What an op node computes from its operands, by their labels as the diagram's ∂ labels write
        them: ``x + y`` for q, ``v1 z`` for f = (x + y) z."""
        prog = program(self.graph)
        args = [prog.consts[a] if a in prog.consts else symbol(prog.labels[a]) for a in prog.args[node]]
        return formula(prog.ops[node].sym(*args), True)

    def describe(self, blank: Blank) -> str:
        """What the blank holds, in words: "the value of q = x + y", "∂q/∂x, the local gradient"."""
        out = self.label(self.graph.graph["output"])
        if blank.kind == "value":
            return f"the value of {self.label(blank.node)} = {self.computes(blank.node)}"
        if blank.kind == "sum":
            n = program(self.graph).consumers[blank.node]
            return f"∂{out}/∂{self.label(blank.node)}, the sum over its {n} outgoing edges"
        node, arg = self.label(blank.node), self.label(blank.arg)
        if blank.kind == "local":
            return f"∂{node}/∂{arg}, the local gradient on the edge {arg} → {node}"
        return f"the gradient sent back along {arg} → {node} (upstream × local)"

    def to_json(self, digits: int = 6) -> dict[str, Any]:
        return {"values": {v: as_json_number(x) for v, x in self.values.items()},
                "values_text": {v: number(x, digits=digits, compact=True) for v, x in self.values.items()},
                "blanks": [{"number": b.number, "id": b.id, "kind": b.kind, "node": b.node, "input": b.arg,
                            "what": self.describe(b), "answer": as_json_number(self.answer(b)),
                            "answer_text": number(self.answer(b), digits=digits, compact=True),
                            "answer_exact": formula(self.answer(b))}
                           for b in self.blanks]}


def _blanks(t: Trace, mode: str) -> tuple[Blank, ...]:
    prog = program(t.graph)
    out: list[Blank] = []
    if mode in ("values", "both"):
        out += [Blank(0, "value", n) for n in prog.order if n in prog.ops]
    if mode in ("gradients", "both"):
        sums = {e.input for s in t.backward_steps for e in s.edges if e.consumers > 1}
        for s in t.backward_steps:
            if s.node in sums:
                out.append(Blank(0, "sum", s.node))
            for e in s.edges:
                out += [Blank(0, "local", s.node, e.input, e.position), Blank(0, "gradient", s.node, e.input,
                                                                                e.position)]
    return tuple(Blank(k, b.kind, b.node, b.arg, b.position) for k, b in enumerate(out, start=1))


def exercise(graph: nx.DiGraph, values: Mapping[str, Any], blanks: str = "both") -> Exercise:
    """The exercise on ``graph`` at ``values`` (every variable), with ``blanks`` to fill in."""
    if blanks not in BLANKS:
        raise GraphlabError(f"must be {', '.join(BLANKS[:-1])} or {BLANKS[-1]}, not {blanks!r}", field="blanks")
    _check_size(graph)
    missing = [v for v in graph.graph["variables"] if values.get(v) is None]
    if missing:
        raise GraphlabError(f"no value for {', '.join(missing)}: give {'it' if len(missing) == 1 else 'them'}",
                            wanted=missing)
    t = trace(graph, dict(values), mode="exact")
    found = _blanks(t, blanks)
    if not found:
        raise GraphlabError(f"{graph.graph.get('source', '').strip()} has no "
                            f"{'operator' if blanks == 'values' else 'gradient'} to work out: nothing to fill in")
    return Exercise(graph, {v: t.values[v] for v in graph.graph["variables"]}, blanks, t, found)


def problem(graph: nx.DiGraph, point: Mapping[str, Any]) -> str | None:
    """Why ``point`` makes no good exercise on ``graph`` (outside a domain, too large...), or None."""
    reason = _problem(graph, point)
    return None if reason is None else _reason_text(graph, reason)
