"""The runs list: every training run with its settings, status, colour and visibility.

``RunsModel`` (a ``QAbstractTableModel``) owns ``Run`` objects; plots and views follow
its signals. ``RunsView`` shows it with check boxes (show/hide), colour swatches, inline
rename (double-click or F2), delete and a context menu.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import (
    QAbstractTableModel,
    QItemSelectionModel,
    QModelIndex,
    QPersistentModelIndex,
    Qt,
    Signal,
)
from PySide6.QtGui import QAction, QColor, QIcon, QKeySequence, QPixmap
from PySide6.QtWidgets import (
    QAbstractItemView,
    QColorDialog,
    QHBoxLayout,
    QHeaderView,
    QMenu,
    QPushButton,
    QTableView,
    QVBoxLayout,
    QWidget,
)

from gui.training.series import RunMetrics

#: Statuses a run can have. "diverged" and "failed" carry a reason.
STATUSES = ("running", "paused", "finished", "stopped", "diverged", "failed", "loaded")

# Colour-blind-friendly palette (Okabe-Ito, then Tableau) cycled for new runs.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#F0E442",
    "#000000",
    "#8C564B",
    "#7F7F7F",
)

_COLUMNS = ("Run", "Status", "Result")


@dataclass(eq=False)
class Run:
    """One training run. ``payload`` is the tab's own object (e.g. the trained model);
    the widgets never look inside it."""

    run_id: int
    name: str
    settings: dict[str, Any]
    color: QColor
    status: str = "running"
    reason: str = ""
    visible: bool = True
    metrics: RunMetrics = field(default_factory=RunMetrics)
    payload: Any = None
    result: str = ""  # a short summary for the list, e.g. "val 48.2%"

    def settings_text(self) -> str:
        return ", ".join(f"{k}={v}" for k, v in self.settings.items())

    def status_text(self) -> str:
        return f"{self.status}: {self.reason}" if self.reason else self.status


class RunsModel(QAbstractTableModel):
    """Runs in creation order. Signals carry ``run_id``s.

    ``run_added(id)``, ``run_removed(id)``, ``run_changed(id)`` (name, status, colour,
    visibility or result changed; metrics changes are polled by the plots instead).
    """

    run_added = Signal(int)
    run_removed = Signal(int)
    run_changed = Signal(int)

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._runs: list[Run] = []
        self._ids = itertools.count(1)
        self._colors = itertools.cycle(PALETTE)

    # -- Python API ------------------------------------------------------------------
    def add_run(
        self,
        name: str,
        settings: dict[str, Any] | None = None,
        *,
        status: str = "running",
        payload: Any = None,
        color: QColor | str | None = None,
        metrics: RunMetrics | None = None,
    ) -> Run:
        """Append a run and return it (with a fresh id and the next palette colour)."""
        _check_status(status)
        run = Run(
            run_id=next(self._ids),
            name=name,
            settings=dict(settings or {}),
            color=QColor(color if color is not None else next(self._colors)),
            status=status,
            payload=payload,
            metrics=metrics if metrics is not None else RunMetrics(),
        )
        row = len(self._runs)
        self.beginInsertRows(QModelIndex(), row, row)
        self._runs.append(run)
        self.endInsertRows()
        self.run_added.emit(run.run_id)
        return run

    def remove_run(self, run_id: int) -> None:
        row = self.row_of(run_id)
        if row is None:
            return
        self.beginRemoveRows(QModelIndex(), row, row)
        del self._runs[row]
        self.endRemoveRows()
        self.run_removed.emit(run_id)

    def run(self, run_id: int) -> Run | None:
        row = self.row_of(run_id)
        return None if row is None else self._runs[row]

    def runs(self) -> list[Run]:
        return list(self._runs)

    def __iter__(self) -> Iterator[Run]:
        return iter(list(self._runs))

    def __len__(self) -> int:
        return len(self._runs)

    def row_of(self, run_id: int) -> int | None:
        for row, run in enumerate(self._runs):
            if run.run_id == run_id:
                return row
        return None

    def next_name(self, prefix: str = "run") -> str:
        names = {run.name for run in self._runs}
        for i in itertools.count(len(self._runs) + 1):
            if f"{prefix} {i}" not in names:
                return f"{prefix} {i}"
        raise AssertionError("unreachable")

    def set_status(self, run_id: int, status: str, reason: str = "") -> None:
        _check_status(status)
        self._update(run_id, status=status, reason=reason)

    def rename(self, run_id: int, name: str) -> bool:
        name = name.strip()
        if not name:
            return False
        self._update(run_id, name=name)
        return True

    def set_visible(self, run_id: int, visible: bool) -> None:
        self._update(run_id, visible=bool(visible))

    def set_color(self, run_id: int, color: QColor | str) -> None:
        self._update(run_id, color=QColor(color))

    def set_result(self, run_id: int, result: str) -> None:
        self._update(run_id, result=result)

    def set_payload(self, run_id: int, payload: Any) -> None:
        run = self.run(run_id)
        if run is not None:
            run.payload = payload

    def _update(self, run_id: int, **changes: Any) -> None:
        row = self.row_of(run_id)
        if row is None:
            return
        run = self._runs[row]
        if all(getattr(run, key) == value for key, value in changes.items()):
            return  # nothing to repaint
        for key, value in changes.items():
            setattr(run, key, value)
        self.dataChanged.emit(self.index(row, 0), self.index(row, len(_COLUMNS) - 1))
        self.run_changed.emit(run_id)

    # -- Qt model --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._runs)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(_COLUMNS)

    def headerData(self, section: int, orientation, role=Qt.ItemDataRole.DisplayRole):
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole:
            return _COLUMNS[section]
        return None

    def flags(self, index):
        base = Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable
        if index.column() == 0:
            base |= Qt.ItemFlag.ItemIsEditable | Qt.ItemFlag.ItemIsUserCheckable
        return base

    def data(self, index, role=Qt.ItemDataRole.DisplayRole):
        if not index.isValid() or index.row() >= len(self._runs):
            return None
        run = self._runs[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.UserRole:
            return run.run_id
        if role == Qt.ItemDataRole.ToolTipRole:
            lines = [f"<b>{_escape(run.name)}</b>", _escape(run.status_text())]
            if run.result:
                lines.append(_escape(run.result))
            lines += [f"{_escape(k)} = {_escape(str(v))}" for k, v in run.settings.items()]
            return "<br>".join(lines)
        if column == 0:
            if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.EditRole):
                return run.name
            if role == Qt.ItemDataRole.CheckStateRole:
                return Qt.CheckState.Checked if run.visible else Qt.CheckState.Unchecked
            if role == Qt.ItemDataRole.DecorationRole:
                return _swatch(run.color)
        elif column == 1:
            if role == Qt.ItemDataRole.DisplayRole:
                return run.status
            if role == Qt.ItemDataRole.ForegroundRole and run.status in ("diverged", "failed"):
                return QColor("#c0392b")
        elif column == 2 and role == Qt.ItemDataRole.DisplayRole:
            return run.result
        return None

    def setData(self, index, value, role=Qt.ItemDataRole.EditRole) -> bool:
        if not index.isValid() or index.column() != 0:
            return False
        run = self._runs[index.row()]
        if role == Qt.ItemDataRole.CheckStateRole:
            checked = value in (Qt.CheckState.Checked, Qt.CheckState.Checked.value, 2, True)
            self.set_visible(run.run_id, checked)
            return True
        if role == Qt.ItemDataRole.EditRole:
            return self.rename(run.run_id, str(value))
        return False


def _check_status(status: str) -> None:
    if status not in STATUSES:
        raise ValueError(f"unknown run status {status!r}; expected one of {', '.join(STATUSES)}")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _swatch(color: QColor) -> QIcon:
    pixmap = QPixmap(12, 12)
    pixmap.fill(color)
    return QIcon(pixmap)


class RunsView(QWidget):
    """A table of the runs with Delete and a context menu (rename, colour, show/hide).

    ``selected_run_changed(int)`` carries the selected run's id, or 0 when none is.
    ``delete_requested(int)``: the user asked to delete a run; if no slot is connected to
    it (``confirm_delete`` is False) the run is removed at once. A tab that must refuse
    (the run is still training) sets ``can_delete`` to a callable ``run_id -> str`` that
    returns "" to allow or the reason to refuse.
    """

    selected_run_changed = Signal(int)
    delete_refused = Signal(str)

    def __init__(self, model: RunsModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.model = model
        self.can_delete = lambda _run_id: ""
        self.table = QTableView()
        self.table.setObjectName("runsTable")
        self.table.setModel(model)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.table.setEditTriggers(
            QAbstractItemView.EditTrigger.DoubleClicked
            | QAbstractItemView.EditTrigger.EditKeyPressed
        )
        self.table.verticalHeader().hide()
        self.table.setShowGrid(False)
        self.table.setAlternatingRowColors(True)
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setSectionResizeMode(1, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(2, QHeaderView.ResizeMode.ResizeToContents)
        self.table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.table.customContextMenuRequested.connect(self._context_menu)
        self.table.selectionModel().currentRowChanged.connect(self._on_current_changed)
        self.table.setToolTip("Tick to show a run in the plots; double-click a name to rename")
        # Wide enough for a typical row ("run 12 +", "finished", "val 100.0%") so that the
        # splitter never squeezes the Result column out of sight ("val" alone, or nothing).
        fm = self.table.fontMetrics()
        typical = ("☑ ■ run 12 +", "finished", "val 100.0%")
        self.table.setMinimumWidth(sum(fm.horizontalAdvance(t) + 24 for t in typical) + 4)

        self.delete_button = QPushButton("Delete")
        self.delete_button.setToolTip("Delete the selected run (Del)")
        self.delete_button.clicked.connect(self.delete_selected)
        self.delete_action = QAction("Delete Run", self)
        self.delete_action.setShortcut(QKeySequence(QKeySequence.StandardKey.Delete))
        self.delete_action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        self.delete_action.triggered.connect(self.delete_selected)
        self.table.addAction(self.delete_action)

        buttons = QHBoxLayout()
        buttons.setContentsMargins(0, 0, 0, 0)
        buttons.addStretch(1)
        buttons.addWidget(self.delete_button)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.table, 1)
        layout.addLayout(buttons)

        model.rowsInserted.connect(self._update_buttons)
        model.rowsRemoved.connect(self._on_rows_removed)
        self._update_buttons()

    def selected_run_id(self) -> int:
        index = self.table.selectionModel().currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(index.row()):
            return 0
        return int(self.model.data(self.model.index(index.row(), 0), Qt.ItemDataRole.UserRole))

    def select_run(self, run_id: int) -> None:
        row = self.model.row_of(run_id)
        if row is None:
            self.table.clearSelection()
            return
        self.table.selectionModel().setCurrentIndex(
            self.model.index(row, 0),
            QItemSelectionModel.SelectionFlag.ClearAndSelect
            | QItemSelectionModel.SelectionFlag.Rows,
        )

    def delete_selected(self) -> None:
        run_id = self.selected_run_id()
        if run_id:
            self.delete_run(run_id)

    def delete_run(self, run_id: int) -> bool:
        reason = self.can_delete(run_id)
        if reason:
            self.delete_refused.emit(reason)
            return False
        self.model.remove_run(run_id)
        return True

    def _on_current_changed(self, current: QModelIndex, _previous: QModelIndex) -> None:
        self._update_buttons()
        self.selected_run_changed.emit(self.selected_run_id() if current.isValid() else 0)

    def _on_rows_removed(self) -> None:
        self._update_buttons()
        self.selected_run_changed.emit(self.selected_run_id())

    def _update_buttons(self) -> None:
        self.delete_button.setEnabled(bool(self.selected_run_id()))

    def _context_menu(self, pos) -> None:
        index = self.table.indexAt(pos)
        if not index.isValid():
            return
        run_id = int(self.model.data(self.model.index(index.row(), 0), Qt.ItemDataRole.UserRole))
        run = self.model.run(run_id)
        if run is None:
            return
        menu = QMenu(self)
        menu.addAction("Hide" if run.visible else "Show").triggered.connect(
            lambda: self.model.set_visible(run_id, not run.visible)
        )
        menu.addAction("Rename").triggered.connect(
            lambda: self.table.edit(self.model.index(index.row(), 0))
        )
        menu.addAction("Colour...").triggered.connect(lambda: self._pick_color(run_id))
        menu.addSeparator()
        menu.addAction("Delete").triggered.connect(lambda: self.delete_run(run_id))
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def _pick_color(self, run_id: int) -> None:
        run = self.model.run(run_id)
        if run is None:
            return
        dialog = QColorDialog(run.color, self)
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.colorSelected.connect(lambda color: self.model.set_color(run_id, color))
        dialog.open()


def format_percent(value: float) -> str:
    return "-" if not math.isfinite(value) else f"{100 * value:.1f}%"
