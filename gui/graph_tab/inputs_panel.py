"""Side panel: a table of every input and constant with its value and gradient.

Edits made in the table go through the editor (undoable); the table follows the graph
through the bridge like every other view.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.scene import GraphScene

COL_NAME, COL_KIND, COL_VALUE, COL_GRAD = range(4)
_ID = Qt.ItemDataRole.UserRole


class InputsPanel(QWidget):
    def __init__(
        self,
        bridge: GraphBridge,
        editor: GraphEditor,
        scene: GraphScene,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.bridge = bridge
        self.graph = bridge.graph
        self.editor = editor
        self.scene = scene
        self.table = QTableWidget(0, 4)
        self.table.setObjectName("inputsTable")
        self.table.setHorizontalHeaderLabels(["Name", "Kind", "Value", "dL/dx"])
        self.table.verticalHeader().setVisible(False)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
            | QAbstractItemView.EditTrigger.AnyKeyPressed
        )
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(COL_NAME, QHeaderView.ResizeMode.Stretch)
        # Not ResizeToContents: that re-measures every row on each cell change, which
        # made a table of a few hundred inputs take a second to fill.
        for col in (COL_KIND, COL_VALUE, COL_GRAD):
            header.setSectionResizeMode(col, QHeaderView.ResizeMode.Interactive)
        self.table.horizontalHeaderItem(COL_GRAD).setToolTip(
            "The gradient of the output with respect to this input (after the backward pass)"
        )
        hint = QLabel("Double-click a name or value to edit it. Every edit can be undone.")
        hint.setWordWrap(True)
        hint.setStyleSheet("color: #6b7078;")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.table)
        layout.addWidget(hint)

        self.digits = theme.DEFAULT_DIGITS
        self._filling = False
        self._pending = False
        self._longest: dict[int, int] = {}
        self.table.itemChanged.connect(self._item_changed)
        self.table.itemSelectionChanged.connect(self._select_in_scene)
        for signal in (
            bridge.node_added,
            bridge.node_removed,
            bridge.node_changed,
            bridge.graph_cleared,
            bridge.evaluation_changed,
            bridge.output_changed,
        ):
            signal.connect(self._schedule)
        self.refresh()

    def _schedule(self, *_args) -> None:
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.refresh)

    def set_digits(self, digits: int) -> None:
        """Significant digits of the gradients shown (View > Precision)."""
        self.digits = digits
        self.refresh()

    def rows(self) -> list[tuple[str, str, str, str]]:
        """(name, kind, value text, gradient text) per row, for tests and exports."""
        out = []
        for r in range(self.table.rowCount()):
            out.append(tuple(self.table.item(r, c).text() for c in range(4)))
        return out

    def row_of(self, node_id: str) -> int:
        for r in range(self.table.rowCount()):
            if self.table.item(r, COL_NAME).data(_ID) == node_id:
                return r
        return -1

    def refresh(self) -> None:
        self._pending = False
        graph = self.graph
        ev = graph.evaluation
        leaves = [n for n in graph.nodes() if n.op == "input"]
        leaves += [n for n in graph.nodes() if n.op == "const"]
        out = graph.node(graph.output_id).name if graph.output_id in graph else "L"
        header = self.table.horizontalHeaderItem(COL_GRAD)
        if header.text() != f"d{out}/dx":
            header.setText(f"d{out}/dx")
            header.setToolTip(
                f"The gradient of the output {out} with respect to this input "
                "(after the backward pass)"
            )
        self._filling = True
        texts: list[tuple[str, str, str, str]] = []
        try:
            self.table.setRowCount(len(leaves))
            for r, node in enumerate(leaves):
                hidden = node.id in self.scene.hidden_grads
                grad = "?" if hidden else theme.fmt(ev.grads.get(node.id), self.digits)
                cells = (node.name, node.op, theme.fmt_full(node.leaf_value), grad)
                texts.append(cells)
                for c, text in enumerate(cells):
                    item = self.table.item(r, c)
                    if item is None:
                        item = QTableWidgetItem()
                        flags = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
                        if c in (COL_NAME, COL_VALUE):
                            flags |= Qt.ItemFlag.ItemIsEditable
                        item.setFlags(flags)
                        if c == COL_VALUE:
                            item.setForeground(theme.FORWARD)
                        elif c == COL_KIND:
                            item.setForeground(theme.MUTED)
                        self.table.setItem(r, c, item)
                    if item.text() != text:
                        item.setText(text)
                    if item.data(_ID) != node.id:
                        item.setData(_ID, node.id)
                    if c == COL_GRAD:
                        colour = theme.STALE if ev.stale else theme.BACKWARD
                        if item.foreground().color() != colour:
                            item.setForeground(colour)
            # Re-measure a column only when it gets a longer text than before.
            longest = {c: max((len(row[c]) for row in texts), default=0) for c in range(4)}
            for col in (COL_KIND, COL_VALUE, COL_GRAD):
                if longest[col] != self._longest.get(col):
                    self._longest[col] = longest[col]
                    self.table.resizeColumnToContents(col)
        finally:
            self._filling = False

    def _item_changed(self, item: QTableWidgetItem) -> None:
        if self._filling:
            return
        node_id = item.data(_ID)
        if node_id not in self.graph:
            return
        node = self.graph.node(node_id)
        reason: str | None = None
        if item.column() == COL_NAME:
            new = item.text().strip()
            if new != node.name:
                reason = self.editor.rename(node_id, new)
        elif item.column() == COL_VALUE:
            try:
                value = theme.parse_number(item.text())
            except ValueError as exc:
                reason = str(exc)
                self.editor.refused.emit(f"{node.name}: {reason}")
            else:
                if value != node.leaf_value:
                    reason = self.editor.set_value(node_id, value)
        if reason is not None:
            self.refresh()  # put back what the graph holds

    def _select_in_scene(self) -> None:
        if self._filling:
            return
        ids = {self.table.item(i.row(), COL_NAME).data(_ID) for i in self.table.selectedIndexes()}
        for node_id, item in self.scene.nodes.items():
            item.setSelected(node_id in ids)
