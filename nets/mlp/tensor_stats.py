"""Summary statistics of one tensor (shape, range, mean, histogram), as the network graph
and its views show them."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True, eq=False)
class TensorStats:
    """Shape, range, mean and a histogram of one tensor (``hist_counts``: (bins,) int64,
    ``hist_edges``: (bins + 1,) float64)."""

    shape: tuple[int, ...]
    min: float
    max: float
    mean: float
    hist_counts: np.ndarray
    hist_edges: np.ndarray


def tensor_stats(a: np.ndarray, bins: int = 20) -> TensorStats:
    """Summary statistics of ``a`` (any shape; non-finite values are left out of the
    histogram, a constant tensor gets one bin around its value)."""
    arr = np.asarray(a, dtype=np.float64)
    flat = arr.reshape(-1)
    finite = flat[np.isfinite(flat)]
    if finite.size == 0:
        nan = float("nan")
        return TensorStats(arr.shape, nan, nan, nan, np.zeros(bins, np.int64), np.zeros(bins + 1))
    lo, hi = float(finite.min()), float(finite.max())
    counts, edges = np.histogram(finite, bins=bins, range=(lo, hi) if hi > lo else None)
    return TensorStats(arr.shape, lo, hi, float(finite.mean()), counts.astype(np.int64), edges)
