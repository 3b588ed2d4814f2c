"""A horizontal bar chart of the top-k classes, painted directly so labels stay readable.

pyqtgraph's BarGraphItem would need rotated or abbreviated axis labels for ImageNet's
long class names; here each bar carries its full label on the left and its probability
on the right, and a click on a bar selects that class (for the heat-map).
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QFontMetrics, QMouseEvent, QPainter, QPaintEvent, QPalette
from PySide6.QtWidgets import QSizePolicy, QWidget

# (class index, label, probability in [0, 1])
Prediction = tuple[int, str, float]

BAR_COLOR = QColor(66, 133, 244)
SELECTED_COLOR = QColor(234, 67, 53)


class TopKChart(QWidget):
    """Bars for ``(index, label, prob)`` predictions, best first. Click a bar to select it.

    Signals:
        class_clicked(int): the ImageNet index of the clicked bar.
    """

    class_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("topKChart")
        self._predictions: list[Prediction] = []
        self._selected: int | None = None
        self._placeholder = "No image yet"
        self.setMouseTracking(True)
        self.setMinimumHeight(130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setToolTip("Top-5 classes with their probabilities; click a bar for its heat-map")

    # -- data ------------------------------------------------------------------------
    def set_predictions(self, predictions: list[Prediction]) -> None:
        self._predictions = [(int(i), str(label), float(p)) for i, label, p in predictions]
        self.update()

    def predictions(self) -> list[Prediction]:
        return list(self._predictions)

    def bar_values(self) -> list[float]:
        """The probabilities the bars show, top first (what a test checks)."""
        return [p for _i, _label, p in self._predictions]

    def set_selected(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def selected(self) -> int | None:
        return self._selected

    def set_placeholder(self, text: str) -> None:
        self._placeholder = text
        self.update()

    def clear(self) -> None:
        self._predictions = []
        self._selected = None
        self.update()

    # -- geometry --------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(420, 180)

    def _rows(self) -> list[tuple[QRectF, Prediction]]:
        """One rectangle per bar row (label + bar + value), top to bottom."""
        n = len(self._predictions)
        if n == 0:
            return []
        margin = 6.0
        row_h = (self.height() - 2 * margin) / n
        return [
            (QRectF(margin, margin + k * row_h, self.width() - 2 * margin, row_h), pred)
            for k, pred in enumerate(self._predictions)
        ]

    def bar_rect(self, row: int) -> QRectF:
        """Where row ``row``'s bar area is (label excluded): a test clicks its centre."""
        rows = self._rows()
        rect, _ = rows[row]
        label_w = self._label_width()
        return QRectF(rect.left() + label_w, rect.top(), rect.width() - label_w, rect.height())

    def _label_width(self) -> float:
        return min(max(self.width() * 0.42, 120.0), 260.0)

    # -- events ----------------------------------------------------------------------
    def mousePressEvent(self, event: QMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            for rect, (index, _label, _prob) in self._rows():
                if rect.contains(event.position()):
                    self.set_selected(index)
                    self.class_clicked.emit(index)
                    return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hit = any(rect.contains(event.position()) for rect, _ in self._rows())
        self.setCursor(Qt.CursorShape.PointingHandCursor if hit else Qt.CursorShape.ArrowCursor)
        super().mouseMoveEvent(event)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        palette = self.palette()
        text_color = palette.color(QPalette.ColorRole.WindowText)
        if not self._predictions:
            painter.setPen(palette.color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self._placeholder)
            return
        paint_bars(
            painter,
            QRectF(self.rect()),
            self._predictions,
            text_color=text_color,
            track_color=palette.color(QPalette.ColorRole.AlternateBase),
            selected=self._selected,
        )


def paint_bars(
    painter: QPainter,
    area: QRectF,
    predictions: list[Prediction],
    *,
    text_color: QColor,
    track_color: QColor,
    selected: int | None = None,
    max_row_height: float | None = None,
) -> None:
    """Paint the bar rows into ``area``: used by the widget and by the report figure."""
    n = len(predictions)
    if n == 0:
        return
    margin = 6.0
    row_h = (area.height() - 2 * margin) / n
    if max_row_height is not None:
        row_h = min(row_h, max_row_height)
    label_w = min(max(area.width() * 0.42, 120.0), 260.0)
    metrics = QFontMetrics(painter.font())
    value_w = float(metrics.horizontalAdvance("100.0%") + 12)
    for k, (index, label, prob) in enumerate(predictions):
        top = area.top() + margin + k * row_h
        label_rect = QRectF(area.left() + margin, top, label_w - 2 * margin, row_h)
        painter.setPen(text_color)
        shown = metrics.elidedText(label, Qt.TextElideMode.ElideRight, int(label_rect.width()))
        painter.drawText(
            label_rect, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, shown
        )
        bar_h = min(row_h * 0.62, 28.0)
        bar_top = top + (row_h - bar_h) / 2
        track = QRectF(area.left() + label_w, bar_top, area.width() - label_w - value_w, bar_h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(track_color)
        painter.drawRoundedRect(track, 3, 3)
        fraction = min(max(prob, 0.0), 1.0)
        bar = QRectF(track.left(), track.top(), max(track.width() * fraction, 1.5), bar_h)
        painter.setBrush(SELECTED_COLOR if index == selected else BAR_COLOR)
        painter.drawRoundedRect(bar, 3, 3)
        painter.setPen(text_color)
        value_rect = QRectF(track.right() + 4, top, value_w - 4, row_h)
        painter.drawText(
            value_rect,
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft,
            format_prob(prob),
        )


def format_prob(prob: float) -> str:
    """0.8734 -> '87.3%'; tiny values keep a digit that is not zero."""
    percent = prob * 100.0
    if percent >= 9.95:
        return f"{percent:.1f}%"
    if percent >= 0.095:
        return f"{percent:.2f}%"
    return f"{percent:.1g}%" if percent > 0 else "0%"
