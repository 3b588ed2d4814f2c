"""Pages and panels built on first show (gui.lazy) behave as if they had been there all
along: built once, shown filled, and nothing delivered before is lost. Parts built after
the first paint (the training tabs' plots) follow that paint, and what the tab wired to
them before works once they exist."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QObject, Qt
from PySide6.QtWidgets import QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.lazy import LazyWidget, pending_after_paint
from gui.main_window import MainWindow
from gui.training.insight import InsightPanel
from gui.training.plot_pair import TrainingPlots
from gui.training.runs import RunsModel
from gui.worker import WorkerRegistry
from nets.training import Advice
from tests.gui.test_inside_views import _samples


class _Paints(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.count = 0

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.Paint:
            self.count += 1
        return False


def test_a_lazy_page_is_built_once_when_its_tab_is_first_shown(qtbot):
    built = []

    def make() -> QLabel:
        built.append(1)
        return QLabel("the page")

    tabs = QTabWidget()
    qtbot.addWidget(tabs)
    slot = LazyWidget(make)
    tabs.addTab(QLabel("first"), "First")
    tabs.addTab(slot, "Second")
    tabs.show()
    assert slot.created is None and built == []
    with qtbot.waitSignal(slot.built):
        tabs.setCurrentIndex(1)
    page = slot.created
    assert isinstance(page, QLabel) and page.isVisible() and page.parentWidget() is slot
    tabs.setCurrentIndex(0)
    tabs.setCurrentIndex(1)
    assert slot.widget() is page and built == [1]


def test_internals_delivered_before_the_inside_view_is_built_are_shown(qtbot):
    runs = RunsModel()
    panel = InsightPanel(runs, WorkerRegistry())
    qtbot.addWidget(panel)
    kept, removed = runs.add_run("run 1", {}), runs.add_run("run 2", {})
    events = _samples(steps=20, every=5)
    for event in events:
        panel.on_event(kept.run_id, event)
        panel.on_event(removed.run_id, event)
    runs.remove_run(removed.run_id)
    assert panel.inside_slot.created is None and panel.lr_slot.created is None
    panel.show()  # the Inside page is the current one
    inside = panel.inside_slot.created
    assert inside is not None and panel.lr_slot.created is None
    assert set(inside.series) == {kept.run_id}
    assert len(inside.series[kept.run_id].steps.view()) == len(events)
    assert panel.every_spin.parentWidget() is not None  # in the Inside view's toolbar
    panel.on_event(kept.run_id, events[-1])  # after the build: straight to the view
    assert len(inside.series[kept.run_id].steps.view()) == len(events) + 1


def test_a_finding_selected_before_the_inside_view_is_built_waits_for_it(qtbot):
    runs = RunsModel()
    panel = InsightPanel(runs, WorkerRegistry())
    qtbot.addWidget(panel)
    panel.setCurrentIndex(1)  # the LR finder page: the Inside page stays hidden
    panel.show()
    first, second = runs.add_run("run 1", {}), runs.add_run("run 2", {})
    events = _samples(steps=20, every=5)
    for event in events:
        panel.on_event(first.run_id, event)
        panel.on_event(second.run_id, event)
    advice = Advice("diverging", events[1].step, {"curve": "loss"}, "The loss grows.")
    panel.on_event(first.run_id, advice)  # the coach's first finding is selected at once
    assert panel.findings.selected() is not None
    assert panel.inside_slot.created is None  # not built for a page nobody looks at
    panel.setCurrentIndex(0)
    inside = panel.inside_slot.created
    assert inside is not None
    assert inside._current == first.run_id and inside._step == advice.step


def test_an_after_paint_part_is_built_right_after_its_first_paint(qtbot):
    paints = _Paints()
    painted_before_build = []

    def make() -> QLabel:
        painted_before_build.append(paints.count)
        return QLabel("the plots")

    holder = QWidget()
    qtbot.addWidget(holder)
    slot = LazyWidget(make, after_paint=True)
    holder.installEventFilter(paints)  # the window: the slot itself may have no room
    QVBoxLayout(holder).addWidget(slot)
    holder.show()
    assert slot.created is None  # showing it does not build it
    assert pending_after_paint(holder) == [slot]
    with qtbot.waitSignal(slot.built):
        pass
    assert painted_before_build and painted_before_build[0] >= 1
    assert slot.created.isVisible() and pending_after_paint(holder) == []


def test_a_training_tab_is_complete_once_its_plots_follow_the_first_frame(qtbot):
    window = MainWindow(remember=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.tabs.setCurrentIndex(window.tab_ids().index("mlp"))
    tab = window.current_tab()
    assert not tab.plots.built  # built after the first paint, not with the tab
    # Chosen before the plots exist: the View menu's options and a finding of the coach.
    tab.log_action.setChecked(True)
    tab.x_iter_action.setChecked(True)
    run = tab.runs.add_run("run 1", {})
    tab.insight.on_event(run.run_id, Advice("diverging", 5, {"curve": "loss"}, "too high"))
    window.show()
    qtbot.waitUntil(lambda: tab.plots.built, timeout=10_000)
    assert tab.plots.loss.plot_widget.isVisible() and tab.plots.accuracy.isVisible()
    assert pending_after_paint(window) == []
    assert tab.plots.loss.log_scale and tab.plots.loss.log_check.isChecked()
    assert tab.plots.accuracy.x_axis == "iteration"
    assert len(tab.insight.markers.markers[run.run_id]) == 1
    # and they stay in step both ways afterwards
    tab.log_action.setChecked(False)
    assert not tab.plots.loss.log_scale
    tab.plots.accuracy.x_combo.setCurrentIndex(0)
    assert not tab.x_iter_action.isChecked()
    tab.snapshot_control._step, tab.snapshot_control._run_id = 3, run.run_id
    tab.snapshot_control._place_lines()
    assert tab.snapshot_control._lines["loss"].isVisible()
    window.shutdown()


@pytest.mark.parametrize("orientation", [Qt.Orientation.Horizontal, Qt.Orientation.Vertical])
def test_the_plots_placeholder_asks_for_the_room_of_the_plots(qtbot, orientation):
    # Otherwise the tab's splitter gives the placeholder a sliver and keeps it for the plots.
    runs = RunsModel()
    waiting = TrainingPlots(runs, orientation=orientation, after_paint=True)
    built = TrainingPlots(runs, orientation=orientation)
    qtbot.addWidget(waiting)
    qtbot.addWidget(built)
    assert not waiting.built and built.built
    assert waiting.sizeHint() == built.sizeHint()
    assert waiting.minimumSizeHint() == built.minimumSizeHint()
