"""A heat-map of where two arrays differ: one cell per element, shaded by the element's
relative error |got - expected| / max(1e-8, |got| + |expected|) on a log scale."""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPoint, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

#: Errors at or below this are white, at or above HIGH fully red.
LOW, HIGH = 1e-12, 1.0


def element_errors(expected: np.ndarray, got: np.ndarray) -> np.ndarray:
    """Per-element relative error as a 2-D float array (1-D arrays become one row,
    more dimensions fold into the rows); inf where exactly one side is not finite."""
    exp = np.asarray(expected, dtype=np.float64)
    arr = np.asarray(got, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        err = np.abs(arr - exp) / np.maximum(1e-8, np.abs(arr) + np.abs(exp))
    err[np.isnan(err)] = np.inf
    if err.ndim == 0:
        err = err.reshape(1, 1)
    elif err.ndim == 1:
        err = err.reshape(1, -1)
    elif err.ndim > 2:
        err = err.reshape(-1, err.shape[-1])
    return err


class ArrayDiffView(QWidget):
    """``set_arrays(expected, got, threshold)``; ``clear()``. Hover a cell for its values."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("arrayDiff")
        self.setMouseTracking(True)
        self.setMinimumSize(160, 90)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._err = np.zeros((0, 0))
        self._exp = np.zeros((0, 0))
        self._got = np.zeros((0, 0))
        self._threshold = 1e-9

    def sizeHint(self) -> QSize:
        return QSize(320, 160)

    def set_arrays(self, expected: np.ndarray, got: np.ndarray, threshold: float) -> None:
        self._err = element_errors(expected, got)
        shape = self._err.shape
        self._exp = np.asarray(expected, dtype=np.float64).reshape(shape)
        self._got = np.asarray(got, dtype=np.float64).reshape(shape)
        self._threshold = threshold
        self.update()

    def clear(self) -> None:
        self._err = np.zeros((0, 0))
        self.update()

    def errors(self) -> np.ndarray:
        return self._err.copy()

    def bad_cells(self) -> int:
        return int(np.sum(~(self._err < self._threshold)))

    def _cell(self) -> tuple[float, float, float, float]:
        rows, cols = self._err.shape
        top = 18.0
        size = min((self.width() - 8) / cols, (self.height() - top - 4) / rows, 40.0)
        return 4.0, top, size, size

    def colour(self, err: float) -> QColor:
        if not math.isfinite(err) or err >= HIGH:
            return QColor(200, 30, 30)
        if err < self._threshold:
            return QColor(235, 245, 235)
        t = (math.log10(max(err, LOW)) - math.log10(self._threshold)) / (
            math.log10(HIGH) - math.log10(self._threshold)
        )
        t = min(max(t, 0.0), 1.0)
        return QColor(255, int(200 - 150 * t), int(120 - 100 * t))

    def paintEvent(self, _event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._err.size == 0:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "No array to compare")
            return
        rows, cols = self._err.shape
        bad = self.bad_cells()
        painter.drawText(
            4, 13, f"{bad} of {self._err.size} elements differ (shape {rows}×{cols}); red: worst"
        )
        x0, y0, w, h = self._cell()
        for r in range(rows):
            for c in range(cols):
                rect = QRectF(x0 + c * w, y0 + r * h, w, h)
                painter.fillRect(rect, self.colour(float(self._err[r, c])))
                painter.setPen(QColor(180, 180, 180))
                painter.drawRect(rect)

    def cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        if self._err.size == 0:
            return None
        x0, y0, w, h = self._cell()
        c = int((pos.x() - x0) // w)
        r = int((pos.y() - y0) // h)
        rows, cols = self._err.shape
        return (r, c) if 0 <= r < rows and 0 <= c < cols else None

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self.cell_at(event.position().toPoint())
        if cell is None:
            QToolTip.hideText()
            return
        r, c = cell
        QToolTip.showText(
            event.globalPosition().toPoint(),
            f"[{r}, {c}]  expected {self._exp[r, c]:.8g}, got {self._got[r, c]:.8g}, "
            f"relative error {self._err[r, c]:.2e}",
            self,
        )
