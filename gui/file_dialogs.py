"""The app's file dialogs: each starts in the last folder used for that kind of file
("graph", "export", "images", "checkpoint", ...), else in the user's documents folder,
never in the process's working directory. Every tab asks through here.
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QSettings, QStandardPaths
from PySide6.QtWidgets import QFileDialog, QWidget

_KEY = "dialogs/last_folder/{}"


def documents_folder() -> Path:
    """The user's documents folder (home when the platform has none on disk)."""
    location = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.DocumentsLocation)
    if location and Path(location).is_dir():
        return Path(location)
    return Path.home()


def setting_key(kind: str) -> str:
    """The QSettings key that holds the last folder for ``kind``."""
    return _KEY.format(kind)


def start_folder(settings: QSettings, kind: str) -> Path:
    """Where a dialog for ``kind`` files opens: the last folder used for that kind when
    it still exists, else the user's documents folder."""
    last = settings.value(setting_key(kind), "")
    if isinstance(last, str) and last and Path(last).is_dir():
        return Path(last)
    return documents_folder()


def remember(settings: QSettings, kind: str, path: Path | str) -> None:
    """Note the folder of a file (or a folder) the user just chose for ``kind``."""
    path = Path(path)
    folder = path if path.is_dir() else path.parent
    settings.setValue(setting_key(kind), str(folder))


def open_file(
    parent: QWidget | None, settings: QSettings, kind: str, title: str, filters: str
) -> Path | None:
    name, _ = QFileDialog.getOpenFileName(parent, title, str(start_folder(settings, kind)), filters)
    if not name:
        return None
    remember(settings, kind, name)
    return Path(name)


def open_files(
    parent: QWidget | None, settings: QSettings, kind: str, title: str, filters: str
) -> list[Path]:
    names, _ = QFileDialog.getOpenFileNames(
        parent, title, str(start_folder(settings, kind)), filters
    )
    if names:
        remember(settings, kind, names[0])
    return [Path(n) for n in names]


def open_folder(parent: QWidget | None, settings: QSettings, kind: str, title: str) -> Path | None:
    name = QFileDialog.getExistingDirectory(parent, title, str(start_folder(settings, kind)))
    if not name:
        return None
    remember(settings, kind, name)
    return Path(name)


def save_file(
    parent: QWidget | None,
    settings: QSettings,
    kind: str,
    title: str,
    file_name: str,
    filters: str,
    folder: Path | None = None,
) -> Path | None:
    """Ask where to save ``file_name``; starts in ``folder`` (e.g. the open document's)
    when given, else in the last folder for ``kind``."""
    start = (folder if folder is not None else start_folder(settings, kind)) / file_name
    name, _ = QFileDialog.getSaveFileName(parent, title, str(start), filters)
    if not name:
        return None
    remember(settings, kind, name)
    return Path(name)
