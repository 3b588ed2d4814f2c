"""How the Graph tab's widgets are made and arranged: the op palette (left), the
toolbar, legend, restore banner and canvas with its loss-surface panel (centre), the
step explanation, side panels, bug hunt and undo history (right).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QSplitter,
    QTabWidget,
    QToolBar,
    QUndoView,
    QVBoxLayout,
    QWidget,
)

from gui.graph_tab.banner import RestoreBanner
from gui.graph_tab.bug_hunt import BugHunt, BugHuntPanel
from gui.graph_tab.gradcheck_panel import GradCheckPanel
from gui.graph_tab.inputs_panel import InputsPanel
from gui.graph_tab.output_choice import OutputChoice
from gui.graph_tab.palette import OpPalette
from gui.graph_tab.practice import PracticePanel
from gui.graph_tab.recovery import CrashRecovery
from gui.graph_tab.step_info import StepInfo
from gui.lazy import LazyWidget

if TYPE_CHECKING:
    from gui.graph_tab.surface_panel import SurfacePanel

LEGEND = (
    "<span style='color:#1f63c6'>■</span> value (forward) &nbsp;&nbsp;"
    "<span style='color:#c2570c'>■</span> gradient dL/dnode (backward) &nbsp;&nbsp;"
    "<span style='color:#f2b705'>▬</span> current step &nbsp;&nbsp;"
    "<span style='color:#8c8c8c'>┅</span> stale &nbsp;&nbsp;"
    "<span style='color:#d93025'>■</span> nan/inf appeared here &nbsp;&nbsp;"
    "<span style='color:#c2570c'>Σ</span> fan-out sum &nbsp;&nbsp;"
    "<b>▭</b> output"
)


class GraphTabLayout:
    """``GraphTab``'s widgets (a mixin: ``_build_ui`` runs once its actions exist)."""

    def _make_surface_panel(self) -> SurfacePanel:
        from gui.graph_tab.surface_panel import SurfacePanel

        return SurfacePanel(self.bridge, self.editor)

    @property
    def surface_panel(self) -> SurfacePanel:
        """The loss-surface panel (built now if it was never shown)."""
        return self.surface_slot.widget()

    def _build_ui(self) -> None:
        self.palette = OpPalette()
        palette_box = QWidget()
        pl = QVBoxLayout(palette_box)
        pl.setContentsMargins(4, 4, 0, 4)
        title = QLabel("<b>Ops</b>")
        title.setToolTip("Drag an op onto the canvas, or double-click it")
        title.setWordWrap(True)
        pl.addWidget(title)
        pl.addWidget(self.palette, 1)
        palette_box.setMinimumWidth(96)

        self.toolbar = QToolBar()
        self.toolbar.setObjectName("graphToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextOnly)
        self.toolbar.setStyleSheet("QToolBar { spacing: 2px; border: none; }")
        for action in self.steps.actions:
            self.toolbar.addAction(action)
        self.toolbar.addSeparator()
        self.output_box = OutputChoice(self.bridge, self.editor)
        self.toolbar.addWidget(QLabel(" Output "))
        self.toolbar.addWidget(self.output_box)
        self.toolbar.addSeparator()
        # Short toolbar labels; the menus keep the full names.
        self.fit_action.setIconText("Fit")
        self.layout_action.setIconText("Layout")
        self.practice_action.setIconText("Practice")
        self.toolbar.addAction(self.fit_action)
        self.toolbar.addAction(self.layout_action)
        self.toolbar.addAction(self.practice_action)
        self.surface_action.setIconText("Surface")
        self.toolbar.addAction(self.surface_action)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.toolbar.addWidget(spacer)
        self.title_label = QLabel()
        self.title_label.setObjectName("graphTitle")
        self.title_label.setStyleSheet("font-weight: bold; padding-right: 6px;")
        self.toolbar.addWidget(self.title_label)

        self.legend = QLabel(LEGEND)
        self.legend.setObjectName("graphLegend")
        self.legend.setStyleSheet("color: #3c4043; padding: 2px 6px;")
        self.legend.setWordWrap(True)  # wraps in a narrow window instead of widening it
        self.banner = RestoreBanner()
        self.recovery = CrashRecovery(
            self.banner, self.document, self.autosaver.directory, self._after_restore
        )
        self.step_info = StepInfo(self.steps, self.bridge)

        center = QWidget()
        cl = QVBoxLayout(center)
        cl.setContentsMargins(0, 0, 0, 0)
        cl.setSpacing(0)
        cl.addWidget(self.toolbar)
        cl.addWidget(self.legend)
        cl.addWidget(self.banner)
        # Built when first shown: it needs pyqtgraph, which start-up does without.
        self.surface_slot: LazyWidget[SurfacePanel] = LazyWidget(self._make_surface_panel)
        self.surface_slot.setObjectName("surfaceSlot")
        self.surface_slot.hide()
        self.canvas_split = QSplitter(Qt.Orientation.Vertical)
        self.canvas_split.addWidget(self.view)
        self.canvas_split.addWidget(self.surface_slot)
        self.canvas_split.setCollapsible(0, False)
        self.canvas_split.setSizes([520, 380])
        cl.addWidget(self.canvas_split, 1)

        self.inputs_panel = InputsPanel(self.bridge, self.editor, self.scene)
        self.gradcheck_panel = GradCheckPanel(self.bridge)
        self.practice_panel = PracticePanel(self.practice)
        self.side_tabs = QTabWidget()
        self.side_tabs.setObjectName("graphSideTabs")
        self.side_tabs.addTab(self.inputs_panel, "Inputs")
        self.side_tabs.addTab(self.gradcheck_panel, "Gradient check")
        self.side_tabs.addTab(self.practice_panel, "Practice")
        self.bug_hunt = BugHunt(
            self.editor, self.scene, self.practice, self.document.display_name,
            self.group_layer.reveal,
        )  # fmt: skip
        self.bug_panel = BugHuntPanel(self.bug_hunt, self.context.settings)
        self.history = QUndoView(self.stack)
        self.history.setObjectName("undoHistory")
        self.history.setEmptyLabel("(start)")
        history_box = QWidget()
        hl = QVBoxLayout(history_box)
        hl.setContentsMargins(4, 4, 4, 4)
        hl.addWidget(QLabel("<b>History</b> (click a line to go back to it)"))
        hl.addWidget(self.history)
        self.history_box = history_box
        history_box.hide()
        right = QSplitter(Qt.Orientation.Vertical)
        right.addWidget(self.step_info)
        right.addWidget(self.side_tabs)
        right.addWidget(self.bug_panel)  # shown while a bug is planted (see BugHuntPanel)
        right.addWidget(history_box)
        right.setStretchFactor(0, 2)
        right.setStretchFactor(1, 3)
        right.setStretchFactor(2, 2)
        right.setSizes([150, 400, 320, 200])  # the bug hunt panel shows only in a hunt

        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(palette_box)
        self.splitter.addWidget(center)
        self.splitter.addWidget(right)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([112, 918, 250])
        self.splitter.setCollapsible(1, False)
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.splitter)
