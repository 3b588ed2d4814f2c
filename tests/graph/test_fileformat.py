"""Graph files: exact round trip (hypothesis graphs), format details, atomic save."""

from __future__ import annotations

import json
import math

from hypothesis import given

from graph import fileformat
from graph.examples import build_example
from graph.model import Graph
from tests.graph.strategies import graphs


@given(graphs())
def test_save_then_load_gives_back_the_same_graph(g):
    text = fileformat.dumps(g)
    back = fileformat.loads(text)
    assert back.same_as(g)
    assert back.edges() == g.edges()
    assert back.output_id == g.output_id
    # Node by node, including non-finite values, -0.0 and positions.
    for a, b in zip(g.nodes(), back.nodes(), strict=True):
        assert a.id == b.id and a.pos == b.pos
        if a.value is not None:
            assert math.copysign(1, a.value) == math.copysign(1, b.value) or a.value != a.value
    assert fileformat.dumps(back) == text


def test_round_trip_through_disk_keeps_positions_and_meta(tmp_path):
    g = build_example("f3")
    g.move(g.id_of("L"), (1234.5, -67.25))
    g.set_meta("practice", {"enabled": True, "inputs": ["s1", "s2"]})
    path = tmp_path / "f3.json"
    fileformat.save(g, path)
    back = fileformat.load(path)
    assert back.same_as(g)
    assert back.node(back.id_of("L")).pos == (1234.5, -67.25)
    assert back.get_meta("practice") == {"enabled": True, "inputs": ["s1", "s2"]}


def test_file_is_versioned_json_with_named_ports_and_nonfinite_strings():
    g = Graph()
    x = g.add_node("input", "x", float("inf"))
    c = g.add_node("const", "c", float("nan"))
    m = g.add_node("mul", "m")
    g.connect(x, m, "a")
    g.connect(c, m, "b")
    data = json.loads(fileformat.dumps(g))
    assert data["format"] == "backprop-explorer-graph" and data["version"] == 1
    assert data["nodes"][0]["value"] == "inf"
    assert data["nodes"][1]["params"] == {"value": "nan"}
    assert data["edges"][1] == {"from": c, "to": m, "port": "b"}
    assert data["output"] is None and data["meta"] == {}
    back = fileformat.loads(fileformat.dumps(g))
    assert back.node(x).value == math.inf and math.isnan(back.node(c).leaf_value)


def test_hand_written_file_without_positions_gets_laid_out():
    text = json.dumps(
        {
            "format": "backprop-explorer-graph",
            "version": 1,
            "nodes": [
                {"id": "a", "name": "a", "op": "input", "value": 1},
                {"id": "b", "name": "b", "op": "exp"},
                {"id": "c", "name": "c", "op": "add"},
            ],
            "edges": [
                {"from": "a", "to": "b", "port": "x"},
                {"from": "a", "to": "c", "port": 0},
                {"from": "b", "to": "c", "port": "b"},
            ],
        }
    )
    g = fileformat.loads(text)
    xs = [g.node(i).pos[0] for i in ("a", "b", "c")]
    assert xs == sorted(xs) and len(set(xs)) == 3
    assert g.add_node("input") not in ("a", "b", "c")
