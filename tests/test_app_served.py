"""The stepper on the real server, over Streamlit's own websocket protocol (benchmarks/protocol.py, no browser):
what a step sends back. Stepping reruns the step-through tab alone (an ``st.fragment``), not the page around it;
the URL still follows the step, and a change outside the tab still reruns the whole page."""

from __future__ import annotations

from urllib.parse import parse_qs, urlencode

from conftest import run_coroutine


def test_a_step_reruns_the_step_through_tab_alone_and_the_url_follows(tmp_path):
    import graphlab as gl
    from benchmarks import app_load
    from benchmarks.protocol import Session
    from graphlab.present import step_label

    lecture = gl.trace(gl.graph("log(x1 x2) sin(x2)"), x1=2, x2=3)
    other = gl.trace(gl.graph("(x+y)z"), x=-2, y=5, z=-4)

    async def scenario(url: str):
        query = urlencode({"expr": "log(x1 x2) sin(x2)", "at": "x1=2,x2=3"})
        async with Session(url, "/", query, timeout=60) as page:
            whole = page.last
            examples = {proto.label for kind, proto in whole.widgets() if kind == "button" and "-example:" in proto.id}
            assert "(x+y)z" in examples  # the sidebar's lecture examples: drawn by the page's run
            assert app_load.step_label(whole) == step_label(lecture, 0)
            stepped = await page.click("next")
            assert stepped.fragment  # the tab's own run ...
            labels = {getattr(proto, "label", "") for _, proto in stepped.widgets()}
            assert "next" in labels and not labels & examples  # ... without the sidebar
            assert "Expression" not in labels
            assert len(stepped.elements) < len(whole.elements)
            assert app_load.step_label(stepped) == step_label(lecture, 1)
            assert set(app_load.node_names("log(x1 x2) sin(x2)")) <= set(stepped.drawn_nodes("diagram"))
            assert parse_qs(page.query)["step"] == ["2"]  # the URL is the tab's to write when it runs alone
            await page.click("next")
            assert parse_qs(page.query)["step"] == ["3"]
            again = await page.click("(x+y)z")  # a sidebar button: the whole page, the tab with it
            assert not again.fragment and app_load.step_label(again) == step_label(other, 0)
            assert parse_qs(page.query)["expr"] == ["(x+y)z"] and parse_qs(page.query)["step"] == ["1"]

    with app_load.serve(tmp_path / "server.log") as (url, _):
        run_coroutine(scenario(url))
