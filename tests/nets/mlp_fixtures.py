"""Tiny synthetic image datasets for the numpy-network tests (no real data needed)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from hypothesis import strategies as st

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


@st.composite
def explained_nets(draw: st.DrawFn) -> tuple[Any, list[str], int]:
    """A small random NetGraph (either classifier, any reg), one element of every kind
    (value: and grad: of every explainable tensor at a drawn index) and a term count."""
    from nets.mlp.explain import EXPLAINABLE, explainable_shapes
    from nets.mlp.netgraph import build_netgraph, fresh_weights, random_batch

    kind = draw(st.sampled_from(sorted(EXPLAINABLE)))
    n, d, h, c = (draw(st.integers(lo, hi)) for lo, hi in ((1, 5), (1, 9), (1, 6), (2, 6)))
    seed = draw(st.integers(0, 10_000))
    weights = fresh_weights(kind, d, c, h, draw(st.floats(0.01, 3.0)), seed=seed + 1)
    ng = build_netgraph(weights, random_batch(n, d, c, seed=seed), draw(st.floats(0.0, 2.0)))
    elements = []
    for tensor, shape in explainable_shapes(ng).items():
        index = ",".join(str(draw(st.integers(0, s - 1))) for s in shape)
        for which in ("value", "grad"):
            elements.append(f"{which}:{tensor}[{index}]" if shape else f"{which}:{tensor}")
    return ng, elements, draw(st.integers(1, 5))
