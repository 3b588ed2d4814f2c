"""numpy arrays <-> Qt images, and the heat-maps' colour maps. No widgets here.

``QImage`` may be built in any thread (it is not a widget); ``QPixmap`` only in the GUI
thread, which is why worker items carry numpy arrays and the GUI converts them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtGui import QImage

if TYPE_CHECKING:
    import numpy as np

DEFAULT_COLORMAP = "magma"
_LUTS: dict[str, np.ndarray] = {}


def rgb_to_qimage(rgb: np.ndarray) -> QImage:
    """``(H, W, 3)`` uint8 -> an RGB888 ``QImage`` that owns a copy of the pixels."""
    import numpy as np

    array = np.ascontiguousarray(rgb, dtype=np.uint8)
    if array.ndim != 3 or array.shape[2] != 3:
        raise ValueError(f"expected an (H, W, 3) array, got shape {array.shape}")
    height, width, _ = array.shape
    image = QImage(array.data, width, height, 3 * width, QImage.Format.Format_RGB888)
    return image.copy()  # the numpy buffer may go away; the copy owns its pixels


def qimage_to_rgb(image: QImage) -> np.ndarray:
    """Any ``QImage`` -> ``(H, W, 3)`` uint8 (alpha dropped)."""
    import numpy as np

    rgb = image.convertToFormat(QImage.Format.Format_RGB888)
    width, height = rgb.width(), rgb.height()
    buffer = np.frombuffer(rgb.constBits(), dtype=np.uint8, count=rgb.sizeInBytes())
    rows = buffer.reshape(height, rgb.bytesPerLine())
    return rows[:, : 3 * width].reshape(height, width, 3).copy()


def heat_lut(name: str = DEFAULT_COLORMAP) -> np.ndarray:
    """The ``(256, 3)`` uint8 colour map of heat-maps: perceptually uniform (magma or
    viridis: lightness grows with the value), never a rainbow such as jet or turbo."""
    if name not in _LUTS:
        from gui.classify_tab import backend

        _LUTS[name] = backend.colormap(name)
    return _LUTS[name]


def heat_to_rgb(heat: np.ndarray, cmap: str = DEFAULT_COLORMAP) -> np.ndarray:
    """``(H, W)`` floats in [0, 1] (NaN counts as 0) -> ``(H, W, 3)`` uint8 colours."""
    import numpy as np

    values = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    indices = np.clip(np.rint(values * 255.0), 0, 255).astype(np.uint8)
    return heat_lut(cmap)[indices]


def heat_to_qimage(heat: np.ndarray, cmap: str = DEFAULT_COLORMAP) -> QImage:
    """A heat-map ``(H, W)`` in [0, 1] as an ARGB ``QImage`` ready to overlay.

    Alpha grows with the heat (full from 60% of the peak up), so cold regions leave the
    photo untouched instead of darkening it; the view's opacity scales it all.
    """
    import numpy as np

    values = np.nan_to_num(np.asarray(heat, dtype=np.float32), nan=0.0, posinf=1.0, neginf=0.0)
    rgba = np.empty((*values.shape, 4), dtype=np.uint8)
    rgba[..., :3] = heat_to_rgb(values, cmap)
    rgba[..., 3] = np.clip(np.rint(values * (255.0 / 0.6)), 0, 255).astype(np.uint8)
    height, width = values.shape
    image = QImage(rgba.data, width, height, 4 * width, QImage.Format.Format_RGBA8888)
    return image.copy()


def blend(photo: np.ndarray, heat: np.ndarray, opacity: float) -> np.ndarray:
    """Photo ``(H, W, 3)`` uint8 with the heat-map ``(H, W)`` overlaid at ``opacity`` in [0, 1]."""
    import numpy as np

    alpha = float(min(max(opacity, 0.0), 1.0))
    colours = heat_to_rgb(heat).astype(np.float32)
    mixed = photo.astype(np.float32) * (1.0 - alpha) + colours * alpha
    return np.clip(np.rint(mixed), 0, 255).astype(np.uint8)
