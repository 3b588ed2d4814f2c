"""The numpy net as a steppable graph of layer calls (nets.mlp.netgraph)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

from nets.errors import CheckpointError, ConfigError
from nets.mlp.classifiers import LinearClassifier, TwoLayerNet
from nets.mlp.layers import softmax_loss
from nets.mlp.netgraph import (
    build_netgraph,
    fresh_weights,
    random_batch,
    tensor_stats,
)


def _two_layer(n: int = 4, reg: float = 0.05):
    batch = random_batch(n, 12, 5, seed=3)
    weights = fresh_weights("TwoLayerNet", 12, 5, 7, 0.3, seed=4)
    return build_netgraph(weights, batch, reg), weights, batch


def test_forward_and_backward_steps_match_the_classifier_and_the_regularised_loss() -> None:
    ng, weights, batch = _two_layer()
    model = TwoLayerNet(12, 5, 7, dtype=np.float64)
    model.load_state(weights)
    scores, cache = model.forward(batch.X)
    loss, dscores = softmax_loss(scores, batch.y)
    grads = model.backward(dscores, cache)
    ng.run_all()
    reg = 0.05 * sum(0.5 * float(np.sum(weights[w] ** 2)) for w in ("W1", "W2"))
    assert float(ng.value("L")) == pytest.approx(loss + reg, abs=1e-12)
    np.testing.assert_allclose(ng.value("scores"), scores, atol=1e-12)
    for name in ("W1", "W2"):
        np.testing.assert_allclose(ng.grad(name), grads[name] + 0.05 * weights[name], atol=1e-12)
        assert set(ng.grad_parts(name)) == {f"fc{name[1]}", f"l2_{name}"}
    for name in ("b1", "b2"):
        np.testing.assert_allclose(ng.grad(name), grads[name], atol=1e-12)
    assert ng.grad("X") is not None and ng.grad("X").shape == batch.X.shape


def test_linear_classifier_gets_the_same_graph_with_one_fc() -> None:
    batch = random_batch(3, 6, 4, seed=1)
    model = LinearClassifier(6, 4, 0.5, dtype=np.float64, seed=2)
    ng = build_netgraph(model, batch, reg=0.1)
    assert ng.kind == "LinearClassifier"
    assert ng.forward_order == ("fc1", "softmax_loss", "l2_W", "L")
    ng.run_all()
    np.testing.assert_allclose(ng.value("scores"), batch.X @ model.params["W"], atol=1e-12)
    assert ng.grad("W") is not None and ng.grad("b") is not None


def test_one_step_is_one_layer_call_in_order_and_backward_waits_for_forward() -> None:
    ng, _, _ = _two_layer()
    assert ng.step_backward() is None
    calls = []
    while (step := ng.step_forward()) is not None:
        calls.append(step.node)
        assert step.direction == "forward"
    assert calls == ["fc1", "relu1", "fc2", "softmax_loss", "l2_W1", "l2_W2", "L"]
    assert ng.grad("scores") is None
    first = ng.step_backward()
    assert first is not None and first.node == "L"
    assert float(ng.grad("L")) == 1.0
    back = [first.node]
    while (step := ng.step_backward()) is not None:
        back.append(step.node)
    assert back == list(reversed(calls))
    assert ng.forward_complete and ng.backward_complete


def test_values_appear_only_after_their_step_and_undo_removes_them() -> None:
    ng, _, _ = _two_layer()
    assert ng.value("a1") is None and ng.value("X") is not None
    step = ng.step_forward()
    assert step is not None and step.call == "a1, cache = fc_forward(X, W1, b1)"
    assert ng.value("fc1") is ng.value("a1")
    assert ng.step_back_one()
    assert ng.value("a1") is None and ng.cache("fc1") is None and ng.forward_done == 0
    ng.run_all()
    ng.step_back_one()  # undo fc1's backward: W1 keeps only its regularisation gradient
    np.testing.assert_allclose(ng.grad("W1"), ng.reg * ng.params["W1"])
    assert ng.grad("X") is None


def test_caches_hold_what_forward_kept_for_backward() -> None:
    ng, _, batch = _two_layer()
    ng.run_forward()
    assert ng.cache("fc1")["x"] is batch.X
    np.testing.assert_array_equal(ng.cache("relu1")["out"], ng.value("h1"))
    probs = ng.cache("softmax_loss")["probs"]
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert ng.cache("L") is None


def test_edges_carry_the_shapes_of_the_tensors() -> None:
    batch = random_batch(16, 3072, 10)
    ng = build_netgraph(fresh_weights(hidden_dim=64), batch)
    labels = {(e.src, e.dst): e.label for e in ng.edges}
    assert labels[("X", "fc1")] == "16×3072"
    assert labels[("W1", "fc1")] == "3072×64"
    assert labels[("fc1", "relu1")] == "16×64"
    assert labels[("fc2", "softmax_loss")] == "16×10"
    assert labels[("softmax_loss", "L")] == "scalar"
    assert ("W1", "l2_W1") in labels and ("W2", "l2_W2") in labels


def test_stats_give_shape_range_mean_and_a_histogram() -> None:
    a = np.arange(12.0).reshape(3, 4)
    s = tensor_stats(a, bins=4)
    assert (s.shape, s.min, s.max, s.mean) == ((3, 4), 0.0, 11.0, 5.5)
    assert s.hist_counts.sum() == 12 and len(s.hist_edges) == 5
    const = tensor_stats(np.full(5, 2.0))
    assert const.hist_counts.sum() == 5
    ng, _, _ = _two_layer()
    assert ng.stats("h1") is None
    ng.run_all()
    st = ng.stats("W1", "grad")
    assert st is not None and st.min == pytest.approx(float(ng.grad("W1").min()))


def test_a_hidden_units_incoming_weights_come_as_an_image() -> None:
    batch = random_batch(2, 12, 3)
    ng = build_netgraph(fresh_weights("TwoLayerNet", 12, 3, 5, seed=1), batch)
    np.testing.assert_array_equal(ng.incoming_weights(4), ng.params["W1"][:, 4])
    shaped = build_netgraph(ng.params, replace(batch, image_shape=(2, 2, 3)))
    assert shaped.incoming_weights(1).shape == (2, 2, 3)


def test_full_twin_is_complete_and_leaves_the_stepping_state_alone() -> None:
    ng, weights, _ = _two_layer()
    ng.step_forward()
    full = ng.full()
    assert full is not ng and full.backward_complete and ng.full() is full
    assert ng.forward_done == 1 and ng.value("h1") is None
    ng.run_all()
    np.testing.assert_array_equal(full.grad("W1"), ng.grad("W1"))
    weights["W1"][0, 0] += 1.0  # the caller's arrays are copied, not shared
    assert ng.params["W1"][0, 0] != weights["W1"][0, 0]


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({"W1": np.zeros((12, 3))}, "expected W1, b1, W2, b2"),
        (
            {"W": np.zeros((11, 5)), "b": np.zeros(5)},
            "the batch has 12 values per image, the model takes 11",
        ),
        ({"W": np.zeros((12, 5)), "b": np.zeros(4)}, "inconsistent shapes"),
        ({"W": np.full((12, 5), np.nan), "b": np.zeros(5)}, "not finite"),
    ],
)
def test_bad_weights_are_refused_with_a_reason(weights, message) -> None:
    with pytest.raises((CheckpointError, ConfigError), match=message):
        build_netgraph(weights, random_batch(2, 12, 5))


def test_batches_hold_1_to_16_images() -> None:
    with pytest.raises(ConfigError, match="1 to 16"):
        random_batch(17, 4, 2)
    with pytest.raises(ConfigError, match="1 to 16"):
        random_batch(0, 4, 2)
