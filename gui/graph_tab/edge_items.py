"""What the canvas draws for an edge: the curve with its label, and the loose edge that
follows the mouse while a connection is being dragged (nodes are in
``gui.graph_tab.node_items``).

Items only display; they never edit the graph. The scene creates and removes them from
the bridge's signals and feeds them the evaluation to show.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsPathItem

from graph.events import Edge
from gui.graph_tab import theme
from gui.graph_tab.overview_member import OverviewMember

if TYPE_CHECKING:
    from gui.graph_tab.node_items import NodeItem, PortItem

_F_EDGE = theme.font(9.5, mono=True)  # made once, like the node fonts
# The curve's pens, made once: most edges share the plain one.
_PLAIN = QPen(theme.EDGE, 1.6)
_SELECTED = QPen(theme.SELECTED, 3)
_HIGHLIGHT = QPen(theme.CURRENT, 4)
_HOVER = QPen(theme.TEXT, 2.2)
# Mid pan or zoom: thin cosmetic lines (drawn aliased, a tenth of a smooth one's cost).
_FAST_PLAIN = QPen(theme.EDGE, 0)
_FAST_HIGHLIGHT = QPen(theme.CURRENT, 0)


def plain_pen(fast: bool) -> QPen:
    """The pen of an edge that is neither selected, highlighted nor hovered."""
    return _FAST_PLAIN if fast else _PLAIN


class EdgeItem(OverviewMember, QGraphicsPathItem):
    """An edge from ``src``'s output port to port ``edge.port`` of ``dst``, with a label.

    The label shows the value flowing forward, or the gradient contribution flowing
    back; the tooltip spells out "upstream × local = contribution".
    """

    OVERVIEW_LAYER = "edge_layer"

    def __init__(self, edge: Edge, src: NodeItem, dst: NodeItem) -> None:
        super().__init__()
        self.edge = edge
        self.src = src
        self.dst = dst
        self.label = ""
        self.label_colour = theme.FORWARD
        self.highlight = False
        self.hidden_label = False
        self._hover = False
        self._path = QPainterPath()
        self._label_rect = QRectF()
        self._shape: QPainterPath | None = None
        # The item's own path (curve + label box) and wide pen only give Qt the bounds
        # in C++; paint() draws the curve and the label itself.
        self.setPen(QPen(QColor(0, 0, 0, 0), 10))
        self.setFlags(QGraphicsItem.GraphicsItemFlag.ItemIsSelectable)
        self.setAcceptHoverEvents(True)
        self.setZValue(0)
        src.edges.add(self)
        dst.edges.add(self)
        self.update_path()

    @property
    def curve(self) -> QPainterPath:
        """The drawn curve (the item's own path also holds the label box)."""
        return self._path

    def detach(self) -> None:
        self.src.edges.discard(self)
        self.dst.edges.discard(self)

    def update_path(self) -> None:
        a = self.src.port_scene_pos(-1)
        b = self.dst.port_scene_pos(self.edge.port)
        self._path = bezier(a, b)
        self._shape = None
        self._place_label()  # (setPath repaints the item)
        self._tell_overview()

    def _place_label(self, avoid: list[QRectF] | None = None) -> None:
        if not self.label:
            self._label_rect = QRectF()
        else:
            w = theme.metrics(_F_EDGE).horizontalAdvance(self.label) + 8
            # The middle of the curve, or further along it when that spot is taken by
            # a fan-out sum or another edge's label.
            for percent in (0.5, 0.35, 0.65, 0.25, 0.75, 0.5):
                mid = self._path.pointAtPercent(percent)
                rect = QRectF(mid.x() - w / 2, mid.y() - 9, w, 18)
                if not avoid or not any(rect.intersects(r) for r in avoid):
                    break
            self._label_rect = rect
        bounds = QPainterPath(self._path)
        if not self._label_rect.isEmpty():
            bounds.addRect(self._label_rect)
        self.setPath(bounds)

    def label_rect(self) -> QRectF:
        """Where the label is drawn (scene coordinates; empty without a label)."""
        return QRectF(self._label_rect)

    def place_label_avoiding(self, taken: list[QRectF]) -> None:
        """Move the label off ``taken`` rectangles (scene coordinates) if it can."""
        if self.label:
            self._shape = None
            self._place_label(taken)
            self.update()

    def set_label(self, text: str, colour: QColor, tooltip: str) -> None:
        if text != self.label or colour != self.label_colour:
            self.label = text
            self.label_colour = colour
            self._shape = None
            self._place_label()
            self.update()
        if tooltip != self.toolTip():
            self.setToolTip(tooltip)

    def set_highlight(self, on: bool) -> None:
        if on != self.highlight:
            self.highlight = on
            self._look_changed()

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(10)
            shape = stroker.createStroke(self._path)
            if not self._label_rect.isEmpty():
                shape.addRect(self._label_rect)
            self._shape = shape
        return self._shape

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self._look_changed()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self._look_changed()
        super().hoverLeaveEvent(event)

    def pen(self, fast: bool) -> QPen:
        """The curve's pen; ``fast`` mid pan or zoom (a thin line, only the highlight
        coloured)."""
        if fast:
            return _FAST_HIGHLIGHT if self.highlight else _FAST_PLAIN
        if self.isSelected():
            return _SELECTED
        if self.highlight:
            return _HIGHLIGHT
        if self._hover:
            return _HOVER
        return _PLAIN

    def is_plain(self, fast: bool) -> bool:
        """Whether the curve is drawn with :func:`plain_pen` (as most are)."""
        return self.pen(fast) is plain_pen(fast)

    def setVisible(self, visible: bool) -> None:
        # Groups hide and show edges; the overview skips hidden ones.
        if visible != self.isVisible():
            super().setVisible(visible)
            self._look_changed()

    def setOpacity(self, opacity: float) -> None:
        # A picked-up edge fades while it is dragged elsewhere.
        if opacity != self.opacity():
            super().setOpacity(opacity)
            self._look_changed()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        scene = self.scene()
        if scene is not None and getattr(scene, "fast_edges", False):
            # Mid pan or zoom: a thin aliased line costs a tenth of a smooth one.
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.setPen(self.pen(True))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawPath(self._path)
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
            return
        painter.setPen(self.pen(False))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        if not self.label:
            return
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < 0.45:
            return
        painter.setPen(QPen(self.label_colour, 0.8))
        painter.setBrush(QColor(255, 255, 255, 235))
        painter.drawRoundedRect(self._label_rect, 7, 7)
        painter.setFont(_F_EDGE)
        painter.drawText(self._label_rect, Qt.AlignmentFlag.AlignCenter, self.label)


class DragEdgeItem(QGraphicsPathItem):
    """The loose edge that follows the mouse while the user drags from a port."""

    def __init__(self, anchor: PortItem) -> None:
        super().__init__()
        self.anchor = anchor
        pen = QPen(theme.SELECTED, 2, Qt.PenStyle.DashLine)
        self.setPen(pen)
        self.setZValue(5)
        self.end = anchor.scenePos()
        self.set_end(self.end)

    def set_end(self, end: QPointF) -> None:
        self.end = QPointF(end)
        start = self.anchor.scenePos()
        if self.anchor.is_output:
            self.setPath(bezier(start, end))
        else:
            self.setPath(bezier(end, start))

    def set_refused(self, refused: bool) -> None:
        colour = theme.WARNING if refused else theme.SELECTED
        self.setPen(QPen(colour, 2, Qt.PenStyle.DashLine))


def bezier(a: QPointF, b: QPointF) -> QPainterPath:
    """A left-to-right S curve from an output port ``a`` to an input port ``b``."""
    path = QPainterPath(a)
    dx = max(40.0, abs(b.x() - a.x()) * 0.5)
    path.cubicTo(QPointF(a.x() + dx, a.y()), QPointF(b.x() - dx, b.y()), b)
    return path
