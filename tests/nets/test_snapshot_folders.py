"""A run's snapshot files found from one of them or from their folder: the run's own
(same trainer and settings), damaged neighbours left out, one-line refusals otherwise."""

from __future__ import annotations

import pytest

from nets.errors import CheckpointError
from nets.mlp.train import TrainConfig, train
from nets.snapshots import SnapshotPlan, SnapshotStore, kept, run_snapshots, snapshot_trainer
from tests.nets.mlp_fixtures import blobs

CONFIG = TrainConfig(num_train=None, hidden_dim=8, batch_size=50, num_epochs=3)


def _write(folder, config: TrainConfig = CONFIG) -> None:
    list(kept(train(config, blobs(n=200), snapshots=SnapshotPlan()), SnapshotStore(0, folder)))


def test_a_file_brings_its_runs_other_snapshots_and_nothing_else(tmp_path):
    _write(tmp_path)
    other = tmp_path / "other"
    _write(other, CONFIG.replace(learning_rate=0.5))
    for name in ("epoch-1", "epoch-3"):  # a different run's files beside them
        (other / name).rename(tmp_path / f"step-9{name[-1]}")
    (tmp_path / "epoch-7").write_bytes(b"PK\x03\x04 damaged")
    (tmp_path / "notes.txt").write_text("not a snapshot")
    chosen, infos = run_snapshots(tmp_path / "epoch-2")
    assert chosen.epoch == 2 and chosen.trainer == "mlp"
    assert [i.path.name for i in infos] == ["epoch-1", "epoch-2", "epoch-3"]
    assert [i.step for i in infos] == sorted(i.step for i in infos)
    # the folder itself: its latest snapshot is chosen
    chosen, infos = run_snapshots(tmp_path)
    assert chosen.path.name == "epoch-3"
    assert [i.path.name for i in infos] == ["epoch-1", "epoch-2", "epoch-3"]
    assert snapshot_trainer(tmp_path / "epoch-1") == "mlp"
    assert snapshot_trainer(tmp_path / "notes.txt") is None
    assert snapshot_trainer(tmp_path / "epoch-7") is None


def test_refusals_are_one_line_naming_the_file(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(CheckpointError, match="holds no snapshots") as e:
        run_snapshots(empty)
    assert "empty" in str(e.value) and "\n" not in str(e.value)
    bad = tmp_path / "epoch-1"
    bad.write_text("hello")
    with pytest.raises(CheckpointError, match="epoch-1") as e:
        run_snapshots(bad)
    assert "\n" not in str(e.value)
