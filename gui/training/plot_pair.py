"""Both live plots side by side, and their export.

``TrainingPlots(model)`` holds a ``LossPlot`` and an ``AccuracyPlot`` (``gui.training.plots``)
in a splitter; ``export(path)`` writes just the two plot areas as PNG, SVG or PDF, drawn
the way they look on screen at any device pixel ratio.
"""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from gui.training.plots import AccuracyPlot, LossPlot
from gui.training.runs import RunsModel


class TrainingPlots(QWidget):
    """The loss plot and the accuracy plot side by side (a splitter), sharing one
    ``RunsModel``; ``export(path)`` saves both as one PNG, SVG or PDF."""

    def __init__(
        self,
        model: RunsModel,
        parent: QWidget | None = None,
        *,
        interval_ms: int = 100,
        orientation: Qt.Orientation = Qt.Orientation.Horizontal,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self.loss = LossPlot(model, interval_ms=interval_ms)
        self.accuracy = AccuracyPlot(model, interval_ms=interval_ms)
        self.splitter = QSplitter(orientation)
        self.splitter.addWidget(self.loss)
        self.splitter.addWidget(self.accuracy)
        self.splitter.setChildrenCollapsible(False)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

    def refresh(self) -> None:
        self.loss.refresh()
        self.accuracy.refresh()

    def export(self, path):
        """Save both plots (without the option rows) as PNG, SVG or PDF, atomically."""
        from gui.training.export import export_widget

        self.refresh()
        return export_widget(_PlotsOnly(self), path)


class _PlotsOnly:
    """Adapts ``TrainingPlots`` for ``export_widget``: renders just the two plot areas."""

    def __init__(self, plots: TrainingPlots) -> None:
        self._plots = plots

    def _parts(self) -> list[QWidget]:
        return [self._plots.loss.plot_widget, self._plots.accuracy.plot_widget]

    def size(self) -> QSize:
        parts = self._parts()
        horizontal = self._plots.splitter.orientation() == Qt.Orientation.Horizontal
        if horizontal:
            return QSize(sum(p.width() for p in parts), max(p.height() for p in parts))
        return QSize(max(p.width() for p in parts), sum(p.height() for p in parts))

    def palette(self):
        return self._plots.palette()

    def logicalDpiX(self) -> int:
        return self._plots.logicalDpiX()

    def render(self, painter) -> None:
        """Draw each plot's scene into its place, in logical pixels.

        Not ``QWidget.render``: a ``QGraphicsView`` rendered that way paints at the
        painter device's pixel ratio a second time (a PNG at ratio 2 showed the top-left
        quarter at double size) and hands its cosmetic pens to SVG in scene units.
        ``QGraphicsScene.render`` maps the visible scene rect onto the target rect
        under the painter's own transform, whatever the device."""
        horizontal = self._plots.splitter.orientation() == Qt.Orientation.Horizontal
        offset = 0
        for part in self._parts():
            w, h = part.width(), part.height()
            target = QRectF(offset, 0, w, h) if horizontal else QRectF(0, offset, w, h)
            source = part.mapToScene(part.viewport().rect()).boundingRect()
            painter.fillRect(target, part.backgroundBrush())
            part.scene().render(painter, target, source, Qt.AspectRatioMode.IgnoreAspectRatio)
            offset += w if horizontal else h
