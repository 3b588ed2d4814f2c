"""What the "Two-layer net" tab keeps per run (``RunRecord``, a run's ``payload``) and
how a run's settings and training history are written down: the runs list's settings
from a configuration, a checkpoint's history from the plotted curves and back.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from gui.mlp_tab.analysis import ValidationAnalysis, WeightsSnapshot
from gui.mlp_tab.form import FIELD_ORDER
from gui.training.run_events import RunState

if TYPE_CHECKING:
    import numpy as np


@dataclass(eq=False)
class RunRecord(RunState):
    """What the tab keeps per run (the ``Run.payload``)."""

    config: Any = None  # TrainConfig, or the dict a checkpoint stored
    dataset: str = ""  # the spec it was trained on
    model: Any = None  # nets.mlp.classifiers.Classifier (None until the run starts)
    preprocessor: Any = None
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    history: Any = None
    weights: WeightsSnapshot | None = None
    analysis: ValidationAnalysis | None = None
    test: Any = None  # nets.testrecord.TestRecord
    extra: dict = field(default_factory=dict)

    @property
    def test_used(self) -> bool:
        return self.test is not None and bool(self.test.used)


def settings_of(config, dataset: str) -> dict[str, Any]:
    """The runs list's settings of a run: its dataset spec and the form's fields."""
    values = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    settings: dict[str, Any] = {"dataset": dataset}
    for name in FIELD_ORDER:
        if name in values:
            settings[name] = "all" if values[name] is None else values[name]
    return settings


def history_from_metrics(metrics) -> dict[str, np.ndarray]:
    """A checkpoint's history from a run's curves: per-step losses (S,) and per-epoch
    accuracies (E,)."""
    return {
        "step_loss": metrics.loss.view().copy(),
        "epoch_train_acc": metrics.train_acc.view().copy(),
        "epoch_val_acc": metrics.val_acc.view().copy(),
    }


def fill_metrics(metrics, history) -> None:
    """Plot a checkpoint's history: per-step losses and per-epoch accuracies."""
    import numpy as np

    history = dict(history or {})
    losses = np.asarray(history.get("step_loss", ()), dtype=np.float64).ravel()
    for i, loss in enumerate(losses.tolist(), start=1):
        metrics.add_step(i, loss)
    train = np.asarray(history.get("epoch_train_acc", ()), dtype=np.float64).ravel()
    val = np.asarray(history.get("epoch_val_acc", ()), dtype=np.float64).ravel()
    epochs = max(len(train), len(val))
    steps_per_epoch = len(losses) / epochs if epochs else 0
    for e in range(epochs):
        tr = float(train[e]) if e < len(train) else math.nan
        va = float(val[e]) if e < len(val) else math.nan
        metrics.add_epoch(e + 1, tr, va, iteration=round((e + 1) * steps_per_epoch))
