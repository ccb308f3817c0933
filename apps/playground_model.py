"""What the Playground page shows, without the widgets: its configuration and URL, a training run
one epoch at a time, the grids behind the heatmaps, the network diagram, and the scalar
expression that opens one prediction in the stepper.

The page only lays these out. A :class:`Run` lives in the session: it is the data (raw
points and the network's input features), a :class:`graphlab.train.Trainer` and the loss
curves; the page's live fragment calls :meth:`Run.train_for` and redraws.
"""

from __future__ import annotations

import base64
import functools
import io
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import stepper_model

from graphlab import data as datasets
from graphlab.compile import compile_source
from graphlab.data import Dataset
from graphlab.errors import GraphlabError
from graphlab.nn import ACTIVATIONS, neuron_graph, neuron_values
from graphlab.ops import OPS
from graphlab.perceptron import Perceptron
from graphlab.train import OPTIMIZERS, Trainer, TrainingDiverged

GENERATED = ("circle", "xor", "gauss", "spiral", "moons")  # 2-D point sets: boundary and neuron heatmaps
REGRESSION = ("function", "plane", "bumps")  # a number per point: f(x) on a line, the Playground's two on the plane
DATASETS = (*GENERATED, *REGRESSION, "digits", "csv")
FUNCTIONS = {"sin": "sin(x)", "step": "step(x)", "|x|": "abs(x)"}  # the function presets, in the input language
MAX_FUNCTION = 200  # characters of a typed f(x)
LOSSES = {"bce": "binary cross-entropy", "ce": "softmax cross-entropy", "mse": "mean squared error"}
# how the weights learn: backpropagation and an optimizer, or Rosenblatt's rule for one sign unit (seeds 003, 004)
RULES = {"gradient": "gradient descent", "perceptron": "perceptron rule (one sign unit)"}
# feature key (URL) -> (label, the name of the network input in the stepper, f(x1, x2))
FEATURES: dict[str, tuple[str, str, Any]] = {
    "x1": ("x₁", "x1", lambda a, b: a),
    "x2": ("x₂", "x2", lambda a, b: b),
    "x1sq": ("x₁²", "x1sq", lambda a, b: a * a),
    "x2sq": ("x₂²", "x2sq", lambda a, b: b * b),
    "x1x2": ("x₁x₂", "x1x2", lambda a, b: a * b),
    "sinx1": ("sin x₁", "sinx1", lambda a, b: np.sin(a)),
    "sinx2": ("sin x₂", "sinx2", lambda a, b: np.sin(b)),
}
MAX_LAYERS, MAX_UNITS = 6, 16  # the TensorFlow Playground's 6 × 8, and wider layers
MAX_POINTS = 2000  # generated sets: 2,000 points at most, so an epoch stays a few milliseconds
NEGATIVE, POSITIVE = "#f59322", "#0877bd"  # the Playground's orange (negative, class 0) and blue (positive, class 1)
MAX_EXPR_CHARS = stepper_model.MAX_EXPR_CHARS  # the longest expression the stepper opens
CLASS_COLOURS = ("#f59322", "#0877bd", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22",
                 "#17becf")


# --------------------------------------------------------------------------- configuration and URL
@dataclass(frozen=True)
class Config:
    """Everything a run depends on; the URL carries it (``to_query`` / ``from_query``)."""

    dataset: str = "xor"
    points: int = 400
    noise: float = 0.0  # the Playground's 0-50 %, as 0..0.5
    classes: int = 2  # spiral only: 2 or 3 arms
    test_percent: int = 30
    seed: int = 0
    features: tuple[str, ...] = ("x1", "x2")
    layers: tuple[int, ...] = (4,)  # small enough that "open this prediction" draws (51 nodes)
    activations: tuple[str, ...] = ("tanh",)
    loss: str = "bce"
    optimizer: str = "adam"
    lr: float = 0.03
    batch_size: int = 10
    l2: float = 0.0
    function: str = "sin(x)"  # dataset "function": f(x), in graphlab's input language
    residual: tuple[int, ...] = ()  # hidden layers (2 onward) that end a residual block (graphlab.nn.residual_layers)
    rule: str = "gradient"  # "perceptron": sign(w·x + b) trained by w += eta (y - y_hat) x (graphlab.perceptron)

    def fixed(self) -> Config:
        """The same configuration made consistent: one activation per layer, a loss that fits the classes."""
        acts = tuple(self.activations[:len(self.layers)])
        acts += (acts[-1] if acts else "tanh",) * (len(self.layers) - len(acts))
        loss = self.loss
        if self.rule == "perceptron":
            loss = "bce"  # one output unit; the rule itself has no loss (the page shows the 0/1 loss)
        elif self.dataset in REGRESSION:
            loss = "mse"
        elif loss == "bce" and self.class_count() != 2:
            loss = "ce"
        features = tuple(f for f in FEATURES if f in self.features) or ("x1", "x2")
        residual = tuple(sorted({r for r in self.residual if 2 <= r <= len(self.layers)}))
        return replace(self, activations=acts, loss=loss, features=features, residual=residual)

    def class_count(self) -> int:
        if self.dataset == "digits":
            return 10
        if self.dataset == "spiral":
            return self.classes
        return 2  # a CSV file's classes are known only once it is read: the page checks bce then

    def network_key(self) -> Config:
        """What the network depends on: a change here starts a new one; the rest (:data:`LIVE`) is tuned live."""
        return replace(self, **{name: getattr(Config, name) for name in LIVE})

    def data_key(self) -> tuple:
        """What the data depends on: changing only these regenerates the points."""
        return self.dataset, self.points, self.noise, self.classes, self.test_percent, self.seed, self.function


LIVE = ("optimizer", "lr", "batch_size", "l2")  # changed while training goes on: same weights, same epoch count

QUERY_NAMES = {"dataset": "data", "points": "n", "noise": "noise", "classes": "classes", "test_percent": "test",
               "seed": "seed", "features": "features", "layers": "layers", "activations": "act", "loss": "loss",
               "optimizer": "opt", "lr": "lr", "batch_size": "batch", "l2": "l2", "function": "f", "residual": "res",
               "rule": "rule"}


def to_query(config: Config) -> dict[str, str]:
    out = {}
    for f in fields(Config):
        value = getattr(config, f.name)
        out[QUERY_NAMES[f.name]] = ",".join(map(str, value)) if isinstance(value, tuple) else f"{value:g}" \
            if isinstance(value, float) else str(value)
    return out


def from_query(params: Mapping[str, str]) -> tuple[Config, list[str]]:
    """The configuration a link asks for, and what in it was ignored (a bad link never breaks the page)."""
    chosen: dict[str, Any] = {}
    problems: list[str] = []
    choices = {"dataset": DATASETS, "loss": tuple(LOSSES), "optimizer": OPTIMIZERS, "rule": tuple(RULES)}
    ranges = {"points": (50, MAX_POINTS), "noise": (0, 0.5), "classes": (2, 3), "test_percent": (0, 90),
              "seed": (0, 2**31), "lr": (1e-6, 10), "batch_size": (1, 1000), "l2": (0, 10)}
    for f in fields(Config):
        key = QUERY_NAMES[f.name]
        if key not in params:
            continue
        text = params[key].strip()
        try:
            if f.name in choices:
                if text not in choices[f.name]:
                    raise ValueError(f"must be one of {', '.join(choices[f.name])}")
                chosen[f.name] = text
            elif f.name in ranges:
                lo, hi = ranges[f.name]
                number = float(text) if f.type == "float" else int(text)
                if not lo <= number <= hi:
                    raise ValueError(f"must be in [{lo:g}, {hi:g}]")
                chosen[f.name] = number
            elif f.name == "layers":
                sizes = tuple(int(n) for n in text.split(",") if n.strip())
                if len(sizes) > MAX_LAYERS or any(not 1 <= n <= MAX_UNITS for n in sizes):
                    raise ValueError(f"at most {MAX_LAYERS} layers of 1 to {MAX_UNITS} neurons")
                chosen[f.name] = sizes
            elif f.name == "activations":
                acts = tuple(a.strip() for a in text.split(",") if a.strip())
                if any(a not in ACTIVATIONS for a in acts):
                    raise ValueError(f"each must be one of {', '.join(ACTIVATIONS)}")
                chosen[f.name] = acts
            elif f.name == "residual":
                chosen[f.name] = tuple(int(n) for n in text.split(",") if n.strip())
            elif f.name == "function":
                if not text or len(text) > MAX_FUNCTION:
                    raise ValueError(f"must be an expression in x of 1 to {MAX_FUNCTION} characters")
                chosen[f.name] = text  # parsed (safely) when the data is made
            elif f.name == "features":
                feats = tuple(a.strip() for a in text.split(",") if a.strip())
                if not feats or any(a not in FEATURES for a in feats):
                    raise ValueError(f"each must be one of {', '.join(FEATURES)}")
                chosen[f.name] = feats
        except ValueError as e:
            problems.append(f"{key}: {e}" if "must" in str(e) or "at most" in str(e) else f"{key} is not a number")
    return Config(**chosen).fixed(), problems


# --------------------------------------------------------------------------- data
def raw_data(config: Config, csv_bytes: bytes | None = None) -> Dataset:
    """The points, split into train and test; for generated sets, the raw (x1, x2) coordinates."""
    test = config.test_percent / 100
    if config.dataset == "csv":
        if not csv_bytes:
            raise GraphlabError("upload a CSV file: feature columns, then a label column")
        return datasets.from_upload(csv_bytes, test_fraction=test, seed=config.seed)
    if config.dataset == "digits":
        return datasets.digits(test_fraction=test, seed=config.seed)
    if config.dataset == "function":
        if len(config.function) > MAX_FUNCTION:
            raise GraphlabError(f"f(x) is limited to {MAX_FUNCTION} characters")
        return datasets.function(config.function, config.points, config.noise, test, config.seed)
    if config.dataset == "spiral":
        return datasets.spiral(config.points, config.noise, test, config.seed, arms=config.classes)
    return datasets.load(config.dataset, noise=config.noise, n=config.points, test_fraction=test, seed=config.seed)


def uses_features(data: Dataset) -> bool:
    """Two raw columns: the feature choices (x₁², sin x₁, ...) apply, and the plane can be drawn."""
    return data.features == 2


def feature_matrix(X: np.ndarray, features: tuple[str, ...]) -> np.ndarray:
    return np.column_stack([FEATURES[f][2](X[:, 0], X[:, 1]) for f in features])


def input_names(data: Dataset, features: tuple[str, ...]) -> list[str]:
    """The network inputs' names, as variables of the stepper's expression."""
    if uses_features(data):
        return [FEATURES[f][1] for f in features]
    if data.features == 1:
        return ["x"]  # f(x)
    prefix = "p" if data.name == "digits" else "x"  # digits: pixels p1..p64
    return [f"{prefix}{j}" for j in range(1, data.features + 1)]


def input_labels(data: Dataset, features: tuple[str, ...]) -> list[str]:
    return [FEATURES[f][0] for f in features] if uses_features(data) else input_names(data, features)


def network_inputs(data: Dataset, features: tuple[str, ...]) -> Dataset:
    """The dataset as the network sees it: the chosen features of each point."""
    if not uses_features(data):
        return data
    return replace(data, X_train=feature_matrix(data.X_train, features), X_test=feature_matrix(data.X_test, features))


# --------------------------------------------------------------------------- a run
@dataclass
class Run:
    """One network being trained: built from a :class:`Config`, trained an epoch at a time."""

    config: Config
    data: Dataset  # raw points
    inputs: Dataset  # features, as the network gets them
    trainer: Trainer | Perceptron
    train_loss: list[float] = field(default_factory=list)  # after each epoch; [0] is before training
    test_loss: list[float] = field(default_factory=list)
    error: str | None = None  # why training stopped (divergence)
    requested: Config | None = None  # the configuration asked for (config may have replaced bce by ce)
    # per epoch and weight matrix: the gradient's norm at the weights after the epoch, ‖∇W‖, and the update
    # ratio ‖ΔW‖/‖W‖ of the epoch (seed 003's vanishing gradients: the early layers' are orders smaller)
    layer_history: list[dict[str, Any]] = field(default_factory=list)
    gradients: dict[str, np.ndarray] = field(default_factory=dict)  # the latest, per parameter

    @classmethod
    def start(cls, config: Config, csv_bytes: bytes | None = None) -> Run:
        config = requested = config.fixed()
        data = raw_data(config, csv_bytes)
        if config.loss == "bce" and len(data.classes) != 2:
            config = replace(config, loss="ce")
        inputs = network_inputs(data, config.features)
        if config.rule == "perceptron":
            if config.layers:
                raise GraphlabError(f"The perceptron rule trains a single layer of sign units, and this network has "
                                    f"{len(config.layers)} hidden layer{'s' * (len(config.layers) > 1)}: set Hidden "
                                    f"layers to 0, or learn by gradient descent (hidden sign units have no learning "
                                    f"rule; backpropagation with smooth activations is what trains hidden layers)")
            run = cls(config, data, inputs, Perceptron(inputs, config.lr, config.seed), requested=requested)
            run._record()
            return run
        trainer = Trainer(inputs, config.layers, config.activations, config.loss, config.optimizer, config.lr,
                          config.batch_size, config.l2, config.seed, dtype="float64", residual=config.residual)
        run = cls(config, data, inputs, trainer, requested=requested)
        run._record()
        return run

    def follow(self, config: Config) -> bool:
        """Take ``config``: tune the learning rate, L2, batch size and optimizer in place when only they
        changed (True); False when the data, features or network differ (then :meth:`start` a new run)."""
        config = config.fixed()
        if config.network_key() != self.requested.network_key():
            return False
        if config != self.requested:
            self.trainer.tune(lr=config.lr, l2=config.l2, batch_size=config.batch_size, optimizer=config.optimizer)
            live = {name: getattr(config, name) for name in LIVE}
            self.config, self.requested = replace(self.config, **live), config
        return True

    @property
    def model(self):
        return self.trainer.model

    @property
    def epoch(self) -> int:
        return len(self.trainer.history)

    def _record(self, before: dict[str, np.ndarray] | None = None) -> None:
        m, d = self.model, self.inputs
        self.train_loss.append(m.loss(d.X_train, d.y_train))
        self.test_loss.append(m.loss(d.X_test, d.y_test))
        self.gradients = self.trainer.gradients()
        for layer in range(1, len(m.graph.graph["sizes"])):
            w = np.asarray(m.params[f"W{layer}"], dtype=np.float64)
            ratio = np.nan if before is None else float(np.linalg.norm(w - before[f"W{layer}"]) / np.linalg.norm(w))
            self.layer_history.append({"epoch": self.epoch, "layer": f"W{layer}",
                                       "gradient": float(np.linalg.norm(self.gradients[f"W{layer}"])),
                                       "update": ratio})

    def set_weight(self, name: str, index: tuple[int, ...], value: float) -> None:
        """Put ``value`` into one weight or bias by hand: the losses at this epoch and the gradients are
        recomputed, so every view shows the edited network; training goes on from it."""
        if not np.isfinite(value) or abs(value) > 1e6:
            raise GraphlabError(f"a weight must be a finite number of at most 10^6 in size, got {value}")
        self.model.params[name][index] = value
        m, d = self.model, self.inputs
        self.train_loss[-1], self.test_loss[-1] = m.loss(d.X_train, d.y_train), m.loss(d.X_test, d.y_test)
        self.gradients = self.trainer.gradients()

    def weights(self) -> dict[str, np.ndarray]:
        return {k: np.array(v, dtype=np.float64) for k, v in self.model.params.items()}

    def layer_chart_data(self, epochs: np.ndarray | None = None) -> pd.DataFrame:
        """Long form: epoch, layer (W1 first), what ("‖∇W‖" or "‖ΔW‖/‖W‖"), value; zeros left out (log scale).
        Only the given ``epochs`` when asked (the chart draws a few hundred of a long run)."""
        history = self.layer_history
        if epochs is not None:
            keep = set(np.asarray(epochs).tolist())
            history = [r for r in history if r["epoch"] in keep]
        epoch = np.array([r["epoch"] for r in history], dtype=np.int64)
        layer = np.array([r["layer"] for r in history], dtype=object)
        value = np.array([r["gradient"] for r in history] + [r["update"] for r in history], dtype=np.float64)
        what = np.repeat(np.array(["gradient norm ‖∇W‖", "update ratio ‖ΔW‖/‖W‖"], dtype=object), len(history))
        kept = np.isfinite(value) & (value > 0)
        return pd.DataFrame({"epoch": np.tile(epoch, 2)[kept], "layer": np.tile(layer, 2)[kept], "what": what[kept],
                             "value": value[kept]})

    def step(self, epochs: int = 1) -> None:
        for _ in range(epochs):
            if self.error:
                return
            before = self.weights()
            try:
                self.trainer.epoch()
            except TrainingDiverged as e:
                self.error = str(e)
                return
            self._record(before)

    def train_for(self, seconds: float, most: int = 50, clock: Callable[[], float] = time.perf_counter,
                  between: Callable[[], object] = lambda: None) -> int:
        """As many epochs as fit in ``seconds`` of ``clock`` (at least one, at most ``most``); how many ran.
        ``between()`` is called between two epochs and may raise to stop the training there (the page: a Streamlit
        yield point, which raises when its script run is asked to stop)."""
        start, before = clock(), self.epoch
        while self.epoch - before < most and not self.error:
            if self.epoch > before:
                between()
            self.step()
            if clock() - start > seconds:
                break
        return self.epoch - before

    def accuracy(self) -> tuple[float, float]:
        m, d = self.model, self.inputs
        return m.accuracy(d.X_train, d.y_train), m.accuracy(d.X_test, d.y_test)

    def curves(self, epochs: np.ndarray | None = None) -> pd.DataFrame:
        """Long form for the chart: epoch, which set, loss; only the given ``epochs`` when asked."""
        epochs = np.arange(len(self.train_loss)) if epochs is None else np.asarray(epochs, dtype=np.int64)
        losses = [("train", self.train_loss)] + ([("test", self.test_loss)] if len(self.inputs.y_test) else [])
        names = np.array([name for name, _ in losses], dtype=object)
        return pd.DataFrame({"epoch": np.tile(epochs, len(losses)), "set": np.repeat(names, len(epochs)),
                             "loss": np.concatenate([np.asarray(loss, dtype=np.float64)[epochs]
                                                     for _, loss in losses])})

    @property
    def regression(self) -> bool:
        return self.data.regression

    @property
    def perceptron(self) -> bool:
        return isinstance(self.trainer, Perceptron)

    def values(self, X_raw: np.ndarray) -> np.ndarray:
        """A regression network's output (its one number) at raw points."""
        X = feature_matrix(X_raw, self.config.features) if uses_features(self.data) else X_raw
        return np.asarray(self.model.logits(X), dtype=np.float64)[:, 0]

    def curve(self, n: int = 200) -> pd.DataFrame:
        """A 1-D fit over the x range: x and the network's output, then ``h{L}_{j}``: what each unit of the
        last hidden layer adds to the output (its activation times its outgoing weight; the output is their
        sum plus the bias)."""
        X = np.concatenate([self.data.X_train, self.data.X_test])[:, 0]
        xs = np.linspace(X.min(), X.max(), n)
        frame = pd.DataFrame({"x": xs, "network": self.values(xs[:, None])})
        hidden = self.model.hidden(xs[:, None])
        if hidden:
            layer = len(hidden)
            w = np.asarray(self.model.params[f"W{layer + 1}"], dtype=np.float64)[:, 0]
            for j in range(hidden[-1].shape[1]):
                frame[f"h{layer}_{j + 1}"] = hidden[-1][:, j] * w[j]
        return frame

    def probabilities(self, X_raw: np.ndarray) -> np.ndarray:
        """Class probabilities (rows sum to 1) for raw points."""
        X = feature_matrix(X_raw, self.config.features) if uses_features(self.data) else X_raw
        z = np.asarray(self.model.logits(X), dtype=np.float64)
        if self.perceptron:  # sign(z): certain on either side of its line
            p1 = (z[:, 0] >= 0).astype(np.float64)
            return np.column_stack([1 - p1, p1])
        if self.config.loss == "bce":
            p1 = OPS["sigmoid"].forward_fn(1)(np, z[:, 0])  # the registry's overflow-safe sigmoid
            return np.column_stack([1 - p1, p1])
        if self.config.loss == "mse":  # outputs are scores, not probabilities: clip and normalize for colour
            z = np.clip(z, 0, None) + 1e-9
            return z / z.sum(axis=1, keepdims=True)
        e = np.exp(z - z.max(axis=1, keepdims=True))
        return e / e.sum(axis=1, keepdims=True)

    # ----------------------------------------------------------------------- the plane
    @functools.cached_property
    def _extent(self) -> tuple[float, float, float, float]:
        X = np.concatenate([self.data.X_train, self.data.X_test])
        lo, hi = X.min(axis=0), X.max(axis=0)
        pad = 0.05 * (hi - lo)
        return lo[0] - pad[0], hi[0] + pad[0], lo[1] - pad[1], hi[1] + pad[1]

    def extent(self) -> tuple[float, float, float, float]:
        """The plane the points lie in, 5 % wider each way: x from, x to, y from, y to (a run's data never change)."""
        return self._extent

    def grid(self, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Cell centres of an n × n grid over the points: xs, ys and the (n², 2) points, row by row."""
        x0, x1, y0, y1 = self.extent()
        xs = x0 + (np.arange(n) + 0.5) * (x1 - x0) / n
        ys = y0 + (np.arange(n) + 0.5) * (y1 - y0) / n
        gx, gy = np.meshgrid(xs, ys)
        return xs, ys, np.column_stack([gx.ravel(), gy.ravel()])

    def boundary(self, n: int = 40) -> pd.DataFrame:
        """The decision heatmap: one row per cell with its bounds, predicted class and confidence."""
        xs, ys, points = self.grid(n)
        dx, dy = xs[1] - xs[0], ys[1] - ys[0]
        if self.regression:  # the network's number in each cell
            return pd.DataFrame({"x": points[:, 0] - dx / 2, "x2": points[:, 0] + dx / 2, "y": points[:, 1] - dy / 2,
                                 "y2": points[:, 1] + dy / 2, "value": self.values(points)})
        p = self.probabilities(points)
        return pd.DataFrame({"x": points[:, 0] - dx / 2, "x2": points[:, 0] + dx / 2, "y": points[:, 1] - dy / 2,
                             "y2": points[:, 1] + dy / 2, "class": p.argmax(axis=1).astype(str),
                             "p1": p[:, 1], "confidence": p.max(axis=1)})

    def points(self, show_test: bool = True) -> pd.DataFrame:
        """One row per point: x, y (a 1-D fit: x and its target), its class or value, train or test, index.
        Made once per run and kept (each tick draws them): not to be changed."""
        return self._points[show_test]

    @functools.cached_property
    def _points(self) -> dict[bool, pd.DataFrame]:
        return {show_test: self._make_points(show_test) for show_test in (True, False)}

    def _make_points(self, show_test: bool) -> pd.DataFrame:
        d = self.data
        frames = []
        for split, X, y in (("train", d.X_train, d.y_train), ("test", d.X_test, d.y_test)):
            if split == "test" and not (show_test and len(y)):
                continue
            frame = pd.DataFrame({"x": X[:, 0], "y": X[:, 1] if X.shape[1] > 1 else y, "set": split,
                                  "index": np.arange(len(y))})
            if self.regression:
                frame["value"] = y
            else:
                frame["class"] = y.astype(str)
            frames.append(frame)
        return pd.concat(frames, ignore_index=True)

    def neuron_maps(self, n: int = 24) -> list[list[np.ndarray]]:
        """What each hidden neuron computes over the plane, as n × n arrays (row 0 at the bottom)."""
        _, _, points = self.grid(n)
        X = feature_matrix(points, self.config.features)
        return [[h[:, j].reshape(n, n) for j in range(h.shape[1])] for h in self.model.hidden(X)]

    def confusion(self, split: str = "test") -> pd.DataFrame:
        """Counts: rows are the true class, columns the predicted one."""
        d = self.inputs
        X, y = (d.X_test, d.y_test) if split == "test" else (d.X_train, d.y_train)
        k = len(d.classes)
        counts = np.zeros((k, k), dtype=int)
        if len(y):
            np.add.at(counts, (y, self.model.predict(X)), 1)
        names = list(d.classes)
        return pd.DataFrame(counts, index=[f"true {c}" for c in names], columns=[f"predicted {c}" for c in names])

    # ----------------------------------------------------------------------- exports
    def weights_npz(self) -> bytes:
        """The trained weights and everything to rebuild the model (``graphlab.train.Model.load``)."""
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "weights.npz"
            self.model.save(path)
            return path.read_bytes()

    def numpy_code(self) -> str:
        """The generated NumPy source of the network's training step: the forward pass, the loss, every gradient."""
        g = self.model.graph
        source, inputs, wrt = compile_source(g, wrt=g.graph["params"], name="train_step")
        c = self.config
        head = [f"# graphlab Playground: {self.data.name}, inputs {', '.join(input_names(self.data, c.features))}",
                f"# network {'-'.join(map(str, g.graph['sizes']))}, activations {', '.join(c.activations) or 'none'},"
                f" loss {c.loss}" + (f", L2 {c.l2:g}" if c.l2 else ""),
                "# inputs are standardized first: X = (features - mean) / std, with the training set's mean and std",
                f"# train_step(xp, {', '.join(inputs)}) returns (loss, (d loss/d {', d loss/d '.join(wrt)}))",
                "# call it with xp = numpy (or cupy); the weights are in the .npz export", "",
                "from graphlab.compile import unbroadcast", "", ""]
        return "\n".join(head) + source


# --------------------------------------------------------------------------- network diagram
def weight_style(w: float, biggest: float) -> tuple[str, float]:
    """Colour and pen width of a link: blue positive, orange negative, width by |w|."""
    share = min(1.0, abs(w) / biggest) if biggest > 0 else 0.0
    return (POSITIVE if w >= 0 else NEGATIVE), round(0.3 + 5.7 * share, 2)


def unit_labels(run: Run) -> list[list[str]]:
    """The units' names, layer by layer: the inputs, h1_1..., then the output z (z1, z2...: logits, as in the
    stepper)."""
    sizes = run.model.graph.graph["sizes"]
    labels = [input_labels(run.data, run.config.features)]
    labels += [[f"h{layer}_{j}" for j in range(1, n + 1)] for layer, n in enumerate(sizes[1:-1], 1)]
    labels.append(["z"] if sizes[-1] == 1 else [f"z{k}" for k in range(1, sizes[-1] + 1)])
    return labels


def weight_choices(run: Run) -> dict[str, tuple[str, tuple[int, ...]]]:
    """Every weight and bias by a readable name (``W1[1,2]: x₁ → h1_2``, ``b1[2]: bias of h1_2``) -> (param, index)."""
    labels, out = unit_labels(run), {}
    for layer in range(1, len(labels)):
        w = run.model.params[f"W{layer}"]
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                out[f"W{layer}[{i + 1},{j + 1}]: {labels[layer - 1][i]} → {labels[layer][j]}"] = (f"W{layer}", (i, j))
        for j in range(w.shape[1]):
            out[f"b{layer}[{j + 1}]: bias of {labels[layer][j]}"] = (f"b{layer}", (j,))
    return out


def network(run: Run, show: str = "weight") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The network diagram as data: neurons at (layer, row) and links with their weight, colour and width.

    ``show="gradient"``: links are coloured and sized by d loss / d w at the current weights (over the
    training set) instead, each layer on the scale of the largest in the whole network.

    Drawn by the page as circles and lines at fixed places, so neuron 1 is always on top
    (a layout engine reorders them). Rows are centred: a layer of n neurons spans n rows.
    """
    m = run.model
    sizes = m.graph.graph["sizes"]
    shown = run.gradients if show == "gradient" else m.params
    params = {k: np.asarray(v, dtype=np.float64) for k, v in shown.items()}
    biggest = max(float(np.abs(params[f"W{i}"]).max()) for i in range(1, len(sizes)))
    labels = unit_labels(run)
    tallest = max(sizes)

    def row(layer: int, j: int) -> float:
        return (tallest - len(labels[layer])) / 2 + j

    titles = ["inputs", *(a + (" + skip" if i in run.config.residual else "")
                          for i, a in enumerate(run.config.activations, 1)), "output"]
    nodes = pd.DataFrame([{"layer": layer, "row": row(layer, j), "label": label, "title": titles[layer]}
                          for layer, names in enumerate(labels) for j, label in enumerate(names)])
    links = []
    for layer in range(1, len(sizes)):
        w = params[f"W{layer}"]
        for i in range(w.shape[0]):
            for j in range(w.shape[1]):
                colour, width = weight_style(float(w[i, j]), biggest)
                links.append({"layer": layer - 1, "row": row(layer - 1, i), "layer2": layer, "row2": row(layer, j),
                              show: float(w[i, j]), "colour": colour, "width": width,
                              "link": f"{labels[layer - 1][i]} → {labels[layer][j]}"})
    return nodes, pd.DataFrame(links)


# --------------------------------------------------------------------------- heatmap images
def colour_map(values: np.ndarray, low: float, high: float) -> np.ndarray:
    """RGB uint8: orange at ``low``, white in the middle, blue at ``high`` (the Playground's colours)."""
    t = np.clip((values - low) / (high - low if high > low else 1.0), 0, 1)[..., None] * 2 - 1  # -1 .. 1
    white = np.array([255.0, 255.0, 255.0])
    neg, pos = np.array([245.0, 147.0, 34.0]), np.array([8.0, 119.0, 189.0])
    rgb = np.where(t < 0, white + (neg - white) * -t, white + (pos - white) * t)
    return rgb.astype(np.uint8)


def neuron_image(values: np.ndarray, activation: str, scale: int = 3) -> np.ndarray:
    """A neuron's map as a small picture, top row = largest x₂ (so it reads like the boundary plot)."""
    low, high = OPS[activation].forward_fn(1)(np, np.array([-np.inf, np.inf]))  # its range: tanh's -1..1
    if not np.isfinite(high):  # unbounded (relu): zero is white, larger outputs bluer
        top = float(np.abs(values).max())
        low, high = -top, top
    image = colour_map(values[::-1], low, high)
    return np.repeat(np.repeat(image, scale, axis=0), scale, axis=1)


def png_data_url(image: np.ndarray) -> str:
    """An RGB image as a ``data:image/png`` URL: the page sends it inside the element, not as a media file.

    Drawn by the timed fragment, a media file would outlive its tick (Streamlit frees a fragment's files only
    at the next run of the whole page) and might be freed before the browser fetched it."""
    from PIL import Image  # Streamlit's own dependency, which st.image uses for the same PNG

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


# --------------------------------------------------------------------------- open this prediction
@dataclass(frozen=True)
class Prediction:
    """One point's scalar computational graph through the network, for the stepper."""

    expr: str
    values: dict[str, str]
    loss: float  # the point's loss, computed by the tensor model (the stepper's output must equal it)
    nodes: int
    raw: tuple[float, ...]  # the point before features and standardization
    label: str


def _number(x: float) -> str:
    text = repr(float(x))  # full precision: the stepper's trace equals the model's numbers
    return text.removesuffix(".0")  # a target 1, not 1.0


def prediction(run: Run, split: str, index: int) -> Prediction:
    """The expression of point ``index`` of the train or test set, at the network's current weights.

    :func:`graphlab.nn.neuron_graph` of the run's network, one statement per neuron
    (``h1_2 = tanh(w1_12*x1 + w1_22*x2 + b1_2)``), then the logits and the point's loss, at
    :func:`graphlab.nn.neuron_values`: the point's standardized features, the weights, its target.
    """
    m, d = run.model, run.inputs
    X, y = (d.X_test, d.y_test) if split == "test" else (d.X_train, d.y_train)
    if not 0 <= index < len(y):
        raise GraphlabError(f"the {split} set has {len(y)} points; no point {index}")
    sizes, loss = m.graph.graph["sizes"], run.config.loss
    inputs = input_names(run.data, run.config.features)
    if run.perceptron:  # the lecture's network, one sign unit: y = sign(z), E = (y - t)²/2 with t = ±1
        g = neuron_graph(sizes, "sign", bias=True, inputs=inputs)
    else:
        g = neuron_graph(sizes, run.config.activations, bias=True, loss=loss, inputs=inputs,
                         residual=run.config.residual)
    if run.perceptron:
        label = d.classes[int(y[index])]
        target = [1 if y[index] == 1 else -1]
    elif run.regression:
        target, label = [float(y[index])], f"{float(y[index]):.3g}"
    else:
        label = d.classes[int(y[index])]
        target = [int(y[index])] if loss == "bce" else np.eye(sizes[-1])[int(y[index])]  # one-hot for ce and mse
    x = (X[index] - m.mean) / m.std
    values = {k: _number(v) for k, v in neuron_values(g, m.params, x, target).items()}
    if len(g.graph["source"]) > MAX_EXPR_CHARS:
        raise GraphlabError(f"this network's graph is {len(g.graph['source']):,} characters of text, more than the "
                            f"{MAX_EXPR_CHARS:,} the stepper opens: fewer inputs, layers or neurons")
    raw = (run.data.X_test if split == "test" else run.data.X_train)[index]
    if run.perceptron:  # 2 when sign(z) is wrong, 0 when right: sign's zero derivative leaves nothing to descend
        point_loss = 2.0 * m.loss(X[index:index + 1], y[index:index + 1])
    else:
        point_loss = m.loss(X[index:index + 1], y[index:index + 1])
    return Prediction(g.graph["source"], values, point_loss, g.number_of_nodes(), tuple(float(v) for v in raw),
                      label)


def stepper_query(p: Prediction) -> dict[str, str]:
    """The stepper's URL state (``expr``, ``at``, ``step``) that opens ``p`` at its first step, folded into its
    layers (``fold``: each layer one node, in matrix form, that expands to its neurons)."""
    return {"expr": p.expr, "at": ",".join(f"{k}={v}" for k, v in p.values.items()), "mode": "float", "step": "1",
            "fold": "1"}

