"""The layer table's cells follow every change of the layers and of the data's shape:
``ArchitectureModel.data`` answers from a table rebuilt on each change (gui/cnn_tab)."""

from __future__ import annotations

from PySide6.QtCore import Qt

from gui.cnn_tab.arch_model import COLUMNS, ArchitectureModel
from nets.cnn.presets import PRESETS

DISPLAY = Qt.ItemDataRole.DisplayRole


def _texts(model: ArchitectureModel) -> list[list[str]]:
    return [
        [model.data(model.index(r, c), DISPLAY) for c in range(len(COLUMNS))]
        for r in range(model.rowCount())
    ]


def _default() -> ArchitectureModel:
    return ArchitectureModel(next(iter(PRESETS.values())).layers, (1, 28, 28), 10)


def test_cells_show_an_edited_layer_and_its_new_shapes_and_undo_restores_them(qapp):
    model = _default()
    before = _texts(model)
    assert before[0][1].startswith("Conv2d(16")
    model.set_field(0, "out_channels", 8)
    after = _texts(model)
    assert after[0][1].startswith("Conv2d(8")
    assert after[0][2] == "8x28x28"
    assert after[0][3] != before[0][3]
    model.undo_stack.undo()
    assert _texts(model) == before


def test_cells_mark_the_faulty_layer_after_the_input_changes(qapp):
    model = _default()
    bad_brush = Qt.ItemDataRole.BackgroundRole
    assert all(model.data(model.index(r, 0), bad_brush) is None for r in range(model.rowCount()))
    model.set_input((1, 4, 4), 10)  # too small for three 2x2 poolings
    bad = model.check.bad_index
    assert bad is not None and model.check.error
    assert model.data(model.index(bad, 0), bad_brush) is not None
    assert model.data(model.index(bad, 1), Qt.ItemDataRole.ToolTipRole) == model.check.error
    assert model.data(model.index(bad + 1, 2), DISPLAY) == "—"
    model.set_input((1, 28, 28), 10)
    assert model.data(model.index(bad, 0), bad_brush) is None


def test_numbers_are_right_aligned_and_names_are_not(qapp):
    model = _default()
    align = Qt.ItemDataRole.TextAlignmentRole
    assert model.data(model.index(0, 1), align) is None
    assert model.data(model.index(0, 3), align) == int(
        Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter
    )
    assert model.data(model.index(0, 0), Qt.ItemDataRole.DecorationRole) is None
