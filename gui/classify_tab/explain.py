"""The Classify tab's attribution grid and sanity check: ``ExplainController``.

For the current image it computes the chosen methods' maps of one class in a worker
(automatically while the Explain tab is shown, or on the Explain button), paints them
over the model's input with the chosen colour map and the photo's opacity, and runs the
cascading-randomisation sanity check on demand, filling its strip as maps arrive.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gui.classify_tab import backend, lab_jobs
from gui.classify_tab.current import fill_class_combo
from gui.classify_tab.explain_panel import ExplainPanel, SanityPanel
from gui.classify_tab.imaging import heat_to_qimage, rgb_to_qimage
from gui.classify_tab.slots import WorkerSlot

if TYPE_CHECKING:
    import numpy as np

    from gui.classify_tab.tab import ClassifyTab


class ExplainController(QObject):
    """The Explain and Sanity-check tabs of a ``ClassifyTab`` (see the module docstring)."""

    #: (method, class index) of a map now painted in the grid
    map_shown = Signal(str, int)
    #: every map of a grid run is in ("finished" | "cancelled")
    grid_done = Signal(str)
    #: the sanity check's verdict is shown (its text)
    sanity_done = Signal(str)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.methods = backend.lab_methods()
        self.panel = ExplainPanel(self.methods)
        self.sanity_panel = SanityPanel()
        self._heats: dict[str, tuple[np.ndarray, str]] = {}  # method -> (heat, caption)
        self._sanity: dict[tuple[int, str], tuple[np.ndarray, str]] = {}
        self._computed: tuple[str, int, tuple[str, ...], Any] | None = None
        self._input_image = None

        def failed(title: str):
            return lambda message, tb: tab.report_failure(title, message, tb)

        workers = lambda: tab.context.workers  # noqa: E731 - read when a worker starts
        self.grid_slot = WorkerSlot(workers, "classify-explain", failed("Explaining failed"), self)
        self.sanity_slot = WorkerSlot(
            workers, "classify-sanity", failed("Sanity check failed"), self
        )
        panel = self.panel
        panel.explain_button.clicked.connect(lambda: self.run(force=True))
        panel.class_combo.activated.connect(lambda _row: self.run(force=True))
        panel.colormap_combo.currentTextChanged.connect(self._recolour)
        panel.progress.cancel_requested.connect(self.grid_slot.cancel)
        self.sanity_panel.run_button.clicked.connect(self.run_sanity)
        self.sanity_panel.progress.cancel_requested.connect(self.sanity_slot.cancel)
        tab.view.opacity_slider.valueChanged.connect(self._apply_opacity)

    @property
    def busy(self) -> bool:
        return self.grid_slot.busy or self.sanity_slot.busy

    def slots(self) -> tuple[WorkerSlot, ...]:
        return (self.grid_slot, self.sanity_slot)

    # -- the current image ---------------------------------------------------------------
    def detail_changed(self) -> None:
        """A new current image (or a new model): forget the maps, offer its classes."""
        self.grid_slot.cancel()
        self.sanity_slot.cancel()
        detail = self.tab.current.detail
        self._heats.clear()
        self._sanity.clear()
        self._computed = None
        self.sanity_panel.clear()
        self.panel.set_tiles([], {})
        if detail is None:
            self._input_image = None
            return
        self._input_image = rgb_to_qimage(detail.model_input)
        top1 = detail.top[0][0] if detail.top else None
        fill_class_combo(self.panel.class_combo, list(detail.top), self.tab.models.labels(), top1)
        if self.tab.view.side_shown(self.panel):
            self.run()

    def target(self) -> int | None:
        data = self.panel.class_combo.currentData()
        return int(data) if data is not None else None

    def settings(self) -> Any:
        panel = self.panel
        return backend.attribution_settings(
            ig_steps=panel.ig_steps.value(),
            smooth_samples=panel.smooth_samples.value(),
            occlusion_window=panel.occlusion_window.value(),
            occlusion_stride=panel.occlusion_stride.value(),
        )

    # -- the grid ------------------------------------------------------------------------
    def run(self, force: bool = False) -> None:
        """Compute the chosen methods' maps (unless those maps are already shown)."""
        detail, model, target = self.tab.current.detail, self.tab.models.model, self.target()
        methods = self.panel.chosen_methods()
        if detail is None or model is None or target is None or not methods:
            return
        settings = self.settings()
        wanted = (detail.key, target, tuple(methods), settings)
        if wanted == self._computed and not force:
            return
        self._computed = wanted
        self._heats.clear()
        titles = {name: title for name, (title, _what) in self.methods.items()}
        self.panel.set_tiles(methods, titles)
        self._apply_opacity(self.tab.view.opacity_slider.value())
        self.panel.progress.start("Explaining...")
        factory = lab_jobs.explain_job(detail.key, detail.image, model, target, methods, settings)
        self.grid_slot.start(factory, self._on_grid_item, self._on_grid_done)

    def _on_grid_item(self, item: Any) -> None:
        if isinstance(item, lab_jobs.Progress):
            self.panel.progress.set_progress(item.done, item.total, item.text)
        elif isinstance(item, lab_jobs.LabError):
            self.tab.status_message.emit(item.message, 10000)
        elif isinstance(item, lab_jobs.MapReady):
            caption = f"{item.seconds:.2f} s"
            if item.delta is not None:
                caption = f"\u03b4 = {item.delta:+.3f} of {item.difference:.2f} \u00b7 {caption}"
            self._heats[item.method] = (item.heat, caption)
            self._paint(item.method)
            self.map_shown.emit(item.method, item.target)

    def _on_grid_done(self, status: str) -> None:
        self.panel.progress.finish()
        if status != "finished":
            self._computed = None  # a cancelled grid is computed again on the next run
        self.grid_done.emit(status)

    def _paint(self, method: str) -> None:
        tile = self.panel.tiles.get(method)
        if tile is None or method not in self._heats:
            return
        heat, caption = self._heats[method]
        cmap = self.panel.colormap_combo.currentText()
        tile.set_picture(self._input_image, heat_to_qimage(heat, cmap), caption)

    def _recolour(self, name: str) -> None:
        self.panel.legend.set_colormap(name)
        for method in self._heats:
            self._paint(method)
        for key in self._sanity:
            self._paint_cell(*key)

    def _apply_opacity(self, value: int) -> None:
        tiles = [*self.panel.tiles.values(), *self.sanity_panel.cells.values()]
        for tile in tiles:
            tile.view.set_opacity(value / 100.0)

    # -- the sanity check ----------------------------------------------------------------
    def run_sanity(self) -> None:
        detail, model, target = self.tab.current.detail, self.tab.models.model, self.target()
        methods = self.panel.chosen_methods()
        if detail is None or model is None or target is None:
            self.tab.status_message.emit("Choose a classified photo first", 5000)
            return
        if not methods:
            self.tab.status_message.emit("Tick at least one method in the Explain tab", 5000)
            return
        self._sanity.clear()
        self.sanity_panel.clear()
        self._sanity_methods = methods
        self.sanity_panel.progress.start("Randomising...")
        factory = lab_jobs.sanity_job(
            detail.image,
            model,
            target,
            methods,
            self.settings(),
            self.sanity_panel.stages.value(),
        )
        self.sanity_slot.start(factory, self._on_sanity_item, self._on_sanity_done)

    def _on_sanity_item(self, item: Any) -> None:
        if isinstance(item, lab_jobs.Progress):
            self.sanity_panel.progress.set_progress(item.done, item.total, item.text)
        elif isinstance(item, lab_jobs.LabError):
            self.tab.status_message.emit(item.message, 10000)
        elif isinstance(item, lab_jobs.SanityCell):
            caption = "trained" if item.stage == 0 else f"\u03c1 = {item.rho:.2f}"
            self._sanity[(item.stage, item.method)] = (item.heat, caption)
            tile = self._paint_cell(item.stage, item.method)
            if tile is not None:
                tile.setToolTip(item.stage_name)
        elif isinstance(item, lab_jobs.SanityDone):
            self.sanity_panel.verdict.setText(item.text)
            self.sanity_done.emit(item.text)

    def _paint_cell(self, stage: int, method: str):
        if (stage, method) not in self._sanity:
            return None
        heat, caption = self._sanity[(stage, method)]
        row = self._sanity_methods.index(method)
        tile = self.sanity_panel.cell(stage, method, row, self.methods[method][0])
        cmap = self.panel.colormap_combo.currentText()
        tile.set_picture(self._input_image, heat_to_qimage(heat, cmap), caption)
        tile.view.set_opacity(self.tab.view.opacity_slider.value() / 100.0)
        return tile

    def _on_sanity_done(self, status: str) -> None:
        self.sanity_panel.progress.finish()
        if status == "cancelled":
            self.sanity_panel.verdict.setText("Cancelled.")
