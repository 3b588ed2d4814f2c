"""The built-in graphs f1-f4 (``assets/graphs/*.json``), using the seed's node names.

``load_example("f3")`` reads the shipped file. ``build_example("f3")`` constructs the
same graph in code; ``python -m graph.examples`` rewrites the asset files from it.
"""

from __future__ import annotations

import sys
from pathlib import Path

from assets import asset_path
from graph import fileformat
from graph.layout import auto_layout
from graph.model import Graph

#: name -> one-line description for an Examples menu.
EXAMPLES: dict[str, str] = {
    "f1": "f1: squared error of a linear model, L = (w·x + b - y)²",
    "f2": "f2: tanh from exponentials, y = (e^2x - 1) / (e^2x + 1)",
    "f3": "f3: 2-class softmax cross-entropy, L = -log p_y",
    "f4": "f4: a sigmoid neuron with squared error, L = (σ(w1·x1 + w2·x2 + b) - y)²",
}


def example_path(name: str) -> Path:
    """Path of a built-in graph file."""
    if name not in EXAMPLES:
        raise KeyError(f"no built-in graph {name!r} (have {', '.join(EXAMPLES)})")
    return asset_path("graphs", f"{name}.json")


def load_example(name: str) -> Graph:
    """Load a built-in graph (``"f1"``..``"f4"``) from its asset file."""
    return fileformat.load(example_path(name))


def _wire(g: Graph, spec: list[tuple[str, str, str]]) -> None:
    for src, dst, port in spec:
        g.connect(g.id_of(src), g.id_of(dst), port)


def build_example(name: str) -> Graph:
    """Construct a built-in graph in code (laid out, output set)."""
    g = Graph()
    if name == "f1":
        for n, v in (("w", 2.0), ("x", 1.5), ("b", 0.5), ("y", 3.0)):
            g.add_node("input", n, v)
        g.add_node("mul", "wx")
        g.add_node("add", "y_hat")
        g.add_node("sub", "d")
        g.add_node("powc", "L", params={"exponent": 2.0})
        _wire(
            g,
            [
                ("w", "wx", "a"),
                ("x", "wx", "b"),
                ("wx", "y_hat", "a"),
                ("b", "y_hat", "b"),
                ("y_hat", "d", "a"),
                ("y", "d", "b"),
                ("d", "L", "x"),
            ],
        )
    elif name == "f2":
        g.add_node("input", "x", 0.5)
        g.add_node("const", "two", 2.0)
        g.add_node("const", "one", 1.0)
        g.add_node("mul", "d")
        g.add_node("exp", "e")
        g.add_node("sub", "t")
        g.add_node("add", "b")
        g.add_node("div", "y")
        _wire(
            g,
            [
                ("two", "d", "a"),
                ("x", "d", "b"),
                ("d", "e", "x"),
                ("e", "t", "a"),
                ("one", "t", "b"),
                ("e", "b", "a"),
                ("one", "b", "b"),
                ("t", "y", "a"),
                ("b", "y", "b"),
            ],
        )
    elif name == "f3":
        for n, v in (("s1", 1.0), ("s2", 2.0), ("y", 1.0)):
            g.add_node("input", n, v)
        g.add_node("exp", "e1")
        g.add_node("exp", "e2")
        g.add_node("add", "d")
        g.add_node("div", "p1")
        g.add_node("div", "p2")
        g.add_node("choose", "p")
        g.add_node("log", "log_p")
        g.add_node("neg", "L")
        _wire(
            g,
            [
                ("s1", "e1", "x"),
                ("s2", "e2", "x"),
                ("e1", "d", "a"),
                ("e2", "d", "b"),
                ("e1", "p1", "a"),
                ("d", "p1", "b"),
                ("e2", "p2", "a"),
                ("d", "p2", "b"),
                ("y", "p", "sel"),
                ("p1", "p", "x1"),
                ("p2", "p", "x2"),
                ("p", "log_p", "x"),
                ("log_p", "L", "x"),
            ],
        )
    elif name == "f4":
        for n, v in (("w1", 0.5), ("x1", 1.0), ("w2", -1.5), ("x2", 2.0), ("b", 0.1), ("y", 1.0)):
            g.add_node("input", n, v)
        g.add_node("mul", "z1")
        g.add_node("mul", "z2")
        g.add_node("add", "s")
        g.add_node("add", "z")
        g.add_node("sigmoid", "p")
        g.add_node("sub", "d")
        g.add_node("powc", "L", params={"exponent": 2.0})
        _wire(
            g,
            [
                ("w1", "z1", "a"),
                ("x1", "z1", "b"),
                ("w2", "z2", "a"),
                ("x2", "z2", "b"),
                ("z1", "s", "a"),
                ("z2", "s", "b"),
                ("s", "z", "a"),
                ("b", "z", "b"),
                ("z", "p", "x"),
                ("p", "d", "a"),
                ("y", "d", "b"),
                ("d", "L", "x"),
            ],
        )
    else:
        raise KeyError(f"no built-in graph {name!r} (have {', '.join(EXAMPLES)})")
    g.set_output(g.id_of("L" if name != "f2" else "y"))
    g.move_many(auto_layout(g))
    return g


def write_assets() -> None:
    """Rewrite ``assets/graphs/f1..f4.json`` from :func:`build_example`."""
    for name in EXAMPLES:
        path = example_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        fileformat.save(build_example(name), path)


if __name__ == "__main__":
    write_assets()
    print("wrote", ", ".join(str(example_path(n)) for n in EXAMPLES), file=sys.stderr)
