"""Auto-layout: left to right by depth, no overlaps, big graphs handled."""

from __future__ import annotations

import random

from hypothesis import given

from graph.examples import build_example
from graph.layout import DX, DY, auto_layout
from graph.model import Graph
from tests.graph.strategies import graphs


def _check(g: Graph, pos: dict) -> None:
    assert set(pos) == set(g.node_ids())
    points = list(pos.values())
    for i, (x1, y1) in enumerate(points):
        for x2, y2 in points[i + 1 :]:
            assert abs(x1 - x2) >= DX - 1e-9 or abs(y1 - y2) >= DY - 1e-9
    for e in g.edges():
        assert pos[e.src][0] < pos[e.dst][0]


@given(graphs(max_nodes=15))
def test_layout_goes_left_to_right_without_overlaps(g):
    _check(g, auto_layout(g))


def test_layout_of_a_500_node_graph():
    rng = random.Random(3)
    g = Graph()
    ids = [g.add_node("input", value=1.0) for _ in range(20)]
    for _ in range(480):
        n = g.add_node(rng.choice(["add", "mul", "sub"]))
        g.connect(rng.choice(ids), n, 0)
        g.connect(rng.choice(ids), n, 1)
        ids.append(n)
    pos = auto_layout(g)
    _check(g, pos)
    g.move_many(pos)
    assert g.node(ids[-1]).pos == pos[ids[-1]]


def test_leaves_sit_next_to_their_first_consumer():
    g = build_example("f3")
    pos = auto_layout(g)
    y_sel = pos[g.id_of("y")][0]
    assert y_sel == pos[g.id_of("p")][0] - DX
