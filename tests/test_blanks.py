"""verify.check_blanks: a student's numbers in an exercise's blanks, judged one step at a time.

The lecture's circuit q = x + y; f = q z at x = -2, y = 5, z = -4 (q = 3, f = -12, ∂f/∂q = z = -4,
∂f/∂z = q = 3, ∂f/∂x = ∂f/∂y = -4), and log(x1 x2) sin(x2) at x1 = 2, x2 = 3 for a sum."""

from __future__ import annotations

import math

import pytest

from graphlab.build import from_text
from graphlab.exercise import exercise
from graphlab.verify import MAX_ENTRY_CHARS, Finding, check_blanks

CIRCUIT = exercise(from_text("q = x + y; f = q z"), {"x": -2, "y": 5, "z": -4}, "both")
NUMBER = {b.id: b.number for b in CIRCUIT.blanks}
RIGHT = {"value:q": "3", "value:f": "-12", "local:f:q:0": "-4", "gradient:f:q:0": "-4", "local:f:z:1": "3",
         "gradient:f:z:1": "3", "local:q:x:0": "1", "gradient:q:x:0": "-4", "local:q:y:1": "1",
         "gradient:q:y:1": "-4"}


def judge(ex, by_id):
    numbers = {b.id: b.number for b in ex.blanks}
    results = check_blanks(ex, {numbers[k]: v for k, v in by_id.items()})
    return {b.id: results[b.number] for b in ex.blanks if b.number in results}


def test_the_lecture_numbers_are_right_in_any_order():
    results = judge(CIRCUIT, dict(reversed(list(RIGHT.items()))))
    assert all(r.ok and r.verdict == "right" for r in results.values())
    assert len(results) == len(CIRCUIT.blanks)


def test_only_filled_blanks_are_judged():
    assert set(judge(CIRCUIT, {"gradient:q:x:0": "-4"})) == {"gradient:q:x:0"}
    assert check_blanks(CIRCUIT, {NUMBER["value:q"]: "   "}) == {}


def test_the_local_gradient_alone_is_named_with_the_upstream():
    r = judge(CIRCUIT, {"gradient:q:x:0": "1"})["gradient:q:x:0"]
    assert not r.ok and r.finding is Finding.LOCAL_ONLY
    assert r.hint == "this is the local gradient ∂q/∂x; multiply by the upstream -4"


def test_the_upstream_gradient_alone_is_named():
    ex = exercise(from_text("q = x y; f = q z"), {"x": 2, "y": 3, "z": 5}, "gradients")  # ∂f/∂q = 5, ∂q/∂x = 3
    r = judge(ex, {"gradient:q:x:0": "5"})["gradient:q:x:0"]
    assert r.finding is Finding.UPSTREAM_ONLY and "multiply by the local gradient ∂q/∂x = y" in r.hint


def test_carried_forward_from_an_earlier_wrong_blank():
    # q written as 4 (wrong); then ∂f/∂z = q = 4 and f = 4 · -4 = -16 are right given it
    results = judge(CIRCUIT, {"value:q": "4", "local:f:z:1": "4", "value:f": "-16", "gradient:f:z:1": "4"})
    assert results["value:q"].verdict == "wrong"
    for k in ("local:f:z:1", "value:f", "gradient:f:z:1"):
        assert results[k].verdict == "carried forward" and results[k].finding is Finding.CARRIED_FORWARD
        assert not results[k].ok
    assert f"({NUMBER['value:q']}) 4" in results["value:f"].hint
    # an upstream gradient written wrong is carried into the edges below it
    results = judge(CIRCUIT, {"gradient:f:q:0": "-5", "local:q:x:0": "1", "gradient:q:x:0": "-5"})
    assert results["gradient:q:x:0"].finding is Finding.CARRIED_FORWARD
    # the wrong number without its wrong input is just wrong
    assert judge(CIRCUIT, {"gradient:q:x:0": "-5"})["gradient:q:x:0"].verdict == "wrong"


def test_sign_and_local_errors():
    results = judge(CIRCUIT, {"local:f:q:0": "4", "local:f:z:1": "2"})
    assert results["local:f:q:0"].finding is Finding.SIGN
    assert results["local:f:z:1"].finding is Finding.WRONG_LOCAL and "∂f/∂z = q" in results["local:f:z:1"].hint
    r = judge(CIRCUIT, {"value:q": "7"})["value:q"]
    assert r.finding is Finding.WRONG and r.hint.startswith("q = x + y")


def test_a_sum_missing_a_term():
    ex = exercise(from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3}, "gradients")
    right = float(ex.answer(next(b for b in ex.blanks if b.id == "sum:x2")))
    through_sin = float(ex.answer(next(b for b in ex.blanks if b.id == "gradient:v3:x2:0")))
    assert right == pytest.approx(math.log(6) * math.cos(3) + math.sin(3) / 3)
    results = judge(ex, {"sum:x2": f"{through_sin:.4f}"})
    assert results["sum:x2"].finding is Finding.MISSING_TERM and "sin" in results["sum:x2"].hint
    assert judge(ex, {"sum:x2": f"{right:.3f}"})["sum:x2"].ok


def test_precision_as_written():
    ex = exercise(from_text("log(x1 x2) sin(x2)"), {"x1": 2, "x2": 3}, "values")
    log6 = next(b for b in ex.blanks if b.id == "value:v2")
    assert check_blanks(ex, {log6.number: "1.79"})[log6.number].ok  # log 6 = 1.7918
    assert check_blanks(ex, {log6.number: "1.7918"})[log6.number].ok
    assert not check_blanks(ex, {log6.number: "1.78"})[log6.number].ok
    assert not check_blanks(ex, {log6.number: "2"})[log6.number].ok  # an integer is exact


@pytest.mark.parametrize("text", ["abc", "1 +", "x", "1/0", "9" * (MAX_ENTRY_CHARS + 1), "exp(exp(exp(1000)))",
                                  "1e999", "nan", "inf", "pi", "10^10^10"])
def test_unreadable_entries_say_so(text):
    r = check_blanks(CIRCUIT, {1: text})[1]
    assert r.verdict == "cannot read" and not r.ok and r.hint.startswith("cannot read it")


def test_fractions_and_constants_are_numbers():
    ex = exercise(from_text("x / y"), {"x": 1, "y": 4}, "both")
    ids = {b.id: b.number for b in ex.blanks}
    results = check_blanks(ex, {ids["value:f"]: "1/4", ids["local:f:x:0"]: "0.25"})
    assert all(r.ok for r in results.values())
