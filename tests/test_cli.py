"""The `graphlab grad` contract, run as a user runs it: a subprocess of the installed command."""

import json
import math
import shutil
import subprocess
import sys

import pytest

GRAPHLAB = shutil.which("graphlab") or str(__import__("pathlib").Path(sys.executable).parent / "graphlab")


def run(*args):
    return subprocess.run([GRAPHLAB, *args], capture_output=True, text=True, timeout=60)


def test_grad_json_lecture_example():
    r = run("grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["expression"] == "(x+y)z"
    assert out["output"] == -12
    assert out["inputs"] == {"x": -2, "y": 5, "z": -4}
    assert out["gradient"] == {"x": -4, "y": -4, "z": 3}
    assert out["gradient_expr"] == {"x": "z", "y": "z", "z": "x + y"}
    nodes = {n["id"]: n for n in out["nodes"]}
    assert set(nodes["f"]) >= {"id", "op", "label", "inputs", "value", "grad"}
    assert nodes["f"]["op"] == "mul" and nodes["f"]["inputs"] == ["v1", "z"] and nodes["v1"]["value"] == 3
    phases = [s["phase"] for s in out["steps"]]
    assert phases == ["forward"] * 5 + ["backward"] * 5
    first_back = out["steps"][5]
    assert first_back["node"] == "f" and first_back["upstream"] == 1
    assert [(e["input"], e["formula"], e["local"], e["contribution"]) for e in first_back["local"]] == [
        ("v1", "z", -4, -4), ("z", "v1", 3, 3)]


def test_grad_json_exact_adds_strings():
    r = run("grad", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--exact", "--json")
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["output_exact"] == "log(6)*sin(3)"
    assert out["gradient_exact"]["x2"] == "log(6)*cos(3) + sin(3)/3"
    assert out["gradient_expr"]["x2"] == "log(x1*x2)*cos(x2) + sin(x2)/x2"
    assert abs(out["gradient"]["x2"] - (math.log(6) * math.cos(3) + math.sin(3) / 3)) < 1e-12


def test_grad_table():
    r = run("grad", "q = x + y; f = q z", "--at", "x=-2,y=5,z=-4")
    assert r.returncode == 0
    # the lecture writes ∂f/∂z = q over the named intermediate
    assert "f = -12" in r.stdout and "∂f/∂x = z = -4" in r.stdout and "∂f/∂z = q = 3" in r.stdout
    assert "q     add" in r.stdout


def test_values_may_be_constant_expressions():
    out = json.loads(run("grad", "sin(x)", "--at", "x=pi/2", "--json").stdout)
    assert out["output"] == 1.0


def test_nonfinite_json_and_warning():
    r = run("grad", "1/x + log(y)", "--at", "x=0", "--at", "y=-1", "--json")
    assert r.returncode == 0
    out = json.loads(r.stdout)
    assert out["output"] == "nan"
    assert {n["id"]: n["value"] for n in out["nodes"]}["v1"] == "inf"
    assert "warning: non-finite value at node v1 (div)" in r.stderr


def test_expression_starting_with_minus():
    r = run("grad", "-x^2", "--at", "x=3", "--json")
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["gradient"] == {"x": -6}


@pytest.mark.parametrize("args, message", [
    (["grad", "x +"], "error: unexpected end of input: an operand is missing at column 4"),
    (["grad", "__import__('os')"], "error: unexpected character '_' at column 1"),
    (["grad", "(x"], "error: unbalanced parenthesis"),
    (["grad", "sigma(x)"], "error: unknown function 'sigma': did you mean sigmoid or σ?"),
    (["grad", "x", "--at", "y=1"], "error: no variable named y"),
    (["grad", "x", "--at", "x=abc"], "error: --at x: the value 'abc' must be a number"),
    (["grad", "x", "--at", "nonsense"], "error: --at expects NAME=VALUE"),
    (["grad", "9^9^9^9", "--exact"], "error: 9^387420489 is too large to compute exactly"),
    (["grad"], "error: the following arguments are required: expr"),
    (["grad", "x", "--bogus"], "error: unrecognized arguments: --bogus"),
])
def test_bad_input_is_one_error_line_exit_2(args, message):
    r = run(*args)
    assert r.returncode == 2
    assert r.stderr.startswith(message), r.stderr
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr


def test_closed_pipe_is_not_a_traceback():
    p = subprocess.Popen([GRAPHLAB, "grad", " + ".join(f"x{i}" for i in range(300)), "--json"],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    p.stdout.readline()
    p.stdout.close()  # like `| head -1`
    err = p.stderr.read()
    assert p.wait(timeout=60) == 0
    assert "Traceback" not in err


def test_drawing_prints_nothing_on_stderr(tmp_path):
    # pygraphviz's bundled fontconfig warns about this system's newer font configuration: filtered
    r = run("draw", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "-o", str(tmp_path / "f.png"))
    assert r.returncode == 0 and r.stderr == ""
    assert (tmp_path / "f.png").read_bytes().startswith(b"\x89PNG")


# --------------------------------------------------------------------------- newcomer papercuts (issue 11)
def test_version_comes_from_the_package_metadata():
    from importlib.metadata import version

    r = run("--version")
    assert r.returncode == 0 and r.stdout == f"graphlab {version('graphlab')}\n"


def test_values_after_at_separated_by_spaces_get_a_hint():
    r = run("grad", "x y", "--at", "x=1", "y=2")
    assert r.returncode == 2 and r.stderr.count("\n") == 1
    assert r.stderr.startswith("error: unrecognized arguments: y=2")
    assert "comma-separated: --at x=1,y=2" in r.stderr and "repeat --at" in r.stderr
    assert run("grad", "x y", "--at", "x=1,y=2").returncode == 0 and run("grad", "x y", "--at", "x=1", "--at",
                                                                           "y=2").returncode == 0


def test_a_variable_without_a_value_is_said_in_a_sentence():
    r = run("grad", "x y", "--at", "x=1")
    assert r.returncode == 0
    assert "y has no value, so the gradients that depend on it stay symbolic; give it with --at y=..." in r.stdout
    assert "∂f/∂x = y\n" in r.stdout


def test_printed_formulas_use_the_input_language_and_say_each_side_once():
    # d/dx (x^3 + 0 y) = 3x^2 = 12 at x = 2; d/dy = 0 (hand-worked)
    r = run("grad", "x^3 + 0 y", "--at", "x=2,y=1")
    lines = r.stdout.splitlines()
    assert "∂f/∂x = 3 x^2 = 12" in lines and "∂f/∂y = 0" in lines  # the names form: products side by side
    assert "**" not in r.stdout
    r = run("verify", "x^3", "--claim", "df/dx = 3x")
    assert r.returncode == 1 and "  df/dx = 3*x^2" in r.stdout.splitlines() and "**" not in r.stdout
    r = run("explain", "x^3", "--at", "x=2")
    assert "∂f/∂x = ∂f/∂f · ∂f/∂x = (1)(3*x^2) = (1)(12) = 12" in r.stdout and "**" not in r.stdout


def test_grad_json_steps_carry_the_index_and_the_number_people_count():
    out = json.loads(run("grad", "(x+y)z", "--at", "x=-2,y=5,z=-4", "--json").stdout)
    assert [(s["index"], s["number"]) for s in out["steps"]] == [(k, k + 1) for k in range(10)]


def test_every_command_that_writes_a_file_says_so(tmp_path):
    svg = tmp_path / "mlp.svg"
    r = run("mlp", "--layers", "2,3,2", "-o", str(svg))
    assert r.returncode == 0 and r.stdout == f"wrote {svg}\n" and svg.read_bytes().startswith(b"<?xml")
    r = run("mlp", "--layers", "2,3,2", "-o", str(svg), "--json")  # stdout stays one JSON object
    assert json.loads(r.stdout)["parameters"] == 2 * 3 + 3 + 3 * 2 + 2 and r.stderr == f"wrote {svg}\n"
    args = ["train", "--dataset", "gauss", "--layers", "2", "--epochs", "1"]
    r = run(*args, "--save", str(tmp_path / "w.npz"))
    assert r.returncode == 0 and r.stdout.splitlines()[-1] == f"wrote {tmp_path / 'w.npz'}"
    r = run(*args, "--save", str(tmp_path / "w2"), "--json")  # NumPy adds .npz: the name said is the file's
    assert json.loads(r.stdout.splitlines()[-1])["epochs"] == 1
    assert f"wrote {tmp_path / 'w2.npz'}" in r.stderr.splitlines() and (tmp_path / "w2.npz").is_file()
    dot = tmp_path / "g.dot"
    r = run("draw", "(x+y)z", "-o", str(dot))
    assert r.stdout == f"wrote {dot}\n"


def test_every_option_of_every_command_has_help():
    import argparse

    from graphlab.cli import build_parser

    parser = build_parser()
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    commands = {"graphlab": parser, **sub.choices}
    assert {"grad", "draw", "explain", "verify", "descend", "compile", "train", "mlp", "app"} <= set(commands)
    missing = [f"{name} {'/'.join(a.option_strings) or a.dest}" for name, p in commands.items() for a in p._actions
               if a.help != argparse.SUPPRESS and not (a.help or "").strip()]
    assert missing == []
    assert all((c.help or "").strip() for c in sub._choices_actions)  # each command's line in `graphlab --help`


def test_a_constant_sympy_cannot_compare_is_no_crash():
    """relu of the complex asin(2): float mode flags nan and goes on; exact mode says why, in one line."""
    r = run("grad", "relu(asin(2))")
    assert r.returncode == 0 and "f = nan" in r.stdout
    r = run("grad", "relu(asin(2))", "--exact")
    assert r.returncode == 2
    assert [line for line in r.stderr.splitlines() if line.startswith("error:")] == [
        "error: node f: relu cannot be computed exactly here (The argument 'asin(2)' is not comparable.); "
        "use float mode"]
