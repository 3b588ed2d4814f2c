"""Checkpoints written by the old main (41c7aab, before the one training protocol) still
load and give the predictions the old code gave (fixtures in fixtures/old_main)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from nets.cnn.checkpoint import load_checkpoint as load_cnn
from nets.cnn.checkpoint import record_test
from nets.cnn.trained import predict
from nets.mlp.checkpoint import load_checkpoint, record_test_use
from nets.mlp.classifiers import TwoLayerNet

FIXTURES = Path(__file__).parent / "fixtures" / "old_main"


@pytest.fixture(scope="module")
def expected() -> dict[str, np.ndarray]:
    with np.load(FIXTURES / "expected_predictions.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


@pytest.fixture(autouse=True)
def one_thread() -> None:
    import torch

    torch.set_num_threads(1)


@pytest.mark.parametrize("name", ["mlp_two_layer.npz", "mlp_two_layer_tested.npz"])
def test_an_old_numpy_checkpoint_gives_the_same_scores(name: str, expected) -> None:
    ck = load_checkpoint(FIXTURES / name)
    assert isinstance(ck.model, TwoLayerNet) and ck.model.hidden_dim == 4
    assert ck.class_names == ("blue", "green", "red") and ck.preprocessor is not None
    assert tuple(ck.image_shape or ()) == (32, 32, 3)
    assert len(ck.history["epoch_val_acc"]) == 2
    X = expected["images"]
    scores = ck.model.scores(ck.preprocessor.transform(X, ck.model.dtype))
    np.testing.assert_allclose(scores, expected["mlp_scores"], rtol=1e-5, atol=1e-6)
    assert (scores.argmax(1) == expected["mlp_scores"].argmax(1)).all()


@pytest.mark.parametrize("name", ["cnn_small.pt", "cnn_small_tested.pt"])
def test_an_old_cnn_checkpoint_gives_the_same_probabilities(name: str, expected) -> None:
    trained = load_cnn(FIXTURES / name)
    assert trained.class_names == ("blue", "green", "red")
    assert 32 in tuple(trained.input_shape) and len(trained.arch) == 5
    result = predict(trained, expected["images"])
    np.testing.assert_allclose(
        result.probabilities, expected["cnn_probabilities"], rtol=1e-5, atol=1e-6
    )
    assert (result.labels == expected["cnn_labels"]).all()


def test_the_old_test_records_are_read_as_the_old_code_read_them(expected) -> None:
    old = json.loads(str(expected["test_records"]))
    mlp = load_checkpoint(FIXTURES / "mlp_two_layer_tested.npz").test
    assert mlp.used and old["mlp"]["used"]
    assert mlp.count == old["mlp"]["runs"] == 1  # the old field name was "runs"
    assert mlp.test_acc == pytest.approx(old["mlp"]["test_acc"]) and mlp.n == old["mlp"]["n"]
    assert mlp.dataset == old["mlp"]["dataset"] and mlp.when.startswith(old["mlp"]["when"][:10])
    cnn = load_cnn(FIXTURES / "cnn_small_tested.pt").test_record
    assert cnn.used and cnn.count == old["cnn"]["count"] == 1
    assert cnn.test_acc == pytest.approx(old["cnn"]["test_acc"]) and cnn.n == old["cnn"]["n"]
    for fresh in (
        load_checkpoint(FIXTURES / "mlp_two_layer.npz").test,
        load_cnn(FIXTURES / "cnn_small.pt").test_record,
    ):
        assert not fresh.used and fresh.count == 0


def test_an_old_tested_checkpoint_counts_one_more_test(tmp_path: Path) -> None:
    for name in ("mlp_two_layer_tested.npz", "cnn_small_tested.pt"):
        shutil.copy(FIXTURES / name, tmp_path / name)
    record_test_use(tmp_path / "mlp_two_layer_tested.npz", 0.5, 18, "again")
    assert load_checkpoint(tmp_path / "mlp_two_layer_tested.npz").test.count == 2
    cnn = tmp_path / "cnn_small_tested.pt"
    record_test(cnn, load_cnn(cnn), 0.5, 18)
    assert load_cnn(tmp_path / "cnn_small_tested.pt").test_record.count == 2
