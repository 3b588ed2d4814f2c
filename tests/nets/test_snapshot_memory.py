"""The memory estimate before a run counts the snapshots its store keeps in memory, for
both trainers: one snapshot's size as the trainer really takes it, times what the
budget holds (plus the one arriving before the oldest goes to disk)."""

from __future__ import annotations

import pytest

from nets.mlp.config import estimate_memory
from nets.mlp.train import TrainConfig, train
from nets.snapshots import SnapshotPlan, SnapshotStore, kept
from nets.training import Snapshot, Started
from tests.nets.mlp_fixtures import blobs

CONFIG = TrainConfig(
    num_train=None,
    hidden_dim=16,
    batch_size=40,
    num_epochs=3,
    learning_rate=3e-2,
    momentum=0.9,
    train_acc_samples=100,
)


def _run(plan: SnapshotPlan, config: TrainConfig = CONFIG) -> tuple[Started, list[Snapshot]]:
    events = list(train(config, blobs(n=400), snapshots=plan))
    started = next(e for e in events if isinstance(e, Started))
    return started, [e for e in events if isinstance(e, Snapshot)]


@pytest.mark.parametrize("momentum", [0.9, 0.0])
def test_one_snapshot_in_the_estimate_is_the_size_the_numpy_trainer_takes(momentum):
    config = CONFIG.replace(momentum=momentum)
    started, snaps = _run(SnapshotPlan(), config)
    assert len(snaps) == config.num_epochs
    # Budget 0 (the command line's --snapshot-dir): one at a time, the largest one.
    assert started.memory.snapshots == max(s.nbytes for s in snaps)
    assert started.memory.total == started.memory_bytes
    assert "snapshots" in started.memory.describe()


def test_the_budget_holds_the_newest_snapshots_and_the_one_arriving():
    one = _run(SnapshotPlan())[0].memory.snapshots
    n, d = 400 * 3 // 4, 4 * 4 * 3  # blobs' training split
    for budget, held in ((0, 1), (int(1.5 * one), 2), (10 * one, CONFIG.num_epochs)):
        estimate = estimate_memory(CONFIG, n, d, 4, 0, SnapshotPlan(0, budget))
        assert estimate.snapshots == held * one
    assert estimate_memory(CONFIG, n, d, 4, 0, None).snapshots == 0


def test_mid_epoch_snapshots_are_counted():
    plan = SnapshotPlan(every_steps=2, memory_budget=1 << 30)
    started, snaps = _run(plan)
    assert plan.count(CONFIG.num_epochs, started.steps_per_epoch) == len(snaps)
    # Everything fits the budget: all are in memory, the estimate covers them.
    assert started.memory.snapshots >= sum(s.nbytes for s in snaps)
    assert started.memory.snapshots <= len(snaps) * max(s.nbytes for s in snaps)


def test_what_the_store_really_keeps_stays_within_the_estimate(tmp_path):
    one = _run(SnapshotPlan())[0].memory.snapshots
    plan = SnapshotPlan(memory_budget=int(1.5 * one))
    store = SnapshotStore(plan.memory_budget, tmp_path)
    events = list(kept(train(CONFIG, blobs(n=400), snapshots=plan), store))
    started = next(e for e in events if isinstance(e, Started))
    in_memory = sum(s.nbytes for s in store._memory.values())
    assert 0 < in_memory <= started.memory.snapshots
    assert len(store.steps()) == CONFIG.num_epochs  # the rest went to disk


def test_the_cnn_estimate_counts_its_snapshots():
    torch = pytest.importorskip("torch")
    from nets.cnn.config import TrainConfig as CnnConfig
    from nets.cnn.train import estimate_memory as cnn_estimate
    from nets.cnn.train import train as cnn_train
    from tests.nets.test_cnn_forks import ARCH
    from tests.nets.test_cnn_train import Images, quadrants

    torch.set_num_threads(1)
    Xtr, ytr = quadrants(120, 0)
    Xva, yva = quadrants(40, 1)
    data = Images(Xtr, ytr, Xva, yva, Xva, yva, ("tl", "tr", "bl", "br"))
    config = CnnConfig(optimizer="adamw", lr=0.01, batch_size=40, epochs=2, num_threads=1)
    events = list(cnn_train(ARCH, data, config, snapshots=SnapshotPlan()))
    started = next(e for e in events if isinstance(e, Started))
    size = max(e.nbytes for e in events if isinstance(e, Snapshot))
    # BatchNorm's running buffers are left out: within a few percent of the real size.
    assert started.memory.snapshots == pytest.approx(size, rel=0.05)
    kept_all = cnn_estimate(
        ARCH, started.input_shape, config, len(ytr), len(yva), 4, SnapshotPlan(0, 1 << 30)
    )
    assert kept_all.snapshots == config.epochs * started.memory.snapshots
