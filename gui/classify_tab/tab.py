"""The Classify tab: drop photos on a pretrained ImageNet model (the seed's Task 6).

For the current image it shows the photo, the exact tensor the model received
(de-normalised), a top-5 bar chart, and a Grad-CAM heat-map for any class; for many
images a table filled in progressively by a worker. Images can be marked "reasonable"
or "unreasonable" and exported as report figures.

All model work (loading, classifying, Grad-CAM) runs in workers; torch is imported the
first time a model is needed, never when the tab is built.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import Any

from PySide6.QtCore import (
    QEventLoop,
    QItemSelectionModel,
    QModelIndex,
    QRectF,
    Qt,
    QTimer,
    Signal,
)
from PySide6.QtGui import (
    QAction,
    QDragEnterEvent,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QCompleter,
    QFileDialog,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QSlider,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from gui import dialogs
from gui.classify_tab import backend, jobs
from gui.classify_tab.batch_table import (
    DONE,
    REASONABLE,
    UNREASONABLE,
    BatchTable,
    BatchTableModel,
    Row,
)
from gui.classify_tab.imaging import heat_to_qimage, rgb_to_qimage
from gui.classify_tab.model_picker import ModelPicker
from gui.classify_tab.photo_view import PhotoView
from gui.classify_tab.recent_strip import MAX_RECENT, RecentStrip
from gui.classify_tab.report import figure_name, render_report
from gui.classify_tab.top_chart import TopKChart
from gui.files import atomic_write_bytes, png_bytes
from gui.tab_base import AppContext, AppTab
from gui.worker import GeneratorWorker

RECENT_KEY = "classify/recent"
TOPK = 5
PLACEHOLDER = (
    "Drop photos or a folder here\n\n"
    "or use File \u203a Open Images (Ctrl+O), or paste an image (Ctrl+V)"
)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


def _image_filter() -> str:
    from nets.images import IMAGE_EXTENSIONS

    patterns = " ".join(f"*{ext}" for ext in sorted(IMAGE_EXTENSIONS))
    return f"Images ({patterns});;All files (*)"


class ClassifyTab(AppTab):
    """Classify photos with a pretrained ImageNet model; see the module docstring."""

    tab_id = "classify"
    title = "Classify"

    #: False keeps the recent-images list out of the settings (screenshots, benchmarks)
    persist_recent = True
    #: load the current model this long after the tab is first shown (None: on first use)
    warm_up_delay_ms: int | None = 600

    #: the registry name of a model that just became the current one
    model_ready = Signal(str)
    #: the key of the image now shown in the detail view (its chart is filled)
    detail_shown = Signal(str)
    #: (image key, class index) of the heat-map now painted
    heat_shown = Signal(str, int)
    #: a batch worker ended: "finished" | "cancelled" | "failed"
    batch_done = Signal(str)
    #: report figures written (their paths)
    report_exported = Signal(list)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("classifyTab")
        self.setAcceptDrops(True)
        self._model: Any = None
        self._model_name = ""  # registry name of the current model
        self._model_title = ""  # what the user sees ("ResNet-18 + mine.pth")
        self._model_weights: str | None = None
        self._load_worker: GeneratorWorker | None = None
        self._loading: tuple[str, str | None] | None = None
        self._batch_worker: GeneratorWorker | None = None
        self._detail_worker: GeneratorWorker | None = None
        self._heat_worker: GeneratorWorker | None = None
        self._report_worker: GeneratorWorker | None = None
        self._thumb_worker: GeneratorWorker | None = None
        self._requests: queue.SimpleQueue = queue.SimpleQueue()
        self._waiting_requests: list[Any] = []  # dropped before a model was loaded
        self._select_first_found = False
        self._current: jobs.Source | None = None
        self._detail: jobs.Detail | None = None
        self._detail_error = ""
        self._heat_cache: dict[tuple[str, int], QImage] = {}
        self._heat_pending: tuple[str, int] | None = None
        self._batch_total = 0
        self._batch_done = 0
        self._batch_failed = 0
        self._paste_count = 0
        self._labels: tuple[str, ...] | None = None
        self._recent_thumbs_loaded = False

        self._build_ui()
        self._build_actions()
        self._connect()
        self._refresh_models()
        self._load_recent()
        self._update_enabled()

    # == building ========================================================================
    def _build_ui(self) -> None:
        self.model_picker = ModelPicker()

        # -- the current image -----------------------------------------------------------
        self.name_label = QLabel("No image")
        self.name_label.setObjectName("imageName")
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reasonable_button = QPushButton("\u2713 Reasonable")
        self.reasonable_button.setObjectName("reasonableButton")
        self.reasonable_button.setCheckable(True)
        self.reasonable_button.setToolTip(
            "Mark this prediction as reasonable for the report figure (R)"
        )
        self.unreasonable_button = QPushButton("\u2717 Unreasonable")
        self.unreasonable_button.setObjectName("unreasonableButton")
        self.unreasonable_button.setCheckable(True)
        self.unreasonable_button.setToolTip(
            "Mark this prediction as unreasonable for the report figure (U)"
        )
        title_row = QHBoxLayout()
        title_row.addWidget(self.name_label, 1)
        title_row.addWidget(self.reasonable_button)
        title_row.addWidget(self.unreasonable_button)

        self.photo_view = PhotoView(PLACEHOLDER)
        self.photo_view.setObjectName("photoView")
        self.photo_view.setToolTip("The photo; with the heat-map on, where the model looked")

        self.heat_toggle = QCheckBox("&Heat-map")
        self.heat_toggle.setObjectName("heatToggle")
        self.heat_toggle.setToolTip(
            "Grad-CAM: which regions raised the chosen class's score (H).\n"
            "Pick the class here, or click a bar of the chart."
        )
        self.class_combo = QComboBox()
        self.class_combo.setObjectName("classCombo")
        self.class_combo.setEditable(True)
        self.class_combo.setInsertPolicy(QComboBox.InsertPolicy.NoInsert)
        self.class_combo.setMinimumContentsLength(8)
        self.class_combo.setSizeAdjustPolicy(
            QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon
        )
        self.class_combo.setToolTip("The class whose heat-map is shown: type to search")
        completer = QCompleter(self.class_combo.model(), self.class_combo)
        completer.setFilterMode(Qt.MatchFlag.MatchContains)
        completer.setCaseSensitivity(Qt.CaseSensitivity.CaseInsensitive)
        completer.setCompletionMode(QCompleter.CompletionMode.PopupCompletion)
        self.class_combo.setCompleter(completer)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setMinimumWidth(60)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setToolTip("Heat-map opacity: 50%")
        self.opacity_label = QLabel("&Opacity")
        self.opacity_label.setBuddy(self.opacity_slider)
        heat_row = QHBoxLayout()
        heat_row.addWidget(self.heat_toggle)
        heat_row.addWidget(self.class_combo, 1)
        heat_row.addSpacing(4)
        heat_row.addWidget(self.opacity_label)
        heat_row.addWidget(self.opacity_slider)

        photo_box = QWidget()
        photo_layout = QVBoxLayout(photo_box)
        photo_layout.setContentsMargins(0, 0, 0, 0)
        photo_layout.addLayout(title_row)
        photo_layout.addWidget(self.photo_view, 1)
        photo_layout.addLayout(heat_row)

        # -- what the model saw and said -------------------------------------------------
        self.input_view = PhotoView("The model's input appears here")
        self.input_view.setObjectName("inputView")
        self.input_view.set_smooth(False)
        self.input_view.setFixedSize(196, 196)
        self.input_view.setToolTip(
            "The exact tensor the model received, de-normalised back to an image\n"
            "(after its resize and centre crop)"
        )
        self.input_caption = QLabel("Model input")
        self.input_caption.setObjectName("inputCaption")
        self.input_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.chart = TopKChart()
        self.chart.set_placeholder("The top-5 classes appear here")
        seen = QGroupBox("What the model saw, and its top-5")
        seen_layout = QGridLayout(seen)
        seen_layout.setContentsMargins(8, 6, 8, 6)
        seen_layout.addWidget(self.input_view, 0, 0)
        seen_layout.addWidget(self.input_caption, 1, 0)
        seen_layout.addWidget(self.chart, 0, 1, 2, 1)
        seen_layout.setColumnStretch(1, 1)

        # -- many images -----------------------------------------------------------------
        self.table_model = BatchTableModel(self)
        self.table = BatchTable(self.table_model)
        self.batch_label = QLabel("No images yet")
        self.batch_label.setObjectName("batchLabel")
        self.batch_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.batch_label.setMinimumWidth(40)
        self.batch_progress = QProgressBar()
        self.batch_progress.setObjectName("batchProgress")
        self.batch_progress.setMaximumWidth(150)
        self.batch_progress.setMinimumWidth(60)
        self.batch_progress.setVisible(False)
        self.cancel_batch_button = QPushButton("Cancel")
        self.cancel_batch_button.setObjectName("cancelBatchButton")
        self.cancel_batch_button.setToolTip("Stop classifying the remaining images")
        self.cancel_batch_button.setVisible(False)
        self.rerun_button = QPushButton("Classify again")
        self.rerun_button.setObjectName("rerunButton")
        self.rerun_button.setToolTip("Classify every image in the table with the current model")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip("Remove every image from the table")
        self.export_button = QPushButton("Export report...")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip(
            "Save a PNG of each marked image with its top-5 (the seed's report figure)"
        )
        for button in (
            self.cancel_batch_button,
            self.rerun_button,
            self.clear_button,
            self.export_button,
        ):
            # Buttons as narrow as their text: the tab fits a 700-pixel window.
            button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 18)
        batch_bar = QHBoxLayout()
        batch_bar.addWidget(self.batch_label, 1)
        batch_bar.addWidget(self.batch_progress)
        batch_bar.addWidget(self.cancel_batch_button)
        batch_bar.addWidget(self.rerun_button)
        batch_bar.addWidget(self.clear_button)
        batch_bar.addWidget(self.export_button)
        images = QGroupBox("Images")
        images_layout = QVBoxLayout(images)
        images_layout.setContentsMargins(8, 6, 8, 6)
        images_layout.addLayout(batch_bar)
        images_layout.addWidget(self.table, 1)

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(seen)
        right.addWidget(images)
        right.setStretchFactor(0, 0)
        right.setStretchFactor(1, 1)
        right.setChildrenCollapsible(False)
        right.setSizes([240, 420])

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("classifySplitter")
        self.splitter.addWidget(photo_box)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 6)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([560, 700])

        # -- recent ----------------------------------------------------------------------
        self.recent = RecentStrip()
        recent_caption = QLabel("Recent")
        recent_caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        recent_row = QHBoxLayout()
        recent_row.addWidget(recent_caption)
        recent_row.addWidget(self.recent, 1)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.addWidget(self.model_picker)
        layout.addWidget(line)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(recent_row)

    def _build_actions(self) -> None:
        def action(text: str, slot, shortcut: QKeySequence | str | None = None) -> QAction:
            act = QAction(text, self)
            if shortcut is not None:
                act.setShortcut(QKeySequence(shortcut))
            act.triggered.connect(slot)
            return act

        self.open_action = action(
            "&Open Images...", self.open_images, QKeySequence.StandardKey.Open
        )
        self.open_folder_action = action("Open &Folder...", self.open_folder, "Ctrl+Shift+O")
        self.export_action = action("&Export Report Figures...", self.export_report, "Ctrl+E")
        self.weights_action = action(
            "Load &Weights File...", lambda: self._choose_weights(self.model_picker.chosen_name())
        )
        self.paste_action = action("&Paste Image", self.paste, QKeySequence.StandardKey.Paste)
        self.mark_reasonable_action = action(
            "Mark &Reasonable", lambda: self.set_mark(REASONABLE, toggle=True), "R"
        )
        self.mark_unreasonable_action = action(
            "Mark &Unreasonable", lambda: self.set_mark(UNREASONABLE, toggle=True), "U"
        )
        self.rerun_action = action("Classify All &Again", self.classify_again)
        self.clear_action = action("&Clear Images", self.clear_images)
        self.heat_action = QAction("Show &Heat-map", self, checkable=True)
        self.heat_action.setShortcut(QKeySequence("H"))
        self.heat_action.toggled.connect(self.heat_toggle.setChecked)
        # Single-key shortcuts must not fire while the class combo is being typed in;
        # the menu bar owns them only while this tab is current.
        for act in (self.mark_reasonable_action, self.mark_unreasonable_action, self.heat_action):
            act.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(act)

    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.open_action,
                self.open_folder_action,
                None,
                self.weights_action,
                None,
                self.export_action,
            ]
        if menu == "Edit":
            return [
                self.paste_action,
                None,
                self.mark_reasonable_action,
                self.mark_unreasonable_action,
                None,
                self.rerun_action,
                self.clear_action,
            ]
        if menu == "View":
            return [self.heat_action]
        return []

    def _connect(self) -> None:
        self.model_picker.model_chosen.connect(lambda name: self.load_model(name))
        self.model_picker.download_requested.connect(lambda name: self.load_model(name))
        self.model_picker.weights_requested.connect(self._choose_weights)
        self.model_picker.cancel_requested.connect(self.cancel_load)
        self.chart.class_clicked.connect(self._on_bar_clicked)
        self.heat_toggle.toggled.connect(self._on_heat_toggled)
        self.class_combo.activated.connect(self._on_class_activated)
        self.opacity_slider.valueChanged.connect(self._on_opacity)
        self.reasonable_button.clicked.connect(lambda: self.set_mark(REASONABLE, toggle=True))
        self.unreasonable_button.clicked.connect(lambda: self.set_mark(UNREASONABLE, toggle=True))
        self.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        self.table.clicked.connect(lambda index: self._on_row_changed(index, QModelIndex()))
        self.cancel_batch_button.clicked.connect(self.cancel_batch)
        self.rerun_button.clicked.connect(self.classify_again)
        self.clear_button.clicked.connect(self.clear_images)
        self.export_button.clicked.connect(self.export_report)
        self.recent.path_clicked.connect(lambda path: self.open_paths([path]))

    # == AppTab ==========================================================================
    def accepts_path(self, path: Path) -> bool:
        from nets.images import is_image_path

        return path.is_dir() or is_image_path(path)

    def open_paths(self, paths: list[Path]) -> None:
        """Classify dropped or opened files and folders; the first becomes current."""
        paths = [Path(p) for p in paths]
        if not paths:
            return
        self._select_first_found = True
        self._submit(paths)

    def shutdown(self) -> None:
        for worker in self._workers():
            worker.cancel()
        self._save_recent()

    def prepare_screenshot(self) -> None:
        """Wait (up to a minute) for the open images, then show the top-1 heat-map."""
        self.wait_idle(60_000)
        if self._detail is not None:
            self.heat_toggle.setChecked(True)
            self.wait_idle(30_000)

    def showEvent(self, event: QShowEvent) -> None:  # noqa: N802 - Qt override
        super().showEvent(event)
        if not self._recent_thumbs_loaded:
            self._recent_thumbs_loaded = True
            QTimer.singleShot(0, self._load_recent_thumbnails)
            if self.warm_up_delay_ms is not None:
                QTimer.singleShot(self.warm_up_delay_ms, self._warm_up)

    def _warm_up(self) -> None:
        # Importing torch holds the GIL for a few hundred milliseconds, which freezes the
        # GUI. Doing it once the tab is on screen, before anything is dropped, keeps that
        # pause away from the drop and the progressive results that follow it.
        if self.isVisible():
            self._ensure_model()

    # == drops, files, clipboard =========================================================
    def dragEnterEvent(self, event: QDragEnterEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        if (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or mime.hasImage():
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:  # noqa: N802 - Qt override
        mime = event.mimeData()
        paths = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            # Every dropped file goes in, whatever its name: the content decides, and a
            # file that is not an image gets its own row with the reason.
            QTimer.singleShot(0, lambda: self.open_paths(paths))
        elif mime.hasImage():
            event.acceptProposedAction()
            image = QImage(mime.imageData())
            QTimer.singleShot(0, lambda: self.classify_qimage(image, "dropped image"))
        else:
            event.ignore()

    def _ask_open_paths(self) -> list[Path]:
        files, _ = QFileDialog.getOpenFileNames(
            self, "Open Images", self._last_folder(), _image_filter()
        )
        return [Path(f) for f in files]

    def _ask_open_folder(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(
            self, "Open Folder of Images", self._last_folder()
        )
        return Path(folder) if folder else None

    def _ask_export_dir(self) -> Path | None:
        folder = QFileDialog.getExistingDirectory(
            self, "Export Report Figures To", self._last_folder()
        )
        return Path(folder) if folder else None

    def _ask_weights_path(self, arch_title: str) -> Path | None:
        path, _ = QFileDialog.getOpenFileName(
            self,
            f"Weights File for {arch_title}",
            self._last_folder(),
            "PyTorch weights (*.pth *.pt *.bin *.ckpt);;All files (*)",
        )
        return Path(path) if path else None

    def _last_folder(self) -> str:
        paths = self.recent.paths()
        return str(paths[0].parent) if paths else str(Path.home())

    def open_images(self) -> None:
        paths = self._ask_open_paths()
        if paths:
            self.open_paths(paths)

    def open_folder(self) -> None:
        folder = self._ask_open_folder()
        if folder is not None:
            self.open_paths([folder])

    def paste(self) -> None:
        """Ctrl+V: an image on the clipboard, or copied image files."""
        mime = QGuiApplication.clipboard().mimeData()
        if mime is None:
            self.status_message.emit("The clipboard is empty", 5000)
            return
        files = [Path(u.toLocalFile()) for u in mime.urls() if u.isLocalFile()]
        if files:
            self.open_paths(files)
        elif mime.hasImage():
            self.classify_qimage(QImage(mime.imageData()), "pasted image")
        else:
            self.status_message.emit("The clipboard holds no image and no image files", 6000)

    def classify_qimage(self, image: QImage, what: str = "pasted image") -> None:
        """Classify an in-memory image (clipboard, dragged from a browser)."""
        if image.isNull():
            self.status_message.emit(f"The {what} is empty or unreadable", 6000)
            return
        self._paste_count += 1
        name = f"{what} {self._paste_count}.png"
        try:
            data = png_bytes(image)
        except OSError as exc:
            self.status_message.emit(f"Cannot use the {what}: {exc}", 8000)
            return
        source = jobs.Source(key=f"pasted:{self._paste_count}", name=name, data=data)
        self._add_sources([source])
        self._submit((source,))
        self._show(source)

    # == model ===========================================================================
    def _refresh_models(self) -> None:
        try:
            infos = backend.model_infos()
            default = backend.default_model_name()
        except Exception as exc:  # noqa: BLE001 - the tab still opens, and says why
            self.model_picker.set_status(f"Cannot list the models: {exc}")
            return
        self.model_picker.set_models(infos, self._model_name or default)
        if not self._model_name:
            info = self.model_picker.info(self.model_picker.chosen_name())
            if info is not None:
                self.model_picker.set_status(
                    f"{info.display_name}: {info.summary}. Loads on first use."
                )

    def load_model(self, name: str, weights: Path | None = None) -> None:
        """Make ``name`` (with the user's ``weights`` file, if given) the current model.

        Runs in a worker; a torchvision model that is not cached is downloaded first.
        """
        weights_str = str(weights) if weights is not None else None
        if self._model is not None and (name, weights_str) == (
            self._model_name,
            self._model_weights,
        ):
            return
        if self._load_worker is not None:
            if self._loading == (name, weights_str):
                return
            self._load_worker.cancel()
        self._loading = (name, weights_str)
        title = backend.display_name(name, weights)
        info = self.model_picker.info(name)
        verb = "Downloading" if info is not None and not info.available else "Loading"
        self.model_picker.set_busy(True, f"{verb} {title}...")
        worker = self.context.workers.start(jobs.load_job(name, weights_str), name="classify-load")
        self._load_worker = worker
        worker.item.connect(lambda item, w=worker: self._on_load_item(w, item))
        worker.failed.connect(
            lambda message, tb: self._report_failure("Loading the model failed", message, tb)
        )
        worker.done.connect(lambda status, w=worker: self._on_load_done(w, status))

    def cancel_load(self) -> None:
        if self._load_worker is not None:
            self._load_worker.cancel()
            self.model_picker.set_status("Cancelling...")

    def _ensure_model(self) -> None:
        if self._model is None and self._load_worker is None:
            name = self.model_picker.chosen_name() or backend.default_model_name()
            info = self.model_picker.info(name)
            if info is not None and not info.available:
                name = backend.default_model_name()
            self.load_model(name)

    def _on_load_item(self, worker: GeneratorWorker, item: Any) -> None:
        if worker is not self._load_worker:
            return
        if isinstance(item, jobs.LoadProgress):
            self.model_picker.set_progress(item.done, item.total, item.text)
        elif isinstance(item, jobs.LoadFailed):
            self._on_load_failed(item)
        elif isinstance(item, jobs.ModelLoaded):
            self._set_model(item.name, item.model, item.weights)

    def _on_load_failed(self, item: jobs.LoadFailed) -> None:
        title = backend.display_name(item.name)
        if item.cancelled:
            message = f"{title}: cancelled"
        else:
            message = item.message
            dialogs.show_error(self, "Model not loaded", message)
        self.status_message.emit(message, 10000)
        current = self._model_title or "no model loaded yet"
        self.model_picker.set_status(f"{message} \u2014 still using {current}", message)
        if self._model is None:
            self._waiting_requests.clear()
            self.table_model.mark_cancelled()
            self._batch_label_text()
            if self._current is not None:
                self.photo_view.set_placeholder(
                    f"No model to classify {self._current.name}:\n\n{message}\n\n"
                    "Choose another model above, then drop the photo again."
                )

    def _on_load_done(self, worker: GeneratorWorker, status: str) -> None:
        if worker is not self._load_worker:
            return
        self._load_worker = None
        self._loading = None
        if worker.token.is_set():
            status = "cancelled"  # the generator may have returned on its own first
        self.model_picker.set_busy(False)
        self._refresh_models()
        if status == "cancelled":
            current = self._model_title or "no model loaded yet"
            self.model_picker.set_status(f"Loading cancelled \u2014 still using {current}")
        self._update_enabled()

    def _set_model(self, name: str, model: Any, weights: str | None) -> None:
        self._model = model
        self._model_name = name
        self._model_weights = weights
        self._model_title = backend.display_name(name, weights)
        self._heat_cache.clear()
        self.model_picker.choose(name)
        summary = ""
        info = self.model_picker.info(name)
        if info is not None:
            summary = f" \u00b7 {info.summary}"
        self.model_picker.set_status(f"{self._model_title} ready{summary}")
        size = getattr(getattr(model, "preprocessing", None), "crop", 224)
        self.input_caption.setText(f"Model input ({size} \u00d7 {size})")
        self.status_message.emit(f"{self._model_title} ready", 4000)
        for request in self._waiting_requests:
            self._requests.put(request)
        self._waiting_requests.clear()
        self._start_batch()
        if self._current is not None:
            self._start_detail(self._current)
        self.model_ready.emit(name)

    def set_model(self, name: str, model: Any, weights: str | None = None) -> None:
        """Use an already loaded ``model`` (tests, benchmarks); same as a finished load."""
        self._set_model(name, model, weights)
        self._update_enabled()

    def _choose_weights(self, arch: str) -> None:
        if not arch:
            return
        path = self._ask_weights_path(backend.display_name(arch))
        if path is not None:
            self.load_model(arch, path)

    # == batches =========================================================================
    def _submit(self, request: list[Path] | tuple[jobs.Source, ...]) -> None:
        if self._model is None:
            self._waiting_requests.append(request)
            self._ensure_model()
            self._batch_label_text()
            return
        self._requests.put(request)
        self._start_batch()

    def _start_batch(self) -> None:
        if self._model is None or self._batch_worker is not None or self._requests.empty():
            return
        factory = jobs.batch_job(self._requests, self._model, self._model_title, TOPK)
        worker = self.context.workers.start(factory, name="classify-batch")
        self._batch_worker = worker
        worker.item.connect(self._on_batch_item)
        worker.failed.connect(
            lambda message, tb: self._report_failure("Classifying failed", message, tb)
        )
        worker.done.connect(lambda status, w=worker: self._on_batch_done(w, status))
        self._update_enabled()

    def cancel_batch(self) -> None:
        while not self._requests.empty():
            try:
                self._requests.get_nowait()
            except queue.Empty:
                break
        self._waiting_requests.clear()
        if self._batch_worker is not None:
            self._batch_worker.cancel()
        else:
            self._finish_cancel()

    def _finish_cancel(self) -> None:
        skipped = self.table_model.mark_cancelled()
        if skipped:
            self.status_message.emit(f"Cancelled: {_count(skipped, 'image')} not classified", 6000)
        self._batch_label_text()

    def _add_sources(self, sources: list[jobs.Source] | tuple[jobs.Source, ...]) -> None:
        rows = self.table_model.add_rows(
            [Row(key=s.key, name=s.name, path=s.path, data=s.data) for s in sources]
        )
        self._batch_total += len(rows)
        self._batch_label_text()

    def _on_batch_item(self, item: Any) -> None:
        if isinstance(item, jobs.Found):
            self._add_sources(item.sources)
            if self._select_first_found and item.sources:
                self._select_first_found = False
                self._show(item.sources[0])
        elif isinstance(item, jobs.Notice):
            self._batch_failed += 1
            self.status_message.emit(item.message, 8000)
            self.batch_label.setToolTip(item.message)
        elif isinstance(item, jobs.FileResult):
            thumb = None if item.thumb is None else QPixmap.fromImage(rgb_to_qimage(item.thumb))
            self.table_model.set_result(item.key, list(item.top), thumb, item.model)
            self._batch_done += 1
        elif isinstance(item, jobs.FileError):
            self.table_model.set_error(item.key, item.message)
            self._batch_done += 1
            self._batch_failed += 1
            if self._current is not None and self._current.key == item.key:
                self._show_detail_error(item.message)
        self._batch_label_text()

    def _on_batch_done(self, worker: GeneratorWorker, status: str) -> None:
        if worker is not self._batch_worker:
            return
        self._batch_worker = None
        if worker.token.is_set() and status == "finished":
            status = "cancelled"  # the generator noticed the cancel first and returned
        if status == "cancelled":
            self._finish_cancel()
        elif not self._requests.empty():
            self._start_batch()  # a drop arrived while the worker was finishing
        if self._batch_worker is None:
            failed = self._batch_failed
            self.status_message.emit(
                f"Classified {_count(self._batch_done, 'image')}"
                + (f", {failed} could not be read" if failed else ""),
                6000,
            )
            self._batch_total = self._batch_done = self._batch_failed = 0
            self._batch_label_text()
            self.batch_done.emit(status)
        self._update_enabled()

    def _batch_label_text(self) -> None:
        rows = self.table_model.rowCount()
        busy = self._batch_worker is not None or bool(self._waiting_requests)
        self.batch_progress.setVisible(busy and self._batch_total > 0)
        self.cancel_batch_button.setVisible(busy)
        # While busy, Cancel and the progress take the place of the idle-only buttons.
        self.rerun_button.setVisible(not busy)
        self.clear_button.setVisible(not busy)
        if busy and self._batch_total:
            self.batch_progress.setRange(0, self._batch_total)
            self.batch_progress.setValue(self._batch_done)
            self.batch_progress.setFormat(f"{self._batch_done} / {self._batch_total}")
            text = f"Classifying {self._batch_done} of {self._batch_total}"
            if self._batch_failed:
                text += f" \u00b7 {self._batch_failed} failed"
        elif busy:
            text = "Loading the model..." if self._model is None else "Looking for images..."
        elif rows:
            done = self.table_model.count(DONE)
            failed = self.table_model.count("error")
            text = f"{_count(rows, 'image')} \u00b7 {done} classified"
            if failed:
                text += f" \u00b7 {failed} could not be read"
            marked = sum(1 for r in self.table_model.rows() if r.mark)
            if marked:
                text += f" \u00b7 {marked} marked"
        else:
            text = "No images yet: drop photos or a folder on the window"
        self.batch_label.setText(text)

    def classify_again(self) -> None:
        """Classify every image of the table again (e.g. with another model)."""
        rows = self.table_model.rows()
        if not rows:
            return
        sources = tuple(jobs.Source(r.key, r.name, r.path, r.data) for r in rows)
        self._add_sources(sources)
        self._submit(sources)
        if self._current is not None and self._model is not None:
            self._start_detail(self._current)

    def clear_images(self) -> None:
        self.cancel_batch()
        self.table_model.clear()
        self._batch_total = self._batch_done = self._batch_failed = 0
        self._current = None
        self._detail = None
        self._heat_cache.clear()
        self.photo_view.set_image(None)
        self.photo_view.set_placeholder(PLACEHOLDER)
        self.input_view.set_image(None)
        self.chart.clear()
        self.name_label.setText("No image")
        self._batch_label_text()
        self._update_enabled()

    # == the current image ===============================================================
    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.table_model.row(current.row())
        self._show(jobs.Source(row.key, row.name, row.path, row.data))

    def _show(self, source: jobs.Source) -> None:
        """Make ``source`` the current image and compute its detail (chart, input)."""
        if self._current is not None and self._current.key == source.key:
            if self._detail is not None and self._detail.key == source.key:
                return
            if self._detail_worker is not None:
                return
        self._current = source
        self._detail = None
        self._detail_error = ""
        self.name_label.setText(source.name)
        self.name_label.setToolTip(str(source.path) if source.path else source.name)
        self._select_row(source.key)
        self._sync_mark_buttons()
        if self._model is None:
            self.photo_view.set_placeholder(f"Loading the model for {source.name}...")
            self._ensure_model()
            return
        self._start_detail(source)

    def _select_row(self, key: str) -> None:
        number = self.table_model.find(key)
        if number < 0:
            return
        selection = self.table.selectionModel()
        if selection.currentIndex().row() == number:
            return
        selection.blockSignals(True)
        selection.setCurrentIndex(
            self.table_model.index(number, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        selection.blockSignals(False)
        self.table.viewport().update()
        self.table.scrollTo(self.table_model.index(number, 0))

    def _start_detail(self, source: jobs.Source) -> None:
        if self._detail_worker is not None:
            self._detail_worker.cancel()
        self.photo_view.set_placeholder(f"Classifying {source.name}...")
        factory = jobs.detail_job(source, self._model, self._model_title, TOPK)
        worker = self.context.workers.start(factory, name="classify-detail")
        self._detail_worker = worker
        worker.item.connect(lambda item, w=worker: self._on_detail_item(w, item))
        worker.failed.connect(
            lambda message, tb: self._report_failure("Classifying failed", message, tb)
        )
        worker.done.connect(lambda _status, w=worker: self._on_detail_done(w))

    def _on_detail_done(self, worker: GeneratorWorker) -> None:
        if worker is self._detail_worker:
            self._detail_worker = None
            self._update_enabled()

    def _on_detail_item(self, worker: GeneratorWorker, item: Any) -> None:
        if worker is not self._detail_worker or self._current is None:
            return
        if item.key != self._current.key:
            return
        if isinstance(item, jobs.FileError):
            self._show_detail_error(item.message)
            return
        detail: jobs.Detail = item
        self._detail = detail
        self.photo_view.set_image(rgb_to_qimage(detail.photo))
        if detail.crop_box is not None:
            left, top, right, bottom = detail.crop_box
            self.photo_view.set_crop_box(QRectF(left, top, right - left, bottom - top))
        else:
            self.photo_view.set_crop_box(None)
        self.input_view.set_image(rgb_to_qimage(detail.model_input))
        width, height = detail.photo_size
        self.name_label.setText(f"{self._current.name}   ({width} \u00d7 {height})")
        self.chart.set_predictions(list(detail.top))
        top1 = detail.top[0][0] if detail.top else None
        self.chart.set_selected(top1)
        self._fill_class_combo(list(detail.top), top1)
        if self._current.path is not None:
            self._push_recent(self._current.path, detail.photo)
        self._update_enabled()
        if self.heat_toggle.isChecked():
            self._request_heat()
        self.detail_shown.emit(detail.key)

    def _show_detail_error(self, message: str) -> None:
        self._detail = None
        self._detail_error = message
        self.photo_view.set_image(None)
        self.photo_view.set_placeholder(f"Cannot classify this file:\n\n{message}")
        self.input_view.set_image(None)
        self.chart.clear()
        self.chart.set_placeholder("No prediction")
        self.status_message.emit(message, 8000)
        self._update_enabled()

    def current_key(self) -> str | None:
        return self._current.key if self._current is not None else None

    def current_detail(self) -> jobs.Detail | None:
        return self._detail

    # == heat-map ========================================================================
    def _labels_list(self) -> tuple[str, ...]:
        if self._labels is None:
            try:
                self._labels = tuple(getattr(self._model, "labels", None) or ()) or (
                    backend.class_labels()
                )
            except Exception:  # noqa: BLE001 - the combo then lists the top-5 only
                self._labels = ()
        return self._labels

    def _fill_class_combo(self, top: list[tuple[int, str, float]], selected: int | None) -> None:
        combo = self.class_combo
        combo.blockSignals(True)
        combo.clear()
        for index, label, prob in top:
            combo.addItem(f"{label}  ({prob * 100:.1f}%)", index)
        labels = self._labels_list()
        if labels:
            combo.insertSeparator(combo.count())
            for index, label in enumerate(labels):
                combo.addItem(f"{label}  [#{index}]", index)
        if selected is not None:
            combo.setCurrentIndex(max(combo.findData(selected), 0))
        combo.blockSignals(False)

    def selected_class(self) -> int | None:
        data = self.class_combo.currentData()
        return int(data) if data is not None else self.chart.selected()

    def choose_class(self, index: int) -> None:
        """Show the heat-map of ImageNet class ``index`` (turns the heat-map on)."""
        found = self.class_combo.findData(int(index))
        if found >= 0:
            self.class_combo.setCurrentIndex(found)
        in_chart = any(i == index for i, _l, _p in self.chart.predictions())
        self.chart.set_selected(index if in_chart else None)
        if not self.heat_toggle.isChecked():
            self.heat_toggle.setChecked(True)  # requests the heat-map
        else:
            self._request_heat()

    def _on_bar_clicked(self, index: int) -> None:
        self.choose_class(index)

    def _on_class_activated(self, _row: int) -> None:
        data = self.class_combo.currentData()
        if data is not None:
            self.choose_class(int(data))

    def _on_heat_toggled(self, on: bool) -> None:
        if self.heat_action.isChecked() != on:
            self.heat_action.setChecked(on)
        self.photo_view.set_heat_visible(on)
        if on:
            self._request_heat()

    def _on_opacity(self, value: int) -> None:
        self.opacity_slider.setToolTip(f"Heat-map opacity: {value}%")
        self.photo_view.set_opacity(value / 100.0)

    def _request_heat(self) -> None:
        detail = self._detail
        class_index = self.selected_class()
        if detail is None or class_index is None or self._model is None:
            return
        key = (detail.key, class_index)
        cached = self._heat_cache.get(key)
        if cached is not None:
            self.photo_view.set_heat(cached)
            self._heat_status(class_index)
            self.heat_shown.emit(*key)
            return
        self.photo_view.set_heat(None)
        if self._heat_pending == key and self._heat_worker is not None:
            return
        if self._heat_worker is not None:
            self._heat_worker.cancel()
        self._heat_pending = key
        height, width = detail.photo.shape[:2]
        factory = jobs.heat_job(detail.key, detail.image, self._model, class_index, (width, height))
        worker = self.context.workers.start(factory, name="classify-heat")
        self._heat_worker = worker
        label = self._labels_list()[class_index] if class_index < len(self._labels_list()) else ""
        self.status_message.emit(f"Computing the heat-map for {label or class_index}...", 3000)
        worker.item.connect(lambda item, w=worker: self._on_heat_item(w, item))
        worker.failed.connect(
            lambda message, tb: self._report_failure("Heat-map failed", message, tb)
        )
        worker.done.connect(lambda _status, w=worker: self._on_heat_done(w))

    def _on_heat_item(self, worker: GeneratorWorker, item: Any) -> None:
        if isinstance(item, jobs.FileError):
            self.status_message.emit(item.message, 8000)
            return
        heat: jobs.Heat = item
        image = heat_to_qimage(heat.heat)
        self._heat_cache[(heat.key, heat.class_index)] = image
        if len(self._heat_cache) > 64:
            self._heat_cache.pop(next(iter(self._heat_cache)))
        if worker is not self._heat_worker:
            return
        detail = self._detail
        if detail is not None and (detail.key, self.selected_class()) == (
            heat.key,
            heat.class_index,
        ):
            self.photo_view.set_heat(image)
            self._heat_status(heat.class_index)
            self.heat_shown.emit(heat.key, heat.class_index)

    def _heat_status(self, class_index: int) -> None:
        labels = self._labels_list()
        label = labels[class_index] if 0 <= class_index < len(labels) else f"#{class_index}"
        self.status_message.emit(
            f"Heat-map for \u201c{label}\u201d: red regions raised its score the most "
            "(dashed box: the crop the model saw)",
            8000,
        )

    def _on_heat_done(self, worker: GeneratorWorker) -> None:
        if worker is self._heat_worker:
            self._heat_worker = None
            self._heat_pending = None
            self._update_enabled()

    # == marks and the report ============================================================
    def set_mark(self, mark: str | None, toggle: bool = False) -> None:
        """Mark the current image "reasonable" / "unreasonable" (None clears it)."""
        if self._current is None or self.table_model.find(self._current.key) < 0:
            self._sync_mark_buttons()
            return
        row = self.table_model.row_for(self._current.key)
        if toggle and row is not None and row.mark == mark:
            mark = None
        self.table_model.set_mark(self._current.key, mark)
        self._sync_mark_buttons()
        self._batch_label_text()
        self._update_enabled()

    def _sync_mark_buttons(self) -> None:
        row = self.table_model.row_for(self._current.key) if self._current else None
        mark = row.mark if row is not None else None
        self.reasonable_button.setChecked(mark == REASONABLE)
        self.unreasonable_button.setChecked(mark == UNREASONABLE)

    def marked_rows(self) -> list[Row]:
        return [r for r in self.table_model.rows() if r.mark and r.status == DONE]

    def export_report(self) -> None:
        """Write one PNG per marked image (photo + top-5) into a folder the user picks."""
        rows = self.marked_rows()
        if not rows:
            dialogs.show_error(
                self,
                "Nothing to export",
                "Mark at least one classified image as Reasonable or Unreasonable first "
                "(buttons above the photo, or the R and U keys).",
            )
            return
        if self._report_worker is not None:
            return
        folder = self._ask_export_dir()
        if folder is None:
            return
        if not folder.is_dir():
            dialogs.show_error(self, "Export failed", f"{folder} is not a folder")
            return
        by_key = {r.key: r for r in rows}
        sources = [jobs.Source(r.key, r.name, r.path, r.data) for r in rows]
        written: list[Path] = []
        problems: list[str] = []
        taken: set[str] = set()

        def on_item(item: Any) -> None:
            if isinstance(item, jobs.FileError):
                problems.append(item.message)
                return
            row = by_key[item.key]
            target = folder / figure_name(row.name, row.mark or "", taken)
            try:
                figure = render_report(
                    item.photo, row.top, row.mark or "", row.name, row.model or self._model_title
                )
                atomic_write_bytes(target, png_bytes(figure))
                written.append(target)
            except OSError as exc:
                problems.append(f"cannot write {target}: {exc.strerror or exc}")

        def on_done(_status: str) -> None:
            self._report_worker = None
            self._update_enabled()
            if written:
                figures = _count(len(written), "report figure")
                self.status_message.emit(f"Wrote {figures} to {folder}", 10000)
            if problems:
                dialogs.show_error(
                    self,
                    "Some figures were not written",
                    f"{len(problems)} of {len(rows)} figures could not be written.",
                    "\n".join(problems),
                )
            self.report_exported.emit(written)

        worker = self.context.workers.start(jobs.report_job(sources), name="classify-report")
        self._report_worker = worker
        worker.item.connect(on_item)
        worker.failed.connect(
            lambda message, tb: self._report_failure("Export failed", message, tb)
        )
        worker.done.connect(on_done)
        self._update_enabled()

    # == recent images ===================================================================
    def _load_recent(self) -> None:
        value = self.context.settings.value(RECENT_KEY, [])
        if isinstance(value, str):
            value = [value]
        paths = [Path(v) for v in (value or []) if isinstance(v, str) and v]
        self.recent.set_paths([p for p in paths if p.is_file()][:MAX_RECENT])

    def _save_recent(self) -> None:
        if self.persist_recent:
            self.context.settings.setValue(RECENT_KEY, [str(p) for p in self.recent.paths()])

    def _push_recent(self, path: Path, photo) -> None:
        self.recent.push(path)
        small = rgb_to_qimage(photo).scaled(
            120,
            120,
            Qt.AspectRatioMode.KeepAspectRatio,
            Qt.TransformationMode.SmoothTransformation,
        )
        self.recent.set_thumbnail(path, QPixmap.fromImage(small))
        self._save_recent()

    def _load_recent_thumbnails(self) -> None:
        missing = self.recent.missing_thumbnails()
        if not missing or self._thumb_worker is not None:
            return
        worker = self.context.workers.start(jobs.thumbnails_job(missing), name="classify-thumbs")
        self._thumb_worker = worker
        worker.item.connect(
            lambda item: self.recent.set_thumbnail(
                item.path, QPixmap.fromImage(rgb_to_qimage(item.thumb))
            )
        )
        worker.done.connect(lambda _status: setattr(self, "_thumb_worker", None))

    # == state ===========================================================================
    def _workers(self) -> list[GeneratorWorker]:
        return [
            w
            for w in (
                self._load_worker,
                self._batch_worker,
                self._detail_worker,
                self._heat_worker,
                self._report_worker,
                self._thumb_worker,
            )
            if w is not None
        ]

    def is_idle(self) -> bool:
        """No load, batch, detail, heat-map or export running."""
        return not self._workers() and not self._waiting_requests

    def wait_idle(self, timeout_ms: int = 30_000) -> bool:
        """Run the event loop until the tab is idle (screenshots, scripts); True if it is."""
        loop = QEventLoop()
        timer = QTimer()
        timer.setInterval(20)
        timer.timeout.connect(lambda: loop.quit() if self.is_idle() else None)
        deadline = QTimer()
        deadline.setSingleShot(True)
        deadline.timeout.connect(loop.quit)
        timer.start()
        deadline.start(timeout_ms)
        if not self.is_idle():
            loop.exec()
        timer.stop()
        deadline.stop()
        return self.is_idle()

    def _update_enabled(self) -> None:
        has_detail = self._detail is not None
        in_table = self._current is not None and self.table_model.find(self._current.key) >= 0
        self.reasonable_button.setEnabled(has_detail and in_table)
        self.unreasonable_button.setEnabled(has_detail and in_table)
        self.mark_reasonable_action.setEnabled(has_detail and in_table)
        self.mark_unreasonable_action.setEnabled(has_detail and in_table)
        self.class_combo.setEnabled(has_detail)
        has_rows = self.table_model.rowCount() > 0
        self.export_button.setEnabled(bool(self.marked_rows()) and self._report_worker is None)
        self.export_action.setEnabled(self.export_button.isEnabled())
        idle_batch = self._batch_worker is None
        self.rerun_button.setEnabled(has_rows and idle_batch)
        self.rerun_action.setEnabled(has_rows and idle_batch)
        self.clear_button.setEnabled(has_rows)
        self.clear_action.setEnabled(has_rows)
        self._batch_label_text()

    def _report_failure(self, title: str, message: str, traceback_text: str) -> None:
        """An unexpected error in a worker: the message, with the traceback as detail."""
        self.status_message.emit(f"{title}: {message}", 10000)
        dialogs.show_error(self, title, message, traceback_text)
