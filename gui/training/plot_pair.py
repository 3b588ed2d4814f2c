"""Both live plots side by side, and their export.

``TrainingPlots(model)`` holds a ``LossPlot`` and an ``AccuracyPlot`` (``gui.training.plots``)
in a splitter; ``export(path)`` writes just the two plot areas as PNG, SVG or PDF, drawn
the way they look on screen at any device pixel ratio.

``TrainingPlots(model, after_paint=True)`` (the training tabs) builds the two plots, and
imports pyqtgraph, right after its first paint (``gui.lazy``): a training tab restored at
start-up is on screen before the 0.2 s pyqtgraph costs. ``loss`` and ``accuracy`` build
them when asked for earlier; ``when_built(fn)`` runs what needs them once they exist.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtWidgets import QSplitter, QVBoxLayout, QWidget

from gui.lazy import LazyWidget
from gui.training.runs import RunsModel

if TYPE_CHECKING:
    from gui.training.plots import AccuracyPlot, LossPlot


class _Pair(QSplitter):
    """The two plots in their splitter (what ``TrainingPlots`` builds)."""

    def __init__(self, model: RunsModel, interval_ms: int, orientation: Qt.Orientation) -> None:
        from gui.training.plots import AccuracyPlot, LossPlot

        super().__init__(orientation)
        self.loss = LossPlot(model, interval_ms=interval_ms)
        self.accuracy = AccuracyPlot(model, interval_ms=interval_ms)
        self.addWidget(self.loss)
        self.addWidget(self.accuracy)
        self.setChildrenCollapsible(False)


#: The built plots' (size hint, minimum size hint) by orientation, as the offscreen
#: platform measures them (tests/gui/test_lazy_pages.py checks they still match): until
#: the plots exist their placeholder asks for the same room, so that the tab's splitters
#: share out the space as they do with the plots in place (an empty placeholder got 20
#: pixels, and kept them once the plots came).
_BUILT_HINTS = {
    Qt.Orientation.Horizontal: (QSize(1200, 521), QSize(542, 109)),
    Qt.Orientation.Vertical: (QSize(600, 1041), QSize(321, 221)),
}


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
        after_paint: bool = False,
    ) -> None:
        super().__init__(parent)
        self.model = model
        self._orientation = orientation
        self.slot: LazyWidget[_Pair] = LazyWidget(
            lambda: _Pair(model, interval_ms, orientation), after_paint=after_paint
        )
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.slot)
        if not after_paint:
            self.slot.widget()

    def sizeHint(self) -> QSize:
        return super().sizeHint() if self.built else QSize(_BUILT_HINTS[self._orientation][0])

    def minimumSizeHint(self) -> QSize:
        if self.built:
            return super().minimumSizeHint()
        return QSize(_BUILT_HINTS[self._orientation][1])

    @property
    def splitter(self) -> QSplitter:
        return self.slot.widget()

    @property
    def loss(self) -> LossPlot:
        """The loss plot (built now if it was not yet)."""
        return self.slot.widget().loss

    @property
    def accuracy(self) -> AccuracyPlot:
        """The accuracy plot (built now if it was not yet)."""
        return self.slot.widget().accuracy

    @property
    def built(self) -> bool:
        return self.slot.created is not None

    def when_built(self, fn: Callable[[], None]) -> None:
        """``fn()`` now if the plots exist, else right after they are built."""
        if self.built:
            fn()
        else:
            self.slot.built.connect(fn)

    def refresh(self) -> None:
        """Redraw what changed now (building the plots if they were not yet)."""
        self.loss.refresh()
        self.accuracy.refresh()

    def stop(self) -> None:
        """Stop the redraw timers (the window closes)."""
        if self.built:
            for plot in (self.loss, self.accuracy):
                plot.timer.stop()

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
