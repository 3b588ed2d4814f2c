"""Atomic exports: widgets (plots) as PNG, SVG or PDF, and run metrics as CSV.

Every file is written to a temporary file in the target's folder, flushed, fsynced and
moved over the target with ``os.replace``: a failed export leaves the old file intact.
"""

from __future__ import annotations

import csv
import io
import math
import os
from collections.abc import Iterable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QMarginsF, QRect, QSizeF
from PySide6.QtGui import QPageLayout, QPageSize, QPainter, QPdfWriter
from PySide6.QtWidgets import QWidget

from gui.files import atomic_write_bytes, png_bytes
from gui.training.runs import Run

PLOT_FORMATS = {".png": "PNG image", ".svg": "SVG drawing", ".pdf": "PDF document"}
PLOT_FILTER = "PNG image (*.png);;SVG drawing (*.svg);;PDF document (*.pdf)"
CSV_FILTER = "CSV table (*.csv)"


def render_png(widget: QWidget, scale: float = 2.0) -> bytes:
    """The widget rendered at ``scale`` times its size, as PNG bytes."""
    from PySide6.QtGui import QImage

    size = widget.size()
    image = QImage(
        max(1, int(size.width() * scale)),
        max(1, int(size.height() * scale)),
        QImage.Format.Format_ARGB32,
    )
    image.setDevicePixelRatio(scale)
    image.fill(widget.palette().window().color())
    painter = QPainter(image)
    widget.render(painter)
    painter.end()
    return png_bytes(image)


def render_svg(widget: QWidget, title: str = "Backprop Explorer plot") -> bytes:
    """The widget drawn into an SVG (vector paths for the plots)."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    from PySide6.QtSvg import QSvgGenerator  # a library of its own: not at start-up

    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    size = widget.size()
    generator.setSize(size)
    generator.setViewBox(QRect(0, 0, size.width(), size.height()))
    generator.setTitle(title)
    # At the default 72 dpi, items that measure text or ticks through the paint device
    # (pyqtgraph's axes) draw on a smaller scale than the curves: use the screen's.
    generator.setResolution(round(widget.logicalDpiX()))
    painter = QPainter(generator)
    widget.render(painter)
    painter.end()
    buffer.close()
    return bytes(array.data())


def render_pdf(widget: QWidget, title: str = "Backprop Explorer plot") -> bytes:
    """The widget on one PDF page of its own aspect ratio (vector where Qt allows)."""
    array = QByteArray()
    buffer = QBuffer(array)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    writer = QPdfWriter(buffer)
    writer.setTitle(title)
    writer.setCreator("Backprop Explorer")
    size = widget.size()
    writer.setResolution(96)
    writer.setPageSize(
        QPageSize(
            QSizeF(size.width(), size.height()),
            QPageSize.Unit.Point,
            name="plot",
            matchPolicy=QPageSize.SizeMatchPolicy.ExactMatch,
        )
    )
    writer.setPageMargins(QMarginsF(0, 0, 0, 0), QPageLayout.Unit.Point)
    painter = QPainter(writer)
    page = writer.pageLayout().paintRectPixels(writer.resolution())
    scale = min(page.width() / max(1, size.width()), page.height() / max(1, size.height()))
    painter.scale(scale, scale)
    widget.render(painter)
    painter.end()
    buffer.close()
    return bytes(array.data())


def export_widget(widget: QWidget, path: str | os.PathLike[str]) -> Path:
    """Save ``widget`` as PNG, SVG or PDF, chosen by the suffix; atomic.
    Raises ``ValueError`` for another suffix and ``OSError`` when the write fails."""
    target = Path(path)
    suffix = target.suffix.lower()
    if suffix == ".png":
        data = render_png(widget)
    elif suffix == ".svg":
        data = render_svg(widget)
    elif suffix == ".pdf":
        data = render_pdf(widget)
    else:
        raise ValueError(
            f"cannot export plots as {suffix or 'a file without a suffix'}; "
            f"use {', '.join(PLOT_FORMATS)}"
        )
    return atomic_write_bytes(target, data)


CSV_COLUMNS = ("run", "kind", "iteration", "epoch", "loss", "lr", "train_acc", "val_acc")


def metrics_csv(runs: Iterable[Run]) -> str:
    """Long-form CSV of every run's metrics: one row per step and per epoch.
    Columns: ``CSV_COLUMNS``; empty cells where a column does not apply."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for run in runs:
        for kind, it, ep, loss, lr, tr, va in run.metrics.rows():
            writer.writerow([run.name, kind, *(_cell(v) for v in (it, ep, loss, lr, tr, va))])
    return out.getvalue()


def _cell(value: float | None) -> str:
    if value is None:
        return ""
    if math.isnan(value):
        return "nan"
    if math.isinf(value):
        return "inf" if value > 0 else "-inf"
    if float(value).is_integer() and abs(value) < 1e15:
        return str(int(value))
    return repr(float(value))


def export_metrics_csv(runs: Iterable[Run], path: str | os.PathLike[str]) -> Path:
    """Write ``metrics_csv(runs)`` to ``path`` atomically (UTF-8)."""
    return atomic_write_bytes(path, metrics_csv(runs).encode("utf-8"))
