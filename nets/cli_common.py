"""What every command line of ``nets`` checks the same way."""

from __future__ import annotations

from pathlib import Path


def check_output(path: Path | None, what: str) -> None:
    """Refuse before the work, not after it, a destination that cannot be written
    (NetsError naming ``what`` and the path)."""
    from nets.errors import NetsError
    from nets.fileio import check_writable

    if path is not None:
        check_writable(path, NetsError, f"write the {what}")
