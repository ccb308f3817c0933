"""Graph (+ trace, step) -> DOT, as a ``graphviz.Digraph``.

Three styles:

* ``"lecture"`` (default), after the CS231n figures: operators are small circles with
  their symbol, variables and constants are labelled leaves, values are written on the
  edges in one colour and gradients under them in another, left to right;
* ``"record"``, after micrograd: one ``label | data | grad`` box per node, the operator
  in a circle in front of it;
* ``"plain"``: the structure only.

A forward-mode trace (:mod:`graphlab.forward`) writes each tangent ∂node/∂x where a gradient
would go, and at the node being visited, each term local × tangent of its tangent.

Over matrices every edge carries its shape [N×l]; a value or gradient of up to 4×4 entries is
drawn as a little matrix, a larger one as its shape and a summary; at the node being visited,
the edge shows the VJP in the lecture's matrix form and the factors' shapes.

Every frame of one trace is drawn at the same node positions: the layout is computed
once by Graphviz's ``dot`` from the widest label each element takes in any frame, then
pinned (``pos="x,y!"``, drawn by ``neato``), so a slide sequence does not jump. That layout is
computed once per trace, style and options (:func:`pinned_layout`) and reused by every frame.

Node ids in the DOT are the graph's own keys; the node being visited (or those named by the
``highlight`` option) carries ``class="current"`` (and is filled), so a test can find it in the SVG.
"""

from __future__ import annotations

import html
import weakref
from dataclasses import dataclass, fields, replace
from functools import cached_property, lru_cache
from typing import Any

import graphviz
import networkx as nx
import numpy as np

from .errors import GraphlabError
from .fold import Group, folded_id, outputs
from .formulas import matrix_edge
from .frames import Frame, folded_constants, frame, operand_edges
from .ops import OPS, shape_text
from .present import formula, matrix_rows, number
from .trace import Trace, local_formula

__all__ = ["STYLES", "PALETTES", "Options", "Palette", "Writer", "build", "to_dot", "frames_dot", "op_symbol",
           "OUTPUT_SINK", "Layout", "PinnedFrame", "pinned_frame", "pinned_layout"]

STYLES = ("lecture", "record", "plain")
OUTPUT_SINK = "__output__"  # the invisible end of the arrow leaving the output node


@dataclass(frozen=True)
class Palette:
    value: str  # forward values
    grad: str  # gradients
    local: str  # local gradients at a backward step
    fill: str  # the node being visited
    border: str  # its border
    ink: str = "#222222"  # nodes and edges
    grad_italic: bool = False  # greyscale tells gradients from values by shape, not hue


PALETTES = {
    "default": Palette(value="#1b7f3b", grad="#c62828", local="#1f5fa8", fill="#fff2a8", border="#e08a00"),
    # Okabe & Ito's colour-blind-safe set: blue / vermillion / reddish purple, yellow highlight
    "colorblind": Palette(value="#0072B2", grad="#D55E00", local="#CC79A7", fill="#F0E442", border="#000000"),
    "greyscale": Palette(value="#000000", grad="#505050", local="#707070", fill="#dcdcdc", border="#000000",
                         grad_italic=True),
}


@dataclass(frozen=True)
class Options:
    direction: str = "LR"  # LR or TB
    precision: int = 4  # significant digits
    symbolic: bool = False  # also write local gradients as formulas (∂q/∂x = 1)
    palette: str = "default"  # default, colorblind, greyscale
    font: str = "Helvetica"
    fontsize: float = 14
    pin: bool = True  # pin the layout (same positions in every frame)
    highlight: tuple[str, ...] | None = None  # the nodes to mark as current; None: the step's node
    fold: tuple[Group, ...] = ()  # groups drawn as one node each (graphlab.fold)
    paths: tuple[tuple[str, str, int], ...] = ()  # edges (input, node, position) drawn as on a path

    def check(self) -> Options:
        if self.direction not in ("LR", "TB"):
            raise GraphlabError(f"unknown direction {self.direction!r}: use LR or TB")
        if self.palette not in PALETTES:
            raise GraphlabError(f"unknown palette {self.palette!r}: use {', '.join(PALETTES)}")
        if not 1 <= self.precision <= 17:
            raise GraphlabError(f"precision {self.precision} is out of range: use 1 to 17")
        return self


def make_options(**options: Any) -> Options:
    known = {f.name for f in fields(Options)}
    unknown = sorted(set(options) - known)
    if unknown:
        raise GraphlabError(f"unknown drawing option {', '.join(unknown)} (known: {', '.join(sorted(known))})")
    if isinstance(options.get("highlight"), str):
        options["highlight"] = (options["highlight"],)
    elif options.get("highlight") is not None:
        options["highlight"] = tuple(options["highlight"])
    for name in ("fold", "paths"):
        if options.get(name) is not None:
            options[name] = tuple(options[name])
    return Options(**options).check()


def op_symbol(graph: nx.DiGraph, node: str) -> str:
    """The text in an operator's circle: its registry symbol; a constant exponent folds in (^2)."""
    data = graph.nodes[node]
    if data["op"] == "pow":
        exponent = graph.nodes[data["args"][1]]
        if exponent["kind"] == "const" and data["args"][1] in folded_constants(graph):
            return f"^{exponent['label']}"
    return OPS[data["op"]].symbol


# --------------------------------------------------------------------------- labels
# A label is a list of lines; a line is a list of spans (text, colour, italic). Keeping them
# as data lets the layout take the widest line of each slot over all frames.
Span = tuple[str, str, bool]
Line = tuple[Span, ...]


def _html(lines: list[Line], size: float | None = None, small: float | None = None) -> str:
    """HTML-like label text; ``small``: the point size of every line after the first."""
    out = []
    for k, line in enumerate(lines):
        parts = []
        for text, colour, italic in line:
            t = html.escape(text, quote=False) or " "
            if italic:
                t = f"<i>{t}</i>"
            parts.append(f'<font color="{colour}">{t}</font>' if colour else t)
        text = "".join(parts)
        out.append(f'<font point-size="{small:g}">{text}</font>' if small and k else text)
    body = "<br/>".join(out)
    if size is not None:
        body = f'<font point-size="{size:g}">{body}</font>'
    return f"<{body}>"


def _width(line: Line) -> int:
    return sum(len(text) for text, _, _ in line)


class Writer:
    """Builds the nodes and edges of one frame in one style, as plain attribute dicts."""

    def __init__(self, fr: Frame, style: str, opts: Options):
        self.fr, self.style, self.opts = fr, style, opts
        self.g = fr.graph
        self.pal = PALETTES[opts.palette]
        self.out_key = self.g.graph["output"]
        self.hidden = folded_constants(self.g) if style != "record" else set()
        self.show_values = style != "plain" and fr.trace is not None
        self.group = {n: g for g in opts.fold for n in g.members}  # a folded node -> its group
        marked = {fr.current} if opts.highlight is None else set(opts.highlight)
        self.marked = {self.drawn_as(n) for n in marked if n is not None}
        self.on_path = set(opts.paths)
        self.marked_groups = {folded_id(g) for g in opts.fold}  # the folded nodes' ids

    def drawn_as(self, node: str) -> str:
        """The diagram node ``node`` is drawn as: its own, or its folded group's."""
        group = self.group.get(node)
        return node if group is None else folded_id(group)

    def num(self, value: Any) -> str:
        return number(value, digits=self.opts.precision, compact=True)

    def value_span(self, text: str) -> Span:
        return (text, self.pal.value, False)

    def grad_span(self, text: str) -> Span:
        return (text, self.pal.grad, self.pal.grad_italic)

    # Text pieces a TikZ writer replaces with LaTeX.
    times, ellipsis = "×", "…"

    def d(self, top: str, bottom: str) -> str:
        return f"∂{top}/∂{bottom}"

    def formula(self, expr: Any) -> str:
        return formula(expr)  # the input language: x^2, step(z)

    def math(self, text: str) -> str:
        """Matrix-form text (∂E/∂W = Xᵀ · ∂E/∂Z) as this writer writes it: as it is."""
        return text

    def words(self, text: str) -> str:
        """Words among the math: as they are."""
        return text

    def value_lines(self, value: Any, span: Any, prefix: str = "") -> list[Line]:
        """A value: a number on one line; a matrix of up to 4×4 as its rows in brackets; a larger one as
        its shape and a summary."""
        rows = matrix_rows(value, self.opts.precision) if isinstance(value, np.ndarray) else None
        if rows is None:
            return [(span(prefix + self.num(value)),)]
        widths = [max(len(r[j]) for r in rows) for j in range(len(rows[0]))]
        texts = ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
        ends = [("[", "]")] if len(texts) == 1 else \
            [("⎡", "⎤"), *[("⎢", "⎥")] * (len(texts) - 2), ("⎣", "⎦")]
        lines = [(span(prefix.rstrip(" =")),)] if prefix else []
        return lines + [(span(f"{left} {t} {right}"),) for (left, right), t in zip(ends, texts)]

    def op_text(self, node: str) -> str:
        return op_symbol(self.g, node) if self.style != "record" else OPS[self.g.nodes[node]["op"]].symbol

    # ---- the pieces every style needs
    def node_label(self, node: str) -> str:
        return self.g.nodes[node]["label"]

    def edge_lines(self, arg: str, node: str, pos: int) -> list[Line]:
        """Value of ``arg`` on its way into ``node``, and the gradient sent back along the edge."""
        if self.g.graph.get("matrices"):
            return self.matrix_edge_lines(arg, node, pos)
        if not self.show_values:
            return []
        fr = self.fr
        lines: list[Line] = []
        if arg in fr.values:
            text = self.num(fr.values[arg])
            if self.g.nodes[arg].get("name"):
                text = f"{self.node_label(arg)} = {text}"
            lines.append((self.value_span(text),))
        if fr.tangents:  # forward mode: tangents instead of gradients
            return lines + self.tangent_lines(arg, node, pos)
        edge = fr.active.get((arg, pos))
        if edge is not None and fr.current == node:
            formula = local_formula(self.g, node, pos)
            local = self.num(edge.local)
            local_text = f"{self.d(self.node_label(node), self.node_label(arg))} = "
            if self.opts.symbolic and str(formula) != local:
                local_text += f"{self.formula(formula)} = "
            lines.append(((local_text + local, self.pal.local, False),))
            product = f"{self.num(fr.step.upstream)} {self.times} {local}"
            lines += self.product_lines(product, self.num(edge.contribution))
        elif (arg, node, pos) in fr.contributions:
            lines.append((self.grad_span(self.num(fr.contributions[(arg, node, pos)])),))
        return lines

    def matrix_edge_lines(self, arg: str, node: str, pos: int) -> list[Line]:
        """Over matrices: the shape [N×l], the value, and the gradient; at the node being visited, the VJP
        in matrix form with its factors' shapes."""
        fr = self.fr
        lines: list[Line] = [((self.math(f"[{shape_text(self.g.nodes[arg].get('shape', ()))}]"), "", False),)]
        if not self.show_values:
            return lines
        if arg in fr.values:
            name = f"{self.node_label(arg)} = " if self.g.nodes[arg].get("name") else ""
            lines += self.value_lines(fr.values[arg], self.value_span, name)
        edge = fr.active.get((arg, pos))
        if edge is not None and fr.current == node:
            m = matrix_edge(self.g, node, pos)
            lines.append(((self.math(f"{m.lhs} = {m.step}"), self.pal.local, False),))
            lines.append(((self.math(m.shapes), self.pal.local, False),))
            if edge.contribution is not None:
                lines += self.value_lines(edge.contribution, self.grad_span)
        elif (arg, node, pos) in fr.contributions:
            lines += self.value_lines(fr.contributions[(arg, node, pos)], self.grad_span)
        return lines

    def tangent_lines(self, arg: str, node: str, pos: int) -> list[Line]:
        """Forward mode: the tangent ∂arg/∂x carried along the edge; at the node being visited, its
        local gradient and the term local × tangent it adds to the node's tangent."""
        fr = self.fr
        if fr.tangents.get(arg) is None:
            return []
        x = self.node_label(fr.trace.wrt)
        term = next((t for t in getattr(fr.step, "terms", ()) if t.position == pos), None)
        if term is None or fr.current != node:
            return [(self.grad_span(f"{self.d(self.node_label(arg), x)} = {self.num(fr.tangents[arg])}"),)]
        local = self.num(term.local)
        local_text = f"{self.d(self.node_label(node), self.node_label(arg))} = "
        formula = local_formula(self.g, node, pos)
        if self.opts.symbolic and str(formula) != local:
            local_text += f"{self.formula(formula)} = "
        product = f"{local} {self.times} {self.num(term.tangent)}"
        return [((local_text + local, self.pal.local, False),), *self.product_lines(product, self.num(term.product))]

    def product_lines(self, product: str, result: str) -> list[Line]:
        """``a × b`` and, under it, ``= c`` at the edge being visited: every edge carries these lines in one
        frame, and the pinned layout keeps each edge's widest label in all of them, so a narrower product
        line narrows the whole diagram (left to right, every gap between ranks)."""
        return [(self.grad_span(product),), (self.grad_span(f"= {result}"),)]

    def sink_lines(self) -> list[Line]:
        if not self.show_values:
            return []
        lines: list[Line] = []
        out = self.out_key
        if out in self.fr.values:
            lines += self.value_lines(self.fr.values[out], self.value_span, f"{self.node_label(out)} = ")
        if self.fr.output_grad is not None:
            lines.append((self.grad_span(self.num(self.fr.output_grad)),))
        if self.fr.tangents.get(out) is not None:  # forward mode: the output's tangent is ∂out/∂x
            x = self.node_label(self.fr.trace.wrt)
            lines.append((self.grad_span(f"{self.d(self.node_label(out), x)} = {self.num(self.fr.tangents[out])}"),))
        return lines

    def _sum(self, node: str) -> list[str] | None:
        """At a node with several consumers, the running sum's pieces: ``∂f/∂x = term``, ``+ term`` for each
        further term (``+ …`` for those still to come), then ``= total`` once all have arrived."""
        if not self.show_values or self.fr.trace is None:
            return None
        arrived = self.fr.terms.get(node, [])
        if not arrived or arrived[0][1].consumers < 2:
            return None
        if self.group and any(c in self.group for c in self.g.successors(node)):
            return None  # its terms come from inside folded groups: the edges into them carry their sums
        total = arrived[-1][1].consumers
        head = f"{self.d(self.node_label(self.out_key), self.node_label(node))} = "
        if any(isinstance(e.contribution, np.ndarray) for _, e in arrived):  # matrices: on the edges already
            text = f"the sum of the {total} gradients on its edges" if len(arrived) == total else \
                f"{len(arrived)} of {total} terms arrived"
            return [head + self.words(text)]
        parts = [self.num(e.contribution) for _, e in arrived]
        parts = [f"({p})" if p.startswith("-") and i else p for i, p in enumerate(parts)]
        pieces = [head + parts[0], *(f"+ {p}" for p in parts[1:] + [self.ellipsis] * (total - len(arrived)))]
        return pieces + [f"= {self.num(self.fr.grads[node])}"] if len(arrived) == total else pieces

    def sum_line(self, node: str) -> Line | None:
        """At a node with several consumers: the sum of what has arrived (… for the rest), on one line."""
        pieces = self._sum(node)
        return None if pieces is None else (self.grad_span(" ".join(pieces)),)

    def sum_lines(self, node: str) -> list[Line] | None:
        """The running sum as the diagram writes it beside the node: one piece a line, so the label is only as
        wide as its longest piece (the pinned layout keeps its room in every frame)."""
        pieces = self._sum(node)
        return None if pieces is None else [(self.grad_span(p),) for p in pieces]

    def node_classes(self, node: str) -> str:
        kind = "group" if node in self.marked_groups else self.g.nodes[node]["kind"]
        return f"{kind} current" if node in self.marked else kind

    def highlight(self, node: str, attrs: dict[str, str]) -> dict[str, str]:
        if node in self.marked:
            style = attrs.get("style", "")
            attrs.update(style=",".join(s for s in (style, "filled") if s), fillcolor=self.pal.fill,
                         color=self.pal.border, penwidth="2.5")
        attrs["class"] = self.node_classes(node)
        return attrs

    # ---- the elements: (id, attrs, lines) for nodes; (tail, head, attrs, lines) for edges
    def elements(self):
        nodes, edges = [], []
        writer = self.record_node if self.style == "record" else self.lecture_node
        plan = _fold_plan(self.g, self.opts.fold, frozenset(self.hidden))
        for node in plan.nodes:
            if isinstance(node, Group):
                nodes.append(self.group_node(node, plan.outputs[node.name]))
            else:
                nodes.extend(writer(node))
        # forward mode: the edges whose terms local × tangent the visited node sums
        summed = {t.position for t in getattr(self.fr.step, "terms", ())} if self.fr.tangents else set()
        for item in plan.edges:
            if len(item) == 2:  # into, out of or between folded groups: one edge for all it stands for
                edges.append(self.folded_edge(*item))
                continue
            arg, node, pos = item
            head = f"{node}/op" if self.style == "record" else node
            active = ((arg, pos) in self.fr.active or pos in summed) and self.fr.current == node
            edges.append(self.edge(arg, head, f"{arg}->{node}#{pos}", self.edge_lines(arg, node, pos), active=active,
                                   on_path=(arg, node, pos) in self.on_path))
        if self.style != "record":
            nodes.append((OUTPUT_SINK, {"shape": "point", "width": "0.01", "style": "invis"}, None))
            edges.append(self.edge(self.drawn_as(self.out_key), OUTPUT_SINK, f"{self.out_key}->output",
                                   self.sink_lines(), active=False))
        return nodes, edges

    # ---- folded groups
    def group_node(self, group: Group, leaving: list[str]):
        """A folded group: one box with a double border, its name, and, where it has one output (``leaving``),
        that output's value and gradient at this frame."""
        lines: list[Line] = [((group.title, "", False),)]
        if self.show_values and len(leaving) == 1:
            out = leaving[0]
            if out in self.fr.values:
                lines += self.value_lines(self.fr.values[out], self.value_span, f"{self.node_label(out)} = ")
            if self.fr.grads.get(out) is not None and not self.fr.tangents:
                lines.append((self.grad_span(f"{self.d(self.node_label(self.out_key), self.node_label(out))} = "
                                             f"{self.num(self.fr.grads[out])}"),))
        else:
            lines.append(((self.words(f"{len(group.members)} nodes folded"), "", True),))
        ident = folded_id(group)
        attrs = {"shape": "box", "style": "rounded", "peripheries": "2", "margin": "0.1,0.05",
                 "tooltip": f"{group.name}: {len(group.members)} nodes folded"}
        return (ident, self.highlight(ident, attrs), lines)

    def folded_edge(self, ends: tuple[str, str], items: list[tuple[str, str, int]]):
        """The one edge drawn for every operand edge from ``tail`` to ``head`` (either or both folded): what it
        carries forward, and the gradient sent back along it so far (summed over the uses inside a group)."""
        tail, head = ends
        args = list(dict.fromkeys(arg for arg, _, _ in items))
        lines: list[Line] = []
        if self.show_values and not self.fr.tangents:
            known = [a for a in args if a in self.fr.values]
            names = self.node_label(args[0]) if len(args) == 1 else \
                f"{self.node_label(args[0])} {self.ellipsis} {self.node_label(args[-1])}"
            if len(known) == 1 and len(args) == 1:
                lines += self.value_lines(self.fr.values[args[0]], self.value_span, f"{names} = ")
            elif known:
                shown = [self.num(self.fr.values[a]) for a in known[:4]]
                more = f", {self.ellipsis}" if len(known) > 4 else ""
                lines.append((self.value_span(f"{names} = [{', '.join(shown)}{more}]" if len(args) <= 4 else
                                              f"{names}: {len(args)} values"),))
            arrived: dict[str, Any] = {}  # input -> the sum of what its uses inside the group sent back so far
            for a, n, p in items:
                c = self.fr.contributions.get((a, n, p))
                if c is not None:
                    arrived[a] = c if a not in arrived else arrived[a] + c
            sums = list(arrived.values())
            if len(sums) == 1 and len(args) == 1:
                lines += self.value_lines(sums[0], self.grad_span)
            elif sums and len(args) <= 4:
                lines.append((self.grad_span(f"[{', '.join(self.num(v) for v in sums)}]"),))
        active = any(self.fr.current == n and (a, p) in self.fr.active for a, n, p in items)
        if self.style == "record" and head not in self.marked_groups and self.g.nodes[head]["kind"] == "op":
            head = f"{head}/op"
        return self.edge(tail, head, f"{tail}->{head}", lines, active=active,
                         on_path=any(item in self.on_path for item in items))

    def edge(self, tail: str, head: str, ident: str, lines: list[Line], active: bool, on_path: bool = False):
        attrs = {"id": ident, "class": "active" if active else "path" if on_path else "edge"}
        if active:
            attrs.update(color=self.pal.grad, penwidth="2")
        elif on_path:
            attrs.update(color=self.pal.local, penwidth="3")
        if lines and self.style == "record":
            lines = []  # record boxes carry the numbers
        return (tail, head, attrs, lines)

    def lecture_node(self, node: str):
        data = self.g.nodes[node]
        if data["kind"] == "op":
            symbol = self.op_text(node)
            attrs = {"shape": "circle", "width": "0.42", "height": "0.42", "margin": "0.02",
                     "fontsize": f"{self.opts.fontsize * (1.15 if len(symbol) <= 2 else 0.85):g}"}
            lines: list[Line] = [((symbol, "", False),)]
        else:
            attrs = {"shape": "plaintext", "fontsize": f"{self.opts.fontsize * 1.15:g}", "margin": "0.05,0.03"}
            lines = [((self.node_label(node), "", False),)]
        total = self.sum_lines(node)
        if total is not None:  # beside the node, so its edges still start at the name or circle
            attrs["xlabel"] = _html(total, self.opts.fontsize * 0.85)
        attrs["tooltip"] = node
        return [(node, self.highlight(node, attrs), lines)]

    def record_node(self, node: str):
        data = self.g.nodes[node]
        cells: list[Span] = [(self.node_label(node), "", False)]
        if self.show_values:
            cells.append(self.value_span(f"data {self.num(self.fr.values.get(node))}"))
            if self.fr.tangents:  # forward mode: the tangent where reverse mode has the gradient
                x = self.node_label(self.fr.trace.wrt)
                cells.append(self.grad_span(f"{self.d('', x)} {self.num(self.fr.tangents.get(node))}"))
            else:
                grad = self.fr.grads.get(node)
                cells.append(self.grad_span(f"grad {self.num(grad)}"))
        attrs = self.highlight(node, {"shape": "box", "style": "rounded", "margin": "0.08,0.04", "tooltip": node})
        out = [(node, attrs, [tuple(cells)])]
        if data["kind"] == "op":
            op_attrs = {"shape": "circle", "width": "0.42", "height": "0.42", "margin": "0.02", "tooltip": node,
                        "class": "op"}
            if node in self.marked:
                op_attrs.update(style="filled", fillcolor=self.pal.fill, color=self.pal.border, penwidth="2.5")
            out.append((f"{node}/op", op_attrs, [((self.op_text(node), "", False),)]))
        return out

    def record_html(self, line: Line) -> str:
        cells = []
        for text, colour, italic in line:
            t = html.escape(text, quote=False)
            if italic:
                t = f"<i>{t}</i>"
            if colour:
                t = f'<font color="{colour}">{t}</font>'
            cells.append(f"<td>{t}</td>")
        return f'<<table border="0" cellborder="0" cellspacing="0" cellpadding="3"><tr>{"<td>|</td>".join(cells)}' \
               "</tr></table>>"

    def label(self, lines: list[Line] | None, node: bool) -> str:
        if lines is None:
            return ""
        if self.style == "record" and node and len(lines) == 1 and len(lines[0]) > 1:
            return self.record_html(lines[0])
        if not lines:
            return ""
        if node:
            return _html(lines, small=self.opts.fontsize * 0.85)
        return _html(lines, self.opts.fontsize * 0.9)

    def extra_edges(self):
        if self.style != "record":
            return []
        return [(f"{n}/op", n, {"class": "edge", "id": f"{n}/op->{n}"}, [])
                for n, d in self.g.nodes(data=True) if d["kind"] == "op" and n not in self.group]


@dataclass(frozen=True)
class _Plan:
    """What a frame draws, the same in every frame: nodes (a node id, or a folded Group), edges (an operand edge
    (input, node, position), or ((tail, head), the operand edges it stands for)), each group's outputs."""

    nodes: tuple
    edges: tuple
    outputs: dict[str, list[str]]


@lru_cache(maxsize=64)
def _fold_plan(graph: nx.DiGraph, fold: tuple[Group, ...], hidden: frozenset[str]) -> _Plan:
    """Worked out once per graph and folding, not per frame: a large graph's layout looks at hundreds."""
    group = {n: g for g in fold for n in g.members}
    nodes: list = []
    seen: set[str] = set()
    for node in graph.nodes:
        g = group.get(node)
        if g is not None:
            if g.name not in seen:
                seen.add(g.name)
                nodes.append(g)
        elif node not in hidden:
            nodes.append(node)
    edges: list = []
    folded: dict[tuple[str, str], list[tuple[str, str, int]]] = {}
    shown = lambda n: folded_id(group[n]) if n in group else n  # noqa: E731
    for arg, node, pos in operand_edges(graph, hidden):
        if arg not in group and node not in group:
            edges.append((arg, node, pos))
            continue
        ends = (shown(arg), shown(node))
        if ends[0] == ends[1]:
            continue  # inside a group: not drawn
        if ends not in folded:
            folded[ends] = []
            edges.append((ends, folded[ends]))
        folded[ends].append((arg, node, pos))
    return _Plan(tuple(nodes), tuple(edges), {g.name: outputs(graph, g) for g in fold})


def _graph_attrs(opts: Options) -> dict[str, str]:
    return {"rankdir": opts.direction, "fontname": opts.font, "bgcolor": "white", "pad": "0.25",
            "nodesep": "0.3", "ranksep": "0.45", "forcelabels": "true"}


@lru_cache(maxsize=1 << 14)
def _node_line(node: str, label: str, attrs: tuple[tuple[str, str], ...]) -> str:
    """One node statement, quoted by the graphviz package itself; frames repeat most of them."""
    scratch = graphviz.Digraph()
    scratch.node(node, label, **dict(attrs))
    return scratch.body[0]


@lru_cache(maxsize=1 << 14)
def _edge_line(tail: str, head: str, attrs: tuple[tuple[str, str], ...]) -> str:
    scratch = graphviz.Digraph()
    scratch.edge(tail, head, **dict(attrs))
    return scratch.body[0]


@dataclass(frozen=True)
class PinnedFrame:
    """What :func:`graphlab.export.render_bytes` needs to draw a frame made at a pinned layout from another frame
    of the same layout, Graphviz drawing again only the statements that differ: the first ``nodes`` statements of
    the DOT's body are nodes (Graphviz numbers them 1, 2, ... in its SVG: ``node1``), ``ends`` has each edge
    statement's tail and head statements, ``page`` statements take in the layout's extent (``bb`` and the
    splines' points). Only for a frame whose every statement's SVG depends on that statement alone: no
    ``xlabel`` (Graphviz places those around everything else), every edge label at its pinned centre."""

    statements: int  # the body's length: a DOT changed since is drawn whole
    nodes: int
    names: tuple[str, ...]  # the nodes' names, statement by statement
    ends: tuple[tuple[int, int], ...]
    page: tuple[str, ...]


# to_dot's pinned diagrams -> their PinnedFrame, kept beside them (graphviz.Digraph is not ours to extend:
# Streamlit's graphviz_chart takes only its own class) and dropped with them
_PINNED_FRAMES: weakref.WeakKeyDictionary[graphviz.Digraph, PinnedFrame] = weakref.WeakKeyDictionary()


def pinned_frame(dot: graphviz.Digraph) -> PinnedFrame | None:
    """``dot``'s :class:`PinnedFrame`, if it has one and its body is as to_dot made it."""
    found = _PINNED_FRAMES.get(dot)
    return found if found is not None and found.statements == len(dot.body) else None


def _digraph(writer: Writer, nodes, edges, layout: Layout | None) -> graphviz.Digraph:
    opts, pal = writer.opts, writer.pal
    name = writer.g.graph.get("source", "graph").strip()[:200] or "graph"  # Graphviz takes ≤ 16,384 characters
    graph_attrs = _graph_attrs(opts)
    if layout is not None:
        # nop2 = neato -n2: keep the given node positions, edge splines and label centres.
        graph_attrs.update(layout="nop2", bb=layout.bb, splines="true", overlap="true", notranslate="true")
    dot = graphviz.Digraph(name=name, graph_attr=graph_attrs,
                           node_attr={"fontname": opts.font, "fontsize": f"{opts.fontsize:g}", "color": pal.ink,
                                      "fontcolor": pal.ink},
                           edge_attr={"fontname": opts.font, "color": pal.ink, "arrowsize": "0.7"})
    body = dot.body
    local = True
    for node, attrs, lines in nodes:
        attrs = dict(attrs)
        if layout is not None:
            attrs["pos"] = layout.nodes[node] + "!"
            local = local and "xlabel" not in attrs
        body.append(_node_line(node, writer.label(lines, node=True), tuple(attrs.items())))
    if layout is not None:
        # Graphviz fits the page to what a frame draws; two invisible corners of the widest
        # frame's box keep the page, and so every position on it, the same in all frames.
        llx, lly, urx, ury = layout.bb.split(",")
        for corner, xy in (("__corner_ll__", f"{llx},{lly}"), ("__corner_ur__", f"{urx},{ury}")):
            dot.node(corner, "", shape="point", width="0.01", style="invis", pos=xy + "!")
    index = {node: k for k, (node, _, _) in enumerate(nodes)}
    ends = []
    for tail, head, attrs, lines in edges:
        label = writer.label(lines, node=False)
        if layout is not None:
            spline, centre = layout.edges[attrs["id"]]
            attrs = {**attrs, "pos": spline, **({"lp": centre} if centre else {})}
            ends.append((index.get(tail, -1), index.get(head, -1)))
            local = local and bool(centre or not label) and -1 not in ends[-1]
        body.append(_edge_line(tail, head, tuple((({"label": label} if label else {}) | attrs).items())))
    if layout is not None and local:
        llx, lly, urx, ury = layout.extent.split(",")
        ll, ur = f"{llx},{lly}", f"{urx},{ury}"  # an invisible edge across the extent: a spline has no size
        spline = (("style", "invis"), ("pos", f"{ll} {ll} {ur} {ur}"))
        _PINNED_FRAMES[dot] = PinnedFrame(len(body), len(nodes) + 2, tuple(index), tuple(ends),
                                          (_edge_line("__corner_ll__", "__corner_ur__", spline),))
    return dot


# --------------------------------------------------------------------------- layout
def _widest(per_frame: list[list[Line] | None]) -> list[Line] | None:
    """Slot by slot, the widest line any frame puts there."""
    if all(lines is None for lines in per_frame):
        return None
    slots: list[Line] = []
    for lines in per_frame:
        for i, line in enumerate(lines or []):
            if i == len(slots):
                slots.append(line)
            elif _width(line) > _width(slots[i]):
                slots[i] = line
    return slots


@dataclass(frozen=True)
class Layout:
    """Where ``dot`` put everything, in points: nodes, edge splines and edge-label centres."""

    nodes: dict[str, str]  # node -> "x,y"
    edges: dict[str, tuple[str, str]]  # edge id -> (spline, label centre or "")
    bb: str

    def position(self, node: str) -> tuple[float, float]:
        x, y = self.nodes[node].split(",")
        return float(x), float(y)

    @cached_property
    def extent(self) -> str:
        """``bb`` with every point of every edge's spline (Graphviz's page takes them in, and each frame draws
        every edge), as "llx,lly,urx,ury"."""
        llx, lly, urx, ury = (float(v) for v in self.bb.split(","))
        for spline, _ in self.edges.values():
            for point in spline.split():
                if not point.startswith(("e,", "s,")):
                    x, y = (float(v) for v in point.split(","))
                    llx, lly, urx, ury = min(llx, x), min(lly, y), max(urx, x), max(ury, y)
        return f"{llx:g},{lly:g},{urx:g},{ury:g}"


@lru_cache(maxsize=128)
def _layout(source: str) -> Layout:
    """Lay out the DOT ``source`` with ``dot``."""
    from .graphviz_lib import pygraphviz  # loaded here: building DOT text needs no Graphviz

    agraph = pygraphviz().AGraph(string=source)
    agraph.layout(prog="dot")
    nodes = {str(n): n.attr["pos"] for n in agraph.nodes()}
    edges = {e.attr["id"]: (e.attr["pos"], e.attr.get("lp") or "") for e in agraph.edges()}
    return Layout(nodes, edges, agraph.graph_attr["bb"])


_MAX_LAYOUT_FRAMES = 400  # beyond this, the layout looks at a sample of frames
_MAX_FOLDED_LAYOUT_FRAMES = 100  # a folded graph (a large one) draws few labels: fewer frames show the widest


def _positions(graph: nx.DiGraph, trace: Trace | None, style: str, opts: Options,
               frames: dict[int, tuple[list, list]] | None = None) -> Layout:
    """One layout for every frame of ``trace``: from the widest label each element ever has. ``frames``: the
    nodes and edges of frames already built (by :func:`frames_dot`), step -> (nodes, edges), not built again."""
    indices: list[int | None] = [None]
    if trace is not None and style != "plain":
        n = len(trace.steps)
        stride = max(1, n // (_MAX_LAYOUT_FRAMES if not opts.fold else _MAX_FOLDED_LAYOUT_FRAMES))
        indices += list(range(0, n, stride))
    writers = [Writer(frame(graph, trace if style != "plain" else None, indices[0]), style, opts)]
    built = [writers[0].elements()]
    for i in indices[1:]:
        built.append(frames[i] if frames is not None and i in frames else
                     Writer(frame(graph, trace if style != "plain" else None, i), style, opts).elements())
    nodes = [(node, attrs, _widest([b[0][k][2] for b in built])) for k, (node, attrs, _) in enumerate(built[0][0])]
    edges = [(t, h, attrs, _widest([b[1][k][3] for b in built])) for k, (t, h, attrs, _) in enumerate(built[0][1])]
    edges += writers[0].extra_edges()
    # Highlight and xlabels do not change sizes: draw the layout frame without them.
    return _layout(_digraph(writers[0], nodes, edges, None).source)


# trace id -> (a weak reference to the trace, {(style, options): Layout}). A trace is never changed
# once made, so the layout of its frames is computed once and every frame, and every rerun of the
# app on the same trace, reuses it. Kept beside the trace, not in it or in graph.graph, and dropped
# with the trace. (A Trace is an unhashable dataclass, hence the id with a weak reference.)
_PINNED: dict[int, tuple[weakref.ref, dict[tuple[str, Options], Layout]]] = {}


def _forget(key: int, ref: weakref.ref) -> None:
    if _PINNED.get(key, (None,))[0] is ref:
        del _PINNED[key]


def pinned_layout(graph: nx.DiGraph, trace: Trace | None, style: str, opts: Options,
                  frames: dict[int, tuple[list, list]] | None = None) -> Layout:
    """The layout every frame of ``trace`` in ``style`` is drawn at (``opts.highlight`` aside); ``frames``: see
    :func:`_positions`."""
    opts = replace(opts, highlight=None, pin=True)
    if trace is None or style == "plain":  # one frame's labels: cheap, and _layout caches Graphviz's work
        return _positions(graph, None if style == "plain" else trace, style, opts)
    key = id(trace)
    entry = _PINNED.get(key)
    if entry is None or entry[0]() is not trace:
        entry = (weakref.ref(trace, lambda ref, key=key: _forget(key, ref)), {})
        _PINNED[key] = entry
    layouts = entry[1]
    if (style, opts) not in layouts:
        layouts[(style, opts)] = _positions(graph, trace, style, opts, frames)
    return layouts[(style, opts)]


# --------------------------------------------------------------------------- public
def build(graph: nx.DiGraph, trace: Trace | None, step: int | None, style: str, writer_class: type[Writer],
          **options: Any):
    """The writer of one frame and its nodes and edges (shared by the DOT and TikZ writers)."""
    if style not in STYLES:
        raise GraphlabError(f"unknown style {style!r}: use {', '.join(STYLES)}")
    opts = make_options(**options)
    unknown = [n for n in opts.highlight or () if n not in graph]
    if unknown:
        raise GraphlabError(f"cannot highlight {', '.join(unknown)}: not a node of the graph")
    if trace is not None and trace.graph is not graph:
        raise GraphlabError("the trace was made from another graph")
    fr = frame(graph, trace, step)
    if style == "plain":
        fr = replace(fr, values={}, grads={}, contributions={}, terms={})
    writer = writer_class(fr, style, opts)
    nodes, edges = writer.elements()
    return writer, nodes, edges + writer.extra_edges()


def to_dot(graph: nx.DiGraph, trace: Trace | None = None, step: int | None = None, style: str = "lecture",
           writer_class: type[Writer] = Writer, **options: Any) -> graphviz.Digraph:
    """The diagram of ``graph`` (at ``step`` of ``trace``; ``step=None``: the final frame).

    Options: ``direction`` ("LR" or "TB"), ``precision`` (significant digits), ``symbolic``
    (local gradients as formulas too), ``palette`` ("default", "colorblind", "greyscale"),
    ``font``, ``fontsize``, ``pin`` (False: let Graphviz lay out this frame on its own),
    ``highlight`` (the nodes to mark instead of the step's node: the first wrong step of a
    hand derivation, say; ``()`` marks none). ``writer_class``: a :class:`Writer` that writes other labels
    (a worksheet's blanks); laid out on its own (``pin=False``), as the pinned layout is the plain writer's.
    """
    writer, nodes, edges = build(graph, trace, step, style, writer_class, **options)
    opts = writer.opts
    layout = pinned_layout(graph, trace, style, opts) if opts.pin else None
    return _digraph(writer, nodes, edges, layout)


def frames_dot(trace: Trace, style: str = "lecture", **options: Any) -> list[graphviz.Digraph]:
    """One diagram per step of ``trace``, all with the same node positions: each frame's nodes and edges are
    built once, for the pinned layout (which looks at every frame) and for the frame's own diagram."""
    frames = [build(trace.graph, trace, k, style, Writer, **options) for k in range(len(trace.steps))]
    if not frames:
        return []
    opts = frames[0][0].opts
    layout = None
    if opts.pin:
        extra = len(frames[0][0].extra_edges())
        shared = opts.highlight is None and style != "plain"  # then the layout's frames are these very frames
        built = {k: (nodes, edges[:len(edges) - extra]) for k, (_, nodes, edges) in enumerate(frames)} \
            if shared else None
        layout = pinned_layout(trace.graph, trace, style, opts, built)
    return [_digraph(writer, nodes, edges, layout) for writer, nodes, edges in frames]
