"""How one address serves a class from several app servers, each student's session staying on its server.

``graphlab app --processes N`` starts N Streamlit servers on local ports and this proxy on the public
one. Streamlit keeps a session's state, its uploaded files and its media in the process that served
it, so every request of a browser must reach the same server: the proxy is *sticky*. A connection
without the ``graphlab_server`` cookie goes to the server with the fewest open connections, and the
first response on it sets the cookie; a connection that carries it goes to that server (a browser's
page, its WebSocket at ``/_stcore/stream`` and its uploads all carry it). Bytes are relayed as they
come, so the WebSocket needs nothing special: after the upgrade the connection is a plain pipe.

Only each connection's first request head is read (up to 64 kB); everything after it is copied
unchanged. Standard library only (asyncio): nothing to install, nothing to configure.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import signal
import socket
import subprocess
import time
import urllib.request
import webbrowser
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from .errors import GraphlabError

COOKIE = "graphlab_server"
HEADER = b"X-Graphlab-Server"  # on each connection's first response: which server answered (for tests and logs)
MAX_HEAD = 64 * 1024
CHUNK = 256 * 1024
_quietly = contextlib.suppress(ConnectionError, OSError, RuntimeError)  # the peer went away: nothing to tell
_COOKIE_RE = re.compile(rb"(?:^|;)\s*" + COOKIE.encode() + rb"=(\d{1,4})\s*(?:;|$)")


@dataclass
class Backends:
    """The servers behind the proxy and how many connections each holds now."""

    ports: Sequence[int]
    host: str = "127.0.0.1"
    open: list[int] = field(default_factory=list)  # connections open now, per server
    given: list[int] = field(default_factory=list)  # cookies handed out, per server: ties go round the servers

    def __post_init__(self) -> None:
        self.open, self.given = [0] * len(self.ports), [0] * len(self.ports)

    def pick(self, head: bytes) -> tuple[int, bool]:
        """The server for a connection whose first request head is ``head``, and whether to set the cookie."""
        chosen = sticky(head, len(self.ports))
        if chosen is not None:
            return chosen, False
        server = min(range(len(self.ports)), key=lambda i: (self.open[i], self.given[i], i))
        self.given[server] += 1
        return server, True


def sticky(head: bytes, servers: int) -> int | None:
    """The server named by the ``graphlab_server`` cookie of a request head, if it names one of ``servers``."""
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"cookie":
            match = _COOKIE_RE.search(value.strip())
            if match and int(match.group(1)) < servers:
                return int(match.group(1))
    return None


def mark(head: bytes, server: int, set_cookie: bool) -> bytes:
    """A response head with the server named, and the cookie set when the request had none."""
    extra = HEADER + b": %d\r\n" % server
    if set_cookie:
        extra += b"Set-Cookie: %s=%d; Path=/; SameSite=Lax\r\n" % (COOKIE.encode(), server)
    status, _, rest = head.partition(b"\r\n")
    return status + b"\r\n" + extra + rest


async def _read_head(reader: asyncio.StreamReader) -> bytes | None:
    """Bytes up to and including the blank line that ends an HTTP head; None when the peer closed first."""
    try:
        return await reader.readuntil(b"\r\n\r\n")
    except asyncio.IncompleteReadError:
        return None
    except asyncio.LimitOverrunError:
        raise ValueError("request head over 64 kB") from None


async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Copy ``reader`` to ``writer`` until it ends, then pass the end on (a half-close), or close on an error."""
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
        if writer.can_write_eof():
            writer.write_eof()
    except (ConnectionError, OSError):
        with _quietly:
            writer.close()


def _refuse(writer: asyncio.StreamWriter, status: str, message: str) -> None:
    body = message.encode() + b"\n"
    writer.write(b"HTTP/1.1 %s\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\n"
                 b"Connection: close\r\n\r\n%s" % (status.encode(), len(body), body))


async def _serve(backends: Backends, client_reader: asyncio.StreamReader,
                 client_writer: asyncio.StreamWriter) -> None:
    try:
        head = await _read_head(client_reader)
    except ValueError as e:
        _refuse(client_writer, "431 Request Header Fields Too Large", str(e))
        head = None
    if head is None:
        with _quietly:
            await client_writer.drain()
            client_writer.close()
        return
    server, set_cookie = backends.pick(head)
    try:
        reader, writer = await asyncio.open_connection(backends.host, backends.ports[server], limit=MAX_HEAD)
    except OSError:
        _refuse(client_writer, "502 Bad Gateway", f"app server {server} (port {backends.ports[server]}) is down")
        with _quietly:
            await client_writer.drain()
            client_writer.close()
        return
    backends.open[server] += 1
    upstream = None
    try:
        writer.write(head)
        upstream = asyncio.ensure_future(_pipe(client_reader, writer))
        response = await _read_head(reader)
        if response is not None:
            client_writer.write(mark(response, server, set_cookie))
            await _pipe(reader, client_writer)
    except ValueError:  # a response head over the limit: not from a Streamlit server
        pass
    finally:
        backends.open[server] -= 1
        if upstream is not None:
            upstream.cancel()
        for end in (writer, client_writer):
            with _quietly:
                end.close()


async def serve(ports: Sequence[int], port: int, host: str | None = None,
                listening: Callable[[], object] | None = None, stop: asyncio.Event | None = None) -> None:
    """Listen on ``host:port`` (every interface when ``host`` is None) and relay to the servers on ``ports``,
    until ``stop`` is set (forever without one); then close every connection."""
    backends = Backends(ports)
    connections: set[asyncio.Task] = set()

    async def connected(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        connections.add(task)
        try:
            await _serve(backends, reader, writer)
        except asyncio.CancelledError:  # the proxy is stopping: the connection just ends
            with _quietly:
                writer.close()
        finally:
            connections.discard(task)

    server = await asyncio.start_server(connected, host, port, limit=MAX_HEAD)
    if listening is not None:
        listening()
    try:
        await (stop or asyncio.Event()).wait()
    finally:
        server.close()
        for task in list(connections):
            task.cancel()
        await asyncio.gather(*connections, return_exceptions=True)


# ----------------------------------------------------------------------------- several servers, one address
def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_ready(ports: Sequence[int], processes: Sequence[subprocess.Popen], timeout: float = 120.0) -> None:
    """Return once every server answers its health check; raise naming the first that died or never answered."""
    deadline = time.monotonic() + timeout
    waiting = dict(enumerate(ports))
    while waiting:
        for i, port in list(waiting.items()):
            code = processes[i].poll()
            if code is not None:
                raise GraphlabError(f"app server {i} (port {port}) exited with code {code} before it was ready")
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        del waiting[i]
            except OSError:
                pass
        if waiting and time.monotonic() > deadline:
            raise GraphlabError(f"app servers {sorted(waiting)} did not answer within {timeout:g} s")
        if waiting:
            time.sleep(0.2)


def stop(processes: Sequence[subprocess.Popen], grace: float = 10.0) -> None:
    """Ask every server to stop (SIGTERM), then kill those still running after ``grace`` seconds."""
    for p in processes:
        if p.poll() is None:
            p.terminate()
    deadline = time.monotonic() + grace
    for p in processes:
        try:
            p.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


def run(command: Callable[[int], list[str]], count: int, port: int, host: str | None = None,
        browser: bool = False) -> int:
    """Start ``count`` servers (``command(port)`` each, on a free local port) behind the proxy on ``port``, and
    open the address in a browser if ``browser``.

    Runs until Ctrl-C or SIGTERM, then stops every server it started.
    """
    ports = [free_port() for _ in range(count)]
    processes: list[subprocess.Popen] = []
    where = host if host not in (None, "", "0.0.0.0") else "localhost"

    def listening() -> None:
        print(f"graphlab app: {count} app servers behind http://{where}:{port} (Ctrl-C stops them all)", flush=True)
        if browser:
            webbrowser.open(f"http://{where}:{port}")

    async def proxy() -> None:
        stopping = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stopping.set)
        await serve(ports, port, host, listening, stopping)

    def interrupted(signum: int, frame: object) -> None:  # while the servers start, before the proxy listens
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupted)
    try:
        processes = [subprocess.Popen(command(p), stdout=subprocess.DEVNULL) for p in ports]  # their URLs are private
        print(f"graphlab app: starting {count} app servers (ports {', '.join(map(str, ports))})", flush=True)
        wait_ready(ports, processes)
        asyncio.run(proxy())
    except KeyboardInterrupt:
        pass
    except OSError as e:  # the public port is taken, or the address is not this machine's
        raise GraphlabError(f"cannot serve on port {port}: {e.strerror or e}") from None
    finally:
        stop(processes)
        signal.signal(signal.SIGTERM, previous)
    return 0
