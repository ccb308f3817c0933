"""examples/ run as a user runs them, and print the lecture's numbers."""

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_lecture_examples_script():
    out = subprocess.run([sys.executable, str(ROOT / "examples" / "lecture.py")], capture_output=True, text=True,
                         timeout=120, check=True).stdout
    assert "output = -12.0" in out and "d/dx = -4.0" in out and "d/dz = 3.0" in out
    assert "at q: upstream -4 x local dq/dx 1 = -4" in out
    assert "d/dx2 = log(6)*cos(3) + sin(3)/3" in out
    assert "x = (0, 1):  σ1 = 0.0180  σ2 = 0.9975" in out
    assert "step 1: θ = 5.92" in out and "step 3: θ = 5.77869" in out  # 6 - 0.01 * 8, then 7.36, 6.7712
    assert "h1 = 0.6803, h2 = 0.6637, y = 0.6903" in out  # the lecture's 0.68, 0.6637, 0.69
    assert "w1+ = 0.272326, w2+ = 0.872998" in out  # the lecture's rounded 0.272392 and 0.87305
