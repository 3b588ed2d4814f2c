"""The trainer's step writes the big gradients into the optimizer's spare arrays
(``SGD.gradient_buffers``), which then receive the new weights: same numbers, one array
less, and the rollback copy survives a step whose loss is not finite."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import numpy as np
import pytest

from nets.mlp import parallel
from nets.mlp.classifiers import TwoLayerNet
from nets.mlp.optim import SGD
from nets.mlp.step import l2_terms, training_step


@pytest.fixture
def workers() -> Iterator[parallel.Workers]:
    w = parallel.Workers(2)
    yield w
    w.close()


def _data(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    return rng.standard_normal((48, 700), dtype=np.float32), rng.integers(0, 10, 48)


def _train(
    lend: bool, workers: parallel.Workers | None, momentum: float, reg: float, steps: int = 4
) -> tuple[list[float], dict[str, np.ndarray]]:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=momentum)
    losses = []
    with parallel.splitting(workers) if workers else contextlib.nullcontext():
        for _ in range(steps):
            loss, grads = training_step(
                model,
                X,
                y,
                reg,
                reuse_buffers=True,
                l2_in_grads=False,
                squares=opt.square_sums(),
                grad_buffers=opt.gradient_buffers() if lend else None,
            )
            if lend:
                assert all(grads[k] is opt._spare[k] for k in ("W1", "W2"))  # biases: sums
            opt.step(grads, l2=l2_terms(model, reg))
            losses.append(loss)
    return losses, {k: v.copy() for k, v in model.parameters().items()}


@pytest.mark.parametrize("momentum,reg", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05), (0.0, 0.05)])
@pytest.mark.parametrize("split", [False, True])
def test_gradients_in_the_spare_arrays_give_the_same_training(
    workers: parallel.Workers, momentum: float, reg: float, split: bool
) -> None:
    w = workers if split else None
    plain_losses, plain = _train(False, w, momentum, reg)
    lent_losses, lent = _train(True, w, momentum, reg)
    assert lent_losses == plain_losses
    assert 700 * 400 > parallel.MIN_WORK  # W1's update runs split in blocks
    for name in plain:
        np.testing.assert_array_equal(lent[name], plain[name])


def test_the_models_own_buffers_are_back_after_the_step() -> None:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    _, own = training_step(model, X, y, 0.0, reuse_buffers=True)
    own_w1 = own["W1"]
    opt = SGD(model.parameters(), 0.1)
    lent = opt.gradient_buffers()
    _, grads = training_step(
        model, X, y, 0.0, reuse_buffers=True, l2_in_grads=False, grad_buffers=lent
    )
    assert grads["W1"] is lent["W1"]
    np.testing.assert_array_equal(grads["W1"], own_w1)  # same weights, same gradient
    _, again = training_step(model, X, y, 0.0, reuse_buffers=True)
    assert again["W1"] is own_w1 and again["W1"] is not lent["W1"]


def test_a_step_with_a_non_finite_loss_keeps_the_rollback_copy() -> None:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=0.9)
    before = {k: v.copy() for k, v in model.parameters().items()}
    loss, grads = training_step(
        model, X, y, 0.0, reuse_buffers=True, l2_in_grads=False, grad_buffers=opt.gradient_buffers()
    )
    opt.step(grads)
    model.parameters()["W1"][0, 0] = np.inf  # the update diverged
    with np.errstate(over="ignore", invalid="ignore"):
        loss, grads = training_step(
            model,
            X,
            y,
            0.0,
            reuse_buffers=True,
            l2_in_grads=False,
            grad_buffers=opt.gradient_buffers(),
        )
    assert not np.isfinite(loss) and grads == {}
    assert opt.rollback()
    for name, value in before.items():
        np.testing.assert_array_equal(model.parameters()[name], value)


def test_lent_buffers_need_the_l2_term_in_the_optimizers_pass() -> None:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1)
    with pytest.raises(ValueError, match="l2_in_grads=False"):
        training_step(model, X, y, 0.1, reuse_buffers=True, grad_buffers=opt.gradient_buffers())
