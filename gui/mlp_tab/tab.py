"""The "Two-layer net" tab: train the numpy TwoLayerNet on CIFAR-10, Fashion-MNIST or an
image folder with live plots, compare runs, then test, save, load and inspect models.

Threads: the dataset probe/download/load, the training, the test evaluation and the
gradient checks all run in the worker layer (``context.workers``); worker items only
append to arrays or replace small results, and QTimers redraw.
"""

from __future__ import annotations

import html
import math
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMessageBox,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui import dialogs
from gui.mlp_tab.analysis import (
    TestResult,
    ValidationAnalysis,
    WeightsSnapshot,
    analyse_validation,
    first_layer_images,
)
from gui.mlp_tab.data_panel import DatasetPanel
from gui.mlp_tab.form import FIELD_ORDER, HyperparameterForm
from gui.mlp_tab.gradcheck_panel import GradcheckPanel
from gui.mlp_tab.jobs import Batch, batched
from gui.tab_base import AppContext, AppTab
from gui.training import (
    CSV_FILTER,
    PLOT_FILTER,
    ConfusionMatrixView,
    ImageGallery,
    ImageGrid,
    RunsModel,
    RunsView,
    TrainingControls,
    TrainingPlots,
    confusion_matrix,
    export_metrics_csv,
    format_duration,
)
from gui.worker import GeneratorWorker
from nets.errors import NetsError
from nets.mlp.checkpoint import TestRecord, load_checkpoint, record_test_use, save_checkpoint
from nets.mlp.classifiers import build_classifier
from nets.mlp.train import build_model, evaluate, train
from nets.training import END_EVENTS, Diverged, Evaluation, Started, Step, Stopped

CHECKPOINT_FILTER = "numpy network checkpoint (*.npz)"
MAX_GALLERY = 60


@dataclass(eq=False)
class RunRecord:
    """What the tab keeps per run (the ``Run.payload``)."""

    config: Any = None  # TrainConfig, or the dict a checkpoint stored
    dataset: str = ""  # the spec it was trained on
    model: Any = None  # nets.mlp.classifiers.Classifier (None until the run starts)
    preprocessor: Any = None
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    history: Any = None
    weights: WeightsSnapshot | None = None
    analysis: ValidationAnalysis | None = None
    test: Any = None  # nets.mlp.checkpoint.TestRecord
    checkpoint_path: Path | None = None
    last_iteration: int = 0
    total_steps: int = 0
    num_train: int = 0
    input_dim: int = 0
    extra: dict = field(default_factory=dict)

    @property
    def test_used(self) -> bool:
        return self.test is not None and bool(self.test.used)


def _settings_of(config, dataset: str) -> dict[str, Any]:
    values = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    settings: dict[str, Any] = {"dataset": dataset}
    for name in FIELD_ORDER:
        if name in values:
            settings[name] = "all" if values[name] is None else values[name]
    return settings


class MlpTab(AppTab):
    """Signals: ``training_done(run_id, status)`` after a training worker has ended
    (status as the worker's ``done``: finished, cancelled or failed); ``test_done(run_id)``
    after a test evaluation."""

    tab_id = "mlp"
    title = "Two-layer net"

    training_done = Signal(int, str)
    test_done = Signal(int)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("mlpTab")
        self._train_worker: GeneratorWorker | None = None
        self._eval_worker: GeneratorWorker | None = None
        self._stop_event: threading.Event | None = None
        self._pending_start: dict | None = None
        self._active_run_id = 0
        self._shut_down = False

        # -- left column: data and hyperparameters -----------------------------------
        self.data_panel = DatasetPanel(context)
        self.form = HyperparameterForm()
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_panel)
        form_box = QGroupBox("Hyperparameters")
        QVBoxLayout(form_box).addWidget(self.form)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 4, 0)
        left_layout.addWidget(data_box)
        left_layout.addWidget(form_box)
        left_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(left)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setMinimumWidth(300)

        # -- right: controls, plots, runs and results --------------------------------
        self.controls = TrainingControls()
        self.banner = QLabel()
        self.banner.setObjectName("mlpBanner")
        self.banner.setWordWrap(True)
        self.banner.setTextFormat(Qt.TextFormat.RichText)
        self.banner.hide()
        self.runs = RunsModel(self)
        self.plots = TrainingPlots(self.runs)
        self.runs_view = RunsView(self.runs)
        self.runs_view.can_delete = self._refuse_delete

        self.test_button = QPushButton("Evaluate on &test set")
        self.test_button.setObjectName("testButton")
        self.test_button.setToolTip(
            "Measure the selected model's accuracy on the test split. The seed asks for "
            "exactly one test evaluation per model: tune on validation, test once at the end."
        )
        self.save_button = QPushButton("Sa&ve...")
        self.save_button.setObjectName("saveButton")
        self.save_button.setToolTip("Save the selected model as a checkpoint (.npz)")
        self.load_button = QPushButton("L&oad...")
        self.load_button.setObjectName("loadCheckpointButton")
        self.load_button.setToolTip("Load a checkpoint as a new run, to test or train further")
        self.continue_button = QPushButton("Train f&urther")
        self.continue_button.setObjectName("continueButton")
        self.continue_button.setToolTip(
            "Start a new run from the selected model's weights with the form's settings"
        )
        self.test_label = QLabel()
        self.test_label.setObjectName("testResult")
        self.test_label.setWordWrap(True)
        self.test_label.setTextFormat(Qt.TextFormat.RichText)
        model_buttons = QHBoxLayout()
        for button in (self.test_button, self.save_button, self.load_button, self.continue_button):
            model_buttons.addWidget(button)
        model_buttons.addStretch(1)
        runs_box = QGroupBox("Runs")
        runs_layout = QVBoxLayout(runs_box)
        runs_layout.addWidget(self.runs_view, 1)
        runs_layout.addLayout(model_buttons)
        runs_layout.addWidget(self.test_label)

        self.weights_view = ImageGrid()
        self.weights_view.empty_text = "Train a model to see its first-layer weights."
        self.weights_label = QLabel(
            "Each tile is one hidden unit's incoming weights shown as an image (the "
            "classic CS231n picture): templates the network matches against its input."
        )
        self.weights_label.setWordWrap(True)
        weights_page = QWidget()
        weights_layout = QVBoxLayout(weights_page)
        weights_layout.addWidget(self.weights_label)
        weights_layout.addWidget(self.weights_view, 1)
        self.confusion_view = ConfusionMatrixView()
        self.gallery = ImageGallery(thumb=48)
        self.gallery_label = QLabel("Misclassified validation images: true and predicted labels.")
        self.gallery_label.setWordWrap(True)
        gallery_page = QWidget()
        gallery_layout = QVBoxLayout(gallery_page)
        gallery_layout.addWidget(self.gallery_label)
        gallery_layout.addWidget(self.gallery, 1)
        self.gradcheck = GradcheckPanel(context)
        self.results_tabs = QTabWidget()
        self.results_tabs.setObjectName("mlpResults")
        self.results_tabs.addTab(weights_page, "First-layer weights")
        self.results_tabs.addTab(self.confusion_view, "Confusion matrix")
        self.results_tabs.addTab(gallery_page, "Misclassified")
        self.results_tabs.addTab(self.gradcheck, "Gradient checks")

        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(runs_box)
        bottom.addWidget(self.results_tabs)
        bottom.setStretchFactor(0, 2)
        bottom.setStretchFactor(1, 3)
        bottom.setSizes([420, 560])
        vertical = QSplitter(Qt.Orientation.Vertical)
        vertical.addWidget(self.plots)
        vertical.addWidget(bottom)
        vertical.setStretchFactor(0, 3)
        vertical.setStretchFactor(1, 2)
        vertical.setSizes([400, 300])
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.controls)
        right_layout.addWidget(self.banner)
        right_layout.addWidget(vertical, 1)

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(scroll)
        main.addWidget(right)
        main.setStretchFactor(0, 0)
        main.setStretchFactor(1, 1)
        main.setSizes([330, 950])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(main)

        self._build_actions()

        # -- wiring ------------------------------------------------------------------
        self.controls.start_requested.connect(self.start_training)
        self.controls.pause_requested.connect(self.pause_training)
        self.controls.resume_requested.connect(self.resume_training)
        self.controls.stop_requested.connect(self.stop_training)
        self.form.validity_changed.connect(lambda *_: self._update_can_start())
        self.form.config_changed.connect(self._update_estimate_shape)
        self.data_panel.info_changed.connect(self._on_data_info)
        self.data_panel.spec_changed.connect(lambda _spec: self._update_can_start())
        self.data_panel.busy_changed.connect(lambda _busy: self._update_can_start())
        self.data_panel.dataset_ready.connect(self._on_dataset_ready)
        self.data_panel.load_failed.connect(self._on_load_failed)
        self.data_panel.progress.connect(self._on_data_progress)
        self.data_panel.message.connect(lambda text: self.status_message.emit(text, 6000))
        self.runs_view.selected_run_changed.connect(self._on_selected_run)
        self.runs_view.delete_refused.connect(lambda text: self.status_message.emit(text, 5000))
        self.runs.run_changed.connect(self._on_run_changed)
        self.runs.run_removed.connect(lambda _id: self._on_selected_run(self.selected_run_id()))
        self.test_button.clicked.connect(self.evaluate_test)
        self.save_button.clicked.connect(self.save_checkpoint)
        self.load_button.clicked.connect(self.load_checkpoint)
        self.continue_button.clicked.connect(self.train_further)
        self.confusion_view.cell_clicked.connect(self._filter_gallery)
        self._update_can_start()
        self._update_model_buttons()
        # The first probe after the constructor returns: keeps building the tab light.
        QTimer.singleShot(0, self.data_panel.start_probe)

    # -- menus -----------------------------------------------------------------------
    def _build_actions(self) -> None:
        self.load_action = QAction("&Load Checkpoint...", self)
        self.load_action.setShortcut(QKeySequence.StandardKey.Open)
        self.load_action.triggered.connect(self.load_checkpoint)
        self.save_action = QAction("&Save Checkpoint...", self)
        self.save_action.setShortcut(QKeySequence.StandardKey.Save)
        self.save_action.triggered.connect(self.save_checkpoint)
        self.export_plots_action = QAction("Export &Plots...", self)
        self.export_plots_action.setShortcut(QKeySequence("Ctrl+E"))
        self.export_plots_action.triggered.connect(self.export_plots)
        self.export_csv_action = QAction("Export &Metrics CSV...", self)
        self.export_csv_action.triggered.connect(self.export_metrics)
        self.log_action = QAction("&Log Scale Loss", self, checkable=True)
        self.log_action.setShortcut(QKeySequence("Ctrl+L"))
        self.log_action.toggled.connect(self.plots.loss.set_log_scale)
        self.plots.loss.log_check.toggled.connect(self.log_action.setChecked)
        self.x_iter_action = QAction("Accuracy per &Iteration", self, checkable=True)
        self.x_iter_action.toggled.connect(
            lambda on: self.plots.accuracy.set_x_axis("iteration" if on else "epoch")
        )
        self.gradcheck_action = QAction("Run &Gradient Checks", self)
        self.gradcheck_action.triggered.connect(self._run_gradchecks)
        for action in (self.load_action, self.save_action, self.export_plots_action):
            self.addAction(action)

    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.load_action,
                self.save_action,
                None,
                self.export_plots_action,
                self.export_csv_action,
            ]
        if menu == "View":
            return [self.log_action, self.x_iter_action]
        if menu == "Edit":
            return [self.gradcheck_action]
        return []

    # -- files dropped or opened -------------------------------------------------------
    def accepts_path(self, path: Path) -> bool:
        if path.suffix.lower() == ".npz":
            return True
        return path.is_dir() and (path / "train").is_dir()

    def open_paths(self, paths: list[Path]) -> None:
        for path in paths:
            if path.suffix.lower() == ".npz":
                self.load_checkpoint(path)
            elif path.is_dir():
                self.data_panel.set_source("folder", path)

    # -- state -----------------------------------------------------------------------
    def is_training(self) -> bool:
        return self._train_worker is not None or self._pending_start is not None

    def selected_run_id(self) -> int:
        return self.runs_view.selected_run_id()

    def selected_record(self) -> RunRecord | None:
        run = self.runs.run(self.selected_run_id())
        return run.payload if run is not None else None

    def _update_can_start(self) -> None:
        reason = ""
        if not self.form.is_valid():
            reason = next(iter(self.form.errors().values()))
        elif not self.data_panel.is_ready() and not self.data_panel.is_busy():
            reason = self.data_panel.not_ready_reason()
        elif self.data_panel.is_busy() and not self.is_training():
            reason = "Wait for the dataset to finish loading"
        self.controls.set_can_start(not reason, reason)
        self._update_model_buttons()

    def _update_model_buttons(self) -> None:
        record = self.selected_record()
        run = self.runs.run(self.selected_run_id())
        has_model = record is not None and record.model is not None
        idle_model = has_model and run is not None and run.status not in ("running", "paused")
        self.save_button.setEnabled(bool(idle_model))
        self.save_action.setEnabled(bool(idle_model))
        self.test_button.setEnabled(bool(idle_model) and self._eval_worker is None)
        self.continue_button.setEnabled(
            bool(idle_model) and not self.is_training() and self.form.is_valid()
        )
        self.load_button.setEnabled(True)
        has_runs = len(self.runs) > 0
        self.export_plots_action.setEnabled(has_runs)
        self.export_csv_action.setEnabled(has_runs)
        if record is None:
            self.test_label.setText("")
        elif record.test_used:
            t = record.test
            when = f" on {t.when.replace('T', ' ')}" if t.when else ""
            runs = f", {t.runs} evaluations" if t.runs and t.runs > 1 else ""
            acc = "?" if t.test_acc is None else f"{100 * t.test_acc:.2f}%"
            n = f" of {t.n:,} images" if t.n else ""
            self.test_label.setText(f"<b>Test accuracy: {acc}</b>{n} (evaluated{when}{runs})")
        else:
            self.test_label.setText("Not evaluated on the test set yet.")

    # -- data ------------------------------------------------------------------------
    def _on_data_info(self) -> None:
        self._update_estimate_shape()
        self._update_can_start()

    def _update_estimate_shape(self) -> None:
        ds = self.data_panel.dataset if self.data_panel.dataset_is_current() else None
        if ds is not None:
            self.form.set_data_shape(len(ds.y_train), ds.input_dim, ds.num_classes, len(ds.y_val))
            return
        info = self.data_panel.info
        if info is None or not info.found or not info.num_train:
            self.form.set_data_shape(None, None)
            return
        dims = {"cifar10": 32 * 32 * 3, "fashion-mnist": 28 * 28, "folder": 32 * 32 * 3}
        n = info.num_train
        n_val = {"cifar10": 5000, "fashion-mnist": 10000}.get(info.kind, max(1, n // 10))
        classes = len(info.class_names) or 10
        self.form.set_data_shape(max(1, n - n_val), dims.get(info.kind), classes, n_val)

    def _on_data_progress(self, done: int, total: int, message: str) -> None:
        if self._pending_start is not None:
            self.controls.set_progress(done, total)
            self.controls.eta_label.setText(message[:60])

    def _on_dataset_ready(self, _dataset) -> None:
        self._update_estimate_shape()
        self._update_can_start()
        if self._pending_start is not None:
            pending, self._pending_start = self._pending_start, None
            self._begin_training(**pending)

    def _on_load_failed(self, message: str) -> None:
        if self._pending_start is not None:
            self._pending_start = None
            self.controls.set_finished("loading cancelled" if message == "cancelled" else "")
            if message != "cancelled":
                self._show_banner(f"Could not load the dataset: {message}", error=True)
        self._update_can_start()

    # -- training --------------------------------------------------------------------
    def start_training(self) -> None:
        """Start a fresh run with the form's settings (Start button)."""
        self._request_training(init_from=None)

    def train_further(self) -> None:
        """Start a new run from the selected run's model."""
        record = self.selected_record()
        if record is None or record.model is None or self.is_training():
            return
        self.controls.set_running()
        self._request_training(init_from=self.selected_run_id())

    def _request_training(self, init_from: int | None) -> None:
        if self.is_training():  # never two training workers
            return
        try:
            config = self.form.config()
        except NetsError as exc:
            self.controls.set_finished()
            self._show_banner(str(exc), error=True)
            return
        self._hide_banner()
        if not self.data_panel.dataset_is_current():
            self._pending_start = {"config": config, "init_from": init_from}
            if not self.data_panel.load():
                self._pending_start = None
                self.controls.set_finished()
                self._show_banner(self.data_panel.not_ready_reason() or "Cannot load", error=True)
            else:
                self.controls.eta_label.setText("loading the dataset...")
            return
        self._begin_training(config=config, init_from=init_from)

    def _begin_training(self, config, init_from: int | None) -> None:
        if self._shut_down or self._train_worker is not None:
            return
        dataset = self.data_panel.dataset
        spec = self.data_panel.spec() or ""
        preprocessor = None
        source = self.runs.run(init_from) if init_from else None
        if source is not None and source.payload is not None and source.payload.model is not None:
            old = source.payload.model
            try:
                model = build_classifier(type(old).__name__, old.hyperparameters(), old.dtype)
                model.load_state(old.state())
            except NetsError as exc:
                self.controls.set_finished()
                self._show_banner(str(exc), error=True)
                return
            preprocessor = source.payload.preprocessor
            if model.input_dim != dataset.input_dim or model.num_classes != dataset.num_classes:
                self.controls.set_finished()
                self._show_banner(
                    f"The model takes {model.input_dim} inputs and {model.num_classes} classes, "
                    f"but {spec} has {dataset.input_dim} values per image and "
                    f"{dataset.num_classes} classes: load the dataset it was trained on",
                    error=True,
                )
                return
            name = f"{source.name} +"
        else:
            model = None
            name = self.runs.next_name()
        record = RunRecord(
            config=config,
            dataset=spec,
            class_names=tuple(dataset.class_names),
            image_shape=tuple(dataset.image_shape),
            model=model,
            preprocessor=preprocessor,
        )
        settings = _settings_of(config, spec)
        if source is not None:
            settings["from"] = source.name
        run = self.runs.add_run(name, settings, payload=record)
        self._active_run_id = run.run_id
        stop = threading.Event()
        self._stop_event = stop
        image_shape = record.image_shape

        def factory(token):
            nonlocal model
            if model is None:
                model = build_model(config, dataset.input_dim, dataset.num_classes)
            yield ("model", model)
            events = train(
                config,
                dataset,
                cancel=lambda: token() or stop.is_set(),
                model=model,
                preprocessor=preprocessor,
            )
            snapshot = first_layer_images(_first_weights(model), image_shape, 0)
            if snapshot is not None:
                yield snapshot
            for event in batched(events, lambda e: isinstance(e, Step)):
                yield event
                if isinstance(event, Evaluation):
                    snapshot = first_layer_images(_first_weights(model), image_shape, event.epoch)
                    if snapshot is not None:
                        yield snapshot
                elif isinstance(event, END_EVENTS):
                    result = event.result
                    snapshot = first_layer_images(_first_weights(model), image_shape, -1)
                    if snapshot is not None:
                        yield snapshot
                    if token():
                        return
                    yield analyse_validation(
                        result.model, result.preprocessor, dataset.X_val, dataset.y_val
                    )

        worker = self.context.workers.start(factory, name="mlp-train")
        self._train_worker = worker
        worker.item.connect(lambda item, rid=run.run_id: self._on_train_item(rid, item))
        worker.failed.connect(
            lambda message, tb, rid=run.run_id: self._on_train_failed(rid, message, tb)
        )
        worker.done.connect(lambda status, rid=run.run_id: self._on_train_done(rid, status))
        self.controls.set_running()
        self.runs_view.select_run(run.run_id)
        self.status_message.emit(f"Training {name} on {spec}...", 3000)
        self._update_can_start()

    def _on_train_item(self, run_id: int, item) -> None:
        run = self.runs.run(run_id)
        if run is None:
            return
        record: RunRecord = run.payload
        if isinstance(item, Batch):
            for step in item.items:
                run.metrics.add_step(step.step, step.loss, step.lr)
            last = item.items[-1]
            record.last_iteration = last.step
            record.total_steps = last.total_steps
            self.controls.set_progress(last.step, last.total_steps, last.elapsed)
        elif isinstance(item, Step):
            run.metrics.add_step(item.step, item.loss, item.lr)
            record.last_iteration = item.step
            record.total_steps = item.total_steps
            self.controls.set_progress(item.step, item.total_steps, item.elapsed)
        elif isinstance(item, Evaluation):
            run.metrics.add_epoch(
                item.epoch, item.train_acc, item.val_acc, iteration=record.last_iteration
            )
            self.runs.set_result(run_id, f"val {_pct(item.val_acc)}")
            record.extra["elapsed"] = item.elapsed
            record.extra["epochs"] = item.epoch
        elif isinstance(item, WeightsSnapshot):
            record.weights = item
            if run_id == self.selected_run_id():
                self._show_weights(record)
        elif isinstance(item, Started):
            record.total_steps = item.total_steps
            record.num_train = item.num_train
            record.input_dim = item.input_shape[0]
            self.controls.set_progress(0, item.total_steps, 0.0)
        elif isinstance(item, END_EVENTS):
            result = item.result
            record.model = result.model
            record.preprocessor = result.preprocessor
            record.history = result.history
            record.extra["ended"] = item
            if isinstance(item, Diverged):
                self.runs.set_status(run_id, "diverged", item.reason)
                self._show_banner(
                    f"<b>{html.escape(run.name)} diverged.</b> "
                    f"{html.escape(item.reason)}. Try a smaller learning rate.",
                    error=True,
                )
            elif isinstance(item, Stopped):
                self.runs.set_status(run_id, "stopped", item.reason)
            else:
                self.runs.set_status(run_id, "finished")
                epochs = item.epochs_done
                if epochs and item.elapsed > 0 and record.num_train:
                    self.form.calibrate(
                        item.elapsed / epochs,
                        record.config,
                        record.num_train,
                        record.input_dim,
                        len(record.class_names) or 10,
                    )
        elif isinstance(item, ValidationAnalysis):
            record.analysis = item
            if run_id == self.selected_run_id():
                self._show_analysis(record)
        elif isinstance(item, tuple) and item and item[0] == "model":
            record.model = item[1]

    def _on_train_failed(self, run_id: int, message: str, _tb: str) -> None:
        self.runs.set_status(run_id, "failed", message)
        self._show_banner(f"<b>Training failed:</b> {html.escape(message)}", error=True)
        self.status_message.emit(f"Training failed: {message}", 8000)

    def _on_train_done(self, run_id: int, status: str) -> None:
        self._train_worker = None
        self._stop_event = None
        run = self.runs.run(run_id)
        if run is not None and run.status in ("running", "paused"):
            # Cancelled before the trainer could report (closing, or a stop while loading).
            self.runs.set_status(run_id, "stopped", "stopped")
        elapsed = 0.0
        if run is not None and run.payload is not None:
            ended = run.payload.extra.get("ended")
            elapsed = ended.elapsed if ended is not None else 0.0
        message = {
            "finished": f"{run.status if run else 'done'} after {format_duration(elapsed)}",
            "cancelled": "stopped",
            "failed": "failed",
        }.get(status, status)
        self.controls.set_finished(message)
        self.plots.refresh()
        self._update_can_start()
        if run is not None:
            self.status_message.emit(f"{run.name}: {run.status_text()}", 6000)
        self.training_done.emit(run_id, status)

    def pause_training(self) -> None:
        if self._train_worker is not None:
            self._train_worker.pause()
            self.runs.set_status(self._active_run_id, "paused")

    def resume_training(self) -> None:
        if self._train_worker is not None:
            self._train_worker.resume()
            self.runs.set_status(self._active_run_id, "running")

    def stop_training(self) -> None:
        """Stop after the current step: the run keeps its model (testable, savable)."""
        if self._pending_start is not None:
            self.data_panel.cancel()
            return
        if self._train_worker is not None:
            if self._stop_event is not None:
                self._stop_event.set()
            self._train_worker.resume()  # a paused worker must move on to see the stop
        else:
            self.controls.set_finished()

    def _refuse_delete(self, run_id: int) -> str:
        if run_id == self._active_run_id and self._train_worker is not None:
            return "Stop the run before deleting it"
        return ""

    def _on_run_changed(self, run_id: int) -> None:
        if run_id == self.selected_run_id():
            self._update_model_buttons()

    # -- selection and result views -------------------------------------------------
    def _on_selected_run(self, run_id: int) -> None:
        run = self.runs.run(run_id)
        record = run.payload if run is not None else None
        self._show_weights(record)
        self._show_analysis(record)
        self._update_model_buttons()

    def _show_weights(self, record: RunRecord | None) -> None:
        snap = record.weights if record is not None else None
        if snap is None:
            self.weights_view.clear()
            return
        labels = [f"hidden unit {i}" for i in range(len(snap.images))]
        self.weights_view.set_images(snap.images, labels)
        shown = (
            f"the first {len(snap.images)} of {snap.total}"
            if snap.total > len(snap.images)
            else f"all {snap.total}"
        )
        when = (
            "initial weights"
            if snap.epoch == 0
            else ("after training" if snap.epoch < 0 else f"after epoch {snap.epoch}")
        )
        self.weights_label.setText(
            f"First-layer weights ({when}): {shown} hidden units, each shown as an image "
            "(the classic CS231n picture)."
        )

    def _show_analysis(self, record: RunRecord | None, cell: tuple[int, int] | None = None):
        analysis = record.analysis if record is not None else None
        if analysis is None:
            self.confusion_view.clear()
            self.gallery.clear()
            self.gallery_label.setText("Misclassified validation images appear after training.")
            return
        k = len(record.class_names) or int(
            max(analysis.y_true.max(initial=0), analysis.y_pred.max(initial=0)) + 1
        )
        self.confusion_view.set_matrix(
            confusion_matrix(analysis.y_true, analysis.y_pred, k), list(record.class_names)
        )
        self._fill_gallery(record, cell)

    def _fill_gallery(self, record: RunRecord, cell: tuple[int, int] | None) -> None:
        analysis = record.analysis
        if analysis is None or analysis.mistake_images is None:
            self.gallery.clear()
            return
        names = record.class_names
        idx = analysis.mistake_idx
        true = analysis.y_true[idx]
        pred = analysis.y_pred[idx]
        keep = np.arange(len(idx))
        if cell is not None:
            keep = np.flatnonzero((true == cell[0]) & (pred == cell[1]))
        keep = keep[:MAX_GALLERY]

        def name(i: int) -> str:
            return names[i] if i < len(names) else str(i)

        captions = [f"{name(true[i])}\n→ {name(pred[i])}" for i in keep]
        tips = [
            f"validation image {idx[i]}: true {name(true[i])}, predicted {name(pred[i])}"
            for i in keep
        ]
        self.gallery.set_images(analysis.mistake_images[keep], captions, tips, normalize="none")
        wrong = int(np.sum(analysis.y_true != analysis.y_pred))
        total = len(analysis.y_true)
        where = ""
        if cell is not None:
            where = f" (true {name(cell[0])}, predicted {name(cell[1])}; click another cell)"
        self.gallery_label.setText(
            f"{wrong:,} of {total:,} validation images misclassified; showing {len(keep)}"
            f"{where}. Top: true label, bottom: prediction."
        )

    def _filter_gallery(self, true_class: int, predicted: int) -> None:
        record = self.selected_record()
        if record is None or record.analysis is None:
            return
        cell = None if true_class == predicted else (true_class, predicted)
        self._fill_gallery(record, cell)
        self.results_tabs.setCurrentIndex(2)

    def _show_banner(self, text: str, *, error: bool = False) -> None:
        colour = "#fdecea" if error else "#eaf2fb"
        border = "#c0392b" if error else "#2e86c1"
        self.banner.setStyleSheet(
            f"QLabel {{ background: {colour}; border: 1px solid {border}; padding: 4px; }}"
        )
        self.banner.setText(text)
        self.banner.show()

    def _hide_banner(self) -> None:
        self.banner.hide()

    # -- test evaluation -------------------------------------------------------------
    def evaluate_test(self) -> None:
        """Evaluate the selected model on the test split: once; warn before another."""
        run_id = self.selected_run_id()
        run = self.runs.run(run_id)
        record: RunRecord | None = run.payload if run is not None else None
        if record is None or record.model is None or self._eval_worker is not None:
            return
        if record.test_used:
            acc = record.test.test_acc
            shown = "an unknown accuracy" if acc is None else f"{100 * acc:.2f}%"
            answer = dialogs.ask(
                self,
                "Test set already used",
                f"{run.name} was already evaluated on the test set ({shown}).\n\n"
                "The seed asks for exactly one test evaluation: choosing settings by "
                "looking at test results turns the test set into a validation set, and "
                "the reported accuracy stops being an honest estimate.\n\n"
                "Evaluate on the test set again anyway?",
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.status_message.emit("Test evaluation skipped", 4000)
                return
        dataset = self.data_panel.dataset if self.data_panel.dataset_is_current() else None
        problem = ""
        if dataset is None:
            problem = "Load the dataset first (Data: Load)"
        elif dataset.X_test is None:
            problem = f"{dataset.source} has no test split (put test images in DIR/test/<class>/)"
        elif dataset.input_dim != record.model.input_dim or (
            dataset.num_classes != record.model.num_classes
        ):
            problem = (
                f"This model takes {record.model.input_dim} values and "
                f"{record.model.num_classes} classes, but the loaded dataset has "
                f"{dataset.input_dim} and {dataset.num_classes}: load the dataset it was "
                f"trained on ({record.dataset or 'unknown'})"
            )
        if problem:
            self._show_banner(html.escape(problem), error=True)
            self.status_message.emit(problem, 8000)
            return
        model, pre = record.model, record.preprocessor
        X_test, y_test = dataset.X_test, dataset.y_test
        path = record.checkpoint_path

        def factory(token):
            acc = evaluate(model, X_test, y_test, pre)
            yield TestResult(accuracy=acc, n=len(y_test))

        spec = self.data_panel.spec() or ""
        worker = self.context.workers.start(factory, name="mlp-test")
        self._eval_worker = worker
        previous = record.test

        def on_item(item: TestResult) -> None:
            runs = (previous.runs if previous is not None else 0) + 1
            record.test = TestRecord(
                used=True,
                test_acc=item.accuracy,
                n=item.n,
                dataset=spec,
                when=time.strftime("%Y-%m-%dT%H:%M:%S"),
                runs=runs,
            )
            if path is not None:
                self._mark_checkpoint_tested(path, item, spec)
            self.runs.set_result(run_id, f"{run.result}; test {_pct(item.accuracy)}".lstrip("; "))
            self.status_message.emit(f"{run.name}: test accuracy {_pct(item.accuracy)}", 8000)

        worker.item.connect(on_item)
        worker.failed.connect(
            lambda message, _tb: self._show_banner(
                f"<b>Test evaluation failed:</b> {html.escape(message)}", error=True
            )
        )
        worker.done.connect(lambda _status: self._on_eval_done(run_id))
        self._update_model_buttons()

    def _mark_checkpoint_tested(self, path: Path, item: TestResult, spec: str) -> None:
        try:
            record_test_use(path, item.accuracy, item.n, spec)
        except (NetsError, OSError) as exc:
            self.status_message.emit(f"Could not mark {path.name} as tested: {exc}", 8000)

    def _on_eval_done(self, run_id: int) -> None:
        self._eval_worker = None
        self._update_model_buttons()
        self.test_done.emit(run_id)

    # -- checkpoints -----------------------------------------------------------------
    def _ask_save_path(self, suggestion: str) -> str:
        """The save dialog (tests monkeypatch this); "" when cancelled."""
        path, _ = QFileDialog.getSaveFileName(
            self, "Save checkpoint", suggestion, CHECKPOINT_FILTER
        )
        return path

    def _ask_open_path(self) -> str:
        """The open dialog (tests monkeypatch this); "" when cancelled."""
        start = str(self.context.settings.value("mlp/checkpoint_dir", str(Path.home())))
        path, _ = QFileDialog.getOpenFileName(self, "Load checkpoint", start, CHECKPOINT_FILTER)
        return path

    def save_checkpoint(self, path: str | Path | None = None) -> Path | None:
        run = self.runs.run(self.selected_run_id())
        record: RunRecord | None = run.payload if run is not None else None
        if record is None or record.model is None or run.status in ("running", "paused"):
            self.status_message.emit("Select a trained run to save", 4000)
            return None
        if not path:
            start = Path(str(self.context.settings.value("mlp/checkpoint_dir", str(Path.home()))))
            safe = "".join(c if c.isalnum() or c in "-_." else "_" for c in run.name)
            path = self._ask_save_path(str(start / f"{safe}.npz"))
            if not path:
                return None
        target = Path(path)
        if target.suffix.lower() != ".npz":
            target = (
                target.with_suffix(target.suffix + ".npz")
                if target.suffix
                else (target.with_suffix(".npz"))
            )
        try:
            save_checkpoint(
                target,
                record.model,
                preprocessor=record.preprocessor,
                config=record.config,
                history=record.history or _history_from_metrics(run.metrics),
                class_names=record.class_names,
                image_shape=record.image_shape,
                dataset=record.dataset,
                test=record.test,
            )
        except (NetsError, OSError) as exc:
            dialogs.show_error(self, "Save checkpoint", f"Could not save {target.name}: {exc}")
            return None
        record.checkpoint_path = target
        self.context.settings.setValue("mlp/checkpoint_dir", str(target.parent))
        self.status_message.emit(f"Saved {target}", 5000)
        return target

    def load_checkpoint(self, path: str | Path | None = None) -> int:
        """Load a checkpoint as a new run (status "loaded"); returns its run id or 0."""
        if not path:
            path = self._ask_open_path()
            if not path:
                return 0
        path = Path(path)
        try:
            ckpt = load_checkpoint(path)
        except (NetsError, OSError) as exc:
            dialogs.show_error(self, "Load checkpoint", str(exc))
            self.status_message.emit(f"Could not load {path.name}", 6000)
            return 0
        self.context.settings.setValue("mlp/checkpoint_dir", str(path.parent))
        record = RunRecord(
            config=dict(ckpt.config),
            dataset=ckpt.dataset,
            model=ckpt.model,
            preprocessor=ckpt.preprocessor,
            class_names=tuple(ckpt.class_names),
            image_shape=ckpt.image_shape,
            history=dict(ckpt.history),
            test=ckpt.test,
            checkpoint_path=path,
        )
        params = ckpt.model.parameters()
        record.weights = (
            first_layer_images(_first_weights(ckpt.model), ckpt.image_shape, -1)
            if (params)
            else None
        )
        run = self.runs.add_run(
            path.stem, _settings_of(ckpt.config, ckpt.dataset), status="loaded", payload=record
        )
        _fill_metrics(run.metrics, ckpt.history)
        best = run.metrics.best_val_acc()
        result = f"val {_pct(best)}" if math.isfinite(best) else ""
        if ckpt.test.used and ckpt.test.test_acc is not None:
            result = f"{result}; test {_pct(ckpt.test.test_acc)}".lstrip("; ")
        self.runs.set_result(run.run_id, result)
        self.runs_view.select_run(run.run_id)
        self.status_message.emit(
            f"Loaded {path.name}: {ckpt.model.num_parameters():,} parameters", 6000
        )
        self._analyse_loaded(run.run_id)
        return run.run_id

    def _analyse_loaded(self, run_id: int) -> None:
        """Confusion matrix and gallery for a loaded model, if the matching data is loaded."""
        run = self.runs.run(run_id)
        record: RunRecord = run.payload
        ds = self.data_panel.dataset if self.data_panel.dataset_is_current() else None
        if ds is None or self._train_worker is not None:
            return
        if ds.input_dim != record.model.input_dim or ds.num_classes != record.model.num_classes:
            return
        model, pre = record.model, record.preprocessor

        def factory(token):
            yield analyse_validation(model, pre, ds.X_val, ds.y_val)

        worker = self.context.workers.start(factory, name="mlp-analyse")

        def on_item(item: ValidationAnalysis) -> None:
            record.analysis = item
            if run_id == self.selected_run_id():
                self._show_analysis(record)

        worker.item.connect(on_item)

    # -- exports ---------------------------------------------------------------------
    def _ask_export_path(self, title: str, suggestion: str, filters: str) -> str:
        """The export dialog (tests monkeypatch this); "" when cancelled."""
        path, _ = QFileDialog.getSaveFileName(self, title, suggestion, filters)
        return path

    def export_plots(self, path: str | Path | None = None) -> Path | None:
        if not path:
            start = Path(str(self.context.settings.value("mlp/export_dir", str(Path.home()))))
            path = self._ask_export_path("Export plots", str(start / "training.png"), PLOT_FILTER)
            if not path:
                return None
        target = Path(path)
        if target.suffix.lower() not in (".png", ".svg", ".pdf"):
            target = target.with_name(target.name + ".png")
        try:
            written = self.plots.export(target)
        except (OSError, ValueError) as exc:
            dialogs.show_error(self, "Export plots", f"Could not export {target.name}: {exc}")
            return None
        self.context.settings.setValue("mlp/export_dir", str(target.parent))
        self.status_message.emit(f"Exported the plots to {written}", 5000)
        return written

    def export_metrics(self, path: str | Path | None = None) -> Path | None:
        if not path:
            start = Path(str(self.context.settings.value("mlp/export_dir", str(Path.home()))))
            path = self._ask_export_path("Export metrics", str(start / "metrics.csv"), CSV_FILTER)
            if not path:
                return None
        target = Path(path)
        if target.suffix.lower() != ".csv":
            target = target.with_name(target.name + ".csv")
        try:
            written = export_metrics_csv(self.runs.runs(), target)
        except OSError as exc:
            dialogs.show_error(self, "Export metrics", f"Could not export {target.name}: {exc}")
            return None
        self.context.settings.setValue("mlp/export_dir", str(target.parent))
        self.status_message.emit(f"Exported the metrics to {written}", 5000)
        return written

    # -- gradient checks -------------------------------------------------------------
    def _run_gradchecks(self) -> None:
        self.results_tabs.setCurrentWidget(self.gradcheck)
        self.gradcheck.run()

    # -- lifecycle -------------------------------------------------------------------
    def shutdown(self) -> None:
        self._shut_down = True
        self._pending_start = None
        if self._stop_event is not None:
            self._stop_event.set()
        if self._train_worker is not None:
            self._train_worker.cancel()
        if self._eval_worker is not None:
            self._eval_worker.cancel()
        self.data_panel.shutdown()
        self.gradcheck.shutdown()
        for plot in (self.plots.loss, self.plots.accuracy):
            plot.timer.stop()

    def prepare_screenshot(self) -> None:
        self.plots.refresh()
        if len(self.runs) and not self.selected_run_id():
            self.runs_view.select_run(self.runs.runs()[-1].run_id)


def _first_weights(model) -> np.ndarray:
    params = model.parameters()
    return params["W1"] if "W1" in params else params.get("W", np.zeros((0, 0)))


def _pct(value: float) -> str:
    return f"{100 * value:.1f}%" if value is not None and math.isfinite(value) else "-"


def _history_from_metrics(metrics) -> dict[str, np.ndarray]:
    return {
        "step_loss": metrics.loss.view().copy(),
        "epoch_train_acc": metrics.train_acc.view().copy(),
        "epoch_val_acc": metrics.val_acc.view().copy(),
    }


def _fill_metrics(metrics, history) -> None:
    """Plot a checkpoint's history: per-step losses and per-epoch accuracies."""
    history = dict(history or {})
    losses = np.asarray(history.get("step_loss", ()), dtype=np.float64).ravel()
    for i, loss in enumerate(losses.tolist(), start=1):
        metrics.add_step(i, loss)
    train = np.asarray(history.get("epoch_train_acc", ()), dtype=np.float64).ravel()
    val = np.asarray(history.get("epoch_val_acc", ()), dtype=np.float64).ravel()
    epochs = max(len(train), len(val))
    steps_per_epoch = len(losses) / epochs if epochs else 0
    for e in range(epochs):
        tr = float(train[e]) if e < len(train) else math.nan
        va = float(val[e]) if e < len(val) else math.nan
        metrics.add_epoch(e + 1, tr, va, iteration=round((e + 1) * steps_per_epoch))
