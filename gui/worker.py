"""Run plain Python generators off the GUI thread and deliver what they yield as signals.

The models in ``graph`` and ``nets`` know nothing of Qt: long work there is a generator
that yields small frozen dataclasses. ``GeneratorWorker`` runs one such generator in a
``QThread``; every yielded item reaches the GUI thread through the ``item`` signal (a
queued connection, because the receivers live in the GUI thread). Widgets are never
touched from the worker thread.

Cancel and pause are checked between yields, so a generator should yield often (every
training step, every image). The generator factory receives the worker's ``CancelToken``
(the one cancel token of the app) and passes it down as the ``cancel()`` callable that
``nets`` loops and loaders poll. It carries two requests: ``cancel()`` (the worker drops
the generator at its next yield: closing, a load nobody wants any more) and
``request_stop()`` (only the generator is told, through ``token()``; it ends in its own
way, e.g. a trainer yields ``Stopped`` with the weights so far, and every item it still
yields is delivered).
"""

from __future__ import annotations

import threading
import traceback
from collections.abc import Callable, Iterator
from typing import Any

from PySide6.QtCore import QObject, QThread, Signal, Slot


class CancelToken:
    """Thread-safe cancel and stop flags handed to the generator factory.

    ``token()`` and ``token.is_set()`` are True after either request, so the token itself
    goes wherever ``nets`` wants a ``cancel() -> bool`` callable or a ``threading.Event``.
    ``is_cancelled()`` is True only after ``cancel()`` (the worker's own check: drop the
    generator); ``stop_requested()`` only after ``request_stop()``."""

    def __init__(self) -> None:
        self._cancel = threading.Event()
        self._stop = threading.Event()

    def cancel(self) -> None:
        self._cancel.set()

    def request_stop(self) -> None:
        self._stop.set()

    def is_cancelled(self) -> bool:
        return self._cancel.is_set()

    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def is_set(self) -> bool:
        return self._cancel.is_set() or self._stop.is_set()

    __call__ = is_set


GeneratorFactory = Callable[[CancelToken], Iterator[Any]]


class _Runner(QObject):
    """Lives in the worker thread and pulls items from the generator."""

    item = Signal(object)
    failed = Signal(str, str)
    finished = Signal(str)

    def __init__(self, factory: GeneratorFactory, token: CancelToken, max_in_flight: int) -> None:
        super().__init__()
        self._factory = factory
        self._token = token
        # Back-pressure: at most this many items wait in the GUI's event queue, so a fast
        # generator cannot flood it, and a cancel takes effect within a few items.
        self.slots = threading.Semaphore(max_in_flight)
        self._running = threading.Event()
        self._running.set()  # cleared while paused

    def pause(self) -> None:
        self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @Slot()
    def run(self) -> None:
        status = "finished"
        generator: Iterator[Any] | None = None
        try:
            generator = self._factory(self._token)
            while True:
                # Wait while paused, waking up regularly to notice a cancel.
                while not self._running.wait(0.05):
                    if self._token.is_cancelled():
                        break
                if self._token.is_cancelled():
                    status = "cancelled"
                    break
                try:
                    value = next(generator)
                except StopIteration:
                    break
                while not self.slots.acquire(timeout=0.05):
                    if self._token.is_cancelled():
                        break
                if self._token.is_cancelled():
                    status = "cancelled"
                    break
                self.item.emit(value)
        except Exception as exc:
            status = "failed"
            message = str(exc).strip() or type(exc).__name__
            self.failed.emit(message, traceback.format_exc())
        finally:
            close = getattr(generator, "close", None)
            if close is not None:
                try:
                    close()  # runs the generator's finally blocks in this thread
                except Exception:
                    pass
            self.finished.emit(status)
            # Quit from inside, so the thread ends even while the GUI thread is blocked
            # waiting for it (closing the window).
            QThread.currentThread().quit()


class GeneratorWorker(QObject):
    """One generator running in its own ``QThread``.

    Signals (all delivered in the GUI thread):
      ``item(object)``: each yielded value, in order;
      ``failed(str, str)``: the exception's one-line message and its traceback;
      ``done(str)``: always last, with ``"finished"``, ``"cancelled"`` or ``"failed"``.
    """

    item = Signal(object)
    failed = Signal(str, str)
    done = Signal(str)

    def __init__(
        self,
        factory: GeneratorFactory,
        name: str = "worker",
        parent=None,
        max_in_flight: int = 64,
    ) -> None:
        super().__init__(parent)
        self.name = name
        self.token = CancelToken()
        self.status: str | None = None  # set when done
        self._thread = QThread()
        self._thread.setObjectName(name)
        self._runner = _Runner(factory, self.token, max_in_flight)
        self._runner.moveToThread(self._thread)
        self._thread.started.connect(self._runner.run)
        self._runner.item.connect(self._deliver)
        self._runner.failed.connect(self.failed)
        self._runner.finished.connect(self._on_runner_finished)
        self._paused = False

    # -- control ---------------------------------------------------------------------
    def start(self) -> None:
        if self._thread.isRunning() or self.status is not None:
            raise RuntimeError(f"{self.name} was already started")
        self._thread.start()

    def cancel(self) -> None:
        """Ask the generator to stop at its next yield (also wakes a paused worker)."""
        self.token.cancel()
        self._runner.resume()

    def stop(self) -> None:
        """Ask the generator to finish on its own (``token()`` turns True); unlike
        ``cancel`` every item it still yields is delivered. Wakes a paused worker."""
        self.token.request_stop()
        self.resume()

    def pause(self) -> None:
        self._paused = True
        self._runner.pause()

    def resume(self) -> None:
        self._paused = False
        self._runner.resume()

    @property
    def is_paused(self) -> bool:
        return self._paused

    def is_running(self) -> bool:
        return self._thread.isRunning() and self.status is None

    def wait(self, timeout_ms: int) -> bool:
        """Block until the thread has ended; False on timeout."""
        if not self._thread.isRunning():
            return True
        return self._thread.wait(timeout_ms)

    # -- internals -------------------------------------------------------------------
    @Slot(object)
    def _deliver(self, value: object) -> None:
        self._runner.slots.release()
        self.item.emit(value)

    @Slot(str)
    def _on_runner_finished(self, status: str) -> None:
        # The thread must have stopped before ``done`` is seen, so that a receiver may
        # drop its reference to this worker at once.
        self._thread.wait()
        self.status = status
        self.done.emit(status)


class WorkerRegistry(QObject):
    """Keeps every running worker, so that closing the window can stop them all."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._workers: list[GeneratorWorker] = []

    def start(self, factory: GeneratorFactory, name: str = "worker") -> GeneratorWorker:
        """Create, register and start a worker. Connect to its signals right away:
        nothing is delivered before control returns to the event loop."""
        # Python owns workers (no Qt parent): a Qt parent would delete them a second time.
        worker = GeneratorWorker(factory, name=name)
        self._workers.append(worker)
        worker.done.connect(lambda _status, w=worker: self._forget(w))
        worker.start()
        return worker

    def _forget(self, worker: GeneratorWorker) -> None:
        if worker in self._workers:
            self._workers.remove(worker)

    def running(self) -> list[GeneratorWorker]:
        return [w for w in self._workers if w.is_running()]

    def shutdown(self, timeout_ms: int = 3000) -> bool:
        """Cancel every worker and wait for their threads; True if all have stopped."""
        workers = list(self._workers)
        for worker in workers:
            worker.cancel()
        stopped = all(worker.wait(timeout_ms) for worker in workers)
        return stopped
