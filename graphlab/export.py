"""Diagrams -> files: DOT, SVG, PNG, PDF through pygraphviz's bundled Graphviz, and TikZ.

The TikZ is native: node positions, edge splines and label centres come from the same
pinned Graphviz layout as the other formats, and labels are LaTeX (∂f/∂q is written
``\\frac{\\partial f}{\\partial q}``). By default a standalone document that compiles on its
own; ``bare=True`` gives only the ``tikzpicture`` (it needs ``tikz`` and ``amsmath``).
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import graphviz
import networkx as nx
import numpy as np
import sympy as sp

from .build import symbol
from .errors import GraphlabError
from .graphviz_lib import pygraphviz
from .ops import OPS
from .present import latex, matrix_rows, number
from .render import PALETTES, Line, PinnedFrame, Writer, build, frames_dot, pinned_frame, pinned_layout, to_dot
from .trace import Trace

__all__ = ["FORMATS", "render_bytes", "to_tikz", "save", "save_frames", "Diagram", "show"]

FORMATS = ("dot", "gv", "svg", "png", "pdf", "tex")


def _agraph(dot: graphviz.Digraph):
    return pygraphviz().AGraph(string=dot.source)


def _laid_out(dot: graphviz.Digraph):
    """The AGraph with every position filled in (pinned frames keep theirs: neato -n2)."""
    agraph = _agraph(dot)
    if agraph.graph_attr.get("layout") == "nop2":
        agraph.layout(prog="neato", args="-n2")
    else:
        agraph.layout(prog="dot")
    return agraph


def render_bytes(dot: graphviz.Digraph, fmt: str, dpi: float | None = None) -> bytes:
    """``dot`` drawn as ``fmt`` (svg, png, pdf, dot) by the Graphviz inside pygraphviz."""
    if fmt in ("dot", "gv"):
        return dot.source.encode()
    if fmt not in ("svg", "png", "pdf"):
        raise GraphlabError(f"unknown format {fmt!r}: use one of {', '.join(FORMATS)}")
    pinned = pinned_frame(dot) if fmt == "svg" and dpi is None else None
    if pinned is not None:
        return _pinned_svg(dot, pinned)
    return _draw(dot.source, fmt, dpi)


def _draw(source: str, fmt: str, dpi: float | None = None) -> bytes:
    agraph = pygraphviz().AGraph(string=source)
    pinned = agraph.graph_attr.get("layout") == "nop2"
    args = "-n2" if pinned else ""
    if dpi is not None:
        args += f" -Gdpi={dpi:g}"
    return agraph.draw(format=fmt, prog="neato" if pinned else "dot", args=args.strip())


# --------------------------------------------------------------------------- SVG, a frame from the last
# At a pinned layout (nodes, edge splines and label centres given), the SVG Graphviz writes for a statement
# depends on that statement alone. So a frame's SVG is the last frame's drawn at the same layout, with the
# statements that differ drawn again by Graphviz, on the same page, and put in their places. Successive
# steps of a trace differ in a few labels and a highlight: Graphviz draws those few, not the whole graph.
# Where anything stands in the way (an xlabel, a page that comes out otherwise), Graphviz draws the whole.
_SVG_END = "</g>\n</svg>\n"
_PART_ID = re.compile(r'[^\n]* -->\n<g id="([^"]*)"')


@dataclass(frozen=True)
class _Drawn:
    """A frame's statements and its SVG: the page (up to its background) and one part per statement drawn."""

    body: tuple[str, ...]
    names: tuple[str, ...]
    ends: tuple[tuple[int, int], ...]
    page: str
    parts: tuple[str, ...]  # "name -->\n<g id=...>...</g>", in Graphviz's order
    where: dict[str, int]  # SVG id -> its part

    def svg(self) -> bytes:
        return (self.page + "".join("\n<!-- " + p for p in self.parts) + "\n" + _SVG_END).encode()


_LAST: OrderedDict[str, _Drawn] = OrderedDict()  # the DOT's head (name, attributes, page) -> the last frame
_LAST_MAX = 16
_LAST_LOCK = threading.Lock()


def _split(svg: str) -> tuple[str, list[str]] | None:
    start = svg.find('<g id="graph0"')
    if start < 0 or not svg.endswith("\n" + _SVG_END):
        return None
    page, *parts = svg[start:-len(_SVG_END) - 1].split("\n<!-- ")
    return svg[:start] + page, parts


def _drawn(dot: graphviz.Digraph, pinned: PinnedFrame, svg: bytes) -> _Drawn | None:
    split = _split(svg.decode())
    if split is None:
        return None
    where: dict[str, int] = {}
    for k, part in enumerate(split[1]):
        m = _PART_ID.match(part)
        if m is not None:
            if m.group(1) in where:
                return None
            where[m.group(1)] = k
    return _Drawn(tuple(dot.body), pinned.names, pinned.ends, split[0], tuple(split[1]), where)


def _from_last(dot: graphviz.Digraph, pinned: PinnedFrame, head: str, last: _Drawn) -> _Drawn | None:
    """``dot``'s frame from ``last``, drawing again only the statements that differ (None: draw it whole)."""
    body = dot.body
    if len(body) != len(last.body) or pinned.names != last.names or pinned.ends != last.ends:
        return None
    changed = [k for k, (a, b) in enumerate(zip(body, last.body)) if a is not b and a != b]
    if not changed:
        return last
    if any("invis" in body[k] or "invis" in last.body[k] for k in changed):
        return None  # drawn as nothing before or now: no part to put in its place
    nodes = {k for k in changed if k < pinned.nodes}
    edges = [k for k in changed if k >= pinned.nodes]
    for k in edges:  # an edge needs its ends; drawn again, they come out the same
        nodes.update(pinned.ends[k - pinned.nodes])
    statements = []
    for k in sorted(nodes):
        if not body[k].endswith("]\n"):
            return None
        statements.append(f"{body[k][:-2]} id=node{k + 1}]\n")  # the id Graphviz gives it in the whole graph
    statements += [body[k] for k in edges]
    # The page: the frame's corners, and the extent of the edges' splines, which every frame draws. What
    # the statements drawn again add to that makes the page they would have in the whole frame, if it is the
    # last frame's: had something drawn again made the last frame's page larger, this one comes out smaller.
    corners = body[pinned.nodes - 2:pinned.nodes]
    split = _split(_draw(head + "".join(corners + statements) + "".join(pinned.page) + "}\n", "svg").decode())
    if split is None or split[0] != last.page:
        return None
    expected = sum("invis" not in s for s in statements)
    parts = list(last.parts)
    for part in split[1]:
        m = _PART_ID.match(part)
        if m is None:
            continue
        k = last.where.get(m.group(1))
        if k is None:
            return None
        parts[k] = part
        expected -= 1
    if expected:
        return None
    return _Drawn(tuple(body), pinned.names, pinned.ends, last.page, tuple(parts), last.where)


def _pinned_svg(dot: graphviz.Digraph, pinned: PinnedFrame) -> bytes:
    lines = list(dot)
    head = "".join(lines[:len(lines) - len(dot.body) - 1])
    with _LAST_LOCK:
        last = _LAST.get(head)
    drawn = None if last is None else _from_last(dot, pinned, head, last)
    if drawn is None:
        svg = _draw(dot.source, "svg")
        drawn = _drawn(dot, pinned, svg)
        if drawn is None:
            return svg
    with _LAST_LOCK:
        _LAST[head] = drawn
        _LAST.move_to_end(head)
        while len(_LAST) > _LAST_MAX:
            _LAST.popitem(last=False)
    return drawn.svg()


# --------------------------------------------------------------------------- TikZ
class _TikzWriter(Writer):
    """The same frame, written in LaTeX math: each span is the inside of ``$...$``."""

    times, ellipsis = r"\times", r"\dots"

    def num(self, value: Any) -> str:
        text = number(value, digits=self.opts.precision, compact=True)
        if isinstance(value, sp.Basic) and ("/" in text or not value.is_number):
            return sp.latex(value)
        return text.replace("inf", r"\infty").replace("e+", r"\cdot 10^{").replace("e-", r"\cdot 10^{-") + \
            ("}" if "e+" in text or "e-" in text else "")

    def d(self, top: str, bottom: str) -> str:
        return rf"\frac{{\partial {top}}}{{\partial {bottom}}}"

    def words(self, text: str) -> str:
        return rf"\text{{{text}}}"

    def math(self, text: str) -> str:
        for plain, tex in _MATH:
            text = text.replace(plain, tex)
        return text

    def value_lines(self, value: Any, span: Any, prefix: str = "") -> list:
        """A small matrix as one ``bmatrix``; a larger one as its shape and summary, as text."""
        rows = matrix_rows(value, self.opts.precision) if isinstance(value, np.ndarray) else None
        if rows is None:
            if isinstance(value, np.ndarray):
                return [(span(self.math(prefix) + r"\text{" + number(value, digits=3).replace("…", "--") + "}"),)]
            return super().value_lines(value, span, prefix)
        body = r" \\ ".join(" & ".join(r) for r in rows)
        return [(span(self.math(prefix) + rf"\begin{{bmatrix}} {body} \end{{bmatrix}}"),)]

    def formula(self, expr: Any) -> str:
        return latex(expr)  # relu' as [z >= 0], as everywhere

    def node_label(self, node: str) -> str:
        data = self.g.nodes[node]
        if data["kind"] == "const":
            return sp.latex(data["value"])
        return sp.latex(symbol(data["label"]))

    def op_text(self, node: str) -> str:
        data = self.g.nodes[node]
        op = OPS[data["op"]]
        if super().op_text(node) != op.symbol:  # a constant exponent drawn inside the circle (^2)
            return f"{{}}^{{{sp.latex(self.g.nodes[data['args'][1]]['value'])}}}"
        return op.tikz


# Matrix-form text in LaTeX math: ∂E/∂W = Xᵀ · (∂E/∂Z ⊙ σ′(Z)) [2×4]·[4×2] = [2×2]
_MATH = (("∂", r"\partial "), ("ᵀ", r"^{\top}"), ("⊙", r"\odot "), ("·", r"\cdot "), ("σ′", r"\sigma'"),
         ("σ", r"\sigma "), ("′", "'"), ("−", "-"), ("×", r"\times "), ("Σ", r"\sum "), ("⎡", ""), ("⎤", ""))


def _tex_lines(lines: list[Line] | None, colours: dict[str, str], sep: str = r"\\") -> str:
    out = []
    for line in lines or []:
        parts = []
        for text, colour, _ in line:
            math = f"${text}$"
            parts.append(rf"\textcolor{{{colours[colour]}}}{{{math}}}" if colour in colours else math)
        out.append(r"\,|\,".join(parts))
    return sep.join(out)


def _xy(text: str) -> str:
    x, y = text.split(",")[:2]
    return f"({float(x):.2f},{float(y):.2f})"


def _spline(pos: str) -> tuple[list[str], str | None]:
    points, end = [], None
    for item in pos.split():
        if item.startswith("e,"):
            end = _xy(item[2:])
        elif not item.startswith("s,"):
            points.append(_xy(item))
    return points, end


def to_tikz(graph: nx.DiGraph, trace: Trace | None = None, step: int | None = None, style: str = "lecture",
            bare: bool = False, writer_class: type[Writer] | None = None, dot_writer: type[Writer] = Writer,
            **options: Any) -> str:
    """The diagram as TikZ, from Graphviz's layout coordinates (points).

    ``writer_class`` (a subclass of the TikZ writer) and ``dot_writer`` (the DOT writer the layout is computed
    from, unpinned) write other labels, as a worksheet's blanks."""
    writer, nodes, edges = build(graph, trace, step, style, writer_class or _TikzWriter, **options)
    opts = writer.opts
    box = []
    if opts.pin:  # the frame's positions are the pinned layout's: no second frame, no Graphviz run
        layout = pinned_layout(graph, trace, style, opts)
        node_pos, edge_pos = layout.nodes, layout.edges
        # every frame the same size (as the SVG's page), so overlays and slides do not jump
        llx, lly, urx, ury = (float(v) for v in layout.bb.split(","))
        box = [rf"\pgfresetboundingbox\path[use as bounding box] ({llx:.2f},{lly:.2f}) "
               rf"rectangle ({urx:.2f},{ury:.2f});"]
    else:
        agraph = _laid_out(to_dot(graph, trace, step, style, dot_writer, **options))
        node_pos = {str(n): n.attr["pos"] for n in agraph.nodes()}
        edge_pos = {e.attr["id"]: (e.attr["pos"], e.attr.get("lp") or "") for e in agraph.edges()}
    pal = PALETTES[opts.palette]
    colours = {pal.value: "glvalue", pal.grad: "glgrad", pal.local: "gllocal"}
    names = {}
    body = [rf"\definecolor{{{name}}}{{HTML}}{{{hex_.lstrip('#').upper()}}}"
            for hex_, name in [*colours.items(), (pal.fill, "glfill"), (pal.border, "glborder")]]
    for k, (node, attrs, lines) in enumerate(nodes):
        if attrs.get("style") == "invis":
            names[node] = None
            continue
        names[node] = f"n{k}"
        kind = "op" if attrs.get("shape") == "circle" else "box" if attrs.get("shape") == "box" else "leaf"
        extra = ",current" if "current" in attrs.get("class", "") else ""
        text = _tex_lines(lines, colours)
        body.append(rf"\node[{kind}{extra}] ({names[node]}) at {_xy(node_pos[node])} {{{text}}};")
        if attrs.get("xlabel"):
            total = writer.sum_line(node)
            body.append(rf"\node[below=2pt of {names[node]}, font=\scriptsize] {{{_tex_lines([total], colours)}}};")
    for _, _, attrs, lines in edges:
        spline, centre = edge_pos[attrs["id"]]
        points, end = _spline(spline)
        path = points[0] + "".join(f" .. controls {points[i]} and {points[i + 1]} .. {points[i + 2]}"
                                   for i in range(1, len(points) - 2, 3))
        arrow = f" -- {end}" if end else ""
        look = ",active" if attrs.get("class") == "active" else ""
        body.append(rf"\draw[edge{look}] {path}{arrow};")
        if lines and centre:
            body.append(rf"\node[edgelabel] at {_xy(centre)} {{{_tex_lines(lines, colours)}}};")
    font = r"\footnotesize"
    picture = "\n".join([
        r"\begin{tikzpicture}[x=1pt, y=1pt, >=stealth,",
        rf"  op/.style={{circle, draw, inner sep=1pt, minimum size=22pt, font={font}}},",
        rf"  leaf/.style={{align=center, font=\small}}, box/.style={{draw, rounded corners, font={font}}},",
        "  current/.style={fill=glfill, draw=glborder, line width=1.2pt},",
        "  edge/.style={->, draw=black!85}, active/.style={draw=glgrad, line width=1pt},",
        rf"  edgelabel/.style={{align=center, font={font}, inner sep=1pt}}]",
        *body,
        *box,
        r"\end{tikzpicture}",
    ])
    if bare:
        return "% needs \\usepackage{tikz} (with \\usetikzlibrary{positioning}) and \\usepackage{amsmath}\n" \
               + picture + "\n"
    return "\n".join([
        r"\documentclass[tikz, border=6pt]{standalone}",
        r"\usepackage{amsmath}",
        r"\usetikzlibrary{positioning}",
        r"\begin{document}",
        picture,
        r"\end{document}",
        "",
    ])


# --------------------------------------------------------------------------- files
def _format_of(path: Path) -> str:
    fmt = path.suffix.lower().lstrip(".")
    if fmt not in FORMATS:
        raise GraphlabError(f"unknown file type {path.suffix or '(none)'!r} for {path}: "
                            f"use {', '.join('.' + f for f in FORMATS)}")
    return fmt


def save(path: str | Path, graph: nx.DiGraph, trace: Trace | None = None, step: int | None = None,
         style: str = "lecture", dpi: float | None = None, bare: bool = False, **options: Any) -> Path:
    """Write the diagram to ``path``; the format comes from the suffix (.dot .svg .png .pdf .tex)."""
    path = Path(path)
    fmt = _format_of(path)
    if fmt == "tex":
        data = to_tikz(graph, trace, step, style, bare=bare, **options).encode()
    else:
        data = render_bytes(to_dot(graph, trace, step, style, **options), fmt, dpi)
    return _write(path, data)


def _write(path: Path, data: bytes) -> Path:
    try:
        path.write_bytes(data)
    except OSError as e:
        raise GraphlabError(f"cannot write {path}: {e.strerror or e}") from None
    return path


def save_frames(directory: str | Path, trace: Trace, fmt: str = "svg", style: str = "lecture",
                dpi: float | None = None, bare: bool = False, **options: Any) -> list[Path]:
    """One file per step (``step-01.svg``...), all with the same layout, and ``index.md`` listing
    each frame with its explanation. File names and the index count steps from 1, as the app and
    ``graphlab draw --step`` do: ``step-08.svg`` is ``trace.steps[7]``."""
    from .explain import explain_text  # the index only

    directory = Path(directory)
    fmt = _format_of(Path(f"frame.{fmt}"))
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise GraphlabError(f"cannot create {directory}: {e.strerror or e}") from None
    width = max(2, len(str(len(trace.steps))))
    dots = None if fmt == "tex" else frames_dot(trace, style, **options)  # each frame built once, for all
    paths, rows = [], []
    for index, step in enumerate(trace.steps):
        number = index + 1
        path = directory / f"step-{number:0{width}d}.{fmt}"
        if dots is None:
            save(path, trace.graph, trace, index, style, dpi, bare, **options)
        else:
            _write(path, render_bytes(dots[index], fmt, dpi))
        paths.append(path)
        text = explain_text(trace, index, options.get("precision", 4)).replace("\n", "<br>").replace("|", "\\|")
        rows.append(f"| {number} | {step.phase} | `{step.node}` | [{path.name}]({path.name}) | {text} |")
    source = trace.graph.graph["source"].strip()
    index = [f"# {source}", "", "| step | phase | node | frame | explanation |", "| --- | --- | --- | --- | --- |",
             *rows, ""]
    (directory / "index.md").write_text("\n".join(index), encoding="utf-8")
    return paths


class Diagram:
    """A graph or a trace (at a step) that shows itself in Jupyter: SVG, and a trace as the HTML stepper."""

    def __init__(self, obj: nx.DiGraph | Trace, step: int | None = None, style: str = "lecture", **options: Any):
        self.trace = obj if isinstance(obj, Trace) else None
        self.graph = obj.graph if isinstance(obj, Trace) else obj
        self.step, self.style, self.options = step, style, options
        self.dot = to_dot(self.graph, self.trace, step, style, **options)

    def _repr_svg_(self) -> str:
        return render_bytes(self.dot, "svg").decode()

    def _repr_html_(self) -> str | None:
        """A trace's diagram is the interactive stepper in Jupyter and Colab, opening on its step."""
        from .present import stepper_inline

        return None if self.trace is None else stepper_inline(self.trace, self.step, self.style, **self.options)

    def save(self, path: str | Path, dpi: float | None = None, bare: bool = False) -> Path:
        return save(path, self.graph, self.trace, self.step, self.style, dpi=dpi, bare=bare, **self.options)

    def frames(self) -> list[Diagram]:
        """One diagram per step of the trace."""
        if self.trace is None:
            raise GraphlabError("a graph without a trace has no steps")
        return [Diagram(self.trace, k, self.style, **self.options) for k in range(len(self.trace.steps))]


def show(obj: nx.DiGraph | Trace, step: int | None = None, style: str = "lecture", **options: Any) -> Diagram:
    """``graphlab.show(trace, step=7)`` in a notebook draws that step inline."""
    return Diagram(obj, step, style, **options)
