"""Every command the README shows works as written, and prints what the README says it prints."""

import ast
import contextlib
import io
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()
BIN = Path(sys.executable).parent


def blocks():
    """The README's code blocks (not Python ones), fence by fence."""
    found, current = [], None
    for line in README.splitlines():
        if line.startswith("```"):
            if current is None:
                current = [] if line.strip() in ("```", "```sh", "```console") else False
            else:
                if current is not False:
                    found.append("\n".join(current) + "\n")
                current = None
        elif current is not None and current is not False:
            current.append(line)
    return found


def commands():
    """(command, expected output lines) for each `graphlab ...` the README shows."""
    found = []
    for block in blocks():
        lines = block.replace("\\\n    ", "").splitlines()
        for i, line in enumerate(lines):
            text = line[2:] if line.startswith("$ graphlab") else line if line.startswith("graphlab ") else None
            if text is None or "EXPR" in text or text.startswith("graphlab app"):
                continue
            expected = []
            if line.startswith("$ "):  # the README shows its output too
                for out in lines[i + 1:]:
                    if out.startswith("$ "):
                        break
                    expected.append(out)
            found.append((text.split("  #")[0].strip(), expected))
    found += [(c, []) for c in re.findall(r"`(graphlab train [^`]+)`", README)]
    return found


# README's training table: command -> (train accuracy, test accuracy) as shown
TRAINING_TABLE = {m[0]: m[1:] for m in re.findall(r"^\| `(graphlab train [^`]+)` \| ([\d.]+) \| ([\d.]+) \|", README,
                                                   flags=re.M)}


def matches_shown(shown: str, value: float) -> bool:
    """``0.9749`` shows 0.974930...: equal once rounded to the digits shown."""
    decimals = len(shown.partition(".")[2])
    return round(value, decimals) == float(shown)


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    shutil.copytree(ROOT / "docs", d / "docs")
    shutil.copytree(ROOT / "examples", d / "examples")
    return d


def test_readme_has_commands():
    assert len(commands()) >= 15
    assert len(TRAINING_TABLE) == 8


@pytest.mark.parametrize("command, expected", commands(), ids=lambda c: c if isinstance(c, str) else "")
def test_readme_command(command, expected, workdir):
    args = shlex.split(command)
    r = subprocess.run([str(BIN / args[0]), *args[1:]], cwd=workdir, capture_output=True, text=True, timeout=300)
    assert r.returncode in ((0, 1) if args[1] == "verify" else (0,)), r.stderr
    if command in TRAINING_TABLE:  # the accuracies the table quotes are the ones this command prints
        last = json.loads(r.stdout.splitlines()[-1])
        for shown, key in zip(TRAINING_TABLE[command], ("train_accuracy", "test_accuracy")):
            assert matches_shown(shown, last[key]), f"README shows {key} {shown}; the command gave {last[key]}"
    for line in expected:
        if line.strip() and line.strip() != "...":
            assert line.rstrip() in r.stdout, f"README shows {line!r}; the command printed:\n{r.stdout}"


# --------------------------------------------------------------------------- the Python examples
def python_blocks():
    return re.findall(r"^```python\n(.*?)^```", README, flags=re.M | re.S)


SHOWN = re.compile(r"""\s#\s+(['"(<\[{\-\d].*)$""")  # `expr  # <what a REPL shows>`: a repr, not a remark


def shown_repr(line: str) -> str | None:
    """What the README says ``line`` shows in a REPL, or None when its comment is a remark in words."""
    m = SHOWN.search(line)
    return m.group(1).strip() if m else None


def test_readme_python_blocks_show_what_a_repl_shows():
    assert len(python_blocks()) >= 2
    assert sum(shown_repr(line) is not None for block in python_blocks() for line in block.splitlines()) >= 2


@pytest.mark.parametrize("block", python_blocks(), ids=lambda b: b.splitlines()[0])
def test_readme_python_block(block, workdir):
    """Run each statement; where the README shows what an expression echoes, repr must match it
    (``...`` in the README stands for text left out)."""
    namespace: dict = {}
    checked = 0
    lines = block.splitlines()
    cwd = os.getcwd()
    os.chdir(workdir)  # files the example writes land in the scratch copy
    try:
        for statement in ast.parse(block).body:
            code = compile(ast.Module([statement], []), "README.md", "exec")
            shown = shown_repr(lines[statement.end_lineno - 1])
            if isinstance(statement, ast.Expr) and shown is not None:
                value = eval(compile(ast.Expression(statement.value), "README.md", "eval"), namespace)
                pattern = ".*".join(re.escape(part) for part in shown.split("..."))
                assert re.fullmatch(pattern, repr(value), flags=re.S), f"README shows {shown}; Python gives {value!r}"
                checked += 1
            else:
                with contextlib.redirect_stdout(io.StringIO()):
                    exec(code, namespace)
    finally:
        os.chdir(cwd)
    assert checked or not any(shown_repr(line) for line in lines)
