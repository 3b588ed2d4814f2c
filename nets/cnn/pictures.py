"""Turn inspection arrays into pictures (numpy only): grey maps, signed gradients, heat maps,
overlays and tiled grids. The command line writes them as PNGs and the GUI draws the very
same pixels, so the two always agree.
"""

from __future__ import annotations

import math

import numpy as np


def grey(values: np.ndarray) -> np.ndarray:
    """Any real array -> uint8 of the same shape, min..max stretched to 0..255
    (a constant array becomes mid grey... unless it is all zeros, which stays black)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    lo, hi = (float(v.min()), float(v.max())) if v.size else (0.0, 0.0)
    if hi - lo <= 0:
        return np.full(v.shape, 0 if hi == 0 else 128, np.uint8)
    return np.clip((v - lo) * (255.0 / (hi - lo)), 0, 255).astype(np.uint8)


def grey_each(maps: np.ndarray) -> np.ndarray:
    """(C, h, w) float -> uint8 (C, h, w), each channel stretched over its own min..max
    (a constant channel as :func:`grey` shows it)."""
    v = np.nan_to_num(np.asarray(maps, dtype=np.float32))
    if not v.size:
        return np.zeros(v.shape, np.uint8)
    flat = v.reshape(len(v), -1)
    lo, hi = flat.min(axis=1), flat.max(axis=1)
    span = hi - lo
    scale = np.where(span > 0, 255.0 / np.where(span > 0, span, 1.0), 0.0)
    out = (v - lo[:, None, None]) * scale[:, None, None]
    constant = np.where(hi == 0, 0.0, 128.0)[:, None, None]
    out = np.where((span > 0)[:, None, None], out, constant)
    return np.clip(out, 0, 255).astype(np.uint8)


def signed_rgb(values: np.ndarray, scale: float | None = None) -> np.ndarray:
    """A signed array (..., h, w) -> RGB uint8 (..., h, w, 3): blue below 0, white at 0,
    red above; ``scale`` is the magnitude shown at full colour (default: the largest)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    peak = float(np.abs(v).max()) if scale is None and v.size else float(scale or 0.0)
    t = np.clip(v / peak, -1.0, 1.0) if peak > 0 else np.zeros_like(v)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    r = 1.0 - neg
    g = 1.0 - np.maximum(pos, neg)
    b = 1.0 - pos
    return (np.stack([r, g, b], axis=-1) * 255.0 + 0.5).astype(np.uint8)


# A short "inferno"-like ramp: black, purple, orange, yellow-white.
_HEAT = np.array(
    [[0, 0, 4], [87, 16, 110], [188, 55, 84], [249, 142, 9], [252, 255, 164]], np.float32
)


def heat_rgb(values: np.ndarray) -> np.ndarray:
    """Non-negative values (..., h, w) -> RGB uint8 (..., h, w, 3), 0 black, max bright."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32))
    peak = float(v.max()) if v.size else 0.0
    t = np.clip(v / peak, 0, 1) if peak > 0 else np.zeros_like(v)
    pos = t * (len(_HEAT) - 1)
    i = np.minimum(pos.astype(np.int64), len(_HEAT) - 2)
    f = (pos - i)[..., None]
    return (_HEAT[i] * (1 - f) + _HEAT[i + 1] * f + 0.5).astype(np.uint8)


def saliency_map(saliency: np.ndarray) -> np.ndarray:
    """(C, H, W) gradient -> (H, W): the largest magnitude over the channels."""
    return np.abs(np.asarray(saliency)).max(axis=0)


def upsample(values: np.ndarray, height: int, width: int) -> np.ndarray:
    """(h, w) -> (height, width) by bilinear interpolation (pixel centres aligned)."""
    v = np.asarray(values, dtype=np.float32)
    h, w = v.shape

    def coords(n_out: int, n_in: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        pos = np.clip((np.arange(n_out) + 0.5) * n_in / n_out - 0.5, 0, n_in - 1)
        lo = np.floor(pos).astype(np.int64)
        hi = np.minimum(lo + 1, n_in - 1)
        return lo, hi, (pos - lo).astype(np.float32)

    y0, y1, fy = coords(height, h)
    x0, x1, fx = coords(width, w)
    top = v[y0][:, x0] * (1 - fx) + v[y0][:, x1] * fx
    bottom = v[y1][:, x0] * (1 - fx) + v[y1][:, x1] * fx
    return top * (1 - fy[:, None]) + bottom * fy[:, None]


def as_rgb(image: np.ndarray) -> np.ndarray:
    """uint8 (H, W), (H, W, 1) or (H, W, 3) -> uint8 (H, W, 3)."""
    img = np.asarray(image, dtype=np.uint8)
    if img.ndim == 3 and img.shape[2] == 3:
        return img
    if img.ndim == 3:
        img = img[:, :, 0]
    return np.repeat(img[:, :, None], 3, axis=2)


def overlay(image: np.ndarray, heat: np.ndarray, alpha: float = 0.55) -> np.ndarray:
    """A heat map (h, w) in [0, 1], resized to the image, blended over it: uint8 (H, W, 3)."""
    base = as_rgb(image).astype(np.float32)
    h, w = base.shape[:2]
    colour = heat_rgb(upsample(heat, h, w)).astype(np.float32)
    return (base * (1 - alpha) + colour * alpha + 0.5).astype(np.uint8)


def zoom(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour enlargement by a whole ``factor`` (keeps every pixel crisp)."""
    if factor <= 1:
        return np.asarray(image)
    return np.repeat(np.repeat(image, factor, axis=0), factor, axis=1)


def tile(
    images: np.ndarray, columns: int | None = None, gap: int = 1, fill: int = 48
) -> np.ndarray:
    """(N, h, w) or (N, h, w, 3) uint8 -> one grid image with ``gap`` pixels between tiles.

    ``columns`` defaults to about the square root of N.
    """
    images = np.asarray(images, dtype=np.uint8)
    n = len(images)
    cols = max(1, columns or math.ceil(math.sqrt(n)))
    rows = max(1, math.ceil(n / cols))
    h, w = images.shape[1:3]
    shape = (rows * h + (rows + 1) * gap, cols * w + (cols + 1) * gap, *images.shape[3:])
    grid = np.full(shape, fill, np.uint8)
    for i in range(n):
        r, c = divmod(i, cols)
        top, left = gap + r * (h + gap), gap + c * (w + gap)
        grid[top : top + h, left : left + w] = images[i]
    return grid


def layer_picture(values: np.ndarray, min_tile: int = 56) -> np.ndarray:
    """One layer's output as a picture: (C, h, w) maps tiled (each stretched over its own
    range, enlarged so a tile is at least ``min_tile`` pixels), or (F,) values as a strip
    of bars. uint8 (H, W) grey or (H, W, 3)."""
    v = np.asarray(values, dtype=np.float32)
    if v.ndim == 3:
        factor = max(1, math.ceil(min_tile / max(v.shape[1:])))
        return tile(zoom(grey_each(v).transpose(1, 2, 0), factor).transpose(2, 0, 1), gap=2)
    return bars_picture(v)


def bars_picture(values: np.ndarray, height: int = 80, bar: int = 6) -> np.ndarray:
    """(F,) values as vertical bars around a zero line: RGB uint8 (height, F * bar)."""
    v = np.nan_to_num(np.asarray(values, dtype=np.float32).reshape(-1))
    peak = float(np.abs(v).max()) if v.size else 0.0
    picture = np.full((height, max(1, len(v)) * bar, 3), 255, np.uint8)
    has_negative = bool((v < 0).any())
    zero = height // 2 if has_negative else height - 1
    room = zero if has_negative else height - 1
    for i, value in enumerate(v):
        length = int(round(abs(value) / peak * room)) if peak > 0 else 0
        top, bottom = (zero - length, zero) if value >= 0 else (zero, zero + length)
        colour = (200, 60, 40) if value >= 0 else (40, 80, 200)
        picture[top : bottom + 1, i * bar : (i + 1) * bar - 1] = colour
    picture[zero, :] = (90, 90, 90)
    return picture
