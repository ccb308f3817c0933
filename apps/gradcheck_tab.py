"""The "Gradient check" tab: backprop against central differences, and a nudge of one input.

The check (:func:`graphlab.gradcheck.gradcheck`) sets each variable's backprop gradient beside
(g(w + h) − g(w − h)) / 2h and their relative error, and says where a kink makes the check
meaningless. The nudge (:func:`graphlab.gradcheck.nudge`) moves one input by h: every node's
change in value beside the linear prediction ∂node/∂w · h.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pandas as pd
import stepper_model as m
import streamlit as st

from graphlab.errors import GraphlabError
from graphlab.gradcheck import DEFAULT_ATOL, DEFAULT_H, DEFAULT_RTOL, GradCheck, Nudge, gradcheck, nudge
from graphlab.present import check_table, nudge_table

H, NUDGE, NUDGE_H, EXPR = "gradcheck:h", "gradcheck:nudge", "gradcheck:nudge_h", "gradcheck:expr"
STEPS = tuple(10.0**-k for k in range(1, 10))  # the check's h: 0.1 ... 1e-9
DEFAULT_NUDGE = 0.01
DIGITS = 10
LABELS = {"h": "Step h"}  # the widget of each field of graphlab.errors here


@st.cache_data(max_entries=64, show_spinner="Checking...")
def check(key: m.Key, h: float) -> GradCheck:
    return gradcheck(m.build(key.expr), m.point_of(key.values), h=h)


@st.cache_data(max_entries=64, show_spinner=False)
def nudged(key: m.Key, wrt: str, h: float) -> Nudge:
    return nudge(m.build(key.expr), m.point_of(key.values), wrt, h)


# --------------------------------------------------------------------------- URL
def from_query(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    entries: dict[str, Any] = {}
    problems = []
    if "nudge" in params:
        entries[NUDGE] = params["nudge"]
        entries[EXPR] = params.get("expr", m.DEFAULT_EXPR)
    if "nudge_h" in params:
        try:
            entries[NUDGE_H] = float(params["nudge_h"])
        except ValueError:
            problems.append("nudge_h must be a number")
    return entries, problems


def to_query(state: Mapping[str, Any]) -> dict[str, str]:
    if not state.get(NUDGE):
        return {}
    return {"nudge": state[NUDGE], "nudge_h": f"{state.get(NUDGE_H, DEFAULT_NUDGE):g}"}


def keep(state: Any, expr: str, variables: tuple[str, ...]) -> None:
    if state.get(EXPR) != expr or state.get(NUDGE) not in variables:
        state[NUDGE] = variables[0] if variables else None
    state[EXPR] = expr
    state.setdefault(NUDGE_H, DEFAULT_NUDGE)
    state.setdefault(H, DEFAULT_H)


# --------------------------------------------------------------------------- the tab
def show(key: m.Key) -> None:
    state = st.session_state
    graph = m.build(key.expr)
    variables = graph.graph["variables"]
    if not variables:
        st.info("This expression has no variables: there is nothing to check.")
        return
    keep(state, key.expr, variables)
    st.select_slider("Step h of the central difference (g(w + h) − g(w − h)) / 2h", STEPS, key=H,
                     format_func=lambda h: f"{h:g}")
    try:
        r = check(key, float(state[H]))
    except GraphlabError as e:
        st.error(f"**Cannot check:** {m.error_line(e, LABELS)}", icon=":material/error:")
        return
    checks = check_table(r, DIGITS, compact=True)
    st.dataframe(pd.DataFrame(list(checks.rows), columns=list(checks.columns)), hide_index=True, width="stretch")
    for c in r.checks:
        if c.note:
            (st.warning if c.status == "kink" else st.error)(f"**{c.variable}**: {c.note}")
    verdict = "every check passes" if r.ok else f"{sum(not c.ok for c in r.checks)} of {len(r.checks)} checks fail"
    st.markdown(f"A check passes when the relative error is at most {DEFAULT_RTOL:g} (or the difference at most "
                f"{DEFAULT_ATOL:g}), in float64: **{verdict}**.")

    st.subheader("Nudge one input")
    left, right = st.columns(2)
    left.selectbox("Input", variables, key=NUDGE)
    right.number_input("by h", key=NUDGE_H, format="%g", step=0.01)
    n = nudged(key, state[NUDGE], float(state[NUDGE_H]))
    st.markdown(f"Each node's value changes by about ∂node/∂{n.wrt} · h, the linear prediction; the difference is "
                "the curvature's share, which shrinks like h².")
    rows = nudge_table(n, DIGITS, compact=True)
    st.dataframe(pd.DataFrame(list(rows.rows), columns=list(rows.columns)), hide_index=True, width="stretch")
