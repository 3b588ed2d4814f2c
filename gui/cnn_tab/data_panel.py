"""The data settings: Fashion-MNIST (default) or an image folder, and the train/validation
split (sizes and seed). Nothing is loaded here: the panel only probes (cheaply, off the
GUI thread) whether the data is there and what it holds; training loads it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QWidget,
)

from gui import file_dialogs
from gui.choices import choice_combo
from gui.cnn_tab.fields import NumberField
from gui.tab_base import AppContext

# At start-up, not in the probe's worker: the tab's first probe then answers before the
# window's first frame (nets.data imports no numpy; only loading a dataset does).
from nets.data import probe_dataset

FASHION = "fashion-mnist"
FOLDER = "folder"
FASHION_SHAPE = (1, 28, 28)
FASHION_CLASSES = 10
FASHION_TRAIN_TOTAL = 60_000


@dataclass(frozen=True)
class DataChoice:
    """What to train on. ``num_train`` None means "all that the split leaves"."""

    spec: str
    num_train: int | None
    num_val: int
    seed: int
    image_size: int

    def load_key(self) -> tuple:
        """Two choices with the same key load the same arrays (before subsetting train)."""
        return (self.spec, self.num_val, self.seed, self.image_size)


class DataPanel(QWidget):
    """Signals: ``changed`` on any edit; ``probed`` when the shape/classes are known."""

    changed = Signal()
    probed = Signal()
    download_requested = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)

        self.kind_combo = choice_combo(
            "cnnDataKind",
            [("Fashion-MNIST", FASHION), ("Image folder (DIR/train/<class>/...)", FOLDER)],
            "Fashion-MNIST: 28x28 grey clothes images, 10 classes (Debian's package or a "
            "folder with the IDX files). Image folder: any DIR/train/<class>/<images>, "
            "optionally with DIR/test/<class>/.",
        )
        form.addRow("Dataset:", self.kind_combo)

        row = QHBoxLayout()
        self.path_edit = QLineEdit()
        self.path_edit.setObjectName("cnnDataPath")
        self.path_edit.setPlaceholderText("default location")
        self.browse_button = QPushButton("Browse…")
        self.browse_button.clicked.connect(self._browse)
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        form.addRow("Folder:", row)

        self.status_label = QLabel()
        self.status_label.setObjectName("cnnDataStatus")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("cnnDownload")
        self.download_button.setToolTip("Download the dataset into the app's data folder")
        self.download_button.hide()
        self.download_button.clicked.connect(self.download_requested)
        status_row = QHBoxLayout()
        status_row.addWidget(self.status_label, 1)
        status_row.addWidget(self.download_button)
        form.addRow(status_row)

        self.train_field = NumberField(
            "Train size",
            50_000,
            integer=True,
            minimum=1,
            tooltip="Training images used (taken from what the split leaves, same seed)",
        )
        self.val_field = NumberField(
            "Validation size",
            10_000,
            integer=True,
            minimum=0,
            tooltip="Images carved out of the training set for validation (stratified)",
        )
        self.seed_field = NumberField(
            "Split seed", 0, integer=True, minimum=0, maximum=2**31 - 1,
            tooltip="Seed of the train/validation split",
        )  # fmt: skip
        self.size_field = NumberField(
            "Image size",
            32,
            integer=True,
            minimum=8,
            maximum=256,
            tooltip="Folder images are centre-cropped and resized to this square size",
        )
        sizes = QHBoxLayout()
        for label, fld in (("train", self.train_field), ("val", self.val_field)):
            sizes.addWidget(QLabel(label))
            fld.setMaximumWidth(90)
            sizes.addWidget(fld)
        sizes.addStretch(1)
        form.addRow("Split:", sizes)
        extra = QHBoxLayout()
        self.seed_field.setMaximumWidth(90)
        self.size_field.setMaximumWidth(60)
        extra.addWidget(self.seed_field)
        self.size_label = QLabel("image size")
        extra.addWidget(self.size_label)
        extra.addWidget(self.size_field)
        extra.addStretch(1)
        form.addRow("Split seed:", extra)

        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(250)
        self._probe_timer.timeout.connect(self._probe)
        self._probe_worker = None
        self._probe_again = False
        self.info = None  # nets.data.DatasetInfo of the last probe
        self.probe_error = ""

        self.kind_combo.currentIndexChanged.connect(self._on_kind)
        self.path_edit.textChanged.connect(self._on_edit)
        for fld in (self.train_field, self.val_field, self.seed_field, self.size_field):
            fld.validity_changed.connect(self.changed)
        self._on_kind()

    # -- values ----------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return self.kind_combo.currentData()

    def spec_text(self) -> str:
        path = self.path_edit.text().strip()
        if self.kind == FOLDER:
            return f"folder:{path}" if path else ""
        return f"{FASHION}:{path}" if path else FASHION

    def set_spec(self, spec: str) -> None:
        """Show a spec such as ``folder:/data/x`` or ``fashion-mnist``."""
        name, _, path = spec.partition(":")
        self.kind_combo.setCurrentIndex(1 if name.strip().lower() == FOLDER else 0)
        self.path_edit.setText(path.strip())

    def errors(self) -> list[str]:
        errs = [f.error() for f in self._fields() if f.error()]
        if not errs:
            val, train = self.val_field.value(), self.train_field.value()
            total = self._total_train()
            if total is not None and val is not None and train is not None:
                if val >= total:
                    errs.append(
                        f"Validation size: {val:,} leaves no training images out of {total:,}"
                    )
                elif train > total - val:
                    errs.append(
                        f"Train size: at most {total - val:,} ({total:,} minus {val:,} "
                        "for validation)"
                    )
        if self.kind == FOLDER and not self.path_edit.text().strip():
            errs.append("Dataset: choose an image folder")
        elif self.probe_error:
            errs.append(f"Dataset: {self.probe_error}")
        elif self.kind == FOLDER and self.info is None:
            # Its classes decide the last layer: wait for the (quick) look at the folder.
            errs.append("Dataset: looking at the folder…")
        return errs

    def _fields(self) -> list[NumberField]:
        fields = [self.train_field, self.val_field, self.seed_field]
        if self.kind == FOLDER:
            fields.append(self.size_field)
        return fields

    def _total_train(self) -> int | None:
        info = self.info
        if info is not None and info.found and info.num_train:
            return int(info.num_train)
        return FASHION_TRAIN_TOTAL if self.kind == FASHION else None

    def choice(self) -> DataChoice:
        """The current choice; call only when ``errors()`` is empty."""
        total = self._total_train()
        num_val = int(self.val_field.value())
        num_train = int(self.train_field.value())
        # "All of it" is remembered as None so that the split alone decides.
        if total is not None and num_train >= total - num_val:
            num_train_opt = None
        else:
            num_train_opt = num_train
        return DataChoice(
            spec=self.spec_text(),
            num_train=num_train_opt,
            num_val=num_val,
            seed=int(self.seed_field.value()),
            image_size=int(self.size_field.value()) if self.kind == FOLDER else 28,
        )

    def input_shape(self) -> tuple[int, int, int]:
        if self.kind == FOLDER:
            size = self.size_field.value() or 32
            return (3, int(size), int(size))
        return FASHION_SHAPE

    def num_classes(self) -> int | None:
        if self.kind == FASHION:
            return FASHION_CLASSES
        info = self.info
        if info is not None and info.found and info.class_names:
            return len(info.class_names)
        return None

    def class_names(self) -> tuple[str, ...]:
        info = self.info
        return tuple(info.class_names) if info is not None else ()

    # -- probing ---------------------------------------------------------------------
    def _on_kind(self) -> None:
        folder = self.kind == FOLDER
        self.path_edit.setPlaceholderText(
            "a folder with train/<class>/ inside" if folder else "default location"
        )
        self.size_field.setVisible(folder)
        self.size_label.setVisible(folder)
        if folder:
            self.train_field.set_value(max(1, int(self.train_field.value() or 1)))
        self._on_edit()

    def _on_edit(self) -> None:
        self.info = None
        self.probe_error = ""
        self.download_button.hide()
        self.status_label.setText("Looking for the data…")
        self._probe_timer.start()
        self.changed.emit()

    def probe_now(self) -> None:
        """Probe at once (tests, start-up) instead of after the typing pause."""
        self._probe_timer.stop()
        self._probe()

    def _probe(self) -> None:
        spec = self.spec_text()
        if not spec:
            self.status_label.setText("Choose a folder laid out as DIR/train/<class>/<images>.")
            self.changed.emit()
            return
        if self._probe_worker is not None:
            self._probe_again = True
            return

        def factory(_token, spec=spec):
            yield (spec, probe_dataset(spec))

        worker = self._context.workers.start(factory, name="cnn-data-probe")
        self._probe_worker = worker
        worker.item.connect(self._on_probe_result)
        worker.failed.connect(self._on_probe_failed)
        worker.done.connect(self._on_probe_done)

    def _on_probe_result(self, item) -> None:
        spec, info = item
        if spec != self.spec_text():
            return  # the user typed on meanwhile; a new probe follows
        self.info = info
        self.probe_error = "" if info.found else (info.hint or info.description)
        if info.found:
            parts = [info.description]
            if info.num_train:
                parts.append(f"{info.num_train:,} training images")
            if info.num_test:
                parts.append(f"{info.num_test:,} test images")
            else:
                parts.append("no test split")
            self.status_label.setText("; ".join(parts))
            self.status_label.setStyleSheet("")
            if self.kind == FOLDER and info.num_train:
                # Offer a split that fits the folder: 10% validation, the rest train.
                val = max(1, info.num_train // 10)
                self.val_field.set_value(val)
                self.train_field.set_value(info.num_train - val)
        else:
            self.status_label.setText(self.probe_error)
            self.status_label.setStyleSheet("color: #b00020;")
            self.download_button.setVisible(bool(info.can_download))
        self.probed.emit()
        self.changed.emit()

    def _on_probe_failed(self, message: str, _tb: str) -> None:
        self.probe_error = message
        self.status_label.setText(message)
        self.status_label.setStyleSheet("color: #b00020;")
        self.changed.emit()

    def _on_probe_done(self, _status: str) -> None:
        self._probe_worker = None
        if self._probe_again:
            self._probe_again = False
            self._probe()

    def is_probing(self) -> bool:
        return self._probe_worker is not None or self._probe_timer.isActive()

    def _browse(self) -> None:
        path = self._ask_folder()
        if path is not None:
            self.path_edit.setText(str(path))

    def _ask_folder(self) -> Path | None:
        """The folder dialog (a method so tests can replace it)."""
        typed = Path(self.path_edit.text().strip()).expanduser()
        if self.path_edit.text().strip() and typed.is_dir():
            file_dialogs.remember(self._context.settings, "dataset", typed)
        return file_dialogs.open_folder(
            self, self._context.settings, "dataset", "Choose the dataset folder"
        )
