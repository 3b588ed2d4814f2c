"""The main window in a real X window: the title, Help pages, the log folder, status
messages for deletes and undos, the add-node popup's place (issue 13, defects 13 and 15),
and a graph built with the mouse."""

from __future__ import annotations

import shutil

import pytest

from tests.gui.realwindow.driver import App, centre, wait_until
from tests.gui.realwindow.test_graph_keys import open_f3


def windows(app: App) -> dict[str, dict]:
    return {w["object"]: w for w in app.state()["windows"]}


def test_log_folder_path_is_shown_and_copied_without_a_file_manager(start_app):
    if shutil.which("xdg-open"):
        pytest.skip("xdg-open is installed here: the folder opens in the file manager")
    app = start_app()
    app.menu("Help", "Open Log Folder")
    box = wait_until(lambda: windows(app).get("logFolderDialog"), 5, "the log folder box")
    state = app.state()
    folder = state["clipboard"]
    assert folder.endswith("backprop-explorer/log") or "log" in folder
    assert folder in box["text"]
    assert folder in state["status"]
    app.key("Escape")
    wait_until(lambda: "logFolderDialog" not in windows(app), 5, "the box closed")


def test_title_names_the_example_and_the_unsaved_mark(start_app):
    app = start_app()
    assert app.state()["shown_title"] == "untitled — Backprop Explorer"
    open_f3(app)
    wait_until(lambda: app.state()["shown_title"] == "f3 — Backprop Explorer", 5, "f3 title")
    node = app.tab_state()["nodes"]["y"]
    x, y, w, _h = node["rect"]
    app.click(x + w // 2, y + 8)  # the header: selects the node
    app.key("Delete")
    status = wait_until(lambda: (s := app.state()["status"]).startswith("Deleted") and s, 5, "")
    assert "y" in status
    assert app.state()["shown_title"] == "f3* — Backprop Explorer"
    app.key("ctrl+z")
    wait_until(lambda: app.state()["status"].startswith("Undid: Delete y"), 5, "undo status")
    assert "y" in app.tab_state()["nodes"]
    wait_until(lambda: app.state()["shown_title"] == "f3 — Backprop Explorer", 5, "clean title")


def test_help_has_quick_start_and_the_keyboard_shortcuts(start_app):
    app = start_app()
    app.menu("Help", "Quick Start")
    page = wait_until(lambda: windows(app).get("quickStart"), 5, "the quick start page")
    assert page["title"] == "Quick start"
    text = app.widget("quickStartText")
    assert text["visible"]
    app.key("Escape")
    wait_until(lambda: "quickStart" not in windows(app), 5, "quick start closed")
    app.key("ctrl+slash")
    wait_until(lambda: windows(app).get("shortcuts"), 5, "the shortcut list")
    app.key("Escape")
    wait_until(lambda: "shortcuts" not in windows(app), 5, "shortcuts closed")


def test_tab_search_popup_stays_inside_the_window(start_app):
    app = start_app(size="1024x700")
    view = app.widget("graphView")
    x, y, w, h = view["rect"]
    app.click(x + w - 5, y + h - 5)  # the bottom-right corner of the canvas
    app.key("Tab")
    popup = wait_until(
        lambda: (p := app.tab_state()["add_popup"])["visible"] and p, 5, "the add-node popup"
    )
    main = windows(app)["mainWindow"]["rect"]
    px, py, pw, ph = popup["rect"]
    mx, my, mw, mh = main
    assert mx <= px and px + pw <= mx + mw, (popup, main)
    assert my <= py and py + ph <= my + mh, (popup, main)
    app.key("Escape")


def test_two_node_graph_built_by_dragging_from_the_palette_and_connecting_ports(start_app):
    app = start_app()
    view = app.widget("graphView")
    vx, vy, vw, vh = view["rect"]
    palette = app.tab_state()["palette"]
    app.drag(centre(palette["input"]), (vx + vw // 3, vy + vh // 2))
    wait_until(lambda: len(app.tab_state()["nodes"]) == 1, 5, "the input node dropped")
    app.drag(centre(palette["exp"]), (vx + 2 * vw // 3, vy + vh // 2))
    wait_until(lambda: len(app.tab_state()["nodes"]) == 2, 5, "the exp node dropped")
    nodes = app.tab_state()["nodes"]
    src = next(n for n in nodes.values() if n["op"] == "input")
    dst = next(n for n in nodes.values() if n["op"] == "exp")
    app.drag(src["out_port"], dst["in_ports"][0])
    edges = wait_until(lambda: app.tab_state()["edges"], 5, "the edge")
    assert len(edges) == 1 and edges[0]["dst"] == next(
        name for name, n in app.tab_state()["nodes"].items() if n["op"] == "exp"
    )
    app.key("F5")
    state = wait_until(lambda: (s := app.tab_state())["phase"] == "done" and s, 5, "run all")
    values = {n["op"]: n["value"] for n in state["nodes"].values()}
    assert values["exp"] != "–"


def test_an_app_whose_window_never_appears_does_not_outlive_its_test(xserver, monkeypatch):
    # Under a broken build every real-window test timed out waiting for the window, and
    # each left its app process running (a dozen after a few minutes).
    from tests.gui.realwindow import driver

    started: list = []
    real_popen = driver.subprocess.Popen

    def popen(*args, **kwargs):
        proc = real_popen(*args, **kwargs)
        started.append(proc)
        return proc

    def never(*_args, **_kwargs):
        raise AssertionError("timed out waiting for the app window")

    monkeypatch.setattr(driver.subprocess, "Popen", popen)
    monkeypatch.setattr(driver, "wait_until", never)
    with pytest.raises(AssertionError, match="app window"):
        App(xserver)
    assert started and all(p.poll() is not None for p in started)


def test_deleting_a_node_not_connected_to_the_output_keeps_the_numbers(start_app):
    app = start_app()
    open_f3(app)
    view = app.widget("graphView")
    vx, vy, vw, vh = view["rect"]
    before = set(app.tab_state()["nodes"])
    app.drag(centre(app.tab_state()["palette"]["input"]), (vx + 60, vy + vh - 60))
    wait_until(lambda: len(app.tab_state()["nodes"]) == len(before) + 1, 5, "a stray input")
    app.click(vx + vw // 2, vy + 10)  # the canvas, so that F5 goes to the Graph tab
    app.key("F5")
    wait_until(
        lambda: not any(n["stale"] for n in app.tab_state()["nodes"].values()), 10, "evaluated"
    )
    stray = next(n for name, n in app.tab_state()["nodes"].items() if name not in before)
    x, y, w, _h = stray["rect"]
    app.click(x + w // 2, y + 8)  # its header: selects it
    app.key("Delete")
    wait_until(lambda: len(app.tab_state()["nodes"]) == len(before), 5, "the stray deleted")
    nodes = app.tab_state()["nodes"]
    assert not [name for name, n in nodes.items() if n["stale"]]
    assert app.state()["status"].startswith("Deleted")
