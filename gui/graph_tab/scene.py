"""The canvas scene: one item per node and edge, created and removed only from the
bridge's signals, plus the mouse interactions that *ask* for edits (connect by dragging
between ports, move by dragging nodes, double-click to edit).

Requests go to callables the editor installs (``connector``, ``rewirer``, ``mover``);
the scene never edits the graph itself.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from PySide6.QtCore import QPointF, QRectF, Qt, QVariantAnimation, Signal
from PySide6.QtWidgets import QGraphicsItem, QGraphicsScene, QGraphicsSceneMouseEvent

from graph.events import Edge
from graph.model import Graph
from graph.records import format_operand, format_sum
from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.edge_items import DragEdgeItem, EdgeItem
from gui.graph_tab.node_items import NODE_DETAIL_ZOOM, FanoutItem, NodeDisplay, NodeItem, PortItem
from gui.graph_tab.numbers import local_derivative
from gui.graph_tab.overview import EdgeLayer, NodeLayer

#: connector(src, dst, port) -> None when connected, else the reason it was refused
Connector = Callable[[str, str, int], str | None]
#: rewirer(old edge, new edge or None to disconnect) -> None or the reason
Rewirer = Callable[[Edge, Edge | None], str | None]


class GraphScene(QGraphicsScene):
    """Items mirror ``graph``; call :meth:`refresh_evaluation` to repaint the numbers."""

    #: double-click on a node: (node id, "name" | "value" | "symbol" | "", screen point)
    edit_requested = Signal(str, str, QPointF)
    #: a refused or impossible interaction: the reason, for the status bar
    refused = Signal(str)
    #: the selection's nodes were dragged: {id: (x, y)} of their new positions
    moved = Signal(object)

    def __init__(self, graph: Graph, bridge: GraphBridge, parent=None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.bridge = bridge
        self.nodes: dict[str, NodeItem] = {}
        self.edges: dict[Edge, EdgeItem] = {}
        self.fanouts: dict[str, FanoutItem] = {}
        self.connector: Connector | None = None
        self.rewirer: Rewirer | None = None
        #: practice mode: ids whose gradient is hidden, and right/wrong marks per id
        self.hidden_grads: set[str] = set()
        self.marks: dict[str, str] = {}
        #: edges drawn for several (into a closed group): edge -> (group name, all edges)
        self.merged_edges: dict[Edge, tuple[str, list[Edge]]] = {}
        #: show "upstream × local = contribution" on edges instead of the contribution
        self.show_formulas = False
        #: while the view pans or zooms: edges drawn thin and without antialiasing (the
        #: ``fast_edges`` property)
        self._fast_edges = False
        #: nodes keep a pixmap of themselves (cheap panning) unless zoomed far out, where
        #: they are plain boxes and regenerating hundreds of pixmaps per zoom step costs more
        self.node_cache = QGraphicsItem.CacheMode.DeviceCoordinateCache
        self._drag: DragEdgeItem | None = None
        self._drag_old_edge: Edge | None = None
        self._snap: QVariantAnimation | None = None
        self._press_positions: dict[str, QPointF] = {}
        self._eval_dirty = False
        #: highlight the node of the last step (not after "run all" or a reset)
        self._show_current = True
        # No BSP index: it re-indexes on every move and an auto-layout of hundreds of
        # nodes took seconds; a linear scan of a few thousand items is cheap.
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.NoIndex)
        self.setBackgroundBrush(theme.CANVAS)
        # Zoomed far out (and edges mid pan or zoom) these draw what the items would, in a
        # few painter calls instead of one Python paint() per item.
        self.node_layer = NodeLayer(self.nodes)
        self.edge_layer = EdgeLayer(self.edges)
        self.addItem(self.edge_layer)
        self.addItem(self.node_layer)
        self.selectionChanged.connect(self.edge_layer.invalidate)

        bridge.node_added.connect(self._on_node_added)
        bridge.node_removed.connect(self._on_node_removed)
        bridge.edge_added.connect(self._on_edge_added)
        bridge.edge_removed.connect(self._on_edge_removed)
        bridge.node_changed.connect(self._on_node_changed)
        bridge.node_moved.connect(self._on_node_moved)
        bridge.graph_cleared.connect(self._on_cleared)
        bridge.output_changed.connect(lambda *_: self.refresh_evaluation())
        bridge.evaluation_changed.connect(self._on_evaluation)
        for node_id in graph.node_ids():
            self._on_node_added(node_id)
        for edge in graph.edges():
            self._on_edge_added(edge)
        self.refresh_evaluation()

    # -- following the graph ------------------------------------------------------------
    def _on_node_added(self, node_id: str) -> None:
        item = NodeItem(self.graph.node(node_id))
        item.setCacheMode(self.node_cache)
        item.set_detail(self.node_cache != QGraphicsItem.CacheMode.NoCache)
        self.nodes[node_id] = item
        self.addItem(item)
        self.fanouts[node_id] = FanoutItem(item)
        self.node_layer.invalidate()
        self._schedule_refresh()

    def _on_node_removed(self, node_id: str) -> None:
        item = self.nodes.pop(node_id, None)
        self.fanouts.pop(node_id, None)
        if item is not None:
            for edge in list(item.edges):  # the engine sent edge_removed first; be safe
                self._on_edge_removed(edge.edge)
            self.removeItem(item)
            self.node_layer.invalidate()
        self._schedule_refresh()

    def _on_edge_added(self, edge: Edge) -> None:
        src, dst = self.nodes.get(edge.src), self.nodes.get(edge.dst)
        if src is None or dst is None:
            return
        item = EdgeItem(edge, src, dst)
        self.edges[edge] = item
        item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, self.edge_layer.isVisible())
        self.addItem(item)
        self.edge_layer.invalidate()
        dst.node = self.graph.node(edge.dst)
        if edge.port < len(dst.in_ports):
            dst.in_ports[edge.port].set_connected(True)
        self._schedule_refresh()

    def _on_edge_removed(self, edge: Edge) -> None:
        item = self.edges.pop(edge, None)
        if item is None:
            return
        item.detach()
        self.removeItem(item)
        dst = self.nodes.get(edge.dst)
        self.edge_layer.invalidate()
        if dst is not None and edge.dst in self.graph:
            dst.node = self.graph.node(edge.dst)
            if edge.port < len(dst.in_ports):
                dst.in_ports[edge.port].set_connected(False)
        self._schedule_refresh()

    def _on_node_changed(self, node_id: str) -> None:
        item = self.nodes.get(node_id)
        if item is not None:
            item.set_node(self.graph.node(node_id))
            self._schedule_refresh()
            # Ports may have changed (choose's n): edges follow their port positions.
            for edge in item.edges:
                edge.update_path()

    def _on_node_moved(self, node_id: str, x: float, y: float) -> None:
        item = self.nodes.get(node_id)
        if item is not None and (item.pos().x(), item.pos().y()) != (x, y):
            item.setPos(x, y)

    def _on_cleared(self) -> None:
        self._cancel_drag()
        for item in self.edges.values():
            item.detach()
            self.removeItem(item)
        for item in self.nodes.values():
            self.removeItem(item)
        self.edges.clear()
        self.nodes.clear()
        self.fanouts.clear()
        self.node_layer.invalidate()
        self.edge_layer.invalidate()

    def set_zoom(self, zoom: float) -> None:
        """Follow the view's zoom: cache node pictures only where they show detail; far
        out the overview draws plain boxes and curves instead."""
        self._set_detail(zoom >= NODE_DETAIL_ZOOM)

    @property
    def detail(self) -> bool:
        """Whether nodes draw themselves in full (text, ports), not as the overview's boxes."""
        return self.node_cache != QGraphicsItem.CacheMode.NoCache

    def _set_detail(self, detail: bool) -> None:
        if detail == self.detail:
            return
        mode = (
            QGraphicsItem.CacheMode.DeviceCoordinateCache
            if detail
            else QGraphicsItem.CacheMode.NoCache
        )
        self.node_cache = mode
        for node_id, item in self.nodes.items():
            item.setCacheMode(mode)
            item.set_detail(detail)
            fan = self.fanouts.get(node_id)
            if fan is not None:
                fan.setVisible(detail and bool(fan.text))
        self.node_layer.setVisible(not detail)
        self._sync_edge_layer()

    @property
    def fast_edges(self) -> bool:
        """Mid pan or zoom (the view says): edges are thin aliased lines, without labels."""
        return self._fast_edges

    @fast_edges.setter
    def fast_edges(self, on: bool) -> None:
        if on != self._fast_edges:
            self._fast_edges = on
            self._sync_edge_layer()

    def _sync_edge_layer(self) -> None:
        # Edges are plain curves without labels far out and mid pan or zoom: the overview
        # draws them then, and they have no contents of their own (Qt skips their paint).
        layer = self.edge_layer
        layer.set_fast(self._fast_edges)
        active = self._fast_edges or not self.detail
        if active != layer.isVisible():
            layer.setVisible(active)
            for item in self.edges.values():
                item.setFlag(QGraphicsItem.GraphicsItemFlag.ItemHasNoContents, active)

    @contextmanager
    def full_detail(self) -> Iterator[None]:
        """Every item draws itself in full meanwhile (ports, sums, labels; no overview, no
        fast edges), whatever the view's zoom: for exports, which have their own scale."""
        detail, fast = self.detail, self._fast_edges
        self.fast_edges = False
        self._set_detail(True)
        try:
            yield
        finally:
            self._set_detail(detail)
            self.fast_edges = fast

    # -- numbers -----------------------------------------------------------------------
    def _on_evaluation(self, event) -> None:
        if event.reason in ("step", "step_back", "run", "reset"):
            self._show_current = event.reason in ("step", "step_back")
        self.refresh_evaluation()

    def _schedule_refresh(self) -> None:
        # A file load sends hundreds of events: refresh the numbers once afterwards.
        if not self._eval_dirty:
            self._eval_dirty = True
            from PySide6.QtCore import QTimer

            QTimer.singleShot(0, self.refresh_evaluation)

    def refresh_evaluation(self) -> None:
        """Show the graph's evaluation (values, gradients, marks) on every item."""
        self._eval_dirty = False
        graph = self.graph
        ev = graph.evaluation
        values, grads, contributions = ev.values, ev.grads, ev.contributions
        output = graph.output_id
        current = ev.current if ev.current in self.nodes and self._show_current else None
        highlight = set(graph.in_edges(current)) if current is not None else set()
        out_name = graph.node(output).name if output in graph else "L"
        for node_id, item in self.nodes.items():
            hidden = node_id in self.hidden_grads
            node = item.node
            # A leaf shows its own current value at once, even while the rest is stale.
            value = node.leaf_value if node.op in ("input", "const") else values.get(node_id)
            grad = None if hidden else grads.get(node_id)
            item.set_display(
                NodeDisplay(
                    value=theme.fmt(value),
                    grad=theme.fmt(grads.get(node_id)),
                    value_full=theme.fmt_full(value),
                    grad_full=theme.fmt_full(grad),
                    stale=ev.stale,
                    current=node_id == current,
                    warning=node_id in ev.nonfinite,
                    output=node_id == output,
                    grad_hidden=hidden,
                    practice_mark=self.marks.get(node_id, ""),
                )
            )
            self._update_fanout(node_id, hidden)
        for edge, item in self.edges.items():
            item.set_highlight(edge in highlight)
            contribution = contributions.get(edge)
            merged = self.merged_edges.get(edge)
            if merged and contribution is not None and edge.src not in self.hidden_grads:
                # The one drawn edge into a closed group: it carries all of them.
                group, siblings = merged
                parts = [contributions.get(e) for e in siblings]
                total = sum(p for p in parts if p is not None)
                tip = (
                    f"<b>gradient into {graph.node(edge.src).name}</b> from the group {group}: "
                    f"the sum of its {len(siblings)} edges' contributions = "
                    f"{theme.fmt_full(total)}"
                )
                item.set_label(theme.fmt(total, 3), theme.BACKWARD, tip)
                continue
            if contribution is not None and edge.src not in self.hidden_grads:
                up = grads.get(edge.dst)
                local = local_derivative(graph, edge, values)
                src_name = graph.node(edge.src).name
                dst_name = graph.node(edge.dst).name
                # Edge labels get 3 digits so they fit between nodes; tooltips get all.
                formula = (
                    f"{format_operand(theme.fmt(up, 3))} × {format_operand(theme.fmt(local, 3))}"
                    f" = {theme.fmt(contribution, 3)}"
                )
                tip = (
                    f"<b>gradient into {src_name}</b> along this edge<br>"
                    f"upstream × local = contribution<br>"
                    f"d{out_name}/d{dst_name} × ∂{dst_name}/∂{src_name} = "
                    f"{theme.fmt_full(up)} × {theme.fmt_full(local)} = "
                    f"{theme.fmt_full(contribution)}"
                )
                label = formula if self.show_formulas else theme.fmt(contribution, 3)
                item.set_label(label, theme.BACKWARD, tip)
            elif values.get(edge.src) is not None:
                src = graph.node(edge.src)
                dst = graph.node(edge.dst)
                port = dst.port_names[edge.port]
                tip = (
                    f"<b>{src.name} → {dst.name}.{port}</b><br>"
                    f"value {theme.fmt_full(values.get(edge.src))}<br>"
                    "upstream × local = contribution appears here during the backward pass"
                )
                colour = theme.STALE if ev.stale else theme.FORWARD
                item.set_label(theme.fmt(values.get(edge.src), 3), colour, tip)
            else:
                src = graph.node(edge.src)
                dst = graph.node(edge.dst)
                item.set_label(
                    "",
                    theme.FORWARD,
                    f"{src.name} → {dst.name}.{dst.port_names[edge.port]} (not computed yet)",
                )
        if len(self.edges) <= 300:  # quadratic; big graphs are read zoomed in anyway
            self._untangle_labels()

    def _untangle_labels(self) -> None:
        """Edge labels step aside from fan-out sums and from each other."""
        taken = [f.scene_label_rect() for f in self.fanouts.values()]
        taken = [r for r in taken if not r.isEmpty()]
        for item in self.edges.values():
            if not item.label:
                continue
            item.place_label_avoiding(taken)
            taken.append(item.label_rect())

    def _update_fanout(self, node_id: str, hidden: bool) -> None:
        fan = self.fanouts.get(node_id)
        if fan is None:
            return
        ev = self.graph.evaluation
        outs = [e for e in self.nodes[node_id].edges if e.edge.src == node_id]
        if len(outs) < 2 or hidden:
            fan.set_text("")
            return
        # Top to bottom, then left to right: consumers at one height (f3's d and p1) would
        # otherwise come in the edge set's order, which changes from run to run.
        outs.sort(key=lambda e: (e.dst.pos().y(), e.dst.pos().x(), e.edge.port))
        parts = [ev.contributions.get(e.edge) for e in outs]
        if all(p is None for p in parts):
            fan.set_text("")
            return
        terms = format_sum([theme.fmt(p, 3) if p is not None else "?" for p in parts])
        grad = ev.grads.get(node_id)
        total = f" = {theme.fmt(grad, 4)}" if grad is not None and None not in parts else ""
        fan.set_text(f"Σ {terms}{total}")

    # -- queries used by the view, editor and tests --------------------------------------
    @property
    def shows_current(self) -> bool:
        """Whether the last step's node is highlighted (not after run all or a reset)."""
        return self._show_current

    def port_at(self, pos: QPointF, exclude: PortItem | None = None) -> PortItem | None:
        """The port under a scene point (with a little slack), or None."""
        slack = theme.PORT_RADIUS * 1.8
        area = QRectF(pos.x() - slack, pos.y() - slack, 2 * slack, 2 * slack)
        best, best_d = None, math.inf
        for item in self.items(area):
            if isinstance(item, PortItem) and item is not exclude:
                p = item.scenePos()
                d = math.hypot(p.x() - pos.x(), p.y() - pos.y())
                if d < best_d:
                    best, best_d = item, d
        return best

    def node_at(self, pos: QPointF) -> NodeItem | None:
        for item in self.items(pos):
            while item is not None and not isinstance(item, NodeItem):
                item = item.parentItem()
            if isinstance(item, NodeItem):
                return item
        return None

    def selected_node_ids(self) -> list[str]:
        """Selected nodes, and the nodes inside selected closed groups (``member_ids``)."""
        ids = []
        for item in self.selectedItems():
            if isinstance(item, NodeItem):
                ids.append(item.node_id)
            elif hasattr(item, "member_ids"):
                ids += [n for n in item.member_ids() if n not in ids]
        return ids

    def selected_edges(self) -> list[Edge]:
        return [i.edge for i in self.selectedItems() if isinstance(i, EdgeItem)]

    def items_rect(self) -> QRectF:
        """What "fit" and exports show: the visible nodes and closed groups
        (``member_ids``), with what hangs off a node (fan-out sums, ports), so a wide sum
        is never cut at the edge."""
        rect = QRectF()
        for item in self.items():
            if (isinstance(item, NodeItem) or hasattr(item, "member_ids")) and item.isVisible():
                rect = rect.united(item.sceneBoundingRect())
                if isinstance(item, NodeItem):
                    rect = rect.united(item.mapRectToScene(item.childrenBoundingRect()))
        return rect

    # -- port dragging -------------------------------------------------------------------
    @property
    def dragging(self) -> bool:
        return self._drag is not None

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if event.button() == Qt.MouseButton.LeftButton:
            port = self.port_at(event.scenePos())
            if port is not None:
                self._start_drag(port)
                event.accept()
                return
        super().mousePressEvent(event)
        self._press_positions = {
            nid: self.nodes[nid].pos() for nid in self.selected_node_ids() if nid in self.nodes
        }

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None:
            self._drag.set_end(event.scenePos())
            target = self._drop_target(event.scenePos())
            self._drag.set_refused(target is None and self.port_at(event.scenePos()) is not None)
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self._drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._finish_drag(event.scenePos())
            event.accept()
            return
        super().mouseReleaseEvent(event)
        moved = {}
        for node_id, before in self._press_positions.items():
            item = self.nodes.get(node_id)
            if item is not None and item.pos() != before:
                moved[node_id] = (item.pos().x(), item.pos().y())
        self._press_positions = {}
        if moved:
            self.moved.emit(moved)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        node = self.node_at(event.scenePos())
        if node is not None and self.port_at(event.scenePos()) is None:
            area = node.area_at(node.mapFromScene(event.scenePos()))
            self.edit_requested.emit(node.node_id, area, event.screenPos().toPointF())
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def _start_drag(self, port: PortItem) -> None:
        self._cancel_drag()
        self._drag_old_edge = None
        anchor = port
        if not port.is_output and port.connected:
            # Dragging from a connected input picks its edge up: drop it elsewhere to
            # rewire, on empty canvas to disconnect.
            node = self.graph.node(port.node_id)
            src = node.inputs[port.index]
            if src is not None:
                self._drag_old_edge = Edge(src, port.node_id, port.index)
                anchor = self.nodes[src].out_port
                self.edges[self._drag_old_edge].setOpacity(0.25)
        self._drag = DragEdgeItem(anchor)
        self.addItem(self._drag)

    def _drop_target(self, pos: QPointF) -> PortItem | None:
        """The port a drag would connect to at ``pos``: of the opposite kind."""
        assert self._drag is not None
        anchor = self._drag.anchor
        port = self.port_at(pos, exclude=anchor)
        if port is not None:
            return port if port.is_output != anchor.is_output else None
        node = self.node_at(pos)
        if node is None or node is anchor.node_item:
            return None
        if not anchor.is_output:
            return node.out_port
        # Dropped on a node's body: the nearest free input port.
        free = [p for p in node.in_ports if not p.connected] or node.in_ports
        if not free:
            return None
        return min(free, key=lambda p: abs(p.scenePos().y() - pos.y()))

    def _finish_drag(self, pos: QPointF) -> None:
        drag = self._drag
        assert drag is not None
        old_edge = self._drag_old_edge
        target = self._drop_target(pos)
        anchor = drag.anchor
        reason: str | None = None
        if old_edge is not None:
            # Rewiring a picked-up edge: its source stays, its input end moves.
            if old_edge in self.edges:
                self.edges[old_edge].setOpacity(1.0)
            if target is None and self.node_at(pos) is None:
                reason = self._call_rewire(old_edge, None)
            elif target is not None and not target.is_output:
                new_edge = Edge(old_edge.src, target.node_id, target.index)
                reason = None if new_edge == old_edge else self._call_rewire(old_edge, new_edge)
            else:
                reason = "drop the edge on an input port, or on empty canvas to disconnect it"
        elif target is None:
            reason = (
                "drop on an input port to connect"
                if anchor.is_output
                else "drop on a node's output port to connect"
            )
            if self.port_at(pos, exclude=anchor) is not None:
                reason = (
                    "connect an output port to an input port"
                    if anchor.is_output
                    else "connect an input port to an output port"
                )
        else:
            out, inp = (anchor, target) if anchor.is_output else (target, anchor)
            reason = self._call_connect(out.node_id, inp.node_id, inp.index)
        self._drag = None
        self._drag_old_edge = None
        if reason:
            self.refused.emit(reason)
            self._snap_back(drag)
        else:
            self.removeItem(drag)

    def _call_connect(self, src: str, dst: str, port: int) -> str | None:
        if self.connector is None:
            return "editing is not available"
        return self.connector(src, dst, port)

    def _call_rewire(self, old: Edge, new: Edge | None) -> str | None:
        if self.rewirer is None:
            return "editing is not available"
        return self.rewirer(old, new)

    def _snap_back(self, drag: DragEdgeItem) -> None:
        """Animate the refused loose end back to its port, then remove it."""
        if self._snap is not None:
            self._snap.stop()
        start = drag.end
        home = drag.anchor.scenePos()
        drag.set_refused(True)
        anim = QVariantAnimation(self)
        anim.setDuration(180)
        anim.setStartValue(0.0)
        anim.setEndValue(1.0)

        def step(t: float) -> None:
            drag.set_end(
                QPointF(
                    start.x() + (home.x() - start.x()) * t, start.y() + (home.y() - start.y()) * t
                )
            )

        def done() -> None:
            if drag.scene() is self:
                self.removeItem(drag)
            self._snap = None

        anim.valueChanged.connect(step)
        anim.finished.connect(done)
        self._snap = anim
        anim.start(QVariantAnimation.DeletionPolicy.DeleteWhenStopped)

    def _cancel_drag(self) -> None:
        if self._drag is not None:
            if self._drag_old_edge in self.edges:
                self.edges[self._drag_old_edge].setOpacity(1.0)
            if self._drag.scene() is self:
                self.removeItem(self._drag)
            self._drag = None
            self._drag_old_edge = None
