"""How many threads numpy's BLAS uses, and a tuner that picks the faster count.

On a shared machine a two-thread GEMM can be several times slower than a one-thread GEMM:
when one of its threads is descheduled the other waits for it (measured here: 256x3072 by
3072x512 float32 in 16 ms with one thread, 55-93 ms with two, under a load average of 7;
about half the one-thread time on an idle machine). PyTorch copes by letting idle threads
sleep; OpenBLAS cannot be told so once loaded, so the trainer measures both counts now and
then (a few steps at each epoch's start, then one step in fifty) and keeps the faster one.

The BLAS libraries loaded in the process are found and driven by threadpoolctl (about a
microsecond per call once found, so a call per step costs nothing). Everything here is a
no-op where no BLAS threadpoolctl knows is loaded.
"""

from __future__ import annotations

import statistics
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

_lock = threading.Lock()
_blas: list[Any] | None = None  # threadpoolctl's BLAS controllers; None: not looked up yet


def _controllers() -> list[Any]:
    """threadpoolctl's controllers of the BLAS libraries loaded now (numpy's among them),
    looked up once: finding them scans the process's libraries."""
    global _blas
    with _lock:
        if _blas is None:
            import numpy  # noqa: F401  (its BLAS must be loaded to be found)
            from threadpoolctl import ThreadpoolController

            _blas = list(ThreadpoolController().select(user_api="blas").lib_controllers)
        return _blas


def blas_threads() -> int | None:
    """Threads numpy's BLAS currently uses, or None when it cannot be controlled."""
    blas = _controllers()
    return int(blas[0].num_threads) if blas else None


def set_blas_threads(n: int) -> int | None:
    """Use ``n`` BLAS threads (process-wide); return the previous count, or None."""
    blas = _controllers()
    if not blas:
        return None
    previous = int(blas[0].num_threads)
    if n != previous:
        for lib in blas:
            # threadpoolctl lets only one thread set OpenBLAS's process-wide count, and a
            # GUI worker thread (a QThread: never "dead" to Python) would keep that right
            # for ever: here the last caller wins, as the trainer needs.
            release = getattr(type(lib), "clear_controlling_thread", None)
            if release is not None:
                release(force=True)
            lib.set_num_threads(max(1, int(n)))
    return previous


class ThreadTuner:
    """Chooses between the current BLAS thread count and one thread by timing real steps.

    At the start of every epoch (``start_epoch``) the next ``2 * trials`` steps alternate
    between the two counts; after that, one step in every ``period`` runs with the other
    count, so a change in the machine's load is noticed within an epoch; a probe faster
    than the chosen count is repeated at once until its recent steps are all fresh.
    ``record`` takes each step's duration; the count with the lower median of its recent
    steps is used.
    ``restore`` puts the original count back. With one core, or no controllable BLAS, it
    does nothing.

    With ``apply`` the options are of something else: ``threads`` is the original setting,
    ``options`` (default: it and 1) the settings to choose from, and ``apply(n)`` switches
    to n (the trainer's ways of using the cores, ``nets.mlp.train``). Probes cycle through
    the options not chosen.
    """

    def __init__(
        self,
        trials: int = 3,
        period: int = 50,
        window: int = 5,
        *,
        threads: int | None = None,
        apply: Callable[[int], object] | None = None,
        options: list[int] | None = None,
    ) -> None:
        self._apply: Callable[[int], object] = apply or set_blas_threads
        self.original = threads if apply is not None else blas_threads()
        if options is not None and apply is not None:
            self.options = list(options) if len(options) > 1 else []
        elif self.original is not None and self.original > 1:
            self.options = [self.original, 1]
        else:
            self.options = []
        self._probe_turn = 0
        self.trials = trials
        self.period = period
        self.chosen = self.original
        self._plan: list[int] = []
        self._times: dict[int, deque[float]] = {n: deque(maxlen=window) for n in self.options}
        self._current: int | None = None
        self._since_probe = 0
        self._first = True
        self._confirming = 0
        self._probing = False  # the step running is a single probe (not an epoch's trials)

    def _promising(self, option: int | None, seconds: float) -> bool:
        """Whether a probe of ``option`` taking ``seconds`` beat the chosen setting's
        median, with room left in its window for another fresh sample."""
        chosen = self._times.get(self.chosen) if self.chosen is not None else None
        if option is None or not chosen:
            return False
        window = self._times[option].maxlen or 1
        if self._confirming >= window - 1:
            return False
        return seconds < statistics.median(chosen)

    @property
    def active(self) -> bool:
        return bool(self.options)

    def start_epoch(self) -> None:
        if not self.active:
            return
        k = len(self.options)
        self._plan = [self.options[i % k] for i in range(k * self.trials)]
        self._since_probe = 0
        self._confirming = 0
        self._probing = False

    def before_step(self) -> None:
        if not self.active:
            return
        if not self._plan and self._since_probe >= self.period:
            others = [n for n in self.options if n != self.chosen]
            self._plan = [others[self._probe_turn % len(others)]]
            self._probing = True
            self._probe_turn += 1
            self._since_probe = 0
        self._current = self._plan[0] if self._plan else self.chosen
        if self._current is not None:
            self._apply(self._current)

    def record(self, seconds: float) -> None:
        if not self.active or self._current is None:
            return
        if self._plan:
            self._plan.pop(0)
        else:
            self._since_probe += 1
        if self._first:  # the run's first step pays for allocations: not a fair sample
            self._first = False
            self._plan.insert(0, self._current)
            return
        probe, self._probing = self._probing, False
        self._times[self._current].append(seconds)
        if probe and self._promising(self._current, seconds):
            # A probe that beat the chosen setting is taken again at once, until that
            # option's window holds only fresh samples: otherwise one hiccup in the
            # epoch's first trials (old samples in the window) kept the slower setting
            # for 100 steps per probe. Seen on a shared 2-core VM: a whole epoch on one
            # core, 2.6 s against 1.3-1.6 s split, after two disturbed trial steps.
            self._confirming += 1
            self._plan = [self._current]
            self._probing = True
            self._since_probe = 0
        elif not self._plan:
            self._confirming = 0
        if not self._plan:
            medians = {k: statistics.median(v) for k, v in self._times.items() if v}
            if medians:
                self.chosen = min(medians, key=medians.__getitem__)
            if self.chosen is not None:
                self._apply(self.chosen)

    def restore(self) -> None:
        if self.original is not None:
            self._apply(self.original)
