"""Start the Qt application: the window, the exception hook, and screenshot mode."""

from __future__ import annotations

import os
import signal
import sys
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtGui import QIcon
from PySide6.QtWidgets import QApplication

from assets import asset_path
from gui.errors import ExceptionHook
from gui.gc_guard import MainThreadGarbageCollector
from gui.main_window import MainWindow

ORGANIZATION = "backprop-explorer"
APPLICATION = "backprop-explorer"


def _parse_size(size: str | None) -> tuple[int, int] | None:
    if not size:
        return None
    try:
        width, height = (int(v) for v in size.lower().split("x"))
    except ValueError:
        raise ValueError(f"--size must look like 1280x800, not {size!r}") from None
    if not (200 <= width <= 8000 and 200 <= height <= 8000):
        raise ValueError(f"--size {size} is out of range (200 to 8000 pixels each side)")
    return width, height


# The offscreen platform (screenshots, CI) cannot do this and says so on every show.
_HARMLESS_QT_MESSAGES = ("This plugin does not support propagateSizeHints()",)


def _qt_message_handler(mode: QtMsgType, context: object, message: str) -> None:
    if message in _HARMLESS_QT_MESSAGES:
        return
    print(message, file=sys.stderr)


def make_application(argv: list[str] | None = None) -> QApplication:
    """The QApplication, created once, with the app's names and icon."""
    from nets.cnn.config import limit_openmp_spin

    # Before any tab imports torch: the CNN tab's jobs set the short OpenMP spin too, but
    # only if torch is not loaded yet, and the Classify tab's models load it without. A
    # CNN trained after a classification then ran with GNU OpenMP's long default spin,
    # whose idle threads hold the cores the GUI thread and the other team thread need.
    limit_openmp_spin()
    QCoreApplication.setOrganizationName(ORGANIZATION)
    QCoreApplication.setApplicationName(APPLICATION)
    if QApplication.instance() is None:
        qInstallMessageHandler(_qt_message_handler)
    app = QApplication.instance() or QApplication([sys.argv[0], *(argv or [])])
    app.setApplicationDisplayName("Backprop Explorer")
    app.setWindowIcon(QIcon(str(asset_path("icons", "app.svg"))))
    if app.findChild(MainThreadGarbageCollector) is None:
        MainThreadGarbageCollector(parent=app)
    return app


def take_screenshot(window: MainWindow, path: str) -> None:
    """Render the window (offscreen works) to a PNG file, atomically: a full disk or a
    refused target leaves an existing file as it was. Raises ValueError with the reason."""
    from gui.files import atomic_write_bytes, png_bytes
    from gui.lazy import build_pending
    from nets.fileio import shown

    app = QApplication.instance()
    build_pending(window)  # what a window shows a moment after its first frame (the plots)
    for _ in range(5):
        app.processEvents()
    try:
        atomic_write_bytes(path, png_bytes(window.grab().toImage()))
    except OSError as exc:
        raise ValueError(f"cannot write {shown(path)}: {exc.strerror or exc}") from None


def _open_reporting(window: MainWindow, path: Path) -> None:
    """Open a command-line file the way a drop would; a file no tab can read is
    reported in the window (which still opens), never a reason to refuse to start."""
    from gui.dialogs import show_error
    from nets.fileio import shown

    try:
        window.open_paths([path])
    except Exception as exc:
        message = " ".join(str(exc).split())[:300] or type(exc).__name__
        if isinstance(exc, RecursionError):
            message = "the file is nested too deeply to read"
        show_error(window, "Cannot open the file", f"{shown(path)}: {message}")
        window.show_status(f"Cannot open {shown(path.name)}: {message}", 15000)


def run_app(
    argv: list[str] | None = None,
    *,
    screenshot: str | None = None,
    tab: str | None = None,
    open_path: str | None = None,
    size: str | None = None,
) -> int:
    """Open the window and run the event loop; return the exit code.

    With ``screenshot`` the window is rendered to that PNG instead and the app exits.
    """
    window_size = _parse_size(size)
    if screenshot is None and QApplication.instance() is None:
        # Qt aborts the process when its xcb plugin cannot load, naming the wrong
        # library: read the plugin's linkage first and say what is missing.
        from gui.platform_check import check

        problem = check()
        if problem:
            print(problem, file=sys.stderr)
            return 1
    app = make_application(argv)
    window = MainWindow(remember=screenshot is None)
    hook = ExceptionHook(lambda: window)
    hook.install()
    if window_size:
        window.resize(*window_size)
    if tab:
        try:
            window.select_tab(tab)
        except KeyError as exc:  # said as a sentence, not as a quoted KeyError
            raise ValueError(exc.args[0]) from None
    if open_path:
        path = Path(open_path)
        if not os.path.lexists(path):
            raise ValueError(f"{path} does not exist")
        _open_reporting(window, path)
    if os.environ.get("BACKPROP_EXPLORER_EXIT_AFTER_SHOW") and not screenshot:
        # Used by tests and the startup benchmark: report the first frame and the
        # restored tab complete, then close (watching from before the first paint).
        from gui.startup_report import StartupReport

        StartupReport(window)
    window.show()
    if os.environ.get("BACKPROP_EXPLORER_TEST_HOOK"):
        # Only for tests/gui/realwindow: a read-only view of the window (gui/test_hook.py).
        from gui.test_hook import install

        window.test_hook = install(window)

    if screenshot:
        stopped = True
        try:
            current = window.current_tab()
            if current is not None:
                current.prepare_screenshot()
            take_screenshot(window, screenshot)
        finally:
            # Shut down first: a closed window never asks a person anything ("discard
            # changes?") in screenshot mode, and every worker is joined before Qt
            # destroys its thread (a running QThread destroyed aborts the process).
            stopped = window.shutdown()
            window.close()
            hook.uninstall()
            if not stopped:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(0)
        return 0

    # Ctrl+C in the terminal quits cleanly; the timer lets Python see the signal.
    signal.signal(signal.SIGINT, lambda *_: window.close())
    ticker = QTimer(window)
    ticker.timeout.connect(lambda: None)
    ticker.start(250)

    code = app.exec()
    stopped = window.shutdown()
    hook.uninstall()
    if not stopped:
        # A worker is stuck inside one long step. Python threads cannot be killed, and
        # letting Qt destroy a running QThread aborts the process: leave at once instead.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code
