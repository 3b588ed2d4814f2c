"""What the start-up benchmark and tests read (``BACKPROP_EXPLORER_EXIT_AFTER_SHOW``):
when the first window is really on screen, and when the restored tab is complete.

``StartupReport(window)`` watches the window's paint events and prints, to stdout:

* ``window-shown`` once its first frame is painted (the timer that prints it runs after
  that paint and its flush), then ``window-shown-cpu-s S``, the CPU seconds used so far;
* ``tab-ready`` once the parts of the current tab built after the first paint
  (``gui.lazy``'s ``after_paint`` widgets: the training tabs' plots) exist and have been
  painted too, then ``tab-ready-cpu-s S``; a tab without such parts is ready at once.

Then it closes the window. Printing follows the paint, never a show request: a window
mapped but not yet drawn does not count.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QTimer
from PySide6.QtWidgets import QApplication, QWidget

from gui.lazy import LazyWidget, pending_after_paint


class StartupReport(QObject):
    """Prints the start-up milestones of ``window`` (see the module docstring), then
    closes it."""

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self.window = window
        self._waiting: list[LazyWidget] | None = None  # None until the first frame
        self._queued = False
        app = QApplication.instance()
        assert app is not None
        self._app = app
        app.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Paint
            and not self._queued
            and isinstance(obj, QWidget)
            and obj.window() is self.window
        ):
            if self._waiting is None:
                self._queue(self._shown)
            elif all(w.created is not None for w in self._waiting) and any(
                w.isAncestorOf(obj) and w.created is not obj for w in self._waiting
            ):
                self._queue(self._ready)
        return False

    def _queue(self, fn: Callable[[], None]) -> None:
        self._queued = True
        QTimer.singleShot(0, self, fn)

    def _shown(self) -> None:
        _say("window-shown")
        self._queued = False
        self._waiting = pending_after_paint(self.window)
        if not self._waiting:
            self._ready()

    def _ready(self) -> None:
        _say("tab-ready")
        self._app.removeEventFilter(self)
        self.window.close()


def _say(milestone: str) -> None:
    print(milestone, flush=True)
    print(f"{milestone}-cpu-s {time.process_time():.3f}", flush=True)
