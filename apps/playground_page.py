"""The Playground: train a small network on 2-D points (or digits, or a CSV file) and watch it learn.

Controls sit in the sidebar; the views live in a fragment that reruns on a timer while
training plays, so the rest of the page stays responsive. Changing the data, the features or
the network starts a new network (like pressing reset); the training controls (optimizer,
learning rate, batch size, L2) apply to the network being trained, which goes on. "Open this
prediction" hands one point's scalar graph, with the current weights, to the stepper page
through its URL state.
"""

from __future__ import annotations

import functools
import itertools
import time
import uuid
from dataclasses import fields

import cpu_share
import numpy as np
import playground_charts as charts
import playground_model as m
import streamlit as st
import visibility

from graphlab.errors import GraphlabError
from graphlab.nn import ACTIVATIONS
from graphlab.train import OPTIMIZERS

state = st.session_state
TICK_SECONDS = 0.5  # while playing, the views refresh this often
# A run of the page that starts the views' timer ends no sooner than this after starting it (see the page's end)
FIRST_TICK_SECONDS = 4 * TICK_SECONDS
TRAIN_SECONDS = 0.3  # and each refresh trains for at most this long (CPU seconds; less when others play too)
LEARNING_RATES = (0.00001, 0.0001, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)  # the Playground's choices
L2_RATES = (0.0, 0.001, 0.003, 0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
FIELDS = [f.name for f in fields(m.Config)]
OWN_WIDGETS = ("layers", "activations", "features", "residual")  # fields made from several widgets
DATASET_NAMES = {"csv": "CSV upload", "digits": "digits (8×8 images, 10 classes)", "function": "f(x): fit a curve",
                 "plane": "plane (regression)", "bumps": "multi-Gaussian (regression)"}


# --------------------------------------------------------------------------- state
def key(name: str) -> str:
    return f"pg_{name}"


def seed_widgets(config: m.Config) -> None:
    """Widget state from a configuration: on the first visit from the URL, later from the last one kept.

    Streamlit forgets a page's widget state when another page is shown; the configuration
    kept under ``_pg_config`` brings it back.
    """
    for name in FIELDS:
        if name not in OWN_WIDGETS and key(name) not in state:
            state[key(name)] = getattr(config, name)
    state.setdefault(key("hidden"), len(config.layers))
    state.setdefault(key("features"), list(config.features))
    for i in range(m.MAX_LAYERS):
        state.setdefault(key(f"units_{i}"), config.layers[i] if i < len(config.layers) else 4)
        state.setdefault(key(f"act_{i}"), config.activations[i] if i < len(config.activations) else "tanh")
        state.setdefault(key(f"res_{i}"), i + 1 in config.residual)


def config_from_widgets() -> m.Config:
    hidden = state[key("hidden")]
    chosen = {name: state[key(name)] for name in FIELDS if name not in OWN_WIDGETS}
    return m.Config(**chosen, features=tuple(state[key("features")]),
                    layers=tuple(state[key(f"units_{i}")] for i in range(hidden)),
                    activations=tuple(state[key(f"act_{i}")] for i in range(hidden)),
                    residual=tuple(i + 1 for i in range(1, hidden) if state[key(f"res_{i}")])).fixed()


def set_function(text: str) -> None:
    state[key("function")] = text


def regenerate() -> None:
    state[key("seed")] = state[key("seed")] + 1


def set_playing(playing: bool) -> None:
    state["_pg_playing"] = playing


def one_step() -> None:
    state["_pg_playing"] = False
    run = state.get("_pg_run")
    if run is not None:
        run.step()


def reset() -> None:
    state["_pg_playing"] = False
    state.pop("_pg_run", None)


def pick_point() -> None:
    """A click on a point of the plot: it becomes the point that "Open this prediction" opens."""
    event = state.get(key("boundary")) or state.get(key("curve")) or {}
    picked = (event.get("selection") or {}).get("pick") or []
    if picked and {"set", "index"} <= set(picked[0]):
        state[key("split")], state[key("index")] = picked[0]["set"], int(picked[0]["index"])
        state["_pg_picked"] = True


def choose_weight() -> None:
    run: m.Run = state["_pg_run"]
    name, index = m.weight_choices(run)[state[key("weight")]]
    state[key("weight_value")] = float(np.asarray(run.model.params[name])[index])


def set_weight() -> None:
    run: m.Run = state["_pg_run"]
    choice = m.weight_choices(run).get(state[key("weight")])
    if choice is not None:
        state["_pg_playing"] = False
        run.set_weight(*choice, float(state[key("weight_value")]))


def open_prediction(prediction: m.Prediction) -> None:
    state["_pg_playing"] = False
    state.pop("_restored", None)  # the stepper reads its URL once per session: let it read this one
    st.switch_page("stepper_page.py", query_params=m.stepper_query(prediction))


# --------------------------------------------------------------------------- page
if "_pg_config" not in state:
    config, problems = m.from_query(st.query_params.to_dict())
    state["_pg_config"] = config
    for problem in problems:
        st.warning(f"Ignored from the link: {problem}")
seed_widgets(state["_pg_config"])
state.setdefault("_pg_playing", False)

st.title("Playground: watch a network learn")

with st.sidebar:
    st.caption("Data, Features and Network start a new network; Training changes apply as it trains, "
               "with no reset.")
    st.subheader("Data", help="Changing these starts a new network")
    st.selectbox("Dataset", m.DATASETS, key=key("dataset"),
                 format_func=lambda d: DATASET_NAMES.get(d, d))
    dataset = state[key("dataset")]
    upload = None
    if dataset == "csv":
        upload = st.file_uploader("CSV file: feature columns, then the label", type=["csv"], key=key("upload"))
    if dataset == "function":
        st.text_input("f(x)", key=key("function"), max_chars=m.MAX_FUNCTION,
                      help="Any expression in x in graphlab's input language, e.g. x^2/10 or sin(2x)/x")
        presets = st.columns(len(m.FUNCTIONS))
        for column, (name, text) in zip(presets, m.FUNCTIONS.items(), strict=True):
            column.button(name, key=key(f"f_{name}"), on_click=set_function, args=(text,), width="stretch")
    if dataset in m.GENERATED or dataset in m.REGRESSION:
        st.slider("Noise", 0.0, 0.5, step=0.05, key=key("noise"), format="%.2f",
                  help="f(x): the standard deviation of the noise added to f" if dataset == "function" else
                  "The Playground's 0-50 %: how far points stray across the boundary")
        st.slider("Points", 100, m.MAX_POINTS, step=50, key=key("points"))
        if dataset == "spiral":
            st.segmented_control("Spiral arms (classes)", (2, 3), key=key("classes"), required=True)
    st.slider("Test data (%)", 0, 90, step=5, key=key("test_percent"))
    seed_col, regen_col = st.columns([2, 3], vertical_alignment="bottom")
    seed_col.number_input("Seed", 0, 2**31, key=key("seed"))
    regen_col.button("Regenerate", icon=":material/refresh:", on_click=regenerate, width="stretch",
                     help="New points: the next seed")

    st.subheader("Features", help="Changing these starts a new network")
    features_apply = dataset in m.GENERATED or dataset in ("plane", "bumps")
    st.pills("Inputs to the network", list(m.FEATURES), selection_mode="multi", key=key("features"),
             format_func=lambda f: m.FEATURES[f][0], disabled=not features_apply,
             help="Computed from each point's coordinates x₁, x₂" if features_apply else
             "f(x), digits and CSV files use their own columns as inputs")

    st.subheader("Network", help="Changing these starts a new network")
    st.number_input("Hidden layers", 0, m.MAX_LAYERS, key=key("hidden"))
    for i in range(state[key("hidden")]):
        units_col, act_col = st.columns(2)
        units_col.number_input(f"Layer {i + 1}: neurons", 1, m.MAX_UNITS, key=key(f"units_{i}"))
        act_col.selectbox(f"Layer {i + 1}: activation", ACTIVATIONS, key=key(f"act_{i}"))
        if i >= 1:
            st.checkbox(f"Layer {i + 1}: residual", key=key(f"res_{i}"),
                        help=f"Res(z) = z + σ(MM(σ(MM(z)))) (seed 004): layer {i + 1}'s output adds layer {i}'s "
                             f"input z; their widths must match")

    st.selectbox("Learning rule", tuple(m.RULES), key=key("rule"), format_func=m.RULES.get,
                 help="perceptron rule: with no hidden layers, the output is sign(w·x + b) and each point in turn "
                      "updates w += η (y − ŷ) x (seeds 003, 004); the learning rate is η")
    perceptron = state[key("rule")] == "perceptron"
    regression = dataset in m.REGRESSION
    st.selectbox("Loss", tuple(m.LOSSES), key=key("loss"), format_func=lambda k: f"{k}: {m.LOSSES[k]}",
                 disabled=regression or perceptron, help="A regression is fitted with mse" if regression else
                 "The perceptron rule has no loss; the page shows the share misclassified" if perceptron else
                 "bce needs two classes; with more the page uses ce")
    st.subheader("Training", help="Changed while it trains: the weights and the epoch count go on")
    rule_only = "The perceptron rule has no optimizer, batches or L2" if perceptron else None
    st.selectbox("Optimizer", OPTIMIZERS, key=key("optimizer"), disabled=perceptron, help=rule_only)
    st.select_slider("Learning rate", LEARNING_RATES, key=key("lr"), help="The perceptron rule's η" if perceptron
                     else None)
    st.slider("Batch size", 1, 100, key=key("batch_size"), disabled=perceptron, help=rule_only)
    st.select_slider("L2 regularization", L2_RATES, key=key("l2"), disabled=perceptron, help=rule_only)

config = config_from_widgets()
state["_pg_config"] = config
st.query_params.from_dict(m.to_query(config))
csv_bytes = upload.getvalue() if upload is not None else None

run: m.Run | None = state.get("_pg_run")
if run is None or state.get("_pg_csv") != csv_bytes or not run.follow(config):
    try:
        run = m.Run.start(config, csv_bytes)
    except GraphlabError as e:
        state.pop("_pg_run", None)
        st.info(str(e), icon=":material/upload_file:") if dataset == "csv" else st.error(str(e))
        st.stop()
    state["_pg_run"], state["_pg_csv"], state["_pg_playing"] = run, csv_bytes, False
if run.perceptron:
    st.caption("The perceptron rule: ŷ = sign(w·x + b), and after each training point w += η (y − ŷ) x, "
               "b += η (y − ŷ) (y and ŷ are ±1; η is the learning rate). Optimizer, batch size and L2 do not apply; "
               "the loss shown is the 0/1 loss, the share of points misclassified. It reaches 0 when a line "
               "separates the classes, and never on xor.")
elif run.config.loss != config.loss:
    st.caption(f"Loss {config.loss} is for two classes: this dataset has {len(run.data.classes)}, so ce is used.")

playing = state["_pg_playing"]
controls = st.columns([1.2, 1, 1, 5], vertical_alignment="center")
if playing:
    controls[0].button("Pause", key=key("pause"), icon=":material/pause:", on_click=set_playing, args=(False,),
                       type="primary", width="stretch")
else:
    controls[0].button("Play", key=key("play"), icon=":material/play_arrow:", on_click=set_playing, args=(True,),
                       type="primary", width="stretch", disabled=bool(run.error))
controls[1].button("Step", key=key("step"), icon=":material/skip_next:", on_click=one_step, width="stretch",
                   help="Train one epoch", disabled=bool(run.error))
controls[2].button("Reset", key=key("reset"), icon=":material/restart_alt:", on_click=reset, width="stretch",
                   help="New random weights, epoch 0")
if m.uses_features(run.data) or run.regression:
    controls[3].toggle("Show test points", value=True, key=key("show_test"))


# --------------------------------------------------------------------------- views
def boundary_caption(run: m.Run) -> str:
    if run.regression:
        return ("The background is the network's output: orange −1, white 0, blue +1; each point is coloured by "
                "its target. White outline: training point; black outline: test point.")
    classes = run.data.classes
    if run.perceptron:
        background = (f"Orange points are class {classes[0]}, blue class {classes[1]}. The background is the "
                      f"perceptron's output sign(w·x + b): blue +1 (class {classes[1]}), orange −1.")
    elif len(classes) == 2:
        background = (f"Orange points are class {classes[0]}, blue class {classes[1]}. The background is the "
                      f"network's probability of class {classes[1]}: orange 0, white ½, blue 1.")
    else:
        background = "The background is the class the network predicts there, paler where it is less sure."
    return background + " White outline: training point; black outline: test point."


def weight_editor(run: m.Run) -> None:
    """Pick a weight (or bias) and type its value: the views redraw with it at once; training goes on from it."""
    choices = m.weight_choices(run)
    if state.get(key("weight")) not in choices:
        state[key("weight")] = next(iter(choices))
        choose_weight()
    with st.expander("Edit a weight by hand"):
        pick, value = st.columns([3, 2], vertical_alignment="bottom")
        pick.selectbox("Weight", list(choices), key=key("weight"), on_change=choose_weight)
        value.number_input("Value", -1e6, 1e6, step=0.1, format="%.4f", key=key("weight_value"), on_change=set_weight)
        st.caption("The boundary, the loss and the gradients update at once; Play or Step trains on from here.")


def neuron_maps(run: m.Run) -> None:
    maps = run.neuron_maps()
    if not maps:
        st.caption("No hidden layer: the output is a weighted sum of the inputs (a straight boundary).")
        return
    for layer, (units, activation) in enumerate(zip(maps, run.config.activations, strict=True), 1):
        images = [m.png_data_url(m.neuron_image(values, activation)) for values in units]
        st.image(images, caption=[f"h{layer}_{j}" for j in range(1, len(units) + 1)], width=72)


# --------------------------------------------------------------------------- live views
def yield_point() -> None:
    """Where a script run that Streamlit has asked to stop (a click replaced it) or to rerun ends: Streamlit
    checks on every Session State access."""
    _ = "_pg_playing" in state


def fair(views):
    """``views(budget)`` as one tick of a playing session that shares the server's CPU with the other playing
    sessions (apps/cpu_share.py): a tick of the timer may wait first; it trains for ``budget`` CPU seconds, its
    share, and its cost is recorded for the next tick (``_pg_tick``).

    Each run of the whole page makes its own tick, a fragment of its own: its name, and so Streamlit's id for the
    fragment, is new. The timer's requests for the fragment that the page showed before may still be on their way
    (the browser sends them until it hears of this run), and Streamlit drops a request for a fragment the page no
    longer has. Under the page's old id, one coming just as this run ended would have been taken as a rerun of the
    views in a new script runner, and the rest of this run, its end included, would never have reached the
    browser: Pause half-applied (issue 17). The tick's first call is the one inside this page run (no wait); the
    later ones are the timer's."""
    calls = itertools.count()

    @functools.wraps(views)
    def tick() -> None:
        budget, timer = TRAIN_SECONDS, next(calls) > 0
        if state.get("_pg_playing"):
            session = state.setdefault("_pg_session", uuid.uuid4().hex)
            wait, budget = cpu_share.SHARE.next_tick(session, state.get("_pg_tick", cpu_share.Tick()),
                                                     TICK_SECONDS, TRAIN_SECONDS)
            if timer:  # not the page run's own tick: it waits for its turn (no CPU: the timer's requests meanwhile
                cpu_share.SHARE.hold(wait, yield_point)  # fold into one), and for clicks to be answered first
        start, cpu = time.monotonic(), time.thread_time()
        try:
            views(budget)
        finally:
            state["_pg_tick"] = cpu_share.Tick(start, time.thread_time() - cpu)

    tick.__qualname__ = f"{views.__qualname__}_{uuid.uuid4().hex}"  # this page run's fragment (see above)
    return tick


# A hidden browser tab trains no more: its timer stops until the tab is shown again.
hidden = visibility.hidden(key("visibility"), on_change=lambda: None)
ticking = playing and not run.error and not hidden


@st.fragment(run_every=TICK_SECONDS if ticking else None)
@fair
def live(budget: float) -> None:
    run: m.Run = state["_pg_run"]
    if state.get("_pg_playing") and not run.error and not hidden:
        run.train_for(budget, clock=time.thread_time, between=yield_point)
    train_acc, test_acc = run.accuracy()
    stats = st.columns(5)
    stats[0].metric("Epoch", f"{run.epoch:,}")
    stats[1].metric("Train loss", f"{run.train_loss[-1]:.4f}")
    stats[2].metric("Test loss", "–" if np.isnan(run.test_loss[-1]) else f"{run.test_loss[-1]:.4f}")
    if run.regression:  # R² = 1 - Σ(y - ŷ)²/Σ(y - ȳ)²; the losses above are the mean squared errors
        stats[3].metric("Train R²", f"{train_acc:.3f}", help="1 is a perfect fit, 0 no better than the mean")
        stats[4].metric("Test R²", "–" if np.isnan(test_acc) else f"{test_acc:.3f}")
    else:
        stats[3].metric("Train accuracy", f"{train_acc:.1%}")
        stats[4].metric("Test accuracy", "–" if np.isnan(test_acc) else f"{test_acc:.1%}")
    if run.error:
        st.error(run.error + ". Press Reset.", icon=":material/warning:")
        state["_pg_playing"] = False
    plane = m.uses_features(run.data)
    left, right = st.columns(2)
    with left:
        if run.regression and not plane:
            st.vega_lite_chart(spec=charts.curve(run, state.get(key("show_test"), True),
                                             state.get(key("unit_curves"), False)),
                               key=key("curve"), on_select=pick_point, selection_mode="pick")
            st.toggle("Show what each hidden unit adds", key=key("unit_curves"),
                      help="Dashed: each unit of the last hidden layer times its weight to the output; the curve "
                           "is their sum plus the output's bias")
        elif plane:
            st.vega_lite_chart(spec=charts.boundary(run, state.get(key("show_test"), True)), key=key("boundary"),
                               width="content", on_select=pick_point, selection_mode="pick")  # square plot
            st.caption("Click a point to open it below.")
            st.caption(boundary_caption(run))
        else:
            st.vega_lite_chart(spec=charts.confusion(run, "test" if len(run.data.y_test) else "train"),
                               key=key("confusion"), width="content")
    with right:
        st.vega_lite_chart(spec=charts.loss(run), key=key("loss_chart"))
    if plane and not run.regression and len(run.data.classes) > 2:
        st.vega_lite_chart(spec=charts.confusion(run, "test" if len(run.data.y_test) else "train"),
                           key=key("confusion"), width="content")
    network, neurons = st.columns([3, 2]) if plane else (st.container(), None)
    with network:
        show = state.get(key("links"), "weight")
        st.markdown(f"**The network** (blue links: positive {show}s, orange: negative; thicker: larger)")
        st.segmented_control("Links show", ("weight", "gradient"), key=key("links"), default="weight",
                             required=True, help="gradient: d loss / d w over the training set at the current "
                                                 "weights: the step gradient descent takes next, before −η")
        st.vega_lite_chart(spec=charts.network(run, show), key=key("network"))
        weight_editor(run)
    if neurons is not None:
        with neurons:
            st.markdown("**What each hidden neuron computes** over the plane (orange −, white 0, blue +)")
            neuron_maps(run)
    st.vega_lite_chart(spec=charts.layers(run), key=key("layers_chart"), width="content")
    if state.pop("_pg_picked", False):
        st.rerun()  # the picked point is opened below, outside this fragment
    st.caption("Each weight matrix's gradient norm after each epoch, and how far the epoch moved it relative to its "
               "size. Sigmoid's derivative is at most ¼, so in a deep sigmoid network the first layers' gradients "
               "shrink by orders of magnitude (seed 003: vanishing gradients); relu or residual networks keep them. "
               "Adam rescales every step, so with it the update ratios stay alike: use sgd to see them vanish too.")


timer_started = time.monotonic()
live()


# --------------------------------------------------------------------------- one prediction
st.subheader("Open this prediction")
st.caption("Pick a point: its computational graph through the network, at the current weights, opens in the "
           "stepper with the point's loss as the output: at the layer level (H1 = tanh(x W1 + b1)), each layer "
           "expanding to its neurons and each neuron to its operators.")
pick = st.columns([1, 1, 4], vertical_alignment="bottom")
split = pick[0].segmented_control("From the", ("train", "test"), key=key("split"), default="test"
                                  if len(run.data.y_test) else "train", required=True)
size = len(run.data.y_test if split == "test" else run.data.y_train)
index = pick[1].number_input(f"Point (0 to {size - 1})", 0, max(size - 1, 0), key=key("index"))
try:
    prediction = m.prediction(run, split, min(index, size - 1))
except GraphlabError as e:
    pick[2].info(str(e))
else:
    plane_point = m.uses_features(run.data) and not run.regression
    probabilities = run.probabilities(np.array([prediction.raw])) if plane_point else None
    where = ", ".join(f"{v:.3g}" for v in prediction.raw[:4]) + (" …" if len(prediction.raw) > 4 else "")
    text = (f"Point ({where}), " + ("target" if run.regression else "class")
            + f" **{prediction.label}**, loss **{prediction.loss:.4g}**")
    if run.regression:
        text += f"; the network says {run.values(np.array([prediction.raw]))[0]:.3g}"
    if probabilities is not None:
        text += f"; the network says class {int(probabilities[0].argmax())} ({probabilities[0].max():.0%})"
    pick[2].markdown(text)
    if st.button(f"Open in the stepper ({prediction.nodes:,} nodes)", key=key("open"),
                 icon=":material/account_tree:"):
        open_prediction(prediction)  # not an on_click callback: st.switch_page must run in the script
    st.caption("The stepper draws it folded into its layers; its inputs are the point's features standardized "
               "with the training set's mean and std.")
    with st.expander("The expression"):
        st.code(prediction.expr.replace("; ", "\n"), language=None)

# --------------------------------------------------------------------------- exports
st.subheader("Export")
st.caption("The weights load with graphlab.train.Model.load; the code is the network's training step as "
           "graphlab compiled it (forward, loss and every gradient). The URL holds this configuration.")
exports = st.columns(2)
exports[0].download_button("Weights (.npz)", run.weights_npz, "playground-weights.npz", "application/octet-stream",
                           key=key("npz"), on_click="ignore", icon=":material/download:", width="stretch")
exports[1].download_button("NumPy code (.py)", run.numpy_code, "playground_network.py", "text/x-python",
                           key=key("code"), on_click="ignore", icon=":material/code:", width="stretch")

# --------------------------------------------------------------------------- the timer's first tick
# Streamlit runs a fragment's timer ticks in this run's script runner once this run is over, if the runner is
# still there: a tick that comes after the runner has finished, but before the server has sent all that this run
# drew, is run by a new runner, and Streamlit drops the rest of this run (its end included: the browser never
# hears that it finished). The browser's first tick comes TICK_SECONDS after it hears of the timer, so a run that
# starts the timer ends no sooner than FIRST_TICK_SECONDS after starting it: the first tick finds it running, and
# later ones follow the ticks before them. A click meanwhile ends the wait (cpu_share.sleep checks); the other
# players' ticks need not wait for it.
if ticking:
    with cpu_share.SHARE.aside():
        cpu_share.sleep(timer_started + FIRST_TICK_SECONDS - time.monotonic(), yield_point)
