"""The "Two-layer net" tab driven end to end on a tiny synthetic image folder."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QMessageBox

from gui.main_window import MainWindow
from gui.tabs import TABS
from nets.training import Stopped
from tests.gui.mlp_tab_setup import CLASSES, make_folder, small_config


def test_the_two_layer_net_tab_is_registered():
    assert "mlp" in [t[0] for t in TABS]


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("mlpdata"))


@pytest.fixture
def window(qtbot):
    window = MainWindow(remember=False)
    # Shut down before pytest-qt closes it: closing with unsaved runs would ask first.
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.show()
    yield window
    window.shutdown()
    window.close()


@pytest.fixture
def tab(window, qtbot, data_root):
    tab = window.select_tab("mlp")
    tab.data_panel.set_source("folder", data_root)
    qtbot.waitUntil(lambda: tab.data_panel.info is not None, timeout=10_000)
    assert tab.data_panel.info.found
    return tab


def train_once(tab, qtbot, timeout=30_000, **fields):
    small_config(tab, **fields)
    assert tab.controls.start_button.isEnabled(), tab.controls.start_button.toolTip()
    with qtbot.waitSignal(tab.training_done, timeout=timeout) as blocker:
        qtbot.mouseClick(tab.controls.start_button, Qt.MouseButton.LeftButton)
    run_id, status = blocker.args
    return tab.runs.run(run_id), status


def test_folder_shows_classes_and_counts(tab):
    panel = tab.data_panel
    assert "Found" in panel.status_label.text()
    assert panel.classes.rowCount() == len(CLASSES)
    counts = {panel.classes.item(r, 0).text(): panel.classes.item(r, 1).text() for r in range(3)}
    assert counts == {name: "40" for name in CLASSES}
    assert "per epoch" in tab.form.estimate_text()


def test_train_plots_runs_test_once_save_load(tab, qtbot, tmp_path, monkeypatch):
    run, status = train_once(tab, qtbot)
    assert status == "finished" and run.status == "finished"
    record = run.payload
    history = record.history
    # The plots hold exactly what the trainer yielded.
    tab.plots.refresh()
    x, y = tab.plots.loss.curve_data(run.run_id, 0)
    np.testing.assert_allclose(y, history.step_loss)
    np.testing.assert_array_equal(x, np.arange(1, len(history.step_loss) + 1))
    ex, train_acc = tab.plots.accuracy.curve_data(run.run_id, 0)
    np.testing.assert_array_equal(ex, [1, 2, 3])
    np.testing.assert_allclose(train_acc, 100 * np.asarray(history.epoch_train_acc))
    np.testing.assert_allclose(
        tab.plots.accuracy.curve_data(run.run_id, 1)[1], 100 * np.asarray(history.epoch_val_acc)
    )
    # The runs list keeps the run with its settings; it is selected for testing/saving.
    assert len(tab.runs) == 1 and run.settings["num_epochs"] == 3
    assert run.settings["dataset"].startswith("folder:")
    assert tab.selected_run_id() == run.run_id
    assert tab.weights_view.tile_count() == 16  # one tile per hidden unit
    assert tab.confusion_view.counts().sum() == len(tab.data_panel.dataset.y_val)

    # Test once: no question asked the first time.
    asked = []

    def answer(result):
        def ask(*args, **kwargs):
            asked.append(args[2] if len(args) > 2 else kwargs.get("text"))
            return result

        return ask

    monkeypatch.setattr("gui.dialogs.ask", answer(QMessageBox.StandardButton.No))
    with qtbot.waitSignal(tab.test_done, timeout=10_000):
        tab.test_button.click()
    assert asked == []
    assert record.test_used and record.test.count == 1 and record.test.n == 3 * 10
    assert "Test accuracy" in tab.test_label.text()
    # A second evaluation warns; "No" leaves everything as it was.
    tab.test_button.click()
    assert len(asked) == 1 and "already evaluated" in asked[0]
    assert not tab.is_busy() and record.test.count == 1
    monkeypatch.setattr("gui.dialogs.ask", answer(QMessageBox.StandardButton.Yes))
    with qtbot.waitSignal(tab.test_done, timeout=10_000):
        tab.test_button.click()
    assert record.test.count == 2

    # Save and load: same weights, history and test record; a new "loaded" run.
    path = tab.save_checkpoint(tmp_path / "model.npz")
    assert path == tmp_path / "model.npz" and path.is_file()
    with qtbot.waitSignal(tab.job_done, timeout=10_000):
        assert tab.load_checkpoint(path)
    loaded = tab.runs.runs()[-1]
    loaded_id = loaded.run_id
    assert loaded.status == "loaded" and loaded.payload.test_used
    for name, value in record.model.parameters().items():
        np.testing.assert_array_equal(loaded.payload.model.parameters()[name], value)
    np.testing.assert_allclose(loaded.metrics.loss.view(), history.step_loss)
    assert tab.selected_run_id() == loaded_id
    qtbot.waitUntil(lambda: loaded.payload.analysis is not None, timeout=10_000)

    # A loaded model can be trained further: a new run starts from its weights.
    with qtbot.waitSignal(tab.training_done, timeout=30_000) as blocker:
        tab.continue_button.click()
    further = tab.runs.run(blocker.args[0])
    assert further.status == "finished" and further.settings["from"] == loaded.name
    assert further.payload.model is not loaded.payload.model
    for name, value in loaded.payload.model.parameters().items():
        np.testing.assert_array_equal(value, record.model.parameters()[name])  # untouched

    # Exports: plots as PNG/SVG/PDF and metrics as CSV.
    assert not QImage(str(tab.export_plots(tmp_path / "plots.png"))).isNull()
    assert tab.export_plots(tmp_path / "plots.svg").read_text().startswith("<?xml")
    assert tab.export_plots(tmp_path / "plots.pdf").read_bytes().startswith(b"%PDF")
    csv_text = tab.export_metrics(tmp_path / "metrics.csv").read_text()
    assert csv_text.count("\nrun 1,step,") == len(history.step_loss)


def test_invalid_fields_keep_start_disabled(tab):
    """Issue 9 case 10: batch 0, epochs -1, learning rate "abc" keep Start disabled."""
    small_config(tab)
    assert tab.controls.start_button.isEnabled()
    for name, text in (("batch_size", "0"), ("num_epochs", "-1"), ("learning_rate", "abc")):
        tab.form.set_field(name, text)
        assert not tab.controls.start_button.isEnabled()
        assert name in tab.form.errors()
        assert "border" in tab.form.edits[name].styleSheet()
    assert "Batch size" in tab.controls.start_button.toolTip()  # its label, not batch_size
    tab.controls.start_button.click()
    assert len(tab.runs) == 0 and not tab.is_training()
    tab.form.set_field("batch_size", "20")
    tab.form.set_field("num_epochs", "2")
    assert not tab.controls.start_button.isEnabled()  # the learning rate is still "abc"
    tab.form.set_field("learning_rate", "1e-3")
    assert tab.controls.start_button.isEnabled() and tab.form.errors() == {}


def test_stop_mid_epoch_within_one_batch_and_start_twice(tab, qtbot, monkeypatch):
    """Issue 9 case 11: Stop mid-epoch stops within one batch; Start twice makes one worker.

    The trainer is held inside step STOP_AT (in epoch 2) until Stop has been clicked, so
    the click lands mid-epoch, mid-batch, deterministically."""
    import threading

    import nets.mlp.train as mlp_train

    stop_at = 150
    reached, proceed = threading.Event(), threading.Event()
    calls, late_steps = [], []
    real_step = mlp_train.training_step

    def counting_step(*args, **kwargs):
        worker = tab._train_worker
        if worker is not None and worker.token.stop_requested():
            late_steps.append(len(calls))  # a step begun after Stop was pressed
        calls.append(1)
        if len(calls) == stop_at:
            reached.set()
            proceed.wait(10)
        return real_step(*args, **kwargs)

    monkeypatch.setattr(mlp_train, "training_step", counting_step)
    small_config(tab, batch_size="1", num_epochs="200")
    tab.data_panel.load()
    qtbot.waitUntil(lambda: tab.data_panel.dataset_is_current(), timeout=10_000)
    steps_per_epoch = len(tab.data_panel.dataset.y_train)  # batch size 1
    assert steps_per_epoch < stop_at < 2 * steps_per_epoch
    tab.controls.start_button.click()
    tab.controls.start_button.click()  # ignored: Start is disabled while running
    tab.start_training()  # even called directly, no second run
    assert len(tab.runs) == 1
    run = tab.runs.runs()[0]
    qtbot.waitUntil(reached.is_set, timeout=10_000)
    assert len([w for w in tab.context.workers.running() if w.name == "mlp-train"]) == 1
    with qtbot.waitSignal(tab.training_done, timeout=5_000):
        tab.controls.stop_button.click()
        proceed.set()  # the batch in progress finishes; no other one starts
    assert late_steps == []
    assert run.status == "stopped"
    ended = run.payload.ended
    assert isinstance(ended, Stopped) and ended.step == stop_at and ended.epochs_done == 1
    assert run.payload.model is not None  # a stopped run keeps its model
    assert tab.controls.state == "idle" and tab.controls.start_button.isEnabled()
    assert all(w.name != "mlp-train" for w in tab.context.workers.running())


def test_pause_resume(tab, qtbot):
    small_config(tab, batch_size="1", num_epochs="100")
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: len(tab.runs) == 1 and tab.runs.runs()[0].metrics.num_steps > 2)
    run = tab.runs.runs()[0]
    tab.controls.pause_button.click()
    assert run.status == "paused" and tab.controls.pause_button.text() == "&Resume"
    tab.controls.pause_button.click()
    assert run.status == "running"
    with qtbot.waitSignal(tab.training_done, timeout=5_000):
        tab.controls.pause_button.click()
        tab.controls.stop_button.click()  # Stop works while paused
    assert run.status == "stopped"


def test_diverging_run_is_marked_and_explained(tab, qtbot):
    run, status = train_once(tab, qtbot, learning_rate="1e6", weight_scale="10")
    assert status == "finished"
    assert run.status == "diverged" and "diverged at step" in run.reason
    assert "diverged" in tab.status_label.text()
    assert tab.status_label.styleSheet()  # shown as an error
    assert run.payload.model is not None
    assert all(np.all(np.isfinite(v)) for v in run.payload.model.parameters().values())


def test_close_during_training_asks_then_discard_stops_the_worker(window, tab, qtbot, monkeypatch):
    asked = []
    monkeypatch.setattr(
        "gui.dialogs.ask",
        lambda *a, **k: asked.append(a[2]) or QMessageBox.StandardButton.Discard,
    )
    small_config(tab, batch_size="1", num_epochs="500")
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: len(tab.runs) == 1 and tab.runs.runs()[0].metrics.num_steps > 0)
    import time

    start = time.perf_counter()
    window.close()
    assert time.perf_counter() - start < 1.0
    assert window.workers.running() == []
    assert asked == [
        "Two-layer net: training is running; 1 run is not saved.\nSave it before you quit?"
    ]


def test_missing_dataset_offers_download_that_fails_clearly(tab, qtbot, tmp_path, monkeypatch):
    from nets.errors import DownloadError

    def offline(spec, *, progress=None, cancel=None):
        progress(0, 100, "connecting")
        raise DownloadError("could not reach www.cs.toronto.edu: no network")

    monkeypatch.setattr("nets.data.download_dataset", offline)
    panel = tab.data_panel
    panel.set_source("cifar10", tmp_path)
    qtbot.waitUntil(lambda: panel.info is not None, timeout=10_000)
    assert not panel.info.found and "Not found" in panel.status_label.text()
    assert not panel.download_button.isHidden() and not tab.controls.start_button.isEnabled()
    with qtbot.waitSignal(panel.busy_changed, timeout=10_000, check_params_cb=lambda b: not b):
        panel.download_button.click()
    assert "no network" in panel.status_label.text()


def test_download_cancel(tab, qtbot, tmp_path, monkeypatch):
    import threading

    from nets.errors import Cancelled

    started = threading.Event()

    def slow(spec, *, progress=None, cancel=None):
        started.set()
        while not cancel():
            progress(1, 100, "downloading")
            threading.Event().wait(0.01)
        raise Cancelled("download cancelled")

    monkeypatch.setattr("nets.data.download_dataset", slow)
    panel = tab.data_panel
    panel.set_source("cifar10", tmp_path)
    qtbot.waitUntil(lambda: panel.info is not None, timeout=10_000)
    panel.download_button.click()
    qtbot.waitUntil(started.is_set, timeout=5_000)
    assert not panel.cancel_button.isHidden()
    with qtbot.waitSignal(panel.busy_changed, timeout=5_000, check_params_cb=lambda b: not b):
        panel.cancel_button.click()
    assert "cancelled" in panel.status_label.text().lower()


def test_gradient_check_panel(tab, qtbot):
    panel = tab.gradcheck
    with qtbot.waitSignal(panel.finished, timeout=20_000) as blocker:
        panel.run_button.click()
    passed, total = blocker.args
    assert total == panel.table.rowCount() > 5 and passed == total
    assert {panel.table.item(r, 4).text() for r in range(total)} == {"pass"}
    assert "of" in panel.summary.text()


def test_corrupt_checkpoint_is_refused_with_a_message(tab, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "gui.dialogs.show_error", lambda parent, title, message, detail="": shown.append(message)
    )
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with qtbot.waitSignal(tab.job_done, timeout=10_000):
        assert tab.load_checkpoint(bad)
    assert len(tab.runs) == 0 and "corrupted" in shown[0]


_CLOSE_SCRIPT = r"""
import sys, time
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QMessageBox
import gui.dialogs
from gui.app import make_application
from gui.main_window import MainWindow
from tests.gui.mlp_tab_setup import small_config

app = make_application([])
# Quitting mid-run asks Save/Discard/Cancel: answer Discard.
gui.dialogs.ask = lambda *args, **kwargs: QMessageBox.StandardButton.Discard
window = MainWindow(remember=False)
window.show()
tab = window.select_tab("mlp")
tab.data_panel.set_source("folder", sys.argv[1])
state = {"started": False}

def poll():
    if not state["started"] and tab.controls.start_button.isEnabled():
        small_config(tab, batch_size="1", num_epochs="1000")
        tab.controls.start_button.click()
        state["started"] = True
    elif state["started"] and len(tab.runs) and tab.runs.runs()[0].metrics.num_steps > 3:
        timer.stop()
        start = time.perf_counter()
        window.close()
        print(f"closed-in {time.perf_counter() - start:.3f}", flush=True)
        print(f"running-workers {len(window.workers.running())}", flush=True)

timer = QTimer()
timer.timeout.connect(poll)
timer.start(20)
sys.exit(app.exec())
"""


def test_closing_mid_training_exits_0_within_1s(data_root):
    """Issue 9 case 11 in a real process: close mid-training, exit code 0, no QThread
    warning, the worker stopped within 1 s."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", _CLOSE_SCRIPT, str(data_root)],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=root,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(root)},
    )
    assert result.returncode == 0, result.stderr
    assert "QThread" not in result.stderr and "Traceback" not in result.stderr
    lines = dict(line.split() for line in result.stdout.splitlines() if line.strip())
    assert float(lines["closed-in"]) < 1.0
    assert lines["running-workers"] == "0"


def test_load_right_after_choosing_a_folder_waits_for_the_probe(window, qtbot, data_root):
    tab = window.select_tab("mlp")
    panel = tab.data_panel
    panel.set_source("folder", data_root)
    assert panel.is_busy()  # the probe is running
    with qtbot.waitSignal(panel.dataset_ready, timeout=10_000):
        assert panel.load()
    assert panel.dataset_is_current() and not panel.is_busy()
    assert tab.controls.start_button.isEnabled()


def test_batched_steps_keep_order_and_flush_before_other_events():
    from gui.jobs import Batch, batched

    ticks = iter(range(0, 1000, 10))  # the clock advances 10 ms per call
    events = [1, 2, 3, "epoch", 4, 5, 6, 7, 8, "end", 9]
    out = list(
        batched(iter(events), lambda e: isinstance(e, int), 0.025, lambda: next(ticks) / 1000)
    )
    flat = []
    for item in out:
        flat.extend(item.items if isinstance(item, Batch) else [item])
    assert flat == events
    batches = [b for b in out if isinstance(b, Batch)]
    assert len(batches) < 9 and max(len(b.items) for b in batches) > 1  # steps were gathered
    assert all(len(b.items) <= 3 for b in batches)  # ...but at most every 25 ms
    assert isinstance(out[-1], Batch) and out[-1].items == (9,)


def test_the_estimate_stays_put_from_probe_to_load_to_a_short_run(tab, qtbot):
    """Issue 13 defect 10: the same settings read the same estimate at every moment."""
    small_config(tab)
    before = tab.form.estimate_text()
    assert "per epoch" in before
    with qtbot.waitSignal(tab.data_panel.dataset_ready, timeout=10_000):
        tab.data_panel.load()
    assert tab.form.estimate_text() == before
    run, status = train_once(tab, qtbot)  # epochs of milliseconds: mostly overhead
    assert run.status == "finished"
    assert tab.form.estimate_text() == before


def test_a_flood_of_tiny_epochs_reaches_the_gui_in_few_deliveries(tab, qtbot, monkeypatch):
    """Issue 13: one step per epoch and hundreds of epochs a second used to cross to the
    GUI thread as one signal per step and per evaluation, each redrawing the runs list,
    the plots and the weight images, which froze the window. Now the worker batches them
    (about 20 deliveries a second), and the list and the weights view follow at most once
    per delivery; nothing is lost."""
    import time

    deliveries = []
    original = tab._on_train_item
    monkeypatch.setattr(
        tab, "_on_train_item", lambda rid, item: (deliveries.append(item), original(rid, item))
    )
    changed = []
    tab.runs.dataChanged.connect(lambda *_: changed.append(1))
    weights = []
    show_weights = tab.result_views.show_weights
    monkeypatch.setattr(
        tab.result_views, "show_weights", lambda r: (weights.append(1), show_weights(r))
    )
    epochs = 200
    start = time.perf_counter()
    run, status = train_once(
        tab, qtbot, timeout=120_000, num_train="20", batch_size="20", num_epochs=str(epochs)
    )
    seconds = time.perf_counter() - start
    assert status == "finished"
    assert run.metrics.num_steps == epochs  # every step is plotted...
    assert len(run.payload.history.epoch_val_acc) == epochs
    bound = 10 + 25 * seconds  # ...but the GUI hears about them about 20 times a second
    assert len(deliveries) < min(bound, epochs), (len(deliveries), seconds)
    assert len(changed) < min(bound, epochs)
    assert len(weights) < min(bound, epochs)
    from gui.training.runs import format_percent

    assert run.result == f"val {format_percent(run.payload.history.epoch_val_acc[-1])}"


def test_the_preset_label_finds_a_preset_again_when_the_values_match_it(window):
    """Issue 13 defect 15: as the CNN tab does, values typed back to a preset's name it."""
    form = window.select_tab("mlp").form
    form.apply_preset("tuned")
    assert "<b>tuned</b>" in form.preset_label.text()
    old = form.edits["hidden_dim"].text()
    form.set_field("hidden_dim", "77")
    assert form.preset_label.text() == "custom settings"
    form.set_field("hidden_dim", old)
    assert "<b>tuned</b>" in form.preset_label.text()
    for name, edit in form.edits.items():  # every field typed as the seed's defaults
        from gui.mlp_tab.form import format_value
        from nets.mlp.config import PRESETS

        edit.setText(format_value(getattr(PRESETS["seed-default"], name)))
    assert "<b>seed-default</b>" in form.preset_label.text()
    form.set_field("learning_rate", "abc")  # an invalid field matches nothing
    assert form.preset_label.text() == "custom settings"


def test_a_tiny_estimate_reads_under_a_millisecond_not_zero():
    from gui.mlp_tab.form import _seconds

    assert _seconds(0.0002) == "under 1 ms"
    assert _seconds(0.004) == "4 ms" and _seconds(3.0) == "3.0 s" and _seconds(600) == "10.0 min"
