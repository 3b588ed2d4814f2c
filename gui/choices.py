"""Combo boxes of fixed choices: a shown label and the value the code reads back."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtWidgets import QComboBox


def choice_combo(name: str, choices: Iterable[tuple[str, Any]], tooltip: str = "") -> QComboBox:
    """A combo named ``name`` (for tests and the real-window hook) listing ``choices`` as
    (label, value) pairs; ``currentData()`` gives the chosen value."""
    combo = QComboBox()
    combo.setObjectName(name)
    for label, value in choices:
        combo.addItem(label, value)
    if tooltip:
        combo.setToolTip(tooltip)
    return combo


def select_value(combo: QComboBox, value: Any) -> bool:
    """Show the choice whose value is ``value``; False (and no change) if none has it."""
    index = combo.findData(value)
    if index < 0:
        return False
    combo.setCurrentIndex(index)
    return True
