"""Plain-Python change events of a :class:`graph.model.Graph`, so views follow without Qt.

Subscribe with ``graph.events.subscribe(callback)``; ``callback(event)`` receives one of
the frozen dataclasses below. Every event has a ``kind`` string (``"node_added"``...),
so a subscriber may dispatch on ``event.kind`` or with ``match``/``isinstance``.

Events are sent after the edit is complete, so the graph is consistent inside a
callback. A compound edit sends its events in a fixed order (``remove_node``: every
``edge_removed`` first, then ``node_removed``), followed by ``output_changed`` when the
effective output moved, and ``evaluation_changed`` when computed values became stale.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple


class Edge(NamedTuple):
    """One edge: ``src``'s output feeds input port number ``port`` (0-based) of ``dst``."""

    src: str
    dst: str
    port: int


@dataclass(frozen=True)
class GraphEvent:
    """Base class; ``kind`` names the event."""

    kind: ClassVar[str] = "event"


@dataclass(frozen=True)
class NodeAdded(GraphEvent):
    node_id: str
    kind: ClassVar[str] = "node_added"


@dataclass(frozen=True)
class NodeRemoved(GraphEvent):
    """``node`` is the removed node's last state (a :class:`graph.node.Node`)."""

    node_id: str
    node: Any
    kind: ClassVar[str] = "node_removed"


@dataclass(frozen=True)
class EdgeAdded(GraphEvent):
    edge: Edge
    kind: ClassVar[str] = "edge_added"


@dataclass(frozen=True)
class EdgeRemoved(GraphEvent):
    edge: Edge
    kind: ClassVar[str] = "edge_removed"


@dataclass(frozen=True)
class ValueChanged(GraphEvent):
    """An ``input`` node's value or a ``const`` node's value changed."""

    node_id: str
    old: float
    new: float
    kind: ClassVar[str] = "value_changed"


@dataclass(frozen=True)
class ParamChanged(GraphEvent):
    """A parameter other than a const's value changed (``powc`` exponent, ``choose`` n)."""

    node_id: str
    key: str
    old: float
    new: float
    kind: ClassVar[str] = "param_changed"


@dataclass(frozen=True)
class NodeRenamed(GraphEvent):
    node_id: str
    old: str
    new: str
    kind: ClassVar[str] = "node_renamed"


@dataclass(frozen=True)
class NodeMoved(GraphEvent):
    node_id: str
    old: tuple[float, float]
    new: tuple[float, float]
    kind: ClassVar[str] = "node_moved"


@dataclass(frozen=True)
class OutputChanged(GraphEvent):
    """The effective output (explicit choice, else the only sink) changed; ids or None."""

    old: str | None
    new: str | None
    kind: ClassVar[str] = "output_changed"


@dataclass(frozen=True)
class GraphCleared(GraphEvent):
    """Every node and edge is gone (``clear()``, or the first half of ``replace_with``)."""

    kind: ClassVar[str] = "graph_cleared"


@dataclass(frozen=True)
class MetaChanged(GraphEvent):
    key: str
    old: Any
    new: Any
    kind: ClassVar[str] = "meta_changed"


@dataclass(frozen=True)
class EvaluationChanged(GraphEvent):
    """``graph.evaluation`` changed.

    ``reason`` is ``"stale"`` (an edit made the values out of date; they are kept, marked
    stale), ``"step"`` (one step; ``record`` is the step record), ``"step_back"``
    (``record`` is the step undone), ``"reset"`` or ``"run"``.
    """

    stale: bool
    reason: str
    record: Any = None
    kind: ClassVar[str] = "evaluation_changed"


Callback = Callable[[GraphEvent], None]


class EventBus:
    """A list of callbacks. ``subscribe`` returns a function that unsubscribes."""

    def __init__(self) -> None:
        self._subscribers: list[Callback] = []

    def subscribe(self, callback: Callback) -> Callable[[], None]:
        """Call ``callback(event)`` for every later event; returns an unsubscribe function."""
        self._subscribers.append(callback)
        return lambda: self.unsubscribe(callback)

    def unsubscribe(self, callback: Callback) -> None:
        """Stop calling ``callback``; no error if it was not subscribed."""
        try:
            self._subscribers.remove(callback)
        except ValueError:
            pass

    def emit(self, event: GraphEvent) -> None:
        """Send ``event`` to every subscriber, in subscription order."""
        for callback in list(self._subscribers):
            callback(event)

    def emit_all(self, events: list[GraphEvent]) -> None:
        for event in events:
            self.emit(event)

    def __len__(self) -> int:
        return len(self._subscribers)
