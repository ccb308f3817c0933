"""The ``graphlab`` command.

Contract (fixed): ``graphlab grad EXPR [--at NAME=VALUE,...] [--exact] [--json]``;
exit 0 on success, 2 on bad input with a one-line ``error:`` on stderr. Other
subcommands are added below, one function each, registered in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from . import formulas
from .build import from_text
from .cost import cost, parameter_line, parameters
from .descend import descend, read_table
from .errors import GraphlabError
from .forward import ForwardTrace, forward_trace
from .gradcheck import DEFAULT_ATOL, DEFAULT_H, DEFAULT_RTOL, GradCheck, gradcheck
from .nn import ACTIVATIONS, LOSSES
from .ops import shape_text
from .point import fill, parse_point, parse_shapes, shapes_of
from .present import (
    Table,
    assignments,
    check_table,
    cost_table,
    descent_table,
    equation,
    formula,
    node_table,
    report_lines,
    tangent_table,
)
from .present import number as fmt
from .trace import Trace, as_json_number, gradient_exprs, local_formula, trace
from .verify import Report, verify

EXIT_OK, EXIT_WRONG, EXIT_BAD_INPUT, EXIT_INTERNAL = 0, 1, 2, 70

# The options that hold each field a library error can name (graphlab.errors.FIELDS)
OPTIONS = {"values": "--at", "wrt": "--wrt", "steps": "--steps", "batch_size": "--batch-size", "layers": "--layers",
           "claims": "--claim", "learning_rate": "--lr", "data": "--data",
           "h": "--h", "rtol": "--rtol", "atol": "--atol", "fps": "--fps", "pause": "--pause", "range": "--range",
           "decimals": "--decimals", "blanks": "--blank", "students": "--students", "format": "--format"}


class UsageError(GraphlabError):
    pass


class _Parser(argparse.ArgumentParser):
    """argparse, but its errors are one ``error:`` line and exit 2, like every other bad input."""

    def error(self, message: str):  # noqa: D401 - argparse's hook
        raise UsageError(message)


def _protect_expressions(argv: list[str], parser: argparse.ArgumentParser) -> list[str]:
    """Let ``graphlab grad '-x^2'`` work: an argument that starts with '-' but is no option
    is an expression. A leading space keeps argparse from reading it as an option; the
    expression is stripped before parsing, so error columns are unchanged."""
    options = {o for action in parser._actions for o in action.option_strings}
    for sub in parser._subparsers._group_actions[0].choices.values() if parser._subparsers else ():
        options |= {o for action in sub._actions for o in action.option_strings}
    out = []
    for arg in argv:
        if (len(arg) > 1 and arg[0] == "-" and arg[1] != "-" and arg[:2] not in options
                and not arg[1:].replace(".", "", 1).isdigit()):
            arg = " " + arg
        out.append(arg)
    return out


def _at_hint(message: str, argv: list[str]) -> str:
    """``--at x=1 y=2`` leaves ``y=2`` unrecognized: say that values are comma-separated."""
    if not message.startswith("unrecognized arguments:"):
        return ""
    strays = [a for a in message.split(":", 1)[1].split() if re.fullmatch(r"[^\W\d]\w*=\S*", a)]
    if not strays:
        return ""
    given = next((argv[i + 1] for i in range(len(argv) - 1, -1, -1)
                  if argv[i] == "--at" and i + 1 < len(argv) and argv[i + 1] not in strays), None)
    together = ",".join([*([given] if given else []), *strays])
    return f" (values are comma-separated: --at {together}; or repeat --at for each)"


def written(path: str | Path, to_stderr: bool = False) -> None:
    """``wrote FILE``, for every file a command writes; on stderr when stdout carries JSON."""
    print(f"wrote {path}", file=sys.stderr if to_stderr else sys.stdout)


# --------------------------------------------------------------------------- shared pieces
def add_expression_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="expression, e.g. '(x+y)z' or 'q = x + y; f = q z'")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE,...",
                   help="values of the variables, comma-separated, e.g. x=-2,y=5,z=-4 (repeatable; values may be "
                        "1/3 or pi/2)")
    p.add_argument("--exact", action="store_true", help="exact arithmetic (SymPy) instead of float64")
    p.add_argument("--canonical", action="store_true", help="SymPy's canonical n-ary form instead of your grouping")


def add_matrix_args(p: argparse.ArgumentParser, seed: bool = True) -> None:
    p.add_argument("--shape", action="append", default=[], metavar="NAME=RxC,...",
                   help="matrices given by shape only, e.g. X=Nx784,W1=784x200 (a size may be a name); repeatable")
    if seed:
        p.add_argument("--seed", type=int, metavar="N",
                       help="give matrices that have a shape and no value random values (standard normal), seeded by N")


def graph_and_point(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The graph of the expression and the point: matrices (``--at X=[[...]]``, ``--shape``, ``--seed``) decide
    the variables' shapes, and so the ops (X W is a matrix product)."""
    point = parse_point(*args.at, matrices=args.mode == "reverse" if hasattr(args, "mode") else True)
    shapes = shapes_of(point, parse_shapes(*getattr(args, "shape", [])))
    graph = from_text(args.expr.strip(), canonical=args.canonical, shapes=shapes or None)
    if getattr(args, "seed", None) is not None:
        point = fill(shapes, point, args.seed)
    return graph, point


def trace_from_args(args: argparse.Namespace) -> Trace:
    graph, point = graph_and_point(args)
    return trace(graph, point, mode="exact" if args.exact else "float")


def warn_nonfinite(t: Trace) -> None:
    for node, what in t.nonfinite.items():
        data = t.graph.nodes[node]
        op = f" ({data['op']})" if data["kind"] == "op" else ""
        print(f"warning: non-finite {' and '.join(what)} at node {node}{op}", file=sys.stderr)


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- grad
def exact_text(v: Any) -> str | list:
    """An exact value as text for JSON; a matrix as nested lists of texts."""
    return v.astype(str).tolist() if isinstance(v, np.ndarray) else str(v)


def _exact_writer(exact: bool) -> Callable[[str, Any], dict[str, Any]]:
    """``key: number`` for JSON, and in exact mode ``key_exact: text`` beside it."""
    def with_exact(key: str, v: Any) -> dict[str, Any]:
        out = {key: as_json_number(v)}
        if exact and v is not None:
            out[f"{key}_exact"] = exact_text(v)
        return out
    return with_exact


def _nodes_json(t: Any, with_exact: Callable, key: str, per_node: dict[str, Any]) -> list[dict[str, Any]]:
    """Every node's JSON: id, op, label, inputs, value, and ``key`` (its gradient or its tangent); over
    matrices also its ``shape`` ([] a scalar)."""
    matrices = t.graph.graph.get("matrices", False)
    return [{"id": n, "op": d.get("op", d["kind"]), "label": d["label"], "inputs": list(d.get("args", ())),
             **({"shape": list(d.get("shape", ()))} if matrices else {}),
             **with_exact("value", t.values[n]), **with_exact(key, per_node[n])}
            for n, d in t.graph.nodes(data=True)]


def _edge_formula(g, node: str, position: int) -> dict[str, Any]:
    """A backward edge's formula: the local gradient's, or over matrices the VJP in matrix form."""
    if not g.graph.get("matrices"):
        return {"formula": str(local_formula(g, node, position))}
    m = formulas.matrix_edge(g, node, position)
    return {"formula": f"{m.lhs} = {m.step}", "matrix": {"gradient": m.lhs, "vjp": m.step, "written_out": m.rhs,
                                                         "shapes": m.shapes, "why": m.why}}


def trace_to_json(t: Trace) -> dict[str, Any]:
    g = t.graph
    exact = t.mode == "exact"
    num = as_json_number
    with_exact = _exact_writer(exact)
    exprs = gradient_exprs(g)
    forms = _forms(g)
    steps = []
    for s in t.steps:
        if s.phase == "forward":
            steps.append({"phase": "forward", "index": s.index, "number": s.index + 1, "node": s.node,
                          **with_exact("value", s.value)})
            continue
        edges = [{"input": e.input, **_edge_formula(g, s.node, e.position),
                  **with_exact("local", e.local), **with_exact("contribution", e.contribution),
                  **with_exact("accumulated", e.accumulated), "term": e.term, "consumers": e.consumers}
                 for e in s.edges]
        steps.append({"phase": "backward", "index": s.index, "number": s.index + 1, "node": s.node,
                      **with_exact("upstream", s.upstream), "local": edges})
    result = {
        "expression": g.graph["source"],
        "mode": t.mode,
        "output_node": g.graph["output"],
        **with_exact("output", t.output),
        "inputs": {v: num(x) for v, x in t.inputs.items()},
        "gradient": {v: num(x) for v, x in t.gradient.items()},
        "gradient_expr": None if exprs is None else {v: str(e) for v, e in exprs.items()},
        "gradient_names": None if forms is None else {v: formulas.text(f) for v, f in forms.names.items()},
        "deltas": None if forms is None else {n: formulas.text(f) for n, f in forms.deltas.items()},
        "nodes": _nodes_json(t, with_exact, "grad", t.grads),
        "steps": steps,
        "nonfinite": t.nonfinite,
        "missing": list(t.missing),
    }
    if g.graph.get("matrices"):
        result["parameters"] = parameters(g)
    if exact:
        result["gradient_exact"] = {v: exact_text(x) for v, x in t.gradient.items()}
        result["inputs_exact"] = {v: exact_text(x) for v, x in t.inputs.items()}
    return result


def print_table(table: Table) -> None:
    rows = [table.columns, *table.rows]
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())


def missing_sentence(missing: tuple[str, ...]) -> str:
    """``y has no value, so ...``: what a variable without a value means for the table below."""
    names = ", ".join(missing)
    verb, pronoun = ("has no value", "it") if len(missing) == 1 else ("have no values", "them")
    example = ",".join(f"{v}=..." for v in missing)
    return (f"{names} {verb}, so the gradients that depend on {pronoun} stay symbolic; "
            f"give {pronoun} with --at {example}")


def _forms(g) -> formulas.Forms | None:
    try:
        return formulas.gradient_forms(g)
    except GraphlabError:  # too large a graph for formulas: the numbers are still there
        return None


def gradient_lines(t: Trace, form: str = "names") -> list[str]:
    """``∂f/∂x = <formula in the form> = <value>`` per variable; the δ form first defines each δ."""
    g = t.graph
    exact = t.mode == "exact"
    out = g.graph["output"]
    forms = _forms(g) if form != "expanded" else None
    expanded = gradient_exprs(g) or {}

    def value(x: Any, known: bool = True) -> str:
        return fmt(x, exact) if known and x is not None else ""

    def shown(products, v: str) -> str:
        written = formulas.text(products, greek=True)
        if written is not None:
            return written
        return formula(expanded[v]) if v in expanded else ""  # too many paths to write out

    lines = []
    if form == "delta" and forms is not None:
        for n, products in forms.deltas.items():
            lines.append(equation(f"δ_{n} = ∂{out}/∂{n}", formulas.text(products, greek=True), value(t.grads[n])))
    for v, x in t.gradient.items():
        known = v not in t.missing
        if forms is None:
            written = formula(expanded[v]) if v in expanded else ""
        else:
            written = shown(forms.in_deltas[v] if form == "delta" else forms.names[v], v)
        lines.append(equation(f"∂{out}/∂{v}", written, value(x, known)))
    return lines


def print_trace_table(t: Trace, form: str = "names") -> None:
    g = t.graph
    exact = t.mode == "exact"
    out = g.graph["output"]
    if g.graph.get("matrices"):
        return print_matrix_trace(t)
    print_heading(t, exact)
    print()
    print_table(node_table(t, exact=exact).only("node", "op", "inputs", "value", f"∂{out}/∂node"))
    print()
    print(f"{out} = {fmt(t.output, exact)}")
    for line in gradient_lines(t, form):
        print(line)


def print_matrix_trace(t: Trace) -> None:
    """A trace over matrices: each node's shape and value, then each backward step in the lecture's matrix
    form, with the factors' shapes and why they stand where they do."""
    g = t.graph
    out = g.graph["output"]
    shapes = {v: shape_text(g.nodes[v].get("shape", ())) for v in g.graph["variables"]}
    print(g.graph["source"].strip() + "   with " + ", ".join(f"{v} {s}" for v, s in shapes.items()))
    if t.missing:
        print(f"{', '.join(t.missing)} {'has no value' if len(t.missing) == 1 else 'have no values'}: "
              "shapes and formulas only (give values with --at NAME=[[...]] or --seed N)")
    print(parameter_line(g))
    print()
    print_table(node_table(t).only("node", "op", "inputs", "shape", "value", f"∂{out}/∂node"))
    print()
    print("backward, in matrix form:")
    for s in t.backward_steps:
        if not s.edges:
            continue
        up = f" = {fmt(s.upstream)}" if s.upstream is not None else ""
        if s.node == out and g.nodes[out].get("shape"):
            up += " in every entry (the gradients of the sum of the entries)"
        shape = shape_text(g.nodes[s.node].get("shape", ()))
        print(f"[{s.index + 1}] at {s.node} ({g.nodes[s.node]['op']}): upstream "
              f"{formulas.gradient_name(g, s.node) if s.node != out else '1'} [{shape}]{up}")
        for e in s.edges:
            m = formulas.matrix_edge(g, s.node, e.position)
            print(f"    {formulas.gradient_name(g, e.input)} {'+=' if e.term > 1 else '='} {m.step}"
                  + (f" = {m.rhs}" if m.rhs != m.step else ""))
            print(f"        shapes: {m.shapes}; why: {m.why}")
            if e.contribution is not None:
                print(f"        contribution = {fmt(e.contribution)}")
    print()
    exact = t.mode == "exact"  # the results exactly, entry by entry: [[1/(1 + exp(-1)) ≈ 0.731059, ...]]
    print(f"{out} [{shape_text(g.nodes[out].get('shape', ()))}] = {fmt(t.output, exact)}")
    for v, x in t.gradient.items():
        print(f"∂{out}/∂{v} [{shapes[v]}] = {fmt(x, exact)}")


def path_lines(t: Trace, variable: str) -> list[str]:
    """``x → q → f: ∂f/∂q · ∂q/∂x = (z)(1) = (-4)(1) = -4`` per path, then their sum, the gradient."""
    from .paths import paths

    g = t.graph
    out = g.graph["output"]
    exact = t.mode == "exact"
    found = paths(t, variable)
    lines = [f"{len(found)} path{'s' * (len(found) != 1)} from {variable} to {out}; "
             f"the sum over paths is ∂{out}/∂{variable}:"]
    for p in found:
        chain = " · ".join(f"∂{node}/∂{g.nodes[node]['args'][i]}" for node, i in p.edges) or "1"
        written = " · ".join(f"({f})" for f in p.formulas)
        numbers = " · ".join(f"({fmt(x, exact)})" for x in p.locals)
        lines.append(f"  {' → '.join(p.nodes)}: {equation(chain, written, numbers, fmt(p.product, exact))}")
    total = " + ".join(f"({fmt(p.product, exact)})" for p in found)
    lines.append(f"  sum: {equation(total, fmt(t.gradient[variable], exact))} = ∂{out}/∂{variable}")
    return lines


def add_form_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument("--form", choices=formulas.FORMS, default="names",
                   help="how gradients are written: names (default: the lecture's products of local factors "
                        "over your named intermediates), expanded (in the variables only), delta (δ per named node)")


def cmd_grad(args: argparse.Namespace) -> int:
    t = traced(args)
    warn_nonfinite(t)
    if isinstance(t, ForwardTrace):
        if args.form == "delta":
            raise UsageError("--form delta writes reverse mode's δ of each named node; in forward mode use "
                             "--form names or --form expanded")
        if args.json:
            emit_json({**forward_to_json(t), "cost": cost(t.graph).to_json()})
        else:
            print_forward_table(t, args.form)
            print_cost(t.graph)
        return EXIT_OK
    matrices = t.graph.graph.get("matrices", False)
    if args.json:
        extra = {} if matrices else {"cost": cost(t.graph).to_json()}
        if args.paths:
            extra["paths"] = paths_json(t, args.paths)
        emit_json({**trace_to_json(t), **extra})
    else:
        print_trace_table(t, args.form)
        if args.paths:
            print()
            print("\n".join(path_lines(t, args.paths)))
        if not matrices:
            print_cost(t.graph)
    return EXIT_OK


def paths_json(t: Trace, variable: str) -> list[dict[str, Any]]:
    from .paths import paths

    return [{"nodes": list(p.nodes), "factors": [{"node": n, "input": t.graph.nodes[n]["args"][i], "formula": f,
                                                  "local": as_json_number(x)}
                                                 for (n, i), f, x in zip(p.edges, p.formulas, p.locals)],
             "product": as_json_number(p.product)} for p in paths(t, variable)]


def add_grad(sub) -> None:
    p = sub.add_parser("grad", help="values and gradients of every node, step by step")
    add_expression_args(p)
    add_matrix_args(p)
    add_form_arg(p)
    add_mode_args(p)
    p.add_argument("--paths", metavar="NAME", help="every path from NAME to the output, each path's product of "
                                                   "local gradients, and their sum: the gradient")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_grad)


# --------------------------------------------------------------------------- forward mode, cost
def add_mode_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--mode", choices=("reverse", "forward"), default="reverse",
                   help="reverse: one backward pass gives every gradient (default); forward: each node carries its "
                        "tangent ∂node/∂NAME of the one input --wrt NAME")
    p.add_argument("--wrt", metavar="NAME", help="with --mode forward: the input to differentiate with respect to")


def traced(args: argparse.Namespace) -> Trace:
    """The trace the options ask for: reverse mode, or forward mode with respect to ``--wrt``."""
    if args.mode == "reverse":
        if args.wrt is not None:
            raise UsageError("--wrt is for --mode forward (one reverse pass gives every gradient)")
        return trace_from_args(args)
    if not args.wrt or not args.wrt.strip():
        raise UsageError("--mode forward needs --wrt NAME, the input whose tangent every node carries")
    graph = from_text(args.expr.strip(), canonical=args.canonical)
    return forward_trace(graph, parse_point(*args.at), args.wrt.strip(), mode="exact" if args.exact else "float")


def forward_to_json(t: ForwardTrace) -> dict[str, Any]:
    g = t.graph
    exact = t.mode == "exact"
    with_exact = _exact_writer(exact)
    steps = []
    for s in t.steps:
        terms = [{"input": e.input, "formula": str(local_formula(g, s.node, e.position)),
                  **with_exact("local", e.local), **with_exact("tangent", e.tangent),
                  **with_exact("product", e.product)} for e in s.terms]
        steps.append({"phase": "forward", "index": s.index, "number": s.index + 1, "node": s.node,
                      **with_exact("value", s.value), **with_exact("tangent", s.tangent), "terms": terms})
    out = g.graph["output"]
    result = {
        "expression": g.graph["source"],
        "mode": t.mode,
        "differentiation": "forward",
        "wrt": t.wrt,
        "output_node": out,
        **with_exact("output", t.output),
        "inputs": {v: as_json_number(x) for v, x in t.inputs.items()},
        "gradient": {t.wrt: as_json_number(t.tangents[out])},
        "tangents": {n: as_json_number(x) for n, x in t.tangents.items()},
        "nodes": _nodes_json(t, with_exact, "tangent", t.tangents),
        "steps": steps,
        "nonfinite": t.nonfinite,
        "missing": list(t.missing),
    }
    if g.graph.get("matrices"):
        result["parameters"] = parameters(g)
    if exact:
        result["tangents_exact"] = {n: str(x) for n, x in t.tangents.items()}
    return result


def print_heading(t, exact: bool) -> None:
    """The expression at the values given (a reverse or a forward trace), and which values are missing."""
    point = assignments({v: x for v, x in t.inputs.items() if v not in t.missing}, exact)
    print(f"{t.graph.graph['source'].strip()}" + (f"   at {point}" if point else ""))
    if t.missing:
        print(missing_sentence(t.missing))


def print_forward_table(t: ForwardTrace, form: str = "names") -> None:
    g = t.graph
    exact = t.mode == "exact"
    out, x = g.graph["output"], t.wrt
    print_heading(t, exact)
    print(f"forward mode: each node carries its tangent ∂node/∂{x}, from ∂{x}/∂{x} = 1 (the other inputs 0)")
    print()
    print_table(tangent_table(t, exact=exact).only("node", "op", "inputs", "value", f"∂node/∂{x}"))
    print()
    print(f"{out} = {fmt(t.output, exact)}")
    for line in gradient_lines(t, form):
        print(line)


def print_cost(graph) -> None:
    c = cost(graph)
    n = len(c.inputs)
    print()
    print(f"multiplications for all {n} gradient{'s' if n != 1 else ''} (a product of k local gradients costs k - 1):")
    rows = cost_table(c).rows
    width = max(len(label) for label, _ in rows)
    for label, count in rows:
        print(f"  {label.ljust(width)}  {count}")


# --------------------------------------------------------------------------- draw, explain
def _drawing_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"direction": args.direction, "precision": args.precision, "symbolic": args.symbolic,
            "palette": args.palette, "font": args.font}


def cmd_draw(args: argparse.Namespace) -> int:
    from .export import save, save_frames  # Graphviz loads only for drawing
    from .materials import is_trace_file, save_document

    if not args.output and not args.frames:
        raise UsageError("give -o FILE or --frames DIR")
    whole = bool(args.output) and is_trace_file(args.output, args.beamer)  # every step in one file
    if args.beamer and not whole:
        raise UsageError("--beamer writes a .tex deck: give -o deck.tex")
    graph, point = graph_and_point(args)
    t = trace(graph, point, mode="exact" if args.exact else "float") \
        if point or args.frames or args.step is not None or whole else None
    if args.mode == "forward" or args.wrt is not None:  # forward mode: the tangents on the edges
        t = traced(args)
        graph = t.graph
    if t is not None:
        warn_nonfinite(t)
    index = None
    if args.step is not None:  # people count steps from 1, as the app, its URL and the frame files do
        if not 1 <= args.step <= len(t.steps):
            raise UsageError(f"--step {args.step} is out of range: this trace has steps 1 to {len(t.steps)}")
        index = args.step - 1
    options = _drawing_options(args)
    if args.paths:
        if t is None:
            raise UsageError("--paths needs values (--at) to trace")
        from .paths import path_edges
        from .paths import paths as path_terms

        terms = path_terms(t, args.paths)
        options["highlight"] = tuple(dict.fromkeys(n for p in terms for n in p.nodes))
        options["paths"] = path_edges(terms)
    if args.fold:
        from .fold import groups

        options["fold"] = groups(graph, args.fold)
    if args.frames:
        paths = save_frames(args.frames, t, args.format, args.style, args.dpi, args.bare, **options)
        print(f"wrote {len(paths) + 1} files to {args.frames}")  # the frames and index.md
    if whole:
        for path in save_document(args.output, t, beamer=args.beamer, start=index, style=args.style, form=args.form,
                                  dpi=args.dpi, fps=args.fps, pause=args.pause, **options):
            written(path)
    elif args.output:
        written(save(args.output, graph, t, index, args.style, dpi=args.dpi, bare=args.bare, **options))
    return EXIT_OK


def add_draw(sub) -> None:
    from .export import FORMATS
    from .render import PALETTES, STYLES

    p = sub.add_parser("draw", help="draw the graph (at a step of the trace) to .svg .png .pdf .dot or .tex; "
                                    "every step to .html (a stepper), .gif, .apng, .zip, or .tex --beamer")
    add_expression_args(p)
    add_matrix_args(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--step", type=int, metavar="K",
                      help="the frame of step K, counted from 1 (forward steps, then backward), as in the app")
    when.add_argument("--final", action="store_true", help="every value and gradient (the default)")
    p.add_argument("-o", "--output", metavar="FILE",
                   help="output file; the format comes from the suffix. One step: .svg .png .pdf .dot .tex; every "
                        "step: .html (the stepper, offline), .gif and .apng (animations), .zip (every frame as DOT, "
                        "SVG, PDF, TikZ), .tex with --beamer (a Beamer deck)")
    p.add_argument("--frames", metavar="DIR", help="one file per step in DIR, and DIR/index.md")
    p.add_argument("--format", choices=[f for f in FORMATS if f != "gv"], default="svg",
                   help="file format of --frames (default svg)")
    p.add_argument("--style", choices=STYLES, default="lecture",
                   help="lecture: values and gradients on the edges (default); record: a label | data | grad box "
                        "per node, as micrograd draws; plain: the structure only")
    p.add_argument("--direction", choices=("LR", "TB"), default="LR",
                   help="LR: inputs on the left (default); TB: inputs at the top")
    p.add_argument("--precision", type=int, default=4, help="significant digits (default 4)")
    p.add_argument("--symbolic", action="store_true", help="also write local gradients as formulas")
    p.add_argument("--palette", choices=tuple(PALETTES), default="default",
                   help="colours of values and gradients (colorblind: safe for colour blindness)")
    p.add_argument("--font", default="Helvetica", help="font of the labels (default Helvetica)")
    p.add_argument("--dpi", type=float, help="resolution of .png files (default 96)")
    p.add_argument("--bare", action="store_true", help=".tex: the tikzpicture only, not a standalone document")
    p.add_argument("--paths", metavar="NAME", help="highlight every node and edge on a path from NAME to the output")
    p.add_argument("--fold", metavar="GROUP", action="append",
                   help="draw GROUP as one node (repeatable): a statement's name (h1), layerK, layers (every layer), "
                        "statements (every statement), or NAME=A,B,C (statements or nodes A, B, C as NAME)")
    p.add_argument("--beamer", action="store_true",
                   help=".tex: a Beamer deck, one overlay per step, and NAME-frame.tex, its frame alone to \\input")
    p.add_argument("--fps", type=float, default=1.0, help=".gif, .apng: steps a second (default 1)")
    p.add_argument("--pause", type=float, default=3.0, help=".gif, .apng: seconds more on the last step (default 3)")
    add_form_arg(p)
    add_mode_args(p)
    p.set_defaults(run=cmd_draw)


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain

    t = traced(args)
    warn_nonfinite(t)
    explained = explain(t, args.precision, args.form)
    width = len(str(len(explained)))
    for e in explained:
        if args.format == "text":
            prefix = f"[{e.step + 1:>{width}}] {e.phase:8} {e.node}: "  # steps counted from 1, as --step counts
            print(prefix + e.text.replace("\n", "\n" + " " * len(prefix)))
        elif args.format == "markdown":
            print(e.markdown, end="\n\n" if e is not explained[-1] else "\n")  # a blank line: one paragraph each
        else:
            print(e.latex + r" \\")
    return EXIT_OK


def add_explain(sub) -> None:
    p = sub.add_parser("explain", help="the chain rule at every step, in words")
    add_expression_args(p)
    add_matrix_args(p)
    p.add_argument("--format", choices=("text", "markdown", "latex"), default="text",
                   help="text (default); markdown: one paragraph per step, math in $...$; latex: one \\\\ line "
                        "per sentence")
    p.add_argument("--precision", type=int, default=4, help="significant digits (default 4)")
    add_form_arg(p)
    add_mode_args(p)
    p.set_defaults(run=cmd_explain)


# --------------------------------------------------------------------------- verify
def print_report(report: Report, exact: bool) -> None:
    point = assignments(report.at, exact)
    print(report.expression + (f"   at {point}" if point else ""))
    for c, lines in zip(report.claims, report_lines(report, exact), strict=True):
        print(f"\n{lines.mark} {lines.claim}   {lines.verdict}")
        if not c.ok or c.verdict != "right":  # a plain right answer needs no correction
            print(f"  {lines.derivative}")
        for line in (lines.counterexample, lines.diagnosis):
            if line:
                print(f"  {line}")
    print()
    if report.first_wrong is None:
        print(f"all {len(report.claims)} right")
    else:
        first = report.claims[report.first_wrong]
        wrong = sum(not c.ok for c in report.claims)
        print(f"{wrong} of {len(report.claims)} wrong; the first wrong step (backward order): {first.claim} "
              f"at node {first.node}")


def cmd_verify(args: argparse.Namespace) -> int:
    point = parse_point(*args.at, matrices=True)  # --seed here seeds the sample points: nothing is filled in
    shapes = shapes_of(point, parse_shapes(*args.shape))
    graph = from_text(args.expr.strip(), canonical=args.canonical, shapes=shapes or None)
    report = verify(graph, args.claim, point, seed=args.seed)
    if args.json:
        emit_json(report.to_json())
    else:
        print_report(report, args.exact)
    return EXIT_OK if report.ok else EXIT_WRONG


def add_verify(sub) -> None:
    p = sub.add_parser("verify", help="check hand-derived derivatives; find the first wrong step")
    add_expression_args(p)
    p.add_argument("--claim", action="append", required=True, metavar="CLAIM",
                   help="'df/dx = z', 'dq/dx = 1', 'x = -4' (d output/dx), or a number at --at; over matrices "
                        "'dE/dW2 = H1^T (yhat - y)'; repeatable")
    add_matrix_args(p, seed=False)
    p.add_argument("--seed", type=int, default=0, help="seed of the random sample points for formula claims "
                                                       "(over matrices: random values of the right shapes)")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_verify)


# --------------------------------------------------------------------------- gradcheck
def print_gradcheck(r: GradCheck) -> None:
    point = assignments(r.at)
    print(r.expression + (f"   at {point}" if point else ""))
    print(f"h = {r.h:g}; a check passes when the relative error is at most {r.rtol:g} "
          f"(or the difference at most {r.atol:g})")
    print()
    print_table(check_table(r))
    for c in r.checks:
        if c.note:
            print(f"note: {c.note}")
    print()
    failed = sum(not c.ok for c in r.checks)
    print(f"all {len(r.checks)} checks pass" if not failed else f"{failed} of {len(r.checks)} checks fail")


def cmd_gradcheck(args: argparse.Namespace) -> int:
    graph = from_text(args.expr.strip(), canonical=args.canonical)
    r = gradcheck(graph, parse_point(*args.at), h=args.h, rtol=args.rtol, atol=args.atol)
    if args.json:
        emit_json(r.to_json())
    else:
        print_gradcheck(r)
    return EXIT_OK if r.ok else EXIT_WRONG


def add_gradcheck(sub) -> None:
    p = sub.add_parser("gradcheck", help="backprop's gradient against the central difference (g(w+h) - g(w-h))/2h")
    p.add_argument("expr", help="expression, e.g. 'log(x1 x2) sin(x2)'")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE,...",
                   help="a value for every variable, comma-separated (repeatable)")
    p.add_argument("--h", type=float, default=DEFAULT_H, help=f"the step h (default {DEFAULT_H:g})")
    p.add_argument("--rtol", type=float, default=DEFAULT_RTOL,
                   help=f"largest relative error that passes (default {DEFAULT_RTOL:g})")
    p.add_argument("--atol", type=float, default=DEFAULT_ATOL,
                   help=f"... or largest absolute difference, for gradients near 0 (default {DEFAULT_ATOL:g})")
    p.add_argument("--canonical", action="store_true", help="SymPy's canonical n-ary form instead of your grouping")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_gradcheck)


# --------------------------------------------------------------------------- worksheet
def cmd_worksheet(args: argparse.Namespace) -> int:
    from .exercise import parse_range
    from .worksheet import write_worksheets  # Graphviz and pypdf load only for worksheets

    graph = from_text(args.expr.strip(), canonical=args.canonical)
    fixed = parse_point(*args.at)
    unknown = sorted(set(fixed) - set(graph.graph["variables"]))
    if unknown:
        raise UsageError(f"--at {', '.join(unknown)}: not a variable of the expression "
                         f"(variables: {', '.join(graph.graph['variables']) or 'none'})")
    done = write_worksheets(args.output, graph, args.blank, args.students, args.seed, fixed,
                            parse_range(args.range, args.decimals), args.format, args.single_pdf, args.precision)
    count = len(done.manifest["students"])
    extra = ", worksheets.pdf" if args.single_pdf else ""
    print(f"wrote {len(done.files)} files to {done.directory}: {count} worksheet{'s' * (count > 1)} with "
          f"{'their keys' if count > 1 else 'its key'}, manifest.json{extra}")
    return EXIT_OK


def add_worksheet(sub) -> None:
    from .exercise import BLANKS
    from .worksheet import FORMATS as SHEET_FORMATS
    from .worksheet import MAX_STUDENTS

    p = sub.add_parser("worksheet", help="worksheets to fill in by hand, one per student, with answer keys")
    p.add_argument("expr", help="expression, e.g. '(x+y)z' or 'q = x + y; f = q z'")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE,...",
                   help="values every worksheet keeps (the others are drawn per student)")
    p.add_argument("--blank", choices=BLANKS, default="both",
                   help="what the boxes ask for: values (forward), gradients (local and upstream), both (default)")
    p.add_argument("--students", type=int, metavar="N",
                   help=f"one worksheet per student, each with its own values (1 to {MAX_STUDENTS})")
    p.add_argument("--seed", type=int, default=0, help="the same seed draws the same values (default 0)")
    p.add_argument("--range", default="", metavar="LOW:HIGH",
                   help="draw values from LOW to HIGH (default: integers -5:5, else one decimal -2:2; 0 never)")
    p.add_argument("--decimals", type=int, choices=(0, 1, 2), help="decimals of the values drawn (default 0, else 1)")
    p.add_argument("--format", choices=SHEET_FORMATS, default="pdf", help="pdf (default), svg, or tikz (.tex)")
    p.add_argument("--single-pdf", action="store_true",
                   help="also worksheets.pdf: every student's worksheet, then every key")
    p.add_argument("--precision", type=int, default=4, help="significant digits of the answers (default 4)")
    p.add_argument("--canonical", action="store_true", help="SymPy's canonical n-ary form instead of your grouping")
    p.add_argument("-o", "--output", metavar="DIR", required=True, help="the directory to write to")
    p.set_defaults(run=cmd_worksheet)


# --------------------------------------------------------------------------- descend
def cmd_descend(args: argparse.Namespace) -> int:
    if args.batch_size is not None and args.data is None:
        raise UsageError("--batch-size needs --data FILE.csv")
    mode = "exact" if args.exact else "float"
    run = descend(from_text(args.expr.strip(), canonical=args.canonical), args.wrt.split(","), parse_point(*args.at),
                  args.lr, args.steps, mode=mode, data=read_table(args.data) if args.data else None,
                  batch_size=args.batch_size, seed=args.seed)
    if args.json:
        emit_json(run.to_json())
        return EXIT_OK
    fixed = assignments(run.fixed, args.exact)
    print(f"{run.expression}   η = {fmt(run.lr, args.exact)}" + (f", {fixed}" if fixed else "")
          + (f", batches of {run.batch_size} rows (seed {args.seed})" if run.batch_size else ""))
    print()
    print_table(descent_table(run, args.exact))
    return EXIT_OK


def add_descend(sub) -> None:
    p = sub.add_parser("descend", help="gradient descent by hand: a table of every update")
    add_expression_args(p)
    p.add_argument("--wrt", required=True, metavar="NAME[,NAME...]", help="the parameters to descend on")
    p.add_argument("--lr", required=True, metavar="ETA", help="learning rate η, e.g. 0.01 or 1/100")
    p.add_argument("--steps", type=int, default=3, help="number of updates (default 3)")
    p.add_argument("--data", metavar="FILE.csv", help="mini-batch SGD over this table (columns = variables)")
    p.add_argument("--batch-size", type=int, metavar="B", help="rows per mini-batch (default: all)")
    p.add_argument("--seed", type=int, default=0, help="seed for drawing the mini-batches")
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_descend)


# --------------------------------------------------------------------------- compile
def cmd_compile(args: argparse.Namespace) -> int:
    from .compile import compile_graph

    graph = from_text(args.expr.strip(), canonical=args.canonical)
    wrt = None if args.wrt is None else [w.strip() for w in args.wrt.split(",") if w.strip()]
    print(compile_graph(graph, wrt=wrt).source, end="")
    return EXIT_OK


def add_compile(sub) -> None:
    p = sub.add_parser("compile", help="print the vectorized NumPy/CuPy code of an expression and its gradients")
    p.add_argument("expr", help="expression, e.g. '(x+y)z'")
    p.add_argument("--wrt", metavar="NAME,...", help="gradients with respect to these variables only (default: all)")
    p.add_argument("--canonical", action="store_true", help="SymPy's canonical n-ary form instead of your grouping")
    p.set_defaults(run=cmd_compile)


# --------------------------------------------------------------------------- train
RESIDUAL_HELP = ("hidden layers that end a residual block Res(z) = z + σ(MM(σ(MM(z)))), e.g. 2,4: layer l's "
                 "output adds layer l-1's input (widths must match)")


def parse_residual(text: str | None) -> list[int]:
    from .nn import parse_layers

    return parse_layers(text) if text and text.strip() else []


ACTIVATION_HELP = ("activation of the hidden layers: relu (default), tanh, sigmoid, linear (the identity), or sign "
                   "(the perceptron's step; no gradient, so train refuses it with hidden layers)")
TRAIN_ACTIVATION_HELP = ACTIVATION_HELP.removesuffix(")") + ("; with --layers '' it trains one sign unit by the "
                                                             "perceptron rule w += eta (y - y_hat) x, eta = --lr)")
LOSS_HELP = "ce: softmax cross-entropy (default); bce: binary cross-entropy, one output; mse: mean squared error"


def cmd_train(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from .data import load
    from .nn import parse_layers
    from .perceptron import is_perceptron
    from .train import train

    csv = args.dataset.lower().endswith(".csv") or Path(args.dataset).is_file()
    if args.regression and not csv:
        raise GraphlabError("only a CSV file's label column is read as numbers by --regression; plane, bumps and "
                            "function are regression sets already")
    data = load(args.dataset, noise=args.noise, test_fraction=args.test_fraction, seed=args.seed, label=args.label,
                regression=args.regression, expr=args.function)
    layers = parse_layers(args.layers) if args.layers.strip() else []
    loss = args.loss or ("mse" if data.regression else "ce")
    perceptron = is_perceptron(layers, args.activation)
    metric = "R²" if data.regression else "accuracy"
    bar = tqdm(total=args.epochs, desc=f"train {data.name}", unit="epoch", file=sys.stderr, disable=None,
               leave=False)

    def on_epoch(e) -> None:
        bar.update(1)
        bar.set_postfix(loss=f"{e.train_loss:.4g}", **{"r2" if data.regression else "acc": f"{e.train_accuracy:.3f}"})
        if args.json:
            print(json.dumps({"epoch": e.epoch, "train_loss": e.train_loss, "train_accuracy": e.train_accuracy,
                              "test_accuracy": None if e.test_accuracy != e.test_accuracy else e.test_accuracy}))

    try:
        result = train(data, layers, activation=args.activation, loss=loss, optimizer=args.optimizer, lr=args.lr,
                       epochs=args.epochs, batch_size=args.batch_size, l2=args.l2, seed=args.seed, device=args.device,
                       dtype=args.dtype, on_epoch=on_epoch, residual=parse_residual(args.residual))
    finally:
        bar.close()
    saved = result.model.save(args.save) if args.save else None
    summary = result.as_json()
    if args.json:
        print(json.dumps(summary))
        if saved:
            written(saved, to_stderr=True)  # stdout stays JSON lines, the summary last
        return EXIT_OK
    g = result.model.graph.graph
    how = (f"perceptron rule eta={args.lr:g}, 0/1 loss" if perceptron else
           f"{args.activation}, {loss}, {args.optimizer} lr={args.lr:g}")
    print(f"{data.name}: {len(data.y_train)} train / {len(data.y_test)} test, MLP {'-'.join(map(str, g['sizes']))} "
          f"{how}, {args.device} {args.dtype}")
    print(f"epochs {summary['epochs']}  train loss {summary['train_loss']:.4g}  "
          f"train {metric} {summary['train_accuracy']:.4f}  test {metric} "
          + ("n/a" if summary["test_accuracy"] is None else f"{summary['test_accuracy']:.4f}")
          + f"  ({summary['seconds']:.2f} s)")
    if perceptron:
        first = next((e.epoch for e in result.history if e.train_loss == 0), None)
        print(f"the rule made no mistake in epoch {first}: converged (the data are linearly separable)" if first
              else "the rule still made mistakes in the last epoch: not converged (are the classes linearly "
                   "separable?)")
    if saved:
        written(saved)
    return EXIT_OK


def add_train(sub) -> None:
    p = sub.add_parser("train", help="train an MLP (compiled graph) on a dataset")
    p.add_argument("--dataset", required=True, metavar="NAME|FILE.csv",
                   help="circle, xor, gauss, spiral, moons, digits; the regression sets plane, bumps, function "
                        "(points of --function); or a CSV file (features..., label)")
    p.add_argument("--function", default="sin(x)", metavar="EXPR",
                   help="--dataset function: f(x) to fit, in graphlab's input language (default sin(x))")
    p.add_argument("--regression", action="store_true",
                   help="a CSV file's label column is a number to fit (mse loss, R² reported), not a class")
    p.add_argument("--layers", default="16,16", help="hidden layer sizes, e.g. 16,16 (empty: none)")
    p.add_argument("--activation", default="relu", choices=ACTIVATIONS,
                   help=TRAIN_ACTIVATION_HELP)
    p.add_argument("--loss", choices=list(LOSSES),
                   help=LOSS_HELP.replace("(default)", "(default; mse for a regression set)"))
    p.add_argument("--residual", metavar="L,...", help=RESIDUAL_HELP)
    p.add_argument("--optimizer", default="adam", choices=["sgd", "momentum", "adam"],
                   help="sgd, momentum (0.9) or adam (default)")
    p.add_argument("--lr", type=float, default=0.01, help="learning rate (default 0.01)")
    p.add_argument("--epochs", type=int, default=100, help="passes over the training set (default 100)")
    p.add_argument("--batch-size", type=int, default=32, help="examples per mini-batch (default 32)")
    p.add_argument("--l2", type=float, default=0.0, help="L2 penalty coefficient on the weights (default 0)")
    p.add_argument("--seed", type=int, default=0,
                   help="seed of the data, the split, the initial weights and the batches (default 0)")
    p.add_argument("--device", default="cpu", choices=["cpu", "gpu"],
                   help="cpu: NumPy (default); gpu: CuPy (pip install 'graphlab[gpu]')")
    p.add_argument("--dtype", default="float32", choices=["float32", "float64"],
                   help="floating-point type of the weights and data (default float32)")
    p.add_argument("--noise", type=float, help="dataset noise (Playground sets: 0..0.5, default 0; moons 0.1)")
    p.add_argument("--test-fraction", type=float, default=0.2, help="held-out share of the data (default 0.2)")
    p.add_argument("--label", default="-1", help="CSV label column: name or index (default: the last)")
    p.add_argument("--save", metavar="W.npz", help="save the trained weights (and the standardization) to W.npz")
    p.add_argument("--json", action="store_true",
                   help="one JSON line per epoch, then {train_loss, train_accuracy, test_accuracy, epochs, seconds}")
    p.set_defaults(run=cmd_train)


# --------------------------------------------------------------------------- mlp
def cmd_mlp(args: argparse.Namespace) -> int:
    from .nn import describe, layer_dot, mlp, parse_layers, summary

    graph = mlp(parse_layers(args.layers), activation=args.activation, loss=args.loss,
                residual=parse_residual(args.residual))
    if args.output:
        from .graphviz_lib import pygraphviz

        fmt_ = args.output.rsplit(".", 1)[-1].lower() if "." in args.output else "svg"
        try:
            pygraphviz().AGraph(string=layer_dot(graph)).draw(args.output, format=fmt_, prog="dot")
        except (OSError, ValueError) as e:
            raise GraphlabError(f"cannot write {args.output}: {e}") from None
        written(args.output, to_stderr=args.json)
    if args.json:
        emit_json(describe(graph))
    elif args.summary or not args.output:
        print(summary(graph))
    return EXIT_OK


def add_mlp(sub) -> None:
    p = sub.add_parser("mlp", help="an MLP as a graph: parameter counts, layer diagram")
    p.add_argument("--layers", required=True, help="all layer sizes, input to output, e.g. 784,200,10")
    p.add_argument("--activation", default="relu", choices=ACTIVATIONS,
                   help=ACTIVATION_HELP)
    p.add_argument("--loss", default="ce", choices=list(LOSSES), help=LOSS_HELP)
    p.add_argument("--residual", metavar="L,...", help=RESIDUAL_HELP)
    p.add_argument("--summary", action="store_true", help="print the layer table (the default without -o)")
    p.add_argument("--json", action="store_true", help='{"parameters", "layers": [...]} on stdout')
    p.add_argument("-o", "--output", metavar="diagram.svg", help="draw the layer-level diagram (svg, png, pdf)")
    p.set_defaults(run=cmd_mlp)


# --------------------------------------------------------------------------- app
APP_SCRIPT = Path(__file__).resolve().parent.parent / "apps" / "graphlab_app.py"


MAX_PROCESSES = 64

# The server's configuration: `graphlab app` and `make app` both pass it; options after `--` override it.
SERVER_SETTINGS = {
    "browser.gatherUsageStats": "false",  # no usage statistics
    "client.toolbarMode": "viewer",  # no "Deploy" button, no developer menu
    "server.showEmailPrompt": "false",  # a first run on a desktop must not wait for an email
    "server.maxUploadSize": "10",  # MB; CSV tables are read within graphlab.table's limits as well
    "server.maxMessageSize": "50",  # MB; the largest page (every frame's SVG) is far below it
    "server.disconnectedSessionTTL": "60",  # s: a closed tab's session and uploads are freed after a minute
    "server.fileWatcherType": "none",  # a served app does not watch its source for edits
    # no full garbage collection after every run: with SymPy, pandas and the caches loaded it cost ~100 ms of
    # CPU a rerun, 5x the page itself; Python's own collector still runs as objects are allocated
    "runner.postScriptGC": "false",
}


def _server_command(args: argparse.Namespace, port: int | None, extra: list[str]) -> list[str]:
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT)]
    for option, value in SERVER_SETTINGS.items():
        command += [f"--{option}", value]
    if port is not None:
        command += ["--server.port", str(port)]
    if args.headless:
        command += ["--server.headless", "true"]
    return command + extra


def _option(args: list[str], name: str) -> tuple[str | None, list[str]]:
    """The value of ``--name VALUE`` or ``--name=VALUE`` in ``args``, and ``args`` without it."""
    rest, value, i = [], None, 0
    while i < len(args):
        if args[i] == name and i + 1 < len(args):
            value, i = args[i + 1], i + 2
            continue
        if args[i].startswith(name + "="):
            value = args[i].split("=", 1)[1]
        else:
            rest.append(args[i])
        i += 1
    return value, rest


def cmd_app(args: argparse.Namespace) -> int:
    if not APP_SCRIPT.is_file():
        raise GraphlabError(f"the app is not installed here (no {APP_SCRIPT}); run it from a source checkout")
    extra = [a for a in args.streamlit_args if a != "--"]
    if not 1 <= args.processes <= MAX_PROCESSES:
        raise UsageError(f"--processes must be between 1 and {MAX_PROCESSES}, not {args.processes}")
    if args.processes > 1:  # several servers behind one sticky proxy on the public port
        from . import proxy

        if _option(extra, "--server.port")[0] is not None:
            raise UsageError("with --processes, give the public port as --port, not --server.port")
        host, extra = _option(extra, "--server.address")
        browser, args.headless = not args.headless, True  # a browser opens the proxy's address, not a server's
        return proxy.run(lambda port: _server_command(args, port, [*extra, "--server.address", "127.0.0.1"]),
                         args.processes, 8501 if args.port is None else args.port, host, browser)
    command = _server_command(args, args.port, extra)
    try:
        os.execv(sys.executable, command)  # become the server: Ctrl-C and kill reach it directly
    except OSError as e:
        raise GraphlabError(f"cannot start streamlit: {e}") from None


def add_app(sub) -> None:
    p = sub.add_parser("app", help="the stepper in the browser: runs `streamlit run apps/graphlab_app.py`")
    p.add_argument("--port", type=int, help="port to serve on (default: Streamlit's, 8501)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument("--processes", type=int, default=1, metavar="N",
                   help="serve from N app servers behind one address (a proxy that keeps each student's session on "
                        "its server): a class uses every core; default 1")
    p.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                   help="after --, options for `streamlit run` (e.g. -- --server.address 127.0.0.1)")
    p.set_defaults(run=cmd_app)


# --------------------------------------------------------------------------- main
COMMANDS: list[Callable] = [add_grad, add_draw, add_explain, add_verify, add_descend, add_compile, add_train, add_mlp,
                            add_app, add_gradcheck, add_worksheet]


def _version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("graphlab")
    except PackageNotFoundError:  # run from a source tree that was never installed
        return "unknown (not installed)"


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphlab", description="See backpropagation: expression -> graph -> every step.")
    parser.add_argument("--version", action="version", version=f"graphlab {_version()}",
                        help="print graphlab's version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser,
                                help="what to do; `graphlab COMMAND --help` lists its options")
    for add in COMMANDS:
        add(sub)
    return parser


def error_line(error: GraphlabError) -> str:
    """``error``'s line with its field named as the option that holds it, and the values it wants as --at."""
    wanted = f"(--at {','.join(f'{v}=...' for v in error.wanted)})"
    return error.phrased(OPTIONS.get(error.field, error.field), wanted)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        try:
            args = parser.parse_args(_protect_expressions(argv, parser))
        except UsageError as e:
            raise UsageError(f"{e}{_at_hint(str(e), argv)}") from None
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        return args.run(args)
    except GraphlabError as e:
        print(f"error: {error_line(e)}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # graphlab grad ... | head: the reader left, which is fine
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as e:  # a bug of ours: still one line, unless GRAPHLAB_DEBUG asks for the traceback
        if os.environ.get("GRAPHLAB_DEBUG"):
            raise
        print(f"error: internal error ({type(e).__name__}: {e}); rerun with GRAPHLAB_DEBUG=1 and please report it",
              file=sys.stderr)
        return EXIT_INTERNAL


if __name__ == "__main__":
    sys.exit(main())
