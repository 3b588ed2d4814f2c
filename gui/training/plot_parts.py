"""Pieces of the live training plots (``gui.training.plots``): the count axis, a plot
widget that times its paints, and the small helpers for series and readouts."""

from __future__ import annotations

import math
import time

import numpy as np
import pyqtgraph as pg


class IntegerAxis(pg.AxisItem):
    """An axis for counts (iterations, epochs): ticks at whole numbers while at least two
    are in view, else at fractions (the first epoch's evaluations sit at 0.5 or at 0.02:
    with whole numbers only that axis had no tick at all)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # A count is never "x0.001": with the prefix the first epoch read "epoch (x0.001)".
        self.enableAutoSIPrefix(False)

    def tickValues(self, minVal, maxVal, size):
        levels = super().tickValues(minVal, maxVal, size)
        if self.logMode:
            return levels
        whole = [(spacing, values) for spacing, values in levels if spacing >= 1]
        if sum(len(values) for _, values in whole) >= 2:
            return whole
        if math.isfinite(minVal) and math.isfinite(maxVal):
            lo, hi = math.ceil(minVal), math.floor(maxVal)
            if 1 <= hi - lo <= 20:
                return [(1.0, [float(v) for v in range(lo, hi + 1)])]
        return levels


class TimedPlotWidget(pg.PlotWidget):
    """A PlotWidget that measures its paints (the adaptive redraw interval uses it)."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.last_paint_s = 0.0
        self.paint_seconds = 0.0

    def paintEvent(self, event) -> None:
        start = time.perf_counter()
        super().paintEvent(event)
        self.last_paint_s = time.perf_counter() - start
        self.paint_seconds += self.last_paint_s


def nearest(xs: np.ndarray, x: float) -> int:
    """Index of the value in sorted ``xs`` closest to ``x`` (-1 if ``xs`` is empty)."""
    if xs.size == 0 or not math.isfinite(x):
        return -1
    i = int(np.searchsorted(xs, x))
    if i >= xs.size:
        return xs.size - 1
    if i > 0 and abs(xs[i - 1] - x) <= abs(xs[i] - x):
        return i - 1
    return i


def fmt(value: float) -> str:
    return f"{value:.4g}" if math.isfinite(value) else str(value)


def pct(value: float) -> str:
    return f"{100 * value:.1f}%" if math.isfinite(value) else str(value)


def set_series(item: pg.PlotDataItem, x: np.ndarray, y: np.ndarray) -> None:
    """setData that tolerates empty and all-NaN series (nothing drawn, nothing raised)."""
    keep = np.isfinite(x) & np.isfinite(y)
    if not keep.any():
        item.setData([], [])
        return
    if keep.all():
        item.setData(x, y)
    else:
        # NaN in the middle draws a gap; NaN x values are dropped.
        finite_x = np.isfinite(x)
        item.setData(x[finite_x], y[finite_x], connect="finite")
