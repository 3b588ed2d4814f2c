"""Stepping through forward and backward: the actions, their toolbar, and the status
text ("backward 3/9: p1 = e1 / d"). The engine's Stepper does the work and publishes
each state to the graph; the scene paints it from the bridge's signal."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

from graph.evaluate import Stepper
from graph.records import BackwardRecord, ForwardRecord, format_value
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.practice import PracticeSession


def step_action(
    parent: QObject, text: str, short: str, keys: list[str], tip: str, slot: Callable[[], object]
) -> QAction:
    """One stepping action as the Graph tab makes it: ``short`` on its toolbar button,
    the keys in its tooltip (the network graph view steps with the same keys)."""
    action = QAction(text, parent)
    action.setIconText(short)  # what the toolbar button shows
    action.setShortcuts([QKeySequence(k) for k in keys])
    native = QKeySequence.SequenceFormat.NativeText
    shown = " or ".join(QKeySequence(k).toString(native) for k in keys)
    action.setToolTip(f"{tip} ({shown})")
    action.setStatusTip(tip)
    action.triggered.connect(lambda _checked=False: slot())
    return action


class StepController(QObject):
    """Owns the Stepper and the five step actions."""

    status = Signal(str, int)

    def __init__(
        self,
        bridge: GraphBridge,
        practice: PracticeSession | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.graph = bridge.graph
        self.stepper = Stepper(self.graph)
        self.practice = practice
        self.last_record: ForwardRecord | BackwardRecord | None = None
        #: step_over(record) -> status text when the step entered a closed group and was
        #: continued through it (see gui.graph_tab.group_actions), else None
        self.step_over: Callable[[ForwardRecord | BackwardRecord], str | None] | None = None

        def make(text: str, short: str, keys: list[str], tip: str, slot) -> QAction:
            return step_action(self, text, short, keys, tip, slot)

        self.forward_action = make(
            "Step forward", "Step →", ["Right"], "Compute the next node's value", self.step_forward
        )
        self.backward_action = make(
            "Step backward",
            "← Step backward",
            ["Left"],
            "Send the gradient back through the next node",
            self.step_backward,
        )
        self.back_action = make(
            "Step back", "↶ Undo step", ["Backspace"], "Undo the last step", self.step_back
        )
        self.run_action = make(
            "Run all", "» Run all", ["F5"], "Finish forward and backward", self.run_all
        )
        self.reset_action = make(
            "Reset", "⟲ Reset", ["Shift+F5"], "Forget every computed value", self.reset
        )
        bridge.evaluation_changed.connect(self._on_evaluation)
        bridge.edited.connect(self.update_actions)
        self.update_actions()

    @property
    def actions(self) -> list[QAction]:
        return [
            self.forward_action,
            self.backward_action,
            self.back_action,
            self.run_action,
            self.reset_action,
        ]

    def bind_shortcuts_to(self, widget: QWidget) -> None:
        """The step keys act wherever the focus is inside ``widget`` (the whole Graph
        tab: canvas, tables, panels). Text fields keep ← and → for their cursor: Qt
        lets a focused line edit claim those keys before any shortcut."""
        for action in self.actions:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            widget.addAction(action)

    # -- actions -----------------------------------------------------------------------
    def step_forward(self) -> ForwardRecord | None:
        if not len(self.graph):
            self._say("The graph is empty: add nodes from the palette (or press Tab).")
            return None
        record = self.stepper.step_forward()
        if record is None:
            if self.stepper.can_step_backward or self.stepper.phase in ("backward", "done"):
                self._say("The forward pass is complete: step backward (←).")
            else:
                self._say(self._backward_blocker() or "Nothing to compute.")
        else:
            self._report_or_step_over(record)
        return record

    def step_backward(self) -> BackwardRecord | None:
        p = self.practice
        if p is not None and p.enabled:
            if p.pending is not None:
                self._say(f"Practice: type {p.d(p.pending.name)} first (Practice panel).")
                return None
        if not len(self.graph):
            self._say("The graph is empty.")
            return None
        record = self.stepper.step_backward()
        if record is None:
            if p is not None and p.enabled and self.stepper.phase == "done":
                if not p.next_input_question():
                    right, total = p.score
                    self._say(f"Practice finished: {right} / {total} right.")
                return None
            self._say(self._backward_blocker() or "The backward pass is complete.")
            return None
        if p is not None and p.enabled:
            self._report(record)
            p.ask_step(record)
        else:
            self._report_or_step_over(record)
        return record

    def step_back(self) -> object:
        p = self.practice
        if p is not None and p.enabled and self.stepper.phase in ("backward", "done"):
            self._say("Practice: backward steps cannot be taken back; Reset starts over.")
            return None
        record = self.stepper.step_back()
        if record is None:
            self._say("Nothing to take back.")
        else:
            self._say(f"Took back: {record.describe()}")
        return record

    def run_all(self) -> None:
        if not len(self.graph):
            self._say("The graph is empty.")
            return
        p = self.practice
        if p is not None and p.enabled:
            while self.stepper.can_step_forward and not self.stepper.forward_done:
                if self.stepper.step_forward() is None:
                    break
            self._say("Practice: forward pass done. Now step backward (←) and answer.")
            return
        result = self.stepper.run_all()
        out = self.graph.node(result.output).name if result.output in self.graph else None
        if result.problem:
            self._say(f"Forward pass done; no backward pass: {result.problem}")
        elif out is not None:
            self._say(
                f"Run all: {out} = {format_value(result.value)}; every gradient computed "
                f"({self.stepper.position[1]} backward steps)."
            )

    def reset(self) -> None:
        self.stepper.reset()
        if self.practice is not None:
            self.practice.restart()
        self._say("Reset: only the inputs are known.")

    def reset_quietly(self) -> None:
        """Start over without a status message (a new document was loaded)."""
        self.stepper.reset()
        if self.practice is not None:
            self.practice.restart()

    # -- state -------------------------------------------------------------------------
    def _backward_blocker(self) -> str | None:
        s = self.stepper
        if not s.forward_done:
            return "Finish the forward pass first (→ or F5)."
        if s.problem:
            return f"No backward pass: {s.problem}."
        return None

    def _report_or_step_over(self, record: ForwardRecord | BackwardRecord) -> None:
        text = self.step_over(record) if self.step_over is not None else None
        if text is None:
            self._report(record)
        else:
            self._say(text, 0)

    def _report(self, record: ForwardRecord | BackwardRecord) -> None:
        text = record.describe()
        if isinstance(record, BackwardRecord) and self.practice and self.practice.enabled:
            text = f"backward {record.index}/{record.total}: {record.name}: your turn"
        self._say(text, 0)

    def _say(self, text: str, ms: int = 6000) -> None:
        self.status.emit(text, ms)

    def _on_evaluation(self, event) -> None:
        # Connected before any view, so views read an up-to-date last_record.
        if event.reason == "step":
            self.last_record = event.record
        elif event.reason == "step_back":
            history = self.stepper.history
            self.last_record = history[-1] if history else None
        elif event.reason in ("reset", "run"):
            self.last_record = None
        if event.reason in ("stale",) and self.practice is not None and self.practice.enabled:
            self.practice.restart()
        if event.reason == "reset" and self.practice is not None and self.practice.enabled:
            if self.practice.answers or self.practice.pending:
                self.practice.restart()
        self.update_actions()

    def update_actions(self) -> None:
        s = self.stepper
        nonempty = len(self.graph) > 0
        self.forward_action.setEnabled(nonempty)
        self.backward_action.setEnabled(nonempty)
        self.back_action.setEnabled(s.can_step_back)
        self.run_action.setEnabled(nonempty)
        self.reset_action.setEnabled(nonempty)
