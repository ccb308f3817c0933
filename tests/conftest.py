import asyncio
import gc
import os
import shutil
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import settings

from graphlab import from_text, trace

# CI runs on 2 cores: keep property tests thorough but bounded; no flaky deadlines.
settings.register_profile("ci", deadline=None, max_examples=150)
settings.register_profile("dev", deadline=None, max_examples=60)
settings.load_profile("ci" if os.environ.get("CI") else "dev")


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


# ----------------------------------------------------------------------------- the browser tests' Chromium
TIMEOUT_MS = 30_000  # every wait of a browser test: Playwright's actions and expect(...)


@pytest.fixture(scope="session")
def browser():
    """One headless Chromium for every browser test file a process runs. Here, not in a test file: Playwright's
    sync API runs once per process, and a test file importing another's fixture gets a second instance of it,
    which fails ("Sync API inside the asyncio loop") whenever xdist gives both files to one worker."""
    from benchmarks.app_load import CHROMIUM, LAUNCH_ARGS

    def unavailable(reason: str):
        if os.environ.get("GRAPHLAB_E2E") == "1":
            pytest.fail(f"GRAPHLAB_E2E=1 but {reason}", pytrace=False)
        pytest.skip(f"browser tests skipped: {reason} (install Debian's chromium, or set GRAPHLAB_E2E=1 to require it)")

    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        unavailable(f"no Chromium at {CHROMIUM}")
    try:
        from playwright.sync_api import expect, sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[dev]')")
    expect.set_options(timeout=TIMEOUT_MS)  # its default is 5 s
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS)
        try:
            yield b
        finally:
            b.close()


def run_coroutine(coroutine):
    """``asyncio.run(coroutine)`` on a thread of its own: in a worker that has run the browser tests, Playwright's
    sync API keeps an event loop running on the main thread, and asyncio.run refuses to start beside it."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coroutine).result()
