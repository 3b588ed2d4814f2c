"""Costly redraws take turns of the event loop: a second owner waits for a later turn, an
Inside view slice for a turn the loss plot did not take (and the loss plot for one the
slice did not), first paints one turn each, and garbage collections for turns no redraw
holds, full ones for a quiet moment."""

from __future__ import annotations

import gc
import time

import numpy as np
import pytest
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QHBoxLayout, QWidget

from gui.gc_guard import MAX_FULL_GAP_S, MainThreadGarbageCollector, heavy_imports
from gui.training.inside import InsideView
from gui.training.plots import LossPlot
from gui.turns import TURNS, stagger_first_paints
from nets.mlp.classifiers import TwoLayerNet
from tests.nets.internals_fixtures import sgd_samples


def _released(qtbot) -> None:
    qtbot.waitUntil(lambda: TURNS.holder is None, timeout=2000)


def _events():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((32, 10)).astype(np.float32)
    y = rng.integers(0, 3, 32)
    return sgd_samples(TwoLayerNet(10, 3, 6, 0.1, seed=2), X, y, 20, 5, lr=0.2)


def test_a_second_owner_is_refused_until_the_turn_ends(qtbot) -> None:
    _released(qtbot)
    first, second = object(), object()
    assert TURNS.claim(first) and TURNS.claim(first)  # the holder may come again
    refused = TURNS.refused
    assert not TURNS.claim(second)
    assert TURNS.refused == refused + 1
    _released(qtbot)  # the event loop went on: the turn is over
    assert TURNS.claim(second)
    _released(qtbot)


def test_an_inside_slice_waits_for_a_turn_the_loss_plot_did_not_take(qtbot, shown_run_view):
    view, runs, run = shown_run_view(InsideView, (1200, 900))
    for event in _events():
        view.add_internals(run.run_id, event)
    loss = LossPlot(runs, interval_ms=10_000)
    qtbot.addWidget(loss)
    loss.show()
    for step, value in enumerate((2.3, 2.0, 1.7)):
        run.metrics.add_step(step, value)
    _released(qtbot)
    view.follow_up.stop()
    loss._on_timer()  # the loss plot redraws: this turn is its
    assert TURNS.holder is runs
    with qtbot.assertNotEmitted(view.redrawn):
        view._tick()  # the slice's paint would join the loss plot's
    assert view.follow_up.isActive()  # a later turn
    with qtbot.waitSignal(view.redrawn, timeout=2000):
        pass
    # The other way round: the loss plot waits for a turn the slice did not take.
    run.metrics.add_step(3, 1.5)
    _released(qtbot)
    view.follow_up.stop()
    assert TURNS.claim(view)
    with qtbot.assertNotEmitted(loss.redrawn):
        loss._on_timer()
    with qtbot.waitSignal(loss.redrawn, timeout=2000):
        pass  # its retry, a moment later
    assert loss.curve_data(run.run_id)[1].tolist() == [2.3, 2.0, 1.7, 1.5]


class _Painter(QWidget):
    def __init__(self, name: str, log: list[str]) -> None:
        super().__init__()
        self.name, self.log = name, log
        self.setMinimumSize(50, 50)

    def paintEvent(self, event) -> None:
        self.log.append(self.name)


def _turns(log: list[str], first_only: bool) -> list[list[str]]:
    """The paints of ``log`` grouped by the event loop's passes ("tick" between them)."""
    turns: list[list[str]] = [[]]
    seen: set[str] = set()
    for entry in log:
        if entry == "tick":
            turns.append([])
        elif not (first_only and entry in seen):
            seen.add(entry)
            turns[-1].append(entry)
    return turns


def _painters_in_a_box(qtbot, names: str, log: list[str]) -> tuple[QWidget, list[QWidget], QTimer]:
    """Painters named ``names`` side by side in a box (not shown yet), and a zero timer
    that logs "tick" at every pass of the event loop once started."""
    box = QWidget()
    qtbot.addWidget(box)
    layout = QHBoxLayout(box)
    widgets = [_Painter(name, log) for name in names]
    for widget in widgets:
        layout.addWidget(widget)
    ticks = QTimer(box)
    ticks.timeout.connect(lambda: log.append("tick"))
    return box, widgets, ticks


def test_first_paints_take_a_turn_each_and_later_paints_are_left_alone(qtbot) -> None:
    log: list[str] = []
    box, widgets, ticks = _painters_in_a_box(qtbot, "abc", log)
    stagger_first_paints(widgets)
    ticks.start(0)
    box.show()
    qtbot.waitUntil(lambda: {"a", "b", "c"} <= set(log), timeout=2000)
    turns = _turns(log, first_only=True)
    assert sorted(sum(turns, [])) == ["a", "b", "c"]
    assert all(len(turn) <= 1 for turn in turns)  # never two first paints in one turn
    log.clear()
    for widget in widgets:
        widget.update()
    qtbot.waitUntil(lambda: {"a", "b", "c"} <= set(log), timeout=2000)
    ticks.stop()
    assert ["a", "b", "c"] in [sorted(turn) for turn in _turns(log, first_only=False)]


def test_finish_lets_every_first_paint_happen_at_once(qtbot) -> None:
    log: list[str] = []
    box, widgets, ticks = _painters_in_a_box(qtbot, "ab", log)
    stagger_first_paints(widgets).finish()
    ticks.start(0)
    box.show()
    qtbot.waitUntil(lambda: {"a", "b"} <= set(log), timeout=2000)
    ticks.stop()
    assert ["a", "b"] in [sorted(turn) for turn in _turns(log, first_only=True)]


class _Cycle:
    def __init__(self) -> None:
        self.me = self


@pytest.fixture
def guard(qtbot, _garbage_collected_in_the_gui_thread):
    """A collector of the test's own (the session's stopped meanwhile: it would collect
    what the test counts), with the heavy packages already frozen for."""
    session = _garbage_collected_in_the_gui_thread._timer
    session.stop()
    own = MainThreadGarbageCollector(interval_ms=60_000)
    own._timer.stop()
    own._frozen_for = heavy_imports()[0]
    _released(qtbot)
    yield own
    _released(qtbot)
    session.start()


def test_collections_wait_for_a_turn_no_redraw_holds(qtbot, guard) -> None:
    assert TURNS.claim("a live plot")
    for _ in range(gc.get_threshold()[0] + 10):
        _Cycle()
    count = gc.get_count()[0]
    assert guard.collect_due() == 0 and gc.get_count()[0] >= count
    _released(qtbot)
    assert guard.collect_due() > 0  # the young cycles


def test_a_full_collection_waits_while_redraws_keep_coming(qtbot, guard, monkeypatch) -> None:
    generations: list[int] = []

    def watch(phase, info):
        if phase == "start":
            generations.append(info["generation"])

    thresholds = gc.get_threshold()
    gc.callbacks.append(watch)
    try:
        gc.set_threshold(thresholds[0], thresholds[1], 0)
        gc.collect(1)  # a generation-1 pass: with threshold 0 the full one is due
        monkeypatch.setattr(TURNS, "last_redraw", time.monotonic())  # a plot just redrew
        generations.clear()
        guard.collect_due()
        assert 2 not in generations
        guard._last_full = time.monotonic() - MAX_FULL_GAP_S - 1  # but not for ever
        guard.collect_due()
        assert generations[-1:] == [2]
        gc.collect(1)
        monkeypatch.setattr(TURNS, "last_redraw", time.monotonic() - 10)  # a quiet moment
        _released(qtbot)
        generations.clear()
        guard.collect_due()
        assert generations == [2]
    finally:
        gc.set_threshold(*thresholds)
        gc.callbacks.remove(watch)
