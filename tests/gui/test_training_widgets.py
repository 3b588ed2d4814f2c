"""The shared training widgets (gui.training): series, runs list, plots, controls,
confusion matrix, image widgets and exports. Includes issue 9 case 12 (plots fed NaN,
inf, empty or constant series keep working)."""

from __future__ import annotations

import csv
import io
import math

import numpy as np
import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QFontMetrics, QImage
from PySide6.QtWidgets import QWidget

from gui.training import (
    CSV_COLUMNS,
    AccuracyPlot,
    ConfusionMatrixView,
    EmaSmoother,
    GrowingArray,
    ImageGallery,
    ImageGrid,
    LossPlot,
    RunMetrics,
    RunsModel,
    RunsView,
    TrainingControls,
    TrainingPlots,
    confusion_matrix,
    export_metrics_csv,
    export_widget,
    format_duration,
    metrics_csv,
)


# -- series ----------------------------------------------------------------------------
def test_growing_array_doubles_and_keeps_values():
    array = GrowingArray(capacity=2)
    for i in range(100):
        array.append(i)
    assert len(array) == 100
    assert array.capacity == 128
    np.testing.assert_array_equal(array.view(), np.arange(100))


def test_ema_smoother_is_incremental_and_skips_non_finite():
    values = np.array([1.0, 2.0, math.nan, 3.0, math.inf, 4.0])
    whole = EmaSmoother(0.5).extend(values).copy()
    parts = EmaSmoother(0.5)
    parts.extend(values[:2])
    parts.extend(values[2:])
    np.testing.assert_allclose(parts.out.view(), whole)
    assert whole[0] == pytest.approx(1.0)  # bias-corrected: starts at the first value
    assert whole[2] == whole[1]  # NaN holds the last smoothed value
    assert np.all(np.isfinite(whole))


def test_ema_before_any_finite_value_is_nan():
    out = EmaSmoother(0.9).extend(np.array([math.nan, math.inf, 2.0]))
    assert math.isnan(out[0]) and math.isnan(out[1]) and out[2] == pytest.approx(2.0)


# -- runs model and view ---------------------------------------------------------------
def test_runs_model_add_rename_hide_status_delete(qtbot):
    model = RunsModel()
    added, removed = [], []
    model.run_added.connect(added.append)
    model.run_removed.connect(removed.append)
    a = model.add_run(model.next_name(), {"lr": 0.1})
    b = model.add_run(model.next_name(), {"lr": 0.01})
    assert [r.name for r in model.runs()] == ["run 1", "run 2"]
    assert a.color != b.color
    assert added == [a.run_id, b.run_id]
    assert model.rename(a.run_id, "baseline")
    assert not model.rename(a.run_id, "   ")
    assert model.run(a.run_id).name == "baseline"
    model.set_status(b.run_id, "diverged", "loss became inf at step 12")
    assert model.run(b.run_id).status_text() == "diverged: loss became inf at step 12"
    with pytest.raises(ValueError):
        model.set_status(b.run_id, "exploded")
    index = model.index(0, 0)
    assert model.setData(index, Qt.CheckState.Unchecked, Qt.ItemDataRole.CheckStateRole)
    assert not model.run(a.run_id).visible
    assert "lr = 0.1" in model.data(index, Qt.ItemDataRole.ToolTipRole)
    model.remove_run(a.run_id)
    assert removed == [a.run_id] and len(model) == 1


def test_runs_view_selection_and_delete(qtbot):
    model = RunsModel()
    view = RunsView(model)
    qtbot.addWidget(view)
    first = model.add_run("one", {})
    second = model.add_run("two", {})
    with qtbot.waitSignal(view.selected_run_changed) as blocker:
        view.select_run(second.run_id)
    assert blocker.args == [second.run_id]
    assert view.selected_run_id() == second.run_id
    refused = []
    view.delete_refused.connect(refused.append)
    view.can_delete = lambda run_id: "still training" if run_id == second.run_id else ""
    view.delete_selected()
    assert refused == ["still training"] and len(model) == 2
    view.can_delete = lambda _run_id: ""
    view.delete_button.click()
    assert [r.run_id for r in model.runs()] == [first.run_id]


# -- plots -----------------------------------------------------------------------------
def _fill(run, losses, accs=()):
    for i, loss in enumerate(losses):
        run.metrics.add_step(i, loss)
    for e, (tr, va) in enumerate(accs):
        run.metrics.add_epoch(e + 1, tr, va, iteration=(e + 1) * 10)


def test_loss_plot_draws_metrics_and_follows_visibility(qtbot):
    model = RunsModel()
    plot = LossPlot(model, interval_ms=10_000)
    qtbot.addWidget(plot)
    run = model.add_run("r", {})
    _fill(run, [2.0, 1.5, 1.0, 0.8])
    plot.refresh()
    x, y = plot.curve_data(run.run_id, 0)
    np.testing.assert_array_equal(x, [0, 1, 2, 3])
    np.testing.assert_array_equal(y, [2.0, 1.5, 1.0, 0.8])
    _xs, smooth = plot.curve_data(run.run_id, 1)
    assert smooth.shape == (4,) and smooth[0] == pytest.approx(2.0) and smooth[-1] > 0.8
    assert run.run_id in plot._curves and plot._curves[run.run_id].shown
    model.set_visible(run.run_id, False)
    assert not plot._curves[run.run_id].items[0].isVisible()
    model.set_visible(run.run_id, True)
    assert plot._curves[run.run_id].items[0].isVisible()
    model.remove_run(run.run_id)
    assert run.run_id not in plot._curves


def test_loss_plot_timer_redraws_new_points(qtbot):
    model = RunsModel()
    plot = LossPlot(model, interval_ms=20)
    qtbot.addWidget(plot)
    run = model.add_run("r", {})
    _fill(run, [1.0])
    with qtbot.waitSignal(plot.redrawn, timeout=2000):
        pass
    run.metrics.add_step(1, 0.5)
    qtbot.waitUntil(lambda: plot.curve_data(run.run_id, 0)[1].size == 2, timeout=2000)


def test_several_runs_overlay_with_legend(qtbot):
    model = RunsModel()
    plots = TrainingPlots(model, interval_ms=10_000)
    qtbot.addWidget(plots)
    runs = [model.add_run(f"run {i}", {}) for i in range(3)]
    for k, run in enumerate(runs):
        _fill(run, [1.0 + k, 0.5 + k], [(0.3, 0.25), (0.4, 0.35)])
    plots.refresh()
    labels = [label.text for _sample, label in plots.loss.legend.items]
    assert labels == ["run 0", "run 1", "run 2"]
    acc_labels = [label.text for _sample, label in plots.accuracy.legend.items]
    assert "run 1 train" in acc_labels and "run 1 val" in acc_labels
    model.rename(runs[1].run_id, "renamed")
    labels = [label.text for _sample, label in plots.loss.legend.items]
    assert "renamed" in labels and "run 1" not in labels
    model.set_visible(runs[0].run_id, False)
    labels = [label.text for _sample, label in plots.loss.legend.items]
    assert "run 0" not in labels


def test_accuracy_plot_in_percent_against_epochs_or_iterations(qtbot):
    model = RunsModel()
    plot = AccuracyPlot(model, interval_ms=10_000)
    qtbot.addWidget(plot)
    run = model.add_run("r", {})
    _fill(run, [], [(0.5, 0.4), (0.75, 0.6)])
    plot.refresh()
    x, train = plot.curve_data(run.run_id, 0)
    np.testing.assert_array_equal(x, [1, 2])
    np.testing.assert_allclose(train, [50, 75])
    np.testing.assert_allclose(plot.curve_data(run.run_id, 1)[1], [40, 60])
    plot.set_x_axis("iteration")
    np.testing.assert_array_equal(plot.curve_data(run.run_id, 0)[0], [10, 20])
    with pytest.raises(ValueError):
        plot.set_x_axis("seconds")


def test_each_plot_redraws_only_when_its_own_series_changed(qtbot):
    """Steps arrive many times a second, evaluations a few times an epoch: the accuracy
    plot is not redrawn (nor repainted) for new steps, nor the loss plot for an
    evaluation."""
    model = RunsModel()
    plots = TrainingPlots(model, interval_ms=10_000)
    qtbot.addWidget(plots)
    run = model.add_run("r", {})
    _fill(run, [1.0, 0.5], [(0.3, 0.2)])
    assert plots.loss.refresh() and plots.accuracy.refresh()
    run.metrics.add_step(2, 0.4)
    assert not plots.accuracy.refresh()
    assert plots.loss.refresh()
    assert plots.loss.curve_data(run.run_id, 0)[1].size == 3
    run.metrics.add_epoch(2, 0.4, 0.35, iteration=20)
    assert not plots.loss.refresh()
    assert plots.accuracy.refresh()
    np.testing.assert_allclose(plots.accuracy.curve_data(run.run_id, 0)[1], [30, 40])
    run.metrics.clear()
    assert plots.loss.refresh() and plots.accuracy.refresh()
    assert plots.loss.curve_data(run.run_id, 0)[1].size == 0
    assert plots.accuracy.curve_data(run.run_id, 0)[1].size == 0


def _ticks(axis, lo: float, hi: float) -> list[float]:
    return sorted(v for _, values in axis.tickValues(lo, hi, 400) for v in values)


def test_epoch_axis_ticks_whole_counts_and_fractions_within_the_first_epoch(qtbot):
    plot = AccuracyPlot(RunsModel(), interval_ms=10_000)
    qtbot.addWidget(plot)
    axis = plot.plot_item.getAxis("bottom")
    wide = _ticks(axis, 0.0, 12.0)
    assert len(wide) >= 2 and all(v == int(v) for v in wide)
    # The first evaluations of a run sit at fractions of an epoch: ticks there too.
    first = _ticks(axis, 0.016, 0.032)
    assert len(first) >= 2 and all(0.016 <= v <= 0.032 for v in first)
    assert axis.autoSIPrefix is False


@pytest.mark.parametrize(
    "losses",
    [
        [],
        [math.nan] * 5,
        [math.inf, -math.inf, math.nan],
        [1.0] * 50,
        [2.0, math.nan, 1.0, math.inf, 0.5, -math.inf, 0.25],
        [0.0, -1.0, 1e-300, 1e300],
        [7.0],
    ],
    ids=["empty", "all-nan", "all-inf", "constant", "mixed", "non-positive", "single"],
)
def test_plots_survive_nan_inf_empty_constant(shown_run_view, losses):
    """Issue 9 case 12: plots fed NaN, inf, empty or constant series keep working."""
    plots, _model, run = shown_run_view(TrainingPlots, (800, 300), "odd")
    _fill(run, losses, [(v, v) for v in losses[:4]])
    for log in (False, True, False):
        plots.loss.set_log_scale(log)
        for axis in ("iteration", "epoch"):
            plots.accuracy.set_x_axis(axis)
            plots.refresh()
            image = plots.grab().toImage()
            assert not image.isNull()
    _x, drawn = plots.loss.curve_data(run.run_id, 0)
    assert np.all(np.isfinite(drawn[~np.isnan(drawn)]))  # never inf on screen
    # Crosshair readout over the odd data must not raise either.
    center = plots.loss.plot_item.vb.sceneBoundingRect().center()
    plots.loss._on_mouse_moved((center,))
    assert "x =" in plots.loss.readout.text()
    # The plot keeps working afterwards: finite points are drawn.
    run.metrics.add_step(len(losses), 0.5)
    plots.refresh()
    x, y = plots.loss.curve_data(run.run_id, 0)
    assert x[-1] == len(losses) and y[-1] == 0.5


def test_crosshair_readout_names_the_nearest_point(shown_run_view):
    plot, _model, run = shown_run_view(LossPlot, (600, 300), "near")
    _fill(run, [3.0, 2.0, 1.0, 0.5])
    plot.refresh()
    plot.plot_item.vb.setRange(xRange=(0, 3), yRange=(0, 3), padding=0)
    scene_point = plot.plot_item.vb.mapViewToScene(QPointF(2.1, 1.0))
    plot._on_mouse_moved((scene_point,))
    assert "near: it 2 loss 1" in plot.readout.text()


# -- controls --------------------------------------------------------------------------
def test_controls_never_start_twice_and_stop_always_works(qtbot):
    controls = TrainingControls()
    qtbot.addWidget(controls)
    starts, stops, pauses, resumes = [], [], [], []
    controls.start_requested.connect(lambda: starts.append(1))
    controls.stop_requested.connect(lambda: stops.append(1))
    controls.pause_requested.connect(lambda: pauses.append(1))
    controls.resume_requested.connect(lambda: resumes.append(1))
    controls.set_can_start(False, "batch size must be positive")
    qtbot.mouseClick(controls.start_button, Qt.MouseButton.LeftButton)
    assert starts == [] and controls.start_button.toolTip() == "batch size must be positive"
    controls.set_can_start(True)
    controls._on_start()
    controls._on_start()  # a second click (e.g. queued) is ignored
    assert starts == [1] and controls.state == "running"
    assert not controls.start_button.isEnabled()
    controls.pause_button.click()
    assert controls.state == "paused" and controls.pause_button.text() == "&Resume"
    controls.pause_button.click()
    assert pauses == [1] and resumes == [1]
    controls.stop_button.click()
    controls._on_stop()
    assert stops == [1] and controls.state == "stopping"
    controls.set_finished("stopped")
    assert controls.state == "idle" and controls.start_button.isEnabled()


def test_progress_and_eta(qtbot):
    controls = TrainingControls()
    qtbot.addWidget(controls)
    controls.set_progress(25, 100, elapsed_s=30)
    assert controls.progress.value() == 250
    assert "ETA 1:30" in controls.eta_label.text()
    controls.set_progress(50, 100, elapsed_s=40)  # coalesced: shown by the next tick
    controls.set_progress(0, 0, elapsed_s=1)
    assert "ETA 1:30" in controls.eta_label.text()
    qtbot.waitUntil(lambda: "--:--" in controls.eta_label.text(), timeout=1000)
    assert controls.progress.value() == 0
    assert format_duration(3725) == "1:02:05" and format_duration(math.nan) == "--:--"


# -- confusion matrix and images -------------------------------------------------------
def test_confusion_matrix_counts_and_view(qtbot):
    counts = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 0, 9]), 3)
    np.testing.assert_array_equal(counts, [[1, 1, 0], [0, 1, 0], [1, 0, 1]])
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(400, 360)
    view.grab()  # empty state paints
    view.set_matrix(counts, ["cat", "dog", "ship"])
    assert view.accuracy() == pytest.approx(3 / 5)
    assert not view.grab().toImage().isNull()
    clicked = []
    view.cell_clicked.connect(lambda t, p: clicked.append((t, p)))
    grid, side, _band = view._layout()
    qtbot.mouseClick(
        view, Qt.MouseButton.LeftButton, pos=grid.topLeft() + QPointF(side * 1.5, 5).toPoint()
    )
    assert clicked == [(0, 1)]
    with pytest.raises(ValueError):
        view.set_matrix(np.zeros((2, 3)))


def test_gallery_and_grid(qtbot):
    rng = np.random.default_rng(0)
    gallery = ImageGallery(thumb=32)
    qtbot.addWidget(gallery)
    images = rng.integers(0, 255, size=(5, 8, 8, 3), dtype=np.uint8)
    gallery.set_images(images, [f"true a\npred {i}" for i in range(5)])
    assert gallery.count() == 5 and gallery.captions()[2] == "true a\npred 2"
    with pytest.raises(ValueError):
        gallery.set_images(images, ["too few"])
    grid = ImageGrid()
    qtbot.addWidget(grid)
    grid.resize(300, 200)
    weights = rng.normal(size=(12, 4, 4, 3))
    weights[0] = np.nan  # a broken unit must not break the view
    grid.set_images(weights, [f"unit {i}" for i in range(12)])
    assert grid.tile_count() == 12
    cols, rows, scale = grid._grid()
    assert cols * rows >= 12 and scale > 1
    assert not grid.grab().toImage().isNull()
    grid.set_images(np.ones((3, 5, 5)))  # constant grey images
    grid.grab()


# -- exports ---------------------------------------------------------------------------
def test_export_plots_png_svg_pdf_atomically(qtbot, tmp_path):
    model = RunsModel()
    plots = TrainingPlots(model, interval_ms=10_000)
    qtbot.addWidget(plots)
    plots.resize(700, 300)
    run = model.add_run("r", {})
    _fill(run, [2.0, 1.0, math.nan, 0.5], [(0.2, 0.1), (0.3, 0.2)])
    png = plots.export(tmp_path / "plots.png")
    assert not QImage(str(png)).isNull()
    svg = plots.export(tmp_path / "plots.svg").read_text()
    assert "<svg" in svg and "</svg>" in svg
    assert plots.export(tmp_path / "plots.pdf").read_bytes().startswith(b"%PDF")
    with pytest.raises(ValueError):
        export_widget(QWidget(), tmp_path / "plots.bmp")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["plots.pdf", "plots.png", "plots.svg"]


def _pixels(image: QImage) -> np.ndarray:
    image = image.convertToFormat(QImage.Format.Format_RGB32)
    data = np.frombuffer(image.constBits(), np.uint8).reshape(image.height(), -1)
    return data[:, : 4 * image.width()].reshape(image.height(), image.width(), 4)[..., :3]


def _difference(a: QImage, b: QImage) -> float:
    """Mean absolute difference of two images scaled to ``b``'s size, 0..255."""
    a = a.scaled(
        b.size(), Qt.AspectRatioMode.IgnoreAspectRatio, Qt.TransformationMode.SmoothTransformation
    )
    return float(np.abs(_pixels(a).astype(int) - _pixels(b).astype(int)).mean())


def test_exported_plots_look_like_the_plots_on_screen(qtbot, tmp_path):
    """Issue 13 defect 2: PNG (drawn at twice the pixels), SVG and PDF show the whole plot
    at the screen's scale, curves and axes alike (once: the top-left quarter at double
    size in the PNG, the SVG's curve on another scale than its axis)."""
    from PySide6.QtGui import QPainter
    from PySide6.QtSvg import QSvgRenderer

    model = RunsModel()
    plots = TrainingPlots(model, interval_ms=10_000)
    qtbot.addWidget(plots)
    plots.resize(800, 320)
    plots.show()
    qtbot.waitExposed(plots)
    run = model.add_run("r", {})
    _fill(run, [2.3 * math.exp(-i / 30) + 0.1 for i in range(150)], [(0.2, 0.1), (0.5, 0.4)])
    plots.refresh()
    loss = plots.loss.plot_widget
    w, h = loss.width(), loss.height()
    screen = loss.grab().toImage()
    png = QImage(str(plots.export(tmp_path / "plots.png")))
    assert png.width() == 2 * (w + plots.accuracy.plot_widget.width())
    assert _difference(png.copy(0, 0, 2 * w, 2 * h), screen) < 5
    renderer = QSvgRenderer(str(plots.export(tmp_path / "plots.svg")))
    drawn = QImage(png.width() // 2, png.height() // 2, QImage.Format.Format_RGB32)
    drawn.fill(Qt.GlobalColor.white)
    painter = QPainter(drawn)
    renderer.render(painter)
    painter.end()
    assert _difference(drawn.copy(0, 0, w, h), screen) < 5
    # A different picture is far: the test can fail.
    assert _difference(png.copy(0, 0, w, h), screen) > 7


def test_failed_export_keeps_the_old_file(qtbot, tmp_path, monkeypatch):
    target = tmp_path / "metrics.csv"
    target.write_text("old")
    model = RunsModel()
    run = model.add_run("r", {})
    _fill(run, [1.0])

    def no_space(_fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr("gui.training.export.os.fsync", no_space)
    with pytest.raises(OSError):
        export_metrics_csv(model.runs(), target)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.csv"]


def test_metrics_csv_round_trip(tmp_path):
    model = RunsModel()
    run = model.add_run("a,b", {})
    _fill(run, [1.5, math.nan, math.inf], [(0.5, 0.25)])
    path = export_metrics_csv(model.runs(), tmp_path / "m.csv")
    rows = list(csv.DictReader(io.StringIO(path.read_text())))
    assert tuple(rows[0]) == CSV_COLUMNS
    steps = [r for r in rows if r["kind"] == "step"]
    assert [r["loss"] for r in steps] == ["1.5", "nan", "inf"]
    assert steps[0]["train_acc"] == "" and steps[0]["run"] == "a,b"
    (epoch,) = [r for r in rows if r["kind"] == "epoch"]
    assert epoch["epoch"] == "1" and epoch["iteration"] == "10" and epoch["val_acc"] == "0.25"
    assert metrics_csv([]) == ",".join(CSV_COLUMNS) + "\n"


def test_run_metrics_summary():
    metrics = RunMetrics()
    assert math.isnan(metrics.best_val_acc()) and math.isnan(metrics.last_finite_loss())
    metrics.add_step(0, 1.0)
    metrics.add_step(1, math.nan)
    metrics.add_epoch(1, 0.5, 0.4)
    metrics.add_epoch(2, 0.6, math.nan)
    assert metrics.last_finite_loss() == 1.0 and metrics.best_val_acc() == 0.4


def test_redraw_interval_adapts_to_the_redraw_cost(qtbot):
    model = RunsModel()
    plot = LossPlot(model, interval_ms=10)
    qtbot.addWidget(plot)
    run = model.add_run("r", {})
    _fill(run, [1.0, 0.5])
    plot.cpu_budget = 1e-9  # any cost is too much: the interval goes to its maximum
    plot._on_timer()
    assert plot.timer.interval() == plot.max_interval_ms == 1000
    plot.cpu_budget = 1e9  # free: back to the minimum
    run.metrics.add_step(2, 0.25)
    for _ in range(20):  # the cost is smoothed over redraws
        run.metrics.add_step(3, 0.2)
        plot._on_timer()
    assert plot.timer.interval() == 10


CIFAR_NAMES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship"]


def test_confusion_cells_show_counts_whole_class_names_and_a_colour_legend(qtbot):
    """Issue 13 defect 9: at 1024x700 the matrix had no numbers, no legend and
    "airpla..." labels. The tab gives it about 720x350 pixels there (a screenshot)."""
    k = len(CIFAR_NAMES) + 1
    rng = np.random.default_rng(1)
    counts = rng.integers(0, 400, (k, k))
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(700, 340)
    view.set_matrix(counts, [*CIFAR_NAMES, "truck"])
    view.grab()
    assert view.numbers_shown
    assert view.labels_elided == []
    assert 0 < view.legend_width <= view.width()
    grid, side, band = view._layout()
    assert side >= 20 and grid.bottom() + band <= view.height()


@pytest.mark.parametrize("width", [300, 380, 700])
def test_confusion_legend_and_true_label_are_not_cut_in_a_narrow_view(qtbot, width):
    """At 300-420 pixels the legend ran past the right edge ("of t", "confused: 0% [")
    and a long row label ("automobile") was drawn over the rotated "true"."""
    view = ConfusionMatrixView()
    qtbot.addWidget(view)
    view.resize(width, 300)
    view.set_matrix(np.eye(len(CIFAR_NAMES), dtype=int) * 50, list(CIFAR_NAMES))
    view.grab()
    assert 0 < view.legend_width <= view.width() - 2
    fm = QFontMetrics(view.font())
    # the rotated "true" ends at its baseline, x = fm.height(), plus the descent
    assert view.row_labels_left >= fm.height() + fm.descent()


def test_gallery_captions_are_not_cut(qtbot):
    """Issue 13 defect 9: "✗ automobile" and "airplane → frog" read "✗ ..." and "auto..."."""
    gallery = ImageGallery(thumb=48)
    qtbot.addWidget(gallery)
    gallery.resize(500, 300)
    gallery.show()
    images = np.zeros((4, 8, 8, 3), dtype=np.uint8)
    gallery.set_images(images, ["✗ automobile", "airplane\n→ frog", "cat", "✗ truck"])
    assert gallery.caption_fits()
