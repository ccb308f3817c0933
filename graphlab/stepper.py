"""A whole trace as one interactive HTML stepper: every frame, its chain rule and its node table.

The app's stepper without a server. :func:`stepper_html` writes one self-contained piece of HTML
(no CDN, font, script or image from elsewhere; a standalone page also forbids every fetch in its
Content-Security-Policy) that works from ``file://``, from any static host or LMS, offline, and inline
in Jupyter and Colab (``Trace._repr_html_``). Controls: first / prev / next / last, a slider, the
←/→ keys (also Home/End and PageUp/PageDown, which presentation clickers send). A standalone page
keeps the step in the URL's hash (``#step=8``, counted from 1 as everywhere), so a link opens on it.
Inline in a notebook the widget shares the page with other cells: its ids and CSS are scoped to
one random id, the hash is left alone, and keys step it only while it has the focus or the pointer.

What each step shows is read, never recomputed: the diagram from :func:`graphlab.render.to_dot`
(the pinned layout: every frame has the same positions), the chain rule from
:func:`graphlab.explain.explain`, the table from :func:`graphlab.present.node_table` (or
``tangent_table`` in forward mode). The explanation's LaTeX becomes MathML here (latex2mathml), which
browsers draw natively, so no script typesets anything; a line it cannot convert is shown as the
explanation's plain text. The page draws its starting step without JavaScript too.

Size: most of a frame's SVG is the same as the one before, so each SVG is cut into its elements
(Graphviz writes a comment before each), every distinct element is stored once, and a frame is a
list of element numbers; table rows likewise.
"""

from __future__ import annotations

import html
import json
import re
import uuid
from typing import Any

from .errors import GraphlabError
from .explain import explain
from .forward import ForwardTrace
from .present import MAX_INLINE_NODES, assignments, node_table, step_label, tangent_table
from .trace import Trace

__all__ = ["stepper_html", "MAX_STEPPER_NODES"]

MAX_STEPPER_NODES = 200  # every step is in the file: 200 nodes make 400 steps and their tables
# the buttons' icons, drawn here (a font may lack ⏮ and ⏭): first, prev, next, last
_ICONS = {"first": "M5 5h3v14H5zM19 5v14l-10-7z", "prev": "M17 5v14L6 12z", "next": "M7 5v14l11-7z",
          "last": "M16 5h3v14h-3zM5 5v14l10-7z"}
# a standalone page may load nothing at all: only its own inline style and script
_CSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:"
_COMMENT = re.compile(r"<!--.*?-->\s*", re.S)


class _Pool:
    """Distinct strings, each stored once; a sequence of them is a list of numbers."""

    def __init__(self) -> None:
        self.items: list[str] = []
        self.index: dict[str, int] = {}

    def add(self, text: str) -> int:
        if text not in self.index:
            self.index[text] = len(self.items)
            self.items.append(text)
        return self.index[text]


def _svg_pieces(svg: str, prefix: str) -> list[str]:
    """The SVG from its ``<svg`` on, cut before each element; ids prefixed (several widgets share a page)."""
    svg = svg[svg.index("<svg"):].replace(' id="', f' id="{prefix}-')
    return [piece for piece in _COMMENT.split(svg) if piece]


def _mathml(latex_line: str, text_line: str) -> str:
    from latex2mathml.converter import convert

    try:
        math = convert(latex_line, display="block")
    except Exception:  # latex2mathml raises many types; the plain text says the same thing
        return f'<p class="gl-plain">{html.escape(text_line)}</p>'
    math = math.replace(' xmlns="http://www.w3.org/1998/Math/MathML"', "")
    return re.sub(r"&#x([0-9A-Fa-f]+);", lambda m: html.escape(chr(int(m.group(1), 16))), math)


def _row(row: tuple[str, ...]) -> str:
    current = ' class="gl-cur"' if row[0] else ""
    return f"<tr{current}>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"


def _payload(trace: Trace, style: str, form: str | None, prefix: str, options: dict[str, Any]) -> dict[str, Any]:
    from .export import render_bytes  # Graphviz loads only for drawing
    from .render import to_dot

    forward = isinstance(trace, ForwardTrace)
    precision = options.get("precision", 4)
    drawn = trace.graph.number_of_nodes() <= MAX_INLINE_NODES
    svg, rows = _Pool(), _Pool()
    frames, tables, steps = [], [], []
    for e in explain(trace, precision, form):
        if drawn:
            dot = to_dot(trace.graph, trace, e.step, style, **options)
            frames.append([svg.add(p) for p in _svg_pieces(render_bytes(dot, "svg").decode(), prefix)])
        table = (tangent_table if forward else node_table)(trace, e.step, digits=precision, compact=True)
        tables.append([rows.add(_row(r)) for r in table.rows])
        math = "".join(_mathml(tex, text) for tex, text in zip(e.latex.split(" \\\\\n"), e.text.split("\n")))
        heading = "The chain rule at this step" if e.phase == "backward" else "Computed at this step"
        steps.append({"label": step_label(trace, e.step), "title": heading, "math": math, "node": e.node})
    head = "<tr>" + "".join(f"<th>{html.escape(c)}</th>" for c in table.columns) + "</tr>"
    return {"svg": svg.items if drawn else None, "frames": frames if drawn else None, "rows": rows.items,
            "tables": tables, "head": head, "steps": steps}


def _json_for_script(data: Any) -> str:
    """JSON that cannot end or confuse the ``<script>`` element holding it."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    return text.replace("</", "<\\/").replace("<!--", "\\u003c!--").replace("<script", "\\u003cscript")


_CSS = """
#ID{font:16px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Helvetica,Arial,sans-serif;color:#222;
  background:#fff;padding:.5rem;max-width:100%;box-sizing:border-box;outline:none;border-radius:.5rem}
#ID *{box-sizing:border-box}
#ID:focus-visible{box-shadow:0 0 0 3px #1f5fa8}
#ID h1{font-size:1.2em;margin:0 0 .2em;font-weight:600;overflow-wrap:anywhere}
#ID h2{font-size:1em;margin:.2em 0;font-weight:600}
#ID .gl-bar{display:flex;flex-wrap:wrap;gap:.35em;align-items:center;position:sticky;top:0;background:#fff;
  z-index:2;padding:.35em 0}
#ID button{font:inherit;min-width:2.9em;min-height:2.75em;padding:0 .6em;display:inline-flex;align-items:center;
  justify-content:center;border:1px solid #b9b9b9;
  border-radius:.45em;background:#f5f5f5;color:#222;cursor:pointer}
#ID button:hover:not(:disabled){background:#e9e9e9}
#ID button:disabled{opacity:.4;cursor:default}
#ID .gl-label{font-weight:600;flex:1 1 12em;padding:0 .3em;font-variant-numeric:tabular-nums}
#ID .gl-slider{flex:1 1 100%;width:100%;height:2em;margin:0;accent-color:#1f5fa8}
#ID .gl-figure{overflow:auto;text-align:center;border:1px solid #e6e6e6;border-radius:.45em;margin:.3em 0 .6em;
  background:#fff;-webkit-overflow-scrolling:touch}
#ID .gl-figure svg{display:inline-block;max-width:none;vertical-align:top}
#ID .gl-below{display:grid;grid-template-columns:minmax(0,1fr);gap:.8em}
#ID .gl-math{overflow-x:auto;padding:.1em 0}
#ID math{display:block;margin:.35em 0;font-size:1.2em;text-align:left;
  font-family:"STIX Two Math","Latin Modern Math","Cambria Math",math}
#ID .gl-plain{margin:.35em 0;font-size:1.05em}
#ID .gl-table{overflow-x:auto}
#ID table{border-collapse:collapse;font-size:.9em;min-width:100%}
#ID th,#ID td{padding:.2em .55em;border-bottom:1px solid #ececec;text-align:left;white-space:nowrap;
  font-variant-numeric:tabular-nums}
#ID th{background:#fafafa}
#ID td:last-child{white-space:normal;min-width:14em}
#ID tr.gl-cur td{background:rgba(255,190,0,.32)}
#ID .gl-keys{color:#666;font-size:.8em;margin:.4em 0 0}
@media (max-width:600px){#ID{padding:.25rem;font-size:15px}#ID .gl-keys{display:none}
  #ID .gl-label{order:-1;flex-basis:100%}#ID button{flex:1 1 0}#ID math{font-size:1.05em}}
@media (min-width:1000px){#ID .gl-below{grid-template-columns:minmax(0,3fr) minmax(0,2fr)}#ID math{font-size:1.35em}}
@media (min-width:1700px){#ID{font-size:21px}}
"""

# The script: ``ID`` and ``STANDALONE`` are filled in. It only reads the JSON beside it.
_JS = """
(function () {
  var root = document.getElementById("ID"), standalone = STANDALONE;
  if (!root || root.dataset.ready) return;
  root.dataset.ready = "1";
  var data = JSON.parse(root.querySelector("script.gl-data").textContent);
  var n = data.steps.length, current = -1;
  function q(s) { return root.querySelector(s); }
  var fig = q(".gl-figure"), math = q(".gl-math"), rows = q(".gl-rows"), label = q(".gl-label"),
      title = q(".gl-title"), slider = q(".gl-slider");
  var buttons = {};
  ["first", "prev", "next", "last"].forEach(function (w) { buttons[w] = q('button[data-go="' + w + '"]'); });
  function fit() {
    var svg = fig && fig.querySelector("svg");
    if (!svg) return;
    var vb = svg.viewBox.baseVal, w = vb.width * 4 / 3, h = vb.height * 4 / 3;  // points to pixels
    var s = Math.min(fig.clientWidth / w, 0.6 * window.innerHeight / h, 2.5);
    s = Math.max(s, 0.8);  // smaller than this is illegible: scroll instead
    svg.removeAttribute("width"); svg.removeAttribute("height");
    svg.style.width = (w * s) + "px"; svg.style.height = (h * s) + "px";
    var cur = svg.querySelector("g.current");
    if (cur && fig.scrollWidth > fig.clientWidth) {  // keep the visited node in view
      var r = cur.getBoundingClientRect(), b = fig.getBoundingClientRect();
      fig.scrollLeft += (r.left + r.width / 2) - (b.left + b.width / 2);
    }
  }
  function join(ids, pool) { return ids.map(function (i) { return pool[i]; }).join(""); }
  function show(k) {
    k = Math.max(0, Math.min(n - 1, k));
    if (k === current) return;
    current = k;
    var s = data.steps[k];
    if (data.frames) { fig.innerHTML = join(data.frames[k], data.svg); fit(); }
    label.textContent = s.label;
    title.textContent = s.title;
    math.innerHTML = s.math;
    rows.innerHTML = join(data.tables[k], data.rows);
    slider.value = String(k + 1);
    buttons.first.disabled = buttons.prev.disabled = k === 0;
    buttons.next.disabled = buttons.last.disabled = k === n - 1;
    root.setAttribute("data-step", String(k + 1));
    if (standalone) {
      var hash = "#step=" + (k + 1);
      if (location.hash !== hash) {
        try { history.replaceState(null, "", hash); } catch (e) { location.replace(hash); }
      }
    }
  }
  function fromHash() {
    var m = /(?:^#|&)step=(\\d+)/.exec(location.hash);
    return m ? parseInt(m[1], 10) - 1 : null;
  }
  var go = {first: function () { return 0; }, prev: function () { return current - 1; },
            next: function () { return current + 1; }, last: function () { return n - 1; }};
  Object.keys(buttons).forEach(function (w) {
    buttons[w].addEventListener("click", function () { show(go[w]()); });
  });
  slider.addEventListener("input", function () { show(parseInt(slider.value, 10) - 1); });
  var keys = {ArrowLeft: "prev", ArrowRight: "next", PageUp: "prev", PageDown: "next", Home: "first", End: "last"};
  function editable(t) {
    return t && (/^(INPUT|TEXTAREA|SELECT)$/.test(t.tagName) || t.isContentEditable);
  }
  function onKey(e) {
    var w = keys[e.key];
    if (!w || e.altKey || e.ctrlKey || e.metaKey || editable(e.target)) return false;
    e.preventDefault();
    e.stopPropagation();
    show(go[w]());
    return true;
  }
  if (standalone) {
    document.addEventListener("keydown", onKey);
    window.addEventListener("hashchange", function () { var k = fromHash(); if (k !== null) show(k); });
  } else {  // a notebook: keys only while the widget has the focus or the pointer
    root.addEventListener("keydown", onKey);
    document.addEventListener("keydown", function (e) {
      if (!root.contains(e.target) && root.matches(":hover")) onKey(e);
    });
  }
  window.addEventListener("resize", fit);
  var start = standalone ? fromHash() : null;
  current = -1;
  show(start === null ? parseInt(root.dataset.start, 10) - 1 : start);
})();
"""


def stepper_html(trace: Trace, start: int | None = None, style: str = "lecture", form: str | None = "names",
                 standalone: bool = True, **options: Any) -> str:
    """The stepper of ``trace`` as HTML; ``start``: the index into ``trace.steps`` it opens on (None: 0).

    ``standalone``: a whole page (``steps.html``) whose URL hash holds the step; otherwise a ``<div>``
    for a notebook, scoped to a random id. ``options`` are :func:`graphlab.render.to_dot`'s drawing
    options (direction, symbolic, palette, font); ``form`` is how a whole gradient is written
    (:func:`graphlab.explain.explain_step`). Graphs over 60 nodes get no diagram (as in the app).
    """
    n = trace.graph.number_of_nodes()
    if n > MAX_STEPPER_NODES:
        raise GraphlabError(f"the HTML stepper holds every step, and this graph has {n:,} nodes "
                            f"({len(trace.steps):,} steps): it takes at most {MAX_STEPPER_NODES}; "
                            "draw single steps or --frames instead")
    count = len(trace.steps)
    if start is None:
        start = 0
    if not -count <= start < count:
        raise GraphlabError(f"step index {start} is out of range: trace.steps has indices 0 to {count - 1}")
    start %= count
    ident = "glstep" if standalone else f"gl{uuid.uuid4().hex[:10]}"
    data = _payload(trace, style, form, ident, options)
    precision = options.get("precision", 4)
    source = trace.graph.graph.get("source", "").strip()
    given = {v: x for v, x in trace.inputs.items() if v not in trace.missing}
    at = assignments(given, digits=precision) if given else ""
    mode = f"; forward mode, ∂/∂{trace.wrt}" if isinstance(trace, ForwardTrace) else ""
    step = data["steps"][start]
    figure = "".join(data["svg"][i] for i in data["frames"][start]) if data["frames"] else ""
    no_diagram = (f'<p class="gl-plain">This graph has {n:,} nodes, more than the {MAX_INLINE_NODES} that can be '
                  "drawn legibly, so the diagram is left out. The table has every node.</p>")
    first, last = start == 0, start == count - 1
    disabled = {"first": first, "prev": first, "next": last, "last": last}
    glyphs = {w: f'<svg viewBox="0 0 24 24" width="1.1em" height="1.1em" aria-hidden="true">'
                 f'<path fill="currentColor" d="{d}"/></svg>' for w, d in _ICONS.items()}
    buttons = {w: f'<button type="button" data-go="{w}" aria-label="{w}" title="{w}"'
                  f'{" disabled" if disabled[w] else ""}>{glyphs[w]}</button>' for w in glyphs}
    label = f'<span class="gl-label" aria-live="polite">{html.escape(step["label"])}</span>'
    keys = "Keys: ← → step; Home / End: first / last." + (" The address keeps the step." if standalone else
                                                            " Click the stepper first, or point at it.")
    body = f"""<div class="glstep" id="{ident}" tabindex="0" data-start="{start + 1}" data-steps="{count}">
<style>{_CSS.replace("#ID", "#" + ident).strip()}</style>
<h1>{html.escape(source)}</h1>
<div class="gl-sub">{html.escape(at + mode)}</div>
<div class="gl-bar">{buttons["first"]}{buttons["prev"]}{label}{buttons["next"]}{buttons["last"]}
<input class="gl-slider" type="range" min="1" max="{count}" value="{start + 1}" aria-label="step"></div>
{f'<div class="gl-figure">{figure}</div>' if data["frames"] else no_diagram}
<div class="gl-below">
<section><h2 class="gl-title">{html.escape(step["title"])}</h2><div class="gl-math">{step["math"]}</div></section>
<section class="gl-table"><h2>All nodes</h2><table><thead>{data["head"]}</thead>
<tbody class="gl-rows">{"".join(data["rows"][i] for i in data["tables"][start])}</tbody></table></section>
</div>
<p class="gl-keys">{keys}</p>
<script type="application/json" class="gl-data">{_json_for_script(data)}</script>
<script>{_JS.replace('"ID"', json.dumps(ident)).replace("STANDALONE", "true" if standalone else "false")}</script>
</div>"""
    if not standalone:
        return body
    title = html.escape(f"{source} — graphlab stepper")
    return f"""<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{_CSP}">
<title>{title}</title>
<style>html,body{{margin:0;background:#fff}}body{{padding:.5rem;max-width:1800px;margin:0 auto}}</style>
</head>
<body>
{body}
</body>
</html>
"""
