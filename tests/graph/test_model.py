"""Graph model: edits, events, refused edits leave the graph unchanged, snapshots."""

from __future__ import annotations

import pytest

from graph import fileformat
from graph.errors import GraphEditError
from graph.evaluate import Stepper
from graph.events import Edge
from graph.examples import build_example
from graph.model import Graph


def _state(g: Graph) -> str:
    """Everything about a graph, as text, to compare before and after."""
    return fileformat.dumps(g) + repr((g.version, g.structure_version, g.output_id))


@pytest.fixture
def mul_graph():
    g = Graph()
    a = g.add_node("input", "a", 2.0, pos=(0, 0))
    b = g.add_node("input", "b", 3.0, pos=(0, 100))
    m = g.add_node("mul", "m", pos=(200, 50))
    g.connect(a, m, "a")
    g.connect(b, m, "b")
    return g, a, b, m


def test_add_connect_and_queries(mul_graph):
    g, a, b, m = mul_graph
    assert g.node(m).inputs == (a, b)
    assert g.edges() == [Edge(a, m, 0), Edge(b, m, 1)]
    assert g.sinks() == [m] and g.output_id == m
    assert g.find("a") == a and g.find("zzz") is None
    assert g.inputs() == [a, b]
    assert g.out_edges(a) == [Edge(a, m, 0)]
    assert g.topological_order()[-1] == m
    assert g.node(m).label == "×"


def test_default_names_ids_and_fanout_to_both_ports():
    g = Graph()
    x = g.add_node("input")
    c = g.add_node("const", value=2.5)
    sq = g.add_node("mul")
    assert [g.node(i).name for i in (x, c, sq)] == ["x1", "c1", "mul1"]
    assert g.node(c).leaf_value == 2.5
    g.connect(x, sq, 0)
    g.connect(x, sq, 1)  # x * x: one source on both ports of a node
    assert g.out_edges(x) == [Edge(x, sq, 0), Edge(x, sq, 1)]
    g.disconnect(sq, 0)
    assert g.out_edges(x) == [Edge(x, sq, 1)]
    assert g.add_node("input", node_id="n42") == "n42"
    assert g.add_node("input") == "n43"


def test_events_in_order_for_each_edit(mul_graph):
    g, a, b, m = mul_graph
    seen = []
    unsubscribe = g.events.subscribe(lambda e: seen.append(e))
    g.set_value(a, 5.0)
    g.rename(b, "bee")
    g.move(m, (10.0, 20.0))
    g.remove_node(m)
    kinds = [e.kind for e in seen]
    assert kinds == [
        "value_changed",
        "node_renamed",
        "node_moved",
        "edge_removed",
        "edge_removed",
        "node_removed",
        "output_changed",
    ]
    assert seen[0].old == 2.0 and seen[0].new == 5.0
    assert seen[1].old == "b" and seen[1].new == "bee"
    assert seen[2].new == (10.0, 20.0)
    assert seen[5].node.name == "m" and seen[5].node.inputs == (a, b)
    assert seen[6].old == m and seen[6].new is None
    unsubscribe()
    g.set_value(a, 6.0)
    assert len(seen) == 7


def test_changing_an_input_marks_values_stale_with_an_event(mul_graph):
    g, a, _b, m = mul_graph
    Stepper(g).run_all()
    assert g.evaluation.values[m] == 6.0 and not g.evaluation.stale
    seen = []
    g.events.subscribe(seen.append)
    g.set_value(a, 4.0)
    assert g.evaluation.stale
    assert [e.kind for e in seen] == ["value_changed", "evaluation_changed"]
    assert seen[1].stale and seen[1].reason == "stale"
    assert g.evaluation.values[m] == 6.0  # kept for display until re-run
    g.set_value(a, 5.0)  # already stale: no second stale event
    assert [e.kind for e in seen][-1] == "value_changed"


REFUSALS = [
    ("self-loop", lambda g, a, b, m: g.connect(m, m, 0), "itself"),
    ("port taken", lambda g, a, b, m: g.connect(b, m, "a"), "already takes an edge"),
    ("no such port", lambda g, a, b, m: g.connect(a, m, 2), "there is no port 2"),
    ("bad port name", lambda g, a, b, m: g.connect(a, m, "q"), "no port 'q'"),
    ("leaf has no ports", lambda g, a, b, m: g.connect(m, a, 0), "takes no inputs"),
    ("unknown id", lambda g, a, b, m: g.connect("n99", m, 0), "no node with id 'n99'"),
    ("duplicate name", lambda g, a, b, m: g.rename(a, "b"), "already a node named 'b'"),
    ("bad name", lambda g, a, b, m: g.rename(a, "2x"), "not usable"),
    ("keyword name", lambda g, a, b, m: g.rename(a, "lambda"), "reserved"),
    ("unknown op", lambda g, a, b, m: g.add_node("foo"), "unknown op 'foo'"),
    ("value on op", lambda g, a, b, m: g.set_value(m, 1.0), "only input and const"),
    ("text value", lambda g, a, b, m: g.set_value(a, "abc"), "must be a number"),
    ("bad pos", lambda g, a, b, m: g.move(a, (float("nan"), 0)), "finite"),
    ("bad param", lambda g, a, b, m: g.add_node("powc", params={"p": 2}), "no parameter 'p'"),
    ("duplicate id", lambda g, a, b, m: g.add_node("input", node_id=a), "already exists"),
    ("remove unknown", lambda g, a, b, m: g.remove_node("zz"), "no node with id"),
    ("disconnect empty", lambda g, a, b, m: g.disconnect(a, 0), "takes no inputs"),
    ("move many partly bad", lambda g, a, b, m: g.move_many({a: (1, 1), "zz": (0, 0)}), "zz"),
]


@pytest.mark.parametrize(("case", "edit", "message"), REFUSALS, ids=[r[0] for r in REFUSALS])
def test_refused_edits_raise_and_leave_the_graph_unchanged(mul_graph, case, edit, message):
    g, a, b, m = mul_graph
    before = _state(g)
    seen = []
    g.events.subscribe(seen.append)
    with pytest.raises(GraphEditError, match=message):
        edit(g, a, b, m)
    assert _state(g) == before
    assert seen == []


def test_cycle_is_refused_with_reason_and_can_connect_agrees():
    g = Graph()
    x = g.add_node("input", "x")
    e = g.add_node("add", "e")
    t = g.add_node("tanh", "t")
    s = g.add_node("add", "s")
    g.connect(x, e, 0)
    g.connect(e, t, 0)
    g.connect(t, s, 0)
    ok, reason = g.can_connect(s, e, 1)
    assert not ok and "would close a cycle" in reason
    before = _state(g)
    with pytest.raises(GraphEditError, match="cycle"):
        g.connect(s, e, 1)
    assert _state(g) == before
    assert g.can_connect(x, s, 1) == (True, "")


def test_choose_arity_follows_its_param():
    g = Graph()
    c = g.add_node("choose", "c")
    x = g.add_node("input", "x")
    assert g.node(c).port_names == ("sel", "x1", "x2")
    g.set_param(c, "n", 3)
    assert g.node(c).port_names == ("sel", "x1", "x2", "x3")
    g.connect(x, c, "x3")
    before = _state(g)
    with pytest.raises(GraphEditError, match="disconnect port"):
        g.set_param(c, "n", 2)
    assert _state(g) == before
    with pytest.raises(GraphEditError, match="at most 16"):
        g.set_param(c, "n", 17)
    with pytest.raises(GraphEditError, match="whole number"):
        g.set_param(c, "n", 2.5)


def test_output_choice_default_and_explicit():
    g = build_example("f3")
    L = g.id_of("L")
    assert g.output_id == L
    extra = g.add_node("input", "unused")
    assert g.explicit_output == L and g.output_id == L
    g.set_output(None)
    assert g.output_id is None and "several sinks" in g.output_problem()
    g.set_output(extra)
    assert g.output_id == extra


def test_snapshot_restore_undoes_a_delete_exactly():
    g = build_example("f3")
    before = fileformat.dumps(g)
    ids = [g.id_of("d"), g.id_of("p1")]
    snap = g.snapshot(ids)
    assert {n["name"] for n in snap["nodes"]} == {"d", "p1"}
    assert [g.node(s).name for s, d, _p in snap["edges"]] == ["d"]
    for node_id in ids:
        g.remove_node(node_id)
    assert g.find("d") is None
    g.restore(snap)
    # Same nodes, ids, names, edges and positions (insertion order may differ).
    original = fileformat.loads(before)
    assert {n.id: n for n in g.nodes()} == {n.id: n for n in original.nodes()}
    assert set(g.edges()) == set(original.edges())
    assert g.output_id == original.output_id


def test_restore_with_id_map_duplicates_with_fresh_ids_and_names():
    g = build_example("f1")
    snap = g.snapshot([g.id_of("wx"), g.id_of("y_hat")])
    mapping = g.restore(snap, id_map={}, offset=(30.0, 30.0))
    new_wx = g.node(mapping[g.id_of("wx")])
    assert new_wx.name == "wx_2" and new_wx.id not in snap["nodes"]
    assert new_wx.pos == (g.node(g.id_of("wx")).pos[0] + 30.0, g.node(g.id_of("wx")).pos[1] + 30.0)
    new_y_hat = g.node(mapping[g.id_of("y_hat")])
    assert new_y_hat.inputs == (new_wx.id, None)  # internal edge kept, external dropped
    # Redo re-creates the same ids once they are free again.
    for node_id in mapping.values():
        g.remove_node(node_id)
    assert g.restore(snap, id_map=mapping) == mapping


def test_restore_clash_is_refused_and_graph_unchanged():
    g = build_example("f1")
    snap = g.snapshot([g.id_of("d")])
    before = _state(g)
    with pytest.raises(GraphEditError, match="already exists"):
        g.restore(snap)  # d is still there
    assert _state(g) == before


def test_clear_and_replace_with_keep_subscribers():
    g = build_example("f2")
    seen = []
    g.events.subscribe(seen.append)
    g.clear()
    assert len(g) == 0 and seen[0].kind == "graph_cleared"
    seen.clear()
    g.replace_with(build_example("f4"))
    assert g.same_as(build_example("f4"))
    kinds = [e.kind for e in seen]
    assert kinds.count("node_added") == 13 and kinds.count("edge_added") == 12
    assert kinds[-1] == "output_changed"


def test_meta_is_saved_data_and_copied():
    g = Graph()
    g.set_meta("practice", {"enabled": True, "tolerance": 0.01})
    got = g.meta
    got["practice"]["enabled"] = False
    assert g.get_meta("practice")["enabled"] is True
    with pytest.raises(GraphEditError, match="not JSON"):
        g.set_meta("bad", {1, 2})


def test_copy_is_independent():
    g = build_example("f1")
    h = g.copy()
    assert h.same_as(g)
    h.set_value(h.id_of("w"), 10.0)
    assert not h.same_as(g)


def test_removing_a_node_not_connected_to_the_output_keeps_the_values_current(mul_graph):
    """Issue 13 defect 15: deleting a stray node marked every value stale."""
    g, a, _b, m = mul_graph
    g.set_output(m)
    stray = g.add_node("input", "stray", 1.0, pos=(0, 300))
    other = g.add_node("exp", "e", pos=(100, 300))
    g.connect(stray, other, 0)  # connected, but not to the output
    Stepper(g).run_all()
    assert not g.evaluation.stale
    seen = []
    g.events.subscribe(seen.append)
    g.remove_node(other)
    g.remove_node(stray)
    assert not g.evaluation.stale
    assert "evaluation_changed" not in [e.kind for e in seen]
    assert g.evaluation.values[m] == 6.0
    g.remove_node(a)  # feeds the output: now the numbers are out of date
    assert g.evaluation.stale and seen[-1].kind == "evaluation_changed"
