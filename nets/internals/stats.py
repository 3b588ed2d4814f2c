"""Array statistics for layer sampling: moments, norms and fixed-edge histograms, in numpy.

Everything here is called only on sampled steps and reads arrays without changing them.
Sums are accumulated in float64 so that a float32 tensor of huge but finite values does
not read as non-finite, and a NaN or inf anywhere shows up as a non-finite sum.
"""

from __future__ import annotations

import math

import numpy as np

#: Bins of every histogram.
BINS = 40
#: Histograms of larger arrays use an evenly strided subset of this many values: a density
#: needs no more, and the first layer's weights (1.5 million values) would cost 10 ms.
HIST_SAMPLE = 1 << 16


def subsample(values: np.ndarray, limit: int = HIST_SAMPLE) -> np.ndarray:
    """All values as a 1-D array, or an evenly strided view of about ``limit`` of them."""
    flat = values.reshape(-1)
    return flat[:: flat.size // limit] if flat.size > limit else flat


def all_finite(values: np.ndarray) -> bool:
    """True when no value is NaN or infinite (one pass: a sum is finite unless some value
    is not, or the values are so huge that a float32 sum overflows, checked exactly)."""
    with np.errstate(over="ignore", invalid="ignore"):
        if math.isfinite(float(np.sum(values))):
            return True
    return bool(np.isfinite(values).all())


def moments(values: np.ndarray) -> tuple[float, float, bool]:
    """(mean, std, finite) of ``values`` (any shape); nan, nan, False when some value is
    NaN or infinite. Mean and std are computed in float64 on ``subsample`` (an estimate
    for arrays over ``HIST_SAMPLE`` values; exact below); finiteness checks every value."""
    if values.size == 0:
        return math.nan, math.nan, True
    if not all_finite(values):
        return math.nan, math.nan, False
    part = subsample(values).astype(np.float64)
    return float(part.mean()), float(part.std()), True


def norm(values: np.ndarray) -> float:
    """Euclidean norm of all values (inf or nan when some are); safe from float32 overflow."""
    flat = np.ascontiguousarray(values).reshape(-1)
    if flat.size == 0:
        return 0.0
    with np.errstate(over="ignore", invalid="ignore"):
        sq = float(np.dot(flat, flat))
    if not math.isfinite(sq) and flat.dtype != np.float64:
        sq = float(np.dot(flat.astype(np.float64), flat.astype(np.float64)))
    return math.sqrt(sq) if sq >= 0 else math.nan


def zero_fraction(values: np.ndarray) -> float:
    """Fraction of values exactly 0."""
    return 1.0 - float(np.count_nonzero(values)) / max(values.size, 1)


def nice_ceiling(x: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is >= x (x > 0)."""
    exponent = math.floor(math.log10(x))
    for mantissa in (1.0, 2.0, 5.0, 10.0):
        value = mantissa * 10.0**exponent
        if value >= x * (1 - 1e-12):
            return value
    return 10.0 ** (exponent + 1)  # pragma: no cover - the loop always returns


def choose_edges(values: np.ndarray, *, nonnegative: bool, bins: int = BINS) -> np.ndarray:
    """Edges (bins + 1,) for a histogram that stays fixed for the rest of a run.

    ``values`` may be a ``subsample`` (the largest magnitude is then of the subsample).

    The range is twice the largest magnitude seen now, rounded up to 1, 2 or 5 times a power
    of ten, from 0 (``nonnegative``: ReLU outputs) or symmetric around 0; values that later
    fall outside land in the end bins.
    """
    flat = subsample(values)
    finite = flat[np.isfinite(flat)] if flat.size else flat
    biggest = float(np.max(np.abs(finite))) if finite.size else 0.0
    top = nice_ceiling(2 * biggest) if biggest > 0 else 1e-3
    low = 0.0 if nonnegative else -top
    return np.linspace(low, top, bins + 1)


def histogram(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts (len(edges) - 1,) int64 of ``values`` in evenly spaced ``edges``.

    Values beyond the edges count in the end bins, NaN and inf are left out; arrays larger
    than ``HIST_SAMPLE`` are counted on an evenly strided subset (counts then sum to the
    subset's size).
    """
    flat = subsample(values)
    bins = len(edges) - 1
    lo, hi = float(edges[0]), float(edges[-1])
    pos = (flat.astype(np.float64) - lo) * (bins / (hi - lo))
    pos = pos[np.isfinite(pos)]
    np.clip(pos, 0, bins - 1, out=pos)
    return np.bincount(pos.astype(np.intp), minlength=bins).astype(np.int64)
