"""File > Check my code...: check the homework's own files and show the checklist.

The user names a folder or files; Check runs ``nets.homework.check_homework`` in a worker
(the user's code itself runs in a separate process, never in the app). Each function
arrives as it is checked: a row per function, a row per returned value under it. For a
failure the details show the inputs, expected, got and relative error; arrays get a
heat-map of where they differ, and f1-f3 can open in the Graph tab with those inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFontDatabase
from PySide6.QtWidgets import (
    QDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QPushButton,
    QSplitter,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.errors import GraphError
from graph.model import Graph
from gui import file_dialogs
from gui.homework.diff_view import ArrayDiffView
from gui.homework.graphs import GRAPH_FUNCTIONS, graph_for
from gui.tab_base import AppContext
from gui.worker import GeneratorWorker
from nets.errors import NetsError
from nets.homework.layout import find_homework
from nets.homework.report import check_details, format_error
from nets.homework.results import Check, FunctionResult
from nets.homework.sandbox import DEFAULT_CALL_TIMEOUT, DEFAULT_MEMORY_LIMIT

PASS_COLOUR = QColor(30, 130, 50)
FAIL_COLOUR = QColor(190, 30, 30)
SKIP_COLOUR = QColor(120, 120, 120)
_SETTINGS_KEY = "homework/paths"
_AGAINST = {"app": "app", "numeric": "central differences", "returns": "format", "runs": "runs"}

OpenGraph = Callable[[Graph, str], None]


def _headline(check: Check) -> str:
    if check.against == "runs":
        return "did not run to the end"
    if check.against == "returns":
        return "returned the wrong form"
    return f"{check.value} against {_AGAINST.get(check.against, check.against)}"


def _split_paths(text: str) -> list[Path]:
    return [Path(p.strip()).expanduser() for p in text.split(";") if p.strip()]


class CheckDialog(QDialog):
    """The checklist. ``open_graph(graph, message)`` shows a graph in the Graph tab."""

    result_added = Signal(object)  # a FunctionResult, once shown
    finished_checking = Signal(str)  # the summary line

    def __init__(self, context: AppContext, open_graph: OpenGraph, parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("checkDialog")
        self.setWindowTitle("Check my code")
        self.resize(1100, 700)
        self.context = context
        self._open_graph = open_graph
        self.worker: GeneratorWorker | None = None
        self.results: list[FunctionResult] = []

        self.path_edit = QLineEdit(str(context.settings.value(_SETTINGS_KEY, "") or ""))
        self.path_edit.setObjectName("homeworkPath")
        self.path_edit.setPlaceholderText(
            "the homework folder, or files separated by ; (functions.py, layers.py, "
            "two_layer_net.py, train.py)"
        )
        folder_button = QPushButton("Folder...")
        folder_button.clicked.connect(self.choose_folder)
        files_button = QPushButton("Files...")
        files_button.clicked.connect(self.choose_files)
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("checkButton")
        self.check_button.setDefault(True)
        self.check_button.clicked.connect(self.start_check)
        self.stop_button = QPushButton("Stop")
        self.stop_button.setEnabled(False)
        self.stop_button.clicked.connect(self.stop)
        top = QHBoxLayout()
        top.addWidget(QLabel("Homework:"))
        top.addWidget(self.path_edit, 1)
        for button in (folder_button, files_button, self.check_button, self.stop_button):
            top.addWidget(button)

        note = QLabel(
            f"Your code runs only when you press Check, in a separate process: at most "
            f"{DEFAULT_CALL_TIMEOUT:g} s per call and {DEFAULT_MEMORY_LIMIT / 2**30:g} GiB of "
            "memory. Each value is compared with the app's own implementation and each "
            "gradient with central differences (layers below 1e-9, classifiers below 1e-10)."
        )
        note.setWordWrap(True)
        note.setStyleSheet("color: palette(mid);")

        self.tree = QTreeWidget()
        self.tree.setObjectName("checklist")
        self.tree.setHeaderLabels(["Function / value", "Against", "Relative error", "Result"])
        self.tree.header().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.tree.setColumnWidth(1, 140)
        self.tree.setColumnWidth(2, 150)
        self.tree.currentItemChanged.connect(self._show_item)

        mono = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
        self.details = QPlainTextEdit()
        self.details.setObjectName("checkDetails")
        self.details.setReadOnly(True)
        self.details.setFont(mono)
        self.details.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.diff_view = ArrayDiffView()
        self.diff_view.hide()
        self.graph_button = QPushButton("Open in the Graph tab with these inputs")
        self.graph_button.setObjectName("openGraphButton")
        self.graph_button.hide()
        self.graph_button.clicked.connect(self.open_current_graph)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.details, 3)
        right_layout.addWidget(self.diff_view, 2)
        right_layout.addWidget(self.graph_button)
        splitter = QSplitter(Qt.Orientation.Horizontal)
        splitter.addWidget(self.tree)
        splitter.addWidget(right)
        splitter.setSizes([560, 540])

        self.status = QLabel("Choose your homework folder, then press Check.")
        self.status.setObjectName("checkStatus")
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(note)
        layout.addWidget(splitter, 1)
        layout.addWidget(self.status)

    # -- choosing ----------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = file_dialogs.open_folder(
            self, self.context.settings, "homework", "Your homework folder"
        )
        if folder is not None:
            self.path_edit.setText(str(folder))

    def choose_files(self) -> None:
        files = file_dialogs.open_files(
            self, self.context.settings, "homework", "Your homework files", "Python files (*.py)"
        )
        if files:
            self.path_edit.setText("; ".join(str(f) for f in files))

    # -- checking ----------------------------------------------------------------------
    def start_check(self) -> bool:
        """Check the named files (the only place this dialog runs the user's code)."""
        if self.worker is not None:
            return False
        paths = _split_paths(self.path_edit.text())
        try:
            homework = find_homework(paths)
        except NetsError as exc:
            self.status.setText(str(exc))
            return False
        self.context.settings.setValue(_SETTINGS_KEY, self.path_edit.text())
        self.tree.clear()
        self.results = []
        self._show_item(None, None)
        from nets.homework.checking import check_homework

        self.worker = self.context.workers.start(
            lambda token: check_homework(homework, cancel=token), name="check homework"
        )
        self.worker.item.connect(self.add_result)
        self.worker.failed.connect(lambda message, _tb: self.status.setText(f"error: {message}"))
        self.worker.done.connect(self._done)
        self.check_button.setEnabled(False)
        self.stop_button.setEnabled(True)
        self.status.setText(f"Checking {len(homework.files)} file(s)...")
        return True

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.cancel()

    def _done(self, status: str) -> None:
        self.worker = None
        self.check_button.setEnabled(True)
        self.stop_button.setEnabled(False)
        checked = [r for r in self.results if r.checks]
        passed = sum(r.ok for r in checked)
        summary = f"{passed} of {len(checked)} functions pass"
        if status == "cancelled":
            summary += " (stopped)"
        if status != "failed":
            self.status.setText(summary)
        self.finished_checking.emit(summary)

    def add_result(self, result: FunctionResult) -> None:
        self.results.append(result)
        top = QTreeWidgetItem([result.function, Path(result.file).name, "", ""])
        top.setData(0, Qt.ItemDataRole.UserRole, (result, None))
        if not result.checks:
            top.setText(3, "skipped")
            top.setForeground(3, QBrush(SKIP_COLOUR))
            top.setToolTip(0, result.note)
        else:
            top.setText(3, "PASS" if result.ok else "FAIL")
            top.setForeground(3, QBrush(PASS_COLOUR if result.ok else FAIL_COLOUR))
        for check in result.checks:
            child = QTreeWidgetItem(
                [
                    check.value,
                    _AGAINST.get(check.against, check.against),
                    format_error(check),
                    "ok" if check.ok else "FAIL",
                ]
            )
            child.setForeground(3, QBrush(PASS_COLOUR if check.ok else FAIL_COLOUR))
            child.setData(0, Qt.ItemDataRole.UserRole, (result, check))
            top.addChild(child)
        self.tree.addTopLevelItem(top)
        top.setExpanded(not result.ok)
        if not result.ok and not any(r for r in self.results[:-1] if not r.ok):
            failing = next(top.child(i) for i in range(top.childCount()) if not result.checks[i].ok)
            self.tree.setCurrentItem(failing)
        self.status.setText(f"Checked {result.function}...")
        self.result_added.emit(result)

    # -- details -----------------------------------------------------------------------
    def _current(self) -> tuple[FunctionResult | None, Check | None]:
        item = self.tree.currentItem()
        if item is None:
            return None, None
        return item.data(0, Qt.ItemDataRole.UserRole)

    def _show_item(self, item: QTreeWidgetItem | None, _previous: object) -> None:
        result, check = self._current() if item is not None else (None, None)
        self.diff_view.hide()
        self.graph_button.hide()
        if result is None:
            self.details.setPlainText("")
            return
        if check is None:
            lines = [f"{result.function} in {result.file}"]
            if result.note:
                lines.append(result.note)
            failures = result.failures()
            lines.append("every check passes" if result.ok else f"{len(failures)} check(s) fail")
            check = failures[0] if failures else None
        else:
            lines = [f"{result.function}: {_headline(check)}"]
        if check is not None and not check.ok:
            lines += check_details(check)
            self._show_diff(check)
            if result.function in GRAPH_FUNCTIONS and check.inputs:
                self.graph_button.show()
        elif check is not None:
            lines.append(f"ok: relative error {format_error(check)}")
        if result.output:
            lines += ["", "printed:", result.output]
        self.details.setPlainText("\n".join(lines))

    def _show_diff(self, check: Check) -> None:
        expected, got = check.expected, check.got
        if not isinstance(expected, np.ndarray | list) or got is None:
            return
        if np.shape(expected) != np.shape(got) or np.size(expected) < 2:
            return
        self.diff_view.set_arrays(np.asarray(expected), np.asarray(got), check.threshold or 1e-9)
        self.diff_view.show()

    def open_current_graph(self) -> bool:
        """Open the selected failure's graph (f1-f3) with its inputs in the Graph tab."""
        result, check = self._current()
        if result is not None and check is None:
            check = next(iter(result.failures()), None)
        if result is None or check is None or result.function not in GRAPH_FUNCTIONS:
            return False
        try:
            graph = graph_for(result.function, check.inputs)
        except (GraphError, KeyError, ValueError) as exc:
            self.status.setText(f"Cannot build the graph of {result.function}: {exc}")
            return False
        inputs = ", ".join(f"{k} = {v:.6g}" for k, v in check.inputs.items())
        self._open_graph(
            graph,
            f"{result.function} at {inputs}: compare each node with your own lines "
            "(→ steps forward, ← backward)",
        )
        return True

    def done(self, code: int) -> None:
        self.stop()
        super().done(code)


def open_check_dialog(window: QWidget, context: AppContext, open_graph: OpenGraph) -> CheckDialog:
    """Show the window's Check my code dialog (one per window, kept between uses)."""
    dialog = window.findChild(CheckDialog, "checkDialog")
    if dialog is None:
        dialog = CheckDialog(context, open_graph, window)
    dialog.show()
    dialog.raise_()
    dialog.activateWindow()
    return dialog
