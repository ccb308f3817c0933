"""The "Check my work" tab: the user's derivatives, one per line, judged by :func:`graphlab.verify.verify`.

Each line is a claim (``df/dq = z``, ``df/dx2 = -1.73``, ``x = -4``); each gets ✓ or ✗, the
right derivative (formula and value), the verdict and the diagnosis, and the diagram marks the
node of the first wrong step in backward order. A line that cannot be read gets its own error
with the column; the other lines are still checked.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import graphviz
import stepper_model as m
import streamlit as st

from graphlab.errors import GraphlabError, ParseError
from graphlab.present import ClaimLines, report_lines
from graphlab.render import to_dot
from graphlab.verify import Report, parse_claim, verify

KEY = "claims"  # session-state key of the text area, and the URL parameter
PLACEHOLDER = "df/dq = z\ndf/dx = z\ndf/dz = -3.5"
MATRIX_PLACEHOLDER = "dE/dW2 = H1^T dE/dZ2\ndE/dH1 = dE/dZ2 W2^T"
LABELS = {"claims": "Your derivatives, one per line"}  # the widget of each field of graphlab.errors here
_MARKDOWN = re.compile(r"([\\`*_\[\]<>#|$~:])")  # characters Markdown (or Streamlit) would act on


@dataclass(frozen=True)
class BadClaim:
    line: int  # 1-based line of the text area
    text: str
    error: GraphlabError


def claim_lines(text: str) -> list[tuple[int, str]]:
    """(line number, claim) for each line with something on it."""
    return [(k, line.strip()) for k, line in enumerate(text.splitlines(), start=1) if line.strip()]


def read_claims(expr: str, text: str, values: m.Values = ()) -> tuple[list[str], list[BadClaim]]:
    """The claims that can be read, and an error for each line that cannot (over the matrices of ``values``)."""
    graph = m.build(expr, m.shapes_typed(values))
    good, bad = [], []
    for k, line in claim_lines(text):
        try:
            parse_claim(graph, line)
        except GraphlabError as e:
            bad.append(BadClaim(k, line, e))
        else:
            good.append(line)
    return good, bad


@st.cache_resource(max_entries=128, show_spinner="Checking...")
def check(expr: str, claims: tuple[str, ...], values: m.Values) -> Report:
    """The report on ``claims`` at the values typed (a value left empty is not used)."""
    return verify(m.build(expr, m.shapes_typed(values)), list(claims), m.point_of(values))


def plain(text: str) -> str:
    """``text`` shown as is by st.markdown (formulas have ``*`` and ``_``)."""
    return _MARKDOWN.sub(r"\\\1", text)


def describe(c: ClaimLines) -> str:
    """The Markdown for one claim: mark, claim and verdict; the right derivative; why."""
    lines = [f"{c.mark} **{plain(c.claim)}** — {c.verdict}", f"right derivative: {plain(c.derivative)}"]
    lines += [plain(line) for line in (c.counterexample, c.diagnosis) if line]
    return "  \n".join(lines)  # Markdown line breaks within one alert


def summary(report: Report) -> str:
    wrong = sum(not c.ok for c in report.claims)
    if not wrong:
        return f"All {len(report.claims)} right."
    text = f"{wrong} of {len(report.claims)} wrong."
    if report.first_wrong is not None:
        first = report.claims[report.first_wrong]
        text += (f" The first wrong step, in backward order: {plain(first.claim)}, at node **{plain(first.node)}** "
                 "(marked in the graph).")
    return text


def marked(report: Report | None) -> tuple[str, ...]:
    """The node to mark in the diagram: the first wrong step's."""
    if report is None or report.first_wrong is None:
        return ()
    return (report.claims[report.first_wrong].node,)


@st.cache_resource(max_entries=256, show_spinner=False)
def diagram(key: m.Key, drawing: m.Drawing, highlight: tuple[str, ...]) -> graphviz.Digraph:
    """The graph with every forward value and no gradient (those are the user's to find), ``highlight`` marked."""
    t = m.compute(key)
    forward_done = t.graph.number_of_nodes() - 1
    # pin=False: laid out for this one frame, not for the widest labels of every step, so it reads larger
    return to_dot(t.graph, t, forward_done, drawing.style, highlight=highlight, pin=False, **drawing.options())


# --------------------------------------------------------------------------- URL
def from_query(params: Mapping[str, str]) -> dict[str, Any]:
    """Session-state entries for a shared link's claims."""
    return {KEY: params[KEY]} if KEY in params else {}


def to_query(state: Mapping[str, Any]) -> dict[str, str]:
    text = "\n".join(line for _, line in claim_lines(str(state.get(KEY, ""))))
    return {KEY: text} if text else {}


# --------------------------------------------------------------------------- the tab
def show(key: m.Key, drawing: m.Drawing) -> None:
    graph = m.build(key.expr, m.shapes_typed(key.values))
    out = graph.graph["output"]
    matrices = graph.graph.get("matrices", False)
    help_ = (f"d{out}/dB = a matrix formula over the expression's names, e.g. "
             f"d{out}/dW = X^T (d{out}/dH ⊙ H ⊙ (1 - H)); X W is the matrix product, ⊙ (or .*) the elementwise "
             f"one, W^T the transpose, d{out}/dH the gradient at H. Checked at the values above and at random values "
             "of the right shapes." if matrices else
             f"dA/dB = formula or number. A and B: the output {out}, a variable or a named intermediate "
             f"(q = x + y; f = q z names q). x = ... is short for d{out}/dx. A number is checked at the values above.")
    st.text_area(LABELS["claims"], key=KEY, placeholder=MATRIX_PLACEHOLDER if matrices else PLACEHOLDER, height=130,
                 help=help_)
    good, bad = read_claims(key.expr, str(st.session_state.get(KEY) or ""), key.values)
    for claim in bad:
        st.error(f"**Cannot read line {claim.line}:** {plain(m.error_line(claim.error, LABELS))}",
                 icon=":material/error:")
        if isinstance(claim.error, ParseError):
            st.code(claim.error.caret(), language=None)
    report = None
    try:
        report = check(key.expr, tuple(good), key.values) if good else None
    except GraphlabError as e:
        st.error(f"**Cannot check this:** {plain(m.error_line(e, LABELS))}", icon=":material/error:")
    if not good and not bad:
        example = next(iter(graph.graph["variables"]), out)
        st.info(f"Write the gradients you worked out by hand in matrix form, e.g. d{out}/d{example} = ... Each one "
                f"is checked against ∂{out}/∂{example} (its shape first, then its entries)." if matrices else
                f"Write the derivatives you worked out by hand, e.g. d{out}/d{example} = ... "
                "Each one is checked against the true derivative (the sum over all paths).")
    if report is not None:
        st.markdown(summary(report))
    if graph.number_of_nodes() <= m.MAX_DRAW_NODES:
        st.graphviz_chart(diagram(key, drawing, marked(report)), width="stretch")
    lines = report_lines(report, digits=drawing.precision, compact=True) if report else []
    for c, text in zip(report.claims if report else (), lines, strict=True):
        (st.success if c.ok else st.error)(describe(text))
