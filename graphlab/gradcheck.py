"""Gradient checks: backprop's gradient against a central difference, and the "nudge" of one input.

For each variable w, the check compares ∂g/∂w from one reverse pass with the central difference
the lecture writes (seed 004), (g(w + h) - g(w - h)) / 2h, float64 throughout, and passes when
the relative error |backprop - central| / max(|backprop|, |central|) is at most ``rtol`` or the
absolute difference at most ``atol`` (a gradient of 0 has no relative scale).

At a kink (relu or abs at 0, max at a tie) or a jump there is no derivative, and the check fails
whatever the numbers say. A kink shows in the one-sided differences, (g(w + h) - g(w)) / h and
(g(w) - g(w - h)) / h: on a smooth function they differ by about h·g'', so by ten times as much
at ten times the step; at a kink they differ by the jump in slope at any step. The node where the
kink enters is the first one, in forward order, whose own value has one-sided differences that
disagree that way; the note names it, and the convention backprop uses there (the op's note).

:func:`nudge` moves one input by h and sets each node's change beside its linear prediction
∂node/∂w · h, the tangents of forward mode (:mod:`graphlab.forward`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import networkx as nx
import numpy as np

from .arithmetic import Float
from .errors import GraphlabError
from .evaluate import evaluate
from .forward import forward_trace
from .program import Program, program
from .trace import as_json_number, trace

__all__ = ["DEFAULT_H", "DEFAULT_RTOL", "DEFAULT_ATOL", "STATUSES", "Check", "GradCheck", "gradcheck", "NudgeRow",
           "Nudge", "nudge"]

DEFAULT_H = 1e-5  # float64: truncation ~h² g''' and rounding ~1e-16 |g| / h are both far below 1e-6 here
DEFAULT_RTOL = 1e-6
DEFAULT_ATOL = 1e-8
KINK_SLOPE = 1e-3  # one-sided differences further apart than this (relative to the slopes, or to 1) ...
WIDER = 10  # ... and not growing about tenfold at a step ten times wider: a kink
STATUSES = ("ok", "off", "kink", "nonfinite")  # what a check found; ok is the only pass


@dataclass(frozen=True)
class Check:
    variable: str
    backprop: float
    central: float  # (g(w + h) - g(w - h)) / 2h
    forward_difference: float  # (g(w + h) - g(w)) / h
    backward_difference: float  # (g(w) - g(w - h)) / h
    relative_error: float  # |backprop - central| / max(|backprop|, |central|); 0 where both are 0
    absolute_error: float
    status: str  # one of STATUSES
    kink_node: str | None = None  # the node where the kink enters, where status is "kink"
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.status == "ok"


@dataclass(frozen=True)
class GradCheck:
    expression: str
    output: str  # the output node
    at: dict[str, float]
    value: float  # g at the point
    h: float
    rtol: float
    atol: float
    checks: tuple[Check, ...]

    @property
    def ok(self) -> bool:
        return all(c.ok for c in self.checks)

    def to_json(self) -> dict[str, Any]:
        num = as_json_number
        return {"expression": self.expression, "output_node": self.output,
                "at": {v: num(x) for v, x in self.at.items()}, "value": num(self.value), "h": self.h,
                "rtol": self.rtol, "atol": self.atol, "ok": self.ok,
                "checks": [{"variable": c.variable, "backprop": num(c.backprop), "central_difference": num(c.central),
                            "forward_difference": num(c.forward_difference),
                            "backward_difference": num(c.backward_difference),
                            "relative_error": num(c.relative_error), "absolute_error": num(c.absolute_error),
                            "status": c.status, "ok": c.ok, "kink_node": c.kink_node, "note": c.note}
                           for c in self.checks]}


def _point(graph: nx.DiGraph, at: Mapping[str, Any]) -> dict[str, float]:
    variables = graph.graph["variables"]
    unknown = sorted(set(at) - set(variables) - set(graph.graph.get("aliases", {})))
    if unknown:
        raise GraphlabError(f"{', '.join(unknown)}: not a variable of the expression "
                            f"(variables: {', '.join(variables) or 'none'})", field="values")
    missing = [v for v in variables if at.get(v) is None]
    if missing:
        raise GraphlabError(f"a gradient check needs every variable's value; no value for {', '.join(missing)}: "
                            f"give {'it' if len(missing) == 1 else 'them'}", wanted=missing)
    point = {}
    for v in variables:
        try:
            point[v] = float(at[v])
        except TypeError:  # a SymPy number with an imaginary part, say
            raise GraphlabError(f"{v}: {at[v]} is not a real number", field="values") from None
    return point


def _values(prog: Program, point: Mapping[str, float]) -> dict[str, float]:
    with np.errstate(all="ignore"):
        return evaluate(prog, Float(), point, backward=False).values


def _slopes(before: float, here: float, after: float, step: float) -> tuple[float, float]:
    return (after - here) / step, (here - before) / step


def _at_kink(before: float, here: float, after: float, wide_before: float, wide_after: float, h: float) -> bool:
    """One-sided differences that disagree by more than rounding, and by about as much ten times wider."""
    up, down = _slopes(before, here, after, h)
    gap = abs(up - down)
    noise = 64 * np.finfo(float).eps * max(abs(before), abs(here), abs(after), 1e-300) / h
    if not gap > max(KINK_SLOPE * max(1.0, abs(up), abs(down)), noise):
        return False
    wide_up, wide_down = _slopes(wide_before, here, wide_after, WIDER * h)
    return abs(wide_up - wide_down) < 3 * gap  # smooth: about WIDER times the gap


def gradcheck(graph: nx.DiGraph, at: Mapping[str, Any], h: float = DEFAULT_H, rtol: float = DEFAULT_RTOL,
              atol: float = DEFAULT_ATOL) -> GradCheck:
    """Check every variable's backprop gradient at ``at`` against a central difference with step ``h``."""
    for name, x in (("h", h), ("rtol", rtol), ("atol", atol)):
        if not (isinstance(x, (int, float)) and math.isfinite(x) and x > 0):
            raise GraphlabError(f"must be a positive number, not {x!r}", field=name)
    point = _point(graph, at)
    prog = program(graph)
    out = prog.output
    t = trace(graph, point)
    here = t.values
    checks = []
    for v in prog.variables:
        shifted = {k: _values(prog, {**point, v: point[v] + k * h}) for k in (1, -1, WIDER, -WIDER)}
        up, down = shifted[1][out], shifted[-1][out]
        backprop = float(t.gradient[v])
        central = (up - down) / (2 * h)
        forward_d, backward_d = _slopes(down, here[out], up, h)
        absolute = abs(backprop - central)
        scale = max(abs(backprop), abs(central))
        relative = absolute / scale if scale > 0 else 0.0
        kink_node, note = None, ""
        numbers = (backprop, central, forward_d, backward_d, here[out])
        if not all(math.isfinite(x) for x in numbers):
            status = "nonfinite"
            note = f"a value or gradient is not finite near {v} = {point[v]:g}: no check is possible there"
        elif _at_kink(down, here[out], up, shifted[-WIDER][out], shifted[WIDER][out], h):
            status = "kink"
            kink_node = next((n for n in prog.order if n in prog.ops and _at_kink(
                shifted[-1][n], here[n], shifted[1][n], shifted[-WIDER][n], shifted[WIDER][n], h)), out)
            op = prog.ops.get(kink_node)
            where = f"{op.name} at node {kink_node}" if op is not None else f"node {kink_node}"
            convention = f": {op.note}" if op is not None and op.note else ""
            note = (f"{v} = {point[v]:g} is at a kink of {where}, or within h of one: the one-sided differences "
                    f"{forward_d:.6g} and {backward_d:.6g} disagree, so no central difference can check ∂{out}/∂{v}; "
                    f"at the kink there is no derivative, and backprop takes the convention{convention}")
        elif relative <= rtol or absolute <= atol:
            status = "ok"
        else:
            status = "off"
            note = (f"backprop and the central difference differ by {absolute:.3g} "
                    f"(relative {relative:.3g} > {rtol:g}); try another h to see whether the difference is rounding")
        checks.append(Check(v, backprop, central, forward_d, backward_d, relative, absolute, status, kink_node,
                            note))
    return GradCheck(graph.graph.get("source", "").strip(), out, point, float(t.output), h, rtol, atol,
                     tuple(checks))


# --------------------------------------------------------------------------- nudge
@dataclass(frozen=True)
class NudgeRow:
    node: str
    value: float
    nudged: float  # the node's value with the input moved by h
    change: float  # nudged - value
    tangent: float  # ∂node/∂input
    predicted: float  # tangent · h: the linear prediction of the change


@dataclass(frozen=True)
class Nudge:
    wrt: str
    h: float
    rows: tuple[NudgeRow, ...]


def nudge(graph: nx.DiGraph, at: Mapping[str, Any], wrt: str, h: float) -> Nudge:
    """Move ``wrt`` by ``h``: each node's change in value, beside the prediction ∂node/∂wrt · h."""
    if not (isinstance(h, (int, float)) and math.isfinite(h)):
        raise GraphlabError(f"must be a finite number, not {h!r}", field="h")
    point = _point(graph, at)
    t = forward_trace(graph, point, wrt)
    moved = _values(program(graph), {**point, wrt: point[wrt] + h})
    rows = []
    for n in t.steps:
        value, tangent = float(n.value), float(n.tangent)
        with np.errstate(all="ignore"):
            rows.append(NudgeRow(n.node, value, float(moved[n.node]), float(moved[n.node]) - value, tangent,
                                 tangent * h))
    return Nudge(wrt, h, tuple(rows))
