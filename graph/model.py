"""The editable graph: nodes with ops and ordered input ports on a networkx DiGraph.

Every edit either completes or raises :class:`GraphEditError` leaving the graph exactly
as it was. Every completed edit sends events (see :mod:`graph.events`). Node records are
immutable :class:`Node` values; an edit replaces the record.

Ids are stable strings (``"n7"``). Names are unique Python identifiers so a graph can
be exported as code. Any node's output may feed many ports (fan-out); each input port
takes exactly one edge.
"""

from __future__ import annotations

import copy as _copy
import json
import keyword
import math
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import networkx as nx

from graph.errors import GraphEditError, GraphError
from graph.events import (
    Edge,
    EdgeAdded,
    EdgeRemoved,
    EvaluationChanged,
    EventBus,
    GraphCleared,
    GraphEvent,
    MetaChanged,
    NodeAdded,
    NodeMoved,
    NodeRemoved,
    NodeRenamed,
    OutputChanged,
    ParamChanged,
    ValueChanged,
)
from graph.ops import OPS, OpSpec, format_number, get_op

__all__ = ["Edge", "EvaluationState", "Graph", "Node", "check_name", "check_params"]

_ID_RE = re.compile(r"^n(\d+)$")
_EMPTY: Mapping[str, float] = MappingProxyType({})
#: Names an op gets when none is given: input nodes are x1, x2..., consts c1, c2...
_NAME_PREFIX = {"input": "x", "const": "c"}
#: Meta keys that change what evaluation computes (graph.bugs' planted derivative).
EVALUATION_META = frozenset({"planted_bug"})
#: A name longer than this is refused (keeps files and labels sane).
MAX_NAME_LENGTH = 64


@dataclass(frozen=True)
class Node:
    """One node, immutable. ``inputs[i]`` is the id feeding port ``i`` or None.

    ``value`` is the editable value of an ``input`` node (None for other ops); a
    ``const`` keeps its number in ``params["value"]`` (see :attr:`leaf_value`).
    """

    id: str
    name: str
    op: str
    params: Mapping[str, float] = field(default_factory=lambda: _EMPTY)
    inputs: tuple[str | None, ...] = ()
    pos: tuple[float, float] = (0.0, 0.0)
    value: float | None = None

    @property
    def spec(self) -> OpSpec:
        return OPS[self.op]

    @property
    def port_names(self) -> tuple[str, ...]:
        return self.spec.port_names(self.params)

    @property
    def is_leaf(self) -> bool:
        return self.op in ("input", "const")

    @property
    def leaf_value(self) -> float | None:
        """The value of an input or const node; None for computed nodes."""
        if self.op == "input":
            return self.value
        if self.op == "const":
            return self.params.get("value", 0.0)
        return None

    @property
    def label(self) -> str:
        """The op's label on the node (``+``, ``exp``, ``^2``, ``3.5``...)."""
        return self.spec.label(self.params)


@dataclass(frozen=True)
class EvaluationState:
    """What the graph shows as computed: values and gradients per node id.

    A missing id or a None value means "not computed yet". ``nonfinite`` holds the nodes
    where a nan or inf first appeared (forward value or backward gradient). ``stale`` is
    True after an edit made these numbers out of date (they are kept for display).
    ``phase`` is ``"idle"``, ``"forward"``, ``"backward"`` or ``"done"``; ``position`` is
    ``(i, n)`` within that phase; ``current`` is the node of the last step.
    ``contributions[edge]`` is the gradient sent down an edge (upstream × local) and
    ``local_grads[edge]`` its local derivative, for edges processed so far.
    """

    values: Mapping[str, float | None] = field(default_factory=dict)
    grads: Mapping[str, float | None] = field(default_factory=dict)
    nonfinite: frozenset[str] = frozenset()
    stale: bool = False
    phase: str = "idle"
    position: tuple[int, int] = (0, 0)
    current: str | None = None
    contributions: Mapping[Edge, float] = field(default_factory=dict)
    local_grads: Mapping[Edge, float] = field(default_factory=dict)


def check_name(name: object) -> str:
    """``name`` if it is a usable node name, else GraphEditError saying why."""
    if not isinstance(name, str) or not name:
        raise GraphEditError("a node name must be a non-empty string")
    if len(name) > MAX_NAME_LENGTH:
        raise GraphEditError(f"name {name[:20]!r}... is longer than {MAX_NAME_LENGTH} characters")
    if not name.isidentifier() or not name.isascii():
        raise GraphEditError(
            f"name {name!r} is not usable: use letters, digits and _, not starting with a digit"
        )
    if keyword.iskeyword(name) or name.startswith("__"):
        raise GraphEditError(f"name {name!r} is reserved in Python; pick another")
    return name


def check_params(spec: OpSpec, params: Mapping[str, Any]) -> dict[str, float]:
    """The op's full parameter dict (defaults filled in); GraphEditError if one is bad."""
    known = {p.name: p for p in spec.params}
    for key in params:
        if key not in known:
            if known:
                raise GraphEditError(
                    f"{spec.name} has no parameter {key!r} (it has {', '.join(known)})"
                )
            raise GraphEditError(f"{spec.name} takes no parameters, got {key!r}")
    full: dict[str, float] = {}
    for p in spec.params:
        v = _number(params.get(p.name, p.default), f"{spec.name}'s {p.name}")
        if p.integer:
            if not math.isfinite(v) or v != int(v):
                raise GraphEditError(f"{spec.name}'s {p.name} must be a whole number")
            v = int(v)
        elif spec.name == "powc" and not math.isfinite(v):
            raise GraphEditError("powc's exponent must be a finite number")
        if p.minimum is not None and v < p.minimum:
            raise GraphEditError(
                f"{spec.name}'s {p.name} must be at least {format_number(p.minimum)}"
            )
        if p.maximum is not None and v > p.maximum:
            raise GraphEditError(
                f"{spec.name}'s {p.name} must be at most {format_number(p.maximum)}"
            )
        full[p.name] = v
    return full


def _finite_pos(pos: object) -> tuple[float, float]:
    try:
        if not isinstance(pos, Iterable):
            raise TypeError(pos)
        x, y = pos
        fx, fy = float(x), float(y)
    except (TypeError, ValueError):
        raise GraphEditError(f"a position must be two numbers (x, y), got {pos!r}") from None
    if not (math.isfinite(fx) and math.isfinite(fy)):
        raise GraphEditError(f"a position must be finite, got ({fx}, {fy})")
    return (fx, fy)


def _number(v: object, what: str) -> float:
    if isinstance(v, bool):
        raise GraphEditError(f"{what} must be a number, got {v!r}")
    try:
        return float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError, OverflowError):
        raise GraphEditError(f"{what} must be a number, got {v!r}") from None


def _same_float(a: float | None, b: float | None) -> bool:
    if a is None or b is None:
        return a is b
    return a == b or (a != a and b != b)


class Graph:
    """A scalar computational graph you can edit, evaluate, save and watch.

    Edits: :meth:`add_node`, :meth:`remove_node`, :meth:`connect`, :meth:`disconnect`,
    :meth:`set_value`, :meth:`set_param`, :meth:`rename`, :meth:`move`,
    :meth:`move_many`, :meth:`set_output`, :meth:`set_meta`, :meth:`restore`,
    :meth:`clear`, :meth:`replace_with`. Queries: :meth:`node`, :meth:`nodes`,
    :meth:`edges`, :meth:`find`, :attr:`output_id`, :meth:`topological_order`...
    """

    def __init__(self) -> None:
        self._g = nx.DiGraph()  # topology only; records live in _nodes, ports in _ports
        self._ports: dict[tuple[str, str], set[int]] = {}  # (src, dst) -> port numbers
        self._nodes: dict[str, Node] = {}
        self._order: dict[str, int] = {}  # insertion rank, for deterministic orders
        self._rank = 0
        self._by_name: dict[str, str] = {}
        self._sinks: dict[str, None] = {}  # ordered set of nodes with no consumer
        self._next_id = 1
        self._output: str | None = None
        self._meta: dict[str, Any] = {}
        self._evaluation = EvaluationState()
        self._topo_cache: tuple[int, list[str]] | None = None
        self._name_counters: dict[str, int] = {}
        self.events = EventBus()
        #: Bumped by every edit that changes what evaluation computes.
        self.version = 0
        #: Bumped by edits that change the shape (nodes, edges, params, output).
        self.structure_version = 0

    # ------------------------------------------------------------------ queries

    def __len__(self) -> int:
        return len(self._nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self._nodes

    def __repr__(self) -> str:
        return f"<Graph: {len(self._nodes)} nodes, {self._g.number_of_edges()} edge pairs>"

    def node(self, node_id: str) -> Node:
        """The node record; GraphEditError for an unknown id."""
        try:
            return self._nodes[node_id]
        except (KeyError, TypeError):
            raise GraphEditError(f"there is no node with id {node_id!r}") from None

    def nodes(self) -> list[Node]:
        """All nodes in insertion order."""
        return list(self._nodes.values())

    def node_ids(self) -> list[str]:
        return list(self._nodes)

    def edges(self) -> list[Edge]:
        """All edges, ordered by their consumer's insertion order and port."""
        return [
            Edge(src, n.id, port)
            for n in self._nodes.values()
            for port, src in enumerate(n.inputs)
            if src is not None
        ]

    def in_edges(self, node_id: str) -> list[Edge]:
        """Edges into ``node_id``'s ports, by port."""
        n = self.node(node_id)
        return [Edge(src, node_id, p) for p, src in enumerate(n.inputs) if src is not None]

    def out_edges(self, node_id: str) -> list[Edge]:
        """Edges out of ``node_id`` (its consumers), by consumer order and port."""
        self.node(node_id)
        out = []
        for dst in sorted(self._g.successors(node_id), key=self._order.__getitem__):
            for port in sorted(self._ports[node_id, dst]):
                out.append(Edge(node_id, dst, port))
        return out

    def find(self, name: str) -> str | None:
        """Id of the node called ``name``, or None."""
        return self._by_name.get(name)

    def id_of(self, name: str) -> str:
        """Id of the node called ``name``; GraphEditError if there is none."""
        node_id = self._by_name.get(name)
        if node_id is None:
            raise GraphEditError(f"there is no node named {name!r}")
        return node_id

    def inputs(self) -> list[str]:
        """Ids of the ``input`` nodes, in insertion order."""
        return [n.id for n in self._nodes.values() if n.op == "input"]

    def sinks(self) -> list[str]:
        """Ids of nodes whose output feeds nothing, in insertion order."""
        return sorted(self._sinks, key=self._order.__getitem__)

    @property
    def explicit_output(self) -> str | None:
        """The output chosen with :meth:`set_output`, or None for the default."""
        return self._output

    @property
    def output_id(self) -> str | None:
        """The effective output: the chosen one, else the only sink, else None."""
        if self._output is not None:
            return self._output
        if len(self._sinks) == 1:
            return next(iter(self._sinks))
        return None

    def output_problem(self) -> str | None:
        """Why there is no effective output (None when there is one)."""
        if self.output_id is not None:
            return None
        if not self._nodes:
            return "the graph is empty"
        names = ", ".join(self._nodes[s].name for s in self.sinks()[:6])
        return f"the graph has several sinks ({names}); choose the output"

    def unconnected_ports(self, node_id: str) -> list[str]:
        """Names of ``node_id``'s ports that take no edge yet."""
        n = self.node(node_id)
        return [p for p, src in zip(n.port_names, n.inputs, strict=True) if src is None]

    def topological_order(self) -> list[str]:
        """All ids, inputs before consumers; ties broken by insertion order.

        Cached until the next structural edit (a copy is returned)."""
        cached = self._topo_cache
        if cached is None or cached[0] != self.structure_version:
            order, _rest = topological_sort(
                list(self._nodes), {n.id: n.inputs for n in self._nodes.values()}
            )
            cached = (self.structure_version, order)
            self._topo_cache = cached
        return list(cached[1])

    def ancestors(self, node_id: str) -> set[str]:
        self.node(node_id)
        return nx.ancestors(self._g, node_id)

    def descendants(self, node_id: str) -> set[str]:
        self.node(node_id)
        return nx.descendants(self._g, node_id)

    def to_networkx(self) -> nx.DiGraph:
        """A copy of the underlying DiGraph with node attribute ``node`` (the record) and
        edge attribute ``ports`` (the set of port numbers the edge feeds)."""
        g = self._g.copy()
        for nid, n in self._nodes.items():
            g.nodes[nid]["node"] = n
        for (u, v), ports in self._ports.items():
            g.edges[u, v]["ports"] = set(ports)
        return g

    @property
    def meta(self) -> dict[str, Any]:
        """A copy of the free-form metadata saved with the graph (e.g. ``practice``)."""
        return _copy.deepcopy(self._meta)

    def get_meta(self, key: str, default: Any = None) -> Any:
        return _copy.deepcopy(self._meta.get(key, default))

    def has_meta(self, key: str) -> bool:
        return key in self._meta

    @property
    def evaluation(self) -> EvaluationState:
        """What is computed now (see :class:`EvaluationState`)."""
        return self._evaluation

    @property
    def nonfinite(self) -> frozenset[str]:
        """Nodes where a nan or inf first appeared in the last evaluation."""
        return self._evaluation.nonfinite

    def can_connect(self, src: str, dst: str, port: int | str) -> tuple[bool, str]:
        """``(True, "")`` if :meth:`connect` would succeed, else ``(False, reason)``."""
        try:
            self._check_connect(src, dst, port)
        except GraphEditError as exc:
            return False, str(exc)
        return True, ""

    def port_index(self, node_id: str, port: int | str) -> int:
        """Port number of ``port`` (an index or a port name) on ``node_id``."""
        n = self.node(node_id)
        names = n.port_names
        if not names:
            raise GraphEditError(f"{n.name} is an {n.op} node and takes no inputs")
        if isinstance(port, str):
            if port in names:
                return names.index(port)
            raise GraphEditError(
                f"{n.name} ({n.op}) has no port {port!r}; its ports are {', '.join(names)}"
            )
        if isinstance(port, bool) or not isinstance(port, int) or not 0 <= port < len(names):
            raise GraphEditError(
                f"{n.name} ({n.op}) has {len(names)} input port(s) ({', '.join(names)}); "
                f"there is no port {port!r}"
            )
        return port

    def copy(self) -> Graph:
        """An independent copy with the same ids, names, positions, output and meta."""
        other = Graph()
        other._load_parts(self.nodes(), self._output, self._meta, self._next_id)
        return other

    def same_as(self, other: Graph) -> bool:
        """True if both graphs have the same nodes in the same order (every field, floats
        compared exactly, nan equal to nan), the same output choice and meta."""
        return (
            [_canonical(n) for n in self._nodes.values()]
            == [_canonical(n) for n in other._nodes.values()]
            and self._output == other._output
            and self._meta == other._meta
        )

    # ------------------------------------------------------------------ edits

    def add_node(
        self,
        op: str,
        name: str | None = None,
        value: float | None = None,
        params: Mapping[str, float] | None = None,
        pos: tuple[float, float] = (0.0, 0.0),
        node_id: str | None = None,
    ) -> str:
        """Add an unconnected node; return its id.

        ``value`` is an input's value (default 0.0) or a const's value (same as
        ``params={"value": v}``). ``node_id`` re-creates a node with a known id (undo).
        """
        try:
            spec = get_op(op)
        except GraphError as exc:
            raise GraphEditError(str(exc)) from None
        node_id = self._check_new_id(node_id)
        if name is None:
            name = self.unique_name(_NAME_PREFIX.get(op, op), numbered=True)
        else:
            check_name(name)
            if name in self._by_name:
                raise GraphEditError(f"there is already a node named {name!r}")
        full = check_params(spec, params or {})
        node_value = None
        if op == "input":
            node_value = 0.0 if value is None else _number(value, "an input's value")
        elif op == "const" and value is not None:
            full["value"] = _number(value, "a constant's value")
        elif value is not None:
            raise GraphEditError(f"only input and const nodes take a value, not {op}")
        node = Node(
            id=node_id,
            name=name,
            op=op,
            params=MappingProxyType(full) if full else _EMPTY,
            inputs=(None,) * spec.arity(full),
            pos=_finite_pos(pos),
            value=node_value,
        )
        before = self.output_id
        self._insert(node)
        self._structure_changed()
        self._emit([NodeAdded(node_id)], before)
        return node_id

    def remove_node(self, node_id: str) -> None:
        """Remove a node with all its edges (``edge_removed`` events come first)."""
        node = self.node(node_id)
        before = self.output_id
        # Only the output and what feeds it carry the computed numbers: removing anything
        # else (a node not connected to the output) leaves them current.
        feeds_output = before is None or node_id == before or nx.has_path(self._g, node_id, before)
        events: list[GraphEvent] = []
        for edge in self.in_edges(node_id) + self.out_edges(node_id):
            self._unlink(edge)
            events.append(EdgeRemoved(edge))
        self._g.remove_node(node_id)
        del self._nodes[node_id]
        del self._order[node_id]
        del self._by_name[node.name]
        self._sinks.pop(node_id, None)
        if self._output == node_id:
            self._output = None
        self._structure_changed()
        events.append(NodeRemoved(node_id, node))
        self._emit(events, before, stale=feeds_output)

    def connect(self, src: str, dst: str, port: int | str) -> Edge:
        """Feed ``src``'s output into ``dst``'s input ``port`` (index or name).

        Refused (GraphEditError, nothing changed) for an unknown id, a self-loop, a port
        that does not exist or already takes an edge, or an edge that would close a cycle.
        """
        edge = self._check_connect(src, dst, port)
        before = self.output_id
        self._link(edge)
        self._structure_changed()
        self._emit([EdgeAdded(edge)], before)
        return edge

    def disconnect(self, dst: str, port: int | str) -> Edge:
        """Remove the edge into ``dst``'s ``port``; return it."""
        index = self.port_index(dst, port)
        n = self._nodes[dst]
        src = n.inputs[index]
        if src is None:
            raise GraphEditError(f"port {n.port_names[index]} of {n.name} is not connected")
        edge = Edge(src, dst, index)
        before = self.output_id
        self._unlink(edge)
        self._structure_changed()
        self._emit([EdgeRemoved(edge)], before)
        return edge

    def set_value(self, node_id: str, value: float) -> None:
        """Set an input's value or a const's value (nan and inf are allowed)."""
        n = self.node(node_id)
        if n.op not in ("input", "const"):
            raise GraphEditError(f"{n.name} is a {n.op} node; only input and const take a value")
        new = _number(value, f"the value of {n.name}")
        old = n.leaf_value
        assert old is not None
        if _same_float(old, new):
            return
        if n.op == "input":
            self._replace(replace(n, value=new))
        else:
            self._replace(replace(n, params=MappingProxyType({**n.params, "value": new})))
        self.version += 1
        self._emit([ValueChanged(node_id, old, new)], self.output_id)

    def set_param(self, node_id: str, key: str, value: float) -> None:
        """Set a parameter (``powc`` exponent, ``choose`` n; a const's ``value``).

        Lowering ``choose``'s n is refused while a port it would remove is connected.
        """
        n = self.node(node_id)
        if n.op == "const" and key == "value":
            self.set_value(node_id, value)
            return
        spec = n.spec
        new_params = check_params(spec, {**n.params, key: value})
        old = n.params.get(key)
        new = new_params[key]
        if _same_float(old, new):
            return
        arity = spec.arity(new_params)
        inputs = n.inputs
        if arity < len(inputs):
            taken = [n.port_names[i] for i in range(arity, len(inputs)) if inputs[i] is not None]
            if taken:
                raise GraphEditError(
                    f"disconnect port(s) {', '.join(taken)} of {n.name} before lowering {key}"
                )
            inputs = inputs[:arity]
        else:
            inputs = inputs + (None,) * (arity - len(inputs))
        self._replace(replace(n, params=MappingProxyType(new_params), inputs=inputs))
        self._structure_changed()
        self._emit([ParamChanged(node_id, key, old, new)], self.output_id)  # type: ignore[arg-type]

    def rename(self, node_id: str, name: str) -> None:
        """Give a node a new unique name."""
        n = self.node(node_id)
        check_name(name)
        if name == n.name:
            return
        if name in self._by_name:
            raise GraphEditError(f"there is already a node named {name!r}")
        del self._by_name[n.name]
        self._by_name[name] = node_id
        self._replace(replace(n, name=name))
        self.events.emit(NodeRenamed(node_id, n.name, name))

    def move(self, node_id: str, pos: tuple[float, float]) -> None:
        """Set a node's position (scene coordinates, kept in the file)."""
        self.move_many({node_id: pos})

    def move_many(self, positions: Mapping[str, tuple[float, float]]) -> None:
        """Move several nodes at once (e.g. an auto-layout); all or nothing."""
        checked = {}
        for node_id, pos in positions.items():
            self.node(node_id)
            checked[node_id] = _finite_pos(pos)
        events: list[GraphEvent] = []
        for node_id, pos in checked.items():
            n = self._nodes[node_id]
            if n.pos != pos:
                self._replace(replace(n, pos=pos))
                events.append(NodeMoved(node_id, n.pos, pos))
        self.events.emit_all(events)

    def set_output(self, node_id: str | None) -> None:
        """Choose the output node (None: back to the default, the only sink)."""
        if node_id is not None:
            self.node(node_id)
        if node_id == self._output:
            return
        before = self.output_id
        self._output = node_id
        if before != self.output_id:
            self._structure_changed()
            self._emit([], before)

    def set_meta(self, key: str, value: Any) -> None:
        """Store JSON-compatible metadata saved with the graph (None removes the key)."""
        if not isinstance(key, str) or not key:
            raise GraphEditError("a meta key must be a non-empty string")
        if value is not None:
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise GraphEditError(f"meta {key!r} is not JSON data: {exc}") from None
        old = self._meta.get(key)
        if value is None:
            self._meta.pop(key, None)
        else:
            self._meta[key] = _copy.deepcopy(value)
        if key in EVALUATION_META and old != value:
            # What the backward pass computes changed: numbers shown are out of date.
            self.version += 1
            self._emit([MetaChanged(key, old, _copy.deepcopy(value))], self.output_id)
            return
        self.events.emit(MetaChanged(key, old, _copy.deepcopy(value)))

    def clear(self) -> None:
        """Remove everything (nodes, edges, output choice, meta); one ``graph_cleared``."""
        before = self.output_id
        self._reset_storage()
        self._meta = {}
        self._structure_changed()
        self._evaluation = EvaluationState()
        events: list[GraphEvent] = [GraphCleared()]
        if before is not None:
            events.append(OutputChanged(before, None))
        events.append(EvaluationChanged(False, "reset"))
        self.events.emit_all(events)

    def replace_with(self, other: Graph) -> None:
        """Become a copy of ``other`` (e.g. a loaded file), keeping the subscribers.

        Sends ``graph_cleared``, then ``node_added`` and ``edge_added`` for the new
        content, ``meta_changed`` per meta key and ``output_changed``.
        """
        self.clear()
        before = self.output_id
        self._load_parts(other.nodes(), other._output, other._meta, other._next_id)
        self._structure_changed()
        events: list[GraphEvent] = [NodeAdded(i) for i in self._nodes]
        events += [EdgeAdded(e) for e in self.edges()]
        events += [MetaChanged(k, None, _copy.deepcopy(v)) for k, v in self._meta.items()]
        self._emit(events, before)

    # ------------------------------------------------------------------ snapshots

    def snapshot(self, ids: Iterable[str]) -> dict[str, Any]:
        """A plain dict (JSON-compatible) of these nodes and their edges.

        ``edges`` join two snapshot nodes; ``external`` join one to a node outside.
        ``output`` is set when the explicit output is among them. Feed it to
        :meth:`restore` to undo a delete or to paste a duplicate.
        """
        wanted = set()
        for node_id in ids:
            self.node(node_id)
            wanted.add(node_id)
        nodes = []
        edges: list[list[str | int]] = []
        external: list[list[str | int]] = []
        for n in self._nodes.values():
            if n.id not in wanted:
                for port, src in enumerate(n.inputs):
                    if src in wanted:
                        external.append([src, n.id, port])
                continue
            item: dict[str, Any] = {
                "id": n.id,
                "name": n.name,
                "op": n.op,
                "pos": [n.pos[0], n.pos[1]],
            }
            if n.params:
                item["params"] = dict(n.params)
            if n.op == "input":
                item["value"] = n.value
            nodes.append(item)
            for port, src in enumerate(n.inputs):
                if src is None:
                    continue
                (edges if src in wanted else external).append([src, n.id, port])
        return {
            "nodes": nodes,
            "edges": edges,
            "external": external,
            "output": self._output if self._output in wanted else None,
        }

    def restore(
        self,
        snapshot: Mapping[str, Any],
        id_map: Mapping[str, str] | None = None,
        offset: tuple[float, float] = (0.0, 0.0),
    ) -> dict[str, str]:
        """Add the snapshot's nodes and edges back; return ``{snapshot id: new id}``.

        With ``id_map=None`` (undo a delete) the nodes get back their ids and names, the
        external edges are reconnected and the explicit output is restored; a clash is
        refused. With an ``id_map`` (paste a duplicate) ids come from the map where it
        has them (so redo re-creates the same ids) and are fresh otherwise, names are
        made unique, positions shift by ``offset`` and external edges are dropped.
        All or nothing: on GraphEditError the graph is unchanged.
        """
        keep = id_map is None
        try:
            raw_nodes = list(snapshot["nodes"])
            raw_edges = [tuple(e) for e in snapshot.get("edges", [])]
            raw_external = [tuple(e) for e in snapshot.get("external", [])] if keep else []
        except (KeyError, TypeError) as exc:
            raise GraphEditError(f"not a graph snapshot: {exc}") from None
        dx, dy = _finite_pos(offset)
        mapping: dict[str, str] = {}
        taken_ids = set(self._nodes)
        taken_names = set(self._by_name)
        new_nodes: list[Node] = []
        next_id = self._next_id
        for item in raw_nodes:
            try:
                old_id, name, op = item["id"], item["name"], item["op"]
                params = dict(item.get("params") or {})
                x, y = item.get("pos", (0.0, 0.0))
            except (KeyError, TypeError, ValueError) as exc:
                raise GraphEditError(f"not a graph snapshot: {exc}") from None
            if not isinstance(old_id, str) or old_id in mapping:
                raise GraphEditError(f"snapshot has a bad or repeated id {old_id!r}")
            if keep:
                new_id = old_id
                if new_id in taken_ids:
                    raise GraphEditError(f"a node with id {new_id!r} already exists")
                check_name(name)
                if name in taken_names:
                    raise GraphEditError(f"there is already a node named {name!r}")
            else:
                assert id_map is not None
                new_id = id_map.get(old_id, "")
                if not new_id or new_id in taken_ids:
                    while f"n{next_id}" in taken_ids:
                        next_id += 1
                    new_id = f"n{next_id}"
                check_name(name)
                name = _unique(name, taken_names)
            try:
                spec = get_op(op)
            except GraphError as exc:
                raise GraphEditError(str(exc)) from None
            full = check_params(spec, params)
            value = None
            if op == "input":
                value = _number(item.get("value", 0.0), f"the value of {name}")
            taken_ids.add(new_id)
            taken_names.add(name)
            mapping[old_id] = new_id
            new_nodes.append(
                Node(
                    id=new_id,
                    name=name,
                    op=op,
                    params=MappingProxyType(full) if full else _EMPTY,
                    inputs=(None,) * spec.arity(full),
                    pos=_finite_pos((float(x) + dx, float(y) + dy)),
                    value=value,
                )
            )
        by_id = {n.id: n for n in new_nodes}
        edges: list[Edge] = []
        ports_taken: set[tuple[str, int]] = set()
        for raw in raw_edges + raw_external:
            try:
                src, dst, port = raw
            except ValueError:
                raise GraphEditError(f"not a graph snapshot: bad edge {raw!r}") from None
            src = mapping.get(src, src)
            dst = mapping.get(dst, dst)
            if src not in by_id and src not in self._nodes:
                raise GraphEditError(f"cannot reconnect: node {src!r} no longer exists")
            target = by_id.get(dst) or self._nodes.get(dst)
            if target is None:
                raise GraphEditError(f"cannot reconnect: node {dst!r} no longer exists")
            if (
                isinstance(port, bool)
                or not isinstance(port, int)
                or not 0 <= port < len(target.inputs)
            ):
                raise GraphEditError(f"cannot reconnect: {target.name} has no port {port!r}")
            if src == dst:
                raise GraphEditError(f"cannot connect {target.name} to itself")
            if target.inputs[port] is not None or (dst, port) in ports_taken:
                raise GraphEditError(
                    f"cannot reconnect: port {target.port_names[port]} of {target.name} "
                    "already takes an edge"
                )
            ports_taken.add((dst, port))
            edges.append(Edge(src, dst, port))
        if edges:
            trial = nx.DiGraph(self._g.edges) if raw_external else nx.DiGraph()
            trial.add_nodes_from(by_id)
            trial.add_edges_from((e.src, e.dst) for e in edges)
            if not nx.is_directed_acyclic_graph(trial):
                raise GraphEditError("restoring these nodes would close a cycle")
        # Everything checked: apply.
        before = self.output_id
        for n in new_nodes:
            self._insert(n)
            m = _ID_RE.match(n.id)
            if m:
                self._next_id = max(self._next_id, int(m.group(1)) + 1)
        for e in edges:
            self._link(e)
        if keep and snapshot.get("output") in by_id and self._output is None:
            self._output = snapshot["output"]
        self._structure_changed()
        events: list[GraphEvent] = [NodeAdded(n.id) for n in new_nodes]
        events += [EdgeAdded(e) for e in edges]
        self._emit(events, before)
        return mapping

    def unique_name(self, base: str, numbered: bool = False) -> str:
        """A free node name: ``base`` itself (unless ``numbered``) or ``base1``, ``base2``..."""
        if not numbered and base not in self._by_name:
            return base
        # Start after the last number handed out, so naming n nodes is not O(n^2).
        k = self._name_counters.get(base, 0) + 1
        if k > 1 and f"{base}{k - 1}" not in self._by_name:
            k = 1  # that one was freed (deleted or renamed): fill gaps from the start
        while f"{base}{k}" in self._by_name:
            k += 1
        self._name_counters[base] = k
        return f"{base}{k}"

    # ------------------------------------------------------------------ evaluation state

    def publish_evaluation(self, state: EvaluationState, reason: str, record: Any = None) -> None:
        """Set what is shown as computed and send ``evaluation_changed``.

        Used by :class:`graph.evaluate.Stepper`; views read :attr:`evaluation`.
        """
        self._evaluation = state
        self.events.emit(EvaluationChanged(state.stale, reason, record))

    # ------------------------------------------------------------------ internals

    def _reset_storage(self) -> None:
        self._g = nx.DiGraph()
        self._ports = {}
        self._nodes = {}
        self._order = {}
        self._rank = 0
        self._by_name = {}
        self._sinks = {}
        self._next_id = 1
        self._output = None

    def _load_parts(
        self,
        nodes: Iterable[Node],
        output: str | None,
        meta: Mapping[str, Any],
        next_id: int = 1,
    ) -> None:
        """Fill an empty graph from checked, consistent nodes (used by loaders). No events."""
        nodes = list(nodes)
        self._g.add_nodes_from(n.id for n in nodes)
        ports: dict[tuple[str, str], set[int]] = {}
        for n in nodes:
            self._nodes[n.id] = n
            self._order[n.id] = self._rank
            self._rank += 1
            self._by_name[n.name] = n.id
            for port, src in enumerate(n.inputs):
                if src is not None:
                    ports.setdefault((src, n.id), set()).add(port)
        self._g.add_edges_from(ports)
        self._ports.update(ports)
        self._sinks = dict.fromkeys(self._nodes)
        for src, _dst in ports:
            self._sinks.pop(src, None)
        self._output = output
        self._meta = _copy.deepcopy(dict(meta))
        top = 0
        for n in nodes:
            m = _ID_RE.match(n.id)
            if m:
                top = max(top, int(m.group(1)))
        self._next_id = max(next_id, top + 1)

    def _check_new_id(self, node_id: str | None) -> str:
        if node_id is None:
            while f"n{self._next_id}" in self._nodes:
                self._next_id += 1
            return f"n{self._next_id}"
        if not isinstance(node_id, str) or not node_id or len(node_id) > MAX_NAME_LENGTH:
            raise GraphEditError(f"bad node id {node_id!r}")
        if node_id in self._nodes:
            raise GraphEditError(f"a node with id {node_id!r} already exists")
        return node_id

    def _check_connect(self, src: str, dst: str, port: int | str) -> Edge:
        s = self.node(src)
        d = self.node(dst)
        index = self.port_index(dst, port)
        if src == dst:
            raise GraphEditError(f"cannot connect {s.name} to itself")
        taken = d.inputs[index]
        if taken is not None:
            raise GraphEditError(
                f"port {d.port_names[index]} of {d.name} already takes an edge from "
                f"{self._nodes[taken].name}; disconnect it first"
            )
        if nx.has_path(self._g, dst, src):
            raise GraphEditError(
                f"connecting {s.name} -> {d.name} would close a cycle "
                f"({d.name} already feeds {s.name})"
            )
        return Edge(src, dst, index)

    def _insert(self, node: Node) -> None:
        self._nodes[node.id] = node
        self._order[node.id] = self._rank
        self._rank += 1
        self._by_name[node.name] = node.id
        self._sinks[node.id] = None
        self._g.add_node(node.id)
        m = _ID_RE.match(node.id)
        if m:
            self._next_id = max(self._next_id, int(m.group(1)) + 1)

    def _replace(self, node: Node) -> None:
        self._nodes[node.id] = node

    def _link(self, edge: Edge) -> None:
        d = self._nodes[edge.dst]
        inputs = list(d.inputs)
        inputs[edge.port] = edge.src
        self._replace(replace(d, inputs=tuple(inputs)))
        key = (edge.src, edge.dst)
        if key in self._ports:
            self._ports[key].add(edge.port)
        else:
            self._ports[key] = {edge.port}
            self._g.add_edge(edge.src, edge.dst)
        self._sinks.pop(edge.src, None)

    def _unlink(self, edge: Edge) -> None:
        d = self._nodes[edge.dst]
        inputs = list(d.inputs)
        inputs[edge.port] = None
        self._replace(replace(d, inputs=tuple(inputs)))
        key = (edge.src, edge.dst)
        ports = self._ports[key]
        ports.discard(edge.port)
        if not ports:
            del self._ports[key]
            self._g.remove_edge(edge.src, edge.dst)
            if self._g.out_degree(edge.src) == 0:
                self._sinks[edge.src] = None

    def _structure_changed(self) -> None:
        self.version += 1
        self.structure_version += 1

    def _emit(
        self, events: list[GraphEvent], output_before: str | None, stale: bool = True
    ) -> None:
        """Emit ``events``; the computed values turn stale unless ``stale`` is False and
        the output stayed the same."""
        after = self.output_id
        if after != output_before:
            events.append(OutputChanged(output_before, after))
            stale = True
        ev = self._evaluation
        if stale and not ev.stale and (ev.values or ev.grads):
            self._evaluation = replace(ev, stale=True)
            events.append(EvaluationChanged(True, "stale"))
        self.events.emit_all(events)


def topological_sort(
    ids: list[str], inputs: Mapping[str, Iterable[str | None]]
) -> tuple[list[str], list[str]]:
    """Kahn's algorithm over ``inputs`` (id -> source ids per port), ties broken by the
    position in ``ids``. Returns ``(order, rest)``; ``rest`` is non-empty (the nodes on
    or after a cycle) only when the edges have a cycle."""
    import heapq

    rank = {nid: i for i, nid in enumerate(ids)}
    pending = dict.fromkeys(ids, 0)
    consumers: dict[str, list[str]] = {nid: [] for nid in ids}
    for nid in ids:
        for src in inputs.get(nid, ()):
            if src is not None:
                pending[nid] += 1
                consumers[src].append(nid)
    heap = [rank[nid] for nid in ids if pending[nid] == 0]
    heapq.heapify(heap)
    order: list[str] = []
    while heap:
        nid = ids[heapq.heappop(heap)]
        order.append(nid)
        for c in consumers[nid]:
            pending[c] -= 1
            if pending[c] == 0:
                heapq.heappush(heap, rank[c])
    rest = [nid for nid in ids if pending[nid] > 0]
    return order, rest


def find_cycle(rest: list[str], inputs: Mapping[str, Iterable[str | None]]) -> list[str]:
    """A cycle among ``rest`` (from :func:`topological_sort`), as ids in edge order."""
    left = set(rest)
    seen: dict[str, int] = {}
    path: list[str] = []
    nid = rest[0]
    while nid not in seen:
        seen[nid] = len(path)
        path.append(nid)
        nid = next(s for s in inputs[nid] if s is not None and s in left)
    cycle = path[seen[nid] :]
    cycle.reverse()  # walked against the edges: turn it around
    return cycle


def _canonical(node: Node) -> tuple[Any, ...]:
    """A node as comparable data: floats by repr, so nan equals nan and -0.0 is not 0.0."""
    return (
        node.id,
        node.name,
        node.op,
        tuple(sorted((k, repr(v)) for k, v in node.params.items())),
        node.inputs,
        tuple(repr(float(v)) for v in node.pos),
        repr(node.value),
    )


def _unique(name: str, taken: set[str]) -> str:
    if name not in taken:
        return name
    base = re.sub(r"_\d+$", "", name) or name
    k = 2
    while f"{base}_{k}" in taken:
        k += 1
    return f"{base}_{k}"
