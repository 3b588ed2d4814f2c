"""The CNN's training precision: float32, or bfloat16 mixed precision (nets.cnn.precision)."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pytest
import torch

import nets.cnn.model as cnn_model
from nets.cnn import precision as prec
from nets.cnn.arch import BatchNorm2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU
from nets.cnn.config import TrainConfig
from nets.cnn.presets import DEFAULT
from nets.cnn.train import run_to_end, train
from nets.data.dataset import make_dataset
from nets.errors import ConfigError
from nets.lr_find import cnn_range_test
from nets.training import Finished, Internals, Started

SMALL = (Conv2d(4, 3, padding=1), MaxPool2d(2), BatchNorm2d(), ReLU(), Flatten(), Linear(4))
FAST = TrainConfig(lr=0.02, batch_size=50, epochs=2, num_threads=1, evals_per_epoch=1, device="cpu")


def _quadrants(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Class k = the bright quadrant k of a noisy (8, 8, 1) image."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 4, n)
    X = rng.integers(0, 60, (n, 8, 8, 1)).astype(np.uint8)
    for k, (r, c) in enumerate([(0, 0), (0, 4), (4, 0), (4, 4)]):
        X[y == k, r : r + 4, c : c + 4] += 150
    return X, y.astype(np.int64)


@pytest.fixture(scope="module")
def quadrants() -> Any:
    X, y = _quadrants(800, 0)
    Xt, yt = _quadrants(100, 1)
    return make_dataset(
        X, y, Xt, yt, num_val=200, seed=0, class_names=("tl", "tr", "bl", "br"), source="test"
    )


@pytest.fixture
def layer_dtypes(monkeypatch) -> list[tuple[bool, torch.dtype]]:
    """(training mode, output dtype) of the first convolution at every forward pass."""
    seen: list[tuple[bool, torch.dtype]] = []
    build = cnn_model.build_model

    def recording(*args: Any, **kwargs: Any) -> Any:
        model = build(*args, **kwargs)
        conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
        conv.register_forward_hook(lambda m, i, out: seen.append((m.training, out.dtype)))
        return model

    monkeypatch.setattr(cnn_model, "build_model", recording)
    return seen


@pytest.mark.parametrize("native", [True, False])
def test_auto_is_bfloat16_only_on_a_cpu_that_computes_it_natively(monkeypatch, native):
    monkeypatch.setattr(prec, "native_bfloat16", lambda: native)
    assert prec.resolve_precision("auto", "cpu") == ("bfloat16" if native else "float32")
    assert prec.resolve_precision("auto", "cuda") == "float32"


def test_an_explicit_precision_is_kept_whatever_the_cpu(monkeypatch):
    monkeypatch.setattr(prec, "native_bfloat16", lambda: False)
    assert prec.resolve_precision("bfloat16", "cpu") == "bfloat16"
    assert prec.resolve_precision("float32", "cpu") == "float32"
    with pytest.raises(ConfigError, match="precision must be auto, float32 or bfloat16"):
        prec.resolve_precision("fp16", "cpu")


def test_native_bfloat16_answers_a_bool_without_raising():
    assert isinstance(prec.native_bfloat16(), bool)


def test_config_refuses_an_unknown_precision_and_older_configs_trained_in_float32():
    with pytest.raises(ConfigError, match="precision must be one of auto, float32, bfloat16"):
        TrainConfig(precision="half").validated()
    old = {k: v for k, v in DEFAULT.config.to_dict().items() if k != "precision"}
    assert TrainConfig.from_dict(old).precision == "float32"
    assert TrainConfig.from_dict(DEFAULT.config.to_dict()).precision == "auto"


def test_bfloat16_training_computes_layers_in_bfloat16_and_evaluates_in_float32(
    quadrants, layer_dtypes
):
    events = list(train(SMALL, quadrants, dataclasses.replace(FAST, precision="bfloat16")))
    started = events[0]
    assert isinstance(started, Started) and started.precision == "bfloat16"
    training = {dtype for mode, dtype in layer_dtypes if mode}
    evaluating = {dtype for mode, dtype in layer_dtypes if not mode}
    assert training == {torch.bfloat16} and evaluating == {torch.float32}
    end = events[-1]
    assert isinstance(end, Finished) and end.result.val_acc > 0.9
    assert {p.dtype for p in end.result.model.parameters()} == {torch.float32}


def test_float32_training_keeps_every_layer_in_float32(quadrants, layer_dtypes):
    end = run_to_end(train(SMALL, quadrants, FAST))
    assert isinstance(end, Finished)
    assert {dtype for _, dtype in layer_dtypes} == {torch.float32}


def test_bfloat16_runs_are_repeatable(quadrants):
    config = dataclasses.replace(FAST, precision="bfloat16", epochs=1)
    a, b = (run_to_end(train(SMALL, quadrants, config)) for _ in range(2))
    first, second = a.result.model.state_dict(), b.result.model.state_dict()
    assert all(torch.equal(first[k], second[k]) for k in first)


def test_layer_sampling_reads_bfloat16_activations_and_gradients(quadrants):
    config = dataclasses.replace(FAST, precision="bfloat16", internals_every=4, epochs=1)
    samples = [e for e in train(SMALL, quadrants, config) if isinstance(e, Internals)]
    assert samples
    conv = samples[-1].layers["conv1"]
    stats = [v for k, v in conv.items() if k.startswith(("act_", "grad_")) and np.isscalar(v)]
    assert stats and all(math.isfinite(float(v)) for v in stats)


def test_the_range_test_measures_the_loss_in_the_training_precision(quadrants):
    model = cnn_model.build_model(SMALL, (1, 8, 8), 4)
    seen: list[torch.dtype] = []
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    conv.register_forward_hook(lambda m, i, out: seen.append(out.dtype))
    cnn_range_test(SMALL, quadrants, dataclasses.replace(FAST, precision="bfloat16"), model=model)
    assert seen and set(seen) == {torch.bfloat16}


def test_the_default_preset_lets_the_cpu_choose():
    assert DEFAULT.config.precision == "auto"
