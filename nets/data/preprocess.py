"""Preprocessing as in the seed (mean image subtraction, then scaling) and minibatch sampling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from nets.errors import DataError

if TYPE_CHECKING:
    import numpy as np

_CHUNK_ROWS = 4096


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """Subtract the training split's mean image, then divide by its pixel standard deviation.

    ``mean``: float32 (D,) with D = H*W*C; ``scale``: the scalar standard deviation of the
    centred training pixels. Fitted on the training split only and stored in checkpoints,
    so evaluating a saved model reproduces the same inputs.
    """

    mean: np.ndarray
    scale: float

    @classmethod
    def fit(cls, X_train: np.ndarray) -> Preprocessor:
        """Fit on uint8 or float images (N, H, W, C) or (N, D)."""
        import numpy as np

        n = X_train.shape[0]
        if n == 0:
            raise DataError("cannot fit preprocessing on an empty training split")
        flat = X_train.reshape(n, -1)
        total = np.zeros(flat.shape[1], dtype=np.float64)
        for start in range(0, n, _CHUNK_ROWS):
            total += flat[start : start + _CHUNK_ROWS].sum(axis=0, dtype=np.float64)
        mean = total / n
        sq = 0.0
        for start in range(0, n, _CHUNK_ROWS):
            centred = flat[start : start + _CHUNK_ROWS].astype(np.float64) - mean
            sq += float(np.einsum("ij,ij->", centred, centred))
        std = float(np.sqrt(sq / flat.size))
        return cls(mean=mean.astype(np.float32), scale=std if std > 0 else 1.0)

    @property
    def input_dim(self) -> int:
        return int(self.mean.shape[0])

    def transform(self, X: np.ndarray, dtype: np.dtype | type | str = "float32") -> np.ndarray:
        """Images (N, H, W, C) or (N, D) -> preprocessed (N, D) array of ``dtype``."""
        import numpy as np

        n = X.shape[0]
        # An empty split (--num-val 0) may come without its image dimensions.
        flat = X.reshape(n, -1) if n else np.zeros((0, self.input_dim), dtype=X.dtype)
        if flat.shape[1] != self.input_dim:
            raise DataError(
                f"images have {flat.shape[1]} values each but the preprocessing expects "
                f"{self.input_dim}: a different image size or number of channels"
            )
        out = np.empty(flat.shape, dtype=dtype)
        mean = self.mean.astype(dtype, copy=False)
        inv = np.asarray(1.0 / self.scale, dtype=dtype)
        for start in range(0, n, _CHUNK_ROWS):
            block = out[start : start + _CHUNK_ROWS]
            block[...] = flat[start : start + _CHUNK_ROWS]
            block -= mean
            block *= inv
        return out

    def to_arrays(self) -> dict[str, np.ndarray]:
        """For checkpoints: plain arrays, no pickle."""
        import numpy as np

        return {"mean": self.mean, "scale": np.array(self.scale, dtype=np.float64)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Preprocessor:
        import numpy as np

        return cls(mean=np.asarray(arrays["mean"], np.float32), scale=float(arrays["scale"]))


class DataSampler:
    """Shuffled minibatches over (X, y), one pass per ``iter()``.

    X: (N, D), y: (N,). Each epoch visits every example once in a fresh seeded order;
    the last batch may be smaller. With ``reuse_buffers=True`` the yielded arrays are
    preallocated buffers overwritten by the next batch (no allocation per step): use
    each batch before asking for the next. ``gather(X, idx, out)`` fills such a buffer with
    X[idx] (default ``np.take``; the numpy trainer passes one split across cores).
    """

    def __init__(
        self,
        X: np.ndarray,
        y: np.ndarray,
        batch_size: int,
        seed: int | None = 0,
        *,
        reuse_buffers: bool = False,
        gather: Callable[[np.ndarray, np.ndarray, np.ndarray], object] | None = None,
    ) -> None:
        import numpy as np

        if batch_size < 1:
            raise DataError(f"batch size must be at least 1, got {batch_size}")
        if len(X) != len(y):
            raise DataError(f"{len(X)} inputs but {len(y)} labels")
        if len(X) == 0:
            raise DataError("no training examples")
        self.X, self.y = X, y
        self.batch_size = int(batch_size)
        self.rng = np.random.default_rng(seed)
        self.reuse_buffers = reuse_buffers
        self._gather = gather or (lambda X, idx, out: np.take(X, idx, axis=0, out=out))
        self._xbuf: np.ndarray | None = None
        self._ybuf: np.ndarray | None = None

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import numpy as np

        order = self.rng.permutation(len(self.X))
        b = self.batch_size
        if self.reuse_buffers and self._xbuf is None:
            m = min(b, len(self.X))
            self._xbuf = np.empty((m, *self.X.shape[1:]), dtype=self.X.dtype)
            self._ybuf = np.empty(m, dtype=self.y.dtype)
        for start in range(0, len(order), b):
            idx = order[start : start + b]
            if self.reuse_buffers:
                assert self._xbuf is not None and self._ybuf is not None
                xb, yb = self._xbuf[: len(idx)], self._ybuf[: len(idx)]
                self._gather(self.X, idx, xb)
                np.take(self.y, idx, axis=0, out=yb)
                yield xb, yb
            else:
                yield self.X[idx], self.y[idx]
