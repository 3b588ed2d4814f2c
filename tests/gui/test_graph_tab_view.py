"""Graph tab, canvas: zoom, pan, fit, the right-click and Tab menus, rubber-band selection."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QContextMenuEvent, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.gui import test_graph_tab_support as support
from tests.gui.test_graph_tab_support import drag, drop_op, grid, key, view_point

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab


def _center(tab) -> QPointF:
    return tab.view.mapToScene(tab.view.viewport().rect().center())


def test_ctrl_wheel_zooms_at_the_cursor_and_f_fits(tab):
    view = tab.view
    drop_op(tab, "input", grid(0, 0))
    drop_op(tab, "exp", grid(4, 2))
    viewport = view.viewport()
    at = QPointF(200, 150)
    before = view.mapToScene(at.toPoint())
    wheel = QWheelEvent(
        at,
        QPointF(viewport.mapToGlobal(at.toPoint())),
        QPoint(0, 0),
        QPoint(0, 240),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.ControlModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(viewport, wheel)
    assert view.zoom() > 1.2
    after = view.mapToScene(at.toPoint())
    assert abs(after.x() - before.x()) < 2 and abs(after.y() - before.y()) < 2

    key(tab, Qt.Key.Key_F)
    visible = view.mapToScene(viewport.rect()).boundingRect()
    assert visible.contains(tab.scene.items_rect())


def test_middle_drag_and_space_drag_pan(tab):
    view = tab.view
    viewport = view.viewport()
    start = _center(tab)
    a, b = QPoint(300, 300), QPoint(200, 250)
    QTest.mousePress(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, a)
    support._move(viewport, b, Qt.MouseButton.MiddleButton)
    QTest.mouseRelease(viewport, Qt.MouseButton.MiddleButton, Qt.KeyboardModifier.NoModifier, b)
    moved = _center(tab) - start
    assert round(moved.x()) == 100 and round(moved.y()) == 50  # the canvas follows the hand

    start = _center(tab)
    QTest.keyPress(view, Qt.Key.Key_Space)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, a)
    support._move(viewport, b)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, b)
    QTest.keyRelease(view, Qt.Key.Key_Space)
    moved = _center(tab) - start
    assert round(moved.x()) == 100 and round(moved.y()) == 50
    assert len(tab.graph) == 0  # panning added or moved nothing


def test_right_click_opens_the_add_menu_there_and_escape_closes_it(tab):
    view = tab.view
    viewport = view.viewport()
    scene_pos = QPointF(460, 80)
    pos = view_point(tab, scene_pos)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos))
    QApplication.sendEvent(viewport, event)
    popup = tab.add_popup
    assert popup.isVisible()
    QTest.keyClicks(popup.search, "sigm")
    assert popup.visible_ops() == ["sigmoid"]
    QTest.keyClick(popup.search, Qt.Key.Key_Escape)
    assert not popup.isVisible() and len(tab.graph) == 0

    QApplication.sendEvent(
        viewport, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, viewport.mapToGlobal(pos))
    )
    QTest.keyClicks(popup.search, "tanh")
    QTest.keyClick(popup.search, Qt.Key.Key_Return)
    (node,) = tab.graph.nodes()
    assert node.op == "tanh"
    item = tab.scene.nodes[node.id]
    center = item.mapToScene(item.body_rect().center())
    assert abs(center.x() - scene_pos.x()) <= 10 and abs(center.y() - scene_pos.y()) <= 15


def test_right_click_on_a_node_offers_its_actions(tab):
    name = drop_op(tab, "input", grid(0, 0))
    item = tab.scene.nodes[tab.graph.id_of(name)]
    menu = tab.open_node_menu(item.node_id, QPoint(0, 0))
    texts = [a.text() for a in menu.actions() if a.text()]
    assert "Rename…" in texts and "Edit value…" in texts and "Set as output" in texts
    menu.close()


def test_rubber_band_selects_and_drag_moves_the_selection(tab):
    a = drop_op(tab, "input", grid(0, 0))
    b = drop_op(tab, "input", grid(0, 1))
    c = drop_op(tab, "exp", grid(3, 0))
    drag(tab, grid(0, 0) + QPointF(-120, -90), grid(0, 1) + QPointF(120, 70))
    assert set(tab.graph.node(i).name for i in tab.scene.selected_node_ids()) == {a, b}
    before = {n: tab.graph.node(tab.graph.id_of(n)).pos for n in (a, b, c)}
    drag(tab, grid(0, 0), grid(0, 0) + QPointF(50, 20))
    after = {n: tab.graph.node(tab.graph.id_of(n)).pos for n in (a, b, c)}
    for n in (a, b):
        assert (after[n][0] - before[n][0], after[n][1] - before[n][1]) == (50.0, 20.0)
    assert after[c] == before[c]
    assert tab.stack.undoText() == "Move 2 node(s)"
    tab.undo_action.trigger()
    assert {n: tab.graph.node(tab.graph.id_of(n)).pos for n in (a, b, c)} == before
