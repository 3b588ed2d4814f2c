"""The numpy net's big array operations split across cores by the trainer itself.

Why not OpenBLAS's own threads: they wait for each other with ``sched_yield`` loops, and on
a machine where other processes are runnable a yield hands the core away for a whole
time slice. Measured on 2 cores with niced jobs running: a 256x3072 by 3072x512 float32
GEMM ran at 15-19 GFLOP/s with two OpenBLAS threads against 95 with one. Splitting the
work in halves ourselves, each half a one-thread BLAS call (or a numpy pass) in its own
Python thread (numpy releases the GIL inside both), needs one hand-over per operation,
done with blocking locks that sleep instead of yielding; and the passes numpy runs on one
core only (the batch gather, the L2 term, the optimizer's update) are split the same way.

``Workers(n)`` owns n - 1 helper threads; ``splitting(workers)`` makes the calling thread's
``dot``, ``dot_tn``, ``take_rows`` and ``for_blocks`` use them (elsewhere, and for small
arrays, they are the plain numpy calls). Between the first layer's GEMMs the caller runs
small passes (bias, ReLU, the output layer, softmax) alone; ``Workers.defer`` gives a
helper a job for that gap (the trainer gathers the next batch there). The split results
are the same numbers as the whole calls (every output element is computed by one thread,
from the same inputs).
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import numpy as np

from nets.mlp import cblas

#: Below this many elements a split pass costs more than it saves.
MIN_WORK = 1 << 18
#: Below this many multiply-adds a split GEMM costs more than it saves: 2^22 take about
#: 0.1 ms on one core, and handing a part to a helper thread and waiting for it costs tens
#: of microseconds on an idle machine, a millisecond and more on a loaded one (the output
#: layer's forward GEMM, 256x512 by 512x10, split: 0.2 s of wall per epoch for 0.03 s of
#: CPU, load 2-4).
MIN_GEMM_WORK = 1 << 22

_local = threading.local()


class Workers:
    """Runs ``fn(0) .. fn(width - 1)`` at once: part 0 in the caller, the rest in helpers.

    ``width`` may be lowered (and raised again, up to ``size``) between calls: the trainer's
    tuner uses one part when the machine is too busy for two to be faster.
    """

    def __init__(self, size: int) -> None:
        self.size = max(1, int(size))
        self.width = self.size
        self._jobs: list[Callable[[], None] | None] = [None] * self.size
        self._errors: list[BaseException | None] = [None] * self.size
        self._start = [threading.Lock() for _ in range(self.size)]
        self._done = [threading.Lock() for _ in range(self.size)]
        self._threads: list[threading.Thread] = []
        self._closed = False
        # defer(): the job helper 1 runs after its part of the next split, and whether
        # one is running (settle() waits for it on _after_done).
        self._deferred: Callable[[], None] | None = None
        self._after: Callable[[], None] | None = None
        self._after_running = False
        self._after_done = threading.Lock()
        self._after_done.acquire()  # released by helper 1 after each deferred job
        self._after_error: BaseException | None = None

    def set_width(self, n: int) -> None:
        """Split into ``n`` parts from now on (1 .. size)."""
        self.width = max(1, min(self.size, int(n)))

    def _start_threads(self) -> None:
        """The helpers start with the first split, so an unused Workers holds no thread."""
        for k in range(1, self.size):
            self._start[k].acquire()
            self._done[k].acquire()
            t = threading.Thread(target=self._loop, args=(k,), name=f"mlp-split-{k}", daemon=True)
            t.start()
            self._threads.append(t)

    def _loop(self, k: int) -> None:
        _local.helper = True  # a helper's own calls (a deferred job's) are never split
        while True:
            self._start[k].acquire()
            job = self._jobs[k]
            if job is None:  # close()
                self._done[k].release()
                return
            try:
                job()
            except BaseException as exc:  # handed to the caller, who re-raises it
                self._errors[k] = exc
            after = None
            if k == 1:
                after, self._after = self._after, None
            self._done[k].release()
            if after is not None:
                try:
                    after()
                except BaseException as exc:  # re-raised by settle()
                    self._after_error = exc
                self._after_done.release()

    def run(self, fn: Callable[[int, int], None]) -> None:
        """Call ``fn(part, parts)`` for part in 0..width-1, concurrently; re-raise errors."""
        self.settle_running()
        parts = self.width
        if parts == 1 or self._closed:
            fn(0, 1)
            return
        if not self._threads:
            self._start_threads()
        if self._deferred is not None:
            self._after, self._deferred = self._deferred, None
            self._after_running = True
        for k in range(1, parts):
            self._jobs[k] = functools.partial(fn, k, parts)
            self._start[k].release()
        try:
            fn(0, parts)
        finally:
            for k in range(1, parts):
                self._done[k].acquire()
                self._jobs[k] = None
        for k in range(1, parts):
            exc, self._errors[k] = self._errors[k], None
            if exc is not None:
                raise exc

    def defer(self, job: Callable[[], None]) -> None:
        """Have ``job()`` run by a helper right after its part of the next ``run``, while
        the caller goes on with whatever it does alone after that split (the trainer
        gathers the next batch during the small passes between the first layer's GEMMs).
        ``settle()`` waits for it; the next ``run`` and ``close`` do too. With no helper
        (width 1, closed) ``settle()`` runs it in the caller. One job at a time."""
        self.settle()
        self._deferred = job

    def settle_running(self) -> None:
        """Wait for a deferred job a helper has started (re-raise its error)."""
        if self._after_running:
            self._after_done.acquire()
            self._after_running = False
            exc, self._after_error = self._after_error, None
            if exc is not None:
                raise exc

    def settle(self) -> None:
        """Wait for the deferred job, or run it here if no helper has started it."""
        self.settle_running()
        job, self._deferred = self._deferred, None
        if job is not None:
            job()

    def close(self) -> None:
        """End the helper threads (idempotent), after any deferred job."""
        if self._closed:
            return
        try:
            self.settle()
        finally:
            self._deferred = None
            self._shut_down()

    def _shut_down(self) -> None:
        self._closed = True
        if not self._threads:
            return
        for k in range(1, self.size):
            self._jobs[k] = None
            self._start[k].release()
        for t in self._threads:
            t.join()


def active() -> Workers | None:
    """The workers the calling thread splits with, if any and if wider than one."""
    if getattr(_local, "helper", False):
        return None
    w: Workers | None = getattr(_local, "workers", None)
    return w if w is not None and w.width > 1 else None


@contextmanager
def splitting(workers: Workers) -> Iterator[Workers]:
    """Within the block, this thread's split operations use ``workers`` (the caller makes
    BLAS single-threaded: each part is one BLAS call)."""
    previous = getattr(_local, "workers", None)
    _local.workers = workers
    try:
        yield workers
    finally:
        _local.workers = previous


def bounds(n: int, part: int, parts: int, align: int = 16) -> tuple[int, int]:
    """[start, end) of ``part`` of ``parts`` near-equal pieces of range(n), starts aligned."""
    step = -(-n // parts)
    step = -(-step // align) * align
    return min(n, part * step), min(n, (part + 1) * step)


#: Split a GEMM over its output's columns when each part gets at least this many.
MIN_COLUMNS = 64


def _gemm(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float) -> np.ndarray:
    """out = a @ b + beta * out (a may be a transposed view), split across the active
    workers; each part is one ``cblas.gemm`` call.

    Split over the columns of ``b`` and ``out`` when there are enough of them: each part
    reads all of ``a`` and its own columns of ``b`` and writes its own columns of ``out``
    in place (a column block of a C-contiguous array, unit-strided along its rows, goes
    straight to BLAS). Measured with one BLAS thread on the first layer's shapes: 84-86
    GFLOP/s per half for the weight gradient, against 73 for halves of its rows (the rows
    of ``x.T`` are strided columns of ``x``, which BLAS packs slowly), and 90 against 83-86
    for the forward GEMM. Few columns (the output layer): over the rows.
    """
    w = active()
    m, k = a.shape
    n = b.shape[1]
    if w is None or m * k * n < MIN_GEMM_WORK:
        return cblas.gemm(a, b, out, beta)
    if n >= MIN_COLUMNS * w.width:

        def columns(part: int, parts: int) -> None:
            s, e = bounds(n, part, parts)
            if s < e:
                cblas.gemm(a, b[:, s:e], out[:, s:e], beta)

        w.run(columns)
        return out
    if m < 2 * w.width or not a.flags.c_contiguous:
        # Row blocks of a transposed ``a`` (the output layer's weight gradient, h.T @ G)
        # are strided both ways: the split ran 5x slower than the whole call (0.6 against
        # 0.11 ms for 512x256 by 256x10, numpy copying each block before calling BLAS).
        return cblas.gemm(a, b, out, beta)

    def rows(part: int, parts: int) -> None:
        s, e = bounds(m, part, parts, align=8)
        if s < e:
            cblas.gemm(a[s:e], b, out[s:e], beta)

    w.run(rows)
    return out


def dot(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float = 0.0) -> np.ndarray:
    """out = a @ b + beta * out for a (M, K), b (K, N), out (M, N) C-contiguous; split
    across cores. With beta 0 the old contents of ``out`` are never read."""
    return _gemm(a, b, out, beta)


def dot_tn(a: np.ndarray, b: np.ndarray, out: np.ndarray, beta: float = 0.0) -> np.ndarray:
    """out = a.T @ b + beta * out for a (K, M), b (K, N), out (M, N) C-contiguous; split
    across cores (the weight gradient: with beta = momentum it updates SGD's velocity)."""
    return _gemm(a.T, b, out, beta)


def take_rows(X: np.ndarray, idx: np.ndarray, out: np.ndarray) -> np.ndarray:
    """out = X[idx] (rows gathered into the C-contiguous ``out``); split over the rows."""
    w = active()
    n = len(idx)
    if w is None or out.size < MIN_WORK:
        return np.take(X, idx, axis=0, out=out)

    def part(k: int, parts: int) -> None:
        s, e = bounds(n, k, parts, align=1)
        if s < e:
            np.take(X, idx[s:e], axis=0, out=out[s:e])

    w.run(part)
    return out


#: Elements per block of ``for_blocks`` (1 MB of float32 per array). Each block costs a few
#: numpy calls from Python, and with two threads sharing the GIL that overhead, not memory
#: traffic, was what smaller blocks cost: the SGD update of a 3072x512 float32 matrix took
#: 6.7 ms in blocks of 2^15 elements, 4.0 in 2^17 and 3.5 in 2^18 (one thread, loaded machine).
BLOCK = 1 << 18


def for_blocks(size: int, fn: Callable[[int, int], None]) -> None:
    """Call ``fn(start, end)`` over consecutive blocks of range(size), the blocks shared
    out among the workers (elementwise passes over flat arrays)."""
    w = active()
    if w is None or size < MIN_WORK:
        for s in range(0, size, BLOCK):
            fn(s, min(size, s + BLOCK))
        return

    def part(k: int, parts: int) -> None:
        lo, hi = bounds(size, k, parts, align=BLOCK)
        for s in range(lo, hi, BLOCK):
            fn(s, min(hi, s + BLOCK))

    w.run(part)


def scratch(size: int, dtype: np.dtype) -> np.ndarray:
    """A (size,) buffer of the calling thread's own (kept between calls, never shared)."""
    buffers: dict[np.dtype, np.ndarray] | None = getattr(_local, "scratch", None)
    if buffers is None:
        buffers = _local.scratch = {}
    dtype = np.dtype(dtype)
    buf = buffers.get(dtype)
    if buf is None or buf.size < size:
        buf = buffers[dtype] = np.empty(max(size, BLOCK), dtype=dtype)
    return buf[:size]
