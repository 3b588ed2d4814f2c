"""The node inspector under the network graph: the selected node's output (forward) and
gradient (backward) as large heat-maps with shape, min, max, mean and a histogram, what
its ``*_forward`` cached for ``*_backward``, and, for the hidden layer, one unit's
incoming weights (a column of W1) as an image, as in the first-layer weights view.

A click on any element asks for its explanation (``element_clicked(kind, tensor,
index)``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.graph_tab import theme
from gui.mlp_tab.network_graph.heatmap import Band, TensorPanel, clear_layout, shape_text
from gui.training.images import ImageGrid

#: which tensor each cache entry of a layer is (for explaining an element of it)
_CACHE_TENSOR_INDEX = {"x": 0, "w": 1}


class UnitWeights(QWidget):
    """Unit k's incoming weights W[:, k] (and their gradient) as images of the input's
    shape: what the unit looks for in an image."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = QLabel()
        self.title.setWordWrap(True)
        self.unit_spin = QSpinBox()
        self.unit_spin.setObjectName("netgraphUnit")
        self.unit_spin.setToolTip("Which unit (a column of the weight matrix)")
        self.images = ImageGrid()
        self.images.setObjectName("netgraphUnitImages")
        self.images.setMinimumSize(120, 70)
        row = QHBoxLayout()
        row.addWidget(QLabel("Unit"))
        row.addWidget(self.unit_spin, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(2, 2, 2, 2)
        layout.addWidget(self.title)
        layout.addLayout(row)
        layout.addWidget(self.images, 1)
        self._w: np.ndarray | None = None
        self._dw: np.ndarray | None = None
        self._shape: tuple[int, ...] | None = None
        self._name = "W1"
        self.unit_spin.valueChanged.connect(lambda _v: self._draw())

    def set_weights(
        self, name: str, w: np.ndarray, dw: np.ndarray | None, image_shape: tuple[int, ...] | None
    ) -> None:
        self._name, self._w, self._dw, self._shape = name, w, dw, image_shape
        self.unit_spin.setRange(0, max(0, w.shape[1] - 1))
        self._draw()

    def set_unit(self, k: int) -> None:
        self.unit_spin.setValue(k)

    def _draw(self) -> None:
        w, shape = self._w, self._shape
        k = self.unit_spin.value()
        if w is None or shape is None or int(np.prod(shape)) != w.shape[0]:
            self.title.setText("Incoming weights show as images for image inputs only.")
            self.images.clear()
            self.images.hide()
            return
        self.images.show()
        tiles = [w[:, k].reshape(shape)]
        labels = [f"{self._name}[:, {k}]"]
        if self._dw is not None:
            tiles.append(self._dw[:, k].reshape(shape))
            labels.append(f"dL/d{self._name}[:, {k}]")
        arr = np.stack(tiles)
        if arr.ndim == 4 and arr.shape[-1] == 1:
            arr = arr[..., 0]
        self.images.set_images(arr, labels)
        grad = " and its gradient" if self._dw is not None else ""
        self.title.setText(
            f"<b>Unit {k}</b>: its incoming weights {self._name}[:, {k}]{grad} as images "
            "(min-max scaled)"
        )


class NodeInspector(QWidget):
    """The selected node's tensors. ``element_clicked(kind, tensor, index)``."""

    element_clicked = Signal(str, str, tuple)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("netgraphInspector")
        self.spec: Any = None
        self._bands: Mapping[str, Any] = {}
        self._cache_key: tuple = ()
        self.header = QLabel("Click a node of the graph to see its tensors here.")
        self.header.setObjectName("netgraphInspectorHeader")
        self.header.setWordWrap(True)
        self.header.setTextFormat(Qt.TextFormat.RichText)
        self.value_panel = TensorPanel()
        self.value_panel.setObjectName("netgraphValuePanel")
        self.grad_panel = TensorPanel()
        self.grad_panel.setObjectName("netgraphGradPanel")
        self.cache_box = QWidget()
        self.cache_layout = QVBoxLayout(self.cache_box)
        self.cache_layout.setContentsMargins(0, 0, 0, 0)
        self.cache_panels: dict[str, TensorPanel] = {}
        self.unit = UnitWeights()
        grid = QGridLayout()
        grid.addWidget(self.value_panel, 0, 0)
        grid.addWidget(self.grad_panel, 0, 1)
        grid.addWidget(self.cache_box, 0, 2)
        grid.addWidget(self.unit, 0, 3)
        for c, stretch in enumerate((3, 3, 2, 2)):
            grid.setColumnStretch(c, stretch)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.header)
        layout.addLayout(grid, 1)
        self.setMinimumHeight(190)
        self.value_panel.element_clicked.connect(lambda i: self._clicked("value", i))
        self.grad_panel.element_clicked.connect(lambda i: self._clicked("grad", i))

    def _clicked(self, kind: str, index: tuple) -> None:
        if self.spec is None:
            return
        self.element_clicked.emit(kind, self.spec.tensor, tuple(int(i) for i in index))
        if len(index) == 2 and self.unit.isVisible() and self.spec.tensor in ("a1", "h1", "W1"):
            self.unit.set_unit(int(index[1]))

    def show_node(self, ng: Any, name: str | None, bands: Mapping[str, Any]) -> None:
        """Fill the panels for node ``name`` of ``ng`` (None: nothing selected) from the
        pictures made in the worker (``bands``: ``jobs.NodeBands`` by node name)."""
        self._bands = bands
        if ng is None or name is None:
            self.spec = None
            self.header.setText("Click a node of the graph to see its tensors here.")
            for panel in (self.value_panel, self.grad_panel):
                panel.set_band(None, "", "")
            self._show_cache(ng, None)
            self.unit.hide()
            return
        spec = ng.node(name)
        self.spec = spec
        inputs = ", ".join(ng.node(i).tensor for i in spec.inputs)
        call = f"{spec.tensor} = {spec.label}({inputs})" if spec.inputs else spec.tensor
        self.header.setText(
            f"<b>{name}</b>: <tt>{call}</tt> &nbsp; {shape_text(spec.shape)}"
            " &nbsp; <span style='color:#6b7078'>click an element to explain it</span>"
        )
        node_bands = bands.get(name)
        value = node_bands.value if node_bands is not None else self._band_of(ng.value(name))
        grad = node_bands.grad if node_bands is not None else self._band_of(ng.grad(name))
        self.value_panel.set_band(
            value,
            spec.tensor,
            f"<span style='color:#1f63c6'><b>{spec.tensor}</b> (forward)</span>",
            theme.FORWARD,
        )
        self.grad_panel.set_band(
            grad,
            f"dL/d{spec.tensor}",
            f"<span style='color:#c2570c'><b>dL/d{spec.tensor}</b> (backward)</span>",
            theme.BACKWARD,
        )
        self._show_cache(ng, spec)
        self._show_unit(ng, spec)

    def _band_of(self, a: np.ndarray | None) -> Band | None:
        """The worker-made band of this very array if a node shows it, else a new one."""
        if a is None:
            return None
        for b in self._bands.values():
            for band in (b.value, b.grad):
                if band.array is a:
                    return band
        return Band(a)

    def _show_cache(self, ng: Any, spec: Any) -> None:
        cache = ng.cache(spec.name) if spec is not None and spec.kind == "layer" else None
        key = (spec.name if spec is not None else None, tuple(map(id, (cache or {}).values())))
        if key == self._cache_key and (cache is None) == (not self.cache_panels):
            return  # the same arrays: nothing to redraw
        self._cache_key = key
        self.cache_panels = {}
        clear_layout(self.cache_layout)
        if spec is None or spec.kind != "layer":
            self.cache_box.hide()
            return
        self.cache_box.show()
        title = QLabel(
            f"<b>cache</b> of {spec.label} (kept for the backward pass)"
            if cache
            else f"<b>cache</b>: empty until {spec.label} runs (→)"
        )
        title.setWordWrap(True)
        self.cache_layout.addWidget(title)
        for key, arr in (cache or {}).items():
            panel = TensorPanel()
            panel.setObjectName(f"netgraphCache_{key}")
            tensor = self._cache_tensor(ng, spec, key)
            panel.set_band(
                self._band_of(arr), tensor or key, f"cache <tt>{key}</tt> = {tensor or key}"
            )
            if tensor is not None:
                panel.element_clicked.connect(
                    lambda i, t=tensor: self.element_clicked.emit("value", t, tuple(i))
                )
            self.cache_layout.addWidget(panel, 1)
            self.cache_panels[key] = panel

    @staticmethod
    def _cache_tensor(ng: Any, spec: Any, key: str) -> str | None:
        """The tensor a cache entry holds: fc's x and w are its inputs, ReLU's out its
        own output."""
        if key in _CACHE_TENSOR_INDEX and _CACHE_TENSOR_INDEX[key] < len(spec.inputs):
            return ng.node(spec.inputs[_CACHE_TENSOR_INDEX[key]]).tensor
        if key == "out":
            return spec.tensor
        return None

    def _show_unit(self, ng: Any, spec: Any) -> None:
        first = "W1" if "W1" in ng.params else "W"
        related = {"W1": ("W1", "fc1", "relu1"), "W": ("W", "fc1")}[first]
        if spec.name not in related:
            self.unit.hide()
            return
        self.unit.show()
        w = ng.params[first]
        dw = ng.grad(first)
        self.unit.set_weights(first, w, dw, ng.batch.image_shape)
