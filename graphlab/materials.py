"""A whole trace as one file for teaching: the HTML stepper, a Beamer deck, a GIF or APNG, a ZIP of frames.

Each is built from the per-step pieces the rest of graphlab already makes, all at the one pinned
layout (every frame has the same positions, so nothing jumps): the HTML stepper
(:mod:`graphlab.stepper`); a Beamer deck with one overlay per step, each the step's native TikZ
(:func:`graphlab.export.to_tikz`) and its chain rule (:func:`graphlab.explain.explain`); an
animation of the PNG frames (Pillow), a fixed time per step and a pause on the last; and every
frame as DOT, SVG, PDF and TikZ in a ZIP, as the app's download.

The command line (``graphlab draw ... -o steps.html``) and the app's downloads both call
:func:`document`, so the two offer the same files.
"""

from __future__ import annotations

import io
import math
import zipfile
from pathlib import Path
from typing import Any

from .errors import GraphlabError
from .trace import Trace

__all__ = ["TRACE_FORMATS", "MAX_FRAMES_NODES", "is_trace_file", "document", "save_document", "animation",
           "beamer_frame", "beamer_deck", "frames_zip", "frame_name"]

TRACE_FORMATS = ("html", "gif", "apng", "zip")  # and .tex with beamer=True
ZIP_FORMATS = ("dot", "svg", "pdf", "tex")  # per frame in the ZIP: sources and vector figures for slides
MAX_FRAMES_NODES = 200  # every step is drawn: 200 nodes make 400 frames
MAX_WIDTH_PX = 1920  # an animation's default width at most: a projector's
MAX_FRAME_PIXELS = 1920 * 1080 * 2  # an animation holds every frame in memory while it is written


def is_trace_file(path: str | Path, beamer: bool = False) -> bool:
    """Whether ``path`` names a whole-trace file (by its suffix; ``.tex`` only as a Beamer deck)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    return fmt in TRACE_FORMATS or (beamer and fmt == "tex")


def _check_size(trace: Trace) -> None:
    n = trace.graph.number_of_nodes()
    if n > MAX_FRAMES_NODES:
        raise GraphlabError(f"this graph has {n:,} nodes ({len(trace.steps):,} steps), and every step becomes a "
                            f"frame: at most {MAX_FRAMES_NODES} nodes; draw single steps with --step instead")


def frame_name(trace: Trace, index: int | None, ext: str) -> str:
    """``graphlab-step-03-backward-v1.svg`` for ``trace.steps[2]``; ``graphlab-frames.zip`` for all of them."""
    if index is None:
        return f"graphlab-frames.{ext}"
    s = trace.steps[index]
    safe = "".join(c if c.isalnum() or c in "-_" else "_" for c in s.node)
    return f"graphlab-step-{index + 1:02d}-{s.phase}-{safe}.{ext}"


# --------------------------------------------------------------------------- animations
def animation(trace: Trace, fmt: str = "gif", fps: float = 1.0, pause: float = 3.0, style: str = "lecture",
              dpi: float | None = None, **options: Any) -> bytes:
    """Every step's PNG frame as an animated GIF or APNG: ``1/fps`` seconds a step, ``pause`` more on the
    last one, looping. The frames come from the pinned layout, so they are the same size; without a
    ``dpi``, 96 or less, so that a frame is at most a projector's 1920 pixels wide. A GIF has one palette
    for all its frames, from the colours of all of them."""
    from PIL import Image

    from .export import render_bytes
    from .render import to_dot

    if fmt not in ("gif", "apng"):
        raise GraphlabError(f"unknown animation format {fmt!r}: use gif or apng")
    if not 0.05 <= fps <= 50:
        raise GraphlabError(f"must be between 0.05 and 50 steps a second, not {fps:g}", field="fps")
    if not 0 <= pause <= 60:
        raise GraphlabError(f"must be between 0 and 60 seconds, not {pause:g}", field="pause")
    _check_size(trace)
    width, height = _size_pt(trace, style, options)
    if dpi is None:
        dpi = min(96.0, MAX_WIDTH_PX * 72 / width)
    pixels = (width * dpi / 72) * (height * dpi / 72)
    if not 0 < pixels <= MAX_FRAME_PIXELS:
        raise GraphlabError(f"at {dpi:g} dpi a frame is {width * dpi / 72:,.0f} × {height * dpi / 72:,.0f} pixels, "
                            f"over the {MAX_FRAME_PIXELS:,} an animation takes: use a lower dpi")
    pngs = [render_bytes(to_dot(trace.graph, trace, k, style, **options), "png", dpi) for k in range(len(trace.steps))]

    def decoded(png: bytes):
        return Image.open(io.BytesIO(png)).convert("RGB")

    size = decoded(pngs[0]).size  # the pinned page: every frame the same (a guard pads any other)
    frames = (_padded(f, size) if f.size != size else f for f in map(decoded, pngs))
    step_ms = round(1000 / fps)
    durations = [step_ms] * len(pngs)
    durations[-1] += round(pause * 1000)
    out = io.BytesIO()
    if fmt == "gif":
        palette = _palette(pngs, decoded, size)
        frames = [f.quantize(palette=palette, dither=Image.Dither.NONE) for f in frames]
        frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    else:  # lossless: each frame is the step's PNG
        frames = list(frames)
        frames[0].save(out, format="PNG", save_all=True, append_images=frames[1:], duration=durations, loop=0)
    return out.getvalue()


def _size_pt(trace: Trace, style: str, options: dict[str, Any]) -> tuple[float, float]:
    """The pinned page's width and height in points: every frame's."""
    from .render import make_options, pinned_layout

    llx, lly, urx, ury = (float(v) for v in pinned_layout(trace.graph, trace, style, make_options(**options))
                          .bb.split(","))
    return urx - llx, ury - lly


def _palette(pngs: list[bytes], decoded, size: tuple[int, int]):
    """256 colours from a sample of every frame's pixels (nearest-neighbour: only colours that occur)."""
    from PIL import Image

    shrink = max(1, math.ceil(math.sqrt(len(pngs) * size[0] * size[1] / 4_000_000)))
    w, h = max(1, size[0] // shrink), max(1, size[1] // shrink)
    sheet = Image.new("RGB", (w, h * len(pngs)), "white")
    for k, png in enumerate(pngs):
        sheet.paste(decoded(png).resize((w, h), Image.Resampling.NEAREST), (0, k * h))
    return sheet.quantize(colors=256, method=Image.Quantize.FASTOCTREE)


def _padded(image, size: tuple[int, int]):
    from PIL import Image

    canvas = Image.new("RGB", size, "white")
    canvas.paste(image, (0, 0))
    return canvas


# --------------------------------------------------------------------------- Beamer
def _tex_text(text: str) -> str:
    """Plain text for LaTeX: its special characters escaped."""
    special = {"\\": r"\textbackslash{}", "{": r"\{", "}": r"\}", "_": r"\_", "^": r"\^{}", "&": r"\&",
               "%": r"\%", "$": r"\$", "#": r"\#", "~": r"\~{}"}
    return "".join(special.get(c, c) for c in text)


def _fit(trace: Trace, style: str, options: dict[str, Any]) -> str:
    """``\\resizebox`` sizes that fit the picture in the frame above the explanation, by its aspect."""
    width, height = _size_pt(trace, style, options)
    # a 16:9 frame: about 150 mm of text width; 0.56 of its height leaves room for the chain rule
    return r"{\linewidth}{!}" if width / max(height, 1.0) > 150 / (0.56 * 80) else r"{!}{0.56\textheight}"


def beamer_frame(trace: Trace, style: str = "lecture", form: str | None = "names", **options: Any) -> str:
    """One Beamer frame, one overlay per step: the step's TikZ diagram (all at the same positions), its
    label and its chain rule. Needs ``tikz`` (``positioning``) and ``amsmath``; ``\\input`` it in a deck."""
    from .explain import explain
    from .export import to_tikz
    from .present import step_label

    _check_size(trace)
    size = _fit(trace, style, options)
    source = _tex_text(" ".join(trace.graph.graph.get("source", "").split()))
    overlays = []
    for e in explain(trace, options.get("precision", 4), form):
        picture = to_tikz(trace.graph, trace, e.step, style, bare=True, **options).split("\n", 1)[1].strip()
        # each line of the chain rule at its own width, or shrunk to the frame's if wider
        lines = "\\\\\n".join(rf"  \resizebox{{\ifdim\width>\linewidth\linewidth\else\width\fi}}{{!}}"
                             rf"{{$\displaystyle {line}$}}" for line in e.latex.split(" \\\\\n"))
        overlays.append("\n".join([
            rf"\only<{e.step + 1}>{{%",
            rf"  \resizebox{size}{{%",
            picture,
            "  }\\\\[2pt]",
            rf"  {{\footnotesize\textbf{{Step {e.step + 1}}}: {_tex_text(step_label(trace, e.step))}}}\\[2pt]",
            lines,
            "}",
        ]))
    return "\n".join([
        "% graphlab: one overlay per step. Needs \\usepackage{amsmath}, \\usepackage{tikz} and",
        "% \\usetikzlibrary{positioning} in the preamble.",
        rf"\begin{{frame}}{{\texttt{{{source}}}}}",
        r"\centering",
        *overlays,
        r"\end{frame}",
        "",
    ])


def beamer_deck(trace: Trace, style: str = "lecture", form: str | None = "names", **options: Any) -> str:
    """A Beamer document (16:9) holding :func:`beamer_frame`: compiles on its own with pdflatex."""
    return _deck(beamer_frame(trace, style, form, **options))


def _deck(frame: str) -> str:
    return "\n".join([
        r"\documentclass[aspectratio=169]{beamer}",
        r"\usepackage{amsmath}",
        r"\usepackage{tikz}",
        r"\usetikzlibrary{positioning}",
        r"\setbeamertemplate{navigation symbols}{}",
        r"\begin{document}",
        frame,
        r"\end{document}",
        "",
    ])


# --------------------------------------------------------------------------- ZIP
def frames_zip(trace: Trace, style: str = "lecture", formats: tuple[str, ...] = ZIP_FORMATS,
               **options: Any) -> bytes:
    """Every step, each as DOT, SVG, PDF and TikZ, in one ZIP (one folder per format)."""
    from .export import render_bytes, to_tikz
    from .render import to_dot

    _check_size(trace)
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for index in range(len(trace.steps)):
            dot = to_dot(trace.graph, trace, index, style, **options)
            for ext in formats:
                data = to_tikz(trace.graph, trace, index, style, **options).encode() if ext == "tex" \
                    else render_bytes(dot, ext)
                archive.writestr(f"{ext}/{frame_name(trace, index, ext)}", data)
    return buffer.getvalue()


# --------------------------------------------------------------------------- one entry point
def document(trace: Trace, fmt: str, start: int | None = None, style: str = "lecture", form: str | None = "names",
             dpi: float | None = None, fps: float = 1.0, pause: float = 3.0, **options: Any) -> bytes:
    """The whole trace as ``fmt``: ``html`` (the stepper, opening on step index ``start``), ``gif``, ``apng``,
    ``zip`` or ``beamer`` (a Beamer deck, .tex)."""
    if fmt == "html":
        from .stepper import stepper_html

        return stepper_html(trace, start, style, form, **options).encode()
    if fmt in ("gif", "apng"):
        return animation(trace, fmt, fps, pause, style, dpi, **options)
    if fmt == "zip":
        return frames_zip(trace, style, **options)
    if fmt == "beamer":
        return beamer_deck(trace, style, form, **options).encode()
    raise GraphlabError(f"unknown format {fmt!r}: use one of {', '.join((*TRACE_FORMATS, 'beamer'))}")


def save_document(path: str | Path, trace: Trace, beamer: bool = False, **kwargs: Any) -> list[Path]:
    """Write the whole trace to ``path`` (format from the suffix; ``.tex`` with ``beamer``). A Beamer deck
    also writes its frame alone beside it, ``NAME-frame.tex``, to ``\\input`` in a lecture's own deck.
    Returns the paths written."""
    path = Path(path)
    fmt = path.suffix.lower().lstrip(".")
    if not is_trace_file(path, beamer):
        raise GraphlabError(f"{path}: a whole trace is written as .html, .gif, .apng, .zip, or .tex with --beamer")
    if fmt == "tex":
        frame = beamer_frame(trace, **{k: v for k, v in kwargs.items() if k not in ("start", "dpi", "fps", "pause")})
        files = {path: _deck(frame).encode(), path.with_name(f"{path.stem}-frame.tex"): frame.encode()}
    else:
        files = {path: document(trace, fmt, **kwargs)}
    for p, data in files.items():
        try:
            p.write_bytes(data)
        except OSError as e:
            raise GraphlabError(f"cannot write {p}: {e.strerror or e}") from None
    return list(files)
