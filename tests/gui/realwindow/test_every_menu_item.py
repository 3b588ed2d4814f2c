"""Every menu item of every tab, opened once with the mouse in a real window: none shows
an error dialog or writes a traceback (issue 13)."""

from __future__ import annotations

import time

from tests.gui.realwindow.driver import App, wait_until

TABS = ("ctrl+1", "ctrl+2", "ctrl+3", "ctrl+4")
#: Quit ends the app (the quit prompt has its own test); Full Screen is toggled twice.
SKIP = {"Quit"}
TWICE = {"Full Screen"}


def other_windows(app: App) -> list[dict]:
    return [
        w
        for w in app.state()["windows"]
        if w["class"] != "MainWindow" and w["object"] != "qtooltip_label"
    ]


def settle_and_close_dialogs(app: App, expect_dialog: bool) -> list[dict]:
    """Wait for the dialog an item opens (if it says "..."), then close every one."""
    seen: list[dict] = []
    # Items that promise a dialog ("...") must show one; the others are checked at once
    # (an error box they raise later is still counted in the hook's "errors").
    deadline = time.monotonic() + (3.0 if expect_dialog else 0.0)
    while True:
        found = other_windows(app)
        if found:
            seen += found
            break
        if time.monotonic() >= deadline:
            break
        time.sleep(0.05)
    for _ in range(4):
        if not other_windows(app):
            break
        app.key("Escape")
        wait_until(lambda: not app.query("menus")["popup"], 3, "no menu left open")
        time.sleep(0.15)
    assert not other_windows(app), other_windows(app)
    return seen


def item_paths(app: App, menu: str) -> list[tuple[str, ...]]:
    """(menu, item) and (menu, submenu, item) for every enabled item of ``menu``."""
    app.menu(menu)
    popup = wait_until(lambda: app.query("menus")["popup"], 5, f"the {menu} menu")
    paths: list[tuple[str, ...]] = []
    for item in popup["items"]:
        if not item["enabled"] or item["text"] in SKIP:
            continue
        if not item["submenu"]:
            paths.append((menu, item["text"]))
            continue
        app.move(item["rect"][0] + 10, item["rect"][1] + item["rect"][3] // 2)
        sub = wait_until(
            lambda t=item["text"]: (p := app.query("menus")["popup"]) and p["title"] == t and p,
            5,
            f"submenu {item['text']}",
        )
        paths += [(menu, item["text"], s["text"]) for s in sub["items"] if s["enabled"]]
        app.key("Escape")  # back to the parent menu
    app.key("Escape")
    wait_until(lambda: not app.query("menus")["popup"], 3, "the menu closed")
    return paths


def test_every_menu_item_opens_without_an_error_dialog(start_app):
    app = start_app()
    opened: list[tuple[str, ...]] = []
    dialogs: list[str] = []
    for key in TABS:
        app.key(key)
        tab = wait_until(lambda: app.state()["tab"], 10, "the tab")
        for menu in ("File", "Edit", "View", "Help"):
            for path in item_paths(app, menu):
                if app.state()["tab"] != tab:
                    app.key(key)
                    wait_until(lambda t=tab: app.state()["tab"] == t, 10, "back to the tab")
                app.menu(*path)
                last = path[-1]
                seen = settle_and_close_dialogs(app, last.endswith(("…", "...")))
                if last in TWICE:
                    app.menu(*path)
                    settle_and_close_dialogs(app, False)
                dialogs += [f"{' > '.join(path)}: {w['title']}" for w in seen]
                opened.append((tab, *path))
                errors = app.state()["errors"]
                assert not errors, f"{' > '.join(path)} in {tab}: {errors}"
    assert len(opened) > 60, opened
    assert "Traceback" not in app.stderr(), app.stderr()
    # The dialogs the "…" items promise did open (and none was an error box).
    assert any("Open graph" in d for d in dialogs), dialogs
