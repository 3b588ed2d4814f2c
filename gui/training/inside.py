"""The "Inside" view: what every layer does while a network trains.

Fed with ``nets.training.Internals`` events per run (``add_internals(run_id, event)``;
appending only), it draws on a timer, and only what changed:

- per layer, the histograms over time as a heat-map (x: step, y: value, colour: the
  fraction of values in each bin, sqrt scale), for activations, gradients or weights;
- the update-to-weight ratio ||ΔW||/||W|| per layer on a log scale with the 1e-3 guide,
  and the weight-gradient norm per layer, for every visible run (colour per layer; the
  selected run solid, the others dashed);
- bars of the dead-ReLU fraction per layer at the latest sample;
- ``select_step(step)`` (a click on the loss plot or a heat-map) draws every layer's
  histogram at the sample nearest that step and marks it on the heat-maps.

The run shown in the heat-maps is the one picked in the run box (by default the run
that last sent internals). Runs come from a ``RunsModel`` (names, colours, visibility).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui.training.inside_data import QUANTITIES, InternalsSeries, density
from gui.training.runs import RunsModel
from nets.training import Internals

#: Layer colours (a run's colour is for the loss plot; here layers must be told apart).
LAYER_COLORS = (
    "#0072B2",
    "#D55E00",
    "#009E73",
    "#CC79A7",
    "#E69F00",
    "#56B4E9",
    "#000000",
    "#8C564B",
    "#7F7F7F",
    "#F0E442",
)
_HEAT_HEIGHT = 70  # pixels per layer heat-map


def _color(i: int) -> QColor:
    return QColor(LAYER_COLORS[i % len(LAYER_COLORS)])


def _plot(title: str, left: str, *, log_y: bool = False) -> pg.PlotWidget:
    widget = pg.PlotWidget(background="w")
    item = widget.getPlotItem()
    item.setTitle(title, color="k", size="9pt")
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setLabel("left", left)
    item.setLabel("bottom", "iteration")
    for axis in ("left", "bottom"):
        item.getAxis(axis).setTextPen("k")
        item.getAxis(axis).setPen("k")
    if log_y:
        item.setLogMode(y=True)
        item.getAxis("left").enableAutoSIPrefix(False)  # "(x1e+12)" on a log axis misleads
    return widget


class InsideView(QWidget):
    """Heat-maps, ratio and norm plots, dead-ReLU bars and histograms at a step."""

    #: emitted after a redraw that changed something (tests and benches wait on it)
    redrawn = Signal()
    #: a step was picked in a heat-map (the loss plot may follow)
    step_selected = Signal(int)

    def __init__(
        self, runs: RunsModel, parent: QWidget | None = None, *, interval_ms: int = 250
    ) -> None:
        super().__init__(parent)
        self.setObjectName("insideView")
        self.runs = runs
        self.series: dict[int, InternalsSeries] = {}
        self._drawn: dict[str, int] = {}  # part -> version it shows
        self._current = 0
        self._quantity = "act"
        self._step: float = math.nan
        self._heat: dict[str, tuple[pg.PlotItem, pg.ImageItem, pg.InfiniteLine]] = {}
        self._lines: dict[tuple[str, int, str], pg.PlotDataItem] = {}
        self.last_redraw_s = 0.0

        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The run whose histograms the heat-maps show")
        self.run_combo.currentIndexChanged.connect(self._on_run_picked)
        self.quantity_combo = QComboBox()
        for key, label in QUANTITIES.items():
            self.quantity_combo.addItem(label, key)
        self.quantity_combo.setToolTip(
            "Activations: each layer's outputs. Gradients: dLoss/d(output) flowing back "
            "into the layer. Weights: the layer's weight values."
        )
        self.quantity_combo.currentIndexChanged.connect(
            lambda i: self.set_quantity(self.quantity_combo.itemData(i))
        )
        self.status = QLabel("Turn on internals (sampled every K steps) and start a run.")
        self.status.setObjectName("insideStatus")
        self.status.setWordWrap(True)
        top = self.toolbar = QHBoxLayout()
        run_label = QLabel("&Run")
        run_label.setBuddy(self.run_combo)
        what_label = QLabel("&Histograms of")
        what_label.setBuddy(self.quantity_combo)
        for w in (run_label, self.run_combo, what_label, self.quantity_combo):
            top.addWidget(w)
        top.addWidget(self.status, 1)

        # Heat-maps, one row per layer, in a scroll area (a CNN has a dozen layers).
        self.heat_widget = pg.GraphicsLayoutWidget()
        self.heat_widget.setBackground("w")
        self.heat_scroll = QScrollArea()
        self.heat_scroll.setWidgetResizable(True)
        self.heat_scroll.setWidget(self.heat_widget)
        self.heat_widget.scene().sigMouseClicked.connect(self._on_heat_clicked)

        self.ratio_plot = _plot("Update ratio ||ΔW|| / ||W||", "ratio", log_y=True)
        guide = pg.InfiniteLine(
            pos=-3,
            angle=0,
            pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DashLine),
            label="1e-3",
            labelOpts={"position": 0.05, "color": "#666"},
        )
        self.ratio_plot.getPlotItem().addItem(guide, ignoreBounds=False)
        self.ratio_guide = guide
        self.norm_plot = _plot("Weight gradient norm", "||dL/dW||", log_y=True)
        for plot in (self.ratio_plot, self.norm_plot):
            plot.getPlotItem().addLegend(offset=(-5, 5), labelTextColor="k")
        self.dead_plot = _plot("Dead ReLU units (latest sample)", "fraction")
        self.dead_plot.getPlotItem().setLabel("bottom", "")
        self.dead_plot.getPlotItem().setYRange(0, 1)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#D55E00")
        self.dead_plot.getPlotItem().addItem(self.dead_bars)
        self.step_widget = pg.GraphicsLayoutWidget()
        self.step_widget.setBackground("w")
        self._step_plots: dict[str, tuple[pg.PlotItem, pg.PlotDataItem]] = {}

        lines = QSplitter(Qt.Orientation.Vertical)
        for w in (self.ratio_plot, self.norm_plot, self.dead_plot):
            lines.addWidget(w)
        self.step_label = QLabel("Click a step in the loss plot or a heat-map.")
        step_box = QWidget()
        step_layout = QVBoxLayout(step_box)
        step_layout.setContentsMargins(0, 0, 0, 0)
        step_layout.addWidget(self.step_label)
        step_layout.addWidget(self.step_widget, 1)
        heat_box = QSplitter(Qt.Orientation.Vertical)
        heat_box.addWidget(self.heat_scroll)
        heat_box.addWidget(step_box)
        heat_box.setSizes([500, 250])
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(heat_box)
        body.addWidget(lines)
        body.setSizes([600, 400])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addWidget(body, 1)

        runs.run_removed.connect(self._forget)
        runs.run_changed.connect(lambda _id: self._invalidate_lines())
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.refresh)
        self.timer.start()

    # -- feeding -----------------------------------------------------------------------

    def add_internals(self, run_id: int, event: Internals) -> None:
        """Append a sample of ``run_id`` (cheap: drawing waits for the timer)."""
        series = self.series.get(run_id)
        if series is None:
            series = self.series[run_id] = InternalsSeries()
            self._current = run_id
            self._rebuild_run_combo()
        series.add(event)

    def current_series(self) -> InternalsSeries | None:
        return self.series.get(self._current)

    # -- options -----------------------------------------------------------------------

    def set_quantity(self, what: str) -> None:
        if what not in QUANTITIES:
            raise ValueError(f"quantity must be one of {tuple(QUANTITIES)}, not {what!r}")
        self._quantity = what
        index = self.quantity_combo.findData(what)
        if self.quantity_combo.currentIndex() != index:
            self.quantity_combo.setCurrentIndex(index)
        self._drawn.clear()
        self.refresh()

    def select_run(self, run_id: int) -> None:
        if run_id in self.series:
            self._current = run_id
            self._rebuild_run_combo()
            self._drawn.clear()
            self.refresh()

    def select_step(self, step: float) -> None:
        """Show every layer's histogram at the sample nearest ``step``."""
        self._step = float(step)
        self._drawn.pop("step", None)
        self.refresh()

    # -- drawing -----------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self.refresh()  # what arrived while hidden

    def refresh(self) -> bool:
        """Redraw what changed (the timer calls this; nothing while hidden: the page is
        usually behind another tab); True if anything did."""
        if not self.isVisible():
            return False
        start = time.perf_counter()
        series = self.current_series()
        changed = False
        version = series.version if series is not None else -1
        key = f"{self._current}:{self._quantity}"
        if self._drawn.get("heat") != version or self._drawn.get("heat_key") != key:
            self._draw_heat(series)
            self._drawn["heat"], self._drawn["heat_key"] = version, key  # type: ignore[assignment]
            self._drawn["step"] = -2
            changed = True
        if self._drawn.get("step") != version:
            self._draw_step(series)
            self._drawn["step"] = version
            changed = True
        total = sum(s.version for s in self.series.values()) + len(self.series)
        if self._drawn.get("lines") != total:
            self._draw_lines()
            self._draw_dead(series)
            self._drawn["lines"] = total
            changed = True
        if changed:
            self.last_redraw_s = time.perf_counter() - start
            self.redrawn.emit()
        return changed

    def _draw_heat(self, series: InternalsSeries | None) -> None:
        if series is None or len(series) == 0:
            return
        what = self._quantity
        layers = [name for name in series.layers if series.has(name, what)]
        if list(self._heat) != layers:
            self.heat_widget.clear()
            self._heat.clear()
            for row, name in enumerate(layers):
                plot = self.heat_widget.addPlot(row=row, col=0)
                plot.setTitle(name, color="k", size="8pt")
                plot.setMenuEnabled(False)
                plot.getAxis("left").setWidth(48)
                for axis in ("left", "bottom"):
                    plot.getAxis(axis).setTextPen("k")
                image = pg.ImageItem(axisOrder="row-major")
                image.setColorMap(pg.colormap.get("viridis"))
                plot.addItem(image)
                marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff3030", width=1))
                marker.hide()
                plot.addItem(marker, ignoreBounds=True)
                self._heat[name] = (plot, image, marker)
            self.heat_widget.setMinimumHeight(_HEAT_HEIGHT * max(1, len(layers)))
        for name in layers:
            steps, counts, edges = series.stack(name, what)
            plot, image, _ = self._heat[name]
            if counts.size == 0:
                continue
            # Rows are values (bins), columns samples: transpose the (S, bins) stack.
            image.setImage(density(counts).T, autoLevels=False, levels=(0.0, 1.0))
            first = steps[0]
            last = steps[-1] if len(steps) > 1 else first + 1
            width = (last - first) * len(steps) / max(len(steps) - 1, 1)
            image.setRect(QRectF(first, edges[0], width, edges[-1] - edges[0]))
            # An ImageItem's new rect does not re-run the auto-range by itself.
            plot.vb.setRange(xRange=(first, first + width), yRange=(edges[0], edges[-1]), padding=0)
        status = f"{len(series)} samples of {len(series.layers)} layers"
        if series.non_finite is not None:
            step, layer, what_nf = series.non_finite
            status += f"; NaN/inf first in {layer} ({what_nf}) at step {step}"
        self.status.setText(status)

    def _draw_step(self, series: InternalsSeries | None) -> None:
        if series is None or len(series) == 0 or not math.isfinite(self._step):
            for _, _, marker in self._heat.values():
                marker.hide()
            return
        i = series.nearest_sample(self._step)
        step = float(series.steps.view()[i])
        for _, _, marker in self._heat.values():
            marker.setPos(step)
            marker.show()
        what = self._quantity
        layers = [name for name in series.layers if series.has(name, what)]
        if list(self._step_plots) != layers:
            self.step_widget.clear()
            self._step_plots.clear()
            cols = 4
            for k, name in enumerate(layers):
                plot = self.step_widget.addPlot(row=k // cols, col=k % cols)
                plot.setTitle(name, color="k", size="8pt")
                plot.setMenuEnabled(False)
                plot.hideAxis("left")
                curve = pg.PlotDataItem(stepMode="center", fillLevel=0, brush=_color(k))
                plot.addItem(curve)
                self._step_plots[name] = (plot, curve)
        for name in layers:
            steps, counts, edges = series.stack(name, what)
            j = int(np.argmin(np.abs(steps - step))) if len(steps) else -1
            if j < 0:
                continue
            self._step_plots[name][1].setData(edges, counts[j])
        self.step_label.setText(
            f"{QUANTITIES[what]} of every layer at step {int(step)} (nearest sample to "
            f"{int(self._step)})"
        )

    def _invalidate_lines(self) -> None:
        self._drawn.pop("lines", None)

    def _draw_lines(self) -> None:
        wanted: set[tuple[str, int, str]] = set()
        legends = {}
        for plot in (self.ratio_plot, self.norm_plot):
            legend = plot.getPlotItem().legend
            legend.clear()  # the layers of the selected run only, relabelled below
            legends[id(plot)] = legend
        for run in self.runs.runs():
            series = self.series.get(run.run_id)
            if series is None or not run.visible:
                continue
            solid = run.run_id == self._current
            steps = series.steps.view()
            layers = [n for n in series.layers if series.kinds.get(n) in ("linear", "conv")]
            for k, name in enumerate(layers):
                for plot, key in (
                    (self.ratio_plot, "weight_update_ratio"),
                    (self.norm_plot, "weight_grad_norm"),
                ):
                    values = series.scalar(name, key)
                    with np.errstate(invalid="ignore"):
                        values = np.where(values > 0, values, np.nan)
                    line_key = (key, run.run_id, name)
                    wanted.add(line_key)
                    item = self._lines.get(line_key)
                    style = Qt.PenStyle.SolidLine if solid else Qt.PenStyle.DashLine
                    pen = pg.mkPen(_color(k), width=2 if solid else 1, style=style)
                    if item is None:
                        item = pg.PlotDataItem(pen=pen, connect="finite")
                        plot.getPlotItem().addItem(item)
                        self._lines[line_key] = item
                    else:
                        item.setPen(pen)
                    item.setData(steps, values)
                    if solid:
                        legends[id(plot)].addItem(item, name)
        for line_key in set(self._lines) - wanted:
            item = self._lines.pop(line_key)
            plot = self.ratio_plot if line_key[0] == "weight_update_ratio" else self.norm_plot
            plot.getPlotItem().removeItem(item)

    def _draw_dead(self, series: InternalsSeries | None) -> None:
        plot = self.dead_plot.getPlotItem()
        if series is None or not series.dead:
            self.dead_bars.setOpts(x=[], height=[])
            return
        names = list(series.dead)
        xs = np.arange(len(names), dtype=float)
        heights = np.array([series.dead[n] for n in names])
        brushes = ["#D55E00" if h > 0.5 else "#56B4E9" for h in heights]
        self.dead_bars.setOpts(x=xs, height=heights, brushes=brushes, width=0.6)
        plot.getAxis("bottom").setTicks([list(zip(xs, names, strict=True))])
        plot.setXRange(-0.5, len(names) - 0.5, padding=0)

    # -- events ------------------------------------------------------------------------

    def _on_heat_clicked(self, event) -> None:
        for plot, _, _ in self._heat.values():
            if plot.sceneBoundingRect().contains(event.scenePos()):
                step = plot.vb.mapSceneToView(event.scenePos()).x()
                self.select_step(step)
                self.step_selected.emit(int(round(step)))
                return

    def _on_run_picked(self, index: int) -> None:
        run_id = self.run_combo.itemData(index)
        if run_id is not None and run_id != self._current and run_id in self.series:
            self._current = int(run_id)
            self._drawn.clear()
            self.refresh()

    def _rebuild_run_combo(self) -> None:
        self.run_combo.blockSignals(True)
        self.run_combo.clear()
        for run in self.runs.runs():
            if run.run_id in self.series:
                self.run_combo.addItem(run.name, run.run_id)
        index = self.run_combo.findData(self._current)
        self.run_combo.setCurrentIndex(max(index, 0))
        self.run_combo.blockSignals(False)

    def _forget(self, run_id: int) -> None:
        if self.series.pop(run_id, None) is None:
            return
        if self._current == run_id:
            self._current = next(iter(self.series), 0)
        self._rebuild_run_combo()
        self._drawn.clear()
        self.refresh()
