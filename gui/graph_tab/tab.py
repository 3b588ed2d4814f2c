"""The Graph tab: build scalar graphs in a node editor and step through backprop.

The engine's :class:`graph.model.Graph` is the only source of truth. Edits go through
:class:`GraphEditor` (undoable commands), the canvas and panels follow the graph
through one :class:`GraphBridge`, and files go through :class:`GraphDocument`.
"""

from __future__ import annotations

from pathlib import Path

import shiboken6
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QMenu,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from graph import fileformat
from graph.bugs import BUG_KEY
from graph.errors import GraphError
from graph.examples import EXAMPLES, example_path
from graph.model import Graph
from gui import file_dialogs
from gui.graph_tab import autosave, theme
from gui.graph_tab.add_menu import AddNodePopup
from gui.graph_tab.banner import RestoreBanner
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.bug_hunt import BugHunt, BugHuntPanel
from gui.graph_tab.document import GraphDocument
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.export import FORMATS, export
from gui.graph_tab.gradcheck_panel import GradCheckPanel
from gui.graph_tab.group_actions import GroupActions
from gui.graph_tab.groups_view import GroupLayer
from gui.graph_tab.inline_edit import InlineEditor
from gui.graph_tab.inputs_panel import InputsPanel
from gui.graph_tab.node_edit import NodeEditing
from gui.graph_tab.output_choice import OutputChoice
from gui.graph_tab.palette import OpPalette
from gui.graph_tab.practice import META_KEY, PracticePanel, PracticeSession, practice_settings
from gui.graph_tab.precision import precision_menu
from gui.graph_tab.program_dialog import ProgramDialog
from gui.graph_tab.recovery import CrashRecovery
from gui.graph_tab.scene import GraphScene
from gui.graph_tab.step_info import StepInfo
from gui.graph_tab.stepping import StepController
from gui.graph_tab.surface_panel import SurfacePanel
from gui.graph_tab.view import GraphView
from gui.tab_base import AppContext, AppTab

LEGEND = (
    "<span style='color:#1f63c6'>■</span> value (forward) &nbsp;&nbsp;"
    "<span style='color:#c2570c'>■</span> gradient dL/dnode (backward) &nbsp;&nbsp;"
    "<span style='color:#f2b705'>▬</span> current step &nbsp;&nbsp;"
    "<span style='color:#8c8c8c'>┅</span> stale &nbsp;&nbsp;"
    "<span style='color:#d93025'>■</span> nan/inf appeared here &nbsp;&nbsp;"
    "<span style='color:#c2570c'>Σ</span> fan-out sum &nbsp;&nbsp;"
    "<b>▭</b> output"
)


def _set(action: QAction, *, enabled: bool | None = None, text: str | None = None) -> None:
    if not shiboken6.isValid(action):
        return
    if enabled is not None:
        action.setEnabled(enabled)
    if text is not None:
        action.setText(text)


class GraphTab(AppTab):
    tab_id = "graph"
    title = "Graph"

    def __init__(self, context: AppContext, parent: QWidget | None = None) -> None:
        super().__init__(context, parent)
        self.setObjectName("graphTab")
        self.graph = Graph()
        self.bridge = GraphBridge(self.graph, self)
        self.stack = QUndoStack(self)
        self.scene = GraphScene(self.graph, self.bridge, self)
        self.view = GraphView(self.scene)
        self.editor = GraphEditor(self.graph, self.stack, self)
        self.scene.connector = self.editor.connect
        self.scene.rewirer = self.editor.rewire
        self.practice = PracticeSession(self.graph, self.scene)
        self.steps = StepController(self.bridge, self.practice, self)
        self.group_layer = GroupLayer(self.scene, self.bridge)
        self.grouping = GroupActions(self.group_layer, self.editor, self.steps, self.say, self)
        for action in (self.grouping.group_action, self.grouping.ungroup_action):
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.addAction(action)
        self.document = GraphDocument(self.graph, self.stack, context.settings, self)
        self.add_popup = AddNodePopup(self)
        self.autosaver = autosave.Autosaver(
            self.graph, lambda: self.document.modified, lambda: self.document.path, parent=self
        )
        self._screenshot_mode = False

        self._build_actions()
        self.node_editing = NodeEditing(
            self.graph,
            self.editor,
            self.scene,
            self.view,
            self.say,
            [self.duplicate_action, self.delete_action],
            self,
        )
        self._build_ui()
        self.precision_menu = precision_menu(self, context.settings, self.set_digits)
        self._connect()
        self._rebuild_recent_menu()
        self._refresh_title()
        self.autosaver.start()
        self.recovery.offer()

    # ------------------------------------------------------------------ construction
    def _build_ui(self) -> None:
        self.palette = OpPalette()
        palette_box = QWidget()
        pl = QVBoxLayout(palette_box)
        pl.setContentsMargins(4, 4, 0, 4)
        title = QLabel("<b>Ops</b>")
        title.setToolTip("Drag an op onto the canvas, or double-click it")
        title.setWordWrap(True)
        pl.addWidget(title)
        pl.addWidget(self.palette, 1)
        palette_box.setMinimumWidth(96)

        self.toolbar = QToolBar()
        self.toolbar.setObjectName("graphToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setStyleSheet("QToolBar { spacing: 2px; border: none; }")
        for action in self.steps.actions:
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.output_box = OutputChoice(self.bridge, self.editor)
        self.toolbar.addWidget(QLabel(" Output "))
        self.toolbar.addWidget(self.output_box)
        self.toolbar.addSeparator()
        # Short toolbar labels; the menus keep the full names.
        self.fit_action.setIconText("Fit")
        self.layout_action.setIconText("Layout")
        self.practice_action.setIconText("Practice")
        self.toolbar.addAction(self.fit_action)
        self.toolbar.addAction(self.layout_action)
        self.toolbar.addAction(self.practice_action)
        self.surface_action.setIconText("Surface")
        self.toolbar.addAction(self.surface_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.title_label = QLabel()
        self.title_label.setObjectName("graphTitle")
        self.title_label.setStyleSheet("font-weight: bold; padding-right: 6px;")
        self.toolbar.addWidget(self.title_label)

        self.legend = QLabel(LEGEND)
        self.legend.setObjectName("graphLegend")
        self.legend.setStyleSheet("color: #3c4043; padding: 2px 6px;")
        self.legend.setWordWrap(True)  # wraps in a narrow window instead of widening it
        self.banner = RestoreBanner()
        self.recovery = CrashRecovery(
            self.banner, self.document, self.autosaver.directory, self._after_restore
        )
        self.step_info = StepInfo(self.steps, self.bridge)

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.toolbar)
        cl.addWidget(self.legend)
        cl.addWidget(self.banner)
        self.surface_panel = SurfacePanel(self.bridge, self.editor)
        self.surface_panel.hide()
        self.canvas_split = QSplitter(Qt.Orientation.Vertical)
        self.canvas_split.addWidget(self.view)
        self.canvas_split.addWidget(self.surface_panel)
        self.canvas_split.setCollapsible(0, False)
        self.canvas_split.setSizes([520, 380])
        cl.addWidget(self.canvas_split, 1)

        self.inputs_panel = InputsPanel(self.bridge, self.editor, self.scene)
        self.gradcheck_panel = GradCheckPanel(self.bridge)
        self.practice_panel = PracticePanel(self.practice)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("graphSideTabs")
        self.side_tabs.addTab(self.inputs_panel, "Inputs")
        self.side_tabs.addTab(self.gradcheck_panel, "Gradient check")
        self.side_tabs.addTab(self.practice_panel, "Practice")
        self.bug_hunt = BugHunt(
            self.editor, self.scene, self.practice, self.document.display_name,
            self.group_layer.reveal,
        )  # fmt: skip
        self.bug_panel = BugHuntPanel(self.bug_hunt, self.context.settings)
        self.history = QUndoView(self.stack)
        self.history.setObjectName("undoHistory")
        self.history.setEmptyLabel("(start)")
        history_box = QWidget()
        hl = QVBoxLayout(history_box)
        hl.setContentsMargins(4, 4, 4, 4)
        hl.addWidget(QLabel("<b>History</b> (click a line to go back to it)"))
        hl.addWidget(self.history)
        self.history_box = history_box
        history_box.hide()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.step_info)
        right.addWidget(self.side_tabs)
        right.addWidget(self.bug_panel)  # shown while a bug is planted (see BugHuntPanel)
        right.addWidget(history_box)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 2)
        right.setSizes([150, 400, 320, 200])  # the bug hunt panel shows only in a hunt

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(palette_box)
        self.splitter.addWidget(center)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([112, 918, 250])
        self.splitter.setCollapsible(1, False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)

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

    def _connect(self) -> None:
        self.scene.moved.connect(lambda positions: self.editor.move(positions))
        self.scene.refused.connect(lambda text: self.say(f"Refused: {text}", 8000))
        self.scene.edit_requested.connect(self.node_editing.edit)
        self.editor.refused.connect(lambda text: self.say(f"Refused: {text}", 8000))
        self.editor.created.connect(self._select_ids)
        self.view.op_dropped.connect(self.add_node_at)
        self.view.add_menu_requested.connect(self.open_add_menu)
        self.view.node_menu_requested.connect(self.open_node_menu)
        self.palette.op_activated.connect(self.add_node_at_center)
        self.add_popup.chosen.connect(self.add_node_at)
        self.steps.status.connect(self.say)
        self.document.status.connect(self.say)
        self.document.changed.connect(self._refresh_title)
        self.document.recent_changed.connect(self._rebuild_recent_menu)
        self.document.recent_changed.connect(self.actions_changed)
        self.bridge.edited.connect(self.autosaver.note_change)
        self.bridge.edited.connect(self._refresh_title)
        self.bridge.graph_cleared.connect(self._on_cleared)
        self.bridge.meta_changed.connect(self._on_meta_changed)
        self.autosaver.failed.connect(lambda text: self.say(text, 10000))
        self.practice_panel.next_requested.connect(self.steps.step_backward)
        self.practice_panel.tolerance_changed.connect(self.set_practice_tolerance)
        self.practice_panel.tries_changed.connect(self.set_practice_tries)
        # Practice on or off changes what the step panel may say ("what is dL/dp?").
        self.practice.changed.connect(self.step_info.refresh)

    # ------------------------------------------------------------------ AppTab
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

    def accepts_path(self, path: Path) -> bool:
        return Path(path).suffix.lower() in (".json", ".py") and Path(path).is_file()

    def open_paths(self, paths: list[Path]) -> None:
        if not paths:
            return
        if len(paths) > 1:
            self.say(f"Opening {paths[0].name}; the graph tab shows one graph at a time.", 6000)
        self.open_file(Path(paths[0]))

    def can_close(self) -> bool:
        return self.document.maybe_discard("quit")

    def shutdown(self) -> None:
        self.autosaver.stop()
        self.bridge.detach()

    def document_title(self) -> tuple[str, bool]:
        return self.document.display_name(), self.document.modified

    def focus_target(self) -> QWidget:
        return self.view

    def test_state(self) -> dict:
        from gui.graph_tab.shown import graph_tab_state

        return graph_tab_state(self)

    def prepare_screenshot(self) -> None:
        self._screenshot_mode = True
        self.banner.hide()
        if len(self.graph):
            self.steps.run_all()
        self.view.fit_when_shown()
        self.view.settle()

    # ------------------------------------------------------------------ files
    def say(self, text: str, ms: int = 5000) -> None:
        self.status_message.emit(text, ms)

    def new_graph(self) -> bool:
        return self.document.new()

    def open_dialog(self) -> bool:
        path = self.document.ask_open_path()
        if path is None:
            return False
        return self.open_file(path)

    def open_file(self, path: Path) -> bool:
        """Open a graph file or program (asking first if there are unsaved changes)."""
        ok = self.document.open(Path(path))
        if ok:
            self.steps.reset_quietly()
            self.view.fit_when_shown()
        return ok

    def open_example(self, name: str) -> bool:
        try:
            graph = fileformat.load(example_path(name))
        except GraphError as exc:
            self.document.report_error("Cannot open the example", str(exc))
            return False
        return self.show_graph(
            graph,
            f"Example {EXAMPLES[name]}. Press → to step, F5 to run all.",
            doing=f"open the example {name}",
            name=name,
        )

    def show_graph(
        self,
        graph: Graph,
        message: str,
        doing: str = "open another graph",
        name: str | None = None,
    ) -> bool:
        """Show ``graph`` as a new document without a file, titled ``name`` (asking first
        about unsaved changes), so Save never overwrites where it came from."""
        if not self.document.maybe_discard(doing):
            return False
        self.document.adopt(graph, None, name=name)
        self.steps.reset_quietly()
        self.view.fit_when_shown()
        self.say(message, 8000)
        return True

    def program_dialog(self) -> ProgramDialog:
        dialog = ProgramDialog(self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.built.connect(self._program_built)
        self._program = dialog
        dialog.open()
        return dialog

    def _program_built(self, graph: Graph, _source: str) -> None:
        if not self.document.maybe_discard("replace it with the program's graph"):
            return
        self.document.adopt(graph, None, modified=True)
        self.steps.reset_quietly()
        self.view.fit_when_shown()
        self.say(f"Built a graph of {len(graph)} nodes from the program.", 6000)

    def ask_export_path(self, kind: str) -> Path | None:
        label, pattern = FORMATS[kind]
        stem = Path(self.document.display_name()).stem
        return file_dialogs.save_file(
            self,
            self.context.settings,
            "graph-export",
            f"Export {label}",
            f"{stem}.{kind}",
            f"{label} ({pattern})",
        )

    def export_dialog(self, kind: str) -> bool:
        path = self.ask_export_path(kind)
        if path is None:
            return False
        if path.suffix == "":
            path = path.with_suffix(f".{kind}")
        return self.export_to(kind, path)

    def export_to(self, kind: str, path: Path) -> bool:
        try:
            export(kind, self.scene, self.graph, path, self.document.display_name())
        except GraphError as exc:
            self.document.report_error("Cannot export", str(exc), str(path))
            return False
        self.say(f"Exported {path.name}.", 5000)
        return True

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

    def _refresh_title(self) -> None:
        self.title_label.setText(self.document.title())
        self.title_label.setToolTip(str(self.document.path) if self.document.path else "")
        self.title_changed.emit()

    # ------------------------------------------------------------------ editing
    def add_node_at(self, op: str, scene_pos: QPointF) -> str | None:
        # The node's centre goes where it was dropped, snapped to the grid.
        x = round((scene_pos.x() - theme.NODE_WIDTH / 2) / 10) * 10
        y = round((scene_pos.y() - 35) / 10) * 10
        node_id = self.editor.add_node(op, (float(x), float(y)))
        if node_id is not None:
            self.view.setFocus()
            self.say(f"Added {self.graph.node(node_id).name} ({op}).", 4000)
        return node_id

    def add_node_at_center(self, op: str) -> str | None:
        center = self.view.mapToScene(self.view.viewport().rect().center())
        # Keep nodes added in a row from piling up on one spot.
        offset = 20.0 * (len(self.graph) % 6)
        return self.add_node_at(op, QPointF(center.x() + offset, center.y() + offset))

    def open_add_menu(self, scene_pos: QPointF) -> None:
        global_pos = self.view.viewport().mapToGlobal(self.view.mapFromScene(scene_pos))
        self.add_popup.open_at(global_pos, scene_pos)

    def undo(self) -> None:
        text = self.stack.undoText()
        if self.stack.canUndo():
            self.stack.undo()
            self.say(f"Undid: {text}.", 5000)

    def redo(self) -> None:
        text = self.stack.redoText()
        if self.stack.canRedo():
            self.stack.redo()
            self.say(f"Redid: {text}.", 5000)

    def delete_selection(self) -> None:
        ids, edges = self.scene.selected_node_ids(), self.scene.selected_edges()
        names = [self.graph.node(i).name for i in ids]
        before = self.stack.index()
        self.editor.delete(ids, edges)
        if self.stack.index() != before:
            what = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
            what = what or f"{len(edges)} edge{'s' if len(edges) != 1 else ''}"
            self.say(f"Deleted {what} (Ctrl+Z undoes it).", 6000)

    def duplicate_selection(self) -> None:
        self.editor.duplicate(self.scene.selected_node_ids())

    def select_all(self) -> None:
        for item in self.scene.nodes.values():
            item.setSelected(True)

    def _select_ids(self, ids: list[str]) -> None:
        self.scene.clearSelection()
        for node_id in ids:
            item = self.scene.nodes.get(node_id)
            if item is not None:
                item.setSelected(True)

    def auto_layout(self) -> None:
        if self.editor.layout() is None:
            self.view.fit()

    def set_selected_as_output(self) -> None:
        ids = self.scene.selected_node_ids()
        if len(ids) != 1:
            self.say("Select one node to make it the output.", 5000)
            return
        self.editor.set_output(ids[0])

    @property
    def inline(self) -> InlineEditor:
        """The editor floated over the canvas for double-click edits."""
        return self.node_editing.inline

    def open_node_menu(self, node_id: str, global_pos: QPoint) -> QMenu:
        return self.node_editing.menu(node_id, global_pos)

    def restore_crashed(self) -> bool:
        return self.recovery.restore()

    def _after_restore(self) -> None:
        self.steps.reset_quietly()
        self.view.fit_when_shown()
        self.autosaver.note_change()
        self.say("Restored the autosaved graph. Save it to keep it.", 8000)

    # ------------------------------------------------------------------ modes and views
    def set_show_formulas(self, on: bool) -> None:
        self.scene.show_formulas = on
        self.scene.refresh_evaluation()

    def set_digits(self, digits: int) -> None:
        self.step_info.set_digits(digits)
        self.inputs_panel.set_digits(digits)

    def set_history_visible(self, on: bool) -> None:
        self.history_box.setVisible(on)

    def set_surface_visible(self, on: bool) -> None:
        self.surface_panel.setVisible(on)

    def set_practice(self, on: bool) -> None:
        if practice_settings(self.graph)["enabled"] != on:
            self._set_practice_meta("Practice mode on" if on else "Practice mode off", enabled=on)

    def set_practice_tolerance(self, tolerance: float) -> None:
        if abs(practice_settings(self.graph)["tolerance"] - tolerance) >= 1e-12:
            self._set_practice_meta(
                f"Practice tolerance {tolerance * 100:g} %", tolerance=tolerance
            )

    def set_practice_tries(self, tries: int) -> None:
        if practice_settings(self.graph)["tries"] != tries:
            self._set_practice_meta(f"Practice: {tries} tries per question", tries=tries)

    def _set_practice_meta(self, text: str, **changes: object) -> None:
        self.editor.set_meta(META_KEY, {**practice_settings(self.graph), **changes}, text)

    def _on_meta_changed(self, key: str) -> None:
        if key not in (META_KEY, BUG_KEY):
            return
        settings = practice_settings(self.graph)
        self.practice_action.blockSignals(True)
        self.practice_action.setChecked(settings["enabled"])
        self.practice_action.blockSignals(False)
        # A bug hunt shows the gradients (the student compares them with the check), so
        # the questions of practice mode wait until the bug is removed.
        asking = settings["enabled"] and not self.bug_hunt.active
        self.practice.set_enabled(asking, settings["tolerance"], settings["tries"])
        if settings["enabled"]:
            if self.bug_hunt.active:
                self.side_tabs.setCurrentWidget(self.gradcheck_panel)  # the tool to use
            else:
                self.side_tabs.setCurrentWidget(self.practice_panel)

    def _on_cleared(self) -> None:
        # A new document: practice follows its meta (replace_with re-sends the keys).
        self.practice_action.blockSignals(True)
        self.practice_action.setChecked(False)
        self.practice_action.blockSignals(False)
        self.practice.set_enabled(False)
