"""Which call into the user's code is running, shared between the child and the parent.

The child writes the label of every call it starts and bumps a counter, in a small
shared memory block (an unlinked file both map), at no more cost than a memory write;
the parent looks at it whenever it waits for an answer. A counter that has not moved
for the time limit means that one call is still running.

Layout: counter (8 bytes), label length (4 bytes), label (UTF-8, at most 244 bytes).
"""

from __future__ import annotations

import mmap
import struct

SIZE = 256
_HEAD = struct.Struct("=QI")
_MAX_LABEL = SIZE - _HEAD.size


class Heartbeat:
    """A view of the shared block through ``fd`` (a file of at least ``SIZE`` bytes)."""

    def __init__(self, fd: int) -> None:
        self._map = mmap.mmap(fd, SIZE)
        self._count = 0

    def beat(self, label: str) -> None:
        """The child starts a call named ``label``."""
        data = label.encode("utf-8", "replace")[:_MAX_LABEL]
        self._count += 1
        self._map[_HEAD.size : _HEAD.size + len(data)] = data
        self._map[: _HEAD.size] = _HEAD.pack(self._count, len(data))

    def read(self) -> tuple[int, str]:
        """(counter, label of the latest call); (0, "") before the first."""
        count, length = _HEAD.unpack_from(self._map, 0)
        length = min(length, _MAX_LABEL)
        label = bytes(self._map[_HEAD.size : _HEAD.size + length]).decode("utf-8", "replace")
        return count, label

    def close(self) -> None:
        self._map.close()
