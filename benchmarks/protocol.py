"""A Streamlit session without a browser: the app's own websocket protocol, spoken as its frontend speaks it.

A browser tab holds one websocket to ``/_stcore/stream`` (subprotocol ``streamlit``). It sends ``BackMsg``s
(``streamlit.proto.BackMsg_pb2``) and reads ``ForwardMsg``s (``ForwardMsg_pb2``). Here, as in Streamlit's
frontend (``App.tsx``: ``sendRerunBackMsg``, ``handleAutoRerun``):

- opening the page sends one ``rerun_script`` with the link's query string, the page's name taken from its
  path (``playground``) and no page hash; each later rerun sends the page hash that ``navigation`` gave,
  the query string that the last ``page_info_changed`` set, the hashes of the messages it keeps
  (``cached_message_hashes``, so the server sends a ``ref_hash`` in place of a message already held), and
  the widget states;
- a run's elements come as ``delta``s at ``metadata.delta_path``; each widget element carries its ``id``
  (a keyed widget's ends with ``-KEY``), which the widget state names;
- a widget drawn by a fragment (its delta's ``fragment_id``) reruns that fragment alone: its rerun carries
  the fragment's id, as the frontend's widgets do;
- a click is a ``trigger_value``, typing a ``string_value``, a tab a ``string_value`` with its label, a
  components-v2 component's state a ``json_value``;
- ``auto_rerun`` (``st.fragment(run_every=...)``) starts a timer that sends ``rerun_script`` with the
  fragment's id and ``is_auto_rerun`` every ``interval`` seconds, whether or not a run is going on; a run
  of the whole page (``new_session`` with no fragment ids) or ``stop_auto_rerun`` ends it.

Widget values are kept as the frontend's WidgetStateManager keeps them: a widget first seen takes the value
its element carries (``value``/``raw_value`` when the server set it, else its ``default``), an element with
``set_value`` overrides it, a value this client sets replaces it, and every shown widget's value goes with
every rerun (the server relies on that: a widget whose value only session state gave, and no client echoed,
comes back empty). A click (``trigger_value``) is sent once. After a run of the whole page, the widgets it
did not draw are forgotten.

The socket is the ``websockets`` library's asyncio client: Streamlit itself depends on it (its server runs on
Starlette and uvicorn, no longer on Tornado), so the client adds no dependency.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState

RUN_DONE = (ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
            ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY)  # FINISHED_EARLY_FOR_RERUN: another run follows
SVG_NODE = re.compile(r'<g id="node\d+" class="node[^"]*">\s*<title>([^<]*)</title>')


@dataclass
class Run:
    """One script run as the session saw it: its elements by delta path, and how it ended."""

    fragment_ids: tuple[str, ...] = ()  # the fragments a fragment run ran (none: a run of the whole page)
    elements: dict[tuple[int, ...], object] = field(default_factory=dict)  # path -> Element or Block proto
    status: int | None = None

    @property
    def fragment(self) -> bool:
        return bool(self.fragment_ids)

    def widgets(self):
        for element in self.elements.values():
            kind = element.WhichOneof("type")
            proto = getattr(element, kind) if kind else None
            if proto is not None and hasattr(proto, "id") and proto.id:
                yield kind, proto

    def markdown(self) -> list[str]:
        return [e.markdown.body for e in self.elements.values() if e.WhichOneof("type") == "markdown"]

    def metric(self, label: str) -> str | None:
        return next((e.metric.body for e in self.elements.values()
                     if e.WhichOneof("type") == "metric" and e.metric.label == label), None)

    def component_data(self, key: str) -> dict | None:
        """The data a components-v2 component (``bidi_component``) with this key was given."""
        for kind, proto in self.widgets():
            if kind == "bidi_component" and proto.id.endswith(f"-{key}"):
                return json.loads(proto.json or proto.mixed.json or "null")
        return None

    def drawn_nodes(self, key: str) -> list[str]:
        """The node titles of the SVG diagram that the component ``key`` was given."""
        data = self.component_data(key) or {}
        return SVG_NODE.findall(data.get("svg", ""))


class ProtocolError(RuntimeError):
    """The server did not answer as the protocol says (a widget not found, the socket closed)."""


class Session:
    """One browser tab's Streamlit session, driven over the websocket. ``async with Session(url, path, query)``
    opens the page and waits for its first run; ``await session.click("next")`` etc. rerun it."""

    def __init__(self, url: str, path: str = "/", query: str = "", timeout: float = 60.0,
                 open_timeout: float | None = None):
        parts = urlsplit(url)
        self.ws_url = f"ws://{parts.netloc}/_stcore/stream"
        self.page_url = f"{url.rstrip('/')}{path}"
        self.page_name = path.strip("/")
        self.query = query
        self.timeout, self.open_timeout = timeout, open_timeout or timeout
        self.page_hash = ""
        self.last: Run | None = None  # the last full run of the page
        self.last_fragment: Run | None = None
        self.states: dict[str, WidgetState] = {}  # every shown widget's value, as the frontend holds them
        self.fragment_of: dict[str, str] = {}  # widget id -> the fragment that drew it ("": the page)
        self._cache: dict[str, ForwardMsg] = {}  # cacheable messages by hash, as the frontend keeps them
        self._run = Run()
        self._finished: asyncio.Queue[Run] = asyncio.Queue()
        self._timers: dict[str, asyncio.Task] = {}
        self._reader: asyncio.Task | None = None
        self._ws = None
        self.auto_reruns = 0  # timer reruns sent

    # ------------------------------------------------------------------ connection
    async def __aenter__(self) -> Session:
        from websockets.asyncio.client import connect

        self._ws = await asyncio.wait_for(connect(self.ws_url, subprotocols=["streamlit"], max_size=None),
                                          self.open_timeout)
        self._reader = asyncio.create_task(self._read())
        await self._send_rerun(first=True)
        await self.finished(self.open_timeout)
        return self

    async def __aexit__(self, *exc) -> None:
        for task in (*self._timers.values(), self._reader):
            if task is not None:
                task.cancel()
        if self._ws is not None:
            await self._ws.close()

    async def _read(self) -> None:
        async for payload in self._ws:
            msg = ForwardMsg()
            msg.ParseFromString(payload)
            self._receive(msg)
        self._finished.put_nowait(Run(status=-1))  # closed: whoever waits hears of it

    def _receive(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "ref_hash":  # a message this client said it keeps
            cached = self._cache[msg.ref_hash]
            metadata = msg.metadata
            msg = ForwardMsg()
            msg.CopyFrom(cached)
            msg.metadata.CopyFrom(metadata)
            kind = msg.WhichOneof("type")
        elif msg.metadata.cacheable and msg.hash:
            self._cache[msg.hash] = msg
        if kind == "navigation":  # the page that runs (new_session names the entry script, which navigates)
            self.page_hash = msg.navigation.page_script_hash
        elif kind == "new_session":
            fragment_ids = tuple(msg.metadata.run.fragment_ids)
            if not fragment_ids:  # a run of the whole page ends the timers; its fragments start them anew
                for task in self._timers.values():
                    task.cancel()
                self._timers.clear()
            self._run = Run(fragment_ids=fragment_ids)
        elif kind == "delta":
            delta = msg.delta
            which = delta.WhichOneof("type")
            if which in ("new_element", "add_block"):
                element = getattr(delta, which)
                self._run.elements[tuple(msg.metadata.delta_path)] = element
                kind = element.WhichOneof("type")
                if kind:
                    proto = getattr(element, kind)
                    if getattr(proto, "id", ""):
                        self.fragment_of[proto.id] = delta.fragment_id
                    state = widget_value(kind, proto)
                    if state is not None and (state.id not in self.states or getattr(proto, "set_value", False)):
                        self.states[state.id] = state
        elif kind == "page_info_changed":
            self.query = msg.page_info_changed.query_string
        elif kind == "auto_rerun":
            fragment_id = msg.auto_rerun.fragment_id
            if fragment_id not in self._timers:
                self._timers[fragment_id] = asyncio.create_task(self._timer(fragment_id, msg.auto_rerun.interval))
        elif kind == "stop_auto_rerun":
            for fragment_id in msg.stop_auto_rerun.fragment_ids:
                task = self._timers.pop(fragment_id, None)
                if task is not None:
                    task.cancel()
        elif kind == "script_finished" and msg.script_finished in RUN_DONE:
            self._run.status = msg.script_finished
            if self._run.fragment:
                self.last_fragment = self._run
            else:
                self.last, self.last_fragment = self._run, None  # a page's run runs its fragments too
                shown = {proto.id for _, proto in self._run.widgets()}
                self.states = {i: state for i, state in self.states.items() if i in shown}
            self._finished.put_nowait(self._run)

    async def _timer(self, fragment_id: str, interval: float) -> None:
        while True:  # setInterval: on time, whether or not the last run is over
            await asyncio.sleep(interval)
            self.auto_reruns += 1
            await self._send_rerun(fragment_id=fragment_id, auto=True)

    async def _send_rerun(self, first: bool = False, fragment_id: str = "", auto: bool = False) -> None:
        msg = BackMsg()
        rerun = msg.rerun_script
        rerun.query_string = self.query
        if first:
            rerun.page_name = self.page_name
        else:
            rerun.page_script_hash = self.page_hash
            rerun.cached_message_hashes.extend(self._cache)
        rerun.widget_states.widgets.extend(self.states.values())
        if fragment_id:
            rerun.fragment_id, rerun.is_auto_rerun = fragment_id, auto
        rerun.context_info.timezone, rerun.context_info.locale = "UTC", "en-US"
        rerun.context_info.url = self.page_url
        await self._ws.send(msg.SerializeToString())
        for state in [s for s in self.states.values() if s.WhichOneof("value") == "trigger_value"]:
            del self.states[state.id]  # a click is sent once, as the frontend resets its triggers

    async def finished(self, timeout: float | None = None) -> Run:
        """The next run to finish (of the page or of a fragment)."""
        try:
            run = await asyncio.wait_for(self._finished.get(), timeout or self.timeout)
        except TimeoutError:
            raise TimeoutError(f"no run finished within {timeout or self.timeout:.0f} s") from None
        if run.status == -1:
            raise ProtocolError("the server closed the session")
        return run

    async def rerun(self, state: WidgetState | None = None) -> Run:
        """Sends the widget ``state`` with a rerun, as a widget's change does: of the fragment that drew the
        widget, else of the whole page; returns that run once it has finished (other fragments' runs meanwhile,
        a timer's, are skipped)."""
        fragment_id = ""
        if state is not None:
            self.states[state.id] = state
            fragment_id = self.fragment_of.get(state.id, "")
        while not self._finished.empty():  # runs that finished before this rerun was asked for
            self._finished.get_nowait()
        await self._send_rerun(fragment_id=fragment_id)
        while True:
            run = await self.finished()
            if (fragment_id in run.fragment_ids) if fragment_id else not run.fragment:
                return run

    # ------------------------------------------------------------------ widgets
    def widget_id(self, label: str | None = None, key: str | None = None, kind: str | None = None) -> str:
        """The id of the widget on the last page run with this label (and/or key, type)."""
        runs = [r for r in (self.last_fragment, self.last) if r is not None]
        for run in runs:
            for widget_kind, proto in run.widgets():
                if kind is not None and widget_kind != kind:
                    continue
                if label is not None and getattr(proto, "label", None) != label:
                    continue
                if key is not None and not proto.id.endswith(f"-{key}"):
                    continue
                return proto.id
        raise ProtocolError(f"no widget {label or key!r} on the page")

    async def click(self, label: str, key: str | None = None) -> Run:
        return await self.rerun(WidgetState(id=self.widget_id(label, key, "button"), trigger_value=True))

    async def type(self, label: str, text: str) -> Run:
        return await self.rerun(WidgetState(id=self.widget_id(label, kind="text_input"), string_value=text))

    async def tab(self, key: str, label: str) -> Run:
        return await self.rerun(WidgetState(id=self.widget_id(key=key, kind="tab_container"), string_value=label))

    async def component_state(self, key: str, value: dict) -> Run:
        """A components-v2 component's state, as its ``setStateValue`` reports it."""
        wid = self.widget_id(key=key, kind="bidi_component")
        return await self.rerun(WidgetState(id=wid, json_value=json.dumps(value, separators=(",", ":"))))


def widget_value(kind: str, proto) -> WidgetState | None:
    """The widget state the frontend holds for a widget element when it first draws it: the value the server
    set (``set_value``), else the widget's default; None for a widget that holds no value (a button) or one
    whose default is empty."""
    state = WidgetState(id=getattr(proto, "id", ""))
    if not state.id:
        return None
    set_value = getattr(proto, "set_value", False)
    if kind in ("text_input", "text_area"):
        if set_value:
            state.string_value = proto.value
        elif proto.HasField("default"):
            state.string_value = proto.default
        else:
            return None
    elif kind == "checkbox":
        state.bool_value = proto.value if set_value else proto.default
    elif kind == "number_input":
        if not (set_value or proto.HasField("default")):
            return None
        value = proto.value if set_value else proto.default
        if proto.data_type == proto.INT:
            state.int_value = int(value)
        else:
            state.double_value = value
    elif kind == "slider":
        if proto.type == proto.SELECT_SLIDER:
            state.string_array_value.data.extend(
                proto.raw_value if set_value else [proto.options[int(i)] for i in proto.default])
        else:
            state.double_array_value.data.extend(proto.value if set_value else proto.default)
    elif kind in ("selectbox", "radio"):
        if set_value:
            state.string_value = proto.raw_value
        elif proto.HasField("default"):
            state.string_value = proto.options[proto.default]
        else:
            return None
    elif kind == "multiselect":
        state.string_array_value.data.extend(
            proto.raw_values if set_value else [proto.options[i] for i in proto.default])
    elif kind == "button_group":
        state.string_array_value.data.extend(
            proto.raw_values if set_value else [proto.options[i].content for i in proto.default])
    else:  # buttons (triggers), tabs and components (sent once set), charts, uploads: nothing held
        return None
    return state
