"""The canvas's cheap drawing: zoomed far out, every node's box, and zoomed far out or mid
pan/zoom, every edge's curve, drawn by one scene-wide item each in a few painter calls.

Far out, the whole graph is in view: 500 nodes and 640 edges each drawing itself cost a
Python ``paint()`` call apiece (three wrapped arguments, a dozen painter calls), and a
fitted frame of such a graph took longer than a 16 ms frame. While a layer draws them,
the items carry ``ItemHasNoContents``: Qt skips their ``paint()`` but still hit-tests,
hovers, selects and moves them. The look is the items' own (``NodeItem.paint_box``,
``EdgeItem.pen``); an item whose look or place changes calls its layer's ``invalidate``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import shiboken6
from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

from gui.graph_tab import theme
from gui.graph_tab.edge_items import plain_pen

if TYPE_CHECKING:
    from graph.events import Edge
    from gui.graph_tab.edge_items import EdgeItem
    from gui.graph_tab.node_items import NodeItem

#: a layer covers the whole canvas: any change repaints what is in view
_EVERYWHERE = QRectF(-1e6, -1e6, 2e6, 2e6)
_BORDER = QPen(theme.NODE_BORDER, 0)  # cosmetic, as in NodeItem.paint_box


class _Layer(QGraphicsItem):
    """A scene-wide item that draws for others, never hit: its shape is empty."""

    def __init__(self, z: float) -> None:
        super().__init__()
        self._dirty = True
        self.setZValue(z)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)
        self.setVisible(False)

    def invalidate(self) -> None:
        """Something it draws changed: gather again before the next paint."""
        if not self._dirty:
            self._dirty = True
            # (a scene being deleted still tells: its items go before its signals)
            if shiboken6.isValid(self) and self.isVisible():
                self.update()

    def boundingRect(self) -> QRectF:
        return _EVERYWHERE

    def shape(self) -> QPainterPath:
        return QPainterPath()  # never under the mouse, never in a rubber band


class NodeLayer(_Layer):
    """Every visible node as a plain box (zoomed far out): the boxes of ordinary nodes in
    three painter calls, then the marked ones (selected, current, output, warning) each by
    its own ``paint_box``."""

    def __init__(self, nodes: dict[str, NodeItem]) -> None:
        super().__init__(1.0)  # the nodes' own z: above every edge
        self._nodes = nodes  # the scene's dict: always current
        self._bodies: list[QRectF] = []
        self._headers: dict[int, tuple[QColor, list[QRectF]]] = {}
        self._marked: list[NodeItem] = []

    def _gather(self) -> None:
        self._dirty = False
        bodies: list[QRectF] = []
        headers: dict[int, tuple[QColor, list[QRectF]]] = {}
        marked: list[NodeItem] = []
        for item in self._nodes.values():
            if not item.isVisible():
                continue
            if item.box_marked():
                marked.append(item)
                continue
            pos = item.pos()
            bodies.append(item.body_rect().translated(pos))
            colour = item.header_colour
            entry = headers.get(colour.rgba())
            if entry is None:
                entry = headers[colour.rgba()] = (colour, [])
            entry[1].append(item.header_rect().translated(pos))
        self._bodies, self._headers, self._marked = bodies, headers, marked

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._dirty:
            self._gather()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(theme.NODE_FILL)
        painter.drawRects(self._bodies)
        for colour, rects in self._headers.values():
            painter.setBrush(colour)
            painter.drawRects(rects)
        painter.setPen(_BORDER)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRects(self._bodies)
        for item in self._marked:
            painter.save()
            painter.translate(item.pos())
            item.paint_box(painter)
            painter.restore()


class EdgeLayer(_Layer):
    """Every visible edge's curve, without labels (zoomed far out, or mid pan/zoom): the
    plain ones as one path, then the others (selected, highlighted, hovered, faded) each
    with its own pen."""

    def __init__(self, edges: dict[Edge, EdgeItem]) -> None:
        super().__init__(0.0)  # the edges' own z: under the nodes, over open group frames
        self._edges = edges  # the scene's dict: always current
        self.fast = False  # mid pan/zoom: thin aliased lines, as EdgeItem.paint draws them
        self._plain = QPainterPath()
        self._marked: list[EdgeItem] = []

    def set_fast(self, fast: bool) -> None:
        if fast != self.fast:
            self.fast = fast  # the same edges, other pens: no need to gather again
            if self.isVisible():
                self.update()

    def _gather(self) -> None:
        self._dirty = False
        plain = QPainterPath()
        marked: list[EdgeItem] = []
        for item in self._edges.values():
            if not item.isVisible():
                continue
            # Plain settled is plain mid pan too (only a highlight colours a fast line): a
            # pan's start and end change the pens, not what is gathered.
            if item.opacity() == 1.0 and item.is_plain(False):
                plain.addPath(item.curve)
            else:
                marked.append(item)
        self._plain, self._marked = plain, marked

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        if self._dirty:
            self._gather()
        fast = self.fast
        if fast:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(plain_pen(fast))
        painter.drawPath(self._plain)
        for item in self._marked:
            painter.setOpacity(item.opacity())
            painter.setPen(item.pen(fast))
            painter.drawPath(item.curve)
        painter.setOpacity(1.0)
        if fast:
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
