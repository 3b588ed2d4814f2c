"""The Classify tab's many images: requests, the batch worker, the table and its bar.

Dropped paths and sources to classify again are queued as requests; one batch worker
drains the queue (a drop while it runs joins the same worker). Requests made before a
model is loaded wait for it.
"""

from __future__ import annotations

import queue
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QPixmap

from gui.classify_tab import jobs
from gui.classify_tab.batch_table import DONE, Row
from gui.classify_tab.imaging import rgb_to_qimage
from gui.classify_tab.slots import WorkerSlot

if TYPE_CHECKING:
    from gui.classify_tab.tab import ClassifyTab

TOPK = 5
Request = list[Path] | tuple[jobs.Source, ...]


def count(n: int, noun: str) -> str:
    return f"{n} {noun}" if n == 1 else f"{n} {noun}s"


class BatchController(QObject):
    """Classifies the table's images in a worker (see the module docstring)."""

    #: a batch worker ended: "finished" | "cancelled" | "failed"
    done = Signal(str)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.view = tab.view
        self.table_model = tab.view.table_model
        self.requests: queue.SimpleQueue = queue.SimpleQueue()
        self.waiting: list[Request] = []  # made before a model was loaded
        self.select_first_found = False
        self.total = self.finished = self.failed = 0
        self.slot = WorkerSlot(
            lambda: tab.context.workers,
            "classify-batch",
            lambda message, tb: tab.report_failure("Classifying failed", message, tb),
            self,
        )

    @property
    def busy(self) -> bool:
        return self.slot.busy or bool(self.waiting)

    def submit(self, request: Request) -> None:
        if self.tab.models.model is None:
            self.waiting.append(request)
            self.tab.models.ensure()
            self.update_label()
            return
        self.requests.put(request)
        self.start()

    def model_ready(self) -> None:
        """A model became current: the requests that waited for one go in."""
        for request in self.waiting:
            self.requests.put(request)
        self.waiting.clear()
        self.start()

    def model_unavailable(self) -> None:
        """No model could be loaded: what waited for one is marked not classified."""
        self.waiting.clear()
        self.table_model.mark_cancelled()
        self.update_label()

    def start(self) -> None:
        models = self.tab.models
        if models.model is None or self.slot.busy or self.requests.empty():
            return
        factory = jobs.batch_job(self.requests, models.model, models.title, TOPK)
        self.slot.start(factory, self._on_item, self._on_done)
        self.tab.update_enabled()

    def cancel(self) -> None:
        while not self.requests.empty():
            try:
                self.requests.get_nowait()
            except queue.Empty:
                break
        self.waiting.clear()
        if self.slot.busy:
            self.slot.cancel()
        else:
            self._finish_cancel()

    def _finish_cancel(self) -> None:
        skipped = self.table_model.mark_cancelled()
        if skipped:
            self.tab.status_message.emit(
                f"Cancelled: {count(skipped, 'image')} not classified", 6000
            )
        self.update_label()

    def add_sources(self, sources: list[jobs.Source] | tuple[jobs.Source, ...]) -> None:
        rows = self.table_model.add_rows(
            [Row(key=s.key, name=s.name, path=s.path, data=s.data) for s in sources]
        )
        self.total += len(rows)
        self.update_label()

    def classify_again(self) -> None:
        """Classify every image of the table again (e.g. with another model)."""
        rows = self.table_model.rows()
        if not rows:
            return
        sources = tuple(jobs.Source(r.key, r.name, r.path, r.data) for r in rows)
        self.add_sources(sources)
        self.submit(sources)

    def clear(self) -> None:
        self.cancel()
        self.table_model.clear()
        self.total = self.finished = self.failed = 0
        self.update_label()

    def _on_item(self, item: Any) -> None:
        if isinstance(item, jobs.Found):
            self.add_sources(item.sources)
            if self.select_first_found and item.sources:
                self.select_first_found = False
                self.tab.current.show(item.sources[0])
        elif isinstance(item, jobs.Notice):
            self.failed += 1
            self.tab.status_message.emit(item.message, 8000)
            self.view.batch_label.setToolTip(item.message)
        elif isinstance(item, jobs.FileResult):
            thumb = None if item.thumb is None else QPixmap.fromImage(rgb_to_qimage(item.thumb))
            self.table_model.set_result(item.key, list(item.top), thumb, item.model)
            self.finished += 1
        elif isinstance(item, jobs.FileError):
            self.table_model.set_error(item.key, item.message)
            self.finished += 1
            self.failed += 1
            if self.tab.current.key() == item.key:
                self.tab.current.show_error(item.message)
        self.update_label()

    def _on_done(self, status: str) -> None:
        if status == "cancelled":
            self._finish_cancel()
        elif not self.requests.empty():
            self.start()  # a drop arrived while the worker was finishing
        if not self.slot.busy:
            failed = self.failed
            self.tab.status_message.emit(
                f"Classified {count(self.finished, 'image')}"
                + (f", {failed} could not be read" if failed else ""),
                6000,
            )
            self.total = self.finished = self.failed = 0
            self.update_label()
            self.done.emit(status)
        self.tab.update_enabled()

    def update_label(self) -> None:
        view = self.view
        rows = self.table_model.rowCount()
        busy = self.busy
        view.batch_progress.setVisible(busy and self.total > 0)
        view.cancel_batch_button.setVisible(busy)
        # While busy, Cancel and the progress take the place of the idle-only buttons.
        view.rerun_button.setVisible(not busy)
        view.clear_button.setVisible(not busy)
        if busy and self.total:
            view.batch_progress.setRange(0, self.total)
            view.batch_progress.setValue(self.finished)
            view.batch_progress.setFormat(f"{self.finished} / {self.total}")
            text = f"Classifying {self.finished} of {self.total}"
            if self.failed:
                text += f" \u00b7 {self.failed} failed"
        elif busy:
            text = (
                "Loading the model..." if self.tab.models.model is None else "Looking for images..."
            )
        elif rows:
            done = self.table_model.count(DONE)
            failed = self.table_model.count("error")
            text = f"{count(rows, 'image')} \u00b7 {done} classified"
            if failed:
                text += f" \u00b7 {failed} could not be read"
            marked = sum(1 for r in self.table_model.rows() if r.mark)
            if marked:
                text += f" \u00b7 {marked} marked"
        else:
            text = "No images yet: drop photos or a folder on the window"
        view.batch_label.setText(text)
