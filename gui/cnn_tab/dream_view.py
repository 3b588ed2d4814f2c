""" "What does this unit look for?": activation maximisation drawn live, off the GUI thread.

The panel picks an objective (a class score, or one channel's mean activation), runs
``nets.cnn.dream`` in a ``gui.worker`` thread and draws every frame it yields; Cancel
stops it between two steps.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.cnn_tab import inspect_jobs
from gui.cnn_tab.maps_view import PictureView
from nets.cnn import pictures as pic
from nets.cnn.dream import STEP_LINE, ChannelObjective, ClassObjective


class DreamPanel(QWidget):
    """Signals: ``status(str)`` for the view's status line."""

    status = Signal(str)
    use_requested = Signal(object)  # uint8 (H, W, C): inspect the dreamt image

    def __init__(self, context: Any, busy: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._context = context
        self._busy = busy
        self._trained: Any = None
        self._layers: tuple = ()
        self._worker: Any = None
        self.last_frame: Any = None
        self.first_objective: float | None = None

        self.class_radio = QRadioButton("Class score")
        self.channel_radio = QRadioButton("Channel")
        self.class_radio.setChecked(True)
        self.class_combo = QComboBox()
        self.layer_combo = QComboBox()
        self.channel_spin = QSpinBox()
        self.channel_spin.setPrefix("channel ")
        self.steps_spin = QSpinBox()
        self.steps_spin.setRange(1, 5000)
        self.steps_spin.setValue(100)
        self.start_button = QPushButton("Start")
        self.start_button.setObjectName("dreamStart")
        self.cancel_button = QPushButton("Cancel")
        self.cancel_button.setEnabled(False)
        self.use_button = QPushButton("Inspect this image")
        self.use_button.setToolTip(
            "Put it on the drawing canvas and see what the network makes of it"
        )
        self.use_button.setEnabled(False)
        self.progress = QProgressBar()
        self.progress.setFormat("step %v / %m")
        self.picture = PictureView("")
        self.picture.setMinimumSize(224, 224)
        self.picture.setMaximumSize(480, 500)
        self.value_label = QLabel("")
        self.value_label.setObjectName("dreamValue")
        line = QLabel(STEP_LINE)
        line.setObjectName("dreamStepLine")
        line.setWordWrap(True)
        about = QLabel(
            "Start from noise and climb the gradient of the chosen objective with respect to "
            "the pixels. L2 decay, a small blur every few steps and a pixel or two of jitter "
            "keep the result an image instead of noise the network happens to like."
        )
        about.setWordWrap(True)

        form = QFormLayout()
        class_row = QHBoxLayout()
        class_row.addWidget(self.class_radio)
        class_row.addWidget(self.class_combo, 1)
        channel_row = QHBoxLayout()
        channel_row.addWidget(self.channel_radio)
        channel_row.addWidget(self.layer_combo, 1)
        channel_row.addWidget(self.channel_spin)
        form.addRow(class_row)
        form.addRow(channel_row)
        form.addRow("Steps", self.steps_spin)
        buttons = QHBoxLayout()
        buttons.addWidget(self.start_button)
        buttons.addWidget(self.cancel_button)
        buttons.addWidget(self.use_button)
        buttons.addWidget(self.progress, 1)
        layout = QVBoxLayout(self)
        layout.addWidget(about)
        layout.addLayout(form)
        layout.addLayout(buttons)
        layout.addWidget(line)
        layout.addWidget(self.value_label)
        layout.addWidget(self.picture, 1)

        self.start_button.clicked.connect(self.start)
        self.cancel_button.clicked.connect(self.cancel)
        self.use_button.clicked.connect(
            lambda: self.last_frame is not None and self.use_requested.emit(self.last_frame.image)
        )
        self.layer_combo.currentIndexChanged.connect(self._on_layer)
        self.class_combo.activated.connect(lambda _i: self.class_radio.setChecked(True))
        self.channel_spin.valueChanged.connect(lambda _v: self.channel_radio.setChecked(True))
        self._update_buttons()

    def set_model(self, trained: Any, layers: tuple) -> None:
        self.cancel()
        self._trained, self._layers = trained, layers
        self.last_frame = None
        self.picture.set_picture(None)
        self.class_combo.clear()
        self.layer_combo.clear()
        if trained is not None:
            for k, name in enumerate(trained.class_names):
                self.class_combo.addItem(f"{k}: {name}", k)
            for info in layers[:-1]:  # the last layer's units are the class scores
                self.layer_combo.addItem(info.title, info.index)
        self._update_buttons()

    def _on_layer(self) -> None:
        layer = self.layer_combo.currentData()
        if layer is not None and layer < len(self._layers):
            self.channel_spin.setRange(0, self._layers[layer].shape[0] - 1)

    def set_channel(self, layer: int, channel: int) -> None:
        """Aim at ``channel`` of ``layer`` (from a click on a feature map)."""
        row = self.layer_combo.findData(layer)
        if row >= 0:
            self.layer_combo.setCurrentIndex(row)
            self.channel_spin.setValue(channel)
            self.channel_radio.setChecked(True)

    def set_class(self, index: int) -> None:
        row = self.class_combo.findData(index)
        if row >= 0:
            self.class_combo.setCurrentIndex(row)
            self.class_radio.setChecked(True)

    def objective(self) -> Any:
        if self.channel_radio.isChecked() and self.layer_combo.currentData() is not None:
            return ChannelObjective(int(self.layer_combo.currentData()), self.channel_spin.value())
        return ClassObjective(int(self.class_combo.currentData() or 0))

    def is_running(self) -> bool:
        return self._worker is not None

    def _update_buttons(self) -> None:
        running = self.is_running()
        self.start_button.setEnabled(self._trained is not None and not running)
        self.cancel_button.setEnabled(running)
        self.use_button.setEnabled(not running and self.last_frame is not None)

    def start(self) -> bool:
        if self._trained is None or self.is_running():
            return False
        objective = self.objective()
        steps = self.steps_spin.value()
        self.progress.setRange(0, steps)
        self.progress.setValue(0)
        self.first_objective = None
        self.last_frame = None
        what = objective.describe(self._trained.class_names)
        self.picture.title = f"maximising the {what}"
        factory = inspect_jobs.dream_job(self._trained, objective, steps, self._busy())
        worker = self._context.workers.start(factory, name="cnn-dream")
        self._worker = worker
        worker.item.connect(self._on_frame)
        worker.failed.connect(lambda message, _tb: self.status.emit(f"Dream failed: {message}"))
        worker.done.connect(self._on_done)
        self._update_buttons()
        self.status.emit(f"Maximising the {what}…")
        return True

    def cancel(self) -> None:
        if self._worker is not None:
            self._worker.cancel()

    def _on_frame(self, frame: Any) -> None:
        if self.first_objective is None:
            self.first_objective = frame.objective
        self.last_frame = frame
        h, w = frame.image.shape[:2]
        self.picture.set_picture(pic.zoom(pic.as_rgb(frame.image), max(1, 224 // max(h, w))))
        self.progress.setValue(frame.step)
        self.value_label.setText(
            f"step {frame.step}/{frame.steps}: objective {frame.objective:.4g} "
            f"(started at {self.first_objective:.4g})"
        )

    def _on_done(self, status: str) -> None:
        self._worker = None
        self._update_buttons()
        frame = self.last_frame
        if status == "cancelled" and frame is not None:
            self.status.emit(f"Dream cancelled after {frame.step} steps.")
        elif status == "finished" and frame is not None:
            self.status.emit(
                f"Dream finished: objective {self.first_objective:.4g} → {frame.objective:.4g} "
                f"in {frame.step} steps."
            )
