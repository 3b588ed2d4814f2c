"""The number format of a CNN's training forward pass: float32, or bfloat16 autocast.

bfloat16 keeps float32's exponent range with an 8-bit mantissa, so mixed precision needs
no loss scaling. On a CPU with native bfloat16 dot products (AVX512-BF16 or AMX) oneDNN's
convolutions run on half the bytes: a step of the default preset took 22-25 ms against
30-36 ms in float32 (2 cores, AMD Zen 4, alternating). Without them the same kernels
are emulated and slower, so ``auto`` keeps float32 there. torch is imported lazily.
"""

from __future__ import annotations

import contextlib
from typing import Any

from nets.errors import ConfigError


def native_bfloat16() -> bool:
    """True when this CPU multiplies bfloat16 in hardware (AVX512-BF16 or AMX tiles)."""
    import torch

    probes = ("_is_avx512_bf16_supported", "_is_amx_tile_supported")
    for name in probes:
        probe = getattr(torch.cpu, name, None)
        try:
            if probe is not None and probe():
                return True
        except RuntimeError:  # a build without the probe's kernels: treat as absent
            continue
    return False


def resolve_precision(precision: str, device: str) -> str:
    """``float32`` or ``bfloat16``: what a run with ``precision`` on ``device`` uses.

    ``auto`` is bfloat16 only on a CPU with native support (on a GPU, float32: the app's
    GPU paths are not measured in mixed precision).
    """
    if precision == "auto":
        return "bfloat16" if device == "cpu" and native_bfloat16() else "float32"
    if precision not in ("float32", "bfloat16"):
        raise ConfigError(f"precision must be auto, float32 or bfloat16; got {precision!r}")
    return precision


def forward_precision(precision: str, device: str) -> Any:
    """A context manager for the training forward pass and loss in ``precision``
    (resolved: ``float32`` or ``bfloat16``); the backward pass follows it by itself."""
    if precision == "float32":
        return contextlib.nullcontext()
    import torch

    return torch.autocast(device, dtype=torch.bfloat16)
