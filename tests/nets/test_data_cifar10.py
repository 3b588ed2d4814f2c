"""The CIFAR-10 loader on canonical pickles built in the test (MD5s computed, then patched in)."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import numpy as np
import pytest

from nets.data import cifar10, load_dataset, probe_dataset
from nets.errors import DataError

N_PER_BATCH = 30


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes(), usedforsecurity=False).hexdigest()


def _write_batch(path: Path, data: np.ndarray, labels: list[int]) -> None:
    batch = {
        "batch_label": "training batch",
        "labels": labels,
        "data": data,
        "filenames": [f"img_{i}.png" for i in range(len(labels))],
    }
    # Protocol 2 like the published Python 2 pickles.
    path.write_bytes(pickle.dumps(batch, protocol=2))


@pytest.fixture
def cifar_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A cifar-10-batches-py folder of random images; KNOWN_MD5 patched to its sums."""
    folder = tmp_path / "cifar-10-batches-py"
    folder.mkdir()
    rng = np.random.default_rng(0)
    sums = {}
    for name in [*cifar10.TRAIN_FILES, cifar10.TEST_FILE]:
        data = rng.integers(0, 256, size=(N_PER_BATCH, 3072), dtype=np.uint8)
        labels = [int(v) for v in rng.integers(0, 10, size=N_PER_BATCH)]
        _write_batch(folder / name, data, labels)
        sums[name] = _md5(folder / name)
    monkeypatch.setattr(cifar10, "KNOWN_MD5", sums)
    return tmp_path


def test_loads_canonical_batches_with_channel_last_layout(cifar_dir: Path) -> None:
    ds = load_dataset(f"cifar10:{cifar_dir}", num_val=20)
    assert ds.X_train.shape == (5 * N_PER_BATCH - 20, 32, 32, 3)
    assert ds.X_val.shape == (20, 32, 32, 3)
    assert ds.X_test is not None and ds.X_test.shape == (N_PER_BATCH, 32, 32, 3)
    assert ds.X_train.dtype == np.uint8 and ds.y_train.dtype == np.int64
    assert ds.class_names[0] == "airplane" and ds.num_classes == 10
    # Row layout of a batch is 1024 R, 1024 G, 1024 B: check one pixel of the test batch.
    raw = pickle.loads((cifar_dir / "cifar-10-batches-py" / "test_batch").read_bytes())
    row = raw["data"][0]
    assert tuple(ds.X_test[0, 0, 1]) == (row[1], row[1024 + 1], row[2048 + 1])
    np.testing.assert_array_equal(ds.y_test, raw["labels"])


def test_accepts_the_batches_folder_itself(cifar_dir: Path) -> None:
    ds = load_dataset(f"cifar10:{cifar_dir / 'cifar-10-batches-py'}", num_val=10)
    assert len(ds.y_train) + len(ds.y_val) == 5 * N_PER_BATCH


def test_probe_finds_it_without_reading(cifar_dir: Path) -> None:
    info = probe_dataset(f"cifar10:{cifar_dir}")
    assert info.found and info.location == cifar_dir / "cifar-10-batches-py"
    missing = probe_dataset(f"cifar10:{cifar_dir / 'nothing'}")
    assert not missing.found and missing.can_download and "not found" in missing.hint


def test_missing_dataset_says_what_to_do(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="CIFAR-10 not found.*download"):
        load_dataset(f"cifar10:{tmp_path}")


def test_default_cifar_md5s_are_the_published_ones() -> None:
    assert cifar10.KNOWN_MD5["data_batch_1"] == "c99cafc152244af753f735de768cd75f"
    assert cifar10.KNOWN_MD5["test_batch"] == "40351d587109b95175f43aff81a1287e"


def test_download_failure_offline_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import urllib.request

    from nets.errors import DownloadError

    def offline(*args: object, **kwargs: object) -> None:
        raise OSError("network is unreachable")

    monkeypatch.setattr(urllib.request, "urlopen", offline)
    with pytest.raises(DownloadError, match="could not download cifar-10-python.tar.gz"):
        load_dataset(f"cifar10:{tmp_path}", download=True)
    assert not list(tmp_path.glob("*.part"))
