"""Atomic file writes for the GUI's exports (plots, figures, metrics, generated code),
and PNG encoding of rendered images.

Every file is written to a temporary file in the target's folder, flushed, fsynced and
moved over the target with ``os.replace``: a failed write leaves the old file intact.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (temp file + fsync + ``os.replace``)."""
    return atomic_write(path, lambda f: f.write(data))


def atomic_write(
    path: str | os.PathLike[str], write: Callable[[io.BufferedWriter], object]
) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it over
    ``path``. Raises ``OSError`` (the old file, if any, is untouched)."""
    target = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    return target


def png_bytes(image: QImage) -> bytes:
    """``image`` encoded as PNG. Raises ``OSError`` when Qt cannot encode it."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the image as PNG")
    buffer.close()
    return bytes(data.data())
