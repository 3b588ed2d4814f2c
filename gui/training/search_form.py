"""The Search view's settings: a range per hyperparameter, sampler, pruner and budgets.

``SearchForm(kind, labels)`` lists every field ``nets.search.defaults.FIELD_RANGES``
offers for the trainer, each with a tick (searched or fixed at the run form's value), its
kind (log, linear, integer, integer log, choices) and its bounds or list of choices.
``space()`` returns the ``nets.search.space`` ranges of the ticked rows (ConfigError
naming the row's label for anything wrong); ``set_space(json)`` shows a study's space
(when attaching to one).
"""

from __future__ import annotations

import json
import os
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGridLayout,
    QLabel,
    QLineEdit,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from nets.errors import ConfigError
from nets.search.defaults import DEFAULT_SPACES, FIELD_RANGES
from nets.search.objective import SEARCHABLE
from nets.search.space import SearchSpace, check_space, range_from_json
from nets.search.storage import PRUNERS, SAMPLERS

KINDS = ("log", "linear", "integer", "integer log", "choices")
_TIPS = {
    "sampler": "TPE learns from the finished trials where good settings lie; random draws "
    "every range independently; grid tries every combination (ranges give 3 points)",
    "pruner": "Stops trials whose validation accuracy after an epoch is poor compared with "
    "earlier trials at that epoch (median: below the median; Hyperband: successive halving)",
}


#: The CNN's settings as its form names them (the numpy net's come from its FIELDS).
_CNN_LABELS = {
    "optimizer": "Optimizer",
    "lr": "Learning rate",
    "weight_decay": "Weight decay",
    "momentum": "Momentum",
    "nesterov": "Nesterov",
    "schedule": "Schedule",
    "step_epochs": "Step every (epochs)",
    "step_gamma": "Step gamma",
    "batch_size": "Batch size",
    "epochs": "Epochs",
    "seed": "Seed",
}


def search_labels(kind: str) -> dict[str, str]:
    """Each searchable field's label in the tab's run form."""
    if kind == "mlp":
        from nets.mlp.config import FIELDS

        return {name: spec.label for name, spec in FIELDS.items()}
    return dict(_CNN_LABELS)


def _kind_of(spec: dict[str, Any]) -> str:
    if spec.get("type") == "choice" or "choices" in spec:
        return "choices"
    if spec.get("type") == "int":
        return "integer log" if spec.get("log") else "integer"
    return "log" if spec.get("log") else "linear"


def _text(value: Any) -> str:
    return (
        json.dumps(value)
        if isinstance(value, bool)
        else f"{value:g}"
        if isinstance(value, float)
        else str(value)
    )


class _Row:
    """One hyperparameter's widgets."""

    def __init__(
        self, name: str, label: str, spec: dict[str, Any], on: bool, parent: QWidget
    ) -> None:
        # Created inside the form: update() shows or hides them, and a parentless widget
        # that is shown becomes a window of its own (stray windows that also took the
        # main window's activation, so its keyboard shortcuts stopped working).
        self.name = name
        self.label = label
        self.check = QCheckBox(label, parent)
        self.check.setObjectName(f"searchUse_{name}")
        self.check.setChecked(on)
        self.check.setToolTip(f"Search {label.lower()} (unticked: the run form's value)")
        self.kind = QComboBox(parent)
        self.kind.addItems(KINDS)
        self.low = QLineEdit(parent)
        self.high = QLineEdit(parent)
        self.choices = QLineEdit(parent)
        self.choices.setPlaceholderText("values, comma-separated")
        for edit, name_ in ((self.low, "Low"), (self.high, "High"), (self.choices, "Choices")):
            edit.setObjectName(f"search{name_}_{name}")
        self.low.setMaximumWidth(80)
        self.high.setMaximumWidth(80)
        self.kind.currentTextChanged.connect(lambda _t: self.update())
        self.check.toggled.connect(lambda _on: self.update())
        self.set_spec(spec)

    def set_spec(self, spec: dict[str, Any]) -> None:
        self.kind.setCurrentText(_kind_of(spec))
        if "choices" in spec:
            self.choices.setText(", ".join(_text(v) for v in spec["choices"]))
        else:
            self.low.setText(_text(spec["low"]))
            self.high.setText(_text(spec["high"]))
        self.update()

    def update(self) -> None:
        on = self.check.isChecked()
        choices = self.kind.currentText() == "choices"
        self.kind.setEnabled(on)
        self.choices.setVisible(choices)
        self.low.setVisible(not choices)
        self.high.setVisible(not choices)
        for w in (self.low, self.high, self.choices):
            w.setEnabled(on)

    def spec(self) -> dict[str, Any]:
        kind = self.kind.currentText()
        if kind == "choices":
            values = [_parse_choice(t) for t in self.choices.text().split(",") if t.strip()]
            return {"type": "choice", "choices": values}
        number = int if kind.startswith("integer") else float
        bounds = []
        for edit, end in ((self.low, "low"), (self.high, "high")):
            try:
                bounds.append(number(edit.text().strip()))
            except ValueError:
                what = "a whole number" if number is int else "a number"
                raise ConfigError(f"{self.label}: the {end} end must be {what}") from None
        return {
            "type": "int" if number is int else "float",
            "low": bounds[0],
            "high": bounds[1],
            "log": kind in ("log", "integer log"),
        }


def _parse_choice(text: str) -> Any:
    text = text.strip()
    for parse in (int, float):
        try:
            return parse(text)
        except ValueError:
            pass
    return {"true": True, "false": False}.get(text.lower(), text)


class SearchForm(QWidget):
    """Signals ``changed`` on every edit."""

    changed = Signal()

    def __init__(self, kind: str, labels: dict[str, str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.kind = kind
        self.rows: dict[str, _Row] = {}
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for col, title in enumerate(("Search", "Kind", "Low", "High")):
            head = QLabel(f"<b>{title}</b>")
            grid.addWidget(head, 0, col)
        for i, (name, spec) in enumerate(FIELD_RANGES[kind].items(), start=1):
            row = _Row(name, labels.get(name, name), spec, name in DEFAULT_SPACES[kind], self)
            self.rows[name] = row
            grid.addWidget(row.check, i, 0)
            grid.addWidget(row.kind, i, 1)
            grid.addWidget(row.low, i, 2)
            grid.addWidget(row.high, i, 3)
            grid.addWidget(row.choices, i, 2, 1, 2)
            for w in (row.low, row.high, row.choices):
                w.textEdited.connect(lambda _t: self.changed.emit())
            row.check.toggled.connect(lambda _on: self.changed.emit())
            row.kind.currentTextChanged.connect(lambda _t: self.changed.emit())

        self.sampler = QComboBox()
        self.sampler.addItems(SAMPLERS)
        self.sampler.setObjectName("searchSampler")
        self.sampler.setToolTip(_TIPS["sampler"])
        self.pruner = QComboBox()
        self.pruner.addItems(PRUNERS)
        self.pruner.setObjectName("searchPruner")
        self.pruner.setToolTip(_TIPS["pruner"])
        self.trials = QSpinBox()
        self.trials.setRange(1, 100_000)
        self.trials.setValue(20)
        self.trials.setObjectName("searchTrials")
        self.budget = QDoubleSpinBox()
        self.budget.setRange(0, 10_000)
        self.budget.setDecimals(1)
        self.budget.setSuffix(" min")
        self.budget.setSpecialValueText("none")
        self.budget.setObjectName("searchBudget")
        self.budget.setToolTip("No trial starts after this and a running one stops (0: none)")
        self.workers = QSpinBox()
        self.workers.setRange(1, 256)
        self.workers.setValue(os.cpu_count() or 1)
        self.workers.setObjectName("searchWorkers")
        self.workers.setToolTip("Worker processes, one thread each (default: the cores)")
        self.study = QLineEdit(f"{kind}-study")
        self.study.setObjectName("searchStudy")
        self.study.setToolTip("A study with this name continues where it stopped")
        self.storage = QLineEdit()
        self.storage.setObjectName("searchStorage")
        self.storage.setPlaceholderText("a file in your data folder")
        self.storage.setToolTip(
            "Empty: a study file in your data folder. A database URL (postgresql://user:pw@"
            "host/db) lets workers on other machines join the same study"
        )
        options = QFormLayout()
        options.setContentsMargins(0, 0, 0, 0)
        options.addRow("Sampler:", self.sampler)
        options.addRow("Pruner:", self.pruner)
        options.addRow("Trials:", self.trials)
        options.addRow("Time budget:", self.budget)
        options.addRow("Workers:", self.workers)
        options.addRow("Study:", self.study)
        options.addRow("Storage:", self.storage)
        for combo in (self.sampler, self.pruner):
            combo.currentTextChanged.connect(lambda _t: self.changed.emit())
        self.study.textEdited.connect(lambda _t: self.changed.emit())
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(grid)
        layout.addLayout(options)
        layout.addStretch(1)

    def space(self) -> SearchSpace:
        """The ticked rows as a checked space (ConfigError names the row)."""
        ranges = []
        for row in self.rows.values():
            if row.check.isChecked():
                try:
                    ranges.append(range_from_json(row.label, row.spec()))
                except ConfigError as exc:
                    raise ConfigError(str(exc)) from None
        checked = check_space(ranges)  # bounds checked with the labels in the messages
        by_label = {row.label: row.name for row in self.rows.values()}
        return check_space(
            [type(r)(by_label[r.name], *_fields(r)) for r in checked], SEARCHABLE[self.kind]
        )

    def set_space(self, space_json: dict[str, Any]) -> None:
        for name, row in self.rows.items():
            row.check.setChecked(name in space_json)
            if name in space_json:
                row.set_spec(space_json[name])

    def budget_seconds(self) -> float | None:
        minutes = self.budget.value()
        return minutes * 60 if minutes > 0 else None


def _fields(r: Any) -> tuple[Any, ...]:
    """A range's values after its name (to rebuild it under another name)."""
    import dataclasses

    return tuple(getattr(r, f.name) for f in dataclasses.fields(r))[1:]
