"""One worker of a kind at a time: the tab's loading, batch, detail, heat-map... slots.

Starting a slot's new worker cancels the one it replaces, and items from a replaced
worker never reach the tab, so every controller is spared the "is this still my
worker?" bookkeeping.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QObject

from gui.worker import GeneratorFactory, GeneratorWorker, WorkerRegistry

OnFailed = Callable[[str, str], None]


class WorkerSlot(QObject):
    """Holds at most one running ``GeneratorWorker`` (see the module docstring).

    ``on_done(status)`` is called with the slot already empty, and with "cancelled" when
    the worker was asked to stop, even if its generator returned on its own first.
    Nothing is delivered once the slot's parent (its controller, the tab) is deleted: a
    worker that ends after its window closed finds no widgets to touch.
    """

    def __init__(
        self,
        workers: Callable[[], WorkerRegistry],
        name: str,
        on_failed: OnFailed,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._workers = workers
        self.name = name
        self._on_failed = on_failed
        self.worker: GeneratorWorker | None = None

    @property
    def busy(self) -> bool:
        return self.worker is not None

    def start(
        self,
        factory: GeneratorFactory,
        on_item: Callable[[Any], None],
        on_done: Callable[[str], None] | None = None,
    ) -> GeneratorWorker:
        self.cancel()
        worker = self._workers().start(factory, name=self.name)
        self.worker = worker
        worker.item.connect(lambda item, w=worker: on_item(item) if self._owns(w) else None)
        worker.failed.connect(
            lambda message, tb, w=worker: self._on_failed(message, tb) if self._owns(w) else None
        )
        worker.done.connect(lambda status, w=worker: self._finish(w, status, on_done))
        return worker

    def cancel(self) -> None:
        """Ask the running worker to stop; its later items are dropped."""
        if self.worker is not None:
            self.worker.cancel()

    def _owns(self, worker: GeneratorWorker) -> bool:
        return shiboken6.isValid(self) and worker is self.worker

    def _finish(
        self, worker: GeneratorWorker, status: str, on_done: Callable[[str], None] | None
    ) -> None:
        if not self._owns(worker):
            return
        self.worker = None
        if worker.token.is_set():
            status = "cancelled"
        if on_done is not None:
            on_done(status)
