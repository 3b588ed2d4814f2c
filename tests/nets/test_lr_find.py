"""The learning-rate range test (nets.lr_find) on real small runs of both networks."""

from __future__ import annotations

import numpy as np
import pytest

from nets.errors import Cancelled, ConfigError
from nets.lr_find import cnn_range_test, mlp_range_test, range_test, schedule, suggestions
from nets.mlp.config import PRESETS
from nets.mlp.train import build_model
from tests.nets.mlp_fixtures import blobs


def test_schedule_rises_exponentially_from_1e_6_to_10() -> None:
    lrs = schedule()
    assert len(lrs) == 200 and lrs[0] == pytest.approx(1e-6) and lrs[-1] == pytest.approx(10)
    assert np.allclose(lrs[1:] / lrs[:-1], lrs[1] / lrs[0])
    with pytest.raises(ConfigError):
        schedule(1.0, 0.1)


def test_stops_once_the_smoothed_loss_passes_four_times_its_minimum() -> None:
    w = [3.0]

    def step(lr: float) -> float:  # gradient descent on w^2: diverges for lr > 1
        loss = w[0] ** 2
        w[0] -= lr * 2 * w[0]
        return loss

    result = range_test(step)
    assert result.stopped_early and len(result.lrs) < 200
    assert result.losses[-1] > 4 * min(result.losses)
    assert len(result.lrs) == len(result.losses) == len(result.raw_losses)
    # The suggestions lie where the loss was falling, before the minimum.
    lowest = result.lrs[int(np.argmin(result.losses))]
    assert result.suggested_lr <= lowest and result.lr_min_div10 == pytest.approx(lowest / 10)


def test_steepest_descent_is_where_the_curve_falls_fastest() -> None:
    lrs = np.geomspace(1e-4, 1, 50)
    losses = 2 - np.tanh(np.log10(lrs) + 2) + np.where(lrs > 0.3, 5 * (lrs - 0.3), 0)
    steep, low = suggestions(lrs, losses)
    assert steep == pytest.approx(1e-2, rel=0.25)


def test_cancel_stops_between_steps() -> None:
    calls = []
    with pytest.raises(Cancelled):
        range_test(lambda lr: calls.append(lr) or 1.0, cancel=lambda: len(calls) >= 3)
    assert len(calls) == 3


def test_mlp_range_test_restores_the_weights() -> None:
    ds = blobs(n=400, classes=3, shape=(4, 4, 3))
    config = PRESETS["tuned"].replace(batch_size=32, hidden_dim=16, num_train=None)
    model = build_model(config, 48, 3)
    before = model.state()
    result = mlp_range_test(config, ds, model=model, steps=60)
    assert len(result.lrs) > 10 and 1e-6 <= result.suggested_lr <= 10
    for name, value in model.state().items():
        assert np.array_equal(value, before[name])


def test_cnn_range_test_runs_and_restores_the_weights() -> None:
    import torch

    from nets.cnn.arch import Conv2d, Flatten, Linear, ReLU
    from nets.cnn.config import TrainConfig
    from nets.cnn.model import build_model as build_cnn
    from nets.data.dataset import make_dataset

    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (120, 8, 8, 1), dtype=np.uint8)
    y = (X.mean(axis=(1, 2, 3)) > 127).astype(np.int64)
    ds = make_dataset(
        X, y, X[:10], y[:10], num_val=20, seed=0, class_names=("dark", "light"), source="random"
    )
    arch = (Conv2d(4, 3, padding=1), ReLU(), Flatten(), Linear(2))
    model = build_cnn(arch, (1, 8, 8), 2)
    before = {k: v.clone() for k, v in model.state_dict().items()}
    config = TrainConfig(batch_size=16, num_threads=1, device="cpu")
    result = cnn_range_test(arch, ds, config, model=model, steps=40)
    assert len(result.lrs) >= 10
    for k, v in model.state_dict().items():
        assert torch.equal(v, before[k])
