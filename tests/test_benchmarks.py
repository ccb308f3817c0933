"""The benchmark harness in quick mode: the JSON's shape, and a missing peer reported as null (no timing asserted)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
from conftest import run_coroutine

from benchmarks import __main__ as bench
from benchmarks import peers


@pytest.fixture
def no_peers(monkeypatch):
    """As if the bench extra were not installed: importing torch, jax or micrograd fails."""
    for name in ("torch", "jax", "micrograd"):
        monkeypatch.setitem(sys.modules, name, None)
    peers.torch.cache_clear()
    peers.jax.cache_clear()
    yield
    peers.torch.cache_clear()
    peers.jax.cache_clear()


def run_json(capsys, *args: str) -> dict:
    assert bench.main(["--quick", "--json", *args]) == 0
    return json.loads(capsys.readouterr().out)


def test_missing_peers_are_null_not_dropped(no_peers, capsys, tmp_path):
    report = tmp_path / "BENCHMARKS.md"
    out = run_json(capsys, "--case", "mlp_epoch", "--case", "grad_1e6", "--markdown", str(report))
    assert set(out) == {"machine", "mlp_epoch", "grad_1e6", "ratios", "targets"}
    assert set(out["mlp_epoch"]) == {"graphlab", "numpy", "torch", "jax", "gemm_floor", "torch_gemm_floor",
                                      "gather_floor"}
    assert out["mlp_epoch"]["torch"] is None and out["mlp_epoch"]["jax"] is None
    assert out["mlp_epoch"]["torch_gemm_floor"] is None
    for name in ("graphlab", "numpy", "gemm_floor", "gather_floor"):
        assert out["mlp_epoch"][name] > 0
    assert out["ratios"]["mlp_epoch"]["torch"] is None and out["ratios"]["mlp_epoch"]["numpy"] > 0
    for table in out["grad_1e6"].values():
        assert set(table) == {"graphlab", "graphlab_numpy", "graphlab_jax", "lambdify", "numpy", "jax"}
        assert table["jax"] is None and table["graphlab_jax"] is None
        assert table["graphlab"] > 0 and table["graphlab_numpy"] > 0 and table["lambdify"] > 0
    skipped = [t for t in out["targets"] if t["target"].endswith("x jax")]
    assert skipped and all(t["met"] is None for t in skipped)
    text = report.read_text()
    assert "skipped (not installed)" in text and "Machine:" in text and "python -m benchmarks" in text


def test_explorer_case_and_table(capsys):
    out = run_json(capsys, "--case", "explorer")
    rows = out["explorer"]
    assert {"(x+y)z", "generated 100", "generated 1,000"} <= set(rows)
    assert all(row["nodes"] > 0 and row["seconds"] > 0 for row in rows.values())
    assert bench.main(["--quick", "--case", "explorer"]) == 0
    assert "growth" in capsys.readouterr().out


def test_diagrams_case_checks_its_frames_and_reports_absolute_targets(capsys):
    out = run_json(capsys, "--case", "diagrams")
    frames, step = out["diagrams"]["all frames, SVG"], out["diagrams"]["one app step"]
    assert frames["frames"] == 2 * frames["nodes"] and frames["seconds"] > 0
    assert step["nodes"] == 60 and step["seconds"] > 0
    lecture = out["diagrams"]["one app step, lecture examples"]
    assert lecture["examples"] == 3 and 0 < lecture["seconds"] <= lecture["slowest"]  # --quick: three
    tick = out["diagrams"]["one Playground tick"]
    assert tick["seconds"] > 0 and tick["late_seconds"] > 0 and tick["epoch_seconds"] > 0 and tick["late_epoch"] > 0
    assert {t["case"] for t in out["targets"]} == {"diagrams all frames, SVG", "diagrams one app step",
                                                   "diagrams one app step, lecture examples",
                                                   "diagrams one Playground tick"}


def test_a_wrong_epoch_or_step_fails_the_cross_checks():
    import numpy as np

    from benchmarks import mlp, tiny

    X, y = mlp.data(1280)
    order = np.arange(1280)
    fns = {"graphlab": mlp.graphlab_epoch(X, y, order), "numpy": mlp.numpy_epoch(X, y, order)}
    for fn in fns.values():
        fn()
    mlp.check_epochs(fns, X, y)
    fns["numpy"] = mlp.numpy_epoch(X[:-128], y[:-128], order[:-128])  # one batch skipped
    fns["numpy"]()
    with pytest.raises(AssertionError):
        mlp.check_epochs(fns, X, y)

    X, Y = tiny.data()
    good = {"graphlab": tiny.graphlab_step(X, Y), "numpy": tiny.numpy_step(X, Y)}
    tiny.check(good, X, Y)
    with pytest.raises(AssertionError):  # a step on half the batch
        tiny.check({**good, "numpy": tiny.numpy_step(X[:100], Y[:100])}, X, Y)


def test_the_class_load_benchmark_drives_real_sessions_on_the_real_server():
    """`python -m benchmarks --case app_load --quick --client protocol`: 1 and 2 students stepping, one playing
    beside one, each a session of the real server driven over Streamlit's websocket protocol (no browser)."""
    import subprocess

    from benchmarks import app_load

    done = subprocess.run([sys.executable, "-m", "benchmarks", "--case", "app_load", "--quick", "--json",
                           "--client", "protocol"], cwd=app_load.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    table = json.loads(done.stdout)["app_load"]
    assert list(table) == ["1 stepping", "2 stepping", "1 playing + 1 stepping"]
    for row in table.values():
        assert row["client"] == "protocol"
        assert row["failed"] == 0, row["failures"]  # every step changed the label, every diagram had its nodes
        assert row["bleed"] == [], f"a student saw another's graph: nodes {row['bleed']}"
        assert 0 < row["step_p50"] <= row["step_p95"] and row["server_cpu_per_rerun"] > 0
        assert row["server_cpu_per_step"] > 0
        assert row["memory_peak"] >= row["memory_rss"] > 0
    assert table["1 playing + 1 stepping"]["epochs_per_second"] > 0  # the player's timer reruns trained it


@pytest.mark.e2e
def test_the_class_load_benchmark_drives_browsers_too():
    """``client="browser"``: one student in headless Chromium steps through the real server."""
    import os
    from pathlib import Path

    from benchmarks import app_load

    if not Path(app_load.CHROMIUM).is_file():
        if os.environ.get("GRAPHLAB_E2E") == "1":
            pytest.fail(f"GRAPHLAB_E2E=1 but no Chromium at {app_load.CHROMIUM}", pytrace=False)
        pytest.skip(f"no Chromium at {app_load.CHROMIUM}")
    import subprocess

    code = ("import json; from benchmarks import app_load; print(json.dumps(app_load.run(sessions=(1,), "
            "players=False, churn=False, client='browser', warm=False)))")  # its own process: Playwright's async API
    done = subprocess.run([sys.executable, "-c", code], cwd=app_load.ROOT, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    row = json.loads(done.stdout)["1 stepping"]
    assert row["client"] == "browser" and row["failed"] == 0, row["failures"]
    assert len(row) and row["bleed"] == [] and 0 < row["step_p50"] <= row["step_p95"]


def test_a_student_whose_action_times_out_is_counted_not_fatal():
    """At 32 sessions an overloaded server must give a row saying how many timed out, not a crash."""
    import asyncio

    from playwright.async_api import TimeoutError as Timeout

    from benchmarks import app_load

    class Overloaded:
        async def new_context(self, **_):
            raise Timeout("Timeout 60000ms exceeded.")

    stepped = run_coroutine(app_load.stepper(Overloaded(), "http://127.0.0.1:1", app_load.EXAMPLES[0]))
    assert stepped["failed"].startswith("Timeout") and stepped["steps"] == []
    played = run_coroutine(app_load.player(Overloaded(), "http://127.0.0.1:1", asyncio.Event()))
    assert played["failed"] and played["epochs_per_second"] is None
    # the protocol client, with no server there: counted too
    stepped = run_coroutine(app_load.protocol_stepper(f"http://127.0.0.1:{app_load.free_port()}", app_load.EXAMPLES[0]))
    assert stepped["failed"] and stepped["steps"] == []
    played = run_coroutine(app_load.protocol_player(f"http://127.0.0.1:{app_load.free_port()}", asyncio.Event()))
    assert played["failed"] and played["epochs_per_second"] is None


def test_the_protocol_client_holds_widget_values_as_the_frontend_does():
    """A widget first drawn gives the value its element carries (the server's, else its default), as a browser
    sends it back with every rerun; a button holds none (a click is a trigger)."""
    from streamlit.proto.Element_pb2 import Element

    from benchmarks.protocol import widget_value

    element = Element()
    element.text_input.id, element.text_input.default = "$$ID-1-expr", ""
    element.text_input.value, element.text_input.set_value = "(x+y)z", True
    assert widget_value("text_input", element.text_input).string_value == "(x+y)z"
    element.text_input.set_value = False
    assert widget_value("text_input", element.text_input).string_value == ""
    element = Element()
    element.button_group.id = "$$ID-2-direction"
    for option in ("fit the screen", "left to right"):
        element.button_group.options.add().content = option
    element.button_group.default.append(1)
    assert list(widget_value("button_group", element.button_group).string_array_value.data) == ["left to right"]
    element = Element()
    element.number_input.id, element.number_input.default = "$$ID-3-precision", 4
    element.number_input.data_type = element.number_input.INT
    assert widget_value("number_input", element.number_input).int_value == 4
    element = Element()
    element.button.id, element.button.label = "$$ID-4-go:next", "next"
    assert widget_value("button", element.button) is None


def test_the_servers_cpu_and_memory_count_every_process_under_it():
    """`graphlab app --processes N` is a launcher with the servers under it: app_load counts them all."""
    from benchmarks import app_load

    busy = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.5: pass\ntime.sleep(60)"
    launcher = f"import subprocess, sys; subprocess.run([sys.executable, '-c', {busy!r}])"
    parent = subprocess.Popen([sys.executable, "-c", launcher])
    try:
        deadline = time.monotonic() + 60
        while app_load.cpu_seconds(parent.pid) < 0.45:  # the child's half second, counted under the parent
            assert time.monotonic() < deadline and parent.poll() is None
            time.sleep(0.1)
        tree = app_load._tree(parent.pid)
        assert len(tree) == 2 and tree[0] == parent.pid
        alone = app_load.memory_mb(parent.pid)["rss"]
        child = app_load.memory_mb(tree[1])["rss"]
        assert alone > child > 0  # the sum of the two: more than the child alone
    finally:
        for pid in reversed(app_load._tree(parent.pid)):
            os.kill(pid, signal.SIGKILL)
        parent.wait()
