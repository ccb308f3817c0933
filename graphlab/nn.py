"""Multilayer perceptrons as graphs of the registry's tensor ops.

:func:`mlp` writes the network as a program of the input language (:func:`program_text`:
``M1 = X W1; Z1 = M1 + b1; H1 = relu(Z1); ...; loss = softmax_ce(Z2, Y)``, each variable with its
shape) and builds it with the parser and builder every expression goes through, so an MLP has one
representation. The layer-level graph (the same plain ``networkx.DiGraph`` the rest of graphlab
walks; the compiler turns it into training code)::

    X --matmul W1--> M1 --bias_add b1--> Z1 --relu--> H1 --matmul W2--> ... Z2 --softmax_ce Y--> loss

A bias has shape ``(units,)``: the builder adds it to every row with one ``bias_add`` (the
lecture's visible repmat is for biases written l×1). The L2 penalty, which the language does not
write, goes through the same builder's calls.

Node data follows build.py's conventions (``kind``, ``op``, ``args``, ``label``) plus a
``shape`` (``"N"`` is the batch) and, for parameters, ``param: True``. Graph data adds
``params``, ``inputs`` (``X``, ``Y``), ``logits`` and ``layers`` (see :func:`describe`).

:func:`neuron_graph` expands a small network to the neuron level instead: one scalar
node per weight, built from text by the ordinary parser, so :func:`graphlab.trace` steps
through it like any expression.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import networkx as nx
import numpy as np

from .build import GraphBuilder, from_text, gc_paused
from .errors import GraphlabError
from .parse import parse

__all__ = ["ACTIVATIONS", "NOT_TRAINABLE", "LOSSES", "mlp", "program_text", "hidden_activations", "residual_layers",
           "describe", "summary",
           "parameter_count", "layer_dot", "neuron_graph", "neuron_values", "parse_layers"]

ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear", "sign")  # each an op of the registry
# sign's derivative is 0 wherever it exists: gradient descent gets nothing, so training refuses it
NOT_TRAINABLE = {"sign": "sign has no gradient to descend (sign'(z) = 0, the convention at 0 too): a single layer "
                         "of sign units (no hidden layer) learns by the perceptron rule, w += eta (y - y_hat) x; "
                         "hidden sign units have no learning rule, so pick relu, tanh, sigmoid or linear"}
LOSSES = {"ce": "softmax_ce", "bce": "bce_logits", "mse": "mse"}  # CLI name -> registry op
MAX_NEURON_WEIGHTS = 3_000  # a neuron-level graph is for looking at (folded into layers past 60 nodes)


def parse_layers(text: str) -> list[int]:
    """``"784,200,10"`` -> ``[784, 200, 10]``; a clear error for anything else."""
    try:
        sizes = [int(part) for part in text.replace(" ", "").split(",") if part]
    except ValueError:
        raise GraphlabError(f"expects comma-separated sizes such as 16,16, got {text!r}", field="layers") from None
    if not sizes or any(n < 1 for n in sizes):
        raise GraphlabError(f"expects positive sizes such as 16,16, got {text!r}", field="layers")
    return sizes


def hidden_activations(activation: str | Sequence[str], hidden: int) -> tuple[str, ...]:
    """One activation per hidden layer: ``"relu"`` for all, or a sequence with one name per layer."""
    names = (activation,) * hidden if isinstance(activation, str) else tuple(activation)
    if len(names) != hidden:
        raise GraphlabError(f"{hidden} hidden layers need {hidden} activations, got {len(names)}")
    for name in (activation,) if isinstance(activation, str) else names:  # checked even with no hidden layer
        if name not in ACTIVATIONS:
            raise GraphlabError(f"unknown activation {name!r} (choose from {', '.join(ACTIVATIONS)})")
    return names


def residual_layers(sizes: Sequence[int], residual: Sequence[int]) -> tuple[bool, ...]:
    """One flag per hidden layer from the hidden-layer numbers in ``residual`` (1 is the first hidden layer).

    A residual layer l ends seed 004's block Res(z) = z + σ(MM(σ(MM(z)))) with z the input of layer l - 1:
    H_l = H_{l-2} + σ(H_{l-1}·W_l + b_l), where H_{l-1} = σ(H_{l-2}·W_{l-1} + b_{l-1}) (H_0 is the input X).
    So the widths must match: layer l has as many units as layer l - 1's input.
    """
    hidden = len(sizes) - 2
    flags = [False] * hidden
    for layer in residual:
        layer = int(layer)
        if not 2 <= layer <= hidden:
            raise GraphlabError(f"residual layer {layer}: a residual block spans two hidden layers, so it ends at "
                                f"one of layers 2 to {hidden}" if hidden >= 2 else
                                f"residual layer {layer}: a residual block spans two hidden layers; this network "
                                f"has {hidden}")
        if sizes[layer] != sizes[layer - 2]:
            raise GraphlabError(f"residual layer {layer} adds its block's input to its output, so their widths "
                                f"must match: {sizes[layer - 2]} in, {sizes[layer]} out")
        flags[layer - 1] = True
    return tuple(flags)


def _check(sizes: Sequence[int], activation: str | Sequence[str], loss: str) -> None:
    if len(sizes) < 2 or any(int(n) < 1 for n in sizes):
        raise GraphlabError(f"an MLP needs at least an input and an output size, all positive; got {list(sizes)}")
    hidden_activations(activation, len(sizes) - 2)
    if loss not in LOSSES:
        raise GraphlabError(f"unknown loss {loss!r} (choose from {', '.join(LOSSES)})")
    if loss == "bce" and sizes[-1] != 1:
        raise GraphlabError(f"loss bce needs one output unit (two classes), got {sizes[-1]}")


def mlp(sizes: Sequence[int], activation: str | Sequence[str] = "relu", loss: str = "ce",
        l2: float = 0.0, residual: Sequence[int] = ()) -> nx.DiGraph:
    """The graph of an MLP with layer sizes ``sizes`` (input first, output last).

    Hidden layers use ``activation`` (or, given a sequence, one activation per hidden layer);
    the output layer gives logits (or raw outputs for ``mse``) into the loss. ``l2 > 0`` adds
    ``l2 * sum ||W||^2`` to the loss. ``residual``: hidden-layer numbers that end a residual block
    (:func:`residual_layers`): their output is ``H{l} = add(H{l-2}, S{l})`` with ``S{l}`` the activation.
    """
    sizes = [int(n) for n in sizes]
    _check(sizes, activation, loss)
    skips = residual_layers(sizes, residual)
    activations = hidden_activations(activation, len(sizes) - 2)
    if not isinstance(activation, str):  # the same for every layer: keep the single name; else a list (JSON-able)
        activation = activations[0] if len(set(activations)) == 1 else list(activations) or "relu"
    depth = len(sizes) - 1
    text, shapes, layers, h = program_text(sizes, activations, loss, skips, l2 > 0)
    builder = GraphBuilder(text, shapes)
    with gc_paused():
        parse(text, builder)
        if l2 > 0:  # the training's regularizer, through the same builder: l2 is no function of the language
            penalties = [_named(builder, f"P{i}", "l2", [builder.var(f"W{i}", 0)]) for i in range(1, depth + 1)]
            total = penalties[0] if depth == 1 else _named(builder, "penalty", "add", penalties)
            reg = _named(builder, "reg", "mul", [builder.const(repr(float(l2)), 0), total])
            builder.finish(_named(builder, "loss", "add", [builder.var("data_loss", 0), reg]))
        g = builder.graph()
    params = [name for i in range(1, depth + 1) for name in (f"W{i}", f"b{i}")]
    for name in params:
        g.nodes[name]["param"] = True
    g.graph.update(
        output="loss", params=tuple(params), inputs=("X", "Y"), logits=h, program=text,
        layers=layers, sizes=tuple(sizes), activation=activation, activations=activations, loss=loss,
        l2=float(l2), residual=tuple(i for i, flag in enumerate(skips, 1) if flag),
        source=f"mlp {'-'.join(map(str, sizes))} {_activation_text(activation)} {loss}"
        + (f" l2={l2:g}" if l2 > 0 else "") + (" residual=" + ",".join(str(i) for i, f in enumerate(skips, 1) if f)
                                               if any(skips) else ""),
    )
    return g


def program_text(sizes: Sequence[int], activations: Sequence[str], loss: str, skips: Sequence[bool], l2: bool = False
                 ) -> tuple[str, dict[str, tuple], list[dict[str, Any]], str]:
    """The MLP as a program of the input language, one layer a few lines (``M1 = X W1``, ``Z1 = M1 + b1``,
    ``H1 = relu(Z1)``, ..., ``loss = softmax_ce(Z2, Y)``; with ``l2`` the loss is ``data_loss``), the variables'
    shapes (``N`` the batch; a bias ``(units,)``, broadcast over the rows by ``bias_add``), the layers'
    descriptions and the logits' node."""
    depth = len(sizes) - 1
    lines: list[str] = []
    shapes: dict[str, tuple] = {"X": ("N", sizes[0]), "Y": ("N", sizes[-1])}
    outputs_of = ["X"]  # H0 = X, H1, H2...
    layers: list[dict[str, Any]] = []
    for i in range(1, depth + 1):
        fan_in, units = sizes[i - 1], sizes[i]
        shapes[f"W{i}"], shapes[f"b{i}"] = (fan_in, units), (units,)
        lines += [f"M{i} = {outputs_of[-1]} W{i}", f"Z{i} = M{i} + b{i}"]
        act = activations[i - 1] if i < depth else None
        skip = i < depth and skips[i - 1]
        if skip:
            lines += [f"S{i} = {act}(Z{i})", f"H{i} = {outputs_of[i - 2]} + S{i}"]
        elif act:
            lines.append(f"H{i} = {act}(Z{i})")
        outputs_of.append(f"H{i}" if act else f"Z{i}")
        layers.append({"name": f"dense{i}", "inputs": fan_in, "units": units, "activation": act,
                       "weight": f"W{i}", "bias": f"b{i}", "parameters": fan_in * units + units}
                      | ({"residual": outputs_of[i - 2]} if skip else {}))
    lines.append(f"{'data_loss' if l2 else 'loss'} = {LOSSES[loss]}({outputs_of[-1]}, Y)")
    return "\n".join(lines), shapes, layers, outputs_of[-1]


def _named(builder: GraphBuilder, name: str, op: str, args: list[str]) -> str:
    node = builder.apply(op, args, 0)
    builder.assign(name, node, 0)
    return node


def _activation_text(activation: str | Sequence[str]) -> str:
    return activation if isinstance(activation, str) else ",".join(activation)


def parameter_count(graph_or_sizes: nx.DiGraph | Sequence[int]) -> int:
    sizes = graph_or_sizes.graph["sizes"] if isinstance(graph_or_sizes, nx.DiGraph) else graph_or_sizes
    return sum(a * b + b for a, b in zip(sizes[:-1], sizes[1:], strict=True))


def describe(graph: nx.DiGraph) -> dict[str, Any]:
    """``{"parameters", "layers": [...], ...}``: the layer-level description (``mlp --json``)."""
    data_loss = "loss" if graph.graph["l2"] <= 0 else "data_loss"
    return {"sizes": list(graph.graph["sizes"]), "activation": graph.graph["activation"],
            "residual": list(graph.graph["residual"]),
            "loss": graph.graph["loss"], "loss_op": graph.nodes[data_loss]["op"],
            "parameters": parameter_count(graph), "layers": [dict(layer) for layer in graph.graph["layers"]]}


def summary(graph: nx.DiGraph) -> str:
    """A table of the layers, what each computes, its output shape and parameter count."""
    info = describe(graph)
    rows = [("layer", "computes", "output", "parameters")]
    h = "X"
    for i, layer in enumerate(info["layers"], 1):
        rows.append((layer["name"], f"Z{i} = {h}·W{i} + b{i}", f"(N, {layer['units']})", f"{layer['parameters']:,}"))
        if layer["activation"]:
            h = f"H{i}"
            skip = f"{layer['residual']} + " if layer.get("residual") else ""
            rows.append((("residual " if skip else "") + layer["activation"],
                         f"{h} = {skip}{layer['activation']}(Z{i})", f"(N, {layer['units']})", "0"))
        else:
            h = f"Z{i}"
    rows.append(("loss", f"{info['loss_op']}({h}, Y)" + (" + l2·Σ‖W‖²" if graph.graph["l2"] > 0 else ""), "()", "0"))
    rows.append(("total", "", "", f"{info['parameters']:,}"))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    lines = [f"MLP {'-'.join(map(str, info['sizes']))}, {_activation_text(info['activation'])}, loss {info['loss']}"]
    lines += ["  ".join(c.rjust(w) if j == 3 else c.ljust(w) for j, (c, w) in enumerate(zip(r, widths, strict=True)))
              .rstrip() for r in rows]
    return "\n".join(lines)


def layer_dot(graph: nx.DiGraph) -> str:
    """DOT source of the layer-level diagram: x -> W1·x + b1 -> ReLU -> ..., shapes on the edges."""
    def shape(s: tuple) -> str:
        return "(" + ", ".join(map(str, s)) + ")"

    lines = ["digraph mlp {", "  rankdir=LR;", '  node [shape=box, style=rounded, fontname="Helvetica"];',
             '  edge [fontname="Helvetica", fontsize=10];', '  X [label="x", shape=ellipse];']
    prev = "X"
    for i, layer in enumerate(graph.graph["layers"], 1):
        lines.append(f'  Z{i} [label="W{i}·x + b{i}\\n{layer["inputs"]}×{layer["units"]} + {layer["units"]}"];')
        lines.append(f'  {prev} -> Z{i} [label="{shape(graph.nodes[prev if prev != "X" else "X"]["shape"])}"];')
        prev = f"Z{i}"
        if layer["activation"]:
            lines.append(f'  H{i} [label="{layer["activation"]}' + (' + skip"];' if layer.get("residual") else '"];'))
            lines.append(f'  Z{i} -> H{i} [label="{shape(graph.nodes[f"Z{i}"]["shape"])}"];')
            if layer.get("residual"):
                lines.append(f'  {layer["residual"]} -> H{i} [label="skip", style=dashed];')
            prev = f"H{i}"
    loss = describe(graph)["loss_op"]
    lines.append(f'  loss [label="{loss}", shape=ellipse];')
    lines.append(f'  {prev} -> loss [label="{shape(graph.nodes[prev]["shape"])}"];')
    lines.append("}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------- neuron level
def _unit_names(sizes: Sequence[int], loss: str | None, inputs: Sequence[str] | None) -> list[list[str]]:
    depth = len(sizes) - 1
    names = [list(inputs) if inputs is not None else [f"x{j}" for j in range(1, sizes[0] + 1)]]
    if len(names[0]) != sizes[0]:
        raise GraphlabError(f"{sizes[0]} inputs need {sizes[0]} names, got {len(names[0])}")
    lecture = loss is None and depth == 2  # the lecture's h1, h2; otherwise a unit's layer is in its name
    for layer in range(1, depth):
        names.append([f"h{j}" if lecture else f"h{layer}_{j}" for j in range(1, sizes[layer] + 1)])
    out = "y" if loss is None else "z"  # z: an mlp's outputs are logits
    names.append([out] if sizes[-1] == 1 else [f"{out}{k}" for k in range(1, sizes[-1] + 1)])
    return names


def _weight_name(layer: int, i: int, j: int, wide: bool) -> str:
    # the lecture's w_ij: from unit i of the layer below to unit j (h1 = σ(w11 x1 + w21 x2))
    return f"w{layer}_{i}_{j}" if wide else f"w{layer}_{i}{j}"


def _loss_text(loss: str | None, outputs: Sequence[str], targets: Sequence[str]) -> str:
    """The loss on one point, as text: the scalar form of the loss op (bce_logits, softmax_ce, mse)."""
    pairs = list(zip(outputs, targets, strict=True))
    squares = " + ".join(f"({y} - {t})^2" for y, t in pairs)
    if loss is None:  # the lecture's E = Σ (y - t)² / 2
        return f"({squares})/2" if len(pairs) > 1 else f"{squares}/2"
    if loss == "bce":  # log(1 + e^z) - t z, the stable form on the logit
        return f"softplus({outputs[0]}) - {targets[0]}*{outputs[0]}"
    if loss == "ce":  # log Σ e^z_k - Σ t_k z_k, with one-hot targets
        picked = " + ".join(f"{t}*{z}" for z, t in pairs)
        return f"log({' + '.join(f'exp({z})' for z in outputs)}) - " + (f"({picked})" if len(pairs) > 1 else picked)
    return f"({squares})/{len(pairs)}" if len(pairs) > 1 else squares  # mse: the mean over the outputs


def neuron_graph(sizes: Sequence[int] = (2, 2, 1), activation: str | Sequence[str] = "sigmoid", bias: bool = False,
                 loss: str | None = None, inputs: Sequence[str] | None = None,
                 residual: Sequence[int] = ()) -> nx.DiGraph:
    """A small MLP at the neuron level: one scalar node per weight, for one point.

    ``loss=None`` is the lecture's network: every layer, the output included, applies ``activation``,
    the outputs are ``y`` (``y1``, ``y2``...) and ``E = Σ (y - t)² / 2``. With ``loss`` "bce", "ce" or
    "mse" it is :func:`mlp`'s network (``bias=True`` for all of it): the hidden layers apply ``activation``
    (one name, or one per hidden layer), the outputs are the logits ``z`` (``z1``...) and ``E`` is that
    loss on the point: ``softplus(z) - t*z``, ``log(exp(z1) + ...) - (t1*z1 + ...)``, ``((z1 - t1)^2 + ...)/k``.

    Weight ``w{l}_{ij}`` joins unit i of layer l-1 to unit j of layer l, bias ``b{l}_{j}`` is unit j's;
    hidden units are ``h{l}_{j}`` (the lecture's network: ``h1``, ``h2``...); inputs are ``x1``, ``x2``...
    or the names in ``inputs``; targets are ``t`` (``t1``, ``t2``..., one-hot for ce). Use
    :func:`neuron_values` for a point to trace at; ``graph.graph["source"]`` is the text.
    """
    sizes = [int(n) for n in sizes]
    _check(sizes, activation, "mse" if loss is None else loss)
    if loss is None and not isinstance(activation, str):
        raise GraphlabError("the lecture's network (no loss named) applies one activation to every layer")
    acts = hidden_activations(activation, len(sizes) - 2)
    skips = residual_layers(sizes, residual) if loss is not None else ()
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:], strict=True))
    if weights > MAX_NEURON_WEIGHTS:
        raise GraphlabError(f"a neuron-level graph is limited to {MAX_NEURON_WEIGHTS} weights (this net has "
                            f"{weights:,}): fewer inputs, layers or neurons")
    names = _unit_names(sizes, loss, inputs)
    wide = max(sizes) > 9
    statements = []
    for layer in range(1, len(sizes)):
        act = acts[layer - 1] if layer < len(sizes) - 1 else activation if loss is None else None
        for j, unit in enumerate(names[layer], 1):
            terms = [f"{_weight_name(layer, i, j, wide)}*{below}" for i, below in enumerate(names[layer - 1], 1)]
            if bias:
                terms.append(f"b{layer}_{j}")
            total = " + ".join(terms)
            skip = f"{names[layer - 2][j - 1]} + " if layer < len(sizes) - 1 and skips and skips[layer - 1] else ""
            statements.append(f"{unit} = {skip}{act}({total})" if act else f"{unit} = {total}")
    targets = ["t"] if sizes[-1] == 1 else [f"t{k}" for k in range(1, sizes[-1] + 1)]
    statements.append(f"E = {_loss_text(loss, names[-1], targets)}")
    g = from_text("; ".join(statements))
    g.graph.update(sizes=tuple(sizes), activation=activation, bias=bias, loss=loss, units=names,
                   residual=tuple(residual), targets=tuple(targets))
    return g


def neuron_values(graph: nx.DiGraph, params: Mapping[str, Any], x: Sequence[float],
                  target: Sequence[float]) -> dict[str, float]:
    """The scalar point for :func:`neuron_graph` from layer weights ``W1`` (fan_in, units), ``b1``...

    So a (trained) tensor network is stepped through in the explorer with its current weights.
    """
    sizes = graph.graph["sizes"]
    wide = max(sizes) > 9
    values = {name: float(v) for name, v in zip(graph.graph["units"][0], x, strict=True)}
    values.update({t: float(v) for t, v in zip(graph.graph["targets"], target, strict=True)})
    for layer in range(1, len(sizes)):
        w = np.asarray(params[f"W{layer}"], dtype=float)
        if w.shape != (sizes[layer - 1], sizes[layer]):
            raise GraphlabError(f"W{layer} has shape {w.shape}, expected {(sizes[layer - 1], sizes[layer])}")
        for i in range(sizes[layer - 1]):
            for j in range(sizes[layer]):
                values[_weight_name(layer, i + 1, j + 1, wide)] = float(w[i, j])
        if graph.graph["bias"]:
            b = np.asarray(params[f"b{layer}"], dtype=float)
            values.update({f"b{layer}_{j + 1}": float(b[j]) for j in range(sizes[layer])})
    return values
