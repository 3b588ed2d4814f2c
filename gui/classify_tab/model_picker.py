"""The model bar: which ImageNet model classifies, its availability, download and loading.

The widget only shows state and asks; the tab runs the loads and downloads in workers
and calls ``set_busy`` / ``set_progress`` / ``set_loaded`` back.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QWidget,
)

from gui.classify_tab.backend import ModelInfo


class ModelPicker(QWidget):
    """Combo of models (with their status), Download, Weights file, progress and Cancel.

    Signals:
        model_chosen(str): a usable model was picked in the combo (its registry name);
        download_requested(str): Download pressed for the picked model;
        weights_requested(str): "Weights file..." pressed (architecture name);
        cancel_requested(): Cancel pressed during a load or download.
    """

    model_chosen = Signal(str)
    download_requested = Signal(str)
    weights_requested = Signal(str)
    cancel_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("modelPicker")
        self._infos: dict[str, ModelInfo] = {}
        self._busy = False

        self.combo = QComboBox()
        self.combo.setObjectName("modelCombo")
        # As wide as its longest entry, so "ResNet-18 — not downloaded (45 MB)" is read
        # whole whichever model is picked (the bar has room for it at 1024 pixels).
        self.combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.combo.setToolTip("The ImageNet model that classifies your photos")
        self.download_button = QPushButton("Download")
        self.download_button.setObjectName("downloadButton")
        self.download_button.setToolTip("Fetch this model's weights into the torch hub cache")
        self.weights_button = QPushButton("Weights file...")
        self.weights_button.setObjectName("weightsButton")
        self.weights_button.setToolTip(
            "Load your own weights (.pth state_dict) into the chosen architecture"
        )
        self.status = QLabel()
        self.status.setObjectName("modelStatus")
        self.status.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.status.setWordWrap(True)  # two lines in a narrow window rather than cut
        self.status.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.progress = QProgressBar()
        self.progress.setObjectName("modelProgress")
        self.progress.setMaximumWidth(180)
        self.progress.setMinimumWidth(90)
        self.progress.setTextVisible(True)
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setObjectName("modelCancelButton")
        self.cancel_button.setToolTip("Stop loading or downloading this model")

        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        label = QLabel("&Model:")
        label.setBuddy(self.combo)
        layout.addWidget(label)
        layout.addWidget(self.combo)
        layout.addWidget(self.download_button)
        layout.addWidget(self.weights_button)
        layout.addSpacing(8)
        layout.addWidget(self.status, 1)
        layout.addWidget(self.progress)
        layout.addWidget(self.cancel_button)

        self.combo.activated.connect(self._on_activated)
        self.download_button.clicked.connect(
            lambda: self.download_requested.emit(self.chosen_name())
        )
        self.weights_button.clicked.connect(lambda: self.weights_requested.emit(self.chosen_name()))
        self.cancel_button.clicked.connect(self.cancel_requested)
        self.set_busy(False)

    # -- content ---------------------------------------------------------------------
    def set_models(self, infos: list[ModelInfo], current: str | None = None) -> None:
        """Fill the combo; keeps ``current`` (or the previous choice) picked."""
        keep = current or self.chosen_name()
        self._infos = {info.name: info for info in infos}
        self.combo.blockSignals(True)
        self.combo.clear()
        for info in infos:
            self.combo.addItem(f"{info.display_name}  \u2014  {info.status}", info.name)
            self.combo.setItemData(
                self.combo.count() - 1, info.summary, Qt.ItemDataRole.ToolTipRole
            )
        index = self.combo.findData(keep) if keep else 0
        self.combo.setCurrentIndex(max(index, 0))
        self.combo.blockSignals(False)
        self._update_buttons()

    def chosen_name(self) -> str:
        return str(self.combo.currentData() or "")

    def choose(self, name: str) -> None:
        index = self.combo.findData(name)
        if index >= 0:
            self.combo.setCurrentIndex(index)
            self._update_buttons()

    def info(self, name: str) -> ModelInfo | None:
        return self._infos.get(name)

    # -- state -----------------------------------------------------------------------
    def set_busy(self, busy: bool, text: str = "") -> None:
        """Loading or downloading: progress and Cancel shown, the rest disabled."""
        self._busy = busy
        self.progress.setVisible(busy)
        self.cancel_button.setVisible(busy)
        self.combo.setEnabled(not busy)
        if busy:
            self.progress.setRange(0, 0)  # busy indicator until sizes are known
            self.progress.setFormat("")
        if text:
            self.status.setText(text)
        self._update_buttons()

    def is_busy(self) -> bool:
        return self._busy

    def set_progress(self, done: int, total: int, text: str = "") -> None:
        if total > 0:
            self.progress.setRange(0, 1000)
            self.progress.setValue(int(1000 * min(done, total) / total))
            if total >= 1 << 20:
                self.progress.setFormat(f"{done / 2**20:.1f} / {total / 2**20:.1f} MB")
            else:
                self.progress.setFormat("%p%")
        else:
            self.progress.setRange(0, 0)
        if text:
            self.status.setText(text)

    def set_status(self, text: str, tooltip: str = "") -> None:
        self.status.setText(text)
        self.status.setToolTip(tooltip or text)

    def _on_activated(self, _index: int) -> None:
        self._update_buttons()
        info = self.info(self.chosen_name())
        if info is None:
            return
        if info.available:
            self.model_chosen.emit(info.name)
        else:
            self.set_status(
                f"{info.display_name} is not downloaded yet: press Download "
                f"({info.size_mb:.0f} MB), or choose another model."
            )

    def _update_buttons(self) -> None:
        info = self.info(self.chosen_name())
        needs_download = info is not None and not info.available and info.downloadable
        self.download_button.setVisible(needs_download)
        self.download_button.setEnabled(needs_download and not self._busy)
        if info is not None and needs_download:
            self.download_button.setText(f"Download ({info.size_mb:.0f} MB)")
        self.weights_button.setEnabled(info is not None and not self._busy)
