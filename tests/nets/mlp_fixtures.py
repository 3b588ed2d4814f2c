"""Tiny synthetic image datasets for the numpy-network tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nets.data.dataset import ImageDataset, make_dataset


def blobs(
    n: int = 600,
    classes: int = 4,
    shape: tuple[int, int, int] = (4, 4, 3),
    seed: int = 0,
    noise: float = 40.0,
    n_test: int = 100,
) -> ImageDataset:
    """Uint8 images: one random mean image per class plus noise; learnable but not trivial."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(60, 195, size=(classes, *shape))

    def draw(count: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, classes, size=count)
        X = means[y] + rng.normal(0, noise, size=(count, *shape))
        return np.clip(X, 0, 255).astype(np.uint8), y.astype(np.int64)

    X, y = draw(n)
    Xt, yt = draw(n_test)
    return make_dataset(
        X,
        y,
        Xt,
        yt,
        num_val=n // 5,
        seed=seed,
        class_names=tuple(f"c{i}" for i in range(classes)),
        source="synthetic blobs",
    )


#: The CIFAR-10 training JPEGs (the image-folder layout ``train/<class>/NNNN.jpg``).
CIFAR_JPEGS = Path("/work/data/train")


def small_cifar_folder(root: Path, per_class: int = 4) -> Path:
    """Copy the first ``per_class`` JPEGs of every CIFAR-10 class into ``root/train``
    (an image folder the folder loader reads in a second); skip the test when absent."""
    import shutil

    import pytest

    if not CIFAR_JPEGS.is_dir() or len(list(CIFAR_JPEGS.iterdir())) < 10:
        pytest.skip(f"the CIFAR-10 JPEGs at {CIFAR_JPEGS} are absent")
    for cls in sorted(p for p in CIFAR_JPEGS.iterdir() if p.is_dir()):
        target = root / "train" / cls.name
        target.mkdir(parents=True, exist_ok=True)
        for jpg in sorted(cls.glob("*.jpg"))[:per_class]:
            shutil.copyfile(jpg, target / jpg.name)
    return root
