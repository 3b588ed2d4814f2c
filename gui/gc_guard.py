"""Run Python's cyclic garbage collector in the GUI thread only.

Collection normally runs in whichever thread happens to allocate when a threshold is
crossed: often a worker thread. If it then frees a Qt object that belongs to the GUI
thread, the worker takes a Qt mutex and waits for the GIL while the GUI thread, holding the
GIL, waits for that mutex: the app freezes (seen in the test suite while a CNN worker
imported torch). So automatic collection is switched off and a timer in the GUI thread
collects instead, generation by generation, as the thresholds say.

Importing torch (300k objects; torchvision and captum add 330k more) fills the young
generations with objects that live as long as the app: each pass over them stalled the
GUI (100-180 ms per generation-1 pass while a worker imported torch for the Classify tab),
and every later full collection walked them again. So while one of those packages is
still being imported (in a worker: its module exists in ``sys.modules`` from the start of
its import) nothing is collected, and once it has finished the whole heap moves to the
permanent generation (``gc.freeze``), so later collections walk only what was made since.
There is no full collection before the freeze: it would walk every one of those objects
(a 150-700 ms stall) to free the few thousand cycles an import leaves, once.
"""

from __future__ import annotations

import gc
import sys

from PySide6.QtCore import QObject, QTimer

#: Packages whose import leaves hundreds of thousands of long-lived objects.
HEAVY_PACKAGES = ("torch", "torchvision", "captum")


def heavy_imports() -> tuple[frozenset[str], bool]:
    """``(loaded, importing)``: the heavy packages whose import has finished, and whether
    one is being imported right now (importlib marks a module whose code still runs)."""
    loaded: set[str] = set()
    importing = False
    for name in HEAVY_PACKAGES:
        module = sys.modules.get(name)
        if module is None:
            continue
        if getattr(getattr(module, "__spec__", None), "_initializing", False):
            importing = True
        else:
            loaded.add(name)
    return frozenset(loaded), importing


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
        self._frozen_for: frozenset[str] = frozenset()
        gc.disable()

    def collect_due(self) -> int:
        """Collect the generations whose thresholds were crossed; return objects freed."""
        loaded, importing = heavy_imports()
        if importing:
            return 0  # what it makes survives: a pass now walks it for nothing
        if not loaded <= self._frozen_for:
            self._frozen_for |= loaded
            gc.freeze()
            return 0
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
