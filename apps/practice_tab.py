"""The "Practice" tab: the graph with numbered blank boxes, filled in and checked as typed.

The exercise is the page's expression at the page's values (:func:`graphlab.exercise.exercise`);
the blanks are forward values, gradients (local, and upstream × local on each edge, and the sums),
or both. Each number typed is judged at once by :func:`graphlab.verify.check_blanks`, in any order:
✓, ✗ with a hint (the local gradient alone, the upstream alone, a sign, a missing term), or
"carried forward" when it is right given an earlier wrong blank. The diagram shows what was typed
in its box, coloured by the verdict. **New numbers** draws other values, in hand-computable ranges
(:func:`graphlab.exercise.draw_values`, as the worksheets do). The URL holds the expression, the
values and the blanks, so a lecturer can share an exercise.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphviz
import stepper_model as m
import streamlit as st

from graphlab.errors import GraphlabError
from graphlab.exercise import BLANKS, Exercise, draw_values, exercise, problem
from graphlab.present import number
from graphlab.verify import BlankResult, check_blanks
from graphlab.worksheet import sheet_dot

MODE, ROUND, ANSWERS, EXERCISE, NOTE = "practice:blanks", "practice:round", "practice:answers", "practice:exercise", \
    "practice:note"
DEFAULT_MODE = "gradients"
COLUMNS = 3
LABELS = {"values": "The values above", "range": "New numbers", "blanks": "Blanks"}  # each field's widget here
MARKS = {"right": "✓", "wrong": "✗", "cannot read": "✗"}  # carried forward: the hint says so, with its own icon
SHOWN_CHARS = 9  # a typed number longer than this is cut short in its box (the box fits the answers)


def entry_key(n: int) -> str:
    """Session-state key of blank ``n``'s text box."""
    return f"practice:blank:{n}"


@st.cache_resource(max_entries=64, show_spinner=False)
def make(expr: str, values: m.Values, blanks: str) -> Exercise:
    """The exercise at the values typed; raises GraphlabError where they make no good exercise."""
    graph = m.build(expr)
    point = m.point_of(values)
    missing = [v for v in graph.graph["variables"] if v not in point]
    if missing:
        raise GraphlabError(f"have no number for {', '.join(missing)}", field="values")
    why = problem(graph, point)
    if why is not None:
        raise GraphlabError(f"make no exercise: {why}. Press New numbers", field="values")
    return exercise(graph, point, blanks)


@st.cache_resource(max_entries=256, show_spinner=False)
def judged(expr: str, values: m.Values, blanks: str, entries: tuple[tuple[int, str], ...]) -> dict[int, BlankResult]:
    return check_blanks(make(expr, values, blanks), dict(entries))


@st.cache_resource(max_entries=256, show_spinner=False)
def diagram(expr: str, values: m.Values, blanks: str, shown: tuple[tuple[int, str], ...],
            verdicts: tuple[tuple[int, str], ...], drawing: m.Drawing) -> graphviz.Digraph:
    options = drawing.options()
    return sheet_dot(make(expr, values, blanks), dict(shown), dict(verdicts), precision=options.pop("precision"),
                     **{k: v for k, v in options.items() if k != "symbolic"})


# --------------------------------------------------------------------------- URL
def from_query(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Session-state entries for a shared exercise's blanks, and what in the link was ignored."""
    if "blanks" not in params:
        return {}, []
    if params["blanks"] not in BLANKS:
        return {}, [f"blanks must be one of {', '.join(BLANKS)}"]
    return {MODE: params["blanks"]}, []


def to_query(state: Mapping[str, Any]) -> dict[str, str]:
    return {"blanks": state[MODE]} if state.get(MODE) in BLANKS else {}


# --------------------------------------------------------------------------- actions
def new_numbers(expr: str, variables: tuple[str, ...]) -> None:
    """Other values for every variable, drawn as the worksheets draw them; the blanks start empty."""
    state = st.session_state
    state[ROUND] = state.get(ROUND, 0) + 1
    try:
        values = draw_values(m.build(expr), f"app/{state[ROUND]}")
    except GraphlabError as e:
        state[NOTE] = m.error_line(e, LABELS)
        return
    state.pop(NOTE, None)
    for v in variables:
        state[m.value_key(v)] = number(values[v])


def keep_answers(state: Any, ex: Exercise, signature: tuple) -> None:
    """The blanks' texts survive other tabs (Streamlit forgets a widget it does not draw); another
    exercise starts empty."""
    if state.get(EXERCISE) != signature:
        state[EXERCISE] = signature
        state[ANSWERS] = {}
        for n in range(1, len(ex.blanks) + 1):
            state[entry_key(n)] = ""
    for b in ex.blanks:
        if entry_key(b.number) not in state:
            state[entry_key(b.number)] = state[ANSWERS].get(b.number, "")


def feedback(r: BlankResult) -> None:
    """✓ right; ✗ wrong with the hint; carried forward, with what it was carried from."""
    if r.verdict == "carried forward":
        st.warning(r.hint, icon=":material/subdirectory_arrow_right:")
    elif r.ok:
        st.success(f"{MARKS['right']} {r.verdict}")
    elif r.verdict == "cannot read":
        st.error(f"{MARKS['wrong']} {r.hint}")
    else:
        st.error(f"{MARKS['wrong']} {r.verdict}: {r.hint}")


def score_line(ex: Exercise, results: Mapping[int, BlankResult]) -> str:
    right = sum(r.ok for r in results.values())
    carried = sum(r.verdict == "carried forward" for r in results.values())
    todo = len(ex.blanks) - len(results)
    parts = [f"**Score: {right} of {len(ex.blanks)}**"]
    if carried:
        parts.append(f"{carried} carried forward")
    if todo:
        parts.append(f"{todo} to fill in")
    elif right == len(ex.blanks):
        parts.append("all right")
    return " · ".join(parts)


# --------------------------------------------------------------------------- the tab
def show(key: m.Key, drawing: m.Drawing) -> None:
    state = st.session_state
    graph = m.build(key.expr)
    variables = graph.graph["variables"]
    state.setdefault(MODE, DEFAULT_MODE)
    left, right = st.columns([3, 1], vertical_alignment="bottom")
    left.segmented_control(LABELS["blanks"], BLANKS, key=MODE, required=True,
                           help="values: the forward pass; gradients: local and upstream × local on every edge, "
                                "the sums at nodes used twice; both")
    right.button("New numbers", key="practice:new", icon=":material/casino:", on_click=new_numbers,
                 args=(key.expr, variables), width="stretch", disabled=not variables)
    if state.get(NOTE):
        st.warning(state[NOTE])
    try:
        ex = make(key.expr, key.values, state[MODE])
    except GraphlabError as e:
        st.info(m.error_line(e, LABELS))
        return
    keep_answers(state, ex, (key.expr, key.values, state[MODE]))
    entries = tuple((b.number, str(state.get(entry_key(b.number)) or "")) for b in ex.blanks
                    if str(state.get(entry_key(b.number)) or "").strip())
    results = judged(key.expr, key.values, state[MODE], entries)
    st.markdown(score_line(ex, results))
    st.progress(sum(r.ok for r in results.values()) / len(ex.blanks))
    if graph.number_of_nodes() <= m.MAX_DRAW_NODES:
        shown = tuple((n, t.strip() if len(t.strip()) <= SHOWN_CHARS else t.strip()[: SHOWN_CHARS - 1] + "…")
                      for n, t in entries)
        verdicts = tuple((n, r.verdict) for n, r in results.items())
        st.graphviz_chart(diagram(key.expr, key.values, state[MODE], shown, verdicts, drawing), width="stretch")
    st.caption("Type each numbered box's number below, in any order: a number (-4, 0.25) or a fraction (1/3). "
               "A decimal is judged to the places you write. Carried forward: right given an earlier wrong box.")
    groups = [("Forward: values", [b for b in ex.blanks if b.kind == "value"]),
              ("Backward: gradients", [b for b in ex.blanks if b.kind != "value"])]
    for title, blanks in groups:
        if not blanks:
            continue
        st.markdown(f"**{title}**")
        for start in range(0, len(blanks), COLUMNS):
            for column, b in zip(st.columns(COLUMNS), blanks[start:start + COLUMNS]):
                with column:
                    st.text_input(f"({b.number}) {ex.describe(b)}", key=entry_key(b.number), placeholder="?")
                    if b.number in results:
                        feedback(results[b.number])
    state[ANSWERS] = {b.number: state.get(entry_key(b.number), "") for b in ex.blanks}
