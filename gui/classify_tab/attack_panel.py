"""The Attack panel of the Classify tab: widgets only (``attack.AttackController`` runs it).

Method, target, epsilon (a slider in 8-bit levels, 1/255 to 16/255), PGD's steps and
step size; then the perturbed photo, the perturbation amplified, the top-5 before and
after, Grad-CAM before and after, and the export buttons.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QPushButton,
    QSlider,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from gui.classify_tab.lab_widgets import ColorBar, MapTile, ProgressRow, class_picker
from gui.classify_tab.top_chart import TopKChart
from gui.classify_tab.view import narrow

MAX_LEVELS = 16


class AttackPanel(QWidget):
    """See the module docstring."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("attackPanel")
        self.method_combo = QComboBox()
        self.method_combo.setObjectName("attackMethod")
        self.method_combo.addItem("FGSM (one step)", "fgsm")
        self.method_combo.addItem("PGD (iterated)", "pgd")
        self.method_combo.setToolTip(
            "FGSM: one step of size epsilon along the gradient's sign.\n"
            "PGD: many small steps, projected back into the epsilon box."
        )
        self.target_combo = class_picker(
            "Untargeted: push the photo away from what the model sees.\n"
            "A class: pull it towards that class (type to search)."
        )
        self.target_combo.setObjectName("attackTarget")
        self.epsilon_slider = QSlider(Qt.Orientation.Horizontal)
        self.epsilon_slider.setObjectName("epsilonSlider")
        self.epsilon_slider.setRange(1, MAX_LEVELS)
        self.epsilon_slider.setValue(2)
        self.epsilon_slider.setPageStep(1)
        self.epsilon_slider.setToolTip("The largest change of any pixel, in 8-bit levels")
        self.epsilon_label = QLabel("\u03b5 = 2/255")
        self.epsilon_label.setMinimumWidth(self.epsilon_label.sizeHint().width() + 12)
        self.steps_spin = QSpinBox()
        self.steps_spin.setObjectName("attackSteps")
        self.steps_spin.setRange(1, 200)
        self.steps_spin.setValue(10)
        self.steps_spin.setToolTip("PGD's number of steps")
        self.step_spin = QSpinBox()
        self.step_spin.setObjectName("attackStepSize")
        self.step_spin.setRange(0, MAX_LEVELS)
        self.step_spin.setSpecialValueText("auto")
        self.step_spin.setSuffix("/255")
        self.step_spin.setToolTip(
            "PGD's step size in 8-bit levels (auto: about 2.5 \u03b5 / steps)"
        )
        self.live_button = QPushButton("Attack")
        self.live_button.setObjectName("attackButton")
        self.live_button.setToolTip("Run the attack now (it also runs on every change)")

        row1 = QHBoxLayout()
        row1.addWidget(self.method_combo)
        row1.addWidget(QLabel("target"))
        row1.addWidget(self.target_combo, 1)
        row1.addWidget(narrow(self.live_button))
        row2 = QHBoxLayout()
        row2.addWidget(self.epsilon_label)
        row2.addWidget(self.epsilon_slider, 1)
        row2.addWidget(QLabel("steps"))
        row2.addWidget(self.steps_spin)
        row2.addWidget(QLabel("step"))
        row2.addWidget(self.step_spin)

        self.progress = ProgressRow()
        self.perturbed = MapTile("Perturbed (what the model sees)", side=170)
        self.perturbed.setObjectName("perturbedTile")
        self.perturbation = MapTile("Perturbation, amplified", side=170)
        self.perturbation.setObjectName("perturbationTile")
        self.heat_before = MapTile("Grad-CAM before", side=170)
        self.heat_after = MapTile("Grad-CAM after", side=170)
        self.chart_before = TopKChart()
        self.chart_before.set_placeholder("Top-5 before")
        self.chart_after = TopKChart()
        self.chart_after.set_placeholder("Top-5 after")
        pictures = QGridLayout()
        pictures.setSpacing(4)
        pictures.addWidget(self.perturbed, 0, 0)
        pictures.addWidget(self.perturbation, 0, 1)
        pictures.addWidget(self.heat_before, 1, 0)
        pictures.addWidget(self.heat_after, 1, 1)
        charts = QVBoxLayout()
        charts.addWidget(QLabel("Before"))
        charts.addWidget(self.chart_before, 1)
        charts.addWidget(QLabel("After (8-bit pixels)"))
        charts.addWidget(self.chart_after, 1)
        body = QHBoxLayout()
        body.addLayout(pictures, 3)
        body.addLayout(charts, 2)

        self.verdict = QLabel("Choose a photo, then move the \u03b5 slider.")
        self.verdict.setObjectName("attackVerdict")
        self.verdict.setWordWrap(True)
        self.legend = ColorBar("Grad-CAM: low", "high")
        self.save_png_button = narrow(QPushButton("Save adversarial PNG..."))
        self.save_png_button.setObjectName("saveAdversarialButton")
        self.save_png_button.setToolTip(
            "Lossless PNG of the photo with the attacked crop: opened again, it fools the "
            "model the same way (checked after saving)"
        )
        self.save_report_button = narrow(QPushButton("Save report figure..."))
        self.save_report_button.setObjectName("saveAttackReportButton")
        self.save_report_button.setToolTip(
            "Original, perturbed, amplified perturbation and both top-5s in one PNG"
        )
        exports = QHBoxLayout()
        exports.addWidget(self.legend, 1)
        exports.addWidget(self.save_png_button)
        exports.addWidget(self.save_report_button)

        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addLayout(row1)
        layout.addLayout(row2)
        layout.addWidget(self.progress)
        layout.addLayout(body, 1)
        layout.addWidget(self.verdict)
        layout.addLayout(exports)

    def method(self) -> str:
        return str(self.method_combo.currentData())

    def epsilon_levels(self) -> int:
        return int(self.epsilon_slider.value())

    def update_labels(self) -> None:
        self.epsilon_label.setText(f"\u03b5 = {self.epsilon_levels()}/255")
        pgd = self.method() == "pgd"
        self.steps_spin.setEnabled(pgd)
        self.step_spin.setEnabled(pgd)
