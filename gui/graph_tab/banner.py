"""A slim bar over the canvas offering to restore the graph of a session that crashed."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFrame, QHBoxLayout, QLabel, QPushButton, QWidget


class RestoreBanner(QFrame):
    restore_clicked = Signal()
    discard_clicked = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("restoreBanner")
        self.setStyleSheet(
            "QFrame#restoreBanner { background: #fef7e0; border: 1px solid #f9ab00;"
            " border-radius: 4px; }"
        )
        self.label = QLabel()
        self.label.setWordWrap(True)
        self.restore_button = QPushButton("Restore")
        self.restore_button.setObjectName("restoreButton")
        self.discard_button = QPushButton("Discard")
        self.discard_button.setObjectName("discardButton")
        self.restore_button.clicked.connect(self.restore_clicked)
        self.discard_button.clicked.connect(self.discard_clicked)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(8, 4, 8, 4)
        layout.addWidget(self.label, 1)
        layout.addWidget(self.restore_button)
        layout.addWidget(self.discard_button)
        self.hide()

    def offer(self, text: str) -> None:
        self.label.setText(text)
        self.show()
