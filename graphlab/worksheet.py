"""Worksheets: an exercise drawn with numbered boxes to fill in, and its answer key.

A worksheet is the lecture's diagram of an :class:`~graphlab.exercise.Exercise`: the inputs'
values are given, and each blank (a forward value, a local gradient ∂node/∂input, the gradient
sent back along an edge, the sum at a node with several consumers) is a numbered box in the
blank's colour. The key is the same diagram, laid out the same (the boxes have one fixed size),
with every box filled in, and the chain rule of every step (:func:`graphlab.explain.explain`).

:func:`write_worksheets` writes one worksheet and one key per student, as PDF, SVG or TikZ,
``manifest.json`` with each student's values and answers, and optionally every student's pages
in one PDF, the keys at the end. Graphviz (in pygraphviz's wheels) draws every page, the text
pages too; pypdf puts pages together into one file.
"""

from __future__ import annotations

import html
import io
import json
import textwrap
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz
import networkx as nx
import sympy as sp

from .errors import GraphlabError
from .exercise import AUTO, Blank, Exercise, Ranges, draw_values, exercise
from .explain import explain
from .export import _TikzWriter, render_bytes, to_tikz
from .present import assignments, number
from .render import Line, Span, Writer, to_dot

__all__ = ["FORMATS", "MAX_STUDENTS", "sheet_dot", "sheet_tikz", "explanation_lines", "write_worksheets", "Written"]

FORMATS = ("pdf", "svg", "tikz")
MAX_STUDENTS = 500
BLANK = "\0blank"  # a span's colour that marks it as a box: (number, BLANK, shown)
LINES_PER_PAGE = 48
DISTINCT_TRIES = 20  # draws per student before two students may share values (too few values to go round)
LEGEND = {"values": "Fill in each numbered box: the forward value of the node the edge leaves.",
          "gradients": "Fill in each numbered box: blue, the local gradient ∂node/∂input; red, the gradient sent "
                       "back along the edge (upstream × local); beside a node used twice, the sum of what arrives.",
          "both": "Fill in each numbered box, forward then backward: green, the value the edge carries; blue, the "
                  "local gradient ∂node/∂input; red, the gradient sent back (upstream × local); beside a node used "
                  "twice, the sum of what arrives."}


# --------------------------------------------------------------------------- the writers
class _Sheet:
    """Labels of an exercise's diagram: given numbers, and numbered boxes (filled in on a key).

    Mixed into the DOT writer and the TikZ writer; ``ex``, ``shown`` (blank number -> text in the
    box, or absent: empty) and ``state`` (blank number -> "right"/"wrong"/..., colours the box) are
    set on a subclass made per drawing by :func:`_writer`."""

    ex: Exercise
    shown: Mapping[int, str] = {}
    state: Mapping[int, str] = {}

    def _blanks(self) -> dict[str, Blank]:
        return {b.id: b for b in self.ex.blanks}

    def box(self, blank: Blank, colour: str) -> Span:
        return (str(blank.number), BLANK, bool(colour))  # the DOT writer draws it; colour via the line

    def value_line(self, node: str) -> Line:
        blanks = self._blanks()
        named = self.g.nodes[node].get("name") or node == self.out_key
        prefix = f"{self.node_label(node)} = " if named else ""
        if f"value:{node}" in blanks:
            return ((prefix, self.pal.value, False), self.box(blanks[f"value:{node}"], self.pal.value))
        return (self.value_span(prefix + self.num(self.ex.trace.values[node])),)

    def edge_lines(self, arg: str, node: str, pos: int) -> list[Line]:
        lines: list[Line] = [self.value_line(arg)]
        blanks = self._blanks()
        local = blanks.get(f"local:{node}:{arg}:{pos}")
        if local is not None:
            d = self.d(self.node_label(node), self.node_label(arg))
            lines.append(((f"{d} = ", self.pal.local, False), self.box(local, self.pal.local)))
            single = self.ex.trace.graph.out_degree(arg) == 1 and f"sum:{arg}" not in blanks
            d_out = f"{self.d(self.node_label(self.out_key), self.node_label(arg))} = " if single else ""
            lines.append(((d_out, self.pal.grad, False), self.box(blanks[f"gradient:{node}:{arg}:{pos}"],
                                                                   self.pal.grad)))
        return lines

    def sink_lines(self) -> list[Line]:
        lines = [self.value_line(self.out_key)]
        if self.ex.blanks_mode != "values":
            lines.append((self.grad_span(self.num(1)),))
        return lines

    def sum_line(self, node: str) -> Line | None:
        blank = self._blanks().get(f"sum:{node}")
        if blank is None:
            return None
        d = self.d(self.node_label(self.out_key), self.node_label(node))
        return ((f"{d} = ", self.pal.grad, False), self.box(blank, self.pal.grad))



class _SheetDot(_Sheet, Writer):
    box_width = 46.0  # points; set per drawing from the widest answer, so sheet and key lay out alike

    def cell(self, span: Span, colour: str) -> str:
        text, kind, _ = span
        size = self.opts.fontsize * 0.9
        if kind != BLANK:
            t = html.escape(text, quote=False)
            return f'<td><font color="{kind or self.pal.ink}" point-size="{size:g}">{t}</font></td>' if t else ""
        n = int(text)
        inside = html.escape(self.shown.get(n, ""), quote=False) or " "
        state = self.state.get(n)
        ink = {"right": "#1b7f3b", "wrong": "#c62828", "carried forward": "#b26a00"}.get(state, colour)
        fill = {"right": "#e6f4ea", "wrong": "#fdecea", "carried forward": "#fff4e0"}.get(state, "white")
        return (f'<td><font point-size="{size * 0.7:g}" color="#666666">{n}</font></td>'
                f'<td border="1" color="{colour}" bgcolor="{fill}" fixedsize="true" width="{self.box_width:g}" '
                f'height="{size * 1.9:g}"><font color="{ink}" point-size="{size:g}"><b>{inside}</b></font></td>')

    def label(self, lines: list[Line] | None, node: bool) -> str:
        if not lines or not any(s[1] == BLANK for line in lines for s in line):
            return super().label(lines, node)
        rows = []
        for line in lines:
            colour = next((s[1] for s in line if s[1] not in (BLANK, "")), self.pal.ink)
            cells = "".join(self.cell(s, colour) for s in line)
            rows.append(f'<tr><td><table border="0" cellborder="0" cellspacing="1" cellpadding="1"><tr>{cells}'
                        "</tr></table></td></tr>")
        return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="0">{"".join(rows)}</table>>'

    def lecture_node(self, node: str):
        out = super().lecture_node(node)
        total = self.sum_line(node)
        if total is not None:
            out[0][1]["xlabel"] = self.label([total], node=False)
        return out


class _SheetTikz(_Sheet, _TikzWriter):
    def box(self, blank: Blank, colour: str) -> Span:
        inside = self.shown.get(blank.number)
        body = _tex_number(inside) if inside else r"\rule{0pt}{1.6ex}\hspace{2.6em}"
        return (rf"{{\scriptstyle {blank.number}}}\,\boxed{{{body}}}", "", False)


def _tex_number(text: str) -> str:
    return text.replace("e+", r"\cdot 10^{").replace("e-", r"\cdot 10^{-") + ("}" if "e" in text else "")


def _writer(base: type[Writer], ex: Exercise, shown: Mapping[int, str], state: Mapping[int, str],
            box_width: float) -> type[Writer]:
    return type(f"Sheet{base.__name__}", (base,), {"ex": ex, "shown": dict(shown), "state": dict(state),
                                                    "box_width": box_width})


def answer_texts(ex: Exercise, digits: int = 4) -> dict[int, str]:
    """Each blank's answer as the key writes it."""
    return {b.number: number(ex.answer(b), digits=digits, compact=True) for b in ex.blanks}


def _box_width(ex: Exercise, digits: int, fontsize: float) -> float:
    widest = max(len(t) for t in answer_texts(ex, digits).values())
    return round(max(4, widest) * fontsize * 0.9 * 0.62 + 14, 1)


def sheet_dot(ex: Exercise, shown: Mapping[int, str] | None = None, state: Mapping[int, str] | None = None,
              title: str | None = None, precision: int = 4, **options: Any) -> graphviz.Digraph:
    """The exercise's diagram: boxes with ``shown`` in them (the key: :func:`answer_texts`; a
    worksheet: nothing), coloured by ``state``; ``title`` above it."""
    fontsize = options.get("fontsize", 14)
    cls = _writer(_SheetDot, ex, shown or {}, state or {}, _box_width(ex, precision, fontsize))
    dot = to_dot(ex.graph, ex.trace, None, "lecture", cls, precision=precision, pin=False, **options)
    if title:
        lines = [part for line in title.splitlines() for part in textwrap.wrap(line, 110)]
        dot.attr(label="".join(line.replace("\\", "\\\\") + "\\l" for line in lines), labelloc="t",
                 labeljust="l", fontsize=f"{fontsize:g}")
    return dot


def sheet_tikz(ex: Exercise, shown: Mapping[int, str] | None = None, precision: int = 4, bare: bool = True,
               **options: Any) -> str:
    width = _box_width(ex, precision, options.get("fontsize", 14))
    tikz = _writer(_SheetTikz, ex, shown or {}, {}, width)
    dot = _writer(_SheetDot, ex, shown or {}, {}, width)
    return to_tikz(ex.graph, ex.trace, None, "lecture", bare=bare, writer_class=tikz, dot_writer=dot,
                   precision=precision, pin=False, **options)


# --------------------------------------------------------------------------- the key's text
def explanation_lines(ex: Exercise, precision: int = 4) -> list[str]:
    """The key's text: each blank's answer, then the chain rule of every step the blanks come from."""
    answers = answer_texts(ex, precision)
    lines = ["Answers"]
    lines += [f"({b.number}) {ex.describe(b)}: {answers[b.number]}" for b in ex.blanks]
    phases = {"values": ("forward",), "gradients": ("backward",), "both": ("forward", "backward")}[ex.blanks_mode]
    lines += ["", "Step by step"]
    for e in explain(ex.trace, precision):
        if e.phase in phases and (e.phase == "backward" or ex.graph.nodes[e.node]["kind"] == "op"):
            lines += [f"[{e.step + 1}] {t}" if k == 0 else f"     {t}" for k, t in enumerate(e.text.splitlines())]
    return lines


def _text_pages(title: str, lines: Sequence[str], fontsize: float = 12) -> list[graphviz.Digraph]:
    """Text as pages drawn by Graphviz (one plaintext node each), LINES_PER_PAGE lines a page."""
    pages = []
    for start in range(0, max(1, len(lines)), LINES_PER_PAGE):
        chunk = lines[start:start + LINES_PER_PAGE]
        rows = "".join(f'<tr><td align="left">{html.escape(line, quote=False) or " "}</td></tr>' for line in chunk)
        head = f'<tr><td align="left"><b>{html.escape(title, quote=False)}</b></td></tr>'
        dot = graphviz.Digraph(graph_attr={"bgcolor": "white", "pad": "0.4"},
                               node_attr={"fontname": "Helvetica", "fontsize": f"{fontsize:g}"})
        dot.node("text", f'<<table border="0" cellspacing="0" cellpadding="2">{head}{rows}</table>>',
                 shape="plaintext")
        pages.append(dot)
    return pages


def _tex_key(ex: Exercise, picture: str, title: str, precision: int) -> str:
    answers = answer_texts(ex, precision)
    phases = {"values": ("forward",), "gradients": ("backward",), "both": ("forward", "backward")}[ex.blanks_mode]
    items = [rf"  \item[({b.number})] {_tex_escape(ex.describe(b))}: ${_tex_number(answers[b.number])}$"
             for b in ex.blanks]
    steps = [e.latex for e in explain(ex.trace, precision) if e.phase in phases
             and (e.phase == "backward" or ex.graph.nodes[e.node]["kind"] == "op")]
    return _tex_document(title, [r"\resizebox{\linewidth}{!}{%", picture, "}", r"\subsection*{Answers}",
                                 r"\begin{itemize}", *items, r"\end{itemize}", r"\subsection*{Step by step}",
                                 r"\begin{gather*}", " \\\\\n".join(steps), r"\end{gather*}"])


# Unicode the texts use, as LaTeX (pdflatex has no glyph for them)
_TEX_CHARS = {"∂": r"$\partial$", "→": r"$\to$", "×": r"$\times$", "—": "---", "σ": r"$\sigma$", "·": r"$\cdot$",
              "√": r"$\surd$", "−": "-", "≈": r"$\approx$", "_": r"\_", "&": r"\&", "%": r"\%", "#": r"\#",
              "$": r"\$", "{": r"\{", "}": r"\}", "^": r"\^{}", "~": r"\~{}", "\\": r"\textbackslash{}"}


def _tex_escape(text: str) -> str:
    return "".join(_TEX_CHARS.get(c, c) for c in text)


def _tex_document(title: str, body: Sequence[str]) -> str:
    return "\n".join([r"\documentclass{article}", r"\usepackage[margin=2cm]{geometry}", r"\usepackage{amsmath}",
                      r"\usepackage{tikz}", r"\usetikzlibrary{positioning}", r"\begin{document}",
                      rf"\section*{{{_tex_escape(title)}}}", *body, r"\end{document}", ""])


def _tex_sheet(picture: str, title: str, legend: str) -> str:
    return _tex_document(title, [_tex_escape(legend), "", r"\medskip", r"\resizebox{\linewidth}{!}{%", picture, "}"])


# --------------------------------------------------------------------------- files
@dataclass(frozen=True)
class Written:
    directory: Path
    files: list[Path]
    manifest: dict[str, Any]


def _pdf(pages: Sequence[bytes]) -> bytes:
    """PDF files (a page each, as Graphviz draws them) as one PDF."""
    from pypdf import PdfWriter

    writer = PdfWriter()
    for page in pages:
        writer.append(io.BytesIO(page))
    buffer = io.BytesIO()
    writer.write(buffer)
    return buffer.getvalue()


def _title(ex: Exercise, student: int | None, key: bool) -> str:
    who = f"Student {student}" if student is not None else "Worksheet"
    at = assignments(ex.values, compact=True)
    return f"{who}{' — answer key' if key else ''}: {ex.graph.graph['source'].strip()}   at {at}"


def write_worksheets(directory: str | Path, graph: nx.DiGraph, blanks: str = "both", students: int | None = None,
                     seed: int = 0, fixed: Mapping[str, sp.Expr] | None = None, ranges: tuple[Ranges, ...] = AUTO,
                     fmt: str = "pdf", single_pdf: bool = False, precision: int = 4) -> Written:
    """A worksheet and a key per student in ``directory``, and ``manifest.json``.

    ``students`` None: one worksheet, at ``fixed`` where that gives every variable, else drawn from
    ``seed``. Otherwise each student's values not in ``fixed`` are drawn from ``seed`` and the student's
    number. ``single_pdf``: also ``worksheets.pdf``, every worksheet then every key."""
    if fmt not in FORMATS:
        raise GraphlabError(f"must be one of {', '.join(FORMATS)}, not {fmt!r}", field="format")
    if students is not None and not 1 <= students <= MAX_STUDENTS:
        raise GraphlabError(f"must be between 1 and {MAX_STUDENTS}, not {students}", field="students")
    fixed = dict(fixed or {})
    directory = Path(directory)
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GraphlabError(f"cannot create {directory}: {e.strerror or e}") from None
    count = students or 1
    width = max(2, len(str(count)))
    files: list[Path] = []
    entries, sheets, keys = [], [], []
    seen: set[tuple] = set()
    for k in range(1, count + 1):
        for attempt in range(DISTINCT_TRIES):  # each student their own numbers, while the ranges have enough
            values = draw_values(graph, f"{seed}/{k}" + (f"/{attempt}" if attempt else ""), fixed, ranges)
            if tuple(values.items()) not in seen:
                break
        seen.add(tuple(values.items()))
        ex = exercise(graph, values, blanks)
        student = k if students is not None else None
        stem = f"{k:0{width}d}"
        answers = answer_texts(ex, precision)
        sheet = sheet_dot(ex, title=_title(ex, student, False) + "\n" + LEGEND[blanks], precision=precision)
        key = sheet_dot(ex, answers, title=_title(ex, student, True), precision=precision)
        text = _text_pages(_title(ex, student, True), explanation_lines(ex, precision))
        names = {"worksheet": f"worksheet-{stem}", "key": f"key-{stem}"}
        if fmt == "pdf" or single_pdf:  # each page drawn once, for its own file and the combined one
            sheets.append([render_bytes(sheet, "pdf")])
            keys.append([render_bytes(page, "pdf") for page in (key, *text)])
        if fmt == "pdf":
            out = {"worksheet": _save(directory / f"{names['worksheet']}.pdf", _pdf(sheets[-1])),
                   "key": _save(directory / f"{names['key']}.pdf", _pdf(keys[-1]))}
        elif fmt == "svg":
            out = {"worksheet": _save(directory / f"{names['worksheet']}.svg", render_bytes(sheet, "svg")),
                   "key": _save(directory / f"{names['key']}.svg", render_bytes(key, "svg"))}
            for p, page in enumerate(text, start=1):
                out[f"key_text_{p}"] = _save(directory / f"{names['key']}-text-{p}.svg", render_bytes(page, "svg"))
        else:
            out = {"worksheet": _save(directory / f"{names['worksheet']}.tex",
                                      _tex_sheet(sheet_tikz(ex, precision=precision), _title(ex, student, False),
                                                 LEGEND[blanks]).encode()),
                   "key": _save(directory / f"{names['key']}.tex",
                                _tex_key(ex, sheet_tikz(ex, answers, precision=precision),
                                         _title(ex, student, True), precision).encode())}
        files += out.values()
        entries.append({"student": k, **ex.to_json(precision), "files": {n: p.name for n, p in out.items()}})
    if single_pdf:
        files.append(_save(directory / "worksheets.pdf", _pdf([d for s in sheets for d in s]
                                                              + [d for s in keys for d in s])))
    manifest = {"expression": graph.graph["source"].strip(), "blanks": blanks, "seed": seed,
                "students": entries, **({"single_pdf": "worksheets.pdf"} if single_pdf else {})}
    files.append(_save(directory / "manifest.json",
                       (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode()))
    return Written(directory, files, manifest)


def _save(path: Path, data: bytes) -> Path:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise GraphlabError(f"cannot write {path}: {e.strerror or e}") from None
    return path
