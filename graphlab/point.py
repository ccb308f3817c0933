"""Where to evaluate: the user's ``x=-2,y=5`` text -> exact values."""

from __future__ import annotations

import re

import sympy as sp

from .build import from_text
from .errors import GraphlabError

__all__ = ["parse_point", "parse_value", "split_point"]

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

    g = from_text(text)
    if g.graph["variables"]:
        raise GraphlabError(f"the value {text!r} must be a number or a constant expression")
    return trace(g, mode="exact").output


def parse_point(*texts: str) -> dict[str, sp.Expr]:
    """``parse_point("x=-2,y=5", "z=pi/2")`` -> ``{"x": -2, "y": 5, "z": pi/2}``, exactly.

    A value is a number or a constant expression in the input language (``1/3``, ``pi/2``).
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
    return point
