"""The one place where engine events become Qt signals.

Scene items, side panels and the document's "modified" state all follow the graph
through these signals, whatever caused the change: a user edit, undo/redo, loading a
file or importing a program.
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Signal

from graph.events import GraphEvent
from graph.model import Graph


class GraphBridge(QObject):
    """Subscribes to ``graph.events`` and re-emits each event as a typed Qt signal."""

    node_added = Signal(str)
    node_removed = Signal(str)
    edge_added = Signal(object)  # graph.events.Edge
    edge_removed = Signal(object)
    #: a node's value, param or name changed (its id)
    node_changed = Signal(str)
    node_moved = Signal(str, float, float)
    output_changed = Signal(object, object)  # old id | None, new id | None
    graph_cleared = Signal()
    meta_changed = Signal(str)
    #: the evaluation (values, gradients, current step, staleness) changed; the event
    evaluation_changed = Signal(object)
    #: anything about the graph itself changed (not evaluation): for dirty/autosave
    edited = Signal()

    def __init__(self, graph: Graph, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.graph = graph
        self._unsubscribe: Callable[[], None] | None = graph.events.subscribe(self._on_event)

    def detach(self) -> None:
        """Stop following the graph (the tab is closing)."""
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None

    def _on_event(self, event: GraphEvent) -> None:
        kind = event.kind
        if kind == "node_added":
            self.node_added.emit(event.node_id)
        elif kind == "node_removed":
            self.node_removed.emit(event.node_id)
        elif kind == "edge_added":
            self.edge_added.emit(event.edge)
        elif kind == "edge_removed":
            self.edge_removed.emit(event.edge)
        elif kind in ("value_changed", "param_changed", "node_renamed"):
            self.node_changed.emit(event.node_id)
        elif kind == "node_moved":
            self.node_moved.emit(event.node_id, event.new[0], event.new[1])
        elif kind == "output_changed":
            self.output_changed.emit(event.old, event.new)
        elif kind == "graph_cleared":
            self.graph_cleared.emit()
        elif kind == "meta_changed":
            self.meta_changed.emit(event.key)
        elif kind == "evaluation_changed":
            self.evaluation_changed.emit(event)
            return
        self.edited.emit()
