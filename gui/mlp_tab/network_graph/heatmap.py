"""Tensors as pictures: a diverging heat-map (blue below zero, red above, white at zero)
that reports the element under a click, a histogram, and both with the tensor's shape,
min, max and mean in one ``TensorPanel``.

Arrays of any rank up to 2 are shown as a matrix: (R, C) as is, (K,) as one row, a
scalar as one cell. Rows and columns can be highlighted (the "explain" operands).
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QLabel, QSizePolicy, QToolTip, QVBoxLayout, QWidget

from gui.graph_tab import theme


def _lut() -> np.ndarray:
    """256 ARGB colours from blue (-1) through white (0) to red (+1)."""
    t = np.linspace(-1.0, 1.0, 256)
    blue = np.array([33, 102, 172], dtype=np.float64)
    red = np.array([178, 24, 43], dtype=np.float64)
    white = np.array([255, 255, 255], dtype=np.float64)
    a = np.abs(t)[:, None]
    rgb = np.where((t < 0)[:, None], white + (blue - white) * a, white + (red - white) * a)
    rgb = rgb.round().astype(np.uint32)
    return (0xFF000000 | (rgb[:, 0] << 16) | (rgb[:, 1] << 8) | rgb[:, 2]).astype(np.uint32)


_LUT = _lut()


def as_matrix(a: np.ndarray) -> np.ndarray:
    """Any array of rank <= 2 as a 2-D view: () -> (1, 1), (K,) -> (1, K)."""
    arr = np.asarray(a)
    if arr.ndim == 0:
        return arr.reshape(1, 1)
    if arr.ndim == 1:
        return arr.reshape(1, -1)
    if arr.ndim == 2:
        return arr
    return arr.reshape(arr.shape[0], -1)


#: an image never needs more pixels than a screen shows: larger tensors are subsampled
MAX_IMAGE_SIDE = 512
#: histograms of larger tensors count this many evenly spaced values
HIST_SAMPLE = 1 << 17


def heat_image(a: np.ndarray, scale: float | None = None) -> QImage:
    """(R, C) array -> an image, one pixel per element up to ``MAX_IMAGE_SIDE`` rows and
    columns (beyond, every k-th: nearest-neighbour, as the screen would show it). Colour
    by value / scale (scale defaults to max |a|); NaN and inf are drawn black."""
    m = as_matrix(a)
    rows, cols = m.shape
    step_r = max(1, -(-rows // MAX_IMAGE_SIDE))
    step_c = max(1, -(-cols // MAX_IMAGE_SIDE))
    if scale is None:
        finite_all = np.isfinite(m)
        scale = float(np.max(np.abs(m, where=finite_all, out=np.zeros(m.shape)))) if m.size else 1.0
    m = np.asarray(m[::step_r, ::step_c], dtype=np.float64)
    finite = np.isfinite(m)
    scale = scale if scale > 0 else 1.0
    idx = np.clip(np.nan_to_num(m / scale, nan=0.0) * 127.5 + 127.5, 0, 255).astype(np.intp)
    argb = _LUT[idx]
    argb[~finite] = 0xFF000000
    argb = np.ascontiguousarray(argb)
    h, w = argb.shape
    image = QImage(argb.data, w, h, w * 4, QImage.Format.Format_RGB32)
    return image.copy()  # owns its pixels: the numpy buffer goes away


def shape_text(shape) -> str:
    """(16, 3072) -> "16×3072"; () -> "scalar"."""
    return "×".join(str(s) for s in shape) if len(shape) else "scalar"


class Band:
    """The pictures and numbers shown of one tensor: its heat-map image, histogram
    counts and (min, max, mean) of its finite values. Made in a worker (a QImage may be,
    unlike a QPixmap), so the GUI thread only draws them."""

    __slots__ = ("array", "counts", "image", "numbers")

    def __init__(self, a: np.ndarray | None, bins: int = 16) -> None:
        self.array = a
        self.image: QImage | None = None
        self.counts: np.ndarray | None = None
        self.numbers: tuple[float, float, float] | None = None
        if a is not None:
            arr = np.asarray(a, dtype=np.float64)
            mask = np.isfinite(arr)
            finite = arr if mask.all() else arr[mask]  # no copy in the usual case
            if finite.size:
                lo, hi = float(finite.min()), float(finite.max())
                self.numbers = (lo, hi, float(finite.mean()))
                # The bars' shape from at most HIST_SAMPLE evenly spaced values: binning
                # W1's 1.5 million took longer than the rest of a step.
                flat = finite.ravel()
                sample = flat[:: max(1, flat.size // HIST_SAMPLE)]
                span = (lo, hi) if hi > lo else (lo - 0.5, hi + 0.5)
                self.counts, _ = np.histogram(sample, bins, span)
            scale = max(abs(self.numbers[0]), abs(self.numbers[1])) if self.numbers else 1.0
            self.image = heat_image(as_matrix(arr), scale)

    @property
    def range(self) -> tuple[float, float]:
        return (self.numbers[0], self.numbers[1]) if self.numbers else (0.0, 0.0)

    def stats(self, digits: int = 3) -> str:
        """ "min -2.1  max 2.3  mean 0.0012"; "–" when nothing is computed."""
        if self.array is None:
            return "–"
        if self.numbers is None:
            return "no finite values"
        lo, hi, mean = (theme.fmt(x, digits) for x in self.numbers)
        return f"min {lo} max {hi} mean {mean}"


def clear_layout(layout) -> None:
    """Remove and delete every widget of a layout (panels rebuilt for a new tensor)."""
    while layout.count():
        item = layout.takeAt(0)
        widget = item.widget() if item is not None else None
        if widget is not None:
            widget.deleteLater()


def format_index(index: tuple[int, ...]) -> str:
    return "[" + ", ".join(str(i) for i in index) + "]" if index else ""


class HeatMap(QWidget):
    """A heat-map of one tensor. ``element_clicked(index)`` gives the tensor index under
    a left click (a tuple of the tensor's rank); hovering shows it with its value."""

    element_clicked = Signal(tuple)

    def __init__(self, parent: QWidget | None = None, *, min_size: QSize | None = None) -> None:
        super().__init__(parent)
        self._array: np.ndarray | None = None
        self._matrix: np.ndarray | None = None
        self._image: QImage | None = None
        self.name = ""
        self.rows: tuple[int, ...] = ()
        self.cols: tuple[int, ...] = ()
        self.marked: tuple[int, ...] | None = None
        self.setMouseTracking(True)
        self.setMinimumSize(min_size or QSize(60, 24))
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)

    def set_array(self, a: np.ndarray | None, name: str = "") -> None:
        self.set_band(Band(a) if a is not None else None, name)

    def set_band(self, band: Band | None, name: str = "") -> None:
        """Show a tensor whose picture is already made (``Band``, e.g. in a worker)."""
        a = band.array if band is not None else None
        self._array = None if a is None else np.asarray(a)
        self._matrix = None if self._array is None else as_matrix(self._array)
        self._image = band.image if band is not None else None
        self.name = name
        self.update()

    def array(self) -> np.ndarray | None:
        return self._array

    def set_highlight(
        self,
        rows: tuple[int, ...] = (),
        cols: tuple[int, ...] = (),
        marked: tuple[int, ...] | None = None,
    ) -> None:
        """Outline whole rows and columns (matrix coordinates) and one marked element."""
        self.rows, self.cols, self.marked = tuple(rows), tuple(cols), marked
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(240, 90)

    # -- geometry --------------------------------------------------------------------
    def _target(self) -> QRectF:
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        m = self._matrix
        if m is not None and m.shape[0] == 1 and rect.height() > 28:
            rect.setHeight(28)  # one row (a bias, a scalar): a strip, not a slab
        return rect

    def _cell(self, pos: QPointF) -> tuple[int, int] | None:
        m = self._matrix
        if m is None or not m.size:
            return None
        t = self._target()
        if not t.contains(pos):
            return None
        r = int((pos.y() - t.top()) / t.height() * m.shape[0])
        c = int((pos.x() - t.left()) / t.width() * m.shape[1])
        return min(r, m.shape[0] - 1), min(c, m.shape[1] - 1)

    def index_at(self, pos: QPointF) -> tuple[int, ...] | None:
        """The tensor index (rank of the tensor) under a widget point, or None."""
        cell = self._cell(pos)
        if cell is None or self._array is None:
            return None
        r, c = cell
        if self._array.ndim == 0:
            return ()
        if self._array.ndim == 1:
            return (c,)
        if self._array.ndim == 2:
            return (r, c)
        return (r, *(int(i) for i in np.unravel_index(c, self._array.shape[1:])))

    def cell_rect(self, row: int, col: int) -> QRectF:
        m = self._matrix
        t = self._target()
        if m is None or not m.size:
            return QRectF()
        w, h = t.width() / m.shape[1], t.height() / m.shape[0]
        return QRectF(t.left() + col * w, t.top() + row * h, w, h)

    # -- painting and mouse ----------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        t = self._target()
        p.fillRect(self.rect(), QColor("#ffffff"))
        if self._image is None:
            p.setPen(theme.MUTED)
            # at the top: a tall heat-map may be scrolled to show only its top
            p.drawText(
                QRectF(self.rect()).adjusted(6, 4, -6, -4),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                "not computed yet",
            )
            return
        p.drawImage(t, self._image)
        p.setPen(QPen(theme.NODE_BORDER, 1))
        p.setBrush(Qt.BrushStyle.NoBrush)
        p.drawRect(t)
        m = self._matrix
        assert m is not None
        pen = QPen(QColor("#f2b705"), 2)
        p.setPen(pen)
        for r in self.rows:
            row = self.cell_rect(r, 0)
            p.drawRect(QRectF(t.left(), row.top(), t.width(), max(row.height(), 2)))
        for c in self.cols:
            col = self.cell_rect(0, c)
            p.drawRect(QRectF(col.left(), t.top(), max(col.width(), 2), t.height()))
        if self.marked is not None:
            r, c = self.marked
            cell = self.cell_rect(r, c)
            centre = cell.center()
            size = max(cell.width(), cell.height(), 7.0)
            p.setPen(QPen(QColor("#202124"), 2))
            p.drawRect(QRectF(centre.x() - size / 2, centre.y() - size / 2, size, size))

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        index = self.index_at(event.position())
        if index is None or self._array is None:
            QToolTip.hideText()
            return
        value = float(self._array[index]) if index else float(self._array)
        QToolTip.showText(
            event.globalPosition().toPoint(),
            f"{self.name}{format_index(index)} = {theme.fmt_full(value)}<br>"
            "<i>click: explain this number</i>",
            self,
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            index = self.index_at(event.position())
            if index is not None:
                self.element_clicked.emit(index)
                event.accept()
                return
        super().mousePressEvent(event)


class Histogram(QWidget):
    """Bars of a tensor's value counts (``bins`` bins between its min and max)."""

    def __init__(self, parent: QWidget | None = None, bins: int = 24) -> None:
        super().__init__(parent)
        self.bins = bins
        self.counts: np.ndarray | None = None
        self.range = (0.0, 0.0)
        self.colour = theme.FORWARD
        self.setMinimumSize(80, 36)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self.setFixedHeight(44)

    def set_band(self, band: Band | None, colour: QColor = theme.FORWARD) -> None:
        self.colour = colour
        self.counts = band.counts if band is not None else None
        self.range = band.range if band is not None else (0.0, 0.0)
        self.update()

    def paintEvent(self, event: QPaintEvent) -> None:
        p = QPainter(self)
        p.fillRect(self.rect(), QColor("#ffffff"))
        if self.counts is None:
            return
        top = float(self.counts.max()) or 1.0
        w = self.width() / len(self.counts)
        h = self.height() - 2
        p.setPen(Qt.PenStyle.NoPen)
        p.setBrush(self.colour)
        for i, count in enumerate(self.counts.tolist()):
            if count:
                # sqrt: a few large counts would hide every small bin
                bar = max(1.0, h * math.sqrt(count / top))
                p.drawRect(QRectF(i * w + 0.5, h - bar + 1, max(w - 1, 1), bar))
        lo, hi = self.range
        if lo < 0 < hi:
            x = (0 - lo) / (hi - lo) * self.width()
            p.setPen(QPen(theme.MUTED, 1, Qt.PenStyle.DashLine))
            p.drawLine(QPointF(x, 0), QPointF(x, self.height()))


class TensorPanel(QWidget):
    """Title, "shape  min  max  mean", a heat-map and a histogram of one tensor."""

    element_clicked = Signal(tuple)

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.title.setWordWrap(True)
        self.stats = QLabel()
        self.stats.setObjectName("tensorStats")
        self.stats.setStyleSheet("color: #3c4043; font-family: 'DejaVu Sans Mono';")
        self.stats.setWordWrap(True)
        self.stats.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.heat = HeatMap(self)
        self.histogram = Histogram(self)
        self._band: Band | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.stats)
        layout.addWidget(self.heat, 1)
        layout.addWidget(self.histogram)
        self.heat.element_clicked.connect(self.element_clicked)

    def set_tensor(
        self, a: np.ndarray | None, name: str, title: str, colour: QColor = theme.FORWARD
    ) -> None:
        self.set_band(Band(a) if a is not None else None, name, title, colour)

    def set_band(
        self, band: Band | None, name: str, title: str, colour: QColor = theme.FORWARD
    ) -> None:
        """Show a tensor from its ready-made ``Band`` (same band: nothing is redone)."""
        self.title.setText(title)
        if band is self._band and name == self.heat.name:
            return
        self._band = band
        self.heat.set_band(band, name)
        self.histogram.set_band(band, colour)
        if band is None or band.array is None:
            self.stats.setText("not computed yet")
        else:
            self.stats.setText(f"{shape_text(np.shape(band.array))}  {band.stats(4)}")
