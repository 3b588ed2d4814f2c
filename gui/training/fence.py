"""A container that keeps a busy widget's re-layouts to itself.

Every new text of a ``QLabel`` (the ETA, the status line: several a second while a run
trains) calls ``updateGeometry()``, and Qt passes that up from layout to layout to the
window, whatever the new size. Each ``QTabWidget`` on the way (the window's tabs, a
training tab's pages) answers the layout request by repainting itself whole, so two
plots and every form field were repainted several times a second for a label's sake
(about twice the GUI thread's CPU time per run of the old tabs: issue 12's benchmark
comparison).

``LayoutFence`` holds one widget without a layout of its own, so the child's requests
stop here: the child is re-laid out inside the fence, and the fence asks its own parent
for a new layout only when what that parent uses changed (the minimum size, or the
height wanted at the current width: a status line that needs another line of text).
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QSize
from PySide6.QtWidgets import QWidget


class LayoutFence(QWidget):
    """``LayoutFence(child)``: lays out ``child`` over its whole area, with ``child``'s
    size policy and hints, passing its geometry changes up only when they matter."""

    def __init__(self, child: QWidget, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.child = child
        child.setParent(self)
        self.setSizePolicy(child.sizePolicy())
        self._widest = 0
        self._narrowest = 0
        self._shown_key = self._key()

    def _key(self) -> tuple[int, int, int]:
        minimum = self.minimumSizeHint()
        return (minimum.width(), minimum.height(), self._height_for(self.width()))

    def _height_for(self, width: int) -> int:
        if self.child.hasHeightForWidth():
            return self.child.heightForWidth(width)
        return self.child.sizeHint().height()

    # -- what the parent's layout asks -----------------------------------------------
    def sizeHint(self) -> QSize:
        # The width only grows, so that an ETA a few pixels narrower than the last one
        # does not ask for a new layout.
        hint = self.child.sizeHint()
        self._widest = max(self._widest, hint.width())
        height = self._height_for(self.width()) if self.width() else hint.height()
        return QSize(self._widest, height)

    def minimumSizeHint(self) -> QSize:
        # Grows only too: a wrapped status line's minimum is its longest word's width.
        minimum = self.child.minimumSizeHint()
        self._narrowest = max(self._narrowest, minimum.width())
        return QSize(self._narrowest, minimum.height())

    def hasHeightForWidth(self) -> bool:
        return self.child.hasHeightForWidth()

    def heightForWidth(self, width: int) -> int:
        return self._height_for(width)

    # -- Qt events -------------------------------------------------------------------
    def event(self, event: QEvent) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            # The child's hints changed: lay it out here; the parent only if it must.
            self.child.setGeometry(self.rect())
            key = self._key()
            if key != self._shown_key:
                self._shown_key = key
                self.updateGeometry()
            return True
        return super().event(event)

    def resizeEvent(self, event) -> None:
        self.child.setGeometry(self.rect())
        self._shown_key = self._key()
        super().resizeEvent(event)
