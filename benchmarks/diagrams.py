"""Case 5: diagrams. Every frame of a 150-step trace as SVG files, and one step of the app.

* frames: ``save_frames(DIR, trace, "svg")`` (what ``graphlab draw EXPR --at ... --frames DIR``
  runs) on a 75-node tanh chain, 152 steps, each time on a fresh trace, so the pinned layout
  is computed inside the timing; in a fresh Python process, as the command runs. Cross-check:
  one frame drawn alone, from cold caches, is the same bytes as the one written with all the
  others, and all frames share node positions.
* app_step: one click on "next" in the stepper page on a 60-node graph (the largest the app
  draws), the page run by Streamlit's ``AppTest`` in this process: server time for the whole
  page (diagram as SVG, explanation, node table, widgets), trace and layout already cached.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import tempfile
from pathlib import Path

import graphlab as gl

from .timing import median_seconds

APPS = Path(__file__).resolve().parent.parent / "apps"


def chain(n: int = 75) -> str:
    text = "x"
    for _ in range(n):
        text = f"tanh({text})"
    return text


def app_expression() -> str:
    """60 nodes: a chain of tanh units, each reading x again (fan-out) and a weight of its own."""
    lines = ["h0 = x * y", *(f"h{i} = tanh(h{i - 1} * w{i} + x)" for i in range(1, 15)), "f = h14 * y"]
    return "; ".join(lines)


def _node_positions(svg: bytes) -> list[str]:
    return re.findall(rb'<ellipse[^>]*cx="([-\d.]+)" cy="([-\d.]+)"', svg)


def time_frames(n: int, out: Path, repeat: int) -> float:
    """Median seconds of ``save_frames`` on a fresh trace of the ``n``-deep chain (layout included)."""
    from graphlab.export import save_frames

    graph = gl.graph(chain(n))
    return median_seconds(lambda: save_frames(out, gl.trace(graph, {"x": 0.5}), "svg"), repeat=repeat)


def frames(quick: bool = False) -> dict:
    """Timed in a fresh Python process, as ``graphlab draw --frames`` runs: not in this one, which by
    now holds PyTorch, JAX and the other cases' arrays (forking it for the drawing costs more)."""
    from graphlab import render
    from graphlab.export import render_bytes

    n = 30 if quick else 75
    out = Path(tempfile.mkdtemp(prefix="graphlab-frames-"))
    run = subprocess.run([sys.executable, "-m", "benchmarks.diagrams", str(n), str(out), str(3 if quick else 5)],
                         capture_output=True, text=True, check=True, cwd=Path(__file__).resolve().parent.parent)
    seconds = float(run.stdout.split()[-1])
    graph, point = gl.graph(chain(n)), {"x": 0.5}
    svgs = [p.read_bytes() for p in sorted(out.glob("step-*.svg"))]
    assert len(svgs) == 2 * graph.number_of_nodes(), "a frame is missing"
    positions = {tuple(_node_positions(s)) for s in (svgs[0], svgs[len(svgs) // 2], svgs[-1])}
    assert len(positions) == 1 and positions.pop(), "frames moved nodes"
    k = len(svgs) // 3
    render._PINNED.clear()
    render._node_line.cache_clear()
    render._edge_line.cache_clear()
    alone = render_bytes(render.to_dot(graph, gl.trace(graph, point), k), "svg")
    assert alone == svgs[k], "a frame drawn alone differs from the same frame drawn with the others"
    return {"nodes": graph.number_of_nodes(), "frames": len(svgs), "seconds": seconds}


def app_step(quick: bool = False) -> dict | None:
    try:
        from streamlit.testing.v1 import AppTest
    except ImportError:
        return None
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))  # what `streamlit run` does for the app's own modules
    expr = app_expression()
    at = AppTest.from_file(str(APPS / "graphlab_app.py"), default_timeout=120)
    at.query_params.update({"expr": expr})
    at.run()
    assert not at.exception, at.exception
    count = 2 * gl.graph(expr).number_of_nodes()

    def step():
        if at.session_state["step"] >= count:
            at.button(key="go:first").click().run()
        at.button(key="go:next").click().run()

    step()
    seconds = median_seconds(step, repeat=5 if quick else 15)
    views = at.get("bidi_component")  # the stepper's diagram view: the step's SVG in its data
    svg = json.loads(views[0].proto.json)["svg"] if len(views) == 1 else ""
    assert not at.exception and re.search(r'class="node [^"]*current', svg), "the step drew no diagram"
    return {"nodes": gl.graph(expr).number_of_nodes(), "seconds": seconds}


def run(quick: bool = False) -> dict[str, dict | None]:
    return {"all frames, SVG": frames(quick), "one app step": app_step(quick)}


if __name__ == "__main__":  # python -m benchmarks.diagrams DEPTH DIR REPEAT: the frames' timing, alone
    print(time_frames(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
