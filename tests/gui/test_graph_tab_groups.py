"""Graph tab, groups: Group as function, the function node, open in place, stepping over
a closed group with its combined derivative, Ungroup, undo, save and reopen."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication

from graph.evaluate import evaluate
from graph.groups import GROUPS_KEY, Groups
from gui.graph_tab.groups_view import GroupFrame, GroupItem
from tests.gui import test_graph_tab_support as support

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _ids(tab, *names):
    return [tab.graph.id_of(n) for n in names]


def _status(window) -> str:
    return window.statusBar().currentMessage()


def test_group_as_function_draws_one_node_and_undo_restores(tab):
    tab.open_example("f4")
    layer = tab.group_layer
    gid = tab.grouping.group(_ids(tab, "p"), "sigmoid")
    assert gid is not None and tab.stack.undoText() == "Group as sigmoid"
    item = layer.items[gid]
    assert isinstance(item, GroupItem) and item.name == "sigmoid"
    assert not tab.scene.nodes[tab.graph.id_of("p")].isVisible()
    assert [tab.graph.node(i).name for i in item.inputs] == ["z"]
    # The edge z -> p now ends at the group's input port, p -> d starts at its output.
    z_to_p = next(e for e in tab.scene.edges if e.dst == tab.graph.id_of("p"))
    assert tab.scene.edges[z_to_p].dst is item.in_anchors[tab.graph.id_of("z")]
    tab.stack.undo()
    QApplication.processEvents()
    assert not layer.items and tab.scene.nodes[tab.graph.id_of("p")].isVisible()
    assert tab.scene.edges[z_to_p].dst is tab.scene.nodes[tab.graph.id_of("p")]
    tab.stack.redo()
    QApplication.processEvents()
    assert gid in layer.items


def test_double_click_opens_in_place_and_the_frame_closes_it(tab, qtbot):
    tab.open_example("f4")
    gid = tab.grouping.group(_ids(tab, "z1", "z2", "s", "z"), "neuron")
    layer = tab.group_layer
    item = layer.items[gid]
    with qtbot.waitSignal(layer.toggled):
        support.double_click(tab, item.mapToScene(item.body_rect().center()))
    assert gid in layer.open and gid not in layer.items
    frame = layer.frames[gid]
    assert isinstance(frame, GroupFrame)
    assert all(tab.scene.nodes[n].isVisible() for n in _ids(tab, "z1", "z2", "s", "z"))
    with qtbot.waitSignal(layer.toggled):
        support.double_click(tab, frame.tab_rect().center())
    assert gid not in layer.open and gid in layer.items


def test_stepping_over_a_closed_group_shows_its_combined_derivative(tab, window):
    tab.open_example("f4")
    tab.grouping.group(_ids(tab, "p"), "sigmoid")
    lin = tab.grouping.group(_ids(tab, "z1", "z2", "s", "z"), "neuron")
    steps = tab.steps
    r = evaluate(tab.graph)
    z, p = r.values[tab.graph.id_of("z")], r.values[tab.graph.id_of("p")]
    steps.step_forward()  # z1: enters neuron, which runs all four of its nodes
    assert f"forward: ƒ neuron: z = {z:.4g} (4 steps" in _status(window)
    assert steps.stepper.position[0] == 4
    steps.step_forward()
    assert f"forward: ƒ sigmoid: p = {p:.4g}" in _status(window)
    while steps.stepper.can_step_forward and not steps.stepper.forward_done:
        steps.step_forward()
    steps.step_backward()  # L
    steps.step_backward()  # d
    steps.step_backward()  # p, the sigmoid group
    assert f"dp/dz = σ(1 − σ) = {p * (1 - p):.4g}" in _status(window)
    steps.step_backward()  # neuron: five inputs, all through one step
    assert "ƒ neuron: dz/dw1 = 1" in _status(window) and "dz/db = 1" in _status(window)
    assert steps.stepper.phase == "done"
    assert tab.group_layer.items[lin].rows[0][0] == "z"


def test_ungroup_restores_the_nodes_and_nesting_survives_save_and_open(tab, tmp_path):
    tab.open_example("f4")
    inner = tab.grouping.group(_ids(tab, "p"), "sigmoid")
    outer = tab.grouping.group(_ids(tab, "z1", "z2", "s", "z", "p"), "neuron")
    assert Groups(tab.graph)[inner].parent == outer
    path = tmp_path / "grouped.json"
    assert tab.document.save_to(path)
    tab.new_graph()
    assert tab.open_file(path)
    QApplication.processEvents()
    assert Groups(tab.graph)[inner].parent == outer and outer in tab.group_layer.items
    tab.scene.clearSelection()
    tab.group_layer.items[outer].setSelected(True)
    assert tab.grouping.ungroup_selection()
    assert tab.stack.undoText() == "Ungroup neuron"
    assert Groups(tab.graph)[inner].parent is None
    QApplication.processEvents()
    assert inner in tab.group_layer.items and outer not in tab.group_layer.items
    tab.stack.undo()
    assert Groups(tab.graph)[inner].parent == outer


def test_refused_grouping_says_why_and_changes_nothing(tab, window):
    tab.open_example("f3")
    before = tab.graph.get_meta(GROUPS_KEY)
    assert tab.grouping.group(_ids(tab, "e1", "p1"), "f") is None
    assert "Refused" in _status(window) and "d is computed" in _status(window)
    assert tab.graph.get_meta(GROUPS_KEY) == before and tab.stack.count() == 0


def test_deleting_a_closed_group_deletes_its_nodes_and_undo_brings_them_back(tab):
    tab.open_example("f4")
    gid = tab.grouping.group(_ids(tab, "p"), "sigmoid")
    tab.scene.clearSelection()
    tab.group_layer.items[gid].setSelected(True)
    tab.delete_selection()
    assert tab.graph.find("p") is None
    tab.stack.undo()
    QApplication.processEvents()
    assert tab.graph.find("p") is not None and gid in tab.group_layer.items


def test_a_program_with_def_opens_as_groups(tab, tmp_path):
    prog = tmp_path / "p.py"
    prog.write_text(
        "def sigmoid(x):\n    return 1 / (1 + exp(-x))\nz = 0.5\np = sigmoid(z)\nL = p * p\n"
    )
    assert tab.open_file(prog)
    QApplication.processEvents()
    (item,) = tab.group_layer.items.values()
    assert item.name == "sigmoid"


def test_a_practice_question_inside_a_closed_group_opens_it(tab):
    tab.open_example("f4")
    gid = tab.grouping.group(_ids(tab, "p"), "sigmoid")
    tab.practice_action.trigger()
    tab.steps.run_all()  # practice: the forward pass only
    for _ in range(3):  # L, d, then p: the question about p opens its group
        if tab.practice.pending is not None:
            tab.practice_panel.answer_edit.setText("0")
            tab.practice_panel.check_button.click()
            while tab.practice.pending is not None:
                tab.practice_panel.check_button.click()
        tab.practice_panel.next_button.click()
    assert tab.practice.pending.name == "p"
    assert gid in tab.group_layer.open
    assert tab.scene.nodes[tab.graph.id_of("p")].isVisible()


def test_the_one_edge_drawn_into_a_group_carries_the_sum_of_its_contributions(tab):
    from gui.graph_tab import theme

    tab.open_example("f3")
    gid = tab.grouping.group(_ids(tab, "d", "p1", "p2"), "softmax2")
    tab.steps.run_all()
    QApplication.processEvents()
    g = tab.graph
    e1 = g.id_of("e1")
    into = [e for e, item in tab.scene.edges.items() if e.src == e1 and item.isVisible()]
    assert len(into) == 1  # e1 feeds d and p1: one edge to the group's port
    label = tab.scene.edges[into[0]].label
    assert label == theme.fmt(g.evaluation.grads[e1], 3)
    assert tab.scene.merged_edges[into[0]][0] == "softmax2"
    assert gid in tab.group_layer.items
