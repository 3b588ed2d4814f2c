"""The learning-rate range test (nets.lr_find) on real small runs of both networks."""

from __future__ import annotations

import numpy as np
import pytest

from nets.errors import Cancelled, ConfigError
from nets.lr_find import (
    FALL_SHARE,
    cnn_range_test,
    mlp_range_test,
    range_test,
    schedule,
    suggestions,
)
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
    assert result.suggested_lr < lowest and result.steepest_lr < lowest
    assert result.lr_min_div10 == pytest.approx(lowest / 10)


def test_steepest_descent_is_where_the_curve_falls_fastest() -> None:
    lrs = np.geomspace(1e-4, 1, 50)
    losses = 2 - np.tanh(np.log10(lrs) + 2) + np.where(lrs > 0.3, 5 * (lrs - 0.3), 0)
    assert suggestions(lrs, losses).steepest == pytest.approx(1e-2, rel=0.25)


# Range-test curves of the usual shapes: a minibatch loss of ``shape(lr)`` plus noise,
# through the real test (its moving average and its stop).


def _sigmoid_fall(lr: float, centre: float, top: float, bottom: float) -> float:
    """From ``top`` down to ``bottom``, half-way at ``centre``, over about a decade."""
    return bottom + (top - bottom) / (1 + (lr / centre) ** 2)


def _classic(lr: float) -> float:  # plateau, fall around 1e-3, blow-up past 0.05
    return _sigmoid_fall(lr, 1e-3, 2.6, 1.9) + (40 * (lr - 0.05) if lr > 0.05 else 0.0)


def _late(lr: float) -> float:  # a plateau over 4 decades, then a fall around 0.01
    return _sigmoid_fall(lr, 1e-2, 2.3, 1.5) + (40 * (lr - 0.2) if lr > 0.2 else 0.0)


def _no_blow_up(lr: float) -> float:  # still falling at lr 10
    return _sigmoid_fall(lr, 1e-2, 1.0, 0.2)


def _two_falls(lr: float) -> float:  # a small dip near 1e-5, the real fall near 1e-2
    dip = 0.1 * np.exp(-((np.log10(lr) + 5) ** 2) * 4)
    return _sigmoid_fall(lr, 1e-2, 2.3, 1.2) - dip + (40 * (lr - 0.3) if lr > 0.3 else 0.0)


def _noisy(shape, seed: int, noise: float = 0.05):
    rng = np.random.default_rng(seed)
    return lambda lr: shape(lr) + noise * rng.standard_normal()


def _check_valley(result) -> None:
    """The suggestion is the first point after the curve's top (past the settling tenth)
    at or below FALL_SHARE of the fall to the minimum."""
    loss = np.asarray(result.losses)
    lowest = int(np.argmin(loss))
    skip = len(loss) // 10
    top = skip + int(np.argmax(loss[skip : lowest + 1]))
    level = loss[top] - FALL_SHARE * (loss[top] - loss[lowest])
    at = result.lrs.index(result.suggested_lr)
    assert top < at <= lowest and loss[at] <= level < loss[top:at].min()


@pytest.mark.parametrize("shape", [_classic, _late, _two_falls])
def test_the_suggestion_is_where_the_smoothed_loss_made_most_of_its_fall(shape) -> None:
    result = range_test(_noisy(shape, 0))
    assert result.stopped_early
    _check_valley(result)
    # The moving average trails the minibatch loss, so its 80% lies where the raw curve
    # has made (almost) all of its fall, yet clearly below the rate where it turns up.
    raw = [shape(lr) for lr in result.lrs]
    raw_lowest = int(np.argmin(raw))
    fallen = (shape(1e-6) - shape(result.suggested_lr)) / (shape(1e-6) - raw[raw_lowest])
    assert fallen > 0.98
    assert result.suggested_lr < result.lrs[raw_lowest] / 1.5


def test_a_long_noisy_plateau_does_not_pull_the_suggestion_down() -> None:
    # fastai's valley (the longest decreasing run) can start in the plateau's noise.
    result = range_test(_noisy(_late, 1, noise=0.08))
    assert 3e-3 < result.suggested_lr < 0.2
    _check_valley(result)


def test_two_falls_suggest_a_rate_in_the_larger_one() -> None:
    result = range_test(_noisy(_two_falls, 2))
    assert 3e-3 < result.suggested_lr < 0.3


def test_a_curve_still_falling_at_the_end_suggests_a_rate_on_its_fall() -> None:
    result = range_test(_noisy(_no_blow_up, 3, noise=0.02))
    assert not result.stopped_early and len(result.lrs) == 200
    _check_valley(result)
    assert result.suggested_lr < result.lrs[-1]


def test_a_curve_that_never_falls_suggests_its_lowest_point() -> None:
    lrs = np.geomspace(1e-6, 10, 100)
    losses = 2 + lrs
    marks = suggestions(lrs, losses)
    assert marks.suggested == pytest.approx(lrs[0]) and marks.steepest == pytest.approx(lrs[0])
    assert marks.min_div10 == pytest.approx(lrs[0] / 10)


@pytest.mark.parametrize("shape", [_classic, _late])
def test_the_suggestion_is_stable_over_runs(shape) -> None:
    results = [range_test(_noisy(shape, seed)) for seed in range(8)]
    valleys = [r.suggested_lr for r in results]
    steepest = [r.steepest_lr for r in results]
    assert max(valleys) / min(valleys) < 1.5
    assert max(steepest) / min(steepest) < 3


def test_the_suggestion_ignores_the_loss_scale_and_offset() -> None:
    result = range_test(_noisy(_classic, 4))
    lrs, losses = np.asarray(result.lrs), np.asarray(result.losses)
    for scaled in (3 * losses + 5, 0.01 * losses - 1):
        marks = suggestions(lrs, scaled)
        assert marks.suggested == result.suggested_lr
        assert marks.steepest == result.steepest_lr


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
