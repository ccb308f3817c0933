import gc
import os
import time
from contextlib import contextmanager

import pytest
from hypothesis import settings

from graphlab import from_text, trace

# CI runs on 2 cores: keep property tests thorough but bounded; no flaky deadlines.
settings.register_profile("ci", deadline=None, max_examples=150)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def browser():
    """The session's one headless Chromium for every browser test file (test_e2e.browser_session). One fixture
    here, not one per module that imports it: two sync_playwright() at once in one xdist worker fail with
    "Sync API inside the asyncio loop" when test_e2e.py and test_e2e_stepper.py land on the same worker."""
    from test_e2e import browser_session

    yield from browser_session()


@pytest.fixture
def lecture():
    """CS231n's (x+y)z at x=-2, y=5, z=-4, with q named: q = 3, f = -12, grads -4, -4, 3."""
    g = from_text("q = x + y; f = q z")
    return g, trace(g, {"x": -2, "y": 5, "z": -4})


@pytest.fixture
def fanout():
    """log(x1 x2) sin(x2) at x1=2, x2=3: x2 feeds two ops."""
    g = from_text("log(x1 x2) sin(x2)")
    return g, trace(g, {"x1": 2, "x2": 3})


@contextmanager
def cpu_time(limit: float):
    """The parser's own work stays under ``limit`` seconds: CPU time of this process (another process
    on a busy machine does not count) with the garbage collector paused (a collection of other
    tests' garbage is not the parser's work)."""
    enabled = gc.isenabled()
    gc.disable()
    start = time.process_time()
    try:
        yield
    finally:
        spent = time.process_time() - start
        if enabled:
            gc.enable()
    assert spent < limit, f"{spent:.3f} s of CPU, over {limit} s"
