"""The layer table fits its columns to the layers once per change, instead of asking the
model for every cell at each layout pass (gui/cnn_tab/arch_editor.py)."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtWidgets import QApplication

from gui.cnn_tab.arch_editor import ArchitectureEditor
from gui.cnn_tab.arch_model import COLUMNS, ArchitectureModel
from nets.cnn.presets import DEFAULT, PRESETS


class CountingModel(ArchitectureModel):
    """Counts the cells the view asks for."""

    calls = 0

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        self.calls += 1
        return super().data(index, role)


def _shown_editor(qtbot) -> tuple[ArchitectureEditor, CountingModel]:
    model = CountingModel(DEFAULT.layers, (1, 28, 28), 10)
    editor = ArchitectureEditor(model, list(PRESETS))
    qtbot.addWidget(editor)
    editor.resize(520, 600)
    editor.show()
    qtbot.waitExposed(editor)
    QApplication.processEvents()
    return editor, model


def test_the_first_frame_asks_for_each_cell_a_few_times_only(qtbot):
    _editor, model = _shown_editor(qtbot)
    cells = model.rowCount() * len(COLUMNS)
    # ResizeToContents headers asked about 140 times per cell (11,700 calls in the app).
    assert model.calls < 40 * cells, model.calls


def test_columns_widen_to_a_longer_layer_after_an_edit(qtbot):
    editor, model = _shown_editor(qtbot)
    table = editor.table
    before = table.columnWidth(1)
    model.set_field(0, "out_channels", 123456)
    QApplication.processEvents()
    assert model.data(model.index(0, 1), Qt.ItemDataRole.DisplayRole).startswith("Conv2d(123456")
    assert table.columnWidth(1) > before
    for column in range(len(COLUMNS) - 1):  # the last one stretches to the table's edge
        assert table.columnWidth(column) >= table.sizeHintForColumn(column)
