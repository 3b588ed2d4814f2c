"""Graph tab, panels and modes: practice mode, the gradient check, edge formulas, the
history panel and the screenshot state."""

from __future__ import annotations

import math

from PySide6.QtWidgets import QApplication

from graph import fileformat
from graph.gradcheck import gradcheck
from gui.graph_tab.gradcheck_panel import error_level
from tests.gui import test_graph_tab_support as support

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _answer(tab, text: str):
    panel = tab.practice_panel
    panel.answer_edit.setText(text)
    panel.check_button.click()
    return tab.practice.answers[-1]


def test_practice_mode_asks_each_gradient_and_scores(tab, window, tmp_path):
    tab.open_example("f1")  # w=2, x=1.5, b=0.5, y=3: y_hat=3.5, d=0.5, L=d²=0.25
    tab.practice_action.trigger()
    assert tab.practice.enabled
    assert tab.stack.undoText() == "Practice mode on"
    tab.set_practice_tries(1)  # one try: a wrong answer shows the right one at once
    tab.steps.run_all()  # in practice mode: the forward pass only
    assert "forward pass done" in window.statusBar().currentMessage()
    items = tab.scene.nodes
    assert all(item.display.grad_hidden for item in items.values())
    assert items[tab.graph.id_of("L")].display.value == "0.25"

    panel = tab.practice_panel
    answers = {"L": "1", "d": "1", "y_hat": "5", "wx": "1.0"}  # y_hat is wrong: it is 1
    for name, text in answers.items():
        panel.next_button.click()
        assert tab.practice.pending.name == name
        assert f"dL/d{name}" in panel.question.text()
        assert items[tab.graph.id_of(name)].display.grad_hidden
        result = _answer(tab, text)
        assert result.correct == (name != "y_hat")
        assert not items[tab.graph.id_of(name)].display.grad_hidden  # revealed
    assert "∂d/∂y_hat" in " ".join(tab.practice.answers[2].explanation)
    assert panel.history.item(2).text().startswith("✗")
    # Taking back a backward step is not allowed mid-practice.
    tab.steps.step_back()
    assert "cannot be taken back" in window.statusBar().currentMessage()

    # Then the inputs: dL/dw = x = 1.5, dL/dx = w = 2, dL/db = 1, dL/dy = -1.
    for name, text in (("w", "3/2"), ("x", "2"), ("b", "1"), ("y", "-1")):
        panel.next_button.click()
        assert tab.practice.pending.name == name
        assert _answer(tab, text).correct, name
    panel.next_button.click()
    assert tab.practice.finished
    assert not any(item.display.grad_hidden for item in items.values())
    assert tab.practice.score == (7, 8)
    assert "7 / 8" in panel.question.text()

    # A teacher hands the file out with practice on and chosen inputs.
    target = tmp_path / "homework.json"
    tab.document.save_to(target)
    assert fileformat.load(target).get_meta("practice")["enabled"] is True
    tab.new_graph()
    assert not tab.practice.enabled
    tab.open_file(target)
    assert tab.practice.enabled and tab.practice_action.isChecked()
    tab.steps.run_all()
    assert all(item.display.grad_hidden for item in tab.scene.nodes.values())


def test_practice_wrong_answer_gets_another_try_before_the_answer_is_shown(tab):
    tab.open_example("f1")
    tab.practice_action.trigger()  # default: 2 tries per question
    tab.steps.run_all()
    panel = tab.practice_panel
    panel.next_button.click()  # dL/dL
    panel.answer_edit.setText("7")
    first = panel.check()
    assert first.retry and not tab.practice.answers and tab.practice.pending is not None
    assert "Try again" in panel.feedback.text() and "1 try left" in panel.feedback.text()
    panel.answer_edit.setText("7")
    second = panel.check()
    assert not second.correct and not second.retry and tab.practice.pending is None
    assert "Not quite" in panel.feedback.text()
    panel.next_button.click()
    assert panel.feedback.text() == ""  # the last question's feedback is gone


def test_practice_tolerance_marks_close_answers_right(tab):
    tab.open_example("f3")
    tab.practice_action.trigger()
    tab.set_practice_tries(1)
    tab.steps.run_all()
    for _ in range(3):  # L, log_p, p
        tab.practice_panel.next_button.click()
        expected = tab.practice.pending.expected
        assert _answer(tab, f"{expected * 1.005:.6g}").correct  # within 1 %
    while True:
        tab.practice_panel.next_button.click()
        expected = tab.practice.pending.expected
        if abs(expected) > 1e-6:
            break
        assert _answer(tab, "0").correct  # p2 is not chosen: its gradient is 0
    assert not _answer(tab, f"{expected * 1.05:.6g}").correct  # 5 % off
    tab.practice_panel.next_button.click()
    tab.practice_panel.answer_edit.setText("banana")
    tab.practice_panel.check_button.click()
    assert "not a number" in tab.practice_panel.feedback.text()
    assert tab.practice.pending is not None  # still waiting for a real answer


def test_gradient_check_panel_colours_by_relative_error(tab):
    tab.open_example("f3")
    panel = tab.gradcheck_panel
    tab.side_tabs.setCurrentWidget(panel)
    panel.run_button.click()
    names = [panel.table.item(r, 0).text() for r in range(panel.table.rowCount())]
    assert names == ["s1", "s2", "y"]
    levels = panel.levels()
    assert levels[:2] == ["green", "green"] and levels[2] == "none"  # y: selector only

    panel.h_box.setCurrentText("abc")
    assert not panel.run()
    assert "not a number" in panel.summary.text()

    panel.h_box.setCurrentText("0.5")  # a coarse step: visibly worse
    assert panel.run()
    truth = gradcheck(tab.graph, h=0.5)
    assert panel.levels()[:2] == [error_level(c.rel_error) for c in truth.inputs[:2]]
    assert panel.levels()[0] in ("amber", "red")

    QApplication.processEvents()
    tab.inputs_panel.table.item(0, 2).setText("3")
    assert "press Re-run" in panel.summary.text()


def test_edge_formulas_history_panel_and_screenshot_state(tab):
    tab.open_example("f3")
    tab.prepare_screenshot()  # runs everything for the README picture
    ev = tab.graph.evaluation
    assert ev.phase == "done" and all(v is not None for v in ev.values.values())
    p1 = tab.graph.id_of("p1")
    edge = tab.scene.edges[tab.graph.in_edges(p1)[0]]
    contribution = ev.contributions[edge.edge]
    assert edge.label == _fmt(contribution)
    tab.formulas_action.trigger()
    assert edge.label.count("×") == 1 and "=" in edge.label
    up, local = (s.strip(" ()") for s in edge.label.split("=")[0].split("×"))
    assert math.isclose(float(up) * float(local), contribution, rel_tol=1e-2)

    assert not tab.history_box.isVisibleTo(tab)
    tab.history_action.trigger()
    assert tab.history_box.isVisibleTo(tab)
    QApplication.processEvents()
    assert tab.history.model().rowCount() == tab.stack.count() + 1


def _fmt(x: float) -> str:
    from gui.graph_tab import theme

    return theme.fmt(x, 3)


def test_step_box_explains_each_step(tab):
    tab.open_example("f3")
    tab.steps.step_forward()
    text = tab.step_info.text()
    assert "forward 1/8" in text and "e1 = exp(s1)" in text and "= exp(1) = 2.718" in text
    while tab.steps.step_forward() is not None:
        pass
    for _ in range(5):
        tab.steps.step_backward()
    text = tab.step_info.text()
    assert "backward 5/8" in text and "p1 = e1 / d" in text
    assert "dL/de1 += (-3.71828) × 0.098938 = -0.367879" in text  # upstream × local = contrib.
    tab.steps.run_all()
    assert "dL/dy: no gradient (it only feeds a choose selector)" in tab.step_info.text()


def test_double_click_edits_constants_and_exponents(tab):
    from PySide6.QtCore import QPointF

    from tests.gui.test_graph_tab_support import double_click, drop_op, type_into_inline

    c = drop_op(tab, "const", QPointF(0, 0))
    p = drop_op(tab, "powc", QPointF(300, 0))
    for name, rect, text in ((c, "value_rect", "2.5"), (p, "symbol_rect", "3")):
        item = tab.scene.nodes[tab.graph.id_of(name)]
        double_click(tab, item.mapToScene(getattr(item, rect)().center()))
        type_into_inline(tab, text)
    assert tab.graph.node(tab.graph.id_of(c)).leaf_value == 2.5
    assert tab.graph.node(tab.graph.id_of(p)).params["exponent"] == 3.0
    assert tab.scene.nodes[tab.graph.id_of(p)].node.label == "^3"
    tab.undo_action.trigger()
    assert tab.graph.node(tab.graph.id_of(p)).params["exponent"] == 2.0


def test_turning_practice_off_takes_its_question_off_the_step_panel(tab):
    """Issue 13 defect 10: "Practice: what is dL/dp?" stayed after practice was off."""
    tab.open_example("f1")
    tab.practice_action.trigger()
    tab.steps.run_all()  # the forward pass
    tab.steps.step_backward()  # the first backward step asks
    assert "Practice: what is" in tab.step_info.text()
    tab.practice_action.trigger()
    assert not tab.practice.enabled
    assert "Practice" not in tab.step_info.text()
