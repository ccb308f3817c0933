import xml.etree.ElementTree as ET

import pytest

from graphlab.cli import main

LECTURE = ["q = x + y; f = q z", "--at", "x=-2,y=5,z=-4"]


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("suffix, magic", [("png", b"\x89PNG"), ("pdf", b"%PDF"), ("svg", b"<?xml"),
                                           ("dot", b"digraph"), ("tex", b"\\documentclass")])
def test_draw_formats_from_suffix(capsys, tmp_path, suffix, magic):
    path = tmp_path / f"g.{suffix}"
    code, out, _ = run(capsys, "draw", *LECTURE, "--step", "8", "-o", str(path))
    assert code == 0 and out == f"wrote {path}\n"
    assert path.read_bytes().startswith(magic)


def test_draw_options(capsys, tmp_path):
    path = tmp_path / "g.dot"
    code, _, _ = run(capsys, "draw", *LECTURE, "--final", "--style", "record", "--direction", "TB",
                     "--palette", "colorblind", "--precision", "3", "-o", str(path))
    text = path.read_text()
    assert code == 0 and "rankdir=TB" in text and "grad -4" in text and "#0072B2" in text
    code, _, _ = run(capsys, "draw", *LECTURE, "--bare", "-o", str(tmp_path / "b.tex"))
    assert code == 0 and not (tmp_path / "b.tex").read_text().startswith("\\documentclass")


def test_draw_without_values_draws_the_structure(capsys, tmp_path):
    path = tmp_path / "s.svg"
    code, _, _ = run(capsys, "draw", "(x+y)z", "-o", str(path))
    assert code == 0
    titles = {t.text for t in ET.fromstring(path.read_bytes()).iter("{http://www.w3.org/2000/svg}title")}
    assert {"x", "y", "z", "f"} <= titles


def test_frames_and_index(capsys, tmp_path):
    code, out, _ = run(capsys, "draw", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--frames", str(tmp_path / "fr"),
                       "--format", "png")
    assert code == 0 and out == f"wrote 13 files to {tmp_path / 'fr'}\n"  # 12 frames and index.md
    files = sorted(p.name for p in (tmp_path / "fr").iterdir())
    assert files == ["index.md"] + [f"step-{k:02d}.png" for k in range(1, 13)]  # counted from 1, as in the app
    index = (tmp_path / "fr" / "index.md").read_text()
    assert "∂f/∂x2 = ∂f/∂v3 · ∂v3/∂x2 + ∂f/∂v1 · ∂v1/∂x2 = -1.774 + 0.04704 = -1.727" in index
    assert index.count("step-") == 24  # link text and target, per frame
    # step 11 is x2's backward step (of 12: 6 forward, then f, v3, v2, v1, x2, x1), in file and row alike
    assert "| 11 | backward | `x2` | [step-11.png](step-11.png) |" in index


@pytest.mark.parametrize("argv, message", [
    (["-o", "{tmp}/g.jpg"], "unknown file type '.jpg'"),
    (["-o", "{tmp}/missing/dir/g.svg"], "cannot write"),
    (["--step", "11", "-o", "{tmp}/g.svg"], "--step 11 is out of range: this trace has steps 1 to 10"),
    (["--step", "0", "-o", "{tmp}/g.svg"], "--step 0 is out of range: this trace has steps 1 to 10"),
    (["--step", "-1", "-o", "{tmp}/g.svg"], "out of range"),
    ([], "give -o FILE or --frames DIR"),
    (["--style", "fancy", "-o", "{tmp}/g.svg"], "invalid choice"),
])
def test_draw_errors_are_one_line(capsys, tmp_path, argv, message):
    argv = [a.replace("{tmp}", str(tmp_path)) for a in argv]
    code, out, err = run(capsys, "draw", *LECTURE, *argv)
    lines = [line for line in err.splitlines() if not line.startswith("Fontconfig")]
    assert code == 2 and len(lines) == 1 and lines[0].startswith("error:") and message in lines[0]


def test_explain_prints_the_derivation(capsys):
    code, out, _ = run(capsys, "explain", *LECTURE)
    assert code == 0
    assert "q = x + y = (-2) + 5 = 3" in out
    assert "∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)(1) = -4" in out
    code, out, _ = run(capsys, "explain", *LECTURE, "--format", "latex")
    assert r"\frac{\partial f}{\partial z}" in out
    code, out, _ = run(capsys, "explain", *LECTURE, "--format", "markdown")
    assert out.startswith("**Step 1 (forward, node x)**")


def test_explain_text_numbers_steps_from_1(capsys):
    code, out, _ = run(capsys, "explain", *LECTURE)
    steps = [line for line in out.splitlines() if line.startswith("[")]
    assert len(steps) == 10 and steps[0].startswith("[ 1] forward  x:") and steps[-1].startswith("[10] backward x:")
    assert "[ 8] backward q: ∂f/∂x = ∂f/∂q · ∂q/∂x = (-4)(1) = -4" in out  # as `draw --step 8` draws it


def test_explain_markdown_gives_each_step_its_own_paragraph(capsys):
    """CommonMark joins consecutive lines into one paragraph; a blank line ends it. So each step
    must be one block of lines (here one line) with a blank line before the next."""
    code, out, _ = run(capsys, "explain", "log(x1 x2) sin(x2)", "--at", "x1=2,x2=3", "--format", "markdown")
    assert code == 0 and out.endswith("\n") and not out.endswith("\n\n")
    paragraphs = out.strip("\n").split("\n\n")
    assert len(paragraphs) == 12  # one per step
    for k, paragraph in enumerate(paragraphs, start=1):
        assert "\n" not in paragraph and paragraph.startswith(f"**Step {k} (")
