"""Graph tab in a real window: stepping with the keyboard, wherever the focus is
(issue 13, defect 1), and f3 stepped to the end with the keyboard only."""

from __future__ import annotations

from tests.gui.realwindow.driver import App, wait_until


def open_f3(app: App) -> None:
    app.menu("File", "Examples", "f3")
    wait_until(lambda: "p_y" in app.tab_state()["nodes"] or app.tab_state()["nodes"], 10, "f3")


def forward_steps_done(app: App) -> int:
    return sum(1 for n in app.tab_state()["nodes"].values() if n["value"] != "–")


def test_right_arrow_steps_after_clicking_step_button_and_never_changes_tab(start_app):
    app = start_app()
    open_f3(app)
    before = forward_steps_done(app)
    app.click_widget("Step →")
    wait_until(lambda: forward_steps_done(app) == before + 1, 5, "one forward step")
    app.key("Right")
    wait_until(lambda: forward_steps_done(app) == before + 2, 5, "→ after clicking Step →")
    assert app.state()["tab"] == "graph"
    # Clicking the Graph tab's own tab gives the tab bar the focus: → still steps.
    tab = next(t for t in app.query("tabs") if t["text"] == "Graph" and t["bar"] == "tabs")
    app.click_rect(tab["rect"])
    app.key("Right")
    wait_until(lambda: forward_steps_done(app) == before + 3, 5, "→ after clicking the tab")
    assert app.state()["tab"] == "graph"
    app.key("Left")  # forward not finished: ← must not switch tabs either
    assert app.state()["tab"] == "graph"


def test_f5_runs_all_after_ctrl_1_and_inside_the_inputs_table(start_app):
    app = start_app()
    open_f3(app)
    app.key("ctrl+1")
    app.key("F5")
    wait_until(lambda: app.tab_state()["phase"] == "done", 5, "F5 after Ctrl+1")
    app.key("shift+F5")
    wait_until(lambda: app.tab_state()["phase"] != "done", 5, "Shift+F5 resets")
    table = app.widget("inputsTable")
    x, y, w, _h = table["rect"]
    app.click(x + w // 2, y + 40)  # a cell of the first row
    wait_until(lambda: app.state()["focus"]["object"] == "inputsTable", 5, "table focus")
    app.key("F5")
    wait_until(lambda: app.tab_state()["phase"] == "done", 5, "F5 in the Inputs table")


def test_f3_stepped_to_the_end_with_the_keyboard_only(start_app):
    app = start_app()
    # File menu by keyboard: Alt+F, Examples, f3.
    app.key("alt+f")
    wait_until(lambda: app.query("menus")["popup"], 5, "the File menu")
    app.key("e")  # &Examples
    wait_until(
        lambda: (app.query("menus")["popup"] or {}).get("title", "").startswith("Examples"),
        5,
        "the Examples submenu",
    )
    app.key("Down", "Down", "Return")  # f1 is highlighted; f2, f3
    wait_until(lambda: "s1" in app.tab_state()["nodes"], 10, "f3 open")
    nodes = app.tab_state()["nodes"]
    for _ in range(len(nodes)):
        app.key("Right")
    wait_until(
        lambda: all(n["value"] != "–" for n in app.tab_state()["nodes"].values()),
        5,
        "every value computed",
    )
    for _ in range(len(nodes) + 2):
        app.key("Left")
    state = wait_until(
        lambda: (s := app.tab_state())["phase"] == "done" and s, 5, "the backward pass done"
    )
    grads = {name: n["grad"] for name, n in state["nodes"].items()}
    assert grads["s1"].startswith("-0.731"), grads
    assert grads["s2"].startswith("0.731"), grads
    assert app.state()["tab"] == "graph"
