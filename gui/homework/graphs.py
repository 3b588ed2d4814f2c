"""The built-in graph of f1, f2 or f3 with a failing check's inputs set, to open in the
Graph tab (so a student can compare each intermediate value with their own lines)."""

from __future__ import annotations

from typing import Any

from graph import fileformat
from graph.examples import example_path
from graph.model import Graph
from graph.program import from_program

#: The homework's f1 has two inputs (x1*w1 + x2*w2 + b); the built-in f1.json has one,
#: so f1 is built from the homework's own lines, with the seed's node names.
_F1_PROGRAM = """\
x1 = {x1!r}
w1 = {w1!r}
x2 = {x2!r}
w2 = {w2!r}
b = {b!r}
y = {y!r}
a1 = x1 * w1
a2 = x2 * w2
a = a1 + a2
y_hat = a + b
d = y_hat - y
L = d ** 2
"""

GRAPH_FUNCTIONS = ("f1", "f2", "f3")


def graph_for(function: str, inputs: dict[str, Any]) -> Graph:
    """The graph of ``function`` ("f1", "f2" or "f3") with its inputs set to ``inputs``."""
    if function == "f1":
        values = {k: float(inputs[k]) for k in ("x1", "w1", "x2", "w2", "b", "y")}
        return from_program(_F1_PROGRAM.format(**values))
    if function not in GRAPH_FUNCTIONS:
        raise KeyError(f"no built-in graph for {function}")
    graph = fileformat.load(example_path(function))
    for name, value in inputs.items():
        graph.set_value(graph.id_of(name), float(value))
    return graph
