"""Every layer's histogram at one sample: the Inside view's step grid, built one cell per
slice.

A cell is a title, a value axis and a view holding the histogram curve: lighter than a
``pg.PlotItem`` (whose four axes and context menu cost 10-16 ms each to build, a dozen
of them froze the event loop) and placed at a fixed spot of the grid (``CellGrid``), so
that a new cell moves and repaints none of the cells built before it (a grid layout
resized every cell on each addition, and each resized cell repainted its axis). The
ranges are set with the data (x: the layer's fixed histogram edges, y: the tallest bin),
so the axes keep their cached pictures from one step to the next and nothing autoranges
while painting.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from gui.training.inside_data import InternalsSeries
from gui.training.inside_heat import axis_item, cached


@dataclass
class StepCell:
    """One layer's histogram: ``layout`` (title, ``view``, value axis) and ``curve``."""

    layout: pg.GraphicsLayout
    view: pg.ViewBox
    curve: pg.PlotCurveItem


class CellGrid(pg.GraphicsWidget):
    """Cells at fixed places, ``cols`` to a row, for ``count`` cells in all: the k-th
    cell's rectangle depends on k, ``count`` and the grid's size only."""

    def __init__(self, cols: int) -> None:
        super().__init__()
        self.cols = cols
        self.count = 0
        self.cells: list[pg.GraphicsLayout] = []

    def set_count(self, count: int) -> None:
        self.count = count
        self._place_all()

    def add(self, cell: pg.GraphicsLayout) -> None:
        cell.setParentItem(self)
        self.cells.append(cell)
        self._place(len(self.cells) - 1)

    def clear(self) -> None:
        scene = self.scene()
        for cell in self.cells:
            cell.setParentItem(None)
            if scene is not None:
                scene.removeItem(cell)
        self.cells.clear()

    def cell_rect(self, k: int) -> QRectF:
        rows = max(1, math.ceil(max(self.count, k + 1) / self.cols))
        width, height = self.size().width() / self.cols, self.size().height() / rows
        row, col = divmod(k, self.cols)
        return QRectF(col * width, row * height, width, height)

    def _place(self, k: int) -> None:
        self.cells[k].setGeometry(self.cell_rect(k))

    def _place_all(self) -> None:
        for k in range(len(self.cells)):
            self._place(k)

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self._place_all()


class StepGrid:
    """Every layer's histogram at one sample, in ``widget``, ``cols`` to a row."""

    def __init__(self, color: Callable[[int], QColor], cols: int = 4) -> None:
        self.color = color
        self.widget = pg.GraphicsView(background="w")
        self.grid = CellGrid(cols)
        self.widget.setCentralItem(self.grid)
        self.plots: dict[str, StepCell] = {}
        self.layers: list[str] = []
        self.shown: dict[str, tuple] = {}

    def set_layers(self, layers: Sequence[str]) -> None:
        layers = list(layers)
        if layers == self.layers:
            return
        self.layers = layers
        if list(self.plots) != layers[: len(self.plots)]:
            self.grid.clear()
            self.plots.clear()
            self.shown.clear()
        self.grid.set_count(len(layers))

    def pending(self, want: tuple) -> bool:
        return len(self.plots) < len(self.layers) or any(
            self.shown.get(name) != want for name in self.layers
        )

    def work(
        self,
        series: InternalsSeries,
        what: str,
        step: float,
        want: tuple,
        deadline: float,
        max_plots: int,
    ) -> int:
        """Build the next missing cell and fill it, or else fill stale cells, with the
        histogram nearest ``step``, until ``max_plots`` are done or ``deadline`` passes;
        ``want`` identifies what a filled cell shows. The number of cells done. One new
        cell per call: its first paint costs what refilling a few built ones does."""
        done = 0
        for name in self.layers:
            if self.shown.get(name) == want:
                continue
            if done >= max_plots or (done and time.perf_counter() > deadline):
                break
            cell = self.plots.get(name)
            if cell is None:
                if done:
                    break
                cell = self._build(name)
                max_plots = 1
            steps, counts, edges = series.stack(name, what)
            if len(steps):
                j = int(np.argmin(np.abs(steps - step)))
                cell.curve.setData(edges, counts[j])
                top = float(counts[j].max()) or 1.0
                cell.view.setRange(xRange=(edges[0], edges[-1]), yRange=(0.0, top))
            self.shown[name] = want
            done += 1
        return done

    def _build(self, name: str) -> StepCell:
        k = len(self.plots)
        layout = pg.GraphicsLayout()
        layout.setContentsMargins(1, 1, 1, 1)
        layout.layout.setSpacing(0)
        cached(layout.addLabel(name, row=0, col=0, size="8pt", color="k"))
        view = pg.ViewBox(enableMenu=False)
        view.disableAutoRange()  # ranges come with the data (see ``work``)
        layout.addItem(view, row=1, col=0)
        layout.addItem(axis_item("bottom", view), row=2, col=0)
        # A bare curve (a PlotDataItem wraps one), in the PlotDataItem's default grey pen.
        curve = pg.PlotCurveItem(
            np.zeros(1),
            np.zeros(0),
            stepMode="center",
            fillLevel=0,
            brush=self.color(k),
            pen=(200, 200, 200),
        )
        view.addItem(curve)
        self.grid.add(layout)
        cell = self.plots[name] = StepCell(layout, view, curve)
        return cell
