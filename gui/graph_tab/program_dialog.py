"""File > New from Python program...: paste a short program (micrograd style works),
build its graph. Parser errors are shown at their line and column and the current
graph stays as it is until a program builds."""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QColor, QFont, QTextCursor, QTextFormat
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QTextEdit,
    QVBoxLayout,
    QWidget,
)

from graph.errors import ProgramError
from graph.model import Graph
from graph.program import from_program
from gui.graph_tab.editor import relayout

EXAMPLES = {
    "micrograd README": (
        "from micrograd.engine import Value\n\n"
        "a = Value(-4.0)\n"
        "b = Value(2.0)\n"
        "c = a + b\n"
        "d = a * b + b**3\n"
        "c += c + 1\n"
        "c += 1 + c + (-a)\n"
        "d += d * 2 + (b + a).relu()\n"
        "d += 3 * d + (b - a).relu()\n"
        "e = c - d\n"
        "f = e**2\n"
        "g = f / 2.0\n"
        "g += 10.0 / f\n"
        "g.backward()\n"
    ),
    "a neuron": (
        "x1 = 2.0\nx2 = 0.0\nw1 = -3.0\nw2 = 1.0\nb = 6.8813735870195432\n"
        "n = x1*w1 + x2*w2 + b\n"
        "o = n.tanh()\n"
    ),
    "softmax cross-entropy (f3)": (
        "s1 = 1.0\ns2 = 2.0\ne1 = exp(s1)\ne2 = exp(s2)\nd = e1 + e2\np1 = e1 / d\nL = -log(p1)\n"
    ),
}


class ProgramDialog(QDialog):
    """Emits ``built(graph, source)`` when the program turns into a graph."""

    built = Signal(object, str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("programDialog")
        self.setWindowTitle("New graph from a Python program")
        self.resize(620, 520)
        intro = QLabel(
            "Write or paste a short program: assignments with + - * / **, numbers, and "
            "exp, log, sqrt, abs, tanh, sigmoid, relu, max, min (also as methods, "
            "micrograd style). The last variable assigned (or the one you call "
            ".backward() on) is the output. Nothing is run: the program is only read."
        )
        intro.setWordWrap(True)
        self.examples = QComboBox()
        self.examples.addItem("Insert an example…")
        self.examples.addItems(list(EXAMPLES))
        self.examples.activated.connect(self._insert_example)
        self.editor = QPlainTextEdit()
        self.editor.setObjectName("programSource")
        mono = QFont("DejaVu Sans Mono")
        mono.setStyleHint(QFont.StyleHint.Monospace)
        mono.setPointSizeF(10)
        self.editor.setFont(mono)
        self.editor.setPlaceholderText("a = Value(2.0)\nb = Value(-3.0)\nc = a * b\nL = c.tanh()")
        self.editor.textChanged.connect(self._clear_error)
        self.error = QLabel()
        self.error.setObjectName("programError")
        self.error.setWordWrap(True)
        self.error.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.error.setStyleSheet("color: #d93025; font-weight: bold;")
        self.error.hide()
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.button(QDialogButtonBox.StandardButton.Ok).setText("Build graph")
        self.buttons.accepted.connect(self.build)
        self.buttons.rejected.connect(self.reject)
        top = QHBoxLayout()
        top.addWidget(intro, 1)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(self.examples)
        layout.addWidget(self.editor, 1)
        layout.addWidget(self.error)
        layout.addWidget(self.buttons)
        self.last_error: ProgramError | None = None

    def set_source(self, text: str) -> None:
        self.editor.setPlainText(text)

    def build(self) -> Graph | None:
        """Build the graph; on a ProgramError show it at its place and keep the dialog."""
        source = self.editor.toPlainText()
        try:
            graph = from_program(source)
        except ProgramError as exc:
            self.show_error(exc)
            return None
        relayout(graph)
        self.last_error = None
        self.built.emit(graph, source)
        self.accept()
        return graph

    def show_error(self, exc: ProgramError) -> None:
        self.last_error = exc
        self.error.setText(str(exc))
        self.error.show()
        if exc.line is None:
            return
        doc = self.editor.document()
        block = doc.findBlockByNumber(max(0, exc.line - 1))
        if not block.isValid():
            return
        cursor = QTextCursor(block)
        col = max(0, min((exc.col or 1) - 1, block.length() - 1))
        cursor.setPosition(block.position() + col)
        self.editor.blockSignals(True)
        self.editor.setTextCursor(cursor)
        self.editor.blockSignals(False)
        line = QTextEdit.ExtraSelection()
        line.format.setBackground(QColor("#fce8e6"))
        line.format.setProperty(QTextFormat.Property.FullWidthSelection, True)
        line.cursor = QTextCursor(block)
        spot = QTextEdit.ExtraSelection()
        spot.format.setBackground(QColor("#f28b82"))
        spot.cursor = QTextCursor(cursor)
        spot.cursor.movePosition(
            QTextCursor.MoveOperation.NextCharacter, QTextCursor.MoveMode.KeepAnchor
        )
        self.editor.setExtraSelections([line, spot])
        self.editor.setFocus()

    def _clear_error(self) -> None:
        if self.error.isVisible():
            self.error.hide()
            self.editor.setExtraSelections([])

    def _insert_example(self, index: int) -> None:
        if index <= 0:
            return
        name = self.examples.itemText(index)
        self.editor.setPlainText(EXAMPLES[name])
        self.examples.setCurrentIndex(0)
