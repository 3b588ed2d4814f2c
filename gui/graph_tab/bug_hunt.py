"""Bug hunt: a teacher plants a wrong local derivative; a student finds the node.

The teacher selects a node and presses **Plant a bug…**: a port, a kind of mistake
(sign flip, missing factor, wrong input, or a typed formula) and the formula it gives.
Planting turns practice mode on; both are one undoable step and saved in the file, the
bug hidden (see :mod:`graph.bugs`). The student steps backward and runs the gradient
check (the planted derivative is used in the backward pass only, so the check
disagrees), then presses **Pick the wrong node** and clicks the node they suspect. The
panel says whether it was right and after how many tries. **Export scores (CSV)…**
writes every bug hunt and practice score of this session.
"""

from __future__ import annotations

import csv
import io
import time
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from graph.bugs import (
    BUG_KEY,
    KIND_LABELS,
    KINDS,
    compile_expr,
    make_bug,
    plantable,
    planted,
    right_formula,
    suggestion,
)
from graph.errors import GraphEditError
from graph.evaluate import forward
from gui import file_dialogs
from gui.files import atomic_write_bytes
from gui.graph_tab import theme
from gui.graph_tab.editor import GraphEditor
from gui.graph_tab.practice import META_KEY, PracticeSession, practice_settings
from gui.graph_tab.scene import GraphScene

CSV_COLUMNS = ("time", "graph", "activity", "result", "tries", "right", "total")


@dataclass(frozen=True)
class ScoreRow:
    """One line of the scores CSV."""

    time: str
    graph: str
    activity: str  # "bug hunt" or "gradients"
    result: str
    tries: int
    right: int
    total: int


def scores_csv(rows: list[ScoreRow]) -> bytes:
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(CSV_COLUMNS)
    for r in rows:
        w.writerow([r.time, r.graph, r.activity, r.result, r.tries, r.right, r.total])
    return out.getvalue().encode("utf-8")


class BugHunt(QObject):
    """The student's side: guesses, tries, found; and the session's score rows."""

    changed = Signal()

    def __init__(
        self,
        editor: GraphEditor,
        scene: GraphScene,
        practice: PracticeSession,
        graph_name,
        reveal,
    ) -> None:
        super().__init__(scene)
        self.graph = editor.graph
        self.editor = editor
        self.scene = scene
        self.practice = practice
        self.graph_name = graph_name
        self.reveal = reveal
        self.tries = 0
        self.found = False
        self.picking = False
        self.rows: list[ScoreRow] = []
        scene.selectionChanged.connect(self._selection_changed)
        scene.bridge.meta_changed.connect(lambda key: key == BUG_KEY and self.restart())
        scene.bridge.graph_cleared.connect(self.restart)

    @property
    def active(self) -> bool:
        """A bug is planted in this graph."""
        return planted(self.graph) is not None

    def restart(self) -> None:
        self.tries = 0
        self.found = False
        self.picking = False
        self.changed.emit()

    def set_picking(self, on: bool) -> None:
        self.picking = on and self.active and not self.found
        self.changed.emit()

    def _selection_changed(self) -> None:
        if not self.picking:
            return
        ids = self.scene.selected_node_ids()
        if len(ids) == 1:
            self.guess(ids[0])

    def guess(self, node_id: str) -> tuple[bool, str]:
        """The student says ``node_id`` has the wrong local derivative."""
        bug = planted(self.graph)
        if bug is None or self.found:
            return False, "There is no bug to find in this graph."
        self.tries += 1
        name = self.graph.node(node_id).name
        if node_id != bug.node:
            self.last = f"Not {name}: its local derivatives are right. Try again."
            self.changed.emit()
            return False, self.last
        self.found = True
        self.picking = False
        self.reveal(bug.node)
        n = self.graph.node(bug.node)
        port = n.port_names[bug.port]
        tries = "1 try" if self.tries == 1 else f"{self.tries} tries"
        self.last = (
            f"Found it in {tries}: ∂{name}/∂{port} was computed as {bug.expr}; "
            f"it should be {right_formula(n, bug.port)}."
        )
        right, total = self.practice.score
        self.rows.append(self._row("bug hunt", f"found {name}", self.tries, right, total))
        self.changed.emit()
        return True, self.last

    last = ""

    def _row(self, activity: str, result: str, tries: int, right: int, total: int) -> ScoreRow:
        return ScoreRow(
            time.strftime("%Y-%m-%d %H:%M:%S"),
            self.graph_name(),
            activity,
            result,
            tries,
            right,
            total,
        )

    def score_rows(self) -> list[ScoreRow]:
        """This session's bug hunts, and the current practice score if anything was
        answered."""
        rows = list(self.rows)
        right, total = self.practice.score
        if total:
            rows.append(self._row("gradients", f"{right} of {total} right", total, right, total))
        return rows

    def export_csv(self, path: Path) -> Path:
        """Write the scores CSV atomically (OSError with the reason on failure)."""
        return atomic_write_bytes(path, scores_csv(self.score_rows()))

    # -- the teacher's side --------------------------------------------------------------
    def plant(self, node_id: str, port: int, kind: str, expr: str) -> str | None:
        """Plant the bug and turn practice on: one undo step. None, or the reason."""
        try:
            bug = make_bug(self.graph, node_id, port, kind, expr)
        except GraphEditError as exc:
            return str(exc)
        stack = self.editor.stack
        settings = practice_settings(self.graph)
        stack.beginMacro("Plant a bug")
        try:
            reason = self.editor.set_meta(BUG_KEY, bug.encode(), "Plant a bug")
            if reason is None and not settings["enabled"]:
                reason = self.editor.set_meta(
                    META_KEY, {**settings, "enabled": True}, "Practice mode on"
                )
        finally:
            stack.endMacro()
        self.restart()
        return reason

    def remove(self) -> str | None:
        if self.graph.get_meta(BUG_KEY) is None:
            return "no bug is planted"
        reason = self.editor.set_meta(BUG_KEY, None, "Remove the planted bug")
        self.restart()
        return reason


class PlantBugDialog(QDialog):
    """Port, kind of mistake and formula for the bug planted in one node."""

    def __init__(self, hunt: BugHunt, node_id: str, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.hunt = hunt
        self.node = hunt.graph.node(node_id)
        self.setWindowTitle(f"Plant a bug in {self.node.name}")
        self.setMinimumWidth(440)
        self.port = QComboBox()
        self.port.setObjectName("bugPort")
        for i in plantable(self.node):
            self.port.addItem(f"∂{self.node.name}/∂{self.node.port_names[i]}", i)
        self.kind = QComboBox()
        self.kind.setObjectName("bugKind")
        for k in KINDS:
            self.kind.addItem(KIND_LABELS[k], k)
        self.formula = QLineEdit()
        self.formula.setObjectName("bugFormula")
        self.formula.setToolTip("Numbers, the port names, out, + - * / ** and exp log sqrt …")
        self.preview = QLabel()
        self.preview.setObjectName("bugPreview")
        self.preview.setWordWrap(True)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel
        )
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("Local derivative", self.port)
        form.addRow("Mistake", self.kind)
        form.addRow("Wrong formula", self.formula)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.preview)
        layout.addWidget(self.buttons)
        self.port.currentIndexChanged.connect(self._suggest)
        self.kind.currentIndexChanged.connect(self._suggest)
        self.formula.textChanged.connect(self._check)
        self._suggest()

    def _suggest(self) -> None:
        port = self.port.currentData()
        if port is None:
            return
        text = suggestion(self.node, port, self.kind.currentData())
        self.formula.setText(text)
        self._check()

    def values(self) -> tuple[int, str, str]:
        return self.port.currentData(), self.kind.currentData(), self.formula.text().strip()

    def _check(self) -> None:
        port, _kind, text = self.values()
        ok = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        if port is None:
            self.preview.setText(f"{self.node.name} ({self.node.op}) has no formula to break.")
            ok.setEnabled(False)
            return
        names = (*self.node.port_names, "out", *self.node.params)
        right = right_formula(self.node, port)
        try:
            wrong_fn = compile_expr(text, names)
        except GraphEditError as exc:
            self.preview.setText(f"<span style='color:#d93025'>{exc}</span>")
            ok.setEnabled(False)
            return
        values = forward(self.hunt.graph)
        env = {
            p: values.get(s) for p, s in zip(self.node.port_names, self.node.inputs, strict=True)
        }
        env["out"] = values.get(self.node.id)
        env.update(self.node.params)
        line = f"Right: {right}. Planted: {text}."
        if all(v is not None for v in env.values()):
            wrong = wrong_fn(env)  # type: ignore[arg-type]
            good = compile_expr(right, names)(env)  # type: ignore[arg-type]
            line += f" At the current inputs: right {theme.fmt(good)}, planted {theme.fmt(wrong)}."
            if wrong == good or (wrong != wrong and good != good):
                line += " <b>Same value at these inputs: the check will not find it.</b>"
        self.preview.setText(line)
        ok.setEnabled(bool(text))


class BugHuntPanel(QWidget):
    """The panel under the side tabs, shown while a bug is planted: the hunt's state for
    the student and the teacher's buttons. Its three actions (plant, remove, export the
    scores) go in the Edit menu, so the teacher can start a hunt with the panel hidden."""

    def __init__(
        self, hunt: BugHunt, settings: QSettings | None = None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("bugHuntPanel")
        self.hunt = hunt
        self._settings = settings if settings is not None else QSettings()
        self.plant_action = QAction("Plant a &bug…", self)
        self.plant_action.setStatusTip("Give the selected node a wrong local derivative")
        self.plant_action.triggered.connect(lambda _=False: self.plant_dialog())
        self.remove_action = QAction("Remove the planted bug", self)
        self.remove_action.triggered.connect(lambda _=False: hunt.remove())
        self.export_action = QAction("Export practice &scores (CSV)…", self)
        self.export_action.triggered.connect(lambda _=False: self.export_dialog())
        self.status = QLabel()
        self.status.setObjectName("bugStatus")
        self.status.setWordWrap(True)
        self.pick_button = QPushButton("Pick the wrong node")
        self.pick_button.setObjectName("bugPick")
        self.pick_button.setCheckable(True)
        self.pick_button.setToolTip("Then click the node whose local derivative is wrong")
        self.pick_button.toggled.connect(hunt.set_picking)
        self.result = QLabel()
        self.result.setObjectName("bugResult")
        self.result.setWordWrap(True)
        self.log = QListWidget()
        self.log.setObjectName("bugLog")
        self.log.setMaximumHeight(90)
        self.export_button = QPushButton("Export scores (CSV)…")
        self.export_button.setObjectName("bugExport")
        self.export_button.clicked.connect(self.export_dialog)
        title = QLabel("<b>Bug hunt</b>")
        teacher = QLabel("<b>Teacher</b>: select a node, then")
        self.plant_button = QPushButton("Plant a bug…")
        self.plant_button.setObjectName("bugPlant")
        self.remove_button = QPushButton("Remove the bug")
        self.remove_button.setObjectName("bugRemove")
        self.remove_button.clicked.connect(hunt.remove)
        self.plant_button.clicked.connect(self.plant_dialog)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(title)
        layout.addWidget(self.status)
        layout.addWidget(self.pick_button)
        layout.addWidget(self.result)
        layout.addWidget(self.log)
        layout.addStretch(1)
        layout.addWidget(self.export_button)
        layout.addSpacing(10)
        layout.addWidget(teacher)
        layout.addWidget(self.plant_button)
        layout.addWidget(self.remove_button)
        hunt.changed.connect(self.refresh)
        self.refresh()

    def refresh(self) -> None:
        h = self.hunt
        if not h.active:
            self.status.setText(
                "No bug is planted. A teacher can plant one: select a node and press "
                "<b>Plant a bug…</b>, then save the file for the students."
            )
        elif h.found:
            self.status.setText("<b>Found.</b> Remove the bug or open another file.")
        else:
            self.status.setText(
                f"One node's local derivative is wrong (tries: {h.tries}). Run the "
                "gradient check, press <b>Pick the wrong node</b>, click the suspect."
            )
        self.pick_button.setEnabled(h.active and not h.found)
        self.pick_button.blockSignals(True)
        self.pick_button.setChecked(h.picking)
        self.pick_button.blockSignals(False)
        self.result.setText(h.last)
        has_bug = h.graph.get_meta(BUG_KEY) is not None
        self.remove_button.setEnabled(has_bug)
        self.remove_action.setEnabled(has_bug)
        self.setVisible(h.active or bool(h.rows))
        self.log.clear()
        self.log.setVisible(bool(h.rows))
        for row in h.rows:
            self.log.addItem(f"{row.time[11:]}  {row.graph}: {row.result} ({row.tries} tries)")

    def plant_dialog(self) -> PlantBugDialog | None:
        """Plant a bug in the selected node (asks for port, kind and formula)."""
        ids = self.hunt.scene.selected_node_ids()
        if len(ids) != 1 or not plantable(self.hunt.graph.node(ids[0])):
            self.setVisible(True)  # the menu action may come while the panel is hidden
            self.result.setText(
                "Select one node with a formula to break (an op such as ×, ÷, exp, σ)."
            )
            return None
        dialog = PlantBugDialog(self.hunt, ids[0], self)
        dialog.accepted.connect(lambda: self._planted(dialog, ids[0]))
        dialog.open()
        return dialog

    def _planted(self, dialog: PlantBugDialog, node_id: str) -> None:
        port, kind, text = dialog.values()
        reason = self.hunt.plant(node_id, port, kind, text)
        self.result.setText(
            f"Refused: {reason}"
            if reason
            else "Planted and hidden; practice mode is on. Save the file for the students."
        )

    def export_dialog(self) -> Path | None:
        name = file_dialogs.save_file(
            self, self._settings, "scores", "Export practice scores", "scores.csv", "CSV (*.csv)"
        )
        if name is None:
            return None
        try:
            return self.hunt.export_csv(Path(name))
        except OSError as exc:
            self.result.setText(f"Cannot write {Path(name).name}: {exc.strerror or exc}")
            return None
