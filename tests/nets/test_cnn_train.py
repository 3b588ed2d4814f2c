"""nets.cnn.train: the training generator on tiny synthetic images (and a Fashion-MNIST subset)."""

from __future__ import annotations

import dataclasses
import math
import subprocess
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

from nets.cnn.arch import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.config import TrainConfig, default_num_threads
from nets.cnn.presets import DEFAULT
from nets.cnn.train import (
    batches_per_epoch,
    check_memory,
    estimate_memory,
    eval_points,
    run_to_end,
    train,
)
from nets.cnn.trained import evaluate, predict
from nets.errors import ConfigError, ResourceError
from nets.memory import MemoryEstimate
from nets.metrics import confusion_matrix
from nets.training import Diverged, Evaluation, Finished, Started, Step, Stopped
from tests.nets.process_fixtures import run_python

ROOT = Path(__file__).resolve().parents[2]
SMALL = (Conv2d(4, 3, padding=1), BatchNorm2d(), ReLU(), MaxPool2d(2), Flatten(), Linear(4))


@dataclass(frozen=True)
class Images:
    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    class_names: tuple[str, ...]


def quadrants(n: int, seed: int, size: int = 8) -> tuple[np.ndarray, np.ndarray]:
    """Class k = the bright quadrant k of a noisy (size, size, 1) image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.integers(0, 60, (n, size, size, 1)).astype(np.uint8)
    h = size // 2
    for k, (r, c) in enumerate([(0, 0), (0, h), (h, 0), (h, h)]):
        X[y == k, r : r + h, c : c + h] += 150
    return X, y.astype(np.int64)


@pytest.fixture(scope="module")
def images() -> Images:
    Xtr, ytr = quadrants(600, 0)
    Xva, yva = quadrants(200, 1)
    Xte, yte = quadrants(200, 2)
    return Images(Xtr, ytr, Xva, yva, Xte, yte, ("tl", "tr", "bl", "br"))


FAST = TrainConfig(lr=0.02, batch_size=50, epochs=2, num_threads=1, evals_per_epoch=3)


def test_training_learns_and_reports_every_step(images):
    events = list(train(SMALL, images, FAST))
    assert isinstance(events[0], Started)
    assert events[0].steps_per_epoch == 12 and events[0].total_steps == 24
    steps = [e for e in events if isinstance(e, Step)]
    evals = [e for e in events if isinstance(e, Evaluation)]
    assert [s.step for s in steps] == list(range(1, 25))
    assert len(evals) == 6 and [e.end_of_epoch for e in evals] == [False, False, True] * 2
    assert all(e.epoch == (1 if e.step <= 12 else 2) for e in evals)
    assert all(0 <= e.train_acc <= 1 and 0 <= e.val_acc <= 1 for e in evals)
    assert steps[-1].loss < steps[0].loss
    done = events[-1]
    assert isinstance(done, Finished) and done.step == 24 and done.epochs_done == 2
    assert evals[-1].val_acc > 0.9
    assert done.result.val_acc == evals[-1].val_acc
    acc, preds = evaluate(done.result, images.X_test, images.y_test)
    assert acc > 0.9 and preds.shape == (200,) and preds.dtype == np.int64
    matrix = confusion_matrix(images.y_test, preds, 4)
    assert matrix.sum() == 200 and np.trace(matrix) == round(acc * 200)


def test_one_cycle_schedule_warms_up_then_anneals(images):
    lrs = [e.lr for e in train(SMALL, images, FAST) if isinstance(e, Step)]
    peak = int(np.argmax(lrs))
    assert 0 < peak < len(lrs) - 1
    assert lrs[0] < lrs[peak] and lrs[-1] < lrs[0]


@pytest.mark.parametrize("optimizer", ["sgd", "rmsprop", "adam", "adamw"])
@pytest.mark.parametrize("schedule", ["none", "step", "cosine"])
def test_every_optimizer_and_schedule_runs(images, optimizer, schedule):
    lr = 0.002 if optimizer == "rmsprop" else 0.02
    config = dataclasses.replace(
        FAST, optimizer=optimizer, schedule=schedule, epochs=2, step_epochs=1, lr=lr
    )
    steps = [e for e in train(SMALL, images, config) if isinstance(e, Step)]
    if schedule == "none":
        assert {s.lr for s in steps} == {lr}
    if schedule == "step":
        assert steps[0].lr == lr and steps[-1].lr == pytest.approx(lr * 0.1)
    assert all(math.isfinite(s.loss) for s in steps)


def test_same_seed_same_run(images):
    def losses(seed):
        config = dataclasses.replace(FAST, epochs=1, seed=seed)
        return [e.loss for e in train(SMALL, images, config) if isinstance(e, Step)]

    assert losses(3) == losses(3)
    assert losses(3) != losses(4)


def test_label_smoothing_keeps_the_loss_above_its_floor(images):
    """Targets 1 - e + e/K for the true class, e/K for the others: the loss cannot fall
    below their entropy, while the plain loss on these easy images falls far below it."""
    e, k = 0.5, 4
    p = np.array([1 - e + e / k] + [e / k] * (k - 1))
    floor = float(-(p * np.log(p)).sum())
    config = dataclasses.replace(FAST, epochs=3)

    def losses(smoothing: float) -> list[float]:
        cfg = dataclasses.replace(config, label_smoothing=smoothing)
        return [ev.loss for ev in train(SMALL, images, cfg) if isinstance(ev, Step)]

    assert min(losses(e)) >= floor - 1e-4
    assert min(losses(0.0)) < floor / 2


def test_huge_learning_rate_diverges_and_keeps_finite_weights(images):
    config = dataclasses.replace(
        FAST, optimizer="sgd", lr=1e3, schedule="none", momentum=0.0, nesterov=False
    )
    arch = (Flatten(), Linear(16), ReLU(), Linear(4))  # no BatchNorm to tame it
    events = list(train(arch, images, config))
    done = events[-1]
    assert isinstance(done, Diverged), done
    assert done.reason.startswith(f"diverged at step {done.step}")
    last_step = [e for e in events if isinstance(e, Step)][-1]
    assert last_step.step == done.step - 1 and math.isfinite(last_step.loss)
    assert done.last_finite_loss == last_step.loss and not math.isfinite(done.loss)
    params = list(done.result.model.parameters())
    assert all(torch.isfinite(p).all() for p in params)
    preds = predict(done.result, images.X_val)
    assert np.isfinite(preds.probabilities).all()


def _stopped_after(images, steps: int) -> tuple[list, Stopped]:
    stop = threading.Event()
    events = []
    for event in train(SMALL, images, FAST, cancel=stop):
        events.append(event)
        if isinstance(event, Step) and event.step == steps:
            stop.set()
    return events, events[-1]


def test_cancel_stops_between_steps_and_keeps_the_weights_so_far(images):
    events, done = _stopped_after(images, 3)
    assert isinstance(done, Stopped) and done.step == 3 and done.epochs_done == 0
    assert "stopped after step 3" in done.reason
    assert sum(isinstance(e, Step) for e in events) == 3
    assert done.result.iterations == 3
    # The kept weights are those after step 3: the same seed stopped at the same step gives
    # the same weights, one step more changes them.
    again, later = _stopped_after(images, 3)[1], _stopped_after(images, 4)[1]

    def same(a: Stopped, b: Stopped) -> bool:
        pairs = zip(a.result.model.parameters(), b.result.model.parameters(), strict=True)
        return all(torch.equal(x, y) for x, y in pairs)

    assert same(done, again) and not same(done, later)


def test_closing_the_generator_mid_run_is_clean(images):
    gen = train(SMALL, images, FAST)
    assert isinstance(next(gen), Started) and isinstance(next(gen), Step)
    gen.close()
    with pytest.raises(StopIteration):
        next(gen)


@pytest.mark.parametrize(
    "change, message",
    [
        ({"batch_size": 0}, "batch_size must be between 1"),
        ({"epochs": -1}, "epochs must be between 1"),
        ({"lr": "abc"}, "lr must be a number"),
        ({"lr": float("nan")}, "lr must be a number"),
        ({"optimizer": "lbfgs"}, "optimizer must be one of"),
        ({"schedule": "warm"}, "schedule must be one of"),
        ({"weight_decay": -1.0}, "weight_decay must be at least 0"),
        ({"label_smoothing": 1.0}, "label_smoothing must be at least 0 and at most 0.99"),
    ],
)
def test_bad_settings_are_refused_before_training(images, change, message):
    with pytest.raises(ConfigError, match=message):
        train(SMALL, images, dataclasses.replace(FAST, **change))


def test_bad_architecture_or_labels_are_refused_before_training(images):
    with pytest.raises(ConfigError, match=r"layer 5 \(Linear\): outputs 10 values.*4 classes"):
        train((*SMALL[:-1], Linear(10)), images, FAST)
    bad = dataclasses.replace(images, y_train=images.y_train + 5)
    with pytest.raises(ConfigError, match="labels outside 0..3"):
        train(SMALL, bad, FAST)


def test_memory_estimate_refuses_huge_configurations_with_numbers():
    config = TrainConfig(batch_size=10_000_000)
    estimate = estimate_memory(DEFAULT.layers, (1, 28, 28), config, 50_000, 10_000, 10)
    assert (
        isinstance(estimate, MemoryEstimate) and estimate.total > 1e10
    )  # batches hold at most all 50,000 images
    with pytest.raises(ResourceError, match=r"needs about .* GB .* only 8\.0 GB"):
        check_memory(estimate, available=8 * 2**30)
    normal = estimate_memory(DEFAULT.layers, (1, 28, 28), TrainConfig(), 50_000, 10_000, 10)
    assert normal.total < 1e9
    check_memory(normal, available=8 * 2**30)


def test_huge_configuration_refused_under_an_address_space_limit():
    """No allocation happens: the refusal comes before torch is even imported."""
    code = (
        "import resource, sys\n"
        "resource.setrlimit(resource.RLIMIT_AS, (1_500_000_000, resource.RLIM_INFINITY))\n"
        "import numpy as np\n"
        "from nets.cnn.arch import Conv2d, Flatten, Linear\n"
        "from nets.cnn.config import TrainConfig\n"
        "from nets.cnn.train import train\n"
        "from nets.data.dataset import ImageDataset\n"
        "from nets.errors import ResourceError\n"
        "X = np.zeros((4, 28, 28, 1), np.uint8); y = np.zeros(4, np.int64)\n"
        "d = ImageDataset(X, y, X, y, None, None, tuple('0123456789'), 'zeros')\n"
        "arch = [Conv2d(64, 3, padding=1), Flatten(), Linear(1_000_000), Linear(10)]\n"
        "try:\n"
        "    train(arch, d, TrainConfig(batch_size=10_000_000))\n"
        "except ResourceError as exc:\n"
        "    print('refused:', exc)\n"
        "print('torch' in sys.modules)\n"
    )
    out = run_python(code, timeout=60)
    assert out.returncode == 0, out.stderr
    lines = out.stdout.strip().splitlines()
    assert lines[0].startswith("refused: this configuration needs about")
    assert "GB" in lines[0] and "available" in lines[0]
    assert lines[1] == "False"


def test_helpers():
    assert batches_per_epoch(10, 4) == 3
    assert batches_per_epoch(9, 4) == 2  # a last batch of one image is dropped (BatchNorm)
    assert eval_points(196, 4) == [49, 98, 147, 196]
    assert eval_points(2, 4) == [1, 2]
    assert default_num_threads() >= 1
    assert default_num_threads(leave_room_for_gui=True) >= 1


@pytest.mark.data
def test_a_short_run_on_fashion_mnist_learns(fashion_mnist_dir):
    from nets.data import load_dataset

    data = load_dataset(f"fashion-mnist:{fashion_mnist_dir}", seed=0)
    small = Images(
        data.X_train[:3000],
        data.y_train[:3000],
        data.X_val[:1000],
        data.y_val[:1000],
        data.X_test[:1000],
        data.y_test[:1000],
        data.class_names,
    )
    config = dataclasses.replace(
        DEFAULT.config, epochs=2, batch_size=128, evals_per_epoch=2, num_threads=1
    )
    done = run_to_end(train(DEFAULT.layers, small, config))
    assert isinstance(done, Finished)
    assert done.result.val_acc > 0.75  # chance is 0.10
    assert evaluate(done.result, small.X_test, small.y_test).accuracy > 0.75


def test_openmp_spin_is_limited_only_before_torch_loads(monkeypatch):
    from nets.cnn.config import limit_openmp_spin

    monkeypatch.delenv("OMP_WAIT_POLICY", raising=False)
    monkeypatch.delenv("GOMP_SPINCOUNT", raising=False)
    assert limit_openmp_spin() is False  # torch is already imported in this process
    assert "GOMP_SPINCOUNT" not in __import__("os").environ
    code = (
        "import os, sys\n"
        "os.environ.pop('OMP_WAIT_POLICY', None)\n"
        "os.environ.pop('GOMP_SPINCOUNT', None)\n"
        "from nets.cnn.config import limit_openmp_spin\n"
        "print(limit_openmp_spin(), os.environ['GOMP_SPINCOUNT'], limit_openmp_spin())\n"
        "os.environ.pop('GOMP_SPINCOUNT')\n"
        "os.environ['OMP_WAIT_POLICY'] = 'ACTIVE'\n"
        "print(limit_openmp_spin(), 'GOMP_SPINCOUNT' in os.environ)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["True", "10000", "False", "False", "False"]
