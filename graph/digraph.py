"""The graph's topology: a small directed graph of node ids, and reachability on it.

``graph.model.Graph`` keeps its node records and ports itself and needs only this much
of a graph library: nodes, edges, successors, and whether one node reaches another.
networkx did it before; importing networkx takes 0.2-0.4 s (it loads all its algorithms
and reads its backends' entry points), which was most of the app's start-up with the
Graph tab. ``Graph.to_networkx`` still gives a networkx copy (imported there).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator


class DiGraph:
    """Nodes (hashable ids, in insertion order) and directed edges, each at most once."""

    def __init__(self, edges: Iterable[tuple[str, str]] = ()) -> None:
        self._succ: dict[str, dict[str, None]] = {}
        self._pred: dict[str, dict[str, None]] = {}
        self.add_edges_from(edges)

    def __contains__(self, node: object) -> bool:
        return node in self._succ

    def __len__(self) -> int:
        return len(self._succ)

    def nodes(self) -> list[str]:
        return list(self._succ)

    def edges(self) -> list[tuple[str, str]]:
        return [(u, v) for u, succ in self._succ.items() for v in succ]

    def number_of_edges(self) -> int:
        return sum(len(succ) for succ in self._succ.values())

    def add_node(self, node: str) -> None:
        if node not in self._succ:
            self._succ[node] = {}
            self._pred[node] = {}

    def add_nodes_from(self, nodes: Iterable[str]) -> None:
        for node in nodes:
            self.add_node(node)

    def add_edge(self, u: str, v: str) -> None:
        """The edge u -> v (adding either node if new); a second add changes nothing."""
        self.add_node(u)
        self.add_node(v)
        self._succ[u][v] = None
        self._pred[v][u] = None

    def add_edges_from(self, edges: Iterable[tuple[str, str]]) -> None:
        for u, v in edges:
            self.add_edge(u, v)

    def remove_edge(self, u: str, v: str) -> None:
        """Raises KeyError when there is no edge u -> v."""
        del self._succ[u][v]
        del self._pred[v][u]

    def remove_node(self, node: str) -> None:
        """The node and every edge into or out of it. Raises KeyError for an unknown node."""
        for v in self._succ.pop(node):
            del self._pred[v][node]
        for u in self._pred.pop(node):
            del self._succ[u][node]

    def successors(self, node: str) -> Iterator[str]:
        return iter(self._succ[node])

    def predecessors(self, node: str) -> Iterator[str]:
        return iter(self._pred[node])

    def out_degree(self, node: str) -> int:
        return len(self._succ[node])

    def copy(self) -> DiGraph:
        g = DiGraph()
        g.add_nodes_from(self._succ)
        g.add_edges_from(self.edges())
        return g

    def descendants(self, node: str) -> set[str]:
        """Every node ``node`` reaches along edges (not itself)."""
        return _reach(self._succ, node)

    def ancestors(self, node: str) -> set[str]:
        """Every node that reaches ``node`` along edges (not itself)."""
        return _reach(self._pred, node)

    def has_path(self, u: str, v: str) -> bool:
        """Whether v can be reached from u (a node reaches itself)."""
        if u not in self._succ or v not in self._succ:
            raise KeyError(u if u not in self._succ else v)
        return u == v or v in _reach(self._succ, u, stop=v)

    def is_acyclic(self) -> bool:
        """Whether no edge path leads back to where it started (Kahn's algorithm)."""
        waiting = {node: len(pred) for node, pred in self._pred.items()}
        ready = [node for node, n in waiting.items() if n == 0]
        seen = 0
        while ready:
            node = ready.pop()
            seen += 1
            for v in self._succ[node]:
                waiting[v] -= 1
                if waiting[v] == 0:
                    ready.append(v)
        return seen == len(self._succ)


def _reach(adjacency: dict[str, dict[str, None]], start: str, stop: str | None = None) -> set[str]:
    """Nodes reachable from ``start`` through ``adjacency`` (not ``start`` itself unless a
    cycle leads back); the search ends early once ``stop`` is found."""
    found: set[str] = set()
    todo = list(adjacency[start])
    while todo:
        node = todo.pop()
        if node in found:
            continue
        found.add(node)
        if node == stop:
            break
        todo.extend(v for v in adjacency[node] if v not in found)
    found.discard(start)
    return found
