"""Shows an image fitted to the widget (aspect kept), optionally with a heat-map on top."""

from __future__ import annotations

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter, QPaintEvent, QPalette, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


class PhotoView(QWidget):
    """A fitted image with an optional heat-map overlay of adjustable opacity."""

    def __init__(self, placeholder: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._image: QImage | None = None
        self._heat: QImage | None = None
        self._heat_visible = False
        self._opacity = 0.5
        self._placeholder = placeholder
        self._smooth = True
        self._crop: QRectF | None = None
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setMinimumSize(120, 120)

    # -- content ---------------------------------------------------------------------
    def set_image(self, image: QImage | None) -> None:
        self._image = image
        self._heat = None
        self.update()

    def image(self) -> QImage | None:
        return self._image

    def set_heat(self, heat: QImage | None) -> None:
        """The colour heat-map (any size: it is stretched over the photo)."""
        self._heat = heat
        self.update()

    def heat(self) -> QImage | None:
        return self._heat

    def set_heat_visible(self, visible: bool) -> None:
        self._heat_visible = visible
        self.update()

    def heat_shown(self) -> bool:
        """Whether a heat-map is actually painted now."""
        return self._heat_visible and self._heat is not None and self._image is not None

    def set_opacity(self, opacity: float) -> None:
        self._opacity = min(max(float(opacity), 0.0), 1.0)
        self.update()

    def opacity(self) -> float:
        return self._opacity

    def set_crop_box(self, box: QRectF | None) -> None:
        """The region the model saw, in image pixels: outlined while the heat-map shows."""
        self._crop = box
        self.update()

    def set_placeholder(self, text: str) -> None:
        """Shown (centred, in a dashed frame) while there is no image."""
        self._placeholder = text
        self.update()

    def placeholder(self) -> str:
        return self._placeholder

    def set_smooth(self, smooth: bool) -> None:
        """False shows pixels as blocks (the model's 224 x 224 input, enlarged)."""
        self._smooth = smooth
        self.update()

    # -- painting --------------------------------------------------------------------
    def sizeHint(self) -> QSize:
        return QSize(480, 360)

    def image_rect(self) -> QRect:
        """Where the image is drawn inside the widget."""
        if self._image is None or self._image.isNull():
            return QRect()
        size = self._image.size().scaled(self.size(), Qt.AspectRatioMode.KeepAspectRatio)
        x = (self.width() - size.width()) // 2
        y = (self.height() - size.height()) // 2
        return QRect(x, y, size.width(), size.height())

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self._image is None or self._image.isNull():
            pen = QPen(self.palette().color(QPalette.ColorRole.Mid), 1.5, Qt.PenStyle.DashLine)
            painter.setPen(pen)
            painter.drawRoundedRect(QRectF(self.rect()).adjusted(4, 4, -4, -4), 8, 8)
            painter.setPen(self.palette().color(QPalette.ColorRole.PlaceholderText))
            painter.drawText(
                self.rect().adjusted(12, 12, -12, -12),
                Qt.AlignmentFlag.AlignCenter | Qt.TextFlag.TextWordWrap,
                self._placeholder,
            )
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._smooth)
        target = self.image_rect()
        painter.drawImage(target, self._image)
        if self.heat_shown():
            painter.setOpacity(self._opacity)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawImage(target, self._heat)
            painter.setOpacity(1.0)
            if self._crop is not None and not self._crop.isEmpty():
                sx = target.width() / self._image.width()
                sy = target.height() / self._image.height()
                box = QRectF(
                    target.x() + self._crop.x() * sx,
                    target.y() + self._crop.y() * sy,
                    self._crop.width() * sx,
                    self._crop.height() * sy,
                ).adjusted(0.5, 0.5, -0.5, -0.5)
                painter.setPen(QPen(QColor(255, 255, 255, 200), 1.2, Qt.PenStyle.DashLine))
                painter.setBrush(Qt.BrushStyle.NoBrush)
                painter.drawRect(box)
