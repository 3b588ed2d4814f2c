"""Image widgets for trained models: a captioned gallery (e.g. misclassified images)
and a tiled grid (e.g. first-layer weights, one small image per hidden unit).

Both take numpy arrays: ``(N, H, W)`` grey or ``(N, H, W, 3)`` RGB, uint8 as is, any
other dtype rescaled to 0..255 (per image or over all images). NaN/inf become 0.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QRectF, QSize, Qt
from PySide6.QtGui import (
    QColor,
    QFontMetrics,
    QIcon,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPixmap,
)
from PySide6.QtWidgets import (
    QListView,
    QListWidget,
    QListWidgetItem,
    QSizePolicy,
    QToolTip,
    QWidget,
)

if TYPE_CHECKING:
    import numpy as np


def to_uint8(images: np.ndarray, normalize: str = "each") -> np.ndarray:
    """``(N, H, W[, 3])`` -> uint8 of the same shape. ``normalize``: ``"each"`` (min-max per
    image), ``"all"`` (min-max over the whole batch) or ``"none"`` (clip to 0..255)."""
    import numpy as np

    arr = np.asarray(images)
    if arr.dtype == np.uint8:
        return arr
    arr = np.nan_to_num(arr.astype(np.float64), nan=0.0, posinf=0.0, neginf=0.0)
    if normalize == "none":
        return np.clip(arr, 0, 255).astype(np.uint8)
    axes = tuple(range(1, arr.ndim)) if normalize == "each" else None
    lo = arr.min(axis=axes, keepdims=True) if arr.size else 0.0
    hi = arr.max(axis=axes, keepdims=True) if arr.size else 1.0
    span = np.where(hi - lo > 0, hi - lo, 1.0)
    return np.clip((arr - lo) / span * 255.0, 0, 255).astype(np.uint8)


def to_qimage(image: np.ndarray) -> QImage:
    """One uint8 image ``(H, W)`` or ``(H, W, 3)`` -> a QImage that owns its pixels."""
    import numpy as np

    image = np.ascontiguousarray(image)
    if image.ndim == 2:
        h, w = image.shape
        return QImage(image.data, w, h, w, QImage.Format.Format_Grayscale8).copy()
    if image.ndim == 3 and image.shape[2] == 1:
        return to_qimage(image[:, :, 0])
    if image.ndim == 3 and image.shape[2] == 3:
        h, w, _ = image.shape
        return QImage(image.data, w, h, 3 * w, QImage.Format.Format_RGB888).copy()
    raise ValueError(f"an image is (H, W) or (H, W, 3), got shape {image.shape}")


def _check_batch(images: np.ndarray) -> np.ndarray:
    import numpy as np

    images = np.asarray(images)
    if images.ndim == 4 and images.shape[-1] == 1:
        images = images[..., 0]
    if images.ndim not in (3, 4) or (images.ndim == 4 and images.shape[-1] != 3):
        raise ValueError(f"images are (N, H, W) or (N, H, W, 3), got shape {images.shape}")
    return images


#: A gallery cell grows to its widest caption up to this width (pixels).
MAX_CAPTION_W = 170


class ImageGallery(QListWidget):
    """A wrapping grid of captioned thumbnails.

    ``set_images(images, captions, tooltips=None, normalize="each")``;
    ``count()`` is the number shown; ``captions()`` what they say.
    """

    def __init__(self, parent: QWidget | None = None, *, thumb: int = 64) -> None:
        super().__init__(parent)
        self.setObjectName("imageGallery")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setResizeMode(QListView.ResizeMode.Adjust)
        self.setMovement(QListView.Movement.Static)
        self.setUniformItemSizes(True)
        self.setWordWrap(True)
        self.setSpacing(4)
        self.set_thumb_size(thumb)

    def set_thumb_size(self, thumb: int) -> None:
        self._thumb = int(thumb)
        self.setIconSize(QSize(self._thumb, self._thumb))
        self.setGridSize(QSize(self._thumb + 34, self._thumb + 40))

    def set_images(
        self,
        images: np.ndarray,
        captions: list[str],
        tooltips: list[str] | None = None,
        normalize: str = "each",
    ) -> None:
        self.clear()
        images = _check_batch(images)
        if len(captions) != len(images):
            raise ValueError(f"{len(images)} images but {len(captions)} captions")
        pixels = to_uint8(images, normalize)
        self._fit_grid(captions)
        for i, caption in enumerate(captions):
            qimage = to_qimage(pixels[i]).scaled(
                self._thumb,
                self._thumb,
                Qt.AspectRatioMode.KeepAspectRatio,
                Qt.TransformationMode.FastTransformation,  # keep tiny images crisp
            )
            item = QListWidgetItem(QIcon(self._padded(qimage)), caption)
            item.setTextAlignment(Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop)
            if tooltips is not None:
                item.setToolTip(tooltips[i])
            self.addItem(item)

    def captions(self) -> list[str]:
        return [self.item(i).text() for i in range(self.count())]

    def caption_fits(self) -> bool:
        """Every caption line fits the width its item is drawn at (for the tests)."""
        fm = QFontMetrics(self.font())
        for i in range(self.count()):
            item = self.item(i)
            width = self.visualItemRect(item).width()
            if any(fm.horizontalAdvance(line) > width for line in item.text().split("\n")):
                return False
        return True

    def _fit_grid(self, captions: list[str]) -> None:
        """Cells wide and tall enough for every caption line ("automobile → truck" read
        "auto..."), up to ``MAX_CAPTION_W`` pixels."""
        fm = QFontMetrics(self.font())
        lines = [line for caption in captions for line in caption.split("\n")]
        widest = max((fm.horizontalAdvance(line) for line in lines), default=0)
        rows = max((caption.count("\n") + 1 for caption in captions), default=1)
        width = min(MAX_CAPTION_W, max(self._thumb + 34, widest + 14))
        self.setGridSize(QSize(width, self._thumb + 12 + rows * fm.height()))
        # Captions under an icon wrap to the icon's width: a wide icon (the thumbnail
        # keeps its size, centred on a transparent strip) lets them use the whole cell.
        self.setIconSize(QSize(width - 10, self._thumb))

    def _padded(self, image: QImage) -> QPixmap:
        size = self.iconSize()
        pixmap = QPixmap(size)
        pixmap.fill(Qt.GlobalColor.transparent)
        painter = QPainter(pixmap)
        painter.drawImage((size.width() - image.width()) // 2, 0, image)
        painter.end()
        return pixmap


class ImageGrid(QWidget):
    """Tiles ``N`` small images into a grid that fills the widget, scaled up with
    nearest-neighbour so every pixel stays visible. Hover shows the tile's label.

    ``set_images(images, labels=None, normalize="each")``; ``clear()``; ``tile_count()``.
    """

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("imageGrid")
        self.setMouseTracking(True)
        self.setMinimumSize(160, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._tiles: list[QImage] = []
        self._labels: list[str] = []
        self._tile_size = QSize(1, 1)
        self.empty_text = "Nothing to show yet."
        self.gap = 2

    def set_images(
        self, images: np.ndarray, labels: list[str] | None = None, normalize: str = "each"
    ) -> None:
        images = _check_batch(images)
        pixels = to_uint8(images, normalize)
        self._tiles = [to_qimage(p) for p in pixels]
        self._labels = list(labels) if labels is not None else [f"#{i}" for i in range(len(pixels))]
        h, w = (int(images.shape[1]), int(images.shape[2])) if len(pixels) else (1, 1)
        self._tile_size = QSize(w, h)
        self.update()

    def clear(self) -> None:
        self._tiles = []
        self._labels = []
        self.update()

    def tile_count(self) -> int:
        return len(self._tiles)

    def sizeHint(self) -> QSize:
        return QSize(480, 400)

    def _grid(self) -> tuple[int, int, float]:
        """(columns, rows, scale) that fit ``N`` tiles into the widget at the largest scale."""
        n = len(self._tiles)
        w, h = self._tile_size.width(), self._tile_size.height()
        best = (1, n, 0.0)
        for cols in range(1, n + 1):
            rows = math.ceil(n / cols)
            scale = min(
                (self.width() - self.gap * (cols + 1)) / (cols * w),
                (self.height() - self.gap * (rows + 1)) / (rows * h),
            )
            if scale > best[2]:
                best = (cols, rows, scale)
        return best

    def _tile_rect(self, i: int, cols: int, scale: float) -> QRectF:
        w, h = self._tile_size.width() * scale, self._tile_size.height() * scale
        r, c = divmod(i, cols)
        return QRectF(self.gap + c * (w + self.gap), self.gap + r * (h + self.gap), w, h)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor(40, 40, 40) if self._tiles else self.palette().base())
        if not self._tiles:
            painter.setPen(self.palette().text().color())
            painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, self.empty_text)
            return
        cols, _rows, scale = self._grid()
        if scale <= 0:
            return
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        for i, tile in enumerate(self._tiles):
            painter.drawImage(self._tile_rect(i, cols, scale), tile)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if not self._tiles:
            return
        cols, _rows, scale = self._grid()
        pos = event.position()
        for i in range(len(self._tiles)):
            if self._tile_rect(i, cols, scale).contains(pos):
                QToolTip.showText(event.globalPosition().toPoint(), self._labels[i], self, QRect())
                return
        QToolTip.hideText()
