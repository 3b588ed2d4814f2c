"""CIFAR-10 from the canonical ``cifar-10-batches-py`` pickles.

Pickles can run code, so every batch file's MD5 is checked against the published sums
(the ones torchvision uses) BEFORE it is unpickled, and the unpickler only builds
plain containers and numpy arrays. This is the one place in the project that calls
pickle.load.
"""

from __future__ import annotations

import io
import pickle
from pathlib import Path
from typing import TYPE_CHECKING

from nets.data.dataset import (
    CancelToken,
    DatasetInfo,
    ImageDataset,
    ProgressCallback,
    is_cancelled,
    make_dataset,
    report,
)
from nets.data.download import download_file, md5_of
from nets.data.spec import DatasetSpec, data_home, default_locations
from nets.errors import Cancelled, DataError

if TYPE_CHECKING:
    import numpy as np

FOLDER_NAME = "cifar-10-batches-py"
TRAIN_FILES = tuple(f"data_batch_{i}" for i in range(1, 6))
TEST_FILE = "test_batch"
META_FILE = "batches.meta"
# The published MD5 of each file (torchvision.datasets.CIFAR10's train_list/test_list/meta).
KNOWN_MD5: dict[str, str] = {
    "data_batch_1": "c99cafc152244af753f735de768cd75f",
    "data_batch_2": "d4bba439e000b95fd0a9bffe97cbabec",
    "data_batch_3": "54ebc095f3ab1f0389bbae665268c751",
    "data_batch_4": "634d18415352ddfa80567beed471001a",
    "data_batch_5": "482c414d41f54cd18b22e5b47cb7c3cb",
    "test_batch": "40351d587109b95175f43aff81a1287e",
    "batches.meta": "5ff9c542aee3614f3951f8cda6e48888",
}
CLASS_NAMES = (
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
)
DEFAULT_NUM_VAL = 5000
ARCHIVE_NAME = "cifar-10-python.tar.gz"

# Globals a CIFAR batch pickle may reference: numpy's array reconstruction, nothing else.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("numpy.core.multiarray", "scalar"),
    ("numpy._core.multiarray", "scalar"),
    ("_codecs", "encode"),
}


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def _load_checked_pickle(path: Path) -> dict:
    """MD5-check ``path``, then unpickle it with the restricted unpickler."""
    expected = KNOWN_MD5.get(path.name)
    if expected is None:
        raise DataError(f"{path.name} is not a CIFAR-10 batch file")
    if not path.is_file():
        raise DataError(f"{path} is missing")
    actual = md5_of(path)
    if actual != expected:
        raise DataError(
            f"{path} is not the published CIFAR-10 file (MD5 {actual}, expected {expected}); "
            "refusing to unpickle it. Download CIFAR-10 again."
        )
    data = path.read_bytes()
    try:
        # The batches were pickled by Python 2: latin1 turns their byte strings into str.
        obj = _RestrictedUnpickler(io.BytesIO(data), encoding="latin1").load()
    except Exception as exc:
        raise DataError(f"{path} cannot be read as a CIFAR-10 batch: {exc}") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{path} is not a CIFAR-10 batch (not a dict)")
    return {k.decode("latin1") if isinstance(k, bytes) else k: v for k, v in obj.items()}


def _batch_arrays(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    batch = _load_checked_pickle(path)
    data = batch.get("data")
    labels = batch.get("labels", batch.get("fine_labels"))
    if not isinstance(data, np.ndarray) or labels is None:
        raise DataError(f"{path} lacks 'data' or 'labels'")
    labels = np.asarray(labels, dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.shape[0] != labels.shape[0]:
        raise DataError(f"{path} has data of shape {data.shape}, expected (N, 3072)")
    if labels.size and (labels.min() < 0 or labels.max() >= len(CLASS_NAMES)):
        raise DataError(f"{path} has labels outside 0..9")
    # Rows are 1024 red, then green, then blue values: to (N, 32, 32, 3).
    images = data.astype(np.uint8, copy=False).reshape(-1, 3, 32, 32).transpose(0, 2, 3, 1)
    return np.ascontiguousarray(images), labels


def resolve_folder(spec: DatasetSpec) -> Path | None:
    """The cifar-10-batches-py folder for ``spec``, or None if none exists."""
    candidates = (
        [spec.path / FOLDER_NAME, spec.path]
        if spec.path is not None
        else default_locations("cifar10")
    )
    for c in candidates:
        if (c / TRAIN_FILES[0]).is_file():
            return c
    return None


def _missing_hint(spec: DatasetSpec) -> str:
    where = spec.path if spec.path is not None else data_home()
    return (
        f"CIFAR-10 not found in {where}: download it (command line: add --download; app: "
        f"Download), or put the extracted {FOLDER_NAME} folder from "
        "https://www.cs.toronto.edu/~kriz/cifar.html there"
    )


def probe(spec: DatasetSpec) -> DatasetInfo:
    folder = resolve_folder(spec)
    if folder is None:
        return DatasetInfo(
            spec=spec.text,
            kind="cifar10",
            found=False,
            location=spec.path,
            description="CIFAR-10 not found",
            class_names=CLASS_NAMES,
            hint=_missing_hint(spec),
            can_download=True,
        )
    has_test = (folder / TEST_FILE).is_file()
    return DatasetInfo(
        spec=spec.text,
        kind="cifar10",
        found=True,
        location=folder,
        description=f"CIFAR-10 in {folder}",
        class_names=CLASS_NAMES,
        class_counts={},
        num_train=50000,
        num_test=10000 if has_test else None,
        can_download=False,
    )


def download(
    spec: DatasetSpec,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Download and extract CIFAR-10 (torchvision's URL and MD5) into the spec's folder."""
    from nets.data.archives import safe_extract

    try:  # torchvision carries the canonical URL and archive checksum.
        from torchvision.datasets import CIFAR10

        url, md5 = CIFAR10.url, CIFAR10.tgz_md5
    except Exception:
        url = "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz"
        md5 = "c58f30108f718f92721af3b95e74349a"
    root = spec.path if spec.path is not None else data_home()
    archive = download_file([url], root / ARCHIVE_NAME, md5, progress=progress, cancel=cancel)
    report(progress, 0, 0, "extracting CIFAR-10")
    safe_extract(archive, root)
    return root / FOLDER_NAME


def load(
    spec: DatasetSpec,
    *,
    num_val: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    download_missing: bool = False,
    cancel: CancelToken | None = None,
) -> ImageDataset:
    import numpy as np

    folder = resolve_folder(spec)
    if folder is None:
        if not download_missing:
            raise DataError(_missing_hint(spec))
        folder = download(spec, progress=progress, cancel=cancel)
    files = [*TRAIN_FILES, TEST_FILE]
    Xs, ys = [], []
    X_test = y_test = None
    for i, name in enumerate(files):
        if is_cancelled(cancel):
            raise Cancelled("loading cancelled")
        report(progress, i, len(files), f"reading {name}")
        path = folder / name
        if name == TEST_FILE:
            if path.is_file():
                X_test, y_test = _batch_arrays(path)
            continue
        X, y = _batch_arrays(path)
        Xs.append(X)
        ys.append(y)
    report(progress, len(files), len(files), "CIFAR-10 loaded")
    X_all, y_all = np.concatenate(Xs), np.concatenate(ys)
    return make_dataset(
        X_all,
        y_all,
        X_test,
        y_test,
        num_val=min(DEFAULT_NUM_VAL, len(y_all) // 10) if num_val is None else num_val,
        seed=seed,
        class_names=CLASS_NAMES,
        source=f"CIFAR-10 ({folder})",
    )
