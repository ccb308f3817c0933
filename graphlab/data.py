"""Datasets for training: the TensorFlow Playground's four, scikit-learn's moons and digits, CSV files.

Every loader returns a :class:`Dataset` already split into train and test parts (the split
is seeded). Features are float64 (the trainer casts them), labels are class indices 0..k-1, or, for
the regression sets (``plane``, ``bumps``, ``function``), float targets with no classes.
The Playground sets follow its generators (points in [-6, 6]², ``noise`` in [0, 0.5] as
its 0-50 % slider); digits ships inside scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from . import table
from .errors import GraphlabError

__all__ = ["Dataset", "DATASETS", "load", "circle", "xor", "gauss", "spiral", "moons", "digits", "from_csv",
           "from_upload", "split", "MAX_CLASSES", "plane", "bumps", "function", "evaluate_function"]


@dataclass(frozen=True)
class Dataset:
    name: str
    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    classes: tuple[str, ...]

    @property
    def features(self) -> int:
        return self.X_train.shape[1]

    @property
    def regression(self) -> bool:
        """Float targets and no classes: one output, fitted with mse."""
        return not self.classes


def split(name: str, X: np.ndarray, y: np.ndarray, classes, test_fraction: float, seed: int) -> Dataset:
    if not 0 <= test_fraction < 1:
        raise GraphlabError(f"the test fraction must be in [0, 1), got {test_fraction}")
    order = np.random.default_rng(seed).permutation(len(X))
    n_test = int(round(len(X) * test_fraction))
    test, train = order[:n_test], order[n_test:]
    return Dataset(name, X[train], y[train], X[test], y[test], tuple(str(c) for c in classes))


def _uniform(rng: np.random.Generator, lo: float, hi: float, n: int) -> np.ndarray:
    return rng.uniform(lo, hi, n)


def _circle(n: int, noise: float, rng: np.random.Generator):
    # Playground: label 1 inside radius 2.5, 0 in the ring 3.5..5; noise shifts the point labelled
    r = 5.0
    inner = n // 2
    radius = np.concatenate([_uniform(rng, 0, r * 0.5, inner), _uniform(rng, r * 0.7, r, n - inner)])
    angle = _uniform(rng, 0, 2 * math.pi, n)
    x, y = radius * np.sin(angle), radius * np.cos(angle)
    nx_, ny_ = _uniform(rng, -r, r, n) * noise, _uniform(rng, -r, r, n) * noise
    label = (np.hypot(x + nx_, y + ny_) < r * 0.5).astype(np.int64)
    return np.column_stack([x, y]), label


def _xor(n: int, noise: float, rng: np.random.Generator):
    padding = 0.3
    x, y = _uniform(rng, -5, 5, n), _uniform(rng, -5, 5, n)
    x += np.where(x > 0, padding, -padding)
    y += np.where(y > 0, padding, -padding)
    nx_, ny_ = _uniform(rng, -5, 5, n) * noise, _uniform(rng, -5, 5, n) * noise
    label = ((x + nx_) * (y + ny_) >= 0).astype(np.int64)
    return np.column_stack([x, y]), label


def _gauss(n: int, noise: float, rng: np.random.Generator):
    variance = 0.5 + (4 - 0.5) * (noise / 0.5)  # Playground: lerp(0.5, 4) over the noise slider
    half = n // 2
    centers = np.array([[2.0, 2.0]] * half + [[-2.0, -2.0]] * (n - half))
    points = centers + rng.normal(0, math.sqrt(variance), (n, 2))
    label = np.array([1] * half + [0] * (n - half), dtype=np.int64)
    return points, label


def _spiral(n: int, noise: float, rng: np.random.Generator, arms: int = 2):
    # arm k turns from angle 2πk/arms with label arms-1-k: two arms are the Playground's (1 at 0, 0 at π)
    per = n // arms
    points, labels = [], []
    for k in range(arms):
        i = np.arange(per)
        r = i / per * 5
        t = 1.75 * i / per * 2 * math.pi + k * 2 * math.pi / arms
        x = r * np.sin(t) + _uniform(rng, -1, 1, per) * noise
        y = r * np.cos(t) + _uniform(rng, -1, 1, per) * noise
        points.append(np.column_stack([x, y]))
        labels.append(np.full(per, arms - 1 - k, dtype=np.int64))
    return np.concatenate(points), np.concatenate(labels)


_PLAYGROUND = {"circle": _circle, "xor": _xor, "gauss": _gauss, "spiral": _spiral}


# ----------------------------------------------------------------------------- regression
# A regression Dataset has no classes (``classes == ()``) and float targets ``y``: the network has one
# output and the loss is mse.
def _plane(n: int, noise: float, rng: np.random.Generator):
    # Playground's regressPlane: the label is (x + y) scaled from [-10, 10] to [-1, 1], at a noisy point
    x, y = _uniform(rng, -6, 6, n), _uniform(rng, -6, 6, n)
    nx_, ny_ = _uniform(rng, -6, 6, n) * noise, _uniform(rng, -6, 6, n) * noise
    return np.column_stack([x, y]), (x + nx_ + y + ny_) / 10


_BUMPS = ((-4, 2.5, 1), (0, 2.5, -1), (4, 2.5, 1), (-4, -2.5, -1), (0, -2.5, 1), (4, -2.5, -1))


def _bumps(n: int, noise: float, rng: np.random.Generator):
    # Playground's regressGaussian: six signed cones of radius 2; the largest in absolute value wins
    x, y = _uniform(rng, -6, 6, n), _uniform(rng, -6, 6, n)
    px, py = x + _uniform(rng, -6, 6, n) * noise, y + _uniform(rng, -6, 6, n) * noise
    cones = np.array([sign * np.clip(1 - np.hypot(px - cx, py - cy) / 2, 0, 1) for cx, cy, sign in _BUMPS])
    label = np.take_along_axis(cones, np.abs(cones).argmax(axis=0)[None], axis=0)[0]
    return np.column_stack([x, y]), label


_REGRESSION = {"plane": _plane, "bumps": _bumps}


def plane(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The Playground's regression plane: target (x₁ + x₂)/10 over [-6, 6]²."""
    return _regression("plane", n, noise, test_fraction, seed)


def bumps(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """The Playground's multi-Gaussian regression: six cones of height ±1."""
    return _regression("bumps", n, noise, test_fraction, seed)


def _regression(name: str, n: int, noise: float | None, test_fraction: float, seed: int) -> Dataset:
    noise = 0.0 if noise is None else noise
    if not 0 <= noise <= 0.5:
        raise GraphlabError(f"noise must be in [0, 0.5] (the Playground's 0-50 %), got {noise}")
    X, y = _REGRESSION[name](n, noise, np.random.default_rng(seed))
    return split(name, X, y, (), test_fraction, seed)


FUNCTION_RANGE = (-5.0, 5.0)


def function(expr: str = "sin(x)", n: int = 200, noise: float | None = None, test_fraction: float = 0.2,
             seed: int = 0) -> Dataset:
    """Points (x, f(x) + noise) for x uniform in [-5, 5]: f is an expression in ``x`` in graphlab's input
    language (``sin(x)``, ``step(x)``, ``abs(x)``, ``x^2/10``), parsed by the parser and run by the compiled
    graph, never by eval. ``noise`` is the standard deviation of the Gaussian noise added to f."""
    from .build import from_text

    noise = 0.0 if noise is None else noise
    if not 0 <= noise <= 0.5:
        raise GraphlabError(f"noise must be in [0, 0.5], got {noise}")
    g = from_text(expr)
    others = [v for v in g.graph["variables"] if v != "x"]
    if others:
        raise GraphlabError(f"f(x) may use only the variable x, not {', '.join(others)}")
    rng = np.random.default_rng(seed)
    x = np.sort(rng.uniform(*FUNCTION_RANGE, n))
    y = evaluate_function(g, x) + rng.normal(0.0, noise, n) * (noise > 0)
    return split(expr, x[:, None], y, (), test_fraction, seed)


def evaluate_function(graph, x: np.ndarray) -> np.ndarray:
    """A one-variable expression's graph (from :func:`graphlab.from_text`) at the points ``x``, compiled."""
    from .compile import compile_graph

    forward = compile_graph(graph, wrt=())
    with np.errstate(all="ignore"):
        y = np.broadcast_to(np.asarray(forward.fn(np, *(x for _ in forward.inputs))[0], dtype=np.float64), x.shape)
    bad = ~np.isfinite(y)
    if bad.any():
        raise GraphlabError(f"f(x) is not a finite number at x = {x[bad][0]:.3g}: choose an f defined on "
                            f"[{FUNCTION_RANGE[0]:g}, {FUNCTION_RANGE[1]:g}]")
    return np.array(y)


def _playground(name: str, n: int, noise: float | None, test_fraction: float, seed: int, classes: int = 2,
                **shape) -> Dataset:
    noise = 0.0 if noise is None else noise
    if not 0 <= noise <= 0.5:
        raise GraphlabError(f"noise must be in [0, 0.5] (the Playground's 0-50 %), got {noise}")
    X, y = _PLAYGROUND[name](n, noise, np.random.default_rng(seed), **shape)
    return split(name, X, y, tuple(range(classes)), test_fraction, seed)


def circle(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    return _playground("circle", n, noise, test_fraction, seed)


def xor(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    return _playground("xor", n, noise, test_fraction, seed)


def gauss(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    return _playground("gauss", n, noise, test_fraction, seed)


def spiral(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0,
           arms: int = 2) -> Dataset:
    """The Playground's two interleaved spirals; ``arms=3`` (or more) is a problem with that many classes."""
    if arms < 2:
        raise GraphlabError(f"a spiral needs at least 2 arms, got {arms}")
    return _playground("spiral", n, noise, test_fraction, seed, classes=arms, arms=arms)


def moons(n: int = 500, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    from sklearn.datasets import make_moons

    X, y = make_moons(n_samples=n, noise=0.1 if noise is None else noise, random_state=seed)
    return split("moons", X, y.astype(np.int64), ("0", "1"), test_fraction, seed)


def digits(n: int | None = None, noise: float | None = None, test_fraction: float = 0.2, seed: int = 0) -> Dataset:
    """scikit-learn's 8×8 handwritten digits (1,797 images), pixels scaled to [0, 1]."""
    from sklearn.datasets import load_digits

    bunch = load_digits()
    X, y = bunch.data / 16.0, bunch.target.astype(np.int64)
    if n is not None:
        X, y = X[:n], y[:n]
    return split("digits", X, y, tuple(range(10)), test_fraction, seed)


MAX_CLASSES = 100


def from_csv(path: str | Path, label: str | int = -1, test_fraction: float = 0.2, seed: int = 0,
             regression: bool = False) -> Dataset:
    """Feature columns and one label column (the last by default; a name or index otherwise).

    A first row that is not all numbers is a header. Labels may be any text: classes are
    the sorted distinct labels. ``regression``: the label is instead a number to fit (a regression
    set, no classes). The file is read within :mod:`graphlab.table`'s limits.
    """
    return _from_rows(table.read_file(path), str(path), Path(path).stem, label, test_fraction, seed, regression)


def from_upload(raw: bytes, name: str = "the uploaded CSV file", label: str | int = -1,
                test_fraction: float = 0.2, seed: int = 0, regression: bool = False) -> Dataset:
    """:func:`from_csv` on an upload's bytes; ``name`` names it in errors."""
    return _from_rows(table.read_bytes(raw, name), name, "upload", label, test_fraction, seed, regression)


def _from_rows(rows: list[list[str]], path: str, stem: str, label: str | int, test_fraction: float,
               seed: int, regression: bool = False) -> Dataset:
    def numeric(cell: str) -> bool:
        try:
            float(cell)
            return True
        except ValueError:
            return False

    header = None if all(numeric(c) for c in rows[0]) else rows[0]
    body = rows[1:] if header else rows
    width = len(rows[0])
    if width < 2:
        raise GraphlabError(f"{path} needs at least one feature column and a label column")
    if isinstance(label, str) and not label.lstrip("-").isdigit():
        if header is None or label not in header:
            raise GraphlabError(f"{path} has no column named {label!r}")
        col = header.index(label)
    else:
        col = int(label) % width
    features, labels = [], []
    for line, row in enumerate(body, 2 if header else 1):
        if len(row) != width:
            raise GraphlabError(f"{path}, line {line}: {len(row)} columns, expected {width}")
        try:
            point = [float(c) for i, c in enumerate(row) if i != col]
        except ValueError:
            raise GraphlabError(f"{path}, line {line}: a feature is not a number") from None
        if not all(math.isfinite(v) for v in point):
            raise GraphlabError(f"{path}, line {line}: a feature is NaN or infinite")
        features.append(point)
        labels.append(row[col])
    if not body:
        raise GraphlabError(f"{path} has a header but no data")
    if regression:
        targets = [float(c) if numeric(c) else math.nan for c in labels]
        bad = next((i for i, t in enumerate(targets) if not math.isfinite(t)), None)
        if bad is not None:
            raise GraphlabError(f"{path}, line {bad + (2 if header else 1)}: the target {labels[bad]!r} is not a "
                                f"finite number (a regression fits a number per row)")
        return split(stem, np.array(features, dtype=np.float64), np.array(targets), (), test_fraction, seed)
    classes = sorted(set(labels), key=lambda c: (not numeric(c), float(c) if numeric(c) else 0.0, c))
    if len(classes) < 2:
        raise GraphlabError(f"{path}: every label is {classes[0]!r}; a classifier needs at least two classes")
    if len(classes) > MAX_CLASSES:
        raise GraphlabError(f"{path}: the label column has {len(classes):,} different values; the limit is "
                            f"{MAX_CLASSES} classes (is the label the last column?)")
    index = {c: i for i, c in enumerate(classes)}
    y = np.array([index[c] for c in labels], dtype=np.int64)
    return split(stem, np.array(features, dtype=np.float64), y, classes, test_fraction, seed)


DATASETS = {"circle": circle, "xor": xor, "gauss": gauss, "spiral": spiral, "moons": moons, "digits": digits,
            "plane": plane, "bumps": bumps}


def load(name: str, noise: float | None = None, n: int | None = None, test_fraction: float = 0.2,
         seed: int = 0, label: str | int = -1, regression: bool = False, expr: str = "sin(x)") -> Dataset:
    """A dataset by name (``function``: points of f(x) = ``expr``), or a CSV file by path (``regression``: its
    label column is a number to fit)."""
    if name == "function":
        return function(expr, **({} if n is None else {"n": n}), noise=noise, test_fraction=test_fraction, seed=seed)
    if name in DATASETS:
        kwargs = {} if n is None else {"n": n}
        return DATASETS[name](noise=noise, test_fraction=test_fraction, seed=seed, **kwargs)
    if name.lower().endswith(".csv") or Path(name).is_file():
        return from_csv(name, label=label, test_fraction=test_fraction, seed=seed, regression=regression)
    raise GraphlabError(f"unknown dataset {name!r} (choose from {', '.join(DATASETS)}, function, or give a .csv "
                        f"file)")
