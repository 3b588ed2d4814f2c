"""Run Python's cyclic garbage collector in the GUI thread only.

Collection normally runs in whichever thread happens to allocate when a threshold is
crossed: often a worker thread. If it then frees a Qt object that belongs to the GUI
thread, the worker takes a Qt mutex and waits for the GIL while the GUI thread, holding the
GIL, waits for that mutex: the app freezes (seen in the test suite while a CNN worker
imported torch). So automatic collection is switched off and a timer in the GUI thread
collects instead, generation by generation, as the thresholds say.

Once torch is loaded (by any tab), a full collection walks its few hundred thousand
long-lived objects, about 150 ms with the GUI frozen. The first tick that sees torch in
``sys.modules`` therefore collects once and moves the survivors to the permanent
generation (``gc.freeze``), so later full collections walk only what was made since.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer


class MainThreadGarbageCollector(QObject):
    """Owns the collection schedule while it lives; ``stop()`` restores automatic GC."""

    # Every 100 ms, not 500: while a CNN trains the GUI thread allocates so fast that half
    # a second of young objects (50-80k) took 40-54 ms per generation-0 collection and a
    # generation-1 pass over 158k objects 106 ms, each a visible stall (issue 14's bench).
    def __init__(self, interval_ms: int = 100, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._timer = QTimer(self)
        self._timer.timeout.connect(self.collect_due)
        self._timer.start(interval_ms)
        self._froze_torch = False
        gc.disable()

    def collect_due(self) -> int:
        """Collect the generations whose thresholds were crossed; return objects freed."""
        if not self._froze_torch and "torch" in sys.modules:
            self._froze_torch = True
            freed = gc.collect()
            gc.freeze()
            return freed
        thresholds = gc.get_threshold()
        counts = gc.get_count()
        freed = 0
        for generation in (2, 1, 0):
            if counts[generation] > thresholds[generation]:
                freed += gc.collect(generation)
                break  # collecting a generation also collects the younger ones
        return freed

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
