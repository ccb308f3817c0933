"""Where to evaluate: the user's ``x=-2,y=5`` text -> exact values; matrices and their shapes.

A value may be a matrix, written as nested lists (``X=[[0,0],[0,1],[1,0],[1,1]]``; a flat list
``b=[1,1]`` is a column vector, as the lecture's b is l×1). Matrices are read by a strict literal
reader (numbers, brackets, commas, signs), never ``eval``. ``--shape X=Nx784,W1=784x200`` gives
shapes without values (a size may be a name), and :func:`fill` gives matrices without values
reproducible random ones.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import sympy as sp

from .build import from_text
from .errors import GraphlabError
from .ops import Shape, shape_text

__all__ = ["parse_point", "parse_value", "split_point", "parse_matrix", "parse_shapes", "is_shape", "shapes_of", "fill",
           "MAX_ENTRIES"]

MAX_ENTRIES = 1_000_000  # a matrix literal or a --shape with more entries is refused
_MATRIX_TOKEN = re.compile(r"\s*(?:(\[)|(\])|(,)|([+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?))")
_SIZE = re.compile(r"\d+|[A-Za-z][A-Za-z0-9_]*")

# split on the commas that start a new NAME=, so max(1, 2) may be a value
_SPLIT = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9_]*\s*=)")
_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=(.*)", re.DOTALL)


def split_point(text: str) -> dict[str, str]:
    """``"x=-2, y=max(1, 2)"`` -> ``{"x": "-2", "y": "max(1, 2)"}``: names and value texts, unevaluated.

    Errors concern the field ``"values"``."""
    point: dict[str, str] = {}
    for part in _SPLIT.split(text):
        if not part.strip():
            continue
        m = _NAME.fullmatch(part)
        if m is None:
            raise GraphlabError(f"expects NAME=VALUE pairs separated by commas, got {part.strip()!r}",
                                field="values")
        name, value = m.group(1), m.group(2).strip()
        if name in point:
            raise GraphlabError(f"{name}: given twice", field="values")
        point[name] = value
    return point


def parse_value(text: str) -> sp.Expr:
    """One value, exactly: a number or a constant expression (``1/3``, ``pi/2``).

    Raises :class:`~graphlab.errors.ParseError` (its column counts in ``text``) or :class:`GraphlabError`.
    """
    from .trace import trace  # trace imports build; keep this module's import light

    if text.lstrip().startswith("["):
        return parse_matrix(text)
    g = from_text(text)
    if g.graph["variables"]:
        raise GraphlabError(f"the value {text!r} must be a number or a constant expression")
    return trace(g, mode="exact").output


def parse_matrix(text: str) -> np.ndarray:
    """``[[0,0],[0,1]]`` -> a 2×2 float64 array; ``[1,2]`` -> a 2×1 column. Only numbers, brackets,
    commas and signs; rows of one length; at most :data:`MAX_ENTRIES` entries."""
    if len(text) > 30 * MAX_ENTRIES or text.count(",") >= MAX_ENTRIES:
        raise GraphlabError(f"a matrix of over {MAX_ENTRIES:,} entries is refused")
    rows: list[list[float]] = []
    stack: list[list] = []
    pos, count, done, prev = 0, 0, False, ""
    while pos < len(text):
        m = _MATRIX_TOKEN.match(text, pos)
        if m is None or done:
            if text[pos:].strip() == "":
                break
            raise GraphlabError(f"unexpected {text[pos:].strip()[:10]!r} at column {pos + 1} of the matrix "
                                "(write numbers in brackets: [[1,2],[3,4]])")
        opened, closed, comma, num = m.groups()
        after_item = prev in ("num", "]")
        if after_item == bool(opened or num) or (comma and not after_item) or (closed and prev == ","):
            raise GraphlabError(f"unexpected {m.group().strip()!r} at column {m.end()} of the matrix "
                                "(numbers are separated by commas: [[1,2],[3,4]])")
        prev = "[" if opened else "]" if closed else "," if comma else "num"
        if opened:
            if len(stack) == 2:
                raise GraphlabError("a matrix has two levels of brackets at most: [[1,2],[3,4]]")
            stack.append([])
        elif closed:
            if not stack or (stack[-1] == [] and len(stack) == 1 and not rows):
                raise GraphlabError(f"unexpected ']' at column {m.end()} of the matrix")
            inner = stack.pop()
            if stack:
                stack[-1].append(inner)
            else:
                rows, done = inner, True
        elif num:
            if not stack:
                raise GraphlabError("a matrix is written in brackets: [[1,2],[3,4]]")
            count += 1
            if count > MAX_ENTRIES:
                raise GraphlabError(f"a matrix of over {MAX_ENTRIES:,} entries is refused")
            stack[-1].append(float(num))
            if not np.isfinite(stack[-1][-1]):
                raise GraphlabError(f"the number {num} at column {m.end()} of the matrix is too large")
        pos = m.end()
    if not done:
        raise GraphlabError("unbalanced brackets in the matrix: '[' is never closed")
    nested = [isinstance(r, list) for r in rows]
    if not rows or (any(nested) and not all(nested)) or any(isinstance(r, list) and not r for r in rows):
        raise GraphlabError("a matrix is numbers in brackets, a list of rows ([[1,2],[3,4]]) or a vector ([1,2])")
    if not any(nested):
        return np.array(rows, dtype=np.float64).reshape(-1, 1)
    if len({len(r) for r in rows}) > 1:
        raise GraphlabError(f"the rows of the matrix have different lengths ({', '.join(str(len(r)) for r in rows)})")
    return np.array(rows, dtype=np.float64)


def is_shape(text: str) -> bool:
    """Whether a value's text is a shape without values (``784x200``, ``Nx784``), as the app's value boxes take it."""
    return re.fullmatch(rf"\s*(?:{_SIZE.pattern})\s*[x×]\s*(?:{_SIZE.pattern})\s*", text) is not None


def parse_shapes(*texts: str) -> dict[str, Shape]:
    """``parse_shapes("X=Nx784,W1=784x200")`` -> ``{"X": ("N", 784), "W1": (784, 200)}``. Errors
    concern the field ``"values"``."""
    shapes: dict[str, Shape] = {}
    for text in texts:
        for name, value in split_point(text).items():
            sizes = re.split(r"\s*[x×]\s*", value.strip()) if value.strip() else []
            if len(sizes) != 2 or not all(_SIZE.fullmatch(n) for n in sizes):
                raise GraphlabError(f"{name}: a shape is ROWSxCOLUMNS, e.g. 4x2 or Nx784; got {value!r}",
                                    field="values")
            shape = tuple(int(n) if n.isdigit() else n for n in sizes)
            if any(n == 0 for n in shape) or (all(isinstance(n, int) for n in shape) and
                                               shape[0] * shape[1] > MAX_ENTRIES):
                raise GraphlabError(f"{name}: a {shape_text(shape)} matrix is refused (1 to {MAX_ENTRIES:,} entries)",
                                    field="values")
            if name in shapes:
                raise GraphlabError(f"{name}: given twice", field="values")
            shapes[name] = shape
    return shapes


def shapes_of(point: Mapping[str, Any], shapes: Mapping[str, Shape] = ()) -> dict[str, Shape]:
    """The shapes of the matrices in ``point``, with ``shapes`` (declared); a value must have its declared
    shape (sizes given by name, N, take the value's)."""
    found = dict(shapes)
    for name, value in point.items():
        if isinstance(value, np.ndarray):
            declared = found.get(name)
            if declared is not None and any(isinstance(d, int) and d != n for d, n in zip(declared, value.shape)):
                raise GraphlabError(f"{name}: the value is {shape_text(value.shape)} but --shape says "
                                    f"{shape_text(declared)}", field="values")
            found[name] = value.shape
    return found


def fill(shapes: Mapping[str, Shape], point: Mapping[str, Any], seed: int) -> dict[str, Any]:
    """``point`` with every matrix that has a shape and no value given reproducible random values:
    standard normal entries from NumPy's generator seeded with ``seed``, drawn in name order."""
    rng = np.random.default_rng(seed)
    filled = dict(point)
    for name in sorted(shapes):
        if name in filled or not shapes[name]:
            continue
        named = [n for n in shapes[name] if not isinstance(n, int)]
        if named:
            raise GraphlabError(f"{name}: --seed needs every size as a number; {named[0]} has none "
                                f"(give {name} a shape such as 4x{shapes[name][1]})", field="values")
        filled[name] = rng.standard_normal(shapes[name])
    return filled


def parse_point(*texts: str, matrices: bool = False) -> dict[str, sp.Expr]:
    """``parse_point("x=-2,y=5", "z=pi/2")`` -> ``{"x": -2, "y": 5, "z": pi/2}``, exactly.

    A value is a number or a constant expression in the input language (``1/3``, ``pi/2``), or a
    matrix (:func:`parse_matrix`, a float64 array) where ``matrices`` is True; elsewhere a matrix is refused.
    Errors concern the field ``"values"``.
    """
    point: dict[str, sp.Expr] = {}
    for text in texts:
        for name, value in split_point(text).items():
            if name in point:
                raise GraphlabError(f"{name}: given twice", field="values")
            try:
                point[name] = parse_value(value)
            except GraphlabError as e:
                raise GraphlabError(f"{name}: {e}", field="values") from None
            if not matrices and isinstance(point[name], np.ndarray):
                raise GraphlabError(f"{name}: matrices are traced in reverse mode by grad, draw and explain; "
                                    "this takes numbers", field="values")
    return point
