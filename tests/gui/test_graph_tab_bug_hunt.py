"""Graph tab, bug hunt: plant a bug (undoable, practice on, hidden in the file), the
gradient check exposes it, the student picks nodes until found, scores export as CSV."""

from __future__ import annotations

import csv

from PySide6.QtWidgets import QApplication

from graph.bugs import BUG_KEY, planted
from graph.evaluate import evaluate
from gui.graph_tab.bug_hunt import PlantBugDialog
from gui.graph_tab.practice import practice_settings
from tests.gui import test_graph_tab_support as support

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _select(tab, name):
    tab.scene.clearSelection()
    tab.scene.nodes[tab.graph.id_of(name)].setSelected(True)


def test_teacher_plants_a_bug_through_the_dialog_in_one_undo_step(tab):
    tab.open_example("f4")
    right = evaluate(tab.graph).grads
    _select(tab, "p")
    dialog = tab.bug_panel.plant_dialog()
    assert isinstance(dialog, PlantBugDialog)
    dialog.kind.setCurrentIndex(dialog.kind.findData("factor"))
    assert dialog.formula.text() == "out"
    assert "right 0.07625, planted 0.08317" in dialog.preview.text()
    dialog.formula.setText("out +")
    assert "does not parse" in dialog.preview.text()
    dialog.formula.setText("out")
    dialog.accept()
    assert planted(tab.graph).expr == "out"
    assert practice_settings(tab.graph)["enabled"]
    assert tab.stack.undoText() == "Plant a bug"
    assert evaluate(tab.graph).grads != right
    assert tab.bug_panel.isVisible() and tab.side_tabs.currentWidget() is tab.gradcheck_panel
    # The gradients stay visible in a bug hunt: the student compares them with the check.
    assert not tab.practice.enabled
    tab.stack.undo()
    assert planted(tab.graph) is None and not practice_settings(tab.graph)["enabled"]
    assert evaluate(tab.graph).grads == right


def test_student_finds_the_bug_with_the_gradient_check_and_tries_are_counted(tab, tmp_path):
    tab.open_example("f4")
    assert tab.bug_hunt.plant(tab.graph.id_of("z1"), 0, "input", "a") is None
    path = tmp_path / "hunt.json"
    assert tab.document.save_to(path)
    assert "planted_bug" in path.read_text() and '"kind"' not in path.read_text()
    tab.new_graph()
    assert tab.open_file(path)
    QApplication.processEvents()
    hunt = tab.bug_hunt
    assert hunt.active and "local derivative is wrong" in tab.bug_panel.status.text()
    tab.steps.run_all()
    assert tab.gradcheck_panel.run()
    assert tab.gradcheck_panel.levels()[0] == "red"  # w1: the planted derivative
    tab.bug_panel.pick_button.click()
    assert hunt.picking
    _select(tab, "s")
    assert hunt.tries == 1 and not hunt.found and "Not s" in tab.bug_panel.result.text()
    _select(tab, "z1")
    assert hunt.found and hunt.tries == 2
    assert "Found it in 2 tries: ∂z1/∂a was computed as a; it should be b" in (
        tab.bug_panel.result.text()
    )
    assert not tab.bug_panel.pick_button.isEnabled()
    out = tmp_path / "scores.csv"
    hunt.export_csv(out)
    rows = list(csv.DictReader(out.open()))
    assert rows[0]["activity"] == "bug hunt" and rows[0]["tries"] == "2"
    assert rows[0]["graph"] == "hunt.json" and rows[0]["result"] == "found z1"


def test_removing_the_bug_restores_the_gradients_and_nodes_without_a_formula_refuse(tab):
    tab.open_example("f4")
    assert not tab.bug_panel.isVisible()  # nothing planted: the panel keeps out of the way
    right = evaluate(tab.graph).grads
    tab.bug_hunt.plant(tab.graph.id_of("p"), 0, "sign", "-(out * (1 - out))")
    assert tab.bug_hunt.remove() is None
    assert tab.graph.get_meta(BUG_KEY) is None and evaluate(tab.graph).grads == right
    _select(tab, "w1")  # an input: no local derivative to break
    tab.bug_panel.plant_action.trigger()
    assert tab.bug_panel.isVisible()
    assert "Select one node" in tab.bug_panel.result.text()
