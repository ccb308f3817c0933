"""The stepper's diagram in the browser: legible at any screen size, panned and zoomed, stepped by keys,
and presented full screen.

The diagram is Graphviz's SVG of the step (drawn on the server at the pinned layout). In the page,
diagram_view.js sizes it so the median label is never under ``MIN_LABEL_PX`` (the diagram pans
instead of shrinking), and Panzoom, the MIT library vendored in ``graphlab/static``, pans and zooms it
(drag, wheel, pinch, buttons, reset). The keys → / PageDown / Space, ← / PageUp, Home / End step
while focus is not in a text box. "Present" hides all but the stage (the diagram and the chain rule)
and asks the browser for full screen. A components-v2 component, so it runs in the page itself (no
iframe): it reads the page's key presses and the chain rule's height directly.
"""

from __future__ import annotations

from collections.abc import Callable
from importlib.resources import files
from pathlib import Path

import streamlit as st

STAGE = "stage"  # key of the page's container with the diagram and the chain rule: what presentation keeps
RULE = "chainrule"  # key of the container with the chain rule (its height is left free under the diagram)
MIN_LABEL_PX = {"phone": 12, "wide": 14}  # median label height, CSS px; "phone": a window under PHONE_WIDTH
PHONE_WIDTH = 700
MAX_LABEL_PX = {"page": 22, "present": 34}  # a small graph grows to fill its space up to this, no further

_LIBRARY = (files("graphlab") / "static" / "panzoom.min.js").read_text(encoding="utf-8")
_GLUE = (Path(__file__).with_name("diagram_view.js")).read_text(encoding="utf-8")

# The page while presenting: only the stage, on the whole screen.
_CSS = f"""
.gl-diagram {{ position: relative; }}
.gl-bar {{ display: flex; gap: 0.25rem; justify-content: flex-end; align-items: center; flex-wrap: wrap;
  margin-bottom: 0.25rem; }}
.gl-bar button {{ font: inherit; min-width: 2.25rem; min-height: 2.25rem; padding: 0 0.6rem; cursor: pointer;
  border: 1px solid rgba(128, 128, 128, 0.45); border-radius: 0.5rem; background: transparent; color: inherit; }}
.gl-bar button:hover {{ border-color: var(--st-primary-color, #ff4b4b); }}
.gl-bar .gl-label {{ margin-right: auto; font-weight: 600; }}
.gl-present-only, .gl-label {{ display: none; }}
.gl-presenting .gl-present-only, .gl-presenting .gl-label {{ display: inline-block; }}
.gl-box {{ overflow: hidden; border-radius: 0.5rem; background: white; touch-action: none; }}
.gl-stage {{ display: flex; align-items: center; justify-content: center; }}
.gl-stage svg {{ display: block; flex: none; }}
.st-key-{RULE} .katex {{ font-size: 1.15em; }}
.st-key-{RULE} p {{ overflow-wrap: anywhere; }}
body:has(.gl-presenting) [data-testid="stSidebar"],
body:has(.gl-presenting) [data-testid="stHeader"],
body:has(.gl-presenting) [data-testid="stSidebarCollapsedControl"],
body:has(.gl-presenting) [data-testid="stExpandSidebarButton"],
body:has(.gl-presenting) [data-testid="stTabs"] [role="tablist"],
body:has(.gl-presenting) [data-testid="stVerticalBlock"] > :not(:has(.st-key-{STAGE})):not(.st-key-{STAGE} *)
  {{ display: none !important; }}
body:has(.gl-presenting) [data-testid="stMainBlockContainer"] {{ padding: 0.5rem 1rem !important;
  max-width: none !important; }}
body:has(.gl-presenting) .st-key-{RULE} .katex {{ font-size: clamp(1.15em, 2.1vw, 2.2em); }}
body:has(.gl-presenting) .st-key-{RULE} > :first-child {{ display: none; }}
.gl-presenting .gl-label {{ font-size: clamp(1em, 1.6vw, 1.6em); }}
"""

_component = st.components.v2.component("graphlab_diagram", css=_CSS, js=_LIBRARY + "\n" + _GLUE,
                                        isolate_styles=False)


def show(svg: str, step: int, count: int, label: str, *, direction: str, present: bool, key: str,
         on_goto: Callable[[], None], on_present: Callable[[], None], on_area: Callable[[], None]):
    """The diagram ``svg`` (Graphviz's SVG, laid out in ``direction``) of step ``step`` of ``count``. Its state
    in ``st.session_state[key]``: ``area`` ({w, h}: the CSS pixels the diagram may take), and, for one run,
    ``goto`` (a step the keys or the presentation's buttons asked for) and ``present`` (on or off)."""
    return _component(key=key, data={"svg": svg[svg.find("<svg"):], "step": step, "count": count, "label": label,
                                     "direction": direction,
                                     "present": present, "minPx": MIN_LABEL_PX, "phoneWidth": PHONE_WIDTH,
                                     "maxPx": MAX_LABEL_PX["present" if present else "page"]},
                      on_goto_change=on_goto, on_present_change=on_present, on_area_change=on_area)
