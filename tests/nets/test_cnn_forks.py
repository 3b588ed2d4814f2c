"""Snapshots of a CNN run and forks from them: an unchanged fork on the CPU with
deterministic algorithms replays the parent's losses within 1e-6."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from nets.cnn.arch import BatchNorm2d, Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.config import TrainConfig
from nets.cnn.fork import arch_of, model_from_snapshot
from nets.cnn.train import train
from nets.errors import ConfigError
from nets.snapshots import SnapshotPlan, load_snapshot, save_snapshot
from nets.training import Finished, Snapshot, Started, Step
from tests.nets.test_cnn_train import Images, quadrants

ARCH = (
    Conv2d(4, 3, padding=1),
    BatchNorm2d(),
    ReLU(),
    MaxPool2d(2),
    Dropout(0.2),
    Flatten(),
    Linear(4),
)


@pytest.fixture(scope="module")
def images() -> Images:
    Xtr, ytr = quadrants(240, 0)
    Xva, yva = quadrants(60, 1)
    return Images(Xtr, ytr, Xva, yva, Xva, yva, ("tl", "tr", "bl", "br"))


@pytest.fixture(autouse=True)
def deterministic():
    before = torch.are_deterministic_algorithms_enabled()
    torch.use_deterministic_algorithms(True)
    yield
    torch.use_deterministic_algorithms(before)


def _losses(events) -> np.ndarray:
    return np.array([e.loss for e in events if isinstance(e, Step)])


@pytest.mark.parametrize(
    ("optimizer", "schedule"), [("sgd", "one-cycle"), ("adamw", "cosine"), ("rmsprop", "step")]
)
@pytest.mark.parametrize("which", ["epoch", "mid-epoch"])
def test_unchanged_fork_reproduces_the_parents_later_losses(images, optimizer, schedule, which):
    config = TrainConfig(
        optimizer=optimizer, schedule=schedule, lr=0.02, batch_size=40, epochs=3,
        num_threads=1, evals_per_epoch=2, device="cpu", step_epochs=1,
    )  # fmt: skip
    parent = list(train(ARCH, images, config, snapshots=SnapshotPlan(every_steps=4)))
    snaps = [e for e in parent if isinstance(e, Snapshot)]
    assert [s.epoch for s in snaps if s.end_of_epoch] == [1, 2, 3]
    snap = next(s for s in snaps if s.end_of_epoch == (which == "epoch") and s.step > 6)
    child = list(train(ARCH, images, config, fork=snap))
    assert isinstance(child[0], Started) and child[0].start_step == snap.step
    expected = _losses(parent)[snap.step :]
    got = _losses(child)
    assert len(got) == len(expected) > 0
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
    assert isinstance(child[-1], Finished) and child[-1].result.iterations == parent[-1].step
    lrs = [e.lr for e in child if isinstance(e, Step)]
    np.testing.assert_allclose(lrs, [e.lr for e in parent if isinstance(e, Step)][snap.step :])


def test_fork_from_a_file_with_a_new_learning_rate_branches(images, tmp_path):
    config = TrainConfig(optimizer="sgd", schedule="none", lr=0.02, batch_size=40, epochs=2,
                         num_threads=1, evals_per_epoch=1, device="cpu")  # fmt: skip
    parent = list(train(ARCH, images, config, snapshots=SnapshotPlan()))
    snap = next(e for e in parent if isinstance(e, Snapshot))
    loaded = load_snapshot(save_snapshot(tmp_path / "epoch-1", snap))
    assert arch_of(loaded) == list(ARCH)
    same = _losses(train(ARCH, images, config, fork=loaded))
    np.testing.assert_allclose(same, _losses(parent)[snap.step :], rtol=0, atol=1e-6)
    faster_config = dataclasses.replace(config, lr=0.2, epochs=3)
    faster = list(train(ARCH, images, faster_config, fork=loaded))
    assert {e.lr for e in faster if isinstance(e, Step)} == {0.2}
    assert len(_losses(faster)) == 2 * len(same)
    model = model_from_snapshot(loaded, (1, 8, 8), 4)
    for key, value in loaded.weights().items():
        np.testing.assert_array_equal(model.state_dict()[key].numpy(), value)


def test_fork_refuses_another_architecture_or_seed(images):
    config = TrainConfig(batch_size=40, epochs=2, num_threads=1, device="cpu")
    parent = list(train(ARCH, images, config, snapshots=SnapshotPlan()))
    snap = next(e for e in parent if isinstance(e, Snapshot))
    wider = (Conv2d(8, 3, padding=1), *ARCH[1:])
    with pytest.raises(ConfigError, match="architecture"):
        next(iter(train(wider, images, config, fork=snap)))
    with pytest.raises(ConfigError, match="seed"):
        next(iter(train(ARCH, images, dataclasses.replace(config, seed=3), fork=snap)))
