"""The stepper: type an expression, set values; then step through the forward and backward pass,
check derivatives worked out by hand, run gradient descent, step through forward mode, or check
gradients against central differences, each in its own tab."""

from __future__ import annotations

import re
from dataclasses import asdict, fields, replace
from functools import partial

import check_tab
import cpu_share
import descent_tab
import diagram_view
import forward_tab
import gradcheck_tab
import pandas as pd
import practice_tab
import stepper_model as m
import streamlit as st

from graphlab.cost import parameter_line
from graphlab.errors import GraphlabError, ParseError
from graphlab.frames import frame
from graphlab.present import number

state = st.session_state
MANY_VALUES = 24  # more variables than this: their value boxes are folded away in an expander
DRAWING_KEYS = tuple(f.name for f in fields(m.Drawing))  # session-state keys of the drawing options
TABS = {"step": "Step through", "check": "Check my work", "descent": "Gradient descent",  # URL name -> label
        "forward": "Forward mode", "gradcheck": "Gradient check", "practice": "Practice"}
WORDS = re.compile(r"\\text\{([^{}]*)\}")  # a line of the explanation that is one sentence in words
MARKDOWN = re.compile(r"[\\`*_$\[\]<>#|~]")  # what Markdown would read as markup in such a sentence
# The tabs' widgets: Streamlit forgets a widget's value when a run does not draw it (a hidden tab),
# so each run hands these back to session state.
TAB_KEYS = (check_tab.KEY, descent_tab.WRT, descent_tab.LR, descent_tab.STEPS, descent_tab.BATCH, descent_tab.SEED,
            forward_tab.WRT, forward_tab.STEP, gradcheck_tab.H, gradcheck_tab.NUDGE, gradcheck_tab.NUDGE_H,
            practice_tab.MODE)


# --------------------------------------------------------------------------- state
def restore_from_url() -> None:
    """Once per session: the URL's view becomes the widgets' state, so a shared link reopens the same view."""
    if state.get("_restored"):
        return
    state["_restored"] = True
    view, problems = m.view_from_query(st.query_params.to_dict())
    state.update(expr=view.expr, step=view.step, mode=view.mode, **asdict(view.drawing))
    state.update(fold=view.folding.folded, expanded=list(view.folding.expanded), paths=view.folding.paths,
                 fold_set=list(view.folding.picked), fold_name=view.folding.name)
    state["present"] = params_present(st.query_params.to_dict())
    for name, text in view.values.items():
        state[m.value_key(name)] = text
    params = st.query_params.to_dict()
    descent, more = descent_tab.from_query(params)
    state.update(check_tab.from_query(params), **descent)
    nudge, nudge_problems = gradcheck_tab.from_query(params)
    state.update(forward_tab.from_query(params), **nudge)
    more += nudge_problems
    practice, practice_problems = practice_tab.from_query(params)
    state.update(practice)
    more += practice_problems
    if params.get("tab", "step") in TABS:
        state["tab"] = TABS[params.get("tab", "step")]
    else:
        problems.append(f"tab must be one of {', '.join(TABS)}")
    state["_url_problems"] = problems + more


def load_example(expr: str) -> None:
    state["expr"] = expr
    for name, text in m.EXAMPLES[expr].items():
        state[m.value_key(name)] = text
    state["step"] = 1
    state[check_tab.KEY] = ""  # claims about another example's nodes would only be errors
    state.update(expanded=[], paths="", fold_set=[])  # another graph's groups, variables and nodes


def folding_of(graph) -> m.Folding:
    """The folding the widgets ask for; a graph over the draw limit is always folded."""
    if graph.number_of_nodes() > m.MAX_DRAW_NODES:
        state["fold"] = True
    variables = graph.graph["variables"]
    if state.get("paths") not in variables:
        state["paths"] = ""
    labels = set(set_options(graph))
    state["fold_set"] = [n for n in state.get("fold_set") or () if n in labels]  # another graph's: ignored
    name = str(state.get("fold_name") or "").strip() or m.DEFAULT_SET_NAME
    folded = bool(state.get("fold"))
    return m.Folding(folded, tuple(state.get("expanded") or ()) if folded else (), state["paths"],
                     tuple(state["fold_set"]), name)


def set_options(graph) -> list[str]:
    """What "Fold a set" offers: every node's label; over the draw limit, only the statements' names (a
    statement's name takes its whole statement), at most m.MAX_PICKED of them."""
    small = graph.number_of_nodes() <= m.MAX_DRAW_NODES
    return [d["label"] for _, d in graph.nodes(data=True) if small or d.get("name")][:m.MAX_PICKED]


def expand() -> None:
    """A folded group picked: drawn open (a layer as its neurons or statements, a statement as its operators)."""
    picked = state.get("expand_pick")
    if picked:
        state["expanded"] = [*(state.get("expanded") or ()), picked]
    state["expand_pick"] = None


def fold_all() -> None:
    state["expanded"] = []


def params_present(params: dict[str, str]) -> bool:
    return params.get("present") == "1"


def diagram_event(name: str):
    """The diagram's key presses and buttons: the step (``goto``) or presentation (``present``) they asked for."""
    return (state.get("diagram") or {}).get(name)


def go_to() -> None:
    target = diagram_event("goto")
    if isinstance(target, int) and not isinstance(target, bool):
        state["step"] = target  # clamped to the trace's steps where the page reads it


def toggle_presenting() -> None:
    state["present"] = diagram_event("present") is True


def go(where: str, count: int) -> None:
    step = state["step"]
    state["step"] = {"first": 1, "prev": max(1, step - 1), "next": min(count, step + 1), "last": count}[where]


def show_error(title: str, error: GraphlabError) -> None:
    """Bad input, inline: the message, and the text with a caret under the column."""
    st.error(f"**{title}** {error}", icon=":material/error:")
    if isinstance(error, ParseError):
        st.code(error.caret(), language=None)
    st.stop()


def chosen_drawing() -> m.Drawing:
    """The drawing options the sidebar's widgets hold."""
    return m.Drawing(**{k: state[k] for k in DRAWING_KEYS})


def drawing_for(key: m.Key, folding: m.Folding) -> m.Drawing:
    """The sidebar's drawing options, the "auto" direction resolved for the diagram's area on the screen."""
    chosen = chosen_drawing()
    area = (state.get("diagram") or {}).get("area")
    try:
        return m.laid_out(key, chosen, area, folding)
    except GraphlabError:  # a fold that cannot be drawn: the step-through tab says why
        return m.laid_out(key, chosen, area)


def step_index(count: int) -> int:
    """The step the widgets ask for (0-based), brought within the trace's ``count`` steps."""
    state["step"] = min(max(1, int(state["step"])), count)
    return state["step"] - 1


def write_url(key: m.Key, variables, folding: m.Folding) -> None:
    """The URL holds the whole view (every tab's settings too), so a shared link reopens it. Written by
    whatever runs last: the page, or the step-through tab's own run (stepping reruns only that tab)."""
    view = m.View(expr=key.expr, values=dict(key.values), mode=key.mode, step=state["step"],
                  drawing=chosen_drawing(), folding=folding)
    tab = next(name for name, label in TABS.items() if label == state["tab"])
    st.query_params.from_dict({**m.view_to_query(view, variables), **({"tab": tab} if tab != "step" else {}),
                               **check_tab.to_query(state), **descent_tab.to_query(state),
                               **forward_tab.to_query(state), **gradcheck_tab.to_query(state),
                               **practice_tab.to_query(state), **({"present": "1"} if state.get("present") else {})})


# --------------------------------------------------------------------------- the step-through tab
@st.fragment
def step_through(graph, t, key: m.Key) -> None:
    """The "Step through" tab: controls, the diagram of the step, its chain rule, downloads, the node table.

    A fragment: a step, a fold, the diagram's keys and area rerun this tab alone, not the page around it (the
    sidebar, the expression and its values, the tabs: half the page's elements, whose cost is most of a step's).
    The expression, values and sidebar options are the page's: a change there reruns the page, and this with it.
    """
    with cpu_share.SHARE.interactive():  # a student's step: the Playground's timer ticks wait for it
        folding = folding_of(graph)
        shown(graph, t, key, step_index(len(t.steps)), drawing_for(key, folding), folding)
        write_url(key, graph.graph["variables"], folding)


def shown(graph, t, key: m.Key, index: int, drawing: m.Drawing, folding: m.Folding) -> None:
    """What the step-through tab shows at step ``index``."""
    count = len(t.steps)
    # step controls
    # rows are horizontal containers, not columns: one element, not one per column (a step's server time is
    # mostly its elements), and on a phone they wrap instead of stacking
    with st.container(horizontal=True, vertical_alignment="center"):
        for where, icon in [("first", "first_page"), ("prev", "chevron_left"), ("next", "chevron_right"),
                            ("last", "last_page")]:
            at_end = index == 0 if where in ("first", "prev") else index == count - 1
            st.button(where, key=f"go:{where}", icon=f":material/{icon}:", on_click=go, args=(where, count),
                      disabled=at_end)
        st.markdown(f"**{m.step_label(t, index)}**")
    st.slider("Step", 1, count, key="step", label_visibility="collapsed")

    n = graph.number_of_nodes()
    set_error = None
    try:
        m.groups(key, folding)
    except GraphlabError as e:  # a picked set that cannot fold: said beside its control, drawn without it
        if folding.picked:
            set_error, folding = str(e), replace(folding, picked=())
    try:
        folded = m.groups(key, folding)
    except GraphlabError as e:  # a group that cannot fold (it would feed itself): drawn open
        st.warning(f"Cannot fold this graph: {e}")
        folded, folding = (), replace(folding, folded=False)
    shown_nodes = m.drawn_nodes(graph, folded)
    drawable = shown_nodes <= (m.MAX_FOLDED_NODES if folded else m.MAX_DRAW_NODES)
    fold_controls(graph, n, folded, folding, set_error)
    stage = st.container(key=diagram_view.STAGE)  # the diagram and the chain rule: what presenting shows
    with stage:
        if drawable:
            diagram_view.show(m.diagram_svg(key, index, drawing, folding), index + 1, count, m.step_label(t, index),
                              direction=drawing.direction, present=bool(state.get("present")), key="diagram",
                              on_goto=go_to, on_present=toggle_presenting, on_area=lambda: None)
        elif folded:
            st.info(f"Folded, this graph still draws {shown_nodes:,} nodes, more than the {m.MAX_FOLDED_NODES} "
                    "that can be drawn legibly: fold all again, or expand fewer groups. The table below has every "
                    "node.")
        else:
            st.info(f"This graph has {n:,} nodes, more than the {m.MAX_DRAW_NODES} that can be drawn legibly, "
                    "so the diagram is left out. The table below has every node.")
        with st.container(key=diagram_view.RULE):
            explained = m.explanation(key, index, drawing.precision, drawing.form)
            st.markdown("**The chain rule at this step**" if explained.phase == "backward"
                        else "**Computed at this step**")
            # inline maths, one sentence a paragraph: KaTeX breaks a long line after = and +, so it wraps;
            # a sentence in words (\text{...}, as matrix steps say their shapes) is text, which wraps anywhere
            for line in explained.latex.split(r"\\"):
                words = WORDS.fullmatch(line.strip())
                st.markdown(MARKDOWN.sub(r"\\\g<0>", words[1]) if words else rf"$\displaystyle {line.strip()}$")
    right = st.container()
    if drawable:
        with right:
            st.markdown("**Download this step**")
            with st.container(horizontal=True):
                for name, (ext, mime) in m.DOWNLOADS.items():
                    st.download_button(name, partial(m.figure, key, index, drawing, ext, folding),
                                       m.file_name(key, index, ext),
                                       mime, key=f"download:{ext}", on_click="ignore", width="stretch")
            st.download_button(f"All {count} frames (ZIP)", partial(m.frames_zip, key, drawing),
                               m.file_name(key, None, "zip"), "application/zip", key="download:zip",
                               on_click="ignore", width="stretch", icon=":material/download:")
            st.markdown("**Every step in one file**", help="The stepper as one HTML page that works offline, "
                        "a Beamer deck with one overlay per step, or an animation: as `graphlab draw -o FILE`")
            with st.container(horizontal=True):
                for name, (fmt, file, mime) in m.TRACE_DOWNLOADS.items():
                    st.download_button(name, partial(m.whole_trace, key, drawing, fmt, index), file, mime,
                                       key=f"download:{fmt}", on_click="ignore", width="stretch")

    if folding.paths:
        show_paths(t, key, folding.paths, drawing.precision)

    with st.expander("Every gradient", expanded=False):
        lines = m.gradient_latex(key, drawing.form, drawing.precision)
        st.latex(r"\begin{aligned}" + r" \\ ".join(line.replace(" = ", " &= ", 1) for line in lines)
                 + r"\end{aligned}")  # the = signs one under the other

    if graph.graph.get("matrices"):
        matrix_tables(t, index, drawing.precision)

    st.subheader("All nodes")
    st.dataframe(m.node_rows(key, index, drawing.precision), hide_index=True, width="stretch")


def fold_controls(graph, n: int, folded, folding: m.Folding, set_error: str | None = None) -> None:
    """Fold into layers (always, over the draw limit), expand one folded group at a time, fold all again; a set
    of nodes picked and folded as one (``set_error``: why it cannot be); and the variable whose paths to the
    output are marked."""
    over = n > m.MAX_DRAW_NODES
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.toggle("Fold into layers", key="fold", disabled=over,
                  help=f"Each layer (the statements at one depth) drawn as one node; over {m.MAX_DRAW_NODES} nodes "
                       "a graph is always folded. A step inside a folded group marks the group.")
        titles = {g.name: g.title for g in folded if g.name != folding.name or not folding.picked}
        if titles:
            st.pills("Expand", list(titles), key="expand_pick", format_func=titles.get, on_change=expand,
                     help="Draw one group open: a layer as its statements (a network's neurons), a statement as "
                          "its operators")
            if folding.expanded:
                st.button("Fold all again", key="fold_all", on_click=fold_all, icon=":material/unfold_less:")
    with st.container(horizontal=True, vertical_alignment="bottom"):
        st.multiselect("Fold a set", set_options(graph), key="fold_set",
                       max_selections=m.MAX_PICKED, placeholder="nodes to draw as one", width="stretch",
                       help="Draw the nodes you pick as one node (a statement's name takes its whole "
                            "statement; a folded group it holds joins it), as `graphlab draw EXPR --fold "
                            "NAME=A,B` does")
        st.text_input("Named", key="fold_name", max_chars=40, width=160)
        variables = graph.graph["variables"]
        st.selectbox("Paths from", ["", *variables], key="paths", format_func=lambda v: v or "(none)", width=200,
                     help="Mark every path from this variable to the output; below the diagram, each path's "
                          "product of local gradients, and their sum, the gradient")
    if set_error:
        st.error(f"Cannot fold this set: {set_error}")


def show_paths(t, key: m.Key, variable: str, precision: int) -> None:
    """Every path from ``variable`` to the output: its nodes, its local gradients, their product; the products'
    sum beside the gradient the backward pass computed."""
    out = t.graph.graph["output"]
    try:
        terms = m.path_terms(key, variable)
    except GraphlabError as e:
        st.info(str(e))
        return
    digits = partial(number, digits=precision, compact=True)
    label = {n: d["label"] for n, d in t.graph.nodes(data=True)}
    rows = [{"path": " → ".join(label[n] for n in p.nodes),
             "local gradients (output end first)": " · ".join(f"∂{label[node]}/∂{label[p.nodes[len(p.edges) - k - 1]]}"
                                                              for k, (node, _) in enumerate(p.edges)),
             "values": " × ".join(f"({digits(v)})" for v in p.locals),
             "product": digits(p.product)} for p in terms]
    st.markdown(f"**Every path from {variable} to {out}**: {len(terms)} path{'s' if len(terms) != 1 else ''}, "
                "marked on the diagram")
    st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    total = None
    for p in terms:
        total = p.product if total is None else total + p.product
    st.markdown(f"Sum of the products: **{digits(total)}** = ∂{out}/∂{variable} = **{digits(t.grads[variable])}**, "
                "the gradient backprop computed")


def matrix_tables(t, index: int, precision: int) -> None:
    """Over matrices: the visited node's value and gradient at this step, as small tables."""
    fr = frame(t.graph, t, index)
    node = fr.current
    out = t.graph.graph["output"]
    shown = [(f"{node} [{m.shape_of(t.graph, node)}]", fr.values.get(node)),
             (f"∂{out}/∂{node}", fr.grads.get(node) if fr.phase == "backward" else None)]
    for column, (title, value) in zip(st.columns(2), shown, strict=True):
        rows = m.matrix_table(value, precision)
        if rows is not None:
            column.markdown(f"**{title}**")
            column.dataframe(pd.DataFrame(rows), hide_index=True)
        elif value is not None:
            column.markdown(f"**{title}** = {number(value, digits=precision)}")


# --------------------------------------------------------------------------- page
restore_from_url()
for k in TAB_KEYS:
    if k in state:
        state[k] = state[k]
st.title("Backpropagation, step by step")
for problem in state.pop("_url_problems", []):
    st.warning(f"Ignored from the link: {problem}")

with st.sidebar:
    st.subheader("Lecture examples")
    for example in m.EXAMPLES:
        st.button(example, key=f"example:{example}", on_click=load_example, args=(example,), width="stretch")
    st.subheader("Options")
    st.segmented_control("Arithmetic", m.MODES, key="mode", required=True,
                         help="float: NumPy float64. exact: SymPy numbers, so 1/3 and log(6) stay exact.")
    st.segmented_control("Diagram style", m.CHOICES["style"], key="style", required=True)
    st.segmented_control("Direction", m.CHOICES["direction"], key="direction", required=True,
                         format_func={"auto": "fit the screen", "LR": "left to right", "TB": "top to bottom"}.get)
    st.selectbox("Colours", m.CHOICES["palette"], key="palette")
    st.number_input("Significant digits", 1, 17, key="precision")
    st.toggle("Local gradients as formulas", key="symbolic")
    st.segmented_control("Gradients written as", m.CHOICES["form"], key="form", required=True,
                         help="names: the lecture's products of local factors over your named intermediates; "
                              "expanded: in the variables only; delta: δ per named node, each from the next")

st.text_input("Expression", key="expr", on_change=lambda: state.update(step=1),
              help="e.g. (x+y)z, log(x1 x2) sin(x2), or statements: q = x + y; f = q z")
expr = state["expr"]
try:
    try:
        names = m.build(expr).graph["variables"]
    except GraphlabError:  # softmax_ce(Yhat, Y) is not built over scalars: the names the value boxes hold
        names = tuple(k.partition(":")[2] for k in state if k.startswith(m.value_key("")))
    # matrices typed as values ([[0,0],[0,1]]) or shapes (784x200) decide the shapes, and so the ops (X W is a
    # matrix product)
    typed = m.values_of(state, (*names, *m.EXAMPLES.get(expr.strip(), {})))
    graph = m.build(expr, m.shapes_typed(typed))
except GraphlabError as e:
    show_error("Cannot read the expression:", e)

variables = graph.graph["variables"]
if variables:
    many = len(variables) > MANY_VALUES  # a network's weights: in an expander, so the diagram comes first
    box = st.expander(f"The values of the {len(variables):,} variables") if many else st.container()
    columns = box.columns(min(len(variables), 6))
    for i, name in enumerate(variables):
        if m.value_key(name) not in state:
            state[m.value_key(name)] = m.default_value(expr, name)
        columns[i % len(columns)].text_input(name, key=m.value_key(name),
                                             help="a number, a constant such as 1/3 or pi/2, or a matrix "
                                                  "such as [[0,0],[0,1]]")
key = m.Key(expr, m.values_of(state, variables), state["mode"])
try:
    t = m.compute(key)
except m.BadValue as e:
    show_error(f"Cannot read the value of {e.name}:", e.error)
except GraphlabError as e:
    show_error("Cannot trace this:", e)
if graph.graph.get("matrices"):  # the network's size, the lecture's 159,010 for 784-200-10
    st.caption(parameter_line(graph))
if t.missing and graph.graph.get("matrices"):
    st.info(f"No value for {', '.join(t.missing)}: the steps show each node's shape and the gradients' formulas "
            "(give a matrix such as [[0,1],[1,0]] for values, or a shape such as 4x2 for shapes only).")
elif t.missing:
    st.info(f"No value for {', '.join(t.missing)}: in exact mode its gradients stay symbolic.")
for node, what in t.nonfinite.items():
    st.warning(f"Non-finite {' and '.join(what)} at node {node}: check the values (log of a negative number?).")

# Only the open tab runs (on_change="rerun"): stepping does not redo the other tabs' work.
step_tab, check, descent, forward, gradients, practice = st.tabs(list(TABS.values()), key="tab", on_change="rerun")
if not any(tab_.open for tab_ in (check, descent, forward, gradients, practice)):
    with step_tab:
        step_through(graph, t, key)  # it writes the URL
else:
    folding = folding_of(graph)
    drawing = drawing_for(key, folding)
    if graph.graph.get("matrices") and not check.open:
        for tab_ in (descent, forward, gradients, practice):
            with tab_:
                st.info("This tab works on scalar expressions; a graph over matrices is stepped through in the "
                        "first tab and checked in the second.")
    elif practice.open:
        with practice:
            practice_tab.show(key, drawing)
    elif forward.open:
        with forward:
            forward_tab.show(key, drawing)
    elif gradients.open:
        with gradients:
            gradcheck_tab.show(key)
    elif check.open:
        with check:
            check_tab.show(key, drawing)
    else:
        with descent:
            descent_tab.show(key)
    step_index(len(t.steps))
    write_url(key, variables, folding)  # last: the tabs settle their state (the parameters chosen by default)
