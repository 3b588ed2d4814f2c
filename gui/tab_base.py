"""What every tab provides to the main window.

A tab is a ``QWidget`` subclass of ``AppTab``. The main window asks it for menu actions
when it becomes current, forwards dropped or ``--open`` files to it, asks before closing,
and calls ``shutdown`` once before the app exits.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from PySide6.QtCore import QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QWidget

from gui.worker import WorkerRegistry


@dataclass
class AppContext:
    """Services the main window shares with its tabs."""

    workers: WorkerRegistry
    settings: QSettings


class AppTab(QWidget):
    """Base class of the tabs. Override what applies; the defaults do nothing."""

    tab_id: ClassVar[str] = ""
    title: ClassVar[str] = ""

    #: (text, timeout in ms; 0 keeps it) for the window's status bar.
    status_message = Signal(str, int)
    #: the tab's menu actions changed (e.g. recent files): the window rebuilds its menus.
    actions_changed = Signal()
    #: the open document's name or unsaved state changed (the window title follows)
    title_changed = Signal()

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context

    def menu_actions(self, menu: str) -> list[QAction | None]:
        """Actions for the window's ``"File"``, ``"Edit"`` or ``"View"`` menu
        (``None`` is a separator). Asked each time the tab becomes current."""
        return []

    def accepts_path(self, path: Path) -> bool:
        """Whether a dropped file or folder is something this tab opens."""
        return False

    def open_paths(self, paths: list[Path]) -> None:
        """Open dropped files (already filtered by ``accepts_path``). Reports its own errors."""

    def can_close(self) -> bool:
        """Asked before the window closes; False keeps it open (unsaved work)."""
        return True

    def shutdown(self) -> None:
        """Stop this tab's work: called once, before the app exits."""

    def document_title(self) -> tuple[str, bool] | None:
        """(name of the open document, has unsaved changes) for the window title, or None
        when the tab has no document."""
        return None

    def focus_target(self) -> QWidget | None:
        """The widget that gets the keyboard focus when the tab becomes current."""
        return None

    def test_state(self) -> dict:
        """What this tab shows, as plain data, for the real-window tests' hook
        (``gui.test_hook``): texts and screen rectangles, never live objects."""
        return {}

    def prepare_screenshot(self) -> None:
        """Bring the tab into a state worth a screenshot (called by ``gui --screenshot``)."""
