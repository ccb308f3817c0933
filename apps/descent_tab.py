"""The "Gradient descent" tab: θ ← θ − η ∇L(θ) step by step, by :func:`graphlab.descend.descend`.

The parameters start at the values typed above the tabs; the other variables keep theirs
(or come from an uploaded CSV table, for mini-batch SGD). The table has a row per step, as
the lecture's exercise "calculate the first three gradient updates by hand" asks; the chart
shows the loss per step.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import pandas as pd
import stepper_model as m
import streamlit as st

from graphlab.descend import Descent, descend, parse_table
from graphlab.errors import GraphlabError, ParseError
from graphlab.present import assignments, descent_table, number

WRT, LR, STEPS, DATA, BATCH, SEED = (f"descent:{k}" for k in ("wrt", "lr", "steps", "data", "batch", "seed"))
EXPR = "descent:expr"  # the expression the chosen parameters belong to
DEFAULT_LR = "0.01"
DEFAULT_STEPS = 3
MAX_STEPS = 1_000  # a table, not a training run: `graphlab train` is for long ones
DIGITS = 10  # a hand calculation carries more digits than the diagram's 4
PARAMETER = re.compile(r"theta\w*|w\d*|w_\w+|b\d*|b_\w+|bias\w*|weight\w*")  # names that read as parameters
# the widgets' labels, by the field of graphlab.errors each one holds: an error names its widget
LABELS = {"wrt": "Parameters θ", "learning_rate": "Learning rate η", "steps": "Steps", "data": "Data table",
          "batch_size": "Batch size"}


def default_wrt(variables: tuple[str, ...]) -> list[str]:
    """The variables whose names read as parameters (theta, w1, b); the user picks the rest."""
    return [v for v in variables if PARAMETER.fullmatch(v)]


@st.cache_resource(max_entries=64, show_spinner="Descending...")
def run(key: m.Key, wrt: tuple[str, ...], lr: str, steps: int, table: bytes | None = None,
        batch_size: int | None = None, seed: int = 0) -> Descent:
    """The descent from the values typed; ``table``: an uploaded CSV data table's bytes."""
    data = parse_table(table, "the uploaded table") if table is not None else None
    return descend(m.build(key.expr), wrt, m.point_of(key.values), lr, steps, mode=key.mode, data=data,
                   batch_size=batch_size, seed=seed)


def losses(d: Descent) -> pd.DataFrame:
    """The loss per step, as floats for the chart (exact values too)."""
    return pd.DataFrame({"loss": [float(s.loss) for s in d.history]},
                        index=pd.Index([s.step for s in d.history], name="step"))


# --------------------------------------------------------------------------- URL
def from_query(params: Mapping[str, str]) -> tuple[dict[str, Any], list[str]]:
    """Session-state entries for a shared link's descent settings, and what in it was ignored."""
    entries: dict[str, Any] = {}
    problems = []
    if "wrt" in params:
        entries[WRT] = [w for w in params["wrt"].split(",") if w]
        entries[EXPR] = params.get("expr", m.DEFAULT_EXPR)  # the link's parameters belong to the link's expression
    if "lr" in params:
        entries[LR] = params["lr"]
    if "steps" in params:
        try:
            entries[STEPS] = max(0, min(MAX_STEPS, int(params["steps"])))
        except ValueError:
            problems.append("steps must be a whole number")
    return entries, problems


def to_query(state: Mapping[str, Any]) -> dict[str, str]:
    if WRT not in state:
        return {}
    return {"wrt": ",".join(state[WRT]), "lr": str(state.get(LR, DEFAULT_LR)),
            "steps": str(state.get(STEPS, DEFAULT_STEPS))}


def keep(state: Any, expr: str, variables: tuple[str, ...]) -> None:
    """Before the widgets: the chosen parameters, reset to the defaults when the expression changes."""
    if state.get(EXPR) != expr or WRT not in state:
        state[WRT] = default_wrt(variables)
    else:
        state[WRT] = [w for w in state[WRT] if w in variables]
    state[EXPR] = expr
    state.setdefault(LR, DEFAULT_LR)
    state.setdefault(STEPS, DEFAULT_STEPS)
    state.setdefault(BATCH, None)  # all rows
    state.setdefault(SEED, 0)


# --------------------------------------------------------------------------- the tab
def show(key: m.Key) -> None:
    state = st.session_state
    graph = m.build(key.expr)
    variables, out = graph.graph["variables"], graph.graph["output"]
    keep(state, key.expr, variables)
    left, middle, right = st.columns([3, 1, 1])
    left.multiselect(LABELS["wrt"], variables, key=WRT,
                     help="The variables to descend on; each starts at its value above. The others keep theirs.")
    middle.text_input(LABELS["learning_rate"], key=LR, help="a number or a constant such as 1/100")
    right.number_input(LABELS["steps"], 0, MAX_STEPS, key=STEPS)
    with st.expander("Mini-batch SGD over a data table (CSV)"):
        st.file_uploader(LABELS["data"], type="csv", key=DATA,
                         help="A header of variable names, then one number per cell; its columns replace "
                              "those variables' values. Each step averages over a batch of rows.")
        columns = st.columns(2)
        columns[0].number_input(LABELS["batch_size"], 1, key=BATCH, placeholder="all rows")
        columns[1].number_input("Seed", 0, key=SEED, help="the seed for shuffling the rows each pass")
    if not state[WRT]:
        st.info("Choose the parameters θ to descend on.")
        return
    upload = state.get(DATA)
    table = upload.getvalue() if upload is not None else None
    try:
        d = run(key, tuple(state[WRT]), str(state[LR]), int(state[STEPS]), table,
                state.get(BATCH) if upload is not None else None, int(state.get(SEED) or 0))
    except GraphlabError as e:
        st.error(f"**Cannot descend:** {m.error_line(e, LABELS)}", icon=":material/error:")
        if isinstance(e, ParseError):
            st.code(e.caret(), language=None)
        return
    fixed = assignments(d.fixed, digits=DIGITS, compact=True)
    rule = ", ".join(f"{w} ← {w} − η ∂{out}/∂{w}" for w in d.wrt)
    st.markdown(f"{rule}, η = {number(d.lr, digits=DIGITS, compact=True)}" + (f"; {fixed}" if fixed else "")
                + (f"; batches of {d.batch_size} rows" if d.batch_size else ""))
    table = descent_table(d, digits=DIGITS, compact=True)
    st.dataframe(pd.DataFrame(list(table.rows), columns=list(table.columns)), hide_index=True, width="stretch")
    loss = "batch loss" if d.batch_size else "loss"
    st.markdown(f"**The {loss} {out} per step**")
    st.line_chart(losses(d), x_label="step", y_label=loss)
