"""The table of classified images: thumbnail, file, top-1, probability, mark.

Rows are added as soon as files are found ("waiting"), then filled in one by one as the
worker's results arrive. Hovering a row shows its top-5 (or its error) as a tooltip.
"""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from pathlib import Path

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPixmap
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from gui.classify_tab.top_chart import Prediction, format_prob

THUMB_SIZE = 44

WAITING = "waiting"
DONE = "done"
ERROR = "error"
CANCELLED = "cancelled"

REASONABLE = "reasonable"
UNREASONABLE = "unreasonable"

COLUMNS = ("", "File", "Top-1", "Probability", "Mark")
COL_THUMB, COL_FILE, COL_TOP1, COL_PROB, COL_MARK = range(len(COLUMNS))

_ERROR_COLOR = QColor(200, 40, 40)
_MUTED_COLOR = QColor(128, 128, 128)
_MARK_COLORS = {REASONABLE: QColor(30, 140, 60), UNREASONABLE: QColor(200, 90, 20)}


@dataclass
class Row:
    """One image of the table. ``key`` is unique (the path, or ``pasted:N``)."""

    key: str
    name: str
    path: Path | None = None
    data: bytes | None = None  # an image pasted from the clipboard (no file)
    status: str = WAITING
    top: list[Prediction] = field(default_factory=list)
    error: str = ""
    thumb: QPixmap | None = None
    mark: str | None = None
    model: str = ""


class BatchTableModel(QAbstractTableModel):
    """Rows of ``Row``; the tab adds rows and updates them by key."""

    def __init__(self, parent=None) -> None:
        super().__init__(parent)
        self._rows: list[Row] = []
        self._index: dict[str, int] = {}

    # -- access ----------------------------------------------------------------------
    def rows(self) -> list[Row]:
        return list(self._rows)

    def row(self, number: int) -> Row:
        return self._rows[number]

    def find(self, key: str) -> int:
        """The row number of ``key``, or -1."""
        return self._index.get(key, -1)

    def row_for(self, key: str) -> Row | None:
        number = self.find(key)
        return self._rows[number] if number >= 0 else None

    def count(self, status: str) -> int:
        return sum(1 for r in self._rows if r.status == status)

    # -- changes ---------------------------------------------------------------------
    def add_rows(self, rows: list[Row]) -> list[Row]:
        """Append rows whose key is new; a key already present is reset to waiting.

        Returns the rows now waiting (one per distinct key), in the order given.
        """
        unique: dict[str, Row] = {}
        for r in rows:
            unique.setdefault(r.key, r)
        fresh = [r for key, r in unique.items() if key not in self._index]
        for key, r in unique.items():
            number = self._index.get(key)
            if number is not None:
                old = self._rows[number]
                old.status, old.error = WAITING, ""
                if r.data is not None:
                    old.data = r.data
                self._changed(number)
        if fresh:
            start = len(self._rows)
            self.beginInsertRows(QModelIndex(), start, start + len(fresh) - 1)
            for offset, r in enumerate(fresh):
                self._index[r.key] = start + offset
                self._rows.append(r)
            self.endInsertRows()
        return [self._rows[self._index[key]] for key in unique]

    def set_result(
        self, key: str, top: list[Prediction], thumb: QPixmap | None, model: str = ""
    ) -> None:
        number = self.find(key)
        if number < 0:
            return
        row = self._rows[number]
        row.status, row.top, row.error, row.model = DONE, list(top), "", model
        if thumb is not None:
            row.thumb = thumb
        self._changed(number)

    def set_error(self, key: str, message: str) -> None:
        number = self.find(key)
        if number < 0:
            return
        row = self._rows[number]
        row.status, row.error, row.top = ERROR, message, []
        self._changed(number)

    def mark_cancelled(self) -> int:
        """Rows still waiting become "cancelled"; returns how many."""
        changed = 0
        for number, row in enumerate(self._rows):
            if row.status == WAITING:
                row.status = CANCELLED
                self._changed(number)
                changed += 1
        return changed

    def set_mark(self, key: str, mark: str | None) -> None:
        number = self.find(key)
        if number >= 0:
            self._rows[number].mark = mark
            self._changed(number)

    def clear(self) -> None:
        self.beginResetModel()
        self._rows.clear()
        self._index.clear()
        self.endResetModel()

    def _changed(self, number: int) -> None:
        self.dataChanged.emit(self.index(number, 0), self.index(number, len(COLUMNS) - 1))

    # -- Qt model --------------------------------------------------------------------
    def rowCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: QModelIndex | QPersistentModelIndex = QModelIndex()) -> int:
        return 0 if parent.isValid() else len(COLUMNS)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = 0):
        if role == Qt.ItemDataRole.DisplayRole and orientation == Qt.Orientation.Horizontal:
            return COLUMNS[section]
        return None

    def data(self, index: QModelIndex | QPersistentModelIndex, role: int = 0):
        if not index.isValid():
            return None
        row = self._rows[index.row()]
        column = index.column()
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(row, column)
        if role == Qt.ItemDataRole.DecorationRole and column == COL_THUMB:
            return row.thumb
        if role == Qt.ItemDataRole.ToolTipRole:
            return tooltip(row)
        if role == Qt.ItemDataRole.ForegroundRole:
            if row.status == ERROR and column == COL_TOP1:
                return QBrush(_ERROR_COLOR)
            if row.status in (WAITING, CANCELLED) and column in (COL_TOP1, COL_PROB):
                return QBrush(_MUTED_COLOR)
            if column == COL_MARK and row.mark in _MARK_COLORS:
                return QBrush(_MARK_COLORS[row.mark])
        if role == Qt.ItemDataRole.TextAlignmentRole and column == COL_PROB:
            return int(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        return None

    @staticmethod
    def _display(row: Row, column: int) -> str | None:
        if column == COL_FILE:
            return row.name
        if column == COL_TOP1:
            if row.status == DONE and row.top:
                return row.top[0][1]
            if row.status == ERROR:
                return row.error
            return "cancelled" if row.status == CANCELLED else "waiting..."
        if column == COL_PROB:
            return format_prob(row.top[0][2]) if row.status == DONE and row.top else ""
        if column == COL_MARK:
            return row.mark or ""
        return None


def tooltip(row: Row) -> str:
    """Rich-text tooltip: the file and its top-5, or its error."""
    title = html.escape(str(row.path) if row.path is not None else row.name)
    if row.status == ERROR:
        return f"<b>{title}</b><br>{html.escape(row.error)}"
    if row.status != DONE:
        return f"<b>{title}</b><br>{row.status}"
    lines = "".join(
        f"<tr><td align='right'>{format_prob(p)}</td><td>&nbsp;{html.escape(label)}</td></tr>"
        for _i, label, p in row.top
    )
    model = f"<br><i>{html.escape(row.model)}</i>" if row.model else ""
    return f"<b>{title}</b><table>{lines}</table>{model}"


class BatchTable(QTableView):
    """The view: thumbnails in the first column, one row per image, whole-row selection."""

    def __init__(self, model: BatchTableModel, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("batchTable")
        self.setModel(model)
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.setIconSize(QSize(THUMB_SIZE, THUMB_SIZE))
        self.setAlternatingRowColors(True)
        self.setTextElideMode(Qt.TextElideMode.ElideMiddle)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.verticalHeader().setDefaultSectionSize(THUMB_SIZE + 6)
        header = self.horizontalHeader()
        header.setSectionResizeMode(COL_THUMB, QHeaderView.ResizeMode.Fixed)
        header.resizeSection(COL_THUMB, THUMB_SIZE + 10)
        # The File column fits its names (up to half the table); Top-1 takes the rest and
        # wraps long class names onto a second line.
        header.setSectionResizeMode(COL_FILE, QHeaderView.ResizeMode.Interactive)
        header.resizeSection(COL_FILE, 170)
        header.setSectionResizeMode(COL_TOP1, QHeaderView.ResizeMode.Stretch)
        self.setWordWrap(True)
        model.rowsInserted.connect(self._fit_file_column)
        model.modelReset.connect(self._fit_file_column)
        header.setSectionResizeMode(COL_PROB, QHeaderView.ResizeMode.ResizeToContents)
        header.setSectionResizeMode(COL_MARK, QHeaderView.ResizeMode.ResizeToContents)

    def _fit_file_column(self, *_args) -> None:
        """Widen the File column to its longest name, up to half the table's width."""
        model = self.model()
        metrics = self.fontMetrics()
        names = (model.data(model.index(r, COL_FILE)) or "" for r in range(model.rowCount()))
        need = max((metrics.horizontalAdvance(n) for n in names), default=0) + 16
        limit = max(170, self.viewport().width() // 2)
        self.horizontalHeader().resizeSection(COL_FILE, max(120, min(need, limit)))
