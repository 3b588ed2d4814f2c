"""Snapshots of a numpy-net run and forks from them: an unchanged fork replays the parent
bit for bit (from an epoch's end, from the middle of an epoch, through a file)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from nets.errors import CheckpointError, ConfigError
from nets.mlp.fork import model_from_snapshot
from nets.mlp.train import TrainConfig, train
from nets.snapshots import SnapshotPlan, SnapshotStore, kept, load_snapshot, save_snapshot
from nets.training import Evaluation, Finished, Snapshot, Started, Step
from tests.nets.mlp_fixtures import blobs

CONFIG = TrainConfig(
    num_train=None,
    hidden_dim=16,
    batch_size=40,
    num_epochs=4,
    learning_rate=3e-2,
    reg=1e-3,
    momentum=0.9,
    lr_decay=0.9,
    weight_scale=0.1,
    train_acc_samples=100,
)


def _losses(events) -> list[float]:
    return [e.loss for e in events if isinstance(e, Step)]


def _parent(plan: SnapshotPlan | None = None, config: TrainConfig = CONFIG):
    ds = blobs(n=400)
    return ds, list(train(config, ds, snapshots=plan or SnapshotPlan()))


def test_a_run_snapshots_every_epoch_end_and_every_n_steps() -> None:
    _, events = _parent(SnapshotPlan(every_steps=3))
    snaps = [e for e in events if isinstance(e, Snapshot)]
    ends = [s for s in snaps if s.end_of_epoch]
    assert [s.epoch for s in ends] == [1, 2, 3, 4]
    spe = next(e for e in events if isinstance(e, Started)).steps_per_epoch
    assert [s.step for s in ends] == [spe * k for k in (1, 2, 3, 4)]
    mids = [s for s in snaps if not s.end_of_epoch]
    assert mids and all(s.step % 3 == 0 and s.step % spe for s in mids)
    # each snapshot follows the event of its step; the end one follows the Evaluation
    i = events.index(ends[0])
    assert isinstance(events[i - 1], Evaluation) and events[i - 1].epoch == 1
    assert set(ends[0].weights()) == {"W1", "b1", "W2", "b2"}
    assert any(k.startswith("optim/velocity/") for k in ends[0].arrays)


def test_snapshot_weights_are_copies_of_that_moment() -> None:
    _, events = _parent()
    snaps = [e for e in events if isinstance(e, Snapshot)]
    final = events[-1].result.model.parameters()
    assert not np.array_equal(snaps[0].weights()["W1"], final["W1"])
    np.testing.assert_array_equal(snaps[-1].weights()["W1"], final["W1"])


@pytest.mark.parametrize("which", ["epoch", "mid-epoch"])
def test_unchanged_fork_reproduces_the_parents_later_losses_bit_for_bit(which: str) -> None:
    ds, events = _parent(SnapshotPlan(every_steps=7))
    snaps = [e for e in events if isinstance(e, Snapshot)]
    snap = next(s for s in snaps if s.end_of_epoch == (which == "epoch") and s.step > 10)
    parent = _losses(events)
    child = list(train(CONFIG, ds, fork=snap))
    started = child[0]
    assert isinstance(started, Started) and started.start_step == snap.step
    later = _losses(child)
    assert len(later) == len(parent) - snap.step
    assert later == parent[snap.step :]  # exact float equality, every step
    end = child[-1]
    assert isinstance(end, Finished)
    assert end.result.history == events[-1].result.history  # prefix + replay: identical
    for k, w in events[-1].result.model.parameters().items():
        np.testing.assert_array_equal(end.result.model.parameters()[k], w)


def test_fork_through_a_file_is_exact_and_overrides_apply(tmp_path) -> None:
    ds, events = _parent()
    snap = next(e for e in events if isinstance(e, Snapshot) and e.epoch == 2)
    path = save_snapshot(tmp_path / "epoch-2", snap)
    loaded = load_snapshot(path)
    assert (loaded.step, loaded.epoch, loaded.end_of_epoch) == (snap.step, 2, True)
    assert _losses(train(CONFIG, ds, fork=loaded)) == _losses(events)[snap.step :]
    # another learning rate from here: a different branch, same starting weights
    faster = CONFIG.replace(learning_rate=0.1, num_epochs=5)
    branch = list(train(faster, ds, fork=loaded))
    assert len(_losses(branch)) == len(_losses(events)) // 4 * 3
    assert _losses(branch) != _losses(events)[snap.step :]
    lrs = {e.lr for e in branch if isinstance(e, Step) and e.epoch == 3}
    assert len(lrs) == 1 and lrs.pop() == pytest.approx(0.1 * 0.9**2)  # schedule position kept
    model = model_from_snapshot(loaded)
    np.testing.assert_array_equal(model.parameters()["W2"], snap.weights()["W2"])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        ({"hidden_dim": 32}, "hidden_dim"),
        ({"seed": 5}, "seed"),
        ({"num_epochs": 2}, "more epochs"),
    ],
)
def test_fork_refuses_what_it_cannot_change(change, words) -> None:
    ds, events = _parent()
    snap = next(e for e in events if isinstance(e, Snapshot) and e.epoch == 2)
    with pytest.raises(ConfigError, match=words):
        next(iter(train(CONFIG.replace(**change), ds, fork=snap)))


def test_store_spills_older_snapshots_to_its_folder_within_the_budget(tmp_path) -> None:
    ds = blobs(n=400)
    probe = list(train(CONFIG, ds, snapshots=SnapshotPlan()))
    one = next(e for e in probe if isinstance(e, Snapshot)).nbytes
    store = SnapshotStore(budget_bytes=int(one * 1.5), folder=tmp_path / "run")
    events = list(kept(train(CONFIG, ds, snapshots=SnapshotPlan()), store))
    assert [e for _, e, _ in store.steps()] == [1, 2, 3, 4]
    assert sorted(p.name for p in (tmp_path / "run").iterdir()) == [
        "epoch-1",
        "epoch-2",
        "epoch-3",
    ]
    assert store.path_of(store.epoch_step(4)) is None  # the newest stays in memory
    back = store.get(store.epoch_step(1))
    first = next(e for e in events if isinstance(e, Snapshot))
    np.testing.assert_array_equal(back.weights()["W1"], first.weights()["W1"])
    assert back.state == first.state


def test_store_without_a_folder_removes_its_temporary_one() -> None:
    store = SnapshotStore(budget_bytes=0)
    list(kept(train(CONFIG.replace(num_epochs=1), blobs(n=200), snapshots=SnapshotPlan()), store))
    folder = store.folder
    assert (folder / "epoch-1").is_file()
    store.close()
    assert not folder.exists()


@settings(max_examples=30, deadline=None)
@given(cut=st.floats(0.0, 0.999), flip=st.integers(0, 255))
def test_truncated_or_damaged_snapshot_files_are_one_line_errors(tmp_path_factory, cut, flip):
    global _SAVED
    if _SAVED is None:
        _, events = _parent(config=CONFIG.replace(num_epochs=1))
        _SAVED = save_snapshot(
            tmp_path_factory.mktemp("s") / "epoch-1",
            next(e for e in events if isinstance(e, Snapshot)),
        ).read_bytes()
    data = bytearray(_SAVED[: int(len(_SAVED) * cut)])
    if data:
        data[len(data) // 2] ^= flip
    path = tmp_path_factory.mktemp("bad") / "epoch-1"
    path.write_bytes(bytes(data))
    with pytest.raises(CheckpointError) as info:
        load_snapshot(path)
    assert "\n" not in str(info.value) and "epoch-1" in str(info.value)


_SAVED: bytes | None = None
