"""Shared training pieces for the "Two-layer net" and "CNN" tabs: the one training tab
controller and the widgets it is made of.

The controller (``gui.training.tab``, with ``tab_layout``, ``run_events`` and ``run_files``)
    ``TrainingTab(context)`` - the base class of both training tabs: the run lifecycle
    on the ``nets.training`` events, side jobs, test once, checkpoints, exports and the
    question before quitting; a tab configures it through hooks and extends it with
    ``add_view``, ``add_page`` and ``add_listener`` (see that module's docstring). Not
    imported here: ``from gui.training.tab import TrainingTab``.

The widgets below know nothing of either network: a tab (or the controller) feeds them
numbers and images.

Data model (``gui.training.runs``, ``gui.training.series``)
    ``RunsModel(parent=None)`` - a ``QAbstractTableModel`` of ``Run`` objects.
        ``add_run(name, settings: dict, *, status="running", payload=None, color=None,
        metrics=None) -> Run``; ``remove_run(id)``; ``run(id) -> Run | None``; ``runs()``;
        ``next_name("run") -> "run 3"``; ``set_status(id, status, reason="")`` with
        status in ``STATUSES`` = running, paused, finished, stopped, diverged, failed,
        loaded; ``rename(id, name)``; ``set_visible(id, bool)``; ``set_color(id, c)``;
        ``set_result(id, "val 48.1%")``; ``set_payload(id, obj)``.
        Signals ``run_added(id)``, ``run_removed(id)``, ``run_changed(id)``.
    ``Run`` - ``run_id``, ``name``, ``settings``, ``color`` (QColor), ``status``,
        ``reason``, ``visible``, ``metrics`` (RunMetrics), ``payload`` (the tab's model
        object, never looked at here), ``result`` (short text for the list).
    ``RunMetrics`` - growing float64 arrays (preallocated, doubled when full):
        ``add_step(iteration, loss, lr=nan)``; ``add_epoch(epoch, train_acc, val_acc,
        iteration=nan)`` with accuracies as fractions 0..1; ``step_x``, ``loss``, ``lr``,
        ``epoch``, ``epoch_iter``, ``train_acc``, ``val_acc`` (``.view()`` -> ndarray);
        ``version`` (bumped on each change), ``best_val_acc()``, ``rows()``.
        Feed it from the worker's ``item`` slot: appending is O(1); nothing is drawn.

Views
    ``RunsView(model)`` - table with show/hide check boxes, colour swatches, rename
        (double-click/F2), Delete (button, Del key, context menu), colour picker.
        ``selected_run_changed(int)`` (0 = none), ``selected_run_id()``,
        ``select_run(id)``, ``delete_run(id)``. Set ``can_delete = fn(id) -> str`` to
        refuse (return the reason; ``delete_refused(str)`` is emitted).
    ``LossPlot(model, interval_ms=100, smoothing=0.9)`` - raw loss (thin) + EMA
        (thick) per iteration; ``set_log_scale(bool)``, ``set_smoothing(w)``.
    ``AccuracyPlot(model, interval_ms=100, x_axis="epoch")`` - train (solid) and
        validation (dashed) in percent; ``set_x_axis("epoch" | "iteration")``.
        Both plots: one curve set per *visible* run in its colour with a legend, a
        crosshair with a readout line under the plot, a QTimer redrawing changed runs
        with ``setData``; ``refresh() -> bool`` redraws now; ``redrawn`` signal;
        ``curve_data(run_id, which) -> (x, y)`` what is drawn (tests).
        NaN/inf are gaps; empty, all-NaN and constant series are fine. The timer's
        interval adapts to what a redraw costs (``cpu_budget`` = 2.5% of the GUI
        thread, between ``min_interval_ms`` = interval_ms and ``max_interval_ms`` = 1 s).
        ``plot_widget``, ``plot_item``, ``legend``, ``readout``, ``options`` (a
        QHBoxLayout for extra controls) are public; the x axis ticks whole numbers.
    ``TrainingPlots(model, interval_ms=100, orientation=Horizontal)`` (``plot_pair``) -
        both plots in a splitter (``.loss``, ``.accuracy``); ``export(path)`` -> PNG/SVG/PDF
        by suffix, drawn as on screen at any device pixel ratio.
    ``TrainingControls(start_text="&Start")`` - Start / Pause-Resume / Stop + progress
        bar + ETA. Signals ``start_requested``, ``pause_requested``,
        ``resume_requested``, ``stop_requested``. ``set_can_start(ok, reason)``,
        ``set_progress(done, total, elapsed_s=None)``, ``set_finished(message="")``,
        ``set_running()``, ``show_activity(message, done, total)`` (work before the
        first step: no ETA), ``state`` in idle/running/paused/stopping. Start moves to
        "running" before emitting, so it can never start twice; call ``set_finished``
        when the worker's ``done`` arrives.
    ``ConfusionMatrixView()`` - ``set_matrix(counts (K, K), class_names)``, ``clear()``,
        ``counts()``, ``accuracy()``; ``cell_clicked(true, predicted)``. Helper
        ``confusion_matrix(y_true (N,), y_pred (N,), K) -> (K, K)``.
    ``ImageGallery(thumb=64)`` - captioned thumbnails: ``set_images(images (N,H,W[,3]),
        captions, tooltips=None, normalize="each")``; ``captions()``.
    ``ImageGrid()`` - tiles (first-layer weights): ``set_images(images (N,H,W[,3]),
        labels=None, normalize="each"|"all"|"none")``; ``tile_count()``; hover tooltips.

Exports (``gui.training.export``; every write atomic: temp file + fsync + os.replace)
    ``export_widget(widget, path)`` PNG/SVG/PDF by suffix (ValueError otherwise);
    ``export_metrics_csv(runs, path)`` long-form CSV, columns ``CSV_COLUMNS`` = run, kind
    (step|epoch), iteration, epoch, loss, lr, train_acc, val_acc; ``metrics_csv(runs)``;
    ``atomic_write_bytes(path, data)`` (from ``gui.files``); ``PLOT_FILTER``, ``CSV_FILTER``
    for file dialogs.

A training tab gets all of these wired by ``TrainingTab``; a tab of another kind wires
them itself::

    self.runs = RunsModel(self)
    self.plots = TrainingPlots(self.runs)
    run = self.runs.add_run(self.runs.next_name(), settings)
    worker.item.connect(lambda step: run.metrics.add_step(step.step, step.loss))
"""

from typing import TYPE_CHECKING, Any

from gui.files import atomic_write_bytes
from gui.training.confusion import ConfusionMatrixView, confusion_matrix
from gui.training.controls import TrainingControls, format_duration
from gui.training.export import (
    CSV_COLUMNS,
    CSV_FILTER,
    PLOT_FILTER,
    export_metrics_csv,
    export_widget,
    metrics_csv,
)
from gui.training.images import ImageGallery, ImageGrid, to_qimage, to_uint8
from gui.training.plot_pair import TrainingPlots
from gui.training.runs import PALETTE, STATUSES, Run, RunsModel, RunsView
from gui.training.series import EmaSmoother, GrowingArray, RunMetrics

__all__ = [
    "CSV_COLUMNS",
    "CSV_FILTER",
    "PALETTE",
    "PLOT_FILTER",
    "STATUSES",
    "AccuracyPlot",
    "ConfusionMatrixView",
    "EmaSmoother",
    "GrowingArray",
    "ImageGallery",
    "ImageGrid",
    "LossPlot",
    "Run",
    "RunMetrics",
    "RunsModel",
    "RunsView",
    "TrainingControls",
    "TrainingPlots",
    "atomic_write_bytes",
    "confusion_matrix",
    "export_metrics_csv",
    "export_widget",
    "format_duration",
    "metrics_csv",
    "to_qimage",
    "to_uint8",
]

if TYPE_CHECKING:
    from gui.training.plots import AccuracyPlot, LossPlot


def __getattr__(name: str) -> Any:
    # The plots' module imports pyqtgraph (0.2 s): only when a plot is first built.
    if name in ("AccuracyPlot", "LossPlot"):
        from gui.training import plots

        return getattr(plots, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
