"""Widgets built when first needed: a hidden page or panel costs nothing at start-up.

``LazyWidget(factory)`` holds the place of the widget ``factory()`` returns (its module
imported inside the factory, so that an unseen page's imports, pyqtgraph's among them,
wait too). The widget is built the first time the placeholder is shown (its page becomes
current, its panel is made visible) or ``widget()`` is asked for, and then fills the
placeholder. The main window's tabs are built the same way (``gui.main_window.LazyTab``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

W = TypeVar("W", bound=QWidget)


class LazyWidget(QWidget, Generic[W]):
    """The place of a widget built on first show or first ``widget()`` call."""

    #: the widget was just built (it is ``widget()``).
    built = Signal()

    def __init__(self, factory: Callable[[], W], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._factory: Callable[[], W] | None = factory
        self._widget: W | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

    @property
    def created(self) -> W | None:
        """The widget if it has been built, else None (never builds it)."""
        return self._widget

    def widget(self) -> W:
        """The widget, built now if it was not yet."""
        if self._widget is None:
            assert self._factory is not None
            factory, self._factory = self._factory, None
            self._widget = factory()
            self.layout().addWidget(self._widget)
            self.built.emit()
        return self._widget

    def showEvent(self, event: QShowEvent) -> None:
        if self._widget is None:
            # Qt has shown the children already: show the new one now, not a moment later.
            self.widget().show()
        super().showEvent(event)
