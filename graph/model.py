"""The editable graph: nodes with ops and ordered input ports on a small DiGraph.

Every edit either completes or raises :class:`GraphEditError` leaving the graph exactly
as it was. Every completed edit sends events (see :mod:`graph.events`). Node records are
immutable :class:`Node` values (:mod:`graph.node`); an edit replaces the record. What a
graph holds and the queries on it are in :mod:`graph.structure`.

Ids are stable strings (``"n7"``). Names are unique Python identifiers so a graph can
be exported as code. Any node's output may feed many ports (fan-out); each input port
takes exactly one edge.
"""

from __future__ import annotations

import copy as _copy
import json
from collections.abc import Iterable, Mapping
from dataclasses import replace
from types import MappingProxyType
from typing import Any

from graph.digraph import DiGraph
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
from graph.node import (
    EMPTY_PARAMS,
    EvaluationState,
    Node,
    check_name,
    check_params,
    finite_pos,
    number,
    same_float,
    unique_copy_name,
)
from graph.ops import get_op
from graph.structure import GraphStructure

__all__ = ["Graph"]

#: Names an op gets when none is given: input nodes are x1, x2..., consts c1, c2...
_NAME_PREFIX = {"input": "x", "const": "c"}
#: Meta keys that change what evaluation computes (graph.bugs' planted derivative).
EVALUATION_META = frozenset({"planted_bug"})


class Graph(GraphStructure):
    """A scalar computational graph you can edit, evaluate, save and watch.

    Edits: :meth:`add_node`, :meth:`remove_node`, :meth:`connect`, :meth:`disconnect`,
    :meth:`set_value`, :meth:`set_param`, :meth:`rename`, :meth:`move`,
    :meth:`move_many`, :meth:`set_output`, :meth:`set_meta`, :meth:`restore`,
    :meth:`clear`, :meth:`replace_with`. Queries: :meth:`node`, :meth:`nodes`,
    :meth:`edges`, :meth:`find`, :attr:`output_id`, :meth:`topological_order`...
    """

    def __init__(self) -> None:
        super().__init__()
        self.events = EventBus()

    def copy(self) -> Graph:
        """An independent copy with the same ids, names, positions, output and meta."""
        other = Graph()
        other._load_parts(self.nodes(), self._output, self._meta, self._next_id)
        return other

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
            node_value = 0.0 if value is None else number(value, "an input's value")
        elif op == "const" and value is not None:
            full["value"] = number(value, "a constant's value")
        elif value is not None:
            raise GraphEditError(f"only input and const nodes take a value, not {op}")
        node = Node(
            id=node_id,
            name=name,
            op=op,
            params=MappingProxyType(full) if full else EMPTY_PARAMS,
            inputs=(None,) * spec.arity(full),
            pos=finite_pos(pos),
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
        feeds_output = before is None or node_id == before or self._g.has_path(node_id, before)
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
        new = number(value, f"the value of {n.name}")
        old = n.leaf_value
        assert old is not None
        if same_float(old, new):
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
        if same_float(old, new):
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
            checked[node_id] = finite_pos(pos)
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
        dx, dy = finite_pos(offset)
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
                name = unique_copy_name(name, taken_names)
            try:
                spec = get_op(op)
            except GraphError as exc:
                raise GraphEditError(str(exc)) from None
            full = check_params(spec, params)
            value = None
            if op == "input":
                value = number(item.get("value", 0.0), f"the value of {name}")
            taken_ids.add(new_id)
            taken_names.add(name)
            mapping[old_id] = new_id
            new_nodes.append(
                Node(
                    id=new_id,
                    name=name,
                    op=op,
                    params=MappingProxyType(full) if full else EMPTY_PARAMS,
                    inputs=(None,) * spec.arity(full),
                    pos=finite_pos((float(x) + dx, float(y) + dy)),
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
            trial = DiGraph(self._g.edges()) if raw_external else DiGraph()
            trial.add_nodes_from(by_id)
            trial.add_edges_from((e.src, e.dst) for e in edges)
            if not trial.is_acyclic():
                raise GraphEditError("restoring these nodes would close a cycle")
        # Everything checked: apply.
        before = self.output_id
        for n in new_nodes:
            self._insert(n)  # moves _next_id past the node's id
        for e in edges:
            self._link(e)
        if keep and snapshot.get("output") in by_id and self._output is None:
            self._output = snapshot["output"]
        self._structure_changed()
        events: list[GraphEvent] = [NodeAdded(n.id) for n in new_nodes]
        events += [EdgeAdded(e) for e in edges]
        self._emit(events, before)
        return mapping

    # ------------------------------------------------------------------ evaluation state

    def publish_evaluation(self, state: EvaluationState, reason: str, record: Any = None) -> None:
        """Set what is shown as computed and send ``evaluation_changed``.

        Used by :class:`graph.evaluate.Stepper`; views read :attr:`evaluation`.
        """
        self._evaluation = state
        self.events.emit(EvaluationChanged(state.stale, reason, record))

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
