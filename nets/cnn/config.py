"""Training settings for the CNN as a frozen dataclass, validated without torch."""

from __future__ import annotations

import dataclasses
import math
import os
import sys
from dataclasses import dataclass
from typing import Any

from nets.errors import ConfigError

OPTIMIZERS = ("sgd", "rmsprop", "adam", "adamw")
SCHEDULES = ("none", "step", "cosine", "one-cycle")
DEVICES = ("auto", "cpu", "cuda", "mps")
#: ``auto``: bfloat16 where the CPU multiplies it natively, else float32 (nets.cnn.precision).
PRECISIONS = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class TrainConfig:
    """Everything that decides a training run besides the architecture and the data.

    - ``optimizer``: ``sgd`` (with ``momentum``, ``nesterov``), ``rmsprop`` (``momentum``),
      ``adam`` or ``adamw``; ``lr`` is the learning rate (the peak rate for one-cycle);
      ``weight_decay`` the L2 strength (decoupled for AdamW).
    - ``schedule``: ``none``; ``step`` (multiply by ``step_gamma`` every ``step_epochs``);
      ``cosine`` (down to 0 over the run); ``one-cycle`` (warm up to ``lr`` over the first
      30 % of steps, then anneal).
    - ``evals_per_epoch``: how often train and validation accuracy are measured; the last
      one of each epoch uses the whole validation set, the others ``eval_subset`` images
      of it so the plot gets points without slowing training.
    - ``internals_every``: K > 0 samples every layer every K steps (``nets.internals``);
      0 turns it off.
    - ``num_threads``: torch CPU threads; None picks :func:`default_num_threads` (all cores).
    - ``shift``: P > 0 shifts every training image by a random 0..P pixels each way (black
      shifted in); ``flip`` mirrors half of them left to right (``nets.cnn.augment``).
    - ``label_smoothing``: e in [0, 1) trains against targets that give the true class
      1 - e and spread e over all classes (the loss's floor is then above 0).
    - ``precision``: the number format of the training forward pass. ``float32``; or
      ``bfloat16`` mixed precision (under ``torch.autocast`` the layers and the activations
      between them compute in bfloat16; the weights, their gradients, the optimizer, the
      loss and every evaluation stay float32); or ``auto``, bfloat16 on a CPU that does it
      natively, float32 elsewhere (``nets.cnn.precision``). A config without it (older
      checkpoints) trained in float32.
    """

    optimizer: str = "adamw"
    lr: float = 3e-3
    weight_decay: float = 5e-4
    momentum: float = 0.9
    nesterov: bool = True
    schedule: str = "one-cycle"
    step_epochs: int = 2
    step_gamma: float = 0.1
    batch_size: int = 256
    epochs: int = 5
    seed: int = 0
    device: str = "auto"
    num_threads: int | None = None
    evals_per_epoch: int = 4
    eval_subset: int = 1000
    internals_every: int = 0
    shift: int = 0
    flip: bool = False
    label_smoothing: float = 0.0
    precision: str = "float32"

    def validated(self) -> TrainConfig:
        """Return self, or raise ConfigError naming the first setting that cannot work."""
        _choice("optimizer", self.optimizer, OPTIMIZERS)
        _choice("schedule", self.schedule, SCHEDULES)
        _choice("device", self.device, DEVICES)
        _choice("precision", self.precision, PRECISIONS)
        for name in ("lr", "weight_decay", "momentum", "step_gamma", "label_smoothing"):
            low, high, open_low = LIMITS[name]
            _number(name, getattr(self, name), low, high, open_low=open_low)
        for name in ("step_epochs", "batch_size", "epochs", "seed", "evals_per_epoch"):
            low, high, _ = LIMITS[name]
            _integer(name, getattr(self, name), int(low), int(high))
        _integer("eval_subset", self.eval_subset, 1, 100_000_000)
        _integer("internals_every", self.internals_every, 0, 1_000_000_000)
        _integer("shift", self.shift, 0, 8)
        if not isinstance(self.flip, bool):
            raise ConfigError(f"flip must be true or false, got {self.flip!r}")
        if not isinstance(self.nesterov, bool):
            raise ConfigError(f"nesterov must be true or false, got {self.nesterov!r}")
        if self.nesterov and self.optimizer == "sgd" and self.momentum == 0:
            raise ConfigError("Nesterov momentum needs momentum > 0")
        if self.num_threads is not None:
            _integer("num_threads", self.num_threads, 1, int(LIMITS["num_threads"][1]))
        return self

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (also stored in checkpoints)."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> TrainConfig:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (older/newer checkpoints)."""
        names = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in names})


#: (lowest, highest, lowest excluded) for each numeric setting: the one table that both
#: :meth:`TrainConfig.validated` and the command line's argument parser check against.
LIMITS: dict[str, tuple[float, float, bool]] = {
    "lr": (0.0, 1e6, True),
    "weight_decay": (0.0, 1e3, False),
    "momentum": (0.0, 0.9999, False),
    "step_gamma": (0.0, 1.0, True),
    "label_smoothing": (0.0, 0.99, False),
    "step_epochs": (1, 1_000_000, False),
    "batch_size": (1, 100_000_000, False),
    "epochs": (1, 100_000, False),
    "seed": (0, 2**63 - 1, False),
    "evals_per_epoch": (1, 1000, False),
    "num_threads": (1, 1024, False),
}


def _choice(name: str, value: Any, options: tuple[str, ...]) -> None:
    if value not in options:
        raise ConfigError(f"{name} must be one of {', '.join(options)}; got {value!r}")


def _number(name: str, value: Any, low: float, high: float, open_low: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise ConfigError(f"{name} must be a number, got {value!r}")
    if value < low or value > high or (open_low and value == low):
        bound = f"more than {low:g}" if open_low else f"at least {low:g}"
        raise ConfigError(f"{name} must be {bound} and at most {high:g}; got {value!r}")


def _integer(name: str, value: Any, low: int, high: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name} must be a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name} must be between {low} and {high}; got {value}")


def usable_cores() -> int:
    """CPU cores this process may run on (respects affinity masks and containers)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


def default_num_threads(leave_room_for_gui: bool = False) -> int:
    """Torch CPU threads to train with.

    The command line uses every usable core. The GUI passes ``leave_room_for_gui=True``:
    with 4 or more cores one core is left for the Qt thread (plots, input); with 2-3 cores
    leaving one out would cost a third to a half of the speed while the GUI thread needs
    only a sliver (plots are throttled), so the cores are shared and the OS scheduler keeps
    the window responsive.
    """
    cores = usable_cores()
    if leave_room_for_gui and cores >= 4:
        return cores - 1
    return cores


#: Busy-wait iterations of an idle GNU OpenMP thread before it sleeps (about 0.2 ms here).
OPENMP_SPIN_COUNT = "10000"


def limit_openmp_spin() -> bool:
    """Let torch's idle OpenMP threads spin only briefly before they sleep; call before
    importing torch.

    GNU OpenMP's default spins about 300,000 times (milliseconds) waiting for the next
    parallel region. On a machine shared with other busy processes (or a GUI thread) a
    spinning thread holds a core the other thread of the same barrier needs: a training
    step was measured 5-10x slower (2 cores, load 10: 1.0-1.3 s per step instead of
    0.11 s). Never spinning (OMP_WAIT_POLICY=PASSIVE) costs a futex wake-up at each of the
    step's many parallel regions instead, which on an idle machine slows the small
    operations of a CPU training step. A short spin (GOMP_SPINCOUNT, about 0.2 ms) covers
    the back-to-back regions of one step and sleeps through longer gaps. Returns False
    (and changes nothing) when torch is already imported, since the runtime reads the
    setting once, or when the user chose a wait policy or spin count.
    """
    if "torch" in sys.modules or {"OMP_WAIT_POLICY", "GOMP_SPINCOUNT"} & set(os.environ):
        return False
    os.environ["GOMP_SPINCOUNT"] = OPENMP_SPIN_COUNT
    return True
