"""The training protocol that both trainers speak.

A training loop (``nets.mlp.train.train`` for the numpy net, ``nets.cnn.train.train`` for
the CNN) is a generator that yields these small frozen events, in this order::

    Started, then any mix of Step and Evaluation (and the optional events below:
    Internals when layer sampling is on, Advice from the coach, Snapshot when asked),
    then exactly one of Finished, Stopped or Diverged.

The same thing has the same field name in both trainers: ``step`` counts optimizer steps
from 1 over the whole run, ``epoch`` counts from 1, ``elapsed`` is seconds of training
so far (pauses excluded), accuracies are fractions in [0, 1] (nan where there is nothing
to measure). Every consumer (the two tabs through ``gui.training``, the two CLIs, the
JSON log, the coach, searches) reads only these classes. A feature that needs more adds
a field or an event here, once.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from nets.memory import MemoryEstimate


@dataclass(frozen=True)
class Started:
    """First event: what the run will do.

    ``trainer`` is ``"mlp"`` or ``"cnn"``; ``config`` is that trainer's own frozen
    configuration; ``input_shape`` is one example's shape (``(3072,)`` or ``(1, 28, 28)``);
    ``memory_bytes`` the estimated peak memory (``memory`` the same estimate by part);
    ``start_step`` is 0 for a fresh run and the snapshot's step for a run forked from one;
    ``precision`` the forward pass's number format (``float32``, or the CNN's
    ``bfloat16`` mixed precision).
    """

    trainer: str
    config: Any
    num_train: int
    num_val: int
    num_classes: int
    input_shape: tuple[int, ...]
    params: int
    epochs: int
    steps_per_epoch: int
    total_steps: int
    memory_bytes: int
    device: str = "cpu"
    num_threads: int = 1
    precision: str = "float32"
    elapsed: float = 0.0
    start_step: int = 0
    memory: MemoryEstimate | None = field(default=None, compare=False)


@dataclass(frozen=True)
class Step:
    """After each optimizer step: the minibatch loss (data + regularisation) and the
    learning rate that step used."""

    step: int
    epoch: int
    loss: float
    lr: float
    elapsed: float
    total_steps: int


@dataclass(frozen=True)
class Evaluation:
    """Accuracy after ``step`` steps.

    ``end_of_epoch`` is True for the evaluation that closes an epoch (on the whole
    validation split, ``val_n`` images); other evaluations may use a fixed subset.
    ``train_loss`` is the mean minibatch loss since the previous evaluation.
    """

    step: int
    epoch: int
    train_acc: float
    val_acc: float
    train_loss: float
    lr: float
    val_n: int
    end_of_epoch: bool
    elapsed: float


@dataclass(frozen=True)
class Ended:
    """Base of the last event. ``reason`` is one line fit for a status bar; ``result`` is
    the trainer's own result object (the trained model, its history and config).

    ``step`` is the last step that ran (for Diverged: the step whose loss was not
    finite), ``epoch`` the epoch it belonged to, ``epochs_done`` the epochs completed.
    """

    step: int
    epoch: int
    elapsed: float
    reason: str
    epochs_done: int = 0
    result: Any = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class Finished(Ended):
    """Every epoch ran."""


@dataclass(frozen=True)
class Stopped(Ended):
    """Stopped on request between two steps; the result holds the weights so far."""


@dataclass(frozen=True)
class Diverged(Ended):
    """The loss became NaN or infinite at ``step``; the result holds the weights of the
    last step whose loss was finite (the initial weights if it was the first)."""

    loss: float = math.nan
    last_finite_loss: float = math.nan


#: ``Internals`` are sampled every this many steps unless told otherwise (kept here, not in
#: ``nets.internals``, so that a form can show it without importing numpy). Measured cost
#: (bench_internals, on a shared machine): a median of 1% (numpy net) and 7% (CNN, short
#: runs that sample twice an epoch's share of steps) of the CPU time, each within noise
#: that straddles 3%.
DEFAULT_EVERY = 50


@dataclass(frozen=True, eq=False)
class Internals:
    """What every layer is doing at ``step``, sampled every ``every`` steps (optional event).

    ``layers`` maps each layer name (``fc1``, ``relu1``, ``conv2``, ``bn1``: numbered per
    kind in forward order) to a dict of plain floats and small numpy arrays; the keys are
    listed in ``nets.internals`` (``act_*`` for the output, ``grad_*`` for the gradient
    flowing into it, ``weight_*``/``bias_*`` for parameters, ``dead_fraction`` for ReLUs,
    ``running_mean``/``running_var`` for BatchNorm). Histogram edges stay fixed per layer
    for a whole run so that successive events stack into a heat-map. ``input_mean`` and
    ``input_std`` describe the input batch; ``non_finite`` is None or (layer, what) for the
    first layer in forward order where a NaN or inf appeared (``what`` is activation,
    gradient, weight or bias).
    """

    step: int
    epoch: int
    layers: dict[str, dict[str, Any]]
    every: int
    input_mean: float = math.nan
    input_std: float = math.nan
    non_finite: tuple[str, str] | None = None


@dataclass(frozen=True)
class Advice:
    """A finding of the coach (``nets.coach``) at ``step``.

    ``rule`` is a stable id (``diverging``, ``dead_relu``...); ``evidence`` names the curve
    (``curve``) and the layer (``layer``, when there is one) with the numbers behind the
    finding; ``message`` explains it in plain words; ``suggest`` maps configuration field
    names of the run's trainer to the values of a new run worth trying (may be empty).
    """

    rule: str
    step: int
    evidence: dict[str, Any]
    message: str
    suggest: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, eq=False)
class Snapshot:
    """Everything a run needs to go on from ``step`` exactly as it would have (optional
    event, yielded when the trainer is given a ``nets.snapshots.SnapshotPlan``).

    ``epoch`` is the epochs completed when ``end_of_epoch`` (the snapshot right after that
    epoch's Evaluation), else the epoch in progress. ``config`` is the trainer's
    configuration as a dict. ``arrays`` holds copies: ``model/<name>`` the parameters
    (and BatchNorm buffers), ``optim/...`` the optimizer's buffers, ``rng/...`` random
    states, ``history/...`` the curves so far; ``state`` the JSON-able rest (learning
    rate, schedule position, batch-order random state, position in the epoch). Only the
    trainer that wrote it reads ``optim``/``rng``/``state``; anyone may read ``weights()``.
    """

    trainer: str
    step: int
    epoch: int
    end_of_epoch: bool
    config: dict[str, Any]
    arrays: dict[str, Any] = field(repr=False)
    state: dict[str, Any] = field(default_factory=dict, repr=False)

    @property
    def name(self) -> str:
        """``epoch-K`` or ``step-S``: the snapshot's file name in a run's folder."""
        return f"epoch-{self.epoch}" if self.end_of_epoch else f"step-{self.step}"

    @property
    def nbytes(self) -> int:
        return int(sum(getattr(a, "nbytes", 0) for a in self.arrays.values()))

    @property
    def epochs_done(self) -> int:
        """The epochs completed when the snapshot was taken."""
        return self.epoch if self.end_of_epoch else self.epoch - 1

    def weights(self) -> dict[str, Any]:
        """The model's parameters by name (numpy arrays; mlp: ``W1, b1, W2, b2``; cnn:
        the ``state_dict()`` keys, BatchNorm buffers included)."""
        return {k[6:]: v for k, v in self.arrays.items() if k.startswith("model/")}


TrainingEvent = (
    Started | Step | Evaluation | Internals | Advice | Snapshot | Finished | Stopped | Diverged
)
END_EVENTS = (Finished, Stopped, Diverged)
