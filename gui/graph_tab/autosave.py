"""Autosave and crash recovery.

While the Graph tab is open, a small marker file ``graph-session-<pid>.json`` says the
session is running, and every few seconds an unsaved graph is written (atomically) to
``graph-autosave-<pid>.json`` in the user state folder. A clean exit deletes both. On
the next start, a marker whose process is gone means that session crashed or was
killed: its autosave is offered for restoring.
"""

from __future__ import annotations

import json
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import platformdirs
from PySide6.QtCore import QObject, QTimer, Signal

from graph import fileformat
from graph.errors import GraphError
from graph.model import Graph
from nets.fileio import process_alive

APP_NAME = "backprop-explorer"
INTERVAL_MS = 4000
#: Without a way to ask whether a process lives (Windows), a marker not refreshed for
#: this long belongs to a dead session.
HEARTBEAT_TIMEOUT_S = 60.0


def state_dir() -> Path:
    """The user state folder for autosaves (tests point XDG_STATE_HOME elsewhere)."""
    return Path(platformdirs.user_state_dir(APP_NAME, appauthor=False))


@dataclass(frozen=True)
class CrashedSession:
    """What a dead session left behind."""

    marker: Path
    autosave: Path
    pid: int
    saved_at: float
    original: Path | None

    @property
    def has_graph(self) -> bool:
        return self.autosave.is_file()


def find_crashed(directory: Path | None = None) -> list[CrashedSession]:
    """Sessions whose marker is left but whose process is gone, newest autosave first."""
    folder = directory or state_dir()
    found = []
    try:
        markers = sorted(folder.glob("graph-session-*.json"))
    except OSError:
        return []
    for marker in markers:
        try:
            pid = int(marker.stem.rsplit("-", 1)[1])
        except (IndexError, ValueError):
            continue
        try:
            info = json.loads(marker.read_text(encoding="utf-8"))
            if not isinstance(info, dict):
                info = {}
            beat = marker.stat().st_mtime
        except (OSError, ValueError):
            info, beat = {}, 0.0
        alive = process_alive(pid)
        if alive and sys.platform == "win32":
            alive = time.time() - beat < HEARTBEAT_TIMEOUT_S
        if alive:
            continue
        autosave = folder / f"graph-autosave-{pid}.json"
        original = info.get("path")
        saved_at = autosave.stat().st_mtime if autosave.is_file() else 0.0
        found.append(
            CrashedSession(
                marker,
                autosave,
                pid,
                saved_at,
                Path(original) if isinstance(original, str) and original else None,
            )
        )
    found.sort(key=lambda s: s.saved_at, reverse=True)
    return found


def discard(sessions: list[CrashedSession]) -> None:
    for s in sessions:
        for path in (s.autosave, s.marker):
            try:
                path.unlink()
            except OSError:
                pass


class Autosaver(QObject):
    """Writes the graph to the state folder while it has unsaved changes."""

    #: an autosave failed (message); reported once per kind of failure
    failed = Signal(str)

    def __init__(
        self,
        graph: Graph,
        is_modified,
        current_path,
        directory: Path | None = None,
        interval_ms: int = INTERVAL_MS,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.graph = graph
        self._is_modified = is_modified
        self._current_path = current_path
        self.directory = directory or state_dir()
        self.pid = os.getpid()
        self.marker = self.directory / f"graph-session-{self.pid}.json"
        self.autosave = self.directory / f"graph-autosave-{self.pid}.json"
        self.changes = 0
        self._saved_changes = 0
        self._last_error = ""
        self.running = False
        self.timer = QTimer(self)
        self.timer.setInterval(interval_ms)
        self.timer.timeout.connect(self.tick)

    def note_change(self) -> None:
        self.changes += 1

    def start(self) -> None:
        try:
            self.directory.mkdir(parents=True, exist_ok=True)
            self._write_marker()
        except (OSError, GraphError) as exc:
            self._fail(f"Autosave is off: cannot write to {self.directory} ({exc})")
            return
        self.running = True
        self.timer.start()

    def _write_marker(self) -> None:
        path = self._current_path()
        info = {"pid": self.pid, "started": time.time(), "path": str(path) if path else None}
        fileformat.atomic_write_bytes(self.marker, json.dumps(info).encode("utf-8"))

    def tick(self) -> bool:
        """Autosave now if there are unsaved changes not yet written; True if written."""
        if not self.running:
            return False
        try:
            self._write_marker()  # heartbeat, and the current file name
            if not self._is_modified():
                if self.autosave.exists():
                    self.autosave.unlink()
                self._saved_changes = self.changes
                return False
            if self.changes == self._saved_changes and self.autosave.exists():
                return False
            fileformat.atomic_write_bytes(
                self.autosave, fileformat.dumps(self.graph).encode("utf-8")
            )
        except (OSError, GraphError) as exc:
            self._fail(f"Autosave failed: {exc}")
            return False
        self._saved_changes = self.changes
        self._last_error = ""
        return True

    def stop(self) -> None:
        """A clean end of the session: nothing to recover next time."""
        self.timer.stop()
        if not self.running:
            return
        self.running = False
        for path in (self.autosave, self.marker):
            try:
                path.unlink()
            except OSError:
                pass

    def _fail(self, message: str) -> None:
        if message != self._last_error:
            self._last_error = message
            self.failed.emit(message)
