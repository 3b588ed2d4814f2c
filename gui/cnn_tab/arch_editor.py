"""The architecture editor: the layer table (with its live summary), add/remove/reorder,
the selected layer's parameters, totals, and the inline "cannot run" message."""

from __future__ import annotations

from PySide6.QtCore import QItemSelectionModel, QModelIndex, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QAbstractItemView,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSpinBox,
    QTableView,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.cnn_tab.arch_model import ArchitectureModel, human_count
from nets.cnn.arch import LAYER_TYPES, format_shape, layer_fields

ERROR_STYLE = "color: #b00020;"

#: Short help shown in the Add menu.
LAYER_HELP = {
    "Conv2d": "learned filters sliding over the image",
    "MaxPool2d": "keep the largest value of each window",
    "AvgPool2d": "average each window",
    "ReLU": "max(0, x)",
    "BatchNorm2d": "normalise each channel over the batch",
    "Dropout": "zero random values while training",
    "Flatten": "feature map -> vector",
    "Linear": "fully connected layer",
}


class LayerTableView(QTableView):
    """The layer table; rows can be dragged to reorder the layers."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("cnnLayerTable")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setDragEnabled(True)
        self.setAcceptDrops(True)
        self.setDropIndicatorShown(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.InternalMove)
        self.setDefaultDropAction(Qt.DropAction.MoveAction)
        self.setDragDropOverwriteMode(False)
        self.verticalHeader().hide()
        self.verticalHeader().setDefaultSectionSize(22)
        self.setAlternatingRowColors(True)
        self.setWordWrap(False)
        self.setToolTip("Drag a row to move a layer; select a layer to edit its parameters")


class ArchitectureEditor(QWidget):
    """Edits an :class:`ArchitectureModel`. Emits ``preset_chosen(name)`` from the combo."""

    preset_chosen = Signal(str)

    def __init__(
        self,
        model: ArchitectureModel,
        presets: list[str],
        parent=None,
        preset_layers: list[tuple] | None = None,
    ) -> None:
        super().__init__(parent)
        self.model = model
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)

        top = QHBoxLayout()
        top.addWidget(QLabel("Preset:"))
        self.preset_combo = QComboBox()
        self.preset_combo.setObjectName("cnnPresetCombo")
        self.preset_combo.addItem("custom")
        self.preset_combo.addItems(presets)
        # The combo names the preset the layers still match, else "custom".
        self._preset_layers = list(preset_layers or [])
        self.preset_combo.setToolTip("Replace the layers with a ready-made architecture")
        self.preset_combo.activated.connect(self._on_preset_activated)
        top.addWidget(self.preset_combo, 1)
        layout.addLayout(top)

        self.table = LayerTableView()
        self.table.setModel(model)
        header = self.table.horizontalHeader()
        # Every column as wide as its text: in a narrow window the table scrolls
        # sideways instead of cutting a layer's name ("BatchNorm2d()" cannot wrap).
        # Fitted once per change of the layers (``_fit_to_contents``), not by
        # ResizeToContents headers: those asked the model for every cell's roles again
        # at each layout pass, about 11,700 calls into Python for the first frame.
        header.setStretchLastSection(True)
        # A long layer ("Conv2d(16, k=3, s=1, p=1)") may still wrap at its spaces.
        self.table.setWordWrap(True)
        layout.addWidget(self.table, 1)

        buttons = QHBoxLayout()
        self.add_button = QToolButton()
        self.add_button.setText("Add layer")
        self.add_button.setObjectName("cnnAddLayer")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        add_menu = QMenu(self.add_button)
        self.add_actions: dict[str, QAction] = {}
        for name in LAYER_TYPES:
            action = add_menu.addAction(f"{name}  —  {LAYER_HELP.get(name, '')}")
            action.triggered.connect(lambda _=False, n=name: self.add_layer(n))
            self.add_actions[name] = action
        self.add_button.setMenu(add_menu)
        self.add_button.setToolTip("Insert a layer after the selected one")
        buttons.addWidget(self.add_button)
        self.remove_button = self._tool("Remove", "Remove the selected layer (Delete)")
        self.remove_button.clicked.connect(self.remove_selected)
        self.up_button = self._tool("Move up", "Move the selected layer up (Alt+Up)")
        self.up_button.clicked.connect(lambda: self.move_selected(-1))
        self.down_button = self._tool("Move down", "Move the selected layer down (Alt+Down)")
        self.down_button.clicked.connect(lambda: self.move_selected(+1))
        for b in (self.remove_button, self.up_button, self.down_button):
            buttons.addWidget(b)
        buttons.addStretch(1)
        layout.addLayout(buttons)

        for key, slot in (
            (QKeySequence.StandardKey.Delete, self.remove_selected),
            (QKeySequence("Alt+Up"), lambda: self.move_selected(-1)),
            (QKeySequence("Alt+Down"), lambda: self.move_selected(+1)),
        ):
            action = QAction(self.table)
            action.setShortcut(key)
            action.setShortcutContext(Qt.ShortcutContext.WidgetShortcut)
            action.triggered.connect(slot)
            self.table.addAction(action)

        self.params_box = QGroupBox("Layer parameters")
        self.params_form = QFormLayout(self.params_box)
        self.params_form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.ExpandingFieldsGrow)
        self._param_widgets: dict[str, QSpinBox | QDoubleSpinBox] = {}
        self._param_row = -1
        self._param_type: type | None = None
        layout.addWidget(self.params_box)

        self.totals_label = QLabel()
        self.totals_label.setObjectName("cnnArchTotals")
        self.totals_label.setWordWrap(True)
        layout.addWidget(self.totals_label)
        self.error_label = QLabel()
        self.error_label.setObjectName("cnnArchError")
        self.error_label.setWordWrap(True)
        self.error_label.setStyleSheet(ERROR_STYLE)
        self.error_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)
        self.error_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        layout.addWidget(self.error_label)

        model.changed.connect(self._on_model_changed)
        self.table.selectionModel().selectionChanged.connect(self._on_selection)
        self._on_model_changed()

    def _tool(self, text: str, tip: str) -> QToolButton:
        button = QToolButton()
        button.setText(text)
        button.setToolTip(tip)
        return button

    # -- selection -------------------------------------------------------------------
    def selected_row(self) -> int:
        rows = self.table.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def select_row(self, row: int) -> None:
        if 0 <= row < self.model.rowCount():
            self.table.selectionModel().setCurrentIndex(
                self.model.index(row, 0),
                QItemSelectionModel.SelectionFlag.ClearAndSelect
                | QItemSelectionModel.SelectionFlag.Rows,
            )
        else:
            self.table.clearSelection()

    # -- edits -----------------------------------------------------------------------
    def add_layer(self, type_name: str) -> None:
        row = self.selected_row()
        at = row + 1 if row >= 0 else self.model.rowCount()
        self.model.insert_layer(at, LAYER_TYPES[type_name]())
        self.select_row(at)

    def remove_selected(self) -> None:
        row = self.selected_row()
        if row >= 0:
            self.model.remove_layer(row)
            self.select_row(min(row, self.model.rowCount() - 1))

    def move_selected(self, step: int) -> None:
        row = self.selected_row()
        if row >= 0 and self.model.move_layer(row, row + step):
            self.select_row(row + step)

    def _on_preset_activated(self, index: int) -> None:
        if index > 0:
            self.preset_chosen.emit(self.preset_combo.itemText(index))
        self._show_matching_preset()

    def _show_matching_preset(self) -> None:
        layers = tuple(self.model.layers)
        index = 0
        for i, preset in enumerate(self._preset_layers, start=1):
            # A preset resized to the data's classes still counts as that preset.
            if layers[:-1] == tuple(preset)[:-1] and len(layers) == len(preset):
                index = i
                break
        self.preset_combo.setCurrentIndex(index)

    # -- follow the model ------------------------------------------------------------
    def _fit_to_contents(self) -> None:
        self.table.resizeColumnsToContents()
        self.table.resizeRowsToContents()

    def _on_model_changed(self) -> None:
        self._fit_to_contents()
        self._show_matching_preset()
        # A reset loses the selection: restore it to the row being edited.
        keep = self._param_row
        if 0 <= keep < self.model.rowCount() and self.selected_row() != keep:
            self.select_row(keep)
        self._on_selection()
        check = self.model.check
        c, h, w = self.model.input_shape
        if check.ok and check.totals is not None:
            t = check.totals
            self.totals_label.setText(
                f"Input {c}×{h}×{w} → {format_shape(t.output_shape)}  ·  "
                f"<b>{t.params:,}</b> parameters  ·  "
                f"<b>{human_count(t.mult_adds)}</b> multiply-adds per image"
            )
            self.error_label.clear()
            self.error_label.hide()
        else:
            self.totals_label.setText(f"Input {c}×{h}×{w}")
            self.error_label.setText(f"Cannot run: {check.error}")
            self.error_label.show()
        row = self.selected_row()
        n = self.model.rowCount()
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < n - 1)

    def _on_selection(self, *_args) -> None:
        row = self.selected_row()
        layers = self.model.layers
        n = len(layers)
        self.remove_button.setEnabled(row >= 0)
        self.up_button.setEnabled(row > 0)
        self.down_button.setEnabled(0 <= row < n - 1)
        layer = layers[row] if 0 <= row < n else None
        if layer is None:
            self._param_row = -1
            self._param_type = None
            self._clear_form()
            self.params_box.setTitle("Layer parameters")
            self.params_form.addRow(QLabel("Select a layer to edit it."))
            return
        if row != self._param_row or type(layer) is not self._param_type:
            self._build_form(row, layer)
        else:
            for name, widget in self._param_widgets.items():
                value = getattr(layer, name)
                if widget.value() != value:
                    widget.blockSignals(True)
                    widget.setValue(value)
                    widget.blockSignals(False)

    def _clear_form(self) -> None:
        while self.params_form.rowCount():
            self.params_form.removeRow(0)
        self._param_widgets = {}

    def _build_form(self, row: int, layer) -> None:
        self._clear_form()
        self._param_row = row
        self._param_type = type(layer)
        name = type(layer).__name__
        self.params_box.setTitle(f"Layer {row}: {name}")
        fields = layer_fields(name)
        if not fields:
            self.params_form.addRow(QLabel(f"{name} has no parameters."))
            return
        for f in fields:
            if f.kind == "int":
                widget: QSpinBox | QDoubleSpinBox = QSpinBox()
                widget.setRange(int(f.minimum), int(min(f.maximum, 2**31 - 1)))
                if f.minimum == 0 and "0:" in f.doc:
                    widget.setSpecialValueText("same as window")
            else:
                widget = QDoubleSpinBox()
                widget.setDecimals(2)
                widget.setSingleStep(0.05)
                widget.setRange(f.minimum, f.maximum)
            widget.setObjectName(f"cnnParam_{f.name}")
            widget.setValue(getattr(layer, f.name))
            widget.setToolTip(f.doc)
            widget.setKeyboardTracking(True)
            widget.valueChanged.connect(lambda value, n=f.name: self._on_param(n, value))
            self._param_widgets[f.name] = widget
            self.params_form.addRow(f"{f.name}:", widget)

    def _on_param(self, name: str, value: float) -> None:
        row = self._param_row
        if not 0 <= row < self.model.rowCount():
            return
        widget = self._param_widgets[name]
        typed = int(value) if isinstance(widget, QSpinBox) else round(float(value), 4)
        self.model.set_field(row, name, typed)

    def param_widget(self, name: str) -> QSpinBox | QDoubleSpinBox:
        """The editor of the selected layer's ``name`` parameter (for tests and shortcuts)."""
        return self._param_widgets[name]

    def current_index(self) -> QModelIndex:
        return self.table.currentIndex()
