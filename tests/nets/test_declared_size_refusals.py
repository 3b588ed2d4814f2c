"""Small files that describe huge contents are refused from what they declare, before
anything is decompressed, allocated or built."""

from __future__ import annotations

import gzip
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest

from nets.data.idx import read_idx
from nets.errors import CheckpointError, DataError
from nets.mlp import checkpoint as mlp_checkpoint
from nets.mlp.checkpoint import load_checkpoint as load_npz


def _deflate_bomb(path: Path, member: str, megabytes: int) -> Path:
    """A zip whose one member inflates to ``megabytes`` of zeros (a few hundred KB)."""
    header = io.BytesIO()
    np.lib.format.write_array_header_1_0(
        header, {"descr": "<f8", "fortran_order": False, "shape": (megabytes << 17,)}
    )
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open(member, "w", force_zip64=True) as f:
            f.write(header.getvalue())
            block = bytes(1 << 20)
            for _ in range(megabytes):
                f.write(block)
    return path


def test_a_deflate_bomb_npz_is_refused_before_inflating(tmp_path: Path) -> None:
    bomb = _deflate_bomb(tmp_path / "bomb.npz", "param/W1.npy", 200)
    assert bomb.stat().st_size < 2 << 20
    with pytest.raises(CheckpointError, match="inflates from .* to 200.0 MB: refused as a"):
        load_npz(bomb)


def test_an_npz_declaring_more_than_the_limit_is_refused(tmp_path: Path, monkeypatch) -> None:
    path = tmp_path / "big.npz"
    np.savez(path, a=np.zeros(300_000))  # 2.4 MB, stored uncompressed
    monkeypatch.setattr(mlp_checkpoint, "MAX_CHECKPOINT_BYTES", 1 << 20)
    with pytest.raises(CheckpointError, match=r"would take 2\.3 MB in memory, more than the 1\.0"):
        load_npz(path)


def test_a_deflate_bomb_pt_is_refused_before_torch_reads_it(tmp_path: Path) -> None:
    from nets.cnn.checkpoint import load_checkpoint as load_pt
    from nets.pretrained.registry import read_state_dict

    bomb = _deflate_bomb(tmp_path / "bomb.pt", "archive/data.pkl", 120)
    for load in (load_pt, read_state_dict):
        with pytest.raises(CheckpointError, match="refused as a compression bomb"):
            load(bomb)


def test_a_pt_whose_architecture_declares_billions_of_parameters_is_refused(
    tmp_path: Path,
) -> None:
    import torch

    from nets.cnn import checkpoint as ckpt
    from nets.cnn.arch import Conv2d, Flatten, Linear

    small = [Conv2d(4, 3), Flatten(), Linear(10)]
    data = ckpt.checkpoint_dict(_tiny_trained(small))
    huge = [Conv2d(4096, 3), Flatten(), Linear(10)]  # 27.7 M parameters
    data["architecture"] = ckpt.arch_to_dict(huge)
    path = tmp_path / "huge_arch.pt"
    torch.save(data, path)
    with pytest.raises(
        CheckpointError, match="declares 27,729,930 parameters but the file holds only 27,090"
    ):
        ckpt.load_checkpoint(path)


def _tiny_trained(arch):
    from nets.cnn.model import build_model
    from nets.cnn.trained import TrainedCnn

    model = build_model(tuple(arch), (1, 28, 28), 10)
    return TrainedCnn(
        model=model,
        arch=tuple(arch),
        input_shape=(1, 28, 28),
        class_names=tuple(str(i) for i in range(10)),
        mean=(0.5,),
        std=(0.5,),
    )


def test_an_idx_header_declaring_gigabytes_is_refused_before_reading(tmp_path: Path) -> None:
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = bytes([0, 0, 0x08, 3]) + (60000).to_bytes(4, "big") + (2000).to_bytes(4, "big") * 2
    with gzip.open(path, "wb") as f:
        f.write(header + bytes(1 << 20))
    with pytest.raises(DataError, match=r"declares \(60000, 2000, 2000\) values \(240\.0 GB\)"):
        read_idx(path)


def test_an_idx_payload_longer_than_declared_is_refused_reading_one_byte_more(
    tmp_path: Path,
) -> None:
    path = tmp_path / "labels.gz"
    with gzip.open(path, "wb") as f:
        f.write(bytes([0, 0, 0x08, 1]) + (10).to_bytes(4, "big") + bytes(50 << 20))
    with pytest.raises(DataError, match=r"header says \(10,\) values \(10 bytes\) but the payload"):
        read_idx(path)
