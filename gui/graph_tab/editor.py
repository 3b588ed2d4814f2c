"""Every edit the user makes goes through here: build a command, apply it once (a refusal
becomes a status message and nothing is pushed), then push it on the undo stack."""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QUndoStack

from graph.errors import GraphEditError
from graph.events import Edge
from graph.layout import auto_layout
from graph.model import Graph
from gui.graph_tab import commands as cmd

#: Spacing of the auto-layout: a node is 150 wide, so edges get room for their labels.
LAYOUT_DX = 240.0
LAYOUT_DY = 120.0


class GraphEditor(QObject):
    """Edits of ``graph`` through ``stack``; ``refused`` carries the engine's reason."""

    refused = Signal(str)
    #: a command ran (id of nodes it created, for selecting them)
    created = Signal(list)

    def __init__(self, graph: Graph, stack: QUndoStack, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self.stack = stack

    def push(self, command: cmd.GraphCommand) -> str | None:
        """Apply and push ``command``; None on success, else the reason (also emitted)."""
        command.on_error = self.refused.emit
        try:
            command.apply()
        except GraphEditError as exc:
            self.refused.emit(str(exc))
            return str(exc)
        self.stack.push(command)
        return None

    def _build(self, factory, *args: Any) -> cmd.GraphCommand | None:
        # Building reads the graph (names for the command's text): refusals show up here
        # for unknown ids.
        try:
            return factory(self.graph, *args)
        except GraphEditError as exc:
            self.refused.emit(str(exc))
            return None

    # -- edits ------------------------------------------------------------------------
    def add_node(
        self,
        op: str,
        pos: tuple[float, float],
        name: str | None = None,
        value: float | None = None,
        params: dict[str, float] | None = None,
    ) -> str | None:
        """Add a node; its id, or None if refused."""
        command = cmd.AddNode(self.graph, op, pos, name, value, params)
        if self.push(command) is None:
            self.created.emit([command.node_id])
            return command.node_id
        return None

    def connect(self, src: str, dst: str, port: int) -> str | None:
        command = self._build(cmd.Connect, src, dst, port)
        return "unknown node" if command is None else self.push(command)

    def rewire(self, old: Edge, new: Edge | None) -> str | None:
        command = self._build(cmd.Rewire, old, new)
        return "unknown edge" if command is None else self.push(command)

    def delete(self, node_ids: list[str], edges: list[Edge]) -> str | None:
        if not node_ids and not edges:
            return "nothing is selected"
        command = self._build(cmd.RemoveItems, node_ids, edges)
        return "unknown node" if command is None else self.push(command)

    def duplicate(self, node_ids: list[str], offset=(40.0, 40.0)) -> list[str]:
        if not node_ids:
            self.refused.emit("select nodes to duplicate")
            return []
        command = self._build(cmd.Duplicate, node_ids, offset)
        if command is None or self.push(command) is not None:
            return []
        assert isinstance(command, cmd.Duplicate)
        self.created.emit(command.new_ids)
        return command.new_ids

    def move(self, positions: dict[str, tuple[float, float]], text: str = "") -> str | None:
        if not positions:
            return None
        command = self._build(cmd.MoveNodes, positions, text)
        return "unknown node" if command is None else self.push(command)

    def set_value(self, node_id: str, value: float) -> str | None:
        command = self._build(cmd.SetValue, node_id, value)
        return "unknown node" if command is None else self.push(command)

    def set_param(self, node_id: str, key: str, value: float) -> str | None:
        command = self._build(cmd.SetParam, node_id, key, value)
        return "unknown node" if command is None else self.push(command)

    def rename(self, node_id: str, name: str) -> str | None:
        command = self._build(cmd.Rename, node_id, name)
        return "unknown node" if command is None else self.push(command)

    def set_output(self, node_id: str | None) -> str | None:
        if node_id == self.graph.explicit_output:
            return None
        command = self._build(cmd.SetOutput, node_id)
        return "unknown node" if command is None else self.push(command)

    def set_meta(self, key: str, value: Any, text: str) -> str | None:
        return self.push(cmd.SetMeta(self.graph, key, value, text))

    def layout(self) -> str | None:
        """Arrange every node left to right by depth (one undoable step)."""
        if not len(self.graph):
            return "the graph is empty"
        positions = auto_layout(self.graph, dx=LAYOUT_DX, dy=LAYOUT_DY)
        changed = {i: p for i, p in positions.items() if self.graph.node(i).pos != p}
        if not changed:
            return None
        return self.move(changed, "Auto-layout")


def relayout(graph: Graph) -> None:
    """Lay out a graph that is not shown yet (a fresh import) with the editor's spacing."""
    graph.move_many(auto_layout(graph, dx=LAYOUT_DX, dy=LAYOUT_DY))
