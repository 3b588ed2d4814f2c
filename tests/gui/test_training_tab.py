"""The one training tab controller (gui.training.tab.TrainingTab), driven by a tiny fake
trainer that speaks the nets.training protocol: lifecycle, listeners, progress and
duration texts, test once, the suffix rule and export folder, and the quit prompt."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QMessageBox, QWidget

from gui.jobs import Progress
from gui.tab_base import AppContext
from gui.training.run_files import EXPORT_DIR_KEY, with_suffix
from gui.training.tab import RunPlan, RunState, TrainingTab
from nets.training import Evaluation, Finished, Started, Step, Stopped

STEPS = 6


@dataclass(eq=False)
class FakeRun(RunState):
    model: Any = None
    tests: int = 0


class FakeTab(TrainingTab):
    tab_id = "fake"
    title = "Fake"
    checkpoint_suffix = ".fake"

    def __init__(self, context: AppContext, gate: threading.Event | None = None) -> None:
        super().__init__(context)
        self.gate = gate
        self.no_test_reason = ""
        self.finish_layout(QWidget())

    def plan_run(self, source):
        gate = self.gate

        def factory(token):
            yield Progress("load", 5, 10, "loading the data")
            yield Started("fake", None, 8, 2, 2, (4,), 10, 2, 3, STEPS, 1000, elapsed=0.0)
            for step in range(1, STEPS + 1):
                if gate is not None:
                    gate.wait(5)
                if token():
                    yield Stopped(step - 1, 1, 0.5 * step, "stopped", result="model")
                    return
                yield Step(step, (step - 1) // 3 + 1, 1.0 / step, 0.1, 0.5 * step, STEPS)
                if step % 3 == 0:
                    yield Evaluation(step, step // 3, 0.5, 0.25 * step / 3, 0.5, 0.1, 2, True, 0.5)
            yield Finished(STEPS, 2, 9.6, "finished", result="model")

        return RunPlan(self.runs.next_name(), {"lr": 0.1}, FakeRun(), factory)

    def model_of(self, run):
        return run.payload.model if run is not None else None

    def on_run_ended(self, run, event):
        run.payload.model = event.result

    def test_use(self, run):
        return (run.payload.tests, 0.5 if run.payload.tests else None)

    def test_problem(self, run):
        return self.no_test_reason

    def test_job(self, run):
        def factory(token):
            yield "tested"

        return factory

    def on_test_item(self, run, item):
        run.payload.tests += 1

    def write_checkpoint(self, run, path: Path) -> None:
        path.write_text(str(run.payload.model))


@pytest.fixture
def tab(qtbot, context):
    tab = FakeTab(context)
    qtbot.addWidget(tab)
    yield tab
    tab.shutdown()


def _train(qtbot, tab):
    with qtbot.waitSignal(tab.training_done, timeout=10_000) as blocker:
        tab.controls.start_button.click()
    return tab.runs.run(blocker.args[0])


def test_a_run_goes_through_the_protocol_and_listeners_see_every_event_in_order(qtbot, tab):
    seen = []
    tab.add_listener(lambda run, event: seen.append(type(event).__name__))
    run = _train(qtbot, tab)
    assert run.status == "finished"
    assert seen[0] == "Progress" and seen[1] == "Started" and seen[-1] == "Finished"
    assert seen.count("Step") == STEPS and seen.count("Evaluation") == 2
    assert run.metrics.num_steps == STEPS
    assert list(run.metrics.epoch.view()) == [1.0, 2.0]  # step / steps per epoch
    assert run.result == "val 50.0%"


def test_finished_texts_agree_on_the_duration(qtbot, tab):
    _train(qtbot, tab)
    assert tab.controls.eta_label.text() == "finished in 0:10"
    assert "in 0:10" in tab.status_label.text() and "Finished run 1" in tab.status_label.text()


def test_a_new_run_shows_loading_then_starts_at_zero_without_an_eta(qtbot, context):
    gate = threading.Event()
    tab = FakeTab(context, gate)
    qtbot.addWidget(tab)
    gate.set()
    first = _train(qtbot, tab)
    assert tab.controls.progress.value() == 1000  # the finished run ends full
    gate.clear()
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: len(tab.runs) == 2 and tab.runs.runs()[1].payload.started is not None)
    assert tab.controls.progress.value() == 0
    assert "ETA" not in tab.controls.eta_label.text() or "--:--" in tab.controls.eta_label.text()
    assert first.status == "finished"
    with qtbot.waitSignal(tab.training_done, timeout=10_000):
        tab.controls.stop_button.click()
        gate.set()
    assert tab.runs.runs()[1].status == "stopped" and tab.runs.runs()[1].payload.model == "model"
    tab.shutdown()


def test_the_started_message_names_device_threads_and_precision(qtbot, context):
    gate = threading.Event()
    tab = FakeTab(context, gate)
    qtbot.addWidget(tab)
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: len(tab.runs) == 1 and tab.runs.runs()[0].payload.started is not None)
    assert "on cpu with 1 CPU thread in float32: 2 epochs" in tab.status_label.text()
    with qtbot.waitSignal(tab.training_done, timeout=10_000):
        gate.set()
    tab.shutdown()


def test_ready_is_never_shown_while_start_is_disabled(qtbot, tab):
    tab.start_problems = lambda: ["Architecture: layer 3 (Linear) gets a 4x6x6 feature map"]
    tab.update_start()
    assert not tab.controls.start_button.isEnabled()
    assert "Ready" not in tab.status_label.text() and "layer 3" in tab.status_label.text()
    tab.start_problems = lambda: []
    tab.update_start()
    assert tab.controls.start_button.isEnabled() and tab.status_label.text() == "Ready."


def test_test_once_warns_the_second_time_and_is_disabled_without_a_test_split(
    qtbot, tab, monkeypatch
):
    asked = []
    monkeypatch.setattr(
        "gui.dialogs.ask", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.No
    )
    run = _train(qtbot, tab)
    with qtbot.waitSignal(tab.test_done, timeout=5000):
        assert tab.evaluate_test()
    assert asked == [] and run.payload.tests == 1
    assert "Test accuracy: 50.00%" in tab.test_label.text()
    assert not tab.evaluate_test()
    assert len(asked) == 1 and "already evaluated on the test set (once" in asked[0]
    assert run.payload.tests == 1
    tab.no_test_reason = "folder:/x has no test split (a folder needs DIR/test/<class>/)"
    tab.update_run_buttons()
    assert not tab.test_button.isEnabled()
    assert tab.test_button.toolTip() == tab.no_test_reason


def test_one_suffix_rule_for_every_file():
    assert with_suffix("plot.jpg", (".png", ".svg")) == Path("plot.jpg.png")
    assert with_suffix("plot", (".png",)) == Path("plot.png")
    assert with_suffix("plot.SVG", (".png", ".svg")) == Path("plot.SVG")


def test_exports_use_the_suffix_rule_and_one_remembered_folder(qtbot, tab, tmp_path, context):
    _train(qtbot, tab)
    asked = []

    def ask(title, filters, suggestion):
        asked.append(suggestion)
        return str(tmp_path / "out" / "plot.jpg")

    (tmp_path / "out").mkdir()
    tab._ask_save_path = ask
    written = tab.export_plots()
    assert written == tmp_path / "out" / "plot.jpg.png" and written.is_file()
    assert context.settings.value(EXPORT_DIR_KEY) == str(tmp_path / "out")
    tab._ask_save_path = lambda *a: asked.append(a[2]) or str(tmp_path / "out" / "m")
    assert tab.export_metrics() == tmp_path / "out" / "m.csv"
    assert asked[1] == str(tmp_path / "out" / "training.csv")  # the remembered folder


@pytest.mark.parametrize(
    ("answer", "closes"),
    [
        (QMessageBox.StandardButton.Cancel, False),
        (QMessageBox.StandardButton.Discard, True),
        (QMessageBox.StandardButton.Save, True),
    ],
)
def test_quitting_with_unsaved_runs_asks_save_discard_cancel(
    qtbot, tab, tmp_path, monkeypatch, answer, closes
):
    _train(qtbot, tab)
    _train(qtbot, tab)
    asked = []
    monkeypatch.setattr("gui.dialogs.ask", lambda *a, **k: asked.append(a[2]) or answer)
    names = iter(["a", "b"])
    tab._ask_save_path = lambda *a: str(tmp_path / next(names))
    assert tab.can_close() is closes
    assert asked[0] == "Fake: 2 runs are not saved.\nSave them before you quit?"
    if answer == QMessageBox.StandardButton.Save:
        assert (tmp_path / "a.fake").is_file() and (tmp_path / "b.fake").is_file()
        assert tab.unsaved_runs() == [] and tab.can_close()


def test_quitting_while_training_stops_the_run_and_saves_it(qtbot, context, tmp_path, monkeypatch):
    gate = threading.Event()
    tab = FakeTab(context, gate)
    qtbot.addWidget(tab)
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: len(tab.runs) == 1 and tab.runs.runs()[0].payload.started is not None)
    asked = []
    monkeypatch.setattr(
        "gui.dialogs.ask", lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Save
    )
    tab._ask_save_path = lambda *a: str(tmp_path / "kept")
    gate.set()
    assert tab.can_close()
    assert asked[0].startswith("Fake: training is running; 1 run is not saved.")
    assert tab.runs.runs()[0].status in ("stopped", "finished")
    assert (tmp_path / "kept.fake").read_text() == "model"
    tab.shutdown()


def test_nothing_unsaved_closes_without_a_question(qtbot, tab, monkeypatch):
    monkeypatch.setattr("gui.dialogs.ask", lambda *a, **k: pytest.fail("asked"))
    assert tab.can_close()


def test_a_run_without_the_tabs_payload_does_not_stop_the_window_closing(qtbot, tab, monkeypatch):
    # A benchmark closing its window with runs fed by hand raised AttributeError here.
    tab.runs.add_run(tab.runs.next_name("fed"), {"updates": 1})
    monkeypatch.setattr("gui.dialogs.ask", lambda *a, **k: pytest.fail("asked"))
    assert tab.unsaved_runs() == []
    assert tab.can_close()


def test_a_lazy_page_is_built_on_first_show_and_shut_down_with_the_tab(qtbot, context):
    from PySide6.QtWidgets import QLabel

    class Page(QLabel):
        stopped = 0

        def shutdown(self) -> None:
            Page.stopped += 1

    tab = FakeTab(context)
    qtbot.addWidget(tab)
    never = tab.add_lazy_page(Page, "Never shown")
    shown = tab.add_lazy_page(Page, "Shown")
    tab.show()
    assert never.created is None and shown.created is None
    tab.show_page(shown)
    assert isinstance(shown.created, Page) and never.created is None
    tab.shutdown()
    assert Page.stopped == 1 and never.created is None  # nothing built to shut down


def test_enlarging_the_views_gives_them_most_of_the_tab_and_undoing_restores_it(qtbot, tab):
    tab.resize(1200, 800)
    tab.show()
    qtbot.waitExposed(tab)
    splits = (tab.main_splitter, tab._plots_over_views, tab._runs_beside_views)
    before = [s.sizes() for s in splits]
    views_height = tab.result_tabs.height()
    tab.enlarge_action.trigger()
    assert tab.enlarge_action.isChecked()
    qtbot.waitUntil(lambda: tab.result_tabs.height() > 1.5 * views_height)
    assert tab._plots_over_views.sizes()[1] > 2 * tab._plots_over_views.sizes()[0]
    tab.enlarge_action.trigger()
    assert not tab.enlarge_action.isChecked()
    assert [s.sizes() for s in splits] == before
