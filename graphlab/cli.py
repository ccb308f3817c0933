"""The ``graphlab`` command.

Contract (fixed): ``graphlab grad EXPR [--at NAME=VALUE,...] [--exact] [--json]``;
exit 0 on success, 2 on bad input with a one-line ``error:`` on stderr. Other
subcommands are added below, one function each, registered in ``COMMANDS``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import sympy as sp

from .build import from_text
from .errors import GraphlabError
from .point import parse_point
from .trace import Trace, as_json_number, gradient_exprs, local_formula, trace

EXIT_OK, EXIT_BAD_INPUT = 0, 2


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


# --------------------------------------------------------------------------- shared pieces
def add_expression_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("expr", help="expression, e.g. '(x+y)z' or 'q = x + y; f = q z'")
    p.add_argument("--at", action="append", default=[], metavar="NAME=VALUE,...",
                   help="values of the variables, e.g. x=-2,y=5,z=-4 (values may be 1/3 or pi/2)")
    p.add_argument("--exact", action="store_true", help="exact arithmetic (SymPy) instead of float64")
    p.add_argument("--canonical", action="store_true", help="SymPy's canonical n-ary form instead of your grouping")


def trace_from_args(args: argparse.Namespace) -> Trace:
    graph = from_text(args.expr.strip(), canonical=args.canonical)
    return trace(graph, parse_point(*args.at), mode="exact" if args.exact else "float")


def fmt(value: Any, exact: bool = False) -> str:
    """A number for people: 6 significant digits; exact values also show their exact form."""
    if value is None:
        return "?"
    if isinstance(value, sp.Basic) and not value.is_number:
        return str(value)
    number = as_json_number(value)
    text = number if isinstance(number, str) else f"{number:.6g}"
    if exact and isinstance(value, sp.Basic) and str(value) != text and not value.is_Integer:
        return f"{value} ≈ {text}"
    return text


def warn_nonfinite(t: Trace) -> None:
    for node, what in t.nonfinite.items():
        data = t.graph.nodes[node]
        op = f" ({data['op']})" if data["kind"] == "op" else ""
        print(f"warning: non-finite {' and '.join(what)} at node {node}{op}", file=sys.stderr)


def emit_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


# --------------------------------------------------------------------------- grad
def trace_to_json(t: Trace) -> dict[str, Any]:
    g = t.graph
    exact = t.mode == "exact"

    def num(v: Any) -> Any:
        return as_json_number(v)

    def with_exact(key: str, v: Any) -> dict[str, Any]:
        out = {key: num(v)}
        if exact and v is not None:
            out[f"{key}_exact"] = str(v)
        return out

    exprs = gradient_exprs(g)
    steps = []
    for s in t.steps:
        if s.phase == "forward":
            steps.append({"phase": "forward", "index": s.index, "node": s.node, **with_exact("value", s.value)})
            continue
        edges = [{"input": e.input, "formula": str(local_formula(g, s.node, e.position)),
                  **with_exact("local", e.local), **with_exact("contribution", e.contribution),
                  **with_exact("accumulated", e.accumulated), "term": e.term, "consumers": e.consumers}
                 for e in s.edges]
        steps.append({"phase": "backward", "index": s.index, "node": s.node, **with_exact("upstream", s.upstream),
                      "local": edges})
    result = {
        "expression": g.graph["source"],
        "mode": t.mode,
        "output_node": g.graph["output"],
        **with_exact("output", t.output),
        "inputs": {v: num(x) for v, x in t.inputs.items()},
        "gradient": {v: num(x) for v, x in t.gradient.items()},
        "gradient_expr": None if exprs is None else {v: str(e) for v, e in exprs.items()},
        "nodes": [{"id": n, "op": d.get("op", d["kind"]), "label": d["label"], "inputs": list(d.get("args", ())),
                   **with_exact("value", t.values[n]), **with_exact("grad", t.grads[n])}
                  for n, d in g.nodes(data=True)],
        "steps": steps,
        "nonfinite": t.nonfinite,
        "missing": list(t.missing),
    }
    if exact:
        result["gradient_exact"] = {v: str(x) for v, x in t.gradient.items()}
        result["inputs_exact"] = {v: str(x) for v, x in t.inputs.items()}
    return result


def print_trace_table(t: Trace) -> None:
    g = t.graph
    exact = t.mode == "exact"
    out = g.graph["output"]
    point = ", ".join(f"{v} = {fmt(x, exact)}" for v, x in t.inputs.items() if v not in t.missing)
    print(f"{g.graph['source'].strip()}" + (f"   at {point}" if point else ""))
    if t.missing:
        print(f"no value for {', '.join(t.missing)}: their gradients are given symbolically")
    print()
    rows = [("node", "op", "inputs", "value", f"∂{out}/∂node")]
    for n, d in g.nodes(data=True):
        rows.append((n, d.get("op", d["kind"]), " ".join(d.get("args", ())), fmt(t.values[n], exact),
                     fmt(t.grads[n], exact) if t.grads[n] is not None else ""))
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    for r in rows:
        print("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip())
    print()
    print(f"{out} = {fmt(t.output, exact)}")
    exprs = gradient_exprs(g) or {}
    for v, x in t.gradient.items():
        formula = f" = {exprs[v]}" if v in exprs else ""
        value = f" = {fmt(x, exact)}" if v not in t.missing and x is not None else ""
        print(f"∂{out}/∂{v}{formula}{value}")


def cmd_grad(args: argparse.Namespace) -> int:
    t = trace_from_args(args)
    warn_nonfinite(t)
    if args.json:
        emit_json(trace_to_json(t))
    else:
        print_trace_table(t)
    return EXIT_OK


def add_grad(sub) -> None:
    p = sub.add_parser("grad", help="values and gradients of every node, step by step")
    add_expression_args(p)
    p.add_argument("--json", action="store_true", help="one JSON object on stdout")
    p.set_defaults(run=cmd_grad)


# --------------------------------------------------------------------------- draw, explain
def _drawing_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"direction": args.direction, "precision": args.precision, "symbolic": args.symbolic,
            "palette": args.palette, "font": args.font}


def cmd_draw(args: argparse.Namespace) -> int:
    from .export import save, save_frames  # Graphviz loads only for drawing

    if not args.output and not args.frames:
        raise UsageError("give -o FILE or --frames DIR")
    graph = from_text(args.expr.strip(), canonical=args.canonical)
    t = trace(graph, parse_point(*args.at), mode="exact" if args.exact else "float") \
        if args.at or args.frames or args.step is not None else None
    if t is not None:
        warn_nonfinite(t)
    options = _drawing_options(args)
    if args.frames:
        paths = save_frames(args.frames, t, args.format, args.style, args.dpi, args.bare, **options)
        print(f"wrote {len(paths)} frames and index.md to {args.frames}")
    if args.output:
        save(args.output, graph, t, args.step, args.style, dpi=args.dpi, bare=args.bare, **options)
        print(f"wrote {args.output}")
    return EXIT_OK


def add_draw(sub) -> None:
    from .export import FORMATS
    from .render import PALETTES, STYLES

    p = sub.add_parser("draw", help="draw the graph (at a step of the trace) to .svg .png .pdf .dot or .tex")
    add_expression_args(p)
    when = p.add_mutually_exclusive_group()
    when.add_argument("--step", type=int, metavar="K", help="the frame of step K (0-based; forward, then backward)")
    when.add_argument("--final", action="store_true", help="every value and gradient (the default)")
    p.add_argument("-o", "--output", metavar="FILE", help="output file; the format comes from the suffix")
    p.add_argument("--frames", metavar="DIR", help="one file per step in DIR, and DIR/index.md")
    p.add_argument("--format", choices=[f for f in FORMATS if f != "gv"], default="svg", help="format of --frames")
    p.add_argument("--style", choices=STYLES, default="lecture")
    p.add_argument("--direction", choices=("LR", "TB"), default="LR")
    p.add_argument("--precision", type=int, default=4, help="significant digits (default 4)")
    p.add_argument("--symbolic", action="store_true", help="also write local gradients as formulas")
    p.add_argument("--palette", choices=tuple(PALETTES), default="default")
    p.add_argument("--font", default="Helvetica")
    p.add_argument("--dpi", type=float, help="resolution of .png files (default 96)")
    p.add_argument("--bare", action="store_true", help=".tex: the tikzpicture only, not a standalone document")
    p.set_defaults(run=cmd_draw)


def cmd_explain(args: argparse.Namespace) -> int:
    from .explain import explain

    t = trace_from_args(args)
    warn_nonfinite(t)
    for e in explain(t, args.precision):
        if args.format == "text":
            print(f"[{e.step}] {e.phase:8} {e.node}: " + e.text.replace("\n", "\n" + " " * 13))
        else:
            print(e.markdown if args.format == "markdown" else e.latex + r" \\")
    return EXIT_OK


def add_explain(sub) -> None:
    p = sub.add_parser("explain", help="the chain rule at every step, in words")
    add_expression_args(p)
    p.add_argument("--format", choices=("text", "markdown", "latex"), default="text")
    p.add_argument("--precision", type=int, default=4, help="significant digits (default 4)")
    p.set_defaults(run=cmd_explain)


# --------------------------------------------------------------------------- app
APP_SCRIPT = Path(__file__).resolve().parent.parent / "apps" / "graphlab_app.py"


def cmd_app(args: argparse.Namespace) -> int:
    if not APP_SCRIPT.is_file():
        raise GraphlabError(f"the app is not installed here (no {APP_SCRIPT}); run it from a source checkout")
    command = [sys.executable, "-m", "streamlit", "run", str(APP_SCRIPT), "--browser.gatherUsageStats", "false",
               "--client.toolbarMode", "viewer"]  # viewer: no "Deploy" button, no developer menu
    if args.port is not None:
        command += ["--server.port", str(args.port)]
    if args.headless:
        command += ["--server.headless", "true"]
    command += [a for a in args.streamlit_args if a != "--"]
    try:
        os.execv(sys.executable, command)  # become the server: Ctrl-C and kill reach it directly
    except OSError as e:
        raise GraphlabError(f"cannot start streamlit: {e}") from None


def add_app(sub) -> None:
    p = sub.add_parser("app", help="the stepper in the browser: runs `streamlit run apps/graphlab_app.py`")
    p.add_argument("--port", type=int, help="port to serve on (default: Streamlit's, 8501)")
    p.add_argument("--headless", action="store_true", help="do not open a browser")
    p.add_argument("streamlit_args", nargs=argparse.REMAINDER,
                   help="after --, options for `streamlit run` (e.g. -- --server.address 127.0.0.1)")
    p.set_defaults(run=cmd_app)


# --------------------------------------------------------------------------- main
COMMANDS: list[Callable] = [add_grad, add_draw, add_explain, add_app]


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="graphlab", description="See backpropagation: expression -> graph -> every step.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for add in COMMANDS:
        add(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        argv = sys.argv[1:] if argv is None else list(argv)
        args = parser.parse_args(_protect_expressions(argv, parser))
        if not getattr(args, "run", None):
            parser.print_help()
            return EXIT_BAD_INPUT
        return args.run(args)
    except GraphlabError as e:
        print(f"error: {e}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("error: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
