"""The widgets, actions and layout of ``gui.training.tab.TrainingTab``: the status line,
the buttons under the runs list, the test result line, the result views' tab widget, the
File and View menus' training actions, and how they are arranged with the tab's own
column (``finish_layout``) and the pages tabs add (``add_view``, ``add_page``).
"""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import (
    QFrame,
    QGridLayout,
    QLabel,
    QPushButton,
    QScrollArea,
    QSplitter,
    QTabWidget,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from gui.training.fence import LayoutFence


def splitter(
    orientation: Qt.Orientation, *parts: tuple[QWidget, int], sizes: list[int] | None = None
) -> QSplitter:
    """A splitter of ``(widget, stretch factor)`` parts that never collapses one, at
    ``sizes`` (pixels, one a part) if given. The training tabs' pages use it too."""
    split = QSplitter(orientation)
    for index, (widget, stretch) in enumerate(parts):
        split.addWidget(widget)
        split.setStretchFactor(index, stretch)
    split.setChildrenCollapsible(False)
    if sizes is not None:
        split.setSizes(sizes)
    return split


class TrainingLayout:
    """Mixin of ``TrainingTab`` (uses its ``tab_id``, ``plots``, ``runs_view``, ``controls``,
    ``snapshot_control`` and slots)."""

    def _build_widgets(self) -> None:
        self.status_label = QLabel()
        self.status_label.setObjectName(f"{self.tab_id}Status")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        self.test_button = QPushButton("Evaluate on &test set")
        self.test_button.setObjectName(f"{self.tab_id}TestButton")
        self.save_button = QPushButton("Sa&ve model…")
        self.save_button.setObjectName(f"{self.tab_id}SaveButton")
        self.save_button.setToolTip("Save the selected run's model as a checkpoint")
        self.load_button = QPushButton("L&oad model…")
        self.load_button.setObjectName(f"{self.tab_id}LoadButton")
        self.load_button.setToolTip("Load a checkpoint as a new run, to test or train further")
        self.export_plots_button = QPushButton("Export plots…")
        self.export_plots_button.setToolTip("Save both plots as PNG, SVG or PDF")
        self.export_csv_button = QPushButton("Export CSV…")
        self.export_csv_button.setToolTip("Save every run's loss and accuracy as CSV")
        #: the buttons under the runs list, two to a row (a tab may insert its own
        #: before ``finish_layout``)
        self.run_buttons: list[QWidget] = [
            self.test_button,
            self.save_button,
            self.load_button,
            self.export_plots_button,
            self.export_csv_button,
        ]
        self.test_label = QLabel()
        self.test_label.setObjectName(f"{self.tab_id}TestResult")
        self.test_label.setWordWrap(True)
        self.test_label.setTextFormat(Qt.TextFormat.RichText)
        self.result_tabs = QTabWidget()
        self.result_tabs.setObjectName(f"{self.tab_id}Results")
        # The Inside view's heat maps and line plots need room that the loss plots can
        # give up for a while: one click (or Ctrl+Shift+E) trades the two.
        self.enlarge_action = QAction("&Enlarge the Views Below the Plots", self, checkable=True)
        self.enlarge_action.setShortcut(QKeySequence("Ctrl+Shift+E"))
        self.enlarge_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.enlarge_action.setToolTip(
            "Give the test results, Inside and the other views most of the tab; again to undo"
        )
        self.enlarge_action.toggled.connect(self.set_views_enlarged)
        self.addAction(self.enlarge_action)
        enlarge_button = QToolButton()
        enlarge_button.setObjectName(f"{self.tab_id}EnlargeViews")
        # The button shows the icon text: the action's own text would be re-applied, and
        # widen the views' minimum, each time it toggles.
        self.enlarge_action.setIconText("Enlarge")
        enlarge_button.setDefaultAction(self.enlarge_action)
        enlarge_button.setAutoRaise(True)
        self.result_tabs.setCornerWidget(enlarge_button, Qt.Corner.TopRightCorner)
        self._sizes_before_enlarging: tuple[list[int], list[int], list[int]] | None = None
        self.views: QTabWidget | None = None  # made by the first add_page
        self._view_pages: dict[QWidget, QWidget] = {}  # add_view's page -> its scroll area

    # -- layout ----------------------------------------------------------------------
    def finish_layout(self, left: QWidget, sizes: tuple[int, int] = (330, 950)) -> None:
        """Put the tab's own column (forms, data) left of the shared controls, plots,
        runs list and views. Call once, at the end of the subclass's constructor."""
        # The buttons go under the list, two to a row, not in a column beside it: at
        # 1024 pixels a column left the list too narrow for its Result ("runn...").
        runs_box = QWidget()
        runs_column = QVBoxLayout(runs_box)
        runs_column.setContentsMargins(0, 0, 0, 0)
        runs_column.addWidget(self.runs_view, 1)
        runs_column.addWidget(self.test_label)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        for i, button in enumerate(self.run_buttons):
            grid.addWidget(button, i // 2, i % 2)
        runs_column.addLayout(grid)
        bottom = splitter(Qt.Orientation.Horizontal, (runs_box, 1), (self.result_tabs, 1))
        plots_box = QWidget()
        plots_layout = QVBoxLayout(plots_box)
        plots_layout.setContentsMargins(0, 0, 0, 0)
        plots_layout.addWidget(self.plots, 1)
        plots_layout.addWidget(self.snapshot_control.timeline)
        vertical = splitter(Qt.Orientation.Vertical, (plots_box, 3), (bottom, 2))
        right = QWidget()
        right_layout = QVBoxLayout(right)
        right_layout.setContentsMargins(4, 0, 0, 0)
        right_layout.addWidget(self.snapshot_control.banner)
        # The ETA and the status line change several times a second while a run trains:
        # fenced, so that their new texts re-lay out only themselves, not the window.
        status_box = QWidget()
        status_layout = QVBoxLayout(status_box)
        status_layout.setContentsMargins(0, 0, 0, 0)
        status_layout.addWidget(self.controls)
        status_layout.addWidget(self.status_label)
        right_layout.addWidget(LayoutFence(status_box))
        right_layout.addWidget(vertical, 1)
        main = splitter(Qt.Orientation.Horizontal, (left, 0), (right, 1), sizes=list(sizes))
        self.main_splitter = main
        self._plots_over_views = vertical
        self._runs_beside_views = bottom
        layout = QVBoxLayout(self)
        layout.setContentsMargins(6, 6, 6, 6)
        layout.addWidget(main)
        self.update_start()

    def set_views_enlarged(self, on: bool) -> None:
        """Give the result views (test results, Inside, ...) most of the tab: the tab's
        form column, the runs list and the plots shrink to their smallest; off restores
        the sizes they had (or the user has dragged since, if no enlarging happened)."""
        if self.enlarge_action.isChecked() != on:
            self.enlarge_action.setChecked(on)  # comes back here through toggled
            return
        splits = (self.main_splitter, self._plots_over_views, self._runs_beside_views)
        if on:
            if self._sizes_before_enlarging is not None:
                return
            self._sizes_before_enlarging = tuple(s.sizes() for s in splits)  # type: ignore[assignment]
            main, vertical, bottom = splits
            total = sum(main.sizes())
            main.setSizes([0, total])  # a part never collapses: 0 means its minimum
            height = sum(vertical.sizes())
            vertical.setSizes([height // 4, height - height // 4])
            bottom.setSizes([0, sum(bottom.sizes())])
        elif self._sizes_before_enlarging is not None:
            for split, sizes in zip(splits, self._sizes_before_enlarging, strict=True):
                split.setSizes(sizes)
            self._sizes_before_enlarging = None

    def add_view(self, widget: QWidget, title: str) -> int:
        """A page next to the result views; returns its index in ``result_tabs``. The
        page scrolls when the window is narrower than it needs (at 1024x700 a wide page
        would otherwise widen the whole window past the screen)."""
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QFrame.Shape.NoFrame)
        scroll.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAsNeeded)
        scroll.setWidget(widget)
        self._view_pages[widget] = scroll
        return self.result_tabs.addTab(scroll, title)

    def show_view(self, widget: QWidget) -> None:
        """Bring a page added with ``add_view`` to the front."""
        self.result_tabs.setCurrentWidget(self._view_pages.get(widget, widget))

    def show_page(self, widget: QWidget) -> None:
        """Bring the page added with ``add_page`` that is or holds ``widget`` to the
        front (a page built on first show sits inside its ``gui.lazy.LazyWidget``)."""
        if self.views is None:
            return
        for i in range(self.views.count()):
            page = self.views.widget(i)
            if page is widget or page.isAncestorOf(widget):
                self.views.setCurrentIndex(i)
                return

    def add_page(self, widget: QWidget, title: str) -> int:
        """A page beside the whole training view; returns its index in ``views``."""
        if self.views is None:
            layout = self.layout()
            layout.removeWidget(self.main_splitter)
            self.views = QTabWidget()
            self.views.setObjectName(f"{self.tab_id}Views")
            self.views.addTab(self.main_splitter, self.main_page_title)
            layout.addWidget(self.views)
        return self.views.addTab(widget, title)

    # -- actions ---------------------------------------------------------------------
    def _build_training_actions(self) -> None:
        def action(text: str, slot, shortcut: str | None = None) -> QAction:
            a = QAction(text, self)
            if shortcut:
                a.setShortcut(QKeySequence(shortcut))
                a.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
                self.addAction(a)
            a.triggered.connect(lambda _checked=False: slot())
            return a

        self.load_action = action("&Load Model Checkpoint…", self.load_checkpoint)
        self.open_snapshot_action = action("Open S&napshot…", self.open_snapshot)
        self.open_snapshot_action.setToolTip(
            "A snapshot a run wrote (--snapshot-dir DIR: DIR/epoch-K), with the run's other "
            "snapshots on its timeline"
        )
        self.save_action = action("&Save Model Checkpoint…", self.save_checkpoint)
        self.test_action = action("Evaluate on the &Test Set", self.evaluate_test, "Ctrl+T")
        self.export_plots_action = action("Export &Plots…", self.export_plots, "Ctrl+E")
        self.export_csv_action = action("Export &Metrics CSV…", self.export_metrics)
        self.export_tb_action = action("Export Runs to Tensor&Board…", self.export_tensorboard)
        self.export_tb_action.setToolTip("Every checked run as a TensorBoard log")
        self.log_action = QAction("&Log Scale Loss", self, checkable=True)
        self.log_action.setShortcut(QKeySequence("Ctrl+L"))
        self.log_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.addAction(self.log_action)
        self.x_iter_action = QAction("Accuracy per &Iteration", self, checkable=True)
        self.plots.when_built(self._connect_plot_actions)

    def _connect_plot_actions(self) -> None:
        """The View menu's plot options and the plots' own controls, kept in step (once
        the plots exist; an option chosen before then applies as they are built)."""
        loss, accuracy = self.plots.loss, self.plots.accuracy
        loss.set_log_scale(self.log_action.isChecked())
        self.log_action.toggled.connect(loss.set_log_scale)
        loss.log_check.toggled.connect(self.log_action.setChecked)
        if self.x_iter_action.isChecked():
            accuracy.set_x_axis("iteration")
        self.x_iter_action.toggled.connect(
            lambda on: accuracy.set_x_axis("iteration" if on else "epoch")
        )
        accuracy.x_combo.currentIndexChanged.connect(
            lambda i: self.x_iter_action.setChecked(i == 1)
        )

    def training_file_actions(self) -> list[QAction | None]:
        """The File menu's shared part (a tab puts its own actions before it)."""
        return [
            self.load_action,
            self.open_snapshot_action,
            self.save_action,
            self.test_action,
            None,
            self.export_plots_action,
            self.export_csv_action,
            self.export_tb_action,
        ]

    def training_view_actions(self) -> list[QAction | None]:
        return [self.log_action, self.x_iter_action, self.enlarge_action]
