"""Gradient descent by hand: the lecture's "calculate the first three gradient updates".

Every step runs graphlab's own trace at the current parameters (one trace per data row
in the mini-batch variant), so the gradient in the table is exactly what ``graphlab grad``
shows at that point, and exact mode keeps 148/25 as 148/25.

Row k of the history holds the parameters θ_k, the loss L(θ_k), the gradient ∇L(θ_k)
and the update −η ∇L(θ_k) that gives θ_{k+1}; the last row has no update.
"""

from __future__ import annotations

import random
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import networkx as nx
import sympy as sp

from . import table
from .build import from_text
from .errors import GraphlabError
from .point import parse_value
from .trace import as_json_number, trace

__all__ = ["DescentStep", "Descent", "descend", "read_table", "parse_table", "MAX_STEPS", "MAX_ROWS"]

MAX_STEPS = 10_000
MAX_ROWS = table.MAX_ROWS
_NUMBER = re.compile(r"\s*[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?\s*")


@dataclass
class DescentStep:
    step: int
    params: dict[str, Any]  # θ_k
    loss: Any  # L(θ_k): over the batch in the mini-batch variant
    gradient: dict[str, Any]  # ∇L(θ_k)
    update: dict[str, Any] | None  # −η ∇L(θ_k), None on the last row
    batch: list[int] | None = None  # data rows (0-based) this row's loss and gradient average over


@dataclass
class Descent:
    expression: str
    output: str  # the loss's node: the gradients are d output / d θ
    wrt: tuple[str, ...]
    lr: Any
    mode: str
    history: list[DescentStep]
    fixed: dict[str, Any]  # the variables that are not descended on (y = 10, x = 2)
    batch_size: int | None = None

    def to_json(self) -> dict[str, Any]:
        exact = self.mode == "exact"

        def nums(d: Mapping[str, Any] | None) -> dict[str, Any] | None:
            return None if d is None else {k: as_json_number(v) for k, v in d.items()}

        history = []
        for s in self.history:
            row = {"step": s.step, "params": nums(s.params), "loss": as_json_number(s.loss),
                   "gradient": nums(s.gradient), "update": nums(s.update)}
            if s.batch is not None:
                row["batch"] = s.batch
            if exact:
                row["params_exact"] = {k: str(v) for k, v in s.params.items()}
                row["loss_exact"] = str(s.loss)
            history.append(row)
        return {"expression": self.expression, "wrt": list(self.wrt), "lr": as_json_number(self.lr),
                "mode": self.mode, "fixed": nums(self.fixed), "batch_size": self.batch_size, "history": history}


def read_table(path: str) -> list[dict[str, str]]:
    """A small CSV data table: a header of variable names, then one number per cell."""
    return _records(table.read_file(path, field="data"), path)


def parse_table(raw: bytes | str, path: str = "the table") -> list[dict[str, str]]:
    """:func:`read_table` on an upload's bytes or text already read; ``path`` names it in errors."""
    rows = table.read_bytes(raw, path, "data") if isinstance(raw, bytes) else table.rows(raw, path, "data")
    return _records(rows, path)


def _records(rows: list[list[str]], path: str) -> list[dict[str, str]]:
    header, body = rows[0], rows[1:]
    if not body:
        raise GraphlabError(f"{path} has no data rows", field="data")
    if len(body) > MAX_ROWS:
        raise GraphlabError(f"{path} has {len(body):,} rows; the limit is {MAX_ROWS:,}", field="data")
    records = []
    for i, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise GraphlabError(f"{path} line {i}: the row does not match the header", field="data")
        for name, cell in zip(header, row):
            if not _NUMBER.fullmatch(cell):
                raise GraphlabError(f"{path} line {i}: {name} = {cell!r} is not a number", field="data")
        records.append(dict(zip(header, row)))
    return records


def _number(text: str, mode: str) -> Any:
    return _as_number(Fraction(text.strip()), mode)  # checked against _NUMBER; never sympify'd


def _learning_rate(lr: Any) -> Any:
    """``lr`` as given: a number, or text read exactly (``1/100``) as a value is."""
    if not isinstance(lr, str):
        return lr
    try:
        return parse_value(lr.strip())
    except GraphlabError as e:
        e.field = "learning_rate"  # the error keeps its kind (a ParseError keeps its caret)
        raise


def _as_number(value: Any, mode: str) -> Any:
    """A value given exactly (SymPy, from :func:`graphlab.point.parse_point`) or from Python, as the mode
    computes with it."""
    if mode != "exact":
        return float(value)
    if isinstance(value, sp.Basic):
        return value
    fraction = Fraction(repr(float(value))) if isinstance(value, float) else Fraction(value)
    return sp.Rational(fraction.numerator, fraction.denominator)


def _mean(values: list[Any]) -> Any:
    return sum(values[1:], values[0]) / len(values)


def descend(
    expr: str | nx.DiGraph,
    wrt: Sequence[str],
    at: Mapping[str, Any],
    lr: Any,
    steps: int,
    mode: str = "float",
    data: Sequence[Mapping[str, str]] | None = None,
    batch_size: int | None = None,
    seed: int = 0,
) -> Descent:
    """Run ``steps`` updates θ ← θ − lr ∇L(θ) on the parameters ``wrt``, starting from ``at``.

    ``lr`` is a number, or text read exactly as a value is (``"1/100"``).

    ``at`` gives the start of every parameter and the value of every other variable, except
    those a ``data`` table supplies: then each step averages the loss and gradient over a
    mini-batch of ``batch_size`` rows, drawn by shuffling the rows once per pass (``seed``).
    """
    graph = from_text(expr) if isinstance(expr, str) else expr
    variables = graph.graph["variables"]
    wrt = tuple(dict.fromkeys(wrt))
    if not wrt:
        raise GraphlabError("names no parameter", field="wrt")
    for name in wrt:
        if name not in variables:
            raise GraphlabError(f"{name}: not a variable of the expression (variables: {', '.join(variables)})",
                                field="wrt")
        if name not in at:
            raise GraphlabError(f"{name}: give its starting value", field="wrt", wanted=(name,))
    if not 0 <= steps <= MAX_STEPS:
        raise GraphlabError(f"must be between 0 and {MAX_STEPS:,}", field="steps")
    lr = _as_number(_learning_rate(lr), mode)

    columns: tuple[str, ...] = ()
    rows: list[dict[str, Any]] = [{}]
    if data is not None:
        columns = tuple(data[0])
        for c in columns:
            if c not in variables:
                raise GraphlabError(f"column {c!r} is not a variable of the expression "
                                    f"(variables: {', '.join(variables)})", field="data")
            if c in wrt:
                raise GraphlabError(f"column {c!r} is a parameter: it cannot also be data", field="data")
        rows = [{c: _number(r[c], mode) for c in columns} for r in data]
        batch_size = batch_size or len(rows)
        if not 1 <= batch_size <= len(rows):
            raise GraphlabError(f"must be between 1 and the number of rows ({len(rows)})", field="batch_size")
    fixed = {k: v for k, v in at.items() if k not in wrt}
    missing = [v for v in variables if v not in wrt and v not in fixed and v not in columns]
    if missing:
        raise GraphlabError(f"no value for {', '.join(missing)}"
                            + (" (neither given nor a data column)" if data is not None else "")
                            + f": give {'it' if len(missing) == 1 else 'them'}", wanted=missing)

    rng = random.Random(seed)
    order: list[int] = []

    def next_batch() -> list[int]:
        batch = []
        while len(batch) < batch_size:
            if not order:
                order.extend(rng.sample(range(len(rows)), len(rows)))
            batch.append(order.pop(0))
        return sorted(batch)

    params = {name: _as_number(at[name], mode) for name in wrt}
    history: list[DescentStep] = []
    for k in range(steps + 1):
        batch = next_batch() if data is not None else None
        traces = [trace(graph, {**fixed, **params, **rows[i]}, mode=mode) for i in (batch or [0])]
        loss = _mean([t.output for t in traces])
        gradient = {name: _mean([t.gradient[name] for t in traces]) for name in wrt}
        update = None if k == steps else {name: -lr * g for name, g in gradient.items()}
        history.append(DescentStep(k, dict(params), loss, gradient, update, batch))
        if update is not None:
            params = {name: params[name] + update[name] for name in wrt}
    return Descent(graph.graph["source"], graph.graph["output"], wrt, lr, mode, history, fixed,
                   batch_size if data is not None else None)
