"""The trainer's step writes the big gradients into the optimizer's arrays
(``SGD.gradient_buffers``): the spare arrays, which then receive the new weights, or the
velocities, to which the GEMM adds them. Same numbers, fewer sweeps over memory, and the
rollback copy survives a step whose loss is not finite."""

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
    lend: bool,
    prepare: bool,
    workers: parallel.Workers | None,
    momentum: float,
    reg: float,
    steps: int = 4,
) -> tuple[list[float], dict[str, np.ndarray]]:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=momentum)
    losses = []
    with parallel.splitting(workers) if workers else contextlib.nullcontext():
        for _ in range(steps):
            l2 = l2_terms(model, reg)
            lent = opt.gradient_buffers(l2) if lend else None
            loss, grads = training_step(
                model,
                X,
                y,
                reg,
                reuse_buffers=True,
                l2_in_grads=False,
                squares=opt.square_sums(),
                grad_buffers=lent,
            )
            if lent is not None:
                assert all(grads[k] is lent[k][0] for k in ("W1", "W2"))  # biases: sums
            opt.step(grads, l2=l2, prepare=l2 if prepare else None)
            losses.append(loss)
    return losses, {k: v.copy() for k, v in model.parameters().items()}


@pytest.mark.parametrize("momentum,reg", [(0.0, 0.0), (0.9, 0.0), (0.9, 0.05), (0.0, 0.05)])
@pytest.mark.parametrize("split", [False, True])
def test_lent_buffers_and_prepared_velocities_give_the_same_training(
    workers: parallel.Workers, momentum: float, reg: float, split: bool
) -> None:
    """Gradients in the optimizer's arrays, the velocity's bracket made in the update's
    pass or before the next step: the same numbers, to the last bit."""
    w = workers if split else None
    plain_losses, plain = _train(False, False, w, momentum, reg)
    assert 700 * 400 > parallel.MIN_WORK  # W1's update runs split in blocks
    for lend, prepare in [(True, False), (True, True), (False, True)]:
        losses, weights = _train(lend, prepare, w, momentum, reg)
        assert losses == plain_losses
        for name in plain:
            np.testing.assert_array_equal(weights[name], plain[name])


def test_the_update_follows_momentum_sgd_with_weight_decay() -> None:
    """v = momentum * v + g + reg * w; w -= lr * v (PyTorch's SGD), to rounding."""
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=0.9)
    reg = 0.05
    ref_w = {k: v.astype(np.float64) for k, v in model.parameters().items()}
    ref_v = {k: np.zeros_like(v) for k, v in ref_w.items()}
    for i in range(4):
        l2 = l2_terms(model, reg)
        # the gradient at the current weights, taken apart from the run
        _, plain = training_step(model, X, y, reg, l2_in_grads=False)
        lent = opt.gradient_buffers(l2)
        _, grads = training_step(
            model, X, y, reg, reuse_buffers=True, l2_in_grads=False, grad_buffers=lent
        )
        for k in ref_w:
            g = plain[k] + l2.get(k, 0.0) * ref_w[k]
            ref_v[k] = g if i == 0 else 0.9 * ref_v[k] + g
            ref_w[k] = ref_w[k] - 0.1 * ref_v[k]
        opt.step(grads, l2=l2, prepare=l2 if i < 3 else None)
        for k, w in model.parameters().items():
            np.testing.assert_allclose(w, ref_w[k], rtol=1e-4, atol=1e-6)
        ref_w = {k: v.astype(np.float64) for k, v in model.parameters().items()}
    for k, v in opt.velocities().items():  # the last step did not prepare
        np.testing.assert_allclose(v, ref_v[k], rtol=1e-4, atol=1e-6)


def test_the_velocity_takes_the_gradient_with_beta_one_and_is_not_saved_half_made() -> None:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=0.9)
    l2 = l2_terms(model, 0.01)
    first = opt.gradient_buffers(l2)
    assert first["W1"][1] == 0.0 and first["W1"][0] is opt._spare["W1"]  # no velocity yet
    _, grads = training_step(
        model, X, y, 0.01, reuse_buffers=True, l2_in_grads=False, grad_buffers=first
    )
    opt.step(grads, l2=l2, prepare=l2)
    with pytest.raises(RuntimeError, match="next step"):
        opt.velocities()
    lent = opt.gradient_buffers(l2)
    assert lent["W1"][1] == 1.0 and lent["W1"][0] is opt._velocity["W1"]
    _, grads = training_step(
        model, X, y, 0.01, reuse_buffers=True, l2_in_grads=False, grad_buffers=lent
    )
    opt.step(grads, l2=l2)
    assert set(opt.velocities()) == set(model.parameters())


def test_a_gradient_added_to_an_unprepared_velocity_is_refused() -> None:
    X, y = _data()
    model = TwoLayerNet(700, 10, 400, 0.05, seed=3)
    opt = SGD(model.parameters(), 0.1, momentum=0.9)
    _, grads = training_step(model, X, y, 0.0)
    opt.step(grads)
    bogus = dict(grads, W1=opt._velocity["W1"])  # not through gradient_buffers
    with pytest.raises(ValueError, match="unprepared velocity"):
        opt.step(bogus)


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
    assert grads["W1"] is lent["W1"][0]
    np.testing.assert_array_equal(grads["W1"], own_w1)  # same weights, same gradient
    _, again = training_step(model, X, y, 0.0, reuse_buffers=True)
    assert again["W1"] is own_w1 and again["W1"] is not lent["W1"][0]


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
