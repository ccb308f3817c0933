"""Several app servers behind one address (`graphlab app --processes N`): each session stays on its server."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
from conftest import run_coroutine

from graphlab import proxy
from graphlab.cli import main


# ----------------------------------------------------------------------------- the pieces, without servers
def test_the_cookie_names_a_server_only_when_it_is_one_of_them():
    head = b"GET / HTTP/1.1\r\nHost: x\r\nCookie: a=1; graphlab_server=1; b=2\r\n\r\n"
    assert proxy.sticky(head, 2) == 1
    assert proxy.sticky(head, 1) is None  # server 1 of one: not one of them
    assert proxy.sticky(b"GET / HTTP/1.1\r\nCookie: graphlab_server=x\r\n\r\n", 2) is None
    assert proxy.sticky(b"GET / HTTP/1.1\r\nCookie: my_graphlab_server=1\r\n\r\n", 2) is None
    assert proxy.sticky(b"GET / HTTP/1.1\r\nX-Cookie: graphlab_server=1\r\n\r\n", 2) is None


def test_new_students_go_round_the_servers_and_to_the_least_busy():
    backends = proxy.Backends([1, 2, 3])
    new = b"GET / HTTP/1.1\r\n\r\n"
    assert [backends.pick(new) for _ in range(4)] == [(0, True), (1, True), (2, True), (0, True)]
    backends.open = [5, 0, 3]
    assert backends.pick(new) == (1, True)
    assert backends.pick(b"GET / HTTP/1.1\r\nCookie: graphlab_server=2\r\n\r\n") == (2, False)


def test_a_response_names_its_server_and_sets_the_cookie_once():
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
    marked = proxy.mark(head, 1, True)
    assert marked.startswith(b"HTTP/1.1 200 OK\r\nX-Graphlab-Server: 1\r\nSet-Cookie: graphlab_server=1; Path=/")
    assert marked.endswith(b"Content-Length: 0\r\n\r\n")
    assert b"Set-Cookie" not in proxy.mark(head, 1, False)


def _fetch(url: str, cookie: str | None = None) -> tuple[int, dict[str, str], bytes]:
    request = urllib.request.Request(url, headers={"Cookie": cookie} if cookie else {})
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, dict(r.headers), r.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def test_a_server_that_is_down_gets_a_one_line_502():
    dead = proxy.free_port()
    port = proxy.free_port()

    async def scenario():
        started = asyncio.Event()
        task = asyncio.ensure_future(proxy.serve([dead], port, "127.0.0.1", started.set))
        await started.wait()
        result = await asyncio.to_thread(_fetch, f"http://127.0.0.1:{port}/")
        task.cancel()
        return result

    status, _, body = run_coroutine(scenario())
    assert status == 502
    assert body.decode().strip() == f"app server 0 (port {dead}) is down"


def test_processes_out_of_range_or_a_private_port_are_refused_in_one_line(capsys):
    assert main(["app", "--processes", "0"]) == 2
    assert main(["app", "--processes", "2", "--", "--server.port", "9000"]) == 2
    err = capsys.readouterr().err
    assert "--processes must be between 1 and 64, not 0" in err
    assert "give the public port as --port" in err
    assert "Traceback" not in err


# ----------------------------------------------------------------------------- two real servers
async def _session(port: int, cookie: str | None) -> bytes:
    """Open a Streamlit session over the proxy's WebSocket and run the page once; the ForwardMsgs' bytes."""
    import websockets
    from streamlit.proto.BackMsg_pb2 import BackMsg
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    headers = {"Cookie": cookie} if cookie else None
    async with websockets.connect(f"ws://127.0.0.1:{port}/_stcore/stream", subprotocols=["streamlit"],
                                  additional_headers=headers, max_size=None) as ws:
        back = BackMsg()
        back.rerun_script.query_string = ""
        back.rerun_script.page_script_hash = ""
        await ws.send(back.SerializeToString())
        seen = []
        while True:
            data = await asyncio.wait_for(ws.recv(), 60)
            seen.append(data)
            msg = ForwardMsg()
            msg.ParseFromString(data)
            if msg.WhichOneof("type") == "script_finished":
                return b"".join(seen)


@pytest.mark.skipif(sys.platform == "win32", reason="SIGTERM")
def test_two_servers_behind_one_address_keep_each_session_on_its_server():
    port = proxy.free_port()
    launcher = subprocess.Popen([sys.executable, "-m", "graphlab.cli", "app", "--processes", "2", "--port", str(port),
                                 "--headless"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                start_new_session=True)
    try:
        deadline, private = time.monotonic() + 90, []
        for line in launcher.stdout:
            if "starting 2 app servers (ports" in line:
                private = [int(p) for p in re.findall(r"\d+", line.split("ports")[1])]
            if "app servers behind" in line:
                break
            assert time.monotonic() < deadline and launcher.poll() is None, line
        assert len(private) == 2
        base = f"http://127.0.0.1:{port}"
        # two students open the page: each gets a server of their own and a cookie naming it
        first, second = (_fetch(base + "/") for _ in range(2))
        assert first[0] == second[0] == 200 and b"<html" in first[2].lower()
        servers = {first[1]["X-Graphlab-Server"], second[1]["X-Graphlab-Server"]}
        assert servers == {"0", "1"}
        cookie = first[1]["Set-Cookie"].split(";")[0]
        # everything that student asks for goes to the same server, without a new cookie
        for _ in range(3):
            status, headers, body = _fetch(base + "/_stcore/health", cookie)
            assert (status, body) == (200, b"ok")
            assert headers["X-Graphlab-Server"] == first[1]["X-Graphlab-Server"] and "Set-Cookie" not in headers
        # the page runs through the proxy's WebSocket, on both servers
        for which in ("graphlab_server=0", "graphlab_server=1"):
            page = run_coroutine(_session(port, which))
            assert b"graphlab" in page.lower()
        # SIGTERM (or Ctrl-C) to the launcher stops every server it started, quietly, open connections or not
        idle = socket.create_connection(("127.0.0.1", port), timeout=5)
        idle.sendall(b"GET / HTTP/1.1\r\n")  # a head never finished
        streaming = socket.create_connection(("127.0.0.1", port), timeout=5)
        streaming.sendall(b"GET /_stcore/health HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200 OK" in streaming.recv(4096)  # kept alive: the connection stays open
        launcher.terminate()
        assert launcher.wait(30) == 0
        idle.close(), streaming.close()
        said = launcher.stdout.read()
        assert "Traceback" not in said, said
        for p in private:
            with pytest.raises(OSError):
                socket.create_connection(("127.0.0.1", p), timeout=2).close()
    finally:
        if launcher.poll() is None or private:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(launcher.pid, signal.SIGKILL)  # whatever is left of the group, if the test failed
        launcher.wait(30)
        launcher.stdout.close()


def test_each_server_gets_the_app_settings_on_a_private_address(monkeypatch):
    from graphlab import cli

    seen = {}

    def fake_run(command, count, port, host, browser):
        seen.update(command=command(12345), count=count, port=port, host=host, browser=browser)
        return 0

    monkeypatch.setattr(proxy, "run", fake_run)
    assert cli.main(["app", "--processes", "3", "--port", "8600", "--", "--server.address", "0.0.0.0",
                     "--server.maxUploadSize=20"]) == 0
    command = seen["command"]
    assert (seen["count"], seen["port"], seen["host"], seen["browser"]) == (3, 8600, "0.0.0.0", True)
    assert command[command.index("--server.port") + 1] == "12345"
    assert command[command.index("--server.address") + 1] == "127.0.0.1"  # only the proxy is public
    assert command.count("--server.address") == 1 and "--server.maxUploadSize=20" in command
    assert command[command.index("--server.headless") + 1] == "true"
    for option, value in cli.SERVER_SETTINGS.items():
        assert command[command.index(f"--{option}") + 1] == value
