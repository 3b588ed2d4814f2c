"""Live pyqtgraph plots of training runs: loss per iteration and accuracy.

Both plots follow a ``RunsModel``: one set of curves per visible run, in the run's
colour, named in the legend. Worker items only append to each run's ``RunMetrics``; a
``QTimer`` (every ``interval_ms``) redraws the runs whose metrics changed with
``setData``. Non-finite values are drawn as gaps (``connect="finite"``), so NaN, inf,
empty and constant series never break a plot.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from gui.training.plot_parts import (
    IntegerAxis,
    TimedPlotWidget,
    fmt,
    nearest,
    pct,
    set_series,
)
from gui.training.runs import Run, RunsModel
from gui.training.series import EmaSmoother, finite_or_nan
from gui.turns import TURNS

pg.setConfigOptions(antialias=True)

_MAX_READOUT_RUNS = 4
#: Above this many points a loss curve is drawn downsampled (peaks kept) by a whole factor.
MAX_DRAWN_POINTS = 4000
#: A redraw refused its turn (gui.turns) tries again after this many ms.
RETRY_MS = 15


@dataclass
class _Curves:
    items: list[pg.PlotDataItem]
    version: int = -1
    shown: bool = False
    added: bool = False
    name: str = ""
    color: str = ""
    extra: dict = field(default_factory=dict)


class LivePlot(QWidget):
    """Base of the live plots: a ``PlotWidget``, a legend, a crosshair with a readout
    line under the plot, an options row, and the redraw timer.

    Subclasses implement ``_make_curves(run)`` and ``_draw(run, curves)``, and may add
    widgets to ``self.options`` (a ``QHBoxLayout``).
    """

    #: emitted after a redraw that changed something (tests and benches wait on it)
    redrawn = Signal()
    #: where the legend sits: (x, y) offset from the top-left (positive) or the
    #: bottom-right (negative) corner, as pyqtgraph's ``addLegend`` takes it.
    legend_offset: tuple[int, int] = (-10, 10)

    def __init__(
        self, model: RunsModel, parent: QWidget | None = None, *, interval_ms: int = 100
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._curves: dict[int, _Curves] = {}

        self.x_axis_item = IntegerAxis("bottom")
        self.plot_widget = TimedPlotWidget(background="w", axisItems={"bottom": self.x_axis_item})
        self.plot_widget.setObjectName("plotArea")  # what an export shows (real-window tests)
        self.plot_item: pg.PlotItem = self.plot_widget.getPlotItem()
        self.plot_item.showGrid(x=True, y=True, alpha=0.25)
        self.plot_item.setMenuEnabled(True)
        self.legend = self.plot_item.addLegend(offset=self.legend_offset, labelTextColor="k")
        for axis in ("left", "bottom"):
            self.plot_item.getAxis(axis).setTextPen("k")
            self.plot_item.getAxis(axis).setPen("k")
            # Two tick levels, not three: the finest grid level costs most of a repaint
            # (software rendering offscreen) and adds little.
            self.plot_item.getAxis(axis).setStyle(maxTickLevel=1)
        # A fixed width: tick labels that grow and shrink would re-lay out (and repaint)
        # the whole plot.
        self.plot_item.getAxis("left").setWidth(52)

        # Crosshair, hidden until the mouse is over the plot.
        pen = pg.mkPen(QColor(120, 120, 120), width=1, style=Qt.PenStyle.DashLine)
        self._vline = pg.InfiniteLine(angle=90, movable=False, pen=pen)
        self._hline = pg.InfiniteLine(angle=0, movable=False, pen=pen)
        for line in (self._vline, self._hline):
            line.setZValue(1000)
            line.hide()
            self.plot_item.addItem(line, ignoreBounds=True)
        self._mouse_proxy = pg.SignalProxy(
            self.plot_widget.scene().sigMouseMoved, rateLimit=30, slot=self._on_mouse_moved
        )
        self.readout = QLabel(" ")
        self.readout.setObjectName("plotReadout")
        self.readout.setTextFormat(Qt.TextFormat.RichText)
        self.readout.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.options = QHBoxLayout()
        self.options.setContentsMargins(0, 0, 0, 0)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(2)
        layout.addLayout(self.options)
        layout.addWidget(self.plot_widget, 1)
        layout.addWidget(self.readout)

        model.run_removed.connect(self._forget)
        model.run_changed.connect(self._on_run_changed)
        model.modelReset.connect(self._forget_all)
        # The redraw interval adapts to what a redraw costs (setData + paint), so that
        # live plots never take more than ``cpu_budget`` of the GUI thread's time, which
        # keeps the event loop responsive and the training thread fed even when a plot
        # holds many long runs. It never goes below ``interval_ms`` or above 1 s.
        self.min_interval_ms = interval_ms
        self.max_interval_ms = max(interval_ms, 1000)
        self.cpu_budget = 0.025
        self._cost_s = 0.0
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._on_timer)
        self.timer.start()
        self._retry = QTimer(self)
        self._retry.setSingleShot(True)
        self._retry.setInterval(RETRY_MS)
        self._retry.timeout.connect(self._on_timer)

    def _on_timer(self) -> None:
        # A turn of the event loop in which no other costly redraw paints (gui.turns; the
        # plots of one runs model share theirs, as before): else a try a moment later.
        if self.isVisible() and self._due() and not TURNS.claim(self.model):
            self._retry.start()
            return
        start = time.perf_counter()
        changed = self.refresh()
        if not changed:
            return
        # The paint happens later in the event loop: count the previous redraw's paint.
        cost = time.perf_counter() - start + self.plot_widget.last_paint_s
        self._cost_s = cost if self._cost_s == 0 else 0.7 * self._cost_s + 0.3 * cost
        interval = int(1000 * self._cost_s / self.cpu_budget)
        self.timer.setInterval(min(self.max_interval_ms, max(self.min_interval_ms, interval)))

    def _due(self) -> bool:
        """True if ``refresh`` would redraw something (a look, nothing drawn)."""
        return any(self._stale(run, self._curves.get(run.run_id)) for run in self.model.runs())

    def _stale(self, run: Run, curves: _Curves | None) -> bool:
        if curves is None or run.visible != curves.shown:
            return True
        return run.visible and (
            curves.version != self._series_version(run)
            or curves.name != run.name
            or curves.color != run.color.name()
        )

    # -- public ----------------------------------------------------------------------
    def refresh(self) -> bool:
        """Redraw every visible run whose metrics changed (the timer calls this); True if
        anything changed."""
        changed = False
        for run in self.model.runs():
            curves = self._curves.get(run.run_id)
            if curves is None:
                curves = _Curves(items=self._make_curves(run))
                self._curves[run.run_id] = curves
            if run.visible != curves.shown:
                self._set_shown(run, curves, run.visible)
                changed = True
            if self._stale(run, curves):
                if curves.name != run.name or curves.color != run.color.name():
                    self._restyle(run, curves)
                self._draw(run, curves)
                curves.version = self._series_version(run)
                changed = True
        if changed:
            # Settle the auto-range now, not in the paint: a range change during the
            # paint schedules a second full paint of the plot right after it.
            self.plot_item.vb.prepareForPaint()
            self.redrawn.emit()
        return changed

    def redraw_all(self) -> None:
        """Force a full redraw (after an option such as log scale changed)."""
        for curves in self._curves.values():
            curves.version = -1
            curves.extra.clear()
        self.refresh()

    def curve_data(self, run_id: int, which: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """What is drawn for a run: ``(x, y)`` of its ``which``-th curve (empty if none)."""
        curves = self._curves.get(run_id)
        if curves is None or which >= len(curves.items):
            return np.empty(0), np.empty(0)
        x, y = curves.items[which].getOriginalDataset()
        if x is None or y is None:
            return np.empty(0), np.empty(0)
        return np.asarray(x), np.asarray(y)

    # -- for subclasses --------------------------------------------------------------
    def _make_curves(self, run: Run) -> list[pg.PlotDataItem]:
        raise NotImplementedError

    def _draw(self, run: Run, curves: _Curves) -> None:
        raise NotImplementedError

    def _series_version(self, run: Run) -> int:
        """Changes whenever what ``_draw`` draws of ``run`` changes (default: any metric)."""
        return run.metrics.version

    def _legend_names(self, run: Run) -> list[str | None]:
        """Legend label per curve (None: not in the legend)."""
        return [run.name] + [None] * 10

    def _pens(self, run: Run) -> list[dict]:
        raise NotImplementedError

    def _readout_for(self, run: Run, x: float) -> str:
        return ""

    def _y_to_data(self, y: float) -> float:
        return y

    # -- internals -------------------------------------------------------------------
    def _set_shown(self, run: Run, curves: _Curves, shown: bool) -> None:
        # Items stay in the plot (re-adding items with data trips pyqtgraph's clip-to-view);
        # hidden ones are invisible, which also keeps them out of the auto-range.
        if not curves.added:
            for item in curves.items:
                self.plot_item.addItem(item)
                self.legend.removeItem(item)
            curves.added = True
        for item in curves.items:
            item.setVisible(shown)
            self.legend.removeItem(item)
        curves.shown = shown
        curves.name = ""  # re-label (legend) on the next draw
        curves.version = -1

    def _restyle(self, run: Run, curves: _Curves) -> None:
        for item, pen in zip(curves.items, self._pens(run), strict=False):
            item.setPen(pen.get("pen"))
            if "symbolBrush" in pen:
                item.setSymbolBrush(pen["symbolBrush"])
                item.setSymbolPen(pen["symbolPen"])
        for item, name in zip(curves.items, self._legend_names(run), strict=False):
            self.legend.removeItem(item)
            if name is not None and curves.shown:
                item.opts["name"] = name
                self.legend.addItem(item, name)
        curves.name = run.name
        curves.color = run.color.name()

    def _forget(self, run_id: int) -> None:
        curves = self._curves.pop(run_id, None)
        if curves is not None:
            for item in curves.items:
                self.plot_item.removeItem(item)
            self.redrawn.emit()

    def _forget_all(self) -> None:
        for run_id in list(self._curves):
            self._forget(run_id)

    def _on_run_changed(self, run_id: int) -> None:
        # Visibility, names and colours change rarely: show such a change at once. Other
        # changes (status, result) leave the curves as they are: new points are the
        # timer's work, however fast they arrive.
        run = self.model.run(run_id)
        curves = self._curves.get(run_id)
        if (
            run is None
            or curves is None
            or run.visible != curves.shown
            or (run.visible and (curves.name != run.name or curves.color != run.color.name()))
        ):
            self.refresh()

    def _on_mouse_moved(self, event) -> None:
        pos = event[0]
        view = self.plot_item.vb
        if not self.plot_item.sceneBoundingRect().contains(pos):
            self._vline.hide()
            self._hline.hide()
            return
        point = view.mapSceneToView(pos)
        self._vline.setPos(point.x())
        self._hline.setPos(point.y())
        self._vline.show()
        self._hline.show()
        x = point.x()
        if self.plot_item.ctrl.logXCheck.isChecked():
            x = 10**x
        parts = [f"x = {x:.4g}, y = {self._y_to_data(point.y()):.4g}"]
        for run in [r for r in self.model.runs() if r.visible][:_MAX_READOUT_RUNS]:
            text = self._readout_for(run, x)
            if text:
                parts.append(f'<span style="color:{run.color.name()}">&#9632;</span> {text}')
        self.readout.setText(" &nbsp; ".join(parts))

    def leaveEvent(self, event) -> None:
        self._vline.hide()
        self._hline.hide()
        super().leaveEvent(event)


class LossPlot(LivePlot):
    """Training loss per iteration: the raw values (thin, translucent) and an
    exponential moving average (thick). Options: log scale and the smoothing weight.

    ``curve_data(run_id, 0)`` is the raw curve, ``curve_data(run_id, 1)`` the smoothed one.
    """

    def __init__(
        self,
        model: RunsModel,
        parent: QWidget | None = None,
        *,
        interval_ms: int = 100,
        smoothing: float = 0.9,
    ) -> None:
        self._smoothing = smoothing
        self._log = False
        super().__init__(model, parent, interval_ms=interval_ms)
        self.setObjectName("lossPlot")
        self.plot_item.setTitle("Training loss", color="k")
        self.plot_item.setLabel("bottom", "iteration")
        self.plot_item.setLabel("left", "loss")
        # No clip-to-view or automatic downsampling: both recompute the curves whenever
        # the (auto-ranging) view changes, which makes every redraw paint twice. Long
        # runs are downsampled by a fixed factor instead (see ``_draw``).

        self.log_check = QCheckBox("&Log scale")
        self.log_check.setToolTip("Show the loss on a logarithmic axis (values <= 0 are hidden)")
        self.log_check.toggled.connect(self.set_log_scale)
        self.smoothing_spin = QDoubleSpinBox()
        self.smoothing_spin.setRange(0.0, 0.99)
        self.smoothing_spin.setSingleStep(0.05)
        self.smoothing_spin.setDecimals(2)
        self.smoothing_spin.setValue(smoothing)
        self.smoothing_spin.setToolTip(
            "Weight of the exponential moving average drawn over the raw loss "
            "(0 = no smoothing, 0.99 = very smooth)"
        )
        self.smoothing_spin.valueChanged.connect(self.set_smoothing)
        smoothing_label = QLabel("&Smoothing")
        smoothing_label.setBuddy(self.smoothing_spin)
        self.options.addWidget(self.log_check)
        self.options.addSpacing(12)
        self.options.addWidget(smoothing_label)
        self.options.addWidget(self.smoothing_spin)
        self.options.addStretch(1)

    @property
    def log_scale(self) -> bool:
        return self._log

    def set_log_scale(self, on: bool) -> None:
        if on == self._log:
            return
        self._log = bool(on)
        if self.log_check.isChecked() != self._log:
            self.log_check.setChecked(self._log)
        self.plot_item.setLogMode(y=self._log)
        self.redraw_all()
        self.plot_item.enableAutoRange()

    def set_smoothing(self, weight: float) -> None:
        self._smoothing = float(weight)
        if abs(self.smoothing_spin.value() - weight) > 1e-9:
            self.smoothing_spin.setValue(weight)
        self.redraw_all()

    def _pens(self, run: Run) -> list[dict]:
        raw = QColor(run.color)
        raw.setAlpha(70)
        return [{"pen": pg.mkPen(raw, width=1)}, {"pen": pg.mkPen(run.color, width=2)}]

    def _legend_names(self, run: Run) -> list[str | None]:
        return [None, run.name]

    def _series_version(self, run: Run) -> int:
        return run.metrics.step_version

    def _make_curves(self, run: Run) -> list[pg.PlotDataItem]:
        pens = self._pens(run)
        # The raw curve has every point: drawn without antialiasing, it costs a fraction.
        raw = pg.PlotDataItem(pen=pens[0]["pen"], connect="finite", name=None, antialias=False)
        smooth = pg.PlotDataItem(pen=pens[1]["pen"], connect="finite", name=run.name)
        return [raw, smooth]

    def _prepare(self, y: np.ndarray) -> np.ndarray:
        out = finite_or_nan(y)
        if self._log:
            with np.errstate(invalid="ignore"):
                out[~(out > 0)] = np.nan
        return out

    def _draw(self, run: Run, curves: _Curves) -> None:
        x = run.metrics.step_x.view()
        y = run.metrics.loss.view()
        smoother: EmaSmoother | None = curves.extra.get("ema")
        if smoother is None or smoother.weight != self._smoothing or len(smoother.out) > len(y):
            smoother = EmaSmoother(self._smoothing)
            curves.extra["ema"] = smoother
        smoothed = smoother.extend(y[len(smoother.out) :])
        factor = max(1, len(y) // MAX_DRAWN_POINTS)
        if curves.extra.get("ds") != factor:
            curves.extra["ds"] = factor
            for item in curves.items:
                item.setDownsampling(ds=factor, auto=False, method="peak")
        set_series(curves.items[0], x, self._prepare(y))
        set_series(curves.items[1], x, self._prepare(smoothed))

    def _y_to_data(self, y: float) -> float:
        return 10**y if self._log else y

    def _readout_for(self, run: Run, x: float) -> str:
        xs = run.metrics.step_x.view()
        i = nearest(xs, x)
        if i < 0:
            return ""
        loss = float(run.metrics.loss.view()[i])
        curves = self._curves.get(run.run_id)
        smoother = curves.extra.get("ema") if curves else None
        smooth = math.nan
        if smoother is not None and i < len(smoother.out):
            smooth = float(smoother.out.view()[i])
        return f"{run.name}: it {int(xs[i])} loss {fmt(loss)} (smoothed {fmt(smooth)})"


class AccuracyPlot(LivePlot):
    """Train (solid, circles) and validation (dashed, triangles) accuracy in percent,
    against epochs or iterations (``set_x_axis("epoch" | "iteration")``).

    ``curve_data(run_id, 0)`` is train, ``curve_data(run_id, 1)`` validation; y in percent.
    """

    X_AXES = ("epoch", "iteration")
    legend_offset = (10, 10)  # top left: accuracy curves rise from the bottom left

    def __init__(
        self,
        model: RunsModel,
        parent: QWidget | None = None,
        *,
        interval_ms: int = 100,
        x_axis: str = "epoch",
    ) -> None:
        self._x_axis = x_axis
        super().__init__(model, parent, interval_ms=interval_ms)
        self.setObjectName("accuracyPlot")
        self.plot_item.setTitle("Accuracy", color="k")
        self.plot_item.setLabel("left", "accuracy", units="%")
        self.plot_item.getAxis("left").enableAutoSIPrefix(False)
        self.plot_item.setLabel("bottom", x_axis)
        self.x_combo = QComboBox()
        self.x_combo.addItems(["Epochs", "Iterations"])
        self.x_combo.setCurrentIndex(self.X_AXES.index(x_axis))
        self.x_combo.setToolTip("What the horizontal axis counts")
        self.x_combo.currentIndexChanged.connect(lambda i: self.set_x_axis(self.X_AXES[i]))
        x_label = QLabel("&X axis")
        x_label.setBuddy(self.x_combo)
        key = QLabel("solid: train, dashed: validation")
        key.setStyleSheet("color: #555")
        self.options.addWidget(x_label)
        self.options.addWidget(self.x_combo)
        self.options.addSpacing(12)
        self.options.addWidget(key)
        self.options.addStretch(1)

    @property
    def x_axis(self) -> str:
        return self._x_axis

    def set_x_axis(self, axis: str) -> None:
        if axis not in self.X_AXES:
            raise ValueError(f"x axis must be one of {self.X_AXES}, not {axis!r}")
        if axis == self._x_axis:
            return
        self._x_axis = axis
        self.x_combo.setCurrentIndex(self.X_AXES.index(axis))
        self.plot_item.setLabel("bottom", axis)
        self.redraw_all()
        self.plot_item.enableAutoRange()

    def _pens(self, run: Run) -> list[dict]:
        color = QColor(run.color)
        return [
            {
                "pen": pg.mkPen(color, width=2),
                "symbolBrush": pg.mkBrush(color),
                "symbolPen": pg.mkPen(color),
            },
            {
                "pen": pg.mkPen(color, width=2, style=Qt.PenStyle.DashLine),
                "symbolBrush": pg.mkBrush("w"),
                "symbolPen": pg.mkPen(color, width=1.5),
            },
        ]

    def _legend_names(self, run: Run) -> list[str | None]:
        return [f"{run.name} train", f"{run.name} val"]

    def _series_version(self, run: Run) -> int:
        # Steps arrive many times a second, evaluations a few times an epoch: redrawing
        # (and repainting) these curves with every delivery of steps cost the GUI thread
        # as much as the loss plot did, for nothing.
        return run.metrics.epoch_version

    def _make_curves(self, run: Run) -> list[pg.PlotDataItem]:
        pens = self._pens(run)
        names = self._legend_names(run)
        items = []
        for pen, symbol, name in zip(pens, ("o", "t"), names, strict=True):
            items.append(
                pg.PlotDataItem(
                    pen=pen["pen"],
                    symbol=symbol,
                    symbolSize=6,
                    symbolBrush=pen["symbolBrush"],
                    symbolPen=pen["symbolPen"],
                    connect="finite",
                    name=name,
                )
            )
        return items

    def _xs(self, run: Run) -> np.ndarray:
        m = run.metrics
        return m.epoch.view() if self._x_axis == "epoch" else m.epoch_iter.view()

    def _draw(self, run: Run, curves: _Curves) -> None:
        x = finite_or_nan(self._xs(run))
        for item, values in zip(
            curves.items, (run.metrics.train_acc.view(), run.metrics.val_acc.view()), strict=True
        ):
            set_series(item, x, finite_or_nan(values) * 100.0)

    def _readout_for(self, run: Run, x: float) -> str:
        xs = self._xs(run)
        i = nearest(xs, x)
        if i < 0:
            return ""
        m = run.metrics
        ep = m.epoch.view()[i]
        tr, va = float(m.train_acc.view()[i]), float(m.val_acc.view()[i])
        return f"{run.name}: epoch {fmt(ep)} train {pct(tr)} val {pct(va)}"
