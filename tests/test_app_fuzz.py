"""Every URL parameter and every text box of every page, filled with random and hostile values.

Whatever a link or a student types, the page answers inline (a warning, an error line) and never
raises; and no value costs more than a second of the server's work beyond what the page costs with
the lecture's values (a run's CPU time also holds AppTest's own bookkeeping, which a busy machine
slows). Driven by AppTest (no browser), with Hypothesis choosing the values.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from conftest import cpu_time
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as s
from streamlit.testing.v1 import AppTest

APPS = Path(__file__).resolve().parent.parent / "apps"
APP = str(APPS / "graphlab_app.py")
sys.path.insert(0, str(APPS))

import playground_model  # noqa: E402
import stepper_model  # noqa: E402
from stepper_model import View  # noqa: E402

# The stepper's link parameters: the view's (as the page writes them) and the tabs'.
STEPPER_NAMES = [*stepper_model.view_to_query(View(), ()), "fold", "expand", "paths", "fold_set", "fold_name",
                 "claims", "wrt", "lr", "steps", "forward", "nudge", "nudge_h", "output", "blanks"]
TABS = ["step", "check", "descent", "forward", "gradcheck", "practice"]

HOSTILE = ["", " ", "0", "-1", "1e308", "-1e308", "1e-320", "nan", "NaN", "inf", "-inf", "9" * 400,
           "99999999999999999999999", "x" * 5_000, "(" * 300, "1/0", "exp(exp(exp(1000)))", "10^10^10",
           "x=1,y=", "=", ",,,", "x=nan", "<script>alert(1)</script>", "'; DROP TABLE users; --",
           "__import__('os').system('id')", "${jndi:ldap://x}", "../../etc/passwd", "\x00", "ü" * 50,
           "step", "forward", "backward", "True", "[[1,2],[3,4]]", "x1 x2 x3 x4 x5 x6 x7 x8 " * 40]
VALUES = s.one_of(s.sampled_from(HOSTILE), s.text(max_size=40))
WORK = 1.0  # seconds of this process's CPU time (the script runs in AppTest's thread) beyond a plain run
PLAIN = {"cpu": 0.0}  # the costliest plain run's CPU time, measured once per module
FUZZ = settings(max_examples=12, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])


def run(at: AppTest) -> AppTest:
    with cpu_time(limit=PLAIN["cpu"] + WORK):
        at.run()
    assert not at.exception, at.exception
    return at


def stepper(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    return run(at)


def playground(query: dict[str, str]) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()  # AppTest switches pages only after a run
    at.query_params.clear()
    at.query_params.update(query)
    at.switch_page("playground_page.py")
    return run(at)


@pytest.fixture(scope="module", autouse=True)
def warm():
    """Imports and first-run caches are paid once; then each tab's and page's plain run is timed."""
    PLAIN["cpu"] = float("inf")
    plain = [lambda tab=tab: stepper({"tab": tab}) for tab in TABS] + [lambda: playground({}),
                                                                       lambda: playground({"data": "function"})]
    for page in plain:
        page()  # its caches, as a student before the fuzzer would have filled them
    costs = []
    for page in plain:
        start = time.process_time()
        page()
        costs.append(time.process_time() - start)
    PLAIN["cpu"] = max(costs)


def links(names):
    return s.dictionaries(s.sampled_from([*names, "unknown", "tab"]), VALUES, max_size=6)


@FUZZ
@given(links(STEPPER_NAMES))
def test_a_stepper_link_with_any_values_opens_and_says_what_it_ignored(query):
    stepper(query)


@FUZZ
@given(links(playground_model.QUERY_NAMES.values()))
def test_a_playground_link_with_any_values_opens_and_says_what_it_ignored(query):
    playground(query)


@FUZZ
@given(s.data())
def test_every_text_box_of_the_stepper_takes_any_text(data):
    for tab in TABS:
        at = stepper({"tab": tab})
        for box in at.text_input:
            box.input(data.draw(VALUES, label=f"{tab}:{box.key}"))
        run(at)



@FUZZ
@given(s.data())
def test_every_text_box_of_the_playground_takes_any_text(data):
    at = playground({"data": "function"})  # the curve fit's f(x) box; the other data sets have none
    assert at.text_input, "the curve fit has its f(x) box"
    for box in at.text_input:
        box.input(data.draw(VALUES, label=str(box.key)))
    run(at)
