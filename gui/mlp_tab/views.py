"""The "Two-layer net" tab's result views: first-layer weights, the validation confusion
matrix and the misclassified validation images, for the selected run."""

from __future__ import annotations

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QLabel, QVBoxLayout, QWidget

from gui.training import ConfusionMatrixView, ImageGallery, ImageGrid, confusion_matrix

MAX_GALLERY = 60


def _page(label: QLabel, body: QWidget) -> QWidget:
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(label)
    layout.addWidget(body, 1)
    return page


class MlpViews(QWidget):
    """Holds the pages (``weights_page``, ``confusion_view``, ``gallery_page``) that the
    tab adds to its views; ``show(record)`` fills them from a run's ``RunRecord``.
    ``gallery_wanted`` asks the tab to bring the gallery page forward (a cell click)."""

    gallery_wanted = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.weights_view = ImageGrid()
        self.weights_view.empty_text = "Train a model to see its first-layer weights."
        self.weights_label = QLabel(
            "Each tile is one hidden unit's incoming weights shown as an image (the "
            "classic CS231n picture): templates the network matches against its input."
        )
        self.weights_label.setWordWrap(True)
        self.weights_page = _page(self.weights_label, self.weights_view)
        self.confusion_view = ConfusionMatrixView()
        self.gallery = ImageGallery(thumb=48)
        self.gallery_label = QLabel("Misclassified validation images: true and predicted labels.")
        self.gallery_label.setWordWrap(True)
        self.gallery_page = _page(self.gallery_label, self.gallery)
        self._record = None
        self.confusion_view.cell_clicked.connect(self._filter_gallery)

    def show(self, record) -> None:
        self._record = record
        self.show_weights(record)
        self.show_analysis(record)

    def show_snapshot(self, record, snapshot):
        """Show the weights of the model at ``snapshot`` (a ``nets.training.Snapshot``
        of ``record``'s run) with no analysis yet; return that model, its preprocessing
        and the record as shown, for the tab to analyse."""
        from dataclasses import replace

        from gui.mlp_tab.analysis import first_layer_images, first_weights
        from nets.mlp.fork import model_from_snapshot, preprocessor_from_snapshot

        model = model_from_snapshot(snapshot)
        images = first_layer_images(first_weights(model), record.image_shape, snapshot.epoch)
        at = replace(record, weights=images, analysis=None)
        self.show(at)
        if not snapshot.end_of_epoch:  # the label counts epochs; this one is between two
            where = f"at step {snapshot.step:,}, in epoch {snapshot.epoch}"
            text = self.weights_label.text()
            self.weights_label.setText(text.replace(f"after epoch {snapshot.epoch}", where))
        return model, preprocessor_from_snapshot(snapshot) or record.preprocessor, at

    def show_weights(self, record) -> None:
        snap = record.weights if record is not None else None
        if snap is None:
            self.weights_view.clear()
            return
        labels = [f"hidden unit {i}" for i in range(len(snap.images))]
        self.weights_view.set_images(snap.images, labels)
        shown = (
            f"the first {len(snap.images)} of {snap.total}"
            if snap.total > len(snap.images)
            else f"all {snap.total}"
        )
        when = (
            "initial weights"
            if snap.epoch == 0
            else ("after training" if snap.epoch < 0 else f"after epoch {snap.epoch}")
        )
        self.weights_label.setText(
            f"First-layer weights ({when}): {shown} hidden units, each shown as an image "
            "(the classic CS231n picture)."
        )

    def show_analysis(self, record, cell: tuple[int, int] | None = None) -> None:
        analysis = record.analysis if record is not None else None
        if analysis is None:
            self.confusion_view.clear()
            self.gallery.clear()
            self.gallery_label.setText("Misclassified validation images appear after training.")
            return
        k = len(record.class_names) or int(
            max(analysis.y_true.max(initial=0), analysis.y_pred.max(initial=0)) + 1
        )
        self.confusion_view.set_matrix(
            confusion_matrix(analysis.y_true, analysis.y_pred, k), list(record.class_names)
        )
        self._fill_gallery(record, cell)

    def _fill_gallery(self, record, cell: tuple[int, int] | None) -> None:
        import numpy as np

        analysis = record.analysis
        if analysis is None or analysis.mistake_images is None:
            self.gallery.clear()
            return
        names = record.class_names
        idx = analysis.mistake_idx
        true = analysis.y_true[idx]
        pred = analysis.y_pred[idx]
        keep = np.arange(len(idx))
        if cell is not None:
            keep = np.flatnonzero((true == cell[0]) & (pred == cell[1]))
        keep = keep[:MAX_GALLERY]

        def name(i: int) -> str:
            return names[i] if i < len(names) else str(i)

        captions = [f"{name(true[i])}\n→ {name(pred[i])}" for i in keep]
        tips = [
            f"validation image {idx[i]}: true {name(true[i])}, predicted {name(pred[i])}"
            for i in keep
        ]
        self.gallery.set_images(analysis.mistake_images[keep], captions, tips, normalize="none")
        wrong = int(np.sum(analysis.y_true != analysis.y_pred))
        total = len(analysis.y_true)
        where = ""
        if cell is not None:
            where = f" (true {name(cell[0])}, predicted {name(cell[1])}; click another cell)"
        self.gallery_label.setText(
            f"{wrong:,} of {total:,} validation images misclassified; showing {len(keep)}"
            f"{where}. Top: true label, bottom: prediction."
        )

    def _filter_gallery(self, true_class: int, predicted: int) -> None:
        record = self._record
        if record is None or record.analysis is None:
            return
        cell = None if true_class == predicted else (true_class, predicted)
        self._fill_gallery(record, cell)
        self.gallery_wanted.emit()
