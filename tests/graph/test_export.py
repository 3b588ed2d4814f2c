"""Export: the generated Python runs and gives the engine's numbers; DOT is well formed."""

from __future__ import annotations

import importlib.util
import math
import subprocess
import sys
import tempfile
import uuid
from pathlib import Path

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st

from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.examples import build_example
from graph.export import to_dot, to_python
from graph.model import Graph
from graph.program import from_program
from tests.graph.strategies import graphs


def _import(source: str, folder: Path):
    """Import generated code from a file (no exec/eval of strings)."""
    path = folder / f"exported_{uuid.uuid4().hex}.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location(path.stem, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _engine(g: Graph):
    r = evaluate(g)
    return r.value, tuple(r.grads.get(i, 0.0) for i in g.inputs())


@pytest.mark.parametrize("name", ["f1", "f2", "f3", "f4"])
def test_exported_builtins_give_the_engines_numbers(name, tmp_path):
    g = build_example(name)
    module = _import(to_python(g), tmp_path)
    assert module.f() == _engine(g)
    # Other inputs, passed as arguments.
    g.set_value(g.inputs()[0], 0.25)
    args = {g.node(i).name: g.node(i).value for i in g.inputs()}
    assert module.f(**args) == _engine(g)


def test_exported_f3_sums_fan_out_and_skips_the_selector(tmp_path):
    code = to_python(build_example("f3"))
    assert "grad_d = grad_d_from_p2 + grad_d_from_p1" in code
    assert "no gradient" in code
    assert code.count("# sum the fan-out's gradients") == 3
    module = _import(code, tmp_path)
    g = build_example("f3")
    g.set_value(g.id_of("y"), 2.0)
    assert module.f(s1=1.0, s2=2.0, y=2.0) == _engine(g)


def test_exported_micrograd_program_matches(tmp_path):
    from tests.graph.test_program import MICROGRAD_README

    g = from_program(MICROGRAD_README)
    module = _import(to_python(g), tmp_path)
    assert module.f() == _engine(g)


@settings(max_examples=25, deadline=None)
@given(graphs(max_nodes=10, complete=True, finite=True), st.data())
def test_exported_random_graphs_match_the_engine_exactly(g, data):
    g.set_output(data.draw(st.sampled_from(g.node_ids())))
    r = evaluate(g)
    values = [r.value, *r.grads.values()]
    assume(all(isinstance(v, float) and math.isfinite(v) for v in values))
    with tempfile.TemporaryDirectory() as folder:
        module = _import(to_python(g), Path(folder))
        assert module.f() == _engine(g)


def test_exported_file_runs_as_a_script(tmp_path):
    path = tmp_path / "f1_export.py"
    path.write_text(to_python(build_example("f1")))
    out = subprocess.run(
        [sys.executable, str(path)], capture_output=True, text=True, timeout=60, check=True
    ).stdout
    assert "L = 0.25" in out and "dL/dw = 1.5" in out


def test_names_that_clash_with_generated_ones_are_renamed(tmp_path):
    g = Graph()
    a = g.add_node("input", "abs", 2.0)
    b = g.add_node("input", "grad_abs", 3.0)
    s = g.add_node("sigmoid", "_sigmoid")
    m = g.add_node("mul", "f")
    g.connect(a, m, 0)
    g.connect(b, m, 1)
    g.connect(m, s, 0)
    module = _import(to_python(g), tmp_path)
    assert module.f() == _engine(g)


def test_export_needs_an_output():
    g = Graph()
    g.add_node("input", "a")
    g.add_node("input", "b")
    with pytest.raises(GraphError, match="several sinks"):
        to_python(g)


def test_dot_lists_every_node_and_edge():
    g = build_example("f3")
    dot = to_dot(g, evaluate(g))
    assert dot.startswith("digraph") and dot.rstrip().endswith("}")
    for n in g.nodes():
        assert f'"{n.id}" [label="{n.name}\\n' in dot
    assert dot.count(" -> ") == len(g.edges())
    assert "peripheries=2" in dot and "grad " in dot
