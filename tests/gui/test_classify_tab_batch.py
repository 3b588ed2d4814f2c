"""Classify tab mechanics with a tiny fake model: batches, bad files, folders, 500 files,
Cancel, the clipboard, recent images, model downloads and users' weights files.

The fake model has the interface of ``nets.pretrained.classify.PretrainedModel``
(preprocess, denormalize, predict -> .top, gradcam, preprocessing.resize, crop_box) and
answers from the image's mean colour, so every expectation here is computed, and these
tests need no torch. Issue 9, case 5 (GUI side): 500 files at once, a folder, and bad
images that each get a clear message while the rest go on.
"""

from __future__ import annotations

import struct
import threading
import urllib.error
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.classify_tab.batch_table import CANCELLED, DONE, ERROR, tooltip
from gui.main_window import MainWindow

LABELS = ("reddish", "greenish", "bluish", "dark", "bright")


@dataclass(frozen=True)
class _Preprocessing:
    resize: int = 32
    crop: int = 24


@dataclass(frozen=True)
class _Prediction:
    top: tuple


class FakeModel:
    """Classifies by mean colour: deterministic, instant, same interface as the real one."""

    labels = LABELS
    preprocessing = _Preprocessing()

    def __init__(self, gate: threading.Event | None = None) -> None:
        self.gate = gate
        self.calls = 0

    def preprocess(self, img):
        return np.asarray(img.convert("RGB").resize((24, 24)), dtype=np.float32) / 255.0

    def denormalize(self, tensor):
        return np.clip(np.rint(np.asarray(tensor) * 255.0), 0, 255).astype(np.uint8)

    def predict(self, img, topk=5):
        if self.gate is not None:
            self.gate.wait(10)
        self.calls += 1
        return _Prediction(tuple(expected_top(img)[:topk]))

    def gradcam(self, img, class_index):
        width, height = img.size
        ramp = np.linspace(0.0, 1.0, width, dtype=np.float32)
        heat = np.tile(ramp, (height, 1))
        return heat if class_index % 2 == 0 else heat[:, ::-1].copy()

    def crop_box(self, size):
        width, height = size
        return (0.0, 0.0, float(width), float(height))


def expected_top(img) -> list[tuple[int, str, float]]:
    mean = np.asarray(img.convert("RGB"), dtype=np.float64).reshape(-1, 3).mean(axis=0) / 255
    scores = np.array([mean[0], mean[1], mean[2], 1 - mean.mean(), mean.mean()]) + 1e-3
    probs = scores / scores.sum()
    order = np.argsort(-probs, kind="stable")
    return [(int(i), LABELS[i], float(probs[i])) for i in order]


def _bomb_png(path: Path, side: int = 20_000) -> Path:
    """A PNG whose header claims side x side pixels: refused before any decoding."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)
    idat = zlib.compress(b"\0" * 64)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")
    )
    return path


def _png(path: Path, color=(200, 30, 30), size=(20, 14)) -> Path:
    Image.new("RGB", size, color).save(path)
    return path


@pytest.fixture
def window(qtbot):
    win = MainWindow(remember=False)
    qtbot.addWidget(win)
    win.show()
    yield win
    win.close()
    win.shutdown()


@pytest.fixture
def tab(window):
    tab = window.select_tab("classify")
    tab.set_model("fake", FakeModel())
    return tab


def drop(target, paths: list[Path]) -> None:
    """Drag paths over ``target`` and drop them, as a file manager does."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    centre = QPointF(target.width() / 2, target.height() / 2)
    enter = QDragEnterEvent(
        centre.toPoint(),
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, enter)
    assert enter.isAccepted()
    event = QDropEvent(
        centre,
        Qt.DropAction.CopyAction,
        mime,
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
    )
    QApplication.sendEvent(target, event)
    assert event.isAccepted()


def wait_batch(qtbot, tab, timeout=20_000):
    qtbot.waitUntil(lambda: tab.is_idle() and tab.table_model.rowCount() > 0, timeout=timeout)


def test_a_batch_with_bad_files_gives_each_its_message_and_the_rest_go_on(qtbot, tab, tmp_path):
    good = [_png(tmp_path / f"good{i}.png", (40 * i, 200 - 30 * i, 90)) for i in range(4)]
    truncated = tmp_path / "truncated.jpg"
    Image.new("RGB", (64, 64), (1, 2, 3)).save(tmp_path / "whole.jpg", quality=90)
    truncated.write_bytes((tmp_path / "whole.jpg").read_bytes()[:300])
    fake_jpeg = tmp_path / "notes.jpg"
    fake_jpeg.write_text("these are my notes, not a photo\n")
    text_file = tmp_path / "readme.txt"
    text_file.write_text("hello")
    empty = tmp_path / "empty.png"
    empty.write_bytes(b"")
    bomb = _bomb_png(tmp_path / "bomb.png")
    tiny = _png(tmp_path / "tiny.png", (0, 0, 250), (1, 1))
    frames = [Image.new("P", (16, 16), i) for i in (3, 9)]
    animated = tmp_path / "animated.gif"
    frames[0].save(animated, save_all=True, append_images=frames[1:], duration=50, loop=0)
    good += [tiny, animated]
    paths = [good[0], truncated, good[1], fake_jpeg, text_file, empty, good[2], bomb, good[3]]
    paths += [tiny, animated]

    with qtbot.waitSignal(tab.batch_done, timeout=20_000) as done:
        drop(tab, paths)
    assert done.args == ["finished"]

    rows = {Path(r.key).name: r for r in tab.table_model.rows()}
    assert len(rows) == len(paths)
    for path in good:
        row = rows[path.name]
        assert row.status == DONE
        assert row.top == expected_top(Image.open(path))
        assert row.thumb is not None and not row.thumb.isNull()
    for bad in (truncated, fake_jpeg, text_file, empty, bomb):
        row = rows[bad.name]
        assert row.status == ERROR, bad.name
        assert row.error.startswith(bad.name), row.error
        assert "Traceback" not in row.error
    assert "truncated" in rows[truncated.name].error or "corrupt" in rows[truncated.name].error
    assert "text" in rows[fake_jpeg.name].error
    assert "empty" in rows[empty.name].error
    assert "too large" in rows[bomb.name].error and "bomb" in rows[bomb.name].error
    # The tooltip is the top-5 for a good row and the message for a bad one.
    assert LABELS[rows[good[0].name].top[0][0]] in tooltip(rows[good[0].name])
    assert "text" in tooltip(rows[fake_jpeg.name])
    assert "5 could not be read" in tab.batch_label.text()
    # The first dropped image became the current one, with its chart.
    assert tab.current_key() == str(good[0])
    qtbot.waitUntil(lambda: tab.current_detail() is not None)
    assert tab.chart.bar_values() == [p for _i, _l, p in expected_top(Image.open(good[0]))]
    # A bad row, chosen, says what is wrong where the photo would be.
    tab.table.selectRow(tab.table_model.find(str(truncated)))
    qtbot.waitUntil(lambda: tab.is_idle() and tab.current_key() == str(truncated))
    assert tab.current_detail() is None
    assert rows[truncated.name].error in tab.photo_view.placeholder()
    assert tab.chart.predictions() == []
    assert not tab.reasonable_button.isEnabled()


def test_a_folder_dropped_on_the_window_is_walked_for_images(qtbot, window, tab, tmp_path):
    folder = tmp_path / "photos"
    (folder / "sub" / "deeper").mkdir(parents=True)
    (folder / ".hidden").mkdir()
    expected = {
        _png(folder / "a.png"),
        _png(folder / "b.JPG"),
        _png(folder / "sub" / "c.png", (10, 200, 10)),
        _png(folder / "sub" / "deeper" / "d.bmp", (10, 10, 200)),
    }
    (folder / "notes.txt").write_text("not an image")
    _png(folder / ".hidden" / "secret.png")
    (folder / "loop").symlink_to(folder, target_is_directory=True)
    empty = tmp_path / "empty_folder"
    empty.mkdir()

    assert tab.accepts_path(folder) and not tab.accepts_path(folder / "notes.txt")
    with qtbot.waitSignal(tab.batch_done, timeout=20_000):
        drop(window, [folder, empty])
    keys = {Path(r.key) for r in tab.table_model.rows()}
    assert keys == expected
    assert all(r.status == DONE for r in tab.table_model.rows())
    assert tab.current_key() == str(folder / "a.png")


def test_500_files_dropped_at_once_all_get_a_row_and_a_result(qtbot, tab, tmp_path):
    rng = np.random.default_rng(5)
    paths = []
    for i in range(500):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        paths.append(_png(tmp_path / f"img{i:03d}.png", color, (8, 8)))
    paths[123].write_bytes(b"GIF89a broken")
    with qtbot.waitSignal(tab.batch_done, timeout=60_000):
        drop(tab, paths)
    rows = tab.table_model.rows()
    assert len(rows) == 500
    assert [Path(r.key) for r in rows] == paths
    assert sum(r.status == DONE for r in rows) == 499
    assert rows[123].status == ERROR and rows[123].error.startswith("img123.png")
    assert rows[499].top == expected_top(Image.open(paths[499]))


def test_cancel_stops_the_batch_and_marks_the_rest(qtbot, window, tmp_path):
    gate = threading.Event()
    tab = window.select_tab("classify")
    model = FakeModel(gate)
    tab.set_model("fake", model)
    paths = [_png(tmp_path / f"p{i:02d}.png", (i * 4, 100, 50)) for i in range(40)]
    drop(tab, paths)
    qtbot.waitUntil(lambda: tab.table_model.rowCount() == 40)
    assert tab.cancel_batch_button.isVisible()
    assert tab.minimumSizeHint().width() <= 700  # a batch never widens the window
    with qtbot.waitSignal(tab.batch_done, timeout=20_000) as done:
        qtbot.mouseClick(tab.cancel_batch_button, Qt.MouseButton.LeftButton)
        gate.set()
    assert done.args == ["cancelled"]
    statuses = [r.status for r in tab.table_model.rows()]
    assert statuses.count(CANCELLED) >= 30
    assert set(statuses) <= {DONE, CANCELLED, ERROR}
    assert not tab.cancel_batch_button.isVisible()
    # The table stays usable: classify everything again.
    with qtbot.waitSignal(tab.batch_done, timeout=20_000):
        qtbot.mouseClick(tab.rerun_button, Qt.MouseButton.LeftButton)
    assert all(r.status == DONE for r in tab.table_model.rows())


def test_heat_map_class_choice_and_opacity(qtbot, tab, tmp_path):
    photo = _png(tmp_path / "photo.png", (30, 200, 40), (40, 30))
    with qtbot.waitSignal(tab.detail_shown, timeout=10_000):
        tab.open_paths([photo])
    top = expected_top(Image.open(photo))
    assert tab.chart.predictions() == top
    assert tab.input_view.image().size().toTuple() == (24, 24)
    with qtbot.waitSignal(tab.heat_shown, timeout=10_000) as shown:
        tab.heat_toggle.setChecked(True)
    assert shown.args == [str(photo), top[0][0]]
    assert tab.photo_view.heat_shown()
    first = tab.photo_view.heat()
    # Click the bar of the class whose fake heat-map runs the other way.
    row = next(k for k, (i, _l, _p) in enumerate(top) if i % 2 != top[0][0] % 2)
    centre = tab.chart.bar_rect(row).center().toPoint()
    with qtbot.waitSignal(tab.heat_shown, timeout=10_000) as shown:
        qtbot.mouseClick(tab.chart, Qt.MouseButton.LeftButton, pos=centre)
    assert shown.args == [str(photo), top[row][0]]
    assert tab.chart.selected() == top[row][0]
    assert tab.photo_view.heat() != first
    tab.opacity_slider.setValue(80)
    assert tab.photo_view.opacity() == pytest.approx(0.8)
    tab.heat_toggle.setChecked(False)
    assert not tab.photo_view.heat_shown()


def test_paste_from_the_clipboard_and_recent_images(qtbot, tab, tmp_path):
    image = QImage(30, 20, QImage.Format.Format_RGB32)
    image.fill(Qt.GlobalColor.blue)
    QGuiApplication.clipboard().setImage(image)
    with qtbot.waitSignal(tab.detail_shown, timeout=10_000):
        tab.paste_action.trigger()
    row = tab.table_model.row(0)
    assert row.name == "pasted image 1.png" and row.path is None
    qtbot.waitUntil(lambda: tab.table_model.row(0).status == DONE)
    assert tab.table_model.row(0).top[0][1] == "bluish"

    first = _png(tmp_path / "first.png", (200, 200, 200))
    second = _png(tmp_path / "second.png", (20, 20, 20))
    for photo in (first, second):
        with qtbot.waitSignal(tab.detail_shown, timeout=10_000):
            tab.open_paths([photo])
    assert tab.recent.paths()[:2] == [second, first]
    assert tab.context.settings.value("classify/recent")[:2] == [str(second), str(first)]
    assert not tab.recent.missing_thumbnails()
    # A click on the strip shows that image again.
    item = tab.recent.item(1)
    with qtbot.waitSignal(tab.detail_shown, timeout=10_000) as shown:
        qtbot.mouseClick(
            tab.recent.viewport(),
            Qt.MouseButton.LeftButton,
            pos=tab.recent.visualItemRect(item).center(),
        )
    assert shown.args == [str(first)]


def test_export_with_nothing_marked_explains_and_writes_nothing(qtbot, tab, tmp_path):
    photo = _png(tmp_path / "x.png")
    with qtbot.waitSignal(tab.batch_done, timeout=10_000):
        tab.open_paths([photo])
    asked = []
    tab._ask_export_dir = lambda: asked.append(1) or tmp_path
    tab.export_report()
    assert not asked
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    assert any("Mark at least one" in b.text() for b in boxes)
    for box in boxes:
        box.close()


def _offline(*_args, **_kwargs):
    raise urllib.error.URLError("[Errno -2] Name or service not known")


def test_downloading_a_model_offline_says_so_plainly(qtbot, tab, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    monkeypatch.setattr("urllib.request.urlopen", _offline)
    tab.models.refresh()
    picker = tab.model_picker
    picker.choose("resnet18")
    picker._on_activated(picker.combo.currentIndex())
    assert picker.download_button.isVisible() and picker.download_button.isEnabled()
    qtbot.mouseClick(picker.download_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.is_idle(), timeout=20_000)
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    texts = [b.text() for b in boxes]
    assert any("ResNet-18" in t and "offline" in t for t in texts), texts
    for box in boxes:
        box.close()
    assert "still using fake" in picker.status.text().lower() or "fake" in picker.status.text()
    assert tab.models.name == "fake"
    assert not list((tmp_path / "torch").rglob("*.part"))


class _SlowResponse:
    """A download that trickles in, so Cancel can stop it midway."""

    def __init__(self, started: threading.Event) -> None:
        self.headers = {"Content-Length": str(1 << 24)}
        self.started = started
        self.sent = 0

    def read(self, n: int) -> bytes:
        self.started.set()
        threading.Event().wait(0.005)  # simulated network latency, in the worker thread
        self.sent += n
        return b"\0" * n if self.sent < (1 << 24) else b""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def test_a_download_shows_progress_and_cancel_stops_it(qtbot, tab, monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    started = threading.Event()
    monkeypatch.setattr("urllib.request.urlopen", lambda *a, **k: _SlowResponse(started))
    tab.models.refresh()
    picker = tab.model_picker
    picker.choose("mobilenet_v3_large")
    tab.load_model("mobilenet_v3_large")
    assert picker.cancel_button.isVisible()
    qtbot.waitUntil(lambda: picker.progress.maximum() == 1000 and picker.progress.value() > 0)
    assert "MB" in picker.progress.format()
    qtbot.mouseClick(picker.cancel_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.is_idle(), timeout=20_000)
    assert "cancelled" in picker.status.text().lower()
    assert tab.models.name == "fake"
    assert not picker.cancel_button.isVisible()
    assert not list((tmp_path / "torch").rglob("*.pth*"))


def test_a_corrupt_weights_file_is_refused_and_the_model_stays(qtbot, tab, tmp_path):
    bad = tmp_path / "mine.pth"
    bad.write_bytes(b"PK\x03\x04 definitely not a checkpoint")
    tab._ask_weights_path = lambda _title: bad
    qtbot.mouseClick(tab.model_picker.weights_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: tab.is_idle(), timeout=30_000)
    boxes = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox)]
    texts = [b.text() for b in boxes]
    assert any("mine.pth" in t and "corrupt" in t for t in texts), texts
    for box in boxes:
        box.close()
    assert tab.models.name == "fake"


def test_menus_offer_the_tab_actions(window, tab):
    window.rebuild_menus()
    file_texts = [a.text() for a in window.menus["File"].actions()]
    assert "&Open Images..." in file_texts and "&Export Report Figures..." in file_texts
    assert tab.paste_action in window.menus["Edit"].actions()
    assert tab.heat_action in window.menus["View"].actions()
    assert tab.accepts_path(Path("photo.JPEG")) and not tab.accepts_path(Path("x.json"))
    assert tab.minimumSizeHint().width() <= 700
