"""The Graph tab: build scalar graphs in a node editor and step through backprop.

The engine's :class:`graph.model.Graph` is the only source of truth. Edits go through
:class:`GraphEditor` (undoable commands), the canvas and panels follow the graph
through one :class:`GraphBridge`, and files go through :class:`GraphDocument`. The
widgets are built in ``tab_layout``, the actions and menus in ``tab_menus``.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMenu, QWidget

from graph import fileformat
from graph.bugs import BUG_KEY
from graph.errors import GraphError
from graph.examples import EXAMPLES, example_path
from graph.model import Graph
from gui import file_dialogs
from gui.graph_tab import autosave, theme
from gui.graph_tab.add_menu import AddNodePopup
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.document import GraphDocument
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.export import FORMATS, export
from gui.graph_tab.group_actions import GroupActions
from gui.graph_tab.groups_view import GroupLayer
from gui.graph_tab.inline_edit import InlineEditor
from gui.graph_tab.node_edit import NodeEditing
from gui.graph_tab.practice import META_KEY, PracticeSession, practice_settings
from gui.graph_tab.precision import precision_menu
from gui.graph_tab.program_dialog import ProgramDialog
from gui.graph_tab.scene import GraphScene
from gui.graph_tab.stepping import StepController
from gui.graph_tab.tab_layout import GraphTabLayout
from gui.graph_tab.tab_menus import GraphTabMenus
from gui.graph_tab.view import GraphView
from gui.tab_base import AppContext, AppTab


class GraphTab(GraphTabLayout, GraphTabMenus, AppTab):
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
        self.surface_slot.setVisible(on)

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
