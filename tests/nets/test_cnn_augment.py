"""CNN batch augmentation: random shifts (black shifted in) and flips, keyed draws."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from nets.cnn.augment import shift_flip
from nets.cnn.config import TrainConfig
from nets.errors import ConfigError


def test_outputs_are_shifted_or_mirrored_copies_and_the_key_decides() -> None:
    gen = torch.Generator().manual_seed(0)
    batch = torch.randint(1, 255, (48, 1, 7, 6), generator=gen, dtype=torch.uint8)
    out = shift_flip(batch, 2, True, (0, 1, 5))
    assert out.dtype == torch.uint8 and out.shape == batch.shape
    assert torch.equal(out, shift_flip(batch, 2, True, (0, 1, 5)))
    assert not torch.equal(out, shift_flip(batch, 2, True, (0, 1, 6)))
    padded = np.pad(batch.numpy(), ((0, 0), (0, 0), (2, 2), (2, 2)))
    seen = set()
    for i in range(48):
        o = out[i].numpy()
        matches = [
            (dy, dx, m)
            for dy in range(5)
            for dx in range(5)
            for m in (False, True)
            if np.array_equal(
                o, (lambda c: c[..., ::-1] if m else c)(padded[i, :, dy : dy + 7, dx : dx + 6])
            )
        ]
        assert matches, f"image {i} is no shifted copy"
        seen.add(matches[0])
    assert len(seen) > 10
    assert shift_flip(batch, 0, False, (0,)) is batch


def test_bad_augmentation_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="shift"):
        TrainConfig(shift=9).validated()
    with pytest.raises(ConfigError, match="flip"):
        TrainConfig(flip=1).validated()  # type: ignore[arg-type]
