"""Pretrained ImageNet classifiers: the embedded EfficientNet-Lite0 and torchvision's models.

- ``registry``: which models exist, whether each is usable offline, download and loading.
- ``classify``: ``load_model`` -> ``PretrainedModel`` (preprocess, predict, Grad-CAM) and
  ``classify_paths`` for batches.
- ``efficientnet_lite``: the Lite0 architecture itself (imports torch: load it lazily).
- ``labels``: the 1000 ImageNet class names.

Importing this package does not import torch.
"""

from __future__ import annotations

from typing import Any

_EXPORTS = {
    "load_model": "nets.pretrained.classify",
    "classify_paths": "nets.pretrained.classify",
    "expand_paths": "nets.pretrained.classify",
    "PretrainedModel": "nets.pretrained.classify",
    "Prediction": "nets.pretrained.classify",
    "TopClass": "nets.pretrained.classify",
    "ClassifyResult": "nets.pretrained.classify",
    "list_models": "nets.pretrained.registry",
    "get_spec": "nets.pretrained.registry",
    "DEFAULT_MODEL": "nets.pretrained.registry",
    "imagenet_labels": "nets.pretrained.labels",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str) -> Any:
    # Lazy re-exports: `from nets.pretrained import load_model` works without importing
    # numpy/PIL when only the package is imported.
    module_name = _EXPORTS.get(name)
    if module_name is None:
        raise AttributeError(f"module 'nets.pretrained' has no attribute {name!r}")
    import importlib

    return getattr(importlib.import_module(module_name), name)
