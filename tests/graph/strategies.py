"""Hypothesis strategies for random graphs (shared by the graph tests)."""

from __future__ import annotations

from hypothesis import strategies as st

from graph.model import Graph
from graph.ops import OPS

_OPS = sorted(OPS)
_VALUES = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.sampled_from([0.0, -0.0, 1.0, float("nan"), float("inf"), float("-inf")]),
)
_POS = st.floats(-1e5, 1e5, allow_nan=False)


@st.composite
def graphs(draw, max_nodes: int = 12, complete: bool = False, finite: bool = False) -> Graph:
    """A random DAG built through the editing API: every op, fan-out, unconnected ports
    (unless ``complete``), non-finite values (unless ``finite``), an explicit output
    sometimes, and meta sometimes."""
    g = Graph()
    n = draw(st.integers(1, max_nodes))
    values = st.floats(-3, 3, allow_nan=False) if finite else _VALUES
    ids: list[str] = []
    for i in range(n):
        ops = ["input", "const"] if i < 2 else _OPS
        if finite:
            ops = [o for o in ops if o not in ("choose", "log", "sqrt", "div", "pow")]
        op = draw(st.sampled_from(ops))
        params = {}
        if op == "powc":
            params["exponent"] = draw(st.sampled_from([-1.0, 0.5, 2.0, 3.0]))
        if op == "choose":
            params["n"] = draw(st.integers(2, 3))
        value = draw(values) if op in ("input", "const") else None
        node_id = g.add_node(op, value=value, params=params, pos=(draw(_POS), draw(_POS)))
        node = g.node(node_id)
        for port in range(len(node.inputs)):
            if ids and (complete or draw(st.booleans()) or draw(st.booleans())):
                g.connect(draw(st.sampled_from(ids)), node_id, port)
            elif complete:
                leaf = g.add_node("input", value=draw(values))
                g.connect(leaf, node_id, port)
        ids.append(node_id)
    if draw(st.booleans()):
        g.set_output(draw(st.sampled_from(g.node_ids())))
    if draw(st.booleans()):
        g.set_meta("practice", {"enabled": draw(st.booleans()), "note": draw(st.text(max_size=8))})
    return g


def same_number(a: float, b: float, rel: float = 1e-12) -> bool:
    """Equal within ``rel`` (and a tiny absolute floor), both nan, or the same infinity."""
    import math

    if a != a or b != b:
        return a != a and b != b
    if math.isinf(a) or math.isinf(b):
        return a == b
    return math.isclose(a, b, rel_tol=rel, abs_tol=1e-300 if rel < 1e-10 else rel)
