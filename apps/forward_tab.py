"""The "Forward mode" tab: step through forward-mode differentiation, and see what backprop saves.

Pick the input x; one pass from the inputs to the output carries each node's tangent ∂node/∂x
beside its value (:func:`graphlab.forward.forward_trace`), drawn and explained step by step as
the reverse pass is. Below, the multiplications every gradient costs three ways
(:func:`graphlab.cost.cost`): one reverse pass, one forward pass per input, every path's product.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import graphviz
import pandas as pd
import stepper_model as m
import streamlit as st

from graphlab.cost import cost
from graphlab.errors import GraphlabError
from graphlab.explain import Explanation, explain_step
from graphlab.forward import ForwardTrace, forward_trace
from graphlab.present import cost_table, number, tangent_table
from graphlab.render import to_dot

WRT, STEP, EXPR = "forward:wrt", "forward:step", "forward:expr"
LABELS = {"wrt": "Differentiate with respect to"}  # the widget of each field of graphlab.errors here


@st.cache_resource(max_entries=64, show_spinner="Tracing forward...")
def run(key: m.Key, wrt: str) -> ForwardTrace:
    return forward_trace(m.build(key.expr), m.point_of(key.values), wrt, mode=key.mode)


@st.cache_resource(max_entries=512, show_spinner=False)
def diagram(key: m.Key, wrt: str, index: int, drawing: m.Drawing) -> graphviz.Digraph:
    t = run(key, wrt)
    return to_dot(t.graph, t, index, drawing.style, **drawing.options())


@st.cache_resource(max_entries=512, show_spinner=False)
def explanation(key: m.Key, wrt: str, index: int, precision: int) -> Explanation:
    return explain_step(run(key, wrt), index, precision)


def num(value: Any, precision: int) -> str:
    return number(value, digits=precision, compact=True)


# --------------------------------------------------------------------------- URL
def from_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Session-state entries for a shared link's forward-mode input."""
    if "forward" not in params:
        return {}
    return {WRT: params["forward"], EXPR: params.get("expr", m.DEFAULT_EXPR)}


def to_query(state: Mapping[str, Any]) -> dict[str, str]:
    return {"forward": state[WRT]} if state.get(WRT) else {}


def keep(state: Any, expr: str, variables: tuple[str, ...]) -> None:
    """Before the widgets: the input x, the first variable when the expression changes."""
    if state.get(EXPR) != expr or state.get(WRT) not in variables:
        state[WRT] = variables[0] if variables else None
        state[STEP] = 1
    state[EXPR] = expr
    state.setdefault(STEP, 1)


# --------------------------------------------------------------------------- the tab
def show(key: m.Key, drawing: m.Drawing) -> None:
    state = st.session_state
    graph = m.build(key.expr)
    variables, out = graph.graph["variables"], graph.graph["output"]
    if not variables:
        st.info("This expression has no variables: there is nothing to differentiate.")
        return
    keep(state, key.expr, variables)
    left, right = st.columns([1, 3], vertical_alignment="bottom")
    left.selectbox(LABELS["wrt"], variables, key=WRT,
                   help="Forward mode seeds this input: ∂x/∂x = 1, every other input 0.")
    wrt = state[WRT]
    try:
        t = run(key, wrt)
    except GraphlabError as e:
        st.error(f"**Cannot trace this:** {m.error_line(e, LABELS)}", icon=":material/error:")
        return
    count = len(t.steps)
    state[STEP] = min(max(1, int(state[STEP])), count)
    if count > 1:  # one node (the expression is a single variable) has a single step: nothing to slide
        right.slider("Forward step", 1, count, key=STEP)
    index = state[STEP] - 1
    s = t.steps[index]
    st.markdown(f"**forward {index + 1} of {count}: node {s.node}**, carrying ∂{s.node}/∂{wrt} "
                f"= {num(s.tangent, drawing.precision) or '?'}")
    if graph.number_of_nodes() <= m.MAX_DRAW_NODES:
        st.graphviz_chart(diagram(key, wrt, index, drawing), width="stretch")
    explained = explanation(key, wrt, index, drawing.precision)
    st.latex(rf"\begin{{gathered}}{explained.latex}\end{{gathered}}")
    if index == count - 1:
        st.success(f"∂{out}/∂{wrt} = {num(t.gradient[wrt], drawing.precision) or '?'}: the output's tangent, "
                   f"the same number one reverse pass gives for {wrt}, and for every other input at once.")
    rows = tangent_table(t, index, digits=drawing.precision, compact=True)
    st.dataframe(pd.DataFrame(list(rows.rows), columns=list(rows.columns)), hide_index=True, width="stretch")

    st.subheader("What backprop saves")
    st.markdown("Multiplications by a local gradient to get the gradient of every input "
                "(a product of k factors costs k − 1). One reverse pass reuses what the nodes share; forward "
                "mode needs a pass per input; writing each path's product out shares nothing.")
    costs = cost_table(cost(graph))
    st.dataframe(pd.DataFrame(list(costs.rows), columns=list(costs.columns)), hide_index=True, width="stretch")
