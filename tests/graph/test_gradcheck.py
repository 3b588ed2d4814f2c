"""Numeric gradient check: agreement, notes at kinks, the selector, bad steps."""

from __future__ import annotations

import math

import pytest

from graph.errors import GraphError
from graph.examples import build_example
from graph.gradcheck import gradcheck, relative_error
from graph.model import Graph


@pytest.mark.parametrize("name", ["f1", "f2", "f3", "f4"])
def test_builtins_pass_the_check(name):
    result = gradcheck(build_example(name))
    checked = [c for c in result.inputs if not c.no_grad]
    assert checked
    for c in checked:
        assert c.rel_error < 1e-7, (c.name, c.analytic, c.numeric)
        assert c.notes == ()
    assert result.worst < 1e-7


def test_selector_input_is_not_checked():
    result = gradcheck(build_example("f3"))
    y = next(c for c in result.inputs if c.name == "y")
    assert y.no_grad and y.numeric is None and "selector" in y.notes[0]


def _relu_graph(x: float) -> Graph:
    g = Graph()
    i = g.add_node("input", "x", x)
    r = g.add_node("relu", "r")
    g.connect(i, r, 0)
    return g


def test_kink_is_noted_and_a_wrong_looking_result_explained():
    at_zero = gradcheck(_relu_graph(0.0)).inputs[0]
    assert at_zero.analytic == 0.0 and at_zero.numeric == pytest.approx(0.5)
    assert "non-differentiable point" in at_zero.notes[0]
    near = gradcheck(_relu_graph(1e-7), h=1e-5).inputs[0]
    assert "changes branch" in near.notes[0]
    smaller = gradcheck(_relu_graph(1e-7), h=1e-8).inputs[0]
    assert smaller.notes == () and smaller.rel_error < 1e-7


def test_wrong_gradient_would_be_caught():
    g = build_example("f1")
    good = gradcheck(g, h=1e-5)
    # Central differences of a different function disagree with the engine's gradient.
    assert all(c.rel_error < 1e-7 for c in good.inputs)
    assert relative_error(1.5, 1.5 * (1 + 1e-3)) > 1e-4


def test_relative_error_definition():
    assert relative_error(1.0, 1.0) == 0.0
    assert relative_error(0.0, 0.0) == 0.0
    assert relative_error(1.0, 3.0) == 0.5
    assert relative_error(0.0, 1e-20, tiny=1e-12) == 1e-8
    assert math.isnan(relative_error(math.nan, 1.0))


@pytest.mark.parametrize("h", [0, -1e-5, math.nan, math.inf])
def test_bad_step_is_refused(h):
    with pytest.raises(GraphError, match="positive"):
        gradcheck(build_example("f1"), h=h)


def test_graph_without_output_is_refused():
    g = Graph()
    g.add_node("input", "a")
    g.add_node("input", "b")
    with pytest.raises(GraphError, match="several sinks"):
        gradcheck(g)
