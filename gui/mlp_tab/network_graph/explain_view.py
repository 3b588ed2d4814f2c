""" "Explain this number": the scalar computation behind one tensor element, in the Graph
tab's engine, with the vectorised formula beside it.

Left: the scalar formula and the vectorised one (``dW = Xᵀ · dout``), the operands as
small heat-maps with the row and column that produced this element outlined, a button
per folded sum to unfold more of its terms, and the Graph tab's gradient check. Right:
the scalar graph on the Graph tab's own canvas (``GraphScene`` in a ``GraphView``),
stepped with its ``StepController`` (→, ←, Backspace, F5, Shift+F5 while the focus is in
this view) and explained step by step in its ``StepInfo`` box.
"""

from __future__ import annotations

import html
from collections.abc import Mapping

import numpy as np
from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QFrame,
    QLabel,
    QPushButton,
    QScrollArea,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from graph import fileformat
from graph.model import Graph
from gui.graph_tab import theme
from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.editor import relayout
from gui.graph_tab.gradcheck_panel import GradCheckPanel
from gui.graph_tab.scene import GraphScene
from gui.graph_tab.step_info import StepInfo
from gui.graph_tab.stepping import StepController
from gui.graph_tab.view import GraphView
from gui.mlp_tab.network_graph.heatmap import Band, HeatMap, as_matrix, clear_layout, shape_text
from gui.training.tab_layout import splitter

UNFOLD_MORE = 8
EXPAND_MORE = 2  # examples of the loss drawn as their softmax per click
_WHICH = {"value": "", "grad": "dL/d"}


def operand_title(tensor: str, which: str, shape: tuple[int, ...], row, col) -> str:
    """'dL/da1 (4×50), column 41' and the like."""
    name = f"{_WHICH.get(which, '')}{tensor} ({shape_text(shape)})"
    if len(shape) == 1 and row is not None:
        return f"{name}, element {row}"
    parts = []
    if row is not None:
        parts.append(f"row {row}")
    if col is not None:
        parts.append(f"column {col}")
    return f"{name}, {' and '.join(parts)}" if parts else f"{name}, every element"


def highlight_of(shape: tuple[int, ...], row, col) -> tuple[tuple, tuple, tuple | None]:
    """(rows, cols, marked cell) of the matrix view ``as_matrix`` draws."""
    if len(shape) <= 1:
        return ((), (), (0, row)) if row is not None else ((), (), None)
    if row is not None and col is not None:
        return (row,), (col,), (row, col)
    return ((row,) if row is not None else ()), ((col,) if col is not None else ()), None


class ExplainView(QWidget):
    """Shows one ``nets.mlp.explain.Explanation`` (``show``). ``unfold_requested(key)``
    asks for more terms of a folded sum; the owner recomputes and calls ``show`` again."""

    unfold_requested = Signal(str)
    status = Signal(str, int)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("explainView")
        self.explanation = None
        self.graph = Graph()
        self.bridge = GraphBridge(self.graph, self)
        self.steps = StepController(self.bridge, parent=self)
        self.scene = GraphScene(self.graph, self.bridge, self)
        self.canvas = GraphView(self.scene)
        self.canvas.setObjectName("explainCanvas")
        self.step_info = StepInfo(self.steps, self.bridge)
        self.gradcheck = GradCheckPanel(self.bridge)
        self.gradcheck.setObjectName("explainGradcheck")
        self.steps.bind_shortcuts_to(self)
        self.steps.status.connect(self.status)

        self.heading = QLabel("Click an element of a tensor (on a node's heat-map or below) "
                              "to see the scalar computation behind it.")  # fmt: skip
        self.heading.setObjectName("explainHeading")
        self.heading.setWordWrap(True)
        self.heading.setTextFormat(Qt.TextFormat.RichText)
        self.heading.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.formula = QLabel()
        self.formula.setObjectName("explainFormula")
        self.formula.setWordWrap(True)
        self.formula.setTextFormat(Qt.TextFormat.RichText)
        self.formula.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.operands_box = QWidget()
        self.operands_layout = QVBoxLayout(self.operands_box)
        self.operands_layout.setContentsMargins(0, 0, 0, 0)
        self.unfold_box = QWidget()
        self.unfold_layout = QVBoxLayout(self.unfold_box)
        self.unfold_layout.setContentsMargins(0, 0, 0, 0)
        self.operand_maps: list[HeatMap] = []
        self.unfold_buttons: dict[str, QPushButton] = {}

        left = QWidget()
        ll = QVBoxLayout(left)
        ll.setContentsMargins(4, 4, 4, 4)
        ll.addWidget(self.heading)
        ll.addWidget(self.formula)
        ll.addWidget(self.operands_box)
        ll.addWidget(self.unfold_box)
        ll.addWidget(self.step_info)
        check = QLabel("<b>Gradient check</b> of the scalar graph")
        check.setWordWrap(True)
        ll.addWidget(check)
        ll.addWidget(self.gradcheck)
        ll.addStretch(1)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        scroll.setWidget(left)
        scroll.setMinimumWidth(260)
        scroll.setFrameShape(QFrame.Shape.NoFrame)

        self.toolbar = QToolBar()
        self.toolbar.setObjectName("explainToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        for action in self.steps.actions:
            self.toolbar.addAction(action)
        fit = self.toolbar.addAction("Fit")
        fit.triggered.connect(lambda: self.canvas.fit())
        #: checked: the page gives this view most of its height (the owner connects it)
        self.enlarge_action = self.toolbar.addAction("Enlarge")
        self.enlarge_action.setCheckable(True)
        self.enlarge_action.setToolTip("Give the explanation most of the page's height")
        right = QWidget()
        rl = QVBoxLayout(right)
        rl.setContentsMargins(0, 0, 0, 0)
        rl.setSpacing(0)
        rl.addWidget(self.toolbar)
        rl.addWidget(self.canvas, 1)

        split = splitter(Qt.Orientation.Horizontal, (scroll, 0), (right, 1), sizes=[330, 700])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(split)

    def show_explanation(self, expl, operands: Mapping[int, Band], more_examples: int = 0) -> None:
        """Show ``expl``; ``operands[i]`` is the picture of ``expl.operands[i]``;
        ``more_examples``: how many examples of the loss (value:L) are not yet drawn as
        their whole softmax (a button draws more)."""
        self.explanation = expl
        new = fileformat.from_dict(expl.graph)
        if not any(node.pos != (0.0, 0.0) for node in new.nodes()):
            relayout(new)  # the model leaves positions to the Graph tab
        self.graph.replace_with(new)
        self.steps.reset_quietly()
        self.canvas.fit_when_shown()
        self.gradcheck.run()

        el = expl.element
        same = abs(expl.graph_value - expl.value) <= 1e-9 * max(1.0, abs(expl.value))
        agree = "equals" if same else "differs from"
        self.heading.setText(
            f"<b>{html.escape(str(el))}</b> = {theme.fmt_full(expl.value)}"
            f"<br><span style='color:#6b7078'>the scalar graph computes "
            f"{theme.fmt_full(expl.graph_value)} ({agree} the tensor element); "
            f"{len(self.graph)} nodes. Step it with → and ← here, F5 runs all.</span>"
        )
        terms = ""
        if expl.terms:
            terms = f"<br>{expl.terms:,} terms in the main sum"
            if expl.folded:
                terms += f", {expl.folded:,} of them folded into one constant"
        self.formula.setText(
            f"<span style='color:#6b7078'>scalar</span><br><tt>{html.escape(expl.formula)}</tt>"
            f"<br><span style='color:#6b7078'>vectorised</span><br>"
            f"<tt><b>{html.escape(expl.vectorised)}</b></tt>{terms}"
        )
        self._show_operands(expl, operands)
        self._show_unfold(expl, more_examples)

    def _show_operands(self, expl, operands: Mapping[int, Band]) -> None:
        clear_layout(self.operands_layout)
        self.operand_maps = []
        for i, op in enumerate(expl.operands):
            title = QLabel(operand_title(op.tensor, op.which, op.shape, op.row, op.col))
            title.setWordWrap(True)
            heat = HeatMap()
            heat.setObjectName(f"explainOperand{i}")
            heat.setFixedHeight(46 if len(op.shape) > 1 and op.shape[0] > 1 else 22)
            band = operands.get(i)
            a = band.array if band is not None else None
            heat.set_band(band, f"{_WHICH.get(op.which, '')}{op.tensor}")
            if a is not None:
                rows, cols, marked = highlight_of(tuple(np.shape(a)), op.row, op.col)
                m = as_matrix(a)
                rows = tuple(r for r in rows if r < m.shape[0])
                cols = tuple(c for c in cols if c < m.shape[1])
                heat.set_highlight(rows, cols, marked)
            self.operands_layout.addWidget(title)
            self.operands_layout.addWidget(heat)
            self.operand_maps.append(heat)

    def _show_unfold(self, expl, more_examples: int) -> None:
        clear_layout(self.unfold_layout)
        self.unfold_buttons = {}
        if more_examples > 0:
            more = min(EXPAND_MORE, more_examples)
            button = QPushButton(f"Draw {more} more example{'s' if more > 1 else ''} as softmax")
            button.setObjectName("explainUnfold_expanded")
            button.setToolTip(
                f"{more_examples} example(s) of the batch show only their loss; draw their "
                "softmax, log and choose as the seed's f3 does"
            )
            button.clicked.connect(lambda _c=False: self.unfold_requested.emit("expanded"))
            self.unfold_layout.addWidget(button)
            self.unfold_buttons["expanded"] = button
        for s in expl.sums:
            if not s.folded:
                continue
            more = min(UNFOLD_MORE, s.folded)
            button = QPushButton(f"Unfold {more} more of {s.label}")
            button.setObjectName(f"explainUnfold_{s.key}")
            button.setToolTip(
                f"{s.shown} of {s.terms:,} terms are shown; {s.folded:,} smaller ones are "
                f"folded into one constant = {theme.fmt_full(s.folded_value)}"
            )
            button.clicked.connect(lambda _c=False, key=s.key: self.unfold_requested.emit(key))
            self.unfold_layout.addWidget(button)
            self.unfold_buttons[s.key] = button

    def test_state(self) -> dict:
        expl = self.explanation
        evaluation = self.graph.evaluation
        out = self.graph.output_id
        return {
            "element": str(expl.element) if expl is not None else "",
            "value": expl.value if expl is not None else None,
            "nodes": len(self.graph),
            "phase": evaluation.phase,
            "output_value": evaluation.values.get(out) if out is not None else None,
            "formula": self.formula.text(),
            "unfold": sorted(self.unfold_buttons),
        }
