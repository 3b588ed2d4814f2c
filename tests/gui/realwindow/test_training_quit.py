"""The numpy-net tab in a real window: a short run started with the mouse, then quitting
mid-run with Ctrl+Q asks first (issue 13, defect 4): Cancel keeps the app and the run,
Discard quits at once."""

from __future__ import annotations

from tests.gui.mlp_tab_setup import make_folder
from tests.gui.realwindow.driver import App, wait_until


def _set_field(app: App, name: str, text: str) -> None:
    app.click_widget(name)
    app.key("ctrl+a")
    app.type(text)


def _question(app: App) -> str:
    boxes = [w["text"] for w in app.state()["windows"] if w["class"] == "QMessageBox"]
    return boxes[0] if boxes else ""


def test_quitting_mid_run_asks_and_cancel_keeps_training_discard_quits(start_app, tmp_path):
    folder = make_folder(tmp_path / "data", n_train=40, n_test=10, size=8)
    app = start_app("--tab", "mlp", "--open", str(folder))
    wait_until(lambda: app.widget("startButton")["enabled"], 30, "Start enabled")
    _set_field(app, "field_batch_size", "1")
    _set_field(app, "field_num_epochs", "2000")
    app.click_widget("startButton")
    wait_until(
        lambda: [r["steps"] > 0 for r in app.tab_state()["runs"]] == [True], 30, "a running run"
    )
    app.key("ctrl+q")
    wait_until(lambda: "training is running" in _question(app), 10, "the quit question")
    assert "1 run is not saved" in _question(app)
    app.key("Escape")  # Cancel
    wait_until(lambda: not app.state()["modal"], 10, "the question closed")
    assert app.proc.poll() is None
    state = app.tab_state()
    assert state["runs"][0]["status"] == "running" and state["controls"] == "running"
    app.key("ctrl+q")
    wait_until(lambda: "training is running" in _question(app), 10, "the question again")
    app.click_widget("Discard")
    wait_until(lambda: app.proc.poll() is not None, 15, "the app to quit")
    assert app.proc.returncode == 0, app.stderr()
