"""Gradient descent by hand, against numbers worked out by hand (not by graphlab)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import sympy as sp

from graphlab.cli import main
from graphlab.descend import descend
from graphlab.errors import GraphlabError

LECTURE = "(y - x theta)^2"  # argmin (y - x θ)^2 with y = 10, x = 2, θ0 = 6, η = 0.01
START = {"y": 10, "x": 2, "theta": 6}

# By hand: dL/dθ = -2x(y - xθ) = 4(2θ - 10) = 8(θ - 5), so θ ← θ - 0.08(θ - 5): θ_k - 5 = 0.92^k.
#   θ0 = 6         L = (10 - 12)^2        = 4            g = 8
#   θ1 = 5.92      L = (10 - 11.84)^2     = 3.3856       g = 7.36
#   θ2 = 5.8464    L = (10 - 11.6928)^2   = 2.86557184   g = 6.7712
#   θ3 = 5.778688  L = (10 - 11.557376)^2 = 2.425420005376   g = 6.229504
THETA = [6, 5.92, 5.8464, 5.778688]
LOSS = [4, 3.3856, 2.86557184, 2.425420005376]
GRAD = [8, 7.36, 6.7712, 6.229504]


def test_lecture_first_three_updates_float():
    run = descend(LECTURE, ["theta"], START, 0.01, 3)
    assert [s.step for s in run.history] == [0, 1, 2, 3]
    assert [float(s.params["theta"]) for s in run.history] == pytest.approx(THETA, abs=1e-12)
    assert [float(s.loss) for s in run.history] == pytest.approx(LOSS, abs=1e-12)
    assert [float(s.gradient["theta"]) for s in run.history] == pytest.approx(GRAD, abs=1e-12)
    assert [float(s.update["theta"]) for s in run.history[:3]] == pytest.approx([-0.08, -0.0736, -0.067712])
    assert run.history[-1].update is None


def test_lecture_exact_mode_keeps_fractions():
    run = descend(LECTURE, ["theta"], START, sp.Rational(1, 100), 3, mode="exact")
    assert [s.params["theta"] for s in run.history] == [5 + sp.Rational(92, 100) ** k for k in range(4)]
    assert run.history[3].loss == (10 - 2 * (5 + sp.Rational(92, 100) ** 3)) ** 2


def test_two_parameters_match_hand_gradient():
    # L = (y - w x - b)^2 at x = 3, y = 1: dL/dw = -2x r, dL/db = -2r with r = y - w x - b
    w, b = 0.5, -0.25
    run = descend("(y - w x - b)^2", ["w", "b"], {"x": 3, "y": 1, "w": w, "b": b}, 0.1, 2)
    for s in run.history:
        r = 1 - 3 * w - b
        assert float(s.gradient["w"]) == pytest.approx(-6 * r)
        assert float(s.gradient["b"]) == pytest.approx(-2 * r)
        w, b = w + 0.1 * 6 * r, b + 0.1 * 2 * r


def write_csv(tmp_path, rows):
    path = tmp_path / "data.csv"
    path.write_text("x,y\n" + "\n".join(f"{x},{y}" for x, y in rows) + "\n")
    return str(path)


DATA = [(1, 2), (2, 4.1), (3, 5.9), (4, 8.2)]


def test_full_batch_is_gradient_descent_on_the_mean_loss(tmp_path):
    from graphlab.descend import read_table

    run = descend("(y - w x)^2", ["w"], {"w": 0}, 0.01, 3, data=read_table(write_csv(tmp_path, DATA)))
    xs, ys = np.array(DATA).T
    w = 0.0
    for s in run.history:
        assert s.batch == [0, 1, 2, 3]
        assert float(s.loss) == pytest.approx(np.mean((ys - w * xs) ** 2))
        grad = np.mean(-2 * xs * (ys - w * xs))
        assert float(s.gradient["w"]) == pytest.approx(grad)
        w -= 0.01 * grad


def test_mini_batches_are_seeded_and_cover_every_row_each_pass(tmp_path):
    from graphlab.descend import read_table

    table = read_table(write_csv(tmp_path, DATA))
    run = descend("(y - w x)^2", ["w"], {"w": 0}, 0.01, 3, data=table, batch_size=2, seed=7)
    again = descend("(y - w x)^2", ["w"], {"w": 0}, 0.01, 3, data=table, batch_size=2, seed=7)
    batches = [s.batch for s in run.history]
    assert batches == [s.batch for s in again.history]
    assert sorted(batches[0] + batches[1]) == [0, 1, 2, 3]  # one pass over the data
    i, j = batches[0]
    xs, ys = np.array(DATA)[[i, j]].T
    assert float(run.history[0].gradient["w"]) == pytest.approx(np.mean(-2 * xs * ys))


def test_a_table_read_from_text_is_the_table_read_from_its_file(tmp_path):
    from graphlab.descend import parse_table, read_table

    path = write_csv(tmp_path, DATA)
    assert parse_table(open(path).read()) == read_table(path) == [{"x": str(x), "y": str(y)} for x, y in DATA]
    with pytest.raises(GraphlabError, match="upload.csv line 3: y = 'abc' is not a number"):
        parse_table("x,y\n1,2\n3,abc\n", "upload.csv")


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"wrt": ["w"]}, "not a variable"),
    ({"wrt": ["x"], "at": {"y": 10, "theta": 6}}, "starting value"),
    ({"at": {"x": 2, "theta": 6}}, "no value for y"),
    ({"steps": -1}, "steps must be between 0 and 10,000"),
])
def test_bad_requests(kwargs, message):
    args = {"wrt": ["theta"], "at": START, "lr": 0.01, "steps": 3, **kwargs}
    with pytest.raises(GraphlabError, match=message):
        descend(LECTURE, args["wrt"], args["at"], args["lr"], args["steps"])


def test_data_column_must_be_a_variable(tmp_path):
    path = tmp_path / "d.csv"
    path.write_text("x,q\n1,2\n")
    assert main(["descend", "(y - w x)^2", "--wrt", "w", "--at", "w=0", "--lr", "0.1", "--data", str(path)]) == 2
    path.write_text("x,y\n1,abc\n")
    assert main(["descend", "(y - w x)^2", "--wrt", "w", "--at", "w=0", "--lr", "0.1", "--data", str(path)]) == 2


def test_cli_json_shape(capsys):
    argv = ["descend", LECTURE, "--wrt", "theta", "--at", "y=10,x=2,theta=6", "--lr", "0.01", "--steps", "3", "--json"]
    assert main(argv) == 0
    out = json.loads(capsys.readouterr().out)
    assert [h["step"] for h in out["history"]] == [0, 1, 2, 3]
    assert set(out["history"][0]) >= {"step", "params", "loss", "gradient"}
    assert [h["params"]["theta"] for h in out["history"]] == pytest.approx(THETA)
    assert out["history"][0]["gradient"] == {"theta": 8.0}


def test_cli_table_and_exit_codes(capsys):
    argv = ["descend", LECTURE, "--wrt", "theta", "--at", "y=10,x=2,theta=6", "--lr", "0.01", "--steps", "3"]
    assert main(argv) == 0
    table = capsys.readouterr().out
    assert "5.778688" in table and "-0.0736" in table
    assert main(["descend", LECTURE, "--wrt", "w", "--at", "theta=6", "--lr", "0.01"]) == 2
    assert main(["descend", LECTURE, "--wrt", "theta", "--at", "y=10,x=2,theta=6", "--lr", "0.01",
                 "--batch-size", "2"]) == 2
    assert capsys.readouterr().err.startswith("error:")
