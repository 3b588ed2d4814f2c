"""Preprocessing as in the seed (mean image subtraction, then scaling) and minibatch sampling."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

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


class Deferrer(Protocol):
    """Runs a job later, in parallel with its caller (``nets.mlp.parallel.Workers``)."""

    def defer(self, job: Callable[[], None]) -> None: ...

    def settle(self) -> None: ...


class DataSampler:
    """Shuffled minibatches over (X, y), one pass per ``iter()``.

    X: (N, D), y: (N,). Each epoch visits every example once in a fresh seeded order;
    the last batch may be smaller. With ``reuse_buffers=True`` the yielded arrays are
    preallocated buffers overwritten by the next batch (no allocation per step): use
    each batch before asking for the next. ``gather(X, idx, out)`` fills such a buffer with
    X[idx] (default ``np.take``; the numpy trainer passes one split across cores).
    ``prefetch`` (with ``reuse_buffers``): the next batch is gathered into a second pair
    of buffers by ``prefetch.defer`` while the consumer uses the current one (the numpy
    trainer's workers, between its GEMMs), and ``prefetch.settle()`` is waited for before
    it is yielded.
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
        prefetch: Deferrer | None = None,
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
        self._prefetch = prefetch if reuse_buffers else None
        self._buffers: list[tuple[np.ndarray, np.ndarray]] = []

    def __len__(self) -> int:
        return -(-len(self.X) // self.batch_size)

    def _fill(self, idx: np.ndarray, slot: int) -> tuple[np.ndarray, np.ndarray]:
        """X[idx], y[idx] gathered into buffer pair ``slot``."""
        import numpy as np

        xbuf, ybuf = self._buffers[slot]
        xb, yb = xbuf[: len(idx)], ybuf[: len(idx)]
        self._gather(self.X, idx, xb)
        np.take(self.y, idx, axis=0, out=yb)
        return xb, yb

    def __iter__(self) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        import numpy as np

        order = self.rng.permutation(len(self.X))
        b = self.batch_size
        if not self.reuse_buffers:
            for start in range(0, len(order), b):
                idx = order[start : start + b]
                yield self.X[idx], self.y[idx]
            return
        pairs = 2 if self._prefetch is not None else 1
        m = min(b, len(self.X))
        while len(self._buffers) < pairs:
            self._buffers.append(
                (np.empty((m, *self.X.shape[1:]), self.X.dtype), np.empty(m, self.y.dtype))
            )
        starts = range(0, len(order), b)
        if self._prefetch is None:
            for start in starts:
                yield self._fill(order[start : start + b], 0)
            return
        prefetch = self._prefetch
        ready: list[tuple[np.ndarray, np.ndarray]] = []

        def fetch(idx: np.ndarray, slot: int) -> Callable[[], None]:
            def job() -> None:
                ready.append(self._fill(idx, slot))

            return job

        fetch(order[:b], 0)()
        try:
            for k, start in enumerate(starts):
                batch = ready.pop()
                if start + b < len(order):
                    nxt = order[start + b : start + 2 * b]
                    prefetch.defer(fetch(nxt, (k + 1) % 2))
                yield batch
                prefetch.settle()
        finally:
            prefetch.settle()  # nothing may still write a buffer when the epoch is left
