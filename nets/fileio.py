"""Atomic file writes for every nets module: checkpoints, architectures, plots, caches.

The bytes go to a temporary file in the target's folder, are flushed and fsynced, then
replace the target in one ``os.replace``; the folder is fsynced so the rename is durable.
If anything fails the temporary file is removed and the old file stays whole.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from nets.errors import NetsError


def atomic_write(
    path: str | os.PathLike[str],
    write: Callable[[BinaryIO], object],
    error: type[NetsError],
    action: str = "write",
) -> Path:
    """Call ``write(binary_file)`` on a temporary file next to ``path``, then move it over
    ``path``; return ``path``.

    OSError (disk full, read-only or missing folder...) becomes ``error`` with the one-line
    message ``cannot <action> <path>: <reason>``; other exceptions propagate unchanged.
    """
    path = Path(path)
    # A unique name opened with "x" (not mkstemp): the new file gets the usual
    # umask-based permissions, like a file written with plain open().
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    try:
        with open(tmp, "xb") as f:
            write(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise error(f"cannot {action} {path}: {exc.strerror or exc}") from exc
        raise
    try:  # make the rename itself durable; not every file system allows this
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    except OSError:
        pass
    return path


def atomic_write_bytes(
    path: str | os.PathLike[str], data: bytes, error: type[NetsError], action: str = "write"
) -> Path:
    """Write ``data`` to ``path`` atomically (see :func:`atomic_write`)."""
    return atomic_write(path, lambda f: f.write(data), error, action)
