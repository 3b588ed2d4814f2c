"""Error types that ``nets`` raises for problems a user can fix.

Everything here carries a message fit to show as is: the command line prints
``error: <message>`` and the GUI shows it in a dialog or status line.
"""

from __future__ import annotations


class NetsError(Exception):
    """Base class for every user-facing error raised by ``nets``."""


class DataError(NetsError):
    """A dataset is missing, malformed, or fails an integrity check."""


class ImageError(NetsError):
    """An image file cannot be read safely (not an image, truncated, a decompression bomb)."""


class CheckpointError(NetsError):
    """A checkpoint is corrupted, unsafe, or does not match the model it is loaded into."""


class ConfigError(NetsError):
    """Hyperparameters or an architecture that cannot work, with the reason."""


class ResourceError(ConfigError):
    """A configuration that would need more memory than the machine can give."""


class DownloadError(NetsError):
    """A download failed or was cancelled."""


class Cancelled(NetsError):
    """The user cancelled a long operation (loading, downloading); nothing was changed."""


def first_line(exc: BaseException) -> str:
    """The first line of ``exc``'s text, or its type's name when it has none: a library's
    error (a database driver, Optuna, torch) in a one-line message."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def one_line(exc: BaseException) -> str:
    """``exc`` in one line for the user: a NetsError's own message (written to be shown),
    any other exception's type and the first line of its text."""
    if isinstance(exc, NetsError):
        return first_line(exc)
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text.splitlines()[0]}" if text else type(exc).__name__
