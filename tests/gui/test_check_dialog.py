"""File > Check my code...: the checklist fills from a worker, failures show their
inputs, expected and got, layers get a heat-map, f1-f3 open in the Graph tab."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np

from gui.homework.check_dialog import CheckDialog
from gui.main_window import MainWindow

FIXTURES = Path(__file__).resolve().parents[1] / "nets" / "homework_fixtures"


def _buggy_homework(tmp_path: Path) -> Path:
    folder = tmp_path / "hw"
    shutil.copytree(FIXTURES, folder)
    for file, good, bad in (
        ("backprop/functions.py", "grad_e2 = grad_e2 + grad_d", "grad_e2 = grad_e2"),
        ("neuralnet/layers.py", "grad_b = np.sum(grad_out, axis=0)", "grad_b = grad_out[0]"),
    ):
        path = folder / file
        path.write_text(path.read_text().replace(good, bad))
    return folder


def _item(dialog: CheckDialog, function: str, value: str, against: str = "app"):
    for i in range(dialog.tree.topLevelItemCount()):
        top = dialog.tree.topLevelItem(i)
        if top.text(0) == function:
            for j in range(top.childCount()):
                child = top.child(j)
                if child.text(0) == value and child.text(1) == against:
                    return top, child
    raise AssertionError(f"no row {function} / {value}")


def test_check_my_code_shows_the_checklist_and_opens_f3_in_the_graph_tab(qtbot, tmp_path):
    window = MainWindow(remember=False)
    qtbot.addWidget(window)
    assert window.check_action in window.menus["File"].actions()
    dialog = window.show_check_dialog()
    assert isinstance(dialog, CheckDialog) and window.show_check_dialog() is dialog
    assert dialog.tree.topLevelItemCount() == 0  # nothing runs until Check is pressed

    dialog.path_edit.setText(str(_buggy_homework(tmp_path)))
    with qtbot.waitSignal(dialog.finished_checking, timeout=120_000) as done:
        assert dialog.start_check()
        assert not dialog.check_button.isEnabled()  # the GUI stays live meanwhile
    assert done.args == ["11 of 13 functions pass"]
    assert dialog.check_button.isEnabled()

    top, row = _item(dialog, "fc_backward", "grad_b")
    assert (top.text(3), row.text(3)) == ("FAIL", "FAIL")
    assert _item(dialog, "fc_backward", "grad_x")[1].text(3) == "ok"
    dialog.tree.setCurrentItem(row)
    text = dialog.details.toPlainText()
    assert "expected:" in text and "got:" in text and "relative error" in text
    assert "grad_out = " in text
    assert dialog.diff_view.isVisibleTo(dialog) and not dialog.graph_button.isVisibleTo(dialog)
    errors = dialog.diff_view.errors()
    assert errors.shape == (1, 3) and np.all(errors > 1e-9)

    _, f3_row = _item(dialog, "f3", "grad_s2")
    dialog.tree.setCurrentItem(f3_row)
    assert dialog.graph_button.isVisibleTo(dialog)
    inputs = dialog.results[2].failures()[0].inputs
    assert dialog.open_current_graph()
    graph = window.select_tab("graph").graph
    for name in ("s1", "s2", "y"):
        assert graph.node(graph.id_of(name)).leaf_value == inputs[name]
    dialog.close()


def test_f1_opens_as_the_homeworks_six_input_graph(qtbot):
    from graph.evaluate import evaluate
    from gui.homework.graphs import graph_for
    from nets.homework.references import f1

    inputs = {"x1": 1.5, "w1": -2.0, "x2": 0.5, "w2": 3.0, "b": 0.25, "y": 1.0}
    graph = graph_for("f1", inputs)
    evaluation = evaluate(graph)
    L, grads = f1(*inputs.values())
    assert evaluation.value == L
    assert [evaluation.grads[graph.id_of(n)] for n in inputs] == list(grads)
