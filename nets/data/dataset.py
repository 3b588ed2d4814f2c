"""The dataset every loader returns, the cheap probe result, and the train/validation split."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from nets.errors import DataError

if TYPE_CHECKING:
    import numpy as np

# progress(done, total, message): called from the loading thread; total may be 0 if unknown.
ProgressCallback = Callable[[int, int, str], None]
# A callable returning True, or anything with is_set() (threading.Event), asks to stop.
CancelToken = Callable[[], bool] | Any


@dataclass(frozen=True, eq=False)
class ImageDataset:
    """Images and labels split into train, validation and (optionally) test.

    X arrays are uint8 of shape (N, H, W, C), C = 1 for grayscale (Fashion-MNIST) and
    3 for colour; y arrays are int64 of shape (N,) with values in [0, num_classes).
    ``X_test``/``y_test`` are None when the source has no test split (a folder without
    test/). ``skipped`` counts files that could not be used; ``skipped_by_reason`` maps
    a short reason ("not an image", "empty file", ...) to its count.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray | None
    y_test: np.ndarray | None
    class_names: tuple[str, ...]
    source: str
    skipped: int = 0
    skipped_by_reason: Mapping[str, int] = field(default_factory=dict)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        """(H, W, C) of every image."""
        return tuple(self.X_train.shape[1:])

    @property
    def input_dim(self) -> int:
        """H * W * C: the length of a flattened image."""
        import numpy as np

        return int(np.prod(self.X_train.shape[1:]))

    @property
    def has_test(self) -> bool:
        return self.X_test is not None

    @property
    def skipped_summary(self) -> str:
        """E.g. "3 files skipped: 2 not an image, 1 empty file"; "" when nothing was skipped."""
        return summarize_skipped(self.skipped_by_reason)

    def describe(self) -> str:
        """One line for a status bar or the command line."""
        test = f", {len(self.y_test)} test" if self.y_test is not None else ", no test split"
        h, w, c = self.image_shape
        text = (
            f"{self.source}: {len(self.y_train)} train, {len(self.y_val)} validation{test}; "
            f"{self.num_classes} classes; {h}x{w}x{c}"
        )
        if self.skipped:
            text += f"; {self.skipped_summary}"
        return text


@dataclass(frozen=True)
class DatasetInfo:
    """What ``probe_dataset`` found, cheaply (no decoding, no checksums).

    ``class_counts`` maps class name to the number of training files for a folder (file
    counts, before any unreadable file is skipped) and is empty for CIFAR-10 and
    Fashion-MNIST before loading. ``hint`` says what to do when ``found`` is False.
    """

    spec: str
    kind: str
    found: bool
    location: Path | None
    description: str
    class_names: tuple[str, ...] = ()
    class_counts: Mapping[str, int] = field(default_factory=dict)
    num_train: int | None = None
    num_test: int | None = None
    hint: str = ""
    can_download: bool = False


def summarize_skipped(by_reason: Mapping[str, int]) -> str:
    total = sum(by_reason.values())
    if not total:
        return ""
    parts = ", ".join(
        f"{n} {reason}" for reason, n in sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))
    )
    noun = "file" if total == 1 else "files"
    return f"{total} {noun} skipped: {parts}"


def is_cancelled(cancel: CancelToken | None) -> bool:
    """True when ``cancel`` (a callable or an Event-like object) asks to stop."""
    if cancel is None:
        return False
    is_set = getattr(cancel, "is_set", None)
    if callable(is_set):
        return bool(is_set())
    return bool(cancel())


def report(progress: ProgressCallback | None, done: int, total: int, message: str) -> None:
    if progress is not None:
        progress(done, total, message)


def training_subset(y: np.ndarray, num_train: int | None, seed: int = 0) -> np.ndarray | None:
    """Indices of ``num_train`` of the training images, picked by a seeded shuffle and
    sorted (the original order kept), or None when all of them are used."""
    import numpy as np

    if num_train is None or num_train >= len(y):
        return None
    rng = np.random.default_rng(seed)
    return np.sort(rng.permutation(len(y))[:num_train])


def split_train_val(y: np.ndarray, num_val: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Deterministic stratified split of indices into (train_idx, val_idx).

    Each class gives validation images in proportion to its size (largest remainder),
    chosen by a seeded shuffle; both index arrays come back sorted so the data keep
    their original order. y: int (N,). Raises DataError if num_val leaves no training data.
    """
    import numpy as np

    n = len(y)
    if num_val < 0:
        raise DataError(f"the validation size must be >= 0, got {num_val}")
    if n == 0:
        raise DataError("the dataset has no training images")
    if num_val >= n:
        raise DataError(
            f"cannot carve {num_val} validation images out of {n} training images: "
            "choose a smaller validation size"
        )
    if num_val == 0:
        return np.arange(n), np.zeros(0, dtype=np.int64)
    rng = np.random.default_rng(seed)
    classes, counts = np.unique(y, return_counts=True)
    exact = counts * (num_val / n)
    quota = np.floor(exact).astype(np.int64)
    remainder = num_val - int(quota.sum())
    if remainder:
        order = np.argsort(-(exact - quota), kind="stable")
        quota[order[:remainder]] += 1
    val_parts = []
    for cls, q in zip(classes, quota, strict=True):
        members = np.flatnonzero(y == cls)
        val_parts.append(rng.permutation(members)[:q])
    val_idx = np.sort(np.concatenate(val_parts))
    mask = np.ones(n, dtype=bool)
    mask[val_idx] = False
    return np.flatnonzero(mask), val_idx


def small_page_array(shape: tuple[int, ...], dtype: Any) -> np.ndarray:
    """A zeroed array of ``shape`` in ordinary 4 KB pages.

    numpy asks the kernel for 2 MB pages for arrays over 4 MB; on this VM faulting fresh
    ones in took 0.5 to 1.1 s for the 150 MB of the CIFAR images in a new process (the
    host lends the memory lazily), against 0.1 s in small pages, which cost nothing
    elsewhere. Used for the few arrays of a whole data set.
    """
    import numpy as np

    count = 1
    for n in shape:
        count *= int(n)
    dt = np.dtype(dtype)
    # bytearray's memory comes from calloc: for large sizes a fresh mapping, no madvise.
    return np.frombuffer(bytearray(count * dt.itemsize), dt, count=count).reshape(shape)


def _gather(X: np.ndarray, idx: np.ndarray) -> np.ndarray:
    """``X[idx]`` along the first axis, into small pages (see small_page_array)."""
    import numpy as np

    out = small_page_array((len(idx), *X.shape[1:]), X.dtype)
    # mode="clip" is not buffered (the indices are in range: they come from the split).
    return np.take(X, idx, axis=0, out=out, mode="clip")


def make_dataset(
    X: np.ndarray,
    y: np.ndarray,
    X_test: np.ndarray | None,
    y_test: np.ndarray | None,
    *,
    num_val: int,
    seed: int,
    class_names: tuple[str, ...],
    source: str,
    skipped_by_reason: Mapping[str, int] | None = None,
) -> ImageDataset:
    """Split (X, y) into train/validation and wrap everything in an ImageDataset."""
    import numpy as np

    train_idx, val_idx = split_train_val(y, num_val, seed)
    by_reason = dict(skipped_by_reason or {})
    as_labels = np.asarray
    return ImageDataset(
        X_train=_gather(X, train_idx),
        y_train=as_labels(y[train_idx], dtype=np.int64),
        X_val=_gather(X, val_idx),
        y_val=as_labels(y[val_idx], dtype=np.int64),
        X_test=X_test,
        y_test=None if y_test is None else as_labels(y_test, dtype=np.int64),
        class_names=tuple(class_names),
        source=source,
        skipped=sum(by_reason.values()),
        skipped_by_reason=by_reason,
    )
