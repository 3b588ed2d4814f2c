"""LinearClassifier, TwoLayerNet, SGD, training_step and the gradient-check driver."""

from __future__ import annotations

import numpy as np
import pytest

import nets.mlp.layers
from nets.errors import CheckpointError, ConfigError
from nets.mlp import classifiers, gradcheck
from nets.mlp.classifiers import LinearClassifier, TwoLayerNet
from nets.mlp.gradcheck import numeric_gradient, rel_error, run_gradchecks
from nets.mlp.layers import softmax_loss
from nets.mlp.optim import SGD
from nets.mlp.train import training_step


def test_two_layer_net_shapes_dtype_and_seeded_init() -> None:
    net = TwoLayerNet(12, 3, hidden_dim=7, weight_scale=0.1, seed=4)
    assert {k: v.shape for k, v in net.parameters().items()} == {
        "W1": (12, 7),
        "b1": (7,),
        "W2": (7, 3),
        "b2": (3,),
    }
    assert all(v.dtype == np.float32 for v in net.parameters().values())
    assert np.all(net.params["b1"] == 0) and np.all(net.params["b2"] == 0)
    assert net.params["W1"].std() == pytest.approx(0.1, rel=0.3)
    same = TwoLayerNet(12, 3, hidden_dim=7, weight_scale=0.1, seed=4)
    np.testing.assert_array_equal(net.params["W1"], same.params["W1"])
    assert net.weight_names() == ("W1", "W2")
    assert net.num_parameters() == 12 * 7 + 7 + 7 * 3 + 3


def test_two_layer_net_forward_matches_reference_formula() -> None:
    net = TwoLayerNet(4, 3, hidden_dim=5, weight_scale=1.0, dtype=np.float64, seed=0)
    X = np.random.default_rng(1).standard_normal((6, 4))
    p = net.parameters()
    expected = np.maximum(X @ p["W1"] + p["b1"], 0) @ p["W2"] + p["b2"]
    np.testing.assert_allclose(net.forward(X)[0], expected)
    np.testing.assert_array_equal(net.predict(X, batch_size=4), expected.argmax(axis=1))


@pytest.mark.parametrize(
    "model",
    [
        LinearClassifier(5, 4, weight_scale=1.0, dtype=np.float64, seed=1),
        TwoLayerNet(5, 4, hidden_dim=6, weight_scale=0.5, dtype=np.float64, seed=1),
    ],
    ids=["linear", "two-layer"],
)
def test_classifier_gradients_match_numeric_ones(model: classifiers.Classifier) -> None:
    rng = np.random.default_rng(3)
    X, y = rng.standard_normal((4, 5)), rng.integers(0, 4, 4)
    scores, cache = model.forward(X)
    grads = model.backward(softmax_loss(scores, y)[1], cache)
    for name, param in model.parameters().items():
        numeric = numeric_gradient(lambda: softmax_loss(model.forward(X)[0], y)[0], param, h=1e-4)
        assert rel_error(numeric, grads[name]) < 1e-8, name


def test_reused_buffers_give_the_same_results() -> None:
    net = TwoLayerNet(6, 3, hidden_dim=4, weight_scale=0.5, seed=0)
    X = np.random.default_rng(0).standard_normal((5, 6)).astype(np.float32)
    y = np.array([0, 1, 2, 0, 1])
    loss_a, grads_a = training_step(net, X, y, 0.1)
    loss_b, grads_b = training_step(net, X, y, 0.1, reuse_buffers=True)
    assert loss_a == pytest.approx(loss_b)
    for k in grads_a:
        np.testing.assert_allclose(grads_a[k], grads_b[k], rtol=1e-6)


def test_training_step_regularizes_weights_but_never_biases() -> None:
    net = TwoLayerNet(4, 3, hidden_dim=5, weight_scale=0.5, dtype=np.float64, seed=2)
    net.params["b1"][:] = 1.5  # would change the loss if biases were penalised
    X = np.random.default_rng(2).standard_normal((3, 4))
    y = np.array([0, 2, 1])
    loss0, grads0 = training_step(net, X, y, 0.0)
    loss1, grads1 = training_step(net, X, y, 0.7)
    p = net.parameters()
    penalty = 0.35 * (np.sum(p["W1"] ** 2) + np.sum(p["W2"] ** 2))
    assert loss1 == pytest.approx(loss0 + penalty)
    np.testing.assert_allclose(grads1["W1"], grads0["W1"] + 0.7 * p["W1"])
    np.testing.assert_allclose(grads1["b1"], grads0["b1"])
    np.testing.assert_allclose(grads1["b2"], grads0["b2"])
    for name, param in p.items():
        numeric = numeric_gradient(lambda: training_step(net, X, y, 0.7)[0], param, h=1e-4)
        assert rel_error(numeric, grads1[name]) < 1e-7, name


def test_sgd_plain_momentum_decay_and_rollback() -> None:
    params = {"w": np.array([1.0, 2.0])}
    opt = SGD(params, learning_rate=0.1)
    opt.step({"w": np.array([1.0, -1.0])})
    np.testing.assert_allclose(params["w"], [0.9, 2.1])
    assert opt.rollback()
    np.testing.assert_allclose(params["w"], [1.0, 2.0])
    assert not opt.rollback()

    params = {"w": np.array([0.0])}
    opt = SGD(params, learning_rate=1.0, momentum=0.5, lr_decay=0.5)
    opt.step({"w": np.array([1.0])})  # v = 1, w = -1
    opt.step({"w": np.array([1.0])})  # v = 1.5, w = -2.5
    np.testing.assert_allclose(params["w"], [-2.5])
    opt.end_epoch()
    assert opt.learning_rate == 0.5


@pytest.mark.parametrize(
    "kwargs",
    [
        {"learning_rate": 0},
        {"learning_rate": float("nan")},
        {"learning_rate": 1, "momentum": 1.0},
        {"learning_rate": 1, "lr_decay": 0},
    ],
)
def test_sgd_rejects_bad_hyperparameters(kwargs: dict) -> None:
    with pytest.raises(ConfigError):
        SGD({"w": np.zeros(1)}, **kwargs)


def test_load_state_checks_names_and_shapes_and_leaves_model_unchanged() -> None:
    net = TwoLayerNet(4, 3, hidden_dim=5, seed=0)
    before = net.state()
    other = TwoLayerNet(4, 3, hidden_dim=6, seed=1)
    with pytest.raises(CheckpointError, match="mismatch: parameter W1"):
        net.load_state(other.state())
    with pytest.raises(CheckpointError, match="mismatch"):
        net.load_state(LinearClassifier(4, 3).state())
    for k, v in before.items():
        np.testing.assert_array_equal(net.params[k], v)


def test_bad_constructor_arguments_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="hidden_dim"):
        TwoLayerNet(4, 3, hidden_dim=0)
    with pytest.raises(ConfigError, match="weight_scale"):
        TwoLayerNet(4, 3, weight_scale=-1)
    with pytest.raises(ConfigError, match="dtype"):
        TwoLayerNet(4, 3, dtype=np.int32)


def test_gradcheck_driver_passes_every_check() -> None:
    results = run_gradchecks()
    names = [r.name for r in results]
    assert "relu_backward" in names and "TwoLayerNet W1" in names and "LinearClassifier W" in names
    assert any(r.group == "stability" for r in results)
    failed = [(r.name, r.max_rel_error) for r in results if not r.passed]
    assert not failed
    for r in results:
        assert r.threshold == (1e-10 if r.group == "classifier" else 1e-9)


def test_gradcheck_driver_catches_a_wrong_backward(monkeypatch: pytest.MonkeyPatch) -> None:
    def leaky_relu_backward(grad_out, cache, *, inplace=False):
        return grad_out * np.where(cache > 0, 1.0, 0.01)

    monkeypatch.setattr(nets.mlp.layers, "relu_backward", leaky_relu_backward)
    monkeypatch.setattr(gradcheck, "relu_backward", leaky_relu_backward)
    monkeypatch.setattr(classifiers, "relu_backward", leaky_relu_backward)
    failed = {r.name for r in run_gradchecks() if not r.passed}
    assert "relu_backward" in failed
    assert {"TwoLayerNet W1", "TwoLayerNet b1"} <= failed


def test_gradcheck_driver_catches_an_unstable_softmax(monkeypatch: pytest.MonkeyPatch) -> None:
    def naive_softmax_loss(x, y, *, out_grad=None):
        with np.errstate(all="ignore"):
            p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
            loss = float(-np.mean(np.log(p[np.arange(len(y)), y])))
            p[np.arange(len(y)), y] -= 1
        return loss, p / len(y)

    monkeypatch.setattr(gradcheck, "softmax_loss", naive_softmax_loss)
    failed = [r for r in run_gradchecks() if not r.passed]
    assert failed and all(r.group == "stability" for r in failed)
