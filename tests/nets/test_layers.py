"""The layer API against hand-checked values, reference formulas and numeric gradients."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nets.mlp.gradcheck import numeric_gradient, rel_error
from nets.mlp.layers import (
    fc_backward,
    fc_forward,
    l2_loss,
    l2_regularization,
    relu_backward,
    relu_forward,
    softmax_loss,
)


def test_fc_forward_hand_checked() -> None:
    x = np.array([[1.0, 2.0], [3.0, -1.0]])
    w = np.array([[1.0, 0.0, 2.0], [0.5, -1.0, 1.0]])
    b = np.array([0.1, 0.2, 0.3])
    out, _ = fc_forward(x, w, b)
    np.testing.assert_allclose(out, [[2.1, -1.8, 4.3], [2.6, 1.2, 5.3]])


def test_fc_backward_hand_checked() -> None:
    x = np.array([[1.0, 2.0]])
    w = np.array([[3.0], [4.0]])
    _, cache = fc_forward(x, w, np.zeros(1))
    gx, gw, gb = fc_backward(np.array([[2.0]]), cache)
    np.testing.assert_allclose(gx, [[6.0, 8.0]])
    np.testing.assert_allclose(gw, [[2.0], [4.0]])
    np.testing.assert_allclose(gb, [2.0])
    none_x, gw2, _ = fc_backward(np.array([[2.0]]), cache, need_grad_x=False)
    assert none_x is None
    np.testing.assert_array_equal(gw, gw2)


def test_relu_hand_checked() -> None:
    x = np.array([[-1.0, 0.0, 2.0]])
    out, cache = relu_forward(x)
    np.testing.assert_array_equal(out, [[0.0, 0.0, 2.0]])
    np.testing.assert_array_equal(x, [[-1.0, 0.0, 2.0]])  # input untouched by default
    np.testing.assert_array_equal(relu_backward(np.array([[5.0, 6.0, 7.0]]), cache), [[0, 0, 7.0]])


def test_l2_loss_hand_checked() -> None:
    loss, grad = l2_loss(np.array([[1.0, 2.0], [0.0, 0.0]]), np.array([[0.0, 0.0], [0.0, 2.0]]))
    assert loss == pytest.approx(0.5 * (1 + 4 + 4) / 2)
    np.testing.assert_allclose(grad, [[0.5, 1.0], [0.0, -1.0]])


def test_l2_regularization_hand_checked() -> None:
    w = np.array([[1.0, -2.0], [3.0, 0.0]])
    loss, grad = l2_regularization(w, 0.5)
    assert loss == pytest.approx(0.25 * 14)
    np.testing.assert_allclose(grad, 0.5 * w)


def test_softmax_loss_matches_the_definition() -> None:
    x = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    y = np.array([2, 0])
    loss, grad = softmax_loss(x, y)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    assert loss == pytest.approx(-np.mean(np.log(p[[0, 1], y])))
    expected = p.copy()
    expected[[0, 1], y] -= 1
    np.testing.assert_allclose(grad, expected / 2)
    assert loss == pytest.approx(
        (math.log(math.exp(1) + math.exp(2) + math.exp(3)) - 3 + math.log(3)) / 2
    )


@pytest.mark.parametrize("magnitude", [1e4, 1e5, 1e30])  # all below float32's 3.4e38
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_softmax_loss_is_stable_for_huge_scores(magnitude: float, dtype: type) -> None:
    x = np.array([[magnitude, 0.0, -magnitude], [0.0, magnitude, magnitude]], dtype=dtype)
    y = np.array([2, 0])
    loss, grad = softmax_loss(x, y)
    assert math.isfinite(loss) and np.all(np.isfinite(grad))
    # Row 0: log-sum-exp = magnitude, picked = -magnitude; row 1: magnitude + log 2 - 0.
    expected = (2 * magnitude + magnitude + math.log(2)) / 2
    assert loss == pytest.approx(expected, rel=1e-6)
    np.testing.assert_allclose(grad.sum(axis=1), 0, atol=1e-6)


def test_softmax_loss_writes_into_a_given_buffer_without_touching_scores() -> None:
    rng = np.random.default_rng(0)
    x = rng.standard_normal((4, 3)).astype(np.float32)
    keep = x.copy()
    y = np.array([0, 1, 2, 0])
    buf = np.empty_like(x)
    loss, grad = softmax_loss(x, y, out_grad=buf)
    assert grad is buf
    np.testing.assert_array_equal(x, keep)
    loss2, grad2 = softmax_loss(x, y)
    assert loss == pytest.approx(loss2)
    np.testing.assert_allclose(grad, grad2)


def test_float32_in_float32_out() -> None:
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4)).astype(np.float32)
    w = rng.standard_normal((4, 2)).astype(np.float32)
    out, cache = fc_forward(x, w, np.zeros(2, np.float32))
    assert out.dtype == np.float32
    gx, gw, gb = fc_backward(np.ones_like(out), cache)
    assert gx.dtype == gw.dtype == gb.dtype == np.float32
    assert softmax_loss(out, np.array([0, 1, 0]))[1].dtype == np.float32


def test_layer_gradients_match_numeric_ones() -> None:
    rng = np.random.default_rng(2)
    x, w, b = rng.standard_normal((3, 4)), rng.standard_normal((4, 5)), rng.standard_normal(5)
    g = rng.standard_normal((3, 5))
    _, cache = fc_forward(x, w, b)
    gx, gw, gb = fc_backward(g, cache)
    for arr, analytic in ((x, gx), (w, gw), (b, gb)):
        numeric = numeric_gradient(lambda: float(np.sum(fc_forward(x, w, b)[0] * g)), arr)
        assert rel_error(numeric, analytic) < 1e-9

    xr = rng.standard_normal((3, 4))
    xr += np.sign(xr) * 0.1
    gr = rng.standard_normal((3, 4))
    analytic = relu_backward(gr, relu_forward(xr)[1])
    numeric = numeric_gradient(lambda: float(np.sum(relu_forward(xr)[0] * gr)), xr)
    assert rel_error(numeric, analytic) < 1e-9

    s, labels = rng.standard_normal((5, 3)), rng.integers(0, 3, 5)
    numeric = numeric_gradient(lambda: softmax_loss(s, labels)[0], s)
    assert rel_error(numeric, softmax_loss(s, labels)[1]) < 1e-9
