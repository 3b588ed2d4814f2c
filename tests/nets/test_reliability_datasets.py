"""Issue 9, case 4 (datasets) and case 15 (fuzzing the IDX reader)."""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import pickle
import struct
import tarfile
import zipfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nets.data import cifar10, load_dataset, parse_idx, read_idx, safe_extract
from nets.errors import DataError, NetsError
from tests.conftest import fuzz_examples


class _MarkerPayload:
    """Unpickling this creates ``path``: proof that a pickle was (or was not) loaded."""

    def __init__(self, path: Path) -> None:
        self.path = str(path)

    def __reduce__(self):
        return (open, (self.path, "w"))


def _evil_batch_dir(tmp_path: Path, marker: Path) -> Path:
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    for name in [*cifar10.TRAIN_FILES, cifar10.TEST_FILE]:
        (folder / name).write_bytes(pickle.dumps(_MarkerPayload(marker), protocol=2))
    return folder


def test_cifar_batch_with_wrong_md5_is_never_unpickled(tmp_path: Path) -> None:
    marker = tmp_path / "marker"
    _evil_batch_dir(tmp_path, marker)
    with pytest.raises(DataError, match="refusing to unpickle"):
        load_dataset(f"cifar10:{tmp_path}")
    assert not marker.exists()


def test_even_a_matching_md5_cannot_run_code(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "marker"
    folder = _evil_batch_dir(tmp_path, marker)
    sums = {
        p.name: hashlib.md5(p.read_bytes(), usedforsecurity=False).hexdigest()
        for p in folder.iterdir()
    }
    monkeypatch.setattr(cifar10, "KNOWN_MD5", sums)
    with pytest.raises(DataError, match="not allowed"):
        load_dataset(f"cifar10:{tmp_path}")
    assert not marker.exists()


# ---------------------------------------------------------------------------- IDX files


def _idx_bytes(array: np.ndarray) -> bytes:
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(struct.pack(">I", d) for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_fashion(folder: Path, n: int, gz: bool = True, rng_seed: int = 0) -> None:
    rng = np.random.default_rng(rng_seed)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, count in (("train", n), ("t10k", n // 2)):
        images = rng.integers(0, 256, size=(count, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, size=count, dtype=np.uint8)
        for stem, arr in (
            (f"{prefix}-images-idx3-ubyte", images),
            (f"{prefix}-labels-idx1-ubyte", labels),
        ):
            data = _idx_bytes(arr)
            if gz:
                (folder / f"{stem}.gz").write_bytes(gzip.compress(data))
            else:
                (folder / stem).write_bytes(data)


@pytest.mark.parametrize("gz", [True, False])
def test_fashion_mnist_loads_gzipped_or_raw(tmp_path: Path, gz: bool) -> None:
    _write_fashion(tmp_path, 40, gz=gz)
    ds = load_dataset(f"fashion-mnist:{tmp_path}", num_val=8)
    assert ds.X_train.shape == (32, 28, 28, 1) and ds.X_val.shape == (8, 28, 28, 1)
    assert ds.X_test is not None and ds.X_test.shape == (20, 28, 28, 1)
    labels = read_idx(tmp_path / ("train-labels-idx1-ubyte" + (".gz" if gz else "")))
    assert sorted(np.concatenate([ds.y_train, ds.y_val]).tolist()) == sorted(labels.tolist())


def test_idx_values_round_trip() -> None:
    arr = np.arange(24, dtype=np.uint8).reshape(2, 3, 4)
    np.testing.assert_array_equal(parse_idx(_idx_bytes(arr)), arr)
    big_endian = bytes([0, 0, 0x0B, 1, 0, 0, 0, 2]) + struct.pack(">hh", -2, 300)
    np.testing.assert_array_equal(parse_idx(big_endian), [-2, 300])


def test_idx_bad_magic(tmp_path: Path) -> None:
    data = bytearray(_idx_bytes(np.zeros((2, 28, 28), np.uint8)))
    data[2] = 0x42
    (tmp_path / "x.idx").write_bytes(bytes(data))
    with pytest.raises(DataError, match="magic"):
        read_idx(tmp_path / "x.idx")


def test_idx_counts_disagree_with_payload(tmp_path: Path) -> None:
    data = _idx_bytes(np.zeros((3, 28, 28), np.uint8))
    (tmp_path / "short.idx").write_bytes(data[:-5])
    with pytest.raises(DataError, match="payload"):
        read_idx(tmp_path / "short.idx")
    # A header claiming four billion images must not allocate for them.
    huge = bytes([0, 0, 8, 3]) + struct.pack(">III", 0xFFFFFFFF, 28, 28) + b"\0" * 100
    with pytest.raises(DataError, match="payload|far larger than any IDX file"):
        parse_idx(huge)


def test_fashion_images_and_labels_disagree(tmp_path: Path) -> None:
    _write_fashion(tmp_path, 10)
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(
        gzip.compress(_idx_bytes(np.zeros(9, np.uint8)))
    )
    with pytest.raises(DataError, match="10 images but .* 9 labels"):
        load_dataset(f"fashion-mnist:{tmp_path}")


def test_truncated_gzip(tmp_path: Path) -> None:
    full = gzip.compress(_idx_bytes(np.zeros((20, 28, 28), np.uint8)))
    (tmp_path / "t.gz").write_bytes(full[: len(full) // 2])
    with pytest.raises(DataError, match="truncated or corrupt gzip"):
        read_idx(tmp_path / "t.gz")


def test_fashion_missing_dir_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="Fashion-MNIST not found"):
        load_dataset(f"fashion-mnist:{tmp_path}")


@settings(max_examples=fuzz_examples(300))
@given(st.binary(max_size=200))
def test_fuzz_idx_reader_random_bytes(data: bytes) -> None:
    try:
        parse_idx(data)
    except DataError:
        pass


@settings(max_examples=fuzz_examples(300))
@given(st.data())
def test_fuzz_idx_reader_mutated_files(
    tmp_path_factory: pytest.TempPathFactory, data: st.DataObject
) -> None:
    valid = _idx_bytes(np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4))
    blob = bytearray(gzip.compress(valid) if data.draw(st.booleans()) else valid)
    for _ in range(data.draw(st.integers(1, 4))):
        pos = data.draw(st.integers(0, len(blob) - 1))
        blob[pos] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(0, len(blob)))
    path = tmp_path_factory.getbasetemp() / "fuzz-idx.bin"  # one file, rewritten
    path.write_bytes(bytes(blob[:cut]))
    try:
        read_idx(path)
    except NetsError:
        pass


# ---------------------------------------------------------------------------- archives


def _tar_with(tmp_path: Path, add) -> Path:
    path = tmp_path / "a.tar.gz"
    with tarfile.open(path, "w:gz") as tar:
        add(tar)
    return path


def _add_file(tar: tarfile.TarFile, name: str, payload: bytes = b"x") -> None:
    info = tarfile.TarInfo(name)
    info.size = len(payload)
    tar.addfile(info, io.BytesIO(payload))


def test_safe_extract_extracts_a_plain_archive(tmp_path: Path) -> None:
    archive = _tar_with(tmp_path, lambda t: (_add_file(t, "d/a.txt", b"hi"), _add_file(t, "b")))
    files = safe_extract(archive, tmp_path / "out")
    assert (tmp_path / "out" / "d" / "a.txt").read_bytes() == b"hi"
    assert len(files) == 2


@pytest.mark.parametrize("name", ["../evil.txt", "d/../../evil.txt", "/tmp/evil-abs.txt"])
def test_archive_member_outside_is_rejected(tmp_path: Path, name: str) -> None:
    archive = _tar_with(tmp_path, lambda t: (_add_file(t, "ok.txt"), _add_file(t, name)))
    with pytest.raises(DataError, match="rejected"):
        safe_extract(archive, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()
    assert not (tmp_path / "out" / "ok.txt").exists()  # nothing written before the check


@pytest.mark.parametrize("kind", [tarfile.SYMTYPE, tarfile.LNKTYPE])
def test_archive_link_member_is_rejected(tmp_path: Path, kind: bytes) -> None:
    def add(tar: tarfile.TarFile) -> None:
        info = tarfile.TarInfo("link")
        info.type = kind
        info.linkname = "/etc/passwd"
        tar.addfile(info)

    with pytest.raises(DataError, match="is a link"):
        safe_extract(_tar_with(tmp_path, add), tmp_path / "out")
    assert not os.path.lexists(tmp_path / "out" / "link")


def test_zip_with_dotdot_member_is_rejected(tmp_path: Path) -> None:
    path = tmp_path / "a.zip"
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("../evil.txt", "x")
    with pytest.raises(DataError, match="outside"):
        safe_extract(path, tmp_path / "out")
    assert not (tmp_path / "evil.txt").exists()


def test_not_an_archive_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "a.tar.gz"
    path.write_bytes(b"not an archive")
    with pytest.raises(DataError, match="cannot extract"):
        safe_extract(path, tmp_path / "out")
