"""A read-only window for the real-window tests (tests/gui/realwindow).

Off unless ``BACKPROP_EXPLORER_TEST_HOOK`` names a socket path. The app then listens on
that local socket; a test writes one JSON line naming a fixed query (``{"q": "state"}``)
and reads one JSON line back. The queries only *report* what the window shows (focus,
current tab, texts, screen rectangles to click on, labels whose text does not fit): there
is no query that changes state or runs code. Input comes from real X events (xdotool).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QObject, QRect, Qt
from PySide6.QtGui import QFontMetrics, QTextDocument
from PySide6.QtNetwork import QLocalServer, QLocalSocket
from PySide6.QtWidgets import (
    QAbstractButton,
    QAbstractItemView,
    QApplication,
    QComboBox,
    QHeaderView,
    QLabel,
    QLineEdit,
    QMenu,
    QMenuBar,
    QStyle,
    QStyleOptionComboBox,
    QTabBar,
    QToolTip,
    QWidget,
)

from gui import dialogs

ENV = "BACKPROP_EXPLORER_TEST_HOOK"


def _rect(widget: QWidget, local: QRect | None = None) -> list[int]:
    """Global [x, y, w, h] of ``local`` (widget coordinates; the whole widget if None)."""
    r = local if local is not None else widget.rect()
    top_left = widget.mapToGlobal(r.topLeft())
    return [top_left.x(), top_left.y(), r.width(), r.height()]


def _describe(widget: QWidget | None) -> dict[str, Any] | None:
    if widget is None:
        return None
    info: dict[str, Any] = {
        "class": type(widget).__name__,
        "object": widget.objectName(),
        "accessible": widget.accessibleName(),
        "visible": widget.isVisible(),
        "enabled": widget.isEnabled(),
        "rect": _rect(widget),
        "text": _text(widget),
        "tooltip": widget.toolTip(),
    }
    if isinstance(widget, QAbstractButton) and widget.isCheckable():
        info["checked"] = widget.isChecked()
    return info


def _text(widget: QWidget) -> str:
    if isinstance(widget, QLabel):
        if widget.textFormat() != 0 and "<" in widget.text():  # rich text: as shown
            doc = QTextDocument()
            doc.setHtml(widget.text())
            return doc.toPlainText()
        return widget.text()
    if isinstance(widget, QAbstractButton):
        return widget.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
    if isinstance(widget, QLineEdit):
        return widget.text()
    if isinstance(widget, QComboBox):
        return widget.currentText()
    if hasattr(widget, "windowTitle") and widget.isWindow():
        return widget.windowTitle()
    return ""


def _visible(widget: QWidget) -> bool:
    return widget.isVisible() and not widget.visibleRegion().isEmpty()


def clipped_texts(root: QWidget) -> list[dict[str, Any]]:
    """Visible labels, buttons, combo boxes and header sections whose text is wider (or,
    wrapped, taller) than the room the widget has: what a person sees cut off."""
    found: list[dict[str, Any]] = []

    def report(widget: QWidget, text: str, need: int, have: int) -> None:
        found.append(
            {
                "class": type(widget).__name__,
                "object": widget.objectName(),
                "text": text,
                "need": need,
                "have": have,
            }
        )

    for widget in root.findChildren(QWidget):
        if not _visible(widget):
            continue
        fm = QFontMetrics(widget.font())
        if isinstance(widget, QLabel) and widget.text() and widget.pixmap().isNull():
            room = widget.contentsRect().adjusted(
                widget.margin(), widget.margin(), -widget.margin(), -widget.margin()
            )
            text = _text(widget)
            if widget.wordWrap():
                need = widget.heightForWidth(widget.width())
                if need > widget.height() + 1:
                    report(widget, text, need, widget.height())
            else:
                hint = widget.sizeHint()
                pad = widget.width() - room.width()
                if hint.width() - pad > room.width() + 1:
                    report(widget, text, hint.width() - pad, room.width())
        elif isinstance(widget, QAbstractButton) and widget.text():
            text = widget.text().replace("&&", "\0").replace("&", "").replace("\0", "&")
            icon = widget.iconSize().width() + 4 if not widget.icon().isNull() else 0
            need = fm.horizontalAdvance(text) + icon + 8
            if need > widget.width() and widget.metaObject().className() != "QToolButton":
                report(widget, text, need, widget.width())
        elif isinstance(widget, QComboBox) and widget.currentText():
            option = QStyleOptionComboBox()
            widget.initStyleOption(option)
            field = widget.style().subControlRect(
                QStyle.ComplexControl.CC_ComboBox,
                option,
                QStyle.SubControl.SC_ComboBoxEditField,
                widget,
            )
            need = fm.horizontalAdvance(widget.currentText())
            if not widget.itemIcon(widget.currentIndex()).isNull():
                need += widget.iconSize().width() + 4
            if need > field.width():
                report(widget, widget.currentText(), need, field.width())
        elif isinstance(widget, QAbstractItemView) and not isinstance(widget, QHeaderView):
            found += _clipped_cells(widget, fm)
            continue
        elif isinstance(widget, QHeaderView) and widget.model() is not None:
            margin = widget.style().pixelMetric(QStyle.PixelMetric.PM_HeaderMargin, None, widget)
            horizontal = widget.orientation().value == 1
            root = QModelIndex()
            model = widget.model()
            count = _columns(model) if horizontal else model.rowCount(root)
            for section in range(count):
                if widget.isSectionHidden(section) or widget.sectionSize(section) == 0:
                    continue
                text = str(widget.model().headerData(section, widget.orientation()) or "")
                if not text:
                    continue
                if horizontal:
                    need = fm.horizontalAdvance(text) + 2 * margin
                    have = widget.sectionSize(section)
                else:
                    need, have = fm.horizontalAdvance(text) + 2 * margin, widget.width()
                if need > have:
                    report(widget, text, need, have)
    return found


def _columns(model: Any) -> int:
    try:
        return model.columnCount(QModelIndex())
    except (TypeError, AttributeError):  # list models keep columnCount private
        return 1


def _clipped_cells(view: QAbstractItemView, fm: QFontMetrics) -> list[dict[str, Any]]:
    """Cells of a table or list whose text is wider than the cell (the view elides it)."""
    model = view.model()
    if model is None:
        return []
    out = []
    viewport = view.viewport().rect()
    margin = view.style().pixelMetric(QStyle.PixelMetric.PM_FocusFrameHMargin, None, view) + 1
    root = QModelIndex()
    for row in range(min(model.rowCount(root), 200)):
        for col in range(_columns(model)):
            index = model.index(row, col)
            rect = view.visualRect(index)
            if rect.isEmpty() or not viewport.intersects(rect):
                continue
            text = model.data(index)
            if not isinstance(text, str) or not text:
                continue
            cell_font = model.data(index, Qt.ItemDataRole.FontRole)
            metrics = QFontMetrics(cell_font) if cell_font is not None else fm
            need = max(metrics.horizontalAdvance(line) for line in text.splitlines()) + 2 * margin
            if model.data(index, Qt.ItemDataRole.DecorationRole) is not None:
                need += view.iconSize().width() + 4
            wraps = getattr(view, "wordWrap", lambda: False)()
            if wraps and need > rect.width():
                # A wrapping view shows long text on more lines: cut only if they don't fit.
                room = rect.adjusted(margin, 0, -margin, 0)
                flags = Qt.TextFlag.TextWordWrap | Qt.AlignmentFlag.AlignLeft
                tall = metrics.boundingRect(room, flags, text)
                fits = tall.width() <= room.width() and tall.height() <= rect.height()
                need = rect.width() if fits else need
            if need > rect.width():
                out.append(
                    {
                        "class": type(view).__name__,
                        "object": view.objectName(),
                        "text": text,
                        "need": need,
                        "have": rect.width(),
                    }
                )
    return out


def _menus(window: QWidget) -> dict[str, Any]:
    """The menu bar's titles and the open popup menu's items, with screen rectangles."""
    out: dict[str, Any] = {"bar": [], "popup": None}
    bar = window.findChild(QMenuBar)
    if bar is not None:
        for action in bar.actions():
            if action.isVisible():
                out["bar"].append(
                    {
                        "text": action.text().replace("&", ""),
                        "enabled": action.isEnabled(),
                        "rect": _rect(bar, bar.actionGeometry(action)),
                    }
                )
    popup = QApplication.activePopupWidget()
    if isinstance(popup, QMenu):
        items = []
        for action in popup.actions():
            if action.isSeparator() or not action.isVisible():
                continue
            items.append(
                {
                    "text": action.text().replace("&", ""),
                    "enabled": action.isEnabled(),
                    "submenu": action.menu() is not None,
                    "checkable": action.isCheckable(),
                    "rect": _rect(popup, popup.actionGeometry(action)),
                }
            )
        out["popup"] = {"title": popup.title().replace("&", ""), "items": items}
    return out


def _tabs(window: QWidget) -> list[dict[str, Any]]:
    out = []
    for bar in window.findChildren(QTabBar):
        if not _visible(bar):
            continue
        for i in range(bar.count()):
            out.append(
                {
                    "bar": bar.parent().objectName() if bar.parent() else "",
                    "text": bar.tabText(i),
                    "current": i == bar.currentIndex(),
                    "rect": _rect(bar, bar.tabRect(i)),
                }
            )
    return out


def _windows() -> list[dict[str, Any]]:
    return [
        {
            "class": type(w).__name__,
            "object": w.objectName(),
            "title": w.windowTitle(),
            "text": w.text() if hasattr(w, "text") and callable(w.text) else "",
            "modal": w.isModal(),
            "rect": _rect(w),
        }
        for w in QApplication.topLevelWidgets()
        if w.isVisible() and not isinstance(w, QMenu)
    ]


class TestHook(QObject):
    """Answers the fixed queries below on a local socket (see the module docstring)."""

    def __init__(self, window: Any, path: str) -> None:
        super().__init__(window)
        self.window = window
        self.queries: dict[str, Callable[[dict[str, Any]], Any]] = {
            "state": self._state,
            "widgets": self._widgets,
            "menus": lambda _r: _menus(self.window),
            "tabs": lambda _r: _tabs(self.window),
            "clipped": lambda _r: clipped_texts(self.window),
            "tab_state": lambda _r: self._current_tab_state(),
            "table": self._table,
        }
        if os.path.exists(path):
            os.unlink(path)
        self.server = QLocalServer(self)
        self.server.newConnection.connect(self._accept)
        if not self.server.listen(path):
            raise OSError(f"test hook: cannot listen on {path}: {self.server.errorString()}")

    def _accept(self) -> None:
        while self.server.hasPendingConnections():
            conn = self.server.nextPendingConnection()
            conn.readyRead.connect(lambda c=conn: self._answer(c))

    def _answer(self, conn: QLocalSocket) -> None:
        if not conn.canReadLine():
            return
        line = bytes(conn.readLine().data()).decode("utf-8", "replace")
        try:
            request = json.loads(line)
            answer = {"ok": self.queries[request["q"]](request)}
        except Exception as exc:
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        conn.write((json.dumps(answer) + "\n").encode("utf-8"))
        conn.flush()
        conn.disconnectFromServer()

    def _state(self, _request: dict[str, Any]) -> dict[str, Any]:
        app = QApplication.instance()
        tab = self.window.tabs.currentWidget()
        return {
            "title": self.window.windowTitle(),
            "tab": getattr(tab, "tab_id", ""),
            "focus": _describe(app.focusWidget()),
            "status": self.window.statusBar().currentMessage(),
            "windows": _windows(),
            "popup": _describe(QApplication.activePopupWidget()),
            "modal": _describe(QApplication.activeModalWidget()),
            "size": [self.window.width(), self.window.height()],
            "tooltip": QToolTip.text() if QToolTip.isVisible() else "",
            "shown_title": self.window.windowTitle().replace(
                "[*]", "*" if self.window.isWindowModified() else ""
            ),
            "clipboard": QApplication.clipboard().text(),
            "errors": list(dialogs.shown_errors),
        }

    def _widgets(self, request: dict[str, Any]) -> list[dict[str, Any]]:
        """Widgets whose accessible name, object name or shown text is ``request["name"]``."""
        name = request["name"]
        found = []
        for top in QApplication.topLevelWidgets():
            for w in [top, *top.findChildren(QWidget)]:
                if name in (w.accessibleName(), w.objectName(), _text(w)):
                    found.append(_describe(w))
        return found

    def _table(self, request: dict[str, Any]) -> dict[str, Any]:
        """The display texts of the visible item view named ``request["name"]``, and the
        screen rectangle of each row's first cell."""
        for top in QApplication.topLevelWidgets():
            for view in top.findChildren(QAbstractItemView):
                if request["name"] in (view.objectName(), view.accessibleName()) and _visible(view):
                    model, root = view.model(), QModelIndex()
                    rows = range(model.rowCount(root))
                    return {
                        "rows": [
                            [model.data(model.index(r, c)) for c in range(_columns(model))]
                            for r in rows
                        ],
                        "rects": [
                            _rect(view.viewport(), view.visualRect(model.index(r, 0))) for r in rows
                        ],
                    }
        raise KeyError(f"no visible table named {request['name']!r}")

    def _current_tab_state(self) -> dict[str, Any]:
        tab = self.window.current_tab()
        return tab.test_state() if tab is not None else {}


def install(window: Any) -> TestHook | None:
    """Start the hook when the environment asks for it; otherwise do nothing."""
    path = os.environ.get(ENV)
    if not path:
        return None
    return TestHook(window, path)
