"""The loss surface: vectorised grid values equal the engine's, tangent, descent, CLI."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import main
from graph.errors import GraphError
from graph.evaluate import evaluate
from graph.examples import build_example, example_path
from graph.program import from_program
from graph.surface import compile_grid, descent_path, surface, tangent
from tests.graph.strategies import graphs
from tests.graph.strategies import same_number as _same


@settings(max_examples=150, deadline=None)
@given(graphs(max_nodes=10, complete=True), st.lists(st.floats(-4, 4), min_size=1, max_size=5))
def test_grid_values_equal_the_engine_at_every_point(g, points):
    out = g.output_id
    inputs = g.inputs()
    if out is None or not inputs:
        return
    run = compile_grid(g)
    x = inputs[0]
    grid = run({x: np.array(points)})
    for p, z in zip(points, grid, strict=True):
        r = evaluate(g, None, {x: p}, backward=False)
        assert _same(float(z), r.value), (p, float(z), r.value)


def test_two_input_grid_matches_evaluate_and_keeps_other_inputs_fixed():
    g = build_example("f3")
    s1, s2, y = g.id_of("s1"), g.id_of("s2"), g.id_of("y")
    g.set_value(y, 2.0)
    surf = surface(g, s1, s2, (-2, 4), (-1, 5), steps=7)
    assert surf.z.shape == (7, 7) and surf.xs[0] == -2 and surf.ys[-1] == 5
    for i, yv in enumerate(surf.ys):
        for j, xv in enumerate(surf.xs):
            r = evaluate(g, None, {s1: xv, s2: yv}, backward=False)
            assert _same(float(surf.z[i, j]), r.value)


def test_undefined_regions_are_nan_or_inf_in_the_grid():
    g = from_program("x = 1.0\ny = 1.0\nL = log(x) + sqrt(y)\n")
    surf = surface(g, g.id_of("x"), g.id_of("y"), (-1, 1), (-1, 1), steps=5)
    assert np.isnan(surf.z[0, 4])  # y < 0: sqrt(-1)
    assert np.isneginf(surf.z[4, 2])  # x == 0: log(0)
    assert np.isfinite(surf.z[4, 4])


def test_tangent_slope_is_the_gradient_the_graph_shows():
    g = build_example("f2")
    x = g.inputs()[0]
    x0, value, slope = tangent(g, x)
    r = evaluate(g)
    assert (x0, value, slope) == (g.node(x).value, r.value, r.grads[x])


def test_descent_path_lowers_a_bowl_and_follows_x_minus_eta_grad():
    g = from_program("a = 2.0\nb = -1.0\nL = a * a + 3 * b * b\n")
    a, b = g.id_of("a"), g.id_of("b")
    path = descent_path(g, (a, b), eta=0.1, steps=20)
    assert len(path) == 21
    (a1, b1), _ = path[1]
    assert math.isclose(a1, 2.0 - 0.1 * 4.0) and math.isclose(b1, -1.0 - 0.1 * -6.0)
    losses = [value for _, value in path]
    assert all(later < earlier for earlier, later in zip(losses, losses[1:], strict=False))


def test_descent_stops_where_the_loss_becomes_undefined():
    g = from_program("x = 0.5\nL = log(x)\n")
    path = descent_path(g, (g.id_of("x"),), eta=10.0, steps=5)
    assert len(path) < 6 and not math.isfinite(path[-1][1])


def test_bad_requests_are_refused_with_a_reason():
    g = build_example("f3")
    s1 = g.id_of("s1")
    with pytest.raises(GraphError, match="steps"):
        surface(g, s1, steps=1)
    with pytest.raises(GraphError, match="not an input"):
        surface(g, g.id_of("d"))
    with pytest.raises(GraphError, match="different"):
        surface(g, s1, s1)
    with pytest.raises(GraphError, match="LO < HI"):
        surface(g, s1, x_range=(1, 1))
    with pytest.raises(GraphError, match="learning rate"):
        descent_path(g, (s1,), eta=-1, steps=3)


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_json_grid_equals_graph_eval_set_at_the_grid_points(capsys):
    f3 = str(example_path("f3"))
    code, out, _ = run(
        capsys, "graph", "surface", f3, "--x", "s1", "--y", "s2", "--range=-2:2",
        "--range", "0:3", "--steps", "4", "--set", "y=2", "--json",
    )  # fmt: skip
    assert code == 0
    obj = json.loads(out)
    assert obj["x"] == "s1" and obj["y"] == "s2" and len(obj["z"]) == 4
    assert obj["xs"][0] == -2 and obj["ys"][-1] == 3
    for i in (0, 3):
        for j in (1, 2):
            xs, ys = obj["xs"][j], obj["ys"][i]
            code, ev, _ = run(
                capsys, "graph", "eval", f3, "--set", f"s1={xs!r}", "--set", f"s2={ys!r}",
                "--set", "y=2", "--json",
            )  # fmt: skip
            assert _same(obj["z"][i][j], json.loads(ev)["value"])


def test_cli_one_input_table_and_png(capsys, tmp_path):
    f2 = str(example_path("f2"))
    code, out, _ = run(capsys, "graph", "surface", f2, "--x", "x", "--steps", "3")
    assert code == 0 and len(out.splitlines()) == 4
    png = tmp_path / "s.png"
    code, _, err = run(capsys, "graph", "surface", f2, "--x", "x", "--out", str(png))
    assert code == 0 and png.read_bytes().startswith(b"\x89PNG") and "wrote" in err
    png2 = tmp_path / "c.png"
    f3 = str(example_path("f3"))
    code, _, _ = run(capsys, "graph", "surface", f3, "--x", "s1", "--y", "s2", "--out", str(png2))
    assert code == 0 and png2.stat().st_size > 1000


def test_cli_errors_are_one_line(capsys, tmp_path):
    f3 = str(example_path("f3"))
    code, _, err = run(capsys, "graph", "surface", f3, "--x", "nope")
    assert code == 1 and err.strip().count("\n") == 0 and "no input named 'nope'" in err
    code, _, err = run(capsys, "graph", "surface", f3, "--x", "s1", "--steps", "0")
    assert code == 1 and "--steps" in err
    with pytest.raises(SystemExit):
        main.main(["graph", "surface", f3, "--x", "s1", "--range", "3:1"])
    missing = tmp_path / "none" / "p.png"
    code, _, err = run(capsys, "graph", "surface", f3, "--x", "s1", "--out", str(missing))
    assert code == 1 and "p.png" in err and not missing.exists()


def test_a_leaf_of_negative_zero_keeps_its_sign_in_the_grid():
    # 1 / -0.0 is -inf in the engine; the grid once read the leaf as +0.0 and gave +inf.
    g = from_program("x = 1.0\nz = -0.0\nL = x / z\n")
    x = g.id_of("x")
    grid = compile_grid(g)({x: np.array([1.0, -2.0])})
    assert list(grid) == [-math.inf, math.inf]
    assert evaluate(g, None, {x: 1.0}, backward=False).value == -math.inf
