"""Fashion-MNIST from its four IDX files (Debian's package, torchvision's download, or DIR)."""

from __future__ import annotations

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
from nets.data.idx import read_idx
from nets.data.spec import DatasetSpec, data_home, default_locations
from nets.errors import Cancelled, DataError

if TYPE_CHECKING:
    import numpy as np

CLASS_NAMES = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
# The seed splits the 60,000 training images into 50,000 train and 10,000 validation
# (a sixth, for smaller files in the same format).
DEFAULT_NUM_VAL = 10000


def _find(folder: Path, stem: str) -> Path | None:
    for name in (stem + ".gz", stem):
        if (folder / name).is_file():
            return folder / name
    return None


def resolve_folder(spec: DatasetSpec) -> Path | None:
    if spec.path is not None:
        candidates = [spec.path, spec.path / "FashionMNIST" / "raw", spec.path / "raw"]
    else:
        candidates = default_locations("fashion-mnist")
    for c in candidates:
        if _find(c, FILES["train_images"]) and _find(c, FILES["train_labels"]):
            return c
    return None


def _missing_hint(spec: DatasetSpec) -> str:
    if spec.path is not None:
        return (
            f"Fashion-MNIST not found in {spec.path}: expected {FILES['train_images']}.gz and "
            f"{FILES['train_labels']}.gz there"
        )
    return (
        "Fashion-MNIST not found: install it (apt-get install dataset-fashion-mnist) or "
        "download it (command line: add --download; app: Download) into "
        f"{data_home() / 'FashionMNIST' / 'raw'}"
    )


def probe(spec: DatasetSpec) -> DatasetInfo:
    folder = resolve_folder(spec)
    if folder is None:
        return DatasetInfo(
            spec=spec.text,
            kind="fashion-mnist",
            found=False,
            location=spec.path,
            description="Fashion-MNIST not found",
            class_names=CLASS_NAMES,
            hint=_missing_hint(spec),
            can_download=True,
        )
    has_test = _find(folder, FILES["test_images"]) is not None
    return DatasetInfo(
        spec=spec.text,
        kind="fashion-mnist",
        found=True,
        location=folder,
        description=f"Fashion-MNIST in {folder}",
        class_names=CLASS_NAMES,
        num_train=60000,
        num_test=10000 if has_test else None,
    )


def download(
    spec: DatasetSpec,
    *,
    progress: ProgressCallback | None = None,
    cancel: CancelToken | None = None,
) -> Path:
    """Download the four gzipped IDX files (torchvision's mirrors and MD5s)."""
    from nets.data.download import download_file

    try:
        from torchvision.datasets import FashionMNIST

        mirrors = list(FashionMNIST.mirrors)
        resources = list(FashionMNIST.resources)
    except Exception:
        mirrors = ["http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/"]
        resources = [
            ("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d"),
            ("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe"),
            ("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79"),
            ("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310"),
        ]
    folder = (spec.path or data_home()) / "FashionMNIST" / "raw"
    for filename, md5 in resources:
        download_file(
            [m + filename for m in mirrors],
            folder / filename,
            md5,
            progress=progress,
            cancel=cancel,
        )
    return folder


def _read_pair(folder: Path, images_key: str, labels_key: str) -> tuple[np.ndarray, np.ndarray]:
    import numpy as np

    img_path = _find(folder, FILES[images_key])
    lab_path = _find(folder, FILES[labels_key])
    if img_path is None or lab_path is None:
        raise DataError(f"{folder} lacks {FILES[images_key]} or {FILES[labels_key]}")
    images = read_idx(img_path, expect_ndim=3)
    labels = read_idx(lab_path, expect_ndim=1)
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise DataError(f"{img_path.name}/{lab_path.name}: expected unsigned byte data")
    if images.shape[0] != labels.shape[0]:
        raise DataError(
            f"{img_path.name} has {images.shape[0]} images but {lab_path.name} has "
            f"{labels.shape[0]} labels"
        )
    if labels.size and labels.max() >= len(CLASS_NAMES):
        raise DataError(f"{lab_path.name} has labels outside 0..9")
    return images[..., None], labels.astype(np.int64)


def load(
    spec: DatasetSpec,
    *,
    num_val: int | None = None,
    seed: int = 0,
    progress: ProgressCallback | None = None,
    download_missing: bool = False,
    cancel: CancelToken | None = None,
) -> ImageDataset:
    folder = resolve_folder(spec)
    if folder is None:
        if not download_missing:
            raise DataError(_missing_hint(spec))
        folder = download(spec, progress=progress, cancel=cancel)
    report(progress, 0, 2, "reading Fashion-MNIST training images")
    X, y = _read_pair(folder, "train_images", "train_labels")
    if is_cancelled(cancel):
        raise Cancelled("loading cancelled")
    X_test = y_test = None
    if _find(folder, FILES["test_images"]) is not None:
        report(progress, 1, 2, "reading Fashion-MNIST test images")
        X_test, y_test = _read_pair(folder, "test_images", "test_labels")
    report(progress, 2, 2, "Fashion-MNIST loaded")
    return make_dataset(
        X,
        y,
        X_test,
        y_test,
        num_val=min(DEFAULT_NUM_VAL, len(y) // 6) if num_val is None else num_val,
        seed=seed,
        class_names=CLASS_NAMES,
        source=f"Fashion-MNIST ({folder})",
    )
