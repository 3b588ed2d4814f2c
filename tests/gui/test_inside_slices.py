"""How the Inside view keeps each redraw slice small: one new cell, row or few lines per
slice, cells that never move, rounded line-plot ranges, one timer driving the slices,
heat-map images kept by appending; and log axes whose labels stay readable."""

from __future__ import annotations

import math

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QGraphicsItem

from gui.training.inside import InsideView
from gui.training.inside_data import density
from gui.training.inside_heat import (
    MAX_COLUMNS,
    DecadeAxis,
    HeatImage,
    cached,
    downsample,
    log_extent,
)
from nets.mlp.classifiers import TwoLayerNet
from tests.nets.internals_fixtures import sgd_samples


def _events(steps: int = 30, every: int = 5):
    rng = np.random.default_rng(1)
    X = rng.standard_normal((32, 10)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    return sgd_samples(TwoLayerNet(10, 3, 6, 0.1, seed=1), X, y, steps, every, lr=0.2)


def _view(shown_run_view, events) -> tuple[InsideView, int]:
    view, _runs, run = shown_run_view(InsideView, (1200, 900))
    for e in events:
        view.add_internals(run.run_id, e)
    return view, run.run_id


def test_step_grid_builds_one_cell_per_slice_and_never_moves_a_built_one(shown_run_view) -> None:
    events = _events()
    view, _ = _view(shown_run_view, events)
    view.flush()
    view.select_step(10)
    grid = view.step_grid
    rects = []
    for k in range(len(view.current_series().layers)):  # fc1, relu1, fc2
        # A generous budget: the one-new-cell rule is what stops the slice.
        assert view.refresh(budget_s=60.0, max_rows=100)
        assert len(grid.plots) == k + 1
        cells = list(grid.plots.values())
        assert [c.layout.geometry() for c in cells[:k]] == rects  # nothing built moved
        rects.append(cells[k].layout.geometry())
    assert not view.refresh(budget_s=60.0, max_rows=100)
    width = grid.widget.viewport().width() / grid.grid.cols
    assert [r.x() for r in rects] == [k * width for k in range(len(rects))]
    assert all(r.width() == width and r.height() > 0 for r in rects)
    at_10 = next(e for e in events if e.step == 10)
    for name, cell in grid.plots.items():  # each shows its layer's histogram at step 10
        x, y = cell.curve.getData()
        assert np.array_equal(y, at_10.layers[name]["act_hist"])
        assert np.array_equal(x, at_10.layers[name]["act_edges"])
        (x0, x1), (y0, y1) = cell.view.viewRange()
        assert x0 <= x[0] and x1 >= x[-1] and y0 <= 0 and y1 >= y.max()


def test_step_grid_cells_follow_a_resize(qtbot, shown_run_view) -> None:
    view, _ = _view(shown_run_view, _events())
    view.select_step(10)
    view.flush()
    grid = view.step_grid
    before = [c.layout.geometry().width() for c in grid.plots.values()]
    view.resize(800, 900)
    qtbot.waitUntil(
        lambda: (
            [c.layout.geometry().width() for c in grid.plots.values()]
            == [grid.widget.viewport().width() / grid.grid.cols] * len(grid.plots)
        )
    )
    assert [c.layout.geometry().width() for c in grid.plots.values()] != before


def test_line_plots_gain_a_few_lines_per_slice_and_the_legend_when_complete(shown_run_view) -> None:
    view, run_id = _view(shown_run_view, _events())
    legend = view.ratio_plot.getPlotItem().legend
    counts = []
    while view.refresh(budget_s=60.0, max_rows=1):
        counts.append(sum(1 for key in view._lines if key[0] == "weight_update_ratio"))
        if counts[-1] < 2:
            assert not legend.items  # the legend waits for every line
    assert all(b - a <= 1 for a, b in zip([0, *counts], counts, strict=False))
    assert counts[-1] == 2  # fc1, fc2
    assert [label.text for _sample, label in legend.items] == ["fc1", "fc2"]
    mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert all(label.item.cacheMode() == mode for _sample, label in legend.items)


def test_line_plot_ranges_are_rounded_half_decades_around_data_and_guide(shown_run_view) -> None:
    events = _events()
    view, run_id = _view(shown_run_view, events)
    view.flush()
    series = view.current_series()
    for plot, key, guide in (
        (view.ratio_plot, "weight_update_ratio", -3.0),
        (view.norm_plot, "weight_grad_norm", math.nan),
    ):
        logs = np.log10(np.concatenate([series.scalar(n, key) for n in ("fc1", "fc2")]))
        lo, hi = float(np.fmin(logs.min(), guide)), float(np.fmax(logs.max(), guide))
        y0, y1 = plot.getPlotItem().vb.viewRange()[1]
        assert (y0, y1) == log_extent(lo, hi)
        assert y0 <= lo - 0.05 and y1 >= hi + 0.05


def test_log_extent_keeps_its_range_while_the_data_stay_inside() -> None:
    assert log_extent(-2.93, -1.2) == (-3.0, -1.0)
    assert log_extent(-2.6, -1.3) == (-3.0, -1.0)  # moved within: the same range
    assert log_extent(-2.96, -1.2) == (-3.5, -1.0)  # too near the edge: half a decade more
    assert log_extent(0.0, 0.0) == (-0.5, 0.5)


def test_cached_labels_cache_their_text_and_axes_drop_the_si_prefix(qtbot) -> None:
    label = cached(pg.LabelItem("fc1"))
    mode = QGraphicsItem.CacheMode.DeviceCoordinateCache
    assert label.item.cacheMode() == mode
    axis = cached(pg.AxisItem("bottom"))
    assert axis.cacheMode() == mode and not axis.autoSIPrefix


def test_the_periodic_timer_only_arms_the_follow_up_slice(qtbot, shown_run_view) -> None:
    view, _ = _view(shown_run_view, _events())
    view.follow_up.stop()
    with qtbot.assertNotEmitted(view.redrawn):
        view.timer.timeout.emit()  # both timers due at once used to run two slices
    assert view.follow_up.isActive()
    with qtbot.waitSignal(view.redrawn, timeout=2000):
        pass


def test_the_heat_image_kept_by_appending_equals_the_full_recompute() -> None:
    rng = np.random.default_rng(3)
    counts = rng.integers(0, 50, (60, 7)).astype(float)
    counts[5] = 0.0  # a sample with no values: its column stays 0
    steps = np.arange(60, dtype=float) * 5 + 10
    heat = HeatImage(limit=8)  # the grouping changes at 9, 17, 25, ... samples
    n = 0
    for chunk in (1, 1, 3, 2, 1, 1, 4, 7, 1, 1, 9, 16, 1, 13):  # one or more at a time
        n += chunk
        heat.update(counts[:n], steps[:n], source=1)
        full, full_steps = downsample(counts[:n], steps[:n], limit=8)
        assert np.array_equal(heat.columns(), density(full))
        assert (heat.first_step, heat.last_step) == (full_steps[0], full_steps[-1])
    other = rng.integers(0, 50, (20, 7)).astype(float)  # another run: all anew
    heat.update(other, steps[:20], source=2)
    assert np.array_equal(heat.columns(), density(downsample(other, steps[:20], limit=8)[0]))


def test_a_drawn_heat_map_row_shows_the_full_recompute_of_its_stack(shown_run_view) -> None:
    view, run_id = _view(shown_run_view, _events(steps=60, every=1))
    view.flush()
    series = view.current_series()
    for name, row in view.page.rows.items():
        steps, counts, edges = series.stack(name, "act")
        expected, _ = downsample(counts, steps, limit=MAX_COLUMNS)
        assert np.array_equal(row.image.image, density(expected).T)
        rect = row.image.mapRectToParent(row.image.boundingRect())
        assert rect.left() == steps[0] and rect.bottom() == edges[-1]


def test_log_axes_label_whole_decades_far_enough_apart_to_read(shown_run_view) -> None:
    view, _ = _view(shown_run_view, _events())
    view.flush()
    for plot in (view.ratio_plot, view.norm_plot):
        axis = plot.getPlotItem().getAxis("left")
        assert isinstance(axis, DecadeAxis) and axis.logMode
        assert axis.style["maxTextLevel"] == 0  # only the first level has text
        # Half-decade ends, as log_extent sets them.
        for lo, hi, size in ((-6.5, -0.5, 60.0), (-6.5, -0.5, 400.0), (-4.5, -1.5, 90.0)):
            (spacing, labelled), *rest = axis.tickValues(lo, hi, size)
            assert labelled and all(float(v).is_integer() for v in labelled)
            assert size / (hi - lo) * spacing >= DecadeAxis.LABEL_PX  # pixels apart
            every = sorted(labelled + [v for _s, vs in rest for v in vs])
            assert every == list(np.arange(math.ceil(lo), math.floor(hi) + 1))  # all ticked
            assert lo + 0.5 * DecadeAxis.LABEL_PX * (hi - lo) / size <= min(labelled)  # drawn
            assert all("·" not in s for s in axis.tickStrings(labelled, 1.0, spacing))
        ((_, few),) = axis.tickValues(-3.5, -2.5, 80.0)  # under two decades: 5, 10, 20 e-4
        assert np.allclose(few, np.log10([5e-4, 1e-3, 2e-3]))
        assert min(np.diff(few)) * 80.0 >= DecadeAxis.LABEL_PX
        ((_, fewer),) = axis.tickValues(-3.5, -2.5, 40.0)  # room for one label only
        assert fewer == [-3.0]
