"""Short runs on a small real CIFAR-10 subset (skipped when ../shared/data is absent)."""

from __future__ import annotations

import tarfile
from collections import Counter
from pathlib import Path

import pytest

from nets.data import load_dataset
from nets.mlp.train import PRESETS, train
from nets.training import Finished

PER_CLASS = 250
pytestmark = pytest.mark.data


@pytest.fixture(scope="module")
def cifar_subset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first PER_CLASS JPEGs of every class, extracted from the shared tarball."""
    tarball = shared_data / "cifar10-train-jpeg.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"{tarball} is absent")
    root = tmp_path_factory.mktemp("cifar-subset")
    taken: Counter[str] = Counter()
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-3] != "train":
                continue
            cls = parts[-2]
            if taken[cls] >= PER_CLASS:
                continue
            data = tar.extractfile(member)
            assert data is not None
            target = root / "train" / cls / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())
            taken[cls] += 1
    if len(taken) != 10:
        pytest.skip("the tarball does not have the ten CIFAR-10 classes")
    return root


def test_short_tuned_run_on_a_small_cifar_subset_learns(cifar_subset: Path) -> None:
    ds = load_dataset(f"folder:{cifar_subset}", num_val=500)
    assert ds.image_shape == (32, 32, 3) and ds.num_classes == 10
    cfg = PRESETS["tuned"].replace(num_epochs=4)
    last = list(train(cfg, ds))[-1]
    assert isinstance(last, Finished)
    assert last.result.history.epoch_val_acc[-1] > 0.25  # chance: 0.10


def test_seed_default_barely_learns(cifar_subset: Path) -> None:
    ds = load_dataset(f"folder:{cifar_subset}", num_val=500)
    last = list(train(PRESETS["seed-default"].replace(num_epochs=2), ds))[-1]
    losses = last.result.history.step_loss
    assert abs(losses[-1] - losses[0]) < 0.3 and 2.0 < losses[-1] < 3.0
