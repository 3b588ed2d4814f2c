"""Training runs as TensorBoard logs, written with ``torch.utils.tensorboard``.

What a run's folder gets (one event file, plus the hparams plugin's own):

- scalars ``loss/step`` (every step's minibatch loss), ``lr`` (every step), and per
  evaluation ``accuracy/train``, ``accuracy/val`` and ``loss/train`` (the mean minibatch
  loss since the previous one), all at the optimizer step they belong to;
- histograms ``<layer>/activations``, ``<layer>/gradients``, ``<layer>/weights`` from the
  run's ``Internals`` events (the sampled histograms as they are, bin for bin);
- the hparams plugin: the run's configuration with ``hparam/val_acc``,
  ``hparam/train_acc`` and ``hparam/loss`` (the last evaluation's), so runs compare in
  its table.

``recorded(events, log_dir)`` writes while a run trains (the command lines' and
searches' ``--tensorboard DIR``); ``TensorBoardRun`` is the writer itself, for runs that
already happened (the GUI's File > Export runs to TensorBoard). torch is imported when
the first writer opens, with its thread count set explicitly.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from nets.errors import NetsError
from nets.training import Evaluation, Internals, Started, Step

_QUANTITIES = {"act": "activations", "grad": "gradients", "weight": "weights"}


class TensorBoardRun:
    """One run's TensorBoard log in ``log_dir`` (made if missing).

    ``threads`` is given to ``torch.set_num_threads`` (writing needs no more than one; a
    CNN run passes its own count so the training keeps it).
    """

    def __init__(self, log_dir: str | Path, threads: int = 1) -> None:
        import torch

        torch.set_num_threads(max(1, int(threads)))
        from torch.utils.tensorboard import SummaryWriter

        self.log_dir = Path(log_dir)
        try:
            self.log_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            from nets.fileio import describe_os_error, shown

            raise NetsError(
                f"cannot write the TensorBoard log {shown(log_dir)}: {describe_os_error(exc)}"
            ) from None
        self._writer = SummaryWriter(log_dir=str(self.log_dir))
        self.last: dict[str, float] = {}

    def step(self, step: int, loss: float, lr: float) -> None:
        if math.isfinite(loss):
            self._writer.add_scalar("loss/step", loss, step)
        if math.isfinite(lr):
            self._writer.add_scalar("lr", lr, step)

    def evaluation(
        self, step: int, train_acc: float, val_acc: float, train_loss: float = math.nan
    ) -> None:
        for tag, key, value in (
            ("accuracy/train", "train_acc", train_acc),
            ("accuracy/val", "val_acc", val_acc),
            ("loss/train", "loss", train_loss),
        ):
            if math.isfinite(value):
                self._writer.add_scalar(tag, value, step)
                self.last[key] = value

    def internals(self, event: Internals) -> None:
        for layer, values in event.layers.items():
            for key, name in _QUANTITIES.items():
                counts, edges = values.get(f"{key}_hist"), values.get(f"{key}_edges")
                if counts is None or edges is None:
                    continue
                counts = np.asarray(counts, dtype=np.float64)
                edges = np.asarray(edges, dtype=np.float64)
                total = float(counts.sum())
                if total <= 0 or not np.all(np.isfinite(edges)):
                    continue
                centers = (edges[:-1] + edges[1:]) / 2
                self._writer.add_histogram_raw(
                    f"{layer}/{name}",
                    min=float(edges[0]),
                    max=float(edges[-1]),
                    num=int(total),
                    sum=float(np.dot(counts, centers)),
                    sum_squares=float(np.dot(counts, centers**2)),
                    bucket_limits=edges[1:].tolist(),
                    bucket_counts=counts.tolist(),
                    global_step=event.step,
                )

    def close(self, hparams: Mapping[str, Any] | None = None) -> Path:
        """Write the hparams summary (when given) and close; returns the log folder."""
        if hparams is not None:
            metrics = {
                f"hparam/{key}": self.last.get(key, math.nan)
                for key in ("val_acc", "train_acc", "loss")
            }
            self._writer.add_hparams(hparam_values(hparams), metrics, run_name=".")
        self._writer.close()
        return self.log_dir


def hparam_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """A configuration as the hparams plugin takes it: numbers, strings and booleans
    (None becomes ``"none"``, anything else its text)."""
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, (bool, int, float, str)):
            out[key] = value
        elif value is None:
            out[key] = "none"
        else:
            out[key] = str(value)
    return out


def run_folder_name(name: str) -> str:
    """A run's name as a folder name (TensorBoard shows it as the run)."""
    text = re.sub(r"[^\w.+-]+", "_", name).strip("._") or "run"
    return text[:80]


def recorded(
    events: Iterator[Any],
    log_dir: str | Path,
    *,
    hparams: Mapping[str, Any] | None = None,
) -> Iterator[Any]:
    """``events`` (any trainer's) unchanged, written to a TensorBoard log in ``log_dir``
    as they pass; the hparams summary (``hparams``, default the run's configuration)
    when the run ends or the generator is closed."""
    board: TensorBoardRun | None = None
    config: Mapping[str, Any] | None = hparams
    try:
        for event in events:
            if isinstance(event, Started):
                board = TensorBoardRun(log_dir, event.num_threads)
                if config is None and hasattr(event.config, "to_dict"):
                    config = event.config.to_dict()
            elif board is not None:
                if isinstance(event, Step):
                    board.step(event.step, event.loss, event.lr)
                elif isinstance(event, Evaluation):
                    board.evaluation(event.step, event.train_acc, event.val_acc, event.train_loss)
                elif isinstance(event, Internals):
                    board.internals(event)
            yield event
    finally:
        if board is not None:
            board.close(config or {})
        close = getattr(events, "close", None)
        if close is not None:
            close()
