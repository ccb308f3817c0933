"""The whole trace as one file: the HTML stepper, the Beamer deck, GIF/APNG, the frames ZIP; the CLI writes
each, the app offers each, and Jupyter shows the stepper. The browser drives the HTML in test_e2e_stepper.py."""

from __future__ import annotations

import html
import io
import json
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from conftest import cpu_time
from PIL import Image

from graphlab import cli, from_text, show, trace
from graphlab.errors import GraphlabError
from graphlab.explain import explain
from graphlab.export import render_bytes, to_tikz
from graphlab.forward import forward_trace
from graphlab.materials import animation, beamer_deck, beamer_frame, document
from graphlab.render import to_dot
from graphlab.stepper import MAX_STEPPER_NODES, _json_for_script, stepper_html

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "apps"))  # what `streamlit run` does for the app's own modules

import stepper_model  # noqa: E402

LECTURE = "q = x + y; f = q z"
AT = {"x": -2, "y": 5, "z": -4}
ORDER = ["x", "y", "q", "z", "f", "f", "z", "q", "y", "x"]  # by hand: forward, then backward
EXAMPLES = [(expr, {k: float(v) for k, v in values.items()}) for expr, values in stepper_model.EXAMPLES.items()
            if not any(v.startswith("[") or "x" in v for v in values.values())]  # the scalar ones: matrices have
# their own tests (values [[0,0],[0,1]], or shapes such as 784x200)
SIGMOID_NET = ("h1 = sigmoid(w1 x1 + w2 x2); h2 = sigmoid(w3 x1 + w4 x2); y = sigmoid(w5 h1 + w6 h2); "
               "E = (y - t)^2 / 2", dict(w1=0.1, w2=0.2, w3=0.3, w4=0.4, w5=0.5, w6=0.6, x1=0.35, x2=0.9, t=0.5))
CURRENT = re.compile(r'<g id="[^"]*" class="[^"]*\bcurrent\b[^"]*">\s*<title>([^<]*)</title>')


def payload(page: str) -> dict:
    return json.loads(re.search(r'<script type="application/json" class="gl-data">(.*?)</script>', page, re.S)[1])


def frames(data: dict) -> list[str]:
    return ["".join(data["svg"][i] for i in ids) for ids in data["frames"]]


@pytest.fixture(scope="module")
def lecture_page():
    t = trace(from_text(LECTURE), AT)
    return t, stepper_html(t)


# --------------------------------------------------------------------------- the HTML stepper
def test_every_frame_is_the_diagram_of_its_step_stored_once_per_distinct_piece(lecture_page):
    t, page = lecture_page
    data = payload(page)
    assert len(data["steps"]) == len(data["frames"]) == len(data["tables"]) == 10
    for k, svg in enumerate(frames(data)):
        drawn = render_bytes(to_dot(t.graph, t, k), "svg").decode()
        drawn = re.sub(r"<!--.*?-->\s*", "", drawn[drawn.index("<svg"):], flags=re.S).replace(' id="', ' id="glstep-')
        assert svg == drawn  # the pieces put together are the frame, byte for byte
        assert CURRENT.findall(svg) == [ORDER[k]]
        assert data["steps"][k]["node"] == ORDER[k]
    total = sum(len(ids) for ids in data["frames"])
    assert len(data["svg"]) < total / 2  # most pieces repeat from frame to frame


def _spoken(text: str) -> str:
    """What a line says, without layout: tags, spaces, brackets, slashes and signs of products and powers gone."""
    text = html.unescape(re.sub(r"<[^>]+>", "", text)).replace("-", "−")
    return re.sub(r"[\s/()\[\]*⋅×·^]", "", text.replace("sigmoid", "σ"))  # products juxtaposed or not; x^2


@pytest.mark.parametrize("expr, values", [(LECTURE, AT), *EXAMPLES[2:4], SIGMOID_NET])
def test_the_maths_is_mathml_that_says_what_the_plain_explanation_says(expr, values):
    t = trace(from_text(expr), values)
    data = payload(stepper_html(t))
    for e, step in zip(explain(t), data["steps"], strict=True):
        assert "gl-plain" not in step["math"]  # every line converted
        lines = re.findall(r"<math.*?</math>", step["math"], re.S)
        assert len(lines) == len(e.text.split("\n"))
        for math, text in zip(lines, e.text.split("\n"), strict=True):
            assert _spoken(math) == _spoken(text)


def test_each_step_has_its_table_and_label(lecture_page):
    t, page = lecture_page
    data = payload(page)
    rows = ["".join(data["rows"][i] for i in ids) for ids in data["tables"]]
    assert "backward 3 of 5: node q" == data["steps"][7]["label"]
    assert data["steps"][7]["title"] == "The chain rule at this step"
    assert data["steps"][2]["title"] == "Computed at this step"
    marked = re.findall(r'<tr class="gl-cur"><td>▶</td><td>([^<]*)</td>', rows[7])
    assert marked == ["q"]
    # at step 7 (backward at z) the gradient of q has arrived from f; x's comes at step 8, from q
    assert re.search(r"<td>q</td><td>add</td><td>x y</td><td>3</td><td>-4</td>", rows[6])
    assert re.search(r"<td>x</td><td>var</td><td></td><td>-2</td><td></td>", rows[6])
    assert re.search(r"<td>x</td><td>var</td><td></td><td>-2</td><td>-4</td>", rows[7])


def test_the_page_loads_nothing_from_anywhere(lecture_page):
    _, page = lecture_page
    assert "default-src 'none'" in page  # the browser itself refuses any fetch
    assert not re.search(r"\b(src|href)\s*=|url\(|@import|<link|<img|<iframe", page)
    assert not re.findall(r"https?://(?!www\.w3\.org/)", page)  # namespaces only


def test_the_data_cannot_end_its_script_element():
    text = _json_for_script({"a": "</script><script>alert(1)</script><!-- x"})
    assert "</" not in text and "<!--" not in text and "<script" not in text
    assert json.loads(text) == {"a": "</script><script>alert(1)</script><!-- x"}


@pytest.mark.parametrize("expr, values", EXAMPLES)
def test_lecture_examples_stay_under_one_megabyte(expr, values):
    assert len(stepper_html(trace(from_text(expr), values)).encode()) < 1_000_000


def test_opens_on_the_step_asked_for_and_refuses_one_out_of_range(lecture_page):
    t, _ = lecture_page
    assert 'data-start="8"' in stepper_html(t, 7)
    assert 'data-start="10"' in stepper_html(t, -1)
    with pytest.raises(GraphlabError, match="out of range"):
        stepper_html(t, 10)


def test_a_huge_graph_is_refused_before_any_drawing():
    expr = " + ".join(f"x{i}*y{i}" for i in range(MAX_STEPPER_NODES))
    t = trace(from_text(expr), {})
    with cpu_time(1.0), pytest.raises(GraphlabError, match="at most 200"):
        stepper_html(t)


def test_over_sixty_nodes_the_table_stays_and_the_diagram_goes():
    expr = " + ".join(f"x{i}*y{i}" for i in range(25))  # 25*3 + 24 = 99 nodes
    t = trace(from_text(expr), {f"{v}{i}": 1 for i in range(25) for v in "xy"})
    page = stepper_html(t)
    data = payload(page)
    assert data["frames"] is None and "<svg" not in page.split('class="gl-data"')[0].split("</style>")[1]
    assert "left out" in page and len(data["tables"]) == len(t.steps)


def test_forward_mode_steps_through_the_tangents():
    t = forward_trace(from_text(LECTURE), AT, "x")
    data = payload(stepper_html(t))
    assert "∂node/∂x" in data["head"]
    assert len(data["steps"]) == 5 and CURRENT.findall(frames(data)[2]) == ["q"]
    assert "∂" in _spoken(data["steps"][2]["math"])


# --------------------------------------------------------------------------- notebooks
def test_jupyter_gets_the_stepper_scoped_to_its_own_id(lecture_page):
    t, _ = lecture_page
    one, two = t._repr_html_(), show(t, step=7)._repr_html_()
    ids = [re.search(r'<div class="glstep" id="(gl[0-9a-f]+)"', h)[1] for h in (one, two)]
    assert ids[0] != ids[1]  # two outputs on one page
    assert 'data-start="10"' in one and 'data-start="8"' in two  # the final frame, as the SVG; show's step
    for h, ident in zip((one, two), ids):
        assert not h.startswith("<!doctype")
        css = re.search(r"<style>(.*?)</style>", h, re.S)[1]
        selectors = [s.strip() for rule in re.findall(r"(?:^|})\s*([^{}@]+)\{", css) for s in rule.split(",")]
        assert selectors and all(s.startswith(f"#{ident}") for s in selectors if not s.startswith("@"))
        assert "standalone = false" in h  # no hash, keys only with focus or pointer
        assert all(i.startswith(f"{ident}-") for i in re.findall(r' id="([^"]+)"', "".join(payload(h)["svg"])))
    assert show(t.graph)._repr_html_() is None  # no trace, no steps: the SVG


def test_jupyter_falls_back_for_a_graph_too_large_to_draw():
    expr = " + ".join(f"x{i}*y{i}" for i in range(25))
    t = trace(from_text(expr), {})
    assert t._repr_html_() is None


# --------------------------------------------------------------------------- animations
@pytest.mark.parametrize("fmt", ["gif", "apng"])
def test_animation_has_every_step_a_fixed_size_and_a_pause_at_the_end(lecture_page, fmt):
    t, _ = lecture_page
    im = Image.open(io.BytesIO(animation(t, fmt, fps=2, pause=1.5)))
    assert im.n_frames == 10 and im.info.get("loop") == 0
    durations, sizes = [], set()
    for k in range(im.n_frames):
        im.seek(k)
        durations.append(im.info["duration"])
        sizes.add(im.size)
    assert durations == [500] * 9 + [2000]
    first = Image.open(io.BytesIO(render_bytes(to_dot(t.graph, t, 0), "png")))
    assert sizes == {first.size}  # the frame files' size: the pinned page
    if fmt == "apng":  # lossless: each frame is the step's PNG, pixel for pixel
        for k in (0, 7, 9):
            im.seek(k)
            png = Image.open(io.BytesIO(render_bytes(to_dot(t.graph, t, k), "png"))).convert("RGB")
            assert im.convert("RGB").tobytes() == png.tobytes()


def test_animation_refuses_a_bad_rate(lecture_page):
    t, _ = lecture_page
    with pytest.raises(GraphlabError) as e:
        animation(t, "gif", fps=0)
    assert e.value.field == "fps"


# --------------------------------------------------------------------------- Beamer
def test_beamer_has_one_overlay_per_step_each_the_steps_tikz(lecture_page):
    t, _ = lecture_page
    frame = beamer_frame(t)
    overlays = re.findall(r"\\only<(\d+)>\{%\n(.*?)\n\}(?=\n\\only|\n\\end\{frame\})", frame, re.S)
    assert [int(k) for k, _ in overlays] == list(range(1, 11))
    for k, body in overlays:
        picture = to_tikz(t.graph, t, int(k) - 1, bare=True).split("\n", 1)[1].strip()
        assert picture in body
        assert f"node {ORDER[int(k) - 1]}" in body
    assert frame.count("{") == frame.count("}")
    deck = beamer_deck(t)
    assert deck.startswith(r"\documentclass[aspectratio=169]{beamer}") and frame in deck


def test_every_tikz_frame_has_the_same_bounding_box(lecture_page):
    t, _ = lecture_page
    boxes = {re.search(r"\\path\[use as bounding box\][^;]*;", to_tikz(t.graph, t, k))[0] for k in range(10)}
    assert len(boxes) == 1


@pytest.mark.skipif(shutil.which("pdflatex") is None, reason="no pdflatex on this machine")
def test_the_beamer_deck_compiles(lecture_page, tmp_path):
    t, _ = lecture_page
    (tmp_path / "deck.tex").write_text(beamer_deck(t))
    run = subprocess.run(["pdflatex", "-interaction=nonstopmode", "-halt-on-error", "deck.tex"], cwd=tmp_path,
                         capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stdout[-3000:]
    assert (tmp_path / "deck.pdf").read_bytes().startswith(b"%PDF")


# --------------------------------------------------------------------------- the CLI and the app
ARGV = ["draw", LECTURE, "--at", "x=-2,y=5,z=-4"]


def test_cli_writes_each_whole_trace_format(tmp_path, capsys):
    for name, extra in [("steps.html", []), ("steps.gif", ["--fps", "4"]), ("steps.apng", []),
                        ("frames.zip", []), ("deck.tex", ["--beamer"])]:
        assert cli.main([*ARGV, "-o", str(tmp_path / name), *extra]) == 0
    out = capsys.readouterr().out.splitlines()
    assert f"wrote {tmp_path / 'deck-frame.tex'}" in out and len(out) == 6
    assert (tmp_path / "deck-frame.tex").read_text() in (tmp_path / "deck.tex").read_text()
    assert Image.open(tmp_path / "steps.gif").info["duration"] == 250
    assert len(zipfile.ZipFile(tmp_path / "frames.zip").namelist()) == 40
    assert cli.main([*ARGV, "--step", "8", "-o", str(tmp_path / "at8.html")]) == 0
    assert 'data-start="8"' in (tmp_path / "at8.html").read_text()


@pytest.mark.parametrize("extra, message", [(["-o", "x.svg", "--beamer"], "--beamer writes a .tex deck"),
                                            (["-o", "x.gif", "--fps", "0"], "--fps must be between 0.05 and 50"),
                                            (["-o", "x.gif", "--pause", "-1"], "--pause must be between 0 and 60")])
def test_cli_bad_options_are_one_error_line(tmp_path, capsys, extra, message):
    extra = [str(tmp_path / e) if e.startswith("x.") else e for e in extra]
    assert cli.main([*ARGV, *extra]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err and err.count("\n") == 1


def test_the_app_offers_what_the_cli_writes_and_the_cli_writes_what_the_app_offers(tmp_path, capsys):
    key = stepper_model.Key(LECTURE, tuple((k, str(v)) for k, v in AT.items()), "float")
    drawing = stepper_model.Drawing()
    for name, (ext, _) in stepper_model.DOWNLOADS.items():
        path = tmp_path / f"step.{ext}"
        assert cli.main([*ARGV, "--step", "8", "-o", str(path)]) == 0, name
        app = stepper_model.figure(key, 7, drawing, ext)
        if ext in ("dot", "tex", "svg"):
            assert path.read_bytes() == app, name
    for name, (fmt, _, _) in stepper_model.TRACE_DOWNLOADS.items():
        path = tmp_path / f"steps.{'tex' if fmt == 'beamer' else fmt}"
        assert cli.main([*ARGV, "--step", "8", "-o", str(path), *(["--beamer"] if fmt == "beamer" else [])]) == 0
        app = stepper_model.whole_trace(key, drawing, fmt, 7)
        assert path.read_bytes() == app, name
    app_zip = zipfile.ZipFile(io.BytesIO(stepper_model.frames_zip(key, drawing)))
    assert cli.main([*ARGV, "-o", str(tmp_path / "frames.zip")]) == 0
    assert sorted(zipfile.ZipFile(tmp_path / "frames.zip").namelist()) == sorted(app_zip.namelist())
    capsys.readouterr()


def test_document_names_the_formats_it_knows(lecture_page):
    t, _ = lecture_page
    with pytest.raises(GraphlabError, match="html, gif, apng, zip, beamer"):
        document(t, "mp4")


def test_the_step_tab_offers_every_whole_trace_file():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(ROOT / "apps" / "graphlab_app.py"), default_timeout=60)
    at.query_params.update({"expr": LECTURE, "at": "x=-2,y=5,z=-4", "step": "8"})
    at.run()
    assert not at.exception, at.exception
    labels = [b.proto.label for b in at.get("download_button")]
    assert [label for label in labels if label in stepper_model.TRACE_DOWNLOADS] == list(stepper_model.TRACE_DOWNLOADS)
