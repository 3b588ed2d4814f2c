"""The loss-surface panel under the canvas: the output over one or two inputs.

One input: the curve with the tangent at the current point (its slope is dL/dx).
Two inputs: a shaded height map with contour lines, nan/inf regions shaded grey, the
gradient arrow at the current point (perpendicular to the contour through it), a
draggable current point (dropping it sets the inputs, one undoable step) and gradient
descent ``x <- x - eta * grad`` drawn as a path, point by point. Every other input keeps
its value. The grid comes from :func:`graph.surface.surface` (numpy, all points at once)
and is recomputed when the graph or an input changes while the panel is shown.
"""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QPointF, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.surface import default_range, descent_path, surface
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.editor import GraphEditor

GRID_STEPS = 100
CONTOUR_LEVELS = 12
#: Gradient descent draws one more point every this many ms.
DESCENT_TICK_MS = 60
_UNDEFINED_RGBA = (150, 150, 150, 170)


def _spin(lo: float, hi: float, value: float, decimals: int = 3, step: float = 0.5):
    box = QDoubleSpinBox()
    box.setRange(lo, hi)
    box.setDecimals(decimals)
    box.setSingleStep(step)
    box.setValue(value)
    box.setKeyboardTracking(False)
    return box


def _arrow(x: float, y: float, dx: float, dy: float) -> tuple[list[float], list[float]]:
    """Polyline of an arrow from (x, y) along (dx, dy): the shaft, then a two-stroke head
    (nan separates the strokes; the plot keeps its aspect ratio so the head looks right)."""
    tx, ty = x + dx, y + dy
    xs, ys = [x, tx, math.nan], [y, ty, math.nan]
    for turn in (math.radians(150), math.radians(-150)):
        c, s = math.cos(turn), math.sin(turn)
        xs += [tx, tx + 0.3 * (c * dx - s * dy), math.nan]
        ys += [ty, ty + 0.3 * (s * dx + c * dy), math.nan]
    return xs, ys


class SurfacePanel(QWidget):
    """See the module docstring. ``redrawn`` is emitted after every redraw."""

    redrawn = Signal()

    def __init__(self, bridge: GraphBridge, editor: GraphEditor, parent=None) -> None:
        super().__init__(parent)
        self.setObjectName("surfacePanel")
        self.graph = bridge.graph
        self.editor = editor
        self.surf = None
        self.path: list[tuple[tuple[float, ...], float]] = []
        self._shown_path = 0
        self._dirty = True
        self._ranges: dict[str, tuple[float, float]] = {}

        self.x_box = QComboBox()
        self.x_box.setObjectName("surfaceX")
        self.y_box = QComboBox()
        self.y_box.setObjectName("surfaceY")
        self.x_lo, self.x_hi = _spin(-1e6, 1e6, -3), _spin(-1e6, 1e6, 3)
        self.y_lo, self.y_hi = _spin(-1e6, 1e6, -3), _spin(-1e6, 1e6, 3)
        self.reset_button = QPushButton("Ranges around the point")
        self.reset_button.setToolTip("Centre the ranges on the current values (±3 or more)")
        self.eta = _spin(1e-4, 100.0, 0.1, 4, 0.05)
        self.eta.setObjectName("surfaceEta")
        self.eta.setToolTip("Learning rate η of x ← x − η∇L")
        self.steps = QSpinBox()
        self.steps.setObjectName("surfaceSteps")
        self.steps.setRange(1, 500)
        self.steps.setValue(25)
        self.steps.setToolTip("Number of gradient-descent steps")
        self.descend_button = QPushButton("Descend")
        self.descend_button.setObjectName("surfaceDescend")
        self.descend_button.setToolTip("Animate gradient descent from the current point")
        self.info = QLabel()
        self.info.setObjectName("surfaceInfo")
        self.info.setWordWrap(True)

        row1 = QHBoxLayout()
        for label, w in (("x", self.x_box), ("from", self.x_lo), ("to", self.x_hi)):
            row1.addWidget(QLabel(label))
            row1.addWidget(w)
        row1.addSpacing(12)
        for label, w in (("y", self.y_box), ("from", self.y_lo), ("to", self.y_hi)):
            row1.addWidget(QLabel(label))
            row1.addWidget(w)
        row1.addWidget(self.reset_button)
        row1.addStretch(1)
        row2 = QHBoxLayout()
        row2.addWidget(QLabel("η"))
        row2.addWidget(self.eta)
        row2.addWidget(QLabel("steps"))
        row2.addWidget(self.steps)
        row2.addWidget(self.descend_button)
        row2.addWidget(self.info, 1)

        self.plot = pg.PlotWidget(background="w")
        self.plot.setObjectName("surfacePlot")
        self.plot.showGrid(x=True, y=True, alpha=0.2)
        self.image = pg.ImageItem()
        self.undefined = pg.ImageItem()
        self.curve = pg.PlotDataItem(pen=pg.mkPen("#1f63c6", width=2), connect="finite")
        self.tangent_line = pg.PlotDataItem(pen=pg.mkPen("#c2570c", width=2))
        self.arrow_line = pg.PlotDataItem(pen=pg.mkPen("#c2570c", width=3), connect="finite")
        self.path_item = pg.PlotDataItem(
            pen=pg.mkPen("#d93025", width=2), symbol="o", symbolSize=5, symbolBrush="#d93025"
        )
        self.point = pg.TargetItem(movable=True, size=14, pen=pg.mkPen("#c2570c", width=2))
        self.contours: list[pg.IsocurveItem] = []
        for item in (self.image, self.undefined):
            self.plot.addItem(item)
        for item in (self.curve, self.tangent_line, self.path_item, self.arrow_line):
            self.plot.addItem(item)
        self.plot.addItem(self.point)
        self.image.setColorMap(pg.colormap.get("viridis"))

        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 2, 4, 2)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.plot, 1)

        self._timer = QTimer(self)
        self._timer.setInterval(DESCENT_TICK_MS)
        self._timer.timeout.connect(self._advance_path)
        self.x_box.currentIndexChanged.connect(self._axes_changed)
        self.y_box.currentIndexChanged.connect(self._axes_changed)
        for box in (self.x_lo, self.x_hi, self.y_lo, self.y_hi):
            box.valueChanged.connect(self._range_edited)
        self.reset_button.clicked.connect(self.reset_ranges)
        self.descend_button.clicked.connect(self.descend)
        self.point.sigPositionChangeFinished.connect(self._point_dropped)
        bridge.edited.connect(self._schedule)
        bridge.graph_cleared.connect(self._forget)
        self._fill_inputs()

    # -- inputs and ranges -------------------------------------------------------------
    def _input_ids(self) -> list[str]:
        return self.graph.inputs()

    def _fill_inputs(self) -> None:
        ids = self._input_ids()
        keep_x, keep_y = self.x_box.currentData(), self.y_box.currentData()
        for box in (self.x_box, self.y_box):
            box.blockSignals(True)
            box.clear()
        self.y_box.addItem("— (one input)", None)
        for nid in ids:
            name = self.graph.node(nid).name
            self.x_box.addItem(name, nid)
            self.y_box.addItem(name, nid)
        if keep_x in ids:
            self.x_box.setCurrentIndex(self.x_box.findData(keep_x))
        if keep_y in ids and keep_y != self.x_box.currentData():
            self.y_box.setCurrentIndex(self.y_box.findData(keep_y))
        elif keep_x is None and len(ids) >= 2:
            self.y_box.setCurrentIndex(2)  # a new graph starts with a contour plot
        for box in (self.x_box, self.y_box):
            box.blockSignals(False)
        self._load_ranges()

    def choose(self, x: str, y: str | None = None) -> None:
        """Pick the inputs by id (x axis, y axis or None for a 1-D plot)."""
        self.x_box.setCurrentIndex(self.x_box.findData(x))
        self.y_box.setCurrentIndex(self.y_box.findData(y) if y else 0)

    @property
    def x_id(self) -> str | None:
        return self.x_box.currentData()

    @property
    def y_id(self) -> str | None:
        y = self.y_box.currentData()
        return None if y == self.x_id else y

    def _range_for(self, nid: str) -> tuple[float, float]:
        if nid not in self._ranges:
            self._ranges[nid] = default_range(self.graph.node(nid).value or 0.0)
        return self._ranges[nid]

    def _load_ranges(self) -> None:
        for nid, lo, hi in ((self.x_id, self.x_lo, self.x_hi), (self.y_id, self.y_lo, self.y_hi)):
            lo.setEnabled(nid is not None)
            hi.setEnabled(nid is not None)
            if nid is None:
                continue
            a, b = self._range_for(nid)
            for box, v in ((lo, a), (hi, b)):
                box.blockSignals(True)
                box.setValue(v)
                box.blockSignals(False)

    def set_range(self, nid: str, lo: float, hi: float) -> None:
        """Set an input's axis range (refused quietly unless lo < hi)."""
        if math.isfinite(lo) and math.isfinite(hi) and lo < hi:
            self._ranges[nid] = (float(lo), float(hi))
            self._load_ranges()
            self.refresh()

    def reset_ranges(self) -> None:
        for nid in (self.x_id, self.y_id):
            if nid is not None:
                self._ranges[nid] = default_range(self.graph.node(nid).value or 0.0)
        self._load_ranges()
        self.refresh()

    def _range_edited(self) -> None:
        for nid, lo, hi in ((self.x_id, self.x_lo, self.x_hi), (self.y_id, self.y_lo, self.y_hi)):
            if nid is not None and lo.value() < hi.value():
                self._ranges[nid] = (lo.value(), hi.value())
        self.refresh()

    def _axes_changed(self) -> None:
        self.path = []
        self._load_ranges()
        self.refresh()

    # -- following the graph -----------------------------------------------------------
    def _forget(self) -> None:
        self._ranges.clear()
        self.path = []

    def _schedule(self) -> None:
        if not self._dirty:
            self._dirty = True
            QTimer.singleShot(0, self._refresh_if_shown)

    def _refresh_if_shown(self) -> None:
        if self.isVisible():
            self.refresh()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        if self._dirty:
            self.refresh()

    # -- drawing -----------------------------------------------------------------------
    def refresh(self) -> None:
        """Recompute the grid and redraw everything."""
        self._dirty = False
        if [self.x_box.itemData(i) for i in range(self.x_box.count())] != self._input_ids():
            self._fill_inputs()
        x, y = self.x_id, self.y_id
        self.surf = None
        if x is None:
            self._clear("Add an input node to see the output over it.")
            return
        try:
            self.surf = surface(
                self.graph,
                x,
                y,
                self._range_for(x),
                self._range_for(y) if y else None,
                GRID_STEPS,
            )
            result = evaluate(self.graph)
        except GraphError as exc:
            self._clear(str(exc))
            return
        if y is None:
            self._draw_curve(result)
        else:
            self._draw_contours(result)
        self._draw_path()
        self.redrawn.emit()

    def _clear(self, text: str) -> None:
        for item in (self.curve, self.tangent_line, self.arrow_line, self.path_item):
            item.setData([], [])
        self.image.clear()
        self.undefined.clear()
        self._set_contours([])
        self.point.hide()
        self.info.setText(text)
        self.redrawn.emit()

    def _names(self) -> tuple[str, str, str | None]:
        g = self.graph
        assert self.surf is not None
        y = self.surf.y
        return (
            g.node(self.surf.output).name,
            g.node(self.surf.x).name,
            g.node(y).name if y else None,
        )

    def _draw_curve(self, result) -> None:
        s = self.surf
        assert s is not None
        out, xn, _ = self._names()
        self.image.clear()
        self.undefined.clear()
        self._set_contours([])
        self.arrow_line.setData([], [])
        z = np.where(np.isfinite(s.z), s.z, np.nan)
        self.curve.setData(s.xs, z)
        x0 = self.graph.node(s.x).value or 0.0
        value = result.value if result.value is not None else math.nan
        slope = result.grads.get(s.x, 0.0)
        span = 0.25 * (s.xs[-1] - s.xs[0])
        if math.isfinite(value) and math.isfinite(slope):
            tx = np.array([x0 - span, x0 + span])
            self.tangent_line.setData(tx, value + slope * (tx - x0))
            self.point.setPos(x0, value)
            self.point.show()
        else:
            self.tangent_line.setData([], [])
            self.point.hide()
        self.plot.setAspectLocked(False)
        self.plot.setLabel("bottom", xn)
        self.plot.setLabel("left", out)
        undefined = int((~np.isfinite(s.z)).sum())
        note = f"; undefined (nan/inf) at {undefined} of {s.z.size} points" if undefined else ""
        self.info.setText(
            f"{out} over {xn}; tangent at {xn} = {x0:.4g}: slope dL/d{xn} = {slope:.4g}{note}"
        )
        self.plot.enableAutoRange()

    def _draw_contours(self, result) -> None:
        s = self.surf
        assert s is not None and s.ys is not None
        out, xn, yn = self._names()
        self.curve.setData([], [])
        self.tangent_line.setData([], [])
        finite = np.isfinite(s.z)
        x0, x1, y0, y1 = s.xs[0], s.xs[-1], s.ys[0], s.ys[-1]
        rect = (x0, y0, x1 - x0, y1 - y0)
        # ImageItem is indexed [x, y]: the surface is [row = y, column = x].
        z = s.z.T
        if finite.any():
            lo, hi = float(s.z[finite].min()), float(s.z[finite].max())
            shown = np.where(finite.T, z, lo)
            self.image.setImage(shown, levels=(lo, hi if hi > lo else lo + 1))
            self.image.setRect(*rect)
            levels = np.linspace(lo, hi, CONTOUR_LEVELS + 2)[1:-1] if hi > lo else []
        else:
            self.image.clear()
            levels = []
        mask = np.zeros(z.shape + (4,), dtype=np.ubyte)
        mask[~finite.T] = _UNDEFINED_RGBA
        self.undefined.setImage(mask, levels=None)
        self.undefined.setRect(*rect)
        self._set_contours(levels, np.where(finite.T, z, np.nan), rect)
        px = self.graph.node(s.x).value or 0.0
        py = self.graph.node(s.y).value or 0.0  # type: ignore[arg-type]
        self.point.setPos(px, py)
        self.point.show()
        gx, gy = result.grads.get(s.x, 0.0), result.grads.get(s.y, 0.0)
        length = math.hypot(gx, gy)
        if length > 0 and math.isfinite(length):
            scale = 0.18 * min(x1 - x0, y1 - y0) / length
            self.arrow_line.setData(*_arrow(px, py, gx * scale, gy * scale))
        else:
            self.arrow_line.setData([], [])
        self.plot.setAspectLocked(True)
        self.plot.setLabel("bottom", xn)
        self.plot.setLabel("left", yn or "")
        undefined = int((~finite).sum())
        note = f"; grey: undefined (nan/inf) at {undefined} points" if undefined else ""
        value = result.value if result.value is not None else math.nan
        self.info.setText(
            f"{out} = {value:.4g} at ({xn}, {yn}) = ({px:.4g}, {py:.4g}); "
            f"∇L = ({gx:.4g}, {gy:.4g}), perpendicular to the contour{note}. "
            "Drag the point to move it."
        )
        self.plot.setRange(xRange=(x0, x1), yRange=(y0, y1), padding=0)

    def _set_contours(self, levels, data=None, rect=None) -> None:
        for item in self.contours:
            self.plot.removeItem(item)
        self.contours = []
        for level in levels:
            iso = pg.IsocurveItem(level=float(level), pen=pg.mkPen((255, 255, 255, 200)))
            iso.setData(data)
            # Isocurves are drawn in pixel units: map them onto the image's rectangle.
            x0, y0, w, h = rect
            nx, ny = data.shape
            iso.setTransform(
                pg.QtGui.QTransform.fromTranslate(x0, y0).scale(w / (nx - 1), h / (ny - 1))
            )
            self.plot.addItem(iso)
            self.contours.append(iso)

    # -- gradient descent and dragging --------------------------------------------------
    def descend(self) -> list[tuple[tuple[float, ...], float]]:
        """Run gradient descent from the current point and animate its path."""
        x, y = self.x_id, self.y_id
        if x is None:
            return []
        inputs = (x,) if y is None else (x, y)
        try:
            self.path = descent_path(self.graph, inputs, self.eta.value(), self.steps.value())
        except GraphError as exc:
            self.info.setText(str(exc))
            self.path = []
            return []
        self._shown_path = 1
        self._timer.start()
        self._draw_path()
        return self.path

    def _advance_path(self) -> None:
        self._shown_path += 1
        if self._shown_path >= len(self.path):
            self._shown_path = len(self.path)
            self._timer.stop()
            if self.path:
                (*_, last) = self.path
                self.info.setText(
                    f"Gradient descent: {len(self.path) - 1} steps of η = {self.eta.value():g}; "
                    f"L went from {self.path[0][1]:.4g} to {last[1]:.4g}."
                )
        self._draw_path()

    def finish_animation(self) -> None:
        """Show the whole descent path at once (tests, screenshots)."""
        self._shown_path = len(self.path)
        self._timer.stop()
        self._draw_path()

    def _draw_path(self) -> None:
        shown = self.path[: self._shown_path]
        if not shown:
            self.path_item.setData([], [])
            return
        if self.y_id is None:
            xs = [p[0][0] for p in shown]
            ys = [p[1] for p in shown]
        else:
            xs = [p[0][0] for p in shown]
            ys = [p[0][1] for p in shown]
        self.path_item.setData(xs, ys)

    def _point_dropped(self) -> None:
        pos: QPointF = self.point.pos()
        self.move_point(pos.x(), pos.y())

    def move_point(self, px: float, py: float) -> None:
        """Set the inputs to the point (x and, for a contour plot, y): one undo step."""
        x, y = self.x_id, self.y_id
        if x is None:
            return
        stack = self.editor.stack
        stack.beginMacro("Move the point on the surface")
        try:
            self.editor.set_value(x, px)
            if y is not None:
                self.editor.set_value(y, py)
        finally:
            stack.endMacro()
        self.path = []
        self.refresh()
