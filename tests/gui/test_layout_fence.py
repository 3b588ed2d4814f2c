"""gui.training.fence.LayoutFence: a label's new texts re-lay out only what is inside the
fence (a QTabWidget above repaints itself whole on every layout request that reaches it),
and a text that needs another line still gets it."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QCoreApplication, QEvent, QObject
from PySide6.QtWidgets import QApplication, QLabel, QTabWidget, QVBoxLayout, QWidget

from gui.training.fence import LayoutFence
from tests.gui.test_training_tab import FakeTab


class _LayoutRequests(QObject):
    """Counts the layout requests ``watched`` receives."""

    def __init__(self, watched: QObject) -> None:
        super().__init__()
        self.count = 0
        watched.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:
        if event.type() == QEvent.Type.LayoutRequest:
            self.count += 1
        return False


def _settle() -> None:
    for _ in range(3):
        QCoreApplication.sendPostedEvents()
        QApplication.processEvents()


def _page_in_tabs(qtbot, fenced: bool) -> tuple[QTabWidget, QLabel]:
    label = QLabel("elapsed 0:01, ETA 0:09")
    label.setWordWrap(True)
    page = QWidget()
    layout = QVBoxLayout(page)
    layout.addWidget(LayoutFence(label) if fenced else label)
    layout.addWidget(QLabel("the plots"), 1)
    return _shown_in_tabs(qtbot, page, 500, 300), label


def _shown_in_tabs(qtbot, page: QWidget, width: int, height: int) -> QTabWidget:
    """``page`` as a QTabWidget's page (as the window shows a tab), shown and settled."""
    tabs = QTabWidget()
    tabs.addTab(page, "Page")
    tabs.resize(width, height)
    qtbot.addWidget(tabs)
    tabs.show()
    qtbot.waitExposed(tabs)
    _settle()
    return tabs


@pytest.mark.parametrize("fenced", [False, True])
def test_new_texts_of_the_same_size_reach_the_tab_widget_only_without_a_fence(qtbot, fenced):
    tabs, label = _page_in_tabs(qtbot, fenced)
    requests = _LayoutRequests(tabs)
    for second in range(2, 12):
        label.setText(f"elapsed 0:{second:02d}, ETA 0:{12 - second:02d}")
        _settle()
    assert label.text() == "elapsed 0:11, ETA 0:01"
    if fenced:
        assert requests.count == 0
    else:
        assert requests.count >= 10  # what the fence is for: one per new text


def test_a_text_that_needs_more_lines_still_gets_them(qtbot):
    tabs, label = _page_in_tabs(qtbot, fenced=True)
    one_line = label.height()
    label.setText(" ".join(["a long status line that wraps"] * 12))
    _settle()
    assert label.height() >= 3 * one_line
    assert label.height() >= label.heightForWidth(label.width())
    label.setText("short again")
    _settle()
    assert label.height() == one_line


def test_the_training_tabs_status_and_progress_do_not_re_lay_out_the_window(qtbot, context):
    tab = FakeTab(context)
    tabs = _shown_in_tabs(qtbot, tab, 1000, 700)
    tab.controls.set_running()
    for step in range(1, 9):
        if step == 3:  # the first steps' texts have taken their room
            requests = _LayoutRequests(tabs)
        tab.say(f"Epoch 1/3 · step {step}/500 · loss {2.3456 - step / 100:.4g} · lr 0.01")
        tab.controls.set_progress(step, 500, 0.3 * step)
        tab.controls._apply_progress()  # what its timer does, now
        _settle()
    assert tab.status_label.text().startswith("Epoch 1/3 · step 8/500")
    assert tab.controls.eta_label.text().startswith("elapsed 0:02")
    assert requests.count == 0
    tab.shutdown()
