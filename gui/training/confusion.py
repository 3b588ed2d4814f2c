"""A confusion-matrix view: rows are true classes, columns predicted classes.

Cells are shaded by the row-normalised rate (recall per class; a legend under the grid
says so), show their counts in a font small enough to fit, and tell the details on
hover. Clicking a cell emits ``cell_clicked(true_index, predicted_index)`` (e.g. to filter
a gallery).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPoint, QRect, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFont, QFontMetrics, QMouseEvent, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from nets.metrics import confusion_matrix

if TYPE_CHECKING:
    import numpy as np

__all__ = ["ConfusionMatrixView", "confusion_matrix"]

#: Cells are kept at least this many pixels before class names are elided.
MIN_CELL = 22
#: Height of the colour legend's row at the bottom.
LEGEND_H = 18


class ConfusionMatrixView(QWidget):
    """``set_matrix(counts (K, K), class_names)``; ``clear()``."""

    cell_clicked = Signal(int, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("confusionMatrix")
        self.setMouseTracking(True)
        self.setMinimumSize(220, 200)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        # None until a matrix is set: an empty view needs no numpy (a tab's first frame).
        self._counts: np.ndarray | None = None
        self._names: list[str] = []
        self.title = "Validation confusion matrix"
        self.empty_text = "Train a model to see its confusion matrix."
        self.numbers_shown = False  # the last paint wrote the counts in the cells
        self.legend_width = 0  # pixels the last paint's legend took
        self.row_labels_left = 0.0  # where the last paint's leftmost row label began
        self.labels_elided: list[str] = []  # class names the last paint had to cut

    def set_matrix(self, counts: np.ndarray, class_names: list[str] | None = None) -> None:
        import numpy as np

        counts = np.asarray(counts)
        if counts.ndim != 2 or counts.shape[0] != counts.shape[1]:
            raise ValueError(f"a confusion matrix is square, got shape {counts.shape}")
        self._counts = np.nan_to_num(counts.astype(np.float64), nan=0.0).astype(np.int64)
        k = counts.shape[0]
        names = list(class_names or [])
        self._names = [names[i] if i < len(names) else str(i) for i in range(k)]
        self.update()

    def clear(self) -> None:
        self._counts = None
        self._names = []
        self.update()

    def counts(self) -> np.ndarray:
        import numpy as np

        return np.zeros((0, 0), dtype=np.int64) if self._counts is None else self._counts.copy()

    def _size(self) -> int:
        """The number of classes shown (0: no matrix)."""
        return 0 if self._counts is None else self._counts.shape[0]

    def accuracy(self) -> float:
        import numpy as np

        if self._counts is None:
            return float("nan")
        total = self._counts.sum()
        return float(np.trace(self._counts) / total) if total else float("nan")

    def sizeHint(self) -> QSize:
        return QSize(420, 380)

    # -- geometry --------------------------------------------------------------------
    def _layout(self) -> tuple[QRect, float, int]:
        """The grid's rectangle, the cell size, and the height of the (rotated) column
        labels under the grid. Class names are shown whole while the cells stay at least
        ``MIN_CELL`` pixels; only then are the longest elided."""
        k = self._size()
        fm = QFontMetrics(self.font())
        full = max((fm.horizontalAdvance(n) for n in self._names), default=0) + 10
        top = fm.height() * 2 + 6
        bottom = LEGEND_H + 6
        room_w = self.width() - fm.height() - 4 - 6
        room_h = self.height() - top - 6 - bottom
        label_w = min(full, max(room_w - MIN_CELL * k, self.width() // 4))
        band = min(full, max(3 * fm.height(), room_h - MIN_CELL * k))
        left = label_w + fm.height() + 4
        side = max(1.0, min((self.width() - left - 6) / k, (room_h - band) / k))
        return QRect(left, top, int(side * k), int(side * k)), side, band

    def _cell_at(self, pos: QPoint) -> tuple[int, int] | None:
        k = self._size()
        if k == 0:
            return None
        grid, side, _band = self._layout()
        if not grid.contains(pos):
            return None
        col = int((pos.x() - grid.left()) / side)
        row = int((pos.y() - grid.top()) / side)
        if 0 <= row < k and 0 <= col < k:
            return row, col
        return None

    # -- painting --------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().base())
        painter.setPen(self.palette().text().color())
        k = self._size()
        if self._counts is None or k == 0:
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        import numpy as np

        fm = QFontMetrics(self.font())
        grid, side, band = self._layout()
        total = int(self._counts.sum())
        acc = self.accuracy()
        header = f"{self.title}: {total} images"
        if total:
            header += f", accuracy {100 * acc:.1f}%"
        # A smaller font, then the title dropped, before the figures are cut.
        head_font = _font_to_fit(self.font(), header, self.width() - 4, fm.height() + 2)
        if head_font is None:
            header = header.split(": ", 1)[-1]
            head_font = _font_to_fit(self.font(), header, self.width() - 4, fm.height() + 2)
        painter.setFont(head_font or _smallest(self.font()))
        painter.drawText(
            QRect(0, 0, self.width(), fm.height() + 2), Qt.AlignmentFlag.AlignCenter, header
        )
        painter.setFont(self.font())
        painter.drawText(
            QRect(grid.left(), fm.height() + 2, grid.width(), fm.height()),
            Qt.AlignmentFlag.AlignCenter,
            "predicted",
        )
        rows = self._counts.sum(axis=1, keepdims=True).astype(np.float64)
        with np.errstate(invalid="ignore", divide="ignore"):
            rates = np.where(rows > 0, self._counts / np.maximum(rows, 1), 0.0)
        small = _font_to_fit(self.font(), str(int(self._counts.max(initial=0))), side - 2)
        self.numbers_shown = small is not None
        for r in range(k):
            for c in range(k):
                rate = float(rates[r, c])
                cell = QRectF(grid.left() + c * side, grid.top() + r * side, side, side)
                painter.fillRect(cell, _shade(rate, diagonal=r == c))
                if small is not None and self._counts[r, c]:
                    painter.setFont(small)
                    painter.setPen(QColor("white") if rate > 0.55 else QColor("black"))
                    painter.drawText(cell, Qt.AlignmentFlag.AlignCenter, str(self._counts[r, c]))
        painter.setFont(self.font())
        painter.setPen(self.palette().text().color())
        painter.drawRect(grid.adjusted(0, 0, -1, -1))
        # Row labels (true classes) on the left, column labels rotated under the grid; a
        # smaller font before any name is cut ("airpla..." told the learner nothing).
        longest = max(self._names, key=fm.horizontalAdvance, default="")
        # The rotated "true" stands in the strip left of x = fm.height() + descent; the
        # row labels keep right of it (a long name drawn from x = 0 ran over it).
        row_x = fm.height() + fm.descent() + 2
        row_w = grid.left() - row_x - 4
        row_font = _font_to_fit(self.font(), longest, row_w, side) or _smallest(self.font())
        col_font = _font_to_fit(self.font(), longest, band - 6, side) or _smallest(self.font())
        self.labels_elided = []
        for i, name in enumerate(self._names):
            y = grid.top() + i * side
            painter.setFont(row_font)
            shown = QFontMetrics(row_font).elidedText(name, Qt.TextElideMode.ElideRight, row_w)
            left = row_x + row_w - QFontMetrics(row_font).horizontalAdvance(shown)
            self.row_labels_left = min(self.row_labels_left, left) if i else left
            painter.drawText(
                QRectF(row_x, y, row_w, side),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                shown,
            )
            painter.setFont(col_font)
            col_fm = QFontMetrics(col_font)
            column = col_fm.elidedText(name, Qt.TextElideMode.ElideRight, band - 6)
            if name != shown or name != column:
                self.labels_elided.append(name)
            painter.save()
            painter.translate(
                grid.left() + (i + 0.5) * side + col_fm.ascent() / 2, grid.bottom() + 4
            )
            painter.rotate(90)
            painter.drawText(0, 0, column)
            painter.restore()
        painter.setFont(self.font())
        painter.save()
        painter.translate(fm.height(), grid.center().y())
        painter.rotate(-90)
        painter.drawText(-fm.horizontalAdvance("true") // 2, 0, "true")
        painter.restore()
        self._paint_legend(painter, fm)

    def _paint_legend(self, painter: QPainter, fm: QFontMetrics) -> None:
        """Under everything: what the two colour ramps mean (share of the true class).
        In a narrow view the note goes first, then the font and the ramps shrink, so that
        nothing is cut at the right edge."""
        room = self.width() - 8
        font = self.font()
        for bar_w, note in ((60, "of the true class"), (60, ""), (40, "")):
            if _legend_width(fm, bar_w, note) <= room:
                break
        else:
            for size in (8.0, 7.0, 6.0):
                font = QFont(self.font())
                font.setPointSizeF(size)
                fm = QFontMetrics(font)
                if _legend_width(fm, bar_w, note) <= room:
                    break
        painter.setFont(font)
        y = self.height() - LEGEND_H - 2
        x = 6
        for label, diagonal, top in _LEGEND:
            text = f"{label}: 0%"
            painter.drawText(
                QRectF(x, y, fm.horizontalAdvance(text) + 4, LEGEND_H),
                Qt.AlignmentFlag.AlignVCenter,
                text,
            )
            x += fm.horizontalAdvance(text) + 6
            for i in range(bar_w):
                rate = i / (bar_w - 1) * (1.0 if diagonal else 0.5)
                painter.fillRect(
                    QRectF(x + i, y + 3, 1, LEGEND_H - 6), _shade(rate, diagonal=diagonal)
                )
            painter.drawRect(QRectF(x, y + 3, bar_w, LEGEND_H - 6))
            x += bar_w + 4
            painter.drawText(
                QRectF(x, y, fm.horizontalAdvance(top) + 4, LEGEND_H),
                Qt.AlignmentFlag.AlignVCenter,
                top,
            )
            x += fm.horizontalAdvance(top) + 18
        if note:
            painter.drawText(
                QRectF(x, y, fm.horizontalAdvance(note) + 4, LEGEND_H),
                Qt.AlignmentFlag.AlignVCenter,
                note,
            )
        self.legend_width = 6 + _legend_width(fm, bar_w, note)
        painter.setFont(self.font())

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        cell = self._cell_at(event.position().toPoint())
        if cell is None:
            QToolTip.hideText()
            return
        r, c = cell
        assert self._counts is not None  # a cell was found
        row_total = int(self._counts[r].sum())
        n = int(self._counts[r, c])
        share = f" ({100 * n / row_total:.1f}% of {self._names[r]})" if row_total else ""
        QToolTip.showText(
            event.globalPosition().toPoint(),
            f"true {self._names[r]}, predicted {self._names[c]}: {n}{share}",
            self,
        )

    def mousePressEvent(self, event: QMouseEvent) -> None:
        cell = self._cell_at(event.position().toPoint())
        if cell is not None and event.button() == Qt.MouseButton.LeftButton:
            self.cell_clicked.emit(*cell)


_LEGEND = (("correct", True, "100%"), ("confused", False, "50%+"))


def _legend_width(fm: QFontMetrics, bar_w: int, note: str) -> int:
    """Pixels the legend takes from its left edge with these metrics, ramps and note."""
    width = sum(
        fm.horizontalAdvance(f"{label}: 0%") + 6 + bar_w + 4 + fm.horizontalAdvance(top) + 18
        for label, _, top in _LEGEND
    )
    return width + (fm.horizontalAdvance(note) + 4 if note else -14)


def _font_to_fit(
    font: QFont, widest: str, width: float, height: float | None = None
) -> QFont | None:
    """``font`` made small enough (down to 6 pt) for ``widest`` to fit in ``width`` by
    ``height`` (default ``width``) pixels, never larger than ``font``; None when even 6 pt
    does not fit."""
    height = width if height is None else height
    small = QFont(font)
    size = font.pointSizeF() if font.pointSizeF() > 0 else 9.0
    while size >= 6.0:
        small.setPointSizeF(size)
        fm = QFontMetrics(small)
        if fm.horizontalAdvance(widest) <= width and fm.height() <= height:
            return small
        size -= 0.5
    return None


def _smallest(font: QFont) -> QFont:
    small = QFont(font)
    small.setPointSizeF(6.0)
    return small


def _shade(rate: float, *, diagonal: bool) -> QColor:
    """White to blue for the diagonal (correct), white to red elsewhere (errors)."""
    rate = min(max(rate, 0.0), 1.0)
    if diagonal:
        base = (33, 102, 172)
    else:
        base = (178, 24, 43)
        rate = min(1.0, rate * 2.0)  # errors are rarer: make them visible
    return QColor(*(int(255 + (b - 255) * rate) for b in base))
