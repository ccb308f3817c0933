"""Tokenizer and recursive-descent parser for graphlab's input language.

No text ever reaches ``eval``, ``exec``, ``sympify`` or ``parse_expr``: anything the
tokenizer does not know (quotes, dots, brackets, underscores in front, colons...) is
refused there, and the parser emits graph nodes through a small builder interface,
so no expression tree is ever walked recursively after parsing.

Grammar (lowest precedence first)::

    program   := statement ((';' | newline) statement)*
    statement := [NAME '='] sum
    sum       := product (('+' | '-') product)*
    product   := unary (('*' | '/') unary | unary-without-sign)*   # juxtaposition: x1 x2
    unary     := ('-' | '+') unary | power
    power     := primary [('^' | '**') unary]                      # right-assoc, above unary minus
    primary   := NUMBER | NAME | FUNC '(' sum (',' sum)* ')' | FUNC unary | '(' sum ')'

So ``2^3^2`` is 512, ``-x^2`` is -(x^2), ``(x+y)z`` is (x+y)*z, and ``sin x cos x`` is
sin(x)*cos(x): a function name without parentheses applies to one factor.

A name followed by ``(``: there are no user-defined functions, so

1. a known function (:data:`graphlab.ops.FUNCTIONS`: ``sin`` ... ``min``, ``σ``) is a call:
   ``sin(x)``, ``σ(z)``;
2. a name that resembles a function is refused, with a one-line error at its column that
   says what to write: another spelling of a known function (``sigma``, ``sigm``,
   ``logistic`` -> sigmoid or σ; ``ln`` -> log; ``arctan`` -> atan), a known name in other
   capitals (``Sin``, ``ReLU``), a close misspelling by :mod:`difflib` (``sigmod``, ``sqr``,
   ``tahn``), or a function graphlab does not have (``log10``, ``floor``, ``sign``);
3. every other name is a variable, and the ``(`` multiplies, exactly as ``*`` would:
   ``x(y+z)``, ``y(1 - y)``, ``h1(1 - h1)``, ``rate(1 - p)``. Rule 2 never applies to names
   that are plainly variables: short variable-like ones (a letter, then optionally digits and
   ``_`` digits: ``x``, ``h1``, ``w5``, ``x_2``), the constants ``e`` and ``pi``, names an
   earlier statement assigns (``sigma = σ(z); sigma(1 - sigma)``) and the ``names`` the
   caller declares (a claim may use its expression's names);
4. whatever the name, ``name(a, b)`` is refused as an unknown function.

A number followed by ``(`` is a product too: ``2(x+1)``. Such a product binds like any
juxtaposition: ``y(1 - y)^2`` is y*(1-y)^2, and ``sin x(1 - x)`` is sin(x)*(1-x), as
``sin x y`` is sin(x)*y.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Collection
from functools import cache, lru_cache
from typing import NamedTuple, Protocol

from .errors import ParseError
from .ops import FUNCTIONS, OPS

__all__ = ["MAX_CHARS", "MAX_DEPTH", "CONSTANTS", "Token", "tokenize", "parse", "Emitter", "function_like",
           "known_functions"]

MAX_CHARS = 200_000  # longer input is refused before tokenizing
MAX_DEPTH = 100  # nesting of parentheses, calls, signs and powers
CONSTANTS = ("e", "pi")

_TOKEN = r"""
    (?P<space>[ \t\r]+)
  | (?P<newline>\n)
  | (?P<number>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<name>{names}[A-Za-z][A-Za-z0-9_]*)
  | (?P<op>\*\*|[-+*/^(),=;])
    """


@cache
def _token_regex(names: frozenset[str]) -> re.Pattern[str]:
    # a function name outside ASCII (σ) is a name token; the registry is read at call time (ops.register)
    return re.compile(_TOKEN.replace("{names}", "".join(re.escape(n) + "|" for n in sorted(names, key=len)[::-1])),
                      re.VERBOSE)


# A name followed by '(' (see the module docstring for the rule).
_VARIABLE_LIKE = re.compile(r"[A-Za-z]\d*(?:_\d+)?")
_SIGMOID = "sigmoid or σ"
# Other spellings of a known function, lower case -> what to write.
_SPELLINGS = {
    "sigma": _SIGMOID, "sig": _SIGMOID, "sigm": _SIGMOID, "logistic": _SIGMOID, "expit": _SIGMOID,
    "ln": "log (the natural log)", "arcsin": "asin", "arccos": "acos", "arctan": "atan",
    "sine": "sin", "sinus": "sin", "cosine": "cos", "cosinus": "cos", "tangent": "tan",
    "exponential": "exp", "root": "sqrt", "fabs": "abs", "absolute": "abs", "rectifier": "relu",
    "maximum": "max", "fmax": "max", "amax": "max", "minimum": "min", "fmin": "min", "amin": "min",
}
# Functions graphlab does not have, lower case -> how to write them (or None).
_MISSING = {
    "log10": "log(...)/log(10)", "log2": "log(...)/log(2)", "log1p": "log(1 + ...)",
    "expm1": "exp(...) - 1", "exp2": "2^(...)", "pow": "a^b", "power": "a^b", "square": "(...)^2",
    "cbrt": "(...)^(1/3)", "hypot": "sqrt(a^2 + b^2)", "sec": "1/cos(...)", "csc": "1/sin(...)",
    "cosec": "1/sin(...)", "cot": "1/tan(...)", "cotan": "1/tan(...)",
    "asinh": "log(x + sqrt(x^2 + 1))", "arsinh": "log(x + sqrt(x^2 + 1))", "arcsinh": "log(x + sqrt(x^2 + 1))",
    "acosh": "log(x + sqrt(x^2 - 1))", "arcosh": "log(x + sqrt(x^2 - 1))", "arccosh": "log(x + sqrt(x^2 - 1))",
    "atanh": "log((1 + x)/(1 - x))/2", "artanh": "log((1 + x)/(1 - x))/2", "arctanh": "log((1 + x)/(1 - x))/2",
    "sgn": "sign(x)", "logit": "log(p/(1 - p))",
    "silu": "x σ(x)", "swish": "x σ(x)", "softsign": "x/(1 + abs(x))", "logsumexp": "log(exp(a) + exp(b))",
    "atan2": None, "arctan2": None, "floor": None, "ceil": None, "round": None, "trunc": None, "mod": None,
    "erf": None, "erfc": None, "heaviside": None, "clip": None, "clamp": None, "sinc": None, "softmax": None,
    "elu": None, "selu": None, "gelu": None, "mish": None, "leaky_relu": None, "leakyrelu": None, "lrelu": None,
    "prelu": None, "relu6": None, "hardtanh": None, "hardsigmoid": None, "logsigmoid": None,
    "sum": None, "mean": None, "prod": None,
}
_KNOWN = tuple(sorted(FUNCTIONS))  # σ sorts last
_LIKE = [name for name in _KNOWN if name != "σ"] + list(_SPELLINGS)


def known_functions() -> str:
    """The function names the input language knows, for messages: ``abs, acos, ..., σ``."""
    return ", ".join(_KNOWN)


@cache
def _near(length: int) -> list[str]:
    """The names in _LIKE that a name of ``length`` can be close to: a ratio of 0.75 needs
    3/5 <= length/len(name) <= 5/3."""
    return [c for c in _LIKE if 3 * len(c) <= 5 * length and 3 * length <= 5 * len(c)]


@lru_cache(maxsize=4096)
def function_like(name: str) -> tuple[str, str] | None:
    """Whether ``name`` (not a known function) looks like a function someone meant:
    ``("meant", "sigmoid or σ")``, ``("missing", how to write it or "")``, or None."""
    if name in FUNCTIONS or _VARIABLE_LIKE.fullmatch(name) or name in CONSTANTS:
        return None
    lower = name.lower()
    if lower in FUNCTIONS:
        return "meant", lower
    if lower in _SPELLINGS:
        return "meant", _SPELLINGS[lower]
    if lower in _MISSING:
        return "missing", _MISSING[lower] or ""
    close = difflib.get_close_matches(lower, _near(len(lower)), n=2, cutoff=0.75)  # tahn: tan or tanh
    if not close or difflib.SequenceMatcher(None, lower, close[0]).ratio() < 0.8:
        return None
    meant = dict.fromkeys(part for c in close for part in _SPELLINGS.get(c, c).split(" or "))
    return "meant", " or ".join(meant)


class Token(NamedTuple):  # a NamedTuple: tokenizing 10,000 tokens must take milliseconds
    kind: str  # number, name, op, end
    text: str
    pos: int


def tokenize(text: str) -> list[Token]:
    if len(text) > MAX_CHARS:
        raise ParseError(f"input is {len(text):,} characters; the limit is {MAX_CHARS:,}", MAX_CHARS, text)
    tokens: list[Token] = []
    pos = 0
    token = _token_regex(frozenset(n for n in FUNCTIONS if not n.isascii()))
    while pos < len(text):
        m = token.match(text, pos)
        if m is None:
            raise ParseError(f"unexpected character {text[pos]!r}", pos, text)
        kind = m.lastgroup
        if kind == "newline":
            tokens.append(Token("op", ";", pos))
        elif kind == "op":
            tokens.append(Token("op", "^" if m.group() == "**" else m.group(), pos))
        elif kind != "space":
            tokens.append(Token(kind, m.group(), pos))
        pos = m.end()
    tokens.append(Token("end", "", len(text)))
    return tokens


class Emitter(Protocol):
    """What the parser builds through (``graphlab.build.GraphBuilder``)."""

    def var(self, name: str, pos: int) -> str: ...
    def const(self, text: str, pos: int) -> str: ...
    def apply(self, op: str, args: list[str], pos: int) -> str: ...
    def assign(self, name: str, node: str, pos: int) -> None: ...
    def finish(self, node: str) -> None: ...


_STARTS_FACTOR = ("number", "name")


class _Parser:
    def __init__(self, text: str, emit: Emitter, names: Collection[str] = ()):
        self.text = text
        self.variables = set(names)  # names that are plainly variables: a '(' after them is a product
        self.tokens = tokenize(text)
        self.i = 0
        self.depth = 0
        self.emit = emit

    # --- helpers
    @property
    def tok(self) -> Token:
        return self.tokens[self.i]

    def error(self, message: str, tok: Token | None = None) -> ParseError:
        return ParseError(message, (tok or self.tok).pos, self.text)

    def at(self, text: str) -> bool:
        # only op tokens can spell an operator, so comparing the text is enough
        return self.tokens[self.i].text == text

    def advance(self) -> Token:
        tok = self.tok
        self.i += 1
        return tok

    def expect(self, text: str, opened: Token | None = None) -> None:
        if self.at(text):
            self.advance()
            return
        if opened is not None and self.tok.kind == "end":
            raise self.error(f"unbalanced parenthesis: '(' at column {opened.pos + 1} is never closed", opened)
        if opened is not None:
            raise self.error(f"expected ')' to close '(' at column {opened.pos + 1}, found {self.describe()}")
        raise self.error(f"expected {text!r}, found {self.describe()}")

    def describe(self) -> str:
        return "end of input" if self.tok.kind == "end" else repr(self.tok.text)

    # --- grammar
    def program(self) -> None:
        last = None
        while True:
            while self.at(";"):
                self.advance()
            if self.tok.kind == "end":
                break
            if last is not None and last[1] is None:
                raise self.error("only the last statement may be unnamed: name it (q = ...) or join the lines", last[0])
            start = self.tok
            name = None
            if self.tok.kind == "name" and self.tokens[self.i + 1].text == "=" and self.tokens[self.i + 1].kind == "op":
                name = self.advance()
                self.advance()
                self.check_assignable(name)
            node = self.sum()
            if name is not None:
                self.emit.assign(name.text, node, name.pos)
                self.variables.add(name.text)
            last = (start, name, node)
            if self.at("="):
                raise self.error("'=' must follow a single name at the start of a statement (q = x + y)")
            if not (self.at(";") or self.tok.kind == "end"):
                raise self.error(f"unexpected {self.describe()}")
        if last is None:
            raise self.error("empty input: type an expression such as (x + y) z")
        self.emit.finish(last[2])

    def check_assignable(self, name: Token) -> None:
        if name.text in CONSTANTS:
            raise self.error(f"cannot assign to the constant {name.text!r}", name)
        if name.text in FUNCTIONS:
            raise self.error(f"cannot assign to the function name {name.text!r}", name)

    def check_not_function(self, name: Token) -> None:
        """``name(`` where ``name`` is not a known function: a product, unless the name looks
        like a function someone meant (rule 2 of the module docstring)."""
        like = function_like(name.text)
        if like is None:
            return
        kind, what = like
        product = f"for a product write {name.text} * (...)"
        if kind == "meant":
            raise self.error(f"unknown function {name.text!r}: did you mean {what}? ({product})", name)
        instead = f"; write {what} instead" if what else ""
        raise self.error(f"unknown function {name.text!r} (known: {known_functions()}){instead}; {product}", name)

    def sum(self) -> str:
        left = self.product()
        while self.at("+") or self.at("-"):
            op = self.advance()
            right = self.product()
            left = self.emit.apply("add" if op.text == "+" else "sub", [left, right], op.pos)
        return left

    def product(self) -> str:
        left = self.unary()
        while True:
            if self.at("*") or self.at("/"):
                op = self.advance()
                right = self.unary()
                left = self.emit.apply("mul" if op.text == "*" else "div", [left, right], op.pos)
            elif self.tok.kind in _STARTS_FACTOR or self.at("("):
                # Juxtaposition: x1 x2, (x+y)z, 2x. A sign never starts an implicit factor.
                pos = self.tok.pos
                right = self.power()
                left = self.emit.apply("mul", [left, right], pos)
            else:
                return left

    def unary(self) -> str:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"nesting deeper than {MAX_DEPTH} levels")
        try:
            if self.at("-"):
                op = self.advance()
                if self.tok.kind == "number" and self.tokens[self.i + 1].text != "^":
                    # -5 x1 is the constant -5 times x1, not a negation node (but -2^2 is -(2^2))
                    return self.emit.const("-" + self.advance().text, op.pos)
                return self.emit.apply("neg", [self.unary()], op.pos)
            if self.at("+"):
                self.advance()
                return self.unary()
            return self.power()
        finally:
            self.depth -= 1

    def power(self) -> str:
        base = self.primary()
        if self.at("^"):
            op = self.advance()
            exponent = self.unary()
            return self.emit.apply("pow", [base, exponent], op.pos)
        return base

    def primary(self) -> str:
        tok = self.tok
        if tok.kind == "number":
            self.advance()
            return self.emit.const(tok.text, tok.pos)
        if tok.kind == "name":
            self.advance()
            if tok.text in FUNCTIONS:
                return self.call(tok)
            if tok.text in CONSTANTS:
                return self.emit.const(tok.text, tok.pos)
            if self.at("(") and tok.text not in self.variables:
                self.check_not_function(tok)
            return self.emit.var(tok.text, tok.pos)  # followed by '(': product() multiplies
        if self.at("("):
            before = self.tokens[self.i - 1] if self.i else None
            self.advance()
            inner = self.sum()  # nesting is counted in unary(), which every operand passes
            if self.at(",") and before is not None and before.kind == "name":  # x(a, b): a call, not a product
                raise self.error(f"unknown function {before.text!r} (known: {known_functions()}): "
                                 "graphlab has no user-defined functions", before)
            self.expect(")", opened=tok)
            return inner
        if self.at(")"):
            raise self.error("unbalanced parenthesis: ')' without a matching '('")
        if tok.kind == "end":
            raise self.error("unexpected end of input: an operand is missing")
        raise self.error(f"unexpected {self.describe()}")

    def call(self, fn: Token) -> str:
        op = OPS[FUNCTIONS[fn.text]]
        if self.at("("):
            opened = self.advance()
            args = [self.sum()]
            while self.at(","):
                self.advance()
                args.append(self.sum())
            self.expect(")", opened=opened)
        elif self.tok.kind in _STARTS_FACTOR or self.at("-") or self.at("+"):
            args = [self.unary()]  # sin x cos x: the function takes one factor
        else:
            hint = ""
            if op.name == "sigmoid":  # the lecture's σ(1 − σ) means the sigmoid's output
                hint = f"; for a product with its output, name it: s = {fn.text}(z); s (1 - s)"
            raise self.error(f"function {fn.text!r} needs an argument: write {fn.text}(...){hint}", fn)
        if not op.check_arity(len(args)):
            want = "2 or more" if op.arity is None else str(op.arity)
            raise self.error(f"{fn.text} takes {want} argument{'s' * (want != '1')}, got {len(args)}", fn)
        return self.emit.apply(op.name, args, fn.pos)


def parse(text: str, emit: Emitter, names: Collection[str] = ()) -> None:
    """Parse ``text`` into ``emit``; raises :class:`ParseError` naming the column.

    ``names`` are plainly variables besides those the text assigns: ``name(...)`` is a product
    for them even where the name looks like a function (``sigma(1 - sigma)``)."""
    _Parser(text, emit, names).program()
