"""The left column of the network graph view: where the weights come from (a fresh
initialisation, the selected run, or a checkpoint file) and which images the net runs
on (N from 1 to 16 from the training or validation split, or random numbers), with the
batch shown as thumbnails labelled with their classes.

It only collects choices (``choice()``) and shows the batch (``show_batch``); the view
builds the net from them in a worker.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.choices import choice_combo
from gui.training.images import ImageGallery

MAX_BATCH = 16
#: (what the weights combo shows, the choice's key)
WEIGHT_SOURCES = (
    ("Fresh initialisation", "init"),
    ("Selected run (or epoch)", "run"),
    ("Checkpoint file…", "checkpoint"),
)
SPLITS = (("Training split", "train"), ("Validation split", "val"), ("Random numbers", "random"))
MODELS = (("Two-layer net", "TwoLayerNet"), ("Linear classifier", "LinearClassifier"))


@dataclass(frozen=True)
class BatchChoice:
    """What the user picked: weights source and batch."""

    source: str  # "init" | "run" | "checkpoint"
    model: str  # for "init": "TwoLayerNet" | "LinearClassifier"
    checkpoint: Path | None
    split: str  # "train" | "val" | "random"
    n: int
    seed: int
    reg: float


class BatchPicker(QWidget):
    """Signals: ``changed()`` when any choice changes (the view rebuilds the net);
    ``checkpoint_wanted()`` when the checkpoint source is picked without a file yet;
    ``load_data_wanted()`` from the "Load the dataset" button."""

    changed = Signal()
    checkpoint_wanted = Signal()
    load_data_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.checkpoint: Path | None = None
        self.source_box = choice_combo(
            "netgraphSource", WEIGHT_SOURCES, "Which weights the network graph runs with"
        )
        self.model_box = choice_combo(
            "netgraphModel",
            MODELS,
            "The architecture of a fresh initialisation (hidden size, weight scale and seed "
            "from the Hyperparameters form)",
        )
        self.weights_label = QLabel()
        self.weights_label.setObjectName("netgraphWeights")
        self.weights_label.setWordWrap(True)
        self.weights_label.setStyleSheet("color: #3c4043;")
        self.reg_spin = QDoubleSpinBox()
        self.reg_spin.setObjectName("netgraphReg")
        self.reg_spin.setDecimals(5)
        self.reg_spin.setRange(0.0, 10.0)
        self.reg_spin.setSingleStep(0.001)
        self.reg_spin.setValue(0.001)
        self.reg_spin.setToolTip("λ of the L2 regularisation terms λ/2 · ΣW²")

        self.split_box = QComboBox()
        self.split_box.setObjectName("netgraphSplit")
        for text, key in SPLITS:
            self.split_box.addItem(text, key)
        self.n_spin = QSpinBox()
        self.n_spin.setObjectName("netgraphN")
        self.n_spin.setRange(1, MAX_BATCH)
        self.n_spin.setValue(4)
        self.n_spin.setToolTip(f"Images in the batch (1 to {MAX_BATCH})")
        self.seed_spin = QSpinBox()
        self.seed_spin.setObjectName("netgraphSeed")
        self.seed_spin.setRange(0, 999_999)
        self.seed_spin.setToolTip("Which images: the same seed picks the same batch")
        self.new_button = QPushButton("New batch")
        self.new_button.setObjectName("netgraphNewBatch")
        self.new_button.setToolTip("Pick other images (the next seed)")
        self.load_button = QPushButton("Load the dataset")
        self.load_button.setObjectName("netgraphLoadData")
        self.load_button.setToolTip("Load the dataset chosen in the Design && train page")
        self.data_label = QLabel()
        self.data_label.setObjectName("netgraphDataLabel")
        self.data_label.setWordWrap(True)
        self.data_label.setStyleSheet("color: #3c4043;")
        self.gallery = ImageGallery(thumb=40)
        self.gallery.setObjectName("netgraphBatch")
        self.gallery.setMinimumHeight(120)

        weights = QGroupBox("Weights")
        wf = QFormLayout(weights)
        wf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        wf.addRow(self.source_box)
        wf.addRow("Model", self.model_box)
        wf.addRow("L2 reg λ", self.reg_spin)
        batch = QGroupBox("Batch")
        bf = QFormLayout(batch)
        bf.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        bf.addRow(self.split_box)
        bf.addRow("Images N", self.n_spin)
        seed_row = QHBoxLayout()
        seed_row.addWidget(self.seed_spin, 1)
        seed_row.addWidget(self.new_button)
        bf.addRow("Seed", seed_row)
        bf.addRow(self.load_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        # Wrapped labels outside the form layouts: a form row squeezes them to one line.
        layout.addWidget(weights)
        layout.addWidget(self.weights_label)
        layout.addWidget(batch)
        layout.addWidget(self.data_label)
        layout.addWidget(self.gallery, 1)

        self.source_box.currentIndexChanged.connect(self._on_source)
        for box in (self.model_box, self.split_box):
            box.currentIndexChanged.connect(lambda _i: self.changed.emit())
        for spin in (self.n_spin, self.seed_spin):
            spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.reg_spin.valueChanged.connect(lambda _v: self.changed.emit())
        self.new_button.clicked.connect(lambda: self.seed_spin.setValue(self.seed_spin.value() + 1))
        self.load_button.clicked.connect(self.load_data_wanted)
        self._on_source_widgets()

    # -- choices ---------------------------------------------------------------------
    def source(self) -> str:
        return str(self.source_box.currentData())

    def choice(self) -> BatchChoice:
        return BatchChoice(
            source=self.source(),
            model=str(self.model_box.currentData()),
            checkpoint=self.checkpoint,
            split=str(self.split_box.currentData()),
            n=self.n_spin.value(),
            seed=self.seed_spin.value(),
            reg=self.reg_spin.value(),
        )

    def set_source(self, key: str) -> None:
        index = self.source_box.findData(key)
        if index >= 0:
            self.source_box.setCurrentIndex(index)

    def set_split(self, key: str) -> None:
        index = self.split_box.findData(key)
        if index >= 0:
            self.split_box.setCurrentIndex(index)

    def set_checkpoint(self, path: Path | None) -> None:
        self.checkpoint = path
        self._on_source_widgets()
        self.changed.emit()

    def _on_source(self, _index: int) -> None:
        self._on_source_widgets()
        if self.source() == "checkpoint" and self.checkpoint is None:
            self.checkpoint_wanted.emit()
        else:
            self.changed.emit()

    def _on_source_widgets(self) -> None:
        self.model_box.setEnabled(self.source() == "init")

    # -- what is shown ---------------------------------------------------------------
    def set_weights_text(self, text: str) -> None:
        self.weights_label.setText(text)

    def set_data_state(self, text: str, can_load: bool) -> None:
        """Where the images come from, and whether "Load the dataset" makes sense."""
        self.data_label.setText(text)
        self.load_button.setVisible(can_load)

    def show_batch(
        self,
        images: np.ndarray | None,
        labels: np.ndarray,
        class_names: tuple[str, ...],
        indices: np.ndarray,
        split: str,
    ) -> None:
        """Thumbnails with "n: class" captions (random data: the label only)."""
        names = [
            class_names[int(y)] if 0 <= int(y) < len(class_names) else str(int(y)) for y in labels
        ]
        captions = [f"{i}: {name}" for i, name in enumerate(names)]
        where = {"train": "training", "val": "validation"}.get(split, split)
        tips = [
            f"X[{i}]: {where} image #{int(indices[i])}, label y[{i}] = {int(labels[i])} "
            f"({names[i]})"
            for i in range(len(names))
        ]
        if images is None:
            # Random inputs: a grey tile per row, so the labels still show
            images = np.full((len(names), 8, 8), 200, dtype=np.uint8)
        self.gallery.set_images(images, captions, tips)
        self.gallery.setToolTip("" if images is not None else "random inputs")

    def clear_batch(self) -> None:
        self.gallery.clear()
