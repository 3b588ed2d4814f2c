"""Snapshots of a CNN run and forks from them (``nets.snapshots`` holds the shared part).

What a snapshot of ``nets.cnn.train`` holds: the ``state_dict`` (``model/<key>``,
BatchNorm statistics included), the optimizer's buffers (``optim/<param>/<name>``: momentum,
Adam's moments and step counts) with its parameter groups, the batch-order generator's
state at the start of the epoch in progress and the global torch random state (dropout),
how many steps of the epoch are done and the accuracy sums since the last evaluation, the
architecture and the normalisation. The schedule's position is the step count: a fork
replays the schedule up to it. torch is imported by the functions that need it.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nets import snapshots
from nets.cnn.arch import LayerSpec, arch_from_dict, arch_to_dict
from nets.cnn.config import TrainConfig
from nets.errors import ConfigError
from nets.training import Snapshot

#: What a fork cannot change besides the architecture (the data order's seed).
FIXED = ("seed",)
#: Settings that shape the optimizer's state: with all unchanged, its state comes back whole.
OPTIMIZER_FIELDS = ("optimizer", "lr", "weight_decay", "momentum", "nesterov", "schedule",
                    "step_epochs", "step_gamma", "epochs", "batch_size")  # fmt: skip


@dataclass
class Resume(snapshots.Resume):
    """``nets.snapshots.Resume`` with the accuracy sums of the epoch's ``done`` steps and
    the last validation accuracy."""

    seen: int = 0
    correct: int = 0
    last_val: float | None = None


def _numpy(t: Any) -> np.ndarray:
    return t.detach().cpu().numpy().copy()


def take(
    config: TrainConfig,
    arch: Sequence[LayerSpec],
    *,
    step: int,
    epoch: int,
    end_of_epoch: bool,
    model: Any,
    optimizer: Any,
    epoch_gen: Any,
    mean: Sequence[float],
    std: Sequence[float],
    position: int = 0,
    seen: int = 0,
    correct: int = 0,
    loss_sum: float = 0.0,
    last_loss: float = float("nan"),
    last_val: float | None = None,
    data: Mapping[str, Any] | None = None,
) -> Snapshot:
    """A snapshot after ``step``; ``epoch_gen`` is the batch-order generator's state
    (a uint8 tensor) at the start of the next epoch (an epoch's end) or of this one;
    ``data`` what a reader needs to rebuild the model alone (``input_shape``,
    ``class_names``, ``source``)."""
    import torch

    arrays: dict[str, Any] = {f"model/{k}": _numpy(v) for k, v in model.state_dict().items()}
    sd = optimizer.state_dict()
    scalars: dict[str, Any] = {}
    for index, slots in sd["state"].items():
        for name, value in slots.items():
            if isinstance(value, torch.Tensor):
                arrays[f"optim/{index}/{name}"] = _numpy(value)
            else:
                scalars[f"{index}/{name}"] = value
    arrays["rng/batch_order"] = _numpy(epoch_gen)
    arrays["rng/torch"] = _numpy(torch.get_rng_state())
    state = {
        "arch": arch_to_dict(arch),
        "param_groups": sd["param_groups"],
        "optim_scalars": scalars,
        "position": position,
        "seen": seen,
        "correct": correct,
        "loss_sum": loss_sum,
        "last_loss": last_loss,
        "last_val": last_val,
        "mean": list(mean),
        "std": list(std),
        "data": dict(data or {}),
    }
    return Snapshot("cnn", step, epoch, end_of_epoch, config.to_dict(), arrays, state)


def arch_of(snapshot: Snapshot) -> list[LayerSpec]:
    """The architecture the snapshot's run trained."""
    return arch_from_dict(snapshot.state.get("arch"))


def check(snapshot: Snapshot, arch: Sequence[LayerSpec], config: TrainConfig) -> None:
    """ConfigError when ``arch`` and ``config`` cannot continue ``snapshot``."""
    snapshots.check_fork(snapshot, "cnn", snapshot.config, config.to_dict(), FIXED, "epochs")
    if arch_to_dict(arch)["layers"] != snapshot.state.get("arch", {}).get("layers"):
        raise ConfigError("a fork keeps its snapshot's architecture: this one differs")


def model_from_snapshot(snapshot: Snapshot, input_shape: Sequence[int], num_classes: int) -> Any:
    """A fresh torch module with the snapshot's weights, in eval mode."""
    import torch

    from nets.cnn.model import build_model

    model = build_model(arch_of(snapshot), input_shape, num_classes)
    model.load_state_dict({k: torch.from_numpy(v) for k, v in snapshot.weights().items()})
    return model.eval()


def restore(
    snapshot: Snapshot,
    config: TrainConfig,
    model: Any,
    optimizer: Any,
    scheduler: Any,
    gen: Any,
) -> Resume:
    """Put ``snapshot`` into the freshly built model, optimizer, schedule and generator;
    return where the loop goes on. With the optimizer's settings unchanged its state
    comes back whole; otherwise the new schedule starts at the snapshot's step and the
    buffers are kept when the optimizer is the same kind."""
    import torch

    weights = snapshot.weights()
    own = model.state_dict()
    if set(weights) != set(own) or any(tuple(weights[k].shape) != own[k].shape for k in own):
        raise ConfigError("the snapshot's weights do not fit this architecture and data")
    model.load_state_dict({k: torch.from_numpy(v) for k, v in weights.items()})
    with warnings.catch_warnings():  # no optimizer.step() before these: on purpose
        warnings.simplefilter("ignore")
        for _ in range(snapshot.step):
            scheduler.step()
    st = snapshot.state
    old = snapshot.config
    same = all(old.get(f) == getattr(config, f) for f in OPTIMIZER_FIELDS)
    if same or old.get("optimizer") == config.optimizer:
        slots: dict[int, dict[str, Any]] = {}
        for key, value in snapshot.arrays.items():
            if key.startswith("optim/"):
                _, index, name = key.split("/", 2)
                slots.setdefault(int(index), {})[name] = torch.from_numpy(np.array(value))
        for key, value in st.get("optim_scalars", {}).items():
            index, name = key.split("/", 1)
            slots.setdefault(int(index), {})[name] = value
        groups = st["param_groups"] if same else optimizer.state_dict()["param_groups"]
        optimizer.load_state_dict({"state": slots, "param_groups": groups})
    gen.set_state(torch.from_numpy(np.array(snapshot.arrays["rng/batch_order"])))
    torch.set_rng_state(torch.from_numpy(np.array(snapshot.arrays["rng/torch"])))
    last_val = st.get("last_val")
    resume = Resume.after(
        snapshot, float(st["last_loss"]), last_val=None if last_val is None else float(last_val)
    )
    if not snapshot.end_of_epoch:
        resume.seen = int(st["seen"])
        resume.correct = int(st["correct"])
    return resume
