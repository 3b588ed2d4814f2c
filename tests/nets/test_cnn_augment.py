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


@pytest.mark.parametrize(("pad", "flip", "channels"), [(1, True, 1), (2, False, 3), (0, True, 3)])
def test_each_image_gets_the_shift_and_mirror_its_keyed_draws_name(pad, flip, channels) -> None:
    # The draws (a shift code, then a mirror coin per image) are what a forked run
    # replays: a faster gather must give the same images from the same key.
    gen = torch.Generator().manual_seed(1)
    batch = torch.randint(1, 255, (40, channels, 9, 8), generator=gen, dtype=torch.uint8)
    key = (3, 2, 7)
    draws = torch.Generator().manual_seed(
        int(np.random.SeedSequence(list(key)).generate_state(1)[0])
    )
    span = 2 * pad + 1
    codes = torch.randint(0, span * span, (40,), generator=draws) if pad else None
    mirror = torch.rand(40, generator=draws) < 0.5 if flip else torch.zeros(40, dtype=torch.bool)
    padded = np.pad(batch.numpy(), ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    out = shift_flip(batch, pad, flip, key)
    assert out.dtype == torch.uint8 and out.shape == batch.shape and out.is_contiguous()
    for i in range(40):
        dy, dx = divmod(int(codes[i]), span) if codes is not None else (0, 0)
        want = padded[i, :, dy : dy + 9, dx : dx + 8]
        np.testing.assert_array_equal(out[i].numpy(), want[..., ::-1] if mirror[i] else want)
    assert mirror.any() and not mirror.all() if flip else True


def test_bad_augmentation_settings_are_refused() -> None:
    with pytest.raises(ConfigError, match="shift"):
        TrainConfig(shift=9).validated()
    with pytest.raises(ConfigError, match="flip"):
        TrainConfig(flip=1).validated()  # type: ignore[arg-type]
