"""The "Implementation: built in | my files..." picker: which TwoLayerNet a run trains.

With "my files..." the run trains the user's own ``TwoLayerNet`` (their
``two_layer_net.py`` with their ``layers.py``, and their ``training_step`` when their
``train.py`` is there) through ``nets.homework.training.train_own``; nothing of theirs
runs until Start is pressed.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QVBoxLayout,
    QWidget,
)

from gui import file_dialogs
from nets.errors import NetsError
from nets.homework.layout import HomeworkFiles, find_homework

BUILT_IN, MY_FILES = "built in", "my files..."
#: The file-dialog kind whose remembered folder the "my files..." dialog opens in.
_DIALOG_KIND = "homework_train"


class ImplementationPicker(QWidget):
    """A combo box and a line saying which files a run would train."""

    changed = Signal()

    def __init__(self, settings=None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("implementationPicker")
        self._settings = settings
        self._homework: HomeworkFiles | None = None
        self.combo = QComboBox()
        self.combo.setObjectName("implementationCombo")
        self.combo.addItems([BUILT_IN, MY_FILES])
        self.combo.setToolTip(
            "Train the app's own TwoLayerNet, or yours: your two_layer_net.py with your "
            "layers.py (and your training_step from train.py), run in a separate process"
        )
        self.combo.activated.connect(self._on_activated)
        self.label = QLabel("the app's TwoLayerNet")
        self.label.setObjectName("implementationLabel")
        self.label.setWordWrap(True)
        row = QHBoxLayout()
        row.addWidget(QLabel("Implementation:"))
        row.addWidget(self.combo, 1)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addLayout(row)
        layout.addWidget(self.label)

    def homework(self) -> HomeworkFiles | None:
        """The user's files to train, or None for the built-in implementation."""
        return self._homework

    def _on_activated(self, index: int) -> None:
        if self.combo.itemText(index) == BUILT_IN:
            self.use_built_in()
            return
        start = (
            file_dialogs.start_folder(self._settings, _DIALOG_KIND)
            if self._settings is not None
            else file_dialogs.documents_folder()
        )
        folder = QFileDialog.getExistingDirectory(self, "Your homework folder", str(start))
        if not folder or not self.use_folder(Path(folder)):
            self.combo.setCurrentText(BUILT_IN if self._homework is None else MY_FILES)

    def use_built_in(self) -> None:
        self._homework = None
        self.combo.setCurrentText(BUILT_IN)
        self.label.setText("the app's TwoLayerNet")
        self.changed.emit()

    def use_folder(self, folder: Path) -> bool:
        """Train the files in ``folder``; False (and a message) if it has no
        two_layer_net.py."""
        try:
            homework = find_homework([folder])
        except NetsError as exc:
            self.label.setText(str(exc))
            return False
        if "two_layer_net.py" not in homework.files:
            self.label.setText(f"{folder}: no two_layer_net.py here, so nothing to train")
            return False
        self._homework = homework
        if self._settings is not None:
            file_dialogs.remember(self._settings, _DIALOG_KIND, folder)
        used = [n for n in ("two_layer_net.py", "layers.py", "train.py") if n in homework.files]
        step = "" if "train.py" in homework.files else "; the app's training_step"
        self.label.setText(f"yours: {', '.join(used)} in {folder}{step}")
        self.label.setToolTip("\n".join(str(p) for p in homework.files.values()))
        self.combo.setCurrentText(MY_FILES)
        self.changed.emit()
        return True
