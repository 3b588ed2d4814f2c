"""The dataset picker: CIFAR-10, Fashion-MNIST or an image folder.

It probes the chosen dataset off the GUI thread and shows what was found and where;
"not found" offers a download (progress bar and Cancel) or "Choose folder...". An image
folder shows its classes and counts. ``load()`` reads the images in the worker layer and
emits ``dataset_ready``; every error ends in a message here, never a traceback.
"""

from __future__ import annotations

import html
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QMessageBox,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui import dialogs, file_dialogs
from gui.choices import choice_combo
from gui.jobs import Progress, Result, with_progress
from gui.tab_base import AppContext
from gui.worker import GeneratorWorker

# At start-up, not in the probe's worker: the tab's first probe then answers before the
# window's first frame (nets.data imports no numpy; only loading a dataset does).
from nets.data import probe_dataset

KINDS = (
    ("cifar10", "CIFAR-10"),
    ("fashion-mnist", "Fashion-MNIST"),
    ("folder", "Image folder"),
)
_SETTINGS_KEY = "mlp/data/{kind}"


def looks_like_image_folder(folder: Path) -> bool:
    """``folder/train/<class>/`` with at least one class folder (CIFAR's batches are files)."""
    train = folder / "train"
    try:
        return train.is_dir() and any(p.is_dir() for p in train.iterdir())
    except OSError:
        return False


def spec_for(kind: str, folder: Path | None) -> str | None:
    """The ``nets.data`` spec for a kind and a folder (None: an image folder needs one)."""
    if kind == "folder":
        return None if folder is None else f"folder:{folder}"
    return kind if folder is None else f"{kind}:{folder}"


class DatasetPanel(QWidget):
    """Signals: ``spec_changed(str)`` (""= none), ``info_changed()`` (after a probe),
    ``dataset_ready(object)`` (an ``ImageDataset``), ``busy_changed(bool)``,
    ``progress(done, total, message)`` while loading, ``message(text)`` for the status bar.

    ``spec()``, ``info`` (``DatasetInfo`` or None), ``dataset`` (loaded or None),
    ``set_source(kind, folder)``, ``load()``, ``download()``, ``cancel()``, ``is_busy()``.
    """

    spec_changed = Signal(str)
    info_changed = Signal()
    dataset_ready = Signal(object)
    load_failed = Signal(str)
    busy_changed = Signal(bool)
    progress = Signal(int, int, str)
    message = Signal(str)

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context
        self.info = None
        self.dataset = None
        self._dataset_spec: str | None = None
        self._folders: dict[str, Path | None] = {kind: None for kind, _ in KINDS}
        self._last_kind = KINDS[0][0]
        self._worker: GeneratorWorker | None = None
        self._job = ""
        self._probe_pending = False
        self._load_pending = False

        self.kind_combo = choice_combo(
            "datasetKind",
            ((title, kind) for kind, title in KINDS),
            "CIFAR-10 (32x32 colour, 10 classes), Fashion-MNIST (28x28 grey, 10 classes) "
            "or your own folder laid out as DIR/train/<class>/<images>",
        )
        self.where_label = QLabel()
        self.where_label.setObjectName("datasetWhere")
        self.where_label.setWordWrap(True)
        self.where_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.where_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.choose_button = QPushButton("Choose &folder...")
        self.choose_button.setObjectName("chooseFolder")
        self.choose_button.setToolTip("Pick the folder that holds the dataset")
        self.default_button = QPushButton("Default")
        self.default_button.setToolTip("Look in the standard places again")
        self.status_label = QLabel()
        self.status_label.setObjectName("datasetStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextFormat(Qt.TextFormat.RichText)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)

        self.classes = QTableWidget(0, 2)
        self.classes.setObjectName("classCounts")
        self.classes.setHorizontalHeaderLabels(["Class", "Images"])
        self.classes.verticalHeader().hide()
        self.classes.horizontalHeader().setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        self.classes.horizontalHeader().setSectionResizeMode(
            1, QHeaderView.ResizeMode.ResizeToContents
        )
        self.classes.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.classes.setMaximumHeight(130)
        self.classes.hide()

        self.download_button = QPushButton("&Download")
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip("Download the dataset with torchvision's URL and checksum")
        self.load_button = QPushButton("&Load")
        self.load_button.setObjectName("loadButton")
        self.load_button.setToolTip("Read the images now (Start also loads them when needed)")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("cancelData")
        self.bar = QProgressBar()
        self.bar.setObjectName("dataProgress")
        self.bar.setTextVisible(True)
        self.bar.hide()
        self.cancel_button.hide()

        where_row = QHBoxLayout()
        where_row.addWidget(self.choose_button)
        where_row.addWidget(self.default_button)
        where_row.addStretch(1)
        action_row = QHBoxLayout()
        action_row.addWidget(self.load_button)
        action_row.addWidget(self.download_button)
        action_row.addWidget(self.cancel_button)
        action_row.addStretch(1)
        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Dataset", self.kind_combo)
        form.addRow("Where", self.where_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(form)
        layout.addLayout(where_row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.classes)
        layout.addLayout(action_row)
        layout.addWidget(self.bar)

        self.kind_combo.currentIndexChanged.connect(self._on_kind_changed)
        self.choose_button.clicked.connect(self.choose_folder)
        self.default_button.clicked.connect(lambda: self.set_source(self.kind(), None))
        self.download_button.clicked.connect(self.download)
        self.load_button.clicked.connect(self.load)
        self.cancel_button.clicked.connect(self.cancel)
        self._restore()
        self._update_buttons()

    # -- state -----------------------------------------------------------------------
    def kind(self) -> str:
        return str(self.kind_combo.currentData())

    def folder(self) -> Path | None:
        return self._folders.get(self.kind())

    def spec(self) -> str | None:
        return spec_for(self.kind(), self.folder())

    def is_ready(self) -> bool:
        """A dataset was found (or is loaded) for the current spec."""
        return bool(self.spec()) and (
            self.dataset_is_current() or (self.info is not None and self.info.found)
        )

    def dataset_is_current(self) -> bool:
        return self.dataset is not None and self._dataset_spec == self.spec()

    def is_busy(self) -> bool:
        return self._worker is not None

    def not_ready_reason(self) -> str:
        if not self.spec():
            return "Choose an image folder first"
        if self._job == "probe" or (self.info is None and not self.dataset_is_current()):
            return "Looking for the dataset..."
        if not self.is_ready():
            return "The dataset was not found: download it or choose its folder"
        return ""

    def set_source(self, kind: str, folder: str | Path | None) -> None:
        """Select a dataset kind and (optionally) its folder, then probe it."""
        index = next((i for i, (k, _t) in enumerate(KINDS) if k == kind), None)
        if index is None:
            raise ValueError(f"unknown dataset kind {kind!r}")
        self._folders[kind] = Path(folder).expanduser() if folder else None
        self._remember(kind)
        if self.kind_combo.currentIndex() != index:
            self.kind_combo.setCurrentIndex(index)  # probes via _on_kind_changed
        else:
            self._on_source_changed()

    # -- actions ---------------------------------------------------------------------
    def choose_folder(self) -> None:
        folder = self._ask_folder()
        if not folder:
            return
        kind = self.kind()
        if kind != "folder" and looks_like_image_folder(Path(folder)):
            title = dict(KINDS)[kind]
            answer = dialogs.ask(
                self,
                "An image folder",
                f"{folder} is laid out as an image folder (train/<class>/ with pictures), "
                f"not as {title}'s files.\n\nUse it as an Image folder dataset?",
                QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No,
                QMessageBox.StandardButton.Yes,
            )
            if answer == QMessageBox.StandardButton.Yes:
                kind = "folder"
        self.set_source(kind, folder)

    def _ask_folder(self) -> str:
        """The folder dialog (tests monkeypatch this)."""
        start = self.folder() or file_dialogs.start_folder(self.context.settings, "dataset")
        folder = QFileDialog.getExistingDirectory(self, "Choose the dataset folder", str(start))
        if folder:
            file_dialogs.remember(self.context.settings, "dataset", folder)
        return folder

    def probe(self) -> None:
        spec = self.spec()
        self.info = None
        if spec is None:
            self._show_status("Choose a folder laid out as <i>DIR/train/&lt;class&gt;/</i>.")
            self.info_changed.emit()
            return
        if self._worker is not None:
            # A load or download is running: probe again when it ends.
            self._probe_pending = True
            return
        self._show_status("Looking for the dataset...")

        def factory(token):
            yield Result("probe", probe_dataset(spec))

        self._start("probe", factory)

    def download(self) -> None:
        spec = self.spec()
        if spec is None or self._worker is not None:
            return

        def factory(token):
            from nets.data import download_dataset

            yield from with_progress("download", download_dataset, token, spec=spec)

        self._show_status("Downloading...")
        self._start("download", factory)

    def load(self) -> bool:
        """Load the current dataset in the worker layer; False if that cannot start now
        (no spec, or a download or another load is running). A running probe is
        cancelled and the load starts when it has stopped."""
        spec = self.spec()
        if spec is None:
            return False
        if self._worker is not None:
            if self._job != "probe":
                return False
            self._load_pending = True
            self._probe_pending = False
            self._worker.cancel()
            return True

        def factory(token):
            from nets.data import load_dataset

            yield from with_progress("load", load_dataset, token, spec=spec)

        self._show_status(f"Loading {html.escape(spec)}...")
        self._start("load", factory)
        return True

    def cancel(self) -> None:
        self._load_pending = False
        if self._worker is not None:
            self._worker.cancel()

    def shutdown(self) -> None:
        self.cancel()

    # -- worker plumbing -------------------------------------------------------------
    def _start(self, job: str, factory) -> None:
        self._job = job
        worker = self.context.workers.start(factory, name=f"mlp-data-{job}")
        self._worker = worker
        spec = self.spec()
        worker.item.connect(lambda item, spec=spec: self._on_item(job, spec, item))
        worker.failed.connect(lambda message, _tb: self._on_failed(job, message))
        worker.done.connect(lambda status: self._on_done(job, status))
        if job != "probe":
            self.bar.setRange(0, 0)
            self.bar.setFormat("")
            self.bar.show()
            self.cancel_button.show()
        self._update_buttons()
        self.busy_changed.emit(True)

    def _on_item(self, job: str, spec: str | None, item) -> None:
        if isinstance(item, Progress):
            if item.total > 0:
                self.bar.setRange(0, 1000)
                self.bar.setValue(int(1000 * min(1.0, item.done / item.total)))
                self.bar.setFormat(f"{item.message}  %p%")
            else:
                self.bar.setRange(0, 0)
            self.bar.setToolTip(item.message)
            self.progress.emit(item.done, item.total, item.message)
        elif isinstance(item, Result) and spec == self.spec():
            if item.stage == "probe":
                self.info = item.value
                self._show_info()
                self.info_changed.emit()
            elif item.stage == "load":
                self.dataset = item.value
                self._dataset_spec = spec
                self._show_dataset()
                self.message.emit(f"Loaded {self.dataset.describe()}")
                self.dataset_ready.emit(self.dataset)
            elif item.stage == "download":
                self.message.emit("Download finished")
                self._probe_pending = True

    def _on_failed(self, job: str, message: str) -> None:
        what = {"probe": "Looking for", "download": "Downloading", "load": "Loading"}[job]
        self._show_status(
            f'<span style="color:#c0392b"><b>{what} the dataset failed:</b> '
            f"{html.escape(message)}</span>"
        )
        self.message.emit(f"{what} the dataset failed: {message}")
        if job == "load":
            self.load_failed.emit(message)

    def _on_done(self, job: str, status: str) -> None:
        self._worker = None
        self._job = ""
        self.bar.hide()
        self.cancel_button.hide()
        if status == "cancelled" and job != "probe":
            self._show_status(f"{'Download' if job == 'download' else 'Loading'} cancelled.")
            self.message.emit(f"{job.capitalize()} cancelled")
            if job == "load":
                self.load_failed.emit("cancelled")
        self._update_buttons()
        if self._load_pending:
            self._load_pending = False
            self.load()  # emits busy_changed(True) itself
            return
        self.busy_changed.emit(False)
        if self._probe_pending:
            self._probe_pending = False
            self.probe()
        elif job == "probe" and status != "finished":
            self.info_changed.emit()

    # -- display ---------------------------------------------------------------------
    def _on_kind_changed(self, _index: int) -> None:
        # A folder chosen for the previous kind comes along when the new kind has none:
        # switching the combo must not forget it.
        previous = self._folders.get(self._last_kind)
        if self.folder() is None and previous is not None:
            self._folders[self.kind()] = previous
            self._remember(self.kind())
        self._last_kind = self.kind()
        self._on_source_changed()

    def _on_source_changed(self) -> None:
        folder = self.folder()
        if folder is not None:
            self.where_label.setText(str(folder))
        elif self.kind() == "folder":
            self.where_label.setText("(no folder chosen)")
        else:
            self.where_label.setText("standard locations")
        self.default_button.setVisible(self.kind() != "folder")
        self.classes.hide()
        self.spec_changed.emit(self.spec() or "")
        if self.dataset_is_current():
            self._show_dataset()
            self.info_changed.emit()
        else:
            self.probe()
        self._update_buttons()

    def _show_status(self, text: str) -> None:
        self.status_label.setText(text)

    def _show_info(self) -> None:
        info = self.info
        if info is None:
            return
        if info.found:
            parts = [f"<b>Found</b> in {html.escape(str(info.location))}"]
            counts = []
            if info.num_train is not None:
                counts.append(f"{info.num_train:,} training images")
            if info.num_test is not None:
                counts.append(f"{info.num_test:,} test images")
            elif info.kind == "folder":
                counts.append("no test/ split")
            if info.class_names:
                counts.append(f"{len(info.class_names)} classes")
            if counts:
                parts.append(", ".join(counts))
            self._show_status("<br>".join(parts))
        else:
            self._show_status(
                f'<span style="color:#c0392b"><b>Not found.</b></span> {html.escape(info.hint)}'
            )
        self._fill_classes(dict(info.class_counts))
        self._update_buttons()

    def _show_dataset(self) -> None:
        ds = self.dataset
        if ds is None:
            return
        text = f"<b>Loaded:</b> {html.escape(ds.describe())}"
        self._show_status(text)
        import numpy as np

        counts = np.bincount(ds.y_train, minlength=ds.num_classes) + np.bincount(
            ds.y_val, minlength=ds.num_classes
        )
        self._fill_classes({name: int(n) for name, n in zip(ds.class_names, counts, strict=True)})
        self._update_buttons()

    def _fill_classes(self, counts: dict[str, int]) -> None:
        self.classes.setRowCount(len(counts))
        for row, (name, n) in enumerate(counts.items()):
            self.classes.setItem(row, 0, QTableWidgetItem(name))
            item = QTableWidgetItem(f"{n:,}")
            item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.classes.setItem(row, 1, item)
        self.classes.setVisible(bool(counts))

    def _update_buttons(self) -> None:
        busy = self._worker is not None and self._job != "probe"
        info = self.info
        missing = info is not None and not info.found and not self.dataset_is_current()
        self.download_button.setVisible(bool(missing and info.can_download))
        self.download_button.setEnabled(not busy)
        self.load_button.setEnabled(not busy and self.is_ready() and not self.dataset_is_current())
        self.kind_combo.setEnabled(not busy)
        self.choose_button.setEnabled(not busy)
        self.default_button.setEnabled(not busy)

    # -- settings --------------------------------------------------------------------
    def _restore(self) -> None:
        settings = self.context.settings
        for kind, _title in KINDS:
            value = settings.value(_SETTINGS_KEY.format(kind=kind), "")
            if isinstance(value, str) and value:
                self._folders[kind] = Path(value)
        last = settings.value("mlp/data/kind", "cifar10")
        index = next((i for i, (k, _t) in enumerate(KINDS) if k == last), 0)
        self.kind_combo.blockSignals(True)
        self.kind_combo.setCurrentIndex(index)
        self.kind_combo.blockSignals(False)
        self._last_kind = self.kind()

    def start_probe(self) -> None:
        """The first probe, once the tab is built (keeps the constructor light); nothing
        to do if a source was set (and probed) meanwhile."""
        if self.info is None and self._worker is None and not self.dataset_is_current():
            self._on_source_changed()

    def _remember(self, kind: str) -> None:
        folder = self._folders.get(kind)
        self.context.settings.setValue(_SETTINGS_KEY.format(kind=kind), str(folder or ""))
        self.context.settings.setValue("mlp/data/kind", kind)
