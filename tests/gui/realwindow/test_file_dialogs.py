"""File dialogs in a real window (issue 13, defect 12): each starts in the last folder used
for its kind of file, else in the user's documents folder, never in the process's working
directory (the app runs with its HOME as working directory here, so HOME and the working
directory are the same wrong answer)."""

from __future__ import annotations

from pathlib import Path

from tests.gui.realwindow.driver import App, wait_until
from tests.gui.realwindow.test_graph_keys import open_f3


def dialog_folder(app: App) -> Path:
    """The folder the open file dialog shows (Qt's own dialog: its "Look in" combo)."""
    wait_until(lambda: app.state()["modal"], 10, "a file dialog")
    combo = wait_until(
        lambda: next((w for w in app.query("widgets", name="lookInCombo") if w["visible"]), None),
        10,
        "the dialog's folder combo",
    )
    return Path(combo["text"])


def close_dialog(app: App) -> None:
    app.click_widget("Cancel")
    wait_until(lambda: not app.state()["modal"], 10, "the dialog closed")


def type_file_name(app: App, path: Path) -> None:
    app.click_widget("fileNameEdit")
    app.key("ctrl+a")
    app.type(str(path))
    app.key("Return")
    wait_until(lambda: not app.state()["modal"], 10, "the dialog accepted")


def test_graph_dialogs_start_in_documents_then_in_the_last_folder(start_app, tmp_path: Path):
    app = start_app()
    open_f3(app)
    app.key("ctrl+o")
    assert dialog_folder(app) == app.home / "Documents"  # not the working directory
    close_dialog(app)
    elsewhere = tmp_path / "my graphs"
    elsewhere.mkdir()
    app.key("ctrl+shift+s")
    wait_until(lambda: app.state()["modal"], 10, "the save dialog")
    type_file_name(app, elsewhere / "f3 copy.json")
    wait_until(lambda: any(elsewhere.iterdir()), 10, "the graph saved")
    app.key("ctrl+o")
    assert dialog_folder(app) == elsewhere  # the last folder used for graphs
    close_dialog(app)
    assert not app.state()["errors"]


def test_training_and_cnn_dialogs_start_in_documents(start_app):
    app = start_app("--tab", "mlp")
    app.click_widget("mlpLoadButton")
    assert dialog_folder(app) == app.home / "Documents"
    close_dialog(app)
    assert not app.state()["errors"]
