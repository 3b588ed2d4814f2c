"""Side panel: the numeric gradient check, one row per input, coloured by relative error."""

from __future__ import annotations

import math

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from graph.errors import GraphError
from graph.gradcheck import DEFAULT_H, GradCheck, gradcheck
from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge

GREEN_BELOW = 1e-7
AMBER_BELOW = 1e-4
H_CHOICES = (1e-2, 1e-3, 1e-4, 1e-5, 1e-6, 1e-7, 1e-8)


def error_colour(rel: float | None) -> QColor:
    """Green below 1e-7, amber below 1e-4, red above (and for nan)."""
    if rel is None:
        return theme.MUTED
    if rel != rel or rel >= AMBER_BELOW:
        return theme.WARNING
    if rel >= GREEN_BELOW:
        return theme.AMBER
    return theme.OK_GREEN


def error_level(rel: float | None) -> str:
    if rel is None:
        return "none"
    if rel != rel or rel >= AMBER_BELOW:
        return "red"
    return "amber" if rel >= GREEN_BELOW else "green"


class GradCheckPanel(QWidget):
    def __init__(self, bridge: GraphBridge, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.graph = bridge.graph
        self.result: GradCheck | None = None
        self.h_box = QComboBox()
        self.h_box.setObjectName("gradcheckH")
        self.h_box.setEditable(True)
        for h in H_CHOICES:
            self.h_box.addItem(f"{h:g}")
        self.h_box.setCurrentText(f"{DEFAULT_H:g}")
        self.h_box.setToolTip("Step of the central difference (f(x+h) - f(x-h)) / 2h")
        self.run_button = QPushButton("Re-run")
        self.run_button.setObjectName("gradcheckRun")
        self.run_button.setToolTip("Compare every input's gradient with central differences")
        self.run_button.clicked.connect(self.run)
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("gradcheckTable")
        self.table.setHorizontalHeaderLabels(["Input", "Analytic", "Numeric", "Rel. err"])
        self.table.horizontalHeaderItem(3).setToolTip("|a - n| / max(|a| + |n|, 1e-12)")
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(3, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.summary = QLabel("Press Re-run to check the gradients.")
        self.summary.setObjectName("gradcheckSummary")
        self.summary.setWordWrap(True)
        legend = QLabel(
            "<span style='color:#1e8e3e'>■</span> below 1e-7 &nbsp; "
            "<span style='color:#e8a100'>■</span> below 1e-4 &nbsp; "
            "<span style='color:#d93025'>■</span> above"
        )
        row = QHBoxLayout()
        row.addWidget(QLabel("h ="))
        row.addWidget(self.h_box, 1)
        row.addWidget(self.run_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(row)
        layout.addWidget(self.table, 1)
        layout.addWidget(legend)
        layout.addWidget(self.summary)
        self._checked_version = -1
        self._stale_shown = -2  # the check whose staleness the summary shows
        bridge.edited.connect(self._mark_stale)
        bridge.graph_cleared.connect(self._mark_stale)

    def h(self) -> float:
        """The step typed or chosen; ValueError for anything that is not a positive number."""
        text = self.h_box.currentText()
        try:
            h = theme.parse_number(text)
        except ValueError as exc:
            raise ValueError(f"h: {exc}") from None
        if not (math.isfinite(h) and h > 0):
            raise ValueError(f"h must be a positive number, not {text.strip()!r}")
        return h

    def run(self) -> bool:
        """Run the check; False (with the reason shown) when it cannot run."""
        try:
            h = self.h()
            result = gradcheck(self.graph, h=h)
        except (ValueError, GraphError) as exc:
            self.result = None
            self.table.setRowCount(0)
            self.summary.setText(str(exc))
            self.summary.setStyleSheet("color: #d93025;")
            return False
        self.result = result
        self._checked_version = self.graph.version
        self._fill(result)
        return True

    def _fill(self, result: GradCheck) -> None:
        self.table.setRowCount(len(result.inputs))
        for r, check in enumerate(result.inputs):
            if check.no_grad:
                cells = [check.name, "no gradient", "–", "–"]
            else:
                cells = [
                    check.name,
                    theme.fmt(check.analytic, 6),
                    theme.fmt(check.numeric, 6),
                    _sci(check.rel_error),
                ]
            colour = error_colour(check.rel_error)
            tip = "\n".join(
                [
                    f"analytic {theme.fmt_full(check.analytic)}",
                    f"numeric {theme.fmt_full(check.numeric)}",
                    *check.notes,
                ]
            )
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                item.setToolTip(tip)
                if c == 3:
                    item.setForeground(QColor("white") if check.rel_error is not None else colour)
                    if check.rel_error is not None:
                        item.setBackground(colour)
                    item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                    item.setData(Qt.ItemDataRole.UserRole, error_level(check.rel_error))
                self.table.setItem(r, c, item)
        worst = result.worst
        output = self.graph.node(result.output).name
        notes = sum(len(c.notes) for c in result.inputs)
        text = f"Output {output}, h = {result.h:g}: worst relative error {_sci(worst)}"
        if notes:
            text += f" ({notes} note(s): hover a row)"
        self.summary.setText(text)
        self.summary.setStyleSheet(f"color: {error_colour(worst).name()};")

    def levels(self) -> list[str]:
        return [
            self.table.item(r, 3).data(Qt.ItemDataRole.UserRole) or "none"
            for r in range(self.table.rowCount())
        ]

    def _mark_stale(self) -> None:
        # Once per check: a file load or a new explanation sends an edit per node, and
        # restyling the label each time cost more than building the graph.
        if self.result is not None and self.graph.version != self._checked_version:
            if self._stale_shown != self._checked_version:
                self._stale_shown = self._checked_version
                self.summary.setText("The graph changed since this check: press Re-run.")
                self.summary.setStyleSheet("color: #8c8c8c;")


def _sci(x: float | None) -> str:
    if x is None:
        return "–"
    if x != x:
        return "nan"
    return f"{x:.1e}"
