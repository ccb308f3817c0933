"""The Playground's training loops on one server: all playing sessions together take a bounded share of the CPU,
split evenly between them.

Every session of `graphlab app` is a thread of one process. Left alone, each playing session would train for
a fixed time and redraw its charts every tick, so N students pressing Play would ask for N times that and
starve everyone stepping. Here the playing sessions together use at most ``PLAYING_CORES`` of CPU time: each
tick reports what it cost (training and drawing, CPU seconds of its own thread), and a session waits before
its next tick until, with n sessions playing, it has used no more than 1/n of that budget; its training per
tick is its share of the budget too. A session that stops ticking (paused, its browser tab hidden, or
closed) drops out after ``FORGET_SECONDS`` and the others' shares grow.

Clicks come first: while any session's whole page is running (a student's click or keystroke, counted by
``Share.interactive`` around every page run in graphlab_app.py), a playing session holds its next tick back,
for at most ``MOST_WAIT`` seconds: a tick holds the interpreter lock for tens of milliseconds at a time, and
the page run waiting behind several of them is what the student would feel.

A tick waits in ``hold``, which looks every ``STEP`` seconds whether its script run is to end (Streamlit: the
student clicked, and the run that waits was asked to stop or to make way): a waiting tick never holds a click
back, and a run that was asked to stop does not wake later to train beside the run that replaced it.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

# CPU seconds per second for all playing sessions together. Not a whole core: the server is one Python process,
# and its sessions' scripts share one interpreter lock, so it runs Python on about one core however many the
# machine has (measured: 16 students stepping kept it at 1.00 core). Players allowed a whole core took the lock
# from the steppers (8 playing + 8 stepping, protocol client: steppers' p95 1.8 s); half of it leaves them the
# other half.
PLAYING_CORES = 0.5
FORGET_SECONDS = 5.0  # a session that has not ticked for this long no longer counts as playing
MOST_WAIT = 2.0  # never wait longer before a tick: Pause and the other controls answer after at most this
STEP = 0.05  # a waiting tick looks this often whether its run is to end


@dataclass(frozen=True)
class Tick:
    """One session's last tick: when it began (``time.monotonic``) and the CPU seconds it took."""

    start: float = 0.0
    cost: float = 0.0


class Share:
    """The playing sessions of this process, and what each may take."""

    def __init__(self, cores: float = PLAYING_CORES, forget: float = FORGET_SECONDS, most_wait: float = MOST_WAIT):
        self.cores, self.forget, self.most_wait = cores, forget, most_wait
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}  # session -> when it last ticked
        self._running = 0  # whole page runs going on now
        self._quiet = threading.Condition()

    def playing(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        with self._lock:
            for session, seen in list(self._seen.items()):
                if now - seen > self.forget:
                    del self._seen[session]
            return len(self._seen)

    def next_tick(self, session: str, last: Tick, period: float, most_train: float,
                  now: float | None = None) -> tuple[float, float]:
        """Before ``session``'s next tick (ticks every ``period`` s at most, training up to ``most_train`` CPU s):
        (seconds to wait first, CPU seconds it may train for)."""
        now = time.monotonic() if now is None else now
        with self._lock:
            self._seen[session] = now
        rate = self.cores / self.playing(now)  # this session's CPU seconds per second
        wait = max(0.0, last.start + last.cost / rate - now) if last.cost else 0.0
        return min(wait, self.most_wait), min(most_train, rate * period)

    @contextlib.contextmanager
    def interactive(self) -> Iterator[None]:
        """Around a whole page run: while any is going on, ``after_interactive`` holds playing ticks back."""
        self._add(1)
        try:
            yield
        finally:
            self._add(-1)

    @contextlib.contextmanager
    def aside(self) -> Iterator[None]:
        """Inside ``interactive``: a stretch where the page run only waits, and holds no playing tick back."""
        self._add(-1)
        try:
            yield
        finally:
            self._add(1)

    def _add(self, delta: int) -> None:
        """``delta`` more page runs going on; when none is, the ticks waiting for that hear of it."""
        with self._quiet:
            self._running += delta
            if self._running == 0:
                self._quiet.notify_all()

    def after_interactive(self, most_wait: float | None = None) -> bool:
        """Waits until no whole page run is going on, for at most ``most_wait`` seconds (``MOST_WAIT``); True
        if none was (or all ended), False if some still is."""
        with self._quiet:
            return self._quiet.wait_for(lambda: self._running == 0,
                                        timeout=self.most_wait if most_wait is None else most_wait)

    def hold(self, wait: float, check: Callable[[], object], step: float = STEP) -> bool:
        """Before a tick: ``wait`` seconds (``next_tick``'s), then ``after_interactive``; ``check()`` is called
        every ``step`` seconds meanwhile and ends the wait by raising (the page: a Streamlit yield point, which
        raises when the script run is asked to stop or to rerun). True if no whole page run is going on at the end.
        """
        sleep(wait, check, step)
        end = time.monotonic() + self.most_wait
        while True:
            check()
            left = end - time.monotonic()
            if self.after_interactive(max(0.0, min(step, left))):
                return True
            if left <= step:
                return False

    def leave(self, session: str) -> None:
        with self._lock:
            self._seen.pop(session, None)


def sleep(seconds: float, check: Callable[[], object], step: float = STEP) -> None:
    """``time.sleep(seconds)``, calling ``check()`` every ``step`` seconds: it ends the sleep by raising."""
    end = time.monotonic() + seconds
    while (left := end - time.monotonic()) > 0:
        check()
        time.sleep(min(step, left))


SHARE = Share()  # the process's: every session of the server shares it
