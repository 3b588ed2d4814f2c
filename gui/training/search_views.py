"""The Search view's live views of a study's trials (``nets.search.storage.TrialRow``).

- ``TrialsModel`` / ``TrialsTable``: one row per trial (number, state, validation
  accuracy, epochs, time, every parameter, the failure's or pruner's message), sortable,
  filtered by the parallel-coordinates brushes;
- ``BestCurve``: each finished trial's accuracy and the best so far, by trial number;
- ``ParallelCoordinates``: one axis per hyperparameter and one for the accuracy, a line
  per trial coloured by its accuracy; dragging a band on an axis (its ends resize it)
  keeps only the trials that pass through every band (``brushed`` signal);
- ``ParamScatter``: validation accuracy against each hyperparameter;
- ``ImportanceBars``: Optuna's hyperparameter importances as horizontal bars.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import (
    QAbstractTableModel,
    QModelIndex,
    QPersistentModelIndex,
    QRectF,
    QSortFilterProxyModel,
    Qt,
    Signal,
)
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from nets.search.space import Choices, Range
from nets.search.storage import TrialRow

STATE_COLORS = {
    "COMPLETE": "#1b7a2e",
    "PRUNED": "#8a6d00",
    "FAIL": "#a61b1b",
    "RUNNING": "#1f4e9c",
    "WAITING": "#666666",
}
_FIXED = ("#", "State", "Val acc", "Epochs", "Time (s)")
SORT_ROLE = Qt.ItemDataRole.UserRole + 1
_CMAP = pg.colormap.get("viridis")
Index = QModelIndex | QPersistentModelIndex


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.3g}"
    return str(v)


def position(r: Range, value: Any) -> float:
    """Where ``value`` sits on its range's axis, 0 (low end) to 1 (high end)."""
    if isinstance(r, Choices):
        options = list(r.options)
        i = options.index(value) if value in options else 0
        return 0.5 if len(options) == 1 else i / (len(options) - 1)
    low, high, v = float(r.low), float(r.high), float(value)
    if r.log:
        low, high, v = math.log(low), math.log(high), math.log(max(v, 1e-300))
    return 0.5 if high == low else min(1.0, max(0.0, (v - low) / (high - low)))


# ---------------------------------------------------------------------------- table


class TrialsModel(QAbstractTableModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.rows: list[TrialRow] = []
        self.params: list[str] = []
        self.labels: dict[str, str] = {}  # field name -> the run form's label

    def set_rows(self, rows: Sequence[TrialRow], params: Sequence[str]) -> None:
        if list(params) != self.params or len(rows) < len(self.rows):
            self.beginResetModel()
            self.rows, self.params = list(rows), list(params)
            self.endResetModel()
            return
        old = len(self.rows)
        if len(rows) > old:
            self.beginInsertRows(QModelIndex(), old, len(rows) - 1)
            self.rows = list(rows)
            self.endInsertRows()
        else:
            self.rows = list(rows)
        if old:
            self.dataChanged.emit(self.index(0, 0), self.index(old - 1, self.columnCount() - 1))

    def rowCount(self, parent: Index = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:
        return len(_FIXED) + len(self.params) + 1

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0) -> Any:
        if orientation != Qt.Orientation.Horizontal or role != Qt.ItemDataRole.DisplayRole:
            return None
        names = [*_FIXED, *(self.labels.get(p, p) for p in self.params), "Message"]
        return names[section] if 0 <= section < len(names) else None

    def _value(self, row: TrialRow, column: int) -> Any:
        if column == 0:
            return row.number
        if column == 1:
            return row.state.lower()
        if column == 2:
            return row.last_val
        if column == 3:
            return len(row.intermediate)
        if column == 4:
            return None if row.seconds is None else round(row.seconds, 1)
        k = column - len(_FIXED)
        if k < len(self.params):
            return row.params.get(self.params[k])
        return row.message

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid():
            return None
        row = self.rows[index.row()]
        value = self._value(row, index.column())
        if role == Qt.ItemDataRole.DisplayRole:
            if value is None:
                return ""
            if index.column() == 2:
                return f"{100 * value:.2f}%" + ("" if row.state == "COMPLETE" else " (last)")
            return _fmt(value)
        if role == SORT_ROLE:
            if value is None:
                return -math.inf
            return value if isinstance(value, (int, float)) else str(value)
        if role == Qt.ItemDataRole.ForegroundRole and index.column() in (1, self.columnCount() - 1):
            return QColor(STATE_COLORS.get(row.state, "#000000"))
        if role == Qt.ItemDataRole.ToolTipRole and row.message:
            return row.message
        return None


class _BrushFilter(QSortFilterProxyModel):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.keep: set[int] | None = None
        self.setSortRole(SORT_ROLE)

    def set_keep(self, keep: set[int] | None) -> None:
        if hasattr(self, "beginFilterChange"):  # Qt 6.10+: invalidateRowsFilter is deprecated
            self.beginFilterChange()
            self.keep = keep
            self.endFilterChange(QSortFilterProxyModel.Direction.Rows)
        else:
            self.keep = keep
            self.invalidateRowsFilter()

    def filterAcceptsRow(self, source_row: int, source_parent: Index) -> bool:
        if self.keep is None:
            return True
        model = self.sourceModel()
        assert isinstance(model, TrialsModel)
        return model.rows[source_row].number in self.keep


class TrialsTable(QTableView):
    """Signal ``selection_changed(list)``: the selected trial numbers."""

    selection_changed = Signal(list)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchTrials")
        self.trials = TrialsModel(self)
        self.proxy = _BrushFilter(self)
        self.proxy.setSourceModel(self.trials)
        self.setModel(self.proxy)
        self.setSortingEnabled(True)
        self.sortByColumn(0, Qt.SortOrder.AscendingOrder)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.verticalHeader().hide()
        self.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.horizontalHeader().setStretchLastSection(True)
        self.selectionModel().selectionChanged.connect(
            lambda *_: self.selection_changed.emit(self.selected_numbers())
        )

    def selected_numbers(self) -> list[int]:
        rows = {self.proxy.mapToSource(i).row() for i in self.selectionModel().selectedRows()}
        return sorted(self.trials.rows[r].number for r in rows if 0 <= r < len(self.trials.rows))

    def select_numbers(self, numbers: Sequence[int]) -> None:
        self.clearSelection()
        flags = self.selectionModel().SelectionFlag
        for i, row in enumerate(self.trials.rows):
            if row.number in numbers:
                index = self.proxy.mapFromSource(self.trials.index(i, 0))
                if index.isValid():
                    self.selectionModel().select(index, flags.Select | flags.Rows)


# ---------------------------------------------------------------------------- plots


class BestCurve(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("searchBest")
        item = self.getPlotItem()
        item.setTitle("Best so far", color="k")
        item.setLabel("left", "validation accuracy (%)")
        item.setLabel("bottom", "trial")
        item.showGrid(x=True, y=True, alpha=0.25)
        for axis in ("left", "bottom"):
            item.getAxis(axis).setTextPen("k")
        self.points = pg.ScatterPlotItem(size=7, brush=pg.mkBrush("#1f77b4"), pen=None)
        self.best = pg.PlotDataItem(pen=pg.mkPen("#d62728", width=2))
        item.addItem(self.points)
        item.addItem(self.best)
        self.best_values: list[float] = []

    def set_rows(self, rows: Sequence[TrialRow]) -> None:
        done = [r for r in rows if r.state == "COMPLETE" and r.value is not None]
        x = [r.number for r in done]
        y = [100 * float(r.value or 0.0) for r in done]
        self.points.setData(x=x, y=y)
        best = list(np.maximum.accumulate(y)) if y else []
        self.best_values = [float(b) for b in best]
        # A staircase: the best stays until a better trial comes.
        sx = [v for i, n in enumerate(x) for v in ((n,) if i == 0 else (n, n))]
        sy = [v for i, b in enumerate(best) for v in ((b,) if i == 0 else (best[i - 1], b))]
        self.best.setData(sx, sy)


class ParallelCoordinates(pg.PlotWidget):
    """Signal ``brushed(object)``: the trial numbers inside every band, or None (no band)."""

    brushed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("searchParallel")
        self.item = self.getPlotItem()
        self.item.hideAxis("left")
        self.item.setMouseEnabled(x=False, y=False)
        self.item.hideButtons()
        self.item.setMenuEnabled(False)
        self.space: tuple[Range, ...] = ()
        self.rows: list[TrialRow] = []
        self.lines: list[pg.PlotCurveItem] = []
        self.bands: list[pg.ROI] = []
        self.labels: list[pg.TextItem] = []
        self.coords: dict[int, list[float]] = {}
        self.highlighted: set[int] = set()
        self._acc_range = (0.0, 1.0)

    # -- axes ------------------------------------------------------------------------
    def _set_axes(self, space: Sequence[Range]) -> None:
        for thing in [*self.bands, *self.labels]:
            self.item.removeItem(thing)
        self.item.clear()
        self.lines, self.bands, self.labels = [], [], []
        self.space = tuple(space)
        names = [r.name for r in self.space] + ["val acc"]
        for i, name in enumerate(names):
            self.item.addItem(pg.InfiniteLine(pos=i, angle=90, pen=pg.mkPen("#444", width=1)))
            label = pg.TextItem(name, color="k", anchor=(0.5, 1.0))
            label.setPos(i, 1.06)
            self.item.addItem(label)
            self.labels.append(label)
            for y, anchor in ((1.0, (0.0, 1.0)), (0.0, (0.0, 0.0))):
                end = pg.TextItem("", color="#555", anchor=anchor)
                end.setPos(i + 0.07, y)
                self.item.addItem(end)
                self.labels.append(end)
            band = pg.ROI(
                (i - 0.06, 0.0),
                (0.12, 1.0),
                pen=pg.mkPen("#d62728", width=2),
                maxBounds=QRectF(i - 0.06, 0.0, 0.12, 1.0),
                movable=True,
            )
            band.addScaleHandle((0.5, 1.0), (0.5, 0.0))
            band.addScaleHandle((0.5, 0.0), (0.5, 1.0))
            band.sigRegionChangeFinished.connect(lambda *_: self._emit_brush())
            band.setZValue(10)
            self.item.addItem(band)
            self.bands.append(band)
        bottom = self.item.getAxis("bottom")
        bottom.setTicks([[(i, "") for i in range(len(names))]])
        self.item.setXRange(-0.3, len(names) - 0.7, padding=0)
        self.item.setYRange(-0.04, 1.12, padding=0)

    def band_range(self, axis: int) -> tuple[float, float]:
        band = self.bands[axis]
        y, h = float(band.pos()[1]), float(band.size()[1])
        return y, y + h

    def set_band(self, axis: int, low: float, high: float) -> None:
        """Brush ``axis`` to [low, high] (0..1 of the axis), as dragging would."""
        band = self.bands[axis]
        # Shrink first: moving a full-height band up would push it out of its bounds.
        band.setSize((0.12, high - low), finish=False)
        band.setPos((axis - 0.06, low), finish=False)
        self._emit_brush()

    def clear_bands(self) -> None:
        for i, band in enumerate(self.bands):
            band.setPos((i - 0.06, 0.0), finish=False)
            band.setSize((0.12, 1.0), finish=False)
        self._emit_brush()

    def kept(self) -> set[int] | None:
        ranges = [self.band_range(i) for i in range(len(self.bands))]
        if all(low <= 1e-6 and high >= 1 - 1e-6 for low, high in ranges):
            return None
        return {
            n
            for n, ys in self.coords.items()
            if all(
                low - 1e-9 <= y <= high + 1e-9 for y, (low, high) in zip(ys, ranges, strict=True)
            )
        }

    def _end_labels(self) -> None:
        """Each axis's ends in the range's own units (the accuracy's as observed)."""
        lo, hi = self._acc_range
        ends = [
            (_fmt(r.options[-1]), _fmt(r.options[0]))
            if isinstance(r, Choices)
            else (_fmt(r.high), _fmt(r.low))
            for r in self.space
        ]
        ends.append((f"{100 * hi:.1f}%", f"{100 * lo:.1f}%"))
        for i, (top, bottom) in enumerate(ends):
            self.labels[3 * i + 1].setText(top)
            self.labels[3 * i + 2].setText(bottom)

    def _emit_brush(self) -> None:
        self._recolour()
        self.brushed.emit(self.kept())

    # -- lines -----------------------------------------------------------------------
    def set_rows(self, rows: Sequence[TrialRow], space: Sequence[Range]) -> None:
        if tuple(space) != self.space:
            self._set_axes(space)
        self.rows = [r for r in rows if r.last_val is not None and r.params]
        accs = [float(r.last_val) for r in self.rows if r.last_val is not None]
        lo, hi = (min(accs), max(accs)) if accs else (0.0, 1.0)
        self._acc_range = (lo, hi)
        self.coords = {}
        for r in self.rows:
            if not all(p.name in r.params for p in self.space):
                continue
            acc = float(r.last_val or 0.0)
            ys = [position(p, r.params[p.name]) for p in self.space]
            ys.append(0.5 if hi == lo else (acc - lo) / (hi - lo))
            self.coords[r.number] = ys
        while len(self.lines) < len(self.coords):
            line = pg.PlotCurveItem()
            self.item.addItem(line)
            self.lines.append(line)
        for line in self.lines[len(self.coords) :]:
            line.setData([], [])
        xs = np.arange(len(self.space) + 1, dtype=float)
        for line, ys in zip(self.lines, self.coords.values(), strict=False):
            line.setData(xs, np.asarray(ys))
        bottom = self.item.getAxis("bottom")
        names = [*[p.name for p in self.space], "val acc"]
        bottom.setTicks([[(i, "") for i in range(len(names))]])
        self._end_labels()
        self._recolour()

    def set_highlight(self, numbers: Sequence[int]) -> None:
        self.highlighted = set(numbers)
        self._recolour()

    def _recolour(self) -> None:
        keep = self.kept() if self.bands else None
        for i, band in enumerate(self.bands):
            low, high = self.band_range(i)
            full = low <= 1e-6 and high >= 1 - 1e-6
            band.setPen(pg.mkPen("#bbbbbb" if full else "#d62728", width=1 if full else 2))
        for line, (number, ys) in zip(self.lines, self.coords.items(), strict=False):
            if keep is not None and number not in keep:
                line.setPen(pg.mkPen(QColor(200, 200, 200, 90), width=1))
                line.setZValue(0)
                continue
            color = _CMAP.map(ys[-1], mode="qcolor")
            width = 4 if number in self.highlighted else 1.5
            line.setPen(pg.mkPen(color, width=width))
            line.setZValue(5 if number in self.highlighted else 1)


class ParamScatter(pg.GraphicsLayoutWidget):
    """Validation accuracy against each hyperparameter (complete: filled, pruned: hollow,
    selected: red rings); log ranges on a log axis, choices at their index."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("searchScatter")
        self.setBackground("w")
        self.space: tuple[Range, ...] = ()
        self.plots: dict[str, list[pg.PlotDataItem]] = {}
        self.highlighted: set[int] = set()
        self.rows: list[TrialRow] = []

    def _build(self, space: Sequence[Range]) -> None:
        self.clear()
        self.plots = {}
        self.space = tuple(space)
        columns = min(3, max(1, len(self.space)))
        for i, r in enumerate(self.space):
            plot = self.addPlot(row=i // columns, col=i % columns)
            plot.setTitle(r.name, color="k", size="9pt")
            plot.showGrid(x=True, y=True, alpha=0.25)
            plot.setLabel("left", "val %")
            for axis in ("left", "bottom"):
                plot.getAxis(axis).setTextPen("k")
            if isinstance(r, Choices):
                plot.getAxis("bottom").setTicks([[(j, str(o)) for j, o in enumerate(r.options)]])
            elif r.log:
                plot.setLogMode(x=True)
                plot.getAxis("bottom").setStyle(maxTickLevel=0)  # minor labels would overlap
                plot.setXRange(math.log10(r.low), math.log10(r.high))
            else:
                plot.setXRange(float(r.low), float(r.high))
            items = [
                pg.PlotDataItem(
                    pen=None,
                    symbol="o",
                    symbolSize=7,
                    symbolBrush=None,
                    symbolPen=pg.mkPen("#8a6d00"),
                ),
                pg.PlotDataItem(
                    pen=None, symbol="o", symbolSize=7, symbolBrush="#1f77b4", symbolPen=None
                ),
                pg.PlotDataItem(
                    pen=None,
                    symbol="o",
                    symbolSize=13,
                    symbolBrush=None,
                    symbolPen=pg.mkPen("#d62728", width=2),
                ),
            ]
            for item in items:
                plot.addItem(item)
            self.plots[r.name] = items

    def _x(self, r: Range, value: Any) -> float:
        if isinstance(r, Choices):
            return float(list(r.options).index(value)) if value in r.options else 0.0
        return float(value)

    def set_rows(self, rows: Sequence[TrialRow], space: Sequence[Range]) -> None:
        if tuple(space) != self.space:
            self._build(space)
        self.rows = [t for t in rows if t.last_val is not None]
        for r in self.space:
            pruned, done, picked = self.plots[r.name]
            for item, keep in (
                (pruned, lambda t: t.state == "PRUNED"),
                (done, lambda t: t.state == "COMPLETE"),
                (picked, lambda t: t.number in self.highlighted),
            ):
                pts = [t for t in self.rows if keep(t) and r.name in t.params]
                item.setData(
                    [self._x(r, t.params[r.name]) for t in pts],
                    [100 * float(t.last_val or 0.0) for t in pts],
                )

    def set_highlight(self, numbers: Sequence[int]) -> None:
        self.highlighted = set(numbers)
        self.set_rows(self.rows, self.space)

    def point_count(self, name: str) -> int:
        pruned, done, _picked = self.plots[name]
        return sum(
            len(i.getData()[0] if i.getData()[0] is not None else []) for i in (pruned, done)
        )


class ImportanceBars(pg.PlotWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, background="w")
        self.setObjectName("searchImportance")
        self.item = self.getPlotItem()
        self.item.setTitle(
            "Hyperparameter importance (PED-ANOVA, top quarter of the trials)", color="k"
        )
        self.item.setLabel("bottom", "share of the accuracy's variance")
        self.bars: pg.BarGraphItem | None = None
        self.values: dict[str, float] = {}
        self.note = pg.TextItem("", color="#555", anchor=(0, 0))
        self.item.addItem(self.note)

    def set_importances(self, values: dict[str, float], note: str = "") -> None:
        self.values = dict(values)
        if self.bars is not None:
            self.item.removeItem(self.bars)
            self.bars = None
        names = list(values)[::-1]
        if names:
            self.bars = pg.BarGraphItem(
                x0=0,
                y=np.arange(len(names)),
                height=0.6,
                width=[values[n] for n in names],
                brush="#1f77b4",
            )
            self.item.addItem(self.bars)
            self.item.getAxis("left").setTicks([[(i, n) for i, n in enumerate(names)]])
            self.item.setXRange(0, 1)
            self.item.setYRange(-0.7, len(names) - 0.3)
        self.note.setText(note)
        self.note.setPos(0, len(names) - 0.3 if names else 1)
