"""Numbers the views derive from the engine's table: local derivatives along edges."""

from __future__ import annotations

from collections.abc import Mapping

from graph.events import Edge
from graph.model import Graph


def local_derivative(graph: Graph, edge: Edge, values: Mapping[str, float | None]) -> float | None:
    """∂dst/∂src along ``edge`` at the computed ``values`` (None if they are missing).

    Uses the op table's own ``local`` function, so it is the number the engine used.
    """
    dst = graph.node(edge.dst)
    ins = [values.get(src) if src is not None else None for src in dst.inputs]
    out = values.get(edge.dst)
    if out is None or any(v is None for v in ins):
        return None
    _forward, local = dst.spec.bind(dst.params)
    try:
        return float(local(*ins, out)[edge.port])
    except (ArithmeticError, ValueError, IndexError, TypeError):
        return None
