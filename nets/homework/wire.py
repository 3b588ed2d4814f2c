"""Length-prefixed messages between the app and the process running a user's code.

A message is a JSON document in which numpy arrays are replaced by references to raw
buffers that follow it; nothing is pickled, so whatever the child sends can only ever be
data to the parent. Frame: 8-byte total length, 4-byte header length, the JSON header,
then each array's bytes.
"""

from __future__ import annotations

import json
import os
import select
import struct
import time
from typing import Any

import numpy as np

_TOTAL = struct.Struct("!Q")
_HEAD = struct.Struct("!I")
#: Largest message accepted (the training data or weights of a big network fit).
MAX_MESSAGE = 4 << 30
#: dtypes that travel as they are; any other array is sent as float64.
_DTYPES = {"<f8", "<f4", "<i8", "<i4", "|b1", "|u1"}


class WireError(Exception):
    """A malformed message (the other side is not speaking this protocol)."""


def encode(obj: Any) -> bytes:
    """One framed message holding ``obj`` (dicts, lists, scalars, strings, arrays)."""
    arrays: list[np.ndarray] = []

    def convert(value: Any) -> Any:
        if isinstance(value, np.ndarray):
            array = value if value.dtype.str in _DTYPES else value.astype(np.float64)
            arrays.append(np.ascontiguousarray(array))
            return {"__nd__": len(arrays) - 1}
        if isinstance(value, np.generic):
            return value.item()
        if isinstance(value, dict):
            return {str(k): convert(v) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [convert(v) for v in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        raise TypeError(f"cannot send a {type(value).__name__}")

    body = convert(obj)
    meta = [[a.dtype.str, list(a.shape)] for a in arrays]
    header = json.dumps({"body": body, "arrays": meta}).encode()
    blobs = [a.tobytes() for a in arrays]
    total = _HEAD.size + len(header) + sum(len(b) for b in blobs)
    return b"".join([_TOTAL.pack(total), _HEAD.pack(len(header)), header, *blobs])


def decode(frame: bytes | memoryview) -> Any:
    """The object inside one frame (without its 8-byte total length)."""
    frame = memoryview(frame)
    try:
        (head_len,) = _HEAD.unpack_from(frame, 0)
        header = json.loads(bytes(frame[_HEAD.size : _HEAD.size + head_len]))
        body, meta = header["body"], header["arrays"]
    except (struct.error, ValueError, KeyError, TypeError) as exc:
        raise WireError(f"malformed message header ({exc})") from None
    arrays = []
    offset = _HEAD.size + head_len
    for dtype, shape in meta:
        if dtype not in _DTYPES or not all(isinstance(n, int) and n >= 0 for n in shape):
            raise WireError(f"unexpected array {dtype} {shape}")
        count = int(np.prod(shape, dtype=np.int64))
        size = count * np.dtype(dtype).itemsize
        if offset + size > len(frame):
            raise WireError("message shorter than its arrays")
        arrays.append(np.frombuffer(frame[offset : offset + size], dtype=dtype).reshape(shape))
        offset += size

    def restore(value: Any) -> Any:
        if isinstance(value, dict):
            if set(value) == {"__nd__"}:
                return arrays[value["__nd__"]].copy()
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        return value

    return restore(body)


def write_message(fd: int, obj: Any) -> None:
    """Write one message to a pipe, completely (blocks while the pipe is full)."""
    view = memoryview(encode(obj))
    while view:
        written = os.write(fd, view)
        view = view[written:]


class MessageReader:
    """Reads messages from a pipe, with an optional timeout per message."""

    def __init__(self, fd: int) -> None:
        self.fd = fd
        self._buf = bytearray()

    def _frame(self) -> bytes | None:
        if len(self._buf) < _TOTAL.size:
            return None
        (total,) = _TOTAL.unpack_from(self._buf, 0)
        if total > MAX_MESSAGE:
            raise WireError(f"message of {total} bytes is over the limit")
        end = _TOTAL.size + total
        if len(self._buf) < end:
            return None
        frame = bytes(self._buf[_TOTAL.size : end])
        del self._buf[:end]
        return frame

    def ready(self) -> bool:
        """Whether a message (or part of one) can be read without waiting."""
        return bool(self._buf) or bool(select.select([self.fd], [], [], 0)[0])

    def read(self, timeout: float | None = None) -> Any:
        """The next message. Raises TimeoutError after ``timeout`` seconds without a whole
        message, EOFError when the other side closed the pipe."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while True:
            frame = self._frame()
            if frame is not None:
                return decode(frame)
            if deadline is not None:
                remaining = deadline - time.monotonic()
                if remaining <= 0 or not select.select([self.fd], [], [], remaining)[0]:
                    raise TimeoutError
            chunk = os.read(self.fd, 1 << 20)
            if not chunk:
                raise EOFError
            self._buf += chunk
