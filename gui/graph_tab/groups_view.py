"""Groups on the canvas: a closed group is one function node, an open one a frame.

A closed group is drawn as a :class:`GroupItem`: its name in the header, one input port
per outside node feeding it (labelled with that node's name), one output port per
member read outside, and the outputs' values and gradients. Its members and their inner
edges are hidden; edges crossing the boundary are re-routed to the group's ports
(through :class:`_Anchor`, which stands in for a node at the edge's end). Double-click
opens it in place: the members come back inside a dashed :class:`GroupFrame` whose tab
closes it again on double-click. Groups start closed; open or closed is a view choice,
not an edit (it is not saved and not undone).

:class:`GroupLayer` follows the graph through the bridge and keeps all of it in step.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem, QGraphicsRectItem

from graph.events import Edge
from graph.groups import Groups
from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.edge_items import EdgeItem

GROUP_FILL = QColor("#f3ecfb")
GROUP_HEADER = QColor("#d9c7f0")
GROUP_BORDER = QColor("#7b57b5")
_F_NAME = theme.font(11.5, bold=True)
_F_PORT = theme.font(8.0)
_F_NUMBER = theme.font(10.5, mono=True)
GROUP_WIDTH = 170.0
_PAD = 18.0


class _Anchor:
    """Where a re-routed edge ends: one port of a group item. Quacks like a NodeItem for
    EdgeItem (``port_scene_pos``, ``edges``) and for the scene's fan-out sums (``pos``)."""

    def __init__(self, item: GroupItem, side: str, index: int) -> None:
        self.item = item
        self.side = side
        self.index = index
        self.edges: set[EdgeItem] = set()

    def port_scene_pos(self, _index: int) -> QPointF:
        return self.item.mapToScene(self.item.port_pos(self.side, self.index))

    def pos(self) -> QPointF:
        return self.port_scene_pos(0)


class GroupItem(QGraphicsRectItem):
    """A closed group drawn as one node (see the module docstring)."""

    def __init__(self, layer: GroupLayer, gid: str) -> None:
        super().__init__()
        self.layer = layer
        self.gid = gid
        self.name = ""
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.in_anchors: dict[str, _Anchor] = {}
        self.out_anchors: dict[str, _Anchor] = {}
        self.rows: list[tuple[str, str, str]] = []  # (output name, value, grad)
        self.current = False
        self.stale = False
        self._syncing = False
        self.setPen(Qt.PenStyle.NoPen)
        self.setFlags(
            QGraphicsItem.GraphicsItemFlag.ItemIsMovable
            | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
            | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
        )
        self.setZValue(1)

    # -- shape and ports ---------------------------------------------------------------
    @property
    def height(self) -> float:
        ports = max(len(self.inputs), 2 * len(self.outputs), 2)
        return theme.HEADER_HEIGHT + 8 + theme.ROW_HEIGHT * ports

    def body_rect(self) -> QRectF:
        return QRectF(0, 0, GROUP_WIDTH, self.height)

    def set_ports(self, name: str, inputs: list[str], outputs: list[str]) -> None:
        self.prepareGeometryChange()
        self.name, self.inputs, self.outputs = name, list(inputs), list(outputs)
        self.setToolTip(
            f"<b>ƒ {name}</b>: a group of nodes drawn as one function<br>"
            "Double-click to open it in place; Edit > Ungroup dissolves it."
        )
        self.in_anchors = {s: self.in_anchors.get(s) or _Anchor(self, "in", 0) for s in inputs}
        self.out_anchors = {o: self.out_anchors.get(o) or _Anchor(self, "out", 0) for o in outputs}
        for i, s in enumerate(inputs):
            self.in_anchors[s].index = i
        for i, o in enumerate(outputs):
            self.out_anchors[o].index = i
        self.setRect(QRectF(-7, -7, GROUP_WIDTH + 14, self.height + 14))
        self.update()

    def port_pos(self, side: str, index: int) -> QPointF:
        n = len(self.inputs) if side == "in" else len(self.outputs)
        top = theme.HEADER_HEIGHT + 4
        span = self.height - top - 4
        y = top + span * (index + 0.5) / max(n, 1)
        return QPointF(0.0 if side == "in" else GROUP_WIDTH, y)

    def member_ids(self) -> list[str]:
        """The nodes inside (for delete, duplicate and moves of the selection)."""
        groups = self.layer.groups
        return sorted(groups.all_nodes(self.gid)) if self.gid in groups.by_id else []

    def update_edges(self) -> None:
        for anchor in (*self.in_anchors.values(), *self.out_anchors.values()):
            for edge in anchor.edges:
                edge.update_path()

    # -- painting ----------------------------------------------------------------------
    def paint(self, painter: QPainter, option, widget=None) -> None:
        rect = self.body_rect()
        if self.current:
            painter.setPen(QPen(theme.CURRENT, 6))
            painter.setBrush(Qt.BrushStyle.NoBrush)
            painter.drawRoundedRect(rect.adjusted(-2, -2, 2, 2), 9, 9)
        pen = QPen(theme.SELECTED if self.isSelected() else GROUP_BORDER, 2.4)
        if self.stale:
            pen.setStyle(Qt.PenStyle.DashLine)
        painter.setPen(pen)
        painter.setBrush(GROUP_FILL)
        painter.drawRoundedRect(rect, 8, 8)
        header = QRectF(1.2, 1.2, GROUP_WIDTH - 2.4, theme.HEADER_HEIGHT - 1.2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(GROUP_HEADER)
        painter.drawRoundedRect(header, 7, 7)
        painter.setPen(theme.TEXT)
        painter.setFont(_F_NAME)
        painter.drawText(
            header.adjusted(8, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, f"ƒ {self.name}"
        )
        for side, names in (("in", self.inputs), ("out", self.outputs)):
            for i, nid in enumerate(names):
                p = self.port_pos(side, i)
                painter.setPen(QPen(theme.PORT, 1.6))
                painter.setBrush(QBrush(theme.PORT))
                painter.drawEllipse(p, theme.PORT_RADIUS, theme.PORT_RADIUS)
                label = self.layer.graph.node(nid).name if nid in self.layer.graph else "?"
                painter.setPen(theme.MUTED)
                painter.setFont(_F_PORT)
                if side == "in":
                    r = QRectF(9, p.y() - 8, 70, 16)
                    painter.drawText(r, Qt.AlignmentFlag.AlignVCenter, label)
        # Output rows: name, value (forward colour) and gradient (backward colour).
        for i, (name, value, grad) in enumerate(self.rows):
            p = self.port_pos("out", i)
            r = QRectF(GROUP_WIDTH - 100, p.y() - theme.ROW_HEIGHT, 90, theme.ROW_HEIGHT)
            painter.setFont(_F_PORT)
            painter.setPen(theme.MUTED)
            painter.drawText(r, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft, name)
            painter.setFont(_F_NUMBER)
            painter.setPen(theme.STALE if self.stale else theme.FORWARD)
            painter.drawText(r, Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, value)
            painter.setPen(theme.STALE if self.stale else theme.BACKWARD)
            painter.drawText(
                r.translated(0, theme.ROW_HEIGHT),
                Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight,
                grad,
            )

    # -- interaction -------------------------------------------------------------------
    def itemChange(self, change, value):
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionChange and not self._syncing:
            delta = value - self.pos()
            for nid in self.member_ids():
                node = self.layer.scene.nodes.get(nid)
                if node is not None:
                    node.setPos(node.pos() + delta)
        if change == QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged:
            self.update_edges()
        return super().itemChange(change, value)

    def place(self, pos: QPointF) -> None:
        """Move without moving the members (the layer follows them)."""
        self._syncing = True
        self.setPos(pos)
        self._syncing = False

    def mouseDoubleClickEvent(self, event) -> None:
        # Later: opening removes this item, which must not happen inside its own handler.
        gid, layer = self.gid, self.layer
        QTimer.singleShot(0, lambda: layer.open_group(gid))
        event.accept()


class GroupFrame(QGraphicsRectItem):
    """An open group: a dashed outline around its members and a tab with its name."""

    def __init__(self, layer: GroupLayer, gid: str) -> None:
        super().__init__()
        self.layer = layer
        self.gid = gid
        self.name = ""
        self.outline = QRectF()
        self.setPen(Qt.PenStyle.NoPen)
        self.setZValue(-1)

    def tab_rect(self) -> QRectF:
        return QRectF(self.outline.left(), self.outline.top() - 22, 230, 22)

    def set_outline(self, name: str, rect: QRectF) -> None:
        self.prepareGeometryChange()
        self.name = name
        self.outline = rect
        self.setRect(rect.united(self.tab_rect()).adjusted(-2, -2, 2, 2))
        self.update()

    def shape(self):
        from PySide6.QtGui import QPainterPath

        path = QPainterPath()
        path.addRect(self.tab_rect())
        return path

    def paint(self, painter: QPainter, option, widget=None) -> None:
        painter.setPen(QPen(GROUP_BORDER, 1.6, Qt.PenStyle.DashLine))
        painter.setBrush(QColor(243, 236, 251, 110))
        painter.drawRoundedRect(self.outline, 10, 10)
        tab = self.tab_rect()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(GROUP_HEADER)
        painter.drawRoundedRect(tab, 6, 6)
        painter.setPen(theme.TEXT)
        painter.setFont(_F_PORT)
        painter.drawText(
            tab.adjusted(8, 0, -6, 0),
            Qt.AlignmentFlag.AlignVCenter,
            f"ƒ {self.name} (open) · double-click here to close",
        )

    def mousePressEvent(self, event) -> None:
        event.accept()  # take the press so the double-click comes here too

    def mouseDoubleClickEvent(self, event) -> None:
        gid, layer = self.gid, self.layer
        QTimer.singleShot(0, lambda: layer.close_group(gid))  # closing removes this frame
        event.accept()


class GroupLayer(QObject):
    """Keeps group items, frames and edge routing in step with the graph's groups."""

    #: open or closed changed (group id, open)
    toggled = Signal(str, bool)

    def __init__(self, scene, bridge: GraphBridge) -> None:
        super().__init__(scene)
        self.scene = scene
        self.graph = bridge.graph
        self.groups = Groups(self.graph)
        self.open: set[str] = set()
        self.items: dict[str, GroupItem] = {}
        self.frames: dict[str, GroupFrame] = {}
        self._pending = False
        self._had_groups = True  # the first rebuild refreshes whatever the graph holds
        for signal in (bridge.node_added, bridge.node_removed, bridge.edge_added):
            signal.connect(self.schedule)
        bridge.edge_removed.connect(self.schedule)
        bridge.meta_changed.connect(lambda key: key == "groups" and self.schedule())
        bridge.node_moved.connect(lambda *_: self.schedule())
        bridge.graph_cleared.connect(self._cleared)
        bridge.evaluation_changed.connect(lambda _e: self.refresh_numbers())
        bridge.output_changed.connect(lambda *_: self.schedule())
        self.rebuild()

    # -- queries -----------------------------------------------------------------------
    def hider(self, node_id: str) -> str | None:
        """The outermost closed group around ``node_id`` (it is drawn as that group)."""
        hidden = None
        for gid in self.groups.chain(node_id):
            if gid not in self.open:
                hidden = gid
        return hidden

    def shown_as(self, node_id: str) -> QGraphicsItem | None:
        """The item that shows ``node_id`` now: its node, or the closed group around it."""
        gid = self.hider(node_id)
        return self.items.get(gid) if gid is not None else self.scene.nodes.get(node_id)

    # -- open and close ----------------------------------------------------------------
    def open_group(self, gid: str) -> None:
        if gid in self.groups.by_id and gid not in self.open:
            self.open.add(gid)
            self.rebuild()
            self.toggled.emit(gid, True)

    def close_group(self, gid: str) -> None:
        if gid in self.open:
            self.open.discard(gid)
            self.rebuild()
            self.toggled.emit(gid, False)

    def reveal(self, node_id: str) -> None:
        """Open every group around ``node_id`` (to show or click it)."""
        closed = [g for g in self.groups.chain(node_id) if g not in self.open]
        if closed:
            self.open.update(closed)
            self.rebuild()

    # -- keeping in step ---------------------------------------------------------------
    def schedule(self, *_args) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.rebuild)

    def _cleared(self) -> None:
        self.open.clear()
        self.schedule()

    def rebuild(self) -> None:
        """Re-read the groups; place items and frames; route every edge."""
        self._pending = False
        scene = self.scene
        self.groups = Groups(self.graph)
        self.open &= set(self.groups.by_id)
        closed = {
            gid
            for gid in self.groups.by_id
            if gid not in self.open and all(a in self.open for a in self.groups.ancestors(gid))
        }
        for gid in list(self.items):
            if gid not in closed:
                scene.removeItem(self.items.pop(gid))
        frames = {
            gid for gid in self.open if all(a in self.open for a in self.groups.ancestors(gid))
        }
        for gid in list(self.frames):
            if gid not in frames:
                scene.removeItem(self.frames.pop(gid))
        hidden: set[str] = set()
        for gid in closed:
            hidden |= self.groups.all_nodes(gid)
        for nid, node in scene.nodes.items():
            node.setVisible(nid not in hidden)
        for gid in closed:
            item = self.items.get(gid)
            if item is None:
                item = GroupItem(self, gid)
                scene.addItem(item)
                self.items[gid] = item
            ports = self.groups.ports(gid)
            item.set_ports(self.groups[gid].name, list(ports.inputs), list(ports.outputs))
            item.place(self._centre(gid, item))
        for gid in frames:
            frame = self.frames.get(gid)
            if frame is None:
                frame = GroupFrame(self, gid)
                scene.addItem(frame)
                self.frames[gid] = frame
            frame.set_outline(self.groups[gid].name, self._outline(gid))
        self._route()
        self.refresh_numbers()
        grouped = bool(self.groups.by_id)
        if grouped or self._had_groups:
            # The merged edges' labels and what hides in groups. A whole refresh: without
            # groups, a third of those a load and a layout make were this one, for nothing.
            scene.refresh_evaluation()
        self._had_groups = grouped

    def _members_rect(self, gid: str) -> QRectF:
        rect = QRectF()
        for nid in self.groups.all_nodes(gid):
            node = self.scene.nodes.get(nid)
            if node is not None:
                r = QRectF(node.pos(), node.body_rect().size())
                rect = r if rect.isNull() else rect.united(r)
        return rect

    def _centre(self, gid: str, item: GroupItem) -> QPointF:
        c = self._members_rect(gid).center()
        return QPointF(c.x() - GROUP_WIDTH / 2, c.y() - item.height / 2)

    def _outline(self, gid: str) -> QRectF:
        rect = self._members_rect(gid)
        depth = sum(1 for c in self.groups.by_id if gid in self.groups.ancestors(c))
        pad = _PAD + 12 * depth  # an outer frame sits around the inner ones
        return rect.adjusted(-pad, -pad, pad, pad)

    def _route(self) -> None:
        scene = self.scene
        for edge, item in scene.edges.items():
            hs, hd = self.hider(edge.src), self.hider(edge.dst)
            if hs is not None and hs == hd:
                item.setVisible(False)
                continue
            src = self.items[hs].out_anchors.get(edge.src) if hs else None
            dst = self.items[hd].in_anchors.get(edge.src) if hd else None
            self._attach(item, src or scene.nodes[edge.src], dst or scene.nodes[edge.dst])
            item.setVisible(True)
        # One drawn edge per outside source of a group input (the others lie on it); its
        # label sums the contributions of all of them.
        first: dict[tuple[str, str], Edge] = {}
        merged: dict[Edge, tuple[str, list[Edge]]] = {}
        for edge, item in sorted(scene.edges.items(), key=lambda kv: (kv[0].dst, kv[0].port)):
            hd = self.hider(edge.dst)
            if hd is None or not item.isVisible():
                continue
            key = (edge.src, hd)
            if key in first:
                item.setVisible(False)
                merged.setdefault(first[key], (self.groups[hd].name, [first[key]]))[1].append(edge)
            else:
                first[key] = edge
        scene.merged_edges = merged

    @staticmethod
    def _attach(item: EdgeItem, src, dst) -> None:
        moved = False
        if item.src is not src:
            item.src.edges.discard(item)
            item.src = src
            src.edges.add(item)
            moved = True
        if item.dst is not dst:
            item.dst.edges.discard(item)
            item.dst = dst
            dst.edges.add(item)
            moved = True
        # Between two nodes the path follows them already (their moves and port changes
        # update it); a group's ports move with its rebuild. Re-placing every edge on
        # each rebuild (every load, layout and drag) cost a tenth of a load and a sixth of a layout.
        if moved or isinstance(src, _Anchor) or isinstance(dst, _Anchor):
            item.update_path()

    def refresh_numbers(self) -> None:
        """Outputs' values and gradients on closed groups, and the current-step glow."""
        ev = self.graph.evaluation
        current = ev.current
        for gid, item in self.items.items():
            rows = []
            for o in item.outputs:
                if o not in self.graph:
                    continue
                name = self.graph.node(o).name
                grad = "?" if o in self.scene.hidden_grads else theme.fmt(ev.grads.get(o))
                rows.append((name, theme.fmt(ev.values.get(o)), grad))
            item.rows = rows
            item.stale = ev.stale
            item.current = (
                self.scene.shows_current
                and current is not None
                and current in self.groups.all_nodes(gid)
            )
            item.update()

    def boundary_edges(self, gid: str) -> list[Edge]:
        """Edges from outside into the group (for the combined contribution labels)."""
        members = self.groups.all_nodes(gid)
        return [e for e in self.graph.edges() if e.dst in members and e.src not in members]
