"""Exports: PNG and SVG pictures of the canvas, Python code and Graphviz DOT text.
Every file is written atomically (temporary file, fsync, replace)."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QRectF, QSize, Qt
from PySide6.QtGui import QImage, QPainter
from PySide6.QtSvg import QSvgGenerator

from graph import export as graph_export
from graph.errors import GraphFileError
from graph.evaluate import evaluate
from graph.fileformat import atomic_write_bytes
from graph.model import Graph
from gui import files
from gui.graph_tab import theme
from gui.graph_tab.scene import GraphScene

#: Largest side of an exported PNG in pixels (a huge graph is scaled down to fit).
MAX_PNG_SIDE = 8000

FORMATS = {
    "png": ("PNG image", "*.png"),
    "svg": ("SVG drawing", "*.svg"),
    "py": ("Python code", "*.py"),
    "dot": ("Graphviz DOT", "*.dot"),
}


def _area(scene: GraphScene) -> QRectF:
    rect = scene.items_rect()
    if rect.isEmpty():
        rect = QRectF(0, 0, 200, 120)
    return rect.adjusted(-30, -30, 30, 30)


def _render(scene: GraphScene, painter: QPainter, target: QRectF, source: QRectF) -> None:
    selected = scene.selectedItems()
    for item in selected:
        item.setSelected(False)
    try:
        painter.fillRect(target, theme.CANVAS)
        # Drawn in full whatever the canvas's zoom: far out the canvas draws plain boxes
        # without ports or sums, and mid pan thin edges without labels.
        with scene.full_detail():
            scene.render(painter, target, source, Qt.AspectRatioMode.KeepAspectRatio)
    finally:
        for item in selected:
            item.setSelected(True)


def png_bytes(scene: GraphScene, scale: float = 2.0) -> bytes:
    source = _area(scene)
    scale = min(scale, MAX_PNG_SIDE / max(source.width(), source.height()))
    size = QSize(max(1, round(source.width() * scale)), max(1, round(source.height() * scale)))
    image = QImage(size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(theme.CANVAS)
    painter = QPainter(image)
    painter.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
    _render(scene, painter, QRectF(0, 0, size.width(), size.height()), source)
    painter.end()
    try:
        return files.png_bytes(image)
    except OSError as exc:
        raise GraphFileError(f"cannot export the PNG: {exc}") from None


def svg_bytes(scene: GraphScene, title: str = "graph") -> bytes:
    source = _area(scene)
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    generator = QSvgGenerator()
    generator.setOutputDevice(buffer)
    generator.setSize(QSize(round(source.width()), round(source.height())))
    generator.setViewBox(QRectF(0, 0, source.width(), source.height()))
    generator.setTitle(title)
    generator.setDescription("Exported from Backprop Explorer")
    painter = QPainter(generator)
    _render(scene, painter, QRectF(0, 0, source.width(), source.height()), source)
    painter.end()
    buffer.close()
    return bytes(data.data())


def export(kind: str, scene: GraphScene, graph: Graph, path: Path, title: str = "graph") -> None:
    """Write the export ``kind`` ("png", "svg", "py", "dot"); GraphError on failure."""
    if kind == "png":
        data = png_bytes(scene)
    elif kind == "svg":
        data = svg_bytes(scene, title)
    elif kind == "py":
        data = graph_export.to_python(graph).encode("utf-8")
    elif kind == "dot":
        ev = evaluate(graph) if graph.output_id is not None else None
        data = graph_export.to_dot(graph, ev).encode("utf-8")
    else:
        raise ValueError(f"unknown export {kind!r}")
    atomic_write_bytes(path, data)
