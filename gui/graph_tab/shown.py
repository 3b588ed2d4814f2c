"""What the Graph tab shows, as plain data: the numbers on each node, the Inputs table,
the step panel and the practice panel, with screen rectangles a test can click on.

Used by the real-window tests' hook (``gui.test_hook``) through ``GraphTab.test_state``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF, Qt

if TYPE_CHECKING:
    from gui.graph_tab.tab import GraphTab


def _global_rect(tab: GraphTab, scene_rect: QRectF) -> list[int]:
    view = tab.view
    poly = view.mapFromScene(scene_rect)
    r = poly.boundingRect()
    top_left = view.viewport().mapToGlobal(r.topLeft())
    return [top_left.x(), top_left.y(), r.width(), r.height()]


def _global_point(tab: GraphTab, scene_point: QPointF) -> list[int]:
    view = tab.view
    p = view.viewport().mapToGlobal(view.mapFromScene(scene_point))
    return [p.x(), p.y()]


def graph_tab_state(tab: GraphTab) -> dict[str, Any]:
    scene = tab.scene
    nodes = {}
    for node_id, item in scene.nodes.items():
        node = tab.graph.node(node_id)
        nodes[node.name] = {
            "op": node.op,
            "value": item.display.value,
            "grad": item.display.grad,
            "stale": item.display.stale,
            "tooltip": item.toolTip(),
            "fanout": scene.fanouts[node_id].text if node_id in scene.fanouts else "",
            "rect": _global_rect(tab, item.mapRectToScene(item.body_rect())),
            "value_rect": _global_rect(tab, item.mapRectToScene(item.value_rect())),
            "out_port": _global_point(tab, item.out_port.scenePos()),
            "in_ports": [_global_point(tab, p.scenePos()) for p in item.in_ports],
        }
    edges = [
        {
            "src": tab.graph.node(e.src).name,
            "dst": tab.graph.node(e.dst).name,
            "label": item.label,
            "tooltip": item.toolTip(),
        }
        for e, item in scene.edges.items()
    ]
    palette = {}
    for i in range(tab.palette.topLevelItemCount()):
        group = tab.palette.topLevelItem(i)
        for j in range(group.childCount()):
            child = group.child(j)
            r = tab.palette.visualItemRect(child)
            top_left = tab.palette.viewport().mapToGlobal(r.topLeft())
            palette[child.data(0, Qt.ItemDataRole.UserRole)] = [
                top_left.x(),
                top_left.y(),
                r.width(),
                r.height(),
            ]
    practice = tab.practice_panel
    return {
        "nodes": nodes,
        "edges": edges,
        "inputs": [list(row) for row in tab.inputs_panel.rows()],
        "step_info": tab.step_info.text(),
        "phase": tab.graph.evaluation.phase,
        "output": tab.graph.node(tab.graph.output_id).name if tab.graph.output_id else None,
        "palette": palette,
        "practice": {
            "question": practice.question.text(),
            "feedback": practice.feedback.text(),
            "score": practice.score.text(),
        },
        "add_popup": {
            "visible": tab.add_popup.isVisible(),
            "rect": [
                tab.add_popup.x(),
                tab.add_popup.y(),
                tab.add_popup.width(),
                tab.add_popup.height(),
            ],
        },
    }
