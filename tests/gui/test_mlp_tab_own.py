"""The Two-layer net tab training the user's own files ("Implementation: my files...")."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest
from PySide6.QtCore import Qt

from gui.main_window import MainWindow
from tests.gui.mlp_tab_setup import make_folder, small_config

FIXTURES = Path(__file__).resolve().parents[1] / "nets" / "homework_fixtures" / "neuralnet"


@pytest.fixture
def tab(qtbot, tmp_path):
    window = MainWindow(remember=False)
    qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
    window.show()
    tab = window.select_tab("mlp")
    tab.data_panel.set_source("folder", make_folder(tmp_path / "data"))
    qtbot.waitUntil(lambda: tab.data_panel.info is not None, timeout=10_000)
    yield tab
    window.shutdown()


def _train(tab, qtbot):
    small_config(tab)
    with qtbot.waitSignal(tab.training_done, timeout=60_000) as blocker:
        qtbot.mouseClick(tab.controls.start_button, Qt.MouseButton.LeftButton)
    run_id, status = blocker.args
    return tab.runs.run(run_id), status


def test_training_your_own_files_fills_the_same_views(tab, qtbot):
    assert tab.implementation.use_folder(FIXTURES)
    run, status = _train(tab, qtbot)
    assert status == "finished" and run.status == "finished", run.status_text
    assert run.settings["implementation"] == str(FIXTURES)
    history = run.payload.history
    assert len(history.step_loss) > 0 and len(history.epoch_val_acc) == 3
    tab.plots.refresh()
    _, losses = tab.plots.loss.curve_data(run.run_id, 0)
    np.testing.assert_allclose(losses, history.step_loss)
    assert tab.weights_view.tile_count() == 16  # the user's W1, one tile per hidden unit
    model = run.payload.model
    assert model.params["W1"].shape == (tab.data_panel.dataset.input_dim, 16)
    assert tab.confusion_view.counts().sum() == len(tab.data_panel.dataset.y_val)


def test_your_model_failing_the_gradient_check_does_not_train(tab, qtbot, tmp_path, monkeypatch):
    shown = []
    monkeypatch.setattr(
        "gui.training.run_events.dialogs.show_error", lambda *args: shown.append(args)
    )
    folder = tmp_path / "mine"
    shutil.copytree(FIXTURES, folder)
    net = folder / "two_layer_net.py"
    net.write_text(net.read_text().replace("relu_backward(grad_a, cache2)", "grad_a"))
    assert tab.implementation.use_folder(folder)
    run, _status = _train(tab, qtbot)
    assert run.status == "failed"
    assert "gradient check of your TwoLayerNet fails for" in shown[0][2]
    assert "training did not start" in shown[0][2]
    assert len(run.payload.history.step_loss if run.payload.history else ()) == 0
