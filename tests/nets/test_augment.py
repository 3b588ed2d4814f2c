"""Random crops and flips for the numpy net's training batches."""

from __future__ import annotations

import numpy as np
import pytest

from nets.data.augment import Augmenter
from nets.errors import ConfigError
from nets.mlp.train import TrainConfig, train


def test_every_output_is_a_shifted_or_mirrored_copy_of_its_input() -> None:
    rng = np.random.default_rng(0)
    images = rng.standard_normal((64, 6, 5, 3)).astype(np.float32) + 10  # no zero pixel
    aug = Augmenter((6, 5, 3), pad=2, flip=True, seed=1)
    out = aug(images.reshape(64, -1)).reshape(64, 6, 5, 3)
    padded = np.pad(images, ((0, 0), (2, 2), (2, 2), (0, 0)))
    shifts, flips = set(), 0
    for i in range(64):
        found = None
        for dy in range(5):
            for dx in range(5):
                crop = padded[i, dy : dy + 6, dx : dx + 5]
                for mirrored in (False, True):
                    if np.array_equal(out[i], crop[:, ::-1] if mirrored else crop):
                        found = (dy, dx, mirrored)
        assert found is not None, f"image {i} is not a crop of its input"
        shifts.add(found[:2])
        flips += found[2]
    assert len(shifts) > 10 and 10 < flips < 54  # random, not one fixed shift


def test_no_augmentation_settings_return_the_batch_unchanged() -> None:
    x = np.arange(2 * 4 * 4 * 1, dtype=np.float32).reshape(2, 16)
    np.testing.assert_array_equal(Augmenter((4, 4, 1), 0, False)(x), x)


def test_bad_settings_are_refused_with_a_message() -> None:
    with pytest.raises(ConfigError, match="crop padding"):
        Augmenter((4, 4, 3), pad=4, flip=False)
    with pytest.raises(ConfigError, match="images"):
        Augmenter((48,), pad=1, flip=False)
    with pytest.raises(ConfigError, match="crop_pad"):
        TrainConfig(crop_pad=9).validate()
    with pytest.raises(ConfigError, match="flip"):
        TrainConfig(flip="yes").validate()  # type: ignore[arg-type]


def test_training_augments_images_and_leaves_feature_rows_alone() -> None:
    y = np.arange(20) % 2
    config = TrainConfig(num_train=None, batch_size=10, num_epochs=1, crop_pad=1, flip=True)
    images = np.random.default_rng(0).integers(0, 255, (20, 4, 4, 3), dtype=np.uint8)
    rows = np.random.default_rng(0).standard_normal((20, 48)).astype(np.float32)
    plain = config.replace(crop_pad=0, flip=False)
    for data, changed in (
        ((images, y, images[:4], y[:4]), True),
        ((rows, y, rows[:4], y[:4]), False),
    ):
        with_aug = list(train(config, data))[-1].result.model.params["W1"]
        without = list(train(plain, data))[-1].result.model.params["W1"]
        assert (not np.array_equal(with_aug, without)) is changed


def test_a_fork_of_an_augmented_run_replays_it_bit_for_bit() -> None:
    from nets.snapshots import SnapshotPlan
    from nets.training import Snapshot, Step
    from tests.nets.mlp_fixtures import blobs

    config = TrainConfig(
        num_train=None, hidden_dim=16, batch_size=40, num_epochs=3, learning_rate=3e-2,
        momentum=0.9, weight_scale=0.1, train_acc_samples=100, crop_pad=1, flip=True,
    )  # fmt: skip
    ds = blobs(n=400)
    events = list(train(config, ds, snapshots=SnapshotPlan(every_steps=7)))
    parent = [e.loss for e in events if isinstance(e, Step)]
    for snap in [e for e in events if isinstance(e, Snapshot) and e.step > 10][:2]:
        child = [e.loss for e in train(config, ds, fork=snap) if isinstance(e, Step)]
        assert child == parent[snap.step :]
