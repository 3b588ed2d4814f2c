"""The coach's rules (nets.coach), each made to fire by a real small run, and the silence
of the healthy presets (``tuned`` for the numpy net, ``default`` for the CNN)."""

from __future__ import annotations

import dataclasses
import tarfile
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from nets.coach import RULES, Coach, advice_to_json, coached
from nets.data.dataset import make_dataset
from nets.mlp.config import PRESETS, TrainConfig
from nets.mlp.train import train
from nets.training import Advice, Diverged, Evaluation, Finished, Internals, Started, Step
from tests.nets.mlp_fixtures import blobs


def _advice(events: list) -> dict[str, Advice]:
    """rule -> its first finding."""
    found: dict[str, Advice] = {}
    for e in events:
        if isinstance(e, Advice):
            found.setdefault(e.rule, e)
    return found


def _noisy_blobs(n: int = 600, seed: int = 0) -> object:
    """Four classes whose mean images differ by little against the noise: a small
    network memorises the training images long before it generalises."""
    rng = np.random.default_rng(seed)
    means = rng.uniform(116, 140, (4, 192))

    def draw(m: int) -> tuple[np.ndarray, np.ndarray]:
        y = rng.integers(0, 4, m)
        X = np.clip(means[y] + rng.normal(0, 60, (m, 192)), 0, 255).astype(np.uint8)
        return X.reshape(m, 8, 8, 3), y.astype(np.int64)

    X, y = draw(n)
    Xt, yt = draw(100)
    return make_dataset(
        X, y, Xt, yt, num_val=n // 3, seed=seed, class_names=tuple("abcd"), source="noisy"
    )


# -- each rule fires on a real run ----------------------------------------------------


def test_diverging_fires_before_the_divergence_stop() -> None:
    cfg = PRESETS["tuned"].replace(num_epochs=3, batch_size=32, learning_rate=50.0)
    events = list(train(cfg, blobs(n=600)))
    assert isinstance(events[-1], Diverged)
    advice = _advice(events)["diverging"]
    assert advice.step < events[-1].step
    assert events.index(advice) < len(events) - 1
    assert advice.suggest == {"learning_rate": 5.0}
    assert advice.evidence["curve"] == "loss" and advice.evidence["loss"] > 10


def test_non_finite_and_exploding_gradients_name_the_layer_and_step() -> None:
    # Without the preset's 2-pixel shifts, which on 4x4 blobs blank half of each image:
    # with them this run diverges without a sampled layer ever holding a NaN or inf.
    cfg = PRESETS["tuned"].replace(
        num_epochs=3, batch_size=32, learning_rate=50.0, internals_every=1, crop_pad=0
    )
    events = list(train(cfg, blobs(n=600)))
    found = _advice(events)
    nf = found["non_finite"]
    assert nf.step == events[-1].step  # the step whose loss was not finite
    assert nf.evidence["layer"] in ("fc1", "relu1", "fc2") and nf.evidence["layer"] in nf.message
    assert "exploding_gradient" in found


def test_stuck_at_chance_after_a_few_hundred_steps_with_a_tiny_learning_rate() -> None:
    cfg = TrainConfig(
        num_train=None, hidden_dim=16, batch_size=10, num_epochs=7, learning_rate=1e-7, reg=0.0
    )
    events = list(train(cfg, blobs(n=600)))  # 48 steps per epoch
    advice = _advice(events)["stuck_at_chance"]
    assert advice.step == 300
    assert advice.evidence["chance_loss"] == pytest.approx(np.log(4))
    assert advice.suggest["learning_rate"] == pytest.approx(1e-6)


def test_update_ratio_fires_when_steps_barely_move_the_weights() -> None:
    cfg = TrainConfig(
        num_train=None,
        hidden_dim=32,
        batch_size=32,
        num_epochs=2,
        learning_rate=1e-7,
        reg=0.0,
        weight_scale=1e-2,
        internals_every=2,
    )
    events = list(train(cfg, blobs(n=600)))
    advice = _advice(events)["update_ratio"]
    assert advice.evidence["ratio"] < 1e-5
    assert advice.suggest == {"learning_rate": 1e-6}


def test_dead_relu_and_unnormalised_input_on_raw_pixels() -> None:
    ds = blobs(n=600)
    raw = (ds.X_train.astype(np.float32), ds.y_train, ds.X_val.astype(np.float32), ds.y_val)
    cfg = PRESETS["tuned"].replace(num_epochs=1, batch_size=32, internals_every=5)
    events = list(train(cfg, raw))
    found = _advice(events)
    assert found["unnormalised_input"].evidence["input_mean"] > 50  # pixels 0-255
    dead = found["dead_relu"]
    assert dead.evidence["layer"] == "relu1" and dead.evidence["dead_fraction"] > 0.5


def test_overfitting_once_validation_accuracy_falls_twice() -> None:
    cfg = PRESETS["overfit"].replace(num_train=None, num_epochs=8, batch_size=20)
    events = list(train(cfg, _noisy_blobs()))
    advice = _advice(events)["overfitting"]
    evals = [e for e in events if isinstance(e, Evaluation) and e.step <= advice.step]
    assert evals[-1].val_acc < evals[-2].val_acc < evals[-3].val_acc
    assert evals[-1].train_acc - evals[-1].val_acc > 0.15
    assert advice.suggest["num_epochs"] == max(evals, key=lambda e: e.val_acc).epoch


def test_underfitting_with_a_strong_regularisation() -> None:
    cfg = TrainConfig(
        num_train=None,
        hidden_dim=16,
        batch_size=32,
        num_epochs=5,
        learning_rate=1e-2,
        reg=50.0,
        weight_scale=1e-2,
    )
    events = list(train(cfg, blobs(n=600)))
    advice = _advice(events)["underfitting"]
    assert advice.suggest == {"reg": 5.0}
    assert advice.evidence["train_acc"] < 0.9


def _plateau_below_ninety(optimizer: str, weight_decay: float) -> set[str]:
    """The rules fired on a CNN run whose accuracy stalls at 60% with no gap."""
    from nets.cnn.config import TrainConfig as CnnConfig

    cfg = CnnConfig(optimizer=optimizer, lr=3e-3, weight_decay=weight_decay)

    def events():
        yield Started("cnn", cfg, 100, 20, 2, (1, 8, 8), 10, 5, 4, 20, 0)
        for epoch in range(1, 6):
            yield Evaluation(4 * epoch, epoch, 0.6, 0.6, 0.7, 3e-3, 20, True, 0.0)

    return {a.rule for a in coached(events(), Coach()) if isinstance(a, Advice)}


def test_adamw_decay_of_0_1_is_not_called_a_strong_regularisation() -> None:
    assert "underfitting" not in _plateau_below_ninety("adamw", 0.1)
    assert "underfitting" in _plateau_below_ninety("adamw", 1.0)
    assert "underfitting" in _plateau_below_ninety("adam", 0.1)


def _cnn_images(n: int = 400):
    rng = np.random.default_rng(0)
    X = rng.integers(0, 255, (n, 8, 8, 1), dtype=np.uint8)
    y = (X.mean(axis=(1, 2, 3)) > 127).astype(np.int64)
    return make_dataset(
        X, y, X[:20], y[:20], num_val=80, seed=0, class_names=("dark", "light"), source="random"
    )


def test_vanishing_gradient_in_a_deep_plain_cnn_stack() -> None:
    from nets.cnn.arch import Flatten, Linear, ReLU
    from nets.cnn.config import TrainConfig as CnnConfig
    from nets.cnn.train import train as train_cnn

    deep = (Flatten(), *[layer for _ in range(10) for layer in (Linear(16), ReLU())], Linear(2))
    cfg = CnnConfig(
        optimizer="sgd",
        lr=0.01,
        schedule="none",
        batch_size=32,
        epochs=1,
        num_threads=1,
        device="cpu",
        internals_every=2,
        weight_decay=0.0,
    )
    events = list(train_cnn(deep, _cnn_images(), cfg))
    advice = _advice(events)["vanishing_gradient"]
    assert advice.evidence["first_layer"] == "fc1" and advice.evidence["last_layer"] == "fc11"
    assert advice.evidence["first_grad_norm"] * 1e3 < advice.evidence["last_grad_norm"]
    assert advice.suggest == {"optimizer": "adam"}


def test_cnn_non_finite_is_diagnosed_before_the_weights_go_back() -> None:
    from nets.cnn.arch import Conv2d, Flatten, Linear, ReLU
    from nets.cnn.config import TrainConfig as CnnConfig
    from nets.cnn.train import train as train_cnn

    arch = (Conv2d(4, 3, padding=1), ReLU(), Flatten(), Linear(2))
    cfg = CnnConfig(
        optimizer="sgd",
        lr=1e6,
        schedule="none",
        batch_size=32,
        epochs=1,
        num_threads=1,
        device="cpu",
        internals_every=5,
        momentum=0.0,
        nesterov=False,
    )
    events = list(train_cnn(arch, _cnn_images(), cfg))
    assert isinstance(events[-1], Diverged)
    found = _advice(events)
    assert found["diverging"].step < events[-1].step
    assert found["non_finite"].step == events[-1].step
    model = events[-1].result.model
    assert not any(m._forward_hooks for m in model.modules())  # the tracker let go


# -- the stream ---------------------------------------------------------------------


def test_findings_come_before_the_final_event_and_once_per_rule() -> None:
    cfg = PRESETS["tuned"].replace(
        num_epochs=3, batch_size=32, learning_rate=50.0, internals_every=1
    )
    events = list(train(cfg, blobs(n=600)))
    assert isinstance(events[-1], Diverged)
    keys = [(a.rule, a.evidence.get("layer", "")) for a in events if isinstance(a, Advice)]
    assert len(keys) == len(set(keys))
    assert {a.rule for a in events if isinstance(a, Advice)} <= set(RULES)
    line = advice_to_json(next(a for a in events if isinstance(a, Advice)))
    assert line["event"] == "advice" and set(line) >= {"rule", "step", "message", "suggest"}


def test_closing_the_coached_stream_closes_the_trainer() -> None:
    closed = []

    def events():
        try:
            yield Step(1, 1, 2.3, 0.1, 0.0, 10)
            yield Step(2, 1, 2.3, 0.1, 0.0, 10)
        finally:
            closed.append(True)

    stream = coached(events(), Coach())
    next(stream)
    stream.close()
    assert closed == [True]


# -- the healthy presets stay silent -----------------------------------------------

PER_CLASS = 250


@pytest.fixture(scope="module")
def cifar_subset(shared_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    tarball = shared_data / "cifar10-train-jpeg.tar.gz"
    if not tarball.is_file():
        pytest.skip(f"{tarball} is absent")
    root = tmp_path_factory.mktemp("cifar-coach")
    taken: Counter[str] = Counter()
    with tarfile.open(tarball) as tar:
        for member in tar:
            parts = Path(member.name).parts
            if not member.isfile() or len(parts) < 3 or parts[-3] != "train":
                continue
            if taken[parts[-2]] >= PER_CLASS:
                continue
            data = tar.extractfile(member)
            assert data is not None
            target = root / "train" / parts[-2] / parts[-1]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data.read())
            taken[parts[-2]] += 1
    return root


def _only_late_overfitting(events: list, total_steps: int) -> None:
    for advice in (e for e in events if isinstance(e, Advice)):
        assert advice.rule == "overfitting" and advice.step > total_steps // 2, advice.message


@pytest.mark.data
def test_tuned_preset_raises_nothing_on_a_small_cifar_subset(cifar_subset: Path) -> None:
    from nets.data import load_dataset

    ds = load_dataset(f"folder:{cifar_subset}", num_val=500)
    cfg = PRESETS["tuned"].replace(internals_every=5)
    events = list(train(cfg, ds))
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Internals) for e in events) > 5
    _only_late_overfitting(events, events[-1].step)


@pytest.mark.data
def test_default_cnn_preset_raises_nothing_on_a_fashion_mnist_subset(fashion_mnist_dir) -> None:
    from nets.cnn.presets import DEFAULT
    from nets.cnn.train import train as train_cnn
    from nets.data import load_dataset

    data = load_dataset(f"fashion-mnist:{fashion_mnist_dir}", seed=0)
    small = dataclasses.replace(
        data,
        X_train=data.X_train[:2500],
        y_train=data.y_train[:2500],
        X_val=data.X_val[:500],
        y_val=data.y_val[:500],
    )
    cfg = dataclasses.replace(
        DEFAULT.config, epochs=2, num_threads=2, internals_every=3, evals_per_epoch=2
    )
    events = list(train_cnn(DEFAULT.layers, small, cfg))
    assert isinstance(events[-1], Finished)
    assert sum(isinstance(e, Internals) for e in events) > 5
    _only_late_overfitting(events, events[-1].step)
