"""How graphlab's results read to a person: formulas in the input language, numbers, summaries.

One place for what the front ends print. :func:`formula` writes a SymPy expression the way
a user types it (``x^2``, ``e``, ``abs``, ``σ``), so printed text can be pasted back into
``graphlab grad`` or a ``--claim``; :func:`number` is the command line's number formatter;
:func:`equation` joins ``lhs = formula = value`` without repeating a side.
"""

from __future__ import annotations

from typing import Any

import sympy as sp
from sympy.printing.precedence import precedence
from sympy.printing.str import StrPrinter

from .trace import as_json_number

__all__ = ["formula", "number", "equation"]

# SymPy's names for functions the input language spells differently
_FUNCTION_NAMES = {"sigma": "σ", "Max": "max", "Min": "min", "Abs": "abs"}


class _InputLanguagePrinter(StrPrinter):
    """SymPy's ``str``, but in graphlab's input language where they differ: ``^``, ``e``, ``abs``, ``σ``."""

    def _print_Pow(self, expr, rational=False):
        text = super()._print_Pow(expr, rational)
        prec = precedence(expr)
        python = (f"{self.parenthesize(expr.base, prec, strict=False)}**"
                  f"{self.parenthesize(expr.exp, prec, strict=False)}")
        return python.replace("**", "^", 1) if text == python else text  # sqrt(x), 1/x stay as SymPy writes them

    def _print_Exp1(self, expr):
        return "e"

    def _print_Abs(self, expr):
        return f"abs({self._print(expr.args[0])})"

    def _print_Function(self, expr):
        name = _FUNCTION_NAMES.get(expr.func.__name__)
        if name is not None:
            return f"{name}({self.stringify(expr.args, ', ')})"
        return super()._print_Function(expr)

    def _print_MinMaxBase(self, expr):
        # SymPy's Max/Min are n-ary, the language's max/min binary: nest them
        name = _FUNCTION_NAMES[expr.func.__name__]
        args = [self._print(a) for a in expr.args]
        text = args[0]
        for a in args[1:]:
            text = f"{name}({text}, {a})"
        return text

    _print_Max = _print_Min = _print_MinMaxBase


_PRINTER = _InputLanguagePrinter()


def formula(expr: Any) -> str:
    """``expr`` written in the input language: ``2*x^3``, ``σ(z)*(1 - σ(z))``, ``log(x1*x2)``.

    Functions the language lacks (``sign``, ``Heaviside``, from the derivatives of ``abs``,
    ``relu``, ``max``) keep SymPy's names."""
    return _PRINTER.doprint(expr) if isinstance(expr, sp.Basic) else str(expr)


def number(value: Any, exact: bool = False, digits: int = 6) -> str:
    """A number for people: ``digits`` significant digits; exact values also show their exact form
    (``log(6)*sin(3) ≈ 0.252853``); a symbolic value (no number given) is its formula; None is ``?``."""
    if value is None:
        return "?"
    if isinstance(value, sp.Basic) and not value.is_number:
        return formula(value)
    approx = as_json_number(value)
    text = approx if isinstance(approx, str) else f"{approx:.{digits}g}"
    if exact and isinstance(value, sp.Basic) and not value.is_Integer and formula(value) != text:
        return f"{formula(value)} ≈ {text}"
    return text


def equation(*sides: str) -> str:
    """``a = b = c``, each side once: ``∂f/∂x = 0``, never ``∂f/∂x = 0 = 0``."""
    shown: list[str] = []
    for side in sides:
        if side and (not shown or side != shown[-1]):
            shown.append(side)
    return " = ".join(shown)
