"""Building and showing the tabs opens no window besides the main window: a widget shown
before it has a parent becomes a window of its own and takes the main window's activation
(its keyboard shortcuts then stop working)."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtWidgets import QApplication, QWidget

from gui.main_window import MainWindow


class _WindowsShown(QObject):
    def __init__(self) -> None:
        super().__init__()
        self.shown: list[str] = []

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.Show
            and isinstance(obj, QWidget)
            and obj.isWindow()
            and not isinstance(obj, MainWindow)
        ):
            self.shown.append(f"{type(obj).__name__} {obj.objectName()!r}")
        return False


def test_every_tab_shows_without_a_stray_window_and_the_main_window_stays_active(qtbot):
    spy = _WindowsShown()
    app = QApplication.instance()
    app.installEventFilter(spy)
    try:
        window = MainWindow(remember=False)
        qtbot.addWidget(window, before_close_func=lambda w: w.shutdown())
        with qtbot.waitActive(window):
            window.show()
        for name in ("graph", "mlp", "cnn", "classify"):
            window.select_tab(name)
            qtbot.waitUntil(lambda: QApplication.activeWindow() is window, timeout=2000)
    finally:
        app.removeEventFilter(spy)
    window.shutdown()
    assert spy.shown == []
