"""Practice mode: gradients stay hidden; at each backward step the student types the
node's gradient dL/dnode before it is revealed, then the inputs' gradients. Answers are
marked within a tolerance, a wrong answer shows the correct local derivatives, and the
score is shown at the end.

The mode and its tolerance live in the graph's ``meta["practice"]``, so a teacher can
save a file with practice on and chosen input values, and hand it out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, Qt, Signal
from PySide6.QtWidgets import (
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from graph.evaluate import BackwardRecord
from graph.events import Edge
from graph.model import Graph
from gui.graph_tab import theme
from gui.graph_tab.numbers import local_derivative
from gui.graph_tab.scene import GraphScene

META_KEY = "practice"
DEFAULT_TOLERANCE = 0.01
#: answers allowed per question before the correct one is shown
DEFAULT_TRIES = 2


def practice_settings(graph: Graph) -> dict:
    """``{"enabled": bool, "tolerance": float, "tries": int}`` from the graph's meta
    (defaults filled)."""
    raw = graph.get_meta(META_KEY) or {}
    if not isinstance(raw, dict):
        raw = {}
    tol = raw.get("tolerance", DEFAULT_TOLERANCE)
    if not isinstance(tol, int | float) or not math.isfinite(tol) or tol < 0:
        tol = DEFAULT_TOLERANCE
    tries = raw.get("tries", DEFAULT_TRIES)
    if not isinstance(tries, int) or isinstance(tries, bool) or not 1 <= tries <= 9:
        tries = DEFAULT_TRIES
    return {
        "enabled": bool(raw.get("enabled", False)),
        "tolerance": float(tol),
        "tries": tries,
    }


def parse_answer(text: str) -> float:
    """A typed gradient: a number, ``nan``/``inf``, or a fraction such as ``-1/3``."""
    text = text.strip().replace("−", "-")
    if "/" in text:
        num, _, den = text.partition("/")
        a, b = theme.parse_number(num), theme.parse_number(den)
        if b == 0:
            raise ValueError("division by zero")
        return a / b
    return theme.parse_number(text)


def is_close(answer: float, expected: float, tolerance: float) -> bool:
    """Right within a relative ``tolerance`` (plus 1e-4 absolute, for rounded answers)."""
    if math.isnan(expected):
        return math.isnan(answer)
    if math.isinf(expected) or math.isinf(answer):
        return answer == expected
    return abs(answer - expected) <= tolerance * abs(expected) + 1e-4


@dataclass
class Question:
    node_id: str
    name: str
    expected: float
    prompt: str
    step: BackwardRecord | None = None


@dataclass
class Answer:
    node_id: str
    name: str
    answer: float
    expected: float
    correct: bool
    explanation: list[str] = field(default_factory=list)
    #: wrong, but another try is allowed: nothing was revealed
    retry: bool = False
    tries_left: int = 0


class PracticeSession(QObject):
    """The practice state: which gradients are revealed, the open question, the score."""

    changed = Signal()

    def __init__(self, graph: Graph, scene: GraphScene) -> None:
        super().__init__(scene)
        self.graph = graph
        self.scene = scene
        self.enabled = False
        self.tolerance = DEFAULT_TOLERANCE
        self.tries = DEFAULT_TRIES
        #: wrong answers given to the open question so far
        self.attempts = 0
        self.revealed: set[str] = set()
        self.answers: list[Answer] = []
        self.pending: Question | None = None
        self.finished = False

    # -- state ---------------------------------------------------------------------------
    def set_enabled(
        self, enabled: bool, tolerance: float | None = None, tries: int | None = None
    ) -> None:
        if tolerance is not None:
            self.tolerance = tolerance
        if tries is not None:
            self.tries = tries
        if enabled != self.enabled:
            self.enabled = enabled
            self.restart()
        else:
            self.changed.emit()

    def restart(self) -> None:
        """Forget answers (a reset, an edit, a new file)."""
        self.revealed = set()
        self.answers = []
        self.pending = None
        self.attempts = 0
        self.finished = False
        self.sync()

    def sync(self) -> None:
        """Hide every gradient not yet revealed; mark answered nodes."""
        if self.enabled:
            self.scene.hidden_grads = set(self.graph.node_ids()) - self.revealed
            self.scene.marks = {a.node_id: "right" if a.correct else "wrong" for a in self.answers}
        else:
            self.scene.hidden_grads = set()
            self.scene.marks = {}
        self.scene.refresh_evaluation()
        self.changed.emit()

    def d(self, name: str) -> str:
        """``dg/da``: the derivative of the graph's output (by its name) by ``name``."""
        g = self.graph
        return f"d{g.node(g.output_id).name if g.output_id in g else 'L'}/d{name}"

    @property
    def score(self) -> tuple[int, int]:
        return sum(a.correct for a in self.answers), len(self.answers)

    # -- flow ------------------------------------------------------------------------------
    def ask_step(self, record: BackwardRecord) -> None:
        total = record.total
        self.attempts = 0
        self.pending = Question(
            record.node,
            record.name,
            record.upstream,
            f"Backward step {record.index}/{total}: {record.name} = {record.formula}\n"
            f"What is {self.d(record.name)}?",
            record,
        )
        self.sync()

    def next_input_question(self) -> bool:
        """After the backward pass: ask for the next input's gradient; False when none."""
        grads = self.graph.evaluation.grads
        for node_id in self.graph.inputs():
            g = grads.get(node_id)
            if g is not None and node_id not in self.revealed:
                name = self.graph.node(node_id).name
                self.attempts = 0
                self.pending = Question(
                    node_id,
                    name,
                    g,
                    f"The backward pass reached the input {name}.\nWhat is {self.d(name)}?",
                )
                self.sync()
                return True
        if not self.finished:
            self.finished = True
            self.revealed = set(self.graph.node_ids())  # the whole picture at the end
            self.sync()
        return False

    def answer(self, text: str) -> Answer:
        """Mark the answer to the open question; ValueError if it is not a number."""
        q = self.pending
        if q is None:
            raise ValueError("there is no open question: press Next step")
        value = parse_answer(text)
        correct = is_close(value, q.expected, self.tolerance)
        result = Answer(q.node_id, q.name, value, q.expected, correct)
        if not correct and self.attempts + 1 < self.tries:
            # Another try: the question stays open and nothing is revealed.
            self.attempts += 1
            result.retry = True
            result.tries_left = self.tries - self.attempts
            self.changed.emit()
            return result
        if not correct:
            result.explanation = self.explain(q.node_id)
        self.answers.append(result)
        self.revealed.add(q.node_id)
        self.pending = None
        self.sync()
        return result

    def explain(self, node_id: str) -> list[str]:
        """How dL/dnode comes about: each consumer's upstream gradient times its local
        derivative (the correct local derivative is the thing to learn)."""
        g = self.graph
        ev = g.evaluation
        name = g.node(node_id).name
        if node_id == g.output_id:
            return [f"{name} is the output: {self.d(name)} = 1 by definition."]
        lines = []
        for edge in g.out_edges(node_id):
            contribution = ev.contributions.get(edge)
            if contribution is None:
                continue
            lines.append(self._edge_line(edge, ev.values, ev.grads.get(edge.dst), contribution))
        if len(lines) > 1:
            lines.append(f"{name} fans out: its gradient is the sum of these contributions.")
        return lines

    def _edge_line(self, edge: Edge, values, upstream, contribution) -> str:
        g = self.graph
        dst = g.node(edge.dst)
        src = g.node(edge.src)
        local = local_derivative(g, edge, values)
        port = dst.port_names[edge.port]
        return (
            f"local derivative ∂{dst.name}/∂{src.name} (port {port}) = {theme.fmt(local)}; "
            f"{self.d(dst.name)} × local = {theme.fmt(upstream)} × {theme.fmt(local)} "
            f"= {theme.fmt(contribution)}"
        )


class PracticePanel(QWidget):
    """The practice side panel: the question, an answer box, feedback and the score."""

    #: "Next step" pressed (the tab steps backward or asks the next question)
    next_requested = Signal()
    #: tolerance changed by the user (fraction, e.g. 0.01)
    tolerance_changed = Signal(float)
    #: answers allowed per question changed by the user
    tries_changed = Signal(int)

    def __init__(self, session: PracticeSession, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.session = session
        self.intro = QLabel(
            "Practice mode hides the gradients. Run the forward pass (→ or F5), then "
            "press <b>Next step</b>: type each node's gradient dL/dnode before it is "
            "revealed. Fractions such as -1/3 are fine."
        )
        self.intro.setWordWrap(True)
        self.tolerance = QDoubleSpinBox()
        self.tolerance.setObjectName("practiceTolerance")
        self.tolerance.setRange(0.0, 50.0)
        self.tolerance.setDecimals(2)
        self.tolerance.setSingleStep(0.5)
        self.tolerance.setSuffix(" %")
        self.tolerance.setToolTip("How close an answer must be (relative), saved in the file")
        self.tolerance.editingFinished.connect(
            lambda: self.tolerance_changed.emit(self.tolerance.value() / 100.0)
        )
        self.tries = QSpinBox()
        self.tries.setObjectName("practiceTries")
        self.tries.setRange(1, 9)
        self.tries.setToolTip(
            "How many answers a question takes before the correct one is shown, saved in the file"
        )
        self.tries.editingFinished.connect(lambda: self.tries_changed.emit(self.tries.value()))
        self.question = QLabel()
        self.question.setObjectName("practiceQuestion")
        self.question.setWordWrap(True)
        self.question.setStyleSheet("font-size: 11pt; font-weight: bold;")
        self.answer_edit = QLineEdit()
        self.answer_edit.setObjectName("practiceAnswer")
        self.answer_edit.setPlaceholderText("dL/d… = ?")
        # Enter checks the answer; Enter again (nothing open) takes the next step.
        self.answer_edit.returnPressed.connect(self._enter)
        self.check_button = QPushButton("Check")
        self.check_button.setObjectName("practiceCheck")
        self.check_button.clicked.connect(self.check)
        self.next_button = QPushButton("Next step")
        self.next_button.setObjectName("practiceNext")
        self.next_button.setToolTip("Take the next backward step (←) and answer its gradient")
        self.next_button.clicked.connect(self.next_requested)
        self.feedback = QLabel()
        self.feedback.setObjectName("practiceFeedback")
        self.feedback.setWordWrap(True)
        self.feedback.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.score = QLabel()
        self.score.setObjectName("practiceScore")
        self.score.setStyleSheet("font-weight: bold;")
        self.history = QListWidget()
        self.history.setObjectName("practiceHistory")

        answer_row = QHBoxLayout()
        answer_row.addWidget(self.answer_edit, 1)
        answer_row.addWidget(self.check_button)
        box = QGroupBox("Question")
        inner = QVBoxLayout(box)
        inner.addWidget(self.question)
        inner.addLayout(answer_row)
        inner.addWidget(self.feedback)
        inner.addWidget(self.next_button)
        settings = QFormLayout()
        settings.addRow("Tolerance", self.tolerance)
        settings.addRow("Tries per question", self.tries)
        self._asked: object = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 4)
        layout.addWidget(self.intro)
        layout.addLayout(settings)
        layout.addWidget(box)
        layout.addWidget(self.score)
        layout.addWidget(self.history, 1)
        session.changed.connect(self.refresh)
        self.refresh()

    def _enter(self) -> None:
        if self.session.pending is not None:
            self.check()
        elif self.next_button.isEnabled():
            self.next_requested.emit()

    def check(self) -> Answer | None:
        try:
            result = self.session.answer(self.answer_edit.text())
        except ValueError as exc:
            self.feedback.setText(str(exc))
            self.feedback.setStyleSheet("color: #d93025;")
            return None
        if result.retry:
            left = result.tries_left
            self.feedback.setText(
                f"✗ Not quite: {theme.fmt(result.answer, 6)} is not {self.session.d(result.name)}. "
                f"Try again ({left} {'try' if left == 1 else 'tries'} left)."
            )
            self.feedback.setStyleSheet("color: #d93025;")
            self.answer_edit.selectAll()
            return result
        if result.correct:
            self.feedback.setText(
                f"✓ Right: {self.session.d(result.name)} = {theme.fmt(result.expected, 6)}. "
                "Press Enter (or Next step) to go on."
            )
            self.feedback.setStyleSheet("color: #1e8e3e;")
        else:
            lines = "<br>".join(result.explanation)
            self.feedback.setText(
                f"✗ Not quite: you typed {theme.fmt(result.answer, 6)}, "
                f"{self.session.d(result.name)} = {theme.fmt(result.expected, 6)}.<br>{lines}"
            )
            self.feedback.setStyleSheet("color: #d93025;")
        mark = "✓" if result.correct else "✗"
        item = QListWidgetItem(
            f"{mark} {self.session.d(result.name)} = {theme.fmt(result.expected)} "
            f"(you: {theme.fmt(result.answer)})"
        )
        item.setForeground(theme.OK_GREEN if result.correct else theme.WARNING)
        self.history.addItem(item)
        self.answer_edit.clear()
        return result

    def refresh(self) -> None:
        s = self.session
        self.setEnabled(s.enabled)
        if abs(self.tolerance.value() - s.tolerance * 100) > 1e-9:
            self.tolerance.setValue(s.tolerance * 100)
        if self.tries.value() != s.tries:
            self.tries.setValue(s.tries)
        if not s.answers:
            self.history.clear()
        right, total = s.score
        if s.pending is not self._asked:
            # A new question (or none): the last question's feedback no longer applies.
            if s.pending is not None or not s.enabled:
                self.feedback.clear()
            self._asked = s.pending
        open_question = s.pending is not None
        # Enabled before the focus moves: a disabled box cannot take the focus.
        self.answer_edit.setEnabled(s.enabled and not s.finished)
        self.check_button.setEnabled(open_question)
        self.next_button.setEnabled(s.enabled and not open_question and not s.finished)
        if not s.enabled:
            self.question.setText("Practice mode is off (Edit > Practice mode).")
            self.feedback.clear()
        elif open_question:
            self.question.setText(s.pending.prompt)
            self.answer_edit.setFocus()
        elif s.finished:
            self.question.setText(f"Done! Score: {right} / {total}")
        else:
            self.question.setText("Press Next step for the next question.")
        self.score.setText(f"Score: {right} / {total}" if total else "")
