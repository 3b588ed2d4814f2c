"""A tiny canvas to paint a model input with the mouse (28x28 for Fashion-MNIST).

The picture is a float array in pixel units (0 black .. 255 white), painted with a soft
round brush so strokes look like the dataset's anti-aliased images. ``changed`` fires on
every stroke segment; the receiver decides how often to run the network.
"""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import QColor, QImage, QMouseEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.training.images import to_qimage


class DrawCanvas(QWidget):
    """Paint with the left button, erase with the right. ``image()`` is uint8 (H, W)."""

    changed = Signal()

    def __init__(self, height: int = 28, width: int = 28, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("drawCanvas")
        self.setMinimumSize(140, 140)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self.brush = 1.5  # radius in image pixels
        self.paint_value = 255.0
        self._pixels = np.zeros((height, width), np.float32)
        self._last: QPointF | None = None
        self._erasing = False

    # -- the picture -------------------------------------------------------------------
    def image(self) -> np.ndarray:
        return np.clip(np.rint(self._pixels), 0, 255).astype(np.uint8)

    def set_image(self, pixels: np.ndarray) -> None:
        self._pixels = np.asarray(pixels, np.float32).reshape(self._pixels.shape).copy()
        self.update()
        self.changed.emit()

    def resize_image(self, height: int, width: int) -> None:
        if self._pixels.shape != (height, width):
            self._pixels = np.zeros((height, width), np.float32)
            self.update()

    def clear(self) -> None:
        self._pixels[:] = 0.0
        self.update()
        self.changed.emit()

    def invert(self) -> None:
        self._pixels = 255.0 - self._pixels
        self.update()
        self.changed.emit()

    def stroke(
        self, start: tuple[float, float], end: tuple[float, float], erase: bool = False
    ) -> None:
        """Paint a line between two points given in image pixels (x, y), brush included."""
        h, w = self._pixels.shape
        (x0, y0), (x1, y1) = start, end
        length = max(abs(x1 - x0), abs(y1 - y0))
        count = max(1, int(np.ceil(length / 0.5)))
        ys, xs = np.mgrid[0:h, 0:w].astype(np.float32) + 0.5
        strength = np.zeros_like(self._pixels)
        for t in np.linspace(0.0, 1.0, count + 1):
            cx, cy = x0 + (x1 - x0) * t, y0 + (y1 - y0) * t
            dist = np.sqrt((xs - cx) ** 2 + (ys - cy) ** 2)
            # Full strength inside the radius, fading out over one pixel (anti-aliased).
            strength = np.maximum(strength, np.clip(self.brush + 0.5 - dist, 0.0, 1.0))
        target = 0.0 if erase else self.paint_value
        self._pixels += (target - self._pixels) * strength
        self.update()
        self.changed.emit()

    # -- geometry ----------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(224, 224)

    def _target(self) -> QRectF:
        h, w = self._pixels.shape
        scale = min(self.width() / w, self.height() / h)
        return QRectF(
            (self.width() - w * scale) / 2, (self.height() - h * scale) / 2, w * scale, h * scale
        )

    def _to_image(self, pos: QPointF) -> tuple[float, float]:
        r = self._target()
        h, w = self._pixels.shape
        return ((pos.x() - r.x()) / r.width() * w, (pos.y() - r.y()) / r.height() * h)

    # -- events ------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), self.palette().window())
        target = self._target()
        image: QImage = to_qimage(self.image())
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, image)
        painter.setPen(QPen(QColor(120, 120, 120), 1))
        painter.drawRect(target.adjusted(-1, -1, 0, 0))

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._erasing = event.button() == Qt.MouseButton.RightButton
        self._last = event.position()
        p = self._to_image(self._last)
        self.stroke(p, p, self._erasing)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._last is None:
            return
        pos = event.position()
        self.stroke(self._to_image(self._last), self._to_image(pos), self._erasing)
        self._last = pos

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        self._last = None


class DrawPanel(QWidget):
    """The canvas with its brush size, Clear and Invert controls; ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = DrawCanvas()
        self.brush_spin = QSpinBox()
        self.brush_spin.setRange(1, 6)
        self.brush_spin.setValue(2)
        self.brush_spin.setPrefix("brush ")
        self.brush_spin.setToolTip("Brush diameter in image pixels")
        self.clear_button = QPushButton("Clear")
        self.invert_button = QPushButton("Invert")
        self.invert_button.setToolTip("Swap black and white (the data is white on black)")
        row = QHBoxLayout()
        for w in (self.brush_spin, self.clear_button, self.invert_button):
            row.addWidget(w)
        row.addStretch(1)
        hint = QLabel("Left button paints, right button erases.")
        hint.setObjectName("drawHint")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.canvas, 1)
        layout.addWidget(hint)
        self.brush_spin.valueChanged.connect(self._on_brush)
        self.clear_button.clicked.connect(self.canvas.clear)
        self.invert_button.clicked.connect(self.canvas.invert)
        self.canvas.changed.connect(self.changed)
        self._on_brush(self.brush_spin.value())

    def _on_brush(self, size: int) -> None:
        self.canvas.brush = max(0.5, size / 2.0)
