"""Small widgets the Classify lab's panels share: a map tile, the colour legend, a
progress row with Cancel, and a searchable class picker."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QLinearGradient, QPainter, QPaintEvent
from PySide6.QtWidgets import (
    QComboBox,
    QCompleter,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
)

from gui.classify_tab.imaging import DEFAULT_COLORMAP, heat_lut
from gui.classify_tab.photo_view import PhotoView


class MapTile(QWidget):
    """A title, the model's input with one map over it, and a caption under it."""

    def __init__(self, title: str, side: int = 150, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel(title)
        self.title.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        font = self.title.font()
        font.setBold(True)
        self.title.setFont(font)
        self.view = PhotoView("")
        self.view.setFixedSize(side, side)
        self.view.set_heat_visible(True)
        self.caption = QLabel("")
        self.caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.caption.setWordWrap(True)
        self.caption.setMaximumWidth(side + 20)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.setSpacing(2)
        layout.addWidget(self.title)
        layout.addWidget(self.view, 0, Qt.AlignmentFlag.AlignHCenter)
        layout.addWidget(self.caption)
        self._side = side

    def sizeHint(self) -> QSize:
        return QSize(self._side, self._side + 40)

    def set_picture(self, image: QImage | None, heat: QImage | None, caption: str = "") -> None:
        self.view.set_image(image)
        self.view.set_heat(heat)
        self.caption.setText(caption)


class ColorBar(QWidget):
    """The legend of the maps: the colour map from low to high, labelled."""

    def __init__(self, low: str = "low", high: str = "high", parent: QWidget | None = None):
        super().__init__(parent)
        self._cmap = DEFAULT_COLORMAP
        self._low, self._high = low, high
        self.setMinimumHeight(34)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)

    def set_colormap(self, name: str) -> None:
        self._cmap = name
        self.update()

    def colormap(self) -> str:
        return self._cmap

    def sizeHint(self) -> QSize:
        return QSize(240, 34)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        try:
            self._paint(painter)
        finally:
            painter.end()

    def _paint(self, painter: QPainter) -> None:
        bar = QRectF(4, 2, self.width() - 8, 14)
        gradient = QLinearGradient(bar.topLeft(), bar.topRight())
        table = heat_lut(self._cmap)
        for i in range(0, 256, 15):
            r, g, b = (int(c) for c in table[i])
            gradient.setColorAt(i / 255.0, QColor(r, g, b))
        r, g, b = (int(c) for c in table[255])
        gradient.setColorAt(1.0, QColor(r, g, b))
        painter.fillRect(bar, gradient)
        painter.setPen(self.palette().color(self.foregroundRole()))
        text = QRectF(4, 17, self.width() - 8, self.height() - 17)
        painter.drawText(text, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, self._low)
        painter.drawText(text, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignTop, self._high)


class ProgressRow(QWidget):
    """A progress bar with its text and a Cancel button; hidden while idle."""

    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.bar = QProgressBar()
        self.bar.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.clicked.connect(self.cancel_requested)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.bar, 1)
        layout.addWidget(self.cancel_button)
        self.setVisible(False)

    def start(self, text: str = "") -> None:
        self.bar.setRange(0, 0)
        self.bar.setFormat(text)
        self.setVisible(True)

    def set_progress(self, done: int, total: int, text: str) -> None:
        self.bar.setRange(0, max(total, 1))
        self.bar.setValue(done)
        self.bar.setFormat(f"{text}  {done}/{total}" if total else text)

    def finish(self) -> None:
        self.setVisible(False)


def class_picker(tooltip: str) -> QComboBox:
    """An editable combo that finds a class by any part of its name."""
    combo = QComboBox()
    combo.setEditable(True)
    combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
    combo.setMinimumContentsLength(10)
    combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
    combo.setToolTip(tooltip)
    completer = QCompleter(combo.model(), combo)
    completer.setFilterMode(Qt.MatchFlag.MatchContains)
    completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
    completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
    combo.setCompleter(completer)

    def typed() -> None:
        # Enter on a part of a name picks the first class that contains it, as if chosen.
        text = combo.currentText().strip()
        found = combo.findText(text, Qt.MatchFlag.MatchContains) if text else -1
        if found >= 0:
            combo.setCurrentIndex(found)
            combo.activated.emit(found)

    combo.lineEdit().returnPressed.connect(typed)
    return combo
