"""The Classify tab's current image: its detail (photo, model input, top-5) and heat-map.

``CurrentImage`` computes the detail of the image chosen in the table (or just dropped)
in a worker, fills the photo, input and chart views, the class pickers, and paints the
Grad-CAM overlay of the chosen class (cached per image and class).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QObject, QRectF, Signal
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QComboBox

from gui.classify_tab import jobs
from gui.classify_tab.batch import TOPK
from gui.classify_tab.imaging import heat_to_qimage, rgb_to_qimage
from gui.classify_tab.slots import WorkerSlot
from gui.classify_tab.view import PLACEHOLDER

if TYPE_CHECKING:
    from gui.classify_tab.tab import ClassifyTab

HEAT_CACHE_SIZE = 64


def fill_class_combo(
    combo: QComboBox,
    top: list[tuple[int, str, float]],
    labels: tuple[str, ...],
    selected: int | None,
) -> None:
    """The top-5 (with their probabilities) first, then every class to search by name."""
    combo.blockSignals(True)
    combo.clear()
    for index, label, prob in top:
        combo.addItem(f"{label}  ({prob * 100:.1f}%)", index)
    if labels:
        combo.insertSeparator(combo.count())
        for index, label in enumerate(labels):
            combo.addItem(f"{label}  [#{index}]", index)
    if selected is not None:
        combo.setCurrentIndex(max(combo.findData(selected), 0))
    combo.blockSignals(False)


class CurrentImage(QObject):
    """The detail view of a ``ClassifyTab`` (see the module docstring)."""

    #: the key of the image now shown in the detail view (its chart is filled)
    detail_shown = Signal(str)
    #: (image key, class index) of the heat-map now painted
    heat_shown = Signal(str, int)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.view = tab.view
        self.source: jobs.Source | None = None
        self.detail: jobs.Detail | None = None
        self.error = ""
        self._heat_cache: dict[tuple[str, int], QImage] = {}
        self._heat_pending: tuple[str, int] | None = None

        def failed(title: str):
            return lambda message, tb: tab.report_failure(title, message, tb)

        workers = lambda: tab.context.workers  # noqa: E731 - read when a worker starts
        self.detail_slot = WorkerSlot(
            workers, "classify-detail", failed("Classifying failed"), self
        )
        self.heat_slot = WorkerSlot(workers, "classify-heat", failed("Heat-map failed"), self)
        view = self.view
        view.chart.class_clicked.connect(self.choose_class)
        view.heat_toggle.toggled.connect(self._on_heat_toggled)
        view.class_combo.activated.connect(self._on_class_activated)
        view.opacity_slider.valueChanged.connect(self._on_opacity)
        view.table.selectionModel().currentRowChanged.connect(self._on_row_changed)
        view.table.clicked.connect(lambda index: self._on_row_changed(index, QModelIndex()))

    @property
    def busy(self) -> bool:
        return self.detail_slot.busy or self.heat_slot.busy

    def key(self) -> str | None:
        return self.source.key if self.source is not None else None

    def cancel(self) -> None:
        self.detail_slot.cancel()
        self.heat_slot.cancel()

    # -- the image -----------------------------------------------------------------------
    def show(self, source: jobs.Source) -> None:
        """Make ``source`` the current image and compute its detail (chart, input)."""
        if self.source is not None and self.source.key == source.key:
            if self.detail is not None and self.detail.key == source.key:
                return
            if self.detail_slot.busy:
                return
        self.source = source
        self.detail = None
        self.error = ""
        self.view.name_label.setText(source.name)
        self.view.name_label.setToolTip(str(source.path) if source.path else source.name)
        self._select_row(source.key)
        self.tab.marks.sync_buttons()
        if self.tab.models.model is None:
            self.view.photo_view.set_placeholder(f"Loading the model for {source.name}...")
            self.tab.models.ensure()
            return
        self.start()

    def start(self) -> None:
        """(Re)compute the current image's detail with the current model."""
        source, models = self.source, self.tab.models
        if source is None or models.model is None:
            return
        self.view.photo_view.set_placeholder(f"Classifying {source.name}...")
        factory = jobs.detail_job(source, models.model, models.title, TOPK)
        self.detail_slot.start(factory, self._on_detail, lambda _s: self.tab.update_enabled())

    def model_changed(self) -> None:
        self._heat_cache.clear()
        model = self.tab.models.model
        size = getattr(getattr(model, "preprocessing", None), "crop", 224)
        self.view.input_caption.setText(f"Model input ({size} \u00d7 {size})")
        self.start()

    def model_unavailable(self, message: str) -> None:
        if self.source is not None:
            self.view.photo_view.set_placeholder(
                f"No model to classify {self.source.name}:\n\n{message}\n\n"
                "Choose another model above, then drop the photo again."
            )

    def clear(self) -> None:
        self.cancel()
        self.source = None
        self.detail = None
        self._heat_cache.clear()
        view = self.view
        view.photo_view.set_image(None)
        view.photo_view.set_placeholder(PLACEHOLDER)
        view.input_view.set_image(None)
        view.chart.clear()
        view.name_label.setText("No image")

    def _on_row_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        if not current.isValid():
            return
        row = self.view.table_model.row(current.row())
        self.show(jobs.Source(row.key, row.name, row.path, row.data))

    def _select_row(self, key: str) -> None:
        table, model = self.view.table, self.view.table_model
        number = model.find(key)
        if number < 0:
            return
        selection = table.selectionModel()
        if selection.currentIndex().row() == number:
            return
        selection.blockSignals(True)
        selection.setCurrentIndex(
            model.index(number, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )
        selection.blockSignals(False)
        table.viewport().update()
        table.scrollTo(model.index(number, 0))

    def _on_detail(self, item: Any) -> None:
        if self.source is None or item.key != self.source.key:
            return
        if isinstance(item, jobs.FileError):
            self.show_error(item.message)
            return
        detail: jobs.Detail = item
        self.detail = detail
        view = self.view
        view.photo_view.set_image(rgb_to_qimage(detail.photo))
        if detail.crop_box is not None:
            left, top, right, bottom = detail.crop_box
            view.photo_view.set_crop_box(QRectF(left, top, right - left, bottom - top))
        else:
            view.photo_view.set_crop_box(None)
        view.input_view.set_image(rgb_to_qimage(detail.model_input))
        width, height = detail.photo_size
        view.name_label.setText(f"{self.source.name}   ({width} \u00d7 {height})")
        view.chart.set_predictions(list(detail.top))
        top1 = detail.top[0][0] if detail.top else None
        view.chart.set_selected(top1)
        fill_class_combo(view.class_combo, list(detail.top), self.tab.models.labels(), top1)
        if self.source.path is not None:
            self.tab.push_recent(self.source.path, detail.photo)
        self.tab.update_enabled()
        if view.heat_toggle.isChecked():
            self.request_heat()
        self.detail_shown.emit(detail.key)

    def show_error(self, message: str) -> None:
        self.detail = None
        self.error = message
        view = self.view
        view.photo_view.set_image(None)
        view.photo_view.set_placeholder(f"Cannot classify this file:\n\n{message}")
        view.input_view.set_image(None)
        view.chart.clear()
        view.chart.set_placeholder("No prediction")
        self.tab.status_message.emit(message, 8000)
        self.tab.update_enabled()

    # -- the heat-map --------------------------------------------------------------------
    def selected_class(self) -> int | None:
        data = self.view.class_combo.currentData()
        return int(data) if data is not None else self.view.chart.selected()

    def choose_class(self, index: int) -> None:
        """Show the heat-map of ImageNet class ``index`` (turns the heat-map on)."""
        view = self.view
        found = view.class_combo.findData(int(index))
        if found >= 0:
            view.class_combo.setCurrentIndex(found)
        in_chart = any(i == index for i, _l, _p in view.chart.predictions())
        view.chart.set_selected(index if in_chart else None)
        if not view.heat_toggle.isChecked():
            view.heat_toggle.setChecked(True)  # requests the heat-map
        else:
            self.request_heat()

    def _on_class_activated(self, _row: int) -> None:
        data = self.view.class_combo.currentData()
        if data is not None:
            self.choose_class(int(data))

    def _on_heat_toggled(self, on: bool) -> None:
        if self.tab.heat_action.isChecked() != on:
            self.tab.heat_action.setChecked(on)
        self.view.photo_view.set_heat_visible(on)
        self.view.input_view.set_heat_visible(on)
        if on:
            self.request_heat()

    def _on_opacity(self, value: int) -> None:
        self.view.opacity_slider.setToolTip(f"Heat-map opacity: {value}%")
        self.view.photo_view.set_opacity(value / 100.0)
        self.view.input_view.set_opacity(value / 100.0)

    def _set_heat(self, image: QImage | None) -> None:
        """The heat-map over the photo and, cut to the crop the model saw, over the
        model-input picture (the map was computed for exactly that picture)."""
        self.view.photo_view.set_heat(image)
        crop = self.detail.crop_box if self.detail is not None else None
        if image is not None and crop is not None:
            left, top, right, bottom = (round(v) for v in crop)
            image = image.copy(left, top, right - left, bottom - top)
        self.view.input_view.set_heat(image)

    def request_heat(self) -> None:
        detail, model = self.detail, self.tab.models.model
        class_index = self.selected_class()
        if detail is None or class_index is None or model is None:
            return
        key = (detail.key, class_index)
        cached = self._heat_cache.get(key)
        if cached is not None:
            self._set_heat(cached)
            self._heat_status(class_index)
            self.heat_shown.emit(*key)
            return
        self._set_heat(None)
        if self._heat_pending == key and self.heat_slot.busy:
            return
        self._heat_pending = key
        height, width = detail.photo.shape[:2]
        factory = jobs.heat_job(detail.key, detail.image, model, class_index, (width, height))
        self.tab.status_message.emit(
            f"Computing the heat-map for {self.tab.models.label(class_index)}...", 3000
        )
        self.heat_slot.start(factory, self._on_heat, self._on_heat_done)

    def _on_heat(self, item: Any) -> None:
        if isinstance(item, jobs.FileError):
            self.tab.status_message.emit(item.message, 8000)
            return
        heat: jobs.Heat = item
        image = heat_to_qimage(heat.heat)
        self._heat_cache[(heat.key, heat.class_index)] = image
        if len(self._heat_cache) > HEAT_CACHE_SIZE:
            self._heat_cache.pop(next(iter(self._heat_cache)))
        detail = self.detail
        if detail is not None and (detail.key, self.selected_class()) == (
            heat.key,
            heat.class_index,
        ):
            self._set_heat(image)
            self._heat_status(heat.class_index)
            self.heat_shown.emit(heat.key, heat.class_index)

    def _heat_status(self, class_index: int) -> None:
        self.tab.status_message.emit(
            f"Heat-map for \u201c{self.tab.models.label(class_index)}\u201d: bright regions "
            "raised its score the most (dashed box: the crop the model saw)",
            8000,
        )

    def _on_heat_done(self, _status: str) -> None:
        self._heat_pending = None
        self.tab.update_enabled()
