"""What a network graph (:mod:`nets.mlp.netgraph`) runs on: a small batch of images
(picked from a dataset and preprocessed in float64, or random) and fresh weights."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from nets.errors import ConfigError
from nets.mlp.classifiers import Classifier, LinearClassifier, TwoLayerNet

if TYPE_CHECKING:
    from nets.data.dataset import ImageDataset
    from nets.data.preprocess import Preprocessor

#: The largest batch the view runs on.
MAX_BATCH = 16
KINDS = ("TwoLayerNet", "LinearClassifier")


@dataclass(frozen=True, eq=False)
class Batch:
    """What the graph runs on.

    X: (N, D) float64, preprocessed in float64 as ``(raw - mean) / scale``; y: (N,) int64;
    images: (N, H, W, C) uint8 thumbnails (None for random data); raw: (N, D) float64
    pixels before preprocessing, mean: (D,) float64 and scale (None/1.0 when X was given
    directly); indices: (N,) positions in the split.
    """

    X: np.ndarray
    y: np.ndarray
    images: np.ndarray | None = None
    indices: np.ndarray | None = None
    split: str = "random"
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    raw: np.ndarray | None = None
    mean: np.ndarray | None = None
    scale: float = 1.0

    @property
    def n(self) -> int:
        return int(self.X.shape[0])


def check_batch_size(n: Any) -> int:
    """``n`` if it is a batch size the view runs on (1..MAX_BATCH), else ConfigError."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 1 <= n <= MAX_BATCH:
        raise ConfigError(f"the batch must have 1 to {MAX_BATCH} images, got {n!r}")
    return int(n)


def pick_batch(
    dataset: ImageDataset,
    n: int,
    seed: int = 0,
    split: str = "train",
    preprocessor: Preprocessor | None = None,
) -> Batch:
    """``n`` images drawn without replacement (by ``seed``) from the train or val split,
    preprocessed in float64 with ``preprocessor`` (default: fitted on the training split,
    as training does)."""
    n = check_batch_size(n)
    if split == "train":
        images, labels = dataset.X_train, dataset.y_train
    elif split == "val":
        images, labels = dataset.X_val, dataset.y_val
    else:
        raise ConfigError(f"the split must be train or val, got {split!r}")
    if len(labels) < n:
        raise ConfigError(f"the {split} split has {len(labels)} images, fewer than the {n} asked")
    if preprocessor is None:
        from nets.data.preprocess import Preprocessor

        preprocessor = Preprocessor.fit(dataset.X_train)
    rng = np.random.default_rng(seed)
    idx = np.sort(rng.choice(len(labels), size=n, replace=False)).astype(np.int64)
    picked = np.asarray(images[idx])
    raw = picked.reshape(n, -1).astype(np.float64)
    if raw.shape[1] != preprocessor.input_dim:
        raise ConfigError(
            f"the images have {raw.shape[1]} values each but the model's preprocessing "
            f"expects {preprocessor.input_dim}"
        )
    mean = preprocessor.mean.astype(np.float64)
    scale = float(preprocessor.scale)
    return Batch(
        X=(raw - mean) / scale,
        y=np.asarray(labels[idx], dtype=np.int64),
        images=picked,
        indices=idx,
        split=split,
        class_names=tuple(dataset.class_names),
        image_shape=tuple(dataset.image_shape),
        raw=raw,
        mean=mean,
        scale=scale,
    )


def random_batch(n: int, input_dim: int, num_classes: int, seed: int = 0) -> Batch:
    """Standard-normal inputs and uniform labels (for tests and benchmarks)."""
    n = check_batch_size(n)
    rng = np.random.default_rng(seed)
    return Batch(
        X=rng.standard_normal((n, input_dim)),
        y=rng.integers(0, num_classes, size=n).astype(np.int64),
        indices=np.arange(n, dtype=np.int64),
    )


def fresh_weights(
    kind: str = "TwoLayerNet",
    input_dim: int = 3072,
    num_classes: int = 10,
    hidden_dim: int = 512,
    weight_scale: float = 1e-3,
    seed: int | None = 0,
) -> dict[str, np.ndarray]:
    """A fresh initialisation, exactly as the classifier makes it (float64)."""
    model: Classifier
    if kind == "TwoLayerNet":
        model = TwoLayerNet(input_dim, num_classes, hidden_dim, weight_scale, seed=seed)
    elif kind == "LinearClassifier":
        model = LinearClassifier(input_dim, num_classes, weight_scale, seed=seed)
    else:
        raise ConfigError(f"the model must be one of {', '.join(KINDS)}, got {kind!r}")
    return {k: v.astype(np.float64) for k, v in model.parameters().items()}
