"""The lecture's worked examples, computed by graphlab. Run: python examples/lecture.py"""

import graphlab as gl
from graphlab.descend import descend


def show(title: str, text: str, point: dict, mode: str = "float") -> gl.Trace:
    t = gl.trace(gl.graph(text), point, mode=mode)
    print(f"\n== {title}\n{text}   at {point}")
    print(f"  output = {t.output}")
    for v, g in t.gradient.items():
        print(f"  d/d{v} = {g}")
    return t


# Lecture 001: f(x, y, z) = (x + y) z at x = -2, y = 5, z = -4: q = 3, f = -12; gradients -4, -4, 3
t = show("(x + y) z, upstream x local at every step", "q = x + y; f = q z", {"x": -2, "y": 5, "z": -4})
for step in t.backward_steps:
    for e in step.edges:
        print(f"  at {step.node}: upstream {step.upstream:g} x local d{step.node}/d{e.input} {e.local:g}"
              f" = {e.contribution:g}")

# Lecture 001: w = log(x1 x2) sin(x2); x2 reaches w on two paths, and its gradient sums them
show("w = log(x1 x2) sin(x2), exactly", "w = log(x1 x2) sin(x2)", {"x1": 2, "x2": 3}, mode="exact")

# Lecture 002: the XOR features sigma(5 x1 - 5 x2 + 1) and sigma(-5 x1 + 5 x2 + 1) at the four corners
print("\n== XOR features")
for x1 in (0, 1):
    for x2 in (0, 1):
        s1 = gl.trace(gl.graph("σ(5 x1 - 5 x2 + 1)"), {"x1": x1, "x2": x2}).output
        s2 = gl.trace(gl.graph("σ(-5 x1 + 5 x2 + 1)"), {"x1": x1, "x2": x2}).output
        print(f"  x = ({x1}, {x2}):  σ1 = {s1:.4f}  σ2 = {s2:.4f}")

# Lecture 000: argmin (y - x theta)^2 with y = 10, x = 2, theta0 = 6, eta = 0.01: three updates by hand
print("\n== gradient descent on (y - x θ)^2")
for row in descend("(y - x theta)^2", ["theta"], {"y": 10, "x": 2, "theta": 6}, lr=0.01, steps=3).history:
    theta, gradient = row.params["theta"], row.gradient["theta"]
    print(f"  step {row.step}: θ = {theta:.6g}  loss = {row.loss:.6g}  gradient = {gradient:.6g}")

# Lecture 004: the sigmoid network (inputs 0.35 and 0.9, target 0.5, eta = 1); the lecture rounds
# its intermediates and gets w1+ = 0.272392, w2+ = 0.87305; full precision gives 0.2723..., 0.8730...
net = "h1 = σ(w3 x1 + w4 x2); h2 = σ(w5 x1 + w6 x2); y = σ(w1 h1 + w2 h2); E = 1/2 (y - t)^2"
point = {"x1": 0.35, "x2": 0.9, "w1": 0.3, "w2": 0.9, "w3": 0.1, "w4": 0.8, "w5": 0.4, "w6": 0.6, "t": 0.5}
t = show("sigmoid network", net, point)
print(f"  h1 = {t.values['h1']:.4f}, h2 = {t.values['h2']:.4f}, y = {t.values['y']:.4f}")
print(f"  w1+ = {point['w1'] - t.gradient['w1']:.6f}, w2+ = {point['w2'] - t.gradient['w2']:.6f}")
