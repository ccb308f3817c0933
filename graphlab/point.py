"""Where to evaluate: the user's ``x=-2,y=5`` text -> exact values."""

from __future__ import annotations

import re

import sympy as sp

from .build import from_text
from .errors import GraphlabError, ParseError

__all__ = ["parse_point"]

# split on the commas that start a new NAME=, so max(1, 2) may be a value
_SPLIT = re.compile(r",(?=\s*[A-Za-z][A-Za-z0-9_]*\s*=)")
_NAME = re.compile(r"\s*([A-Za-z][A-Za-z0-9_]*)\s*=(.*)", re.DOTALL)


def parse_point(*texts: str) -> dict[str, sp.Expr]:
    """``parse_point("x=-2,y=5", "z=pi/2")`` -> ``{"x": -2, "y": 5, "z": pi/2}``, exactly.

    A value is a number or a constant expression in the input language (``1/3``, ``pi/2``).
    """
    from .trace import trace  # trace imports build; keep this module's import light

    point: dict[str, sp.Expr] = {}
    for text in texts:
        for part in _SPLIT.split(text):
            if not part.strip():
                continue
            m = _NAME.fullmatch(part)
            if m is None:
                raise GraphlabError(f"--at expects NAME=VALUE pairs separated by commas, got {part.strip()!r}")
            name, value = m.group(1), m.group(2).strip()
            if name in point:
                raise GraphlabError(f"--at gives {name} twice")
            try:
                g = from_text(value)
            except ParseError as e:
                raise GraphlabError(f"--at {name}: {e}") from None
            if g.graph["variables"]:
                raise GraphlabError(f"--at {name}: the value {value!r} must be a number or a constant expression")
            point[name] = trace(g, mode="exact").output
    return point
