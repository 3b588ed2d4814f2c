"""The CNN tab's Inside view with pytest-qt, on an untrained checkpoint with BatchNorm and
Dropout and a tiny generated Fashion-MNIST-format dataset: every layer drawn, the canvas
live, the validation grid, receptive fields and patches, gradients, filters, image files
and activation maximisation (issue 16)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QPoint, Qt

from gui.main_window import MainWindow
from nets.cnn.arch import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from tests.nets.cnn_fixtures import random_fashion_folder

torch = pytest.importorskip("torch")

from nets.cnn.checkpoint import save_checkpoint  # noqa: E402
from nets.cnn.inspect import receptive_field  # noqa: E402
from nets.cnn.model import build_model  # noqa: E402
from nets.cnn.trained import TrainedCnn  # noqa: E402

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
def inside(qtbot, checkpoint):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.resize(1500, 950)
    win.show()
    cnn = win.select_tab("cnn")
    cnn.load_checkpoint(checkpoint)
    qtbot.waitUntil(lambda: len(cnn.runs) == 1 and not cnn.is_busy(), timeout=TIMEOUT)
    cnn.views.setCurrentWidget(cnn.inside)
    view = cnn.inside
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


def test_the_loaded_model_is_listed_and_every_layer_is_drawn(qtbot, inside):
    assert inside.model_combo.count() == 1
    assert "latest weights" in inside.model_combo.currentText()
    canvas = inside.inputs.draw.canvas
    canvas.stroke((5, 5), (20, 22))
    result = _wait_result(qtbot, inside, canvas.image()[:, :, None])
    assert [s.info.kind for s in inside.sections] == [type(s).__name__ for s in ARCH]
    conv = inside.sections[0].view
    assert conv._maps.shape == (4, 28, 28)
    np.testing.assert_array_equal(conv._maps, result.activations[0])
    assert inside.sections[-1].view._values.shape == (10,)  # the class scores as bars
    assert inside.probs._probs.sum() == pytest.approx(1.0, abs=1e-5)
    assert inside.render_count >= 1 and "forward + backward" in inside.timing.text()
    # Each channel's min and max are drawn with its map.
    conv.grab()
    assert conv._ranges[0].tolist() == pytest.approx(
        [result.activations[0][0].min(), result.activations[0][0].max()]
    )


def test_drawing_with_the_mouse_updates_the_prediction_live(qtbot, inside):
    canvas = inside.inputs.draw.canvas
    _draw(qtbot, inside, [QPoint(40, 40), QPoint(60, 80), QPoint(90, 120)])
    first = _wait_result(qtbot, inside, canvas.image()[:, :, None])
    assert canvas.image().max() == 255
    inside.inputs.draw.invert_button.click()
    second = _wait_result(qtbot, inside, canvas.image()[:, :, None])
    assert not np.allclose(first.probabilities, second.probabilities)
    inside.inputs.draw.clear_button.click()
    assert canvas.image().max() == 0


def test_validation_grid_shows_label_and_prediction_and_feeds_the_view(qtbot, inside):
    browser = inside.inputs.browser
    assert not browser.load_button.isHidden()
    browser.load_button.click()
    qtbot.waitUntil(lambda: inside._validation is not None, timeout=TIMEOUT)
    ready = inside._validation
    n = len(ready.images)
    assert browser.model.rowCount() == n == 20  # a sixth of 120 training images
    caption = browser.model.data(browser.model.index(3), Qt.ItemDataRole.DisplayRole)
    assert caption.startswith(f"#3 {NAMES[ready.labels[3]]}")
    assert f"→ {NAMES[ready.predictions[3]]}" in caption
    browser.show_index(3)
    result = _wait_result(qtbot, inside, ready.images[3])
    assert inside.probs._label == int(ready.labels[3])
    assert int(result.predicted) == int(ready.predictions[3])
    browser.filter_combo.setCurrentIndex(1)
    wrong = np.flatnonzero(ready.predictions != ready.labels)
    assert list(browser.model.rows) == list(wrong)


def test_clicking_a_map_pixel_outlines_its_field_and_finds_nine_patches(qtbot, inside):
    inside.inputs.browser.load_button.click()
    qtbot.waitUntil(lambda: inside._validation is not None, timeout=TIMEOUT)
    inside.inputs.browser.show_index(0)
    _wait_result(qtbot, inside, inside._validation.images[0])
    section = inside.sections[5]  # ReLU after the second conv: 6x14x14
    inside.maps_scroll.ensureWidgetVisible(section)
    grid = section.view
    qtbot.mouseClick(grid, Qt.MouseButton.LeftButton, pos=grid.tile_center(2, 4, 7).toPoint())
    box = receptive_field(ARCH, (1, 28, 28), 5, 4, 7)
    assert inside.input_view.box() == (box.top, box.left, box.bottom, box.right)
    assert inside._selection == (5, 2, 4, 7)
    assert "channel 2" in inside.unit_label.text() and "receptive field is 12×12" in (
        inside.unit_label.text()
    )
    qtbot.waitUntil(lambda: inside.patches.tile_count() == 9, timeout=TIMEOUT)
    assert 5 in inside._indexes
    inside.dream_unit_button.click()
    assert inside.centre.currentWidget() is inside.dream
    assert inside.dream.objective().layer == 5 and inside.dream.objective().channel == 2


def test_gradients_of_a_chosen_class_and_of_a_layer(qtbot, inside):
    inside.inputs.draw.canvas.stroke((8, 4), (8, 24))
    _wait_result(qtbot, inside)
    inside.centre.setCurrentIndex(1)
    inside.target_combo.setCurrentIndex(inside.target_combo.findData(3))
    qtbot.waitUntil(lambda: inside._latest.result.target == 3, timeout=TIMEOUT)
    qtbot.waitUntil(lambda: not inside._render_pending, timeout=TIMEOUT)
    result = inside._latest.result
    assert inside.saliency_view._image is not None and inside.gxi_view._image is not None
    assert inside.gradcam_view._image is not None and "layer 5" in inside.gradcam_view.title
    assert "c3" in inside.grad_note.text()
    inside.grad_layer_combo.setCurrentIndex(inside.grad_layer_combo.findData(4))
    np.testing.assert_array_equal(inside.grad_section.view._maps, result.gradients[4])


def test_filters_of_every_convolution_with_norms(qtbot, inside):
    from gui.cnn_tab.maps_view import FilterGrid

    qtbot.waitUntil(lambda: len(inside.filters_box.findChildren(FilterGrid)) == 2, timeout=TIMEOUT)
    grids = inside.filters_box.findChildren(FilterGrid)
    shapes = sorted(g._weights.shape for g in grids)
    assert shapes == [(4, 1, 3, 3), (6, 4, 5, 5)]
    for g in grids:
        np.testing.assert_allclose(g._norms, np.sqrt((g._weights**2).sum(axis=(2, 3))), rtol=1e-5)


def test_an_image_file_is_shown_beside_what_the_model_sees(qtbot, inside, tmp_path):
    photo = tmp_path / "shirt.png"
    rgb = np.zeros((100, 60, 3), np.uint8)
    rgb[20:80, 10:50] = (0, 200, 0)
    Image.fromarray(rgb).save(photo)
    assert inside.inputs.open_file(photo)
    result = _wait_result(qtbot, inside)
    assert result.image.shape == (28, 28, 1)
    assert inside.inputs.file.original._image is not None
    assert inside.inputs.file.converted._image is not None
    before = inside.inputs._file_image.copy()
    inside.inputs.file.invert_check.setChecked(True)
    _wait_result(qtbot, inside, 255 - before)
    bad = tmp_path / "notes.png"
    bad.write_text("not an image")
    assert not inside.inputs.open_file(bad)
    assert "notes.png" in inside.inputs.error_text
    np.testing.assert_array_equal(inside.inputs._file_image, before)  # nothing replaced


def test_activation_maximisation_draws_live_and_can_be_cancelled(qtbot, inside):
    dream = inside.dream
    inside.centre.setCurrentWidget(dream)
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
    _wait_result(qtbot, inside, np.rint(dream.last_frame.image.mean(axis=2))[:, :, None])
    dream.set_channel(0, 1)
    dream.steps_spin.setValue(5000)
    assert dream.start()
    worker = dream._worker
    qtbot.waitUntil(lambda: dream.last_frame is not None and dream.last_frame.step > 2)
    with qtbot.waitSignal(worker.done, timeout=TIMEOUT) as blocker:
        dream.cancel_button.click()
    assert blocker.args == ["cancelled"]
    assert dream.last_frame.step < 5000 and dream.start_button.isEnabled()
