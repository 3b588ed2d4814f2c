"""The app as a user starts it: a real process, the window, screenshots, About, settings."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

import pytest
from PySide6.QtWidgets import QMessageBox

from gui.about import version_info
from gui.main_window import MainWindow
from gui.tabs import TABS

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str], **env: str) -> subprocess.CompletedProcess:
    full_env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", **env}
    return subprocess.run(
        [sys.executable, str(ROOT / "main.py"), *args],
        capture_output=True,
        text=True,
        timeout=120,
        env=full_env,
        cwd=ROOT,
    )


def test_app_starts_and_quits_cleanly():
    result = _run([], BACKPROP_EXPLORER_EXIT_AFTER_SHOW="1")
    assert result.returncode == 0, result.stderr
    assert "window-shown" in result.stdout
    assert result.stderr.strip() == "", f"unexpected output on stderr:\n{result.stderr}"


def test_screenshot_writes_a_png_of_the_requested_size(tmp_path):
    target = tmp_path / "window.png"
    result = _run(["gui", "--screenshot", str(target), "--size", "900x640"])
    assert result.returncode == 0, result.stderr
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (900, 640)


def test_screenshot_to_a_missing_folder_is_one_line_error(tmp_path):
    result = _run(["gui", "--screenshot", str(tmp_path / "nope" / "x.png")])
    assert result.returncode == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.stderr


def test_bad_size_is_refused_without_traceback():
    result = _run(["gui", "--screenshot", "x.png", "--size", "huge"])
    assert result.returncode == 1
    assert "--size" in result.stderr and "Traceback" not in result.stderr


def test_unknown_command_exits_2():
    result = _run(["frobnicate"])
    assert result.returncode == 2
    assert "error:" in result.stderr


def test_about_lists_versions(qtbot):
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    box = window.show_about()
    text = box.text()
    for name, version in version_info().items():
        assert name in text and version in text
    box.close()


ABOUT_WITHOUT_TORCH = """
import sys
from gui.app import make_application
from gui.main_window import MainWindow
app = make_application([])
window = MainWindow(remember=False)
window.show()
box = window.show_about()
assert "torch" in box.text()
print("torch imported:", "torch" in sys.modules)
window.close()
"""


def test_opening_about_does_not_import_torch():
    # In a fresh process: this test process may already have torch loaded.
    result = subprocess.run(
        [sys.executable, "-c", ABOUT_WITHOUT_TORCH],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "torch imported: False" in result.stdout


def test_menus_exist_and_quit_is_in_file(qtbot):
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    titles = [a.text().replace("&", "") for a in window.menuBar().actions()]
    assert titles == ["File", "Edit", "View", "Help"]
    assert window.quit_action in window.menus["File"].actions()


def test_window_remembers_geometry_and_tab(qtbot):
    window = MainWindow(remember=True)
    qtbot.addWidget(window)
    window.resize(701, 503)
    window.show()
    if TABS:
        window.select_tab(TABS[-1][0])
    window.close()
    again = MainWindow(remember=True)
    qtbot.addWidget(again)
    assert (again.width(), again.height()) == (701, 503)
    if TABS:
        assert again.tabs.currentIndex() == len(TABS) - 1


def test_unhandled_exception_shows_a_dialog_and_logs(qtbot, monkeypatch, tmp_path):
    from gui import errors

    monkeypatch.setattr(errors, "log_path", lambda: tmp_path / "app.log")
    errors._logger.handlers.clear()
    hook = errors.ExceptionHook()
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError as exc:
        hook.handle(type(exc), exc, exc.__traceback__)
    qtbot.waitUntil(lambda: hook.last_message is not None)
    assert hook.last_message == "RuntimeError: boom"
    boxes = [w for w in qtbot_top_levels() if isinstance(w, QMessageBox)]
    assert any("Traceback" in b.detailedText() for b in boxes)
    for box in boxes:
        box.close()
    errors._logger.handlers[0].flush()
    assert "RuntimeError: boom" in (tmp_path / "app.log").read_text()
    errors._logger.handlers.clear()


def qtbot_top_levels():
    from PySide6.QtWidgets import QApplication

    return QApplication.topLevelWidgets()


@pytest.mark.parametrize("tab_id", [t[0] for t in TABS])
def test_every_tab_can_be_created(qtbot, tab_id):
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    tab = window.select_tab(tab_id)
    assert tab.isVisibleTo(window) or not window.isVisible()
    window.shutdown()


def _endless(token):
    i = 0
    while True:
        i += 1
        yield i


def test_closing_the_window_stops_running_workers(qtbot):
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    window.show()
    worker = window.workers.start(_endless, name="endless")
    paused = window.workers.start(_endless, name="paused")
    paused.pause()
    qtbot.waitUntil(worker.is_running)
    window.close()
    assert not worker._thread.isRunning()
    assert not paused._thread.isRunning()


CLOSE_WHILE_RUNNING = """
import sys
from PySide6.QtCore import QTimer
from gui.app import make_application
from gui.main_window import MainWindow

def endless(token):
    x = 0.0
    while True:
        x += sum(i * i for i in range(2000))
        yield x

app = make_application([])
window = MainWindow(remember=False)
window.show()
for _ in range(3):
    window.workers.start(endless)
QTimer.singleShot(300, window.close)
code = app.exec()
sys.exit(code if window.shutdown() else 3)
"""


def test_closing_mid_work_exits_zero_without_qthread_warnings():
    result = subprocess.run(
        [sys.executable, "-c", CLOSE_WHILE_RUNNING],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        env={**os.environ, "QT_QPA_PLATFORM": "offscreen"},
    )
    assert result.returncode == 0, result.stderr
    assert "QThread" not in result.stderr


def test_rebuilding_menus_keeps_tab_actions_alive(qtbot):
    from PySide6.QtGui import QAction, QUndoStack

    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    stack = QUndoStack(window)
    undo = stack.createUndoAction(window, "Undo")
    plain = QAction("Plain", window)
    tab = window.current_tab()
    if tab is None:
        pytest.skip("no tabs")
    original = tab.menu_actions
    tab.menu_actions = lambda menu: [undo, None, plain] if menu == "Edit" else original(menu)
    for _ in range(3):
        window.rebuild_menus()
    assert undo.text() == "Undo" and plain.text() == "Plain"  # still alive
    assert undo in window.menus["Edit"].actions()
    assert len([a for a in window.menus["Edit"].actions() if a.isSeparator()]) == 1


def test_the_app_limits_openmp_spin_before_any_tab_loads_torch():
    # A real process: which tab imports torch first (Classify's models do it without the
    # CNN jobs' set-up) must not decide how torch's OpenMP threads wait.
    code = (
        "import os\n"
        "os.environ.pop('GOMP_SPINCOUNT', None); os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "from gui.app import make_application\n"
        "make_application([])\n"
        "import nets.pretrained.threads, torch\n"
        "print(os.environ.get('GOMP_SPINCOUNT'))\n"
    )
    env = {**os.environ, "QT_QPA_PLATFORM": "offscreen", "PYTHONPATH": str(ROOT)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env,
        cwd=ROOT, check=True,
    )  # fmt: skip
    from nets.cnn.config import OPENMP_SPIN_COUNT

    assert out.stdout.split()[-1] == OPENMP_SPIN_COUNT
