"""The Two-layer net tab's Network graph page in a real window (issue 15): stepped with
the Graph tab's keys, an element clicked and explained, the explanation stepped with
the same keys, and no clipped text at 1024x700 and 1600x1000."""

from __future__ import annotations

from tests.gui.realwindow.driver import App, wait_until


def page_state(app: App) -> dict:
    return app.tab_state()["network_graph"]


def open_page(app: App) -> None:
    tab = next(t for t in app.query("tabs") if t["text"] == "Network graph")
    app.click_rect(tab["rect"])
    wait_until(lambda: page_state(app)["kind"] == "TwoLayerNet", 30, "the network graph")
    wait_until(lambda: not page_state(app)["busy"], 10, "the build")


def cell_centre(heat: dict, row: int, col: int) -> tuple[int, int]:
    x0, y0 = heat["origin"]
    w, h = heat["cell"]
    return round(x0 + (col + 0.5) * w), round(y0 + (row + 0.5) * h)


def test_keys_step_the_net_and_a_clicked_element_is_explained_and_stepped(start_app):
    app = start_app("--tab", "mlp", size="1280x800")
    open_page(app)
    app.click_widget("networkGraphCanvas")
    app.key("Right")
    wait_until(lambda: page_state(app)["forward_done"] == 1, 10, "→ runs fc_forward")
    assert page_state(app)["current"] == "fc1"
    assert "fc_forward" in page_state(app)["status"]
    for done in range(2, 8):
        app.key("Right")
        wait_until(lambda d=done: page_state(app)["forward_done"] == d, 10, f"forward {done}")
    app.key("Left")
    wait_until(lambda: page_state(app)["backward_done"] == 1, 10, "← runs the first backward")
    app.key("F5")
    wait_until(lambda: page_state(app)["backward_done"] == 7, 10, "F5 finishes")
    app.key("BackSpace")
    wait_until(lambda: page_state(app)["backward_done"] == 6, 10, "Backspace takes one back")
    assert app.state()["tab"] == "mlp"

    # fc1 is selected: click dL/da1[1, 3] in the inspector.
    heat = page_state(app)["grad_heat"]
    assert heat["visible"] and heat["shape"][1] > 3
    app.click(*cell_centre(heat, 1, 3))
    wait_until(lambda: page_state(app)["explain"]["element"] == "grad:a1[1,3]", 20, "explain")
    explained = page_state(app)["explain"]
    assert explained["nodes"] > 1 and explained["phase"] == "idle"

    app.click_widget("explainCanvas")
    app.key("F5")
    wait_until(lambda: page_state(app)["explain"]["phase"] == "done", 10, "F5 in the explanation")
    explained = page_state(app)["explain"]
    assert abs(explained["output_value"] - explained["value"]) <= 1e-9 * max(
        1.0, abs(explained["value"])
    )
    # The explanation's keys stepped its scalar graph, not the network.
    assert page_state(app)["backward_done"] == 6


def test_no_clipped_text_on_the_page_at_both_sizes(start_app, tmp_path):
    # Started at 1024x700 (the Two-layer net tab may make the window wider than that: its
    # training page's minimum width, not this page's), then resized to 1600x1000.
    app = start_app("--tab", "mlp", size="1024x700")
    open_page(app)
    for size in (None, (1600, 1000)):
        if size is not None:
            app.resize(*size)
        app.click_widget("networkGraphCanvas")
        app.key("F5")
        wait_until(lambda: page_state(app)["backward_done"] == 7, 10, "F5")
        found = wait_until(lambda: (c := app.query("clipped")) == [] or c, 3, "layout")
        width, height = app.state()["size"]
        app.server.screenshot(tmp_path / f"network-graph-{width}x{height}.png")
        assert found is True or found == [], found
        app.key("shift+F5")
        wait_until(lambda: page_state(app)["forward_done"] == 0, 10, "Shift+F5")
