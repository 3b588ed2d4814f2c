"""Live per-layer internals of a training run: sampled every K steps for both networks.

For every layer with parameters (Linear, Conv2d, BatchNorm) and every ReLU, an
``nets.training.Internals`` event holds a dict per layer with these keys (plain floats,
numpy arrays for histograms and running statistics; a key is absent when it does not
apply):

- ``kind``: ``linear``, ``conv``, ``batchnorm`` or ``relu``;
- ``act_mean``, ``act_std``, ``act_zero_fraction``, ``act_hist`` and ``act_edges``: the
  layer's output on the sampled batch;
- ``grad_mean``, ``grad_std``, ``grad_norm``, ``grad_hist``, ``grad_edges``: the gradient
  of the loss flowing into that output;
- ``weight_norm``, ``weight_grad_norm``, ``weight_update_ratio`` (||ΔW|| / ||W|| of the
  step's update), ``weight_hist``, ``weight_edges``, and ``bias_norm``,
  ``bias_grad_norm``, ``bias_update_ratio``;
- ReLUs: ``dead_fraction``, the fraction of units (channels for convolutions) that were
  zero on every example of the last ``dead_window`` training batches;
- BatchNorm: ``running_mean`` and ``running_var`` (channels,).

Histograms have ``stats.BINS`` bins whose ``*_edges`` (bins + 1,) are chosen at the first
sample of each layer and quantity and kept for the run (values outside land in the end
bins), so successive samples stack into a heat-map over steps. ``to_json`` makes an event
JSON-ready. Modules: ``stats`` (numpy statistics), ``recorder`` (observations to events),
``numpy_probe`` (the numpy net's probe), ``torch_probe`` (torch hooks).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from nets.internals.recorder import DEFAULT_EVERY, InternalsRecorder, is_sampled, layer_names
from nets.training import Internals

__all__ = [
    "DEFAULT_EVERY",
    "InternalsRecorder",
    "is_sampled",
    "layer_names",
    "plain",
    "to_json",
]


def plain(value: Any) -> Any:
    """Numpy arrays and scalars as lists and Python numbers, non-finite floats as None."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return plain(value.tolist())
    if isinstance(value, (np.bool_, bool)):
        return bool(value)
    if isinstance(value, np.integer):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value


def to_json(event: Internals) -> dict[str, Any]:
    """``{"event": "internals", "step", "epoch", "every", "input_mean", "input_std",
    "non_finite", "layers"}`` with only JSON types."""
    return {
        "event": "internals",
        "step": event.step,
        "epoch": event.epoch,
        "every": event.every,
        "input_mean": plain(event.input_mean),
        "input_std": plain(event.input_std),
        "non_finite": list(event.non_finite) if event.non_finite else None,
        "layers": plain(event.layers),
    }
