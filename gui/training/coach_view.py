"""The coach's findings beside the plots: a list, markers on the curves, one-click apply.

``FindingsView.add_advice(run_id, advice)`` lists a ``nets.training.Advice`` (newest
first, with the run's colour); selecting one shows its full explanation and evidence, and
"Apply suggestion" emits ``apply_requested(dict)`` with its ``suggest`` for the tab to put
into its form. ``FindingMarkers(plot_item, runs)`` draws a labelled vertical line at each
finding's step on a plot (the loss plot), in the run's colour, hidden with the run.
"""

from __future__ import annotations

import html
from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from gui.training.runs import RunsModel
from nets.event_log import format_suggestion
from nets.training import Advice

if TYPE_CHECKING:
    import pyqtgraph as pg

#: Short titles of the coach's rules for the list.
RULE_TITLES = {
    "diverging": "Diverging",
    "stuck_at_chance": "Stuck at chance",
    "update_ratio": "Update ratio",
    "dead_relu": "Dead ReLUs",
    "vanishing_gradient": "Vanishing gradient",
    "exploding_gradient": "Exploding gradient",
    "overfitting": "Overfitting",
    "underfitting": "Underfitting",
    "non_finite": "NaN / inf",
    "unnormalised_input": "Unnormalised input",
}


@dataclass(frozen=True)
class Finding:
    run_id: int
    advice: Advice


class FindingsView(QWidget):
    """The findings of every run, newest first."""

    #: the selected finding's ``suggest`` dict, to apply to the form for a new run
    apply_requested = Signal(dict)
    #: a finding was selected: (run id, step), for the plots to show that step
    finding_selected = Signal(int, int)

    def __init__(self, runs: RunsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("findingsView")
        self.runs = runs
        self.findings: list[Finding] = []
        self.title = QLabel("<b>Coach</b>: nothing to report yet.")
        self.list = QListWidget()
        self.list.setObjectName("findingsList")
        self.list.setWordWrap(True)
        self.list.currentRowChanged.connect(self._on_row)
        self.detail = QLabel(" ")
        self.detail.setWordWrap(True)
        self.detail.setTextFormat(Qt.TextFormat.RichText)
        self.detail.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.apply_button = QPushButton("&Apply suggestion")
        self.apply_button.setToolTip("Put the suggested settings into the form for a new run")
        self.apply_button.setEnabled(False)
        self.apply_button.clicked.connect(self._apply)
        buttons = QHBoxLayout()
        buttons.addStretch(1)
        buttons.addWidget(self.apply_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.title)
        layout.addWidget(self.list, 1)
        layout.addWidget(self.detail)
        layout.addLayout(buttons)
        runs.run_removed.connect(self.forget_run)

    def add_advice(self, run_id: int, advice: Advice) -> None:
        self.findings.insert(0, Finding(run_id, advice))
        run = self.runs.run(run_id)
        name = run.name if run is not None else f"run {run_id}"
        title = RULE_TITLES.get(advice.rule, advice.rule)
        item = QListWidgetItem(f"{title} · {name} · step {advice.step}")
        item.setToolTip(advice.message)
        if run is not None:
            item.setForeground(QBrush(QColor(run.color)))
        self.list.insertItem(0, item)
        self.title.setText(f"<b>Coach</b>: {len(self.findings)} finding(s).")
        if self.list.currentRow() < 0:
            self.list.setCurrentRow(0)
        else:
            self._on_row(self.list.currentRow())

    def forget_run(self, run_id: int) -> None:
        for row in reversed(range(len(self.findings))):
            if self.findings[row].run_id == run_id:
                del self.findings[row]
                self.list.takeItem(row)
        self.title.setText(
            f"<b>Coach</b>: {len(self.findings)} finding(s)."
            if self.findings
            else "<b>Coach</b>: nothing to report yet."
        )

    def selected(self) -> Finding | None:
        row = self.list.currentRow()
        return self.findings[row] if 0 <= row < len(self.findings) else None

    def _on_row(self, row: int) -> None:
        finding = self.selected()
        if finding is None:
            self.detail.setText(" ")
            self.apply_button.setEnabled(False)
            return
        advice = finding.advice
        suggestion = format_suggestion(advice.suggest)
        evidence = ", ".join(
            f"{k} = {v:.4g}" if isinstance(v, float) else f"{k} = {v}"
            for k, v in advice.evidence.items()
        )
        text = (
            f"{html.escape(advice.message)}<br><span style='color:#555'>rule "
            f"<code>{advice.rule}</code>; evidence: {html.escape(evidence)}</span>"
        )
        if suggestion:
            text += f"<br>Suggested for a new run: <b>{html.escape(suggestion)}</b>"
        self.detail.setText(text)
        self.apply_button.setEnabled(bool(advice.suggest))
        self.apply_button.setText(f"&Apply {suggestion}" if suggestion else "&Apply suggestion")
        self.finding_selected.emit(finding.run_id, advice.step)

    def _apply(self) -> None:
        finding = self.selected()
        if finding is not None and finding.advice.suggest:
            self.apply_requested.emit(dict(finding.advice.suggest))


class FindingMarkers:
    """Labelled vertical lines at the findings' steps on ``plot_item``."""

    def __init__(self, plot_item: pg.PlotItem, runs: RunsModel) -> None:
        self.plot_item = plot_item
        self.runs = runs
        self.markers: dict[int, list[pg.InfiniteLine]] = {}
        runs.run_removed.connect(self.forget_run)
        runs.run_changed.connect(self._on_run_changed)

    def add_advice(self, run_id: int, advice: Advice) -> None:
        import pyqtgraph as pg  # loaded already: the plot it marks is pyqtgraph's

        run = self.runs.run(run_id)
        color = QColor(run.color) if run is not None else QColor("#555")
        # Labels of nearby findings would overlap: each new one sits a little lower.
        count = sum(len(lines) for lines in self.markers.values())
        position = 0.95 - 0.12 * (count % 6)
        line = pg.InfiniteLine(
            pos=advice.step,
            angle=90,
            pen=pg.mkPen(color, width=1, style=Qt.PenStyle.DotLine),
            label=RULE_TITLES.get(advice.rule, advice.rule),
            labelOpts={
                "position": position,
                "color": color,
                "rotateAxis": (1, 0),
                "anchors": [(0, 0), (0, 0)],
            },
        )
        line.setToolTip(advice.message)
        line.setZValue(900)
        line.setVisible(run is None or run.visible)
        self.plot_item.addItem(line, ignoreBounds=True)
        self.markers.setdefault(run_id, []).append(line)

    def forget_run(self, run_id: int) -> None:
        for line in self.markers.pop(run_id, []):
            self.plot_item.removeItem(line)

    def _on_run_changed(self, run_id: int) -> None:
        run = self.runs.run(run_id)
        for line in self.markers.get(run_id, []):
            line.setVisible(run is not None and run.visible)
