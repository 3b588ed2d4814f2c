"""The hyperparameter form: one line edit per ``nets.mlp.config.FIELDS`` entry, checked
as the user types with the same rules as the command line; invalid fields are marked
and keep Start disabled. A presets menu fills the form; a line estimates the memory and
the time per epoch.
"""

from __future__ import annotations

import time
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from nets.errors import ConfigError
from nets.mlp.config import (
    FIELDS,
    PRESET_DESCRIPTIONS,
    PRESETS,
    TrainConfig,
    epoch_flops,
    estimate_memory,
    parse_field,
)
from nets.units import format_bytes

#: Order of the fields in the form: the seed's six first.
FIELD_ORDER = (
    "num_train",
    "hidden_dim",
    "batch_size",
    "num_epochs",
    "learning_rate",
    "reg",
    "momentum",
    "lr_decay",
    "weight_scale",
    "seed",
)
_INVALID_STYLE = "QLineEdit { border: 2px solid #c0392b; background: #fdecea; }"


def format_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


_MEASURED_GFLOPS: list[float] = []
#: A run's epoch shorter than this says more about overheads than about the arithmetic.
MIN_CALIBRATION_S = 0.5


def measure_gflops() -> float:
    """A float32 GEMM speed of this machine (GFLOP/s): the best of a few ~3 ms matmuls,
    measured once per process, so the estimate does not move with what else the
    machine happens to be doing when a form asks."""
    if _MEASURED_GFLOPS:
        return _MEASURED_GFLOPS[0]
    import numpy as np

    a = np.ones((256, 1024), np.float32)
    b = np.ones((1024, 256), np.float32)
    a @ b  # warm-up (BLAS threads)
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    _MEASURED_GFLOPS.append(2 * 256 * 1024 * 256 / max(best, 1e-6) / 1e9)
    return _MEASURED_GFLOPS[0]


class HyperparameterForm(QWidget):
    """Signals: ``validity_changed(ok, reason)``, ``config_changed()``.

    ``config() -> TrainConfig`` (raises ConfigError if a field is invalid),
    ``set_config(config)``, ``apply_preset(name)``, ``errors() -> {field: message}``,
    ``set_data_shape(n_train, input_dim, num_classes, n_val)`` for the estimate line,
    ``calibrate(seconds_per_epoch, config, n, d, c)`` to refine it from a real run.
    """

    validity_changed = Signal(bool, str)
    config_changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.edits: dict[str, QLineEdit] = {}
        self._errors: dict[str, str] = {}
        self._base = PRESETS["seed-default"]
        self._shape: tuple[int, int, int, int] | None = None
        self._snapshot_plan: Any = None
        self._flops_per_s: float | None = None
        self._measured = False  # the rate comes from a real run, not from a matmul
        self._preset_name = "seed-default"

        form = QFormLayout()
        form.setContentsMargins(0, 0, 0, 0)
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        for name in FIELD_ORDER:
            spec = FIELDS[name]
            edit = QLineEdit()
            edit.setObjectName(f"field_{name}")
            tip = spec.help
            if spec.optional:
                edit.setPlaceholderText("all")
            edit.setToolTip(tip)
            edit.setClearButtonEnabled(False)
            edit.textChanged.connect(lambda _text, n=name: self._on_edited(n))
            label = QLabel(spec.label)
            label.setToolTip(tip)
            label.setBuddy(edit)
            form.addRow(label, edit)
            self.edits[name] = edit

        self.preset_button = QToolButton()
        self.preset_button.setObjectName("presetButton")
        self.preset_button.setText("Presets")
        self.preset_button.setToolTip("Fill the form with a known configuration")
        self.preset_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.preset_menu = QMenu(self.preset_button)
        self.preset_actions: dict[str, QAction] = {}
        for name in PRESETS:
            action = self.preset_menu.addAction(name)
            action.setToolTip(PRESET_DESCRIPTIONS.get(name, ""))
            action.setStatusTip(PRESET_DESCRIPTIONS.get(name, ""))
            action.triggered.connect(lambda _=False, n=name: self.apply_preset(n))
            self.preset_actions[name] = action
        self.preset_menu.setToolTipsVisible(True)
        self.preset_button.setMenu(self.preset_menu)
        self.preset_label = QLabel()
        self.preset_label.setObjectName("presetLabel")
        self.preset_label.setWordWrap(True)
        self.preset_label.setStyleSheet("color: #555")

        self.error_label = QLabel()
        self.error_label.setObjectName("formErrors")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet("color: #c0392b")
        self.estimate_label = QLabel()
        self.estimate_label.setObjectName("estimateLabel")
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setToolTip(
            "Memory the run needs (parameters, optimizer state, activations, preprocessed "
            "data) and a rough time per epoch from this machine's matrix-multiply speed"
        )

        top = QHBoxLayout()
        top.addWidget(self.preset_button)
        top.addWidget(self.preset_label, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(top)
        layout.addLayout(form)
        layout.addWidget(self.error_label)
        layout.addWidget(self.estimate_label)
        self.set_config(self._base)

    # -- values ----------------------------------------------------------------------
    def values(self) -> dict[str, Any]:
        """The parsed values of the valid fields (invalid ones are left out)."""
        out = {}
        for name, edit in self.edits.items():
            try:
                out[name] = parse_field(name, edit.text())
            except ConfigError:
                pass
        return out

    def errors(self) -> dict[str, str]:
        return dict(self._errors)

    def is_valid(self) -> bool:
        return not self._errors

    def config(self) -> TrainConfig:
        """The configuration in the form; ConfigError names the first invalid field."""
        if self._errors:
            raise ConfigError(next(iter(self._errors.values())))
        return TrainConfig.from_dict({**self._base.to_dict(), **self.values()}).validate()

    def set_config(self, config: TrainConfig) -> None:
        self._base = config
        for name, edit in self.edits.items():
            edit.blockSignals(True)
            edit.setText(format_value(getattr(config, name)))
            edit.blockSignals(False)
        self._preset_name = self.matching_preset()
        self._show_preset()
        self._revalidate()

    def apply_preset(self, name: str) -> None:
        self.set_config(PRESETS[name])
        self._preset_name = name  # even if another preset holds the same values
        self._show_preset()

    def set_field(self, name: str, text: str) -> None:
        """Type ``text`` into a field (as a user would)."""
        self.edits[name].setText(text)

    # -- estimate --------------------------------------------------------------------
    def set_snapshot_plan(self, plan: Any) -> None:
        """The snapshots a run keeps (``nets.snapshots.SnapshotPlan``): the estimate
        counts those it holds in memory."""
        self._snapshot_plan = plan
        self._update_estimate()

    def set_data_shape(
        self, n_train: int | None, input_dim: int | None, num_classes: int = 10, n_val: int = 0
    ) -> None:
        self._shape = (n_train, input_dim, num_classes, n_val) if n_train and input_dim else None
        self._update_estimate()

    def calibrate(self, seconds_per_epoch: float, config: TrainConfig, n: int, d: int, c: int):
        """Use a measured epoch time to refine later estimates (epochs shorter than
        ``MIN_CALIBRATION_S`` are ignored: their time is mostly overhead)."""
        flops = epoch_flops(config, n, d, c)
        if seconds_per_epoch >= MIN_CALIBRATION_S and flops > 0:
            self._flops_per_s = flops / seconds_per_epoch
            self._measured = True
            self._update_estimate()

    def estimate_text(self) -> str:
        return self.estimate_label.text()

    def _update_estimate(self) -> None:
        if self._errors:
            self.estimate_label.setText("")
            return
        if self._shape is None:
            self.estimate_label.setText("Estimate: choose a dataset to see memory and time.")
            return
        n, d, c, n_val = self._shape
        try:
            config = self.config()
        except ConfigError:
            self.estimate_label.setText("")
            return
        memory = estimate_memory(config, n, d, c, n_val, self._snapshot_plan)
        if self._flops_per_s is None:
            # Our GEMMs reach only part of peak (small batches, memory traffic).
            self._flops_per_s = measure_gflops() * 1e9 * 0.6
        seconds = epoch_flops(config, n, d, c) / self._flops_per_s
        self.estimate_label.setText(
            f"Estimate: {format_bytes(memory.total)} of memory, "
            f"{_about(seconds)} per epoch "
            f"({_seconds(seconds * config.num_epochs)} in all"
            f"{', from your last run' if self._measured else ''})"
        )
        self.estimate_label.setToolTip(f"Memory: {memory.describe()}")

    # -- validation ------------------------------------------------------------------
    def _on_edited(self, name: str) -> None:
        # As the CNN tab does: values typed back to a preset's show that preset again.
        self._preset_name = self.matching_preset()
        self._show_preset()
        self._revalidate()

    def matching_preset(self) -> str:
        """The preset whose values every field of the form holds now, else ""."""
        values = self.values()
        if len(values) != len(self.edits):
            return ""
        for name, preset in PRESETS.items():
            if all(values[f] == getattr(preset, f) for f in FIELD_ORDER):
                return name
        return ""

    def _revalidate(self) -> None:
        errors: dict[str, str] = {}
        for name, edit in self.edits.items():
            try:
                parse_field(name, edit.text())
            except ConfigError as exc:
                errors[name] = str(exc)
                edit.setStyleSheet(_INVALID_STYLE)
                edit.setToolTip(f"{exc}\n\n{FIELDS[name].help}")
            else:
                edit.setStyleSheet("")
                edit.setToolTip(FIELDS[name].help)
        self._errors = errors
        self.error_label.setText("\n".join(errors.values()))
        self.error_label.setVisible(bool(errors))
        self._update_estimate()
        reason = next(iter(errors.values()), "")
        self.validity_changed.emit(not errors, reason)
        self.config_changed.emit()

    def _show_preset(self) -> None:
        if self._preset_name:
            self.preset_label.setText(
                f"<b>{self._preset_name}</b>: {PRESET_DESCRIPTIONS.get(self._preset_name, '')}"
            )
        else:
            self.preset_label.setText("custom settings")


def _about(seconds: float) -> str:
    """ "about 4 ms", but "under 1 ms" (not "about under 1 ms")."""
    text = _seconds(seconds)
    return text if text.startswith("under") else f"about {text}"


def _seconds(seconds: float) -> str:
    if seconds < 0.001:
        return "under 1 ms"  # not "0 ms": no epoch takes no time
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min"
