"""Graph tab, editing: build f3 by hand, step through it, undo everything, redo it,
refused connections, delete/duplicate/layout and double-click edits."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QPointF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from graph.evaluate import evaluate
from graph.examples import build_example
from graph.records import format_sum
from gui.graph_tab import theme
from gui.graph_tab.edge_items import EdgeItem
from gui.graph_tab.node_items import NodeItem
from tests.gui import test_graph_tab_support as support
from tests.gui.test_graph_tab_support import (
    build_f3_by_hand,
    connect,
    drag,
    drop_op,
    grid,
    key,
    node_center,
    port_pos,
    rename,
    same_structure,
    set_value_by_double_click,
)

# Fixtures shared by the Graph tab tests.
state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _texts(tab):
    return {
        tab.graph.node(i).name: (item.display.value, item.display.grad)
        for i, item in tab.scene.nodes.items()
    }


def _status(window) -> str:
    return window.statusBar().currentMessage()


def test_build_f3_by_hand_then_step_forward_and_backward(tab, window):
    build_f3_by_hand(tab)
    graph = tab.graph
    assert same_structure(graph, build_example("f3"))
    assert len(tab.scene.nodes) == 11 and len(tab.scene.edges) == 13

    truth = evaluate(graph)
    ids = {graph.node(i).name: i for i in graph.node_ids()}
    # Nothing computed yet: dashes, except the inputs' own values.
    assert _texts(tab)["p1"] == ("–", "–")

    forward_steps = 0
    while True:
        before = _texts(tab)
        key(tab, Qt.Key.Key_Right)
        if _texts(tab) == before:
            break
        forward_steps += 1
        assert _status(window).startswith(f"forward {forward_steps}/8: ")
    assert forward_steps == 8
    for name, (value_text, grad_text) in _texts(tab).items():
        assert value_text == theme.fmt(truth.values[ids[name]]), name
        assert grad_text == "–"
    assert "forward pass is complete" in _status(window)

    backward_steps = 0
    while True:
        before = _texts(tab)
        key(tab, Qt.Key.Key_Left)
        if _texts(tab) == before:
            break
        backward_steps += 1
        assert _status(window).startswith(f"backward {backward_steps}/8: ")
        current = [n for n, item in tab.scene.nodes.items() if item.display.current]
        assert len(current) == 1
        highlighted = {e.edge for e in tab.scene.edges.values() if e.highlight}
        assert highlighted == set(graph.in_edges(current[0]))
    assert backward_steps == 8
    assert _status(window) in ("The backward pass is complete.",)
    for name, (_value, grad_text) in _texts(tab).items():
        expected = truth.grads.get(ids[name])
        assert grad_text == theme.fmt(expected), name
        if expected is not None:
            assert float(grad_text) == pytest.approx(expected, rel=1e-3, abs=1e-4)
    # The seed's answer for s1 = 1, s2 = 2, y = 1: dL/ds1 = p1 - 1.
    p1 = truth.values[ids["p1"]]
    assert truth.grads[ids["s1"]] == pytest.approx(p1 - 1)

    # The fan-out of e1 shows the sum of its two contributions.
    fan = tab.scene.fanouts[ids["e1"]]
    assert fan.isVisible() and fan.text.startswith("Σ ") and "+" in fan.text
    # Edges carry "upstream × local = contribution" on hover.
    edge = tab.scene.edges[graph.in_edges(ids["p1"])[0]]
    assert "upstream × local = contribution" in edge.toolTip()

    # Step back undoes exactly the last backward step.
    key(tab, Qt.Key.Key_Backspace)
    assert "Took back: backward 8/8" in _status(window)
    assert tab.graph.evaluation.position == (7, 8)


def test_a_fan_out_sum_lists_its_consumers_top_to_bottom_then_left_to_right(tab):
    assert tab.open_example("f3")
    tab.steps.run_all()
    graph, ev = tab.graph, tab.graph.evaluation
    ids = {graph.node(i).name: i for i in graph.node_ids()}
    outs = sorted(graph.out_edges(ids["e1"]), key=lambda e: graph.node(e.dst).pos[0])
    # d and p1 stand at the same height: d, further left, comes first.
    assert [graph.node(e.dst).name for e in outs] == ["d", "p1"]
    assert graph.node(outs[0].dst).pos[1] == graph.node(outs[1].dst).pos[1]
    terms = format_sum([theme.fmt(ev.contributions[e], 3) for e in outs])
    grad = theme.fmt(ev.grads[ids["e1"]], 4)
    assert tab.scene.fanouts[ids["e1"]].text == f"Σ {terms} = {grad}"


def test_undo_every_edit_to_empty_then_redo_to_the_same_graph(tab):
    build_f3_by_hand(tab)
    drag(tab, node_center(tab, "L"), node_center(tab, "L") + QPointF(40, 60))
    built = tab.graph.copy()
    count = tab.stack.count()
    assert count > 40  # every add, rename, value, move and connection is a command

    while tab.stack.canUndo():
        tab.undo_action.trigger()
    assert len(tab.graph) == 0
    assert not tab.scene.nodes and not tab.scene.edges
    assert not [i for i in tab.scene.items() if isinstance(i, NodeItem | EdgeItem)]

    while tab.stack.canRedo():
        tab.redo_action.trigger()
    assert tab.graph.same_as(built)  # ids, names, values, positions, edges, output
    assert len(tab.scene.nodes) == 11 and len(tab.scene.edges) == 13
    for node_id, item in tab.scene.nodes.items():
        assert (item.pos().x(), item.pos().y()) == tab.graph.node(node_id).pos


def test_refused_connection_leaves_scene_and_model_unchanged(tab, window, qtbot):
    a = drop_op(tab, "input", grid(0, 0))
    m = drop_op(tab, "mul", grid(1, 0))
    n = drop_op(tab, "neg", grid(2, 0))
    connect(tab, a, m, "a")
    connect(tab, m, n, "x")
    edges, commands = tab.graph.edges(), tab.stack.count()
    items = len(tab.scene.items())

    connect(tab, n, m, "b")  # would close a cycle
    assert "cycle" in _status(window)
    connect(tab, a, n, "x")  # port taken
    assert "already takes an edge" in _status(window)
    drag(tab, port_pos(tab, a), port_pos(tab, m))  # output to output
    assert "Refused" in _status(window)

    # The refused loose edge snaps back to its port, then disappears.
    qtbot.waitUntil(lambda: tab.scene._snap is None, timeout=2000)
    assert tab.graph.edges() == edges
    assert set(tab.scene.edges) == set(edges)
    assert tab.stack.count() == commands
    assert len(tab.scene.items()) == items  # the loose edge snapped back and is gone


def test_delete_duplicate_layout_and_rewire_are_undoable(tab):
    x = drop_op(tab, "input", grid(0, 0))
    e = drop_op(tab, "exp", grid(1, 0))
    connect(tab, x, e, "x")
    tab.scene.nodes[tab.graph.id_of(e)].setSelected(True)
    key(tab, Qt.Key.Key_D, Qt.KeyboardModifier.ControlModifier)
    assert len(tab.graph) == 3
    copy = [n.name for n in tab.graph.nodes() if n.name not in (x, e)][0]
    assert tab.graph.node(tab.graph.id_of(copy)).op == "exp"

    tab.scene.clearSelection()
    tab.scene.nodes[tab.graph.id_of(x)].setSelected(True)
    key(tab, Qt.Key.Key_Delete)
    assert tab.graph.find(x) is None and not tab.graph.edges()
    tab.undo_action.trigger()
    assert tab.graph.find(x) is not None and len(tab.graph.edges()) == 1

    before = {n.id: n.pos for n in tab.graph.nodes()}
    key(tab, Qt.Key.Key_L)
    after = {n.id: n.pos for n in tab.graph.nodes()}
    assert after != before
    assert len({p for p in after.values()}) == len(after)  # no two nodes on one spot
    tab.undo_action.trigger()
    assert {n.id: n.pos for n in tab.graph.nodes()} == before

    # Select the edge by clicking it, Delete removes just the edge.
    edge_item = next(iter(tab.scene.edges.values()))
    tab.scene.clearSelection()
    QTest.mouseClick(
        tab.view.viewport(),
        Qt.MouseButton.LeftButton,
        Qt.KeyboardModifier.NoModifier,
        tab.view.mapFromScene(edge_item.curve.pointAtPercent(0.3)),
    )
    assert tab.scene.selected_edges() == [edge_item.edge]
    key(tab, Qt.Key.Key_Delete)
    assert not tab.graph.edges() and len(tab.graph) == 3
    tab.undo_action.trigger()

    # Pick the edge up at its input port and drop it on empty canvas: disconnected.
    drag(tab, port_pos(tab, e, "x"), port_pos(tab, e, "x") + QPointF(0, 300))
    assert not tab.graph.edges()
    tab.undo_action.trigger()
    assert len(tab.graph.edges()) == 1


def test_double_click_edits_refuse_bad_names_and_values(tab, window):
    x = drop_op(tab, "input", grid(0, 0))
    rename(tab, x, "not valid")
    assert "Refused" in _status(window)
    assert tab.inline.isVisible()  # still open to fix it
    tab.inline.cancel()
    assert tab.graph.find(x) is not None
    set_value_by_double_click(tab, x, "abc")
    assert tab.graph.node(tab.graph.id_of(x)).value == 0.0
    tab.inline.cancel()
    set_value_by_double_click(tab, x, "-2.5")
    assert tab.graph.node(tab.graph.id_of(x)).value == -2.5


def test_inputs_table_edits_values_and_marks_results_stale(tab):
    tab.document.adopt(build_example("f1"), None)
    tab.steps.run_all()
    assert not any(item.display.stale for item in tab.scene.nodes.values())
    table = tab.inputs_panel.table
    QApplication.processEvents()
    row = tab.inputs_panel.row_of(tab.graph.id_of("w"))
    table.item(row, 2).setText("3")
    assert tab.graph.node(tab.graph.id_of("w")).value == 3.0
    assert all(item.display.stale for item in tab.scene.nodes.values())
    tab.steps.run_all()
    assert not any(item.display.stale for item in tab.scene.nodes.values())
    table.item(row, 2).setText("three")
    QApplication.processEvents()
    assert tab.graph.node(tab.graph.id_of("w")).value == 3.0
    assert table.item(row, 2).text() == "3"


def test_nan_is_flagged_where_it_first_appears(tab):
    from graph.program import from_program

    tab.document.adopt(from_program("x = -1.0\ny = log(x)\nz = y * 2.0\n"), None)

    def flagged():
        return {tab.graph.node(i).name for i, it in tab.scene.nodes.items() if it.display.warning}

    while tab.steps.step_forward() is not None:
        pass
    assert flagged() == {"y"}  # log(-1): the nan starts here, not in z = y * 2
    assert tab.scene.nodes[tab.graph.id_of("z")].display.value == "nan"
    tab.steps.run_all()
    # Backward: dL/dy = 1 × ∂z/∂y is fine, but ∂z/∂2 = y is nan: flagged at z's step.
    assert "y" in flagged() and "x" not in flagged()


def test_output_can_be_chosen_among_several_sinks(tab):
    a = drop_op(tab, "input", grid(0, 0))
    s = drop_op(tab, "square", grid(1, 0))
    e = drop_op(tab, "exp", grid(1, 1))
    connect(tab, a, s, "x")
    connect(tab, a, e, "x")
    assert tab.graph.output_id is None
    tab.steps.run_all()
    box = tab.output_box
    QApplication.processEvents()
    index = box.findText(e)
    assert index > 0
    box.activated.emit(index)
    assert tab.graph.output_id == tab.graph.id_of(e)
    tab.steps.run_all()
    marked = [tab.graph.node(i).name for i, it in tab.scene.nodes.items() if it.display.output]
    assert marked == [e]
    assert tab.scene.nodes[tab.graph.id_of(a)].display.grad == theme.fmt(
        evaluate(tab.graph).grads[tab.graph.id_of(a)]
    )


def test_deleting_a_node_not_connected_to_the_output_keeps_the_numbers_current(tab):
    """Issue 13 defect 15: the canvas and step panel greyed every value out."""
    tab.open_example("f1")
    stray = drop_op(tab, "input", grid(0, 6))
    tab.steps.run_all()
    assert not tab.graph.evaluation.stale
    tab.scene.clearSelection()
    tab.scene.nodes[tab.graph.id_of(stray)].setSelected(True)
    key(tab, Qt.Key.Key_Delete)
    assert tab.graph.find(stray) is None
    assert not tab.graph.evaluation.stale
    assert not any(item.display.stale for item in tab.scene.nodes.values())
    assert "stale" not in tab.step_info.text()
    assert f"/d{stray}" not in tab.step_info.text()  # the summary forgot it
