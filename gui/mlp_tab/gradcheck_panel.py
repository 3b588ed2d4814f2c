"""The gradient-check panel: runs ``nets.mlp.gradcheck.run_gradchecks`` in the worker layer and
shows each check with its maximum relative error, threshold and pass/fail."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.tab_base import AppContext
from gui.worker import GeneratorWorker

_COLUMNS = ("Check", "Kind", "Max rel. error", "Threshold", "Result")


class GradcheckPanel(QWidget):
    """``run()`` starts the checks; ``finished(passed, total)`` when the table is full."""

    finished = Signal(int, int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self._worker: GeneratorWorker | None = None
        self.results: list = []
        self.run_button = QPushButton("&Run gradient checks")
        self.run_button.setObjectName("runGradchecks")
        self.run_button.setToolTip(
            "Compare every layer's and both classifiers' analytic gradients with numeric "
            "ones (float64), and check that softmax_loss stays finite for huge scores"
        )
        self.summary = QLabel(
            "The seed's driver checks: each layer (max rel. error < 1e-9), "
            "LinearClassifier and TwoLayerNet (< 1e-10), softmax stability."
        )
        self.summary.setObjectName("gradcheckSummary")
        self.summary.setWordWrap(True)
        self.table = QTableWidget(0, len(_COLUMNS))
        self.table.setObjectName("gradcheckTable")
        self.table.setHorizontalHeaderLabels(_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        for column in range(1, len(_COLUMNS)):
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.ResizeToContents)
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(self.summary, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.table, 1)
        self.run_button.clicked.connect(self.run)

    def is_running(self) -> bool:
        return self._worker is not None

    def run(self) -> None:
        if self._worker is not None:
            return

        def factory(token):
            from nets.mlp.gradcheck import run_gradchecks

            yield from run_gradchecks()

        self.results = []
        self.table.setRowCount(0)
        self.run_button.setEnabled(False)
        self.summary.setText("Running...")
        worker = self.context.workers.start(factory, name="mlp-gradcheck")
        self._worker = worker
        worker.item.connect(self._add_row)
        worker.failed.connect(
            lambda message, _tb: self.summary.setText(
                f'<span style="color:#c0392b">The checks failed to run: '
                f"{html.escape(message)}</span>"
            )
        )
        worker.done.connect(self._on_done)

    def shutdown(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def _add_row(self, result) -> None:
        self.results.append(result)
        row = self.table.rowCount()
        self.table.insertRow(row)
        passed = bool(result.passed)
        cells = (
            result.name,
            result.group,
            f"{result.max_rel_error:.2e}",
            f"{result.threshold:.0e}",
            "pass" if passed else "FAIL",
        )
        for column, text in enumerate(cells):
            item = QTableWidgetItem(text)
            if column >= 2:
                item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            if column == 4:
                item.setForeground(QBrush(QColor("#1e8449" if passed else "#c0392b")))
            self.table.setItem(row, column, item)

    def _on_done(self, status: str) -> None:
        self._worker = None
        self.run_button.setEnabled(True)
        if status == "finished":
            passed = sum(1 for r in self.results if r.passed)
            total = len(self.results)
            colour = "#1e8449" if passed == total else "#c0392b"
            self.summary.setText(
                f'<span style="color:{colour}"><b>{passed} of {total} checks passed.</b></span>'
            )
            self.finished.emit(passed, total)
        elif status == "cancelled":
            self.summary.setText("Cancelled.")
