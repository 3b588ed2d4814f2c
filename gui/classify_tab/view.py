"""The Classify tab's widgets and their layout: no model, no workers, no state.

``ClassifyView`` only builds and arranges; the controllers (``models``, ``batch``,
``current``, ``marks``, ``explain``, ``attack``) fill the widgets and react to them, and
``tab.ClassifyTab`` wires the two together.
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QCheckBox,
    QFrame,
    QGridLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QProgressBar,
    QPushButton,
    QScrollArea,
    QSizePolicy,
    QSlider,
    QSplitter,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from gui.classify_tab.batch_table import BatchTable, BatchTableModel
from gui.classify_tab.lab_widgets import class_picker
from gui.classify_tab.model_picker import ModelPicker
from gui.classify_tab.photo_view import PhotoView
from gui.classify_tab.recent_strip import RecentStrip
from gui.classify_tab.top_chart import TopKChart

PLACEHOLDER = (
    "Drop photos or a folder here\n\n"
    "or use File \u203a Open Images (Ctrl+O), or paste an image (Ctrl+V)"
)


def narrow(button: QPushButton) -> QPushButton:
    """A button as narrow as its text: the tab fits a 700-pixel window."""
    button.setMinimumWidth(button.fontMetrics().horizontalAdvance(button.text()) + 18)
    return button


class ClassifyView(QWidget):
    """Every widget of the Classify tab, laid out (see the module docstring)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model_picker = ModelPicker()

        # -- the current image -----------------------------------------------------------
        self.name_label = QLabel("No image")
        self.name_label.setObjectName("imageName")
        font = self.name_label.font()
        font.setBold(True)
        font.setPointSizeF(font.pointSizeF() * 1.1)
        self.name_label.setFont(font)
        self.name_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.name_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.reasonable_button = QPushButton("\u2713 Reasonable")
        self.reasonable_button.setObjectName("reasonableButton")
        self.reasonable_button.setCheckable(True)
        self.reasonable_button.setToolTip(
            "Mark this prediction as reasonable for the report figure (R)"
        )
        self.unreasonable_button = QPushButton("\u2717 Unreasonable")
        self.unreasonable_button.setObjectName("unreasonableButton")
        self.unreasonable_button.setCheckable(True)
        self.unreasonable_button.setToolTip(
            "Mark this prediction as unreasonable for the report figure (U)"
        )
        # The name gets a line of its own: beside the buttons it was cut in a narrow window.
        title_row = QVBoxLayout()
        title_row.setSpacing(2)
        title_row.addWidget(self.name_label)
        buttons_row = QHBoxLayout()
        buttons_row.addStretch(1)
        buttons_row.addWidget(self.reasonable_button)
        buttons_row.addWidget(self.unreasonable_button)
        title_row.addLayout(buttons_row)

        self.photo_view = PhotoView(PLACEHOLDER)
        self.photo_view.setObjectName("photoView")
        self.photo_view.setToolTip("The photo; with the heat-map on, where the model looked")

        self.heat_toggle = QCheckBox("&Heat-map")
        self.heat_toggle.setObjectName("heatToggle")
        self.heat_toggle.setToolTip(
            "Grad-CAM: which regions raised the chosen class's score (H).\n"
            "Pick the class here, or click a bar of the chart."
        )
        self.class_combo = class_picker("The class whose heat-map is shown: type to search")
        self.class_combo.setObjectName("classCombo")
        self.class_combo.setMinimumContentsLength(8)
        self.opacity_slider = QSlider(Qt.Orientation.Horizontal)
        self.opacity_slider.setObjectName("opacitySlider")
        self.opacity_slider.setRange(0, 100)
        self.opacity_slider.setValue(50)
        self.opacity_slider.setMinimumWidth(60)
        self.opacity_slider.setMaximumWidth(120)
        self.opacity_slider.setToolTip("Heat-map opacity: 50%")
        self.opacity_label = QLabel("&Opacity")
        self.opacity_label.setBuddy(self.opacity_slider)
        heat_row = QHBoxLayout()
        heat_row.addWidget(self.heat_toggle)
        heat_row.addWidget(self.class_combo, 1)
        heat_row.addSpacing(4)
        heat_row.addWidget(self.opacity_label)
        heat_row.addWidget(self.opacity_slider)

        photo_box = QWidget()
        photo_layout = QVBoxLayout(photo_box)
        photo_layout.setContentsMargins(0, 0, 0, 0)
        photo_layout.addLayout(title_row)
        photo_layout.addWidget(self.photo_view, 1)
        photo_layout.addLayout(heat_row)

        # -- what the model saw and said -------------------------------------------------
        self.input_view = PhotoView("The model's input appears here")
        self.input_view.setObjectName("inputView")
        self.input_view.set_smooth(False)
        self.input_view.setFixedSize(196, 196)
        self.input_view.setToolTip(
            "The exact tensor the model received, de-normalised back to an image\n"
            "(after its resize and centre crop)"
        )
        self.input_caption = QLabel("Model input")
        self.input_caption.setObjectName("inputCaption")
        self.input_caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
        self.chart = TopKChart()
        self.chart.set_placeholder("The top-5 classes appear here")
        seen = QGroupBox("What the model saw, and its top-5")
        seen_layout = QGridLayout(seen)
        seen_layout.setContentsMargins(8, 6, 8, 6)
        seen_layout.addWidget(self.input_view, 0, 0)
        seen_layout.addWidget(self.input_caption, 1, 0)
        seen_layout.addWidget(self.chart, 0, 1, 2, 1)
        seen_layout.setColumnStretch(1, 1)

        # -- many images -----------------------------------------------------------------
        self.table_model = BatchTableModel(self)
        self.table = BatchTable(self.table_model)
        self.batch_label = QLabel("No images yet")
        self.batch_label.setObjectName("batchLabel")
        self.batch_label.setWordWrap(True)  # wraps at 1024 px rather than being cut
        self.batch_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Minimum)
        self.batch_label.setMinimumWidth(40)
        self.batch_progress = QProgressBar()
        self.batch_progress.setObjectName("batchProgress")
        self.batch_progress.setMaximumWidth(150)
        self.batch_progress.setMinimumWidth(60)
        self.batch_progress.setVisible(False)
        self.cancel_batch_button = QPushButton("Cancel")
        self.cancel_batch_button.setObjectName("cancelBatchButton")
        self.cancel_batch_button.setToolTip("Stop classifying the remaining images")
        self.cancel_batch_button.setVisible(False)
        self.rerun_button = QPushButton("Classify again")
        self.rerun_button.setObjectName("rerunButton")
        self.rerun_button.setToolTip("Classify every image in the table with the current model")
        self.clear_button = QPushButton("Clear")
        self.clear_button.setObjectName("clearButton")
        self.clear_button.setToolTip("Remove every image from the table")
        self.export_button = QPushButton("Export report...")
        self.export_button.setObjectName("exportButton")
        self.export_button.setToolTip(
            "Save a PNG of each marked image with its top-5 (the seed's report figure)"
        )
        for button in (
            self.cancel_batch_button,
            self.rerun_button,
            self.clear_button,
            self.export_button,
        ):
            narrow(button)
        batch_bar = QHBoxLayout()
        batch_bar.addWidget(self.batch_label, 1)
        batch_bar.addWidget(self.batch_progress)
        batch_bar.addWidget(self.cancel_batch_button)
        batch_bar.addWidget(self.rerun_button)
        batch_bar.addWidget(self.clear_button)
        batch_bar.addWidget(self.export_button)
        images = QWidget()
        images_layout = QVBoxLayout(images)
        images_layout.setContentsMargins(6, 6, 6, 6)
        images_layout.addLayout(batch_bar)
        images_layout.addWidget(self.table, 1)
        # Images, and the labs that work on the current photo (added by the tab).
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("classifySideTabs")
        self.side_tabs.setDocumentMode(True)
        self.side_tabs.addTab(images, "Images")

        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(seen)
        right.addWidget(self.side_tabs)
        right.setStretchFactor(0, 0)
        right.setStretchFactor(1, 1)
        right.setChildrenCollapsible(False)
        right.setSizes([240, 420])

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.setObjectName("classifySplitter")
        self.splitter.addWidget(photo_box)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 5)
        self.splitter.setStretchFactor(1, 6)
        self.splitter.setChildrenCollapsible(False)
        self.splitter.setSizes([560, 700])

        # -- recent ----------------------------------------------------------------------
        self.recent = RecentStrip()
        recent_caption = QLabel("Recent")
        recent_caption.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        recent_row = QHBoxLayout()
        recent_row.addWidget(recent_caption)
        recent_row.addWidget(self.recent, 1)

        line = QFrame()
        line.setFrameShape(QFrame.Shape.HLine)
        line.setFrameShadow(QFrame.Shadow.Sunken)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 6)
        layout.addWidget(self.model_picker)
        layout.addWidget(line)
        layout.addWidget(self.splitter, 1)
        layout.addLayout(recent_row)

    def add_side(self, widget: QWidget, title: str) -> None:
        """Add a lab panel as a side tab, scrolled: the panels never widen the window."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setWidget(widget)
        self.side_tabs.addTab(scroll, title)

    def side_shown(self, widget: QWidget) -> bool:
        """Whether the current side tab is ``widget`` (or holds it)."""
        current = self.side_tabs.currentWidget()
        return current is widget or (
            isinstance(current, QScrollArea) and current.widget() is widget
        )

    def show_side(self, widget: QWidget) -> None:
        for index in range(self.side_tabs.count()):
            page = self.side_tabs.widget(index)
            if page is widget or (isinstance(page, QScrollArea) and page.widget() is widget):
                self.side_tabs.setCurrentIndex(index)
                return
