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
