"""Which pretrained model the Classify tab uses: listing, loading (downloads too), switching.

``ModelController`` owns the current model and the load worker; it fills the model
picker and says when a model became current (``ready``) or could not be loaded while
none was (``unavailable``). The other controllers read ``model`` and ``title``.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gui import dialogs
from gui.classify_tab import backend, jobs
from gui.classify_tab.slots import WorkerSlot

if TYPE_CHECKING:
    from gui.classify_tab.tab import ClassifyTab


class ModelController(QObject):
    """The current model of a ``ClassifyTab`` (see the module docstring)."""

    #: the registry name of a model that just became the current one
    ready = Signal(str)
    #: a load failed while there was no model at all (the message)
    unavailable = Signal(str)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.picker = tab.view.model_picker
        self.model: Any = None
        self.name = ""  # registry name of the current model
        self.title = ""  # what the user sees ("ResNet-18 + mine.pth")
        self.weights: str | None = None
        self._loading: tuple[str, str | None] | None = None
        self._labels: tuple[str, ...] | None = None
        self.slot = WorkerSlot(
            lambda: tab.context.workers,
            "classify-load",
            lambda message, tb: tab.report_failure("Loading the model failed", message, tb),
            self,
        )
        self.picker.model_chosen.connect(lambda name: self.load(name))
        self.picker.download_requested.connect(lambda name: self.load(name))
        self.picker.weights_requested.connect(self.choose_weights)
        self.picker.cancel_requested.connect(self.cancel)

    def labels(self) -> tuple[str, ...]:
        """The 1000 class names (the model's own, else the library's; () if neither)."""
        if self._labels is None:
            try:
                self._labels = tuple(getattr(self.model, "labels", None) or ()) or (
                    backend.class_labels()
                )
            except Exception:
                self._labels = ()
        return self._labels

    def label(self, index: int) -> str:
        labels = self.labels()
        return labels[index] if 0 <= index < len(labels) else f"#{index}"

    def refresh(self) -> None:
        """Fill the picker with every model and its availability now."""
        try:
            infos = backend.model_infos()
            default = backend.default_model_name()
        except Exception as exc:
            self.picker.set_status(f"Cannot list the models: {exc}")
            return
        self.picker.set_models(infos, self.name or default)
        if not self.name:
            info = self.picker.info(self.picker.chosen_name())
            if info is not None:
                self.picker.set_status(f"{info.display_name}: {info.summary}. Loads on first use.")

    def load(self, name: str, weights: Path | None = None) -> None:
        """Make ``name`` (with the user's ``weights`` file, if given) the current model.

        Runs in a worker; a torchvision model that is not cached is downloaded first.
        """
        weights_str = str(weights) if weights is not None else None
        if self.model is not None and (name, weights_str) == (self.name, self.weights):
            # Back to the model in use: its own status replaces any earlier error (a
            # failed download of another model said "still using ..." until now).
            if not self.slot.busy:
                self._show_ready()
            return
        if self.slot.busy and self._loading == (name, weights_str):
            return
        self._loading = (name, weights_str)
        title = backend.display_name(name, weights)
        info = self.picker.info(name)
        verb = "Downloading" if info is not None and not info.available else "Loading"
        self.picker.set_busy(True, f"{verb} {title}...")
        self.slot.start(jobs.load_job(name, weights_str), self._on_item, self._on_done)

    def cancel(self) -> None:
        if self.slot.busy:
            self.slot.cancel()
            self.picker.set_status("Cancelling...")

    def ensure(self) -> None:
        """Start loading the chosen model (or the built-in one) if none is loaded."""
        if self.model is None and not self.slot.busy:
            name = self.picker.chosen_name() or backend.default_model_name()
            info = self.picker.info(name)
            if info is not None and not info.available:
                name = backend.default_model_name()
            self.load(name)

    def choose_weights(self, arch: str) -> None:
        if not arch:
            return
        path = self.tab._ask_weights_path(backend.display_name(arch))
        if path is not None:
            self.load(arch, path)

    def set_model(self, name: str, model: Any, weights: str | None = None) -> None:
        """Make an already loaded ``model`` current (a finished load, tests, benchmarks)."""
        self.model = model
        self.name = name
        self.weights = weights
        self.title = backend.display_name(name, weights)
        self._labels = None
        self.picker.choose(name)
        self._show_ready()
        self.tab.status_message.emit(f"{self.title} ready", 4000)
        self.ready.emit(name)

    def _show_ready(self) -> None:
        info = self.picker.info(self.name or "")
        summary = f" \u00b7 {info.summary}" if info is not None else ""
        self.picker.set_status(f"{self.title} ready{summary}")

    def _on_item(self, item: Any) -> None:
        if isinstance(item, jobs.LoadProgress):
            self.picker.set_progress(item.done, item.total, item.text)
        elif isinstance(item, jobs.LoadFailed):
            self._on_failed(item)
        elif isinstance(item, jobs.ModelLoaded):
            self.set_model(item.name, item.model, item.weights)

    def _on_failed(self, item: jobs.LoadFailed) -> None:
        title = backend.display_name(item.name)
        if item.cancelled:
            message = f"{title}: cancelled"
        else:
            message = item.message
            dialogs.show_error(self.tab, "Model not loaded", message)
        self.tab.status_message.emit(message, 10000)
        current = self.title or "no model loaded yet"
        self.picker.set_status(f"{message} \u2014 still using {current}", message)
        if self.model is None:
            self.unavailable.emit(message)

    def _on_done(self, status: str) -> None:
        self._loading = None
        self.picker.set_busy(False)
        self.refresh()
        if status == "cancelled":
            current = self.title or "no model loaded yet"
            self.picker.set_status(f"Loading cancelled \u2014 still using {current}")
        self.tab.update_enabled()
