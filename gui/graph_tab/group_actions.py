"""Group as function, Ungroup, and stepping over a closed group.

Grouping and ungrouping edit ``meta["groups"]`` through the editor (one undoable
command each; see :mod:`graph.groups`). A step that enters a closed group continues
through it: a forward step computes all of the group's nodes, a backward step sends the
gradient through all of them, and the status says what the group did as a whole, e.g.
``backward: ƒ sigmoid: dp/dz = σ(1 − σ) = 0.1966; dL/dz += -0.5 × 0.1966 = -0.09831``.
"""

from __future__ import annotations

from PySide6.QtCore import QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QInputDialog, QWidget

from graph.errors import GraphEditError
from graph.evaluate import BackwardRecord, ForwardRecord
from graph.groups import GROUPS_KEY, Groups, group_nodes, jacobian, known_formula, ungroup
from gui.graph_tab import theme
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.groups_view import GroupItem, GroupLayer
from gui.graph_tab.stepping import StepController


class GroupActions(QObject):
    """The two actions and the step-over hook (installed on the step controller)."""

    def __init__(
        self,
        layer: GroupLayer,
        editor: GraphEditor,
        steps: StepController,
        say,
        parent: QWidget,
    ) -> None:
        super().__init__(parent)
        self.layer = layer
        self.graph = layer.graph
        self.editor = editor
        self.steps = steps
        self.say = say
        self.window = parent
        self.group_action = QAction("&Group as function…", parent)
        self.group_action.setShortcut(QKeySequence("Ctrl+G"))
        self.group_action.setStatusTip("Make the selected nodes one named function node")
        self.group_action.triggered.connect(lambda _=False: self.group_dialog())
        self.ungroup_action = QAction("U&ngroup", parent)
        self.ungroup_action.setShortcut(QKeySequence("Ctrl+Shift+G"))
        self.ungroup_action.setStatusTip("Dissolve the selected group back into its nodes")
        self.ungroup_action.triggered.connect(lambda _=False: self.ungroup_selection())
        steps.step_over = self.step_over
        practice = steps.practice
        if practice is not None:
            # A practice question about a node inside a closed group opens the group.
            practice.changed.connect(
                lambda: practice.pending is not None and layer.reveal(practice.pending.node_id)
            )

    # -- grouping ----------------------------------------------------------------------
    def group_dialog(self) -> str | None:
        ids = self.layer.scene.selected_node_ids()
        if not ids:
            self.say("Select the nodes to group first (drag a box around them).", 6000)
            return None
        name, ok = QInputDialog.getText(
            self.window, "Group as function", "Function name (e.g. sigmoid, softmax2):", text="f"
        )
        if not ok:
            return None
        return self.group(ids, name.strip())

    def group(self, node_ids: list[str], name: str) -> str | None:
        """Group the nodes as ``name`` (one undo step); the new group's id, or None."""
        try:
            groups, gid = group_nodes(self.graph, node_ids, name)
        except GraphEditError as exc:
            self.say(f"Refused: {exc}", 8000)
            return None
        if self.editor.set_meta(GROUPS_KEY, groups, f"Group as {name}") is not None:
            return None
        self.layer.rebuild()
        self.say(f"Grouped {len(node_ids)} nodes as {name}. Double-click it to look inside.")
        return gid

    def selected_group(self) -> str | None:
        scene = self.layer.scene
        for item in scene.selectedItems():
            if isinstance(item, GroupItem):
                return item.gid
        for nid in scene.selected_node_ids():
            chain = Groups(self.graph).chain(nid)
            if chain:
                return chain[0]
        return None

    def ungroup_selection(self) -> bool:
        gid = self.selected_group()
        if gid is None:
            self.say("Select a group (or a node inside one) to ungroup it.", 6000)
            return False
        name = Groups(self.graph)[gid].name
        self.layer.open.discard(gid)
        if self.editor.set_meta(GROUPS_KEY, ungroup(self.graph, gid), f"Ungroup {name}"):
            return False
        self.layer.rebuild()
        self.say(f"Ungrouped {name}.")
        return True

    # -- stepping over a closed group --------------------------------------------------
    def step_over(self, record: ForwardRecord | BackwardRecord) -> str | None:
        gid = self.layer.hider(record.node)
        if gid is None:
            return None
        stepper = self.steps.stepper
        groups = Groups(self.graph)
        members = groups.all_nodes(gid)
        name = groups[gid].name
        forward = isinstance(record, ForwardRecord)
        order = stepper.forward_order if forward else stepper.backward_order
        steps = 1
        while True:
            done = stepper.position[0]
            if not any(n in members for n in order[done:]):
                break
            nxt = stepper.step_forward() if forward else stepper.step_backward()
            if nxt is None:
                break
            steps += 1
        ports, jac = jacobian(self.graph, gid, stepper.values)
        g = self.graph
        if forward:
            outs = ", ".join(
                f"{g.node(o).name} = {theme.fmt(stepper.values.get(o))}" for o in ports.outputs
            )
            return f"forward: ƒ {name}: {outs} ({steps} steps through the group)"
        parts = []
        for k, o in enumerate(ports.outputs):
            up = stepper.grads.get(o)
            if up is None:
                continue
            on, y = g.node(o).name, stepper.values.get(o)
            for j, i in enumerate(ports.inputs):
                if i not in stepper.grads or stepper.grads.get(i) is None:
                    continue
                local = jac[k][j]
                x = stepper.values.get(i)
                formula = None
                if len(ports.inputs) == 1 and len(ports.outputs) == 1 and x is not None:
                    formula = known_formula(name, x, y or 0.0, local)
                iname = g.node(i).name
                text = f"d{on}/d{iname} = " + (f"{formula} = " if formula else "")
                text += f"{theme.fmt(local)}; dL/d{iname} += {theme.fmt(up)} × "
                text += f"{theme.fmt(local)} = {theme.fmt(up * local)}"
                parts.append(text)
        body = "; ".join(parts) if parts else "no gradient flows through it"
        return f"backward: ƒ {name}: {body} ({steps} steps through the group)"
