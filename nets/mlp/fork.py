"""Snapshots of a numpy-net run and forks from them (``nets.snapshots`` holds the shared
part: the event, the store, the file).

What a snapshot of ``nets.mlp.train`` holds: the parameters (``model/<name>``), SGD's
momentum buffers (``optim/velocity/<name>``) and learning rate (the schedule's position),
the batch order's random state as it was at the start of the epoch in progress with the
number of batches already done in it, the preprocessing, and the curves so far. Going on
from it replays exactly what the parent run did next: same batches, same arithmetic, so
the losses agree bit for bit.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from nets import snapshots
from nets.data.preprocess import DataSampler, Preprocessor
from nets.errors import ConfigError
from nets.mlp.classifiers import Classifier, build_classifier
from nets.mlp.config import TrainConfig
from nets.mlp.optim import SGD
from nets.training import Snapshot

#: What a fork cannot change: the network's shape and the data it sees.
FIXED = ("model", "hidden_dim", "dtype", "num_train", "seed")
_HISTORY = ("step_loss", "epoch_train_acc", "epoch_val_acc", "epoch_loss", "epoch_lr")


@dataclass
class Resume(snapshots.Resume):
    """``nets.snapshots.Resume`` with the curves so far."""

    history: dict[str, list[float]] = field(default_factory=lambda: {k: [] for k in _HISTORY})


def take(
    config: TrainConfig,
    *,
    step: int,
    epoch: int,
    end_of_epoch: bool,
    model: Classifier,
    optimizer: SGD,
    epoch_rng: Mapping[str, Any],
    preprocessor: Preprocessor | None,
    history: Mapping[str, list[float]],
    loss_sum: float = 0.0,
    steps: int = 0,
    last_finite: float = float("nan"),
    data: Mapping[str, Any] | None = None,
) -> Snapshot:
    """A snapshot after ``step``; ``epoch_rng`` is the sampler's random state at the start
    of the next epoch (end of an epoch) or of the epoch in progress (``steps`` into it);
    ``data`` what a reader needs to show the model alone (``image_shape``,
    ``class_names``, ``source``)."""
    arrays: dict[str, Any] = {f"model/{k}": v.copy() for k, v in model.parameters().items()}
    for k, v in optimizer.velocities().items():
        arrays[f"optim/velocity/{k}"] = v.copy()
    if preprocessor is not None:
        for k, v in preprocessor.to_arrays().items():
            arrays[f"pre/{k}"] = np.array(v, copy=True)
    for k in _HISTORY:
        arrays[f"history/{k}"] = np.asarray(history[k], dtype=np.float64)
    state = {
        "learning_rate": optimizer.learning_rate,
        "epoch_rng": copy.deepcopy(dict(epoch_rng)),
        "position": steps,
        "loss_sum": loss_sum,
        "last_finite": last_finite,
        "model_type": type(model).__name__,
        "model_hyperparameters": model.hyperparameters(),
        "dtype": model.dtype_name,
        "data": dict(data or {}),
    }
    return Snapshot("mlp", step, epoch, end_of_epoch, config.to_dict(), arrays, state)


def check(snapshot: Snapshot, config: TrainConfig) -> None:
    """ConfigError when ``config`` cannot continue ``snapshot`` (before any allocation)."""
    snapshots.check_fork(snapshot, "mlp", snapshot.config, config.to_dict(), FIXED, "num_epochs")


def model_from_snapshot(snapshot: Snapshot) -> Classifier:
    """The snapshot's model (a fresh object with copies of its parameters)."""
    st = snapshot.state
    try:
        return build_classifier(
            str(st["model_type"]),
            st["model_hyperparameters"],
            str(st.get("dtype", "float64")),
            state={k: np.array(v, copy=True) for k, v in snapshot.weights().items()},
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"the snapshot's model cannot be rebuilt ({exc})") from None


def preprocessor_from_snapshot(snapshot: Snapshot) -> Preprocessor | None:
    a = snapshot.arrays
    if "pre/mean" not in a or "pre/scale" not in a:
        return None
    return Preprocessor.from_arrays({"mean": a["pre/mean"], "scale": a["pre/scale"]})


def restore(
    snapshot: Snapshot,
    config: TrainConfig,
    model: Classifier,
    optimizer: SGD,
    sampler: DataSampler,
) -> Resume:
    """Put ``snapshot`` into the freshly built ``model``, ``optimizer`` and ``sampler``;
    return where the loop goes on. An overridden learning rate or decay takes the
    schedule's position (the epochs done) with it."""
    params = model.parameters()
    weights = snapshot.weights()
    if set(weights) != set(params) or any(weights[k].shape != params[k].shape for k in params):
        raise ConfigError(
            "the snapshot's weights do not fit the network for this data "
            f"({', '.join(f'{k} {weights[k].shape}' for k in sorted(weights))})"
        )
    for k in list(params):
        params[k] = np.array(weights[k], dtype=params[k].dtype, copy=True)
    saved = {k: snapshot.arrays.get(f"optim/velocity/{k}") for k in params}
    optimizer.set_velocities(
        {
            k: np.array(v, dtype=params[k].dtype, copy=True)
            for k, v in saved.items()
            if v is not None
        }
    )
    st = snapshot.state
    old = snapshot.config
    if old.get("learning_rate") == config.learning_rate and old.get("lr_decay") == config.lr_decay:
        optimizer.learning_rate = float(st["learning_rate"])
    else:
        optimizer.learning_rate = config.learning_rate * config.lr_decay**snapshot.epochs_done
    sampler.rng.bit_generator.state = copy.deepcopy(st["epoch_rng"])
    history = {k: [float(x) for x in snapshot.arrays[f"history/{k}"]] for k in _HISTORY}
    return Resume.after(snapshot, float(st["last_finite"]), history=history)


def batches(sampler: DataSampler, skip: int) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """One epoch of ``sampler``'s batches without the first ``skip`` (already trained)."""
    for i, batch in enumerate(sampler):
        if i >= skip:
            yield batch
