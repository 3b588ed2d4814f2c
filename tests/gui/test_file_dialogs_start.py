"""Issue 13 defect 12, for the dialogs the real-window layer does not open: every file
dialog starts in the last folder used for its kind of file, else in the documents
folder, never in the process's working directory (or "" which means it)."""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtWidgets import QFileDialog

from gui import file_dialogs


@pytest.fixture
def documents(tmp_path, monkeypatch):
    folder = tmp_path / "Documents"
    folder.mkdir()
    monkeypatch.setattr(file_dialogs, "documents_folder", lambda: folder)
    monkeypatch.chdir(tmp_path)  # the working directory: never where a dialog starts
    return folder


@pytest.fixture
def dialogs(monkeypatch):
    """Every QFileDialog call answers ``answer[0]`` and records the folder it started in."""
    started: list[Path] = []
    answer: list[str] = [""]

    def folder_of(start: str) -> Path:
        path = Path(start)
        return path if path.is_dir() or not path.suffix else path.parent

    def get_file(_parent, _title, start="", _filters="", *a, **k):
        started.append(folder_of(start))
        return answer[0], ""

    def get_files(_parent, _title, start="", _filters="", *a, **k):
        started.append(folder_of(start))
        return ([answer[0]] if answer[0] else []), ""

    def get_folder(_parent, _title, start="", *a, **k):
        started.append(folder_of(start))
        return answer[0]

    monkeypatch.setattr(QFileDialog, "getOpenFileName", get_file)
    monkeypatch.setattr(QFileDialog, "getSaveFileName", get_file)
    monkeypatch.setattr(QFileDialog, "getOpenFileNames", get_files)
    monkeypatch.setattr(QFileDialog, "getExistingDirectory", get_folder)
    return started, answer


def _twice(ask, dialogs, documents: Path, chosen: Path) -> None:
    """The first dialog starts in Documents; after choosing ``chosen`` the next starts in
    its folder."""
    started, answer = dialogs
    answer[0] = str(chosen)
    ask()
    assert started[-1] == documents
    answer[0] = ""
    ask()
    assert started[-1] == (chosen if chosen.is_dir() else chosen.parent)


def test_bug_hunt_scores_export(qtbot, documents, dialogs, tmp_path, monkeypatch):
    from gui.main_window import MainWindow

    window = MainWindow(remember=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    panel = window.select_tab("graph").bug_panel
    monkeypatch.setattr(panel.hunt, "export_csv", lambda path: Path(path))
    (tmp_path / "scores").mkdir()
    _twice(panel.export_dialog, dialogs, documents, tmp_path / "scores" / "week1.csv")


def test_homework_check_dialog(qtbot, context, documents, dialogs, tmp_path):
    from gui.homework.check_dialog import CheckDialog

    dialog = CheckDialog(context, lambda *a: None)
    qtbot.addWidget(dialog)
    (tmp_path / "hw").mkdir()
    _twice(dialog.choose_folder, dialogs, documents, tmp_path / "hw")
    (tmp_path / "hw" / "layers.py").write_text("")
    dialogs[0].clear()
    dialog.choose_files()
    assert dialogs[0][-1] == tmp_path / "hw"  # the same kind: homework


def test_cnn_inspect_image_and_dataset_folder(qtbot, context, documents, dialogs, tmp_path):
    from gui.cnn_tab.data_panel import DataPanel
    from gui.cnn_tab.input_panel import InputPanel

    inputs = InputPanel(context.settings)
    qtbot.addWidget(inputs)
    (tmp_path / "pics").mkdir()
    (tmp_path / "pics" / "a.png").write_bytes(b"")
    _twice(inputs._ask_image_path, dialogs, documents, tmp_path / "pics" / "a.png")
    data = DataPanel(context)
    qtbot.addWidget(data)
    data.path_edit.setText("")
    (tmp_path / "data").mkdir()
    _twice(data._ask_folder, dialogs, documents, tmp_path / "data")


def test_homework_implementation_picker(qtbot, context, documents, dialogs, tmp_path):
    from gui.homework.implementation import MY_FILES, ImplementationPicker

    picker = ImplementationPicker(context.settings)
    qtbot.addWidget(picker)
    chosen = Path(__file__).resolve().parents[1] / "nets" / "homework_fixtures" / "neuralnet"
    _twice(
        lambda: picker._on_activated(picker.combo.findText(MY_FILES)), dialogs, documents, chosen
    )
