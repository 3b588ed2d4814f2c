"""Training hyperparameters for the numpy networks: fields, validation, presets, memory.

The GUI builds its form from ``FIELDS`` (labels, tooltips, bounds) and the command line
its argparse types from ``parse_field``, so both refuse the same values with the same
message.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields, replace
from typing import TYPE_CHECKING, Any

from nets.errors import ConfigError
from nets.memory import MemoryEstimate
from nets.memory import check_memory as _check_memory

if TYPE_CHECKING:
    from nets.snapshots import SnapshotPlan


@dataclass(frozen=True)
class FieldSpec:
    """One hyperparameter: its type, bounds and a tooltip that says what it does."""

    name: str
    label: str
    kind: type  # int or float
    minimum: float
    maximum: float
    min_inclusive: bool = True
    max_inclusive: bool = True
    optional: bool = False  # None allowed (num_train: all images)
    help: str = ""


FIELDS: dict[str, FieldSpec] = {
    f.name: f
    for f in (
        FieldSpec(
            "num_train",
            "Training images",
            int,
            1,
            10**9,
            optional=True,
            help="How many training images to use (empty: all of them). A smaller set "
            "trains faster and is easier to overfit.",
        ),
        FieldSpec(
            "hidden_dim",
            "Hidden units",
            int,
            1,
            10**12,
            help="Width of the hidden layer. More units can fit more complex functions but "
            "cost time and memory.",
        ),
        FieldSpec(
            "batch_size",
            "Batch size",
            int,
            1,
            10**12,
            help="Images per gradient step. Larger batches give smoother but fewer updates "
            "per epoch.",
        ),
        FieldSpec(
            "num_epochs",
            "Epochs",
            int,
            1,
            10**6,
            help="Passes through the training set.",
        ),
        FieldSpec(
            "learning_rate",
            "Learning rate",
            float,
            0.0,
            1e6,
            min_inclusive=False,
            help="Step size of gradient descent. Too small: nothing happens; too large: the "
            "loss diverges.",
        ),
        FieldSpec(
            "reg",
            "L2 regularization",
            float,
            0.0,
            1e6,
            help="Strength of the L2 penalty reg/2 * sum(W^2) on the weight matrices (not "
            "the biases). Larger values fight overfitting.",
        ),
        FieldSpec(
            "momentum",
            "Momentum",
            float,
            0.0,
            1.0,
            max_inclusive=False,
            help="Fraction of the previous update carried into the next (0: plain SGD; "
            "0.9 is common).",
        ),
        FieldSpec(
            "lr_decay",
            "LR decay per epoch",
            float,
            0.0,
            1.0,
            min_inclusive=False,
            help="The learning rate is multiplied by this after every epoch (1: constant).",
        ),
        FieldSpec(
            "weight_scale",
            "Initial weight scale",
            float,
            0.0,
            1e3,
            min_inclusive=False,
            help="Standard deviation of the random initial weights.",
        ),
        FieldSpec(
            "seed",
            "Random seed",
            int,
            0,
            2**32 - 1,
            help="Seeds the initial weights, the training subset and the batch order: the "
            "same seed gives the same run.",
        ),
    )
}


def parse_field(name: str, value: Any) -> Any:
    """Check (and convert from text) one hyperparameter; ConfigError says what is allowed.

    Integers may be written like floats when they are whole ("1e9").
    """
    spec = FIELDS[name]
    if value is None or (isinstance(value, str) and not value.strip()):
        if spec.optional:
            return None
        raise ConfigError(f"{spec.label} needs a value")
    if isinstance(value, bool):
        raise ConfigError(f"{spec.label} must be a number, got {value!r}")
    if isinstance(value, str):
        text = value.strip()
        try:
            number = float(text)
        except ValueError:
            raise ConfigError(f"{spec.label} must be a number, got {text!r}") from None
    else:
        try:
            number = float(value)
        except (TypeError, ValueError):
            raise ConfigError(f"{spec.label} must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(f"{spec.label} must be a finite number, got {value!r}")
    if spec.kind is int:
        if number != int(number):
            raise ConfigError(f"{spec.label} must be a whole number, got {value!r}")
        result: Any = int(number)
        if isinstance(value, str) and "e" not in value.lower() and "." not in value:
            result = int(value.strip())  # exact for huge integers
    else:
        result = number
    low_ok = result >= spec.minimum if spec.min_inclusive else result > spec.minimum
    high_ok = result <= spec.maximum if spec.max_inclusive else result < spec.maximum
    if not (low_ok and high_ok):
        lo = "[" if spec.min_inclusive else "("
        hi = "]" if spec.max_inclusive else ")"
        raise ConfigError(
            f"{spec.label} must be in {lo}{spec.minimum:g}, {spec.maximum:g}{hi}, got {value!r}"
        )
    return result


@dataclass(frozen=True)
class TrainConfig:
    """Everything that defines a training run of the numpy TwoLayerNet (or LinearClassifier).

    The seed's six: num_train, hidden_dim, batch_size, num_epochs, learning_rate, reg;
    plus momentum, lr_decay, weight_scale and seed. ``internals_every`` K > 0 samples every
    layer every K steps (``nets.internals``; 0: off). ``train_acc_samples`` training images
    (a fixed random subset) give the per-epoch training accuracy. ``crop_pad`` P > 0 shifts
    every training image by a random 0..P pixels each way and ``flip`` mirrors half of them
    (``nets.data.augment``; image data only: ready-made feature rows are used as given).
    """

    num_train: int | None = 20000
    hidden_dim: int = 16
    batch_size: int = 128
    num_epochs: int = 10
    learning_rate: float = 1e-4
    reg: float = 1.0
    momentum: float = 0.0
    lr_decay: float = 1.0
    weight_scale: float = 1e-3
    seed: int = 0
    model: str = "TwoLayerNet"
    dtype: str = "float32"
    train_acc_samples: int = 1000
    internals_every: int = 0
    crop_pad: int = 0
    flip: bool = False

    def validate(self) -> TrainConfig:
        """Return self if every field is allowed, else raise ConfigError naming the field."""
        for name in FIELDS:
            parse_field(name, getattr(self, name))
        if self.model not in ("TwoLayerNet", "LinearClassifier"):
            raise ConfigError(f"model must be TwoLayerNet or LinearClassifier, got {self.model!r}")
        if self.dtype not in ("float32", "float64"):
            raise ConfigError(f"dtype must be float32 or float64, got {self.dtype!r}")
        if not isinstance(self.train_acc_samples, int) or self.train_acc_samples < 1:
            raise ConfigError("train_acc_samples must be a positive integer")
        every = self.internals_every
        if isinstance(every, bool) or not isinstance(every, int) or every < 0:
            raise ConfigError(
                f"internals_every must be 0 (off) or a positive integer, got {every!r}"
            )
        pad = self.crop_pad
        if isinstance(pad, bool) or not isinstance(pad, int) or not 0 <= pad <= 8:
            raise ConfigError(f"crop_pad must be a whole number of pixels in [0, 8], got {pad!r}")
        if not isinstance(self.flip, bool):
            raise ConfigError(f"flip must be true or false, got {self.flip!r}")
        return self

    def replace(self, **changes: Any) -> TrainConfig:
        """A copy with some fields changed (each checked by ``parse_field``)."""
        for name, value in changes.items():
            if name in FIELDS:
                changes[name] = parse_field(name, value)
        return replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


PRESETS: dict[str, TrainConfig] = {
    # The seed's train.py as handed out: learns barely (loss stays near 2.3, ~10-20%).
    "seed-default": TrainConfig(),
    # CIFAR-10 in a minute (bench: >= 56% validation within 60 s of training on 2 cores).
    "tuned": TrainConfig(
        num_train=None,
        hidden_dim=512,
        batch_size=256,
        num_epochs=20,
        learning_rate=2e-2,
        reg=1e-3,
        momentum=0.9,
        lr_decay=0.88,
        weight_scale=2e-2,
        crop_pad=2,
        flip=True,
    ),
    # At least 75% training accuracy on a small subset within 30 s.
    "overfit": TrainConfig(
        num_train=1000,
        hidden_dim=512,
        batch_size=100,
        num_epochs=20,
        learning_rate=2e-2,
        reg=0.0,
        momentum=0.9,
        lr_decay=1.0,
        weight_scale=1e-2,
    ),
}

PRESET_DESCRIPTIONS = {
    "seed-default": "The seed's starting point: a tiny network with a tiny learning rate "
    "that barely learns.",
    "tuned": "Tuned for CIFAR-10: 512 hidden units; SGD with momentum 0.9 and a learning "
    "rate decaying by 0.88 per epoch; every training image shifted by up to 2 pixels and "
    "mirrored at random each epoch; inputs centred on the mean image and scaled by the pixel "
    "standard deviation (about 57% validation accuracy in 20 epochs, under a minute on two "
    "cores).",
    "overfit": "Memorises 1,000 training images (close to 100% training accuracy) while "
    "validation accuracy stays near 35%.",
}


def preset(name: str) -> TrainConfig:
    try:
        return PRESETS[name]
    except KeyError:
        raise ConfigError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}") from None


# ---------------------------------------------------------------------------- memory


EVAL_CHUNK = 1000


def estimate_memory(
    config: TrainConfig,
    n: int,
    d: int,
    num_classes: int = 10,
    n_val: int = 0,
    snapshots: SnapshotPlan | None = None,
) -> MemoryEstimate:
    """Estimate the bytes ``train`` needs for ``n`` training images of ``d`` values each,
    with the snapshots ``snapshots`` keeps in memory (``nets.snapshots``).

    Pure arithmetic on Python ints: safe for absurd sizes (nothing is allocated).
    """
    item = 8 if config.dtype == "float64" else 4
    c = num_classes
    n_used = n if config.num_train is None else min(n, config.num_train)
    # The configured batch size, even beyond the data: a batch of 1e7 is refused as such.
    b = config.batch_size
    if config.model == "LinearClassifier":
        weights, biases, widest = d * c, c, c
        largest = d * c
    else:
        h = config.hidden_dim
        weights, biases, widest = d * h + h * c, h + c, h
        largest = max(d * h, h * c)
    p = weights + biases
    # parameters, gradients, the optimizer's double buffer, momentum, a scratch matrix.
    copies = 3 + (1 if config.momentum else 0)
    parameters = (copies * p + largest) * item
    # batch input, hidden + its gradient, scores + their gradient, the ReLU mask.
    batch = (b * d + 2 * b * widest + 2 * b * c) * item + b * widest
    evaluation = (EVAL_CHUNK * (d + widest + c)) * item
    activations = batch + evaluation + n_used * 8  # + the sampler's index permutation
    data = (n_used + n_val + min(config.train_acc_samples, n_used)) * d * item
    kept = 0
    if snapshots is not None:
        # One snapshot (nets.mlp.fork.take): the weights, the momentum buffers, the
        # preprocessing mean and the history so far (at most the whole run's).
        epochs = config.num_epochs
        steps_per_epoch = -(-n_used // max(b, 1))
        history = (epochs * steps_per_epoch + 4 * epochs) * 8
        one = p * item * (2 if config.momentum else 1) + d * 4 + 8 + history
        kept = snapshots.memory_bytes(one, epochs, steps_per_epoch)
    return MemoryEstimate(parameters, activations, data, kept)


def check_memory(estimate: MemoryEstimate, available: int | None = None) -> None:
    """Raise ResourceError with the numbers if ``estimate`` would not fit."""
    _check_memory(estimate, available, "reduce hidden_dim, batch_size or num_train")


def epoch_flops(config: TrainConfig, n: int, d: int, num_classes: int = 10) -> float:
    """Floating-point operations of one training epoch (forward + backward, GEMMs only)."""
    n_used = n if config.num_train is None else min(n, config.num_train)
    c = num_classes
    if config.model == "LinearClassifier":
        per_example = 2 * d * c * 2
    else:
        h = config.hidden_dim
        # fc1 forward and grad_W1 (no grad_x for the input), fc2 forward/grad_W2/grad_h.
        per_example = 2 * d * h * 2 + 2 * h * c * 3
    return float(n_used) * per_example
