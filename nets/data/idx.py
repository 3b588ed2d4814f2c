"""A strict reader for IDX files (the MNIST / Fashion-MNIST format), gzipped or raw.

Layout: two zero bytes, a type code byte, a dimension-count byte, one big-endian uint32
per dimension, then the payload. Everything is validated against the payload before
an array is built; every problem is a DataError.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path
from typing import TYPE_CHECKING, BinaryIO

from nets.errors import DataError
from nets.fileio import open_regular

if TYPE_CHECKING:
    import numpy as np

#: numpy dtype of each IDX type code (names: no numpy needed to import this module)
_DTYPES: dict[int, str] = {
    0x08: "u1",
    0x09: "i1",
    0x0B: ">i2",
    0x0C: ">i4",
    0x0D: ">f4",
    0x0E: ">f8",
}
# No IDX file the app reads is anywhere near this (Fashion-MNIST's largest is 47 MB); a
# header claiming more is refused before anything is read or allocated.
MAX_PAYLOAD_BYTES = 1 << 30


def parse_idx(data: bytes, name: str = "IDX data", expect_ndim: int | None = None) -> np.ndarray:
    """Decode the bytes of a raw (not gzipped) IDX file into an array (native byte order)."""
    import numpy as np

    if len(data) < 4:
        raise DataError(f"{name} is too short to be an IDX file ({len(data)} bytes)")
    if data[0] != 0 or data[1] != 0 or data[2] not in _DTYPES:
        raise DataError(f"{name} has a bad IDX magic number {data[:4].hex()}")
    ndim = data[3]
    if ndim == 0 or (expect_ndim is not None and ndim != expect_ndim):
        want = f"{expect_ndim}" if expect_ndim is not None else "at least 1"
        raise DataError(f"{name} has {ndim} dimensions in its header, expected {want}")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{name} is truncated inside its header")
    dims = tuple(int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    dtype = np.dtype(_DTYPES[data[2]])
    count = 1
    for d in dims:
        count *= d
    expected = count * dtype.itemsize
    nonzero = 1
    for d in dims:
        nonzero *= max(d, 1)
    if nonzero * dtype.itemsize > MAX_PAYLOAD_BYTES:
        # Even with a zero dimension (no values at all), numpy refuses such a shape.
        raise DataError(f"{name}: the header's dimensions {dims} are far larger than any IDX file")
    actual = len(data) - header
    if expected != actual:
        raise DataError(
            f"{name}: the header says {dims} values ({expected} bytes) but the payload has "
            f"{actual} bytes"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header, count=count).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def _read_exact(stream: BinaryIO | gzip.GzipFile, n: int) -> bytes:
    """Read up to ``n`` bytes in chunks (a short result means the stream ended)."""
    out = bytearray()
    while len(out) < n:
        block = stream.read(min(1 << 20, n - len(out)))
        if not block:
            break
        out += block
    return bytes(out)


def _read_stream(stream: BinaryIO | gzip.GzipFile, name: str) -> bytes:
    """The IDX bytes, reading the header first: the payload size it declares is checked
    against MAX_PAYLOAD_BYTES before the payload is read, and no more than that size
    (plus one byte, to notice trailing data) is ever decompressed."""
    import numpy as np

    head = _read_exact(stream, 4)
    if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _DTYPES or head[3] == 0:
        return head + _read_exact(stream, 64)  # parse_idx says what is wrong
    dims_raw = _read_exact(stream, 4 * head[3])
    dims = [int.from_bytes(dims_raw[i : i + 4], "big") for i in range(0, len(dims_raw) - 3, 4)]
    declared = np.dtype(_DTYPES[head[2]]).itemsize
    for d in dims:
        declared *= d
    if declared > MAX_PAYLOAD_BYTES:
        raise DataError(
            f"{name}: the header declares {tuple(dims)} values ({declared / 1e9:.1f} GB), "
            f"more than any IDX file the app reads ({MAX_PAYLOAD_BYTES >> 20} MB): refused "
            "before reading it"
        )
    return head + dims_raw + _read_exact(stream, declared + 1)


def read_idx(path: str | os.PathLike[str], expect_ndim: int | None = None) -> np.ndarray:
    """Read an IDX file, gzipped (detected by its magic bytes) or raw."""
    path = Path(path)
    try:
        with open_regular(path, DataError, "dataset file") as f:
            head = f.read(2)
            f.seek(0)
            if head == b"\x1f\x8b":
                with gzip.GzipFile(fileobj=f) as gz:
                    data = _read_stream(gz, path.name)
            else:
                data = _read_stream(f, path.name)
    except (EOFError, gzip.BadGzipFile, zlib.error) as exc:
        raise DataError(f"{path.name} is a truncated or corrupt gzip file: {exc}") from exc
    except OSError as exc:
        raise DataError(f"cannot read {path}: {exc.strerror or exc}") from exc
    return parse_idx(data, path.name, expect_ndim)
