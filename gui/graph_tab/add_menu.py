"""The searchable add-node popup (Tab or right-click on the canvas): type to filter,
Up/Down to choose, Enter to add at the place it was opened, Esc to close."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject, QPoint, QPointF, Qt, Signal
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QFrame, QLineEdit, QListWidget, QListWidgetItem, QVBoxLayout, QWidget

from graph.ops import OPS
from gui.graph_tab.palette import op_title


class AddNodePopup(QFrame):
    """A small popup listing the ops; ``chosen(op, scene_pos)`` when one is picked."""

    chosen = Signal(str, QPointF)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("addNodePopup")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.search = QLineEdit()
        self.search.setPlaceholderText("Add node: type to search…")
        self.search.setClearButtonEnabled(True)
        self.list = QListWidget()
        self.list.setUniformItemSizes(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.setSpacing(4)
        layout.addWidget(self.search)
        layout.addWidget(self.list)
        for spec in OPS.values():
            item = QListWidgetItem(f"{op_title(spec)}")
            item.setData(Qt.ItemDataRole.UserRole, spec.name)
            # Search text: name, symbol and the description's first words.
            haystack = f"{spec.name} {spec.symbol} {spec.doc}".lower()
            item.setData(Qt.ItemDataRole.UserRole + 1, haystack)
            item.setToolTip(spec.tooltip())
            self.list.addItem(item)
        self.search.textChanged.connect(self._filter)
        self.search.installEventFilter(self)
        self.list.itemActivated.connect(self._pick)
        self.list.itemClicked.connect(self._pick)
        self.scene_pos = QPointF()
        self.resize(230, 300)

    def open_at(self, global_pos: QPoint, scene_pos: QPointF) -> None:
        self.scene_pos = QPointF(scene_pos)
        self.search.clear()
        self._filter("")
        self.move(self._inside_window(global_pos))
        self.show()
        self.search.setFocus()

    def _inside_window(self, pos: QPoint) -> QPoint:
        """``pos``, moved so that the whole popup stays inside the app's window."""
        parent = self.parentWidget()
        if parent is None:
            return pos
        area = parent.window().geometry()  # the window's client area, in screen pixels
        x = max(area.left(), min(pos.x(), area.right() - self.width()))
        y = max(area.top(), min(pos.y(), area.bottom() - self.height()))
        return QPoint(x, y)

    def visible_ops(self) -> list[str]:
        return [
            self.list.item(i).data(Qt.ItemDataRole.UserRole)
            for i in range(self.list.count())
            if not self.list.item(i).isHidden()
        ]

    def _filter(self, text: str) -> None:
        words = text.lower().split()
        first_visible = None
        # Exact op names first, so "exp" picks exp and not every op mentioning "exp".
        exact = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            op = item.data(Qt.ItemDataRole.UserRole)
            haystack = item.data(Qt.ItemDataRole.UserRole + 1)
            show = all(w in haystack for w in words)
            item.setHidden(not show)
            if show and first_visible is None:
                first_visible = item
            if show and words and op == text.strip().lower():
                exact = item
            if show and words and exact is None and op.startswith(words[0]):
                exact = item
        self.list.setCurrentItem(exact or first_visible)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self.search and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            key = event.key()
            if key in (Qt.Key.Key_Down, Qt.Key.Key_Up):
                self._move_current(1 if key == Qt.Key.Key_Down else -1)
                return True
            if key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                item = self.list.currentItem()
                if item is not None and not item.isHidden():
                    self._pick(item)
                return True
            if key == Qt.Key.Key_Escape:
                self.close()
                return True
        return super().eventFilter(watched, event)

    def _move_current(self, step: int) -> None:
        rows = [i for i in range(self.list.count()) if not self.list.item(i).isHidden()]
        if not rows:
            return
        current = self.list.currentRow()
        idx = rows.index(current) if current in rows else -1
        idx = max(0, min(len(rows) - 1, idx + step))
        self.list.setCurrentRow(rows[idx])

    def _pick(self, item: QListWidgetItem) -> None:
        op = item.data(Qt.ItemDataRole.UserRole)
        self.close()
        if op:
            self.chosen.emit(op, self.scene_pos)
