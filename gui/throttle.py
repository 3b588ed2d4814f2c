"""The one way a view follows a fast stream of worker items: mark it out of date on each
item, redraw at most every ``interval_ms`` from a timer (the pattern of pyqtgraph's live
examples: data is kept as it arrives, ``setData`` and repaints run on a timer).

A trainer on tiny data yields thousands of events a second; redrawing a widget per event
starves the event loop (the window froze for a minute and a half). ``Throttle`` keeps
the latest request only: however many arrive, ``fn`` runs once per interval, and once
more after the last request (nothing is left undrawn).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, QTimer


class Throttle(QObject):
    """``request()`` asks for ``fn()``; it runs on the next pass of the event loop when
    the last run is ``interval_ms`` old, else when it will be. ``flush()`` runs a pending
    request now (a run ended: show its last state at once); ``cancel()`` drops it."""

    def __init__(
        self, fn: Callable[[], None], interval_ms: int = 100, parent: QObject | None = None
    ) -> None:
        super().__init__(parent)
        self._fn = fn
        self.interval_ms = interval_ms
        self._last: float | None = None
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self._fire)
        self.calls = 0  # how many times ``fn`` ran (tests and benches read it)

    def request(self) -> None:
        if self._timer.isActive():
            return
        wait_ms = 0.0
        if self._last is not None:
            wait_ms = self.interval_ms - 1000 * (time.perf_counter() - self._last)
        self._timer.start(max(0, int(wait_ms)))

    def pending(self) -> bool:
        return self._timer.isActive()

    def flush(self) -> None:
        if self._timer.isActive():
            self._timer.stop()
            self._fire()

    def cancel(self) -> None:
        self._timer.stop()

    def _fire(self) -> None:
        self._last = time.perf_counter()
        self.calls += 1
        self._fn()
