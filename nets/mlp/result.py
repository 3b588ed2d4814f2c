"""What a run of the numpy trainer produced: ``TrainingResult`` (the last event's
``result``) with its ``TrainingHistory`` (the curves a plot needs)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from nets.data.preprocess import Preprocessor
from nets.mlp.classifiers import Classifier
from nets.mlp.config import TrainConfig


@dataclass(frozen=True)
class TrainingHistory:
    """Everything a plot needs: per-step losses and per-epoch figures."""

    step_loss: tuple[float, ...] = ()
    epoch_train_acc: tuple[float, ...] = ()
    epoch_val_acc: tuple[float, ...] = ()
    epoch_loss: tuple[float, ...] = ()
    epoch_lr: tuple[float, ...] = ()

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {k: np.asarray(v, dtype=np.float64) for k, v in self.__dict__.items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> TrainingHistory:
        names = cls.__dataclass_fields__
        return cls(
            **{
                k: tuple(float(x) for x in np.asarray(v).ravel())
                for k, v in arrays.items()
                if k in names
            }
        )


@dataclass(frozen=True, eq=False)
class TrainingResult:
    """What a run produced: the model (its weights as the run left them), the
    preprocessing it was trained with (None if it was given preprocessed arrays), the
    configuration and the history."""

    model: Classifier
    preprocessor: Preprocessor | None
    config: TrainConfig
    history: TrainingHistory
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    dataset: str = ""
