"""Fixtures and user-level helpers for the Graph tab tests (no tests here).

The helpers act like a user: they drop ops from the palette onto the canvas, type in the
add-node popup, drag between ports and double-click names and values, all through Qt
events on the view's viewport; none of them calls the model.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from gui.graph_tab import autosave
from gui.graph_tab.tab import GraphTab
from gui.main_window import MainWindow

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


@pytest.fixture
def state_dir(tmp_path, monkeypatch) -> Path:
    """A private autosave folder for this test."""
    folder = tmp_path / "state"
    monkeypatch.setattr(autosave, "state_dir", lambda: folder)
    return folder


@pytest.fixture
def errors(monkeypatch) -> list[tuple[str, str]]:
    """Error boxes the tab shows, as (title, message); no real box opens."""
    shown: list[tuple[str, str]] = []

    def fake(parent, title, message, detail=""):
        shown.append((title, message))

    monkeypatch.setattr("gui.dialogs.show_error", fake)
    return shown


@pytest.fixture
def window(qtbot, state_dir, errors):
    win = MainWindow(remember=False)
    # Not qtbot.addWidget: its teardown closes the window before this fixture can clear
    # the unsaved state, and the unsaved-changes question would wait for an answer.
    win.show()
    qtbot.waitExposed(win)
    yield win
    # Nothing must stay unsaved-looking between tests: close without prompting.
    tab = win.current_tab()
    if isinstance(tab, GraphTab):
        tab.document._modified_extra = False
        tab.stack.setClean()
    win.close()
    win.shutdown()
    win.deleteLater()


@pytest.fixture
def tab(window) -> GraphTab:
    graph_tab = window.select_tab("graph")
    assert isinstance(graph_tab, GraphTab)
    graph_tab.view.setFocus()
    QApplication.processEvents()
    return graph_tab


# -- canvas geometry ----------------------------------------------------------------------
def view_point(tab: GraphTab, scene_pos: QPointF) -> QPoint:
    return tab.view.mapFromScene(scene_pos)


def port_pos(tab: GraphTab, name: str, port: int | str = -1) -> QPointF:
    """Scene position of a node's port (-1: its output; a port name or index: an input)."""
    node_id = tab.graph.id_of(name)
    item = tab.scene.nodes[node_id]
    if isinstance(port, str):
        port = tab.graph.node(node_id).port_names.index(port)
    return item.port_scene_pos(port)


def node_center(tab: GraphTab, name: str) -> QPointF:
    item = tab.scene.nodes[tab.graph.id_of(name)]
    return item.mapToScene(item.body_rect().center())


# -- mouse -------------------------------------------------------------------------------
def _move(viewport, pos: QPoint, buttons=LEFT) -> None:
    global_pos = QPointF(viewport.mapToGlobal(pos))
    event = QMouseEvent(
        QEvent.Type.MouseMove, QPointF(pos), global_pos, Qt.MouseButton.NoButton, buttons, NO_MOD
    )
    QApplication.sendEvent(viewport, event)


def drag(tab: GraphTab, start: QPointF, end: QPointF, steps: int = 6) -> None:
    """Press at ``start``, move in steps, release at ``end`` (scene coordinates)."""
    viewport = tab.view.viewport()
    a, b = view_point(tab, start), view_point(tab, end)
    QTest.mousePress(viewport, LEFT, NO_MOD, a)
    for i in range(1, steps + 1):
        p = QPoint(a.x() + (b.x() - a.x()) * i // steps, a.y() + (b.y() - a.y()) * i // steps)
        _move(viewport, p)
    QTest.mouseRelease(viewport, LEFT, NO_MOD, b)


def connect(tab: GraphTab, src: str, dst: str, port: int | str) -> None:
    """Drag from ``src``'s output port to ``dst``'s input ``port``."""
    drag(tab, port_pos(tab, src), port_pos(tab, dst, port))


def double_click(tab: GraphTab, scene_pos: QPointF) -> None:
    QTest.mouseDClick(tab.view.viewport(), LEFT, NO_MOD, view_point(tab, scene_pos))


def type_into_inline(tab: GraphTab, text: str) -> None:
    editor = tab.inline
    assert editor.isVisible(), "the inline editor did not open"
    editor.selectAll()
    QTest.keyClicks(editor, text)
    QTest.keyClick(editor, Qt.Key.Key_Return)


def rename(tab: GraphTab, old: str, new: str) -> None:
    item = tab.scene.nodes[tab.graph.id_of(old)]
    double_click(tab, item.mapToScene(item.name_rect().center()))
    type_into_inline(tab, new)


def set_value_by_double_click(tab: GraphTab, name: str, text: str) -> None:
    item = tab.scene.nodes[tab.graph.id_of(name)]
    double_click(tab, item.mapToScene(item.value_rect().center()))
    type_into_inline(tab, text)


# -- adding nodes ------------------------------------------------------------------------
def drop_op(tab: GraphTab, op: str, scene_pos: QPointF) -> str:
    """Drag an op from the palette and drop it at ``scene_pos``; the new node's name."""
    from PySide6.QtGui import QDragEnterEvent, QDragMoveEvent, QDropEvent

    palette = tab.palette
    item = palette.op_item(op)
    assert item is not None, op
    mime = palette.mimeData([item])
    viewport = tab.view.viewport()
    pos = view_point(tab, scene_pos)
    before = set(tab.graph.node_ids())
    action = Qt.DropAction.CopyAction
    enter = QDragEnterEvent(pos, action, mime, LEFT, NO_MOD)
    QApplication.sendEvent(viewport, enter)
    assert enter.isAccepted()
    QApplication.sendEvent(viewport, QDragMoveEvent(pos, action, mime, LEFT, NO_MOD))
    QApplication.sendEvent(viewport, QDropEvent(QPointF(pos), action, mime, LEFT, NO_MOD))
    (new,) = set(tab.graph.node_ids()) - before
    return tab.graph.node(new).name


def add_by_search(tab: GraphTab, query: str) -> str:
    """Press Tab on the canvas, type ``query`` in the popup, press Enter."""
    before = set(tab.graph.node_ids())
    tab.view.setFocus()
    QTest.keyClick(tab.view, Qt.Key.Key_Tab)
    popup = tab.add_popup
    assert popup.isVisible(), "Tab did not open the add-node popup"
    QTest.keyClicks(popup.search, query)
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    (new,) = set(tab.graph.node_ids()) - before
    return tab.graph.node(new).name


def key(tab: GraphTab, k: Qt.Key, modifier=NO_MOD) -> None:
    tab.view.setFocus()
    QTest.keyClick(tab.view, k, modifier)


def grid(col: int, row: int) -> QPointF:
    """Where the tests drop nodes: columns 230 apart, rows 120 apart."""
    return QPointF(col * 230.0, row * 120.0)


def build_f3_by_hand(tab: GraphTab) -> None:
    """The seed's f3 built like a user would: palette drops, the Tab popup, renames by
    double-click, values by double-click and in the inputs table, port drags."""
    for name, row, value in (("s1", 0, "1"), ("s2", 1, "2"), ("y", -1, "1")):
        created = drop_op(tab, "input", grid(0, row))
        rename(tab, created, name)
        set_value_by_double_click(tab, name, value)
    for name, op, col, row in (
        ("e1", "exp", 1, 0),
        ("e2", "exp", 1, 1),
        ("d", "add", 2, 1),
        ("p1", "div", 3, 0),
        ("p2", "div", 3, 1),
        ("p", "choose", 4, 0),
        ("log_p", "log", 5, 0),
        ("L", "neg", 6, 0),
    ):
        if op == "exp":
            created = add_by_search(tab, "exp")
            # The popup put it at the cursor: drag it to its place.
            drag(tab, node_center(tab, created), grid(col, row) + QPointF(66, 40))
        else:
            created = drop_op(tab, op, grid(col, row))
        rename(tab, created, name)
    for src, dst, port in (
        ("s1", "e1", "x"),
        ("s2", "e2", "x"),
        ("e1", "d", "a"),
        ("e2", "d", "b"),
        ("e1", "p1", "a"),
        ("d", "p1", "b"),
        ("e2", "p2", "a"),
        ("d", "p2", "b"),
        ("y", "p", "sel"),
        ("p1", "p", "x1"),
        ("p2", "p", "x2"),
        ("p", "log_p", "x"),
        ("log_p", "L", "x"),
    ):
        connect(tab, src, dst, port)


def same_structure(a, b) -> bool:
    """Same nodes by name (op, params, leaf value) and the same edges by name."""

    def describe(g):
        nodes = {
            n.name: (
                n.op,
                dict(n.params),
                n.leaf_value,
                tuple(g.node(s).name if s else None for s in n.inputs),
            )
            for n in g.nodes()
        }
        out = g.node(g.output_id).name if g.output_id else None
        return nodes, out

    return describe(a) == describe(b)


def answer_questions(monkeypatch, answer: QMessageBox.StandardButton) -> list[str]:
    """Make ``gui.dialogs.ask`` answer ``answer``; returns the list of questions asked."""
    asked: list[str] = []

    def fake(parent, title, text, buttons=None, default=None):
        asked.append(text)
        return answer

    monkeypatch.setattr("gui.dialogs.ask", fake)
    return asked
