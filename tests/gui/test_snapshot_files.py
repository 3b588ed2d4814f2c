"""Snapshots in the training tabs beyond the timeline: the memory estimate before a run
counts the snapshots kept in memory, and File > Open Snapshot opens what
``--snapshot-dir`` wrote (views, timeline, Fork from here), refusing bad files in a line."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui import dialogs
from nets.snapshots import load_snapshot
from tests.gui import test_training_experiments as experiments

# The experiments tests' fixtures: the window's numpy tab on a tiny image folder.
data_root, tab = experiments.data_root, experiments.tab


def test_the_numpy_estimate_counts_the_snapshots_kept_in_memory(tab, qtbot):
    tab.form.set_field("num_epochs", "50")
    tab.form.set_field("batch_size", "4")
    qtbot.waitUntil(lambda: "snapshots" in tab.form.estimate_label.toolTip(), timeout=10_000)
    before = tab.form.estimate_label.toolTip()
    tab.snapshot_control.timeline.every_spin.setValue(1)  # a snapshot after every step too
    assert tab.form.estimate_label.toolTip() != before
    assert tab.snapshot_control.plan().memory_budget > 0


def test_the_cnn_estimate_counts_the_snapshots_kept_in_memory(tab, qtbot):
    cnn = tab.window().select_tab("cnn")
    qtbot.waitUntil(lambda: "snapshots" in cnn.memory_label.text(), timeout=20_000)


# -- File > Open snapshot ---------------------------------------------------------------


def _cli_snapshots(data_root, folder, *extra: str):
    import main

    args = ["mlp", "train", "--data", f"folder:{data_root}", "--hidden-dim", "16",
            "--epochs", "3", "--batch-size", "20", "--lr", "0.05", "--momentum", "0.9",
            "--snapshot-dir", str(folder), *extra]  # fmt: skip
    assert main.main(args) == 0
    return folder


def _open(tab, qtbot, path):
    with qtbot.waitSignal(tab.job_done, timeout=30_000):
        assert tab.open_snapshot(path)


def test_a_cli_snapshot_opens_with_its_run_and_forks(tab, qtbot, data_root, tmp_path):
    snaps = _cli_snapshots(data_root, tmp_path / "snaps")
    assert "Open Snapshot…" in [a.text().replace("&", "") for a in tab.menu_actions("File") if a]
    chosen = load_snapshot(snaps / "epoch-2")
    latest = load_snapshot(snaps / "epoch-3")
    with qtbot.waitSignal(tab.data_panel.dataset_ready, timeout=10_000):
        tab.data_panel.load()  # the data it was trained on, for the confusion matrix
    assert tab.accepts_path(snaps / "epoch-2")  # a drop or --open goes here
    _open(tab, qtbot, snaps / "epoch-2")
    run = tab.runs.run(tab.selected_run_id())
    assert run is not None and run.status == "loaded" and run.name == "snaps"
    # its timeline: the run's three snapshots, the chosen one selected
    assert [e for e, _ in tab.snapshots_of(run.run_id)] == [1, 2, 3]
    snap = tab.selected_snapshot()
    assert snap is not None and snap.step == chosen.step
    np.testing.assert_array_equal(snap.weights()["W1"], chosen.weights()["W1"])
    # the run's model is the latest snapshot's; the views show the chosen one
    np.testing.assert_array_equal(run.payload.model.parameters()["W1"], latest.weights()["W1"])
    assert "after epoch 2" in tab.result_views.weights_label.text()
    qtbot.waitUntil(lambda: tab.confusion_view.counts().size > 0, timeout=10_000)
    val2 = latest.arrays["history/epoch_val_acc"][1]
    assert tab.confusion_view.accuracy() == pytest.approx(val2)
    # the curves so far are the run's history
    tab.plots.refresh()
    _, losses = tab.plots.loss.curve_data(run.run_id, 0)
    np.testing.assert_allclose(losses, latest.arrays["history/step_loss"])
    # the Network graph runs on the chosen snapshot's weights
    graph = tab.network_graph
    graph.picker.set_source("run")
    plan = graph._weights_plan()
    assert "its epoch-2 snapshot" in plan.text
    np.testing.assert_array_equal(plan.model["W1"], chosen.weights()["W1"])
    # Fork from here: the fork continues from epoch 2 and retraces the CLI run
    qtbot.mouseClick(tab.snapshot_control.timeline.fork_button, Qt.MouseButton.LeftButton)
    assert tab.snapshot_control.banner.isVisibleTo(tab)
    with qtbot.waitSignal(tab.training_done, timeout=30_000) as done:
        qtbot.mouseClick(tab.controls.start_button, Qt.MouseButton.LeftButton)
    fork = tab.runs.run(done.args[0])
    assert done.args[1] == "finished", tab.status_label.text()
    tab.plots.refresh()
    fx, fy = tab.plots.loss.curve_data(fork.run_id, 0)
    assert fx[0] == chosen.step  # the branch starts at the parent's point
    parent = latest.arrays["history/step_loss"]
    np.testing.assert_array_equal(fy[1:], parent[chosen.step :])


def test_a_snapshot_file_is_read_once_per_selection(tab, qtbot, data_root, tmp_path, monkeypatch):
    import nets.snapshots as snapshots

    snaps = _cli_snapshots(data_root, tmp_path / "snaps")
    _open(tab, qtbot, snaps / "epoch-3")
    run_id = tab.selected_run_id()
    reads = []
    real = snapshots.load_snapshot
    monkeypatch.setattr(snapshots, "load_snapshot", lambda path: reads.append(path) or real(path))
    _epoch, step = tab.snapshots_of(run_id)[0]
    tab.select_snapshot(run_id, step)  # the tab's views show it
    picked = [tab.selected_snapshot() for _ in range(3)]  # the pages and Fork ask again
    assert all(s is picked[0] for s in picked) and picked[0].step == step
    assert [p.name for p in reads] == ["epoch-1"]


def test_bad_snapshots_get_one_line_naming_the_file(tab, qtbot, tmp_path):
    before = len(tab.runs)
    bad = tmp_path / "epoch-1"
    bad.write_text("not a snapshot\n")
    empty = tmp_path / "nothing"
    empty.mkdir()
    for path, words in ((bad, "epoch-1"), (empty, "holds no snapshots"),
                        (tmp_path / "missing", "missing")):  # fmt: skip
        _open(tab, qtbot, path)
        text = tab.status_label.text()
        assert words in text and "\n" not in text and "Traceback" not in text, text
        assert dialogs.shown_errors[-1].startswith("Cannot open the snapshot: ")
    assert len(tab.runs) == before
    assert bad.read_text() == "not a snapshot\n"  # nothing lost


def test_the_cnn_tab_opens_a_cnn_snapshot_and_refuses_a_numpy_one(tab, qtbot, data_root, tmp_path):
    import torch

    from nets.cnn.config import TrainConfig as CnnConfig
    from nets.cnn.train import train as cnn_train
    from nets.snapshots import SnapshotPlan, SnapshotStore, kept
    from tests.nets.test_cnn_forks import ARCH
    from tests.nets.test_cnn_train import Images, quadrants

    torch.set_num_threads(1)
    Xtr, ytr = quadrants(80, 0)
    Xva, yva = quadrants(40, 1)
    data = Images(Xtr, ytr, Xva, yva, Xva, yva, ("tl", "tr", "bl", "br"))
    config = CnnConfig(optimizer="adam", lr=0.01, batch_size=20, epochs=2, num_threads=1)
    folder = tmp_path / "cnn-snaps"
    store = SnapshotStore(0, folder, extra_state={"cli": {"data": "quadrants"}})
    list(kept(cnn_train(ARCH, data, config, snapshots=SnapshotPlan()), store))
    window = tab.window()
    cnn = window.select_tab("cnn")
    window.select_tab("mlp")
    # Dropped (or --open) with the numpy tab in front: the CNN tab takes it.
    assert not tab.accepts_path(folder) and cnn.accepts_path(folder)
    with qtbot.waitSignal(cnn.job_done, timeout=30_000):
        assert window.open_paths([folder])  # a folder: its latest snapshot is chosen
    assert window.current_tab() is cnn
    run = cnn.runs.run(cnn.selected_run_id())
    assert (
        run is not None and run.payload.trained.iterations == load_snapshot(folder / "epoch-2").step
    )
    assert [e for e, _ in cnn.snapshots_of(run.run_id)] == [1, 2]
    first = load_snapshot(folder / "epoch-1")
    cnn.snapshot_control.select(run.run_id, first.step)
    assert cnn.selected_snapshot().step == first.step
    at = run.payload.at_snapshot  # the Inspect page's model: epoch 1's weights
    weights = {k: v.detach().numpy() for k, v in at.model.state_dict().items()}
    for k, v in first.weights().items():
        np.testing.assert_array_equal(weights[k], v)
    qtbot.mouseClick(cnn.snapshot_control.timeline.fork_button, Qt.MouseButton.LeftButton)
    assert cnn.snapshot_control.banner.isVisibleTo(cnn)
    assert cnn.snapshot_control.pending_fork().snapshot.step == first.step
    # the numpy tab refuses it, naming the file and the tab to use
    mlp = tab.window().select_tab("mlp")
    _open(mlp, qtbot, folder / "epoch-1")
    assert "epoch-1 is a snapshot of a cnn run: open it in the CNN tab" in mlp.status_label.text()
