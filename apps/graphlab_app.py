"""graphlab's Streamlit app: ``make app`` or ``graphlab app`` (``streamlit run apps/graphlab_app.py``).

The entry point only sets up the page and the navigation; each page is its own file here.
"""

from __future__ import annotations

import cpu_share
import streamlit as st

st.set_page_config(page_title="graphlab", page_icon=":material/account_tree:", layout="wide")
page = st.navigation([st.Page("stepper_page.py", title="Stepper", icon=":material/footprint:", default=True),
                      st.Page("playground_page.py", title="Playground", icon=":material/neurology:",
                              url_path="playground")])
with cpu_share.SHARE.interactive():  # a click's run comes before the Playground's timer ticks
    page.run()
