"""View > Precision: how many significant digits the step panel and the Inputs table show
(the canvas keeps 4 so labels fit; hovering a node shows every digit). Remembered in the
app's settings."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QSettings
from PySide6.QtGui import QActionGroup
from PySide6.QtWidgets import QMenu, QWidget

from gui.graph_tab import theme

KEY = "graph/digits"


def saved_digits(settings: QSettings) -> int:
    try:
        digits = int(settings.value(KEY, theme.DEFAULT_DIGITS))
    except (TypeError, ValueError):
        return theme.DEFAULT_DIGITS
    return digits if digits in theme.DIGIT_CHOICES else theme.DEFAULT_DIGITS


def precision_menu(parent: QWidget, settings: QSettings, apply: Callable[[int], None]) -> QMenu:
    """The submenu; calls ``apply(digits)`` now and whenever the user picks another."""
    menu = QMenu("&Precision", parent)
    group = QActionGroup(menu)
    current = saved_digits(settings)
    for digits in theme.DIGIT_CHOICES:
        action = menu.addAction(f"{digits} significant digits")
        action.setCheckable(True)
        action.setChecked(digits == current)
        group.addAction(action)

        def chosen(_checked: bool = False, d: int = digits) -> None:
            settings.setValue(KEY, d)
            apply(d)

        action.triggered.connect(chosen)
    apply(current)
    return menu
