"""Pages and panels built on first show (gui.lazy) behave as if they had been there all
along: built once, shown filled, and nothing delivered before is lost."""

from __future__ import annotations

from PySide6.QtWidgets import QLabel, QTabWidget

from gui.lazy import LazyWidget
from gui.training.insight import InsightPanel
from gui.training.runs import RunsModel
from gui.worker import WorkerRegistry
from nets.training import Advice
from tests.gui.test_inside_views import _samples


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
