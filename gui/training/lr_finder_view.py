"""The learning-rate range test's plot: smoothed loss against the learning rate (log x).

``LrFinderView.set_result(result)`` takes a ``nets.lr_find.RangeTest``: it draws the curve,
marks the suggestion (the valley rule of ``nets.lr_find.suggestions``), the steepest
descent and the minimum / 10, and one click on "Use" (the suggestion) or "Use min / 10"
emits ``lr_chosen(float)`` for the tab to copy into its learning-rate field. The "Find
learning rate" button emits ``run_requested``; the tab runs the test in a worker and calls
``set_running`` / ``set_result`` / ``set_failed``.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QPushButton, QVBoxLayout, QWidget

from nets.lr_find import FALL_SHARE, RangeTest


class LrFinderView(QWidget):
    """Plot, suggestion markers, and the buttons to run the test and use its result."""

    run_requested = Signal()
    lr_chosen = Signal(float)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("lrFinderView")
        self.result: RangeTest | None = None
        self.plot_widget = pg.PlotWidget(background="w")
        item = self.plot_widget.getPlotItem()
        item.setTitle("Learning-rate range test", color="k", size="9pt")
        item.setLabel("bottom", "learning rate")
        item.setLabel("left", "smoothed loss")
        item.setLogMode(x=True)
        # Learning rates are read as 0.01, not as "10" under an "(x0.001)" axis label.
        item.getAxis("bottom").enableAutoSIPrefix(False)
        item.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen("k")
            item.getAxis(axis).setPen("k")
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#0072B2", width=2))
        item.addItem(self.curve)
        self.suggested_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#D55E00", width=2),
            label="suggestion",
            labelOpts={"position": 0.9, "color": "#D55E00"},
        )
        self.steep_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#CC79A7", width=1, style=Qt.PenStyle.DotLine),
            label="steepest",
            labelOpts={"position": 0.6, "color": "#CC79A7"},
        )
        self.min_line = pg.InfiniteLine(
            angle=90,
            pen=pg.mkPen("#009E73", width=1, style=Qt.PenStyle.DashLine),
            label="min / 10",
            labelOpts={"position": 0.3, "color": "#009E73"},
        )
        for line in (self.suggested_line, self.steep_line, self.min_line):
            line.hide()
            item.addItem(line, ignoreBounds=True)
        self.run_button = QPushButton("&Find learning rate")
        self.run_button.setToolTip(
            "Train briefly from a copy of the weights while raising the learning rate from "
            "1e-6 to 10 (about 200 steps), then put the weights back"
        )
        self.run_button.clicked.connect(self.run_requested)
        self.use_button = QPushButton("&Use suggestion")
        self.use_button.setEnabled(False)
        self.use_button.clicked.connect(self._use)
        self.use_min_button = QPushButton("Use min / 10")
        self.use_min_button.setEnabled(False)
        self.use_min_button.clicked.connect(self._use_min)
        self.message = QLabel(" ")
        self.message.setWordWrap(True)
        buttons = QHBoxLayout()
        for w in (self.run_button, self.use_button, self.use_min_button):
            buttons.addWidget(w)
        buttons.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(buttons)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.message)

    def set_running(self) -> None:
        self.run_button.setEnabled(False)
        self.message.setText("Running the range test...")

    def set_failed(self, message: str) -> None:
        self.run_button.setEnabled(True)
        self.message.setText(message)

    def set_result(self, result: RangeTest) -> None:
        self.result = result
        self.run_button.setEnabled(True)
        lrs = np.asarray(result.lrs)
        losses = np.asarray(result.losses)
        self.curve.setData(lrs, losses)
        # The blow-up at the end would squash the part that matters: show it cut off.
        low, start = float(losses.min()), float(losses[0])
        if start > low:
            self.plot_widget.getPlotItem().setYRange(low - 0.1 * (start - low), 1.3 * start)
        for line, value in (
            (self.suggested_line, result.suggested_lr),
            (self.steep_line, result.steepest_lr),
            (self.min_line, result.lr_min_div10),
        ):
            line.setPos(math.log10(value))
            line.show()
        self.use_button.setEnabled(True)
        self.use_button.setText(f"&Use {result.suggested_lr:.2g}")
        self.use_min_button.setEnabled(True)
        self.use_min_button.setText(f"Use {result.lr_min_div10:.2g} (min / 10)")
        how = "stopped when the loss passed 4x its minimum" if result.stopped_early else "ran to 10"
        self.message.setText(
            f"{len(lrs)} steps ({how}). Suggestion {result.suggested_lr:.2g}, where the "
            f"smoothed loss has made {100 * FALL_SHARE:.0f}% of its fall; steepest descent "
            f"at {result.steepest_lr:.2g}; lowest loss at {result.lr_min_div10 * 10:.2g}, "
            f"a tenth of it is {result.lr_min_div10:.2g}."
        )

    def _use(self) -> None:
        if self.result is not None:
            self.lr_chosen.emit(float(f"{self.result.suggested_lr:.2g}"))

    def _use_min(self) -> None:
        if self.result is not None:
            self.lr_chosen.emit(float(f"{self.result.lr_min_div10:.2g}"))
