"""Tiny synthetic image datasets for the numpy-network tests (no real data needed)."""

from __future__ import annotations

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
