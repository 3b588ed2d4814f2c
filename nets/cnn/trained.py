"""A trained CNN with everything needed to use it again, and evaluation on uint8 images.

:class:`TrainedCnn` bundles the torch module with its architecture, input shape, class
names and the per-channel normalisation of its training data; checkpoints save exactly
this. :func:`evaluate` and :func:`predict` take images as the datasets hold them, uint8
``(N, H, W, C)``, and normalise them the same way training did.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

from nets.cnn.arch import LayerSpec
from nets.cnn.config import TrainConfig
from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import Cancelled, ConfigError
from nets.testrecord import TestRecord

if TYPE_CHECKING:
    from torch import nn


@dataclass(eq=False)
class TrainedCnn:
    """A torch module plus what it takes to feed it and to rebuild it.

    ``mean`` and ``std`` are per channel in 0-255 pixel units: the model sees
    ``(pixel - mean) / std`` in (N, C, H, W) layout. ``input_shape`` is (C, H, W).
    """

    model: nn.Module
    arch: tuple[LayerSpec, ...]
    input_shape: tuple[int, int, int]
    class_names: tuple[str, ...]
    mean: tuple[float, ...]
    std: tuple[float, ...]
    config: TrainConfig | None = None
    data_source: str = ""
    iterations: int = 0  # optimizer steps taken
    val_acc: float | None = None  # last full validation accuracy
    test_record: TestRecord = field(default_factory=TestRecord)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def with_test_record(self, record: TestRecord) -> TrainedCnn:
        """The same model (shared module) with a new test record."""
        return dataclasses.replace(self, test_record=record)


class Evaluation(NamedTuple):
    """``accuracy`` in [0, 1] and the predicted class per image, int64 (N,)."""

    accuracy: float
    predictions: np.ndarray


class Prediction(NamedTuple):
    """Predicted class per image, int64 (N,), and class probabilities, float32 (N, K)."""

    labels: np.ndarray
    probabilities: np.ndarray


def channel_stats(X: np.ndarray, chunk: int = 8192) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of uint8 images (N, H, W, C), in 0-255 units.

    Works in chunks so 50,000 images never make a float64 copy; a channel that is constant
    gets std 1 so normalising never divides by zero.
    """
    if X.ndim != 4 or len(X) == 0:
        raise ConfigError(f"expected a non-empty image array (N, H, W, C), got shape {X.shape}")
    c = X.shape[3]
    total = np.zeros(c)
    total_sq = np.zeros(c)
    for start in range(0, len(X), chunk):
        part = X[start : start + chunk].reshape(-1, c).astype(np.float64)
        total += part.sum(axis=0)
        total_sq += np.square(part).sum(axis=0)
    count = len(X) * X.shape[1] * X.shape[2]
    mean = total / count
    var = np.maximum(total_sq / count - mean**2, 0.0)
    std = np.sqrt(var)
    std[std < 1e-6] = 1.0
    return tuple(float(v) for v in mean), tuple(float(v) for v in std)


def check_images(trained: TrainedCnn, X: np.ndarray, what: str = "images") -> None:
    """ConfigError unless X is uint8 (N, H, W, C) matching the model's input shape."""
    c, h, w = trained.input_shape
    if X.ndim != 4 or tuple(X.shape[1:]) != (h, w, c):
        got = "x".join(str(s) for s in X.shape[1:]) if X.ndim == 4 else str(X.shape)
        raise ConfigError(
            f"the model takes {h}x{w}x{c} images but the {what} are {got}; "
            f"use data with the same image size and channels"
        )


class Normalizer:
    """uint8 (N, C, H, W) tensor batches -> normalised float32 (lazy torch)."""

    def __init__(self, mean: Sequence[float], std: Sequence[float], device: Any) -> None:
        import torch

        c = len(mean)
        self.shift = torch.tensor(mean, dtype=torch.float32, device=device).view(1, c, 1, 1)
        self.scale = (1.0 / torch.tensor(std, dtype=torch.float32, device=device)).view(1, c, 1, 1)

    def __call__(self, batch: Any) -> Any:
        return batch.float().sub_(self.shift).mul_(self.scale)


def to_nchw_tensor(X: np.ndarray, device: Any = "cpu") -> Any:
    """uint8 (N, H, W, C) numpy -> a contiguous uint8 (N, C, H, W) torch tensor (a copy)."""
    import torch

    nchw = np.array(X.transpose(0, 3, 1, 2), dtype=np.uint8, order="C", copy=True)
    return torch.from_numpy(nchw).to(device)


def _model_device(model: Any) -> Any:
    for p in model.parameters():
        return p.device
    return "cpu"


def predict(
    trained: TrainedCnn,
    X: np.ndarray,
    *,
    batch_size: int = 1000,
    cancel: CancelToken | None = None,
) -> Prediction:
    """Class predictions and probabilities for uint8 images (N, H, W, C).

    Runs in eval mode (Dropout off, BatchNorm running statistics) without gradients and
    puts the module back in the mode it was in. Raises Cancelled when ``cancel`` is set.
    """
    import torch

    check_images(trained, X)
    model = trained.model
    device = _model_device(model)
    norm = Normalizer(trained.mean, trained.std, device)
    was_training = model.training
    model.eval()
    labels = np.empty(len(X), dtype=np.int64)
    probs = np.empty((len(X), trained.num_classes), dtype=np.float32)
    try:
        with torch.inference_mode():
            for start in range(0, len(X), batch_size):
                if is_cancelled(cancel):
                    raise Cancelled("evaluation cancelled")
                xb = norm(to_nchw_tensor(X[start : start + batch_size], device))
                p = torch.softmax(model(xb).float(), dim=1)
                probs[start : start + len(xb)] = p.cpu().numpy()
                labels[start : start + len(xb)] = p.argmax(dim=1).cpu().numpy()
    finally:
        model.train(was_training)
    return Prediction(labels, probs)


def evaluate(
    trained: TrainedCnn,
    X: np.ndarray,
    y: np.ndarray,
    *,
    batch_size: int = 1000,
    cancel: CancelToken | None = None,
) -> Evaluation:
    """Accuracy and predictions of ``trained`` on uint8 images X (N, H, W, C), labels y (N,)."""
    if len(X) != len(y):
        raise ConfigError(f"{len(X)} images but {len(y)} labels")
    if len(X) == 0:
        raise ConfigError("no images to evaluate")
    labels = predict(trained, X, batch_size=batch_size, cancel=cancel).labels
    return Evaluation(float(np.mean(labels == np.asarray(y))), labels)
