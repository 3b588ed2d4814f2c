"""Editing one node in place: the inline editor on its name, value or parameter
(double-click), and its right-click menu. Every change goes through the editor."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QInputDialog, QMenu, QWidget

from graph.model import Graph
from gui.graph_tab import theme
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.inline_edit import InlineEditor
from gui.graph_tab.node_items import NodeItem
from gui.graph_tab.scene import GraphScene
from gui.graph_tab.view import GraphView


class NodeEditing:
    def __init__(
        self,
        graph: Graph,
        editor: GraphEditor,
        scene: GraphScene,
        view: GraphView,
        say: Callable[[str, int], None],
        menu_extras: list[QAction],
        parent: QWidget,
    ) -> None:
        self.graph = graph
        self.editor = editor
        self.scene = scene
        self.view = view
        self.say = say
        self.menu_extras = menu_extras
        self.parent = parent
        self.inline = InlineEditor(view.viewport())

    def edit(self, node_id: str, area: str, _screen_pos: QPointF | None = None) -> None:
        """Open the inline editor on a node's "name", "value" or "symbol" (parameter)."""
        if node_id not in self.graph:
            return
        node = self.graph.node(node_id)
        item = self.scene.nodes[node_id]
        if area == "name":
            self._inline(
                item,
                item.name_rect(),
                node.name,
                lambda t: self.editor.rename(node_id, t.strip()),
                "New name (letters, digits and _)",
            )
        elif node.op in ("input", "const") and area in ("value", "symbol"):
            self._inline(
                item,
                item.value_rect(),
                theme.fmt_full(node.leaf_value),
                lambda t: self._number(t, lambda v: self.editor.set_value(node_id, v)),
                "New value (nan and inf are allowed)",
            )
        elif node.op == "powc" and area == "symbol":
            self._inline(
                item,
                item.symbol_rect().adjusted(0, 0, 40, 0),
                theme.fmt_full(node.params.get("exponent", 2.0)),
                lambda t: self._number(t, lambda v: self.editor.set_param(node_id, "exponent", v)),
                "Constant exponent p",
            )
        elif node.op == "choose" and area == "symbol":
            n, ok = QInputDialog.getInt(
                self.parent, "Choose", "Number of inputs", int(node.params["n"]), 2, 16
            )
            if ok:
                self.editor.set_param(node_id, "n", n)
        else:
            self.say(
                f"{node.name} is computed from its inputs; double-click its name to rename it.",
                5000,
            )

    def menu(self, node_id: str, global_pos: QPoint) -> QMenu:
        """The right-click menu of a node, shown at ``global_pos``."""
        node = self.graph.node(node_id)
        menu = QMenu(self.parent)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.addAction("Rename…", lambda: self.edit(node_id, "name"))
        if node.op in ("input", "const"):
            menu.addAction("Edit value…", lambda: self.edit(node_id, "value"))
        if node.op == "powc":
            menu.addAction("Exponent…", lambda: self.edit(node_id, "symbol"))
        if node.op == "choose":
            menu.addAction("Number of inputs…", lambda: self.edit(node_id, "symbol"))
        menu.addSeparator()
        out = menu.addAction("Set as output", lambda: self.editor.set_output(node_id))
        out.setEnabled(self.graph.explicit_output != node_id)
        if self.graph.explicit_output is not None:
            menu.addAction("Automatic output", lambda: self.editor.set_output(None))
        menu.addSeparator()
        for action in self.menu_extras:
            menu.addAction(action)
        menu.popup(global_pos)
        return menu

    def _number(self, text: str, apply: Callable[[float], str | None]) -> str | None:
        try:
            value = theme.parse_number(text)
        except ValueError as exc:
            self.say(str(exc), 5000)
            return str(exc)
        return apply(value)

    def _inline(
        self,
        item: NodeItem,
        rect: QRectF,
        text: str,
        commit: Callable[[str], str | None],
        tip: str,
    ) -> None:
        r = self.view.mapFromScene(item.mapToScene(rect)).boundingRect()
        r = QRect(r.x(), r.y(), max(r.width(), 110), max(r.height(), 24))
        self.inline.edit(r, text, commit, tip)
