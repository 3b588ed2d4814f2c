"""Undoable edits. Each command calls one model method (or a few, for compound edits);
the scene follows through the bridge, so undo and redo need no view code.

A command is applied once by :meth:`GraphCommand.apply` *before* it is pushed, so a
refused edit (GraphEditError) never reaches the undo stack; the stack's first
``redo()`` is then skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from PySide6.QtGui import QUndoCommand

from graph.errors import GraphEditError
from graph.events import Edge
from graph.model import Graph

#: Called with a message when an undo or redo is refused by the engine (should not
#: happen; reported instead of raised so no traceback reaches the user).
ErrorSink = Callable[[str], None]


class GraphCommand(QUndoCommand):
    def __init__(self, graph: Graph, text: str) -> None:
        super().__init__(text)
        self.graph = graph
        self._applied_once = False
        self.on_error: ErrorSink | None = None

    def apply(self) -> None:
        """Do the edit the first time; raises GraphEditError (graph unchanged)."""
        self._redo()
        self._applied_once = True

    def redo(self) -> None:
        if self._applied_once:
            self._applied_once = False
            return
        self._guard(self._redo)

    def undo(self) -> None:
        self._guard(self._undo)

    def _guard(self, fn: Callable[[], None]) -> None:
        try:
            fn()
        except GraphEditError as exc:
            if self.on_error is not None:
                self.on_error(f"{self.text()}: {exc}")

    def _redo(self) -> None:
        raise NotImplementedError

    def _undo(self) -> None:
        raise NotImplementedError


class AddNode(GraphCommand):
    def __init__(
        self,
        graph: Graph,
        op: str,
        pos: tuple[float, float],
        name: str | None = None,
        value: float | None = None,
        params: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(graph, f"Add {op}")
        self.op, self.pos, self.name, self.value = op, pos, name, value
        self.params = dict(params) if params else None
        self.node_id: str | None = None

    def _redo(self) -> None:
        self.node_id = self.graph.add_node(
            self.op, self.name, self.value, self.params, self.pos, node_id=self.node_id
        )
        # Redo re-creates the node under the same name it first got.
        self.name = self.graph.node(self.node_id).name
        self.setText(f"Add {self.op} {self.name}")

    def _undo(self) -> None:
        assert self.node_id is not None
        self.graph.remove_node(self.node_id)


class RemoveItems(GraphCommand):
    """Delete nodes (with their edges) and single edges; undo puts all of it back."""

    def __init__(self, graph: Graph, node_ids: list[str], edges: list[Edge]) -> None:
        names = [graph.node(i).name for i in node_ids]
        if node_ids:
            what = ", ".join(names[:3]) + (" ..." if len(names) > 3 else "")
        else:
            what = f"{len(edges)} edge(s)"
        super().__init__(graph, f"Delete {what}")
        self.node_ids = list(node_ids)
        doomed = set(node_ids)
        self.edges = [e for e in edges if e.src not in doomed and e.dst not in doomed]
        self.snapshot: dict[str, Any] | None = None

    def _redo(self) -> None:
        g = self.graph
        self.snapshot = g.snapshot(self.node_ids) if self.node_ids else None
        done: list[Edge] = []
        try:
            for e in self.edges:
                g.disconnect(e.dst, e.port)
                done.append(e)
            for node_id in self.node_ids:
                g.remove_node(node_id)
        except GraphEditError:
            # All or nothing: put back what this command already changed.
            if self.snapshot is not None:
                present = [n["id"] for n in self.snapshot["nodes"] if n["id"] in g]
                gone = {n["id"] for n in self.snapshot["nodes"]} - set(present)
                if gone:
                    partial = {
                        **self.snapshot,
                        "nodes": [n for n in self.snapshot["nodes"] if n["id"] in gone],
                    }
                    g.restore(partial)
            for e in reversed(done):
                g.connect(e.src, e.dst, e.port)
            raise

    def _undo(self) -> None:
        g = self.graph
        if self.snapshot is not None:
            g.restore(self.snapshot)
        for e in self.edges:
            g.connect(e.src, e.dst, e.port)


class Connect(GraphCommand):
    def __init__(self, graph: Graph, src: str, dst: str, port: int) -> None:
        d = graph.node(dst) if dst in graph else None
        s = graph.node(src) if src in graph else None
        port_name = d.port_names[port] if d is not None and 0 <= port < len(d.inputs) else port
        label = f"{s.name if s else src} → {d.name if d else dst}.{port_name}"
        super().__init__(graph, f"Connect {label}")
        self.edge = Edge(src, dst, port)

    def _redo(self) -> None:
        self.graph.connect(self.edge.src, self.edge.dst, self.edge.port)

    def _undo(self) -> None:
        self.graph.disconnect(self.edge.dst, self.edge.port)


class Rewire(GraphCommand):
    """Replace an edge with another (or just remove it when ``new`` is None)."""

    def __init__(self, graph: Graph, old: Edge, new: Edge | None) -> None:
        text = "Disconnect" if new is None else "Rewire"
        super().__init__(graph, f"{text} {graph.node(old.src).name} → {graph.node(old.dst).name}")
        self.old, self.new = old, new

    def _redo(self) -> None:
        g = self.graph
        g.disconnect(self.old.dst, self.old.port)
        if self.new is not None:
            try:
                g.connect(self.new.src, self.new.dst, self.new.port)
            except GraphEditError:
                g.connect(self.old.src, self.old.dst, self.old.port)
                raise

    def _undo(self) -> None:
        g = self.graph
        if self.new is not None:
            g.disconnect(self.new.dst, self.new.port)
        g.connect(self.old.src, self.old.dst, self.old.port)


class SetValue(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, value: float) -> None:
        node = graph.node(node_id)
        super().__init__(graph, f"Set {node.name} = {value:g}")
        self.node_id = node_id
        self.old = node.leaf_value
        self.new = value

    def _redo(self) -> None:
        self.graph.set_value(self.node_id, self.new)

    def _undo(self) -> None:
        assert self.old is not None
        self.graph.set_value(self.node_id, self.old)


class SetParam(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, key: str, value: float) -> None:
        node = graph.node(node_id)
        super().__init__(graph, f"Set {node.name}.{key} = {value:g}")
        self.node_id, self.key = node_id, key
        self.old = node.params.get(key)
        self.new = value

    def _redo(self) -> None:
        self.graph.set_param(self.node_id, self.key, self.new)

    def _undo(self) -> None:
        assert self.old is not None
        self.graph.set_param(self.node_id, self.key, self.old)


class Rename(GraphCommand):
    def __init__(self, graph: Graph, node_id: str, name: str) -> None:
        self.old = graph.node(node_id).name
        super().__init__(graph, f"Rename {self.old} to {name}")
        self.node_id, self.new = node_id, name

    def _redo(self) -> None:
        self.graph.rename(self.node_id, self.new)

    def _undo(self) -> None:
        self.graph.rename(self.node_id, self.old)


class MoveNodes(GraphCommand):
    def __init__(
        self,
        graph: Graph,
        new: Mapping[str, tuple[float, float]],
        text: str = "",
        old: Mapping[str, tuple[float, float]] | None = None,
    ) -> None:
        super().__init__(graph, text or f"Move {len(new)} node(s)")
        self.new = dict(new)
        self.old = dict(old) if old is not None else {i: graph.node(i).pos for i in new}

    def _redo(self) -> None:
        self.graph.move_many(self.new)

    def _undo(self) -> None:
        self.graph.move_many(self.old)


class SetOutput(GraphCommand):
    def __init__(self, graph: Graph, node_id: str | None) -> None:
        name = graph.node(node_id).name if node_id is not None else "automatic"
        super().__init__(graph, f"Output: {name}")
        self.old = graph.explicit_output
        self.new = node_id

    def _redo(self) -> None:
        self.graph.set_output(self.new)

    def _undo(self) -> None:
        self.graph.set_output(self.old)


class Duplicate(GraphCommand):
    """Copies of some nodes and the edges among them, shifted by ``offset``."""

    def __init__(self, graph: Graph, node_ids: list[str], offset: tuple[float, float]) -> None:
        super().__init__(graph, f"Duplicate {len(node_ids)} node(s)")
        self.snapshot = graph.snapshot(node_ids)
        self.offset = offset
        self.mapping: dict[str, str] = {}

    def _redo(self) -> None:
        # The first time ids are fresh; redo asks for the same ids again.
        self.mapping = self.graph.restore(self.snapshot, id_map=self.mapping, offset=self.offset)

    def _undo(self) -> None:
        for node_id in reversed(list(self.mapping.values())):
            self.graph.remove_node(node_id)

    @property
    def new_ids(self) -> list[str]:
        return list(self.mapping.values())


class SetMeta(GraphCommand):
    def __init__(self, graph: Graph, key: str, value: Any, text: str) -> None:
        super().__init__(graph, text)
        self.key = key
        self.old = graph.get_meta(key)
        self.new = value

    def _redo(self) -> None:
        self.graph.set_meta(self.key, self.new)

    def _undo(self) -> None:
        self.graph.set_meta(self.key, self.old)
