"""Case 5: diagrams. Every frame of a 150-step trace as SVG files, and one step of the app.

* frames: ``save_frames(DIR, trace, "svg")`` (what ``graphlab draw EXPR --at ... --frames DIR``
  runs) on a 75-node tanh chain, 152 steps, each time on a fresh trace, so the pinned layout
  is computed inside the timing; in a fresh Python process, as the command runs. Cross-check:
  one frame drawn alone, from cold caches, is the same bytes as the one written with all the
  others; every frame written is the same bytes as Graphviz's drawing of that frame's whole DOT
  (``save_frames`` has Graphviz draw again only what differs from the frame before); and all
  frames share node positions.
* app_step: the server's CPU time for one click on "next" or "prev" in the stepper on a 60-node graph
  (the largest the app draws): the real server (`graphlab app`), one student driven over Streamlit's
  protocol (benchmarks/protocol.py), the CPU time of all the server's threads over the clicks (the
  step-through tab's own run, an ``st.fragment``; the websocket; the messages), as app_load counts it.
  The student steps to the end and back once first, so the trace, the layout and each step's drawing are
  cached, as for a step another student has taken; then again, measured.
* app_step_lecture: the same, the median over the sidebar's lecture examples (scalar ones and
  matrix ones).
* playground_tick: one tick of a playing Playground session on the XOR network that app_load's
  players train, its drawing alone: the CPU time of the live views' fragment (``_pg_tick``, what
  the page's CPU sharing charges the session for the tick), each tick after one more epoch trained
  outside the timing. The median over ticks at the first epochs, and again past 2,000 epochs (the
  epoch charts must not grow with the run); and the CPU time one epoch takes to train.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
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
    from graphlab import export, render
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
    export._LAST.clear()
    t = gl.trace(graph, point)
    alone = render_bytes(render.to_dot(graph, t, k), "svg")
    assert alone == svgs[k], "a frame drawn alone differs from the same frame drawn with the others"
    # save_frames has Graphviz draw again only what differs from the frame before: every frame written is still
    # what Graphviz draws of that frame's whole DOT, byte for byte
    for j, svg in enumerate(svgs):
        assert export._draw(render.to_dot(graph, t, j).source, "svg") == svg, f"frame {j + 1} differs from its DOT"
    return {"nodes": graph.number_of_nodes(), "frames": len(svgs), "seconds": seconds}


@contextlib.contextmanager
def server_like() -> Iterator[list[float]]:
    """While open, ``AppTest`` runs pages as the server does (one compiled bytecode per page, kept) and
    the list yielded gets each page run's CPU seconds, measured in the thread that runs it. Streamlit's
    options are the app's shipped ones (``graphlab app``'s) meanwhile."""
    from streamlit.runtime.scriptrunner import script_runner
    from streamlit.runtime.scriptrunner.script_cache import ScriptCache

    compiled: dict[str, object] = {}
    seconds: list[float] = []
    get_bytecode, run_script = ScriptCache.get_bytecode, script_runner.ScriptRunner._run_script

    def shared_bytecode(self, path):
        path = os.path.abspath(path)
        if path not in compiled:
            compiled[path] = get_bytecode(self, path)
        return compiled[path]

    def timed_run(self, *args, **kwargs):
        start = time.thread_time()
        try:
            return run_script(self, *args, **kwargs)
        finally:
            seconds.append(time.thread_time() - start)

    from streamlit import config

    from graphlab.cli import SERVER_SETTINGS  # the app's shipped settings (no usage statistics, ...)

    shipped = {name: {"true": True, "false": False}.get(v, int(v) if v.isdigit() else v)
               for name, v in SERVER_SETTINGS.items()}
    before = {name: config.get_option(name) for name in shipped}
    ScriptCache.get_bytecode, script_runner.ScriptRunner._run_script = shared_bytecode, timed_run
    for name, value in shipped.items():
        config.set_option(name, value)
    try:
        yield seconds
    finally:
        ScriptCache.get_bytecode, script_runner.ScriptRunner._run_script = get_bytecode, run_script
        for name, value in before.items():
            config.set_option(name, value)


def _app_testable() -> bool:
    """Whether Streamlit's AppTest is installed; if so, the app's own modules are importable, as `streamlit run`
    makes them."""
    try:
        import streamlit.testing.v1  # noqa: F401
    except ImportError:
        return False
    if str(APPS) not in sys.path:
        sys.path.insert(0, str(APPS))
    return True


def _served_steps(examples: list[tuple[str, dict[str, str]]], quick: bool) -> list[float]:
    """For each (expression, values): the server's CPU seconds per click on "next" or "prev", one student
    alone on the real server (`graphlab app`, driven over Streamlit's protocol: benchmarks/protocol.py), all
    its threads (the step-through tab's own run, the websocket, the messages), as app_load counts them. The
    student steps to the end and back once unmeasured (the trace, the layout and each step's drawing are then
    cached, as for a step another student took), then again measured (``quick``: eight steps each way)."""
    from urllib.parse import urlencode

    from .app_load import AREA, cpu_seconds, serve, step_label
    from .protocol import Session

    async def student(url: str, pid: int, expr: str, values: dict[str, str]) -> float:
        query = {"expr": expr, **({"at": ",".join(f"{k}={v}" for k, v in values.items())} if values else {})}
        async with Session(url, "/", urlencode(query), timeout=120) as page:
            await page.component_state("diagram", {"area": AREA})
            steps = 2 * int(re.search(r" of (\d+):", step_label(page.last))[1]) - 1  # 2 per node: to the last
            steps = min(steps, 8) if quick else steps
            label = step_label(page.last)
            for way in ("next", "prev") * 2:
                if way == "next":
                    start = cpu_seconds(pid)  # (the second time round: measured)
                for _ in range(steps):
                    run = await page.click(way)
                    if step_label(run) == label or "<svg" not in (run.component_data("diagram") or {}).get("svg", ""):
                        raise AssertionError(f"{expr}: {way} from {label!r} drew no diagram of the next step")
                    label = step_label(run)
            return (cpu_seconds(pid) - start) / (2 * steps)

    async def everyone(url: str, pid: int) -> list[float]:
        return [await student(url, pid, expr, values) for expr, values in examples]

    with serve(Path(tempfile.gettempdir()) / f"graphlab-app-step-{os.getpid()}.log") as (url, pid), \
            concurrent.futures.ThreadPoolExecutor(1) as thread:  # its own event loop, whatever runs in this one
        return thread.submit(asyncio.run, everyone(url, pid)).result()


def app_step(quick: bool = False) -> dict | None:
    if not _app_testable():
        return None
    expr = app_expression()
    (seconds,) = _served_steps([(expr, {})], quick)
    return {"nodes": gl.graph(expr).number_of_nodes(), "seconds": seconds}


def app_step_lecture(quick: bool = False) -> dict | None:
    if not _app_testable():
        return None
    from stepper_model import EXAMPLES, build, shapes_typed

    examples = list(EXAMPLES.items())[:3 if quick else None]  # quick: the first three
    nodes = max(build(expr, shapes_typed(tuple(values.items()))).number_of_nodes() for expr, values in examples)
    per_example = _served_steps(examples, quick)
    return {"nodes": nodes, "examples": len(per_example), "seconds": statistics.median(per_example),
            "slowest": max(per_example), "each": dict(zip(EXAMPLES, per_example, strict=False))}


def _playground_ticks(at, count: int) -> tuple[list[float], list[float]]:
    """``count`` ticks, each after one more epoch (as Play trains them): the fragment's CPU seconds for each,
    and the epochs' own."""
    ticks, epochs = [], []
    for _ in range(count):
        start = time.thread_time()
        at.session_state["_pg_run"].step()
        epochs.append(time.thread_time() - start)
        at.run()
        ticks.append(at.session_state["_pg_tick"].cost)
    return ticks, epochs


def playground_tick(quick: bool = False) -> dict | None:
    if not _app_testable():
        return None
    from streamlit.testing.v1 import AppTest

    from .app_load import PLAYGROUND

    later = 500 if quick else 2000
    with server_like():
        at = AppTest.from_file(str(APPS / "graphlab_app.py"), default_timeout=120)
        at.run()  # the stepper first: AppTest switches pages only after a run
        at.query_params.update(PLAYGROUND)
        at.switch_page("playground_page.py").run()
        _playground_ticks(at, 2)  # warm
        first, epochs = _playground_ticks(at, 5 if quick else 20)
        at.session_state["_pg_run"].step(later - at.session_state["_pg_run"].epoch)
        late, _ = _playground_ticks(at, 3 if quick else 10)
    assert not at.exception and len(at.get("vega_lite_chart")) == 4, "the Playground drew no charts"
    assert at.metric[0].value == f"{later + (3 if quick else 10):,}", "the ticks did not show their epochs"
    return {"seconds": statistics.median(first), "late_epoch": later, "late_seconds": statistics.median(late),
            "epoch_seconds": statistics.median(epochs)}


def run(quick: bool = False) -> dict[str, dict | None]:
    return {"all frames, SVG": frames(quick), "one app step": app_step(quick),
            "one app step, lecture examples": app_step_lecture(quick), "one Playground tick": playground_tick(quick)}


if __name__ == "__main__":  # python -m benchmarks.diagrams DEPTH DIR REPEAT: the frames' timing, alone
    print(time_frames(int(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])))
