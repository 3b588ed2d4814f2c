"""The main window: menus, status bar, and a tab per capability (see ``gui.tabs``)."""

from __future__ import annotations

import importlib
import shutil
import sys
from pathlib import Path

from PySide6.QtCore import QByteArray, QSettings, Qt, QTimer, QUrl
from PySide6.QtGui import (
    QAction,
    QCloseEvent,
    QDesktopServices,
    QDragEnterEvent,
    QDropEvent,
    QKeySequence,
    QShowEvent,
)
from PySide6.QtWidgets import (
    QApplication,
    QDialog,
    QMainWindow,
    QMenu,
    QMessageBox,
    QTabWidget,
    QWidget,
)

from gui.about import about_html
from gui.errors import log_path
from gui.help_pages import QUICK_START, shortcut_rows, shortcuts_html, show_page
from gui.lazy import LazyWidget
from gui.tab_base import AppContext, AppTab
from gui.tabs import TABS
from gui.worker import WorkerRegistry

MENUS = ("File", "Edit", "View")


def has_launcher() -> bool:
    """Whether a desktop launcher can open folders (xdg-open on Linux)."""
    if sys.platform.startswith("linux"):
        # Qt opens folders through xdg-open; without it openUrl fails.
        return shutil.which("xdg-open") is not None
    return True


class LazyTab(LazyWidget[AppTab]):
    """Holds a tab's place; imports and builds the real tab the first time it is needed."""

    def __init__(self, tab_id: str, target: str, context: AppContext, window: MainWindow):
        super().__init__(self._build)
        self.tab_id = tab_id
        self._target = target
        self._context = context
        self._window = window

    def _build(self) -> AppTab:
        module_name, class_name = self._target.split(":")
        tab = getattr(importlib.import_module(module_name), class_name)(self._context)
        tab.status_message.connect(self._window.show_status)
        tab.actions_changed.connect(self._window.rebuild_menus)
        tab.title_changed.connect(self._window.refresh_title)
        return tab

    def tab(self) -> AppTab:
        return self.widget()

    def showEvent(self, event: QShowEvent) -> None:
        # The window builds the current tab itself (_on_current_changed, and before the
        # first show): a tab page shown by QTabWidget is not built here.
        QWidget.showEvent(self, event)


class MainWindow(QMainWindow):
    """The app's window. ``remember=False`` neither reads nor writes QSettings."""

    def __init__(self, *, remember: bool = True) -> None:
        super().__init__()
        self.setObjectName("mainWindow")
        self.setWindowTitle("Backprop Explorer")
        self.setAcceptDrops(True)
        self._remember = remember
        self.settings = QSettings()
        self.workers = WorkerRegistry(self)
        self.context = AppContext(workers=self.workers, settings=self.settings)
        self._shut_down = False

        self.tabs = QTabWidget()
        self.tabs.setObjectName("tabs")
        self.tabs.setDocumentMode(True)
        # The tab bar never takes the focus: arrow keys belong to the tab's content
        # (the Graph tab steps with ← and →); Ctrl+1..4 and Ctrl+Tab switch tabs.
        self.tabs.tabBar().setFocusPolicy(Qt.FocusPolicy.NoFocus)
        self.setCentralWidget(self.tabs)
        for tab_id, title, target in TABS:
            self.tabs.addTab(LazyTab(tab_id, target, self.context, self), title)

        self.menus: dict[str, QMenu] = {}
        for name in (*MENUS, "Help"):
            self.menus[name] = self.menuBar().addMenu(f"&{name}")
        self._build_global_actions()
        self.statusBar().showMessage("Ready", 3000)

        if remember:
            self._restore_settings()
        else:
            self.resize(1280, 820)
        self.tabs.currentChanged.connect(self._on_current_changed)
        self._on_current_changed(self.tabs.currentIndex())

    # -- tabs ------------------------------------------------------------------------
    def lazy_tabs(self) -> list[LazyTab]:
        return [self.tabs.widget(i) for i in range(self.tabs.count())]

    def tab_ids(self) -> list[str]:
        return [lazy.tab_id for lazy in self.lazy_tabs()]

    def select_tab(self, tab_id: str) -> AppTab:
        """Make ``tab_id`` current and return its (now created) tab."""
        for index, lazy in enumerate(self.lazy_tabs()):
            if lazy.tab_id == tab_id:
                self.tabs.setCurrentIndex(index)
                return lazy.tab()
        raise KeyError(f"no tab named {tab_id!r}; tabs: {', '.join(self.tab_ids()) or 'none'}")

    def current_tab(self) -> AppTab | None:
        lazy = self.tabs.currentWidget()
        return lazy.tab() if isinstance(lazy, LazyTab) else None

    def created_tabs(self) -> list[AppTab]:
        return [lazy.created for lazy in self.lazy_tabs() if lazy.created is not None]

    def _on_current_changed(self, index: int) -> None:
        if index >= 0:
            lazy = self.tabs.widget(index)
            tab = lazy.tab()
            focus = QApplication.focusWidget()
            target = tab.focus_target()
            if target is not None and (focus is None or not lazy.isAncestorOf(focus)):
                # Keys pressed right after switching (F5 after Ctrl+1) reach the tab.
                target.setFocus(Qt.FocusReason.OtherFocusReason)
        self.rebuild_menus()
        self.refresh_title()

    # -- menus -----------------------------------------------------------------------
    def _build_global_actions(self) -> None:
        self.quit_action = QAction("&Quit", self)
        self.quit_action.setShortcut(QKeySequence.StandardKey.Quit)
        self.quit_action.triggered.connect(self.close)

        self.fullscreen_action = QAction("&Full Screen", self, checkable=True)
        self.fullscreen_action.setShortcut(QKeySequence(Qt.Key.Key_F11))
        self.fullscreen_action.toggled.connect(
            lambda on: self.showFullScreen() if on else self.showNormal()
        )
        self.goto_actions: list[QAction] = []
        for i, (_tab_id, title, _target) in enumerate(TABS[:9]):
            action = QAction(f"Go to {title}", self)
            action.setShortcut(QKeySequence(f"Ctrl+{i + 1}"))
            action.triggered.connect(lambda _=False, i=i: self.tabs.setCurrentIndex(i))
            self.goto_actions.append(action)

        self.check_action = QAction("Check &My Code...", self)
        self.check_action.triggered.connect(self.show_check_dialog)

        self.about_action = QAction("&About Backprop Explorer", self)
        self.about_action.triggered.connect(self.show_about)
        self.quick_start_action = QAction("&Quick Start", self)
        self.quick_start_action.setShortcut(QKeySequence(QKeySequence.StandardKey.HelpContents))
        self.quick_start_action.triggered.connect(self.show_quick_start)
        self.shortcuts_action = QAction("&Keyboard Shortcuts", self)
        self.shortcuts_action.setShortcut(QKeySequence("Ctrl+/"))
        self.shortcuts_action.triggered.connect(self.show_shortcuts)
        self.log_action = QAction("Open &Log Folder", self)
        self.log_action.triggered.connect(self.open_log_folder)
        help_menu = self.menus["Help"]
        help_menu.addAction(self.quick_start_action)
        help_menu.addAction(self.shortcuts_action)
        help_menu.addSeparator()
        help_menu.addAction(self.log_action)
        help_menu.addSeparator()
        help_menu.addAction(self.about_action)
        for action in (self.quick_start_action, self.shortcuts_action):
            self.addAction(action)

    def rebuild_menus(self) -> None:
        """Fill File, Edit and View with the current tab's actions plus the global ones."""
        tab = self.current_tab()
        for name in MENUS:
            menu = self.menus[name]
            # Not QMenu.clear(): it deletes actions it considers its own, such as the
            # undo actions a QUndoStack creates, which tabs keep using.
            for action in menu.actions():
                menu.removeAction(action)
                if action.isSeparator() and action.parent() is menu:
                    action.deleteLater()
            actions = tab.menu_actions(name) if tab is not None else []
            for action in actions:
                if action is None:
                    menu.addSeparator()
                else:
                    menu.addAction(action)
            if name == "File":
                if actions:
                    menu.addSeparator()
                menu.addAction(self.check_action)
                menu.addSeparator()
                menu.addAction(self.quit_action)
            elif name == "View":
                if actions:
                    menu.addSeparator()
                for action in self.goto_actions:
                    menu.addAction(action)
                menu.addSeparator()
                menu.addAction(self.fullscreen_action)
            menu.menuAction().setEnabled(not menu.isEmpty())

    def show_about(self) -> QMessageBox:
        box = QMessageBox(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("aboutDialog")
        box.setWindowTitle("About Backprop Explorer")
        box.setTextFormat(Qt.TextFormat.RichText)
        box.setText(about_html())
        box.setIconPixmap(self.windowIcon().pixmap(64, 64))
        box.open()
        return box

    def show_check_dialog(self) -> QWidget:
        """File > Check my code...: the user's homework files against the app's own."""
        from gui.homework.check_dialog import open_check_dialog

        return open_check_dialog(
            self, self.context, lambda g, text: self.select_tab("graph").show_graph(g, text)
        )

    def show_quick_start(self) -> QDialog:
        return show_page(self, "Quick start", "quickStart", QUICK_START)

    def show_shortcuts(self) -> QDialog:
        tab = self.current_tab()
        groups = []
        if tab is not None:
            for name in MENUS:
                groups.append((f"{tab.title}: {name}", tab.menu_actions(name)))
        groups.append(("Window", [self.quit_action, self.fullscreen_action, *self.goto_actions]))
        groups.append(("Help", self.menus["Help"].actions()))
        body = shortcuts_html(shortcut_rows(groups))
        return show_page(self, "Keyboard shortcuts", "shortcuts", body)

    def open_log_folder(self) -> QMessageBox | None:
        """Open the log folder in the file manager; without one, show (and copy) its path."""
        folder = log_path().parent
        folder.mkdir(parents=True, exist_ok=True)
        self.show_status(f"Log folder: {folder}", 10000)
        if has_launcher() and QDesktopServices.openUrl(QUrl.fromLocalFile(str(folder))):
            return None
        QApplication.clipboard().setText(str(folder))
        box = QMessageBox(self)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.setObjectName("logFolderDialog")
        box.setIcon(QMessageBox.Icon.Information)
        box.setWindowTitle("Log folder")
        box.setText(
            f"No file manager was found to open the log folder. It is:\n\n{folder}\n\n"
            "The path has been copied to the clipboard."
        )
        box.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        box.open()
        return box

    def refresh_title(self) -> None:
        """``f3* — Backprop Explorer``: the current tab's document and its unsaved mark."""
        tab = self.current_tab()
        info = tab.document_title() if tab is not None else None
        if info is None:
            self.setWindowTitle("Backprop Explorer")
            self.setWindowModified(False)
        else:
            name, modified = info
            self.setWindowTitle(f"{name}[*] — Backprop Explorer")
            self.setWindowModified(modified)

    def show_status(self, text: str, timeout_ms: int = 5000) -> None:
        self.statusBar().showMessage(text, timeout_ms)

    # -- files -----------------------------------------------------------------------
    def open_paths(self, paths: list[Path]) -> bool:
        """Give dropped or command-line paths to the tab that opens them (current first)."""
        lazies = self.lazy_tabs()
        current = self.tabs.currentIndex()
        order = ([lazies[current]] if current >= 0 else []) + [
            lazy for i, lazy in enumerate(lazies) if i != current
        ]
        for lazy in order:
            tab = lazy.tab()
            accepted = [p for p in paths if tab.accepts_path(p)]
            if accepted:
                self.tabs.setCurrentWidget(lazy)
                tab.open_paths(accepted)
                return True
        names = ", ".join(p.name for p in paths[:3]) + (" ..." if len(paths) > 3 else "")
        self.show_status(f"Nothing here opens {names}", 8000)
        return False

    def dragEnterEvent(self, event: QDragEnterEvent) -> None:
        if event.mimeData().hasUrls() and any(u.isLocalFile() for u in event.mimeData().urls()):
            event.acceptProposedAction()
        else:
            event.ignore()

    def dropEvent(self, event: QDropEvent) -> None:
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            # Let the drop finish before a tab starts any work.
            QTimer.singleShot(0, lambda: self.open_paths(paths))

    # -- settings and shutdown -------------------------------------------------------
    def _restore_settings(self) -> None:
        geometry = self.settings.value("window/geometry")
        if isinstance(geometry, QByteArray) and not geometry.isEmpty():
            self.restoreGeometry(geometry)
        else:
            self.resize(1280, 820)
        last = self.settings.value("window/tab", "")
        if last in self.tab_ids():
            self.tabs.setCurrentIndex(self.tab_ids().index(last))

    def _save_settings(self) -> None:
        self.settings.setValue("window/geometry", self.saveGeometry())
        lazy = self.tabs.currentWidget()
        if isinstance(lazy, LazyTab):
            self.settings.setValue("window/tab", lazy.tab_id)
        self.settings.sync()

    def closeEvent(self, event: QCloseEvent) -> None:
        if not self._shut_down and not all(tab.can_close() for tab in self.created_tabs()):
            event.ignore()
            return
        if self._remember:
            self._save_settings()
        self.shutdown()
        event.accept()

    def shutdown(self, timeout_ms: int = 2500) -> bool:
        """Stop every tab's work and every worker thread; True if all threads ended."""
        if not self._shut_down:
            self._shut_down = True
            for tab in self.created_tabs():
                tab.shutdown()
        return self.workers.shutdown(timeout_ms)
