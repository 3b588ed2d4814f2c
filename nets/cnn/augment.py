"""Training-time augmentation of CNN batches: random shifts and left-right flips.

Works on the raw uint8 (B, C, H, W) batch before normalisation, so the pixels shifted in
are black (0), the background of Fashion-MNIST. The draws come from (seed, epoch, step)
alone, so a run continued from a snapshot augments exactly as the original did. One
indexed copy per distinct shift in the batch (at most (2 * pad + 1)^2), none per image.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def shift_flip(batch: Any, pad: int, flip: bool, key: tuple[int, ...]) -> Any:
    """uint8 (B, C, H, W) tensor -> an augmented copy (the input is left alone)."""
    import torch
    import torch.nn.functional as F

    if not pad and not flip:
        return batch
    b, _, h, w = batch.shape
    seed = int(np.random.SeedSequence(list(key)).generate_state(1)[0])
    gen = torch.Generator().manual_seed(seed)
    out = batch
    if pad:
        padded = F.pad(batch, (pad, pad, pad, pad))
        span = 2 * pad + 1
        codes = torch.randint(0, span * span, (b,), generator=gen)
        out = torch.empty_like(batch)
        for code in torch.unique(codes).tolist():
            idx = (codes == code).nonzero().squeeze(1).to(batch.device)
            dy, dx = divmod(int(code), span)
            out[idx] = padded[idx, :, dy : dy + h, dx : dx + w]
    if flip:
        mirror = (torch.rand(b, generator=gen) < 0.5).to(batch.device).view(b, 1, 1, 1)
        out = torch.where(mirror, out.flip(3), out)
    return out
