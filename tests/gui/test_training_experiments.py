"""The snapshot timeline and "Fork from here" in the training tab: every view follows the
selected epoch, and an unchanged fork draws a branch that retraces its parent exactly."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QPoint, Qt

from gui.main_window import MainWindow
from nets.cnn.arch import Linear
from tests.gui import test_cnn_tab as cnn_tests
from tests.gui.mlp_tab_setup import make_folder
from tests.gui.test_cnn_tab import TINY_ARCH, tiny_folder  # noqa: F401
from tests.gui.test_cnn_tab import _train as cnn_train
from tests.gui.test_mlp_tab import train_once


def cnn_tab(qtbot, window, folder):
    """The CNN tab test module's set-up (its ``tab`` fixture) as a plain call."""
    return cnn_tests.tab.__wrapped__(qtbot, window, folder)


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    return make_folder(tmp_path_factory.mktemp("forkdata"))


@pytest.fixture
def tab(qtbot, data_root):
    window = MainWindow(remember=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.show()
    tab = window.select_tab("mlp")
    tab.data_panel.set_source("folder", data_root)
    qtbot.waitUntil(lambda: tab.data_panel.info is not None, timeout=10_000)
    yield tab
    window.shutdown()
    window.close()


def test_timeline_selects_an_epoch_for_every_view_and_forks_a_branch(tab, qtbot):
    run, status = train_once(tab, qtbot, num_epochs="4", momentum="0.9")
    assert status == "finished"
    marks = tab.snapshots_of(run.run_id)
    assert [e for e, _ in marks] == [1, 2, 3, 4]
    timeline = tab.snapshot_control.timeline
    assert not timeline.fork_button.isEnabled()
    # a click on the strip's second mark selects epoch 2's snapshot
    strip = timeline.strip
    x = int(strip._x(1))
    with qtbot.waitSignal(tab.snapshot_selected) as blocker:
        qtbot.mouseClick(strip, Qt.MouseButton.LeftButton, pos=QPoint(x, strip.height() // 2))
    assert blocker.args == [run.run_id, marks[1][1]]
    snap = tab.selected_snapshot()
    assert snap is not None and snap.epoch == 2 and snap.step == marks[1][1]
    assert "epoch 2" in timeline.info.text() and timeline.fork_button.isEnabled()
    assert tab.insight.inside._step == snap.step  # the Inside view's histograms: that step
    # the weights view shows the snapshot's weights, the confusion matrix follows
    assert "after epoch 2" in tab.result_views.weights_label.text()
    final_w1 = run.payload.model.parameters()["W1"]
    assert not np.array_equal(snap.weights()["W1"], final_w1)
    # the validation confusion matrix of the epoch-2 model: its accuracy is epoch 2's
    val2 = run.payload.history.epoch_val_acc[1]
    qtbot.waitUntil(lambda: tab.confusion_view.counts().size > 0, timeout=10_000)
    assert tab.confusion_view.accuracy() == pytest.approx(val2)
    assert tab.result_views._record.analysis is not run.payload.analysis  # recomputed
    # "Fork from here" fills the form and arms Start; unchanged settings retrace the parent
    tab.form.set_field("learning_rate", "0.5")
    qtbot.mouseClick(timeline.fork_button, Qt.MouseButton.LeftButton)
    assert tab.snapshot_control.banner.isVisibleTo(tab)
    assert tab.form.config().learning_rate == run.payload.config.learning_rate
    with qtbot.waitSignal(tab.training_done, timeout=30_000) as done:
        qtbot.mouseClick(tab.controls.start_button, Qt.MouseButton.LeftButton)
    fork = tab.runs.run(done.args[0])
    assert done.args[1] == "finished" and "fork" in fork.name
    assert not tab.snapshot_control.banner.isVisibleTo(tab)
    tab.plots.refresh()
    px, py = tab.plots.loss.curve_data(run.run_id, 0)
    fx, fy = tab.plots.loss.curve_data(fork.run_id, 0)
    assert fx[0] == snap.step  # the branch starts at the parent's point
    np.testing.assert_array_equal(fy, py[snap.step - 1 :])  # and retraces it exactly
    ax, _ = tab.plots.accuracy.curve_data(fork.run_id, 1)
    assert ax.tolist() == [2, 3, 4]
    assert fork.settings["forked from"] == f"{run.name}, epoch 2"
    # "Latest" goes back to the run's own model
    tab.select_snapshot(run.run_id, marks[0][1])
    with qtbot.waitSignal(tab.snapshot_selected) as blocker:
        qtbot.mouseClick(timeline.latest_button, Qt.MouseButton.LeftButton)
    assert blocker.args[1] == -1 and tab.selected_snapshot() is None


def test_export_runs_to_tensorboard_writes_every_checked_run(tab, qtbot, tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    tab.insight.every_spin.setValue(5)
    first, _ = train_once(tab, qtbot)
    second, _ = train_once(tab, qtbot, learning_rate="0.05")
    hidden, _ = train_once(tab, qtbot, num_epochs="1")
    tab.runs.set_visible(hidden.run_id, False)
    assert tab.export_tb_action in tab.training_file_actions()
    with qtbot.waitSignal(tab.job_done, timeout=60_000):
        assert tab.export_tensorboard(str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run_1", "run_2"], tab.status_label.text()
    assert "Exported 2 runs" in tab.status_label.text()
    acc = EventAccumulator(str(tmp_path / "run_2"), size_guidance={"scalars": 0})
    acc.Reload()
    losses = [s.value for s in acc.Scalars("loss/step")]
    np.testing.assert_allclose(losses, second.payload.history.step_loss, rtol=1e-6)
    val = [s.value for s in acc.Scalars("accuracy/val")]
    np.testing.assert_allclose(val, second.payload.history.epoch_val_acc, rtol=1e-6)
    assert any(t.endswith("/weights") for t in acc.Tags()["histograms"])
    assert "_hparams_/session_start_info" in acc.summary_metadata


def test_cnn_tab_forks_from_an_epoch_and_inspects_its_snapshot(qtbot, tiny_folder):  # noqa: F811
    window = MainWindow(remember=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    cnn = cnn_tab(qtbot, window, tiny_folder)
    cnn.settings_panel.epochs_field.set_value(3)
    parent = cnn_train(qtbot, cnn)
    assert parent.status == "finished"
    marks = cnn.snapshots_of(parent.run_id)
    assert [e for e, _ in marks] == [1, 2, 3]
    cnn.select_snapshot(parent.run_id, marks[0][1])
    at = parent.payload.at_snapshot
    assert at is not None and at.iterations == marks[0][1]
    key = next(iter(cnn.selected_snapshot().weights()))
    np.testing.assert_array_equal(
        at.model.state_dict()[key].numpy(), cnn.selected_snapshot().weights()[key]
    )
    assert "snapshot" in cnn.inspect.model_combo.itemText(0)
    cnn.arch_model.replace_all(TINY_ARCH[:-1] + [Linear(3)], "other", "other")
    qtbot.mouseClick(cnn.snapshot_control.timeline.fork_button, Qt.MouseButton.LeftButton)
    child = cnn_train(qtbot, cnn)  # the snapshot's architecture, whatever the editor holds
    assert child.status == "finished" and child.settings["forked from"].endswith("epoch 1")
    cnn.plots.refresh()
    _, parent_loss = cnn.plots.loss.curve_data(parent.run_id, 0)
    cx, child_loss = cnn.plots.loss.curve_data(child.run_id, 0)
    assert cx[0] == marks[0][1]
    np.testing.assert_allclose(child_loss, parent_loss[marks[0][1] - 1 :], atol=1e-6)
    window.shutdown()


def test_snapshots_every_n_steps_are_kept_and_selectable(tab, qtbot):
    tab.snapshot_control.timeline.every_spin.setValue(4)
    run, _ = train_once(tab, qtbot, num_epochs="2")
    steps = tab.snapshot_control.store_of(run).steps()
    spe = run.payload.started.steps_per_epoch
    mids = [s for s, _, end in steps if not end]
    assert mids and all(s % 4 == 0 and s % spe for s in mids)
    assert [e for e, _ in tab.snapshots_of(run.run_id)] == [1, 2]  # the strip: epochs only
    tab.select_snapshot(run.run_id, mids[0])
    snap = tab.selected_snapshot()
    assert snap.step == mids[0] and not snap.end_of_epoch
    assert tab.snapshot_control.timeline.info.text() == f"step {mids[0]:,}"
    assert f"at step {mids[0]}, in epoch 1" in tab.result_views.weights_label.text()
