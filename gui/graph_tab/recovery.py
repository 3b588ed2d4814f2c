"""Offering the graph of a crashed session: the banner over the canvas, restore, discard."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from graph import fileformat
from graph.errors import GraphError
from gui.graph_tab import autosave
from gui.graph_tab.banner import RestoreBanner
from gui.graph_tab.document import GraphDocument


class CrashRecovery:
    """Finds what dead sessions left in ``directory`` and offers the newest graph."""

    def __init__(
        self,
        banner: RestoreBanner,
        document: GraphDocument,
        directory: Path,
        restored: Callable[[], None],
    ) -> None:
        self.banner = banner
        self.document = document
        self.directory = directory
        self._restored = restored
        self.sessions: list[autosave.CrashedSession] = []
        banner.restore_clicked.connect(self.restore)
        banner.discard_clicked.connect(self.discard)

    def offer(self) -> bool:
        """Show the banner if a crashed session left a graph; True if it did."""
        self.sessions = autosave.find_crashed(self.directory)
        with_graph = [s for s in self.sessions if s.has_graph]
        if not with_graph:
            self.discard()  # markers without a graph: nothing worth offering
            return False
        newest = with_graph[0]
        when = time.strftime("%H:%M on %d %b", time.localtime(newest.saved_at))
        name = newest.original.name if newest.original else "an untitled graph"
        self.banner.offer(
            f"The app did not close cleanly last time. Restore the unsaved changes to "
            f"<b>{name}</b> autosaved at {when}?"
        )
        return True

    def restore(self) -> bool:
        with_graph = [s for s in self.sessions if s.has_graph]
        if not with_graph:
            self.banner.hide()
            return False
        if not self.document.maybe_discard("restore the autosaved graph"):
            return False
        newest = with_graph[0]
        try:
            graph = fileformat.load(newest.autosave)
        except GraphError as exc:
            self.document.report_error("Cannot restore the autosave", str(exc))
            return False
        # Shown as unsaved changes to the original file, which is not overwritten yet.
        self.document.adopt(graph, newest.original, modified=True)
        self.discard()
        self._restored()
        return True

    def discard(self) -> None:
        autosave.discard(self.sessions)
        self.sessions = []
        self.banner.hide()
