"""The CNN tab: design a PyTorch CNN, train it on Fashion-MNIST (or an image folder) while
watching loss and accuracy, then test it once.

The widgets here only show state and forward requests. The architecture lives in an
``ArchitectureModel``; the runs (metrics and trained models) in a ``RunsModel``; the
work (loading, training, testing, checkpoints) runs as generators in ``gui.worker``
threads, one at a time. torch is first imported by those generators, never by the tab's
constructor.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QAction, QGuiApplication, QKeySequence
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
from gui.cnn_tab import jobs
from gui.cnn_tab.arch_editor import ERROR_STYLE, ArchitectureEditor
from gui.cnn_tab.arch_model import ArchitectureModel
from gui.cnn_tab.data_panel import DataChoice, DataPanel
from gui.cnn_tab.inspect_view import InspectView
from gui.cnn_tab.results_panel import ResultsPanel
from gui.cnn_tab.settings_panel import SettingsPanel
from gui.tab_base import AppContext, AppTab
from gui.training.controls import TrainingControls, format_duration
from gui.training.export import CSV_FILTER, PLOT_FILTER, export_metrics_csv
from gui.training.plots import TrainingPlots
from gui.training.runs import RunsModel, RunsView, format_percent
from nets.cnn.arch import ARCH_FORMAT, load_architecture, save_architecture
from nets.cnn.config import TrainConfig
from nets.cnn.presets import PRESETS, with_num_classes
from nets.errors import NetsError
from nets.memory import available_memory, format_bytes

ARCH_FILTER = "CNN architecture (*.json)"
CHECKPOINT_FILTER = "PyTorch checkpoint (*.pt)"
SOURCE_FILTER = "Python source (*.py)"


@dataclass
class CnnRun:
    """What the tab keeps per run (the ``payload`` of a ``gui.training.runs.Run``)."""

    arch: tuple
    config: TrainConfig | None
    choice: DataChoice | None
    trained: Any = None  # nets.cnn.trained.TrainedCnn once training has produced weights
    test: Any = None  # jobs.TestResult
    iterations_per_epoch: int = 0
    total_iterations: int = 0
    last_step: Any = None
    last_eval: Any = None
    checkpoint: str | None = None  # the .pt file this model was loaded from or saved to
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class JobFailed:
    """An expected error (bad data, bad settings, a bad file): shown as a message."""

    message: str


def _friendly(factory):
    """Turn the app's own errors inside a job into a ``JobFailed`` item (no traceback
    dialog); unexpected exceptions still reach ``worker.failed``."""

    def wrapped(token):
        from nets.errors import Cancelled

        try:
            yield from factory(token)
        except Cancelled:
            return
        except (NetsError, OSError) as exc:
            yield JobFailed(str(exc).strip() or type(exc).__name__)

    return wrapped


class CnnTab(AppTab):
    tab_id = "cnn"
    title = "CNN"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("cnnTab")
        self._worker = None
        self._job = ""  # "train", "test", "load", "save" while a worker runs
        self._job_run_id = 0
        self._stop_flag = threading.Event()
        self._dataset_key: tuple | None = None
        self._dataset = None  # nets.data.ImageDataset of the last load
        self._pending_step = None
        self._last_dir = Path.home()

        default = next(iter(PRESETS.values()))
        self.arch_model = ArchitectureModel(default.layers, parent=self)
        self.arch_model.name = default.key
        self.runs = RunsModel(self)

        # -- left: architecture, data and settings ------------------------------------
        self.editor = ArchitectureEditor(
            self.arch_model,
            [p.title for p in PRESETS.values()],
            preset_layers=[p.layers for p in PRESETS.values()],
        )
        self.data_panel = DataPanel(context)
        self.settings_panel = SettingsPanel()
        self.settings_panel.set_config(default.config)

        arch_page = QWidget()
        arch_layout = QVBoxLayout(arch_page)
        arch_layout.setContentsMargins(6, 6, 6, 6)
        arch_layout.addWidget(self.editor, 1)
        files_row = QHBoxLayout()
        self.load_arch_button = QPushButton("Open…")
        self.load_arch_button.setToolTip("Load an architecture from a JSON file")
        self.save_arch_button = QPushButton("Save…")
        self.save_arch_button.setToolTip("Save the architecture as JSON")
        self.export_source_button = QPushButton("Export PyTorch…")
        self.export_source_button.setToolTip("Save the architecture as an nn.Module class")
        self.copy_source_button = QPushButton("Copy code")
        self.copy_source_button.setToolTip("Copy the nn.Module source code to the clipboard")
        for b in (
            self.load_arch_button,
            self.save_arch_button,
            self.export_source_button,
            self.copy_source_button,
        ):
            files_row.addWidget(b)
        arch_layout.addLayout(files_row)

        settings_page = QWidget()
        settings_layout = QVBoxLayout(settings_page)
        settings_layout.setContentsMargins(6, 6, 6, 6)
        data_box = QGroupBox("Data")
        QVBoxLayout(data_box).addWidget(self.data_panel)
        train_box = QGroupBox("Training")
        QVBoxLayout(train_box).addWidget(self.settings_panel)
        settings_layout.addWidget(data_box)
        settings_layout.addWidget(train_box)
        self.memory_label = QLabel()
        self.memory_label.setObjectName("cnnMemory")
        self.memory_label.setWordWrap(True)
        settings_layout.addWidget(self.memory_label)
        settings_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(settings_page)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)

        self.setup_tabs = QTabWidget()
        self.setup_tabs.setObjectName("cnnSetupTabs")
        self.setup_tabs.addTab(arch_page, "Architecture")
        self.setup_tabs.addTab(scroll, "Data && training")
        self.problems_label = QLabel()
        self.problems_label.setObjectName("cnnProblems")
        self.problems_label.setWordWrap(True)
        self.problems_label.setStyleSheet(ERROR_STYLE)
        self.problems_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.setup_tabs, 1)
        left_layout.addWidget(self.problems_label)

        # -- right: controls, plots, runs and results --------------------------------
        self.controls = TrainingControls()
        self.status_label = QLabel("Ready.")
        self.status_label.setObjectName("cnnStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.plots = TrainingPlots(self.runs)
        self.plots.accuracy.set_x_axis("iteration")
        # A loss of 0.8 reads better as 0.8 than as "800 (x0.001)".
        self.plots.loss.plot_item.getAxis("left").enableAutoSIPrefix(False)
        self.runs_view = RunsView(self.runs)
        self.runs_view.can_delete = self._can_delete_run
        self.runs_view.delete_refused.connect(lambda text: self.status_message.emit(text, 5000))

        self.test_button = QPushButton("&Test once")
        self.test_button.setObjectName("cnnTestButton")
        self.test_button.setToolTip(
            "Evaluate the selected run's model on the test set; do it once, at the end (Ctrl+T)"
        )
        self.save_ckpt_button = QPushButton("Save model…")
        self.save_ckpt_button.setToolTip("Save the selected run's model as a .pt checkpoint")
        self.load_ckpt_button = QPushButton("Load model…")
        self.load_ckpt_button.setToolTip("Load a .pt checkpoint as a new run")
        self.export_plots_button = QPushButton("Export plots…")
        self.export_plots_button.setToolTip("Save both plots as PNG, SVG or PDF")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.setToolTip("Save every run's loss and accuracy as CSV")
        run_buttons = QVBoxLayout()
        for b in (
            self.test_button,
            self.save_ckpt_button,
            self.load_ckpt_button,
            self.export_plots_button,
            self.export_csv_button,
        ):
            run_buttons.addWidget(b)
        run_buttons.addStretch(1)
        runs_box = QWidget()
        runs_layout = QHBoxLayout(runs_box)
        runs_layout.setContentsMargins(0, 0, 0, 0)
        runs_layout.addWidget(self.runs_view, 1)
        runs_layout.addLayout(run_buttons)

        self.results = ResultsPanel()
        bottom = QSplitter(Qt.Orientation.Horizontal)
        bottom.addWidget(runs_box)
        bottom.addWidget(self.results)
        bottom.setStretchFactor(0, 1)
        bottom.setStretchFactor(1, 1)
        bottom.setChildrenCollapsible(False)

        right_split = QSplitter(Qt.Orientation.Vertical)
        right_split.addWidget(self.plots)
        right_split.addWidget(bottom)
        right_split.setStretchFactor(0, 3)
        right_split.setStretchFactor(1, 2)
        right_split.setChildrenCollapsible(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right_layout.addWidget(self.controls)
        right_layout.addWidget(self.status_label)
        right_layout.addWidget(right_split, 1)

        main = QSplitter(Qt.Orientation.Horizontal)
        main.addWidget(left)
        main.addWidget(right)
        main.setStretchFactor(0, 0)
        main.setStretchFactor(1, 1)
        main.setSizes([470, 800])
        main.setChildrenCollapsible(False)
        self.main_splitter = main
        # "Inspect": a trained network opened up (issue 16; gui/cnn_tab/inspect_view.py).
        self.inspect = InspectView(context, self.runs, self._cached_dataset, self._busy)
        self.inspect.status_message.connect(self.status_message)
        self.views = QTabWidget()
        self.views.setObjectName("cnnViews")
        self.views.addTab(main, "Design && train")
        self.views.addTab(self.inspect, "Inspect")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.views)

        # Progress and the status line follow the newest step on a timer, not per item.
        self._status_timer = QTimer(self)
        self._status_timer.setInterval(100)
        self._status_timer.timeout.connect(self._show_pending_step)

        self._build_actions()
        self._connect()
        self.data_panel.probe_now()
        self._revalidate()

    # -- wiring ----------------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut: str | QKeySequence | None = None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(a)
            a.triggered.connect(slot)
            return a

        self.open_arch_action = action("Open Architecture…", self.open_architecture, "Ctrl+O")
        self.save_arch_action = action("Save Architecture As…", self.save_architecture, "Ctrl+S")
        self.export_source_action = action("Export as PyTorch Source…", self.export_source)
        self.copy_source_action = action("Copy PyTorch Source", self.copy_source)
        self.load_ckpt_action = action("Load Model Checkpoint…", self.load_checkpoint)
        self.save_ckpt_action = action("Save Model Checkpoint…", self.save_checkpoint)
        self.export_plots_action = action("Export Plots…", self.export_plots)
        self.export_csv_action = action("Export Metrics CSV…", self.export_csv)
        self.undo_action = self.arch_model.undo_stack.createUndoAction(self, "&Undo layer edit")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.arch_model.undo_stack.createRedoAction(self, "&Redo layer edit")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        for a in (self.undo_action, self.redo_action):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(a)
        self.test_action = action("Test Once on the Test Set", self.test_once, "Ctrl+T")
        self.log_scale_action = QAction("Log-Scale Loss", self, checkable=True)
        self.log_scale_action.toggled.connect(self.plots.loss.set_log_scale)
        self.plots.loss.log_check.toggled.connect(self.log_scale_action.setChecked)

    def _connect(self) -> None:
        self.arch_model.changed.connect(self._revalidate)
        self.data_panel.changed.connect(self._on_data_changed)
        self.settings_panel.changed.connect(self._revalidate)
        self.editor.preset_chosen.connect(self.apply_preset)
        self.data_panel.download_requested.connect(self.download_data)
        self.controls.start_requested.connect(self.start_training)
        self.controls.pause_requested.connect(self._pause)
        self.controls.resume_requested.connect(self._resume)
        self.controls.stop_requested.connect(self.stop_training)
        self.load_arch_button.clicked.connect(self.open_architecture)
        self.save_arch_button.clicked.connect(self.save_architecture)
        self.export_source_button.clicked.connect(self.export_source)
        self.copy_source_button.clicked.connect(self.copy_source)
        self.test_button.clicked.connect(self.test_once)
        self.save_ckpt_button.clicked.connect(self.save_checkpoint)
        self.load_ckpt_button.clicked.connect(self.load_checkpoint)
        self.export_plots_button.clicked.connect(self.export_plots)
        self.export_csv_button.clicked.connect(self.export_csv)
        self.runs_view.selected_run_changed.connect(self._on_run_selected)
        self.runs.run_removed.connect(
            lambda _id: self._on_run_selected(self.runs_view.selected_run_id())
        )

    # -- AppTab ----------------------------------------------------------------------
    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.open_arch_action,
                self.save_arch_action,
                self.export_source_action,
                None,
                self.load_ckpt_action,
                self.save_ckpt_action,
                self.test_action,
                None,
                self.export_plots_action,
                self.export_csv_action,
            ]
        if menu == "Edit":
            return [self.undo_action, self.redo_action, None, self.copy_source_action]
        if menu == "View":
            return [self.log_scale_action]
        return []

    def accepts_path(self, path: Path) -> bool:
        if path.is_dir():
            return (path / "train").is_dir()  # an image-folder dataset
        suffix = path.suffix.lower()
        if suffix == ".pt" and path.is_file():
            return True
        if suffix == ".json" and path.is_file():
            try:
                with open(path, "rb") as f:
                    head = f.read(4096)
            except OSError:
                return False
            return ARCH_FORMAT.encode() in head
        return False

    def open_paths(self, paths: list[Path]) -> None:
        path = paths[0]
        if path.is_dir():
            self.data_panel.set_spec(f"folder:{path}")
            self.setup_tabs.setCurrentIndex(1)
            self.status_message.emit(f"Data: image folder {path}", 5000)
        elif path.suffix.lower() == ".pt":
            self.load_checkpoint(path)
        else:
            self.open_architecture(path)

    def shutdown(self) -> None:
        self._stop_flag.set()
        self._status_timer.stop()
        for plot in (self.plots.loss, self.plots.accuracy):
            plot.timer.stop()
        if self._worker is not None:
            self._worker.cancel()

    def prepare_screenshot(self) -> None:
        self.setup_tabs.setCurrentIndex(0)
        self.editor.select_row(0)

    # -- validation ------------------------------------------------------------------
    def _on_data_changed(self) -> None:
        self.arch_model.set_input(self.data_panel.input_shape(), self.data_panel.num_classes())
        self._revalidate()

    def problems(self) -> list[str]:
        """Everything that keeps Start disabled, in the order a user would fix it."""
        problems = []
        check = self.arch_model.check
        if not check.ok:
            problems.append(f"Architecture: {check.error}")
        problems += self.data_panel.errors()
        problems += self.settings_panel.errors()
        if not problems:
            error = self._memory_problem()
            if error:
                problems.append(error)
        return problems

    def _memory_problem(self) -> str:
        from nets.cnn.train import check_memory, estimate_memory

        choice = self.data_panel.choice()
        config = self.settings_panel.config()
        total = self.data_panel._total_train()
        num_train = choice.num_train or max(0, (total or 0) - choice.num_val)
        try:
            estimate = estimate_memory(
                self.arch_model.layers,
                self.arch_model.input_shape,
                config,
                num_train,
                choice.num_val,
                self.arch_model.num_classes,
            )
            available = available_memory()
            check_memory(estimate, available)
        except NetsError as exc:
            self.memory_label.setText("")
            return f"Memory: {exc}"
        room = f" of {format_bytes(available)} available" if available else ""
        self.memory_label.setText(f"Memory estimate: {estimate.describe()}{room}.")
        return ""

    def _revalidate(self) -> None:
        problems = self.problems()
        text = "\n".join(problems)
        self.problems_label.setText(text)
        self.problems_label.setVisible(bool(problems))
        self.controls.set_can_start(not problems, problems[0] if problems else "")
        self._update_buttons()

    def _busy(self) -> bool:
        return self._worker is not None

    def _update_buttons(self) -> None:
        busy = self._busy()
        run = self._current_run()
        has_model = run is not None and run.payload is not None and run.payload.trained is not None
        for w in (self.test_button, self.test_action):
            w.setEnabled(has_model and not busy)
        for w in (self.save_ckpt_button, self.save_ckpt_action):
            w.setEnabled(has_model and not busy)
        for w in (self.load_ckpt_button, self.load_ckpt_action):
            w.setEnabled(not busy)
        ok = self.arch_model.check.ok
        for w in (
            self.export_source_button,
            self.export_source_action,
            self.copy_source_button,
            self.copy_source_action,
        ):
            w.setEnabled(ok)
        has_runs = len(self.runs) > 0
        for w in (
            self.export_plots_button,
            self.export_plots_action,
            self.export_csv_button,
            self.export_csv_action,
        ):
            w.setEnabled(has_runs)

    # -- presets and architecture files ---------------------------------------------
    def apply_preset(self, title_or_key: str) -> None:
        for preset in PRESETS.values():
            if title_or_key in (preset.title, preset.key):
                layers = preset.layers
                k = self.data_panel.num_classes()
                if k is not None:
                    layers = with_num_classes(layers, k)
                self.arch_model.replace_all(layers, preset.key, f"Preset {preset.title}")
                self.settings_panel.set_config(preset.config)
                self.status_message.emit(f"Preset: {preset.description}", 8000)
                return

    def open_architecture(self, path: Path | None = None) -> bool:
        path = path or self._ask_open_path("Open architecture", ARCH_FILTER)
        if path is None:
            return False
        try:
            layers = load_architecture(path)
        except NetsError as exc:
            self._error("Cannot open the architecture", str(exc))
            return False
        self.arch_model.replace_all(layers, Path(path).stem, f"Open {Path(path).name}")
        self.setup_tabs.setCurrentIndex(0)
        self.status_message.emit(f"Opened architecture {path}", 5000)
        return True

    def save_architecture(self) -> bool:
        path = self._ask_save_path("Save architecture", ARCH_FILTER, "architecture.json")
        if path is None:
            return False
        try:
            save_architecture(path, self.arch_model.layers, self.arch_model.name)
        except NetsError as exc:
            self._error("Cannot save the architecture", str(exc))
            return False
        self.status_message.emit(f"Saved architecture to {path}", 5000)
        return True

    def pytorch_source(self) -> str:
        """The architecture as an ``nn.Module`` class (with the selected model's
        normalisation in its docstring when it has the same architecture)."""
        from nets.cnn.model import to_pytorch_source

        normalization = None
        class_names = self.data_panel.class_names() or None
        run = self._current_run()
        trained = run.payload.trained if run is not None and run.payload is not None else None
        if trained is not None and tuple(trained.arch) == tuple(self.arch_model.layers):
            normalization = (trained.mean, trained.std)
            class_names = trained.class_names
        return to_pytorch_source(
            self.arch_model.layers,
            self.arch_model.input_shape,
            self.arch_model.num_classes,
            normalization=normalization,
            class_names=class_names,
        )

    def export_source(self) -> bool:
        try:
            source = self.pytorch_source()
        except NetsError as exc:
            self._error("Cannot export the architecture", str(exc))
            return False
        path = self._ask_save_path("Export PyTorch source", SOURCE_FILTER, "cnn_model.py")
        if path is None:
            return False
        from gui.files import atomic_write_bytes

        try:
            atomic_write_bytes(path, source.encode("utf-8"))
        except OSError as exc:
            self._error(
                "Cannot export the architecture", f"cannot write {path}: {exc.strerror or exc}"
            )
            return False
        self.status_message.emit(f"Exported the model class to {path}", 5000)
        return True

    def copy_source(self) -> bool:
        try:
            source = self.pytorch_source()
        except NetsError as exc:
            self._error("Cannot copy the architecture", str(exc))
            return False
        QGuiApplication.clipboard().setText(source)
        self.status_message.emit("Copied the nn.Module source code to the clipboard", 4000)
        return True

    def download_data(self) -> bool:
        """Download the chosen dataset (Fashion-MNIST) with progress; Stop cancels."""
        if self._busy():
            return False
        spec = self.data_panel.spec_text()
        self.controls.set_running()
        self._start_worker("download", 0, _friendly(jobs.download_job(spec)))
        self.status_label.setText(f"Downloading {spec}…")
        return True

    # -- training --------------------------------------------------------------------
    def _cached_dataset(self, choice: DataChoice):
        return self._dataset if self._dataset_key == choice.load_key() else None

    def start_training(self) -> None:
        """Start a run (the Start button). Refuses while another job runs."""
        problems = self.problems()
        if self._busy() or problems:
            if problems:
                self.controls.set_finished(problems[0])
            self._revalidate()
            return
        if self.controls.state == "idle":
            self.controls.set_running()
        choice = self.data_panel.choice()
        config = self.settings_panel.config()
        layers = tuple(self.arch_model.layers)
        settings = {
            "arch": self.arch_model.name or "custom",
            "layers": len(layers),
            "params": self.arch_model.check.totals.params if self.arch_model.check.totals else 0,
            "optimizer": config.optimizer,
            "lr": config.lr,
            "weight_decay": config.weight_decay,
            "schedule": config.schedule,
            "batch_size": config.batch_size,
            "epochs": config.epochs,
            "seed": config.seed,
            "data": choice.spec,
            "train": choice.num_train or "all",
            "val": choice.num_val,
        }
        payload = CnnRun(arch=layers, config=config, choice=choice)
        run = self.runs.add_run(self.runs.next_name(), settings, payload=payload)
        self.runs_view.select_run(run.run_id)
        self._stop_flag = threading.Event()
        stop = self._stop_flag
        factory = jobs.training_job(choice, self._cached_dataset(choice), layers, config)

        def job(token, factory=factory):
            return factory(lambda: token() or stop.is_set())

        self._start_worker("train", run.run_id, _friendly(job))
        self.status_label.setText("Starting…")

    def _start_worker(self, kind: str, run_id: int, factory) -> None:
        self._job = kind
        self._job_run_id = run_id
        worker = self.context.workers.start(factory, name=f"cnn-{kind}")
        self._worker = worker
        worker.item.connect(self._on_item)
        worker.failed.connect(self._on_failed)
        worker.done.connect(self._on_done)
        self._status_timer.start()
        self._update_buttons()

    def _pause(self) -> None:
        if self._worker is not None:
            self._worker.pause()
            run = self.runs.run(self._job_run_id)
            if run is not None and run.status == "running":
                self.runs.set_status(run.run_id, "paused")
            self.status_label.setText("Paused. Resume to go on, or Stop to keep the model so far.")

    def _resume(self) -> None:
        if self._worker is not None:
            self._worker.resume()
            if self.runs.run(self._job_run_id) is not None:
                self.runs.set_status(self._job_run_id, "running")

    def stop_training(self) -> None:
        """Stop after the current step; the model trained so far is kept."""
        self._stop_flag.set()
        if self._worker is not None:
            if self._job != "train":
                self._worker.cancel()
            else:
                self._worker.resume()  # a paused run must wake up to see the stop

    # -- worker items ----------------------------------------------------------------
    def _on_item(self, item: Any) -> None:
        from nets import training as t

        run = self.runs.run(self._job_run_id)
        payload: CnnRun | None = run.payload if run is not None else None
        if isinstance(item, t.Step):
            if run is not None:
                run.metrics.add_step(item.step, item.loss, item.lr)
                payload.last_step = item
            self._pending_step = item
        elif isinstance(item, t.Evaluation):
            if run is not None:
                spe = payload.iterations_per_epoch or 1
                run.metrics.add_epoch(item.step / spe, item.train_acc, item.val_acc, item.step)
                payload.last_eval = item
                if item.end_of_epoch:
                    self.runs.set_result(run.run_id, f"val {format_percent(item.val_acc)}")
        elif isinstance(item, jobs.LoadProgress):
            self.status_label.setText(f"{item.message[:1].upper()}{item.message[1:]}…")
            if item.total:
                self.controls.set_progress(item.done, item.total)
        elif isinstance(item, jobs.DataReady):
            self._dataset_key, self._dataset = item.key, item.dataset
            if item.dataset.skipped:
                self.status_message.emit(item.dataset.skipped_summary, 8000)
        elif isinstance(item, t.Started):
            if payload is not None:
                payload.iterations_per_epoch = item.steps_per_epoch
                payload.total_iterations = item.total_steps
                payload.notes.append(
                    f"{item.device}, {item.num_threads} threads, {item.params:,} parameters"
                )
            self.controls.set_progress(0, item.total_steps, 0.0)
            self.status_label.setText(
                f"Training on {item.device} with {item.num_threads} CPU threads: "
                f"{item.epochs} epochs × {item.steps_per_epoch} steps, "
                f"{item.params:,} parameters, memory ~{format_bytes(item.memory_bytes)}."
            )
        elif isinstance(item, t.END_EVENTS):
            self._on_training_end(item)
        elif isinstance(item, jobs.TestResult):
            self._on_test_result(item)
        elif isinstance(item, jobs.CheckpointLoaded):
            self._on_checkpoint_loaded(item)
        elif isinstance(item, jobs.DataDownloaded):
            self.status_label.setText(f"Downloaded {item.spec}.")
            self.data_panel.probe_now()
        elif isinstance(item, jobs.Note):
            self.status_message.emit(item.text[:1].upper() + item.text[1:], 8000)
        elif isinstance(item, jobs.CheckpointSaved):
            if payload is not None:
                payload.checkpoint = item.path
            self.status_label.setText(f"Saved the model to {item.path}.")
            self.status_message.emit(f"Saved model {item.path}", 5000)
        elif isinstance(item, JobFailed):
            self._on_job_failed(item.message)

    def _show_pending_step(self) -> None:
        step = self._pending_step
        if step is None:
            return
        self._pending_step = None
        self.controls.set_progress(step.step, step.total_steps, step.elapsed)
        run = self.runs.run(self._job_run_id)
        epochs = run.payload.config.epochs if run is not None and run.payload.config else "?"
        last = run.payload.last_eval if run is not None and run.payload is not None else None
        val_text = ""
        if last is not None:
            sample = "" if last.end_of_epoch else f" ({last.val_n:,}-image sample)"
            val_text = f" · val {format_percent(last.val_acc)}{sample}"
        self.status_label.setText(
            f"Epoch {step.epoch}/{epochs} · step {step.step:,}/{step.total_steps:,} · "
            f"loss {step.loss:.4g} · lr {step.lr:.3g}{val_text}"
        )

    def _on_training_end(self, item: Any) -> None:
        from nets import training as t

        run = self.runs.run(self._job_run_id)
        self._show_pending_step()
        if run is None:
            return
        run.payload.trained = item.result
        if isinstance(item, t.Diverged):
            self.runs.set_status(run.run_id, "diverged", item.reason)
            self.status_label.setText(f"Stopped: {item.reason}.")
            self.status_message.emit(f"{run.name} {item.reason}", 10000)
        elif isinstance(item, t.Stopped):
            self.runs.set_status(run.run_id, "stopped", item.reason)
            self.status_label.setText(
                f"Stopped after step {item.step:,} ({format_duration(item.elapsed)}); "
                "the model so far is kept."
            )
        else:
            self.runs.set_status(run.run_id, "finished")
            val = item.result.val_acc
            val_text = f", validation {format_percent(val)}" if val is not None else ""
            self.status_label.setText(
                f"Finished {item.step:,} steps in {format_duration(item.elapsed)}{val_text}."
                " Test once when you have picked your model."
            )

    def _on_job_failed(self, message: str) -> None:
        run = self.runs.run(self._job_run_id)
        if self._job == "train" and run is not None:
            self.runs.set_status(run.run_id, "failed", message)
        titles = {
            "train": "Training failed",
            "test": "Test failed",
            "load": "Cannot load the checkpoint",
            "save": "Cannot save the checkpoint",
            "download": "Download failed",
        }
        self.status_label.setText(message)
        self._error(titles.get(self._job, "Error"), message)

    def _on_failed(self, message: str, detail: str) -> None:
        run = self.runs.run(self._job_run_id)
        if self._job == "train" and run is not None:
            self.runs.set_status(run.run_id, "failed", message)
        self.status_label.setText(message)
        dialogs.show_error(self, "Unexpected error", message, detail)

    def _on_done(self, status: str) -> None:
        job = self._job
        self._worker = None
        self._job = ""
        self._status_timer.stop()
        self._show_pending_step()
        run = self.runs.run(self._job_run_id)
        if job == "train" and run is not None and run.status in ("running", "paused"):
            # Cancelled before the generator could report (window closing, load stopped).
            self.runs.set_status(
                run.run_id,
                "stopped",
                "stopped before training produced a model"
                if run.payload.trained is None
                else "stopped",
            )
            if run.payload.trained is None and self.status_label.text().endswith("…"):
                self.status_label.setText("Stopped.")
        if job == "train":
            message = ""
            if run is not None and run.status == "finished":
                message = (
                    f"finished in {format_duration(run.payload.last_step.elapsed)}"
                    if (run.payload.last_step is not None)
                    else "finished"
                )
            elif run is not None:
                message = run.status
            self.controls.set_finished(message)
        else:
            self.controls.set_finished("")
        self._update_buttons()
        self._revalidate()

    # -- runs, testing ---------------------------------------------------------------
    def _current_run(self):
        run_id = self.runs_view.selected_run_id()
        run = self.runs.run(run_id) if run_id else None
        if run is None and len(self.runs):
            run = self.runs.runs()[-1]
        return run

    def _can_delete_run(self, run_id: int) -> str:
        if self._busy() and run_id == self._job_run_id:
            return "This run is still working: stop it first."
        return ""

    def _on_run_selected(self, _run_id: int) -> None:
        run = self._current_run()
        payload = run.payload if run is not None else None
        if payload is not None and payload.test is not None:
            X = self._test_images_for(payload.test)
            names = payload.trained.class_names if payload.trained is not None else ()
            self.results.show_result(payload.test, X, names)
        elif run is not None and payload is not None and payload.trained is not None:
            self.results.clear(f"{run.name} has not been tested.")
        else:
            self.results.clear()
        self._update_buttons()

    def _test_images_for(self, result) -> Any:
        data = self._dataset
        if data is None or data.X_test is None or len(data.X_test) != result.n:
            return None
        return data.X_test

    def test_once(self) -> bool:
        """Evaluate the selected run's model on the test set; asks before a second time."""
        run = self._current_run()
        if self._busy() or run is None or run.payload is None or run.payload.trained is None:
            return False
        trained = run.payload.trained
        record = trained.test_record
        if record.used:
            acc = f"{100 * record.test_acc:.2f}%" if record.test_acc is not None else "?"
            answer = dialogs.ask(
                self,
                "Test again?",
                f"{run.name} has already been tested ({record.count} "
                f"time{'s' if record.count != 1 else ''}, test accuracy {acc}).\n\n"
                "The test set is meant to be used once, at the very end. Choosing or "
                "tuning a model by its test score turns the test set into a validation "
                "set, and the score stops telling how the model does on new images.\n\n"
                "Test again anyway?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.No,
            )
            if answer != QMessageBox.StandardButton.Yes:
                self.status_message.emit("Not tested again.", 3000)
                return False
        if self.data_panel.errors():
            self._error("Cannot test", self.data_panel.errors()[0])
            return False
        choice = run.payload.choice
        if choice is None or choice.spec != self.data_panel.spec_text():
            choice = self.data_panel.choice()
        self._stop_flag = threading.Event()
        self.controls.set_running()
        self._start_worker(
            "test",
            run.run_id,
            _friendly(
                jobs.test_job(choice, self._cached_dataset(choice), trained, run.payload.checkpoint)
            ),
        )
        self.status_label.setText(f"Testing {run.name}…")
        return True

    def _on_test_result(self, result) -> None:
        run = self.runs.run(self._job_run_id)
        if run is None:
            return
        run.payload.trained = result.trained
        run.payload.test = result
        val = run.payload.trained.val_acc
        parts = [f"val {format_percent(val)}"] if val is not None else []
        parts.append(f"test {format_percent(result.accuracy)}")
        self.runs.set_result(run.run_id, " · ".join(parts))
        names = result.trained.class_names
        if self.runs_view.selected_run_id() in (0, run.run_id):
            self.results.show_result(result, self._test_images_for(result), names)
        self.status_label.setText(
            f"{run.name}: test accuracy {100 * result.accuracy:.2f}% on {result.n:,} images."
        )

    # -- checkpoints -----------------------------------------------------------------
    def save_checkpoint(self) -> bool:
        run = self._current_run()
        if self._busy() or run is None or run.payload is None or run.payload.trained is None:
            return False
        path = self._ask_save_path(
            "Save model", CHECKPOINT_FILTER, f"{run.name.replace(' ', '_')}.pt"
        )
        if path is None:
            return False
        if path.suffix.lower() != ".pt":
            path = path.with_suffix(path.suffix + ".pt") if path.suffix else path.with_suffix(".pt")
        trained = run.payload.trained

        def factory(_token, path=path, trained=trained):
            jobs.prepare_torch()
            from nets.cnn.checkpoint import save_checkpoint

            save_checkpoint(path, trained)
            yield jobs.CheckpointSaved(str(path))

        self.controls.set_running()
        self._start_worker("save", run.run_id, _friendly(factory))
        self.status_label.setText(f"Saving {path.name}…")
        return True

    def load_checkpoint(self, path: Path | None = None) -> bool:
        if self._busy():
            self.status_message.emit("Wait for the current job to finish first.", 4000)
            return False
        path = path or self._ask_open_path("Load model", CHECKPOINT_FILTER)
        if path is None:
            return False

        def factory(_token, path=Path(path)):
            jobs.prepare_torch()
            from nets.cnn.checkpoint import load_checkpoint

            yield jobs.CheckpointLoaded(str(path), load_checkpoint(path))

        self.controls.set_running()
        self._start_worker("load", 0, _friendly(factory))
        self.status_label.setText(f"Loading {Path(path).name}…")
        return True

    def _on_checkpoint_loaded(self, item: jobs.CheckpointLoaded) -> None:
        trained = item.trained
        name = Path(item.path).stem
        settings = {"checkpoint": item.path, "steps": trained.iterations}
        if trained.config is not None:
            settings.update(
                optimizer=trained.config.optimizer,
                lr=trained.config.lr,
                epochs=trained.config.epochs,
            )
        payload = CnnRun(
            arch=tuple(trained.arch),
            config=trained.config,
            choice=None,
            trained=trained,
            checkpoint=item.path,
        )
        run = self.runs.add_run(name, settings, status="loaded", payload=payload)
        parts = []
        if trained.val_acc is not None:
            parts.append(f"val {format_percent(trained.val_acc)}")
        if trained.test_record.used and trained.test_record.test_acc is not None:
            parts.append(f"test {format_percent(trained.test_record.test_acc)}")
        self.runs.set_result(run.run_id, " · ".join(parts))
        self.runs_view.select_run(run.run_id)
        self._job_run_id = run.run_id
        self.status_label.setText(
            f"Loaded {Path(item.path).name}: {len(trained.arch)} layers, "
            f"{', '.join(trained.class_names[:4])}{'…' if len(trained.class_names) > 4 else ''}."
        )
        self.status_message.emit(f"Loaded model {item.path}", 5000)

    # -- exports ---------------------------------------------------------------------
    def export_plots(self) -> bool:
        path = self._ask_save_path("Export plots", PLOT_FILTER, "cnn_training.png")
        if path is None:
            return False
        if path.suffix.lower() not in (".png", ".svg", ".pdf"):
            path = path.with_suffix(".png")
        try:
            self.plots.export(path)
        except (OSError, ValueError) as exc:
            self._error("Cannot export the plots", f"cannot write {path}: {exc}")
            return False
        self.status_message.emit(f"Exported the plots to {path}", 5000)
        return True

    def export_csv(self) -> bool:
        path = self._ask_save_path("Export metrics", CSV_FILTER, "cnn_training.csv")
        if path is None:
            return False
        try:
            export_metrics_csv(self.runs.runs(), path)
        except OSError as exc:
            self._error("Cannot export the metrics", f"cannot write {path}: {exc.strerror or exc}")
            return False
        self.status_message.emit(f"Exported the metrics to {path}", 5000)
        return True

    # -- small helpers (tests replace the dialogs) -----------------------------------
    def _ask_save_path(self, title: str, filters: str, default_name: str) -> Path | None:
        chosen, _ = QFileDialog.getSaveFileName(
            self, title, str(self._last_dir / default_name), filters
        )
        if not chosen:
            return None
        self._last_dir = Path(chosen).parent
        return Path(chosen)

    def _ask_open_path(self, title: str, filters: str) -> Path | None:
        chosen, _ = QFileDialog.getOpenFileName(self, title, str(self._last_dir), filters)
        if not chosen:
            return None
        self._last_dir = Path(chosen).parent
        return Path(chosen)

    def _error(self, title: str, message: str) -> None:
        self.status_message.emit(message, 8000)
        dialogs.show_error(self, title, message)

    def is_busy(self) -> bool:
        return self._busy()
