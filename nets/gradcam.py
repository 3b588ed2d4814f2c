"""Grad-CAM's one formula, shared by the CNN inspector and the pretrained classifier.

Grad-CAM (Selvaraju et al., 2017) weights each channel of a convolution's output A by the
spatial mean of the class score's gradient dS/dA, sums the weighted channels and keeps the
positive part: where the layer saw evidence *for* the class. torch is only used through
the tensors the caller passes in.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def grad_cam(activations: Any, gradients: Any) -> np.ndarray:
    """Grad-CAM map from one image's feature maps and their gradient.

    Args:
        activations: torch tensor (1, C, h, w), a convolution's output for one image.
        gradients: torch tensor (1, C, h, w), d(class score)/d(activations).

    Returns:
        float32 (h, w) scaled to [0, 1] by its peak (all zeros when nothing speaks for
        the class).
    """
    import torch

    weights = gradients.mean(dim=(2, 3), keepdim=True)
    cam = torch.relu((weights * activations).sum(dim=1))[0].detach().float().cpu().numpy()
    peak = float(cam.max()) if cam.size else 0.0
    return (cam / peak).astype(np.float32) if peak > 0 else np.zeros_like(cam, np.float32)
