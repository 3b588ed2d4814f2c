"""What the canvas draws for a node: the node with its header, value and gradient rows,
its ports, and the sum of a fan-out's gradient contributions under it (edges are in
``gui.graph_tab.edge_items``).

Items only display; they never edit the graph. The scene creates and removes them from
the bridge's signals and feeds them the evaluation to show.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QFont, QPainter, QPainterPath, QPen
from PySide6.QtWidgets import (
    QGraphicsEllipseItem,
    QGraphicsItem,
    QGraphicsRectItem,
    QStyleOptionGraphicsItem,
    QWidget,
)

from graph.node import Node
from gui.graph_tab import theme
from gui.graph_tab.overview_member import OverviewMember

if TYPE_CHECKING:
    from gui.graph_tab.edge_items import EdgeItem

# Fonts are made once: building QFonts in paint() would cost more than the drawing.
_F_SYMBOL = theme.font(12.0, bold=True, mono=True)
_F_NAME = theme.font(11.5, bold=True)
_F_LABEL = theme.font(8.0)
_F_NUMBER = theme.font(11.5, mono=True)
_F_NUMBER_BOLD = theme.font(11.5, bold=True, mono=True)
_F_BADGE = theme.font(8.0, bold=True)
_F_FANOUT = theme.font(8.5, mono=True)


#: Below this zoom a node is drawn as a plain box (text would be unreadable anyway).
NODE_DETAIL_ZOOM = 0.35
_GLOW = QPen(theme.CURRENT, 6)  # the current step's
_HEADER_LINE = QPen(theme.NODE_BORDER, 0.8)
# Text alignments, made once (combining enum flags in paint() costs Python time).
_LEFT = Qt.AlignmentFlag.AlignVCenter
_RIGHT = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight
_PORT_NAME = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft

#: item changes that change what the overview draws for a node
_LOOK_CHANGES = (
    QGraphicsItem.GraphicsItemChange.ItemVisibleHasChanged,
    QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged,
)


@dataclass
class NodeDisplay:
    """The numbers and marks a node shows (all text is already formatted)."""

    value: str = "–"
    grad: str = "–"
    stale: bool = False
    current: bool = False
    warning: bool = False
    output: bool = False
    grad_hidden: bool = False
    practice_mark: str = ""  # "right", "wrong" or ""
    fanout: str = ""  # e.g. "Σ 0.2 + 0.3 = 0.5" when several consumers sent gradients
    value_full: str = "–"  # every digit, for the tooltip
    grad_full: str = "–"


class PortItem(QGraphicsEllipseItem):
    """A node's input port (``index`` >= 0) or its output port (``index`` == -1)."""

    def __init__(self, node: NodeItem, index: int, name: str) -> None:
        r = theme.PORT_RADIUS
        super().__init__(-r, -r, 2 * r, 2 * r, node)
        self.node_item = node
        self.index = index
        self.name = name
        self.connected = False
        self.setAcceptHoverEvents(True)
        self.setZValue(2)
        self.setCursor(Qt.CursorShape.CrossCursor)
        self._hover = False
        self._apply_style()

    @property
    def node_id(self) -> str:
        return self.node_item.node_id

    @property
    def is_output(self) -> bool:
        return self.index < 0

    def set_connected(self, connected: bool) -> None:
        if connected != self.connected:
            self.connected = connected
            self._apply_style()

    def _apply_style(self) -> None:
        self.setPen(QPen(theme.SELECTED if self._hover else theme.PORT, 1.6))
        filled = self.connected or self.is_output
        self.setBrush(QBrush(theme.PORT if filled else theme.PORT_FREE))
        scale = 1.35 if self._hover else 1.0
        self.setScale(scale)

    def hoverEnterEvent(self, event) -> None:
        self._hover = True
        self._apply_style()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self._hover = False
        self._apply_style()
        super().hoverLeaveEvent(event)


class NodeItem(OverviewMember, QGraphicsRectItem):
    """A node: header with the op symbol and name, rows with its value and gradient.

    A rect item so that Qt computes the bounding rect in C++: the view asks every
    item for it on every paint.
    """

    OVERVIEW_LAYER = "node_layer"

    def __init__(self, node: Node) -> None:
        super().__init__()
        self.setPen(Qt.PenStyle.NoPen)
        self.node_id = node.id
        self.node = node
        self.display = NodeDisplay()
        self.edges: set[EdgeItem] = set()
        self.in_ports: list[PortItem] = []
        self.out_port = PortItem(self, -1, "out")
        self._height = 0.0
        self._symbol_w = 40.0
        self._header_path: QPainterPath | None = None
        self._texts: list[tuple[QFont, QColor, QRectF, Qt.AlignmentFlag, str]] | None = None
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setAcceptHoverEvents(True)
        self.setZValue(1)
        self.set_node(node)
        self.setPos(QPointF(*node.pos))

    # -- geometry ----------------------------------------------------------------------
    @property
    def rows(self) -> int:
        return max(2, len(self.in_ports))

    @property
    def height(self) -> float:
        return self._height

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, theme.NODE_WIDTH, self._height)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(self.body_rect(), 6, 6)
        return path

    def row_y(self, row: int) -> float:
        return theme.HEADER_HEIGHT + 4 + theme.ROW_HEIGHT * (row + 0.5)

    def set_node(self, node: Node) -> None:
        """Take a new record (rename, value, params, ports) and redraw."""
        self.node = node
        names = node.port_names
        if [p.name for p in self.in_ports] != list(names):
            self.prepareGeometryChange()
            for port in self.in_ports:
                port.setParentItem(None)
                if port.scene() is not None:
                    port.scene().removeItem(port)
            self.in_ports = [PortItem(self, i, n) for i, n in enumerate(names)]
            for port in self.in_ports:
                port.setVisible(self.out_port.isVisible())
        self._height = theme.HEADER_HEIGHT + 8 + theme.ROW_HEIGHT * self.rows
        self._header_path = None
        self._texts = None
        self.header_colour = theme.header_colour(node.op, node.spec.category)
        # Room for the current-step glow and the "output" badge above the top edge.
        self.setRect(QRectF(-7, -18, theme.NODE_WIDTH + 14, self._height + 25))
        label_w = theme.metrics(_F_SYMBOL).horizontalAdvance(node.label) + 14
        self._symbol_w = min(theme.NODE_WIDTH * 0.55, max(30.0, label_w))
        rows = self.rows
        offset = (rows - len(self.in_ports)) / 2
        for i, port in enumerate(self.in_ports):
            port.setPos(0, self.row_y(i + offset))
            port.set_connected(node.inputs[i] is not None)
        self.out_port.setPos(theme.NODE_WIDTH, self.row_y((rows - 1) / 2))
        self.out_port.setVisible(True)
        spec = node.spec
        tip = f"<b>{node.name}</b> ({node.op})<br>{spec.tooltip()}"
        if node.op == "input":
            tip += "<br><i>Double-click the value to edit it, the name to rename.</i>"
        self._tip = tip
        self._update_tooltip()
        self._look_changed()
        for edge in list(self.edges):
            edge.update_path()

    def set_detail(self, on: bool) -> None:
        """Show the ports (and, in paint, the text) only when zoomed in enough to use them;
        without detail the scene's overview draws the node's box (``paint_box``)."""
        for port in (*self.in_ports, self.out_port):
            port.setVisible(on)
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, not on)

    def port_scene_pos(self, index: int) -> QPointF:
        port = self.out_port if index < 0 else self.in_ports[index]
        return port.scenePos()

    def set_display(self, display: NodeDisplay) -> None:
        if display != self.display:
            self.display = display
            self._texts = None
            self._update_tooltip()
            self._look_changed()

    def _update_tooltip(self) -> None:
        # Hovering shows every digit: the canvas rounds to 4 so the labels fit.
        d = getattr(self, "display", None) or NodeDisplay()
        numbers = f"value = {d.value_full}"
        if not d.grad_hidden:
            numbers += f"<br>gradient = {d.grad_full}"
        self.setToolTip(f"{self._tip}<br>{numbers}")

    # -- hit areas for double-click editing --------------------------------------------
    def name_rect(self) -> QRectF:
        return QRectF(self._symbol_w, 0, theme.NODE_WIDTH - self._symbol_w, theme.HEADER_HEIGHT)

    def symbol_rect(self) -> QRectF:
        return QRectF(0, 0, self._symbol_w, theme.HEADER_HEIGHT)

    def value_rect(self) -> QRectF:
        top = self.row_y((self.rows - 2) / 2) - theme.ROW_HEIGHT / 2
        return QRectF(14, top, theme.NODE_WIDTH - 18, theme.ROW_HEIGHT)

    def area_at(self, local: QPointF) -> str:
        """Which part a point (item coordinates) is on: "name", "symbol", "value" or ""."""
        if self.name_rect().contains(local):
            return "name"
        if self.symbol_rect().contains(local):
            return "symbol"
        if self.value_rect().contains(local):
            return "value"
        return ""

    # -- painting ----------------------------------------------------------------------
    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionGraphicsItem,
        widget: QWidget | None = None,
    ) -> None:
        d = self.display
        rect = self.body_rect()
        selected = self.isSelected()
        lod = option.levelOfDetailFromTransform(painter.worldTransform())
        if lod < NODE_DETAIL_ZOOM:
            self.paint_box(painter)
            return

        if d.current:
            painter.setPen(_GLOW)
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 8, 8)

        fill = theme.WARNING_FILL if d.warning else theme.NODE_FILL
        if d.practice_mark == "right":
            fill = theme.RIGHT_FILL
        elif d.practice_mark == "wrong":
            fill = theme.WRONG_FILL
        border = theme.NODE_BORDER
        width = 1.2
        if d.output:
            border, width = theme.OUTPUT, 2.4
        if d.warning:
            border, width = theme.WARNING, 2.4
        if selected:
            border, width = theme.SELECTED, 2.6
        pen = QPen(border, width)
        if d.stale:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(fill)
        painter.drawRoundedRect(rect, 6, 6)

        # Header band, clipped to the rounded outline (the path is made once).
        if self._header_path is None:
            outline = QPainterPath()
            outline.addRoundedRect(rect.adjusted(0.8, 0.8, -0.8, -0.8), 5.5, 5.5)
            band = QPainterPath()
            band.addRect(QRectF(0, 0, theme.NODE_WIDTH, theme.HEADER_HEIGHT))
            self._header_path = outline.intersected(band)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.header_colour)
        painter.drawPath(self._header_path)
        painter.setPen(_HEADER_LINE)
        y_line = theme.HEADER_HEIGHT
        painter.drawLine(QPointF(0.8, y_line), QPointF(rect.right() - 0.8, y_line))

        # The text, laid out once per node and display (a zoom step re-renders every node
        # in view into its cache: Python's share of that was most of a frame).
        texts = self._texts
        if texts is None:
            texts = self._texts = self._lay_out_texts()
        for font, colour, where, flags, text in texts:
            painter.setFont(font)
            painter.setPen(colour)
            painter.drawText(where, flags, text)

        if d.output:
            self._badge(painter, "output", theme.OUTPUT, QColor("white"), rect.right() - 4)

    def _lay_out_texts(self) -> list[tuple[QFont, QColor, QRectF, Qt.AlignmentFlag, str]]:
        """What ``paint`` writes: (font, colour, rectangle, alignment, text) in order."""
        d = self.display
        node = self.node
        out: list[tuple[QFont, QColor, QRectF, Qt.AlignmentFlag, str]] = []
        symbol_rect = self.symbol_rect().adjusted(7, 0, 0, 0)
        symbol = theme.metrics(_F_SYMBOL).elidedText(
            node.label, Qt.TextElideMode.ElideRight, symbol_rect.width()
        )
        out.append((_F_SYMBOL, theme.TEXT, symbol_rect, _LEFT, symbol))
        name_rect = self.name_rect().adjusted(2, 0, -7, 0)
        name = theme.metrics(_F_NAME).elidedText(
            node.name + (" ⚠" if d.warning else ""),
            Qt.TextElideMode.ElideMiddle,
            name_rect.width(),
        )
        out.append((_F_NAME, theme.TEXT, name_rect, _RIGHT, name))

        # Port names next to the input ports.
        for port in self.in_ports:
            y = port.pos().y()
            out.append((_F_LABEL, theme.MUTED, QRectF(8, y - 8, 30, 16), _PORT_NAME, port.name))

        # Value and gradient rows.
        x_label = 26.0 if self.in_ports else 10.0
        rows = (
            ("value", d.value, theme.FORWARD),
            ("grad", "?" if d.grad_hidden else d.grad, theme.BACKWARD),
        )
        first_row = (self.rows - 2) / 2
        for i, (label, text, colour) in enumerate(rows):
            y = self.row_y(i + first_row)
            top = y - theme.ROW_HEIGHT / 2
            band_rect = QRectF(x_label, top, theme.NODE_WIDTH, theme.ROW_HEIGHT)
            out.append((_F_LABEL, theme.MUTED, band_rect, _LEFT, label))
            computed = text != "–"
            # The number starts after its label: a long one gets a smaller font rather
            # than running into "grad" ("grad-0.01339").
            left = x_label + theme.metrics(_F_LABEL).horizontalAdvance(label) + 5
            room = QRectF(left, top, theme.NODE_WIDTH - left - 8, theme.ROW_HEIGHT)
            number_font = theme.fitting_font(
                _F_NUMBER_BOLD if computed and not d.stale else _F_NUMBER, text, room.width()
            )
            if d.stale:
                pen = theme.STALE
            elif text in ("nan", "inf", "-inf"):
                pen = theme.WARNING
            else:
                pen = colour if computed else theme.MUTED
            out.append((number_font, pen, room, _RIGHT, text))
        return out

    def box_marked(self) -> bool:
        """Whether the zoomed-out box is not the plain one (selected, current, output or
        warning: another border or fill)."""
        d = self.display
        return self.isSelected() or d.current or d.output or d.warning

    def header_rect(self) -> QRectF:
        return QRectF(0, 0, theme.NODE_WIDTH, theme.HEADER_HEIGHT)

    def paint_box(self, painter: QPainter) -> None:
        """Zoomed far out: a coloured box, no text (item coordinates). The overview draws
        the plain boxes of many nodes at once, in this look."""
        d = self.display
        rect = self.body_rect()
        selected = self.isSelected()
        painter.fillRect(rect, theme.WARNING_FILL if d.warning else theme.NODE_FILL)
        painter.fillRect(self.header_rect(), self.header_colour)
        if selected or d.current or d.output or d.warning:
            colour = (
                theme.SELECTED
                if selected
                else theme.CURRENT
                if d.current
                else theme.WARNING
                if d.warning
                else theme.OUTPUT
            )
            painter.setPen(QPen(colour, 0 if not d.current else 4))
        else:
            painter.setPen(QPen(theme.NODE_BORDER, 0))
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawRect(rect)

    def _badge(
        self,
        painter: QPainter,
        text: str,
        bg: QColor,
        fg: QColor,
        x: float,
        left: bool = False,
    ) -> None:
        painter.setFont(_F_BADGE)
        w = theme.metrics(_F_BADGE).horizontalAdvance(text) + 12
        r = QRectF(x - (0 if left else w), -16, w, 14)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(bg)
        painter.drawRoundedRect(r, 6, 6)
        painter.setPen(fg)
        painter.drawText(r, Qt.AlignmentFlag.AlignCenter, text)

    # -- moves -------------------------------------------------------------------------
    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            for edge in self.edges:
                edge.update_path()
            self._tell_overview()  # (Qt repaints a moved item)
        elif change in _LOOK_CHANGES:
            self._tell_overview()
        return super().itemChange(change, value)


class FanoutItem(QGraphicsRectItem):
    """The sum of a fan-out's gradient contributions, drawn under its node."""

    def __init__(self, node: NodeItem) -> None:
        super().__init__(node)
        self.setPen(Qt.PenStyle.NoPen)
        self.node_item = node
        self.text = ""
        self._rect = QRectF()
        self.setZValue(3)
        self.setVisible(False)

    def scene_label_rect(self) -> QRectF:
        """The sum's box in scene coordinates (empty when there is none)."""
        if not self.text or not self.isVisible():
            return QRectF()
        return self.mapRectToScene(self._rect)

    def set_text(self, text: str) -> None:
        if text == self.text:
            return
        self.text = text
        w = theme.metrics(_F_FANOUT).horizontalAdvance(text) + 12
        self._rect = QRectF((theme.NODE_WIDTH - w) / 2, self.node_item.height + 4, w, 17)
        self.setRect(self._rect.adjusted(-1, -1, 1, 1))
        # Hidden when zoomed far out, like the ports (the scene says which it is).
        self.setVisible(bool(text) and self.node_item.out_port.isVisible())
        self.update()

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(QPen(theme.BACKWARD, 1))
        painter.setBrush(QColor("#fff4e8"))
        painter.drawRoundedRect(self._rect, 7, 7)
        painter.setFont(_F_FANOUT)
        painter.setPen(theme.BACKWARD)
        painter.drawText(self._rect, Qt.AlignmentFlag.AlignCenter, self.text)
