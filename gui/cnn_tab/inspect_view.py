"""The CNN tab's "Inspect" view: open a trained network and watch an input go through it.

Pick a run's model (its latest weights; loaded checkpoints are runs too) and an input
(a validation image, a drawing, an image file). Every layer's output is drawn as a grid
of feature maps (bars for flat layers) with each channel's range, the class probabilities
beside the input, each convolution's filters, and the gradients of a class score: with
respect to the pixels (saliency, gradient × input), to any layer's maps, and Grad-CAM.
Clicking a feature-map pixel outlines its receptive field on the input and finds the
nine validation patches that excite that channel most; "What a unit looks for" runs
activation maximisation.

All torch work happens in ``gui.worker`` threads (``inspect_jobs``); a long-lived
service answers the newest input only, so drawing stays live. The per-layer sections and
filter grids are in ``inspect_layers``, the selected unit's column in ``inspect_units``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.cnn_tab import inspect_jobs
from gui.cnn_tab.data_panel import DataChoice
from gui.cnn_tab.dream_view import DreamPanel
from gui.cnn_tab.input_panel import InputPanel
from gui.cnn_tab.inspect_layers import LayerSection, LayerSections
from gui.cnn_tab.inspect_units import UnitInspection
from gui.cnn_tab.maps_view import PictureView, ProbabilityBars
from nets.cnn import pictures as pic
from nets.cnn.inspect import LayerInfo


class InspectView(LayerSections, UnitInspection, QWidget):
    """Signals: ``status_message(text, ms)`` for the window's status bar; ``frame_drawn``
    after the view has been updated with a new inspection."""

    status_message = Signal(str, int)
    frame_drawn = Signal()

    def __init__(
        self,
        context: Any,
        runs: Any,
        cached_dataset: Callable[[DataChoice], Any | None],
        busy: Callable[[], bool],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setObjectName("cnnInspect")
        self._context = context
        self._runs = runs
        self._cached_dataset = cached_dataset
        self._busy = busy
        self._trained: Any = None
        self._run_id = 0
        self._layers: tuple[LayerInfo, ...] = ()
        self._geometries: list = []
        self._mailbox = inspect_jobs.Mailbox()
        self._service: Any = None
        self._data_worker: Any = None
        self._patch_worker: Any = None
        self._serial = 0
        self._image: np.ndarray | None = None
        self._label = -1
        self._caption = ""
        self._latest: Any = None  # newest Inspected
        self._render_pending = False
        self._validation: Any = None  # inspect_jobs.ValidationReady
        self._indexes: dict[int, Any] = {}
        self._selection: tuple[int, int, int, int] | None = None  # layer, channel, y, x
        self._choice: DataChoice | None = None
        self.render_count = 0
        self.last_render_seconds = 0.0

        # -- top: model chooser --------------------------------------------------------
        self.model_combo = QComboBox()
        self.model_combo.setObjectName("inspectModel")
        self.model_combo.setMinimumContentsLength(24)
        self.status = QLabel("Train a model or load a checkpoint, then pick it here.")
        self.status.setObjectName("inspectStatus")
        self.status.setWordWrap(True)
        self.timing = QLabel("")
        self.timing.setObjectName("inspectTiming")
        top = QHBoxLayout()
        top.addWidget(QLabel("Model:"))
        top.addWidget(self.model_combo)
        top.addWidget(self.status, 1)
        top.addWidget(self.timing)

        # -- left: input, class probabilities -----------------------------------------
        self.inputs = InputPanel(context.settings)
        self.input_view = PictureView("input")
        self.input_view.setObjectName("inspectInput")
        self.target_combo = QComboBox()
        self.target_combo.setObjectName("inspectTarget")
        self.target_combo.setToolTip("The class whose score is differentiated for the gradients")
        self.probs = ProbabilityBars()
        left = QWidget()
        left_layout = QVBoxLayout(left)
        left_layout.setContentsMargins(0, 0, 0, 0)
        left_layout.addWidget(self.inputs, 3)
        left_layout.addWidget(self.input_view, 2)
        target_row = QHBoxLayout()
        target_row.addWidget(QLabel("Gradient of:"))
        target_row.addWidget(self.target_combo, 1)
        left_layout.addLayout(target_row)
        left_layout.addWidget(self.probs)

        # -- centre: maps, gradients, filters, dream -----------------------------------
        self.maps_box = QWidget()
        self.maps_layout = QVBoxLayout(self.maps_box)
        self.maps_layout.addStretch(1)
        self.sections: list[LayerSection] = []
        self.maps_scroll = QScrollArea()
        self.maps_scroll.setWidgetResizable(True)
        self.maps_scroll.setWidget(self.maps_box)

        self.saliency_view = PictureView("saliency |d score / d pixel|")
        self.gxi_view = PictureView("gradient × input (red for, blue against)")
        self.gradcam_view = PictureView("Grad-CAM")
        self.grad_note = QLabel("")
        self.grad_note.setWordWrap(True)
        self.grad_layer_combo = QComboBox()
        self.grad_layer_combo.setObjectName("inspectGradLayer")
        self.grad_section: LayerSection | None = None
        self.grad_holder = QVBoxLayout()
        gradients = QWidget()
        g = QVBoxLayout(gradients)
        g.addWidget(self.grad_note)
        pictures_row = QHBoxLayout()
        for view in (self.saliency_view, self.gxi_view, self.gradcam_view):
            view.setMinimumSize(170, 190)
            pictures_row.addWidget(view)
        g.addLayout(pictures_row, 2)
        layer_row = QHBoxLayout()
        layer_row.addWidget(QLabel("Gradient with respect to the maps of layer:"))
        layer_row.addWidget(self.grad_layer_combo, 1)
        g.addLayout(layer_row)
        g.addLayout(self.grad_holder)
        g.addStretch(1)
        grad_scroll = QScrollArea()
        grad_scroll.setWidgetResizable(True)
        grad_scroll.setWidget(gradients)

        self.filters_box = QWidget()
        self.filters_layout = QVBoxLayout(self.filters_box)
        self.filters_layout.addStretch(1)
        filters_scroll = QScrollArea()
        filters_scroll.setWidgetResizable(True)
        filters_scroll.setWidget(self.filters_box)

        self.dream = DreamPanel(context, busy)
        self.centre = QTabWidget()
        self.centre.setObjectName("inspectViews")
        self.centre.addTab(self.maps_scroll, "Feature maps")
        self.centre.addTab(grad_scroll, "Gradients")
        self.centre.addTab(filters_scroll, "Filters")
        self.centre.addTab(self.dream, "What a unit looks for")

        # -- right: the selected unit ---------------------------------------------------
        right = self._build_unit_column()

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(left)
        split.addWidget(self.centre)
        split.addWidget(right)
        split.setStretchFactor(0, 0)
        split.setStretchFactor(1, 1)
        split.setStretchFactor(2, 0)
        split.setSizes([330, 800, 260])
        split.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addLayout(top)
        layout.addWidget(split, 1)

        self.model_combo.currentIndexChanged.connect(self._on_model_chosen)
        self.target_combo.currentIndexChanged.connect(lambda _i: self._request())
        self.grad_layer_combo.currentIndexChanged.connect(self._on_grad_layer)
        self.inputs.input_changed.connect(self._on_input)
        self.inputs.load_validation_requested.connect(self.load_validation)
        self.centre.currentChanged.connect(lambda _i: self._render())
        self.dream.status.connect(lambda text: self.status_message.emit(text, 6000))
        self.dream.use_requested.connect(self._inspect_dream)
        self.dream_unit_button.clicked.connect(self._dream_unit)
        for signal in (runs.run_added, runs.run_changed, runs.run_removed):
            signal.connect(lambda _id: self.refresh_models())
        self.refresh_models()

    # -- models --------------------------------------------------------------------------
    def refresh_models(self) -> None:
        """List every run that has weights; follow the chosen run's newest model."""
        runs = [r for r in self._runs.runs() if r.payload is not None and r.payload.trained]
        wanted = self._run_id or (runs[-1].run_id if runs else 0)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for run in runs:
            at = getattr(run.payload, "at_snapshot", None)
            which = f"step {at.iterations:,} snapshot" if at is not None else "latest weights"
            self.model_combo.addItem(f"{run.name} ({which})", run.run_id)
        row = self.model_combo.findData(wanted)
        if row < 0 and runs:
            row = len(runs) - 1
        self.model_combo.setCurrentIndex(row)
        self.model_combo.blockSignals(False)
        self._on_model_chosen()

    def _current_run(self) -> Any:
        run_id = self.model_combo.currentData()
        return self._runs.run(run_id) if run_id else None

    def _on_model_chosen(self) -> None:
        if not self.isVisible():
            return  # showEvent catches up: nothing runs for a view nobody looks at
        run = self._current_run()
        trained = None
        if run is not None:  # the snapshot selected on the timeline, else the latest
            trained = getattr(run.payload, "at_snapshot", None) or run.payload.trained
        if trained is self._trained:
            return
        self._run_id = run.run_id if run is not None else 0
        self.set_model(trained, run)

    def set_model(self, trained: Any, run: Any = None) -> None:
        """Inspect ``trained`` (a nets.cnn.trained.TrainedCnn) from now on."""
        for worker in (self._service, self._data_worker, self._patch_worker):
            if worker is not None:
                worker.cancel()
        self._service = self._data_worker = self._patch_worker = None
        self._trained = trained
        self._latest = None
        self._validation = None
        self._indexes = {}
        self._selection = None
        self.patches.clear()
        self.input_view.set_box(None)
        self.dream_unit_button.setEnabled(False)
        self._build_sections(trained)
        if trained is None:
            self.status.setText("Train a model or load a checkpoint, then pick it here.")
            self.inputs.browser.clear("No model to inspect yet.", False)
            self.dream.set_model(None, ())
            return
        self.inputs.set_input_shape(trained.input_shape)
        self.dream.set_model(trained, self._layers)
        self.status.setText(
            f"{len(trained.arch)} layers, classes {', '.join(trained.class_names[:4])}"
            f"{'…' if trained.num_classes > 4 else ''}."
        )
        self._choice = self._data_choice(trained, run)
        cached = self._cached_dataset(self._choice) if self._choice is not None else None
        if cached is not None:
            self.load_validation(cached)
        else:
            where = self._choice.spec if self._choice is not None else ""
            self.inputs.browser.clear(
                f"Validation images of {where} are not loaded yet."
                if where
                else "This model does not say which data it was trained on.",
                bool(where),
            )
        if self._image is not None and self._image.shape[:2] == tuple(trained.input_shape[1:]):
            self._request()
        else:
            self.inputs.setCurrentWidget(self.inputs.draw)
            self.inputs.draw.canvas.clear()

    def _data_choice(self, trained: Any, run: Any) -> DataChoice | None:
        choice = getattr(run.payload, "choice", None) if run is not None else None
        if choice is not None:
            return choice
        if not trained.data_source:
            return None
        # A checkpoint records its data but not the split: the default one (seed 0).
        return DataChoice(trained.data_source, None, None, 0, trained.input_shape[1])  # type: ignore[arg-type]

    # -- workers -------------------------------------------------------------------------
    def _start_service(self) -> None:
        factory = inspect_jobs.live_service(self._trained, self._mailbox, self._busy())
        worker = self._context.workers.start(factory, name="cnn-inspect")
        self._service = worker
        worker.item.connect(lambda item, w=worker: self._on_service_item(w, item))
        worker.failed.connect(self._on_failed)

    def _on_service_item(self, worker: Any, item: Any) -> None:
        if worker is not self._service:
            return  # a model we no longer show
        if isinstance(item, tuple) and item[:1] == ("ready",):
            self._show_filters(item[2])
        elif isinstance(item, inspect_jobs.Inspected):
            self._latest = item
            if not self._render_pending:
                self._render_pending = True
                QTimer.singleShot(0, self._render)
        elif isinstance(item, inspect_jobs.InspectFailed):
            self.status.setText(item.message)

    def _on_failed(self, message: str, _detail: str) -> None:
        self.status.setText(f"Error: {message}")
        self.status_message.emit(message, 8000)

    def load_validation(self, cached: Any = None) -> None:
        """Predict the validation split (loading it first unless ``cached`` is given)."""
        if self._trained is None or self._choice is None:
            return
        if self._data_worker is not None:
            self._data_worker.cancel()
        factory = inspect_jobs.validation_job(
            self._trained, self._choice, cached or None, self._busy()
        )
        worker = self._context.workers.start(factory, name="cnn-inspect-data")
        self._data_worker = worker
        self.inputs.browser.clear(f"Loading and predicting {self._choice.spec}…", False)

        def on_item(item: Any, w: Any = worker) -> None:
            if w is not self._data_worker:
                return
            if isinstance(item, inspect_jobs.ValidationReady):
                self._on_validation(item)
            elif hasattr(item, "message"):
                self.inputs.browser.status.setText(f"{item.message}…")

        def on_failed(message: str, _tb: str, w: Any = worker) -> None:
            if w is self._data_worker:
                self.inputs.browser.clear(f"Cannot use the validation images: {message}", True)

        worker.item.connect(on_item)
        worker.failed.connect(on_failed)

    def _on_validation(self, ready: inspect_jobs.ValidationReady) -> None:
        self._validation = ready
        self.inputs.set_validation(ready.images, ready.labels)
        self.inputs.browser.set_data(
            ready.images, ready.labels, tuple(self._trained.class_names), ready.predictions
        )
        if self._selection is not None:
            self.select_unit(*self._selection)

    # -- inputs and inspection -----------------------------------------------------------
    def _on_input(self, image: np.ndarray, caption: str, label: int) -> None:
        self._image, self._caption, self._label = image, caption, label
        self._request()

    def _request(self) -> None:
        if self._trained is None or self._image is None:
            return
        if self._service is None:
            self._start_service()
        self._serial += 1
        target = self.target_combo.currentData()
        self._mailbox.put(inspect_jobs.InspectRequest(self._serial, self._image, target))

    def _render(self) -> None:
        self._render_pending = False
        latest = self._latest
        if latest is None or self._trained is None:
            return
        start = time.perf_counter()
        r = latest.result
        names = tuple(self._trained.class_names)
        self.input_view.title = self._caption
        self.input_view.set_picture(pic.as_rgb(r.image))
        self.probs.set_result(
            names, r.probabilities, r.target, self._label if self._label >= 0 else None
        )
        view = self.centre.currentIndex()
        if view == 0:
            for section, values in zip(self.sections, r.activations, strict=False):
                section.set_values(values)
        elif view == 1:
            self._render_gradients(r, names)
        self.render_count += 1
        self.last_render_seconds = time.perf_counter() - start
        self.timing.setText(
            f"forward + backward {1000 * latest.seconds:.1f} ms · drawn in "
            f"{1000 * self.last_render_seconds:.1f} ms"
        )
        self.frame_drawn.emit()

    def _render_gradients(self, r: Any, names: tuple[str, ...]) -> None:
        h, w = r.image.shape[:2]
        # 4x is smooth enough for a heat map and 16 times cheaper than 224 pixels a side.
        factor = max(1, 112 // max(h, w))
        self.grad_note.setText(
            f"The gradient of the <b>{names[r.target]}</b> score (logit "
            f"{float(r.logits[r.target]):.3g}): how much each value, nudged up, would raise "
            "it. This is what backpropagation computes, here all the way to the pixels."
        )
        self.saliency_view.set_picture(pic.heat_rgb(pic.saliency_map(r.saliency)))
        self.gxi_view.set_picture(pic.signed_rgb(r.grad_x_input.sum(axis=0)))
        if r.gradcam is not None:
            self.gradcam_view.set_picture(pic.overlay(pic.zoom(r.image, factor), r.gradcam))
        if self.grad_section is not None:
            self.grad_section.set_values(r.gradients[self.grad_section.info.index])

    # -- units ---------------------------------------------------------------------------
    def showEvent(self, event: Any) -> None:
        super().showEvent(event)
        self._on_model_chosen()
        self._request()

    def hideEvent(self, event: Any) -> None:
        super().hideEvent(event)
        if self._service is not None:  # started again by the next request
            self._service.cancel()
            self._service = None

    def _inspect_dream(self, image: np.ndarray) -> None:
        """Put the dreamt image on the canvas and inspect it like a drawing."""
        self.inputs.setCurrentWidget(self.inputs.draw)
        self.inputs.draw.canvas.set_image(image.mean(axis=2))
        self.centre.setCurrentIndex(0)

    def shutdown(self) -> None:
        for worker in (self._service, self._data_worker, self._patch_worker):
            if worker is not None:
                worker.cancel()
        self.dream.cancel()
