"""Checkpoints of the numpy networks: one .npz file, no pickle anywhere.

Layout (every member a plain numeric or unicode array)::

    meta              JSON text: format, version, model type and hyperparameters, training
                      configuration, class names, image shape, dataset, test-set record
    param/<name>      the model's parameters
    pre/mean, pre/scale   the preprocessing fitted on the training split (optional)
    history/<name>    per-step losses and per-epoch accuracies

Saving is atomic (temporary file, fsync, rename). Loading refuses anything that is not
such a file with a CheckpointError: "checkpoint corrupted: ..." for damaged files, a
mismatch message for a PyTorch checkpoint or another architecture.
"""

from __future__ import annotations

import json
import os
import time
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from nets.data.preprocess import Preprocessor
from nets.errors import CheckpointError
from nets.fileio import (
    atomic_write,
    check_zip_contents,
    describe_os_error,
    open_regular,
    shown,
)
from nets.mlp.classifiers import Classifier, build_classifier
from nets.testrecord import TestRecord

FORMAT = "backprop-explorer/numpy-classifier"
VERSION = 1


@dataclass(frozen=True, eq=False)
class Checkpoint:
    """A loaded checkpoint. ``config`` is the training configuration as a dict and
    ``history`` maps names (step_loss, epoch_train_acc, epoch_val_acc, epoch_loss,
    epoch_lr) to float64 arrays."""

    model: Classifier
    preprocessor: Preprocessor | None = None
    config: Mapping[str, Any] = field(default_factory=dict)
    history: Mapping[str, np.ndarray] = field(default_factory=dict)
    class_names: tuple[str, ...] = ()
    image_shape: tuple[int, ...] | None = None
    dataset: str = ""
    test: TestRecord = TestRecord()
    path: Path | None = None

    def check_data(self, image_shape: tuple[int, ...], num_classes: int, source: str = "") -> None:
        """Raise CheckpointError if images of ``image_shape`` and ``num_classes`` classes do
        not fit this model (say, a CIFAR-10 model given Fashion-MNIST)."""
        d = int(np.prod(image_shape))
        what = f" ({source})" if source else ""
        if d != self.model.input_dim:
            have = "x".join(map(str, self.image_shape)) if self.image_shape else "?"
            got = "x".join(map(str, image_shape))
            raise CheckpointError(
                f"architecture mismatch: the checkpoint's model takes {have} images "
                f"({self.model.input_dim} values) but the data{what} has {got} images ({d} values)"
            )
        if num_classes != self.model.num_classes:
            raise CheckpointError(
                f"architecture mismatch: the checkpoint's model has {self.model.num_classes} "
                f"classes but the data{what} has {num_classes}"
            )


def _atomic_write(
    path: Path, arrays: Mapping[str, np.ndarray], keep_read_only: bool = False
) -> None:
    atomic_write(
        path,
        lambda f: np.savez(f, allow_pickle=False, **arrays),
        CheckpointError,
        action="save",
        allow_read_only=keep_read_only,
    )


def _history_arrays(history: Any) -> dict[str, np.ndarray]:
    if history is None:
        return {}
    if hasattr(history, "to_arrays"):
        return history.to_arrays()
    return {k: np.asarray(v, dtype=np.float64) for k, v in dict(history).items()}


def save_checkpoint(
    path: str | os.PathLike[str],
    model: Classifier,
    *,
    preprocessor: Preprocessor | None = None,
    config: Any = None,
    history: Any = None,
    class_names: tuple[str, ...] | list[str] = (),
    image_shape: tuple[int, ...] | None = None,
    dataset: str = "",
    test: TestRecord | None = None,
    keep_read_only: bool = False,
) -> Path:
    """Save ``model`` and what reproduces its use to ``path`` (.npz), atomically.

    ``config`` may be a TrainConfig or a dict; ``history`` a TrainingHistory or a dict of
    sequences. Returns the path written.
    """
    path = Path(path)
    cfg = config.to_dict() if hasattr(config, "to_dict") else dict(config or {})
    meta = {
        "format": FORMAT,
        "version": VERSION,
        "model_type": type(model).__name__,
        "model_hyperparameters": model.hyperparameters(),
        "dtype": model.dtype_name,
        "config": cfg,
        "class_names": list(class_names),
        "image_shape": list(image_shape) if image_shape is not None else None,
        "dataset": dataset,
        "test": (test or TestRecord()).to_dict(),
        "saved": time.strftime("%Y-%m-%dT%H:%M:%S"),
    }
    arrays: dict[str, np.ndarray] = {"meta": np.array(json.dumps(meta, allow_nan=True))}
    for name, value in model.parameters().items():
        arrays[f"param/{name}"] = value
    if preprocessor is not None:
        for name, value in preprocessor.to_arrays().items():
            arrays[f"pre/{name}"] = value
    for name, value in _history_arrays(history).items():
        arrays[f"history/{name}"] = value
    _atomic_write(path, arrays, keep_read_only)
    return path


def _sniff(path: Path, head: bytes) -> None:
    """Refuse files that are clearly something else, with a message that says what."""
    if not head:
        raise CheckpointError(f"checkpoint corrupted: {path.name} is empty (0 bytes)")
    if head[:1] == b"\x80":
        raise CheckpointError(
            f"{path.name} is a pickle file (perhaps an old PyTorch checkpoint), not a numpy "
            "network checkpoint: refused, pickles can run code"
        )
    if head[:6] == b"\x93NUMPY":
        raise CheckpointError(
            f"checkpoint corrupted: {path.name} is a single .npy array, not a checkpoint"
        )
    if head[:4] != b"PK\x03\x04":
        raise CheckpointError(f"checkpoint corrupted: {path.name} is not an .npz file")


# The largest checkpoint read at all: a TwoLayerNet with 3072 inputs and a hidden layer
# of 16,384 float64 units needs 0.4 GB. Declared sizes are checked before reading.
MAX_CHECKPOINT_BYTES = 1 << 30


def _read_members(path: Path) -> dict[str, np.ndarray]:
    names = check_zip_contents(path, CheckpointError, "checkpoint", MAX_CHECKPOINT_BYTES)
    if any(n.endswith("data.pkl") or n.endswith(".pkl") for n in names) or any(
        n.endswith("/version") or n == "version" for n in names
    ):
        raise CheckpointError(
            f"architecture mismatch: {path.name} is a PyTorch checkpoint (.pt), not a numpy "
            "network checkpoint: open it where the CNN is trained"
        )
    try:
        with np.load(path, allow_pickle=False) as npz:
            return {k: npz[k] for k in npz.files}
    except ValueError as exc:
        if "pickle" in str(exc).lower():
            raise CheckpointError(
                f"{path.name} holds pickled Python objects: refused, pickles can run code"
            ) from exc
        raise CheckpointError(f"checkpoint corrupted: {path.name}: {exc}") from exc
    except (zipfile.BadZipFile, OSError, EOFError, KeyError) as exc:
        raise CheckpointError(
            f"checkpoint corrupted: {path.name} is truncated or damaged ({exc})"
        ) from exc


def load_checkpoint(path: str | os.PathLike[str]) -> Checkpoint:
    """Load a checkpoint written by ``save_checkpoint``; CheckpointError otherwise."""
    path = Path(path)
    try:
        with open_regular(path, CheckpointError, "checkpoint") as f:
            head = f.read(8)
    except OSError as exc:
        raise CheckpointError(f"cannot read {shown(path)}: {describe_os_error(exc)}") from None
    _sniff(path, head)
    members = _read_members(path)
    if "meta" not in members:
        raise CheckpointError(
            f"checkpoint corrupted: {path.name} is an .npz file without the checkpoint's "
            "metadata (not saved by this app?)"
        )
    try:
        meta = json.loads(str(members["meta"]))
    except (json.JSONDecodeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint corrupted: unreadable metadata ({exc})") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT:
        fmt = meta.get("format") if isinstance(meta, dict) else None
        raise CheckpointError(
            f"architecture mismatch: {path.name} is not a numpy network checkpoint "
            f"(its format is {shown(str(fmt)) if fmt else 'missing'})"
        )
    version = meta.get("version", 0)
    if isinstance(version, bool) or not isinstance(version, int) or version < 0:
        raise CheckpointError(
            f"checkpoint corrupted: {path.name} has a format version of "
            f"{shown(repr(version)[:40])}, not a whole number"
        )
    if version > VERSION:
        raise CheckpointError(
            f"{path.name} was written by a newer version of the app (format {version})"
        )
    try:
        params = {k[len("param/") :]: v for k, v in members.items() if k.startswith("param/")}
        model = build_classifier(
            str(meta["model_type"]),
            meta["model_hyperparameters"],
            meta.get("dtype", "float32"),
            state=params,
        )
        pre = None
        if "pre/mean" in members and "pre/scale" in members:
            pre = Preprocessor.from_arrays(
                {"mean": members["pre/mean"], "scale": members["pre/scale"]}
            )
            if pre.input_dim != model.input_dim:
                raise CheckpointError(
                    "checkpoint corrupted: the preprocessing does not match the model's inputs"
                )
        history = {k[len("history/") :]: v for k, v in members.items() if k.startswith("history/")}
        test = TestRecord.from_dict(meta.get("test"))
        image_shape = meta.get("image_shape")
        if image_shape is not None and not (
            isinstance(image_shape, list)
            and all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in image_shape)
        ):
            raise CheckpointError(
                f"checkpoint corrupted: {path.name} has a bad image shape in its metadata"
            )
        return Checkpoint(
            model=model,
            preprocessor=pre,
            config=dict(meta.get("config") or {}),
            history=history,
            class_names=tuple(str(c) for c in meta.get("class_names") or ()),
            image_shape=tuple(int(v) for v in image_shape) if image_shape else None,
            dataset=str(meta.get("dataset", "")),
            test=test,
            path=path,
        )
    except CheckpointError:
        raise
    except (KeyError, TypeError, ValueError) as exc:
        raise CheckpointError(f"checkpoint corrupted: inconsistent contents ({exc})") from exc


def record_test_use(
    path: str | os.PathLike[str], test_acc: float, n: int, dataset: str = ""
) -> TestRecord:
    """Mark the checkpoint at ``path`` as evaluated on a test split (rewritten atomically).

    Returns the new record; ``count`` counts every evaluation, so a second one shows.
    """
    ckpt = load_checkpoint(path)
    record = ckpt.test.tested(test_acc, n, dataset)
    save_checkpoint(
        path,
        ckpt.model,
        preprocessor=ckpt.preprocessor,
        config=ckpt.config,
        history=ckpt.history,
        class_names=ckpt.class_names,
        image_shape=ckpt.image_shape,
        dataset=ckpt.dataset,
        test=record,
        keep_read_only=True,
    )
    return record


def load_model(path: str | os.PathLike[str], kind: type[Classifier] = Classifier) -> Classifier:
    """Only the model of the checkpoint at ``path``, checked to be a ``kind``.

    (Models have no save/load methods of their own: the checkpoint module builds on the
    classifiers, never the other way round.)
    """
    model = load_checkpoint(path).model
    if not isinstance(model, kind):
        raise CheckpointError(
            f"architecture mismatch: the checkpoint holds a {type(model).__name__}, "
            f"not a {kind.__name__}"
        )
    return model


def with_test_record(ckpt: Checkpoint, record: TestRecord) -> Checkpoint:
    return replace(ckpt, test=record)
