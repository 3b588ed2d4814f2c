"""Widgets that draw what a CNN holds: feature-map grids, value bars, class probabilities,
pictures with an outlined box, and convolution filters.

They take numpy arrays and turn them into pixels with ``nets.cnn.pictures`` (the same
pictures the command line writes). Pixels are only made when a widget is painted, so a
long scroll list of layers costs nothing for the layers out of sight, which is what keeps
the view live while the user draws.
"""

from __future__ import annotations

import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QPen,
    QPixmap,
)
from PySide6.QtWidgets import QSizePolicy, QToolTip, QWidget

from gui.training.images import to_qimage
from nets.cnn import pictures as pic

SELECT_PEN = QColor(0, 200, 255)
TEXT_HEIGHT = 13
MIN_TILE = 44
MIN_CELL_WIDTH = 64  # room for a channel's "min…max" under its tile


def _small_font(widget: QWidget) -> QFont:
    font = QFont(widget.font())
    font.setPointSizeF(max(6.5, font.pointSizeF() * 0.75))
    return font


class MapsGrid(QWidget):
    """A layer's feature maps (C, h, w) as tiles with each channel's min and max below.

    ``mode`` ``"grey"`` stretches each channel over its own range (activations);
    ``"signed"`` shares one blue-white-red scale across the layer (gradients). Clicking a
    tile's pixel emits ``pixel_clicked(channel, y, x)``; ``select`` outlines one.
    """

    pixel_clicked = Signal(int, int, int)

    def __init__(self, mode: str = "grey", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.mode = mode
        self.setMouseTracking(True)
        policy = QSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        policy.setHeightForWidth(True)
        self.setSizePolicy(policy)
        self._maps: np.ndarray | None = None
        self._image: QPixmap | None = None
        self._ranges: np.ndarray | None = None
        self._image_columns = 0
        self._selected: tuple[int, int, int] | None = None

    def set_maps(self, maps: np.ndarray | None) -> None:
        old = None if self._maps is None else self._maps.shape
        self._maps = None if maps is None else np.asarray(maps, np.float32)
        self._image = None  # made again at the next paint
        self._ranges = None
        if old != (None if self._maps is None else self._maps.shape):
            self.updateGeometry()
        self.update()

    def select(self, selection: tuple[int, int, int] | None) -> None:
        self._selected = selection
        self.update()

    # -- layout --------------------------------------------------------------------------
    def _scale(self) -> int:
        h, w = self._maps.shape[1:] if self._maps is not None else (1, 1)
        return max(1, math.ceil(MIN_TILE / max(h, w)))

    def _cell(self) -> tuple[int, int]:
        h, w = self._maps.shape[1:] if self._maps is not None else (1, 1)
        s = self._scale()
        return max(w * s + 4, MIN_CELL_WIDTH), h * s + TEXT_HEIGHT + 4

    def _columns(self, width: int) -> int:
        return max(1, width // self._cell()[0])

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        if self._maps is None:
            return 20
        rows = math.ceil(len(self._maps) / self._columns(width))
        return rows * self._cell()[1]

    def sizeHint(self) -> QSize:
        return QSize(600, self.heightForWidth(600))

    def _tile_rect(self, i: int) -> QRectF:
        cw, ch = self._cell()
        r, c = divmod(i, self._columns(self.width()))
        s = self._scale()
        h, w = self._maps.shape[1:]
        return QRectF(c * cw + (cw - w * s) // 2, r * ch + 2, w * s, h * s)

    # -- pixels --------------------------------------------------------------------------
    def _ensure_image(self) -> None:
        """The whole grid as one picture at display size (every tile enlarged with numpy),
        so a paint is one unscaled blit instead of a scaled one per channel."""
        if self._maps is None:
            return
        columns = self._columns(self.width())
        if self._image is not None and self._image_columns == columns:
            return
        maps = self._maps
        if self.mode == "signed":
            tiles = pic.signed_rgb(maps)  # (C, h, w, 3), one scale for the layer
        else:
            tiles = pic.grey_each(maps)
        s = self._scale()
        tiles = np.repeat(np.repeat(tiles, s, axis=1), s, axis=2)
        cw, ch = self._cell()
        rows = math.ceil(len(maps) / columns)
        background = self.palette().window().color()
        fill = (
            (background.red(), background.green(), background.blue())
            if tiles.ndim == 4
            else background.lightness()
        )
        grid = np.empty((rows * ch, columns * cw, *tiles.shape[3:]), np.uint8)
        grid[...] = fill
        th, tw = tiles.shape[1:3]
        for i in range(len(maps)):
            rect = self._tile_rect(i)
            top, left = int(rect.y()), int(rect.x())
            grid[top : top + th, left : left + tw] = tiles[i]
        # A pixmap is in the screen's own format: painting it is a plain copy.
        self._image = QPixmap.fromImage(to_qimage(grid))
        self._image_columns = columns
        flat = maps.reshape(len(maps), -1)
        self._ranges = np.stack([flat.min(1), flat.max(1)], 1)

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._maps is None:
            return
        self._ensure_image()
        painter = QPainter(self)
        painter.drawPixmap(event.rect(), self._image, event.rect())
        painter.setFont(_small_font(self))
        painter.setPen(self.palette().text().color())
        visible = QRectF(event.rect())
        for i in range(len(self._maps)):
            rect = self._tile_rect(i)
            text_rect = QRectF(rect.x() - 8, rect.bottom(), rect.width() + 16, TEXT_HEIGHT)
            if not text_rect.intersects(visible):
                continue
            lo, hi = self._ranges[i]
            painter.drawText(text_rect, Qt.AlignmentFlag.AlignCenter, f"{lo:.2g}…{hi:.2g}")
        if self._selected is not None and self._selected[0] < len(self._maps):
            channel, y, x = self._selected
            rect = self._tile_rect(channel)
            s = self._scale()
            painter.setPen(QPen(SELECT_PEN, 2))
            painter.drawRect(rect.adjusted(-1, -1, 1, 1))
            painter.drawRect(QRectF(rect.x() + x * s, rect.y() + y * s, s, s))

    def _hit(self, pos: QPointF) -> tuple[int, int, int] | None:
        if self._maps is None:
            return None
        s = self._scale()
        h, w = self._maps.shape[1:]
        for i in range(len(self._maps)):
            rect = self._tile_rect(i)
            if rect.contains(pos):
                y = min(h - 1, int((pos.y() - rect.y()) // s))
                x = min(w - 1, int((pos.x() - rect.x()) // s))
                return i, y, x
        return None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        hit = self._hit(event.position())
        if hit is not None:
            self.select(hit)
            self.pixel_clicked.emit(*hit)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        hit = self._hit(event.position())
        if hit is None:
            QToolTip.hideText()
            return
        c, y, x = hit
        value = float(self._maps[c, y, x])
        QToolTip.showText(
            event.globalPosition().toPoint(),
            f"channel {c}, pixel ({y}, {x}): {value:.4g} — click for its receptive field "
            "and the validation patches it likes most",
            self,
        )

    def tile_center(self, channel: int, y: int, x: int) -> QPointF:
        """Widget coordinates of a map pixel (for tests and tours)."""
        rect = self._tile_rect(channel)
        s = self._scale()
        return QPointF(rect.x() + (x + 0.5) * s, rect.y() + (y + 0.5) * s)


class BarsView(QWidget):
    """A flat layer's values (F,) as vertical bars around zero (red up, blue down).

    Clicking a bar emits ``unit_clicked(index)``.
    """

    unit_clicked = Signal(int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMinimumHeight(70)
        self.setMouseTracking(True)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._values: np.ndarray | None = None
        self._selected: int | None = None
        self.labels: tuple[str, ...] = ()

    def set_values(self, values: np.ndarray | None) -> None:
        self._values = None if values is None else np.asarray(values, np.float32).reshape(-1)
        self.update()

    def select(self, index: int | None) -> None:
        self._selected = index
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(600, 90 if self.labels else 70)

    def _bar_width(self) -> float:
        n = len(self._values) if self._values is not None else 1
        return max(1.0, self.width() / max(1, n))

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._values is None or not len(self._values):
            return
        painter = QPainter(self)
        v = np.nan_to_num(self._values)
        peak = float(np.abs(v).max()) or 1.0
        label_h = TEXT_HEIGHT + 2 if self.labels else 0
        height = self.height() - label_h
        negative = bool((v < 0).any())
        zero = height / 2 if negative else height - 1
        room = (height / 2 - 2) if negative else height - 3
        bw = self._bar_width()
        for i, value in enumerate(v):
            length = abs(value) / peak * room
            top = zero - length if value >= 0 else zero
            colour = QColor(200, 60, 40) if value >= 0 else QColor(40, 80, 200)
            painter.fillRect(QRectF(i * bw, top, max(1.0, bw - 1), max(1.0, length)), colour)
        painter.setPen(QColor(120, 120, 120))
        painter.drawLine(QPointF(0, zero), QPointF(self.width(), zero))
        painter.setFont(_small_font(self))
        painter.drawText(
            QRectF(2, 0, self.width() - 4, TEXT_HEIGHT),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop,
            f"{len(v)} values, min {float(v.min()):.3g}, max {float(v.max()):.3g}",
        )
        if self.labels:
            painter.setFont(_small_font(self))
            painter.setPen(self.palette().text().color())
            for i, text in enumerate(self.labels[: len(v)]):
                painter.drawText(
                    QRectF(i * bw, height, bw, label_h), Qt.AlignmentFlag.AlignCenter, text
                )
        if self._selected is not None and self._selected < len(v):
            painter.setPen(QPen(SELECT_PEN, 2))
            painter.drawRect(QRectF(self._selected * bw, 0, bw, height))

    def _hit(self, pos: QPointF) -> int | None:
        if self._values is None:
            return None
        i = int(pos.x() // self._bar_width())
        return i if 0 <= i < len(self._values) else None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        i = self._hit(event.position())
        if i is not None:
            self.select(i)
            self.unit_clicked.emit(i)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        i = self._hit(event.position())
        if i is not None:
            name = f" ({self.labels[i]})" if i < len(self.labels) else ""
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"unit {i}{name}: {float(self._values[i]):.4g}",
                self,
            )


class ProbabilityBars(QWidget):
    """Class probabilities as horizontal bars, best first marked; the class whose
    gradient is shown carries a ∇ mark."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Fixed)
        self._names: tuple[str, ...] = ()
        self._probs: np.ndarray | None = None
        self._target: int | None = None
        self._label: int | None = None

    def set_result(
        self,
        names: tuple[str, ...],
        probs: np.ndarray | None,
        target: int | None = None,
        label: int | None = None,
    ) -> None:
        self._names, self._probs, self._target, self._label = names, probs, target, label
        self.updateGeometry()
        self.update()

    def sizeHint(self) -> QSize:
        return QSize(260, max(1, len(self._names)) * 17 + 4)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._probs is None:
            return
        painter = QPainter(self)
        best = int(np.argmax(self._probs))
        name_w = min(110, self.width() // 3)
        bar_w = self.width() - name_w - 52
        for i, name in enumerate(self._names):
            y = 2 + i * 17
            p = float(self._probs[i])
            mark = ("∇ " if i == self._target else "") + ("✓ " if i == self._label else "")
            painter.setPen(self.palette().text().color())
            painter.drawText(
                QRectF(0, y, name_w - 4, 15),
                Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
                f"{mark}{name}",
            )
            colour = QColor(220, 110, 30) if i == best else QColor(90, 140, 200)
            painter.fillRect(QRectF(name_w, y + 2, max(1.0, p * bar_w), 11), colour)
            painter.drawText(
                QRectF(name_w + bar_w + 4, y, 48, 15),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"{100 * p:.1f}%",
            )


class PictureView(QWidget):
    """One picture (uint8 (H, W) or (H, W, 3)) scaled to fit with crisp pixels, a title
    above it and optionally an outlined box (rows top:bottom, columns left:right) in
    picture pixels."""

    def __init__(self, title: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.setMinimumSize(120, 130)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self._image: QImage | None = None
        self._size = (1, 1)
        self._box: tuple[int, int, int, int] | None = None

    def set_picture(self, pixels: np.ndarray | None) -> None:
        if pixels is None:
            self._image = None
        else:
            self._image = to_qimage(np.ascontiguousarray(pixels, dtype=np.uint8))
            self._size = (int(pixels.shape[0]), int(pixels.shape[1]))
        self.update()

    def set_box(self, box: tuple[int, int, int, int] | None) -> None:
        self._box = box
        self.update()

    def box(self) -> tuple[int, int, int, int] | None:
        return self._box

    def sizeHint(self) -> QSize:
        return QSize(180, 200)

    def target_rect(self) -> QRectF:
        h, w = self._size
        top = TEXT_HEIGHT + 4 if self.title else 0
        scale = max(0.1, min(self.width() / w, (self.height() - top) / h))
        return QRectF((self.width() - w * scale) / 2, top, w * scale, h * scale)

    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        if self.title:
            painter.setPen(self.palette().text().color())
            painter.drawText(
                QRectF(0, 0, self.width(), TEXT_HEIGHT + 2),
                Qt.AlignmentFlag.AlignCenter,
                self.title,
            )
        if self._image is None:
            return
        target = self.target_rect()
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.drawImage(target, self._image)
        if self._box is not None:
            h, w = self._size
            top, left, bottom, right = self._box
            sx, sy = target.width() / w, target.height() / h
            painter.setPen(QPen(SELECT_PEN, 2))
            painter.drawRect(
                QRectF(
                    target.x() + left * sx,
                    target.y() + top * sy,
                    (right - left) * sx,
                    (bottom - top) * sy,
                )
            )


class FilterGrid(QWidget):
    """A convolution's weights (out, in, k, k) as small pictures on one blue-white-red
    scale: a row per output channel, a column per input channel, and each row's L2 norm
    at its end (hover a filter for its own norm)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setMouseTracking(True)
        self._weights: np.ndarray | None = None
        self._norms: np.ndarray | None = None
        self._image: QImage | None = None

    def set_filters(self, weights: np.ndarray, norms: np.ndarray) -> None:
        self._weights = np.asarray(weights, np.float32)
        self._norms = np.asarray(norms, np.float32)
        self._image = None
        self.updateGeometry()
        self.update()

    def _scale(self) -> int:
        k = self._weights.shape[2] if self._weights is not None else 1
        return max(2, math.ceil(18 / k))

    def _cell(self) -> int:
        return self._weights.shape[2] * self._scale() + 3

    def sizeHint(self) -> QSize:
        if self._weights is None:
            return QSize(100, 20)
        out, inp = self._weights.shape[:2]
        return QSize(inp * self._cell() + 70, out * self._cell() + 2)

    def minimumSizeHint(self) -> QSize:
        return self.sizeHint()

    def paintEvent(self, event: QPaintEvent) -> None:
        if self._weights is None:
            return
        out, inp, k, _ = self._weights.shape
        if self._image is None:
            rgb = pic.signed_rgb(self._weights)  # (out, in, k, k, 3), one scale per layer
            grid = rgb.transpose(0, 2, 1, 3, 4).reshape(out * k, inp * k, 3)
            self._image = to_qimage(np.ascontiguousarray(grid))
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, False)
        painter.setFont(_small_font(self))
        painter.setPen(self.palette().text().color())
        cell, s = self._cell(), self._scale()
        painter.fillRect(QRectF(0, 0, inp * cell + 1, out * cell + 1), QColor(70, 70, 70))
        row_norms = np.sqrt((self._norms.astype(np.float64) ** 2).sum(axis=1))
        for o in range(out):
            y = 1 + o * cell
            if y > event.rect().bottom() or y + cell < event.rect().top():
                continue
            for i in range(inp):
                painter.drawImage(
                    QRectF(2 + i * cell, y + 1, k * s, k * s),
                    self._image,
                    QRectF(i * k, o * k, k, k),
                )
            painter.drawText(
                QRectF(inp * cell + 4, y, 66, cell),
                Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                f"‖w‖ {row_norms[o]:.3g}",
            )

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._weights is None:
            return
        cell = self._cell()
        o, i = int(event.position().y() // cell), int(event.position().x() // cell)
        out, inp = self._weights.shape[:2]
        if 0 <= o < out and 0 <= i < inp:
            QToolTip.showText(
                event.globalPosition().toPoint(),
                f"filter {o}, input channel {i}: L2 norm {float(self._norms[o, i]):.4g}",
                self,
            )
