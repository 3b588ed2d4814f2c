"""The last line of defence: unhandled exceptions become a dialog and a log entry.

The full traceback goes to ``backprop-explorer.log`` in the platform's user log folder;
the user sees a one-line message with the traceback in an expandable pane, and the app
keeps running.
"""

from __future__ import annotations

import logging
import sys
import threading
import traceback
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from PySide6.QtCore import QObject, Signal
from PySide6.QtWidgets import QApplication, QWidget

from gui.dialogs import show_error

APP_NAME = "backprop-explorer"
_logger = logging.getLogger(APP_NAME)


def log_path() -> Path:
    """Where unhandled errors are logged (created on first use)."""
    import platformdirs  # 20 ms: only when something is logged or the folder is opened

    return Path(platformdirs.user_log_dir(APP_NAME, appauthor=False)) / f"{APP_NAME}.log"


def _ensure_file_logging() -> None:
    if any(isinstance(h, logging.FileHandler) for h in _logger.handlers):
        return
    path = log_path()
    path.parent.mkdir(parents=True, exist_ok=True)
    handler = logging.FileHandler(path, encoding="utf-8")
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    _logger.addHandler(handler)
    _logger.setLevel(logging.INFO)


def one_line(exc: BaseException) -> str:
    """A short message for a dialog: the first line of the exception's text."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__


class _Relay(QObject):
    """Carries errors raised in any thread to the GUI thread."""

    error = Signal(str, str)


class ExceptionHook:
    """Installed as ``sys.excepthook`` and ``threading.excepthook`` by the app."""

    def __init__(self, parent_getter: Callable[[], QWidget | None] = lambda: None) -> None:
        self._parent_getter = parent_getter
        self._relay = _Relay()
        self._relay.error.connect(self._show)
        self.last_message: str | None = None

    def install(self) -> None:
        _ensure_file_logging()
        sys.excepthook = self.handle
        threading.excepthook = self._handle_thread

    def uninstall(self) -> None:
        sys.excepthook = sys.__excepthook__
        threading.excepthook = threading.__excepthook__

    def handle(
        self,
        exc_type: type[BaseException],
        exc: BaseException,
        tb: TracebackType | None,
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            app = QApplication.instance()
            if app is not None:
                app.quit()
            return
        detail = "".join(traceback.format_exception(exc_type, exc, tb))
        _ensure_file_logging()
        _logger.error("unhandled exception\n%s", detail)
        self._relay.error.emit(one_line(exc), detail)

    def _handle_thread(self, args: threading.ExceptHookArgs) -> None:
        if args.exc_value is not None:
            self.handle(args.exc_type, args.exc_value, args.exc_traceback)

    def _show(self, message: str, detail: str) -> None:
        self.last_message = message
        show_error(
            self._parent_getter(),
            "Something went wrong",
            f"{message}\n\nThe app is still running. Details were written to {log_path()}.",
            detail,
        )
