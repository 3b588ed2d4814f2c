"""Fuzzing the openers (run with many more examples by ``make fuzz``): lying size fields
in zip directories and IDX headers, and every opener given a FIFO, a socket, a folder
or a device. Each is refused with the opener's own error, quickly and without a large
allocation; none blocks."""

from __future__ import annotations

import io
import os
import socket
import struct
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nets.errors import CheckpointError, ConfigError, DataError, ImageError, NetsError

EXAMPLES = int(os.environ.get("FUZZ_EXAMPLES", "40"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)


def _openers():
    from nets.cnn.arch import load_architecture
    from nets.cnn.checkpoint import load_checkpoint as load_pt
    from nets.data.idx import read_idx
    from nets.images import open_image
    from nets.mlp.checkpoint import load_checkpoint as load_npz
    from nets.pretrained.registry import read_state_dict
    from nets.snapshots import load_snapshot

    return {
        "npz checkpoint": (load_npz, CheckpointError),
        "pt checkpoint": (load_pt, CheckpointError),
        "weights file": (read_state_dict, CheckpointError),
        "architecture": (load_architecture, ConfigError),
        "IDX file": (read_idx, DataError),
        "image": (open_image, ImageError),
        "snapshot": (load_snapshot, CheckpointError),
    }


def _make(kind: str, path: Path) -> Path:
    if kind == "fifo":
        os.mkfifo(path)
    elif kind == "socket":
        s = socket.socket(socket.AF_UNIX)
        s.bind(str(path))
        s.close()
    elif kind == "folder":
        path.mkdir()
    elif kind == "link to fifo":
        os.mkfifo(path.with_name("target"))
        path.symlink_to(path.with_name("target"))
    return path


@pytest.mark.parametrize("kind", ["fifo", "socket", "folder", "link to fifo"])
@pytest.mark.parametrize("opener", sorted(_openers()))
def test_fuzz_every_opener_refuses_non_regular_files(tmp_path: Path, opener: str, kind: str):
    load, error = _openers()[opener]
    path = _make(kind, tmp_path / "x.bin")
    with pytest.raises(error):
        load(path)


@FUZZ
@given(
    code=st.sampled_from([0x08, 0x09, 0x0B, 0x0C, 0x0D, 0x0E]),
    dims=st.lists(st.integers(0, 2**32 - 1), min_size=1, max_size=4),
    payload=st.binary(max_size=256),
)
def test_fuzz_idx_headers_never_allocate_what_they_declare(tmp_path_factory, code, dims, payload):
    from nets.data.idx import read_idx

    path = tmp_path_factory.mktemp("idx") / "x.idx"
    path.write_bytes(
        bytes([0, 0, code, len(dims)]) + b"".join(d.to_bytes(4, "big") for d in dims) + payload
    )
    try:
        array = read_idx(path)
    except DataError:
        return
    assert array.nbytes <= len(payload)


def _with_lying_size(real: bytes, size: int) -> bytes:
    """The zip's central-directory "uncompressed size" of its first member set to ``size``."""
    at = real.rfind(b"PK\x01\x02")
    return real[: at + 24] + struct.pack("<I", size) + real[at + 28 :]


@FUZZ
@given(
    size=st.integers(0, 2**32 - 1),
    opener=st.sampled_from(["npz checkpoint", "pt checkpoint", "weights file", "snapshot"]),
)
def test_fuzz_zip_directories_with_lying_sizes_are_refused(tmp_path_factory, size, opener):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(
            "meta.npy" if opener in ("npz checkpoint", "snapshot") else "archive/data.pkl",
            np.zeros(1000).tobytes(),
        )
    path = tmp_path_factory.mktemp("zip") / "x.bin"
    path.write_bytes(_with_lying_size(buffer.getvalue(), size))
    load, error = _openers()[opener]
    with pytest.raises((error, NetsError)):
        load(path)
