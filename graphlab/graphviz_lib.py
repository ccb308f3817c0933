"""How graphlab loads the Graphviz inside pygraphviz's wheel: once, and quietly.

The wheel bundles its own fontconfig. On systems whose font configuration is newer (Debian 12
ships a ``reset-dirs`` element it does not know), that fontconfig prints a "Fontconfig
warning" line to stderr the first time it lays out text: noise a user cannot act on. The first
layout here runs with stderr captured, and everything but those warnings is passed on.
"""

from __future__ import annotations

import os
import sys
import tempfile
from functools import cache
from types import ModuleType

_NOISE = "Fontconfig warning:"


@cache
def pygraphviz() -> ModuleType:
    import pygraphviz as pgv

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            pgv.AGraph(string='digraph { a [label="x"] }').draw(format="svg", prog="dot")  # fontconfig starts here
        finally:
            os.dup2(saved, 2)
            os.close(saved)
        captured.seek(0)
        for line in captured.read().decode(errors="replace").splitlines():
            if not line.startswith(_NOISE):
                print(line, file=sys.stderr)
    return pgv
