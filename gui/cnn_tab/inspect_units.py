"""The Inspect view's selected unit (its right column): a clicked feature-map pixel or
bar, its value and receptive field outlined on the input, the nine validation patches
that excite its channel most (found in a worker) and "What does it look for?".
"""

from __future__ import annotations

from typing import Any

import numpy as np
from PySide6.QtWidgets import QLabel, QPushButton, QVBoxLayout, QWidget

from gui.cnn_tab import inspect_jobs
from gui.training.images import ImageGrid
from nets.cnn.inspect import receptive_field


class UnitInspection:
    """Mixin of ``InspectView`` (uses its model, layers, validation images and workers)."""

    def _build_unit_column(self) -> QWidget:
        """The right column: ``unit_label``, ``patches`` and ``dream_unit_button``."""
        self.unit_label = QLabel("Click a pixel of a feature map (or a bar) to pick a unit.")
        self.unit_label.setObjectName("inspectUnit")
        self.unit_label.setWordWrap(True)
        self.patches = ImageGrid()
        self.patches.setObjectName("inspectPatches")
        self.patches.empty_text = "Its best validation patches."
        self.patches.setFixedHeight(270)
        patches_title = QLabel(
            "The nine validation patches that excite this channel most (its receptive field "
            "around its strongest pixel; hover for the image and the value):"
        )
        patches_title.setWordWrap(True)
        self.dream_unit_button = QPushButton("What does it look for?")
        self.dream_unit_button.setEnabled(False)
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(0, 0, 0, 0)
        right.setMinimumWidth(250)
        right_layout.addWidget(self.unit_label)
        right_layout.addWidget(patches_title)
        right_layout.addWidget(self.patches)
        right_layout.addWidget(self.dream_unit_button)
        right_layout.addStretch(1)
        return right

    def select_unit(self, layer: int, channel: int, y: int, x: int) -> None:
        """Outline the receptive field of ``(y, x)`` in ``channel`` of ``layer`` and find the
        channel's best validation patches."""
        if self._trained is None:
            return
        self._selection = (layer, channel, y, x)
        for section in self.sections:
            section.select((channel, y, x) if section.info.index == layer else None)
        info = self._layers[layer]
        box = receptive_field(self._trained.arch, self._trained.input_shape, layer, y, x)
        self.input_view.set_box((box.top, box.left, box.bottom, box.right))
        g = self._geometries[layer]
        where = f"pixel ({y}, {x}) of channel {channel}" if info.spatial else f"unit {channel}"
        field = (
            f"its receptive field is {g.size}×{g.size} input pixels (rows {box.top}–"
            f"{box.bottom - 1}, columns {box.left}–{box.right - 1} after clipping)"
            if g is not None
            else "after Flatten every value sees the whole image"
        )
        value = ""
        if self._latest is not None:
            acts = self._latest.result.activations[layer]
            v = acts[channel, y, x] if info.spatial else acts[channel]
            value = f" = {float(v):.4g}"
        self.unit_label.setText(f"Layer {info.title}, {where}{value}: {field}.")
        self.dream_unit_button.setEnabled(layer < len(self._layers) - 1)
        self._find_patches(layer, channel)

    def _find_patches(self, layer: int, channel: int) -> None:
        if self._validation is None:
            self.patches.empty_text = "Load the validation images first."
            self.patches.clear()
            return
        if self._patch_worker is not None:
            self._patch_worker.cancel()
        self.patches.empty_text = "Searching the validation images…"
        self.patches.clear()
        factory = inspect_jobs.patches_job(
            self._trained,
            self._validation.images,
            layer,
            channel,
            self._indexes.get(layer),
            self._busy(),
        )
        worker = self._context.workers.start(factory, name="cnn-inspect-patches")
        self._patch_worker = worker

        def on_item(item: Any, w: Any = worker) -> None:
            if w is self._patch_worker and isinstance(item, inspect_jobs.PatchesReady):
                self._indexes[item.layer] = item.index
                self._show_patches(item)

        worker.item.connect(on_item)
        worker.failed.connect(self._on_failed)

    def _show_patches(self, ready: inspect_jobs.PatchesReady) -> None:
        g = self._geometries[ready.layer]
        _, h, w = self._trained.input_shape
        size_h = min(h, g.size) if g is not None else h
        size_w = min(w, g.size) if g is not None else w
        tiles = []
        labels = []
        for p in ready.patches:
            tile = np.full((size_h, size_w, p.pixels.shape[2]), 40, np.uint8)
            # A field clipped by the border keeps its place inside the full window.
            top = 0 if g is None else max(0, p.box.top - (g.start + p.y * g.jump))
            left = 0 if g is None else max(0, p.box.left - (g.start + p.x * g.jump))
            ph, pw = p.pixels.shape[:2]
            tile[top : top + ph, left : left + pw] = p.pixels[: size_h - top, : size_w - left]
            tiles.append(tile)
            label = self._trained.class_names[int(self._validation.labels[p.index])]
            labels.append(f"validation #{p.index} ({label}): {p.value:.3g} at ({p.y}, {p.x})")
        self.patches.set_images(np.stack(tiles), labels, normalize="none")
        self.patches.setToolTip("")
        self.status_message.emit(
            f"Best validation patches of layer {ready.layer}, channel {ready.channel}.", 4000
        )

    def _dream_unit(self) -> None:
        if self._selection is None:
            return
        layer, channel, _, _ = self._selection
        self.dream.set_channel(layer, channel)
        self.centre.setCurrentWidget(self.dream)
