"""CSV tables from users, read within limits: the one reader behind training data and descent tables.

A table comes from a file or an upload, so it may be anything: empty, huge, in another encoding,
separated by semicolons. Each of those gets a one-line :class:`GraphlabError` naming the table and
the limit, before any of it is turned into numbers.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from .errors import GraphlabError

__all__ = ["MAX_BYTES", "MAX_ROWS", "MAX_COLUMNS", "read_bytes", "read_file", "rows"]

MAX_BYTES = 10 * 1024 * 1024  # as the app's upload limit (.streamlit/config.toml)
MAX_ROWS = 100_000
MAX_COLUMNS = 1_000
MAX_CELL = 1_000  # characters; no number needs more
_SEPARATORS = {";": "semicolons", "\t": "tabs", "|": "bars"}


def read_file(path: str | Path, field: str | None = None) -> list[list[str]]:
    """The rows of the CSV file at ``path``."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > MAX_BYTES:
            raise _error(str(path), f"is {size / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB", field)
        raw = path.read_bytes()
    except OSError as e:
        raise GraphlabError(f"cannot read {path}: {e.strerror}", field=field) from None
    return read_bytes(raw, str(path), field)


def read_bytes(raw: bytes, name: str = "the table", field: str | None = None) -> list[list[str]]:
    """The rows of an uploaded CSV file; ``name`` names it in errors."""
    if len(raw) > MAX_BYTES:
        raise _error(name, f"is {len(raw) / 2**20:.1f} MB; the limit is {MAX_BYTES // 2**20} MB", field)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        line = raw[:e.start].count(b"\n") + 1
        raise _error(name, f"is not UTF-8 text (line {line}, byte {e.start}); save it as UTF-8 CSV",
                     field) from None
    return rows(text, name, field)


def rows(text: str, name: str = "the table", field: str | None = None) -> list[list[str]]:
    """The non-blank rows of CSV text, each cell stripped; the first may be a header."""
    if "\x00" in text:
        raise _error(name, "contains NUL bytes: it is not a text table", field)
    out: list[list[str]] = []
    try:
        for row in csv.reader(io.StringIO(text, newline="")):
            if not any(cell.strip() for cell in row):
                continue
            if len(row) > MAX_COLUMNS:
                raise _error(name, f"line {len(out) + 1} has {len(row):,} columns; the limit is {MAX_COLUMNS:,}",
                             field)
            if any(len(cell) > MAX_CELL for cell in row):
                raise _error(name, f"line {len(out) + 1} has a cell longer than {MAX_CELL:,} characters", field)
            out.append([cell.strip() for cell in row])
            if len(out) > MAX_ROWS + 1:
                raise _error(name, f"has more than {MAX_ROWS:,} rows; the limit is {MAX_ROWS:,}", field)
    except csv.Error as e:
        if "field larger than field limit" in str(e):  # the csv module's own bound, far above ours
            raise _error(name, f"line {len(out) + 1} has a cell longer than {MAX_CELL:,} characters", field) from None
        raise _error(name, f"is not a CSV table: {e}", field) from None
    if not out:
        raise _error(name, "is empty", field)
    if len(out[0]) == 1:
        for sep, what in _SEPARATORS.items():
            if sep in out[0][0]:
                raise _error(name, f"has its columns separated by {what}; save it with commas (CSV)", field)
    return out


def _error(name: str, what: str, field: str | None) -> GraphlabError:
    return GraphlabError(f"{name} {what}", field=field)
