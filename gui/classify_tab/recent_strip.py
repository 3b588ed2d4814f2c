"""A strip of the recently viewed images; a click opens one again.

Paths are remembered in the app's settings. Thumbnails are decoded by a worker (the
tab's), never in the GUI thread; until then an item shows its file name only.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtGui import QIcon, QPixmap
from PySide6.QtWidgets import QListView, QListWidget, QListWidgetItem, QWidget

MAX_RECENT = 16
ICON = 48


class RecentStrip(QListWidget):
    """Horizontal thumbnails of recent images. ``path_clicked(Path)`` on a click."""

    path_clicked = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("recentStrip")
        self.setViewMode(QListView.ViewMode.IconMode)
        self.setFlow(QListView.Flow.LeftToRight)
        self.setWrapping(False)
        self.setMovement(QListView.Movement.Static)
        self.setIconSize(QSize(ICON, ICON))
        self.setGridSize(QSize(ICON + 18, ICON + 8))
        self.setUniformItemSizes(True)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFixedHeight(ICON + 18)
        self.setToolTip("Recent images: click one to classify it again")
        self.itemClicked.connect(self._on_clicked)
        self.itemActivated.connect(self._on_clicked)

    def paths(self) -> list[Path]:
        return [Path(self.item(i).data(Qt.ItemDataRole.UserRole)) for i in range(self.count())]

    def set_paths(self, paths: list[Path]) -> None:
        self.clear()
        for path in paths[:MAX_RECENT]:
            self.addItem(self._make_item(path))

    def push(self, path: Path) -> bool:
        """Put ``path`` first (moving it if present); True if it is new to the strip."""
        key = str(path)
        for i in range(self.count()):
            if self.item(i).data(Qt.ItemDataRole.UserRole) == key:
                item = self.takeItem(i)
                self.insertItem(0, item)
                return False
        self.insertItem(0, self._make_item(path))
        while self.count() > MAX_RECENT:
            self.takeItem(self.count() - 1)
        return True

    def set_thumbnail(self, path: Path, pixmap: QPixmap) -> None:
        key = str(path)
        for i in range(self.count()):
            item = self.item(i)
            if item.data(Qt.ItemDataRole.UserRole) == key:
                item.setIcon(QIcon(pixmap))
                item.setText("")

    def missing_thumbnails(self) -> list[Path]:
        return [
            Path(self.item(i).data(Qt.ItemDataRole.UserRole))
            for i in range(self.count())
            if self.item(i).icon().isNull()
        ]

    @staticmethod
    def _make_item(path: Path) -> QListWidgetItem:
        item = QListWidgetItem(path.name[:10])
        item.setData(Qt.ItemDataRole.UserRole, str(path))
        item.setToolTip(str(path))
        item.setSizeHint(QSize(ICON + 14, ICON + 4))
        return item

    def _on_clicked(self, item: QListWidgetItem) -> None:
        self.path_clicked.emit(Path(item.data(Qt.ItemDataRole.UserRole)))
