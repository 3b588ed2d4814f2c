"""File > Export runs to TensorBoard…: every checked run of a training tab as a TensorBoard
log (``nets.tensorboard``), one folder per run under the chosen folder.

``RunRecorder`` listens to the tab's training items and keeps, per run, what the plots do
not: the ``Evaluation`` events (their mean training loss) and the ``Internals`` samples
(the histograms). A run loaded from a checkpoint has only its curves, which are written.
The writing itself (torch's ``SummaryWriter``, imported then) runs as a side job.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gui.jobs import Progress
from gui.training.runs import Run
from nets.training import Evaluation, Internals

if TYPE_CHECKING:
    import numpy as np


@dataclass
class _Kept:
    evaluations: list[Evaluation] = field(default_factory=list)
    internals: list[Internals] = field(default_factory=list)


@dataclass(frozen=True)
class RunLog:
    """One run's figures, copied in the GUI thread for the writing job."""

    folder: str
    hparams: dict[str, Any]
    steps: np.ndarray  # (S,) iteration of each step
    losses: np.ndarray  # (S,)
    lrs: np.ndarray  # (S,)
    evaluations: tuple[tuple[int, float, float, float], ...]  # (step, train, val, loss)
    internals: tuple[Internals, ...]


@dataclass(frozen=True)
class Exported:
    folder: Path
    runs: int


class RunRecorder:
    """The Evaluation and Internals items of every run of ``tab`` (see module docstring)."""

    def __init__(self, tab: Any) -> None:
        self._kept: dict[int, _Kept] = {}
        tab.add_listener(self._on_item)
        tab.runs.run_removed.connect(lambda run_id: self._kept.pop(run_id, None))

    def _on_item(self, run: Run, item: Any) -> None:
        if isinstance(item, Evaluation):
            self._kept.setdefault(run.run_id, _Kept()).evaluations.append(item)
        elif isinstance(item, Internals):
            self._kept.setdefault(run.run_id, _Kept()).internals.append(item)

    def log_of(self, run: Run, folder: str) -> RunLog:
        kept = self._kept.get(run.run_id, _Kept())
        m = run.metrics
        if kept.evaluations:
            evals = tuple((e.step, e.train_acc, e.val_acc, e.train_loss) for e in kept.evaluations)
        else:  # a loaded run: its curves only
            evals = tuple(
                (int(it) if math.isfinite(it) else round(float(ep)), float(tr), float(va), math.nan)
                for ep, it, tr, va in zip(
                    m.epoch.view(), m.epoch_iter.view(), m.train_acc.view(), m.val_acc.view(),
                    strict=True,
                )
            )  # fmt: skip
        return RunLog(
            folder=folder,
            hparams={"run": run.name, **run.settings},
            steps=m.step_x.view().copy(),
            losses=m.loss.view().copy(),
            lrs=m.lr.view().copy(),
            evaluations=evals,
            internals=tuple(kept.internals),
        )


def folder_names(runs: list[Run]) -> list[str]:
    """One folder name per run, from its name, unique."""
    from nets.tensorboard import run_folder_name

    names: list[str] = []
    for run in runs:
        base = name = run_folder_name(run.name)
        k = 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def export_job(target: Path, logs: list[RunLog]):
    """A side-job factory writing ``logs`` under ``target``; yields Progress, then Exported."""

    def factory(token):
        from nets.tensorboard import TensorBoardRun

        for i, log in enumerate(logs):
            if token():
                return
            yield Progress("export", i, len(logs), f"writing {log.folder} for TensorBoard")
            board = TensorBoardRun(target / log.folder)
            for step, loss, lr in zip(log.steps, log.losses, log.lrs, strict=True):
                board.step(int(step), float(loss), float(lr))
            for step, train, val, loss in log.evaluations:
                board.evaluation(step, train, val, loss)
            for sample in log.internals:
                board.internals(sample)
            board.close(log.hparams)
        yield Exported(target, len(logs))

    return factory


def export_runs(tab: Any, folder: Path | str | None = None) -> bool:
    """Ask for a folder (unless given) and write every checked run of ``tab`` there as a
    side job; False when there is nothing to write or the job cannot start now."""
    from gui import file_dialogs

    runs = [run for run in tab.runs.runs() if run.visible and run.metrics.num_steps]
    if not runs:
        tab.status_message.emit("No checked run with curves to export.", 5000)
        return False
    if folder is None:
        folder = file_dialogs.open_folder(
            tab, tab.context.settings, "tensorboard", "Export runs to TensorBoard"
        )
        if folder is None:
            return False
    target = Path(folder)
    logs = [
        tab.tb_recorder.log_of(run, name)
        for run, name in zip(runs, folder_names(runs), strict=True)
    ]

    def on_item(item: Any) -> None:
        if isinstance(item, Exported):
            text = (
                f"Exported {item.runs} run{'s' if item.runs != 1 else ''} to {item.folder}: "
                f"tensorboard --logdir {item.folder}"
            )
            tab.say(text)
            tab.status_message.emit(text, 8000)

    return tab.run_side_job("export", 0, export_job(target, logs), on_item)
