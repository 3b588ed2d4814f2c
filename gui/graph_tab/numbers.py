"""Numbers the views derive from the engine's table: local derivatives along edges."""

from __future__ import annotations

from collections.abc import Mapping

from graph.events import Edge
from graph.model import Graph


def local_derivative(graph: Graph, edge: Edge, values: Mapping[str, float | None]) -> float | None:
    """∂dst/∂src along ``edge`` at the computed ``values`` (None if they are missing).

    The stepper's own number when it has processed the edge; otherwise computed with
    the op table's ``local`` function, which is what the engine uses.
    """
    recorded = graph.evaluation.local_grads.get(edge)
    if recorded is not None and not graph.evaluation.stale:
        return recorded
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
