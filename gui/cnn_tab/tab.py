"""The CNN tab: design a PyTorch CNN, train it on Fashion-MNIST (or an image folder) while
watching loss and accuracy, then test it once.

A configuration of ``gui.training.TrainingTab``, which owns the run lifecycle, the
plots, the runs list, test once, checkpoints, exports and quitting. This module adds the
architecture editor, the data and training settings (left), the test-result view, and
what a CNN run is: one job that loads the data (unless the last load is still current)
and trains. The architecture lives in an ``ArchitectureModel``. torch is first imported
by the jobs, in the worker thread, never by the tab's constructor.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.cnn_tab import jobs
from gui.cnn_tab.arch_editor import ERROR_STYLE, ArchitectureEditor
from gui.cnn_tab.arch_files import ArchitectureFiles
from gui.cnn_tab.arch_model import ArchitectureModel
from gui.cnn_tab.data_panel import DataChoice, DataPanel
from gui.cnn_tab.results_panel import ResultsPanel
from gui.cnn_tab.settings_panel import SettingsPanel
from gui.tab_base import AppContext
from gui.training import insight, search_page
from gui.training.run_files import LoadedRun
from gui.training.runs import Run, format_percent
from gui.training.tab import RunPlan, RunState, TrainingTab
from nets.cnn.arch import ARCH_FORMAT
from nets.cnn.config import TrainConfig
from nets.cnn.presets import PRESETS, with_num_classes
from nets.errors import NetsError
from nets.training import Ended, Snapshot

if TYPE_CHECKING:
    from gui.cnn_tab.inspect_view import InspectView
    from gui.training.search import SearchBase, SearchPanel


@dataclass(eq=False)
class CnnRun(RunState):
    """What the tab keeps per run (the ``payload`` of a ``gui.training.runs.Run``)."""

    arch: tuple = ()
    config: TrainConfig | None = None
    choice: DataChoice | None = None
    trained: Any = None  # nets.cnn.trained.TrainedCnn once training has produced weights
    test: Any = None  # jobs.TestResult
    at_snapshot: Any = None  # the TrainedCnn of the snapshot selected on the timeline


def _result_text(trained: Any) -> str:
    parts = []
    if trained.val_acc is not None:
        parts.append(f"val {format_percent(trained.val_acc)}")
    if trained.test_record.used and trained.test_record.test_acc is not None:
        parts.append(f"test {format_percent(trained.test_record.test_acc)}")
    return " · ".join(parts)


class CnnTab(ArchitectureFiles, TrainingTab):
    tab_id = "cnn"
    title = "CNN"
    checkpoint_suffix = ".pt"
    checkpoint_filter = "PyTorch checkpoint (*.pt)"
    export_stem = "cnn_training"
    side_jobs_while_training = False  # torch uses every thread it is given

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("cnnTab")
        self._dataset_key: tuple | None = None
        self._dataset = None  # nets.data.ImageDataset of the last load

        default = next(iter(PRESETS.values()))
        self.arch_model = ArchitectureModel(default.layers, parent=self)
        self.arch_model.name = default.key
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

        # A loss of 0.8 reads better as 0.8 than as "800 (x0.001)".
        self.plots.when_built(
            lambda: self.plots.loss.plot_item.getAxis("left").enableAutoSIPrefix(False)
        )
        self.results = ResultsPanel()
        self.add_view(self.results, "Test results")

        self._build_actions()
        self._connect()
        self.finish_layout(left, (470, 800))
        self.snapshot_control.plan_changed.connect(self._revalidate)
        self.insight = insight.install(self)
        self.insight.apply_requested.connect(self._apply_suggestion)
        self.insight.lr_chosen.connect(lambda lr: self._apply_suggestion({"lr": lr}))
        self.insight.set_lr_finder(self._lr_find_job, self._on_lr_find_item)
        self.search_slot = search_page.install(self, "cnn", self._search_base)
        # "Inspect": a trained network opened up (issue 16; gui/cnn_tab/inspect_view.py).
        # Built when first shown: it lists the runs' models from the runs list then.
        self.inspect_slot = self.add_lazy_page(self._make_inspect, "Inspect")
        self.data_panel.probe_now()
        self._revalidate()

    # -- wiring ----------------------------------------------------------------------
    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut: str | None = None) -> QAction:
            a = QAction(text, self)
            if shortcut is not None:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(a)
            a.triggered.connect(lambda _checked=False: slot())
            return a

        self.open_arch_action = action("Open Architecture…", self.open_architecture, "Ctrl+O")
        self.save_arch_action = action("Save Architecture As…", self.save_architecture, "Ctrl+S")
        self.export_source_action = action("Export as PyTorch Source…", self.export_source)
        self.copy_source_action = action("Copy PyTorch Source", self.copy_source)
        self.undo_action = self.arch_model.undo_stack.createUndoAction(self, "&Undo")
        self.undo_action.setShortcut(QKeySequence.StandardKey.Undo)
        self.redo_action = self.arch_model.undo_stack.createRedoAction(self, "&Redo")
        self.redo_action.setShortcut(QKeySequence.StandardKey.Redo)
        for a in (self.undo_action, self.redo_action):
            a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(a)

    def _connect(self) -> None:
        self.arch_model.changed.connect(self._revalidate)
        self.data_panel.changed.connect(self._on_data_changed)
        self.settings_panel.changed.connect(self._revalidate)
        self.editor.preset_chosen.connect(self.apply_preset)
        self.data_panel.download_requested.connect(self.download_data)
        self.load_arch_button.clicked.connect(lambda: self.open_architecture())
        self.save_arch_button.clicked.connect(self.save_architecture)
        self.export_source_button.clicked.connect(self.export_source)
        self.copy_source_button.clicked.connect(self.copy_source)

    # -- AppTab ----------------------------------------------------------------------
    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.open_arch_action,
                self.save_arch_action,
                self.export_source_action,
                None,
                *self.training_file_actions(),
            ]
        if menu == "Edit":
            return [self.undo_action, self.redo_action, None, self.copy_source_action]
        if menu == "View":
            return self.training_view_actions()
        return []

    def accepts_path(self, path: Path) -> bool:
        if self.accepts_snapshot(path):
            return True
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
        if self.accepts_snapshot(path):
            self.open_snapshot(path)
        elif path.is_dir():
            self.data_panel.set_spec(f"folder:{path}")
            self.setup_tabs.setCurrentIndex(1)
            self.status_message.emit(f"Data: image folder {path}", 5000)
        elif path.suffix.lower() == ".pt":
            self.load_checkpoint(path)
        else:
            self.open_architecture(path)

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

    start_problems = problems

    def _memory_problem(self) -> str:
        from nets.cnn.resources import check_memory, estimate_memory
        from nets.memory import available_memory
        from nets.units import format_bytes

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
                self.snapshot_control.plan(),
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
        self.problems_label.setText("\n".join(problems))
        self.problems_label.setVisible(bool(problems))
        self.update_start()

    def update_run_buttons(self) -> None:
        super().update_run_buttons()
        ok = self.arch_model.check.ok
        for w in (
            self.export_source_button,
            self.export_source_action,
            self.copy_source_button,
            self.copy_source_action,
        ):
            w.setEnabled(ok)

    # -- presets and data ------------------------------------------------------------
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

    def download_data(self) -> bool:
        """Download the chosen dataset (Fashion-MNIST) with progress."""
        spec = self.data_panel.spec_text()

        def on_item(item: Any) -> None:
            if isinstance(item, jobs.DataDownloaded):
                self.say(f"Downloaded {item.spec}.")
                self.data_panel.probe_now()

        if not self.run_side_job("download", 0, jobs.download_job(spec), on_item):
            return False
        self.say(f"Downloading {spec}…")
        return True

    def _cached_dataset(self, choice: DataChoice):
        return self._dataset if self._dataset_key == choice.load_key() else None

    def _keep_dataset(self, item: jobs.DataReady) -> None:
        self._dataset_key, self._dataset = item.key, item.dataset
        if item.dataset.skipped:
            self.status_message.emit(item.dataset.skipped_summary, 8000)

    # -- training --------------------------------------------------------------------
    def _apply_suggestion(self, suggest: dict) -> None:
        """A coach's (or the range test's) suggestion into the settings, for a new run."""
        known = {f.name for f in dataclasses.fields(self.settings_panel.config())}
        changes = {k: v for k, v in suggest.items() if k in known}
        if changes:
            self.settings_panel.set_config(
                dataclasses.replace(self.settings_panel.config(), **changes)
            )
            self._revalidate()
            self.say("Suggestion applied to the settings: press Start for a new run.")

    @property
    def search(self) -> SearchPanel:
        """The Search page (built now if it was never shown)."""
        return self.search_slot.widget()

    def _search_base(self) -> SearchBase | str:
        """What the Search page's trials start from: data, layers, settings (or why not)."""
        from gui.training.search import SearchBase
        from nets.cnn.arch import arch_to_dict

        problems = self.start_problems()
        if problems:
            return problems[0]
        choice = self.data_panel.choice()
        return SearchBase(
            choice.spec,
            self.settings_panel.config(),
            arch=arch_to_dict(tuple(self.arch_model.layers)),
            num_val=choice.num_val,
            split_seed=choice.seed,
            extra={"num_train": choice.num_train, "image_size": choice.image_size},
        )

    def _lr_find_job(self):
        """The range test for the current data, architecture and settings (or why not)."""
        problems = self.start_problems()
        if problems:
            return problems[0]
        choice = self.data_panel.choice()
        return jobs.lr_find_job(
            choice,
            self._cached_dataset(choice),
            tuple(self.arch_model.layers),
            self.settings_panel.config(),
        )

    def _on_lr_find_item(self, item: object) -> None:
        if isinstance(item, jobs.DataReady):
            self._keep_dataset(item)

    def plan_run(self, source: Run | None) -> RunPlan:
        choice = self.data_panel.choice()
        config = dataclasses.replace(
            self.settings_panel.config(), internals_every=self.insight.internals_every()
        )
        fork = self.pending_fork() if source is None else None
        if fork is not None:
            from nets.cnn.fork import arch_of

            layers = tuple(arch_of(fork.snapshot))
        else:
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
        name = self.runs.next_name()
        if fork is not None:
            settings["forked from"] = f"{fork.parent_name}, epoch {fork.snapshot.epoch}"
            name = f"{fork.parent_name} fork@{fork.snapshot.epoch}"
        factory = jobs.training_job(
            choice,
            self._cached_dataset(choice),
            layers,
            config,
            snapshots=self.snapshot_control.plan(),
            fork=fork.snapshot if fork is not None else None,
        )
        return RunPlan(name, settings, payload, factory, fork=fork)

    def fill_settings(self, config: dict) -> None:
        self.settings_panel.set_config(TrainConfig.from_dict(config))

    def show_snapshot(self, run: Run | None, snapshot: Snapshot | None) -> None:
        """The Inspect page opens the model at ``snapshot`` (None: the run's latest)."""
        payload = run.payload if run is not None else None
        if payload is None:
            return
        payload.at_snapshot = None
        trained = payload.trained
        if snapshot is not None and snapshot.trainer == "cnn" and trained is not None:
            from nets.cnn.fork import model_from_snapshot

            model = model_from_snapshot(snapshot, trained.input_shape, trained.num_classes)
            payload.at_snapshot = dataclasses.replace(
                trained, model=model, iterations=snapshot.step, val_acc=None
            )
        if self.inspect_slot.created is not None:
            self.inspect_slot.created.refresh_models()

    def _make_inspect(self) -> InspectView:
        from gui.cnn_tab.inspect_view import InspectView

        view = InspectView(self.context, self.runs, self._cached_dataset, self.is_busy)
        view.status_message.connect(self.status_message)
        return view

    @property
    def inspect(self) -> InspectView:
        """The Inspect page (built now if it was never shown)."""
        return self.inspect_slot.widget()

    def on_train_item(self, run: Run, item: Any) -> None:
        if isinstance(item, jobs.DataReady):
            self._keep_dataset(item)

    def on_run_ended(self, run: Run, event: Ended) -> None:
        run.payload.trained = event.result

    def model_of(self, run: Run | None) -> Any:
        return run.payload.trained if run is not None and run.payload is not None else None

    # -- results and testing ---------------------------------------------------------
    def show_run(self, run: Run | None) -> None:
        payload = run.payload if run is not None else None
        if payload is not None and payload.test is not None:
            names = payload.trained.class_names if payload.trained is not None else ()
            self.results.show_result(payload.test, self._test_images_for(payload.test), names)
        elif payload is not None and payload.trained is not None:
            self.results.clear(f"{run.name} has not been tested.")
        else:
            self.results.clear()

    def test_summary(self, run: Run | None) -> str:
        return ""  # the test-results view says it, with the confusion matrix

    def _test_images_for(self, result) -> Any:
        data = self._dataset
        if data is None or data.X_test is None or len(data.X_test) != result.n:
            return None
        return data.X_test

    def test_use(self, run: Run) -> tuple[int, float | None]:
        record = run.payload.trained.test_record
        return (max(1, record.count) if record.used else 0, record.test_acc)

    def test_problem(self, run: Run | None) -> str:
        errors = self.data_panel.errors()
        if errors:
            return errors[0]
        info = self.data_panel.info
        if info is not None and info.found and not info.num_test:
            spec = self.data_panel.spec_text()
            return f"{spec} has no test split (a folder needs DIR/test/<class>/)"
        return ""

    def test_job(self, run: Run):
        choice = run.payload.choice
        if choice is None or choice.spec != self.data_panel.spec_text():
            choice = self.data_panel.choice()
        trained, path = run.payload.trained, run.payload.checkpoint
        cached = self._cached_dataset(choice)
        return jobs.test_job(choice, cached, trained, str(path) if path else None)

    def on_test_item(self, run: Run, item: Any) -> None:
        if isinstance(item, jobs.DataReady):
            self._keep_dataset(item)
        elif isinstance(item, jobs.Note):
            self.status_message.emit(item.text[:1].upper() + item.text[1:], 8000)
        elif isinstance(item, jobs.TestResult):
            run.payload.trained = item.trained
            run.payload.test = item
            self.runs.set_result(run.run_id, _result_text(item.trained))
            if self.selected_run_id() in (0, run.run_id):
                self.show_run(run)
            self.say(f"{run.name}: test accuracy {100 * item.accuracy:.2f}% on {item.n:,} images.")

    # -- checkpoints -----------------------------------------------------------------
    def write_checkpoint(self, run: Run, path: Path) -> None:
        jobs.prepare_torch()
        from nets.cnn.checkpoint import save_checkpoint

        save_checkpoint(path, run.payload.trained)

    def load_job(self, path: Path):
        def factory(_token):
            jobs.prepare_torch()
            from nets.cnn.checkpoint import load_checkpoint

            trained = load_checkpoint(path)
            settings = {"checkpoint": str(path), "steps": trained.iterations}
            if trained.config is not None:
                settings.update(
                    optimizer=trained.config.optimizer,
                    lr=trained.config.lr,
                    epochs=trained.config.epochs,
                )
            payload = CnnRun(
                arch=tuple(trained.arch), config=trained.config, trained=trained, checkpoint=path
            )
            yield LoadedRun(path.stem, settings, payload, _result_text(trained))

        return factory

    def snapshot_run(self, snapshot: Snapshot, name: str) -> LoadedRun:
        trained = jobs.trained_from_snapshot(snapshot, name)
        config = trained.config
        settings = {"snapshot": name, "steps": snapshot.step, "optimizer": config.optimizer,
                    "lr": config.lr, "epochs": config.epochs}  # fmt: skip
        payload = CnnRun(arch=trained.arch, config=config, trained=trained)
        return LoadedRun(name, settings, payload, _result_text(trained))

    def on_run_loaded(self, run: Run) -> None:
        trained = run.payload.trained
        names = ", ".join(trained.class_names[:4])
        more = "…" if len(trained.class_names) > 4 else ""
        self.say(f"Loaded {run.name}: {len(trained.arch)} layers, {names}{more}.")
