"""Graph tab in a real window: practice from the keyboard (issue 13, defect 5), precision
and the output's name (defect 6), input nodes showing their own value (defect 7) and
number formatting (defect 8)."""

from __future__ import annotations

from pathlib import Path

from tests.gui.realwindow.driver import App, centre, wait_until
from tests.gui.realwindow.test_graph_keys import open_f3

MICROGRAD = """\
a = Value(-4.0)
b = Value(2.0)
c = a + b
d = a * b + b**3
c += c + 1
c += 1 + c + (-a)
d += d * 2 + (b + a).relu()
d += 3 * d + (b - a).relu()
e = c - d
f = e**2
g = f / 2.0
g += 10.0 / f
g.backward()
"""


def practice(app: App) -> dict:
    return app.tab_state()["practice"]


def test_practice_answer_box_focused_enter_checks_then_moves_on(start_app):
    app = start_app()
    app.menu("File", "Examples", "f1")
    wait_until(lambda: "w" in app.tab_state()["nodes"], 10, "f1 open")
    app.menu("Edit", "Practice mode")
    app.key("F5")  # practice: the forward pass only
    wait_until(lambda: "Next step" in app.widget("practiceNext")["text"], 5, "practice panel")
    app.click_widget("practiceNext")
    wait_until(lambda: app.state()["focus"]["object"] == "practiceAnswer", 5, "answer focus")
    first = practice(app)["question"]
    assert "dL/dL" in first
    app.type("7")
    app.key("Return")
    fb = wait_until(lambda: "Try again" in (t := practice(app)["feedback"]) and t, 5, "retry")
    assert "1 try left" in fb
    app.key("ctrl+a")
    app.type("1")
    app.key("Return")
    wait_until(lambda: "Right" in practice(app)["feedback"], 5, "the right answer marked")
    app.key("Return")  # Enter again: the next question
    wait_until(lambda: practice(app)["question"] != first, 5, "the next question")
    assert practice(app)["feedback"] == ""  # the previous question's feedback is cleared
    assert app.state()["focus"]["object"] == "practiceAnswer"


def test_full_precision_on_hover_and_in_panels_with_the_output_name(start_app, tmp_path: Path):
    program = tmp_path / "micrograd.py"
    program.write_text(MICROGRAD)
    app = start_app("--open", str(program))
    wait_until(lambda: "g" in app.tab_state()["nodes"], 10, "the program's graph")
    app.key("F5")
    state = wait_until(lambda: (s := app.tab_state())["phase"] == "done" and s, 5, "run all")
    assert state["nodes"]["g"]["value"] == "24.7"  # the canvas keeps 4 digits...
    assert "g = 24.7041" in state["step_info"]  # ...the step panel shows 6
    assert "dg/da = 138.834" in state["step_info"]
    assert "dL/d" not in state["step_info"]
    header = app.widget("inputsTable")
    assert header  # the table is on screen
    rows = {r[0]: r for r in state["inputs"]}
    assert rows["a"][3] == "138.834"
    # Hovering the g node shows every digit.
    app.move(*centre(state["nodes"]["g"]["rect"]))
    tip = wait_until(lambda: app.state()["tooltip"], 5, "the node's tooltip")
    assert "24.7040816327" in tip
    # View > Precision > 12 digits: the step panel follows.
    app.menu("View", "Precision", "12")
    wait_until(lambda: "g = 24.7040816327" in app.tab_state()["step_info"], 5, "12 digits")


def test_edited_input_node_shows_its_value_at_once_and_after_undo(start_app):
    app = start_app()
    open_f3(app)
    app.key("F5")
    wait_until(lambda: app.tab_state()["phase"] == "done", 5, "run all")
    s1 = app.tab_state()["nodes"]["s1"]["value"]
    table = app.widget("inputsTable")
    rows = [r[0] for r in app.tab_state()["inputs"]]
    x, y, w, _h = table["rect"]
    # Value column of the s1 row: rows are about 30 px apart below a 25 px header.
    row_y = y + 25 + 15 + 30 * rows.index("s1")
    app.click(x + int(w * 0.62), row_y, double=True)
    app.key("ctrl+a")
    app.type("2.5")
    app.key("Return")
    wait_until(lambda: app.tab_state()["nodes"]["s1"]["value"] == "2.5", 5, "s1 shows 2.5")
    row = next(r for r in app.tab_state()["inputs"] if r[0] == "s1")
    assert row[2] == "2.5"
    app.key("ctrl+z")
    state = wait_until(
        lambda: (s := app.tab_state())["nodes"]["s1"]["value"] == s1 and s, 5, "undo"
    )
    row = next(r for r in state["inputs"] if r[0] == "s1")
    assert row[2] == s1  # the node and the table agree


def test_fanout_sums_subtract_negatives_and_numbers_never_double_minus(start_app):
    app = start_app()
    open_f3(app)
    app.key("F5")
    state = wait_until(lambda: (s := app.tab_state())["phase"] == "done" and s, 5, "run all")
    fanouts = [n["fanout"] for n in state["nodes"].values() if n["fanout"]]
    assert fanouts, "f3 has fan-outs"
    for text in fanouts:
        assert "+ -" not in text and "--" not in text, text
    labels = [e["label"] for e in state["edges"]]
    assert all("e+" not in label for label in labels), labels
    assert "--" not in state["step_info"]
