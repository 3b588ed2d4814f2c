"""Snapshots of a run (``nets.training.Snapshot``), for both trainers: when to take them,
where to keep them, and their file.

A trainer yields a ``Snapshot`` at every epoch's end (and every ``every_steps`` steps)
when given a ``SnapshotPlan``; ``kept(events, store)`` puts each one in a
``SnapshotStore`` as it passes (in the training thread, so writing to disk never stalls a
GUI). The store holds the newest snapshots in memory up to ``budget_bytes`` and moves
older ones to ``folder/epoch-K`` (``folder/step-S`` between epochs); a budget of 0 writes
every snapshot at once (the command line's ``--snapshot-dir``).

The file is an ``.npz`` archive without pickles: ``meta`` (JSON: format, version,
trainer, step, epoch, config, state) and one member per array. ``load_snapshot`` reads it
through ``nets.fileio`` (regular files only, declared sizes checked before reading) and
refuses anything else with a one-line ``CheckpointError`` naming the file.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import shutil
import tempfile
import threading
import zipfile
from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from nets.errors import CheckpointError
from nets.fileio import atomic_write, check_zip_contents, open_regular, shown
from nets.training import Snapshot

FORMAT = "backprop-explorer/snapshot"
VERSION = 1
#: The largest snapshot file read at all (weights, optimizer buffers and history of the
#: largest numpy net the memory guard lets train fit well below it).
MAX_SNAPSHOT_BYTES = 2 << 30
#: What a GUI run keeps in memory before older snapshots go to disk.
DEFAULT_BUDGET = 256 << 20


@dataclass(frozen=True)
class SnapshotPlan:
    """When a trainer takes snapshots: after every epoch's Evaluation, and also after
    every ``every_steps`` optimizer steps when it is above 0; ``memory_budget`` is what
    the run's ``SnapshotStore`` keeps in memory (0: each goes to disk as it comes, the
    command line's ``--snapshot-dir``)."""

    every_steps: int = 0
    memory_budget: int = 0

    def count(self, epochs: int, steps_per_epoch: int) -> int:
        """How many snapshots a run of ``epochs`` epochs takes."""
        extra = 0
        if self.every_steps > 0 and steps_per_epoch > 1:
            # Mid-epoch ones: every_steps apart, not on an epoch's last step.
            total = epochs * steps_per_epoch
            extra = total // self.every_steps - total // math.lcm(self.every_steps,
                                                                  steps_per_epoch)  # fmt: skip
        return max(epochs, 0) + max(extra, 0)

    def memory_bytes(self, snapshot_bytes: int, epochs: int, steps_per_epoch: int) -> int:
        """The most bytes of snapshots in memory at once (for the memory estimate): the
        store keeps the newest within the budget, and a new one is in memory before the
        oldest goes to disk, so one snapshot more than the budget holds."""
        count = self.count(epochs, steps_per_epoch)
        if count <= 0 or snapshot_bytes <= 0:
            return 0
        held = min(count, self.memory_budget // snapshot_bytes + 1)
        return held * snapshot_bytes

    def due(self, step: int, position: int, steps_per_epoch: int) -> bool:
        """A mid-epoch snapshot after global ``step``, ``position`` steps into the epoch
        (the epoch's last step gets the end-of-epoch snapshot instead)."""
        return self.every_steps > 0 and step % self.every_steps == 0 and position < steps_per_epoch


_R = TypeVar("_R", bound="Resume")


@dataclass
class Resume:
    """Where a trainer's loop picks up after a fork: ``epoch`` (1-based) with ``done`` of
    its steps already trained (0 at an epoch's start), ``iteration`` steps in all, the loss
    sum over those ``done`` steps and the last finite loss. Each trainer's ``fork`` module
    extends it with what else its loop carries on with."""

    epoch: int = 1
    done: int = 0
    iteration: int = 0
    loss_sum: float = 0.0
    last_loss: float = float("nan")

    @classmethod
    def after(cls: type[_R], snapshot: Snapshot, last_loss: float, **fields: Any) -> _R:
        """Where the loop goes on from ``snapshot``: the next epoch after an epoch's end,
        else ``state["position"]`` steps into the snapshot's epoch with its loss sum;
        ``fields`` are the subclass's own."""
        if snapshot.end_of_epoch:
            return cls(
                epoch=snapshot.epochs_done + 1,
                iteration=snapshot.step,
                last_loss=last_loss,
                **fields,
            )
        return cls(
            epoch=snapshot.epoch,
            done=int(snapshot.state["position"]),
            iteration=snapshot.step,
            loss_sum=float(snapshot.state["loss_sum"]),
            last_loss=last_loss,
            **fields,
        )


def check_fork(snapshot: Snapshot, trainer: str, old: dict[str, Any], new: dict[str, Any],
               fixed: tuple[str, ...], epochs_field: str) -> None:  # fmt: skip
    """ConfigError unless ``snapshot`` was written by ``trainer`` and ``new`` (the fork's
    configuration as a dict) keeps the ``fixed`` fields of ``old`` (the snapshot's),
    leaves epochs to run and, from the middle of an epoch, keeps the batch size."""
    from nets.errors import ConfigError

    if snapshot.trainer != trainer:
        raise ConfigError(
            f"the snapshot is of a {snapshot.trainer} run: fork it where that network trains"
        )
    changed = [f for f in fixed if old.get(f) != new.get(f)]
    if changed:
        raise ConfigError(
            f"a fork keeps its snapshot's {', '.join(changed)} (the network and its data): "
            f"the snapshot has {', '.join(f'{f}={old.get(f)!r}' for f in changed)}"
        )
    done = snapshot.epochs_done
    if int(new[epochs_field]) <= done:
        raise ConfigError(
            f"the snapshot is after epoch {done}: give the fork more epochs than that "
            f"(epochs counts the whole run, got {new[epochs_field]})"
        )
    if not snapshot.end_of_epoch and old.get("batch_size") != new.get("batch_size"):
        raise ConfigError(
            "the snapshot is in the middle of an epoch: a fork from it keeps its batch "
            f"size ({old.get('batch_size')}); fork from an epoch's end to change it"
        )


# ---------------------------------------------------------------------------- files


def save_snapshot(path: str | os.PathLike[str], snapshot: Snapshot) -> Path:
    """Write ``snapshot`` to ``path`` (an .npz archive whatever the name), atomically."""
    import numpy as np

    keys = sorted(snapshot.arrays)
    meta: dict[str, Any] = {
        "format": FORMAT,
        "version": VERSION,
        "trainer": snapshot.trainer,
        "step": snapshot.step,
        "epoch": snapshot.epoch,
        "end_of_epoch": snapshot.end_of_epoch,
        "config": snapshot.config,
        "state": snapshot.state,
        "arrays": keys,
    }
    members: dict[str, Any] = {f"a{i}": np.asarray(snapshot.arrays[k]) for i, k in enumerate(keys)}
    members["meta"] = np.array(json.dumps(meta, allow_nan=True))
    return atomic_write(path, lambda f: np.savez(f, **members), CheckpointError, "save")


def load_snapshot(path: str | os.PathLike[str]) -> Snapshot:
    """The snapshot in ``path``; CheckpointError (one line, naming the file) otherwise."""
    return _read(path, arrays=True)


@dataclass(frozen=True)
class SnapshotInfo:
    """A snapshot file's header (``snapshot_info``): no arrays read."""

    path: Path
    trainer: str
    step: int
    epoch: int
    end_of_epoch: bool
    config: dict[str, Any]


def snapshot_info(path: str | os.PathLike[str]) -> SnapshotInfo:
    """The header of the snapshot in ``path``, checked as ``load_snapshot`` checks it but
    reading only its ``meta`` member."""
    snap = _read(path, arrays=False)
    return SnapshotInfo(
        Path(path), snap.trainer, snap.step, snap.epoch, snap.end_of_epoch, snap.config
    )


_SNAPSHOT_NAME = re.compile(r"^(epoch|step)-[0-9]+$")


def run_snapshots(path: str | os.PathLike[str]) -> tuple[SnapshotInfo, list[SnapshotInfo]]:
    """The snapshots of one run: ``path`` is a snapshot file (``DIR/epoch-K``) or the
    folder ``--snapshot-dir`` wrote. Returns the chosen one (the file, or a folder's
    latest) and every snapshot beside it of the same run (same trainer and settings),
    by step. A file beside it that is not readable is left out; the chosen file itself
    or a folder without a snapshot raises a one-line CheckpointError naming it."""
    where = Path(path)
    if where.is_dir():
        infos = _siblings(where, None)
        if not infos:
            raise CheckpointError(
                f"{shown(where)} holds no snapshots (the epoch-K files of --snapshot-dir)"
            )
        chosen = infos[-1]
        infos = [i for i in infos if i.trainer == chosen.trainer and i.config == chosen.config]
        return chosen, infos
    chosen = snapshot_info(where)
    return chosen, _siblings(where.parent, chosen)


def snapshot_trainer(path: str | os.PathLike[str]) -> str | None:
    """The trainer of the snapshot file ``path`` (``epoch-K``/``step-S``) or of the first
    one in the folder ``path``; None when it is neither or cannot be read (one header
    read: for choosing where a dropped path opens)."""
    where = Path(path)
    try:
        if where.is_dir():
            where = next(p for p in sorted(where.iterdir()) if _SNAPSHOT_NAME.match(p.name))
        elif not _SNAPSHOT_NAME.match(where.name):
            return None
        return snapshot_info(where).trainer
    except (CheckpointError, OSError, StopIteration):
        return None


def _siblings(folder: Path, like: SnapshotInfo | None) -> list[SnapshotInfo]:
    try:
        names = sorted(p for p in folder.iterdir() if _SNAPSHOT_NAME.match(p.name))
    except OSError as exc:
        raise CheckpointError(f"cannot list {shown(folder)}: {exc.strerror}") from None
    infos: dict[int, SnapshotInfo] = {}
    if like is not None:
        infos[like.step] = like
    for p in names:
        if like is not None and p.resolve() == like.path.resolve():
            continue
        try:
            info = snapshot_info(p)
        except CheckpointError:
            continue  # a damaged neighbour: the chosen file still opens
        if like is None or (info.trainer == like.trainer and info.config == like.config):
            infos.setdefault(info.step, info)
    return [infos[k] for k in sorted(infos)]


def _read(path: str | os.PathLike[str], arrays: bool) -> Snapshot:
    import numpy as np

    name = shown(path)
    with open_regular(path, CheckpointError, "snapshot", MAX_SNAPSHOT_BYTES) as f:
        head = f.read(4)
    if head != b"PK\x03\x04":
        what = "empty" if not head else "not a snapshot file (not an .npz archive)"
        raise CheckpointError(f"snapshot corrupted: {name} is {what}")
    check_zip_contents(path, CheckpointError, "snapshot", MAX_SNAPSHOT_BYTES)
    try:
        with np.load(path, allow_pickle=False) as npz:
            if "meta" not in npz.files:
                raise CheckpointError(f"{name} is not a snapshot written by this app")
            meta = json.loads(str(npz["meta"]))
            if not isinstance(meta, dict) or meta.get("format") != FORMAT:
                raise CheckpointError(f"{name} is not a snapshot written by this app")
            version = meta.get("version")
            if not isinstance(version, int) or isinstance(version, bool) or version > VERSION:
                raise CheckpointError(f"{name} has an unknown snapshot version {version!r:.20}")
            keys = meta["arrays"]
            members = {}
            if arrays:
                members = {str(k): npz[f"a{i}"] for i, k in enumerate(keys)}
        return Snapshot(
            trainer=str(meta["trainer"]),
            step=_count(meta["step"]),
            epoch=_count(meta["epoch"]),
            end_of_epoch=bool(meta["end_of_epoch"]),
            config=dict(meta["config"]),
            arrays=members,
            state=dict(meta["state"]),
        )
    except CheckpointError:
        raise
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CheckpointError(f"{name} holds pickled objects: refused") from None
        raise CheckpointError(f"snapshot corrupted: {name}: {exc}") from None
    except (KeyError, TypeError, zipfile.BadZipFile, OSError, EOFError) as exc:
        raise CheckpointError(f"snapshot corrupted: {name} is damaged ({exc!r:.80})") from None


def _count(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise TypeError(f"{value!r:.20} is not a count")
    return value


# ---------------------------------------------------------------------------- store


class SnapshotStore:
    """A run's snapshots by step: the newest in memory up to ``budget_bytes``, older
    ones in ``folder`` (made on first use, a temporary folder when None and removed by
    ``close``); ``extra_state`` is added to every snapshot's state (the command line's
    data options). Thread-safe: the training thread adds, the GUI thread reads."""

    def __init__(
        self,
        budget_bytes: int = DEFAULT_BUDGET,
        folder: str | Path | None = None,
        extra_state: dict[str, Any] | None = None,
    ) -> None:
        self.budget_bytes = int(budget_bytes)
        self._extra = dict(extra_state or {})
        self._folder = Path(folder) if folder is not None else None
        self._own_folder = folder is None
        self._memory: OrderedDict[int, Snapshot] = OrderedDict()
        self._on_disk: dict[int, Path] = {}
        self._info: dict[int, tuple[int, bool]] = {}  # step -> (epoch, end_of_epoch)
        self._lock = threading.Lock()

    @property
    def folder(self) -> Path:
        if self._folder is None:
            self._folder = Path(tempfile.mkdtemp(prefix="backprop-explorer-run-"))
        self._folder.mkdir(parents=True, exist_ok=True)
        return self._folder

    def add(self, snapshot: Snapshot) -> None:
        """Keep ``snapshot`` (with the store's ``extra_state`` in its state)."""
        if self._extra:
            snapshot = dataclasses.replace(snapshot, state={**snapshot.state, **self._extra})
        with self._lock:
            self._memory[snapshot.step] = snapshot
            self._info[snapshot.step] = (snapshot.epoch, snapshot.end_of_epoch)
            spill = []
            used = sum(s.nbytes for s in self._memory.values())
            while self._memory and used > self.budget_bytes:
                step, old = self._memory.popitem(last=False)
                used -= old.nbytes
                spill.append(old)
        for old in spill:  # outside the lock: readers of memory snapshots do not wait
            path = save_snapshot(self.folder / old.name, old)
            with self._lock:
                self._on_disk[old.step] = path

    def adopt(self, info: SnapshotInfo) -> None:
        """Keep the snapshot file ``info`` describes where it is (a run opened from a
        snapshot folder): read when asked for, never moved or removed."""
        with self._lock:
            self._on_disk[info.step] = info.path
            self._info[info.step] = (info.epoch, info.end_of_epoch)

    def steps(self) -> list[tuple[int, int, bool]]:
        """``(step, epoch, end_of_epoch)`` of every snapshot kept, by step."""
        with self._lock:
            return [(s, *self._info[s]) for s in sorted(self._info)]

    def epoch_step(self, epoch: int) -> int | None:
        """The step of the snapshot at the end of ``epoch`` (None if there is none)."""
        for step, e, end in self.steps():
            if end and e == epoch:
                return step
        return None

    def get(self, step: int) -> Snapshot | None:
        with self._lock:
            snap = self._memory.get(step)
            path = self._on_disk.get(step)
        if snap is not None:
            return snap
        return load_snapshot(path) if path is not None else None

    def path_of(self, step: int) -> Path | None:
        with self._lock:
            return self._on_disk.get(step)

    def close(self) -> None:
        """Forget everything; remove the folder if the store made it."""
        with self._lock:
            self._memory.clear()
            self._on_disk.clear()
            self._info.clear()
        if self._own_folder and self._folder is not None:
            shutil.rmtree(self._folder, ignore_errors=True)
            self._folder = None


def kept(events: Iterator[Any], store: SnapshotStore) -> Iterator[Any]:
    """``events`` unchanged, each ``Snapshot`` added to ``store`` as it passes."""
    try:
        for event in events:
            if isinstance(event, Snapshot):
                store.add(event)
            yield event
    finally:
        close = getattr(events, "close", None)
        if close is not None:
            close()
