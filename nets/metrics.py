"""Figures computed from predictions, shared by both networks, their CLIs and tabs."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np


def confusion_matrix(y_true: np.ndarray, y_pred: np.ndarray, num_classes: int) -> np.ndarray:
    """Counts ``(K, K)`` int64: ``[t, p]`` = how many of true class t were predicted p.

    ``y_true``, ``y_pred``: int arrays of shape (N,); pairs with a label outside [0, K)
    are left out (a model's prediction can never be, a mislabelled file can).
    """
    import numpy as np

    y_true = np.asarray(y_true, dtype=np.int64).ravel()
    y_pred = np.asarray(y_pred, dtype=np.int64).ravel()
    keep = (y_true >= 0) & (y_true < num_classes) & (y_pred >= 0) & (y_pred < num_classes)
    flat = y_true[keep] * num_classes + y_pred[keep]
    return np.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)
