"""The architecture being edited, as a Qt table model with undo, and its live summary.

The layers are ``nets.cnn.arch`` specs (frozen dataclasses, no torch). Every edit goes
through one method, :meth:`ArchitectureModel.set_layers`, which pushes an undo command;
after each change the summary (output shape, parameters and multiply-adds per layer) is
recomputed with ``nets.cnn.arch.validate``. That is pure Python and takes microseconds,
so the table follows every keystroke.

An architecture that cannot run keeps the rows before the faulty layer valid, marks the
faulty row and leaves ``error`` holding the message (it names the layer and the shapes).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

from PySide6.QtCore import (
    QAbstractTableModel,
    QByteArray,
    QMimeData,
    QModelIndex,
    QObject,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QBrush, QColor, QUndoCommand, QUndoStack

from nets.cnn.arch import (
    LayerSpec,
    LayerSummary,
    Totals,
    describe_layer,
    format_shape,
    totals,
    validate,
)
from nets.errors import ConfigError

_MIME = "application/x-backprop-explorer-cnn-layer-row"
_ERROR_BRUSH = QBrush(QColor("#ffd9d9"))
_DIM_BRUSH = QBrush(QColor("#8a8a8a"))

COLUMNS = ("#", "Layer", "Output shape", "Parameters", "Mult-adds")


def human_count(n: int) -> str:
    """1234 -> "1,234"; 12_345_678 -> "12.3 M" (for multiply-adds)."""
    if n >= 10_000_000_000:
        return f"{n / 1e9:.1f} G"
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} M"
    return f"{n:,}"


@dataclass(frozen=True)
class ArchCheck:
    """The outcome of validating the layers for the current input.

    ``rows`` has one summary per layer that can run (all of them when ``error`` is "");
    ``bad_index`` is the faulty layer (or -1 when the fault is the network's end, or
    there is none).
    """

    rows: tuple[LayerSummary, ...]
    totals: Totals | None
    error: str
    bad_index: int

    @property
    def ok(self) -> bool:
        return not self.error


def check_architecture(
    layers: Sequence[LayerSpec], input_shape: tuple[int, int, int], num_classes: int | None
) -> ArchCheck:
    """Validate ``layers`` for images of ``input_shape`` (C, H, W) and ``num_classes``."""
    try:
        rows = validate(layers, input_shape, num_classes)
        return ArchCheck(tuple(rows), totals(rows, input_shape), "", -1)
    except ConfigError as exc:
        error = str(exc)
    # Find the longest prefix that runs: its rows stay visible above the faulty layer.
    good: list[LayerSummary] = []
    bad = -1
    for k in range(1, len(layers) + 1):
        try:
            good = validate(layers[:k], input_shape)
        except ConfigError:
            bad = k - 1
            break
    if bad == -1 and good:
        # Every layer runs; the end of the network does not fit the classes. The last
        # layer is where the user has to act.
        bad = len(layers) - 1
    return ArchCheck(tuple(good), None, error, bad)


class _SetLayers(QUndoCommand):
    """Replace the whole layer list (layers are immutable, so a snapshot is cheap)."""

    def __init__(
        self,
        model: ArchitectureModel,
        before: tuple[LayerSpec, ...],
        after: tuple[LayerSpec, ...],
        text: str,
        merge_key: object | None,
    ) -> None:
        super().__init__(text)
        self._model = model
        self.before = before
        self.after = after
        self.merge_key = merge_key

    def id(self) -> int:
        return 1 if self.merge_key is not None else -1

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Typing "128" into a field is one edit, not three.
        if not isinstance(other, _SetLayers) or other.merge_key != self.merge_key:
            return False
        self.after = other.after
        return True

    def redo(self) -> None:
        self._model._apply(self.after)

    def undo(self) -> None:
        self._model._apply(self.before)


class ArchitectureModel(QAbstractTableModel):
    """The edited layer list: one row per layer with its summary columns.

    Signals: ``changed`` after every change (edits, undo, input shape), with the new
    :class:`ArchCheck` in ``check``.
    """

    changed = Signal()

    def __init__(
        self,
        layers: Sequence[LayerSpec] = (),
        input_shape: tuple[int, int, int] = (1, 28, 28),
        num_classes: int | None = 10,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.undo_stack = QUndoStack(self)
        self._layers: tuple[LayerSpec, ...] = tuple(layers)
        self._input_shape = input_shape
        self._num_classes = num_classes
        self.name = ""
        self.check = check_architecture(self._layers, input_shape, num_classes)
        self._cells: list[tuple[dict[int, object], ...]] | None = None  # see data()

    # -- reading ---------------------------------------------------------------------
    @property
    def layers(self) -> tuple[LayerSpec, ...]:
        return self._layers

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return self._input_shape

    @property
    def num_classes(self) -> int | None:
        return self._num_classes

    # -- editing (every change goes through set_layers) ------------------------------
    def set_layers(
        self, layers: Sequence[LayerSpec], text: str, merge_key: object | None = None
    ) -> None:
        after = tuple(layers)
        if after == self._layers:
            return
        self.undo_stack.push(_SetLayers(self, self._layers, after, text, merge_key))

    def insert_layer(self, row: int, layer: LayerSpec) -> None:
        row = max(0, min(row, len(self._layers)))
        new = list(self._layers)
        new.insert(row, layer)
        self.set_layers(new, f"Add {type(layer).__name__}")

    def remove_layer(self, row: int) -> None:
        if 0 <= row < len(self._layers):
            new = list(self._layers)
            removed = new.pop(row)
            self.set_layers(new, f"Remove {type(removed).__name__}")

    def move_layer(self, source: int, target: int) -> bool:
        """Move the layer at ``source`` so that it ends up at index ``target``."""
        n = len(self._layers)
        if not (0 <= source < n and 0 <= target < n) or source == target:
            return False
        new = list(self._layers)
        layer = new.pop(source)
        new.insert(target, layer)
        self.set_layers(new, f"Move {type(layer).__name__}")
        return True

    def set_field(self, row: int, name: str, value: float | int) -> None:
        layer = self._layers[row]
        if getattr(layer, name) == value:
            return
        new = list(self._layers)
        new[row] = dataclasses.replace(layer, **{name: value})
        # The undo menu reads "Undo Change Conv2d kernel size", not the field's own name.
        words = name.replace("_", " ")
        self.set_layers(new, f"Change {type(layer).__name__} {words}", merge_key=(row, name))

    def replace_all(self, layers: Sequence[LayerSpec], name: str, text: str) -> None:
        """Load a preset or a file as one undoable edit."""
        self.name = name
        self.set_layers(layers, text)

    def set_input(self, input_shape: tuple[int, int, int], num_classes: int | None) -> None:
        """The data changed: re-check the layers for the new input (not an undoable edit)."""
        if (input_shape, num_classes) == (self._input_shape, self._num_classes):
            return
        self._input_shape = input_shape
        self._num_classes = num_classes
        self._apply(self._layers)

    def _apply(self, layers: tuple[LayerSpec, ...]) -> None:
        self.beginResetModel()
        self._layers = layers
        self.check = check_architecture(layers, self._input_shape, self._num_classes)
        self._cells = None
        self.endResetModel()
        self.changed.emit()

    # -- Qt model --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._layers)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(
        self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole
    ):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return COLUMNS[section]
        return None

    def data(
        self, index: QModelIndex | QPersistentModelIndex, role: int = Qt.ItemDataRole.DisplayRole
    ):
        # The table's delegate and its resize-to-contents headers ask every cell for about
        # eight roles many times over while a window lays itself out (some 13,000 calls
        # for the default CNN's first frame): each answer is a lookup in a table built
        # once per change of the layers, not a formatting of the layer.
        if not index.isValid():
            return None
        cells = self._cells if self._cells is not None else self._build_cells()
        row, col = index.row(), index.column()
        if row >= len(cells) or col >= len(COLUMNS):
            return None
        return cells[row][col].get(role)

    def _build_cells(self) -> list[tuple[dict[int, object], ...]]:
        """Per row, per column: role -> what ``data`` returns (absent roles: None)."""
        display = int(Qt.ItemDataRole.DisplayRole)
        background = int(Qt.ItemDataRole.BackgroundRole)
        foreground = int(Qt.ItemDataRole.ForegroundRole)
        tooltip = int(Qt.ItemDataRole.ToolTipRole)
        align = int(Qt.ItemDataRole.TextAlignmentRole)
        right = int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        rows = self.check.rows
        cells: list[tuple[dict[int, object], ...]] = []
        for row, layer in enumerate(self._layers):
            summary = rows[row] if row < len(rows) else None
            bad = row == self.check.bad_index
            texts = [str(row), describe_layer(layer)]
            if summary is None:
                texts += ["—"] * 3
            else:
                texts += [
                    format_shape(summary.output_shape),
                    f"{summary.params:,}" if summary.params else "0",
                    human_count(summary.mult_adds) if summary.mult_adds else "0",
                ]
            tip = self.check.error if bad else type(layer).__doc__
            line = []
            for col, text in enumerate(texts):
                cell: dict[int, object] = {display: text, tooltip: tip}
                if bad:
                    cell[background] = _ERROR_BRUSH
                if summary is None and col >= 2:
                    cell[foreground] = _DIM_BRUSH
                if col >= 2:
                    cell[align] = right
                line.append(cell)
            cells.append(tuple(line))
        self._cells = cells
        return cells

    def flags(self, index: QModelIndex | QPersistentModelIndex) -> Qt.ItemFlag:
        if not index.isValid():
            # Drops land between rows only.
            return Qt.ItemFlag.ItemIsDropEnabled
        return (
            Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable | Qt.ItemFlag.ItemIsDragEnabled
        )

    # Drag and drop: a row dragged within the table moves the layer.
    def supportedDropActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def supportedDragActions(self) -> Qt.DropAction:
        return Qt.DropAction.MoveAction

    def mimeTypes(self) -> list[str]:
        return [_MIME]

    def mimeData(self, indexes: Sequence[QModelIndex]) -> QMimeData:
        data = QMimeData()
        rows = sorted({i.row() for i in indexes if i.isValid()})
        data.setData(_MIME, QByteArray(str(rows[0] if rows else -1).encode()))
        return data

    def canDropMimeData(self, data, action, row, column, parent) -> bool:
        return data.hasFormat(_MIME) and action == Qt.DropAction.MoveAction

    def dropMimeData(self, data, action, row, column, parent) -> bool:
        """Move the dragged layer to the drop position.

        Returns False on purpose: the move is done here, so the view must not also
        remove the "source" rows as it does after an ordinary move.
        """
        if not self.canDropMimeData(data, action, row, column, parent):
            return False
        try:
            source = int(bytes(data.data(_MIME).data()).decode())
        except ValueError:
            return False
        if row < 0:  # dropped on a row (not between rows) or past the end
            row = parent.row() if parent.isValid() else len(self._layers)
        target = row - 1 if row > source else row
        target = max(0, min(target, len(self._layers) - 1))
        self.move_layer(source, target)
        return False
