"""Shared set-up for the "Two-layer net" tab tests: a tiny synthetic image folder and a
small configuration that trains in well under a second."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

CLASSES = ("red", "green", "blue")


def make_folder(root: Path, n_train: int = 40, n_test: int = 10, size: int = 8) -> Path:
    """``root/train/<class>/*.png`` and ``root/test/<class>/*.png``: each class is noise
    with one bright colour channel, so a tiny network learns it in a few steps."""
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        for k, name in enumerate(CLASSES):
            folder = root / split / name
            folder.mkdir(parents=True, exist_ok=True)
            for i in range(n):
                pixels = rng.integers(0, 90, (size, size, 3)).astype(np.uint8)
                pixels[..., k] += 150
                Image.fromarray(pixels).save(folder / f"{i}.png")
    return root


def small_config(tab, **fields: str) -> None:
    """The overfit preset shrunk to run in well under a second."""
    tab.form.apply_preset("overfit")
    values = {"hidden_dim": "16", "num_epochs": "3", "batch_size": "20", **fields}
    for name, text in values.items():
        tab.form.set_field(name, text)
