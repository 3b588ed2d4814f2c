"""Numbers the tab's views show, computed in the worker thread (numpy only, no Qt)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


MAX_UNITS = 128  # hidden units drawn in the weights view
MAX_MISTAKES = 300  # misclassified validation images kept per run


@dataclass(frozen=True, eq=False)
class WeightsSnapshot:
    """First-layer weights as images: ``images`` (U, H, W, C) uint8 for the first U hidden
    units (or classes, for a linear model), each rescaled to 0..255 by its own min and max
    (done here, in the worker, so the GUI thread only wraps the pixels); ``total`` units in
    the layer."""

    images: np.ndarray
    total: int
    epoch: int


@dataclass(frozen=True, eq=False)
class ValidationAnalysis:
    """The model's predictions on the validation split.

    ``y_true``, ``y_pred``: int64 (N,). ``mistake_idx``: indices into the split of up to
    ``MAX_MISTAKES`` misclassified images (a seeded sample), with their pixels
    ``mistake_images`` (M, H, W, C) uint8 when the images were available.
    """

    y_true: np.ndarray
    y_pred: np.ndarray
    mistake_idx: np.ndarray
    mistake_images: np.ndarray | None

    @property
    def accuracy(self) -> float:
        import numpy as np

        return float(np.mean(self.y_true == self.y_pred)) if len(self.y_true) else float("nan")


@dataclass(frozen=True)
class TestResult:
    accuracy: float
    n: int


def first_weights(model) -> np.ndarray:
    """The first layer's weight matrix (D, H) of a numpy-net model."""
    import numpy as np

    params = model.parameters()
    return params["W1"] if "W1" in params else params.get("W", np.zeros((0, 0)))


def first_layer_images(
    W1: np.ndarray, image_shape: tuple[int, ...] | None, epoch: int = 0
) -> WeightsSnapshot | None:
    """W1 (D, U) -> each unit's incoming weights as an image of ``image_shape`` (H, W, C).
    None when the shape is unknown or does not match D."""
    import numpy as np

    if image_shape is None or W1.ndim != 2:
        return None
    d, units = W1.shape
    if int(np.prod(image_shape)) != d:
        return None
    shown = min(units, MAX_UNITS)
    w = np.asarray(W1[:, :shown], dtype=np.float32).T
    w = np.nan_to_num(w, nan=0.0, posinf=0.0, neginf=0.0)
    lo = w.min(axis=1, keepdims=True)
    span = w.max(axis=1, keepdims=True) - lo
    span[span <= 0] = 1.0
    pixels = ((w - lo) * (255.0 / span)).clip(0, 255).astype(np.uint8)
    return WeightsSnapshot(images=pixels.reshape(shown, *image_shape), total=units, epoch=epoch)


def predict_images(model, preprocessor, X: np.ndarray, chunk: int = 1000) -> np.ndarray:
    """Labels (N,) for images X (N, ...) through the model's preprocessing, in chunks."""
    import numpy as np

    out = np.empty(len(X), dtype=np.int64)
    for start in range(0, len(X), chunk):
        block = X[start : start + chunk]
        if preprocessor is not None:
            block = preprocessor.transform(block, dtype=model.dtype)
        else:
            block = np.asarray(block, dtype=model.dtype).reshape(len(block), -1)
        out[start : start + chunk] = model.predict(block)
    return out


def analyse_validation(
    model, preprocessor, X_val: np.ndarray, y_val: np.ndarray, seed: int = 0
) -> ValidationAnalysis:
    import numpy as np

    y_pred = predict_images(model, preprocessor, X_val) if len(y_val) else np.zeros(0, np.int64)
    wrong = np.flatnonzero(y_pred != y_val)
    if len(wrong) > MAX_MISTAKES:
        wrong = np.sort(np.random.default_rng(seed).choice(wrong, MAX_MISTAKES, replace=False))
    images = X_val[wrong] if X_val.dtype == np.uint8 and X_val.ndim >= 3 else None
    return ValidationAnalysis(
        y_true=np.asarray(y_val, np.int64),
        y_pred=y_pred,
        mistake_idx=wrong,
        mistake_images=images,
    )
