"""The network as a computational graph on a canvas: one node per layer call, input and
parameter of a ``nets.mlp.netgraph.NetGraph``, edges labelled with the shapes that flow.

Drawn in the Graph tab's look (``gui.graph_tab.theme``: header colours, fonts, the
current-step glow, its edge curve and label style) and shown in the Graph tab's own
``GraphView`` (zoom, pan, fit, grid). Each node shows its output (forward, blue) and its
gradient (backward, orange) as a small heat-map with min, max, mean and a histogram;
a layer node lists what its ``*_forward`` cached for ``*_backward``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
from PySide6.QtCore import QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QFontMetricsF, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsPathItem,
    QGraphicsRectItem,
    QGraphicsScene,
    QGraphicsSceneMouseEvent,
)

from gui.graph_tab import theme
from gui.graph_tab.edge_items import bezier
from gui.mlp_tab.network_graph.heatmap import Band, as_matrix, shape_text

NODE_W = 264.0
HEADER_H = 26.0
BAND_H = 72.0  # one tensor: its label, heat-map and histogram, then a stats line
THUMB_W = 160.0
THUMB_H = 38.0
CACHE_H = 18.0
COL_STEP = 340.0
ROW_STEP = 230.0

_F_SYMBOL = theme.font(10.5, bold=True, mono=True)
_F_NAME = theme.font(10.5, bold=True)
_F_STATS = theme.font(7.5, mono=True)
_F_LABEL = theme.font(8.0)
_F_EDGE = theme.font(9.0, mono=True)

#: header colour per NodeSpec kind, from the Graph tab's op categories
_HEADER = {
    "input": theme.HEADER["input"],
    "param": theme.HEADER["input"],
    "layer": theme.HEADER["function"],
    "loss": theme.HEADER["structure"],
    "sum": theme.HEADER["arithmetic"],
}


class TensorNodeItem(QGraphicsRectItem):
    """One NodeSpec: header (label and tensor name), then value and gradient bands."""

    def __init__(self, spec: Any) -> None:
        super().__init__()
        self.spec = spec
        self.name: str = spec.name
        self.current = ""  # "forward" / "backward" while this node ran the last step
        self.value = Band(None)
        self.grad = Band(None)
        self.cache_text = ""
        self.edges: list[ShapeEdgeItem] = []
        self.has_cache = spec.kind == "layer"
        self._height = HEADER_H + 6 + 2 * BAND_H + (CACHE_H if self.has_cache else 0)
        self.setRect(QRectF(-7, -7, NODE_W + 14, self._height + 14))
        self.setPen(Qt.PenStyle.NoPen)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setCacheMode(QGraphicsItem.CacheMode.DeviceCoordinateCache)
        self.setZValue(1)
        self.setToolTip(
            f"<b>{spec.name}</b>: {spec.label} → {spec.tensor} ({shape_text(spec.shape)})"
            "<br><i>Click to inspect; double-click a heat-map to explain an element.</i>"
        )

    @property
    def height(self) -> float:
        return self._height

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, NODE_W, self._height)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body_rect(), 6, 6)
        return path

    def in_port(self, i: int, n: int) -> QPointF:
        y = HEADER_H + (self._height - HEADER_H) * (i + 1) / (n + 1)
        return self.mapToScene(QPointF(0, y))

    def out_port(self) -> QPointF:
        return self.mapToScene(QPointF(NODE_W, HEADER_H + (self._height - HEADER_H) / 2))

    def thumb_rect(self, which: str) -> QRectF:
        top = HEADER_H + 4 + (0 if which == "value" else BAND_H) + 15
        return QRectF(8, top, THUMB_W, THUMB_H)

    def stats_rect(self, which: str) -> QRectF:
        t = self.thumb_rect(which)
        return QRectF(8, t.bottom() + 1, NODE_W - 16, 14)

    def hist_rect(self, which: str) -> QRectF:
        t = self.thumb_rect(which)
        return QRectF(t.right() + 8, t.top(), NODE_W - t.right() - 16, t.height())

    def index_at(self, local: QPointF) -> tuple[str, tuple[int, ...]] | None:
        """("value" | "grad", tensor index) under a point on a thumbnail, else None."""
        for which, band in (("value", self.value), ("grad", self.grad)):
            rect = self.thumb_rect(which)
            if band.array is None or not rect.contains(local):
                continue
            arr = np.asarray(band.array)
            m = as_matrix(arr)
            r = min(int((local.y() - rect.top()) / rect.height() * m.shape[0]), m.shape[0] - 1)
            c = min(int((local.x() - rect.left()) / rect.width() * m.shape[1]), m.shape[1] - 1)
            if arr.ndim == 0:
                return which, ()
            if arr.ndim == 1:
                return which, (c,)
            return which, (r, c)
        return None

    # -- content ---------------------------------------------------------------------
    def set_bands(self, value: Band, grad: Band, cache_text: str = "") -> bool:
        """Take new pictures (made in the worker); True if anything changed."""
        if value is self.value and grad is self.grad and cache_text == self.cache_text:
            return False
        self.value, self.grad, self.cache_text = value, grad, cache_text
        self.update()
        return True

    def set_current(self, direction: str) -> None:
        if direction != self.current:
            self.current = direction
            self.update()

    # -- painting --------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = self.body_rect()
        if self.current:
            painter.setPen(QPen(theme.CURRENT, 6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 8, 8)
        border, width = theme.NODE_BORDER, 1.2
        if self.spec.kind == "sum":
            border, width = theme.OUTPUT, 2.4
        if self.isSelected():
            border, width = theme.SELECTED, 2.6
        painter.setPen(QPen(border, width))
        painter.setBrush(theme.NODE_FILL)
        painter.drawRoundedRect(rect, 6, 6)
        header = QPainterPath()
        header.addRoundedRect(rect.adjusted(0.8, 0.8, -0.8, -0.8), 5.5, 5.5)
        band = QPainterPath()
        band.addRect(QRectF(0, 0, NODE_W, HEADER_H))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(_HEADER.get(self.spec.kind, theme.HEADER["arithmetic"]))
        painter.drawPath(header.intersected(band))
        painter.setPen(QPen(theme.NODE_BORDER, 0.8))
        painter.drawLine(QPointF(0.8, HEADER_H), QPointF(NODE_W - 0.8, HEADER_H))
        painter.setPen(theme.TEXT)
        painter.setFont(_F_SYMBOL)
        painter.drawText(
            QRectF(8, 0, NODE_W * 0.62, HEADER_H), Qt.AlignmentFlag.AlignVCenter, self.spec.label
        )
        painter.setFont(_F_NAME)
        painter.drawText(
            QRectF(NODE_W * 0.55, 0, NODE_W * 0.45 - 8, HEADER_H),
            Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
            self.spec.tensor,
        )
        for which, tensor, colour in (
            ("value", self.value, theme.FORWARD),
            ("grad", self.grad, theme.BACKWARD),
        ):
            self._paint_band(painter, which, tensor, colour)
        if self.has_cache:
            painter.setFont(_F_STATS)
            painter.setPen(theme.MUTED)
            y = HEADER_H + 4 + 2 * BAND_H
            text = self.cache_text or "cache: – (step forward)"
            painter.drawText(
                QRectF(8, y, NODE_W - 16, CACHE_H), Qt.AlignmentFlag.AlignVCenter, text
            )

    def _paint_band(self, painter: QPainter, which: str, band: Band, colour: QColor) -> None:
        thumb = self.thumb_rect(which)
        top = thumb.top() - 15
        painter.setFont(_F_LABEL)
        painter.setPen(colour)
        label = "value" if which == "value" else "grad"
        if which == "value":
            label += f" {shape_text(self.spec.shape)}"
        painter.drawText(QRectF(8, top, NODE_W - 16, 14), Qt.AlignmentFlag.AlignVCenter, label)
        painter.setFont(_F_STATS)
        painter.setPen(theme.TEXT if band.array is not None else theme.MUTED)
        painter.drawText(self.stats_rect(which), Qt.AlignmentFlag.AlignVCenter, band.stats())
        if band.image is not None:
            painter.drawImage(thumb, band.image)
        else:
            painter.fillRect(thumb, QColor("#f1f3f4"))
        painter.setPen(QPen(theme.NODE_BORDER, 0.8))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(thumb)
        hist = self.hist_rect(which)
        painter.drawRect(hist)
        if band.counts is not None:
            top_count = float(band.counts.max()) or 1.0
            w = hist.width() / len(band.counts)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(colour)
            for i, count in enumerate(band.counts.tolist()):
                if count:
                    h = max(1.0, (hist.height() - 2) * (count / top_count) ** 0.5)
                    painter.drawRect(
                        QRectF(hist.left() + i * w + 0.5, hist.bottom() - h - 1, max(w - 1, 1), h)
                    )

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
        return super().itemChange(change, value)


class ShapeEdgeItem(QGraphicsPathItem):
    """An edge labelled with the shape that flows along it (the Graph tab's label look)."""

    def __init__(self, spec: Any, src: TensorNodeItem, dst: TensorNodeItem, port: int) -> None:
        super().__init__()
        self.spec = spec
        self.src, self.dst, self.port = src, dst, port
        self.label = spec.label
        self.highlight: QColor | None = None
        self._curve = QPainterPath()
        self._label_rect = QRectF()
        self.setPen(QPen(QColor(0, 0, 0, 0), 8))
        self.setZValue(0)
        src.edges.append(self)
        dst.edges.append(self)
        self.setToolTip(f"{spec.src} → {spec.dst}: {spec.label}")
        self.update_path()

    def update_path(self) -> None:
        n = len(self.dst.spec.inputs)
        self._curve = bezier(self.src.out_port(), self.dst.in_port(self.port, n))
        mid = self._curve.pointAtPercent(0.5)
        w = QFontMetricsF(_F_EDGE).horizontalAdvance(self.label) + 10
        self._label_rect = QRectF(mid.x() - w / 2, mid.y() - 9, w, 18)
        bounds = QPainterPath(self._curve)
        bounds.addRect(self._label_rect)
        self.setPath(bounds)

    def set_highlight(self, colour: QColor | None) -> None:
        if colour != self.highlight:
            self.highlight = colour
            self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        pen = QPen(self.highlight, 3.5) if self.highlight is not None else QPen(theme.EDGE, 1.6)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._curve)
        painter.setPen(QPen(self.highlight or theme.EDGE, 0.8))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(self._label_rect, 7, 7)
        painter.setFont(_F_EDGE)
        painter.setPen(theme.TEXT)
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


def layout_positions(nodes: Sequence[Any]) -> dict[str, tuple[float, float]]:
    """Grid positions: the layer calls left to right in forward order on the top row,
    each leaf (input, parameter, label) stacked in the column before the call that uses
    it (X first), and each regularisation term under the layer of its weights."""
    by_name = {n.name: n for n in nodes}
    users: dict[str, list[str]] = {n.name: [] for n in nodes}
    for n in nodes:
        for src in n.inputs:
            users.setdefault(src, []).append(n.name)
    main = [n.name for n in nodes if n.kind in ("layer", "loss", "sum")]
    reg = [name for name in main if _is_regulariser(by_name[name])]
    col: dict[str, int] = {}
    row: dict[str, int] = {}
    for c, name in enumerate((m for m in main if m not in reg), start=1):
        col[name], row[name] = c, 0
    free: dict[int, int] = {c: 1 for c in col.values()}

    def place(name: str, c: int) -> None:
        col[name], row[name] = c, free.get(c, 0)
        free[c] = row[name] + 1

    leaves = sorted((n.name for n in nodes if n.name not in col and n.name not in reg),
                    key=lambda name: name != "X")  # fmt: skip
    for name in leaves:
        user = next((u for u in users[name] if u in col), None)
        place(name, max(0, col[user] - 1) if user is not None else 0)
    for name in reg:
        src = by_name[name].inputs[0] if by_name[name].inputs else ""
        user = next((u for u in users.get(src, []) if u in col and u not in reg), None)
        place(name, col[user] if user is not None else 1)
    return {name: (col[name] * COL_STEP, row[name] * ROW_STEP) for name in col}


def _is_regulariser(spec: Any) -> bool:
    return spec.kind == "loss" and spec.name.startswith("l2")


class NetworkScene(QGraphicsScene):
    """The items of one NetGraph; ``show(ng, current, direction)`` repaints the numbers.

    Signals: ``node_clicked(name)``; ``element_picked(tensor, which, index)`` on a
    double-click on a node's heat-map."""

    node_clicked = Signal(str)
    element_picked = Signal(str, str, tuple)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self.nodes: dict[str, TensorNodeItem] = {}
        self.edge_items: list[ShapeEdgeItem] = []
        self.fast_edges = False  # GraphView sets it while panning
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(theme.CANVAS)

    # -- what GraphView asks of its scene ---------------------------------------------
    def set_zoom(self, zoom: float) -> None:
        """Nodes stay cached pictures at every zoom: there are a dozen of them."""

    def items_rect(self) -> QRectF:
        rect = QRectF()
        for item in self.nodes.values():
            rect = rect.united(item.sceneBoundingRect())
        for edge in self.edge_items:
            rect = rect.united(edge.sceneBoundingRect())
        return rect

    def node_at(self, pos: QPointF) -> TensorNodeItem | None:
        for item in self.items(pos):
            if isinstance(item, TensorNodeItem):
                return item
        return None

    # -- building --------------------------------------------------------------------
    def build(self, nodes: Sequence[Any], edges: Sequence[Any]) -> None:
        """Replace the items with one per node spec and edge spec (a new NetGraph)."""
        self.clear()
        self.nodes.clear()
        self.edge_items.clear()
        positions = layout_positions(nodes)
        for spec in nodes:
            item = TensorNodeItem(spec)
            item.setPos(QPointF(*positions[spec.name]))
            self.addItem(item)
            self.nodes[spec.name] = item
        for spec in edges:
            dst = self.nodes[spec.dst]
            port = list(dst.spec.inputs).index(spec.src) if spec.src in dst.spec.inputs else 0
            edge = ShapeEdgeItem(spec, self.nodes[spec.src], dst, port)
            self.addItem(edge)
            self.edge_items.append(edge)

    def show_bands(self, bands: Mapping[str, Any], current: str | None, direction: str) -> None:
        """Every node's pictures (``jobs.NodeBands`` by name); the glow on ``current``."""
        for name, item in self.nodes.items():
            b = bands.get(name)
            if b is not None:
                item.set_bands(b.value, b.grad, b.cache_text)
            item.set_current(direction if name == current else "")
        colour = theme.FORWARD if direction == "forward" else theme.BACKWARD
        for edge in self.edge_items:
            edge.set_highlight(colour if current is not None and edge.dst.name == current else None)

    # -- mouse -----------------------------------------------------------------------
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mousePressEvent(event)
        node = self.node_at(event.scenePos())
        if node is not None and event.button() == Qt.MouseButton.LeftButton:
            self.node_clicked.emit(node.name)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        node = self.node_at(event.scenePos())
        if node is not None:
            hit = node.index_at(node.mapFromScene(event.scenePos()))
            if hit is not None:
                which, index = hit
                self.element_picked.emit(node.spec.tensor, which, index)
                event.accept()
                return
        super().mouseDoubleClickEvent(event)
