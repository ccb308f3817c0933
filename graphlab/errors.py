"""The errors graphlab raises for a user's input: each prints as one line."""

from __future__ import annotations

from collections.abc import Sequence

# The inputs an error can concern, in the library's words; each front end has its own name for each.
FIELDS = {
    "values": "the variables' values (a point)",
    "wrt": "the variables to descend on, or to differentiate with respect to in forward mode",
    "learning_rate": "the learning rate η",
    "steps": "the number of descent steps",
    "batch_size": "the rows per mini-batch",
    "data": "a table of data (CSV)",
    "layers": "an MLP's layer sizes",
    "claims": "the derivatives to verify",
    "h": "the step h of a central difference (g(w + h) - g(w - h)) / 2h, or of a nudge",
    "rtol": "the largest relative error a gradient check passes",
    "atol": "the largest absolute difference a gradient check passes",
    "fps": "an animation's steps a second",
    "pause": "the seconds an animation stays on its last step",
}


class GraphlabError(Exception):
    """Bad input or a request graphlab refuses; ``str()`` is one line for the user.

    ``field`` names the input the error concerns, one of :data:`FIELDS`, and the message reads after
    that input's name: each front end says the name in its own words (the CLI its option, ``--steps
    must be between 0 and 10,000``; the app its widget's label; ``str()`` the field itself).
    ``wanted``: the variables whose values would settle it; a front end adds where those are given.
    """

    def __init__(self, message: str = "", field: str | None = None, wanted: Sequence[str] = ()):
        super().__init__(message)
        self.field = field
        self.wanted = tuple(wanted)

    @property
    def detail(self) -> str:
        """The message without the field's name: what a front end puts after its own name for it."""
        return str(self.args[0]) if self.args else ""

    def phrased(self, name: str | None = None, where: str = "") -> str:
        """The one line, with the field called ``name`` and ``where`` (how to give the wanted values)
        appended: ``phrased("--wrt", "(--at theta=...)")``."""
        text = f"{name} {self.detail}" if name else self.detail
        return f"{text} {where}" if self.wanted and where else text

    def __str__(self) -> str:  # in Python, the field is named as the library names it
        return self.phrased(self.field)


class ParseError(GraphlabError):
    """The text is not in graphlab's input language.

    ``pos`` is the 0-based offset into ``text``; ``line`` and ``column`` count from 1.
    """

    def __init__(self, message: str, pos: int, text: str = ""):
        self.message = message
        self.pos = pos
        self.text = text
        self.line = text.count("\n", 0, pos) + 1
        self.column = pos - (text.rfind("\n", 0, pos) + 1) + 1
        where = f"line {self.line}, column {self.column}" if "\n" in text else f"column {self.column}"
        super().__init__(f"{message} at {where}")

    def caret(self) -> str:
        """The offending line with a ``^`` under the column, for displays that have room."""
        start = self.text.rfind("\n", 0, self.pos) + 1
        end = self.text.find("\n", start)
        line = self.text[start : end if end >= 0 else len(self.text)]
        return f"{line}\n{' ' * (self.column - 1)}^"


class EvaluationError(GraphlabError):
    """A value cannot be computed as asked (e.g. too large to hold exactly)."""
