"""No module inside ``nets`` imports, directly or through others, a module that imports it
back (the checkpoint/classifier and classify/attribution cycles stay broken).

A package importing its own submodules (``nets.pretrained`` and its ``__init__``) is not
a cycle of modules and is left out. Lazy imports inside functions count: they still tie
the modules together.
"""

from __future__ import annotations

import grimp
import networkx as nx
import pytest


def _module_graph(package: str) -> nx.DiGraph:
    imports = grimp.build_graph(package, include_external_packages=False)
    packages = {m for m in imports.modules if imports.find_children(m)}
    graph = nx.DiGraph()
    for module in imports.modules - packages:
        for imported in imports.find_modules_directly_imported_by(module) - packages:
            graph.add_edge(module, imported)
    return graph


def _cycles(graph: nx.DiGraph) -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(graph) if len(c) > 1]


def test_no_import_cycle_inside_nets() -> None:
    graph = _module_graph("nets")
    assert graph.number_of_nodes() > 50  # the scan sees the package
    assert _cycles(graph) == []


@pytest.mark.parametrize(
    "edges, expected",
    [
        ([("a", "b"), ("b", "a")], [["a", "b"]]),
        ([("a", "b"), ("b", "c"), ("c", "a"), ("c", "d")], [["a", "b", "c"]]),
        ([("a", "b"), ("b", "c")], []),
    ],
)
def test_the_cycle_finder_finds_cycles(edges, expected) -> None:
    assert _cycles(nx.DiGraph(edges)) == expected
