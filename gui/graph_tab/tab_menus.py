"""The Graph tab's actions (with their shortcuts) and the menus they go in: File (with
Open Recent, Examples and Export), Edit and View.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenu

from graph.examples import EXAMPLES
from gui.graph_tab.export import FORMATS


def _set(action: QAction, *, enabled: bool | None = None, text: str | None = None) -> None:
    if not shiboken6.isValid(action):
        return
    if enabled is not None:
        action.setEnabled(enabled)
    if text is not None:
        action.setText(text)


class GraphTabMenus:
    """``GraphTab``'s actions and menus (a mixin: the slots are the tab's methods)."""

    def _action(
        self,
        text: str,
        slot,
        keys: list[str] | QKeySequence.StandardKey | None = None,
        tip: str = "",
        canvas_only: bool = False,
        checkable: bool = False,
    ) -> QAction:
        action = QAction(text, self)
        if isinstance(keys, QKeySequence.StandardKey):
            action.setShortcuts(keys)
        elif keys:
            action.setShortcuts([QKeySequence(k) for k in keys])
        if tip:
            action.setToolTip(tip)
            action.setStatusTip(tip)
        action.setCheckable(checkable)
        if checkable:
            action.toggled.connect(slot)
        else:
            action.triggered.connect(lambda _checked=False: slot())
        if canvas_only:
            # Single keys act only while the canvas has the focus (not in tables).
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
        else:
            self.addAction(action)
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        return action

    def _build_actions(self) -> None:
        a = self._action
        self.new_action = a("&New", self.new_graph, QKeySequence.StandardKey.New)
        self.open_action = a("&Open…", self.open_dialog, QKeySequence.StandardKey.Open)
        self.program_action = a(
            "New from &Python program…",
            self.program_dialog,
            ["Ctrl+Shift+N"],
            "Build a graph from a short program (micrograd style works)",
        )
        self.save_action = a("&Save", self.document.save, QKeySequence.StandardKey.Save)
        self.save_as_action = a("Save &As…", self.document.save_as, ["Ctrl+Shift+S"])
        self.recent_menu = QMenu("Open &Recent", self)
        self.examples_menu = QMenu("&Examples", self)
        for name, description in EXAMPLES.items():
            action = self.examples_menu.addAction(description)
            action.triggered.connect(lambda _=False, n=name: self.open_example(n))
        self.export_menu = QMenu("&Export", self)
        for kind, (label, _pattern) in FORMATS.items():
            action = self.export_menu.addAction(f"{label}…")
            action.triggered.connect(lambda _=False, k=kind: self.export_dialog(k))

        # Own actions rather than QUndoStack.createUndoAction: the window's menus are
        # cleared on every rebuild, and QMenu.clear() deletes those.
        self.undo_action = a("&Undo", self.undo, ["Ctrl+Z"])
        self.redo_action = a("&Redo", self.redo, ["Ctrl+Shift+Z", "Ctrl+Y"])
        # The stack may outlive the actions while the tab is torn down: check first.
        self.stack.canUndoChanged.connect(lambda on: _set(self.undo_action, enabled=on))
        self.stack.canRedoChanged.connect(lambda on: _set(self.redo_action, enabled=on))
        self.stack.undoTextChanged.connect(
            lambda text: _set(self.undo_action, text=f"&Undo {text}".rstrip())
        )
        self.stack.redoTextChanged.connect(
            lambda text: _set(self.redo_action, text=f"&Redo {text}".rstrip())
        )
        self.undo_action.setEnabled(False)
        self.redo_action.setEnabled(False)
        self.add_node_action = a(
            "&Add node…", lambda: self.view.request_add_menu(), ["Tab"], canvas_only=True
        )
        self.delete_action = a(
            "&Delete", self.delete_selection, ["Delete"], "Delete the selection", canvas_only=True
        )
        self.duplicate_action = a("D&uplicate", self.duplicate_selection, ["Ctrl+D"])
        self.select_all_action = a("Select &all", self.select_all, ["Ctrl+A"], canvas_only=True)
        self.layout_action = a(
            "Auto-&layout",
            self.auto_layout,
            ["L"],
            "Arrange the nodes left to right by depth (L)",
            canvas_only=True,
        )
        self.output_action = a("Set as &output", self.set_selected_as_output)
        self.practice_action = a(
            "&Practice mode",
            self.set_practice,
            tip="Hide the gradients and answer them yourself, step by step",
            checkable=True,
        )

        self.fit_action = a(
            "&Fit graph", self.view.fit, ["F"], "Show the whole graph (F)", canvas_only=True
        )
        self.zoom_in_action = a("Zoom &in", lambda: self.view.zoom_by(1.25), ["Ctrl+="])
        self.zoom_out_action = a("Zoom &out", lambda: self.view.zoom_by(0.8), ["Ctrl+-"])
        self.zoom_reset_action = a("&Actual size", self.view.reset_zoom, ["Ctrl+0"])
        self.formulas_action = a(
            "Show edge &formulas",
            self.set_show_formulas,
            tip="Label edges 'upstream × local = contribution' during backward",
            checkable=True,
        )
        self.history_action = a(
            "&History panel", self.set_history_visible, ["Ctrl+H"], checkable=True
        )
        self.surface_action = a(
            "Loss &surface",
            self.set_surface_visible,
            ["Ctrl+U"],
            "Plot the output over one or two inputs, with the gradient and gradient descent",
            checkable=True,
        )
        self.steps.bind_shortcuts_to(self)

    def menu_actions(self, menu: str) -> list[QAction | None]:
        if menu == "File":
            return [
                self.new_action,
                self.open_action,
                self.recent_menu.menuAction(),
                self.examples_menu.menuAction(),
                self.program_action,
                None,
                self.save_action,
                self.save_as_action,
                self.export_menu.menuAction(),
            ]
        if menu == "Edit":
            return [
                self.undo_action,
                self.redo_action,
                None,
                self.add_node_action,
                self.delete_action,
                self.duplicate_action,
                self.select_all_action,
                None,
                self.layout_action,
                self.output_action,
                None,
                self.grouping.group_action,
                self.grouping.ungroup_action,
                None,
                self.practice_action,
                self.bug_panel.plant_action,
                self.bug_panel.remove_action,
                self.bug_panel.export_action,
            ]
        if menu == "View":
            return [
                self.fit_action,
                self.zoom_in_action,
                self.zoom_out_action,
                self.zoom_reset_action,
                None,
                self.formulas_action,
                self.precision_menu.menuAction(),
                self.history_action,
                self.surface_action,
                None,
                *self.steps.actions,
            ]
        return []

    def _rebuild_recent_menu(self) -> None:
        menu = self.recent_menu
        menu.clear()
        recent = self.document.recent_files()
        for path in recent:
            action = menu.addAction(path.name)
            action.setToolTip(str(path))
            action.setStatusTip(str(path))
            action.triggered.connect(lambda _=False, p=path: self._open_recent(p))
        if recent:
            menu.addSeparator()
            menu.addAction("Clear list", self.document.clear_recent)
        menu.menuAction().setEnabled(bool(recent))

    def _open_recent(self, path: Path) -> None:
        if not path.is_file():
            self.say(f"{path} no longer exists.", 8000)
            return
        self.open_file(path)
