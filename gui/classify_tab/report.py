"""Report figures: a photo beside its top-5 titled with the student's verdict (the seed's), and
an adversarial example beside its original, perturbation and both top-5s.

Painted on a ``QImage`` (GUI thread); the tab writes the PNG atomically with
``gui.files.atomic_write_bytes``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QRect, QRectF, Qt
from PySide6.QtGui import QColor, QFont, QImage, QPainter

from gui.classify_tab.imaging import heat_to_qimage, rgb_to_qimage
from gui.classify_tab.top_chart import Prediction, paint_bars

if TYPE_CHECKING:
    import numpy as np

FIGURE_SIZE = (1200, 560)
#: How strongly the report's heat-map covers its copy of the photo.
HEAT_OPACITY = 0.6
_VERDICT_COLORS = {"reasonable": QColor(30, 140, 60), "unreasonable": QColor(200, 90, 20)}


def render_report(
    photo: np.ndarray,
    top: list[Prediction],
    mark: str,
    name: str,
    model: str,
    heat: np.ndarray | None = None,
) -> QImage:
    """The figure as a ``FIGURE_SIZE`` RGB image. ``photo`` is ``(H, W, 3)`` uint8;
    ``heat`` (``(H, W)`` in [0, 1], the top-1 class's Grad-CAM) is drawn over a second
    copy of the photo under the first, with its class named."""
    width, height = FIGURE_SIZE
    figure = QImage(width, height, QImage.Format.Format_RGB32)
    figure.fill(QColor("white"))
    painter = QPainter(figure)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform)
        margin = 24
        photo_box = QRect(margin, margin, 520, height - 2 * margin)
        image = rgb_to_qimage(photo)
        if heat is None:
            painter.drawImage(_fit(image, photo_box), image)
        else:
            caption_h = 26
            half = (photo_box.height() - caption_h) // 2
            top_box = QRect(photo_box.x(), photo_box.y(), photo_box.width(), half - 4)
            heat_box = QRect(photo_box.x(), photo_box.y() + half + 4, photo_box.width(), half - 4)
            painter.drawImage(_fit(image, top_box), image)
            target = _fit(image, heat_box)
            painter.drawImage(target, image)
            painter.setOpacity(HEAT_OPACITY)
            painter.drawImage(target, heat_to_qimage(heat))
            painter.setOpacity(1.0)
            caption_font = QFont(painter.font())
            caption_font.setPixelSize(16)
            painter.setFont(caption_font)
            painter.setPen(QColor(60, 60, 60))
            label = top[0][1] if top else "the top class"
            painter.drawText(
                QRect(photo_box.x(), heat_box.bottom() + 4, photo_box.width(), caption_h),
                Qt.AlignmentFlag.AlignHCenter | Qt.AlignmentFlag.AlignTop,
                f"Grad-CAM: where the model looked for \u201c{label}\u201d",
            )

        left = photo_box.right() + 2 * margin
        title_font = QFont(painter.font())
        title_font.setPixelSize(30)
        title_font.setBold(True)
        painter.setFont(title_font)
        painter.setPen(_VERDICT_COLORS.get(mark, QColor("black")))
        verdict = {"reasonable": "Reasonable", "unreasonable": "Unreasonable"}.get(mark, mark)
        painter.drawText(QRect(left, margin, width - left - margin, 40), 0, verdict)

        body_font = QFont(painter.font())
        body_font.setPixelSize(17)
        body_font.setBold(False)
        painter.setFont(body_font)
        painter.setPen(QColor(60, 60, 60))
        info = f"{name}\nModel: {model}  \u00b7  top-5 predictions"
        painter.drawText(QRect(left, margin + 46, width - left - margin, 50), 0, info)

        bars_font = QFont(painter.font())
        bars_font.setPixelSize(18)
        painter.setFont(bars_font)
        paint_bars(
            painter,
            QRectF(left, margin + 110, width - left - margin, height - margin - 130),
            top,
            text_color=QColor(20, 20, 20),
            track_color=QColor(236, 239, 243),
            selected=None,
            max_row_height=64.0,
        )
    finally:
        painter.end()
    return figure


def _fit(image: QImage, box: QRect) -> QRect:
    """Where ``image`` goes inside ``box``: as large as fits, centred, aspect kept."""
    size = image.size().scaled(box.size(), Qt.AspectRatioMode.KeepAspectRatio)
    return QRect(
        box.x() + (box.width() - size.width()) // 2,
        box.y() + (box.height() - size.height()) // 2,
        size.width(),
        size.height(),
    )


def figure_name(name: str, mark: str, taken: set[str]) -> str:
    """``<stem>_<mark>.png`` made safe for any file system, unique within ``taken``."""
    stem = re.sub(r"[^\w.-]+", "_", Path(name).stem).strip("._") or "image"
    candidate = f"{stem}_{mark}.png"
    counter = 2
    while candidate in taken:
        candidate = f"{stem}_{mark}_{counter}.png"
        counter += 1
    taken.add(candidate)
    return candidate


ATTACK_FIGURE_SIZE = (1500, 620)


def render_attack_report(
    original: np.ndarray,
    adversarial: np.ndarray,
    perturbation: np.ndarray,
    before: list[Prediction],
    after: list[Prediction],
    title: str,
    subtitle: str,
) -> QImage:
    """Original, perturbed and amplified perturbation side by side, both top-5s below.

    The pictures are ``(S, S, 3)`` uint8; shown enlarged without smoothing, so the
    perturbation's pixels stay visible. Returns an ``ATTACK_FIGURE_SIZE`` RGB image.
    """
    width, height = ATTACK_FIGURE_SIZE
    figure = QImage(width, height, QImage.Format.Format_RGB32)
    figure.fill(QColor("white"))
    painter = QPainter(figure)
    try:
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        margin, side = 24, 300
        heading = QFont(painter.font())
        heading.setPixelSize(26)
        heading.setBold(True)
        painter.setFont(heading)
        painter.setPen(QColor(20, 20, 20))
        painter.drawText(QRect(margin, 12, width - 2 * margin, 34), 0, title)
        body = QFont(painter.font())
        body.setPixelSize(16)
        body.setBold(False)
        painter.setFont(body)
        painter.setPen(QColor(70, 70, 70))
        painter.drawText(QRect(margin, 48, width - 2 * margin, 24), 0, subtitle)
        captions = ("Original", "Perturbed (what the model saw)", "Perturbation, amplified")
        pictures = (original, adversarial, perturbation)
        for i, (caption, picture) in enumerate(zip(captions, pictures, strict=True)):
            x = margin + i * (side + margin)
            painter.drawImage(QRect(x, 104, side, side), rgb_to_qimage(picture))
            painter.drawText(QRect(x, 80, side, 22), 0, caption)
        left = margin + 3 * (side + margin)
        for j, (caption, top) in enumerate((("Top-5 before", before), ("Top-5 after", after))):
            y = 80 + j * 260
            painter.setPen(QColor(70, 70, 70))
            painter.drawText(QRect(left, y, width - left - margin, 22), 0, caption)
            paint_bars(
                painter,
                QRectF(left, y + 26, width - left - margin, 220),
                top,
                text_color=QColor(20, 20, 20),
                track_color=QColor(236, 239, 243),
                selected=None,
                max_row_height=44.0,
            )
    finally:
        painter.end()
    return figure
