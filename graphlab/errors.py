"""The errors graphlab raises for a user's input: each prints as one line."""

from __future__ import annotations


class GraphlabError(Exception):
    """Bad input or a request graphlab refuses; ``str()`` is one line for the user."""


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
