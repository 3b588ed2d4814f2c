"""Atomic file writes for architectures, checkpoints and exports."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from nets.errors import NetsError


def atomic_write_bytes(path: str | os.PathLike[str], data: bytes, error: type[NetsError]) -> None:
    """Write ``data`` to ``path`` so that an old file stays whole if anything fails.

    The bytes go to a temporary file in the same folder, are flushed and fsynced, then
    replace ``path`` in one rename. OSError (disk full, read-only folder...) becomes
    ``error`` with a one-line message; the temporary file is removed.
    """
    path = Path(path)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise error(f"cannot write {path}: {exc.strerror or exc}") from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException as exc:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(exc, OSError):
            raise error(f"cannot write {path}: {exc.strerror or exc}") from None
        raise
