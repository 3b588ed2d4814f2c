"""Training settings: optimizer, learning rate, weight decay, schedule, batch size, epochs,
seed, device, CPU threads and precision. Produces a ``nets.cnn.config.TrainConfig``."""

from __future__ import annotations

import os
import platform
import sys

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QWidget,
)

from gui.choices import choice_combo, select_value
from gui.cnn_tab.fields import NumberField
from nets.cnn.config import TrainConfig, default_num_threads, usable_cores
from nets.errors import ConfigError

OPTIMIZERS = (
    ("SGD", "sgd"),
    ("RMSprop", "rmsprop"),
    ("Adam", "adam"),
    ("AdamW", "adamw"),
)
SCHEDULES = (
    ("none (constant)", "none"),
    ("step", "step"),
    ("cosine", "cosine"),
    ("one-cycle", "one-cycle"),
)
PRECISIONS = (
    ("auto (bfloat16 where the CPU has it)", "auto"),
    ("float32", "float32"),
    ("bfloat16 mixed precision", "bfloat16"),
)


def available_devices() -> list[tuple[str, str]]:
    """(label, value) of the devices worth offering, found without importing torch."""
    devices = [("auto (best available)", "auto"), ("CPU", "cpu")]
    if os.path.exists("/proc/driver/nvidia/version") or os.environ.get("CUDA_VISIBLE_DEVICES"):
        devices.append(("CUDA GPU", "cuda"))
    if sys.platform == "darwin" and platform.machine() == "arm64":
        devices.append(("Apple GPU (MPS)", "mps"))
    return devices


class SettingsPanel(QWidget):
    """Signal ``changed`` on any edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        d = TrainConfig()
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)

        self.optimizer_combo = choice_combo("cnnOptimizer", OPTIMIZERS)
        select_value(self.optimizer_combo, d.optimizer)
        self.momentum_field = NumberField(
            "Momentum", d.momentum, minimum=0.0, maximum=0.9999,
            tooltip="SGD and RMSprop momentum (0 turns it off)",
        )  # fmt: skip
        self.nesterov_check = QCheckBox("Nesterov")
        self.nesterov_check.setChecked(d.nesterov)
        self.nesterov_check.setToolTip("Nesterov momentum (SGD only)")
        row = QHBoxLayout()
        row.addWidget(self.optimizer_combo, 1)
        self.momentum_label = QLabel("momentum")
        row.addWidget(self.momentum_label)
        self.momentum_field.setMaximumWidth(60)
        row.addWidget(self.momentum_field)
        row.addWidget(self.nesterov_check)
        form.addRow("Optimizer:", row)

        self.lr_field = NumberField(
            "Learning rate", d.lr, minimum=0.0, min_inclusive=False, maximum=1e6,
            tooltip="Step size (the peak rate for one-cycle)",
        )  # fmt: skip
        self.wd_field = NumberField(
            "Weight decay", d.weight_decay, minimum=0.0, maximum=1e3,
            tooltip="L2 penalty strength (decoupled for AdamW)",
        )  # fmt: skip
        row = QHBoxLayout()
        row.addWidget(self.lr_field)
        row.addWidget(QLabel("weight decay"))
        row.addWidget(self.wd_field)
        form.addRow("Learning rate:", row)

        self.schedule_combo = choice_combo(
            "cnnSchedule",
            SCHEDULES,
            "none: constant rate; step: multiply by gamma every N epochs; cosine: decay to 0; "
            "one-cycle: warm up over 30% of the steps, then anneal",
        )
        select_value(self.schedule_combo, d.schedule)
        self.step_epochs_field = NumberField(
            "Step every", d.step_epochs, integer=True, minimum=1, maximum=1_000_000,
            tooltip="Epochs between learning-rate drops",
        )  # fmt: skip
        self.step_gamma_field = NumberField(
            "Gamma", d.step_gamma, minimum=0.0, min_inclusive=False, maximum=1.0,
            tooltip="Factor applied at each drop",
        )  # fmt: skip
        row = QHBoxLayout()
        row.addWidget(self.schedule_combo, 1)
        self.step_label = QLabel("every")
        self.gamma_label = QLabel("epochs ×")
        row.addWidget(self.step_label)
        self.step_epochs_field.setMaximumWidth(40)
        row.addWidget(self.step_epochs_field)
        row.addWidget(self.gamma_label)
        self.step_gamma_field.setMaximumWidth(50)
        row.addWidget(self.step_gamma_field)
        form.addRow("Schedule:", row)

        self.batch_field = NumberField(
            "Batch size", d.batch_size, integer=True, minimum=1, maximum=100_000_000,
            tooltip="Images per gradient step",
        )  # fmt: skip
        self.epochs_field = NumberField(
            "Epochs", d.epochs, integer=True, minimum=1, maximum=100_000,
            tooltip="Passes over the training images",
        )  # fmt: skip
        self.seed_field = NumberField(
            "Seed", d.seed, integer=True, minimum=0, maximum=2**63 - 1,
            tooltip="Seed of the weight initialisation and the batch order",
        )  # fmt: skip
        row = QHBoxLayout()
        row.addWidget(self.batch_field)
        row.addWidget(QLabel("epochs"))
        row.addWidget(self.epochs_field)
        row.addWidget(QLabel("seed"))
        row.addWidget(self.seed_field)
        form.addRow("Batch size:", row)

        self.augment_check = QCheckBox("random shifts and flips")
        self.augment_check.setObjectName("cnnAugment")
        self._shift = 1  # what the checkbox turns on (a preset or loaded config may differ)
        self._label_smoothing = 0.0  # no field of its own: kept from the preset or checkpoint
        self._augment_tooltip()
        form.addRow("Augment:", self.augment_check)

        self.device_combo = QComboBox()
        self.device_combo.setObjectName("cnnDevice")
        for label, value in available_devices():
            self.device_combo.addItem(label, value)
        cores = usable_cores()
        self.threads_field = NumberField(
            "CPU threads",
            default_num_threads(leave_room_for_gui=True),
            integer=True,
            minimum=1,
            maximum=max(1, cores),
            tooltip=(
                f"torch CPU threads ({cores} cores here). With 4 or more cores one is left "
                "for the window by default, so plots and buttons stay responsive."
            ),
        )
        row = QHBoxLayout()
        row.addWidget(self.device_combo, 1)
        row.addWidget(QLabel("CPU threads"))
        self.threads_field.setMaximumWidth(50)
        row.addWidget(self.threads_field)
        form.addRow("Device:", row)

        self.precision_combo = choice_combo(
            "cnnPrecision",
            PRECISIONS,
            "The number format of the training forward pass. bfloat16 mixed precision runs "
            "the layers on half the bytes (the weights, gradients and evaluations stay "
            "float32): about a third faster on a CPU with AVX512-BF16 or AMX, slower on "
            "others. auto picks it only where the CPU computes it natively; the log says "
            "which one a run used.",
        )
        form.addRow("Precision:", self.precision_combo)

        self.optimizer_combo.currentIndexChanged.connect(self._on_choice)
        self.schedule_combo.currentIndexChanged.connect(self._on_choice)
        self.device_combo.currentIndexChanged.connect(self.changed)
        self.precision_combo.currentIndexChanged.connect(self.changed)
        self.nesterov_check.toggled.connect(self.changed)
        self.augment_check.toggled.connect(self.changed)
        for f in self.fields():
            f.validity_changed.connect(self.changed)
        self._on_choice()

    def fields(self) -> list[NumberField]:
        return [
            self.momentum_field,
            self.lr_field,
            self.wd_field,
            self.step_epochs_field,
            self.step_gamma_field,
            self.batch_field,
            self.epochs_field,
            self.seed_field,
            self.threads_field,
        ]

    def _active_fields(self) -> list[NumberField]:
        return [f for f in self.fields() if f.isEnabled()]

    def _on_choice(self) -> None:
        opt = self.optimizer_combo.currentData()
        self.momentum_field.setEnabled(opt in ("sgd", "rmsprop"))
        self.momentum_label.setEnabled(opt in ("sgd", "rmsprop"))
        self.nesterov_check.setEnabled(opt == "sgd")
        step = self.schedule_combo.currentData() == "step"
        for w in (self.step_epochs_field, self.step_gamma_field, self.step_label, self.gamma_label):
            w.setEnabled(step)
        self.changed.emit()

    def errors(self) -> list[str]:
        errs = [f.error() for f in self._active_fields() if f.error()]
        if not errs:
            try:
                self.config().validated()
            except ConfigError as exc:
                errs.append(str(exc))
        return errs

    def _augment_tooltip(self) -> None:
        pixels = "1 pixel" if self._shift == 1 else f"{self._shift} pixels"
        self.augment_check.setToolTip(
            f"Each epoch, every training image is shifted by up to {pixels} each way and "
            "half of them are mirrored left to right: more varied data, less overfitting"
        )

    def config(self) -> TrainConfig:
        """The settings as a TrainConfig (call when ``errors()`` has none from the fields)."""
        d = TrainConfig()
        opt = self.optimizer_combo.currentData()

        def val(field: NumberField, default):
            return field.value() if field.isEnabled() and field.value() is not None else default

        return TrainConfig(
            optimizer=opt,
            lr=float(val(self.lr_field, d.lr)),
            weight_decay=float(val(self.wd_field, d.weight_decay)),
            momentum=float(val(self.momentum_field, d.momentum)),
            nesterov=bool(self.nesterov_check.isChecked() and opt == "sgd"),
            schedule=self.schedule_combo.currentData(),
            step_epochs=int(val(self.step_epochs_field, d.step_epochs)),
            step_gamma=float(val(self.step_gamma_field, d.step_gamma)),
            batch_size=int(val(self.batch_field, d.batch_size)),
            epochs=int(val(self.epochs_field, d.epochs)),
            seed=int(val(self.seed_field, d.seed)),
            device=self.device_combo.currentData(),
            num_threads=int(val(self.threads_field, 1)),
            shift=self._shift if self.augment_check.isChecked() else 0,
            flip=self.augment_check.isChecked(),
            label_smoothing=self._label_smoothing,
            precision=self.precision_combo.currentData(),
        )

    def set_config(self, cfg: TrainConfig) -> None:
        """Show a config (e.g. the one a loaded checkpoint was trained with)."""
        select_value(self.optimizer_combo, cfg.optimizer)
        select_value(self.schedule_combo, cfg.schedule)
        select_value(self.precision_combo, cfg.precision)
        self.lr_field.set_value(cfg.lr)
        self.wd_field.set_value(cfg.weight_decay)
        self.momentum_field.set_value(cfg.momentum)
        self.nesterov_check.setChecked(bool(cfg.nesterov))
        self.augment_check.setChecked(bool(cfg.shift or cfg.flip))
        self._shift = cfg.shift or 1
        self._label_smoothing = cfg.label_smoothing
        self._augment_tooltip()
        self.step_epochs_field.set_value(cfg.step_epochs)
        self.step_gamma_field.set_value(cfg.step_gamma)
        self.batch_field.set_value(cfg.batch_size)
        self.epochs_field.set_value(cfg.epochs)
        self.seed_field.set_value(cfg.seed)
