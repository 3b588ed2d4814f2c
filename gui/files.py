"""Atomic file writes for the GUI's exports (plots, figures, metrics, generated code),
and PNG encoding of rendered images.

The writing itself is ``nets.fileio``'s (one mechanism): a temporary file in the target's
folder, flushed, fsynced and moved over the target with ``os.replace``, so a failed write
leaves the old file intact. Here it only speaks ``OSError``, as Qt code expects.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from PySide6.QtCore import QBuffer, QByteArray, QIODevice
from PySide6.QtGui import QImage

from nets import fileio
from nets.errors import NetsError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data))


class _Refused(NetsError):
    pass


def atomic_write(path: str | os.PathLike[str], write: Callable[[BinaryIO], object]) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it over
    ``path`` with ``nets.fileio.atomic_write`` (a device, FIFO or folder is refused, a
    symlink written through, the mode kept, the user's umask for a new file). Raises
    ``OSError`` whose ``strerror`` is the reason in words; the old file is untouched."""
    try:
        return fileio.atomic_write(path, write, _Refused, "write")
    except _Refused as exc:
        raise OSError(0, getattr(exc, "reason", str(exc)), os.fspath(path)) from None


def png_bytes(image: QImage) -> bytes:
    """``image`` encoded as PNG. Raises ``OSError`` when Qt cannot encode it."""
    data = QByteArray()
    buffer = QBuffer(data)
    buffer.open(QIODevice.OpenModeFlag.WriteOnly)
    if not image.save(buffer, "PNG"):
        raise OSError("could not encode the image as PNG")
    buffer.close()
    return bytes(data.data())
