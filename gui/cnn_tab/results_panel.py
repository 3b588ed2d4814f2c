"""After training: the test-set result, its confusion matrix, and a grid of sample
predictions with the wrong ones marked."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QBrush, QColor
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.training.confusion import ConfusionMatrixView
from gui.training.images import ImageGallery

if TYPE_CHECKING:
    import numpy as np

_WRONG_BACKGROUND = QBrush(QColor("#ffd6d6"))
_WRONG_TEXT = QBrush(QColor("#a00000"))


class ResultsPanel(QWidget):
    """``show_result(result, X_test, class_names)`` or ``clear(message)``."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.summary = QLabel()
        self.summary.setObjectName("cnnTestSummary")
        self.summary.setWordWrap(True)
        layout.addWidget(self.summary)
        self.tabs = QTabWidget()
        self.tabs.setDocumentMode(True)
        self.confusion = ConfusionMatrixView()
        self.confusion.title = "Test-set confusion matrix"
        self.confusion.empty_text = "Test a trained model to see its confusion matrix."
        self.gallery = ImageGallery(thumb=48)
        self.gallery.setToolTip("Sample test predictions; wrong ones are red and marked ✗")
        self.tabs.addTab(self.confusion, "Confusion matrix")
        self.tabs.addTab(self.gallery, "Sample predictions")
        layout.addWidget(self.tabs, 1)
        self.confusion.cell_clicked.connect(self._on_cell)
        self._result = None
        self._X_test: np.ndarray | None = None
        self._names: tuple[str, ...] = ()
        self.clear()

    def clear(self, message: str = "") -> None:
        self._result = None
        self._X_test = None
        self.summary.setText(
            message
            or "Not tested yet. The test set is for the very end: test once, "
            "after choosing the model with the validation accuracy."
        )
        self.confusion.clear()
        self.gallery.clear()

    def show_result(self, result, X_test: np.ndarray | None, class_names: tuple[str, ...]) -> None:
        """Show a ``jobs.TestResult`` (``X_test``: uint8 (N, H, W, C) for the grid, or None
        when the images are not at hand, e.g. after loading a checkpoint)."""
        import numpy as np

        self._result = result
        self._X_test = X_test
        self._names = tuple(class_names)
        record = result.trained.test_record
        times = f" (test run {record.count} times)" if record.count > 1 else ""
        wrong = int(np.count_nonzero(result.labels != result.predictions))
        self.summary.setText(
            f"<b>Test accuracy {100 * result.accuracy:.2f}%</b> on {result.n:,} images; "
            f"{wrong:,} wrong{times}."
        )
        self.confusion.set_matrix(result.confusion, list(class_names))
        self._fill_gallery(result.gallery_index)

    def _fill_gallery(self, index: np.ndarray, title: str = "") -> None:
        result = self._result
        self.gallery.clear()
        if result is None or self._X_test is None or len(index) == 0:
            return
        names = self._names

        def name(k: int) -> str:
            return names[k] if 0 <= k < len(names) else str(k)

        captions, tips = [], []
        wrong_flags = []
        for i in index:
            t, p = int(result.labels[i]), int(result.predictions[i])
            ok = t == p
            wrong_flags.append(not ok)
            captions.append(name(p) if ok else f"✗ {name(p)}")
            tips.append(
                f"test image {int(i)}: predicted {name(p)}, true {name(t)}"
                + ("" if ok else " (wrong)")
            )
        self.gallery.set_images(self._X_test[index], captions, tips)
        for row, wrong in enumerate(wrong_flags):
            if wrong:
                item = self.gallery.item(row)
                item.setBackground(_WRONG_BACKGROUND)
                item.setForeground(_WRONG_TEXT)

    def _on_cell(self, true_index: int, predicted_index: int) -> None:
        """Show test images of one confusion-matrix cell in the grid."""
        import numpy as np

        result = self._result
        if result is None:
            return
        match = np.flatnonzero(
            (result.labels == true_index) & (result.predictions == predicted_index)
        )[:48]
        self._fill_gallery(match)
        self.tabs.setCurrentWidget(self.gallery)

    def wrong_marked(self) -> int:
        """How many thumbnails are marked wrong (for tests)."""
        return sum(
            1 for i in range(self.gallery.count()) if self.gallery.item(i).text().startswith("✗")
        )
