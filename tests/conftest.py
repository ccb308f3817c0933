import pytest

from graphlab import from_text, trace


@pytest.fixture
def lecture():
    """CS231n's (x+y)z at x=-2, y=5, z=-4, with q named: q = 3, f = -12, grads -4, -4, 3."""
    g = from_text("q = x + y; f = q z")
    return g, trace(g, {"x": -2, "y": 5, "z": -4})


@pytest.fixture
def fanout():
    """log(x1 x2) sin(x2) at x1=2, x2=3: x2 feeds two ops."""
    g = from_text("log(x1 x2) sin(x2)")
    return g, trace(g, {"x1": 2, "x2": 3})
