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

A collection runs in a turn of the event loop that no redraw paints in (``gui.turns``:
the two in one turn stalled for their sum), and a full one (every object not frozen)
waits while redraws keep coming (a training run's live plots), for a quiet second or at
most ``MAX_FULL_GAP_S``: called directly every tenth generation-1 pass, it was a rare
long stall in the middle of a run.
"""

from __future__ import annotations

import gc
import sys
import time

from PySide6.QtCore import QObject, QTimer

from gui.turns import TURNS

#: Packages whose import leaves hundreds of thousands of long-lived objects.
HEAVY_PACKAGES = ("torch", "torchvision", "captum")
#: A full collection (every object not frozen: 20-55 ms with the training tabs built)
#: waits until no redraw has claimed a turn for QUIET_S seconds, but never longer than
#: MAX_FULL_GAP_S after the last one (cyclic garbage must not pile up in a long run).
QUIET_S = 1.0
MAX_FULL_GAP_S = 60.0


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
        self._last_full = time.monotonic()  # the first full pass waits as later ones do
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
        due = [g for g in (2, 1, 0) if counts[g] > thresholds[g]]
        now = time.monotonic()
        if due[:1] == [2] and now - TURNS.last_redraw < QUIET_S:
            if now - self._last_full < MAX_FULL_GAP_S:
                due = due[1:]  # the full pass waits for a quiet moment, the young ones don't
        # Collecting a generation also collects the younger ones: the oldest due only, in
        # a turn of the event loop that no redraw paints in (gui.turns).
        if not due or not TURNS.claim(self, redraw=False):
            return 0
        freed = gc.collect(due[0])
        if due[0] == 2:
            self._last_full = time.monotonic()
        return freed

    def stop(self) -> None:
        self._timer.stop()
        gc.enable()
