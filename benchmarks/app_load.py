"""`python -m benchmarks --case app_load [--client protocol|browser]`: a class on one server. N students at once
in the real app.

The real server (`graphlab app`, so with the app's shipped settings), driven by one of two clients:

- ``protocol`` (the default): each student is a websocket session speaking Streamlit's own protocol, as its
  frontend does (`benchmarks/protocol.py`): no browser, so the machine's cores are the server's and the
  latencies are the server's. The page is not drawn: a step counts as done when its run has finished and
  its deltas carry the new step label and a diagram with the student's own nodes.
- ``browser``: one headless Chromium (the project's Playwright + Debian's Chromium, as the browser tests
  use) with a fresh browser context per student. Each action is timed until the page shows its result and
  the script is idle; the browsers share the machine's cores with the server, so these latencies include
  the browsers' own work (on 2 cores, mostly theirs).

Each stepping student opens a lecture example by link (its diagram reports its size, a rerun, as in a
browser), types another lecture example into the Expression box, presses "next" six times and switches to
the Forward mode tab and back. The students wait for each other after typing and after stepping, so the
server's CPU time between those two moments is the steps' alone: ``server_cpu_per_step`` (with players in
the row, it also holds their training). Playing students open the Playground on XOR, press Play (with the
protocol client, the fragment's ``run_every`` timer sends its reruns as the frontend's would), and train
until the steppers are done.

Reported per number of sessions, with the client that drove them: p50/p95 of the step latency, the
server's CPU time per step and per rerun over the whole scenario, its peak and final memory, each player's
epochs per second, how many students had an action time out (or saw something wrong), whether any student
saw another's graph, and the load average (1 min) when the row began and ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlencode

from graphlab.errors import GraphlabError
from graphlab.proxy import free_port, stop, wait_ready

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = os.environ.get("GRAPHLAB_CHROMIUM", "/usr/bin/chromium")
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
               "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]
CLIENTS = ("protocol", "browser")
SESSIONS = (1, 8, 16, 32)
STEPS = 6
# A student's action that takes longer than this counts as failed (that student stops there), and the row says
# how many did: a benchmark reports overload, it does not crash on it
TIMEOUT_MS = 60_000
# The lecture examples, as (link expression, its values, the expression then typed in)
EXAMPLES = [("(x+y)z", "x=-2,y=5,z=-4", "log(x1 x2) sin(x2)"),
            ("log(x1 x2) sin(x2)", "x1=2,x2=3", "sigmoid(w0 x0 + w1 x1 + w2)"),
            ("sigmoid(w0 x0 + w1 x1 + w2)", "w0=2,x0=-1,w1=-3,x1=-2,w2=-3", "q = x + y; f = q z"),
            ("q = x + y; f = q z", "x=-2,y=5,z=-4", "(x+y)z")]
CHURN = 200
# The churn's server frees a closed tab's session after 5 s, not the shipped 60 s: the same freeing, sooner
SESSION_TTL = 5
MIN_PLAY = 3.0  # a player plays this long at least (s), whether or not the steppers are done
PLAYGROUND = {"data": "xor", "noise": "0", "seed": "0", "layers": "4", "act": "tanh", "lr": "0.03", "batch": "10"}

IDLE = """() => {
  const app = document.querySelector('[data-testid="stApp"]');
  return app !== null && app.dataset.testScriptState === 'notRunning'
    && app.dataset.testConnectionState === 'CONNECTED'
    && !document.querySelector('[data-stale="true"], [data-testid="stSkeleton"]');
}"""
# The step's label ("forward 2 of 5: node y"), once the run that drew it is over; null while running
LABEL = """() => {
  if (!(IDLE)()) return null;
  const label = [...document.querySelectorAll('[data-testid="stMarkdownContainer"] strong')]
    .map(e => e.textContent).find(t => /^(forward|backward) \\d+ of \\d+: node /.test(t));
  return label === undefined ? null : label;
}""".replace("IDLE", IDLE)
# The diagram's node titles: every node of the student's own graph is there (drawn), and none is foreign
# (another student's graph). The diagram draws in the browser after the run, so "drawn" is waited for.
TITLES = """[...document.querySelectorAll(':is(.gl-stage, [data-testid="stGraphVizChart"]) svg g.node > title')]
  .map(t => t.textContent)"""
DRAWN = f"(names) => {{ const titles = new Set({TITLES}); return names.every(n => titles.has(n)); }}"
FOREIGN = f"(names) => {TITLES}.filter(t => !names.includes(t))"


@contextlib.contextmanager
def serve(log_path: Path, timeout: float = 120, settings: dict[str, str] | None = None,
          processes: int = 1) -> Iterator[tuple[str, int]]:
    """`graphlab app` on a free local port (``settings``: Streamlit options over the shipped ones; ``processes``:
    that many app servers behind its proxy), healthy: yields (its URL, its pid); always stops it."""
    port = free_port()
    command = [sys.executable, "-m", "graphlab.cli", "app", "--port", str(port), "--headless",
               *(["--processes", str(processes)] if processes > 1 else []), "--",
               "--server.address", "127.0.0.1", *(a for k, v in (settings or {}).items() for a in (f"--{k}", v))]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)
    try:
        try:  # the app's own readiness check (`graphlab app --processes` waits for its servers with it)
            wait_ready([port], [proc], timeout)
        except GraphlabError as e:
            raise RuntimeError(f"{e}:\n{log_path.read_text()}") from None
        # `graphlab app` becomes the server (execv), or starts the servers behind its proxy
        yield f"http://127.0.0.1:{port}", proc.pid
    finally:
        stop([proc])


def _tree(pid: int) -> list[int]:
    """``pid`` and every process under it (Linux /proc): the servers `graphlab app --processes N` started."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        found.append(todo.pop())
        todo += children.get(found[-1], [])
    return found


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of the process and those under it (Linux /proc)."""
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


def memory_mb(pid: int) -> dict[str, float]:
    """Resident memory now and at its peak, in MB, summed over the process and those under it (Linux /proc)."""
    rss = peak = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            status = dict(line.split(":", 1) for line in Path(f"/proc/{p}/status").read_text().splitlines()
                          if ":" in line)
            rss, peak = rss + int(status["VmRSS"].split()[0]), peak + int(status["VmHWM"].split()[0])
    return {"rss": rss / 1024, "peak": peak / 1024}


def node_names(expr: str) -> list[str]:
    import graphlab as gl

    return sorted(map(str, gl.graph(expr).nodes))


class Phases:
    """Where a scenario's stepping students wait for each other: all have opened and typed before anyone steps
    (``stepping``), and all have stepped before anyone switches tabs (``stepped``), so the server's CPU time
    between the two is the steps'. A student who fails counts as arrived everywhere it had not reached."""

    NAMES = ("stepping", "stepped")

    def __init__(self, students: int, pid: int | None = None):
        self.left = dict.fromkeys(self.NAMES, students)
        self.events = {name: asyncio.Event() for name in self.NAMES}
        self.pid = pid
        self.cpu: dict[str, float] = {}  # the server's CPU seconds when each phase was reached by all

    def _arrive(self, name: str) -> None:
        self.left[name] -= 1
        if self.left[name] == 0:
            if self.pid is not None:
                self.cpu[name] = cpu_seconds(self.pid)
            self.events[name].set()

    def student(self) -> Student:
        return Student(self)

    def steps_cpu(self) -> float | None:
        return self.cpu["stepped"] - self.cpu["stepping"] if len(self.cpu) == 2 else None


class Student:
    def __init__(self, phases: Phases):
        self.phases, self.reached = phases, set()

    async def reach(self, name: str) -> None:
        self.reached.add(name)
        self.phases._arrive(name)
        await self.phases.events[name].wait()

    def leave(self) -> None:
        for name in Phases.NAMES:
            if name not in self.reached:
                self.reached.add(name)
                self.phases._arrive(name)


class Started:
    """The players who have pressed Play (or given up): the steppers begin once all have."""

    def __init__(self, players: int):
        self.left, self.seen, self.all = players, set(), asyncio.Event()
        if players == 0:
            self.all.set()

    def mark(self, player: object) -> None:
        if player not in self.seen:
            self.seen.add(player)
            self.left -= 1
            if self.left == 0:
                self.all.set()


class Wrong(Exception):
    """A student saw something other than what its action should show (the protocol client's check)."""


def _new_record() -> dict:
    return {"steps": [], "typing": None, "tabs": [], "reruns": 0, "bleed": [], "failed": None}


# --------------------------------------------------------------------------- the browser client
async def _timed(page, act, changed: str, arg=None) -> float:
    """Seconds from ``act()`` until the JS predicate ``changed`` (given ``arg``) holds."""
    start = time.perf_counter()
    await act()
    await page.wait_for_function(changed, arg=arg, timeout=TIMEOUT_MS)
    return time.perf_counter() - start


async def stepper(browser, url: str, example: tuple[str, str, str], phases: Phases | None = None) -> dict:
    """One stepping student in a browser; returns their latencies, whether they ever saw another's graph, and
    whether an action timed out (``failed``: what was measured until then is kept)."""
    from playwright.async_api import TimeoutError as Timeout

    done = _new_record()
    student = (phases or Phases(1)).student()
    try:
        return await _stepper(browser, url, example, done, student)
    except Timeout as e:
        return {**done, "failed": f"{str(e).splitlines()[0]} (after {len(done['steps'])} steps, "
                                  f"{done.get('sent', 0)} reruns sent, {len(done.get('areas', ()))} diagram sizes)"}
    finally:
        student.leave()


async def _stepper(browser, url: str, example: tuple[str, str, str], done: dict, student: Student) -> dict:
    link_expr, at, typed = example
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    page.on("websocket", lambda ws: ws.on("framesent", lambda payload: _sent(payload, done)))
    try:
        await page.goto(f"{url}/?{urlencode({'expr': link_expr, 'at': at})}", timeout=TIMEOUT_MS)
        await page.wait_for_function(f"(names) => ({LABEL})() !== null && ({DRAWN})(names)",
                                     arg=node_names(link_expr), timeout=TIMEOUT_MS)
        foreign = await page.evaluate(FOREIGN, node_names(link_expr))
        done["bleed"] = sorted(set(foreign))
        box = page.get_by_role("textbox", name="Expression")

        async def type_it():
            await box.fill(typed)
            await box.press("Enter")

        done["reruns"] += 2  # the page's first run, and the one its diagram asks for when it reports its size
        done["typing"] = await _timed(page, type_it,
                                      f"(names) => ({LABEL})() !== null && ({DRAWN})(names)", node_names(typed))
        done["reruns"] += 1
        await student.reach("stepping")
        for _ in range(STEPS):
            before = await page.evaluate(LABEL)
            done["reruns"] += 1
            done["steps"].append(await _timed(
                page, lambda: page.get_by_role("button", name="next").click(),
                f"(before) => {{ const l = ({LABEL})(); return l !== null && l !== before; }}", before))
            foreign += await page.evaluate(FOREIGN, node_names(typed))
            done["bleed"] = sorted(set(foreign))
        await student.reach("stepped")
        for tab, shows in TABS:
            done["reruns"] += 1
            done["tabs"].append(await _timed(page, page.get_by_role("tab", name=tab).click, f"""() => ({IDLE})()
              && [...document.querySelectorAll('label, button')].some(e => e.innerText.trim().endsWith({shows!r}))"""))
        return done
    finally:
        await context.close()


def _sent(payload: bytes, done: dict) -> None:
    """A BackMsg the page sent: reruns it asked for are counted (``sent``), with each new size its diagram
    reported (``areas``): what a student that timed out was doing."""
    from streamlit.proto.BackMsg_pb2 import BackMsg

    msg = BackMsg()
    msg.ParseFromString(payload if isinstance(payload, bytes) else payload.encode())
    if msg.WhichOneof("type") == "rerun_script":
        done["sent"] = done.get("sent", 0) + 1
        for widget in msg.rerun_script.widget_states.widgets:
            if widget.id.endswith("-diagram") and widget.json_value not in done.setdefault("areas", []):
                done["areas"].append(widget.json_value)


async def player(browser, url: str, done: asyncio.Event, started: Started | None = None) -> dict:
    """One student training XOR in the Playground in a browser until ``done`` (and for at least MIN_PLAY s);
    returns epochs per second (None, with ``failed``, if an action timed out). Marks itself in ``started`` once
    it has pressed Play (or failed)."""
    from playwright.async_api import TimeoutError as Timeout

    started, token = started or Started(1), object()
    try:
        return await _player(browser, url, done, started, token)
    except Timeout as e:
        return {"epochs_per_second": None, "failed": str(e).splitlines()[0]}
    finally:
        started.mark(token)  # (again, or having failed before Play: the steppers need not wait for it)


async def _player(browser, url: str, done: asyncio.Event, started: Started, token: object) -> dict:
    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    page = await context.new_page()
    epoch = page.locator('[data-testid="stMetric"]').filter(has_text="Epoch").locator(
        '[data-testid="stMetricValue"]')
    try:
        await page.goto(f"{url}/playground?{urlencode(PLAYGROUND)}", timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Play").wait_for(timeout=TIMEOUT_MS)
        await page.wait_for_function(IDLE, timeout=TIMEOUT_MS)
        await page.get_by_role("button", name="Play").click()
        start = time.perf_counter()
        started.mark(token)
        await asyncio.gather(done.wait(), asyncio.sleep(MIN_PLAY))
        epochs = int((await epoch.inner_text(timeout=TIMEOUT_MS)).replace(",", ""))
        seconds = time.perf_counter() - start
        await page.get_by_role("button", name="Pause").click(timeout=TIMEOUT_MS)
        return {"epochs_per_second": epochs / seconds, "failed": None}
    finally:
        await context.close()


async def _visit(browser, url: str, i: int) -> bool:
    """A student who opens the lecture's example at their own values, sees the diagram and leaves; False if
    the diagram did not come within TIMEOUT_MS."""
    from playwright.async_api import TimeoutError as Timeout

    context = await browser.new_context(viewport={"width": 1366, "height": 768})
    try:
        page = await context.new_page()
        await page.goto(f"{url}/?{urlencode({'expr': '(x+y)z', 'at': f'x={i},y=5,z=-4'})}", timeout=TIMEOUT_MS)
        await page.wait_for_function(DRAWN, arg=node_names("(x+y)z"), timeout=TIMEOUT_MS)
        return True
    except Timeout:
        return False
    finally:
        await context.close()


# --------------------------------------------------------------------------- the protocol client
STEP_LABEL = re.compile(r"\*\*((?:forward|backward) \d+ of \d+: node [^*]+)\*\*")
AREA = {"w": 906, "h": 553}  # what the diagram reports in a 1366 x 768 browser window


def step_label(run) -> str | None:
    return next((m[1] for body in run.markdown() if (m := STEP_LABEL.fullmatch(body.strip()))), None)


def _drawn(run, expr: str) -> list[str]:
    """The nodes of ``run``'s diagram that are not ``expr``'s (another student's), after checking that every
    node of ``expr`` is drawn and that the step label is there."""
    names, drawn = node_names(expr), set(run.drawn_nodes("diagram"))
    if step_label(run) is None or not set(names) <= drawn:
        raise Wrong(f"{expr}: no step label, or nodes {sorted(set(names) - drawn)} not drawn")
    return sorted(drawn - set(names))


async def protocol_stepper(url: str, example: tuple[str, str, str], phases: Phases | None = None) -> dict:
    """One stepping student over Streamlit's protocol (no browser); the same record as ``stepper``'s. An
    action that does not finish within TIMEOUT_MS, or shows something else than it should (the step label
    unchanged, the diagram without the student's nodes), ends the student with ``failed``."""
    from benchmarks.protocol import ProtocolError

    done = _new_record()
    student = (phases or Phases(1)).student()
    try:
        return await _protocol_stepper(url, example, done, student)
    except (TimeoutError, ProtocolError, Wrong, OSError) as e:
        return {**done, "failed": f"{type(e).__name__}: {e}".splitlines()[0]}
    finally:
        student.leave()


async def _timed_run(action) -> tuple[float, object]:
    start = time.perf_counter()
    run = await action
    return time.perf_counter() - start, run


async def _protocol_stepper(url: str, example: tuple[str, str, str], done: dict, student: Student) -> dict:
    from benchmarks.protocol import Session

    link_expr, at, typed = example
    async with Session(url, "/", urlencode({"expr": link_expr, "at": at}), timeout=TIMEOUT_MS / 1e3) as page:
        bleed = _drawn(page.last, link_expr)
        await page.component_state("diagram", {"area": AREA})
        done["reruns"] += 2
        done["typing"], run = await _timed_run(page.type("Expression", typed))
        done["reruns"] += 1
        bleed += _drawn(run, typed)
        await student.reach("stepping")
        for _ in range(STEPS):
            before = step_label(run)
            seconds, run = await _timed_run(page.click("next"))
            done["reruns"] += 1
            bleed += _drawn(run, typed)
            if step_label(run) == before:
                raise Wrong(f"the step label stayed {before!r} after next")
            done["steps"].append(seconds)
            done["bleed"] = sorted(set(bleed))
        await student.reach("stepped")
        for tab, shows in TABS:
            seconds, run = await _timed_run(page.tab("tab", tab))
            done["reruns"] += 1
            if not any(str(getattr(proto, "label", "")).strip().endswith(shows) for _, proto in run.widgets()):
                raise Wrong(f"the tab {tab!r} shows no {shows!r}")
            done["tabs"].append(seconds)
    return done


async def protocol_player(url: str, done: asyncio.Event, started: Started | None = None) -> dict:
    """One student training XOR in the Playground over Streamlit's protocol until ``done`` (and for at least
    MIN_PLAY s): Play, then the fragment's timer reruns as a shown browser tab sends them, then Pause; epochs
    per second from the epoch the Pause run shows (None, with ``failed``, if an action timed out). Marks itself in
    ``started`` once it has pressed Play (or failed)."""
    from benchmarks.protocol import ProtocolError, Session

    started, token, doing = started or Started(1), object(), "opening the Playground"
    try:
        async with Session(url, "/playground", urlencode(PLAYGROUND), timeout=TIMEOUT_MS / 1e3) as page:
            doing = "Play"
            await page.click("Play")
            start = time.perf_counter()
            started.mark(token)
            await asyncio.gather(done.wait(), asyncio.sleep(MIN_PLAY))
            seconds = time.perf_counter() - start
            doing = "Pause"
            run = await page.click("Pause")
            # A timer's rerun of the views already asked for when Pause's whole-page run starts is not run inside
            # it: Streamlit leaves the fragment's place empty and runs the fragment right after, so the epoch may
            # come in the runs that follow (the page's own timeout bounds the wait).
            doing = "the views after Pause"
            while run.metric("Epoch") is None:
                run = await page.finished()
                if not run.fragment:
                    raise Wrong("no epoch shown after Pause")
            epochs = run.metric("Epoch")
            return {"epochs_per_second": int(epochs.replace(",", "")) / seconds, "ticks": page.auto_reruns,
                    "failed": None}
    except (TimeoutError, ProtocolError, Wrong, OSError) as e:
        return {"epochs_per_second": None, "failed": f"{doing}: {type(e).__name__}: {e}".splitlines()[0]}
    finally:
        started.mark(token)  # (again, or having failed before Play: the steppers need not wait for it)


async def protocol_visit(url: str, i: int) -> bool:
    from benchmarks.protocol import ProtocolError, Session

    try:
        async with Session(url, "/", urlencode({"expr": "(x+y)z", "at": f"x={i},y=5,z=-4"}),
                           timeout=TIMEOUT_MS / 1e3) as page:
            _drawn(page.last, "(x+y)z")
        return True
    except (TimeoutError, ProtocolError, Wrong, OSError):
        return False


# --------------------------------------------------------------------------- scenarios
TABS = (("Forward mode", "Forward step"), ("Step through", "next"))  # a tab, and text only that tab has


class Client:
    """How the students reach the server: ``step(url, example, phases)``, ``play(url, done, started)``,
    ``visit(url, i)``."""

    def __init__(self, name: str, browser=None):
        self.name = name
        if name == "browser":
            self.step = lambda url, example, phases: stepper(browser, url, example, phases)
            self.play = lambda url, done, started: player(browser, url, done, started)
            self.visit = lambda url, i: _visit(browser, url, i)
        else:
            self.step, self.play, self.visit = protocol_stepper, protocol_player, protocol_visit


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[q - 1] if len(values) > 1 else values[0]


async def _scenario(client: Client, url: str, pid: int, steppers: int, players: int) -> dict:
    done, started = asyncio.Event(), Started(players)
    load = os.getloadavg()[0]
    playing = [asyncio.create_task(client.play(url, done, started)) for _ in range(players)]
    await started.all.wait()  # the steppers come once every player has pressed Play (or failed to)
    cpu, wall = cpu_seconds(pid), time.perf_counter()
    phases = Phases(steppers, pid)
    stepping = await asyncio.gather(*(client.step(url, EXAMPLES[i % len(EXAMPLES)], phases)
                                      for i in range(steppers)))
    cpu, wall = cpu_seconds(pid) - cpu, time.perf_counter() - wall
    done.set()
    played = await asyncio.gather(*playing)
    steps = [s for r in stepping for s in r["steps"]]
    reruns = sum(r["reruns"] for r in stepping)
    tabs = [t for r in stepping for t in r["tabs"]]
    typing = [r["typing"] for r in stepping if r["typing"] is not None]
    steps_cpu = phases.steps_cpu()
    row = {"client": client.name, "sessions": steppers + players, "steppers": steppers, "players": players,
           "step_p50": statistics.median(steps) if steps else None,
           "step_p95": percentile(steps, 95) if steps else None,
           "tab_p50": statistics.median(tabs) if tabs else None,
           "typing_p50": statistics.median(typing) if typing else None,
           # the server's CPU between all having typed and all having stepped, per step taken (players' too)
           "server_cpu_per_step": steps_cpu / len(steps) if steps and steps_cpu is not None else None,
           "server_cpu_per_rerun": cpu / reruns if reruns else None, "server_cpu_share": cpu / wall,
           "bleed": sorted({n for r in stepping for n in r["bleed"]}),
           # students whose action timed out (after TIMEOUT_MS) or showed the wrong thing: each stopped there
           "failed": sum(r["failed"] is not None for r in (*stepping, *played)),
           "failures": sorted({r["failed"] for r in (*stepping, *played) if r["failed"]})[:3],
           "load_average": [round(load, 2), round(os.getloadavg()[0], 2)],
           # the browser client: reruns each student's page asked for (11 expected: open, its diagram's size,
           # typing, 6 steps, 2 tabs), and the most diagram sizes one reported
           **({"reruns_sent": sorted(r.get("sent", 0) for r in stepping),
               "diagram_sizes": max(len(r.get("areas", ())) for r in stepping)} if client.name == "browser" else {}),
           **{f"memory_{k}": v for k, v in memory_mb(pid).items()}}
    if played:
        rates = [p["epochs_per_second"] for p in played if p["epochs_per_second"] is not None]
        row["epochs_per_second"] = statistics.median(rates) if rates else None
        row["epochs_per_second_min"] = min(rates) if rates else None  # the least served player: fairness
    return row


async def _churn(client: Client, url: str, pid: int, total: int = CHURN, wave: int = 10) -> dict:
    """``total`` students come and go, ``wave`` at a time, each with their own values (new cache entries):
    the server's memory once the first wave's sessions are freed, and once all are."""
    settle = SESSION_TTL + 3  # the server frees a closed tab's session this long after it closes

    failed = 0

    async def waves(first: int, last: int) -> dict:
        nonlocal failed
        for start in range(first, last, wave):
            seen = await asyncio.gather(*(client.visit(url, i) for i in range(start, min(start + wave, last))))
            failed += seen.count(False)
        await asyncio.sleep(settle)
        return memory_mb(pid)

    first = await waves(0, wave)
    last = await waves(wave, total)
    return {"client": client.name, "memory_first": first["rss"], "memory_last": last["rss"],
            "memory_growth": last["rss"] / first["rss"], "memory_peak": last["peak"], "failed": failed}


def _said(label: str, row: dict) -> dict:
    """``row``, also written to stderr as it comes: a long run shows its progress."""
    print(f"app_load {label}: {json.dumps(row)}", file=sys.stderr, flush=True)
    return row


async def _rows(client: Client, url: str, pid: int, sessions: tuple[int, ...], players: bool, churn: bool,
                warm: bool = True, players_only: bool = False) -> dict:
    out = {}
    if warm:
        await _scenario(client, url, pid, 1, 0)  # warm: imports and the first run's caches
    for n in () if players_only else sessions:
        out[f"{n} stepping"] = _said(f"{n} stepping", await _scenario(client, url, pid, n, 0))
    if players:
        n = max(1, max(sessions) // 4)
        label = f"{n} playing + {n} stepping"
        out[label] = _said(label, await _scenario(client, url, pid, n, n))
    if churn:
        label = f"{CHURN} sessions come and go"
        out[label] = _said(label, await _churn(client, url, pid))
    return out


async def _run(client: str, sessions: tuple[int, ...], players: bool, churn: bool, warm: bool, log_path: Path,
               processes: int = 1, players_only: bool = False) -> dict:
    settings = {"server.disconnectedSessionTTL": str(SESSION_TTL)}
    with serve(log_path, settings=settings, processes=processes) as (url, pid):
        if client != "browser":
            return await _rows(Client(client), url, pid, sessions, players, churn, warm, players_only)
        from playwright.async_api import async_playwright

        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
            try:
                return await _rows(Client(client, browser), url, pid, sessions, players, churn, warm, players_only)
            finally:
                await browser.close()


def run(quick: bool = False, sessions: tuple[int, ...] | None = None, players: bool = True,
        churn: bool | None = None, client: str = "protocol", warm: bool | None = None, processes: int = 1,
        players_only: bool = False) -> dict:
    """The table: one row per number of concurrent sessions (``quick``: 1 and 2 only), then a quarter of
    the most sessions playing the Playground beside as many stepping (``quick``: one and one), then
    (not ``quick``) the memory as 200 sessions come and go. ``client``: "protocol" (Streamlit's websocket
    protocol, no browser) or "browser" (headless Chromium; {} when it or Playwright is missing). ``warm`` (not
    ``quick``, unless given): one student steps first, unmeasured (imports, the first run's caches).
    ``processes``: the app served by that many servers behind `graphlab app --processes`' proxy (each row says
    so; the server's CPU and memory are those of all of them). ``players_only``: only the row of players beside
    steppers (`python -m benchmarks --case app_load --players-only`: 8 + 8; no churn unless asked for)."""
    if client not in CLIENTS:
        raise ValueError(f"client must be one of {', '.join(CLIENTS)}")
    if client == "browser":
        if not (Path(CHROMIUM).is_file()):
            return {}
        try:
            import playwright  # noqa: F401
        except ImportError:
            return {}
    sessions = sessions or ((1, 2) if quick else SESSIONS)
    log = Path(tempfile.gettempdir()) / f"graphlab-app-load-{os.getpid()}.log"  # the server's output, if it fails
    churn = not (quick or players_only) if churn is None else churn
    rows = asyncio.run(_run(client, tuple(sessions), players, churn, not quick if warm is None else warm, log,
                            processes, players_only))
    return {label: {**row, "processes": processes} for label, row in rows.items()}
