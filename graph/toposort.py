"""Topological order of a graph's nodes given as ``id -> input ids`` (Kahn's algorithm
with ties broken by insertion order), and a cycle where there is no such order."""

from __future__ import annotations

from collections.abc import Iterable, Mapping


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
