"""The Playground's playing sessions share a bounded CPU budget evenly (apps/cpu_share.py); times are given."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "apps"))

from cpu_share import Share, Tick, sleep  # noqa: E402


def test_one_player_trains_its_full_tick_and_never_waits():
    share = Share(cores=1.0)
    assert share.next_tick("a", Tick(), period=0.5, most_train=0.3, now=100.0) == (0.0, 0.3)
    # its last tick cost 0.4 s of CPU: one core allows that every 0.4 s, and 0.5 s have passed
    assert share.next_tick("a", Tick(100.0, 0.4), period=0.5, most_train=0.3, now=100.5) == (0.0, 0.3)


def test_with_four_playing_each_gets_a_quarter_and_waits_for_it():
    share = Share(cores=1.0)
    for session in "abcd":
        share.next_tick(session, Tick(), 0.5, 0.3, now=100.0)
    wait, train = share.next_tick("a", Tick(100.0, 0.2), 0.5, 0.3, now=100.5)
    assert train == pytest.approx(0.125)  # a quarter core for half a second
    assert wait == pytest.approx(0.3)  # 0.2 CPU s at a quarter core: 0.8 s after its last tick began
    assert share.playing(now=100.5) == 4


def test_a_session_that_stops_ticking_drops_out_and_the_others_share_grows():
    share = Share(cores=1.0, forget=5.0)
    share.next_tick("gone", Tick(), 0.5, 0.3, now=100.0)
    share.next_tick("stays", Tick(), 0.5, 0.3, now=100.0)
    assert share.playing(now=101.0) == 2
    assert share.next_tick("stays", Tick(), 0.5, 0.3, now=106.0)[1] == 0.3  # alone again: its full tick
    assert share.playing(now=106.0) == 1
    share.leave("stays")
    assert share.playing(now=106.0) == 0


def test_the_wait_is_bounded_so_pause_still_answers():
    share = Share(cores=0.1, most_wait=2.0)
    assert share.next_tick("a", Tick(100.0, 5.0), 0.5, 0.3, now=100.0)[0] == 2.0


def test_a_playing_tick_waits_for_the_page_runs_going_on_and_no_longer():
    """Clicks first: ``after_interactive`` returns once no whole page run is going on; while one is, it gives up
    after its bound (here none) and says so."""
    import threading

    share = Share()
    assert share.after_interactive(0.0)  # nothing running: no wait
    with share.interactive():
        assert not share.after_interactive(0.0)  # a page run going on, and no time to wait for it
    assert share.after_interactive(0.0)
    entered, release, results = threading.Event(), threading.Event(), []

    def page_run():
        with share.interactive():
            entered.set()
            release.wait()

    def tick():
        results.append(share.after_interactive(60.0))

    runner = threading.Thread(target=page_run)
    runner.start()
    entered.wait()
    waiter = threading.Thread(target=tick)
    waiter.start()
    assert results == []  # it is waiting (the page run holds it back)
    release.set()
    waiter.join()
    runner.join()
    assert results == [True]


class Stop(Exception):
    """What Streamlit raises at a yield point in a script run that a click replaced."""


def stop_at(n: int):
    """A check that raises the ``n``th time it is called; ``calls`` counts them."""
    calls = []

    def check():
        calls.append(1)
        if len(calls) == n:
            raise Stop

    return check, calls


def test_a_waiting_tick_ends_as_soon_as_its_run_is_asked_to_stop():
    """A tick's wait is no blind sleep: it checks every step, and a check that raises ends it there (within a
    60 s wait: this test would take a minute if it did not)."""
    check, calls = stop_at(3)
    with pytest.raises(Stop):
        sleep(60.0, check, step=0.001)
    assert len(calls) == 3
    check, calls = stop_at(3)
    share = Share(most_wait=60.0)
    with share.interactive(), pytest.raises(Stop):  # waiting for a page run to end, it checks too
        share.hold(0.0, check, step=0.001)
    assert len(calls) == 3


def test_hold_says_whether_the_page_runs_are_over():
    share = Share(most_wait=0.0)
    assert share.hold(0.0, lambda: None)
    with share.interactive():
        assert not share.hold(0.0, lambda: None)  # a page run going on, and no time to wait for it


def test_a_page_run_that_only_waits_holds_no_tick_back():
    share = Share()
    with share.interactive():
        with share.aside():
            assert share.after_interactive(0.0)
        assert not share.after_interactive(0.0)
    assert share.after_interactive(0.0)
