"""One trial of a study: a training run that reports validation accuracy after each epoch.

``Job`` says what a study trains (the trainer, the data, the fixed base settings, the
space); ``run_trial(job, trial, data, stop)`` trains one setting through the trainer's
own generator (``nets.mlp.train.train`` or ``nets.cnn.train.train``), reports the
end-of-epoch validation accuracy to ``trial.report`` so a pruner can stop it, and returns
the last epoch's validation accuracy. The test split never enters: the worker drops
it before the first trial (``without_test``).

What a trial leaves in its user attributes (the GUI draws them): ``epoch_val_acc``,
``epoch_train_acc``, ``epoch_loss`` (lists, one per epoch), ``loss`` (up to
``LOSS_POINTS`` step losses, evenly thinned) with ``loss_x`` (their step numbers),
``worker`` (host:pid of the process that ran it), ``threads`` (its BLAS or torch
threads), ``error`` (why it failed, one line) and ``note`` (diverged, stopped by the
time budget).
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import socket
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nets.errors import ConfigError, NetsError, one_line
from nets.search.defaults import FIELD_RANGES
from nets.search.space import Range, SearchSpace, space_from_json, space_to_json, suggest
from nets.training import Diverged, Evaluation, Started, Step, Stopped

KINDS = ("mlp", "cnn")
LOSS_POINTS = 200

#: The configuration fields a study may vary, per trainer.
SEARCHABLE = {kind: tuple(ranges) for kind, ranges in FIELD_RANGES.items()}


class SearchCancelled(NetsError):
    """The study was cancelled while this trial trained."""


@dataclass(frozen=True)
class Job:
    """Everything a worker process needs to run trials of one study (JSON-able).

    ``base`` is the trainer's configuration as a dict (``TrainConfig.to_dict``);
    ``arch`` the CNN's layers (``arch_to_dict``), None for the numpy net; ``space`` the
    search space as SPACE.json holds it; ``storage`` a database URL or a journal file's
    path; ``deadline`` the wall-clock time (``time.time()``) after which no trial starts
    and a running one stops.
    """

    kind: str
    data: str
    base: dict[str, Any]
    space: dict[str, Any]
    study: str
    storage: str
    sampler: str = "tpe"
    pruner: str = "median"
    deadline: float | None = None
    num_val: int | None = None
    split_seed: int = 0
    arch: dict[str, Any] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def search_space(self) -> SearchSpace:
        return space_from_json(self.space, SEARCHABLE[self.kind])

    def epochs(self) -> int:
        """The most epochs a trial can run (the pruners' resource)."""
        key = "num_epochs" if self.kind == "mlp" else "epochs"
        spec = self.space.get(key)
        if isinstance(spec, Mapping):
            values = spec.get("choices") or [spec.get("high")]
            return max(int(v) for v in values if isinstance(v, (int, float)))
        return int(self.base.get(key, 1))

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self))

    @classmethod
    def from_json(cls, text: str) -> Job:
        return cls(**json.loads(text))


def make_job(
    kind: str,
    data: str,
    base: Any,
    space: SearchSpace,
    study: str,
    storage: str,
    **options: Any,
) -> Job:
    """A checked Job from a trainer configuration object and a space: ConfigError when the
    space names a field the trainer does not have, or the base itself is invalid."""
    if kind not in KINDS:
        raise ConfigError(f"unknown trainer {kind!r}: use mlp or cnn")
    space_json = space_to_json(space)
    job = Job(kind, data, base.to_dict(), space_json, study, storage, **options)
    job.search_space()  # checks the names
    return job


def trial_config(job: Job, params: Mapping[str, Any]) -> Any:
    """The trainer configuration of a trial: the base with the trial's values, validated."""
    if job.kind == "mlp":
        from nets.mlp.config import TrainConfig

        return TrainConfig.from_dict(job.base).replace(**params).validate()
    from nets.cnn.config import TrainConfig as CnnConfig

    # One torch thread per worker process: the workers themselves use the cores.
    changes = {**params, "num_threads": 1}
    return dataclasses.replace(CnnConfig.from_dict(job.base), **changes).validated()


def without_test(data: Any) -> Any:
    """The dataset without its test split (a trial must never see it)."""
    if getattr(data, "X_test", None) is None:
        return data
    return dataclasses.replace(data, X_test=None, y_test=None)


def _events(job: Job, trial: Any, config: Any, data: Any, stop: Callable[[], bool]) -> Any:
    """The trainer's events for this trial (written as a TensorBoard run when the job
    asks: ``extra["tensorboard"]``/STUDY-trial-N)."""
    events = _trainer_events(job, config, data, stop)
    board = job.extra.get("tensorboard")
    if board:
        from nets.tensorboard import recorded, run_folder_name

        folder = Path(board) / run_folder_name(f"{job.study}-trial-{trial.number}")
        events = recorded(events, folder)
    return events


def _trainer_events(job: Job, config: Any, data: Any, stop: Callable[[], bool]) -> Any:
    if job.kind == "mlp":
        from nets.mlp.train import train

        return train(config, data, cancel=stop)
    import torch

    from nets.cnn.arch import arch_from_dict
    from nets.cnn.presets import with_num_classes
    from nets.cnn.train import train as cnn_train
    from nets.data.dataset import training_subset

    torch.set_num_threads(1)
    assert job.arch is not None
    keep = training_subset(data.y_train, job.extra.get("num_train"), job.split_seed)
    if keep is not None:  # the CNN tab's "training images" (the same pick as a normal run)
        data = dataclasses.replace(data, X_train=data.X_train[keep], y_train=data.y_train[keep])
    layers = tuple(arch_from_dict(job.arch))
    if job.extra.get("fit_classes"):  # a preset's layers, sized for the data's classes
        layers = with_num_classes(layers, data.num_classes)
    return cnn_train(layers, data, config, cancel=stop, data_source=job.data)


def _thin(values: list[float], points: int = LOSS_POINTS) -> tuple[list[int], list[float]]:
    """(steps, losses): at most ``points`` evenly spaced samples; a NaN or inf loss stays
    as it is (stored as None, a gap in the curve, never as a loss of 0)."""
    n = len(values)
    if n == 0:
        return [], []
    idx = sorted({round(i * (n - 1) / max(points - 1, 1)) for i in range(min(points, n))})
    return [i + 1 for i in idx], [values[i] for i in idx]


def run_trial(
    job: Job,
    trial: Any,
    data: Any,
    stop: Callable[[], bool] = lambda: False,
    space: tuple[Range, ...] | None = None,
) -> float:
    """Train the trial's setting; its last end-of-epoch validation accuracy (0..1): what
    the model a user trains with these settings ends with.

    Raises ``optuna.TrialPruned`` when the pruner stops it (or the time budget ran out),
    ``SearchCancelled`` when ``stop()`` became true, and whatever the trainer raises
    (ConfigError, ResourceError...) for a setting that cannot run: the worker records
    that as a failed trial with its message in ``error``.
    """
    import optuna

    params = suggest(trial, space if space is not None else job.search_space())
    val: list[float] = []
    train_acc: list[float] = []
    epoch_loss: list[float] = []
    losses: list[float] = []
    note = ""

    def out_of_time() -> bool:
        return job.deadline is not None and time.time() > job.deadline

    def keep() -> None:
        xs, ys = _thin(losses)
        for key, value in (
            ("epoch_val_acc", val),
            ("epoch_train_acc", train_acc),
            ("epoch_loss", epoch_loss),
            ("loss_x", xs),
            ("loss", ys),
        ):
            trial.set_user_attr(key, [v if math.isfinite(v) else None for v in value])
        if note:
            trial.set_user_attr("note", note)

    trial.set_user_attr("worker", f"{socket.gethostname()}:{os.getpid()}")
    try:
        config = trial_config(job, params)
        events = _events(job, trial, config, data, lambda: stop() or out_of_time())
        try:
            for event in events:
                if isinstance(event, Step):
                    losses.append(event.loss)
                elif isinstance(event, Started):
                    trial.set_user_attr("steps_per_epoch", event.steps_per_epoch)
                    trial.set_user_attr("threads", event.num_threads)  # BLAS or torch threads
                elif isinstance(event, Evaluation) and event.end_of_epoch:
                    val.append(event.val_acc)
                    train_acc.append(event.train_acc)
                    epoch_loss.append(event.train_loss)
                    trial.report(event.val_acc, event.epoch)
                    if trial.should_prune():
                        note = f"pruned after epoch {event.epoch}"
                        raise optuna.TrialPruned(note)
                elif isinstance(event, Stopped):
                    if stop():
                        trial.set_user_attr("error", "cancelled while training")
                        raise SearchCancelled("cancelled while training")
                    note = f"stopped in epoch {event.epoch}: the time budget ran out"
                    raise optuna.TrialPruned(note)
                elif isinstance(event, Diverged):
                    note = event.reason
        finally:
            events.close()  # a pruned trial ends its run (and its TensorBoard log)
    except (optuna.TrialPruned, SearchCancelled):
        raise
    except Exception as exc:
        trial.set_user_attr("error", one_line(exc))
        raise
    finally:
        keep()  # the curves so far, however the trial ended
    finite = [v for v in val if math.isfinite(v)]
    return finite[-1] if finite else 0.0  # diverged before any epoch ended: as bad as it gets
