"""Message boxes used across the app. Non-blocking where they only inform, so that the
event loop (and a running training) goes on; tests patch ``ask`` for questions."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox, QWidget

# Boxes without a parent are owned by Python: keep them alive until they close.
_open_boxes: set[QMessageBox] = set()
#: every error shown this session, "title: message" (read by the real-window tests' hook)
shown_errors: list[str] = []


def show_error(parent: QWidget | None, title: str, message: str, detail: str = "") -> QMessageBox:
    """Show a one-line ``message`` with an optional expandable ``detail`` pane.

    The box is window-modal but does not block the caller; it deletes itself when closed.
    """
    shown_errors.append(f"{title}: {message}")
    del shown_errors[:-50]
    box = QMessageBox(parent)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle(title)
    box.setText(message)
    if detail:
        box.setDetailedText(detail)
    box.setStandardButtons(QMessageBox.StandardButton.Ok)
    box.setObjectName("errorDialog")
    if parent is None:
        _open_boxes.add(box)
        box.finished.connect(lambda _result: _open_boxes.discard(box))
    box.open()
    return box


def ask(
    parent: QWidget | None,
    title: str,
    text: str,
    buttons: QMessageBox.StandardButton = (
        QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No
    ),
    default: QMessageBox.StandardButton = QMessageBox.StandardButton.No,
) -> QMessageBox.StandardButton:
    """Ask a question and wait for the answer (a nested event loop keeps the GUI alive)."""
    return QMessageBox.question(parent, title, text, buttons, default)
