"""TensorBoard logs of both trainers, read back with tensorboard's EventAccumulator and
compared with the run's own history."""

from __future__ import annotations

import numpy as np
import pytest
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from nets.mlp.train import TrainConfig, train
from nets.tensorboard import TensorBoardRun, hparam_values, recorded
from nets.training import Evaluation, Internals, Step
from tests.nets.mlp_fixtures import blobs


def _read(folder) -> EventAccumulator:
    acc = EventAccumulator(str(folder), size_guidance={"scalars": 0, "histograms": 0})
    acc.Reload()
    return acc


def _scalars(acc: EventAccumulator, tag: str) -> tuple[list[int], np.ndarray]:
    items = acc.Scalars(tag)
    return [s.step for s in items], np.array([s.value for s in items])


def test_mlp_run_recorded_while_training_matches_its_history(tmp_path) -> None:
    config = TrainConfig(hidden_dim=8, batch_size=50, num_epochs=3, learning_rate=0.05,
                         lr_decay=0.8, internals_every=4, train_acc_samples=100)  # fmt: skip
    events = list(recorded(train(config, blobs(n=300)), tmp_path / "run1"))
    history = events[-1].result.history
    acc = _read(tmp_path / "run1")
    steps, losses = _scalars(acc, "loss/step")
    assert steps == list(range(1, len(history.step_loss) + 1))
    np.testing.assert_allclose(losses, history.step_loss, rtol=1e-6)  # stored as float32
    evals = [e for e in events if isinstance(e, Evaluation)]
    steps, val = _scalars(acc, "accuracy/val")
    assert steps == [e.step for e in evals]
    np.testing.assert_allclose(val, history.epoch_val_acc, rtol=1e-6)
    np.testing.assert_allclose(_scalars(acc, "accuracy/train")[1], history.epoch_train_acc,
                               rtol=1e-6)  # fmt: skip
    np.testing.assert_allclose(_scalars(acc, "loss/train")[1], history.epoch_loss, rtol=1e-6)
    lrs = [e.lr for e in events if isinstance(e, Step)]
    np.testing.assert_allclose(_scalars(acc, "lr")[1], lrs, rtol=1e-6)
    # histograms: the sampled internals, bin for bin
    samples = [e for e in events if isinstance(e, Internals)]
    assert samples
    tag = "fc1/weights"
    assert tag in acc.Tags()["histograms"]
    hists = acc.Histograms(tag)
    assert [h.step for h in hists] == [e.step for e in samples]
    first = samples[0].layers["fc1"]
    np.testing.assert_allclose(hists[0].histogram_value.bucket, first["weight_hist"])
    np.testing.assert_allclose(hists[0].histogram_value.bucket_limit, first["weight_edges"][1:])


def test_hparams_plugin_gets_the_config_and_the_final_metrics(tmp_path) -> None:
    config = TrainConfig(
        num_train=None, hidden_dim=8, batch_size=50, num_epochs=2, train_acc_samples=100
    )
    events = list(recorded(train(config, blobs(n=300)), tmp_path / "r"))
    acc = _read(tmp_path / "r")
    assert "_hparams_/session_start_info" in acc.summary_metadata
    from tensorboard.plugins.hparams import plugin_data_pb2

    meta = acc.SummaryMetadata("_hparams_/session_start_info")
    data = plugin_data_pb2.HParamsPluginData.FromString(meta.plugin_data.content)
    hp = data.session_start_info.hparams
    assert hp["hidden_dim"].number_value == 8
    assert hp["num_train"].string_value == "none"
    steps, final = _scalars(acc, "hparam/val_acc")
    assert final[-1] == pytest.approx(events[-1].result.history.epoch_val_acc[-1], rel=1e-6)


def test_a_finished_run_can_be_written_afterwards(tmp_path) -> None:
    board = TensorBoardRun(tmp_path / "late")
    for i, loss in enumerate([2.3, 2.0, 1.5], start=1):
        board.step(i, loss, 0.1)
    board.step(4, float("nan"), 0.1)  # a gap, not a point
    board.evaluation(4, 0.5, 0.4)
    board.close({"lr": 0.1, "model": "TwoLayerNet", "none": None})
    acc = _read(tmp_path / "late")
    assert _scalars(acc, "loss/step")[0] == [1, 2, 3]
    assert _scalars(acc, "accuracy/val")[1].tolist() == pytest.approx([0.4])
    assert hparam_values({"a": None, "b": (1, 2)}) == {"a": "none", "b": "(1, 2)"}
