"""Snapshots in the training tabs beyond the timeline: the memory estimate before a run
counts the snapshots kept in memory."""

from __future__ import annotations

from tests.gui.test_training_experiments import data_root, tab  # noqa: F401


def test_the_numpy_estimate_counts_the_snapshots_kept_in_memory(tab, qtbot):  # noqa: F811
    tab.form.set_field("num_epochs", "50")
    tab.form.set_field("batch_size", "4")
    qtbot.waitUntil(lambda: "snapshots" in tab.form.estimate_label.toolTip(), timeout=10_000)
    before = tab.form.estimate_label.toolTip()
    tab.snapshot_control.timeline.every_spin.setValue(1)  # a snapshot after every step too
    assert tab.form.estimate_label.toolTip() != before
    assert tab.snapshot_control.plan().memory_budget > 0


def test_the_cnn_estimate_counts_the_snapshots_kept_in_memory(tab, qtbot):  # noqa: F811
    cnn = tab.window().select_tab("cnn")
    qtbot.waitUntil(lambda: "snapshots" in cnn.memory_label.text(), timeout=20_000)
