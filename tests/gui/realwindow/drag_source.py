"""A second, tiny X client for the drag-and-drop test: a small window that starts a real
X drag of one file (``text/uri-list``) when the mouse is pressed and moved on it.

Run as ``python drag_source.py FILE X Y``; it prints ``ready`` once its window is shown
and ``dropped <action>`` when the drag ends.
"""

from __future__ import annotations

import sys

from PySide6.QtCore import QMimeData, QPoint, Qt, QTimer, QUrl
from PySide6.QtGui import QDrag, QMouseEvent
from PySide6.QtWidgets import QApplication, QLabel


class DragSource(QLabel):
    def __init__(self, path: str) -> None:
        super().__init__(f"drag me\n{path.rsplit('/', 1)[-1]}")
        self.setObjectName("dragSource")
        self.path = path
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setStyleSheet("background: #fde3e0; border: 2px solid #d93025;")
        self._press: QPoint | None = None

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._press = event.position().toPoint()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._press is None:
            return
        if (event.position().toPoint() - self._press).manhattanLength() < 6:
            return
        self._press = None
        mime = QMimeData()
        mime.setUrls([QUrl.fromLocalFile(self.path)])
        drag = QDrag(self)
        drag.setMimeData(mime)
        action = drag.exec(Qt.DropAction.CopyAction)
        print(f"dropped {action.name}", flush=True)


def main() -> int:
    path, x, y = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    app = QApplication([sys.argv[0]])
    source = DragSource(path)
    source.setWindowFlag(Qt.WindowType.WindowStaysOnTopHint)
    source.resize(160, 90)
    source.move(x, y)
    source.show()
    QTimer.singleShot(200, lambda: print("ready", flush=True))
    return app.exec()


if __name__ == "__main__":
    sys.exit(main())
