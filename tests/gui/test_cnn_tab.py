"""The CNN tab with pytest-qt on a tiny generated image folder: the architecture editor,
validation that keeps Start disabled, a full train -> test once -> save/load cycle,
stopping, closing mid-run, exports, and bad checkpoints (issue 7; issue 9 cases 3, 10,
11, 12)."""

from __future__ import annotations

import ast
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QModelIndex, Qt
from PySide6.QtGui import QGuiApplication
from PySide6.QtWidgets import QMessageBox

from gui.main_window import MainWindow
from nets.cnn.arch import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU

ROOT = Path(__file__).resolve().parents[2]
CLASSES = ("horizontal", "vertical", "diagonal")
SIZE = 12
TINY_ARCH = [Conv2d(4, 3, 1, 1), ReLU(), MaxPool2d(2), Flatten(), Linear(len(CLASSES))]


def _pattern(k: int, rng: np.random.Generator) -> np.ndarray:
    img = rng.integers(0, 60, (SIZE, SIZE)).astype(np.uint8)
    if k == 0:
        img[::3, :] = 255
    elif k == 1:
        img[:, ::3] = 255
    else:
        img[np.eye(SIZE, dtype=bool)] = 255
        img[np.eye(SIZE, dtype=bool)[:, ::-1]] = 255
    return img


@pytest.fixture(scope="module")
def tiny_folder(tmp_path_factory) -> Path:
    """DIR/train/<class>/ (40 per class) and DIR/test/<class>/ (10 per class), 12x12 PNGs."""
    root = tmp_path_factory.mktemp("cnn_tiny")
    rng = np.random.default_rng(0)
    for split, n in (("train", 40), ("test", 10)):
        for k, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True)
            for i in range(n):
                Image.fromarray(_pattern(k, rng)).save(folder / f"{i}.png")
    return root


@pytest.fixture
def window(qtbot):
    win = MainWindow(remember=False)
    # Shut down before pytest-qt closes it: closing with unsaved runs would ask first.
    qtbot.addWidget(win, before_close_func=lambda w: w.shutdown())
    yield win
    win.shutdown()


@pytest.fixture
def tab(qtbot, window, tiny_folder):
    """The CNN tab set to the tiny folder, a tiny architecture and a short run."""
    cnn = window.select_tab("cnn")
    cnn.data_panel.set_spec(f"folder:{tiny_folder}")
    cnn.data_panel.size_field.set_value(SIZE)
    cnn.data_panel.probe_now()
    qtbot.waitUntil(lambda: cnn.data_panel.info is not None, timeout=10000)
    cnn.data_panel.val_field.set_value(30)
    cnn.data_panel.train_field.set_value(90)
    cnn.arch_model.replace_all(TINY_ARCH, "tiny", "tiny")
    s = cnn.settings_panel
    s.optimizer_combo.setCurrentIndex(s.optimizer_combo.findData("adam"))
    s.lr_field.set_value(0.01)
    s.batch_field.set_value(16)
    s.epochs_field.set_value(2)
    s.threads_field.set_value(1)
    assert cnn.problems() == []
    return cnn


def _train(qtbot, tab, timeout: int = 30000):
    tab.controls.start_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=timeout)
    return tab.runs.runs()[-1]


def test_constructing_the_tab_does_not_import_torch():
    code = (
        "import sys; from PySide6.QtWidgets import QApplication; app = QApplication([]);"
        "from gui.main_window import MainWindow; w = MainWindow(remember=False);"
        "w.select_tab('cnn'); print('torch' in sys.modules); w.shutdown()"
    )
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"


def test_cnn_is_registered_between_mlp_and_classify(window):
    ids = window.tab_ids()
    assert "cnn" in ids
    for before in ("graph", "mlp"):
        if before in ids:
            assert ids.index(before) < ids.index("cnn")
    if "classify" in ids:
        assert ids.index("cnn") < ids.index("classify")


def test_editing_the_layer_list_updates_the_summary(tab):
    model, editor = tab.arch_model, tab.editor
    params_column = 3

    def params(row):
        return model.data(model.index(row, params_column))

    assert params(0) == f"{4 * 3 * 3 * 3 + 4:,}"
    editor.select_row(0)
    editor.param_widget("out_channels").setValue(8)
    assert params(0) == f"{8 * 27 + 8:,}"
    # The Linear after Flatten now gets 8 * 6 * 6 inputs.
    assert params(4) == f"{8 * 6 * 6 * 3 + 3:,}"
    assert f"{8 * 27 + 8 + 8 * 36 * 3 + 3:,}" in editor.totals_label.text()

    editor.select_row(2)
    editor.add_layer("Dropout")
    assert isinstance(model.layers[3], Dropout)
    assert model.data(model.index(3, 2)) == "8x6x6"
    editor.remove_selected()
    assert len(model.layers) == 5

    # Reorder by drag and drop: drop the ReLU (row 1) below the pooling layer (row 2).
    data = model.mimeData([model.index(1, 0)])
    model.dropMimeData(data, Qt.DropAction.MoveAction, 3, 0, QModelIndex())
    assert [type(x).__name__ for x in model.layers[:3]] == ["Conv2d", "MaxPool2d", "ReLU"]
    assert model.data(model.index(2, 2)) == "8x6x6"
    # ...and back with the buttons; undo restores the previous list.
    editor.select_row(2)
    editor.move_selected(-1)
    assert [type(x).__name__ for x in model.layers[:3]] == ["Conv2d", "ReLU", "MaxPool2d"]
    model.undo_stack.undo()
    assert type(model.layers[1]).__name__ == "MaxPool2d"


def test_a_bad_architecture_disables_start_and_names_the_layer(tab):
    assert tab.controls.start_button.isEnabled()
    # Linear before Flatten gets a feature map.
    tab.arch_model.move_layer(3, 4)
    assert not tab.controls.start_button.isEnabled()
    assert "Ready" not in tab.status_label.text() and "layer 3" in tab.status_label.text()
    message = tab.problems_label.text()
    assert "layer 3 (Linear)" in message and "4x6x6" in message
    assert tab.editor.error_label.isVisibleTo(tab) and "layer 3" in tab.editor.error_label.text()
    assert tab.arch_model.check.bad_index == 3
    # A filter bigger than the image.
    tab.arch_model.undo_stack.undo()
    assert tab.controls.start_button.isEnabled()
    tab.editor.select_row(0)
    tab.editor.param_widget("kernel_size").setValue(20)
    assert not tab.controls.start_button.isEnabled()
    assert "layer 0 (Conv2d)" in tab.problems_label.text()
    assert "12x12" in tab.problems_label.text()
    tab.arch_model.undo_stack.undo()
    # The wrong number of classes at the end.
    tab.arch_model.set_field(4, "out_features", 10)
    assert "3 classes" in tab.problems_label.text()
    assert not tab.controls.start_button.isEnabled()


@pytest.mark.parametrize(
    ("field", "text", "words"),
    [
        ("batch_field", "0", "Batch size"),
        ("epochs_field", "-1", "Epochs"),
        ("lr_field", "abc", "Learning rate"),
        ("lr_field", "0", "Learning rate"),
        ("wd_field", "nan", "Weight decay"),
    ],
)
def test_field_validation_keeps_start_disabled(tab, field, text, words):
    widget = getattr(tab.settings_panel, field)
    good = widget.text()
    widget.setText(text)
    assert not tab.controls.start_button.isEnabled()
    assert words in tab.problems_label.text()
    assert words in tab.controls.start_button.toolTip()
    tab.controls.start_button.click()
    assert not tab.is_busy() and len(tab.runs) == 0
    widget.setText(good)
    assert tab.controls.start_button.isEnabled()


def test_split_sizes_are_checked_against_the_data(tab):
    tab.data_panel.val_field.set_value(120)
    assert "Validation size" in tab.problems_label.text()
    tab.data_panel.val_field.set_value(30)
    tab.data_panel.train_field.set_value(91)
    assert "Train size: at most 90" in tab.problems_label.text()
    tab.data_panel.train_field.set_value(90)
    assert tab.controls.start_button.isEnabled()


def test_the_memory_estimate_guards_a_huge_configuration(tab):
    tab.arch_model.set_field(4, "out_features", 3)
    tab.arch_model.insert_layer(4, Linear(1_000_000))
    tab.arch_model.insert_layer(5, Linear(1_000_000))
    assert not tab.controls.start_button.isEnabled()
    assert "Memory:" in tab.problems_label.text() and "GB" in tab.problems_label.text()


def test_train_finish_test_once_then_warn_and_checkpoint_round_trip(
    qtbot, tab, tmp_path, monkeypatch
):
    run = _train(qtbot, tab)
    assert run.status == "finished", run.reason
    assert run.metrics.num_steps == 2 * math.ceil(90 / 16)
    assert np.isfinite(run.metrics.loss.view()).all()
    assert run.metrics.num_epochs >= 2 and run.result.startswith("val ")
    assert tab.controls.start_button.isEnabled()
    qtbot.waitUntil(lambda: tab.plots.loss.curve_data(run.run_id, 0)[0].size > 0, timeout=3000)

    # Test once: no question the first time.
    asked = []

    def ask(_parent, _title, text, *_args, **_kwargs):
        asked.append(text)
        return QMessageBox.StandardButton.No

    monkeypatch.setattr("gui.dialogs.ask", ask)
    assert tab.evaluate_test()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    assert asked == []
    result = run.payload.test
    assert result is not None and result.n == 30
    assert "Test accuracy" in tab.results.summary.text()
    assert tab.results.confusion.counts().sum() == 30
    assert tab.results.gallery.count() > 0
    wrong = int(
        np.count_nonzero(
            result.labels[result.gallery_index] != result.predictions[result.gallery_index]
        )
    )
    assert tab.results.wrong_marked() == wrong
    assert "test " in run.result

    # A second time: warned; "No" leaves everything as it was.
    assert not tab.evaluate_test()
    assert len(asked) == 1 and "already evaluated" in asked[0]
    assert not tab.is_busy() and run.payload.trained.test_record.count == 1

    # Save, then load: the same predictions.
    target = tmp_path / "model.pt"
    monkeypatch.setattr(tab, "_ask_save_path", lambda *a: target)
    assert tab.save_checkpoint()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    assert target.is_file()
    assert tab.load_checkpoint(target)
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    loaded = tab.runs.runs()[-1]
    assert loaded.status == "loaded" and loaded is not run
    from nets.cnn.trained import predict

    X = tab._dataset.X_test
    a = predict(run.payload.trained, X)
    b = predict(loaded.payload.trained, X)
    assert np.array_equal(a.labels, b.labels)
    np.testing.assert_allclose(a.probabilities, b.probabilities, rtol=1e-5, atol=1e-6)
    # The test record travels with the checkpoint: testing the loaded model warns too.
    assert not tab.evaluate_test()
    assert len(asked) == 2
    # Testing it anyway is recorded in its file, as `cnn test` does.
    monkeypatch.setattr("gui.dialogs.ask", lambda *a, **k: QMessageBox.StandardButton.Yes)
    assert tab.evaluate_test()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    from nets.cnn.checkpoint import load_checkpoint

    assert load_checkpoint(target).test_record.count == 2
    assert loaded.payload.test.accuracy == result.accuracy


def test_bad_checkpoints_get_a_clear_message_and_change_nothing(qtbot, tab, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(
        "gui.dialogs.show_error", lambda _p, title, message, detail="": errors.append(message)
    )
    run = _train(qtbot, tab)
    tab.runs_view.select_run(run.run_id)
    empty = tmp_path / "empty.pt"
    empty.write_bytes(b"")
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"PK\x03\x04 this is not a checkpoint at all" * 10)
    arch_json = tmp_path / "not_a_model.pt"
    arch_json.write_text('{"format": "something else"}')
    for path in (empty, garbage, arch_json):
        assert tab.load_checkpoint(path)
        qtbot.waitUntil(lambda: not tab.is_busy(), timeout=20000)
    assert len(errors) == 3
    assert all(m.startswith("checkpoint ") for m in errors), errors
    assert "corrupted" in errors[0]
    assert len(tab.runs) == 1 and tab.runs_view.selected_run_id() == run.run_id
    assert run.payload.trained is not None and run.status == "finished"


def test_start_twice_never_two_workers_and_stop_keeps_the_model(qtbot, window, tab):
    tab.settings_panel.epochs_field.set_value(200)
    tab.controls.start_button.click()
    tab.controls.start_button.click()
    tab.start_training()  # a queued second request is refused too
    assert len(tab.runs) == 1
    assert len(window.workers.running()) <= 1
    run = tab.runs.runs()[0]
    qtbot.waitUntil(lambda: run.metrics.num_steps >= 3, timeout=30000)
    tab.controls.pause_button.click()
    assert tab.controls.state == "paused"
    tab.controls.stop_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10000)
    assert run.status == "stopped"
    assert run.payload.trained is not None  # the model so far is kept, and testable
    # Paused at a step, then stopped: not one more batch was trained.
    assert run.payload.trained.iterations == run.metrics.num_steps
    assert tab.test_button.isEnabled()
    assert run.metrics.num_steps < 200 * 6
    assert window.workers.running() == []


def test_closing_the_window_during_training_stops_the_worker(qtbot, window, tab, monkeypatch):
    monkeypatch.setattr("gui.dialogs.ask", lambda *a, **k: QMessageBox.StandardButton.Discard)
    tab.settings_panel.epochs_field.set_value(200)
    tab.controls.start_button.click()
    run = tab.runs.runs()[0]
    qtbot.waitUntil(lambda: run.metrics.num_steps >= 2, timeout=30000)
    window.close()
    assert window.shutdown(3000)
    assert window.workers.running() == []


def test_divergence_stops_with_a_reason(qtbot, tab):
    s = tab.settings_panel
    s.optimizer_combo.setCurrentIndex(s.optimizer_combo.findData("sgd"))
    s.momentum_field.set_value(0.9)
    s.lr_field.set_value(1e5)
    s.epochs_field.set_value(5)
    run = _train(qtbot, tab)
    assert run.status == "diverged"
    assert "diverged at step" in run.reason
    assert "diverged" in tab.status_label.text()
    assert run.payload.trained is not None


def test_nan_and_inf_items_do_not_break_the_plots(qtbot, tab):
    from gui.cnn_tab.tab import CnnRun
    from nets.training import Evaluation, Started, Step

    run = tab.runs.add_run("synthetic", {}, payload=CnnRun())
    tab._on_train_item(run.run_id, Started("cnn", None, 8, 2, 3, (1, 12, 12), 10, 2, 4, 6, 0))
    for i, loss in enumerate([1.0, math.nan, math.inf, -math.inf, 0.5, 0.5], start=1):
        tab._on_train_item(run.run_id, Step(i, 1, loss, 0.01, 0.1 * i, 6))
    tab._on_train_item(
        run.run_id, Evaluation(4, 1, math.nan, math.inf, math.nan, 0.01, 10, True, 0.4)
    )
    tab._on_train_item(run.run_id, Evaluation(6, 2, 0.5, 0.5, 0.5, 0.01, 10, True, 0.6))
    tab.plots.refresh()
    x, y = tab.plots.loss.curve_data(run.run_id, 0)
    assert x.size >= 3 and np.isfinite(y[np.isfinite(x)]).sum() >= 3
    _, acc = tab.plots.accuracy.curve_data(run.run_id, 1)
    assert 50.0 in acc


def test_exported_pytorch_source_compiles_and_is_copied(tab, tmp_path, monkeypatch):
    target = tmp_path / "net.py"
    monkeypatch.setattr(tab, "_ask_save_path", lambda *a: target)
    assert tab.export_source()
    source = target.read_text()
    tree = ast.parse(source)
    classes = [n.name for n in tree.body if isinstance(n, ast.ClassDef)]
    assert len(classes) == 1
    assert "nn.Conv2d(3, 4" in source and "nn.Linear(144, 3)" in source
    assert tab.copy_source()
    assert QGuiApplication.clipboard().text() == source


def test_architecture_json_round_trip_and_bad_file(tab, tmp_path, monkeypatch):
    errors = []
    monkeypatch.setattr(
        "gui.dialogs.show_error", lambda _p, title, message, detail="": errors.append(message)
    )
    target = tmp_path / "arch.json"
    monkeypatch.setattr(tab, "_ask_save_path", lambda *a: target)
    assert tab.save_architecture()
    saved = tuple(tab.arch_model.layers)
    tab.apply_preset("seed")
    assert tuple(tab.arch_model.layers) != saved
    assert tab.accepts_path(target)
    tab.open_paths([target])
    assert tuple(tab.arch_model.layers) == saved

    bad = tmp_path / "bad.json"
    bad.write_text('{"format": "backprop-explorer-cnn-architecture", "version": 1, '
                   '"layers": [{"type": "Conv3d"}]}')  # fmt: skip
    assert not tab.open_architecture(bad)
    assert errors and "Conv3d" in errors[-1]
    assert tuple(tab.arch_model.layers) == saved


def test_dropping_a_dataset_folder_selects_it(qtbot, window, tiny_folder):
    cnn = window.select_tab("cnn")
    assert cnn.data_panel.kind == "fashion-mnist"
    assert cnn.accepts_path(tiny_folder) and not cnn.accepts_path(tiny_folder / "train")
    window.open_paths([tiny_folder])
    assert cnn.data_panel.spec_text() == f"folder:{tiny_folder}"
    qtbot.waitUntil(lambda: cnn.data_panel.info is not None, timeout=10000)
    assert cnn.data_panel.num_classes() == 3
    assert cnn.arch_model.num_classes == 3


def test_presets_fit_the_data(tab):
    assert tab.editor.preset_combo.currentText() == "custom"
    tab.apply_preset("seed: two conv layers")
    assert tab.arch_model.layers[-1] == Linear(3)  # resized to the folder's 3 classes
    assert tab.editor.preset_combo.currentText() == "seed: two conv layers"
    tab.arch_model.set_field(0, "out_channels", 8)
    assert tab.editor.preset_combo.currentText() == "custom"
    tab.arch_model.undo_stack.undo()
    assert tab.editor.preset_combo.currentText() == "seed: two conv layers"
    tab.data_panel.set_spec("fashion-mnist")
    tab.apply_preset("default")
    assert tab.arch_model.layers[-1] == Linear(10)
    assert tab.arch_model.input_shape == (1, 28, 28)
    assert tab.arch_model.check.ok


def test_missing_fashion_mnist_offers_a_download_whose_failure_is_one_message(
    qtbot, tab, tmp_path, monkeypatch
):
    from nets.errors import DownloadError

    errors = []
    monkeypatch.setattr(
        "gui.dialogs.show_error", lambda _p, title, message, detail="": errors.append(message)
    )

    def offline(spec, *, progress=None, cancel=None):
        progress(0, 100, "connecting")
        raise DownloadError("cannot reach the download server (offline?)")

    monkeypatch.setattr("nets.data.download_dataset", offline)
    tab.data_panel.set_spec(f"fashion-mnist:{tmp_path}")
    tab.data_panel.probe_now()
    qtbot.waitUntil(lambda: tab.data_panel.info is not None, timeout=10000)
    assert not tab.controls.start_button.isEnabled()
    assert "Fashion-MNIST not found" in tab.problems_label.text()
    assert not tab.data_panel.download_button.isHidden()
    tab.data_panel.download_button.click()
    qtbot.waitUntil(lambda: not tab.is_busy(), timeout=10000)
    assert errors == ["cannot reach the download server (offline?)"]
    assert not tab.controls.start_button.isEnabled()


def test_without_a_test_split_evaluate_is_disabled_with_the_reason(
    qtbot, tab, tiny_folder, tmp_path
):
    import shutil

    _train(qtbot, tab)
    assert tab.test_button.isEnabled()
    notest = tmp_path / "notest"
    shutil.copytree(tiny_folder / "train", notest / "train")
    tab.data_panel.set_spec(f"folder:{notest}")
    tab.data_panel.probe_now()
    qtbot.waitUntil(lambda: tab.data_panel.info is not None, timeout=10000)
    assert not tab.test_button.isEnabled()
    assert "no test split" in tab.test_button.toolTip()
    assert not tab.evaluate_test()
