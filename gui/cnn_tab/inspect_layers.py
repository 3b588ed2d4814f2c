"""The Inspect view's per-layer parts: one ``LayerSection`` (feature maps, or bars for a
flat layer) per layer in the feature-map list and for the chosen gradient layer, rebuilt
for each model with the class and layer choosers, and each convolution's filter grid.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtCore import Qt
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.cnn_tab.maps_view import BarsView, FilterGrid, MapsGrid
from nets.cnn.arch import describe_layer, format_shape, layer_name, validate
from nets.cnn.inspect import LayerInfo, geometries, gradcam_layer


def layer_infos(trained: Any) -> tuple[LayerInfo, ...]:
    """Index, name, description and output shape of each layer of a TrainedCnn."""
    rows = validate(trained.arch, trained.input_shape, trained.num_classes)
    return tuple(
        LayerInfo(r.index, layer_name(s), describe_layer(s), tuple(r.output_shape))
        for r, s in zip(rows, trained.arch, strict=True)
    )


class LayerSection(QWidget):
    """One layer in the feature-map list: its title line and its maps or bars."""

    def __init__(self, info: LayerInfo, mode: str = "grey", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.info = info
        self.title = QLabel(f"<b>{info.title}</b> → {format_shape(info.shape)}")
        self.title.setTextFormat(Qt.TextFormat.RichText)
        self.view: MapsGrid | BarsView = MapsGrid(mode) if info.spatial else BarsView()
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 4)
        layout.addWidget(self.title)
        layout.addWidget(self.view)

    def set_values(self, values: np.ndarray | None) -> None:
        # The title stays as it is: a label whose text changes relays out the whole list,
        # which cost more than the maps themselves while drawing. The ranges are painted.
        if isinstance(self.view, MapsGrid):
            self.view.set_maps(values)
        else:
            self.view.set_values(values)

    def select(self, selection: tuple[int, int, int] | None) -> None:
        if isinstance(self.view, MapsGrid):
            self.view.select(selection)
        else:
            self.view.select(None if selection is None else selection[0])


class LayerSections:
    """Mixin of ``InspectView``: its ``sections``, ``grad_section`` and filter grids (uses
    its ``maps_layout``, ``filters_layout``, ``grad_holder`` and choosers)."""

    def _build_sections(self, trained: Any) -> None:
        for section in self.sections:
            section.setParent(None)
            section.deleteLater()
        self.sections = []
        self._clear_filters()
        self.grad_layer_combo.blockSignals(True)
        self.grad_layer_combo.clear()
        self.target_combo.blockSignals(True)
        self.target_combo.clear()
        self._layers = layer_infos(trained) if trained is not None else ()
        self._geometries = (
            geometries(trained.arch, trained.input_shape) if trained is not None else []
        )
        for info in self._layers:
            section = LayerSection(info)
            self.maps_layout.insertWidget(self.maps_layout.count() - 1, section)
            self.sections.append(section)
            if isinstance(section.view, MapsGrid):
                section.view.pixel_clicked.connect(
                    lambda c, y, x, i=info.index: self.select_unit(i, c, y, x)
                )
            else:
                section.view.unit_clicked.connect(
                    lambda c, i=info.index: self.select_unit(i, c, 0, 0)
                )
            self.grad_layer_combo.addItem(info.title, info.index)
        if trained is not None:
            self.sections[-1].view.labels = tuple(trained.class_names)  # the class scores
            self.target_combo.addItem("the predicted class", None)
            for k, name in enumerate(trained.class_names):
                self.target_combo.addItem(f"{k}: {name}", k)
            cam = gradcam_layer(trained.arch)
            self.gradcam_view.title = (
                f"Grad-CAM on layer {cam} ({self._layers[cam].label})"
                if cam is not None
                else "Grad-CAM"
            )
            self.grad_layer_combo.setCurrentIndex(0)  # the first layer: the finest maps
        self.grad_layer_combo.blockSignals(False)
        self.target_combo.blockSignals(False)
        self._on_grad_layer()

    def _on_grad_layer(self) -> None:
        if self.grad_section is not None:
            self.grad_section.setParent(None)
            self.grad_section.deleteLater()
            self.grad_section = None
        layer = self.grad_layer_combo.currentData()
        if layer is None or layer >= len(self._layers):
            return
        self.grad_section = LayerSection(self._layers[layer], mode="signed")
        self.grad_holder.addWidget(self.grad_section)
        self._render()

    def _show_filters(self, filters: list) -> None:
        self._clear_filters()
        for index, weights, norms in filters:
            out, inp = weights.shape[:2]
            title = QLabel(
                f"<b>{self._layers[index].title}</b>: {out} filters × {inp} input channel"
                f"{'s' if inp != 1 else ''}, one row per filter (blue negative, red positive)"
            )
            grid = FilterGrid()
            grid.set_filters(weights, norms)
            self.filters_layout.insertWidget(self.filters_layout.count() - 1, title)
            self.filters_layout.insertWidget(self.filters_layout.count() - 1, grid)
        if not filters:
            self.filters_layout.insertWidget(0, QLabel("This network has no convolution."))

    def _clear_filters(self) -> None:
        while self.filters_layout.count() > 1:
            item = self.filters_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
