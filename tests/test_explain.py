import math

from graphlab import from_text, trace
from graphlab.explain import explain, explain_step


def step_at(t, phase, node):
    return next(s.index for s in t.steps if s.phase == phase and s.node == node)


def test_lecture_chain_rule_sentence(lecture):
    g, t = lecture
    e = explain_step(t, step_at(t, "backward", "q"))
    assert e.text.splitlines() == ["∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)(1) = -4", "∂f/∂y = ∂f/∂q · ∂q/∂y = (-4)(1) = -4"]
    chain = r"\frac{\partial f}{\partial x} = \frac{\partial f}{\partial q} \cdot \frac{\partial q}{\partial x}"
    assert chain in e.latex
    assert e.markdown.startswith("**Step 8 (backward, node q)**") and "$" in e.markdown  # people count from 1


def test_forward_sentences(lecture):
    g, t = lecture
    texts = [e.text for e in explain(t)]
    assert "q = x + y = (-2) + 5 = 3" in texts
    assert "f = q * z = 3 * (-4) = -12" in texts
    assert texts[0] == "x = -2"


def test_output_starts_with_one_and_uses_formula(lecture):
    g, t = lecture
    e = explain_step(t, step_at(t, "backward", "f"))
    assert e.text.splitlines()[0] == "∂f/∂f = 1"
    assert "∂f/∂q = ∂f/∂f · ∂f/∂q = (1)(z) = (1)(-4) = -4" in e.text
    assert "∂f/∂z = ∂f/∂f · ∂f/∂z = (1)(q) = (1)(3) = 3" in e.text


def test_fanout_full_sum(fanout):
    g, t = fanout
    e = explain_step(t, step_at(t, "backward", "x2"))
    assert e.text.splitlines() == [
        "∂f/∂x2 = ∂f/∂v3 · ∂v3/∂x2 + ∂f/∂v1 · ∂v1/∂x2 = -1.774 + 0.04704 = -1.727",
        # the whole gradient once it is complete, as the lecture writes it: a product per path, summed
        "∂f/∂x2 = log(x1 x2) cos(x2) + sin(x2) (1/(x1 x2)) x1 = -1.727"]
    assert explain_step(t, step_at(t, "backward", "x2"), form=None).text == e.text.splitlines()[0]
    # the hand-worked value: log(6) cos(3) + sin(3)/3
    assert math.isclose(math.log(6) * math.cos(3) + math.sin(3) / 3, -1.727, abs_tol=5e-4)
    terms = [x.text for x in explain(t) if "term" in x.text]
    assert any("[term 1 of 2]" in x for x in terms) and any("[term 2 of 2]" in x for x in terms)
    assert r"\frac{\partial f}{\partial x_{2}}" in e.latex


def test_exact_mode_and_constants():
    g = from_text("x^2 + 3")
    t = trace(g, {"x": "1/2"}, mode="exact")
    texts = [e.text for e in explain(t)]
    assert "f = v1 + 3 = (1/4) + 3 = 13/4" in texts
    assert "3 [constant]" in texts
    assert any(x.startswith("∂f/∂x = ∂f/∂v1 · ∂v1/∂x = (1)(2*x) = (1)(1) = 1") for x in texts)
    latex = explain(t)[-1].latex
    assert latex == r"\frac{\partial f}{\partial x} = 2 x = 1"  # the names form, then the value


def test_precision(lecture):
    g = from_text("x / 3")
    t = trace(g, {"x": 1})
    forward = explain_step(t, step_at(t, "forward", "f"), precision=2).text
    assert forward == "f = x / 3 = 1 / 3 = 0.33"
    assert explain_step(t, step_at(t, "forward", "f"), precision=6).text.endswith("= 0.333333")


def test_a_missing_value_is_said_not_printed_as_blanks():
    t = trace(from_text("x^2 y"), {"x": 3})  # float mode: y has no value, so f and every gradient have none
    texts = [e.text for e in explain(t)]
    assert "y [no value]" in texts and "f = v1 * y" in texts
    assert "∂f/∂v1 = ∂f/∂f · ∂f/∂v1 = (1)(y)" in texts[5].splitlines()
    assert all("()" not in line and not line.endswith("= ") for text in texts for line in text.splitlines())
    exact = [e.text for e in explain(trace(from_text("x^2 y"), {"x": 3}, mode="exact"))]
    assert "y [no value]" in exact and "f = v1 * y = 9 * y = 9*y" in exact


def test_explain_text_is_explain_steps_text_without_the_latex(fanout):
    import numpy as np

    from graphlab.explain import explain_text
    from graphlab.forward import forward_trace

    g, t = fanout
    point = {"X": np.array([[0.0, 1], [1, 0]]), "W": np.array([[0.5], [-1]])}
    matrices = trace(from_text("E = sum(σ(X W))", shapes={k: v.shape for k, v in point.items()}), point)
    for tr in (t, forward_trace(g, {"x1": 2, "x2": 3}, wrt="x2"), matrices):
        for form in ("names", "expanded", None):
            assert [explain_text(tr, k, 3, form) for k in range(len(tr.steps))] == \
                [e.text for e in explain(tr, 3, form)]
