"""Everything a training tab shows about the inside of its runs, in one panel.

``InsightPanel(runs, workers)`` holds the Inside view and the coach's findings side by side
("Inside" tab) and the learning-rate range test ("LR finder" tab), each built when first
shown (``inside`` and ``lr_finder`` build them when asked for). A tab wires it with:

- ``panel.on_event(run_id, event)`` for every training event of a run (it keeps the
  ``Internals`` and ``Advice`` ones; the others are ignored);
- ``panel.attach_loss_plot(plot_item)``: findings are marked on the loss plot, and a
  click there shows every histogram at that step;
- ``panel.internals_every()`` when it starts a run (the K of the spin box; 0: off);
- ``panel.set_lr_finder(factory)``: ``factory()`` returns a ``GeneratorFactory`` that
  yields one ``nets.lr_find.RangeTest`` for the form's current settings, or a string
  saying why it cannot run now;
- the signals ``apply_requested(dict)`` (a finding's suggestion) and ``lr_chosen(float)``
  (a range test's), for the tab to put into its form.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QSpinBox, QSplitter, QTabWidget, QWidget

from gui.lazy import LazyWidget
from gui.training.coach_view import FindingMarkers, FindingsView
from gui.training.runs import RunsModel
from gui.worker import GeneratorFactory, WorkerRegistry
from nets.training import DEFAULT_EVERY, Advice, Internals

if TYPE_CHECKING:
    # Both import pyqtgraph: they load when their page is first shown.
    import pyqtgraph as pg

    from gui.training.inside import InsideView
    from gui.training.lr_finder_view import LrFinderView

LrFinderFactory = Callable[[], GeneratorFactory | str]


class InsightPanel(QTabWidget):
    """The Inside view with the findings beside it, and the LR finder."""

    apply_requested = Signal(dict)
    lr_chosen = Signal(float)

    def __init__(
        self, runs: RunsModel, workers: WorkerRegistry, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("insightPanel")
        self.runs = runs
        self.workers = workers
        # The Inside view and the LR finder are built when first shown (half the cost of
        # a training tab's construction, at start-up for nothing): until then the
        # samples wait in _pending and are handed over in order when the view is built.
        self.inside_slot: LazyWidget[InsideView] = LazyWidget(self._make_inside)
        self._pending: list[tuple[int, Internals]] = []
        # The run and step to show once the view is built: a coach finding selected or a
        # snapshot picked while the Inside page was never shown does not build it (that
        # cost the GUI thread 80 ms in the middle of a CNN run, with the page hidden).
        self._selection: tuple[int | None, float] | None = None
        self.findings = FindingsView(runs)
        self.lr_slot: LazyWidget[LrFinderView] = LazyWidget(self._make_lr_finder)
        self.markers: FindingMarkers | None = None
        self._unmarked: list[tuple[int, Advice]] = []  # advice before the loss plot existed
        self._lr_factory: LrFinderFactory | None = None
        self._lr_worker: Any = None
        self._lr_on_item: Callable[[object], None] | None = None

        self.every_spin = QSpinBox()
        self.every_spin.setRange(0, 100_000)
        self.every_spin.setValue(DEFAULT_EVERY)
        self.every_spin.setSpecialValueText("off")
        self.every_spin.setToolTip(
            "Sample every layer's activations, gradients and weights every K steps of the "
            f"next run (0: off). {DEFAULT_EVERY} costs a few percent of an epoch."
        )

        split = QSplitter(Qt.Orientation.Horizontal)
        split.addWidget(self.inside_slot)
        split.addWidget(self.findings)
        split.setSizes([900, 300])
        self.addTab(split, "&Inside")
        self.addTab(self.lr_slot, "&LR finder")

        self.findings.apply_requested.connect(self.apply_requested)
        self.findings.finding_selected.connect(self.show_step)
        runs.run_removed.connect(self._forget_pending)

    @property
    def inside(self) -> InsideView:
        """The Inside view (built now if it was never shown)."""
        return self.inside_slot.widget()

    @property
    def lr_finder(self) -> LrFinderView:
        """The LR finder page (built now if it was never shown)."""
        return self.lr_slot.widget()

    def _make_inside(self) -> InsideView:
        from gui.training.inside import InsideView

        view = InsideView(self.runs)
        every_label = QLabel("Sample every")
        every_label.setBuddy(self.every_spin)
        view.toolbar.insertWidget(0, self.every_spin)
        view.toolbar.insertWidget(0, every_label)
        pending, self._pending = self._pending, []
        for run_id, event in pending:
            view.add_internals(run_id, event)
        if self._selection is not None:
            run_id, step = self._selection
            self._selection = None
            self._select(view, run_id, step)
        return view

    def _forget_pending(self, run_id: int) -> None:
        self._pending = [(rid, event) for rid, event in self._pending if rid != run_id]

    def _make_lr_finder(self) -> LrFinderView:
        from gui.training.lr_finder_view import LrFinderView

        view = LrFinderView()
        view.lr_chosen.connect(self.lr_chosen)
        view.run_requested.connect(self.run_lr_finder)
        view.run_button.setEnabled(self._lr_factory is not None and self._lr_worker is None)
        return view

    # -- wiring --------------------------------------------------------------------------

    def on_event(self, run_id: int, event: Any) -> None:
        if isinstance(event, Internals):
            if self.inside_slot.created is not None:
                self.inside_slot.created.add_internals(run_id, event)
            else:
                self._pending.append((run_id, event))
        elif isinstance(event, Advice):
            self.findings.add_advice(run_id, event)
            if self.markers is not None:
                self.markers.add_advice(run_id, event)
            else:
                self._unmarked.append((run_id, event))

    def attach_loss_plot(self, plot_item: pg.PlotItem) -> None:
        self.markers = FindingMarkers(plot_item, self.runs)
        unmarked, self._unmarked = self._unmarked, []
        for run_id, advice in unmarked:
            if self.runs.run(run_id) is not None:
                self.markers.add_advice(run_id, advice)
        scene = plot_item.scene()
        if scene is not None:
            scene.sigMouseClicked.connect(lambda ev, p=plot_item: self._on_loss_click(p, ev))

    def internals_every(self) -> int:
        return int(self.every_spin.value())

    def set_lr_finder(
        self, factory: LrFinderFactory, on_item: Callable[[object], None] | None = None
    ) -> None:
        """``on_item`` sees the job's other items (e.g. the dataset it loaded)."""
        self._lr_factory = factory
        self._lr_on_item = on_item
        if self.lr_slot.created is not None:
            self.lr_slot.created.run_button.setEnabled(self._lr_worker is None)

    # -- the range test ------------------------------------------------------------------

    def run_lr_finder(self) -> None:
        if self._lr_factory is None or self._lr_worker is not None:
            return
        job = self._lr_factory()
        if isinstance(job, str):
            self.lr_finder.set_failed(job)
            return
        self.lr_finder.set_running()
        worker = self.workers.start(job, name="lr-find")
        self._lr_worker = worker
        worker.item.connect(self._on_lr_item)
        worker.failed.connect(lambda message, _tb: self.lr_finder.set_failed(f"error: {message}"))
        worker.done.connect(self._on_lr_done)

    def _on_lr_item(self, item: object) -> None:
        from nets.lr_find import RangeTest  # numpy: not before the tab's first frame

        if isinstance(item, RangeTest):
            self.lr_finder.set_result(item)
        elif self._lr_on_item is not None:
            self._lr_on_item(item)

    def _on_lr_done(self, status: str) -> None:
        self._lr_worker = None
        if status == "cancelled":
            self.lr_finder.set_failed("The range test was cancelled.")
        self.lr_finder.run_button.setEnabled(True)

    # -- clicks --------------------------------------------------------------------------

    def _on_loss_click(self, plot_item: pg.PlotItem, event: Any) -> None:
        if not plot_item.sceneBoundingRect().contains(event.scenePos()):
            return
        self.show_step(None, plot_item.vb.mapSceneToView(event.scenePos()).x())

    def show_step(self, run_id: int | None, step: float) -> None:
        """The Inside view shows ``run_id``'s (None: its current run's) histograms at
        ``step``: now if it is built, else when it is first shown."""
        view = self.inside_slot.created
        if view is not None:
            self._select(view, run_id, step)
            return
        if run_id is None and self._selection is not None:
            run_id = self._selection[0]
        self._selection = (run_id, step)

    @staticmethod
    def _select(view: InsideView, run_id: int | None, step: float) -> None:
        if run_id is not None:
            view.select_run(run_id)
        view.select_step(step)


def install(tab: Any) -> InsightPanel:
    """Add the panel to a ``gui.training.tab.TrainingTab``: an "Inside" page beside its
    result views under the plots, findings marked on its loss plot, every training event
    routed to it. The tab still connects ``apply_requested``, ``lr_chosen`` and
    ``set_lr_finder`` to its own form, and reads ``internals_every()`` in ``plan_run``. A
    snapshot selected on the timeline shows its step's histograms."""
    panel = InsightPanel(tab.runs, tab.context.workers)
    tab.add_view(panel, "Inside")
    tab.plots.when_built(lambda: panel.attach_loss_plot(tab.plots.loss.plot_item))
    tab.add_listener(lambda run, event: panel.on_event(run.run_id, event))
    tab.snapshot_selected.connect(
        lambda run_id, step: panel.show_step(run_id, step) if step >= 0 else None
    )
    return panel
