"""The "Two-layer net" tab: train the numpy TwoLayerNet on CIFAR-10, Fashion-MNIST or an
image folder with live plots, compare runs, then test, save, load and inspect models.

A configuration of ``gui.training.TrainingTab``, which owns the run lifecycle, the
plots, the runs list, test once, checkpoints, exports and quitting. This module adds the
data panel and the hyperparameter form (left), the result views (first-layer weights,
confusion matrix, misclassified images, gradient checks) and what a numpy run is: the
dataset is loaded by the data panel before a run starts (``DEFERRED``), the training
job (``gui.mlp_tab.jobs``) yields weight snapshots after each epoch and the validation
analysis at the end. A run's payload is a ``gui.mlp_tab.run_record.RunRecord``.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QGroupBox, QPushButton, QScrollArea, QVBoxLayout, QWidget

from gui.homework.implementation import ImplementationPicker
from gui.mlp_tab import jobs
from gui.mlp_tab.analysis import (
    TestResult,
    ValidationAnalysis,
    WeightsSnapshot,
    analyse_validation,
)
from gui.mlp_tab.data_panel import DatasetPanel
from gui.mlp_tab.form import HyperparameterForm, format_value
from gui.mlp_tab.gradcheck_panel import GradcheckPanel
from gui.mlp_tab.run_record import RunRecord, fill_metrics, history_from_metrics, settings_of
from gui.mlp_tab.views import MlpViews
from gui.tab_base import AppContext
from gui.throttle import Throttle
from gui.training import insight, search_page
from gui.training.run_files import LoadedRun
from gui.training.runs import Run, format_percent
from gui.training.tab import DEFERRED, RunPlan, TrainingTab
from nets.errors import NetsError
from nets.training import Ended, Finished, Snapshot

if TYPE_CHECKING:
    from gui.mlp_tab.network_graph.page import NetworkGraphPage
    from gui.training.search import SearchBase, SearchPanel


class MlpTab(TrainingTab):
    tab_id = "mlp"
    title = "Two-layer net"
    checkpoint_suffix = ".npz"
    checkpoint_filter = "numpy network checkpoint (*.npz)"
    export_stem = "mlp_training"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("mlpTab")
        self._pending: tuple[Any, int | None] | None = None

        self.data_panel = DatasetPanel(context)
        self.form = HyperparameterForm()
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_panel)
        form_box = QGroupBox("Hyperparameters")
        form_layout = QVBoxLayout(form_box)
        form_layout.addWidget(self.form)
        self.implementation = ImplementationPicker(context.settings)
        form_layout.addWidget(self.implementation)
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

        self.continue_button = QPushButton("Train f&urther")
        self.continue_button.setObjectName("continueButton")
        self.continue_button.setToolTip(
            "Start a new run from the selected model's weights with the form's settings"
        )
        self.run_buttons.insert(3, self.continue_button)
        self.result_views = MlpViews(self)
        # Weight images arrive once an epoch, thousands a second on tiny data.
        self._weights_throttle = Throttle(self._show_selected_weights, 250, self)
        self.weights_view = self.result_views.weights_view
        self.confusion_view = self.result_views.confusion_view
        self.gallery = self.result_views.gallery
        self.gradcheck = GradcheckPanel(context)
        self.result_tabs.setObjectName("mlpResults")
        self.add_view(self.result_views.weights_page, "First-layer weights")
        self.add_view(self.confusion_view, "Confusion matrix")
        self.add_view(self.result_views.gallery_page, "Misclassified")
        self.add_view(self.gradcheck, "Gradient checks")
        self.result_views.gallery_wanted.connect(
            lambda: self.show_view(self.result_views.gallery_page)
        )

        for action, key in ((self.load_action, QKeySequence.StandardKey.Open),
                            (self.save_action, QKeySequence.StandardKey.Save)):  # fmt: skip
            action.setShortcut(key)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.gradcheck_action = QAction("Run &Gradient Checks", self)
        self.gradcheck_action.triggered.connect(self._run_gradchecks)

        self.form.validity_changed.connect(lambda *_: self.update_start())
        self.form.config_changed.connect(self._update_estimate_shape)
        self.data_panel.info_changed.connect(self._on_data_info)
        self.data_panel.spec_changed.connect(lambda _spec: self.update_start())
        self.data_panel.busy_changed.connect(lambda _busy: self.update_start())
        self.data_panel.dataset_ready.connect(self._on_dataset_ready)
        self.data_panel.load_failed.connect(self._on_load_failed)
        self.data_panel.progress.connect(self._on_data_progress)
        self.data_panel.message.connect(lambda text: self.status_message.emit(text, 6000))
        self.continue_button.clicked.connect(self.train_further)
        self.finish_layout(scroll)
        plan = self.snapshot_control
        plan.plan_changed.connect(lambda: self.form.set_snapshot_plan(plan.plan()))
        self.form.set_snapshot_plan(plan.plan())
        # Built when first shown (it imports the Graph tab's canvas and engine); its
        # step actions join the View menu then.
        self.network_graph_slot = self.add_lazy_page(self._make_network_graph, "Network graph")
        self.network_graph_slot.built.connect(self.actions_changed)
        self.insight = insight.install(self)
        self.insight.apply_requested.connect(self._apply_suggestion)
        self.insight.lr_chosen.connect(lambda lr: self._apply_suggestion({"learning_rate": lr}))
        self.insight.set_lr_finder(self._lr_find_job)
        self.search_slot = search_page.install(self, "mlp", self._search_base)
        # The first probe after the constructor returns: keeps building the tab light.
        QTimer.singleShot(0, self.data_panel.start_probe)

    # -- menus and files -------------------------------------------------------------
    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return self.training_file_actions()
        if menu == "View":
            # The Network graph page steps with the Graph tab's keys, listed as there.
            page = self.network_graph_slot.created
            steps = [None, *page.step_actions] if page is not None else []
            return [*self.training_view_actions(), *steps]
        if menu == "Edit":
            return [self.gradcheck_action]
        return []

    def accepts_path(self, path: Path) -> bool:
        if path.suffix.lower() == ".npz" or self.accepts_snapshot(path):
            return True
        return path.is_dir() and (path / "train").is_dir()

    def open_paths(self, paths: list[Path]) -> None:
        for path in paths:
            if self.accepts_snapshot(path):
                self.open_snapshot(path)
            elif path.suffix.lower() == ".npz":
                self.load_checkpoint(path)
            elif path.is_dir():
                self.data_panel.set_source("folder", path)

    def _run_gradchecks(self) -> None:
        self.show_view(self.gradcheck)
        self.gradcheck.run()

    # -- state -----------------------------------------------------------------------
    def selected_record(self) -> RunRecord | None:
        run = self.runs.run(self.selected_run_id())
        return run.payload if run is not None else None

    def start_problems(self) -> list[str]:
        if not self.form.is_valid():
            return [next(iter(self.form.errors().values()))]
        if not self.data_panel.is_ready() and not self.data_panel.is_busy():
            return [self.data_panel.not_ready_reason()]
        if self.data_panel.is_busy() and not self.is_training():
            return ["Wait for the dataset to finish loading"]
        return []

    def model_of(self, run: Run | None) -> Any:
        return run.payload.model if run is not None and run.payload is not None else None

    def update_run_buttons(self) -> None:
        super().update_run_buttons()
        self.continue_button.setEnabled(
            self._idle_model(self.selected_run())
            and not self.is_training()
            and self.form.is_valid()
        )

    def show_run(self, run: Run | None) -> None:
        record = run.payload if run is not None else None
        self.result_views.show(record)

    def test_summary(self, run: Run | None) -> str:
        record = run.payload if run is not None else None
        if record is None:
            return ""
        if not record.test_used:
            return "Not evaluated on the test set yet."
        t = record.test
        when = f" on {t.when.replace('T', ' ')}" if t.when else ""
        runs = f", {t.count} evaluations" if t.count > 1 else ""
        acc = "?" if t.test_acc is None else f"{100 * t.test_acc:.2f}%"
        n = f" of {t.n:,} images" if t.n else ""
        return f"<b>Test accuracy: {acc}</b>{n} (evaluated{when}{runs})"

    # -- data ------------------------------------------------------------------------
    def _current_dataset(self):
        return self.data_panel.dataset if self.data_panel.dataset_is_current() else None

    def _on_data_info(self) -> None:
        self._update_estimate_shape()
        self.update_start()

    def _update_estimate_shape(self) -> None:
        ds = self._current_dataset()
        if ds is not None:
            self.form.set_data_shape(len(ds.y_train), ds.input_dim, ds.num_classes, len(ds.y_val))
            return
        info = self.data_panel.info
        if info is None or not info.found or not info.num_train:
            self.form.set_data_shape(None, None)
            return
        # The split ``load_dataset`` will make, so the estimate stays put once loaded.
        dims = {"cifar10": 32 * 32 * 3, "fashion-mnist": 28 * 28, "folder": 32 * 32 * 3}
        n = info.num_train
        n_val = {"cifar10": 5000, "fashion-mnist": 10000}.get(info.kind, max(1, n // 10))
        classes = len(info.class_names) or 10
        self.form.set_data_shape(max(1, n - n_val), dims.get(info.kind), classes, n_val)

    def _on_data_progress(self, done: int, total: int, message: str) -> None:
        if self._pending is not None:
            self.controls.show_activity(message, done, total)

    def _on_dataset_ready(self, _dataset) -> None:
        self._update_estimate_shape()
        if self._pending is not None:
            (config, source_id), self._pending = self._pending, None
            try:
                self.launch_run(self._plan(config, self.runs.run(source_id or 0)))
            except NetsError as exc:
                self.abandon_start(str(exc))
        self.update_start()

    def _on_load_failed(self, message: str) -> None:
        if self._pending is not None:
            self._pending = None
            cancelled = message == "cancelled"
            self.abandon_start("loading cancelled" if cancelled else f"Could not load: {message}")
        self.update_start()

    # -- training --------------------------------------------------------------------
    def train_further(self) -> None:
        """Start a new run from the selected run's model."""
        run = self.selected_run()
        if self.model_of(run) is not None and not self.is_training():
            self.request_run(run.run_id)

    def _apply_suggestion(self, suggest: dict) -> None:
        """A coach's (or the range test's) suggestion into the form, for a new run."""
        from nets.mlp.config import FIELDS

        for name, value in suggest.items():
            if name in FIELDS and name in self.form.edits:
                self.form.set_field(name, format_value(value))
        self.say("Suggestion applied to the form: press Start for a new run.")

    @property
    def search(self) -> SearchPanel:
        """The Search page (built now if it was never shown)."""
        return self.search_slot.widget()

    def _search_base(self) -> SearchBase | str:
        """What the Search page's trials start from: the data and the form (or why not)."""
        from gui.training.search import SearchBase

        spec = self.data_panel.spec()
        if not spec:
            return self.data_panel.not_ready_reason() or "Choose a dataset first."
        if not self.form.is_valid():
            return next(iter(self.form.errors().values()))
        return SearchBase(spec, self.form.config())

    def _lr_find_job(self):
        """The range test for the form's settings on the loaded dataset (or why not)."""
        from nets.lr_find import mlp_range_test

        if not self.form.is_valid():
            return "Fix the form first."
        dataset = self._current_dataset()
        if dataset is None:
            return "Load the dataset first (Start loads it, or the data panel's Load)."
        config = self.form.config()

        def factory(token):
            yield mlp_range_test(config, dataset, cancel=token)

        return factory

    def plan_run(self, source: Run | None) -> RunPlan | object:
        config = self.form.config().replace(internals_every=self.insight.internals_every())
        if self._current_dataset() is None:
            if not self.data_panel.load():
                raise NetsError(self.data_panel.not_ready_reason() or "Cannot load the dataset")
            self._pending = (config, source.run_id if source is not None else None)
            self.controls.show_activity("loading the dataset")
            self.say("Loading the dataset…")
            return DEFERRED
        return self._plan(config, source)

    def cancel_preparation(self) -> None:
        self.data_panel.cancel()  # load_failed("cancelled") follows

    def _plan(self, config, source: Run | None) -> RunPlan:
        from nets.mlp.classifiers import build_classifier

        dataset = self.data_panel.dataset
        spec = self.data_panel.spec() or ""
        model = preprocessor = None
        name = self.runs.next_name()
        homework = self.implementation.homework()
        fork = self.pending_fork() if source is None else None
        if fork is not None:
            from nets.mlp.fork import model_from_snapshot, preprocessor_from_snapshot

            if homework is not None:
                raise NetsError("A fork trains the app's own network: pick it to fork")
            model = model_from_snapshot(fork.snapshot)
            preprocessor = preprocessor_from_snapshot(fork.snapshot)
            name = f"{fork.parent_name} fork@{fork.snapshot.epoch}"
        if source is not None and self.model_of(source) is not None:
            old = source.payload.model
            model = build_classifier(type(old).__name__, old.hyperparameters(), old.dtype)
            model.load_state(old.state())
            preprocessor = source.payload.preprocessor
            if model.input_dim != dataset.input_dim or model.num_classes != dataset.num_classes:
                raise NetsError(
                    f"The model takes {model.input_dim} inputs and {model.num_classes} "
                    f"classes, but {spec} has {dataset.input_dim} values per image and "
                    f"{dataset.num_classes} classes: load the dataset it was trained on"
                )
            name = f"{source.name} +"
        record = RunRecord(
            config=config,
            dataset=spec,
            class_names=tuple(dataset.class_names),
            image_shape=tuple(dataset.image_shape),
            model=model,
            preprocessor=preprocessor,
        )
        settings = settings_of(config, spec)
        if fork is not None:
            settings["forked from"] = f"{fork.parent_name}, epoch {fork.snapshot.epoch}"
        if homework is not None:
            settings["implementation"] = str(homework.files["two_layer_net.py"].parent)
        if source is not None:
            settings["from"] = source.name
        factory = jobs.training_job(
            config,
            dataset,
            model=model,
            preprocessor=preprocessor,
            homework=homework,
            from_model=source is not None,
            snapshots=self.snapshot_control.plan(),
            fork=fork,
            image_shape=record.image_shape,
        )
        return RunPlan(name, settings, record, factory, fork=fork)

    def fill_settings(self, config: dict) -> None:
        from nets.mlp.config import TrainConfig

        self.form.set_config(TrainConfig.from_dict(config))

    def show_snapshot(self, run: Run | None, snapshot: Snapshot | None) -> None:
        """The weights, confusion matrix and gallery of the model at ``snapshot``."""
        record = run.payload if run is not None else None
        if record is None or snapshot is None or snapshot.trainer != "mlp":
            self.result_views.show(record)
            return
        model, pre, at = self.result_views.show_snapshot(record, snapshot)
        self._analyse(run.run_id, model, pre, at, snapshot.step)

    def on_train_item(self, run: Run, item: Any) -> None:
        record: RunRecord = run.payload
        if isinstance(item, jobs.ModelBuilt):
            record.model = item.model
        elif isinstance(item, WeightsSnapshot):
            record.weights = item
            if run.run_id == self.selected_run_id():
                self._weights_throttle.request()
        elif isinstance(item, ValidationAnalysis):
            record.analysis = item
            if run.run_id == self.selected_run_id():
                self.result_views.show_analysis(record)

    def _show_selected_weights(self) -> None:
        run = self.runs.run(self.selected_run_id())
        if run is not None:
            self.result_views.show_weights(run.payload)

    def on_run_ended(self, run: Run, event: Ended) -> None:
        import numpy as np

        self._weights_throttle.flush()
        record: RunRecord = run.payload
        result = event.result
        record.model = result.model
        record.preprocessor = result.preprocessor
        record.history = result.history
        started = record.started
        if isinstance(event, Finished) and event.epochs_done and started is not None:
            self.form.calibrate(
                event.elapsed / event.epochs_done,
                record.config,
                started.num_train,
                int(np.prod(started.input_shape)),
                started.num_classes,
            )

    # -- test once -------------------------------------------------------------------
    def test_use(self, run: Run) -> tuple[int, float | None]:
        test = run.payload.test
        if test is None or not test.used:
            return (0, None)
        return (max(1, test.count), test.test_acc)

    def test_problem(self, run: Run | None) -> str:
        model = self.model_of(run)
        dataset = self._current_dataset()
        info = self.data_panel.info
        no_test = (
            f"{self.data_panel.spec()} has no test split (put test images in DIR/test/<class>/)"
        )
        if dataset is None:
            if info is not None and info.found and not info.num_test:
                return no_test
            return "Load the dataset first (Data: Load)"
        if dataset.X_test is None:
            return no_test
        if model is not None and (
            dataset.input_dim != model.input_dim or dataset.num_classes != model.num_classes
        ):
            return (
                f"This model takes {model.input_dim} values and {model.num_classes} classes, "
                f"but the loaded dataset has {dataset.input_dim} and {dataset.num_classes}: "
                f"load the dataset it was trained on ({run.payload.dataset or 'unknown'})"
            )
        return ""

    def test_job(self, run: Run):
        record: RunRecord = run.payload
        dataset = self._current_dataset()
        return jobs.test_job(record.model, record.preprocessor, dataset.X_test, dataset.y_test)

    def on_test_item(self, run: Run, item: Any) -> None:
        from nets.mlp.checkpoint import record_test_use
        from nets.testrecord import TestRecord

        if not isinstance(item, TestResult):
            return
        record: RunRecord = run.payload
        spec = self.data_panel.spec() or ""
        previous = record.test
        record.test = (previous or TestRecord()).tested(item.accuracy, item.n, spec)
        if record.checkpoint is not None:
            try:
                record_test_use(record.checkpoint, item.accuracy, item.n, spec)
            except (NetsError, OSError) as exc:
                self.status_message.emit(f"Could not mark the checkpoint as tested: {exc}", 8000)
        result = f"{run.result}; test {format_percent(item.accuracy)}".lstrip("; ")
        self.runs.set_result(run.run_id, result)
        self.say(f"{run.name}: test accuracy {format_percent(item.accuracy)} on {item.n:,} images.")
        self.update_run_buttons()

    # -- checkpoints -----------------------------------------------------------------
    def write_checkpoint(self, run: Run, path: Path) -> None:
        from nets.mlp.checkpoint import save_checkpoint

        record: RunRecord = run.payload
        save_checkpoint(
            path,
            record.model,
            preprocessor=record.preprocessor,
            config=record.config,
            history=record.history or history_from_metrics(run.metrics),
            class_names=record.class_names,
            image_shape=record.image_shape,
            dataset=record.dataset,
            test=record.test,
        )

    def load_job(self, path: Path):
        return jobs.load_job(path)

    def snapshot_run(self, snapshot: Snapshot, name: str) -> LoadedRun:
        return jobs.snapshot_run(snapshot, name)

    def on_run_loaded(self, run: Run) -> None:
        record: RunRecord = run.payload
        fill_metrics(run.metrics, record.history)
        best = run.metrics.best_val_acc()
        result = f"val {format_percent(best)}" if math.isfinite(best) else ""
        if record.test_used and record.test.test_acc is not None:
            result = f"{result}; test {format_percent(record.test.test_acc)}".lstrip("; ")
        self.runs.set_result(run.run_id, result)
        self.status_message.emit(
            f"Loaded {run.name}: {record.model.num_parameters():,} parameters", 6000
        )
        self._analyse_loaded(run.run_id)

    def _analyse_loaded(self, run_id: int) -> None:
        """Confusion matrix and gallery for a loaded model, if the matching data is loaded."""
        record: RunRecord = self.runs.run(run_id).payload
        if not self.is_training():
            self._analyse(run_id, record.model, record.preprocessor, record)

    def _analyse(self, run_id: int, model, pre, record: RunRecord, step: int = -1) -> None:
        """The validation analysis of ``model`` into ``record`` (shown if the run and the
        snapshot ``step`` are still selected then), when the matching data is loaded."""
        ds = self._current_dataset()
        if ds is None or ds.input_dim != model.input_dim or ds.num_classes != model.num_classes:
            return

        def factory(token):
            yield analyse_validation(model, pre, ds.X_val, ds.y_val)

        worker = self.context.workers.start(factory, name="mlp-analyse")

        def on_item(item: ValidationAnalysis) -> None:
            record.analysis = item
            at = self.selected_snapshot()
            if run_id == self.selected_run_id() and (at.step if at else -1) == step:
                self.result_views.show_analysis(record)

        worker.item.connect(on_item)

    # -- lifecycle -------------------------------------------------------------------
    def shutdown(self) -> None:
        self._pending = None
        super().shutdown()
        self.data_panel.shutdown()
        self.gradcheck.shutdown()

    def _make_network_graph(self) -> NetworkGraphPage:
        from gui.mlp_tab.network_graph.page import NetworkGraphPage

        return NetworkGraphPage(self)

    @property
    def network_graph(self) -> NetworkGraphPage:
        """The Network graph page (built now if it was never shown)."""
        return self.network_graph_slot.widget()

    def test_state(self) -> dict:
        state = super().test_state()
        if self.network_graph_slot.created is not None:  # not built before it is shown
            state["network_graph"] = self.network_graph_slot.created.test_state()
        return state

    def prepare_screenshot(self) -> None:
        self.plots.refresh()
        if len(self.runs) and not self.selected_run_id():
            self.runs_view.select_run(self.runs.runs()[-1].run_id)
