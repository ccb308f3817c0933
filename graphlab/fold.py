"""Folding: a group of nodes (a neuron, a layer, a set the user picks) drawn as one node.

A group is a set of the graph's nodes; folded, it is one node with the group's inputs (the edges
that come into it from outside) and outputs (its members used outside it, or the output). Nothing
is recomputed: a folded node shows what its members' trace says, so a folded diagram has the same
numbers as the unfolded one, and a step at a member highlights the group.

The groups a graph has:

* a **statement** ``h1 = σ(w1 x1 + w2 x2)``: the named node and the unnamed operators and constants
  that only it uses (the statement's body); named by the statement's name, ``h1``;
* a **layer** ``layer1``, ``layer2``...: the statements at the same depth (a statement's depth is one
  more than the deepest statement it uses), so in the lecture's network ``h1, h2`` are layer 1, ``y``
  layer 2, ``E`` layer 3;
* a set the user picks, ``NAME=A,B,C``: the statements (or nodes) A, B and C, called NAME.

A statement or a layer also holds its own variables, those no other statement reads (a neuron's weights
and bias: w1 and w2 of h1 = σ(w1 x1 + w2 x2)), so a network folds to its layers; an input several
statements read stays outside, and so does every variable of a group that would otherwise have no input.
A picked set holds what it names. A group must be
closed: no path may leave it and come back (that drawn folded would be a cycle).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import networkx as nx

from .errors import GraphlabError
from .ops import OPS

__all__ = ["Group", "statements", "layers", "groups", "auto_groups", "check", "outputs", "inputs", "folded_id",
           "MAX_GROUPS"]

MAX_GROUPS = 1_000  # a fold spec naming more groups is refused
GROUP_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
LAYER = re.compile(r"layer([1-9][0-9]*)")


@dataclass(frozen=True)
class Group:
    """``members``: node ids; ``label``: what the folded node says (its name, or a layer's formula)."""

    name: str
    members: frozenset[str]
    label: str = ""

    @property
    def title(self) -> str:
        return self.label or self.name


def folded_id(group: Group) -> str:
    """The folded node's id in a diagram: never one of the graph's own, nor a record style operator (``x/op``)."""
    return f"fold//{group.name}"


def _named(graph: nx.DiGraph) -> list[str]:
    return [n for n, d in graph.nodes(data=True) if d.get("name")]


def statements(graph: nx.DiGraph) -> dict[str, Group]:
    """Each named node's statement: the node and the unnamed operators and constants only it uses."""
    owner: dict[str, str | None] = {}
    output = graph.graph["output"]
    for node in reversed(list(nx.topological_sort(graph))):
        data = graph.nodes[node]
        if data.get("name"):
            owner[node] = node
        elif data["kind"] == "var" or node == output:
            owner[node] = None
        else:
            owners = {owner[c] for c in graph.successors(node)}
            owner[node] = owners.pop() if len(owners) == 1 else None
    members: dict[str, set[str]] = {}
    for node, o in owner.items():
        if o is not None:
            members.setdefault(o, set()).add(node)
    return {graph.nodes[n]["label"]: Group(graph.nodes[n]["label"], frozenset(members[n])) for n in _named(graph)}


def _depths(graph: nx.DiGraph, stmts: dict[str, Group]) -> dict[str, int]:
    """Each statement's depth: 1 + the deepest statement it uses (one using only variables: 1)."""
    node_of = {g.name: next(n for n in g.members if graph.nodes[n].get("name")) for g in stmts.values()}
    name_of = {n: s for s, n in node_of.items()}
    depth: dict[str, int] = {}
    below: dict[str, int] = {}  # node -> the deepest statement it reads from
    for node in nx.topological_sort(graph):
        d = max((below[p] for p in graph.predecessors(node)), default=0)
        if node in name_of:
            depth[name_of[node]] = d + 1
            d += 1
        below[node] = d
    return depth


def _own_variables(graph: nx.DiGraph, stmts: dict[str, Group]) -> dict[str, set[str]]:
    """Each statement's own variables: those no other statement uses (a neuron's weights and bias, the
    lecture's w1 in h1 = σ(w1 x1 + w2 x2)); an input that several statements read stays outside."""
    readers: dict[str, set[str]] = {}
    for name, g in stmts.items():
        for n in g.members:
            for p in graph.predecessors(n):
                if graph.nodes[p]["kind"] == "var":
                    readers.setdefault(p, set()).add(name)
    own: dict[str, set[str]] = {name: set() for name in stmts}
    for v, names in readers.items():
        if len(names) == 1:
            own[next(iter(names))].add(v)
    return own


def _absorb(graph: nx.DiGraph, group: Group, own: set[str]) -> Group:
    """``group`` with ``own`` variables in it, unless that would leave it no input from outside."""
    if not own or not set(inputs(graph, group)) - own:
        return group
    return Group(group.name, group.members | own, group.label)


def _network_label(graph: nx.DiGraph, k: int, stmts: list[Group], own: set[str]) -> str | None:
    """Layer k of a network written neuron by neuron as :func:`graphlab.nn.neuron_graph` writes it (units
    ``h{k}_{j}`` or the logits ``z``, weights ``w{k}_{ij}``, biases ``b{k}_{j}``), in the lecture's matrix form:
    ``H1 = tanh(x W1 + b1)``; None for any other layer."""
    labels = {graph.nodes[v]["label"] for v in own}
    if not labels or not all(re.fullmatch(rf"[wb]{k}_[0-9_]+", v) for v in labels):
        return None
    tops = {graph.nodes[next(n for n in g.members if graph.nodes[n].get("name"))].get("op") for g in stmts}
    names = {g.name[0] for g in stmts}
    if len(tops) != 1 or len(names) != 1 or names.pop() not in "hz":
        return None
    top = tops.pop()
    unit = stmts[0].name
    affine = ("x" if k == 1 else f"H{k - 1}") + f" W{k}" + (f" + b{k}" if any(v[0] == "b" for v in labels) else "")
    if unit.startswith("z") and top == "add":  # the logits
        return f"layer {k}: z = {affine}"
    if unit.startswith("h") and top not in ("add", "sub", "mul", "div"):  # (a residual layer's top is an add)
        return f"layer {k}: H{k} = {OPS[top].symbol}({affine})"
    return None


def _layer_label(graph: nx.DiGraph, k: int, stmts: list[Group], own: set[str]) -> str:
    """``layer k: h1, h2``; a layer of one function applied neuron by neuron, ``layer 1: h1_1 … h1_4 = tanh(…)``;
    a network's layer in matrix form (:func:`_network_label`)."""
    network = _network_label(graph, k, stmts, own)
    if network:
        return network
    names = [g.name for g in stmts]
    text = ", ".join(names) if len(names) <= 3 else f"{names[0]} … {names[-1]}"
    ops = {graph.nodes[next(n for n in g.members if graph.nodes[n].get("name"))].get("op") for g in stmts}
    if len(names) > 1 and len(ops) == 1 and (op := ops.pop()) not in ("add", "sub", "mul", "div", None):
        text += f" = {OPS[op].symbol}(…)"
    return f"layer {k}: {text}"


def layers(graph: nx.DiGraph) -> dict[str, Group]:
    """The statements grouped by depth: ``layer1``, ``layer2``...; a network's parameters join their layer."""
    stmts = statements(graph)
    depth = _depths(graph, stmts)
    by_depth: dict[int, list[Group]] = {}
    for name, g in stmts.items():
        by_depth.setdefault(depth[name], []).append(g)
    own = _own_variables(graph, stmts)
    found = {}
    for k in sorted(by_depth):
        mine = set().union(*(own[g.name] for g in by_depth[k]))
        layer = Group(f"layer{k}", frozenset().union(*(g.members for g in by_depth[k])),
                      _layer_label(graph, k, by_depth[k], mine))
        found[layer.name] = _absorb(graph, layer, mine)
    return found


def _with_own(graph: nx.DiGraph, group: Group, own: dict[str, set[str]]) -> Group:
    """A statement with the variables only it uses (a neuron's weights and bias), so it folds to one node."""
    return _absorb(graph, group, own.get(group.name, set()))


def check(graph: nx.DiGraph, found: Sequence[Group]) -> tuple[Group, ...]:
    """``found`` if every group is non-empty, the groups do not overlap, no name is taken and each is closed."""
    seen: dict[str, str] = {}
    labels = {d["label"] for _, d in graph.nodes(data=True)}
    names: set[str] = set()
    for g in found:
        if not g.members:
            raise GraphlabError(f"the group {g.name} is empty")
        if g.name in names:
            raise GraphlabError(f"two groups are called {g.name}")
        names.add(g.name)
        both = sorted((n for n in g.members if n in seen), key=lambda n: not graph.nodes[n].get("name"))
        if both:
            n = both[0]
            raise GraphlabError(f"{_where(graph, n)} is in two folded groups, {seen[n]} and {g.name}: "
                                "fold one of them")
        seen.update(dict.fromkeys(g.members, g.name))
        _closed(graph, g)
    for g in found:
        taken = g.name in labels and g.name not in {graph.nodes[n]["label"] for n in g.members}
        if taken:
            raise GraphlabError(f"the group name {g.name} is already a node of the expression: pick another")
    return tuple(found)


def _reach(graph: nx.DiGraph, start: frozenset[str], forward: bool) -> set[str]:
    """Every node a path from ``start`` reaches (``forward``), or that reaches ``start``: one walk for all."""
    step = graph.successors if forward else graph.predecessors
    seen: set[str] = set()
    stack = [m for n in start for m in step(n)]
    while stack:
        n = stack.pop()
        if n not in seen:
            seen.add(n)
            stack.extend(step(n))
    return seen


def _closed(graph: nx.DiGraph, group: Group) -> None:
    """Refuse a group that a path leaves and re-enters (``A`` and ``C`` of ``A -> B -> C``, without ``B``)."""
    between = (_reach(graph, group.members, True) & _reach(graph, group.members, False)) - group.members
    if between:
        where = _where(graph, min(between, key=lambda n: (not graph.nodes[n].get("name"), n)))
        raise GraphlabError(f"cannot fold {group.name}: a path leaves it and comes back through {where}, "
                            f"so folded it would feed itself; add {where} to the group")


def _where(graph: nx.DiGraph, node: str) -> str:
    """A node as the user knows it: its name, or the statement it belongs to (``v7`` is in ``y``)."""
    if graph.nodes[node].get("name") or graph.nodes[node]["kind"] == "var":
        return graph.nodes[node]["label"]
    for name, g in statements(graph).items():
        if node in g.members:
            return name
    return graph.nodes[node]["label"]


def groups(graph: nx.DiGraph, specs: Iterable[str]) -> tuple[Group, ...]:
    """The groups ``specs`` name: ``layers``, ``statements`` (every statement), ``layerK``, a statement's name,
    or ``NAME=A,B,C`` (statements or nodes A, B, C folded together as NAME). Raises :class:`GraphlabError`
    naming a bad one."""
    stmts = statements(graph)
    own = _own_variables(graph, stmts)
    lays = layers(graph)
    by_label = {d["label"]: n for n, d in graph.nodes(data=True)}
    found: list[Group] = []
    for spec in specs:
        spec = spec.strip()
        if spec == "layers":
            found += lays.values()
        elif spec == "statements":
            found += [_with_own(graph, g, own) for g in stmts.values()]
        elif "=" in spec:
            name, _, parts = spec.partition("=")
            name = name.strip()
            if not GROUP_NAME.fullmatch(name):
                raise GraphlabError(f"cannot fold {spec!r}: a group's name is a letter, then letters, digits "
                                    f"or _, not {name!r}")
            members: set[str] = set()
            for part in (p.strip() for p in parts.split(",")):
                if part in stmts:
                    members |= stmts[part].members
                elif part in by_label:
                    members.add(by_label[part])
                else:
                    raise GraphlabError(f"cannot fold {spec!r}: {part!r} is no statement or node of the "
                                        f"expression (statements: {', '.join(stmts) or 'none'})")
            found.append(Group(name, frozenset(members)))
        elif spec in stmts:
            found.append(_with_own(graph, stmts[spec], own))
        elif spec in lays:
            found.append(lays[spec])
        else:
            hint = f"statements: {', '.join(stmts)}; layers: {', '.join(lays)}" if stmts else \
                "this expression names no intermediates: write statements such as q = x + y; f = q z"
            raise GraphlabError(f"cannot fold {spec!r}: nothing is called that ({hint}; or layers, statements, "
                                "NAME=A,B)")
        if len(found) > MAX_GROUPS:
            raise GraphlabError(f"cannot fold more than {MAX_GROUPS:,} groups")
    return check(graph, found)


def auto_groups(graph: nx.DiGraph, expanded: Iterable[str] = ()) -> tuple[Group, ...]:
    """The layers folded, except those ``expanded``: an expanded layer shows its statements folded (a
    network's neurons), an expanded statement its operators. Unknown names in ``expanded`` are ignored
    (a link from another expression)."""
    expanded = set(expanded)
    stmts = statements(graph)
    own = _own_variables(graph, stmts)
    found: list[Group] = []
    for name, layer in layers(graph).items():
        if name not in expanded:
            found.append(layer)
            continue
        for s in stmts.values():
            if s.members <= layer.members and s.name not in expanded:
                found.append(_with_own(graph, s, own))
    return check(graph, found)


def outputs(graph: nx.DiGraph, group: Group) -> list[str]:
    """The members whose value leaves the group (used outside it, or the output), in the graph's order."""
    out = graph.graph["output"]
    return [n for n in graph.nodes if n in group.members
            and (n == out or any(c not in group.members for c in graph.successors(n)))]


def inputs(graph: nx.DiGraph, group: Group) -> list[str]:
    """The nodes outside the group that its members use, in the graph's order."""
    used = {p for n in group.members for p in graph.predecessors(n)} - group.members
    return [n for n in graph.nodes if n in used]
