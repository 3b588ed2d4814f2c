"""Validated text fields for numbers: a bad value is shown inline and blocks Start.

``QSpinBox`` silently clamps what a user types; a text field keeps what was typed (say,
"abc" or "-1"), marks it, and says why, so the user sees the reason Start is disabled.
"""

from __future__ import annotations

import math

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLineEdit, QWidget

_INVALID_STYLE = "QLineEdit { border: 1px solid #d03030; background: #fff0f0; }"


class NumberField(QLineEdit):
    """A line edit holding an int or float within [minimum, maximum].

    ``value()`` returns the parsed number or None; ``error()`` the reason it is invalid
    (an empty string when valid). ``validity_changed`` fires on every edit.
    """

    validity_changed = Signal()

    def __init__(
        self,
        label: str,
        default: float | int,
        *,
        integer: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        min_inclusive: bool = True,
        tooltip: str = "",
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.label = label
        self.integer = integer
        self.minimum = minimum
        self.maximum = maximum
        self.min_inclusive = min_inclusive
        self._tooltip = tooltip
        self.setText(self.format(default))
        self.setToolTip(tooltip)
        self.setClearButtonEnabled(False)
        self.textChanged.connect(self._on_changed)
        self._error = ""
        self._on_changed()

    def format(self, value: float | int) -> str:
        if self.integer:
            return str(int(value))
        return f"{value:g}"

    def set_value(self, value: float | int) -> None:
        self.setText(self.format(value))

    def _parse(self) -> tuple[float | int | None, str]:
        text = self.text().strip().replace("_", "")
        if not text:
            return None, f"{self.label}: enter a value"
        try:
            value: float | int = int(text) if self.integer else float(text)
        except ValueError:
            kind = "a whole number" if self.integer else "a number"
            return None, f"{self.label}: {text!r} is not {kind}"
        if isinstance(value, float) and not math.isfinite(value):
            return None, f"{self.label}: must be a finite number"
        if self.minimum is not None:
            low_bad = value < self.minimum if self.min_inclusive else value <= self.minimum
            if low_bad:
                op = ">=" if self.min_inclusive else ">"
                return None, f"{self.label}: must be {op} {self.format(self.minimum)}"
        if self.maximum is not None and value > self.maximum:
            return None, f"{self.label}: must be <= {self.format(self.maximum)}"
        return value, ""

    def _on_changed(self) -> None:
        _value, self._error = self._parse()
        self.setStyleSheet(_INVALID_STYLE if self._error else "")
        self.setToolTip(self._error or self._tooltip)
        self.validity_changed.emit()

    def value(self) -> float | int | None:
        return self._parse()[0]

    def error(self) -> str:
        return self._error
