"""Side box explaining the last step line by line: the forward formula with its numbers,
or the backward upstream sum and each edge's "upstream × local = contribution"."""

from __future__ import annotations

import html

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QFrame, QLabel, QSizePolicy, QVBoxLayout

from graph.records import BackwardRecord, ForwardRecord, format_operand, format_value
from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.stepping import StepController

_BLUE, _ORANGE, _RED, _GREY = "#1f63c6", "#c2570c", "#d93025", "#6b7078"
HINT = (
    "<span style='color:#6b7078'>Press <b>→</b> to compute the next node's value, "
    "<b>←</b> to send the gradient back through the next node, <b>F5</b> to run "
    "everything. Each step is explained here.</span>"
)


def _span(text: str, colour: str, bold: bool = False) -> str:
    weight = "font-weight:bold;" if bold else ""
    return f"<span style='color:{colour};{weight}'>{html.escape(text)}</span>"


class StepInfo(QFrame):
    def __init__(self, controller: StepController, bridge: GraphBridge) -> None:
        super().__init__()
        self.setObjectName("stepInfo")
        self.controller = controller
        self.graph = bridge.graph
        #: significant digits shown (View > Precision)
        self.digits = theme.DEFAULT_DIGITS
        self.setStyleSheet(
            "QFrame#stepInfo { background: #ffffff; border: 1px solid #dadce0;"
            " border-radius: 4px; }"
        )
        title = QLabel("<b>This step</b>")
        self.body = QLabel()
        self.body.setObjectName("stepInfoText")
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        self.body.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.body.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
        self.body.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 8)
        layout.setSpacing(4)
        layout.addWidget(title)
        layout.addWidget(self.body, 1)
        bridge.evaluation_changed.connect(lambda *_: self.refresh())
        bridge.graph_cleared.connect(self.refresh)
        # Adding or removing a node away from the output keeps the numbers current (no
        # evaluation change), but the summary lists the inputs.
        bridge.node_added.connect(lambda *_: self.refresh())
        bridge.node_removed.connect(lambda *_: self.refresh())
        self.refresh()

    def set_digits(self, digits: int) -> None:
        self.digits = digits
        self.refresh()

    def _num(self, x: float | None) -> str:
        return format_value(x, self.digits)

    def _output_name(self) -> str:
        g = self.graph
        return g.node(g.output_id).name if g.output_id in g else "L"

    def text(self) -> str:
        """The explanation as plain text (for tests)."""
        doc = self.body.text()
        from PySide6.QtGui import QTextDocument

        d = QTextDocument()
        d.setHtml(doc)
        return d.toPlainText()

    def refresh(self) -> None:
        record = self.controller.last_record
        ev = self.graph.evaluation
        if ev.stale:
            self.body.setText(
                _span("The graph changed: the numbers are stale. ", _GREY)
                + _span("Step or run again to refresh them.", _GREY, True)
            )
        elif isinstance(record, ForwardRecord):
            self.body.setText(self._forward(record))
        elif isinstance(record, BackwardRecord):
            self.body.setText(self._backward(record))
        elif ev.phase == "done":
            self.body.setText(self._summary())
        else:
            self.body.setText(HINT)

    def _forward(self, r: ForwardRecord) -> str:
        node = self.graph.node(r.node) if r.node in self.graph else None
        lines = [_span(f"forward {r.index}/{r.total}", _BLUE, True)]
        numbers = [format_operand(self._num(p.value)) for p in r.inputs]
        if node is not None:
            try:
                filled = node.spec.format_expr(numbers, node.params)
            except Exception:
                filled = ", ".join(numbers)
            lines.append(
                _span(f"{r.name} = {r.formula}", "#202124", True)
                + "<br>"
                + _span(f"= {filled} = {self._num(r.output)}", _BLUE, True)
            )
        if r.nonfinite:
            lines.append(_span("⚠ a nan/inf first appears here", _RED, True))
        return "<br>".join(lines)

    def _backward(self, r: BackwardRecord) -> str:
        practice = self.controller.practice
        head = _span(f"backward {r.index}/{r.total}", _ORANGE, True)
        lines = [head, _span(f"{r.name} = {r.formula}", "#202124", True)]
        if practice is not None and practice.enabled and r.node not in practice.revealed:
            d = f"d{self._output_name()}/d{r.name}"
            lines.append(_span(f"Practice: what is {d}? (Practice panel)", _GREY))
            return "<br>".join(lines)
        for i, line in enumerate(r.explain(self._output_name(), self.digits)):
            colour = "#202124" if i == 0 else _ORANGE
            lines.append(_span(line, colour, i == 0))
        if r.nonfinite:
            lines.append(_span("⚠ a nan/inf gradient first appears here", _RED, True))
        return "<br>".join(lines)

    def _summary(self) -> str:
        g = self.graph
        ev = g.evaluation
        out = g.output_id
        if out is None:
            return HINT
        practice = self.controller.practice
        hidden = practice is not None and practice.enabled
        lines = [
            _span("Everything computed", "#202124", True),
            _span(f"{g.node(out).name} = {self._num(ev.values.get(out))}", _BLUE, True),
        ]
        for node_id in g.inputs():
            grad = ev.grads.get(node_id)
            name = g.node(node_id).name
            if grad is None:
                feeds_output = out in g.descendants(node_id)
                why = "it only feeds a choose selector" if feeds_output else "no path to it"
                lines.append(_span(f"d{g.node(out).name}/d{name}: no gradient ({why})", _GREY))
            elif not hidden:
                lines.append(_span(f"d{g.node(out).name}/d{name} = {self._num(grad)}", _ORANGE))
        return "<br>".join(lines)
