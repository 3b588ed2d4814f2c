"""Automatic layout: columns by topological depth, left to right, without overlaps.

A node's column is one more than its deepest input's; leaves (inputs, constants) sit
just left of their first consumer instead of all in column 0, so a constant used late
does not stretch an edge across the whole graph. Within a column, nodes are ordered by
the mean row of their neighbours (a few barycentre sweeps, which removes most edge
crossings), then spaced ``dy`` apart. Distinct (column, row) slots mean no two nodes
overlap as long as a node fits in a ``dx`` by ``dy`` box.
"""

from __future__ import annotations

from collections.abc import Mapping

from graph.model import Graph

#: Horizontal distance between columns (scene units).
DX = 200.0
#: Vertical distance between rows.
DY = 110.0
_SWEEPS = 4


def auto_layout(
    graph: Graph, dx: float = DX, dy: float = DY, origin: tuple[float, float] = (0.0, 0.0)
) -> dict[str, tuple[float, float]]:
    """``{node id: (x, y)}`` for every node; the graph itself is not changed.

    Columns are ``dx`` apart starting at ``origin[0]``; each column is centred on
    ``origin[1]``. Apply with ``graph.move_many(auto_layout(graph))``.
    """
    order = graph.topological_order()
    preds = {nid: [s for s in graph.node(nid).inputs if s is not None] for nid in order}
    return layout_positions(order, preds, dx, dy, origin)


def layout_positions(
    order: list[str],
    preds: Mapping[str, list[str]],
    dx: float = DX,
    dy: float = DY,
    origin: tuple[float, float] = (0.0, 0.0),
) -> dict[str, tuple[float, float]]:
    """The layout of :func:`auto_layout` from a topological ``order`` and each node's
    input sources (for builders that have no Graph yet)."""
    if not order:
        return {}
    succs: dict[str, list[str]] = {nid: [] for nid in order}
    for nid in order:
        for s in preds[nid]:
            succs[s].append(nid)
    depth: dict[str, int] = {}
    for nid in order:
        d = -1
        for p in preds[nid]:
            dp = depth[p]
            if dp > d:
                d = dp
        depth[nid] = d + 1
    for nid in order:
        if not preds[nid] and succs[nid]:
            depth[nid] = max(0, min(depth[c] for c in succs[nid]) - 1)

    columns: dict[int, list[str]] = {}
    for nid in order:
        columns.setdefault(depth[nid], []).append(nid)
    keys = sorted(columns)
    # Rows are centred per column so neighbours in columns of different heights compare.
    row = {nid: i - (len(col) - 1) / 2.0 for col in columns.values() for i, nid in enumerate(col)}

    def sweep(col_keys: list[int], neighbours: Mapping[str, list[str]]) -> None:
        for k in col_keys:
            col = columns[k]
            if len(col) < 2:
                continue  # a lone node keeps row 0
            bary = {}
            for nid in col:
                near = [row[m] for m in neighbours[nid]]
                bary[nid] = sum(near) / len(near) if near else row[nid]
            col.sort(key=bary.__getitem__)
            half = (len(col) - 1) / 2.0
            for i, nid in enumerate(col):
                row[nid] = i - half

    # Each sweep is linear but costs real time in Python: big graphs get fewer, and
    # graphs beyond 20,000 nodes keep their topological order within each column.
    rounds = _SWEEPS if len(order) <= 2000 else 1 if len(order) <= 20000 else 0
    for _ in range(rounds):
        sweep(keys, preds)
        sweep(list(reversed(keys)), succs)
    if rounds:
        sweep(keys, preds)

    ox, oy = origin
    positions: dict[str, tuple[float, float]] = {}
    for k in keys:
        col = columns[k]
        top = oy - (len(col) - 1) * dy / 2.0
        for i, nid in enumerate(col):
            positions[nid] = (ox + k * dx, top + i * dy)
    return positions
