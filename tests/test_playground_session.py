"""The Playground in a real Streamlit session (a Runtime and its AppSession, in a process of their own, with no
browser and no socket): a click's run reaches the browser whole, whatever the views' timer sent before it.

Issue 17: on a busy server, Pause sometimes came back half-applied. The browser's timer sends a tick of the live
views every half second until it hears of the click's run; Streamlit handles a tick that arrives once that run's
script runner has finished, but before the server's event loop has sent what the run drew (the loop lags behind
the scripts when the server is busy), by starting a new runner for the tick and dropping the rest of the run,
its end included. Here that moment is made to happen, not waited for: the event loop is held until the runner's
thread has ended, and the tick is handed to the session then.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
APP = ROOT / "apps" / "graphlab_app.py"
LINK = "data=xor&noise=0&seed=0&layers=4&act=tanh&lr=0.03&batch=10"
WAIT_STEPS = 3000  # a run that never comes back fails after this many polls of 10 ms


def test_pause_comes_back_whole_when_a_tick_of_the_old_timer_arrives_as_its_run_ends():
    done = subprocess.run([sys.executable, __file__], capture_output=True, text=True, timeout=180, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.strip().splitlines()[-1])
    assert seen["timer"], "Play started no timer for the views"
    assert seen["finished"], f"Pause's run never finished; the browser got only {seen['runs']}"
    assert "Play" in seen["buttons"] and "Pause" not in seen["buttons"]  # the page below the sidebar redrawn
    assert seen["epoch"] is not None  # and the views are there


# --------------------------------------------------------------------------- the session, in its own process
class Browser:
    """The session's client: keeps every ForwardMsg the server sends (Streamlit's SessionClient)."""

    def __init__(self):
        self.msgs = []

    def write_forward_msg(self, msg) -> None:
        self.msgs.append(msg)

    @property
    def client_context(self):
        return None


async def scenario() -> dict:
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
    from streamlit.proto.WidgetStates_pb2 import WidgetState
    from streamlit.runtime import Runtime, RuntimeConfig
    from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
    from streamlit.runtime.memory_uploaded_file_manager import MemoryUploadedFileManager

    runtime = Runtime(RuntimeConfig(script_path=str(APP), media_file_storage=MemoryMediaFileStorage("/media"),
                                    uploaded_file_manager=MemoryUploadedFileManager("/upload")))
    await runtime.start()
    browser = Browser()
    session = runtime.connect_session(browser, user_info={})

    def rerun(page: str = "", clicked: str = "", tick: str = "", page_name: str = "") -> int:
        """Sends a rerun as the browser does (a click, or a tick of the views' timer); where its messages begin."""
        msg = BackMsg()
        msg.rerun_script.query_string, msg.rerun_script.page_script_hash = LINK, page
        msg.rerun_script.page_name = page_name
        if clicked:
            msg.rerun_script.widget_states.widgets.append(WidgetState(id=clicked, trigger_value=True))
        if tick:
            msg.rerun_script.fragment_id, msg.rerun_script.is_auto_rerun = tick, True
        start = len(browser.msgs)
        runtime.handle_backmsg(session, msg)
        return start

    def sent(start: int, kind: str) -> list:
        return [m for m in browser.msgs[start:] if m.WhichOneof("type") == kind]

    def elements(start: int, kind: str) -> list:
        return [getattr(m.delta.new_element, kind) for m in sent(start, "delta")
                if m.delta.new_element.WhichOneof("type") == kind]

    def button(start: int, label: str) -> str:
        return next(b.id for b in elements(start, "button") if b.label == label)

    async def finished(start: int) -> bool:
        """Waits for the page run from ``start`` on to finish; False if it never does."""
        for _ in range(WAIT_STEPS):
            if any(m.script_finished == ForwardMsg.FINISHED_SUCCESSFULLY for m in sent(start, "script_finished")):
                return True
            await asyncio.sleep(0.01)
        return False

    start = rerun(page_name="playground")
    assert await finished(start)
    page = sent(start, "navigation")[0].navigation.page_script_hash
    start = rerun(page, clicked=button(start, "Play"))
    assert await finished(start)
    timer = [m.auto_rerun.fragment_id for m in sent(start, "auto_rerun")]
    start = rerun(page, clicked=button(start, "Pause"))
    for thread in threading.enumerate():  # the event loop is held (this coroutine does not yield) until Pause's
        if thread.name == "ScriptRunner.scriptThread":  # run is over: what it drew waits in the loop's queue
            thread.join()
    if timer:
        rerun(page, tick=timer[-1])  # a tick the browser sent before it heard of Pause's run
    ended = await finished(start)
    metrics = {m.label: m.body for m in elements(start, "metric")}
    runtime.stop()
    return {"timer": timer, "finished": ended, "buttons": [b.label for b in elements(start, "button")],
            "epoch": metrics.get("Epoch"),
            "runs": [(m.WhichOneof("type"), list(m.metadata.run.fragment_ids)) for m in browser.msgs[start:]
                     if m.WhichOneof("type") in ("new_session", "script_finished")]}


if __name__ == "__main__":
    print(json.dumps(asyncio.run(scenario())))
