"""Widgets built when first needed: a hidden page or panel costs nothing at start-up.

``LazyWidget(factory)`` holds the place of the widget ``factory()`` returns (its module
imported inside the factory, so that an unseen page's imports, pyqtgraph's among them,
wait too). The widget is built the first time the placeholder is shown (its page becomes
current, its panel is made visible) or ``widget()`` is asked for, and then fills the
placeholder. The main window's tabs are built the same way (``gui.main_window.LazyTab``).

``LazyWidget(factory, after_paint=True)`` is for a part of the first view that is costly
to import (the training tabs' plots: pyqtgraph): it is built right after the placeholder's
first paint (a zero-timer queued from that paint), so the window is on screen first and
the part follows at once. ``pending_after_paint(root)`` lists those not built yet and
``build_pending(root)`` builds them now (a screenshot, a test that cannot wait).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from PySide6.QtCore import QEvent, QObject, QTimer, Signal
from PySide6.QtGui import QPaintEvent, QShowEvent
from PySide6.QtWidgets import QVBoxLayout, QWidget

W = TypeVar("W", bound=QWidget)


class LazyWidget(QWidget, Generic[W]):
    """The place of a widget built on first show or first ``widget()`` call."""

    #: the widget was just built (it is ``widget()``).
    built = Signal()

    def __init__(
        self, factory: Callable[[], W], parent: QWidget | None = None, *, after_paint: bool = False
    ) -> None:
        super().__init__(parent)
        self._factory: Callable[[], W] | None = factory
        self._widget: W | None = None
        #: built after the first paint instead of on the first show (see the module doc)
        self.after_paint = after_paint
        self._queued = False
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
            self.layout().addWidget(self._widget)  # shown by Qt if this is (queued)
            self.built.emit()
        return self._widget

    def showEvent(self, event: QShowEvent) -> None:
        if self._widget is None and not self.after_paint:
            # Qt has shown the children already: show the new one now, not a moment later.
            self.widget().show()
        elif self._widget is None and not self._queued:
            # The window's own paint counts too: a placeholder left no room never paints.
            self.window().installEventFilter(self)
        super().showEvent(event)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Paint and watched is self.window():
            self._queue_build()
        return False

    def paintEvent(self, event: QPaintEvent) -> None:
        if self.after_paint:
            self._queue_build()
        super().paintEvent(event)

    def _queue_build(self) -> None:
        if self._widget is None and not self._queued:
            # The window's paint and its flush to the screen finish before the event loop
            # runs this timer: what is built here follows the first frame, never delays it.
            self._queued = True
            self.window().removeEventFilter(self)
            QTimer.singleShot(0, self, self._build_shown)

    def _build_shown(self) -> None:
        widget = self.widget()
        if self.isVisible():  # now: Qt shows a child added to a shown parent a turn later
            widget.show()


def pending_after_paint(root: QWidget) -> list[LazyWidget]:
    """The visible ``after_paint`` widgets below ``root`` that are not built yet."""
    return [
        w
        for w in root.findChildren(LazyWidget)
        if w.after_paint and w.created is None and w.isVisible()
    ]


def build_pending(root: QWidget) -> None:
    """Build every visible ``after_paint`` widget below ``root`` now."""
    for lazy in pending_after_paint(root):
        lazy._build_shown()
