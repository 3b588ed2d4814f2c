"""The toolbar's output picker: "automatic" (the only sink) or any sink by name."""

from __future__ import annotations

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QComboBox

from gui.graph_tab.bridge import GraphBridge
from gui.graph_tab.editor import GraphEditor

TIP = "The node whose gradient is taken (L in dL/dx)"


class OutputChoice(QComboBox):
    def __init__(self, bridge: GraphBridge, editor: GraphEditor) -> None:
        super().__init__()
        self.setObjectName("outputChoice")
        # As wide as its longest choice, so "automatic (choose one)" is never cut; the
        # width changes only when the sinks' names do.
        self.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.setMinimumContentsLength(10)
        self.graph = bridge.graph
        self.editor = editor
        self._pending = False
        for signal in (
            bridge.node_added,
            bridge.node_removed,
            bridge.edge_added,
            bridge.edge_removed,
            bridge.node_changed,
            bridge.output_changed,
            bridge.graph_cleared,
        ):
            signal.connect(self._schedule)
        self.activated.connect(lambda index: self.editor.set_output(self.itemData(index)))
        self.refresh()

    def _schedule(self, *_args) -> None:
        # A file load sends hundreds of events: rebuild the list once afterwards.
        if not self._pending:
            self._pending = True
            QTimer.singleShot(0, self.refresh)

    def refresh(self) -> None:
        self._pending = False
        g = self.graph
        self.blockSignals(True)
        self.clear()
        sinks = g.sinks()
        auto = g.node(sinks[0]).name if len(sinks) == 1 else "choose one"
        self.addItem(f"automatic ({auto})", None)
        choices = list(sinks)
        if g.explicit_output is not None and g.explicit_output not in choices:
            choices.append(g.explicit_output)
        for node_id in choices:
            self.addItem(g.node(node_id).name, node_id)
        index = self.findData(g.explicit_output) if g.explicit_output is not None else 0
        self.setCurrentIndex(max(0, index))
        self.blockSignals(False)
        # A narrow window must not squeeze the combo below its text.
        self.setMinimumWidth(self.sizeHint().width())
        self.setToolTip(g.output_problem() or TIP)
