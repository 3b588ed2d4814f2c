"""Where the Inspect view's input comes from: a validation image, a drawing or a file.

``InputPanel.input_changed(image, caption, label)`` carries a uint8 ``(H, W, C)`` image in
the model's input size, as the training data holds images, with a caption and the true
label (-1 when there is none).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PySide6.QtCore import (
    QAbstractListModel,
    QModelIndex,
    QPersistentModelIndex,
    QSettings,
    QSize,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QIcon, QPixmap
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QHBoxLayout,
    QLabel,
    QListView,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui import file_dialogs
from gui.cnn_tab.draw_canvas import DrawPanel
from gui.cnn_tab.maps_view import PictureView
from gui.training.images import to_qimage
from nets.cnn import pictures as pic
from nets.images import IMAGE_EXTENSIONS

IMAGE_FILTER = "Images (" + " ".join(f"*{e}" for e in sorted(IMAGE_EXTENSIONS)) + ")"
THUMB = 56


class ValidationModel(QAbstractListModel):
    """Validation images as thumbnails captioned with label and prediction; ``rows`` maps
    shown rows to image indices (all of them, or only the mistakes)."""

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.images: np.ndarray | None = None
        self.labels: np.ndarray | None = None
        self.predictions: np.ndarray | None = None
        self.names: tuple[str, ...] = ()
        self.rows = np.zeros(0, np.int64)
        self._icons: dict[int, QIcon] = {}

    def set_data(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        names: tuple[str, ...],
        predictions: np.ndarray | None,
        wrong_only: bool = False,
    ) -> None:
        self.beginResetModel()
        self.images, self.labels, self.names = images, np.asarray(labels), names
        self.predictions = None if predictions is None else np.asarray(predictions)
        if wrong_only and self.predictions is not None:
            self.rows = np.flatnonzero(self.predictions != self.labels)
        else:
            self.rows = np.arange(len(images))
        self._icons = {}
        self.endResetModel()

    def name(self, k: int) -> str:
        return self.names[k] if 0 <= k < len(self.names) else str(k)

    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self.rows)

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0) -> Any:
        if not index.isValid() or self.images is None:
            return None
        i = int(self.rows[index.row()])
        label = int(self.labels[i])
        pred = None if self.predictions is None else int(self.predictions[i])
        if role == Qt.ItemDataRole.DisplayRole:
            guess = "" if pred is None else f"\n→ {self.name(pred)}"
            return f"#{i} {self.name(label)}{guess}"
        if role == Qt.ItemDataRole.DecorationRole:
            icon = self._icons.get(i)
            if icon is None:
                factor = max(1, THUMB // max(self.images.shape[1:3]))
                qimage = to_qimage(pic.zoom(self.images[i], factor))
                icon = self._icons[i] = QIcon(QPixmap.fromImage(qimage))
            return icon
        if role == Qt.ItemDataRole.ForegroundRole and pred is not None and pred != label:
            return QBrush(QColor(200, 40, 40))
        if role == Qt.ItemDataRole.ToolTipRole:
            text = f"validation image {i}: label {self.name(label)}"
            if pred is not None:
                text += f", predicted {self.name(pred)}" + (" ✓" if pred == label else " ✗")
            return text
        return None


class ValidationBrowser(QWidget):
    """A scrolling grid of validation images; ``picked(index)`` when one is chosen."""

    picked = Signal(int)
    load_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = ValidationModel(self)
        self.view = QListView()
        self.view.setObjectName("validationGrid")
        self.view.setViewMode(QListView.ViewMode.IconMode)
        self.view.setResizeMode(QListView.ResizeMode.Adjust)
        self.view.setMovement(QListView.Movement.Static)
        self.view.setUniformItemSizes(True)
        self.view.setWordWrap(True)
        self.view.setIconSize(QSize(THUMB, THUMB))
        self.view.setGridSize(QSize(THUMB + 40, THUMB + 36))
        self.view.setModel(self.model)
        self.filter_combo = QComboBox()
        self.filter_combo.addItems(["All images", "Mistakes only"])
        self.goto_spin = QSpinBox()
        self.goto_spin.setPrefix("#")
        self.goto_spin.setToolTip("Show validation image number…")
        self.load_button = QPushButton("Load validation images")
        self.status = QLabel("No validation images yet.")
        self.status.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(self.filter_combo)
        row.addWidget(self.goto_spin)
        row.addStretch(1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.load_button)
        layout.addWidget(self.view, 1)
        self.view.selectionModel().currentChanged.connect(self._on_current)
        self.filter_combo.currentIndexChanged.connect(self._refilter)
        self.goto_spin.editingFinished.connect(lambda: self.show_index(self.goto_spin.value()))
        self.load_button.clicked.connect(self.load_requested)

    def set_data(
        self,
        images: np.ndarray,
        labels: np.ndarray,
        names: tuple[str, ...],
        predictions: np.ndarray | None,
    ) -> None:
        self._all = (images, labels, names, predictions)
        self._refilter()
        self.goto_spin.setRange(0, max(0, len(images) - 1))
        wrong = int((predictions != labels).sum()) if predictions is not None else 0
        acc = (
            f"; {len(images) - wrong:,} predicted right, {wrong:,} wrong"
            if predictions is not None
            else ""
        )
        self.status.setText(f"{len(images):,} validation images{acc}.")
        self.load_button.hide()

    def clear(self, message: str, can_load: bool) -> None:
        self.model.set_data(np.zeros((0, 1, 1, 1), np.uint8), np.zeros(0), (), None)
        self.status.setText(message)
        self.load_button.setVisible(can_load)

    def _refilter(self) -> None:
        if not hasattr(self, "_all"):
            return
        images, labels, names, predictions = self._all
        self.model.set_data(
            images, labels, names, predictions, self.filter_combo.currentIndex() == 1
        )

    def show_index(self, i: int) -> None:
        """Select validation image ``i`` (switching to "All images" if it is hidden)."""
        rows = np.flatnonzero(self.model.rows == i)
        if not len(rows) and self.filter_combo.currentIndex() != 0:
            self.filter_combo.setCurrentIndex(0)
            rows = np.flatnonzero(self.model.rows == i)
        if len(rows):
            index = self.model.index(int(rows[0]))
            self.view.setCurrentIndex(index)
            self.view.scrollTo(index)

    def _on_current(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if current.isValid():
            self.picked.emit(int(self.model.rows[current.row()]))


class FilePanel(QWidget):
    """Open an image file; shows the original beside what the model receives."""

    open_requested = Signal()
    invert_toggled = Signal(bool)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.open_button = QPushButton("Open image…")
        self.invert_check = QCheckBox("Invert (dark object on light background)")
        self.invert_check.setToolTip(
            "Fashion-MNIST shows light clothes on black; a photo usually has it the other way"
        )
        self.original = PictureView("original")
        self.converted = PictureView("what the model sees")
        self.note = QLabel("Converted like the training data: centre crop, resized, grey.")
        self.note.setWordWrap(True)
        pictures = QHBoxLayout()
        pictures.addWidget(self.original)
        pictures.addWidget(self.converted)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.open_button)
        layout.addWidget(self.invert_check)
        layout.addLayout(pictures, 1)
        layout.addWidget(self.note)
        self.open_button.clicked.connect(self.open_requested)
        self.invert_check.toggled.connect(self.invert_toggled)


class InputPanel(QTabWidget):
    """The three input sources as tabs."""

    input_changed = Signal(object, str, int)
    load_validation_requested = Signal()

    def __init__(self, settings: QSettings, parent: QWidget | None = None) -> None:
        """``settings``: the app's, where the image dialog remembers its folder."""
        super().__init__(parent)
        self.setObjectName("inspectInputs")
        self._settings = settings
        self.browser = ValidationBrowser()
        self.draw = DrawPanel()
        self.file = FilePanel()
        self.addTab(self.browser, "Validation")
        self.addTab(self.draw, "Draw")
        self.addTab(self.file, "File")
        self.input_shape = (1, 28, 28)
        self._file_image: np.ndarray | None = None
        self._file_name = ""
        self.browser.picked.connect(self._on_validation)
        self.browser.load_requested.connect(self.load_validation_requested)
        self.draw.changed.connect(self._on_drawing)
        self.file.open_requested.connect(self._open_file)
        self.file.invert_toggled.connect(lambda _on: self._emit_file())
        self.currentChanged.connect(self._on_tab)
        self._validation: tuple[np.ndarray, np.ndarray] | None = None
        self.error_text = ""

    def set_input_shape(self, shape: tuple[int, int, int]) -> None:
        self.input_shape = shape
        self.draw.canvas.resize_image(shape[1], shape[2])

    def set_validation(self, images: np.ndarray, labels: np.ndarray) -> None:
        self._validation = (images, labels)

    def _on_validation(self, i: int) -> None:
        if self._validation is None:
            return
        images, labels = self._validation
        self.input_changed.emit(images[i], f"validation image #{i}", int(labels[i]))

    def _drawing(self) -> np.ndarray:
        grey = self.draw.canvas.image()
        return np.repeat(grey[:, :, None], self.input_shape[0], axis=2)

    def _on_drawing(self) -> None:
        self.input_changed.emit(self._drawing(), "your drawing", -1)

    def _on_tab(self, index: int) -> None:
        """Switching tabs shows that tab's input again."""
        if self.widget(index) is self.draw:
            self._on_drawing()
        elif self.widget(index) is self.file:
            self._emit_file()
        else:
            current = self.browser.view.currentIndex()
            if current.isValid():
                self._on_validation(int(self.browser.model.rows[current.row()]))

    # -- files ---------------------------------------------------------------------------
    def _ask_image_path(self) -> Path | None:
        return file_dialogs.open_file(self, self._settings, "images", "Open image", IMAGE_FILTER)

    def _open_file(self) -> None:
        path = self._ask_image_path()
        if path is not None:
            self.open_file(path)

    def open_file(self, path: Path) -> bool:
        """Load an image file as the input; False (and the reason in ``error_text``,
        nothing else changed) when it cannot be read."""
        from nets.cnn.inspect import image_for_model
        from nets.errors import NetsError
        from nets.images import image_to_array, open_image

        try:
            img = open_image(path)
            converted = image_for_model(img, self.input_shape)
        except NetsError as exc:
            self.error_text = str(exc)
            self.file.note.setText(str(exc))
            return False
        self.error_text = ""
        preview = img.copy()
        preview.thumbnail((256, 256))
        self.file.original.set_picture(image_to_array(preview))
        self._file_image = converted
        self._file_name = Path(path).name
        self.file.note.setText(
            f"{Path(path).name}: {img.width}×{img.height} → {self.input_shape[2]}×"
            f"{self.input_shape[1]}, {'grey' if self.input_shape[0] == 1 else 'RGB'}, "
            "centre-cropped like the training data."
        )
        self.setCurrentWidget(self.file)
        self._emit_file()
        return True

    def _emit_file(self) -> None:
        if self._file_image is None:
            return
        image = self._file_image
        if self.file.invert_check.isChecked():
            image = 255 - image
        self.file.converted.set_picture(pic.zoom(image, 4))
        self.input_changed.emit(image, self._file_name, -1)
