"""Checkpoint round trip and the test-set record."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from nets.errors import CheckpointError
from nets.mlp.checkpoint import load_checkpoint, load_model, record_test_use, save_checkpoint
from nets.mlp.classifiers import LinearClassifier, TwoLayerNet
from nets.mlp.train import TrainConfig, TrainingHistory, train
from tests.nets.mlp_fixtures import blobs


def _trained(tmp_path: Path):
    ds = blobs()
    cfg = TrainConfig(num_train=None, hidden_dim=8, batch_size=50, num_epochs=2, learning_rate=1e-2)
    result = list(train(cfg, ds))[-1].result
    path = save_checkpoint(
        tmp_path / "m.npz",
        result.model,
        preprocessor=result.preprocessor,
        config=result.config,
        history=result.history,
        class_names=result.class_names,
        image_shape=result.image_shape,
        dataset=result.dataset,
    )
    return ds, result, path


def test_round_trip_keeps_weights_preprocessing_config_and_history(tmp_path: Path) -> None:
    ds, result, path = _trained(tmp_path)
    ckpt = load_checkpoint(path)
    assert isinstance(ckpt.model, TwoLayerNet) and ckpt.model.hidden_dim == 8
    for k, v in result.model.parameters().items():
        np.testing.assert_array_equal(ckpt.model.parameters()[k], v)
        assert ckpt.model.parameters()[k].dtype == np.float32
    np.testing.assert_array_equal(ckpt.preprocessor.mean, result.preprocessor.mean)
    assert ckpt.preprocessor.scale == result.preprocessor.scale
    assert TrainConfig.from_dict(dict(ckpt.config)) == result.config
    hist = TrainingHistory.from_arrays(dict(ckpt.history))
    assert hist == result.history
    assert ckpt.class_names == ds.class_names and ckpt.image_shape == (4, 4, 3)
    assert not ckpt.test.used
    X = result.preprocessor.transform(ds.X_val)
    np.testing.assert_array_equal(ckpt.model.predict(X), result.model.predict(X))


def test_npz_has_no_object_arrays(tmp_path: Path) -> None:
    _, _, path = _trained(tmp_path)
    with np.load(path, allow_pickle=False) as npz:
        for key in npz.files:
            assert npz[key].dtype != object


def test_load_model_checks_the_kind_of_classifier(tmp_path: Path) -> None:
    model = LinearClassifier(6, 3, seed=0)
    save_checkpoint(tmp_path / "lin.npz", model, history={"step_loss": [2.3, 2.1]})
    loaded = load_model(tmp_path / "lin.npz")
    assert isinstance(loaded, LinearClassifier)
    np.testing.assert_array_equal(loaded.params["W"], model.params["W"])
    with pytest.raises(CheckpointError, match="not a TwoLayerNet"):
        load_model(tmp_path / "lin.npz", TwoLayerNet)


def test_test_record_counts_runs(tmp_path: Path) -> None:
    _, _, path = _trained(tmp_path)
    first = record_test_use(path, 0.61, 100, "synthetic")
    assert first.used and first.count == 1
    ckpt = load_checkpoint(path)
    assert ckpt.test.used and ckpt.test.test_acc == 0.61 and ckpt.test.n == 100
    assert record_test_use(path, 0.6, 100).count == 2


def test_check_data_names_the_mismatch(tmp_path: Path) -> None:
    _, _, path = _trained(tmp_path)
    ckpt = load_checkpoint(path)
    ckpt.check_data((4, 4, 3), 4)
    with pytest.raises(CheckpointError, match=r"takes 4x4x3 images .* 28x28x1"):
        ckpt.check_data((28, 28, 1), 4, "fashion-mnist")
    with pytest.raises(CheckpointError, match="4 classes"):
        ckpt.check_data((4, 4, 3), 10)


def test_save_into_missing_folder_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(CheckpointError, match="does not exist"):
        save_checkpoint(tmp_path / "no" / "m.npz", LinearClassifier(3, 2))
