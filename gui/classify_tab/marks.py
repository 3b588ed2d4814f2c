"""Marks ("reasonable" / "unreasonable") on the Classify tab's images and the report export.

``Marks`` keeps the mark buttons in step with the current image and writes one report
figure per marked image (photo and top-5) into a folder the user picks; the photos are
opened in a worker, the figures painted and written atomically in the GUI thread.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal

from gui import dialogs
from gui.classify_tab import jobs
from gui.classify_tab.batch import count
from gui.classify_tab.batch_table import DONE, REASONABLE, UNREASONABLE, Row
from gui.classify_tab.report import figure_name, render_report
from gui.classify_tab.slots import WorkerSlot
from gui.files import atomic_write_bytes, png_bytes

if TYPE_CHECKING:
    from gui.classify_tab.tab import ClassifyTab


class Marks(QObject):
    """Marks and report figures of a ``ClassifyTab`` (see the module docstring)."""

    #: report figures written (their paths)
    exported = Signal(list)

    def __init__(self, tab: ClassifyTab) -> None:
        super().__init__(tab)
        self.tab = tab
        self.view = tab.view
        self.slot = WorkerSlot(
            lambda: tab.context.workers,
            "classify-report",
            lambda message, tb: tab.report_failure("Export failed", message, tb),
            self,
        )
        self.view.reasonable_button.clicked.connect(lambda: self.set(REASONABLE, toggle=True))
        self.view.unreasonable_button.clicked.connect(lambda: self.set(UNREASONABLE, toggle=True))
        self.view.export_button.clicked.connect(self.export)

    def set(self, mark: str | None, toggle: bool = False) -> None:
        """Mark the current image "reasonable" / "unreasonable" (None clears it)."""
        table_model, key = self.view.table_model, self.tab.current.key()
        if key is None or table_model.find(key) < 0:
            self.sync_buttons()
            return
        row = table_model.row_for(key)
        if toggle and row is not None and row.mark == mark:
            mark = None
        table_model.set_mark(key, mark)
        self.sync_buttons()
        self.tab.batch.update_label()
        self.tab.update_enabled()

    def sync_buttons(self) -> None:
        key = self.tab.current.key()
        row = self.view.table_model.row_for(key) if key is not None else None
        mark = row.mark if row is not None else None
        self.view.reasonable_button.setChecked(mark == REASONABLE)
        self.view.unreasonable_button.setChecked(mark == UNREASONABLE)

    def marked_rows(self) -> list[Row]:
        return [r for r in self.view.table_model.rows() if r.mark and r.status == DONE]

    def export(self) -> None:
        """Write one PNG per marked image (photo + top-5) into a folder the user picks."""
        rows = self.marked_rows()
        if not rows:
            dialogs.show_error(
                self.tab,
                "Nothing to export",
                "Mark at least one classified image as Reasonable or Unreasonable first "
                "(buttons above the photo, or the R and U keys).",
            )
            return
        if self.slot.busy:
            return
        folder = self.tab._ask_export_dir()
        if folder is None:
            return
        if not folder.exists():
            # A folder typed in that does not exist yet is made (with its parents).
            try:
                folder.mkdir(parents=True)
            except OSError as exc:
                message = f"cannot create {folder}: {exc.strerror or exc}"
                dialogs.show_error(self.tab, "Export failed", message)
                return
        if not folder.is_dir():
            dialogs.show_error(self.tab, "Export failed", f"{folder} is not a folder")
            return
        by_key = {r.key: r for r in rows}
        sources = [jobs.Source(r.key, r.name, r.path, r.data) for r in rows]
        written: list[Path] = []
        problems: list[str] = []
        taken: set[str] = set()
        model_title = self.tab.models.title

        def on_item(item: Any) -> None:
            if isinstance(item, jobs.FileError):
                problems.append(item.message)
                return
            row = by_key[item.key]
            target = folder / figure_name(row.name, row.mark or "", taken)
            try:
                figure = render_report(
                    item.photo,
                    row.top,
                    row.mark or "",
                    row.name,
                    row.model or model_title,
                    heat=item.heat,
                )
                atomic_write_bytes(target, png_bytes(figure))
                written.append(target)
            except OSError as exc:
                problems.append(f"cannot write {target}: {exc.strerror or exc}")

        def on_done(_status: str) -> None:
            self.tab.update_enabled()
            if written:
                figures = count(len(written), "report figure")
                self.tab.status_message.emit(f"Wrote {figures} to {folder}", 10000)
            if problems:
                dialogs.show_error(
                    self.tab,
                    "Some figures were not written",
                    f"{len(problems)} of {len(rows)} figures could not be written.",
                    "\n".join(problems),
                )
            self.exported.emit(written)

        classes = {r.key: int(r.top[0][0]) for r in rows if r.top}
        self.slot.start(jobs.report_job(sources, self.tab.models.model, classes), on_item, on_done)
        self.tab.update_enabled()
