"""The Classify tab with the real embedded EfficientNet-Lite0 (issue 8).

Files are dropped on the window with real drag-and-drop events; the chart, the model's
input and the heat-map are checked against the model itself; report figures are
exported and checked. The model is loaded once for the module (the tab finds it in the
backend's cache, so its own load path runs too, instantly).
"""

from __future__ import annotations

import errno
import os
import struct
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.classify_tab import backend
from gui.classify_tab.batch_table import DONE, REASONABLE, UNREASONABLE
from gui.classify_tab.imaging import qimage_to_rgb
from gui.classify_tab.report import FIGURE_SIZE
from gui.main_window import MainWindow
from nets.images import open_image

ROOT = Path(__file__).resolve().parents[2]
MODEL = "efficientnet_lite0"


@pytest.fixture(scope="module")
def model():
    return backend.load(MODEL)


@pytest.fixture
def window(qtbot, model):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    win.shutdown()


@pytest.fixture
def tab(window):
    return window.select_tab("classify")


def drop_on(target, paths: list[Path]) -> None:
    """Drag ``paths`` over ``target`` and drop them there, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(target.width() / 2, target.height() / 2)
    buttons, modifiers = Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(centre.toPoint(), Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    event = QDropEvent(centre, Qt.DropAction.CopyAction, mime, buttons, modifiers)
    QApplication.sendEvent(target, event)
    assert event.isAccepted()


def synthetic_photo(path: Path, seed: int, size=(320, 240)) -> Path:
    """A textured picture with a few shapes: the model answers something definite."""
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (size[1] // 8, size[0] // 8, 3), dtype=np.uint8)
    img = Image.fromarray(base).resize(size, Image.Resampling.BICUBIC)
    draw = ImageDraw.Draw(img)
    for _ in range(4):
        x, y = int(rng.integers(0, size[0] - 60)), int(rng.integers(0, size[1] - 60))
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        draw.ellipse((x, y, x + 60, y + 60), fill=color)
    img.save(path, quality=92)
    return path


def model_view(model, path: Path):
    """What the model makes of ``path``, decoded as the tab decodes it."""
    img = open_image(path, min_size=model.preprocessing.resize)
    top = [(t.index, t.label, t.prob) for t in model.predict(img, 5).top]
    return img, top


def close_boxes() -> list[str]:
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    texts = [b.text() for b in boxes]
    for box in boxes:
        box.close()
    return texts


def test_dropped_photos_show_the_models_top5_and_input(qtbot, window, tab, model, tmp_path):
    photos = [synthetic_photo(tmp_path / f"photo{i}.jpg", seed=i) for i in range(3)]
    with qtbot.waitSignal(tab.batch_done, timeout=60_000):
        drop_on(window, photos)
    qtbot.waitUntil(lambda: tab.current_detail() is not None, timeout=30_000)
    assert tab.current_key() == str(photos[0])

    img, top = model_view(model, photos[0])
    assert [label for _i, label, _p in tab.chart.predictions()] == [t[1] for t in top]
    assert tab.chart.bar_values() == pytest.approx([t[2] for t in top], abs=1e-9)
    assert 0.0 < sum(tab.chart.bar_values()) <= 1.0 + 1e-9
    # The model-input view holds exactly the de-normalised tensor the model received.
    expected_input = model.denormalize(model.preprocess(img))
    assert expected_input.shape == (224, 224, 3)
    shown_input = qimage_to_rgb(tab.input_view.image())
    np.testing.assert_array_equal(shown_input, expected_input)
    assert tab.photo_view.image().size().toTuple() == (320, 240)
    assert "224" in tab.input_caption.text()
    # Every table row agrees with the model.
    for photo in photos:
        row = tab.table_model.row_for(str(photo))
        assert row is not None and row.status == DONE
        assert [r[0] for r in row.top] == [t[0] for t in model_view(model, photo)[1]]
    # Another row, clicked, becomes the current image.
    index = tab.table_model.index(2, 1)
    with qtbot.waitSignal(tab.detail_shown, timeout=30_000) as shown:
        qtbot.mouseClick(
            tab.table.viewport(),
            Qt.MouseButton.LeftButton,
            pos=tab.table.visualRect(index).center(),
        )
    assert shown.args == [str(photos[2])]
    assert tab.chart.predictions()[0][0] == model_view(model, photos[2])[1][0][0]


def test_heat_map_toggle_bar_click_and_any_class(qtbot, tab, model, tmp_path):
    photo = synthetic_photo(tmp_path / "heat.jpg", seed=11, size=(300, 200))
    with qtbot.waitSignal(tab.detail_shown, timeout=60_000):
        tab.open_paths([photo])
    top = tab.chart.predictions()
    with qtbot.waitSignal(tab.heat_shown, timeout=30_000) as shown:
        qtbot.mouseClick(tab.heat_toggle, Qt.MouseButton.LeftButton)
    assert tab.heat_toggle.isChecked() and tab.heat_action.isChecked()
    assert shown.args == [str(photo), top[0][0]]
    assert tab.photo_view.heat_shown()
    heat = tab.photo_view.heat()
    assert heat.size().toTuple() == (300, 200)
    # Outside the centre crop the model never saw, the overlay is transparent.
    assert heat.pixelColor(1, 100).alpha() == 0
    assert heat != tab.photo_view.image()

    # Any class: the second bar, then a class outside the top-5 from the combo.
    centre = tab.chart.bar_rect(1).center().toPoint()
    with qtbot.waitSignal(tab.heat_shown, timeout=30_000) as shown:
        qtbot.mouseClick(tab.chart, Qt.MouseButton.LeftButton, pos=centre)
    assert shown.args == [str(photo), top[1][0]]
    other = next(i for i in (1, 2, 3, 4, 5) if i not in {t[0] for t in top})
    combo_row = tab.class_combo.findData(other)
    assert combo_row > 5 and model.labels[other] in tab.class_combo.itemText(combo_row)
    with qtbot.waitSignal(tab.heat_shown, timeout=30_000) as shown:
        tab.class_combo.setCurrentIndex(combo_row)
        tab.class_combo.activated.emit(combo_row)
    assert shown.args == [str(photo), other]
    assert tab.chart.selected() is None  # not one of the bars
    tab.opacity_slider.setValue(25)
    assert tab.photo_view.opacity() == pytest.approx(0.25)
    qtbot.mouseClick(tab.heat_toggle, Qt.MouseButton.LeftButton)
    assert not tab.photo_view.heat_shown()


def _png_size(path: Path) -> tuple[int, int]:
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", data[16:24])


def test_marked_images_export_as_report_figures(qtbot, tab, tmp_path):
    photos = [synthetic_photo(tmp_path / f"mark{i}.jpg", seed=20 + i) for i in range(3)]
    with qtbot.waitSignal(tab.batch_done, timeout=60_000):
        tab.open_paths(photos)
    qtbot.waitUntil(lambda: tab.current_detail() is not None, timeout=30_000)
    assert tab.reasonable_button.isEnabled()
    qtbot.mouseClick(tab.reasonable_button, Qt.MouseButton.LeftButton)
    with qtbot.waitSignal(tab.detail_shown, timeout=30_000):
        tab.table.selectRow(2)
    tab.mark_unreasonable_action.trigger()
    assert tab.unreasonable_button.isChecked() and not tab.reasonable_button.isChecked()
    marks = {Path(r.key).name: r.mark for r in tab.table_model.rows()}
    assert marks == {"mark0.jpg": REASONABLE, "mark1.jpg": None, "mark2.jpg": UNREASONABLE}
    assert tab.export_button.isEnabled()

    out = tmp_path / "report"
    out.mkdir()
    tab._ask_export_dir = lambda: out
    with qtbot.waitSignal(tab.report_exported, timeout=30_000) as exported:
        qtbot.mouseClick(tab.export_button, Qt.MouseButton.LeftButton)
    written = sorted(Path(p).name for p in exported.args[0])
    assert written == ["mark0_reasonable.png", "mark2_unreasonable.png"]
    assert sorted(p.name for p in out.iterdir()) == written  # no temporary files left
    for name in written:
        assert _png_size(out / name) == FIGURE_SIZE
    figure = np.asarray(Image.open(out / "mark0_reasonable.png").convert("RGB"))
    assert figure.std() > 10  # a photo and bars, not a blank page
    # Defect 15: the photo again under it with the top-1 class's Grad-CAM over it.
    photo_half, heat_half = figure[24:270, 24:544].astype(int), figure[290:536, 24:544].astype(int)
    assert np.abs(photo_half - heat_half).mean() > 5
    red_minus_blue = heat_half[..., 0] - heat_half[..., 2]
    assert red_minus_blue.max() - red_minus_blue.min() > 100  # the colour map's hot and cold


def test_a_failing_export_keeps_the_old_figure_and_says_why(qtbot, tab, monkeypatch, tmp_path):
    photo = synthetic_photo(tmp_path / "full.jpg", seed=31)
    with qtbot.waitSignal(tab.detail_shown, timeout=60_000):
        tab.open_paths([photo])
    qtbot.waitUntil(lambda: tab.is_idle(), timeout=30_000)
    tab.set_mark(REASONABLE)
    out = tmp_path / "disk"
    out.mkdir()
    old = out / "full_reasonable.png"
    old.write_bytes(b"the figure from last week")
    tab._ask_export_dir = lambda: out

    def no_space(_fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr("gui.files.os.fsync", no_space)
    with qtbot.waitSignal(tab.report_exported, timeout=30_000) as exported:
        tab.export_report()
    assert exported.args == [[]]
    texts = close_boxes()
    assert any("could not be written" in t for t in texts), texts
    assert old.read_bytes() == b"the figure from last week"
    assert sorted(p.name for p in out.iterdir()) == ["full_reasonable.png"]


def test_own_weights_file_becomes_the_model(qtbot, tab, model, tmp_path):
    import torch

    weights = tmp_path / "mine.pth"
    torch.save(model.network.state_dict(), weights)
    tab._ask_weights_path = lambda _title: weights
    with qtbot.waitSignal(tab.model_ready, timeout=60_000):
        qtbot.mouseClick(tab.model_picker.weights_button, Qt.MouseButton.LeftButton)
    assert tab.models.title == "EfficientNet-Lite0 + mine.pth"
    assert "mine.pth" in tab.model_picker.status.text()
    photo = synthetic_photo(tmp_path / "w.jpg", seed=3)
    with qtbot.waitSignal(tab.detail_shown, timeout=60_000):
        tab.open_paths([photo])
    assert tab.chart.predictions()[0][0] == model_view(model, photo)[1][0][0]


@pytest.mark.data
def test_the_sample_photos_folder_is_classified_mostly_right(qtbot, window, tab, imagenet_samples):
    labels = {}
    for name in os.listdir(imagenet_samples):
        if name.endswith(".JPEG"):
            labels[name] = name.split("_", 1)[1].rsplit(".", 1)[0].replace("_", " ")
    with qtbot.waitSignal(tab.batch_done, timeout=120_000):
        drop_on(window, [imagenet_samples])
    rows = tab.table_model.rows()
    assert len(rows) == len(labels) == 50
    assert all(r.status == DONE for r in rows)
    right = sum(
        r.top[0][1].lower().replace("-", " ") == labels[r.name].lower().replace("-", " ")
        or labels[r.name].lower() in r.top[0][1].lower()
        for r in rows
    )
    assert right >= 40, f"only {right} of 50 top-1 correct"


NO_TORCH = """
import sys
from gui.app import make_application
from gui.main_window import MainWindow
app = make_application([])
window = MainWindow(remember=False)
window.show()
tab = window.select_tab("classify")
app.processEvents()
print("torch" in sys.modules, tab.model_picker.combo.count())
window.close()
"""


def test_building_the_tab_does_not_import_torch():
    result = subprocess.run(
        [sys.executable, "-c", NO_TORCH],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    imported, models = result.stdout.split()
    assert imported == "False"
    assert int(models) >= 2


def test_the_model_loads_once_the_tab_is_shown_before_anything_is_dropped(qtbot, window):
    """torch's import pauses the GUI: it happens when the tab appears, not at the drop."""
    with qtbot.waitSignal(window.select_tab("classify").model_ready, timeout=60_000) as got:
        pass
    assert got.args == [MODEL]


def test_a_download_error_goes_when_the_ready_model_is_picked_again(qtbot, tab, model, monkeypatch):
    """Issue 13 defect 10: after a failed download of another model, picking the ready
    built-in model again showed the download error still."""
    tab.models.set_model(MODEL, model)
    picker = tab.model_picker

    def failing_download(name, _weights):
        def factory(_token):
            from gui.classify_tab import jobs

            yield jobs.LoadFailed(name, "Cannot download resnet18: network unreachable")

        return factory

    monkeypatch.setattr("gui.classify_tab.models.jobs.load_job", failing_download)
    monkeypatch.setattr("gui.dialogs.show_error", lambda *a, **k: None)

    def pick(name):
        picker.combo.setCurrentIndex(picker.combo.findData(name))
        picker.combo.activated.emit(picker.combo.currentIndex())

    pick("resnet18")
    assert "not downloaded" in picker.status.text()
    qtbot.mouseClick(picker.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: not tab.models.slot.busy, timeout=10_000)
    assert "network unreachable" in picker.status.text()
    pick(MODEL)
    assert "network unreachable" not in picker.status.text()
    assert "ready" in picker.status.text() and picker.chosen_name() == MODEL


def test_the_model_combo_is_as_wide_as_its_longest_entry(tab):
    """Issue 13 defect 9: the combo read "not downloaded (45 MB" at 1024x700."""
    from PySide6.QtGui import QFontMetrics

    combo = tab.model_picker.combo
    fm = QFontMetrics(combo.font())
    widest = max(fm.horizontalAdvance(combo.itemText(i)) for i in range(combo.count()))
    assert combo.count() > 1 and combo.sizeHint().width() > widest
