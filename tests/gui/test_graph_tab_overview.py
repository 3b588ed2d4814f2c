"""Graph tab, canvas far out and mid pan: the overview draws the nodes' boxes and the edges'
curves in a few painter calls, looks as the items would drawing themselves, and leaves
the items clickable; exports are drawn in full whatever the canvas shows."""

from __future__ import annotations

import numpy as np
from PySide6.QtCore import QPointF
from PySide6.QtGui import QImage
from PySide6.QtWidgets import QApplication, QGraphicsItem

from graph.model import Graph
from gui.graph_tab import export
from gui.graph_tab.node_items import NODE_DETAIL_ZOOM
from tests.gui import test_graph_tab_support as support
from tests.gui.test_graph_tab_support import drag

state_dir, errors, window, tab = support.state_dir, support.errors, support.window, support.tab

NO_CONTENTS = QGraphicsItem.GraphicsItemFlag.ItemHasNoContents


def _show_grid_graph(tab, columns: int = 6, rows: int = 5) -> None:
    """``columns`` x ``rows`` nodes: a column of inputs, then ops fed by the column
    before (two edges each, some crossing), summed into one output; evaluated."""
    g = Graph()
    previous = [g.add_node("input", f"x{r}", 0.1 * (r + 1)) for r in range(rows)]
    positions = {nid: (0.0, 150.0 * r) for r, nid in enumerate(previous)}
    for c in range(1, columns):
        column = []
        for r in range(rows):
            op = ("mul", "add", "sub")[(r + c) % 3]
            nid = g.add_node(op, f"n{c}_{r}")
            g.connect(previous[r], nid, 0)
            g.connect(previous[(r + 2) % rows], nid, 1)
            positions[nid] = (220.0 * c, 150.0 * r)
            column.append(nid)
        previous = column
    acc = previous[0]
    for r, nid in enumerate(previous[1:], start=1):
        s = g.add_node("add", f"s{r}")
        g.connect(acc, s, 0)
        g.connect(nid, s, 1)
        positions[s] = (220.0 * (columns + r), 150.0 * r)
        acc = s
    g.move_many(positions)
    assert tab.show_graph(g, "a grid")
    tab.steps.run_all()
    QApplication.processEvents()


def _zoom_to(tab, zoom: float) -> None:
    view = tab.view
    view.zoom_by(zoom / view.zoom())
    view.centerOn(tab.scene.items_rect().center())
    view.settle()
    QApplication.processEvents()


def _picture(tab) -> np.ndarray:
    image = tab.view.viewport().grab().toImage().convertToFormat(QImage.Format.Format_RGB32)
    pixels = np.frombuffer(image.constBits(), np.uint8, image.sizeInBytes())
    return pixels.reshape(image.height(), image.bytesPerLine())[:, : 4 * image.width()].copy()


def _picture_items_drawing_themselves(tab) -> np.ndarray:
    """The same view with the overview off: every item paints itself, as before it."""
    scene = tab.scene
    layers = [layer for layer in (scene.node_layer, scene.edge_layer) if layer.isVisible()]
    items = [*scene.nodes.values(), *scene.edges.values()]
    flagged = [item for item in items if item.flags() & NO_CONTENTS]
    for layer in layers:
        layer.setVisible(False)
    for item in flagged:
        item.setFlag(NO_CONTENTS, False)
    try:
        return _picture(tab)
    finally:
        for item in flagged:
            item.setFlag(NO_CONTENTS, True)
        for layer in layers:
            layer.setVisible(True)


def _assert_same_look(a: np.ndarray, b: np.ndarray) -> None:
    # Where antialiased edges of neighbouring boxes meet, the order of drawing may move a
    # pixel's shade by a few levels; nothing may look different.
    diff = np.abs(a.astype(int) - b.astype(int))
    assert diff.max() <= 8, f"{int((diff > 8).sum())} channel values differ by more than 8"
    assert (diff > 2).mean() < 0.001


def test_far_out_the_overview_draws_what_the_items_would(tab):
    _show_grid_graph(tab)
    scene = tab.scene
    node = next(iter(scene.nodes.values()))
    node.setSelected(True)  # a marked box: another border, drawn on its own
    _zoom_to(tab, 0.15)
    assert tab.view.zoom() < NODE_DETAIL_ZOOM
    assert scene.node_layer.isVisible() and scene.edge_layer.isVisible()
    assert all(item.flags() & NO_CONTENTS for item in scene.nodes.values())
    assert all(item.flags() & NO_CONTENTS for item in scene.edges.values())
    drawn = _picture(tab)
    assert len(np.unique(drawn.reshape(-1, 4), axis=0)) > 4, "nothing drawn"
    _assert_same_look(drawn, _picture_items_drawing_themselves(tab))

    # Back at 100 % the items draw themselves again, with their text and ports.
    _zoom_to(tab, 1.0)
    assert not scene.node_layer.isVisible() and not scene.edge_layer.isVisible()
    assert not any(item.flags() & NO_CONTENTS for item in scene.nodes.values())
    assert not any(item.flags() & NO_CONTENTS for item in scene.edges.values())
    assert node.out_port.isVisible()


def test_mid_pan_the_overview_draws_the_thin_edges_and_hands_back_after(tab):
    _show_grid_graph(tab)
    scene, view = tab.scene, tab.view
    _zoom_to(tab, 1.0)
    edge = next(iter(scene.edges.values()))
    edge.set_highlight(True)  # drawn in its own colour, over the plain ones
    view.pan_by(30, 10)
    assert scene.fast_edges and scene.edge_layer.isVisible()
    assert not scene.node_layer.isVisible()  # nodes keep their cached pictures
    assert all(item.flags() & NO_CONTENTS for item in scene.edges.values())
    _assert_same_look(_picture(tab), _picture_items_drawing_themselves(tab))

    view.settle()
    assert not scene.fast_edges and not scene.edge_layer.isVisible()
    assert not any(item.flags() & NO_CONTENTS for item in scene.edges.values())


def test_far_out_nodes_are_still_clicked_and_rubber_banded(tab):
    _show_grid_graph(tab)
    scene = tab.scene
    _zoom_to(tab, 0.15)
    node = scene.nodes[tab.graph.id_of("n2_1")]
    centre = node.mapToScene(node.body_rect().center())
    assert scene.node_at(centre) is node
    drag(tab, centre, centre)  # a click
    assert scene.selected_node_ids() == [node.node_id]
    # Its marked box is drawn as the item would draw it.
    _assert_same_look(_picture(tab), _picture_items_drawing_themselves(tab))

    first = scene.nodes[tab.graph.id_of("x0")].sceneBoundingRect()
    # From empty canvas: the overview covers it but never takes the press.
    drag(tab, first.topLeft() - QPointF(60, 60), first.bottomRight() + QPointF(5, 5))
    assert scene.selected_node_ids() == [tab.graph.id_of("x0")]


def test_exports_are_drawn_in_full_whatever_the_canvas_shows(tab):
    _show_grid_graph(tab)
    _zoom_to(tab, 1.0)
    full = QImage.fromData(export.png_bytes(tab.scene))
    _zoom_to(tab, 0.15)
    assert QImage.fromData(export.png_bytes(tab.scene)) == full
    assert tab.scene.node_layer.isVisible()  # and the canvas is as it was
    tab.view.pan_by(20, 0)
    assert QImage.fromData(export.png_bytes(tab.scene)) == full
    assert tab.scene.fast_edges
