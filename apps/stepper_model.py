"""What the stepper page shows, without the widgets: view and URL state, cached traces, errors in the app's words.

Kept apart from the page so the page reads as layout, and the rules (URL format, the node
limit, how an error names its field) sit in one place; the tables' rows come from
graphlab.present. Everything expensive is cached by the trace's key (expression, values,
mode): stepping never re-traces, it only redraws.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import graphviz
import networkx as nx
import pyarrow as pa
import sympy as sp

from graphlab import formulas, materials
from graphlab.arithmetic import symbol
from graphlab.build import from_text
from graphlab.errors import GraphlabError
from graphlab.explain import Explanation, explain_step
from graphlab.export import render_bytes, to_tikz
from graphlab.fold import GROUP_NAME, Group, auto_groups, check
from graphlab.fold import groups as named_groups
from graphlab.materials import ZIP_FORMATS, frame_name  # noqa: F401 (ZIP_FORMATS: what frames_zip holds)
from graphlab.ops import shape_text
from graphlab.point import is_shape, parse_shapes, parse_value, shapes_of, split_point
from graphlab.present import latex, matrix_rows, node_table, number, step_label  # noqa: F401 (the page reads m.step_label)
from graphlab.render import PALETTES, STYLES, make_options, pinned_layout, to_dot
from graphlab.trace import Trace, trace

# Above this many nodes the diagram is not drawn: it is illegible, and laying it out in the
# browser freezes the page. The table and a message still show.
MAX_DRAW_NODES = 60
MAX_EXPR_CHARS = 60_000  # longer text (from a URL, say) is refused before parsing; ~15,000 nodes at most
# Above MAX_DRAW_NODES the diagram is drawn folded (graphlab.fold: its layers, each expandable); a folded
# drawing still over this many nodes is left out (expand fewer groups).
MAX_FOLDED_NODES = 120
MAX_EXPANDED = 200  # names of expanded groups a link may list
MAX_PICKED = 1_000  # nodes a link's fold_set may list
DEFAULT_SET_NAME = "group"  # what a set the user picks to fold is called unless named

NETWORK = "h1 = σ(w3 x1 + w4 x2); h2 = σ(w5 x1 + w6 x2); y = σ(w1 h1 + w2 h2); E = 1/2 (y - t)^2"
# The lecture's examples, with the values the lecture uses.
EXAMPLES: dict[str, dict[str, str]] = {
    "(x+y)z": {"x": "-2", "y": "5", "z": "-4"},
    "q = x + y; f = q z": {"x": "-2", "y": "5", "z": "-4"},
    "log(x1 x2) sin(x2)": {"x1": "2", "x2": "3"},
    "sigmoid(w0 x0 + w1 x1 + w2)": {"w0": "2", "x0": "-1", "w1": "-3", "x1": "-2", "w2": "-3"},
    "(y - x theta)^2": {"y": "10", "x": "2", "theta": "6"},  # the gradient descent exercise
    # lecture 004's sigmoid network (25 nodes drawn): inputs 0.35 and 0.9, target 0.5
    NETWORK: {"x1": "0.35", "x2": "0.9", "w1": "0.3", "w2": "0.9", "w3": "0.1", "w4": "0.8", "w5": "0.4", "w6": "0.6",
              "t": "0.5"},
    # matrices: seed 002's XOR neurons σ(5x₁ − 5x₂ + 1), σ(−5x₁ + 5x₂ + 1) over the four corners in one batch
    "H = σ(X W + b)": {"X": "[[0,0],[0,1],[1,0],[1,1]]", "W": "[[5,-5],[-5,5]]", "b": "[1,1]"},
    # seed 003's 2-layer net in matrix form, its error (1/2N)(y − ŷ)ᵀ(y − ŷ); the output weights make it XOR
    "Z1 = X W1 + b1; H1 = σ(Z1); Z2 = H1 W2 + b2; yhat = σ(Z2); E = (y - yhat)^T (y - yhat) / (2 N)": {
        "X": "[[0,0],[0,1],[1,0],[1,1]]", "W1": "[[5,-5],[-5,5]]", "b1": "[1,1]", "W2": "[-20,-20]", "b2": "[25]",
        "y": "[0,1,1,0]", "N": "4"},
    # seed 003's 784-200-10 network by shape only (a box takes a shape without values): 159,010 parameters
    "H1 = σ(X W1 + b1); Yhat = H1 W2 + b2; E = softmax_ce(Yhat, Y)": {
        "X": "Nx784", "W1": "784x200", "b1": "200x1", "W2": "200x10", "b2": "10x1", "Y": "Nx10"},
}
DEFAULT_EXPR = "(x+y)z"
DEFAULT_VALUE = "1"
MODES = ("float", "exact")
FORMS = formulas.FORMS
# direction "auto": the one of LR and TB that draws the graph largest in the space the page has
CHOICES = {"mode": MODES, "style": STYLES, "direction": ("auto", "LR", "TB"), "palette": tuple(PALETTES),
           "form": FORMS}

Values = tuple[tuple[str, str], ...]  # (variable, value text), hashable for the caches


@dataclass(frozen=True)
class Key:
    """What a trace depends on; the caches are keyed by it, never by the step."""

    expr: str
    values: Values
    mode: str


class BadValue(GraphlabError):
    """A variable's value text is bad; ``name`` says which input to mark."""

    def __init__(self, name: str, error: GraphlabError):
        self.name = name
        self.error = error
        super().__init__(f"{name}: {error}")


@dataclass(frozen=True)
class Drawing:
    """How the diagram is drawn: ``style`` and :func:`graphlab.render.to_dot`'s options."""

    style: str = "lecture"
    direction: str = "auto"  # or LR, TB; resolved by :func:`laid_out` before drawing
    palette: str = "default"
    precision: int = 4
    symbolic: bool = False
    form: str = "names"  # how the chain rule writes a whole gradient (graphlab.formulas.FORMS)

    def options(self) -> dict[str, Any]:
        direction = "LR" if self.direction == "auto" else self.direction  # auto, screen unknown: LR
        return {"direction": direction, "palette": self.palette, "precision": self.precision,
                "symbolic": self.symbolic}


@dataclass(frozen=True)
class Folding:
    """What the diagram folds and marks: the layers folded (graphlab.fold.auto_groups) but those ``expanded``,
    the nodes ``picked`` (their labels) folded as one group called ``name`` (the CLI's ``--fold NAME=A,B``),
    and every path from the variable ``paths`` to the output ("": none)."""

    folded: bool = False
    expanded: tuple[str, ...] = ()
    paths: str = ""
    picked: tuple[str, ...] = ()
    name: str = DEFAULT_SET_NAME


@dataclass(frozen=True)
class View:
    """Everything the URL holds: enough to show the same step of the same trace."""

    expr: str = DEFAULT_EXPR
    values: dict[str, str] = field(default_factory=lambda: dict(EXAMPLES[DEFAULT_EXPR]))
    mode: str = "float"
    step: int = 1  # 1-based, over all steps (forward then backward)
    drawing: Drawing = Drawing()
    folding: Folding = Folding()


def view_from_query(params: Mapping[str, str]) -> tuple[View, list[str]]:
    """The view a shared link asks for, and what in it was ignored (a bad link never breaks the page)."""
    view, problems = View(), []
    expr = params.get("expr")
    if expr is not None:
        if len(expr) > MAX_EXPR_CHARS:
            problems.append(f"expr is longer than {MAX_EXPR_CHARS:,} characters")
        else:
            view = replace(view, expr=expr, values=dict(EXAMPLES.get(expr.strip(), {})))
    if "at" in params:
        try:
            view = replace(view, values={**view.values, **split_point(params["at"])})
        except GraphlabError as e:
            problems.append(e.phrased("at"))  # the link's name for the values
    chosen: dict[str, Any] = {}
    for key, allowed in CHOICES.items():
        if key in params:
            if params[key] in allowed:
                chosen[key] = params[key]
            else:
                problems.append(f"{key} must be one of {', '.join(allowed)}")
    for key, low, high in (("step", 1, 10**9), ("precision", 1, 17)):
        if key in params:
            try:
                chosen[key] = max(low, min(high, int(params[key])))
            except ValueError:
                problems.append(f"{key} must be a whole number")
    if "symbolic" in params:
        chosen["symbolic"] = params["symbolic"] in ("1", "true")
    top = {k: chosen.pop(k) for k in ("mode", "step") if k in chosen}
    return replace(view, **top, drawing=Drawing(**chosen), folding=folding_from_query(params, problems)), problems


def folding_from_query(params: Mapping[str, str], problems: list[str]) -> Folding:
    """``fold=1``, ``expand=layer1,h1_2``, ``paths=x``, ``fold_set=v1,v2`` and ``fold_name=group``; the names
    are checked against the graph later."""
    expanded = _names(params, "expand", MAX_EXPANDED, "group names", problems)
    paths = params.get("paths", "").strip()
    if len(paths) > 100:
        problems.append("paths must be a variable's name")
        paths = ""
    picked = _names(params, "fold_set", MAX_PICKED, "node names", problems)
    name = params.get("fold_name", DEFAULT_SET_NAME).strip()
    if not GROUP_NAME.fullmatch(name) or len(name) > 40:
        problems.append("fold_name must be a name: a letter, then letters, digits or _ (at most 40)")
        name = DEFAULT_SET_NAME
    return Folding(params.get("fold") == "1", expanded, paths, picked, name)


def _names(params: Mapping[str, str], key: str, most: int, what: str, problems: list[str]) -> tuple[str, ...]:
    """The link's comma-separated names under ``key``, each once; none (and a problem said) if it lists more than
    ``most`` or a name is over 100 characters."""
    names = tuple(dict.fromkeys(n for n in (p.strip() for p in params.get(key, "").split(",")) if n))
    if len(names) > most or any(len(n) > 100 for n in names):
        problems.append(f"{key} lists at most {most:,} {what}")
        return ()
    return names


def view_to_query(view: View, variables: tuple[str, ...]) -> dict[str, str]:
    """URL parameters for ``view``; values only for the variables the expression has."""
    at = ",".join(f"{v}={view.values[v]}" for v in variables if view.values.get(v, "").strip())
    d, f = view.drawing, view.folding
    return {"expr": view.expr, "at": at, "mode": view.mode, "step": str(view.step), "style": d.style,
            "direction": d.direction, "palette": d.palette, "precision": str(d.precision),
            "symbolic": "1" if d.symbolic else "0", "form": d.form,
            **({"fold": "1"} if f.folded else {}), **({"expand": ",".join(f.expanded)} if f.expanded else {}),
            **({"paths": f.paths} if f.paths else {}), **({"fold_set": ",".join(f.picked)} if f.picked else {}),
            **({"fold_name": f.name} if f.picked and f.name != DEFAULT_SET_NAME else {})}


def error_line(error: GraphlabError, labels: Mapping[str, str]) -> str:
    """``error``'s line with its field named by the label of the widget that holds it (``labels``: field ->
    label); the values it wants are typed in the boxes above."""
    name = labels.get(error.field, error.field)
    return error.phrased(f"{name}:" if name else None, "above")


def default_value(expr: str, name: str) -> str:
    return EXAMPLES.get(expr.strip(), {}).get(name, DEFAULT_VALUE)


# --------------------------------------------------------------------------- cached work
# Shared by every session of the server, bounded, and keyed by small hashable values (a Key, a
# Drawing, numbers): functools.lru_cache hashes those in microseconds, where st.cache_resource's
# hashing of the same arguments cost ~1 ms a call, a dozen calls a rerun. Nothing returned is ever
# mutated (a Trace, a Digraph, text), so sessions share the objects themselves.
CACHES: list = []  # every cache below, for clear_caches


def cached(maxsize: int):
    def wrap(function):
        memo = lru_cache(maxsize=maxsize)(function)
        CACHES.append(memo)
        return memo
    return wrap


def clear_caches() -> None:
    for memo in CACHES:
        memo.cache_clear()


@cached(64)
def build(expr: str, shapes: tuple[tuple[str, tuple], ...] = ()) -> nx.DiGraph:
    """The graph of ``expr``, its variables holding matrices of ``shapes``; raises :class:`ParseError` with the
    column of the mistake."""
    if len(expr) > MAX_EXPR_CHARS:
        raise GraphlabError(f"the expression is longer than {MAX_EXPR_CHARS:,} characters")
    return from_text(expr.strip(), shapes=dict(shapes) or None)


def shapes_typed(values: Values) -> tuple[tuple[str, tuple], ...]:
    """The shapes of the matrices typed as values (``[[0,0],[0,1]]``); a value that does not read is left out
    here (the trace names it). A shape typed without values (``784x200``, ``Nx784``) gives the shape alone."""
    point, declared = {}, {}
    for name, text in values:
        if is_shape(text):
            try:
                declared.update(parse_shapes(f"{name}={text.strip()}"))
            except GraphlabError:
                continue
        elif text.strip().startswith("["):
            try:
                point[name] = parse_value(text.strip())
            except GraphlabError:
                continue
    return tuple(sorted(shapes_of(point, declared).items()))


def matrix_table(value: Any, precision: int) -> list[list[str]] | None:
    """A small matrix's entries as rows of text, for a table (None: a number, no value, or too large)."""
    return matrix_rows(value, precision) if getattr(value, "ndim", 0) == 2 else None


def shape_of(graph: nx.DiGraph, node: str) -> str:
    return shape_text(graph.nodes[node].get("shape", ()))


def point_of(values: Values) -> dict[str, Any]:
    """The values typed, exactly; an empty box, or a shape without values (``784x200``), is left out. Raises
    :class:`BadValue` naming the variable."""
    point = {}
    for name, text in values:
        if not text.strip() or is_shape(text):
            continue  # no value: the trace reports it missing
        try:
            point[name] = parse_value(text.strip())
        except GraphlabError as e:
            raise BadValue(name, e) from None
    return point


@cached(64)
def compute(key: Key) -> Trace:
    """The trace for ``key``; raises :class:`BadValue` naming the variable whose value is bad."""
    return trace(build(key.expr, shapes_typed(key.values)), point_of(key.values), mode=key.mode)


@cached(256)
def groups(key: Key, folding: Folding) -> tuple[Group, ...]:
    """The groups ``folding`` draws folded: the layers less those expanded (if folded), and the set picked, which
    takes in the folded groups whose operators it holds; raises :class:`GraphlabError` for a set that cannot fold
    (as ``--fold NAME=A,B`` would), one that a folded group shares nodes with among them."""
    graph = compute(key).graph
    layers = auto_groups(graph, folding.expanded) if folding.folded else ()
    if not folding.picked:
        return layers
    [picked] = named_groups(graph, [f"{folding.name}={','.join(folding.picked)}"])
    inside = [g for g in layers if {n for n in g.members if graph.nodes[n]["kind"] != "var"} <= picked.members]
    return check(graph, [*(g for g in layers if g not in inside), picked])


def drawn_nodes(graph: nx.DiGraph, folded: tuple[Group, ...]) -> int:
    """How many nodes the diagram draws: a folded group is one."""
    return graph.number_of_nodes() - sum(len(g.members) - 1 for g in folded)


@cached(256)
def path_terms(key: Key, variable: str) -> list:
    """Every path from ``variable`` to the output (graphlab.paths); raises GraphlabError over matrices or
    too many paths."""
    from graphlab.paths import paths

    return paths(compute(key), variable)


def marks(key: Key, folding: Folding) -> dict[str, Any]:
    """The drawing options ``folding`` adds: the folded groups and the paths' edges."""
    from graphlab.paths import path_edges

    options: dict[str, Any] = {"fold": groups(key, folding)}
    if folding.paths:
        try:
            options["paths"] = path_edges(path_terms(key, folding.paths))
        except GraphlabError:
            pass  # the page says why beside the paths' control
    return options


@cached(512)
def diagram(key: Key, index: int, drawing: Drawing, folding: Folding = Folding()) -> graphviz.Digraph:
    """The diagram of step ``index``: what ``st.graphviz_chart`` draws and the downloads render."""
    t = compute(key)
    return to_dot(t.graph, t, index, drawing.style, **drawing.options(), **marks(key, folding))


@cached(512)
def diagram_svg(key: Key, index: int, drawing: Drawing, folding: Folding = Folding()) -> str:
    """The diagram of step ``index`` as SVG (what the stepper shows)."""
    return render_bytes(diagram(key, index, drawing, folding), "svg").decode()


@cached(256)
def layout_size(key: Key, drawing: Drawing, folding: Folding = Folding()) -> tuple[float, float]:
    """Width and height, in points, of the pinned layout every frame of ``drawing`` is drawn at."""
    t = compute(key)
    bb = pinned_layout(t.graph, t, drawing.style, make_options(**drawing.options(), fold=groups(key, folding))).bb
    _, _, width, height = (float(v) for v in bb.split(","))
    return width, height


def laid_out(key: Key, drawing: Drawing, area: Mapping[str, Any] | None, folding: Folding = Folding()) -> Drawing:
    """``drawing`` with its direction chosen: "auto" becomes the direction whose layout fills ``area``
    ({"w", "h"}: the pixels the diagram has) at the larger scale; LR while the area is not known."""
    if drawing.direction != "auto":
        return drawing
    try:
        width, height = float(area["w"]), float(area["h"])
    except (KeyError, TypeError, ValueError):
        return replace(drawing, direction="LR")
    if not (width > 0 and height > 0):
        return replace(drawing, direction="LR")

    def scale(direction: str) -> float:
        w, h = layout_size(key, replace(drawing, direction=direction), folding)
        return min(width / w, height / h)

    return replace(drawing, direction=max(("LR", "TB"), key=scale))


@cached(512)
def explanation(key: Key, index: int, precision: int, form: str = "names") -> Explanation:
    return explain_step(compute(key), index, precision, form)


@cached(512)
def node_rows(key: Key, index: int, precision: int) -> pa.Table:
    """The "All nodes" table at step ``index``: a row per node, ▶ at the node visited. An Arrow table of text,
    what ``st.dataframe`` sends: not a pandas Styler (styling the row cost more server time than the rest of a
    step together), nor a pandas frame (Streamlit converts it to Arrow on every step)."""
    table = node_table(compute(key), index, digits=precision, compact=True)
    columns = list(zip(*table.rows)) if table.rows else [()] * len(table.columns)
    return pa.Table.from_arrays([pa.array(c, type=pa.string()) for c in columns], names=list(table.columns))


@cached(256)
def gradient_latex(key: Key, form: str, precision: int) -> tuple[str, ...]:
    """Every variable's gradient in ``form``, as LaTeX lines ∂f/∂x = <formula> = <value>."""
    t = compute(key)
    out = sp.latex(symbol(t.graph.graph["output"]))
    exprs = formulas.gradient_exprs(t.graph) if form == "expanded" else None
    try:
        forms = formulas.gradient_forms(t.graph) if form != "expanded" else None
    except GraphlabError:
        forms = None
    lines = []
    for v, value in t.gradient.items():
        if forms is not None:
            written = formulas.latex(forms.in_deltas[v] if form == "delta" else forms.names[v])
        else:
            written = latex(exprs[v]) if exprs else None
        parts = [rf"\frac{{\partial {out}}}{{\partial {sp.latex(symbol(v))}}}", written,
                 None if value is None else number(value, digits=precision, compact=True)]
        lines.append(" = ".join(p for p in dict.fromkeys(parts) if p))
    if form == "delta" and forms is not None:
        lines[:0] = [f"{sp.latex(formulas.delta_symbol(n))} = {formulas.latex(d)} = "
                     f"{number(t.grads[n], digits=precision, compact=True)}" for n, d in forms.deltas.items()]
    return tuple(lines)


# --------------------------------------------------------------------------- downloads
# name -> (file extension, MIME type); each is made only when its button is clicked
DOWNLOADS = {"DOT": ("dot", "text/vnd.graphviz"), "SVG": ("svg", "image/svg+xml"), "PNG": ("png", "image/png"),
             "PDF": ("pdf", "application/pdf"), "TikZ": ("tex", "application/x-tex")}
# every step in one file, as `graphlab draw -o FILE` writes it: name -> (format, file name, MIME type)
TRACE_DOWNLOADS = {"Stepper (HTML)": ("html", "graphlab-steps.html", "text/html"),
                   "Beamer (TeX)": ("beamer", "graphlab-deck.tex", "application/x-tex"),
                   "GIF": ("gif", "graphlab-steps.gif", "image/gif"),
                   "APNG": ("apng", "graphlab-steps.apng", "image/apng")}


def file_name(key: Key, index: int | None, ext: str) -> str:
    """``graphlab-step-03-backward-v1.svg``; ``graphlab-frames.zip`` for all frames."""
    return frame_name(compute(key), index, ext)


def figure(key: Key, index: int, drawing: Drawing, ext: str, folding: Folding = Folding()) -> bytes:
    """Step ``index`` as a file, folded and marked as shown: DOT source, SVG/PNG/PDF through Graphviz, or TikZ."""
    if ext == "tex":
        t = compute(key)
        return to_tikz(t.graph, t, index, drawing.style, **drawing.options(), **marks(key, folding)).encode()
    return render_bytes(diagram(key, index, drawing, folding), ext)


def frames_zip(key: Key, drawing: Drawing) -> bytes:
    """Every step, each as DOT, SVG, PDF and TikZ, in one ZIP (one folder per format)."""
    return materials.frames_zip(compute(key), drawing.style, **drawing.options())


def whole_trace(key: Key, drawing: Drawing, fmt: str, index: int) -> bytes:
    """Every step in one file (:data:`TRACE_DOWNLOADS`); the HTML stepper opens on step ``index``."""
    return materials.document(compute(key), fmt, start=index, style=drawing.style, form=drawing.form,
                              **drawing.options())


# --------------------------------------------------------------------------- steps
def value_key(name: str) -> str:
    """Session-state key of a variable's value input."""
    return f"value:{name}"


def values_of(state: Mapping[str, Any], variables: tuple[str, ...]) -> Values:
    return tuple((v, str(state.get(value_key(v), ""))) for v in variables)
