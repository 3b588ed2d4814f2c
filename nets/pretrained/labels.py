"""The 1000 ImageNet-1k class names, human-readable, in class-index order.

They live in ``assets/imagenet_labels.txt`` (one per line; generated once from
torchvision's ``_IMAGENET_CATEGORIES``, which disambiguates the few duplicate WordNet
names, e.g. "maillot" vs "maillot tank suit").
"""

from __future__ import annotations

from functools import lru_cache

from assets import asset_path
from nets.errors import DataError

NUM_IMAGENET_CLASSES = 1000
LABELS_FILE = "imagenet_labels.txt"


@lru_cache(maxsize=1)
def imagenet_labels() -> tuple[str, ...]:
    """``labels[i]`` is the name of ImageNet class ``i`` (0..999)."""
    path = asset_path(LABELS_FILE)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise DataError(f"cannot read the ImageNet labels {path}: {exc.strerror or exc}") from None
    labels = tuple(line.strip() for line in lines if line.strip())
    if len(labels) != NUM_IMAGENET_CLASSES:
        raise DataError(
            f"{path} holds {len(labels)} labels, expected {NUM_IMAGENET_CLASSES}: reinstall the app"
        )
    return labels
