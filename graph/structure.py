"""What a graph holds and what can be read from it, without the edits.

:class:`GraphStructure` keeps the node records (:class:`graph.node.Node`), the topology
on a :class:`graph.digraph.DiGraph` with the port numbers each edge feeds, the names, the sinks, the
output choice, the metadata and the evaluation state, with every query on them and the
low-level storage steps the edits of :class:`graph.model.Graph` are made of (which send
no events and check nothing the edit has not checked).
"""

from __future__ import annotations

import copy as _copy
import re
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from graph.digraph import DiGraph
from graph.errors import GraphEditError
from graph.events import Edge
from graph.node import MAX_NAME_LENGTH, EvaluationState, Node, canonical
from graph.toposort import topological_sort

if TYPE_CHECKING:
    import networkx as nx

ID_RE = re.compile(r"^n(\d+)$")


class GraphStructure:
    """The records and topology of a :class:`graph.model.Graph` with its queries:
    :meth:`node`, :meth:`nodes`, :meth:`edges`, :meth:`find`, :attr:`output_id`,
    :meth:`topological_order`..."""

    def __init__(self) -> None:
        self._reset_storage()
        self._meta: dict[str, Any] = {}
        self._evaluation = EvaluationState()
        self._topo_cache: tuple[int, list[str]] | None = None
        self._name_counters: dict[str, int] = {}
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
        return self._g.ancestors(node_id)

    def descendants(self, node_id: str) -> set[str]:
        self.node(node_id)
        return self._g.descendants(node_id)

    def to_networkx(self) -> nx.DiGraph:
        """A networkx copy of the topology with node attribute ``node`` (the record) and
        edge attribute ``ports`` (the set of port numbers the edge feeds)."""
        import networkx as nx  # 0.2-0.4 s to import: only here, never at start-up

        g = nx.DiGraph()
        g.add_nodes_from(self._g.nodes())
        g.add_edges_from(self._g.edges())
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

    def same_as(self, other: GraphStructure) -> bool:
        """True if both graphs have the same nodes in the same order (every field, floats
        compared exactly, nan equal to nan), the same output choice and meta."""
        return (
            [canonical(n) for n in self._nodes.values()]
            == [canonical(n) for n in other._nodes.values()]
            and self._output == other._output
            and self._meta == other._meta
        )

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

    # ------------------------------------------------------------------ internals

    def _reset_storage(self) -> None:
        """Empty records and topology (what ``__init__`` and ``Graph.clear`` start from)."""
        self._g = DiGraph()  # topology only; records live in _nodes, ports in _ports
        self._ports: dict[tuple[str, str], set[int]] = {}  # (src, dst) -> port numbers
        self._nodes: dict[str, Node] = {}
        self._order: dict[str, int] = {}  # insertion rank, for deterministic orders
        self._rank = 0
        self._by_name: dict[str, str] = {}
        self._sinks: dict[str, None] = {}  # ordered set of nodes with no consumer
        self._next_id = 1
        self._output: str | None = None

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
            m = ID_RE.match(n.id)
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
        if self._g.has_path(dst, src):
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
        m = ID_RE.match(node.id)
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
