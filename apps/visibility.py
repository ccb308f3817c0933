"""Whether the page's browser tab is hidden (another tab in front, the window minimised): a components-v2
component that reports ``document.visibilityState`` when it changes, so the page can stop work no one sees."""

from __future__ import annotations

from collections.abc import Callable

import streamlit as st

_JS = """
export default function ({setStateValue}) {
  // only changes are reported: a page opens visible, and reporting that would cost a rerun
  const report = () => setStateValue('hidden', document.visibilityState === 'hidden');
  document.addEventListener('visibilitychange', report);
  return () => document.removeEventListener('visibilitychange', report);
}
"""
_component = st.components.v2.component("graphlab_visibility", js=_JS)


def hidden(key: str, on_change: Callable[[], None]) -> bool:
    """Mounts the component (draws nothing) under ``key``; True while the tab is hidden. ``on_change`` runs
    when it is hidden or shown again (a rerun follows)."""
    _component(key=key, default={"hidden": False}, on_hidden_change=on_change)
    return bool((st.session_state.get(key) or {}).get("hidden"))
