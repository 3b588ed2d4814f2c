"""Training-time data augmentation for flattened image batches: random flips and crops.

The batch arrives as the trainer's (B, D) float rows, D = H*W*C (preprocessed: the mean
image subtracted, so a zero is an average pixel). A random crop of padding p is the
image shifted by up to p pixels each way with zeros shifted in (the usual pad-and-crop);
a flip mirrors it left to right, half of the images at random. Vectorised: one pass per
distinct shift in the batch (at most (2p + 1)^2), never one per image.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nets.errors import ConfigError


class Augmenter:
    """Random shifts of up to ``pad`` pixels and (with ``flip``) left-right mirroring.

    ``image_shape``: (H, W, C) of the flattened rows. ``__call__(batch)`` returns an
    augmented (B, D) copy in a buffer of the augmenter's (overwritten by the next call).
    With ``key`` (the trainer passes (epoch, batch index)) the random draws come from
    (seed, *key) alone, so a run continued from a snapshot augments exactly as the
    original run did.
    """

    def __init__(
        self, image_shape: tuple[int, ...], pad: int, flip: bool, seed: int | None = 0
    ) -> None:
        if len(image_shape) != 3:
            raise ConfigError(
                f"random crops and flips need images (H, W, C), the data has shape {image_shape}"
            )
        h, w, _ = image_shape
        if pad < 0 or pad >= min(h, w):
            raise ConfigError(f"the crop padding must be in [0, {min(h, w) - 1}], got {pad}")
        self.shape = tuple(int(v) for v in image_shape)
        self.pad = int(pad)
        self.flip = bool(flip)
        self.seed = 0 if seed is None else int(seed)
        self.rng = np.random.default_rng(seed)
        self._padded: np.ndarray | None = None
        self._out: np.ndarray | None = None

    @property
    def active(self) -> bool:
        return self.pad > 0 or self.flip

    def __call__(
        self,
        batch: np.ndarray,
        run: Callable[[Callable[[int, int], None]], None] | None = None,
        key: tuple[int, ...] | None = None,
    ) -> np.ndarray:
        """batch: (B, H*W*C) -> augmented (B, H*W*C), same dtype.

        ``run(fn)`` may call ``fn(part, parts)`` for every part concurrently (the numpy
        trainer's workers): each part augments its own share of the images.
        """
        b = batch.shape[0]
        h, w, c = self.shape
        p = self.pad
        images = batch.reshape(b, h, w, c)
        if self._out is None or self._out.shape[0] < b or self._out.dtype != batch.dtype:
            self._out = np.empty((b, h, w, c), dtype=batch.dtype)
            self._padded = np.zeros((b, h + 2 * p, w + 2 * p, c), dtype=batch.dtype)
        out = self._out[:b]
        # Drawn up front, in one order, so the result does not depend on the split.
        rng = self.rng if key is None else np.random.default_rng([self.seed, *key])
        shifts = rng.integers(0, 2 * p + 1, size=(b, 2)) if p else None
        mirror = np.less(rng.random(b), 0.5) if self.flip else None

        def part(k: int, parts: int) -> None:
            step = -(-b // parts)
            lo, hi = k * step, min(b, (k + 1) * step)
            if lo >= hi:
                return
            if shifts is not None:
                assert self._padded is not None
                padded = self._padded[lo:hi]  # its border stays zero
                padded[:, p : p + h, p : p + w] = images[lo:hi]
                mine = shifts[lo:hi]
                codes = mine[:, 0] * (2 * p + 1) + mine[:, 1]
                order = np.argsort(codes, kind="stable")
                starts = np.flatnonzero(np.diff(codes[order])) + 1
                for group in np.split(order, starts):
                    dy, dx = mine[group[0]]
                    out[lo + group] = padded[group, dy : dy + h, dx : dx + w]
            else:
                out[lo:hi] = images[lo:hi]
            if mirror is not None:
                flipped = lo + np.flatnonzero(mirror[lo:hi])
                out[flipped] = out[flipped, :, ::-1]

        if run is None:
            part(0, 1)
        else:
            run(part)
        return out.reshape(b, -1)
