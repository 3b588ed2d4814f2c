"""graph.digraph: the topology under Graph answers as networkx does on random graphs."""

from __future__ import annotations

import networkx as nx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from graph.digraph import DiGraph

NODES = [f"n{i}" for i in range(8)]
edge_lists = st.lists(st.tuples(st.sampled_from(NODES), st.sampled_from(NODES)), max_size=20)


def _both(edges: list[tuple[str, str]]) -> tuple[DiGraph, nx.DiGraph]:
    ours, theirs = DiGraph(), nx.DiGraph()
    ours.add_nodes_from(NODES)
    theirs.add_nodes_from(NODES)
    ours.add_edges_from(edges)
    theirs.add_edges_from(edges)
    return ours, theirs


@settings(max_examples=150, deadline=None)
@given(edge_lists, st.lists(st.sampled_from(NODES), max_size=3), st.data())
def test_reachability_and_cycles_match_networkx(edges, removed, data):
    ours, theirs = _both(edges)
    for node in dict.fromkeys(removed):
        ours.remove_node(node)
        theirs.remove_node(node)
    if theirs.number_of_edges():
        u, v = data.draw(st.sampled_from(sorted(theirs.edges)))
        ours.remove_edge(u, v)
        theirs.remove_edge(u, v)
    assert sorted(ours.edges()) == sorted(theirs.edges)
    assert ours.number_of_edges() == theirs.number_of_edges()
    assert ours.is_acyclic() == nx.is_directed_acyclic_graph(theirs)
    for node in theirs.nodes:
        assert ours.descendants(node) == nx.descendants(theirs, node)
        assert ours.ancestors(node) == nx.ancestors(theirs, node)
        assert ours.out_degree(node) == theirs.out_degree(node)
        assert set(ours.predecessors(node)) == set(theirs.predecessors(node))
        for other in theirs.nodes:
            assert ours.has_path(node, other) == nx.has_path(theirs, node, other)
    copy = ours.copy()
    copy.add_edge("new", NODES[0])
    assert "new" not in ours and "new" in copy


def test_missing_nodes_and_edges_raise_key_error():
    g = DiGraph([("a", "b")])
    with pytest.raises(KeyError):
        g.remove_edge("b", "a")
    with pytest.raises(KeyError):
        g.remove_node("c")
    with pytest.raises(KeyError):
        g.has_path("a", "c")
    g.add_edge("a", "b")  # once only
    assert g.edges() == [("a", "b")] and g.number_of_edges() == 1
