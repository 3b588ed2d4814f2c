"""The Explain and Sanity-check panels of the Classify tab: widgets only.

``ExplainPanel``: the class, the methods to show, their settings, the colour map, and a
grid of maps over the model's input with a legend. ``SanityPanel``: the strip of maps
as the model's layers are randomised (rows: methods, columns: stages), each with its
rank correlation to the trained model's map, and the verdict in words.
``explain.ExplainController`` fills them.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.classify_tab.lab_widgets import ColorBar, MapTile, ProgressRow, class_picker

DEFAULT_METHODS = ("saliency", "integrated_gradients", "gradcam", "guided_gradcam")
GRID_COLUMNS = 4


def _spin(low: int, high: int, value: int, tip: str, suffix: str = "") -> QSpinBox:
    spin = QSpinBox()
    spin.setRange(low, high)
    spin.setValue(value)
    spin.setToolTip(tip)
    spin.setSuffix(suffix)
    return spin


class ExplainPanel(QWidget):
    """See the module docstring. ``methods``: name -> (title, what it shows)."""

    def __init__(self, methods: dict[str, tuple[str, str]], parent: QWidget | None = None):
        super().__init__(parent)
        self.setObjectName("explainPanel")
        self.class_combo = class_picker("The class to explain: type to search by name")
        self.class_combo.setObjectName("explainClass")
        self.explain_button = QPushButton("E&xplain")
        self.explain_button.setObjectName("explainButton")
        self.explain_button.setToolTip("Compute the chosen methods' maps for this class")
        self.colormap_combo = QComboBox()
        self.colormap_combo.addItems(["magma", "viridis"])
        self.colormap_combo.setToolTip("Perceptually uniform colour maps: lightness = value")
        top = QHBoxLayout()
        top.addWidget(QLabel("Class"))
        top.addWidget(self.class_combo, 1)
        top.addWidget(self.colormap_combo)
        top.addWidget(self.explain_button)

        self.method_boxes: dict[str, QCheckBox] = {}
        boxes = QGridLayout()
        boxes.setContentsMargins(0, 0, 0, 0)
        for i, (name, (title, what)) in enumerate(methods.items()):
            box = QCheckBox(title)
            box.setObjectName(f"method_{name}")
            box.setToolTip(what)
            box.setChecked(name in DEFAULT_METHODS)
            self.method_boxes[name] = box
            boxes.addWidget(box, i // 4, i % 4)

        self.ig_steps = _spin(1, 256, 32, "Integrated Gradients: steps from black to the photo")
        self.smooth_samples = _spin(1, 64, 16, "SmoothGrad: noisy copies averaged")
        self.occlusion_window = _spin(4, 112, 32, "Occlusion: side of the grey square", " px")
        self.occlusion_stride = _spin(2, 112, 16, "Occlusion: how far the square moves", " px")
        knobs = QHBoxLayout()
        for label, spin in (
            ("IG steps", self.ig_steps),
            ("SmoothGrad samples", self.smooth_samples),
            ("Occlusion window", self.occlusion_window),
            ("stride", self.occlusion_stride),
        ):
            knobs.addWidget(QLabel(label))
            knobs.addWidget(spin)
        knobs.addStretch(1)

        self.progress = ProgressRow()
        self.tiles_box = QWidget()
        box_layout = QVBoxLayout(self.tiles_box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        self.grid = QGridLayout()
        self.grid.setSpacing(4)
        box_layout.addLayout(self.grid)
        box_layout.addStretch(1)  # tiles keep their size; the space goes below them
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.tiles_box)
        self.legend = ColorBar("low attribution", "high (99.5th percentile of each map)")
        self.note = QLabel(
            "Maps over the model's input; each is scaled to its own range. The opacity "
            "slider under the photo applies here too."
        )
        self.note.setWordWrap(True)
        self.note.setObjectName("explainNote")

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addLayout(boxes)
        layout.addLayout(knobs)
        layout.addWidget(self.progress)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.legend)
        layout.addWidget(self.note)
        self.tiles: dict[str, MapTile] = {}

    def chosen_methods(self) -> list[str]:
        return [name for name, box in self.method_boxes.items() if box.isChecked()]

    def set_tiles(self, methods: list[str], titles: dict[str, str]) -> None:
        """One empty tile per method, in order."""
        for tile in self.tiles.values():
            self.grid.removeWidget(tile)
            tile.deleteLater()
        self.tiles = {}
        for i, method in enumerate(methods):
            tile = MapTile(titles.get(method, method))
            tile.setObjectName(f"tile_{method}")
            tile.caption.setText("waiting...")
            self.grid.addWidget(tile, i // GRID_COLUMNS, i % GRID_COLUMNS)
            self.tiles[method] = tile


class SanityPanel(QWidget):
    """See the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("sanityPanel")
        self.run_button = QPushButton("Run the &sanity check")
        self.run_button.setObjectName("sanityButton")
        self.run_button.setToolTip(
            "Randomise the model's layers from the top down and recompute the Explain "
            "tab's chosen methods for its class at every stage (Adebayo et al., 2018)"
        )
        self.stages = _spin(1, 12, 4, "Randomisation stages after the trained model")
        top = QHBoxLayout()
        top.addWidget(self.run_button)
        top.addWidget(QLabel("stages"))
        top.addWidget(self.stages)
        top.addStretch(1)
        self.about = QLabel(
            "Methods and class come from the Explain tab. \u03c1: Spearman's rank correlation "
            "with the trained model's map; near 0 means the map changed completely."
        )
        self.about.setWordWrap(True)
        self.progress = ProgressRow()
        self.strip_box = QWidget()
        box_layout = QVBoxLayout(self.strip_box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        self.strip = QGridLayout()
        self.strip.setSpacing(3)
        box_layout.addLayout(self.strip)
        box_layout.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setWidget(self.strip_box)
        self.verdict = QLabel("")
        self.verdict.setObjectName("sanityVerdict")
        self.verdict.setWordWrap(True)
        self.verdict.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(top)
        layout.addWidget(self.about)
        layout.addWidget(self.progress)
        layout.addWidget(scroll, 1)
        layout.addWidget(self.verdict)
        self.cells: dict[tuple[int, str], MapTile] = {}

    def clear(self) -> None:
        for i in reversed(range(self.strip.count())):
            widget = self.strip.itemAt(i).widget()
            if widget is not None:
                self.strip.removeWidget(widget)
                widget.deleteLater()
        self.cells = {}
        self.verdict.setText("")

    def cell(self, stage: int, method: str, row: int, title: str) -> MapTile:
        """The strip's tile for (stage, method), created on first use."""
        key = (stage, method)
        if key not in self.cells:
            if stage == 0:
                label = QLabel(title)
                label.setWordWrap(True)
                label.setMaximumWidth(90)
                self.strip.addWidget(label, row, 0)
            tile = MapTile("trained" if stage == 0 else f"stage {stage}", side=96)
            self.strip.addWidget(tile, row, stage + 1)
            self.cells[key] = tile
        return self.cells[key]
