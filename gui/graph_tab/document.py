"""The open graph as a document: its file, whether it has unsaved changes, recent files,
and open / save / save-as with every failure reported and nothing lost.

Loading replaces the graph's content through ``Graph.replace_with``, so the scene
rebuilds itself from the same events as any edit. The undo stack is cleared, since
its commands belong to the previous graph.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, QSettings, Signal
from PySide6.QtGui import QUndoStack
from PySide6.QtWidgets import QMessageBox, QWidget

from graph import fileformat
from graph.errors import GraphError
from graph.model import Graph
from gui import dialogs, file_dialogs

RECENT_KEY = "graph/recent_files"
MAX_RECENT = 8
#: The largest graph the tab draws. Each node costs about 2.5 ms to draw on a 2-core
#: machine (its items, ports and labels), so 5,000 nodes open in about 12 s; larger
#: graphs are refused at once with a pointer to the command line, which evaluates
#: 200,000 nodes in well under a second.
MAX_TAB_NODES = 5_000


class GraphDocument(QObject):
    #: file name or modified state changed (for the title label)
    changed = Signal()
    #: recent files changed (menus are rebuilt)
    recent_changed = Signal()
    #: status bar text, timeout ms
    status = Signal(str, int)

    def __init__(
        self,
        graph: Graph,
        stack: QUndoStack,
        settings: QSettings,
        parent_widget: QWidget,
    ) -> None:
        super().__init__(parent_widget)
        self.graph = graph
        self.stack = stack
        self.settings = settings
        self.widget = parent_widget
        self.path: Path | None = None
        #: the name of a document without a file (an example, a program's graph)
        self.name: str | None = None
        #: unsaved content that the undo stack does not show (an import, a restore)
        self._modified_extra = False
        stack.cleanChanged.connect(lambda _clean: self.changed.emit())

    # -- state -------------------------------------------------------------------------
    @property
    def modified(self) -> bool:
        return self._modified_extra or not self.stack.isClean()

    def display_name(self) -> str:
        if self.path is not None:
            return self.path.name
        return self.name or "untitled"

    def title(self) -> str:
        return self.display_name() + (" •" if self.modified else "")

    # -- replacing the content -----------------------------------------------------------
    def adopt(
        self, new: Graph, path: Path | None, modified: bool = False, name: str | None = None
    ) -> None:
        """Show ``new`` (a loaded file, an example, an import) as the document; ``name``
        is shown for a document without a file."""
        self.graph.replace_with(new)
        self.stack.clear()
        self.stack.setClean()
        self.path = path
        self.name = name
        self._modified_extra = modified
        if path is not None:
            self.add_recent(path)
        self.changed.emit()

    def new(self) -> bool:
        if not self.maybe_discard("start a new graph"):
            return False
        self.adopt(Graph(), None)
        self.status.emit("New graph: drag ops from the palette, or press Tab on the canvas.", 6000)
        return True

    def open(self, path: Path) -> bool:
        """Open a graph file or a Python program; on failure the current graph stays."""
        path = Path(path)
        if not self.maybe_discard(f"open {path.name}"):
            return False
        too_big = _too_many_nodes(path)
        try:
            if too_big is None:
                loaded = fileformat.load_any(path)
                too_big = len(loaded) if len(loaded) > MAX_TAB_NODES else None
        except GraphError as exc:
            self.report_error("Cannot open the graph", f"{exc}", str(path))
            return False
        if too_big is not None:
            self.report_error(
                "Graph too large for the tab",
                f"{path.name} has about {too_big:,} nodes; the Graph tab draws at most "
                f"{MAX_TAB_NODES:,}. Evaluate it with: backprop-explorer graph eval {path}",
                str(path),
            )
            return False
        is_program = path.suffix.lower() == ".py" or not _looks_like_json(path)
        if is_program:
            # A program is a source, not a graph file: Save asks where to put the graph.
            from gui.graph_tab.editor import relayout

            relayout(loaded)
            self.adopt(loaded, None, modified=True, name=path.stem)
            self.add_recent(path)
        else:
            self.adopt(loaded, path)
        self.status.emit(f"Opened {path.name} ({len(loaded)} nodes).", 5000)
        return True

    # -- saving --------------------------------------------------------------------------
    def save(self) -> bool:
        if self.path is None:
            return self.save_as()
        return self.save_to(self.path)

    def save_as(self) -> bool:
        path = self.ask_save_path()
        if path is None:
            return False
        if path.suffix == "":
            path = path.with_suffix(".json")
        return self.save_to(path)

    def save_to(self, path: Path) -> bool:
        """Save atomically; on failure the old file is untouched and the error shown."""
        try:
            fileformat.save(self.graph, path)
        except GraphError as exc:
            self.report_error("Cannot save the graph", str(exc), str(path))
            return False
        self.path = Path(path)
        self._modified_extra = False
        self.stack.setClean()
        self.add_recent(self.path)
        self.changed.emit()
        self.status.emit(f"Saved {self.path.name}.", 5000)
        return True

    def maybe_discard(self, doing: str = "continue") -> bool:
        """True if the current graph may be replaced: saved, or the user says so."""
        if not self.modified:
            return True
        buttons = (
            QMessageBox.StandardButton.Save
            | QMessageBox.StandardButton.Discard
            | QMessageBox.StandardButton.Cancel
        )
        answer = dialogs.ask(
            self.widget,
            "Unsaved changes",
            f"The graph {self.display_name()} has unsaved changes.\nSave them before you {doing}?",
            buttons,
            QMessageBox.StandardButton.Save,
        )
        if answer == QMessageBox.StandardButton.Save:
            return self.save()
        return answer == QMessageBox.StandardButton.Discard

    # -- dialogs (small methods, so tests can replace them) -------------------------------
    def ask_save_path(self) -> Path | None:
        folder = self.path.parent if self.path is not None else None
        stem = self.path.stem if self.path is not None else (self.name or "graph")
        return file_dialogs.save_file(
            self.widget,
            self.settings,
            "graph",
            "Save graph",
            f"{stem}.json",
            "Graph files (*.json)",
            folder,
        )

    def ask_open_path(self) -> Path | None:
        return file_dialogs.open_file(
            self.widget,
            self.settings,
            "graph",
            "Open graph",
            "Graphs and programs (*.json *.py);;Graph files (*.json);;Python programs (*.py)",
        )

    def report_error(self, title: str, message: str, detail: str = "") -> None:
        self.status.emit(message, 10000)
        dialogs.show_error(self.widget, title, message, detail)

    # -- recent files --------------------------------------------------------------------
    def recent_files(self) -> list[Path]:
        raw = self.settings.value(RECENT_KEY, [])
        if isinstance(raw, str):
            raw = [raw]
        if not isinstance(raw, list):
            return []
        return [Path(p) for p in raw if isinstance(p, str) and p]

    def add_recent(self, path: Path) -> None:
        text = str(Path(path).resolve())
        items = [str(p) for p in self.recent_files() if str(p) != text]
        self.settings.setValue(RECENT_KEY, [text, *items][:MAX_RECENT])
        self.recent_changed.emit()

    def clear_recent(self) -> None:
        self.settings.setValue(RECENT_KEY, [])
        self.recent_changed.emit()


def _too_many_nodes(path: Path) -> int | None:
    """A quick count from the file's text, before parsing it: every node of a graph file
    has an ``"op"`` key and every statement of a program makes at least one node. None
    when the file is within the limit (or cannot be read: the loader says why)."""
    try:
        if not path.is_file() or path.stat().st_size > fileformat.MAX_FILE_BYTES:
            return None
        raw = path.read_bytes()
    except OSError:
        return None
    count = raw.count(b'"op"') if raw.lstrip().startswith(b"{") else raw.count(b"=")
    return count if count > MAX_TAB_NODES else None


def _looks_like_json(path: Path) -> bool:
    if path.suffix.lower() == ".json":
        return True
    if not path.is_file():  # a FIFO would block the GUI thread; the loader refuses it
        return False
    try:
        with open(path, "rb") as f:
            return f.read(256).lstrip().startswith(b"{")
    except OSError:
        return False
