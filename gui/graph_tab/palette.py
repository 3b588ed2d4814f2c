"""The op palette: every op of the engine's table, grouped, draggable onto the canvas."""

from __future__ import annotations

from PySide6.QtCore import QByteArray, QMimeData, QSize, Qt, Signal
from PySide6.QtGui import QDrag, QFont
from PySide6.QtWidgets import QAbstractItemView, QTreeWidget, QTreeWidgetItem, QWidget

from graph.ops import OPS
from graph.opspec import OpSpec

#: MIME type of an op dragged from the palette (the payload is the op name).
OP_MIME = "application/x-backprop-explorer-op"

CATEGORY_TITLES = {
    "leaf": "Inputs",
    "arithmetic": "Arithmetic",
    "function": "Functions",
    "structure": "Structure",
}


def op_title(spec: OpSpec) -> str:
    """``"×  mul"``: the symbol the node shows, then the op's name (once if they agree)."""
    if spec.symbol == spec.name:
        return spec.name
    return f"{spec.symbol:<3} {spec.name}"


def op_mime(op: str) -> QMimeData:
    mime = QMimeData()
    mime.setData(OP_MIME, QByteArray(op.encode("utf-8")))
    mime.setText(op)
    return mime


class OpPalette(QTreeWidget):
    """Ops grouped by category. Drag one onto the canvas, or double-click to add it."""

    #: double-click or Enter: add this op at the canvas centre
    op_activated = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("opPalette")
        self.setHeaderHidden(True)
        self.setRootIsDecorated(False)
        self.setIndentation(8)
        self.setDragEnabled(True)
        self.setDragDropMode(QAbstractItemView.DragDropMode.DragOnly)
        self.setUniformRowHeights(True)
        self.setIconSize(QSize(0, 0))
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        bold = QFont(self.font())
        bold.setBold(True)
        groups: dict[str, QTreeWidgetItem] = {}
        for spec in OPS.values():
            group = groups.get(spec.category)
            if group is None:
                group = QTreeWidgetItem([CATEGORY_TITLES.get(spec.category, spec.category)])
                group.setFlags(Qt.ItemFlag.ItemIsEnabled)
                group.setFont(0, bold)
                self.addTopLevelItem(group)
                groups[spec.category] = group
            item = QTreeWidgetItem([op_title(spec)])
            item.setData(0, Qt.ItemDataRole.UserRole, spec.name)
            item.setToolTip(0, f"<b>{spec.name}</b><br>{spec.tooltip()}")
            item.setFont(0, mono)
            item.setFlags(
                Qt.ItemFlag.ItemIsEnabled
                | Qt.ItemFlag.ItemIsSelectable
                | Qt.ItemFlag.ItemIsDragEnabled
            )
            group.addChild(item)
        self.expandAll()
        self.itemActivated.connect(self._activated)
        self.setToolTip("Drag an op onto the canvas (or double-click it)")

    def op_item(self, op: str) -> QTreeWidgetItem | None:
        for i in range(self.topLevelItemCount()):
            group = self.topLevelItem(i)
            for j in range(group.childCount()):
                if group.child(j).data(0, Qt.ItemDataRole.UserRole) == op:
                    return group.child(j)
        return None

    def _activated(self, item: QTreeWidgetItem, _column: int) -> None:
        op = item.data(0, Qt.ItemDataRole.UserRole)
        if op:
            self.op_activated.emit(op)

    def mimeTypes(self) -> list[str]:
        return [OP_MIME]

    def mimeData(self, items: list[QTreeWidgetItem]) -> QMimeData:
        ops = [i.data(0, Qt.ItemDataRole.UserRole) for i in items]
        ops = [o for o in ops if o]
        return op_mime(ops[0] if ops else "")

    def startDrag(self, actions) -> None:
        item = self.currentItem()
        op = item.data(0, Qt.ItemDataRole.UserRole) if item is not None else None
        if not op:
            return
        drag = QDrag(self)
        drag.setMimeData(op_mime(op))
        drag.exec(Qt.DropAction.CopyAction)

    def sizeHint(self) -> QSize:
        return QSize(150, 400)
