"""The Search page of both training tabs: a study of worker processes watched live,
brushing, overlays, "Train this one", Cancel and closing the window."""

from __future__ import annotations

import os
import threading
import time

import pytest
from PySide6.QtCore import Qt, QTimer

from tests.gui import test_mlp_tab
from tests.gui.mlp_tab_setup import small_config

# The Two-layer net tab's own fixtures: the window, the tab on a tiny image folder.
window, tab, data_root = test_mlp_tab.window, test_mlp_tab.tab, test_mlp_tab.data_root


@pytest.fixture(autouse=True)
def _own_studies(tmp_path, monkeypatch):
    """Every test's studies in its own folder (a study of the same name would continue)."""
    monkeypatch.setenv("BACKPROP_EXPLORER_STUDIES", str(tmp_path / "studies"))


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def _start(tab, qtbot, trials: int = 6, study: str = "gui-study", epochs: str = "2"):
    small_config(tab, num_epochs=epochs)
    panel = tab.search
    panel.form.trials.setValue(trials)
    panel.form.workers.setValue(2)
    panel.form.study.setText(study)
    qtbot.mouseClick(panel.start_button, Qt.MouseButton.LeftButton)
    assert panel.is_running(), panel.status.text()
    # The study opens in the watch's thread; the workers start when it is open.
    qtbot.waitUntil(lambda: panel.pool is not None, timeout=30_000)
    return panel


def test_both_tabs_have_a_search_page_with_every_searchable_field(window):
    for tab_id, kind in (("mlp", "mlp"), ("cnn", "cnn")):
        tab = window.select_tab(tab_id)
        assert tab.views.tabText(tab.views.indexOf(tab.search_slot)) == "Search"
        assert tab.search.kind == kind
        ticked = [n for n, row in tab.search.form.rows.items() if row.check.isChecked()]
        assert [r.name for r in tab.search.form.space()] == ticked


def test_a_study_runs_in_worker_processes_and_every_view_fills(tab, qtbot):
    panel = _start(tab, qtbot)
    assert len(panel.pool.pids()) == 2
    with qtbot.waitSignal(panel.search_done, timeout=120_000) as done:
        pass
    assert "Search finished" in done.args[0], done.args[0]
    rows = panel.rows
    assert [r.number for r in rows] == list(range(6)), [(r.state, r.attrs) for r in rows]
    assert panel.table.model().rowCount() == 6
    complete = [r for r in rows if r.state == "COMPLETE"]
    assert complete
    assert panel.best.best_values[-1] == pytest.approx(100 * max(r.value for r in complete))
    assert len(panel.parallel.coords) == len([r for r in rows if r.last_val is not None])
    finished = [r for r in rows if r.state in ("COMPLETE", "PRUNED")]
    assert panel.scatter.point_count("learning_rate") == len(finished)
    if len(complete) >= 3:
        assert set(panel.importance.values) <= {r.name for r in panel.space}
    # Sorting by accuracy puts the best trial first.
    panel.table.sortByColumn(2, Qt.SortOrder.DescendingOrder)
    top = panel.table.model().index(0, 0).data()
    assert int(top) == panel.best_row().number


def test_brushing_an_axis_filters_the_trials_table(tab, qtbot):
    panel = _start(tab, qtbot)
    qtbot.waitSignal(panel.search_done, timeout=120_000).wait()
    # A band over the upper half of the learning rates seen (the axis is the log range).
    positions = sorted(ys[0] for ys in panel.parallel.coords.values())
    low = positions[len(positions) // 2]
    panel.parallel.set_band(0, low, 1.0)
    assert panel.parallel.band_range(0) == pytest.approx((low, 1.0))
    expected = {n for n, ys in panel.parallel.coords.items() if ys[0] >= low}
    shown = {
        int(panel.table.model().index(r, 0).data()) for r in range(panel.table.model().rowCount())
    }
    assert shown == expected and 0 < len(shown) < len(panel.rows)
    panel.parallel.clear_bands()
    assert panel.table.model().rowCount() == len(panel.rows)


def test_selected_trials_overlay_their_curves_and_one_can_be_trained(tab, qtbot):
    panel = _start(tab, qtbot)
    qtbot.waitSignal(panel.search_done, timeout=120_000).wait()
    best = panel.best_row()
    panel.table.select_numbers([best.number])
    names = [getattr(i, "name", lambda: None)() for i in tab.plots.accuracy.plot_item.items]
    assert f"trial {best.number} val" in names
    loss_names = [getattr(i, "name", lambda: None)() for i in tab.plots.loss.plot_item.items]
    assert f"trial {best.number} loss" in loss_names
    assert panel.train_button.isEnabled()
    tab.show_page(panel)  # the button is clicked on the Search page
    assert tab.views.currentIndex() != 0
    qtbot.mouseClick(panel.train_button, Qt.MouseButton.LeftButton)
    assert tab.views.currentIndex() == 0
    for name, value in best.params.items():
        assert float(tab.form.edits[name].text()) == pytest.approx(value, rel=1e-5)
    panel.table.clearSelection()
    names = [getattr(i, "name", lambda: None)() for i in tab.plots.accuracy.plot_item.items]
    assert f"trial {best.number} val" not in names


def test_cancel_stops_every_worker_within_seconds(tab, qtbot):
    panel = _start(tab, qtbot, trials=4, study="cancelled", epochs="100000")
    pids = panel.pool.pids()
    qtbot.waitUntil(lambda: sum(r.state == "RUNNING" for r in panel.rows) == 2, timeout=60_000)
    with qtbot.waitSignal(panel.search_done, timeout=8_000) as done:
        qtbot.mouseClick(panel.cancel_button, Qt.MouseButton.LeftButton)
    assert done.args[0].startswith("Cancelled")
    assert all(_gone(p) for p in pids)
    assert {r.state for r in panel.rows} == {"FAIL"}
    assert {r.message for r in panel.rows} == {"cancelled while training"}


def test_closing_the_window_stops_the_workers(window, tab, qtbot):
    panel = _start(tab, qtbot, trials=4, study="closing", epochs="100000")
    pids = panel.pool.pids()
    window.shutdown()
    assert not panel.is_running()
    assert all(_gone(p) for p in pids)


def test_attach_watches_a_study_without_starting_workers(tab, qtbot):
    panel = _start(tab, qtbot, trials=2, study="watched")
    qtbot.waitSignal(panel.search_done, timeout=120_000).wait()
    other = tab.search.__class__(tab, "mlp", {}, lambda: "no base")
    other.form.study.setText("watched")
    assert other.attach()
    qtbot.waitUntil(lambda: len(other.rows) == 2, timeout=30_000)
    assert not other.is_running()
    other.form.study.setText("no-such-study")
    assert other.attach()
    qtbot.waitUntil(lambda: "there is no study 'no-such-study'" in other.status.text())
    assert other.rows == [] and not other.is_running()
    other.shutdown()


class _SlowStorage:
    """An Optuna storage whose every call takes ``delay`` seconds (a remote database far
    away), noting the thread of each call and whether one is under way."""

    def __init__(self, inner, delay: float) -> None:
        self._inner, self._delay = inner, delay
        self.threads: set[str] = set()
        self.busy = False

    def __getattr__(self, name):
        value = getattr(self._inner, name)
        if not callable(value):
            return value

        def call(*args, **kwargs):
            self.threads.add(threading.current_thread().name)
            self.busy = True
            try:
                time.sleep(self._delay)
                return value(*args, **kwargs)
            finally:
                self.busy = False

        return call


def test_a_slow_storage_is_read_off_the_gui_thread_and_the_window_stays_live(
    tab, qtbot, monkeypatch
):
    import nets.search.storage as storage

    made: list[_SlowStorage] = []
    real_open = storage.open_storage

    def slow_open(location):
        made.append(_SlowStorage(real_open(location), 0.3))
        return made[-1]

    monkeypatch.setattr(storage, "open_storage", slow_open)
    ticks = {"during_call": 0, "all": 0}

    def tick():
        ticks["all"] += 1
        ticks["during_call"] += any(s.busy for s in made)

    timer = QTimer()
    timer.setInterval(20)
    timer.timeout.connect(tick)
    timer.start()
    panel = _start(tab, qtbot, trials=2, study="slow", epochs="1")
    qtbot.waitSignal(panel.search_done, timeout=120_000).wait()
    timer.stop()
    assert "Search finished" in panel.status.text(), panel.status.text()
    assert len(panel.rows) == 2
    assert made and all(s.threads for s in made)
    main = threading.main_thread().name
    assert all(main not in s.threads for s in made), [s.threads for s in made]
    # The event loop went on while a storage call was under way.
    assert ticks["during_call"] > 0, ticks


def test_a_trial_whose_loss_diverged_overlays_a_gap_not_a_drop_to_zero(tab):
    from nets.search.storage import TrialRow

    row = TrialRow(
        number=3,
        state="FAIL",
        value=None,
        params={"learning_rate": 5.0},
        attrs={"loss_x": [1, 2, 3], "loss": [2.3, None, 1e30]},
        intermediate={},
        seconds=1.0,
        started=None,
    )
    tab.search._overlay([row])
    (item,) = [
        i
        for i in tab.plots.loss.plot_item.items
        if getattr(i, "name", lambda: None)() == "trial 3 loss"
    ]
    ys = list(item.yData)
    assert ys[0] == 2.3 and ys[2] == 1e30
    assert ys[1] != ys[1]  # NaN: the curve breaks where the loss was not finite
