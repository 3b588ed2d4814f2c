"""The canvas view: Ctrl+wheel zooms at the cursor, middle-drag or Space+drag pans,
``fit()`` frames the graph, palette drops add nodes, Tab or a right-click on empty
canvas opens the searchable add-node menu."""

from __future__ import annotations

import math

from PySide6.QtCore import QEvent, QLineF, QPoint, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import (
    QDragEnterEvent,
    QDragMoveEvent,
    QDropEvent,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPen,
    QWheelEvent,
)
from PySide6.QtWidgets import QGraphicsView, QWidget

from gui.graph_tab import theme
from gui.graph_tab.palette import OP_MIME
from gui.graph_tab.scene import GraphScene

MIN_ZOOM = 0.08
MAX_ZOOM = 3.0
#: the scene is effectively unbounded so the user can pan anywhere
_WORLD = QRectF(-100_000, -100_000, 200_000, 200_000)


class GraphView(QGraphicsView):
    #: an op dropped from the palette: (op name, scene position)
    op_dropped = Signal(str, QPointF)
    #: the add-node menu is wanted at this scene position (Tab, right-click on empty)
    add_menu_requested = Signal(QPointF)
    #: right-click on a node: (node id, global screen position)
    node_menu_requested = Signal(str, QPoint)
    zoom_changed = Signal(float)
    # Class defaults: Qt's constructor already scrolls, before __init__ sets them.
    _settle: QTimer | None = None
    _quiet = False

    def __init__(self, scene: GraphScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("graphView")
        self.setRenderHints(QPainter.RenderHint.Antialiasing | QPainter.RenderHint.TextAntialiasing)
        self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlags(
            QGraphicsView.OptimizationFlag.DontSavePainterState
            | QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing
        )
        self.setSceneRect(_WORLD)
        # Pan with the middle button or Space+drag; scroll bars would only add clutter.
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setAcceptDrops(True)
        self.zoom_changed.connect(scene.set_zoom)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self._pan_from: QPoint | None = None
        self._space = False
        self._fit_pending = False
        # While the user pans or zooms, edges are drawn fast; full quality 150 ms later.
        settle = QTimer(self)
        settle.setSingleShot(True)
        settle.setInterval(150)
        settle.timeout.connect(self._settled)
        self._settle = settle
        self.last_scene_pos = QPointF(0, 0)

    @property
    def graph_scene(self) -> GraphScene:
        return self.scene()  # type: ignore[return-value]

    # -- zoom and pan ------------------------------------------------------------------
    def zoom(self) -> float:
        return self.transform().m11()

    def _moving(self) -> None:
        if self._settle is not None and not self._quiet:
            self.graph_scene.fast_edges = True
            self._settle.start()

    def _settled(self) -> None:
        self.graph_scene.fast_edges = False
        self.viewport().update()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        self._moving()
        super().scrollContentsBy(dx, dy)

    def zoom_by(self, factor: float, anchor: QPointF | None = None) -> None:
        """Scale by ``factor`` keeping the scene point under ``anchor`` (view coords) still."""
        self._moving()
        current = self.zoom()
        target = min(MAX_ZOOM, max(MIN_ZOOM, current * factor))
        factor = target / current
        if math.isclose(factor, 1.0):
            return
        if anchor is None:
            anchor = QPointF(self.viewport().rect().center())
        before = self.mapToScene(anchor.toPoint())
        self.scale(factor, factor)
        after = self.mapToScene(anchor.toPoint())
        delta = after - before
        self.translate(delta.x(), delta.y())
        self.zoom_changed.emit(self.zoom())

    def pan_by(self, dx: float, dy: float) -> None:
        """Scroll the canvas by (dx, dy) view pixels."""
        h, v = self.horizontalScrollBar(), self.verticalScrollBar()
        h.setValue(h.value() + round(dx))
        v.setValue(v.value() + round(dy))

    def fit(self) -> None:
        """Frame every node (at most 1.3x zoom, so a small graph is not blown up)."""
        # A one-off jump, not a pan: draw it at full quality straight away.
        self._quiet = True
        try:
            self._fit()
        finally:
            self._quiet = False

    def _fit(self) -> None:
        rect = self.graph_scene.items_rect()
        if rect.isEmpty():
            self.resetTransform()
            self.centerOn(0, 0)
            self.zoom_changed.emit(1.0)
            return
        rect = rect.adjusted(-24, -24, 24, 24)
        self.fitInView(rect, Qt.AspectRatioMode.KeepAspectRatio)
        if self.zoom() > 1.3:
            self.resetTransform()
            self.scale(1.3, 1.3)
        elif self.zoom() < MIN_ZOOM:
            self.resetTransform()
            self.scale(MIN_ZOOM, MIN_ZOOM)
        self.centerOn(rect.center())
        self.zoom_changed.emit(self.zoom())

    def fit_when_shown(self) -> None:
        """Fit now and again after the next resizes, until the user zooms or pans."""
        self._fit_pending = True
        self.fit()

    def resizeEvent(self, event) -> None:
        self._quiet = True  # a resize is not a pan: keep full quality
        try:
            super().resizeEvent(event)
        finally:
            self._quiet = False
        if self._fit_pending:
            self.fit()

    def settle(self) -> None:
        """End the fast drawing of a pan or zoom now (before a screenshot)."""
        if self._settle is not None:
            self._settle.stop()
        self._settled()

    def reset_zoom(self) -> None:
        center = self.mapToScene(self.viewport().rect().center())
        self._quiet = True
        try:
            self.resetTransform()
            self.centerOn(center)
        finally:
            self._quiet = False
        self.zoom_changed.emit(1.0)

    def wheelEvent(self, event: QWheelEvent) -> None:
        if event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            steps = event.angleDelta().y() / 120.0
            self._fit_pending = False
            if steps:
                self.zoom_by(1.15**steps, event.position())
            event.accept()
            return
        super().wheelEvent(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self.setFocus(Qt.FocusReason.MouseFocusReason)
        if event.button() == Qt.MouseButton.MiddleButton or (
            self._space and event.button() == Qt.MouseButton.LeftButton
        ):
            self._pan_from = event.position().toPoint()
            self._fit_pending = False
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self.last_scene_pos = self.mapToScene(event.position().toPoint())
        if self._pan_from is not None:
            pos = event.position().toPoint()
            delta = pos - self._pan_from
            self._pan_from = pos
            self.pan_by(-delta.x(), -delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._pan_from is not None and event.button() in (
            Qt.MouseButton.MiddleButton,
            Qt.MouseButton.LeftButton,
        ):
            self._pan_from = None
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space else Qt.CursorShape.ArrowCursor
            )
            event.accept()
            return
        super().mouseReleaseEvent(event)

    def event(self, event: QEvent) -> bool:
        # Tab would move the keyboard focus; here it opens the add-node menu.
        if event.type() == QEvent.Type.KeyPress and isinstance(event, QKeyEvent):
            if event.key() == Qt.Key.Key_Tab and not event.modifiers():
                self.request_add_menu()
                return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = True
            self.setDragMode(QGraphicsView.DragMode.NoDrag)
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space = False
            self._pan_from = None
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def focusOutEvent(self, event) -> None:
        if self._space:
            self._space = False
            self._pan_from = None
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
        super().focusOutEvent(event)

    def request_add_menu(self, scene_pos: QPointF | None = None) -> None:
        """Open the add-node menu at the cursor (or the view's centre)."""
        if scene_pos is None:
            cursor = self.viewport().mapFromGlobal(self.cursor().pos())
            if self.viewport().rect().contains(cursor):
                scene_pos = self.mapToScene(cursor)
            else:
                scene_pos = self.mapToScene(self.viewport().rect().center())
        self.add_menu_requested.emit(scene_pos)

    def contextMenuEvent(self, event) -> None:
        scene_pos = self.mapToScene(event.pos())
        node = self.graph_scene.node_at(scene_pos)
        if node is not None:
            if not node.isSelected():
                self.graph_scene.clearSelection()
                node.setSelected(True)
            self.node_menu_requested.emit(node.node_id, event.globalPos())
        else:
            self.add_menu_requested.emit(scene_pos)
        event.accept()

    # -- palette drops -----------------------------------------------------------------
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasFormat(OP_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()  # files go to the window, which opens them

    def dragMoveEvent(self, event: QDragMoveEvent) -> None:
        if event.mimeData().hasFormat(OP_MIME):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        if event.mimeData().hasFormat(OP_MIME):
            op = bytes(event.mimeData().data(OP_MIME).data()).decode("utf-8")
            self.op_dropped.emit(op, self.mapToScene(event.position().toPoint()))
            event.acceptProposedAction()
        else:
            event.ignore()

    # -- background --------------------------------------------------------------------
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        painter.fillRect(rect, theme.CANVAS)
        zoom = self.zoom()
        step = theme.GRID_STEP
        while step * zoom < 16:  # keep grid lines at least 16 pixels apart
            step *= 5
        pen = QPen(theme.GRID, 0)  # cosmetic: one pixel at any zoom
        painter.setPen(pen)
        # Crisp and cheap: smoothing hair lines costs more than the rest of a frame.
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        lines = []
        x = left
        while x < rect.right():
            lines.append(QLineF(x, rect.top(), x, rect.bottom()))
            x += step
        y = top
        while y < rect.bottom():
            lines.append(QLineF(rect.left(), y, rect.right(), y))
            y += step
        painter.drawLines(lines)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
