"""Pretrained ImageNet classifiers: the embedded EfficientNet-Lite0 and torchvision's models.

- ``registry``: which models exist, whether each is usable offline, download and loading.
- ``classify``: ``load_model`` -> ``PretrainedModel`` (preprocess, predict, Grad-CAM) and
  ``classify_paths`` for batches.
- ``efficientnet_lite``: the Lite0 architecture itself (imports torch: load it lazily).
- ``labels``: the 1000 ImageNet class names.

Importing this package does not import torch.
"""
