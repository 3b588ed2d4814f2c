"""A one-line editor floated over the canvas for double-click edits (name, value)."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QEvent, QObject, QRect, Qt
from PySide6.QtGui import QKeyEvent
from PySide6.QtWidgets import QLineEdit, QWidget

#: commit(text) -> None when accepted, else a reason (the editor stays open to fix it)
Commit = Callable[[str], str | None]


class InlineEditor(QLineEdit):
    """Enter commits, Esc cancels, clicking elsewhere commits."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("inlineEditor")
        self.hide()
        self._commit: Commit | None = None
        self._busy = False
        self.installEventFilter(self)
        self.setStyleSheet(
            "QLineEdit#inlineEditor { border: 2px solid #4c8bf5; border-radius: 4px;"
            " padding: 1px 4px; background: white; }"
        )

    @property
    def active(self) -> bool:
        return self.isVisible() and self._commit is not None

    def edit(self, rect: QRect, text: str, commit: Commit, tooltip: str = "") -> None:
        self._commit = commit
        self.setGeometry(rect)
        self.setText(text)
        self.setToolTip(tooltip)
        self.selectAll()
        self.show()
        self.raise_()
        self.setFocus(Qt.FocusReason.OtherFocusReason)

    def accept_edit(self) -> str | None:
        """Commit the text; None when accepted (the editor closes), else the reason."""
        if self._commit is None or self._busy:
            return None
        self._busy = True
        try:
            reason = self._commit(self.text())
        finally:
            self._busy = False
        if reason is None:
            self._close()
        else:
            self.setFocus(Qt.FocusReason.OtherFocusReason)
            self.selectAll()
        return reason

    def cancel(self) -> None:
        self._close()

    def _close(self) -> None:
        self._commit = None
        self.hide()
        parent = self.parentWidget()
        if parent is not None:
            parent.setFocus(Qt.FocusReason.OtherFocusReason)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self and event.type() == QEvent.Type.KeyPress:
            assert isinstance(event, QKeyEvent)
            if event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter):
                self.accept_edit()
                return True
            if event.key() == Qt.Key.Key_Escape:
                self.cancel()
                return True
        if watched is self and event.type() == QEvent.Type.FocusOut and self._commit is not None:
            # Clicking elsewhere keeps a valid edit and drops an invalid one.
            if self.accept_edit() is not None:
                self.cancel()
        return super().eventFilter(watched, event)
