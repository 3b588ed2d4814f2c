"""The Inside view's per-layer pieces, built and redrawn a few at a time.

A CNN has a dozen layers; building a plot for each costs 15-20 ms and repainting all of
them on every sample cost the event loop half a second. So the Inside view does its work
in slices on its timer (``gui.training.inside``), and the pieces here let it:

- ``HeatPage``: the heat-maps of one quantity (activations, gradients or weights), one
  row per layer (title, value axis, step axis, image), in its own scroll area. ``work``
  builds missing rows and redraws stale ones, at most ``max_rows`` per call and never past
  a deadline, rows in view first (rows scrolled out of view wait until they scroll in).
  Each row remembers which samples it shows, so a row is redrawn only when its layer got
  a new sample, and keeps its image in a ``HeatImage``, which computes only the columns
  of the new samples.
- ``x_extent``: the step range a live plot shows, rounded up with headroom so that the
  axes (the costliest part of a repaint) change a few times per run, not on every sample.
- ``log_extent``: the same for a log axis, in half decades.
- ``downsample``: a heat-map of more samples than the image needs pixels, averaged into
  at most ``MAX_COLUMNS`` columns (what ``HeatImage`` keeps up to date column by column).
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pyqtgraph as pg
from PySide6.QtCore import QRect, QRectF, Signal
from PySide6.QtWidgets import QGraphicsItem, QScrollArea, QWidget

from gui.training.inside_data import InternalsSeries, density

#: Heat-map images keep at most this many columns (samples averaged in groups beyond).
MAX_COLUMNS = 400
#: Pixels of a heat page's layer row: title, heat-map, step axis (fixed, so that a new row
#: moves and resizes none of the rows built before it: each would be repainted).
TITLE_HEIGHT, HEAT_HEIGHT, AXIS_HEIGHT = 16, 40, 24
ROW_HEIGHT = TITLE_HEIGHT + HEAT_HEIGHT + AXIS_HEIGHT
#: "Nice" mantissas for the rounded-up step axis.
_NICE = (1.0, 1.5, 2.0, 3.0, 5.0, 7.5, 10.0)


def x_extent(first: float, last: float) -> tuple[float, float]:
    """(first, end) with ``end`` >= last + a tenth of the span, rounded up to 1, 1.5, 2, 3,
    5 or 7.5 times a power of ten: live plots keep one axis range for a while."""
    span = max(last - first, 1.0) * 1.1
    power = 10.0 ** math.floor(math.log10(span))
    end = next(m * power for m in _NICE if m * power >= span)
    return first, first + end


def log_extent(lo: float, hi: float) -> tuple[float, float]:
    """A log axis's range (log10 units) around the log10 values ``lo`` <= ``hi``: whole
    half decades with at least a twentieth of a decade to spare on each side, so that
    the axis (and its cached picture) stays put while the data move within it."""
    return math.floor(2 * (lo - 0.05)) / 2, math.ceil(2 * (hi + 0.05)) / 2


def downsample(counts: np.ndarray, steps: np.ndarray, limit: int = MAX_COLUMNS):
    """(counts (S', bins), steps (S',)) with S' <= limit: groups of consecutive samples
    averaged (the last group may be shorter); unchanged when S <= limit."""
    n = len(steps)
    if n <= limit:
        return counts, steps
    group = math.ceil(n / limit)
    full = n // group * group
    parts = [counts[:full].reshape(-1, group, counts.shape[1]).mean(axis=1)]
    part_steps = [steps[:full].reshape(-1, group)[:, 0]]
    if full < n:
        parts.append(counts[full:].mean(axis=0, keepdims=True))
        part_steps.append(steps[full : full + 1])
    return np.concatenate(parts), np.concatenate(part_steps)


class HeatImage:
    """One layer's heat-map image, kept up to date by appending: the columns of
    ``density(downsample(counts, steps)[0])`` (the full recompute) in a preallocated
    (``limit``, bins) array, of which ``update`` computes only those that changed since
    its last call: the new samples' columns and the partial group at the end. Every
    column is computed anew only when the grouping changes (the run passes a multiple of
    ``limit`` samples) or another source (run) is shown.

    Recomputing the whole stack on every sample (density, averaging, a new transposed
    array) cost a heat-map slice most of its 5.6-7 ms of CPU (issue 14's profile).
    """

    def __init__(self, limit: int = MAX_COLUMNS) -> None:
        self.limit = limit
        self._data = np.zeros((0, 0))
        self.source: object = None
        self.group = 0  # samples averaged per column
        self.complete = 0  # columns of ``group`` samples done
        self.size = 0  # columns filled: the complete ones and maybe a partial one
        self.seen = 0  # samples read so far
        self.first_step = self.last_step = math.nan  # of the first and the last column

    def update(self, counts: np.ndarray, steps: np.ndarray, source: object = None) -> None:
        """Take the stack ``counts`` (S, bins) sampled at ``steps`` (S,) of ``source``
        (the rows seen before must be unchanged: stacks only grow)."""
        n, bins = counts.shape
        group = 1 if n <= self.limit else math.ceil(n / self.limit)
        if group != self.group or source != self.source or n < self.seen:
            self.group, self.source, self.complete = group, source, 0
        if self._data.shape != (self.limit, bins):
            self._data = np.zeros((self.limit, bins))
            self.complete = 0
        full = n // group * group
        if full > self.complete * group:
            block = counts[self.complete * group : full]
            if group > 1:  # as ``downsample`` averages them
                block = block.reshape(-1, group, bins).mean(axis=1)
            self._data[self.complete : full // group] = density(block)
            self.complete = full // group
        self.size = self.complete
        if full < n:
            self._data[self.size] = density(counts[full:].mean(axis=0, keepdims=True))[0]
            self.size += 1
        self.seen = n
        if n:
            self.first_step = float(steps[0])
            self.last_step = float(steps[(self.size - 1) * group])

    def columns(self) -> np.ndarray:
        """The image's columns (size, bins): a view of the preallocated array."""
        return self._data[: self.size]


def cached(item: pg.GraphicsObject) -> pg.GraphicsObject:
    """``item`` painted from a pixmap cache until it changes: axes and titles are the
    costliest part of a repaint (their text) and change far less often than the data.
    A label's text is its child item, so that is what is cached. An axis also stops
    re-setting its label's HTML on every range change (its SI prefix: these axes have no
    units, so the prefix is always empty)."""
    mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    if isinstance(item, pg.LabelItem):
        item.item.setCacheMode(mode)
        return item
    item.setCacheMode(mode)
    if isinstance(item, pg.AxisItem):
        item.enableAutoSIPrefix(False)
    return item


def cache_axes(plot: pg.PlotItem) -> None:
    """Cache every axis and the title of ``plot`` (see ``cached``)."""
    for name in ("left", "bottom", "right", "top"):
        cached(plot.getAxis(name))
    cached(plot.titleLabel)


def axis_item(orientation: str, view: pg.ViewBox) -> pg.AxisItem:
    """A black, cached axis linked to ``view``."""
    axis = pg.AxisItem(orientation, linkView=view)
    axis.setPen("k")
    axis.setTextPen("k")
    return cached(axis)


class DecadeAxis(pg.AxisItem):
    """A log axis labelled at whole decades (10⁻⁴, 10⁻³, ...), every second or third one
    when the axis is too short for all (the others keep an unlabelled tick), and at 1, 2
    and 5 (or 1 and 3) times a power of ten when less than two decades show, always at
    least ``LABEL_PX`` apart. pyqtgraph's own log ticks label every multiple from 2 to 9
    whenever fewer than three decades show: in the Inside view's short line plots those
    labels ran into each other."""

    #: Pixels a tick label needs along the axis (its text height and a gap).
    LABEL_PX = 18

    def __init__(self, orientation: str, **kwargs) -> None:
        super().__init__(orientation, **kwargs)
        self.setStyle(maxTextLevel=0)  # the first level only: the labelled ticks

    def logTickValues(self, minVal, maxVal, size, stdTicks):
        px_per_decade = max(size, 1.0) / max(maxVal - minVal, 1e-9)
        # A label centred less than half its height from an end is not drawn (pyqtgraph
        # hides labels that stick out of the axis): such ticks are not counted.
        margin = 0.5 * self.LABEL_PX / px_per_decade
        lo, hi = minVal + margin, maxVal - margin
        decades = list(range(math.ceil(lo), math.floor(hi) + 1))
        if len(decades) >= 2:
            step = max(1, math.ceil(self.LABEL_PX / px_per_decade))
            labelled = [float(d) for d in decades if d % step == 0]
            every = range(math.ceil(minVal), math.floor(maxVal) + 1)
            return [(float(step), labelled), (1.0, [float(d) for d in every if d not in labelled])]
        powers = range(math.floor(minVal), math.ceil(maxVal) + 1)
        for multiples in ((1, 2, 5), (1, 3)):
            values = sorted(p + math.log10(m) for p in powers for m in multiples)
            values = [v for v in values if lo <= v <= hi]
            if len(values) >= 2 and min(np.diff(values)) * px_per_decade >= self.LABEL_PX:
                return [(1.0, values)]
        return [(1.0, [float(d) for d in decades])]


@dataclass
class HeatRow:
    """One layer's heat-map: ``view`` (x: step, y: value) holding ``image`` and the red
    ``marker`` of the selected step; ``shown`` is (series id, samples) it was drawn from,
    ``heat`` the image's columns, kept by appending."""

    name: str
    title: pg.LabelItem
    view: pg.ViewBox
    image: pg.ImageItem
    marker: pg.InfiniteLine
    axes: tuple[pg.AxisItem, pg.AxisItem]
    shown: tuple[int, int] = (-1, -1)
    x_range: tuple[float, float] = (math.nan, math.nan)
    heat: HeatImage = field(default_factory=HeatImage)

    def items(self) -> tuple[pg.GraphicsObject, ...]:
        return (self.title, self.view, *self.axes)


class _Page(QScrollArea):
    """A scroll area around one GraphicsLayoutWidget (``canvas``) whose rows are built on
    demand."""

    #: scrolled: rows that came into view may need drawing
    scrolled = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.canvas = pg.GraphicsLayoutWidget()
        self.canvas.setBackground("w")
        self.setWidgetResizable(True)
        self.setWidget(self.canvas)
        self.verticalScrollBar().valueChanged.connect(lambda _v: self.scrolled.emit())

    def in_view(self, item: pg.GraphicsObject) -> bool:
        """True when ``item`` shows in the scroll area's viewport (or is not laid out yet)."""
        rect = self.canvas.mapFromScene(item.sceneBoundingRect()).boundingRect()
        if rect.isEmpty():
            return True
        top = self.verticalScrollBar().value()
        port = self.viewport().rect()
        return rect.intersects(QRect(0, top, port.width() + 10_000, port.height()))


class HeatPage(_Page):
    """The heat-maps of one quantity (``what``: ``act``, ``grad`` or ``weight``)."""

    def __init__(self, what: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.what = what
        self.rows: dict[str, HeatRow] = {}
        self.layers: list[str] = []
        self.step: float = math.nan
        # Read here, with the view (the first read parses a file: 10 ms in a slice).
        self.colormap = pg.colormap.get("viridis")

    def set_layers(self, layers: Sequence[str]) -> None:
        """The layers to show, in order; rows of other layers go (new ones come in ``work``)."""
        layers = list(layers)
        if layers == self.layers:
            return
        self.layers = layers
        if list(self.rows) != layers[: len(self.rows)]:
            self.canvas.clear()
            self.rows.clear()
        self.canvas.setMinimumHeight(ROW_HEIGHT * max(1, len(layers)))

    def pending(self, series: InternalsSeries, key: int) -> bool:
        """True while rows are missing or a row in view is stale (rows out of view wait
        for a scroll)."""
        return len(self.rows) < len(self.layers) or any(
            row.shown != (key, series.samples_of(row.name, self.what)) and self.in_view(row.view)
            for row in self.rows.values()
        )

    def work(self, series: InternalsSeries, key: int, deadline: float, max_rows: int) -> int:
        """Build the next missing row, or else redraw stale rows in view until ``max_rows``
        are done or ``deadline`` (a perf_counter time) passes; the number of rows done.

        One new row per call, drawn at once: its first paint (title, two axes, image) costs
        what redrawing a few built rows does, and drawn in the same slice its axes are
        painted once, with their ranges (not first with the default range)."""
        if len(self.rows) < len(self.layers):
            row = self._build(self.layers[len(self.rows)])
            self._draw(row, series, key)
            return 1
        done = 0
        stale = [
            row
            for row in self.rows.values()
            if row.shown != (key, series.samples_of(row.name, self.what))
        ]
        stale.sort(key=lambda row: row.shown[1] if row.shown[0] == key else -1)
        for row in stale:
            if done >= max_rows or (done and time.perf_counter() > deadline):
                break
            if self.in_view(row.view):
                self._draw(row, series, key)
                done += 1
        return done

    def _build(self, name: str) -> HeatRow:
        layout = self.canvas.ci
        r = 3 * len(self.rows)
        grid = layout.layout
        for k, height in enumerate((TITLE_HEIGHT, HEAT_HEIGHT, AXIS_HEIGHT)):
            grid.setRowFixedHeight(r + k, height)
        title = cached(layout.addLabel(name, row=r, col=1, size="8pt", color="k"))
        view = pg.ViewBox(enableMenu=False, defaultPadding=0)
        view.setMouseEnabled(x=False, y=False)
        left, bottom = axis_item("left", view), axis_item("bottom", view)
        left.setWidth(48)
        layout.addItem(left, row=r + 1, col=0)
        layout.addItem(view, row=r + 1, col=1)
        layout.addItem(bottom, row=r + 2, col=1)
        image = pg.ImageItem(axisOrder="row-major")
        image.setColorMap(self.colormap)
        view.addItem(image)
        marker = pg.InfiniteLine(angle=90, pen=pg.mkPen("#ff3030", width=1))
        marker.setVisible(math.isfinite(self.step))
        if math.isfinite(self.step):
            marker.setPos(self.step)
        view.addItem(marker, ignoreBounds=True)
        row = self.rows[name] = HeatRow(name, title, view, image, marker, (left, bottom))
        return row

    def _draw(self, row: HeatRow, series: InternalsSeries, key: int) -> None:
        steps, counts, edges = series.stack(row.name, self.what)
        row.shown = (key, len(steps))
        if counts.size == 0:
            row.image.clear()
            return
        heat = row.heat
        heat.update(counts, steps, key)  # only the new columns
        # Rows are values (bins), columns samples: the (columns, bins) array transposed.
        row.image.setImage(heat.columns().T, autoLevels=False, levels=(0.0, 1.0))
        first, n = heat.first_step, heat.size
        last = heat.last_step if n > 1 else first + 1
        width = (last - first) * n / max(n - 1, 1)
        row.image.setRect(QRectF(first, edges[0], width, edges[-1] - edges[0]))
        x_range = x_extent(first, first + width)
        if x_range != row.x_range:
            row.view.setRange(xRange=x_range, yRange=(edges[0], edges[-1]), padding=0)
            row.x_range = x_range

    def mark(self, step: float) -> None:
        """Put every row's red marker at ``step`` (NaN hides them)."""
        self.step = step
        for row in self.rows.values():
            if math.isfinite(step):
                row.marker.setPos(step)
            row.marker.setVisible(math.isfinite(step))

    def invalidate(self) -> None:
        for row in self.rows.values():
            row.shown = (-1, -1)

    def row_at(self, scene_pos) -> tuple[str, float] | None:
        """(layer, step) under a scene position of a click, or None."""
        for row in self.rows.values():
            if row.view.sceneBoundingRect().contains(scene_pos):
                return row.name, float(row.view.mapSceneToView(scene_pos).x())
        return None
