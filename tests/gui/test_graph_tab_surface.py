"""Graph tab, the loss-surface panel: contour plot, tangent, descent, dragging, updates."""

from __future__ import annotations

import math

import numpy as np

from graph.evaluate import evaluate
from tests.gui import test_graph_tab_support as support

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _show(tab, qtbot):
    tab.surface_action.trigger()
    panel = tab.surface_panel
    assert panel.isVisible()
    return panel


def test_two_inputs_give_a_contour_plot_with_the_gradient_arrow(tab, qtbot):
    tab.open_example("f3")
    panel = _show(tab, qtbot)
    g = tab.graph
    s1, s2 = g.id_of("s1"), g.id_of("s2")
    panel.choose(s1, s2)
    assert panel.surf is not None and panel.surf.z.shape == (100, 100)
    assert len(panel.contours) > 3 and panel.image.image is not None
    r = evaluate(g)
    xs, ys = panel.arrow_line.getData()
    # The shaft points along the gradient: perpendicular to the contour through the point.
    dx, dy = xs[1] - xs[0], ys[1] - ys[0]
    gx, gy = r.grads[s1], r.grads[s2]
    assert math.isclose(dx * gy - dy * gx, 0.0, abs_tol=1e-9) and dx * gx + dy * gy > 0
    assert "∇L = (-0.7311, 0.7311)" in panel.info.text()
    pos = panel.point.pos()
    assert (pos.x(), pos.y()) == (1.0, 2.0)


def test_one_input_shows_the_curve_and_the_tangent_with_the_graphs_slope(tab, qtbot):
    tab.open_example("f2")
    panel = _show(tab, qtbot)
    x = tab.graph.inputs()[0]
    panel.choose(x, None)
    xs, ys = panel.tangent_line.getData()
    slope = (ys[1] - ys[0]) / (xs[1] - xs[0])
    assert math.isclose(slope, evaluate(tab.graph).grads[x], rel_tol=1e-9)
    assert panel.contours == []


def test_descent_path_animates_and_ranges_are_adjustable(tab, qtbot):
    tab.open_example("f3")
    panel = _show(tab, qtbot)
    g = tab.graph
    panel.choose(g.id_of("s1"), g.id_of("s2"))
    panel.eta.setValue(0.5)
    panel.steps.setValue(10)
    path = panel.descend()
    assert len(path) == 11 and path[-1][1] < path[0][1]
    qtbot.waitUntil(lambda: not panel._timer.isActive(), timeout=5000)
    xs, _ = panel.path_item.getData()
    assert len(xs) == 11 and "L went from" in panel.info.text()
    panel.set_range(g.id_of("s1"), 0.0, 2.0)
    assert panel.surf.xs[0] == 0.0 and panel.surf.xs[-1] == 2.0
    assert panel.x_lo.value() == 0.0


def test_dragging_the_point_sets_both_inputs_in_one_undo_step(tab, qtbot):
    tab.open_example("f3")
    panel = _show(tab, qtbot)
    g = tab.graph
    panel.choose(g.id_of("s1"), g.id_of("s2"))
    with qtbot.waitSignal(panel.redrawn):
        panel.move_point(0.5, -1.0)
    assert g.node(g.id_of("s1")).value == 0.5 and g.node(g.id_of("s2")).value == -1.0
    tab.stack.undo()
    assert g.node(g.id_of("s1")).value == 1.0 and g.node(g.id_of("s2")).value == 2.0


def test_the_panel_follows_input_edits_and_shades_undefined_regions(tab, qtbot):
    tab.open_example("f3")
    panel = _show(tab, qtbot)
    g = tab.graph
    panel.choose(g.id_of("s1"), g.id_of("s2"))
    before = panel.surf.z.copy()
    with qtbot.waitSignal(panel.redrawn):
        tab.editor.set_value(g.id_of("y"), 2.0)  # held input: the surface changes
    assert not np.allclose(before, panel.surf.z)
    tab.editor.set_value(g.id_of("y"), 3.0)  # choose has no x3: nan everywhere
    qtbot.waitUntil(lambda: not np.isfinite(panel.surf.z).any(), timeout=3000)
    mask = panel.undefined.image
    assert mask is not None and (mask[..., 3] > 0).all()
    assert "undefined" in panel.info.text()
