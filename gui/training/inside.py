"""The "Inside" view: what every layer does while a network trains.

Fed with ``nets.training.Internals`` events per run (``add_internals(run_id, event)``;
appending only), it draws on a timer, and only what changed:

- per layer, the histograms over time as a heat-map (x: step, y: value, colour: the
  fraction of values in each bin, sqrt scale), for activations, gradients or weights;
- the update-to-weight ratio ||ΔW||/||W|| per layer on a log scale with the 1e-3 guide,
  and the weight-gradient norm per layer, for every visible run (colour per layer; the
  selected run opaque, the others faded);
- bars of the dead-ReLU fraction per layer at the latest sample;
- ``select_step(step)`` (a click on the loss plot or a heat-map) draws every layer's
  histogram at the sample nearest that step and marks it on the heat-maps.

The run shown in the heat-maps is the one picked in the run box (by default the run
that last sent internals). Runs come from a ``RunsModel`` (names, colours, visibility).

Drawing is sliced so that the event loop never waits long (target: no stall over 50 ms
while training with every histogram updating): each slice, on a short single-shot
follow-up timer (which the periodic timer arms), redraws one part, the next in turn that
has work: one new heat-map row or else at most ``ROWS_PER_TICK`` rows (rows in view, on
the page of the quantity shown), one new step histogram or else ``ROWS_PER_TICK`` of them,
the ratio plot or the norm plot (one new line at most) or the bars, within
``TICK_BUDGET_S``. A slice's cost is mostly the paint that follows it, so what a slice
builds is counted by what it will paint: a new row's title and axes cost what redrawing a
few built rows does. A slice runs only in a turn of the event loop in which no other
costly redraw paints (``gui.turns``: the tab's loss plot), and the three line plots'
first paints each get a turn of their own. Nothing is drawn while the view is hidden.
``flush()`` draws everything at once (tests, screenshots).
"""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QColor
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from gui.choices import choice_combo, select_value
from gui.training.inside_data import QUANTITIES, InternalsSeries
from gui.training.inside_heat import (
    DecadeAxis,
    HeatPage,
    cache_axes,
    cached,
    log_extent,
    x_extent,
)
from gui.training.inside_step import StepGrid
from gui.training.runs import RunsModel
from gui.turns import TURNS, stagger_first_paints
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
#: Work per tick: rows (heat-map rows, step histograms) and seconds (checked between rows).
ROWS_PER_TICK = 3
TICK_BUDGET_S = 0.012
#: Delay of the follow-up ticks while work is left (the timer's own interval is longer).
FOLLOW_UP_MS = 30
#: What a slice may redraw, in turn.
PARTS = ("heat", "step", "ratio", "norm", "dead")


def _color(i: int) -> QColor:
    return QColor(LAYER_COLORS[i % len(LAYER_COLORS)])


#: Pixels of a line plot's title row (pyqtgraph reserves 30: too much in plots about
#: 120 pixels high, the Inside view's at 1400x900 with the views enlarged).
TITLE_ROW_PX = 18


def _plot(title: str, left: str, tip: str, *, log_y: bool = False) -> pg.PlotWidget:
    """A line plot with a short ``title`` (the plots are about 190 pixels wide at
    1400x900: longer ones were cut), the y label ``left`` and a tooltip saying what the
    axes show. Its x axis has no label (iterations, as in the loss plot: the label took a
    sixth of the plot's height); a log y axis is labelled at whole decades only."""
    axes = {"left": DecadeAxis("left")} if log_y else {}
    widget = pg.PlotWidget(background="w", axisItems=axes)
    widget.setToolTip(tip)
    item = widget.getPlotItem()
    item.setTitle(title, color="k", size="9pt")
    item.layout.setRowFixedHeight(0, TITLE_ROW_PX)
    item.titleLabel.setMaximumHeight(TITLE_ROW_PX)
    item.showGrid(x=True, y=True, alpha=0.25)
    item.setLabel("left", left)
    for axis in ("left", "bottom"):
        item.getAxis(axis).setTextPen("k")
        item.getAxis(axis).setPen("k")
    if log_y:
        item.setLogMode(y=True)
        item.getAxis("left").enableAutoSIPrefix(False)  # "(x1e+12)" on a log axis misleads
    cache_axes(item)
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
        self._drawn: dict[str, object] = {}  # part -> what it shows
        self._current = 0
        self._quantity = "act"
        self._step: float = math.nan
        self._lines: dict[tuple[str, int, str], pg.PlotDataItem] = {}
        self._line_styles: dict[tuple[str, int, str], tuple[int, bool]] = {}
        self._legend_keys: dict[str, list[tuple[str, int, str]]] = {}
        self._lines_epoch = 0  # bumped when a run's colour, name or visibility changes
        self._next_part = 0  # which of the line plots / bars the next tick redraws first
        self.last_redraw_s = 0.0

        self.run_combo = QComboBox()
        self.run_combo.setToolTip("The run whose histograms the heat-maps show")
        self.run_combo.currentIndexChanged.connect(self._on_run_picked)
        self.quantity_combo = choice_combo(
            "insideQuantity",
            ((label, key) for key, label in QUANTITIES.items()),
            "Activations: each layer's outputs. Gradients: dLoss/d(output) flowing back "
            "into the layer. Weights: the layer's weight values.",
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

        # Heat-maps: a page per quantity (switching shows the page, drawn rows stay), each
        # a row per layer in a scroll area (a CNN has a dozen layers).
        self.pages = {what: HeatPage(what) for what in QUANTITIES}
        self.heat_stack = QStackedWidget()
        for page in self.pages.values():
            self.heat_stack.addWidget(page)
            page.canvas.scene().sigMouseClicked.connect(self._on_heat_clicked)
            page.scrolled.connect(self._soon)

        self.ratio_plot = _plot(
            "Update ratio",
            "‖ΔW‖ / ‖W‖",
            "x: iteration; y: each layer's update-to-weight ratio ‖ΔW‖ / ‖W‖ of the last "
            "step (log scale; the dashed line: the rule of thumb, about 1e-3)",
            log_y=True,
        )
        guide = pg.InfiniteLine(
            pos=-3,
            angle=0,
            pen=pg.mkPen("#999", width=1, style=Qt.PenStyle.DashLine),
            label="1e-3",
            labelOpts={"position": 0.15, "color": "#666"},  # 0.05: under the axis
        )
        self.ratio_plot.getPlotItem().addItem(guide, ignoreBounds=False)
        self.ratio_guide = guide
        self.norm_plot = _plot(
            "Weight gradient norm",
            "‖dL/dW‖",
            "x: iteration; y: the norm of each layer's weight gradient (log scale)",
            log_y=True,
        )
        for plot in (self.ratio_plot, self.norm_plot):
            # Small: a CNN's eight layers in 9pt covered most of a 120-pixel plot.
            plot.getPlotItem().addLegend(
                offset=(-5, 5), labelTextColor="k", labelTextSize="7pt", verSpacing=-6
            )
            # x_extent and log_extent: rounded ranges, set with the data
            plot.getPlotItem().enableAutoRange(x=False, y=False)
        self.dead_plot = _plot(
            "Dead ReLUs",
            "fraction",
            "The fraction of each ReLU layer's units that were zero on every example of the "
            "last sampled batches (the latest sample)",
        )
        self.dead_plot.getPlotItem().setYRange(0, 1)
        self.dead_bars = pg.BarGraphItem(x=[], height=[], width=0.6, brush="#D55E00")
        self.dead_plot.getPlotItem().addItem(self.dead_bars)
        self.step_grid = StepGrid(_color)
        self.step_widget = self.step_grid.widget

        lines = QSplitter(Qt.Orientation.Vertical)
        line_plots = (self.ratio_plot, self.norm_plot, self.dead_plot)
        for w in line_plots:
            lines.addWidget(w)
        # Their first paints (7, 5 and 5 ms of CPU) each in a turn of the event loop.
        self.first_paints = stagger_first_paints([w.viewport() for w in line_plots])
        self.step_label = QLabel("Click a step in the loss plot or a heat-map.")
        step_box = QWidget()
        step_layout = QVBoxLayout(step_box)
        step_layout.setContentsMargins(0, 0, 0, 0)
        step_layout.addWidget(self.step_label)
        step_layout.addWidget(self.step_widget, 1)
        heat_box = QSplitter(Qt.Orientation.Vertical)
        heat_box.addWidget(self.heat_stack)
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
        # Every slice runs on the single-shot follow-up timer, the periodic one only
        # arms it: two slices due together (both timers) ran back to back, one stall.
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self._soon)
        self.timer.start()
        self.follow_up = QTimer(self)
        self.follow_up.setSingleShot(True)
        self.follow_up.setInterval(FOLLOW_UP_MS)
        self.follow_up.timeout.connect(self._tick)

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

    @property
    def page(self) -> HeatPage:
        """The heat page of the quantity shown."""
        return self.pages[self._quantity]

    # -- options -----------------------------------------------------------------------

    def set_quantity(self, what: str) -> None:
        if what not in QUANTITIES:
            raise ValueError(f"quantity must be one of {tuple(QUANTITIES)}, not {what!r}")
        self._quantity = what
        select_value(self.quantity_combo, what)
        self.heat_stack.setCurrentWidget(self.pages[what])
        self._soon()

    def select_run(self, run_id: int) -> None:
        if run_id in self.series:
            self._current = run_id
            self._rebuild_run_combo()
            self._invalidate_lines()
            self._soon()

    def select_step(self, step: float) -> None:
        """Show every layer's histogram at the sample nearest ``step`` (drawn in slices
        from the next tick on; ``flush()`` draws it now)."""
        self._step = float(step)
        self._soon()

    # -- drawing -----------------------------------------------------------------------

    def showEvent(self, event) -> None:
        super().showEvent(event)
        self._soon()  # what arrived while hidden

    def _soon(self) -> None:
        if not self.follow_up.isActive():
            self.follow_up.start()

    def _tick(self) -> None:
        """The follow-up timer's slice, in a turn of the event loop in which no other
        costly redraw (the tab's loss plot, a garbage collection: ``gui.turns``) paints:
        the two in one turn stalled for their sum. Else the slice waits a follow-up."""
        if self.isVisible() and self._pending(self.current_series()):
            if not TURNS.claim(self):
                self.follow_up.start()
                return
        self.refresh()

    def flush(self) -> bool:
        """Draw everything that is due now, in one go (True if anything was)."""
        drew = False
        self.first_paints.finish()  # the line plots too: no turns of their own
        while self.refresh(budget_s=math.inf, max_rows=1 << 30, every_part=True):
            drew = True
        return drew

    def refresh(
        self,
        budget_s: float = TICK_BUDGET_S,
        max_rows: int = ROWS_PER_TICK,
        *,
        every_part: bool = False,
    ) -> bool:
        """One slice of the redrawing: the next part (in turn: heat-maps, step histograms,
        ratio plot, norm plot, bars) that has work, at most ``max_rows`` rows of it within
        ``budget_s``; with ``every_part`` all of them. One part per slice because Qt
        paints every widget a slice dirtied in one go: five at once stalled for 300 ms on
        a loaded machine. True if it drew anything. Nothing while hidden: the page is
        usually behind another tab."""
        if not self.isVisible():
            return False
        start = time.perf_counter()
        deadline = start + budget_s
        series = self.current_series()
        done = 0
        if (series is None or not len(series)) and self.page.rows:
            for page in self.pages.values():  # the last run with internals was removed
                page.set_layers([])
            self.step_grid.set_layers([])
            done += 1
        first = self._next_part
        for k in range(len(PARTS)):
            part = PARTS[(first + k) % len(PARTS)]
            n = self._draw_part(part, series, deadline, max_rows)
            if n:
                done += n
                self._next_part = (PARTS.index(part) + 1) % len(PARTS)
                if not every_part:
                    break
        if done:
            self.last_redraw_s = time.perf_counter() - start
            self.redrawn.emit()
        if self._pending(series):
            self._soon()
        return bool(done)

    def _draw_part(
        self, part: str, series: InternalsSeries | None, deadline: float, max_rows: int
    ) -> int:
        if part in ("ratio", "norm", "dead"):
            key = self._parts_key()
            if self._drawn.get(part) == key:
                return 0
            if part == "dead":
                self._draw_dead(series)
            # A new line (and its share of the axes' repaint) costs about what redrawing
            # ROWS_PER_TICK rows does: one per slice (flush: all).
            elif not self._draw_lines(part, max(1, max_rows // ROWS_PER_TICK)):
                return 1  # more lines to add in the next slice
            self._drawn[part] = key
            return 1
        if series is None or not len(series):
            return 0
        if part == "heat":
            return self._draw_heat(series, deadline, max_rows)
        return self._draw_step(series, deadline, max_rows)

    def _pending(self, series: InternalsSeries | None) -> bool:
        if any(self._drawn.get(part) != self._parts_key() for part in ("ratio", "norm", "dead")):
            return True
        if series is None or not len(series):
            return False
        if self.page.pending(series, self._current):
            return True
        return math.isfinite(self._step) and self.step_grid.pending(self._step_key(series))

    def _layers(self, series: InternalsSeries) -> list[str]:
        return [name for name in series.layers if series.has(name, self._quantity)]

    def _draw_heat(self, series: InternalsSeries, deadline: float, max_rows: int) -> int:
        page = self.page
        page.set_layers(self._layers(series))
        done = page.work(series, self._current, deadline, max_rows)
        status = f"{len(series)} samples of {len(series.layers)} layers"
        if series.non_finite is not None:
            step, layer, what_nf = series.non_finite
            status += f"; NaN/inf first in {layer} ({what_nf}) at step {step}"
        if self.status.text() != status:
            self.status.setText(status)
        return done

    def _step_key(self, series: InternalsSeries) -> tuple:
        return (self._current, self._quantity, series.nearest_sample(self._step))

    def _draw_step(self, series: InternalsSeries, deadline: float, max_rows: int) -> int:
        page = self.page
        if not math.isfinite(self._step):
            if math.isfinite(page.step):
                page.mark(math.nan)
            return 0
        want = self._step_key(series)
        step = float(series.steps.view()[want[2]])
        if page.step != step:
            page.mark(step)
        if self._drawn.get("step_label") != want:
            what = self._quantity
            self.step_label.setText(
                f"{QUANTITIES[what]} of every layer at step {int(step)} (nearest sample to "
                f"{int(self._step)})"
            )
            self._drawn["step_label"] = want
        self.step_grid.set_layers(self._layers(series))
        if not self.step_grid.pending(want):
            return 0
        return self.step_grid.work(series, self._quantity, step, want, deadline, max_rows)

    def _invalidate_lines(self) -> None:
        self._lines_epoch += 1
        self._soon()

    def _parts_key(self) -> tuple[int, int, int]:
        total = sum(s.version for s in self.series.values()) + len(self.series)
        return (total, self._lines_epoch, self._current)

    def _draw_lines(self, part: str, max_new: int) -> bool:
        """Set the lines of the ratio or norm plot (``part``), adding at most ``max_new``
        lines (a new line and its legend entry cost as much as redrawing a few); True
        when every line is there and the legend up to date."""
        plot, key = (
            (self.ratio_plot, "weight_update_ratio")
            if part == "ratio"
            else (self.norm_plot, "weight_grad_norm")
        )
        wanted: set[tuple[str, int, str]] = set()
        legend_keys: list[tuple[str, int, str]] = []
        last_step = first_step = math.nan
        # The y range (log10 units) the lines and, on the ratio plot, the guide need.
        low = high = -3.0 if part == "ratio" else math.nan
        added = 0
        for run in self.runs.runs():
            series = self.series.get(run.run_id)
            if series is None or not run.visible:
                continue
            solid = run.run_id == self._current
            steps = series.steps.view()
            if len(steps):
                first_step = float(np.fmin(first_step, steps[0]))
                last_step = float(np.fmax(last_step, steps[-1]))
            layers = [n for n in series.layers if series.kinds.get(n) in ("linear", "conv")]
            for k, name in enumerate(layers):
                values = series.scalar(name, key)
                with np.errstate(invalid="ignore"):
                    values = np.where((values > 0) & np.isfinite(values), values, np.nan)
                if not np.isnan(values).all():
                    low = float(np.fmin(low, np.log10(np.nanmin(values))))
                    high = float(np.fmax(high, np.log10(np.nanmax(values))))
                line_key = (key, run.run_id, name)
                wanted.add(line_key)
                item = self._lines.get(line_key)
                if item is None:
                    if added >= max_new:
                        continue
                    added += 1
                    item = pg.PlotDataItem(connect="finite")
                    plot.getPlotItem().addItem(item)
                    self._lines[line_key] = item
                style = (k, solid)
                if self._line_styles.get(line_key) != style:
                    # One-pixel pens: wider or dashed ones made each repaint of these
                    # plots cost 70-130 ms on a loaded machine. The other runs are faded.
                    color = _color(k)
                    if not solid:
                        color.setAlpha(90)
                    item.setPen(pg.mkPen(color, width=1))
                    self._line_styles[line_key] = style
                item.setData(steps, values)
                if solid:
                    legend_keys.append(line_key)
        for line_key in [k for k in self._lines if k[0] == key and k not in wanted]:
            plot.getPlotItem().removeItem(self._lines.pop(line_key))
            self._line_styles.pop(line_key, None)
        complete = all(line_key in self._lines for line_key in wanted)
        if complete and self._legend_keys.get(part) != legend_keys:
            legend = plot.getPlotItem().legend
            legend.clear()  # the layers of the selected run only
            for line_key in legend_keys:
                legend.addItem(self._lines[line_key], line_key[2])
            for _sample, label in legend.items:
                cached(label)  # repainted with the lines under it on every sample
            self._legend_keys[part] = legend_keys
        view = plot.getPlotItem().vb
        if math.isfinite(last_step):
            x_range = x_extent(first_step, last_step)
            if view.viewRange()[0] != list(x_range):
                plot.getPlotItem().setXRange(*x_range, padding=0)
        if math.isfinite(low):
            # Rounded like x: the left axis repaints when the data leave a half decade,
            # not on every sample as an autoranged one did.
            y_range = log_extent(low, high)
            if view.viewRange()[1] != list(y_range):
                plot.getPlotItem().setYRange(*y_range, padding=0)
        return complete

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
        ticks = [list(zip(xs, names, strict=True))]
        if self._drawn.get("dead_ticks") != ticks:
            plot.getAxis("bottom").setTicks(ticks)
            plot.setXRange(-0.5, len(names) - 0.5, padding=0)
            self._drawn["dead_ticks"] = ticks

    # -- events ------------------------------------------------------------------------

    def _on_heat_clicked(self, event) -> None:
        hit = self.page.row_at(event.scenePos())
        if hit is not None:
            step = hit[1]
            self.select_step(step)
            self.step_selected.emit(int(round(step)))

    def _on_run_picked(self, index: int) -> None:
        run_id = self.run_combo.itemData(index)
        if run_id is not None and run_id != self._current and run_id in self.series:
            self._current = int(run_id)
            self._invalidate_lines()
            self._soon()

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
        self._invalidate_lines()
