"""Layer sampling (nets.internals) on real steps of both networks."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from nets.internals import stats, to_json
from nets.internals.numpy_probe import MlpInternals
from nets.internals.recorder import is_sampled, layer_names
from nets.mlp.classifiers import TwoLayerNet
from nets.mlp.train import training_step
from tests.nets.internals_fixtures import sgd_samples


def _data(n: int = 64, d: int = 12, classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    y = rng.integers(0, classes, n)
    return X, y


def _run(model, X, y, steps: int, every: int, lr: float = 0.1):
    return sgd_samples(model, X, y, steps, every, lr)


def test_samples_fall_on_step_one_and_every_kth_step() -> None:
    assert [s for s in range(1, 31) if is_sampled(s, 10)] == [1, 10, 20, 30]
    X, y = _data()
    events = _run(TwoLayerNet(12, 3, 8, 0.1, seed=0), X, y, steps=12, every=5)
    assert [e.step for e in events] == [1, 5, 10]
    assert list(events[0].layers) == ["fc1", "relu1", "fc2"]


def test_layer_names_number_each_kind_in_forward_order() -> None:
    kinds = ["conv", "batchnorm", "relu", "conv", "relu", "linear", "relu", "linear"]
    assert layer_names(kinds) == ["conv1", "bn1", "relu1", "conv2", "relu2", "fc1", "relu3", "fc2"]


def test_numbers_match_the_arrays_of_the_step() -> None:
    X, y = _data()
    model = TwoLayerNet(12, 3, 8, 0.1, seed=1)
    w1_before = model.params["W1"].copy()
    hidden = np.maximum(X @ model.params["W1"] + model.params["b1"], 0)
    _, grads = training_step(model, X, y, 0.0)
    lr = 0.1
    (event,) = _run(model, X, y, steps=1, every=1, lr=lr)
    fc1, relu = event.layers["fc1"], event.layers["relu1"]
    assert fc1["weight_norm"] == pytest.approx(np.linalg.norm(w1_before), rel=1e-5)
    assert fc1["weight_grad_norm"] == pytest.approx(np.linalg.norm(grads["W1"]), rel=1e-4)
    # Plain SGD: ||dW|| = lr * ||grad||, over the new weights' norm.
    new_norm = np.linalg.norm(model.params["W1"])
    expected = lr * np.linalg.norm(grads["W1"]) / new_norm
    assert fc1["weight_update_ratio"] == pytest.approx(expected, rel=1e-3)
    assert relu["act_mean"] == pytest.approx(hidden.mean(), rel=1e-5)
    assert relu["act_zero_fraction"] == pytest.approx(np.mean(hidden == 0))
    assert relu["dead_fraction"] == pytest.approx(np.mean(~(hidden > 0).any(axis=0)))
    assert event.input_mean == pytest.approx(X.mean(), abs=1e-6)
    assert event.non_finite is None


def test_histogram_edges_stay_fixed_and_counts_cover_every_value() -> None:
    X, y = _data()
    model = TwoLayerNet(12, 3, 8, 0.1, seed=2)
    events = _run(model, X, y, steps=20, every=5, lr=0.5)
    first, last = events[0].layers["fc1"], events[-1].layers["fc1"]
    assert np.array_equal(first["weight_edges"], last["weight_edges"])
    assert len(first["act_hist"]) == stats.BINS and len(first["act_edges"]) == stats.BINS + 1
    assert last["act_hist"].sum() == X.shape[0] * 8  # every hidden value of the batch
    assert events[0].layers["relu1"]["act_edges"][0] == 0.0  # ReLU outputs start at 0


def test_dead_units_are_those_zero_on_every_batch_since_the_last_sample() -> None:
    X, y = _data()
    model = TwoLayerNet(12, 3, 10, 0.1, seed=3)
    model.params["b1"][:6] = -100.0  # six of ten units can never fire
    events = _run(model, X, y, steps=10, every=5, lr=1e-3)
    assert events[-1].layers["relu1"]["dead_fraction"] == pytest.approx(0.6)
    assert events[-1].layers["relu1"]["dead_window"] == 5


def test_activity_is_no_longer_gathered_once_every_unit_fired_in_the_window() -> None:
    from nets.internals.recorder import InternalsRecorder

    recorder = InternalsRecorder([("relu1", "relu")])
    recorder.activity("relu1", np.array([True, False, False]))
    assert not recorder.all_active("relu1")
    recorder.activity("relu1", np.array([False, True, True]))
    assert recorder.all_active("relu1")  # the probes skip the layer's pass from here
    recorder.begin(5, 1)
    assert recorder.finish().layers["relu1"]["dead_fraction"] == 0.0
    assert not recorder.all_active("relu1")  # a new window starts empty
    # A live net: every unit fires on the first batch, and the dead fraction stays 0.
    X, y = _data()
    events = _run(TwoLayerNet(12, 3, 10, 0.1, seed=3), X, y, steps=10, every=5, lr=1e-3)
    assert [e.layers["relu1"]["dead_fraction"] for e in events] == [0.0] * len(events)


def test_a_non_finite_weight_is_named_as_the_first_layer() -> None:
    X, y = _data()
    model = TwoLayerNet(12, 3, 8, 0.1, seed=4)
    model.params["W2"][0, 0] = np.inf
    tracker = MlpInternals(model, 50)
    event = tracker.diagnose(
        7, 1, X, lambda probe: training_step(model, X, y, 0.0, probe=probe), model.parameters()
    )
    assert event.step == 7
    assert event.non_finite == ("fc2", "weight")


def test_to_json_is_plain_json() -> None:
    X, y = _data()
    (event,) = _run(TwoLayerNet(12, 3, 8, 0.1, seed=5), X, y, steps=1, every=1)
    line = json.dumps(to_json(event), allow_nan=False)
    back = json.loads(line)
    assert back["event"] == "internals" and back["step"] == 1
    assert len(back["layers"]["fc1"]["weight_hist"]) == stats.BINS


def test_histogram_clips_outliers_into_the_end_bins_and_skips_nan() -> None:
    edges = np.linspace(-1, 1, 5)
    counts = stats.histogram(np.array([-5.0, -0.9, 0.1, 0.6, 9.0, np.nan, np.inf]), edges)
    assert counts.tolist() == [2, 0, 1, 2]
    assert stats.nice_ceiling(0.031) == pytest.approx(0.05)
    assert stats.nice_ceiling(3.0) == 5.0 and stats.nice_ceiling(10.0) == 10.0
    assert math.isinf(stats.norm(np.array([np.inf], np.float32)))
    assert stats.norm(np.full(4, 1e30, np.float32)) == pytest.approx(2e30, rel=1e-6)


def test_torch_hooks_record_every_layer_and_leave_the_model_clean() -> None:
    import torch

    from nets.cnn.arch import BatchNorm2d, Conv2d, Flatten, Linear, ReLU
    from nets.cnn.model import build_model
    from nets.internals.torch_probe import TorchInternals

    torch.set_num_threads(1)
    torch.manual_seed(0)
    arch = (Conv2d(4, 3, padding=1), BatchNorm2d(), ReLU(), Flatten(), Linear(5))
    model = build_model(arch, (1, 6, 6), 5)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
    xb, yb = torch.randn(8, 1, 6, 6), torch.randint(0, 5, (8,))
    tracker = TorchInternals(model, every=2)
    events = []
    for step in range(1, 5):
        tracker.before_step(step, 1, xb)
        loss = torch.nn.functional.cross_entropy(model(xb), yb)
        opt.zero_grad()
        loss.backward()
        tracker.before_update()
        w_before = model.layers[0].weight.detach().clone()
        grad = model.layers[0].weight.grad.detach().clone()
        opt.step()
        event = tracker.after_update()
        if event is not None:
            events.append((event, w_before, grad))
    assert [e.step for e, _, _ in events] == [1, 2, 4]
    event, w_before, grad = events[-1]
    assert list(event.layers) == ["conv1", "bn1", "relu1", "fc1"]
    conv = event.layers["conv1"]
    assert conv["weight_grad_norm"] == pytest.approx(float(grad.norm()), rel=1e-4)
    assert conv["weight_update_ratio"] == pytest.approx(
        0.1 * float(grad.norm()) / float(model.layers[0].weight.detach().norm()), rel=1e-3
    )
    assert event.layers["bn1"]["running_mean"].shape == (4,)
    assert "grad_hist" in event.layers["relu1"] and "dead_fraction" in event.layers["relu1"]
    tracker.close()
    assert not any(m._forward_hooks for m in model.modules())
