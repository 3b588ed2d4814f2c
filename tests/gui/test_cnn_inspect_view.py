"""The CNN tab's Inspect view with pytest-qt, on an untrained checkpoint with BatchNorm and
Dropout and a tiny generated Fashion-MNIST-format dataset: every layer drawn, the canvas
live, the validation grid, receptive fields and patches, gradients, filters, image files
and activation maximisation (issue 16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from gui.main_window import MainWindow
from nets.cnn.arch import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.checkpoint import save_checkpoint
from nets.cnn.inspect import receptive_field
from nets.cnn.model import build_model
from nets.cnn.trained import TrainedCnn
from tests.nets.cnn_fixtures import random_fashion_folder

ARCH = (
    Conv2d(4, kernel_size=3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Conv2d(6, kernel_size=5, padding=2),
    ReLU(),
    MaxPool2d(2),
    Flatten(),
    Dropout(0.3),
    Linear(10),
)
NAMES = tuple(f"c{k}" for k in range(10))
TIMEOUT = 20000


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("fmnist_inside")
    random_fashion_folder(folder, 120, 12)
    torch.manual_seed(0)
    model = build_model(ARCH, (1, 28, 28), 10)
    trained = TrainedCnn(
        model, ARCH, (1, 28, 28), NAMES, (70.0,), (90.0,), data_source=f"fashion-mnist:{folder}"
    )
    path = folder / "tiny.pt"
    save_checkpoint(path, trained)
    return path


@pytest.fixture
def view(qtbot, checkpoint):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    cnn = win.select_tab("cnn")
    cnn.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: len(cnn.runs) == 1 and not cnn.is_busy(), timeout=TIMEOUT)
    cnn.show_page(cnn.inspect)
    view = cnn.inspect
    qtbot.waitUntil(lambda: view._trained is not None, timeout=TIMEOUT)
    yield view
    win.shutdown()


def _draw(qtbot, view, points) -> None:
    canvas = view.inputs.draw.canvas
    view.inputs.setCurrentWidget(view.inputs.draw)
    qtbot.mousePress(canvas, Qt.MouseButton.LeftButton, pos=points[0])
    for p in points[1:]:
        qtbot.mouseMove(canvas, p)
    qtbot.mouseRelease(canvas, Qt.MouseButton.LeftButton, pos=points[-1])


def _wait_result(qtbot, view, image=None):
    def ready():
        latest = view._latest
        if latest is None:
            return False
        return image is None or np.array_equal(latest.result.image, image)

    qtbot.waitUntil(ready, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not view._render_pending, timeout=TIMEOUT)
    return view._latest.result


def test_the_loaded_model_is_listed_and_every_layer_is_drawn(qtbot, view):
    assert view.model_combo.count() == 1
    assert "latest weights" in view.model_combo.currentText()
    canvas = view.inputs.draw.canvas
    canvas.stroke((5, 5), (20, 22))
    result = _wait_result(qtbot, view, canvas.image()[:, :, None])
    assert [s.info.kind for s in view.sections] == [type(s).__name__ for s in ARCH]
    conv = view.sections[0].view
    assert conv._maps.shape == (4, 28, 28)
    np.testing.assert_array_equal(conv._maps, result.activations[0])
    assert view.sections[-1].view._values.shape == (10,)  # the class scores as bars
    assert view.probs._probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert view.render_count >= 1 and "forward + backward" in view.timing.text()
    # Each channel's min and max are drawn with its map.
    conv.grab()
    assert conv._ranges[0].tolist() == pytest.approx(
        [result.activations[0][0].min(), result.activations[0][0].max()]
    )


def test_drawing_with_the_mouse_updates_the_prediction_live(qtbot, view):
    canvas = view.inputs.draw.canvas
    _draw(qtbot, view, [QPoint(40, 40), QPoint(60, 80), QPoint(90, 120)])
    first = _wait_result(qtbot, view, canvas.image()[:, :, None])
    assert canvas.image().max() == 255
    view.inputs.draw.invert_button.click()
    second = _wait_result(qtbot, view, canvas.image()[:, :, None])
    assert not np.allclose(first.probabilities, second.probabilities)
    view.inputs.draw.clear_button.click()
    assert canvas.image().max() == 0


def test_validation_grid_shows_label_and_prediction_and_feeds_the_view(qtbot, view):
    browser = view.inputs.browser
    assert not browser.load_button.isHidden()
    browser.load_button.click()
    qtbot.waitUntil(lambda: view._validation is not None, timeout=TIMEOUT)
    ready = view._validation
    n = len(ready.images)
    assert browser.model.rowCount() == n == 20  # a sixth of 120 training images
    caption = browser.model.data(browser.model.index(3), Qt.ItemDataRole.DisplayRole)
    assert caption.startswith(f"#3 {NAMES[ready.labels[3]]}")
    assert f"→ {NAMES[ready.predictions[3]]}" in caption
    browser.show_index(3)
    result = _wait_result(qtbot, view, ready.images[3])
    assert view.probs._label == int(ready.labels[3])
    assert int(result.predicted) == int(ready.predictions[3])
    browser.filter_combo.setCurrentIndex(1)
    wrong = np.flatnonzero(ready.predictions != ready.labels)
    assert list(browser.model.rows) == list(wrong)


def test_clicking_a_map_pixel_outlines_its_field_and_finds_nine_patches(qtbot, view):
    view.inputs.browser.load_button.click()
    qtbot.waitUntil(lambda: view._validation is not None, timeout=TIMEOUT)
    view.inputs.browser.show_index(0)
    _wait_result(qtbot, view, view._validation.images[0])
    section = view.sections[5]  # ReLU after the second conv: 6x14x14
    view.maps_scroll.ensureWidgetVisible(section)
    grid = section.view
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.tile_center(2, 4, 7).toPoint())
    box = receptive_field(ARCH, (1, 28, 28), 5, 4, 7)
    assert view.input_view.box() == (box.top, box.left, box.bottom, box.right)
    assert view._selection == (5, 2, 4, 7)
    assert "channel 2" in view.unit_label.text() and "receptive field is 12×12" in (
        view.unit_label.text()
    )
    qtbot.waitUntil(lambda: view.patches.tile_count() == 9, timeout=TIMEOUT)
    assert 5 in view._indexes
    view.dream_unit_button.click()
    assert view.centre.currentWidget() is view.dream
    assert view.dream.objective().layer == 5 and view.dream.objective().channel == 2


def test_gradients_of_a_chosen_class_and_of_a_layer(qtbot, view):
    view.inputs.draw.canvas.stroke((8, 4), (8, 24))
    _wait_result(qtbot, view)
    view.centre.setCurrentIndex(1)
    view.target_combo.setCurrentIndex(view.target_combo.findData(3))
    qtbot.waitUntil(lambda: view._latest.result.target == 3, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not view._render_pending, timeout=TIMEOUT)
    result = view._latest.result
    assert view.saliency_view._image is not None and view.gxi_view._image is not None
    assert view.gradcam_view._image is not None and "layer 5" in view.gradcam_view.title
    assert "c3" in view.grad_note.text()
    view.grad_layer_combo.setCurrentIndex(view.grad_layer_combo.findData(4))
    np.testing.assert_array_equal(view.grad_section.view._maps, result.gradients[4])


def test_filters_of_every_convolution_with_norms(qtbot, view):
    from gui.cnn_tab.maps_view import FilterGrid

    qtbot.waitUntil(lambda: len(view.filters_box.findChildren(FilterGrid)) == 2, timeout=TIMEOUT)
    grids = view.filters_box.findChildren(FilterGrid)
    shapes = sorted(g._weights.shape for g in grids)
    assert shapes == [(4, 1, 3, 3), (6, 4, 5, 5)]
    for g in grids:
        np.testing.assert_allclose(g._norms, np.sqrt((g._weights**2).sum(axis=(2, 3))), rtol=1e-5)


def test_an_image_file_is_shown_beside_what_the_model_sees(qtbot, view, tmp_path):
    photo = tmp_path / "shirt.png"
    rgb = np.zeros((100, 60, 3), np.uint8)
    rgb[20:80, 10:50] = (0, 200, 0)
    Image.fromarray(rgb).save(photo)
    assert view.inputs.open_file(photo)
    result = _wait_result(qtbot, view)
    assert result.image.shape == (28, 28, 1)
    assert view.inputs.file.original._image is not None
    assert view.inputs.file.converted._image is not None
    before = view.inputs._file_image.copy()
    view.inputs.file.invert_check.setChecked(True)
    _wait_result(qtbot, view, 255 - before)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert not view.inputs.open_file(bad)
    assert "notes.png" in view.inputs.error_text
    np.testing.assert_array_equal(view.inputs._file_image, before)  # nothing replaced


def test_activation_maximisation_draws_live_and_can_be_cancelled(qtbot, view):
    dream = view.dream
    view.centre.setCurrentWidget(dream)
    dream.set_class(4)
    dream.steps_spin.setValue(25)
    assert dream.start()
    worker = dream._worker
    with qtbot.waitSignal(worker.done, timeout=TIMEOUT) as blocker:
        pass
    assert blocker.args == ["finished"]
    assert dream.last_frame.step == 25
    assert dream.last_frame.objective > dream.first_objective
    assert (
        "one backward pass to the pixels"
        in dream.findChild(type(dream.value_label), "dreamStepLine").text()
    )
    dream.use_button.click()
    _wait_result(qtbot, view, np.rint(dream.last_frame.image.mean(axis=2))[:, :, None])
    dream.set_channel(0, 1)
    dream.steps_spin.setValue(5000)
    assert dream.start()
    worker = dream._worker
    qtbot.waitUntil(lambda: dream.last_frame is not None and dream.last_frame.step > 2)
    with qtbot.waitSignal(worker.done, timeout=TIMEOUT) as blocker:
        dream.cancel_button.click()
    assert blocker.args == ["cancelled"]
    assert dream.last_frame.step < 5000 and dream.start_button.isEnabled()
