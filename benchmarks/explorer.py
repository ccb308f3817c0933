"""Explorer latency: parse + build + trace, for the lecture's expressions and generated ones.

Targets (issue 2): lecture expressions under 2 ms; 10,000 nodes under 1 s; growth near-linear.
"""

from __future__ import annotations

import graphlab as gl

from .timing import interleaved, median_seconds

LECTURE = {
    "(x+y)z": {"x": -2, "y": 5, "z": -4},
    "log(x1 x2) sin(x2)": {"x1": 2, "x2": 3},
    "sigmoid(w0 x0 + w1 x1 + w2)": {"w0": 2, "x0": -1, "w1": -3, "x1": -2, "w2": -3},
}


def generated(nodes: int) -> tuple[str, dict[str, float]]:
    """A deterministic expression of about ``nodes`` nodes, with fan-out and mixed ops."""
    ops = ["sin({a})", "tanh({a}) * {x}", "{a} + {x}", "exp(-{a}^2)", "sigmoid({a} - {b})"]
    lines = ["v0 = x0 * x1"]
    i = 0
    while True:
        i += 1
        rule = ops[i % len(ops)]
        a, b, x = f"v{i - 1}", f"v{max(i - 2, 0)}", f"x{i % 50}"
        lines.append(f"v{i} = " + rule.format(a=a, b=b, x=x))
        text = "\n".join(lines)
        if i % 50 == 0 and gl.graph(text).number_of_nodes() >= nodes:
            break
    variables = gl.graph(text).graph["variables"]
    return text, {v: 0.1 + 0.01 * k for k, v in enumerate(variables)}


def explore(text: str, point: dict) -> gl.Trace:
    return gl.trace(gl.graph(text), point)


def run(quick: bool = False) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for text, point in LECTURE.items():
        results[text] = {"nodes": gl.graph(text).number_of_nodes(),
                         "seconds": median_seconds(lambda t=text, p=point: explore(t, p), min_time=0.05)}
    # the sizes run interleaved, so that their ratio (the growth) holds on a busy machine
    sizes = {f"generated {size:,}": generated(size) for size in ((100, 1_000) if quick else (100, 1_000, 10_000))}
    medians = interleaved({label: lambda t=text, p=point: explore(t, p) for label, (text, point) in sizes.items()},
                          repeat=5 if quick else 9, min_time=0.1)
    for label, (text, _) in sizes.items():
        results[label] = {"nodes": gl.graph(text).number_of_nodes(), "seconds": medians[label]}
    return results
