"""CNN checkpoints: a ``.pt`` file of plain tensors, dicts, lists and strings only.

Layout (a dict, saved with ``torch.save``)::

    format, version               "backprop-explorer-cnn-checkpoint", 1
    architecture                  the architecture dict (nets.cnn.arch.arch_to_dict)
    input_shape                   [C, H, W]
    class_names                   [str, ...]
    normalization                 {"mean": [...], "std": [...]}  per channel, 0-255 units
    train_config                  TrainConfig.to_dict() or None
    data_source, iterations, val_acc, created
    test_record                   nets.testrecord.TestRecord.to_dict() (when: UTC)
    state_dict                    {name: tensor}
    weights_sha256                digest of the state_dict (names, dtypes, shapes, bytes)

Files are read ONLY with ``torch.load(..., weights_only=True)``, which rebuilds tensors and
plain containers and refuses any other Python object, so a file carrying a pickle payload
is refused before anything in it runs. Every failure is a CheckpointError whose message
starts with "checkpoint corrupted", "checkpoint refused" or "checkpoint mismatch"
(or "cannot read/write"), and nothing the caller holds is changed.
"""

from __future__ import annotations

import hashlib
import io
import math
import os
import pickle
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from nets.cnn.arch import (
    LayerSpec,
    arch_from_dict,
    arch_to_dict,
    describe_layer,
    totals,
    validate,
)
from nets.cnn.config import TrainConfig
from nets.cnn.trained import TrainedCnn
from nets.errors import CheckpointError, ConfigError, first_line
from nets.fileio import atomic_write_bytes, check_zip_contents, open_regular
from nets.testrecord import TestRecord, utc_now

CHECKPOINT_FORMAT = "backprop-explorer-cnn-checkpoint"
CHECKPOINT_VERSION = 1
# The largest checkpoint read at all (any CNN the editor makes for 28x28 images is far
# smaller); the zip directory's declared sizes are checked before torch reads anything.
MAX_CHECKPOINT_BYTES = 1 << 30


def _weights_digest(state_dict: dict[str, Any]) -> str:
    import torch

    digest = hashlib.sha256()
    for name in sorted(state_dict):
        t = state_dict[name].detach().to("cpu").contiguous()
        digest.update(f"{name}|{t.dtype}|{tuple(t.shape)}|".encode())
        # uint8 view: numpy has no bfloat16 and this hashes the exact bytes of any dtype.
        digest.update(t.reshape(-1).view(torch.uint8).numpy().tobytes() if t.numel() else b"")
    return digest.hexdigest()


def checkpoint_dict(trained: TrainedCnn) -> dict[str, Any]:
    """The plain dict :func:`save_checkpoint` writes."""
    state = {k: v.detach().to("cpu").clone() for k, v in trained.model.state_dict().items()}
    return {
        "format": CHECKPOINT_FORMAT,
        "version": CHECKPOINT_VERSION,
        "architecture": arch_to_dict(trained.arch),
        "input_shape": list(trained.input_shape),
        "class_names": list(trained.class_names),
        "normalization": {"mean": list(trained.mean), "std": list(trained.std)},
        "train_config": trained.config.to_dict() if trained.config else None,
        "data_source": trained.data_source,
        "iterations": int(trained.iterations),
        "val_acc": trained.val_acc,
        "created": utc_now(),
        "test_record": trained.test_record.to_dict(),
        "state_dict": state,
        "weights_sha256": _weights_digest(state),
    }


def save_checkpoint(
    path: str | os.PathLike[str], trained: TrainedCnn, keep_read_only: bool = False
) -> None:
    """Write ``trained`` to a ``.pt`` file atomically (the old file stays whole on failure)."""
    import torch

    buffer = io.BytesIO()
    torch.save(checkpoint_dict(trained), buffer)
    atomic_write_bytes(
        Path(path), buffer.getvalue(), CheckpointError, allow_read_only=keep_read_only
    )


def _sniff(path: Path, raw_head: bytes, size: int) -> None:
    """Refuse files that are not a torch zip checkpoint, before torch sees them."""
    if size == 0:
        raise CheckpointError(f"checkpoint corrupted: {path} is empty (0 bytes)")
    if raw_head.startswith(b"PK"):
        names = check_zip_contents(path, CheckpointError, "checkpoint", MAX_CHECKPOINT_BYTES)
        if names and all(n.endswith(".npy") for n in names):
            raise CheckpointError(
                f"checkpoint mismatch: {path} is a numpy .npz file (a numpy-network "
                f"checkpoint?), not a PyTorch CNN .pt checkpoint; open it where numpy "
                f"networks are loaded"
            )
        if not any(n.endswith("data.pkl") for n in names):
            raise CheckpointError(
                f"checkpoint mismatch: {path} is a zip archive but not a PyTorch checkpoint"
            )
        return
    if raw_head[:1] == b"\x80":
        raise CheckpointError(
            f"checkpoint refused: {path} is a raw Python pickle, which can run code when "
            f"loaded; only PyTorch zip checkpoints saved by this app are read"
        )
    raise CheckpointError(f"checkpoint corrupted: {path} is not a PyTorch checkpoint")


def read_checkpoint_dict(path: str | os.PathLike[str]) -> dict[str, Any]:
    """Load the raw dict with ``weights_only=True``; CheckpointError on anything unsafe or bad."""
    import torch

    path = Path(path)
    try:
        with open_regular(path, CheckpointError, "checkpoint") as f:
            size = os.fstat(f.fileno()).st_size
            head = f.read(8)
    except OSError as exc:
        raise CheckpointError(f"cannot read checkpoint {path}: {exc.strerror or exc}") from None
    _sniff(path, head, size)
    try:
        data = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as exc:
        first = first_line(exc)
        if "weights only" in str(exc).lower() or "weights_only" in str(exc).lower():
            raise CheckpointError(
                f"checkpoint refused: {path} contains Python objects other than tensors and "
                f"plain data, which could run code; nothing from it was loaded ({first[:160]})"
            ) from None
        raise CheckpointError(f"checkpoint corrupted: {path}: {first[:200]}") from None
    except (
        RuntimeError,
        EOFError,
        ValueError,
        OSError,
        KeyError,
        IndexError,
        TypeError,
        AttributeError,
        zipfile.BadZipFile,
        UnicodeDecodeError,
    ) as exc:
        text = " ".join(str(exc).split()) or type(exc).__name__
        if "enforce fail" in text or "PytorchStreamReader" in text:
            # torch's C++ zip reader speaks in source-file names; say what it means.
            text = "the archive is damaged or incomplete (a part of it is missing)"
        raise CheckpointError(f"checkpoint corrupted: {path}: {text[:200]}") from None
    if not isinstance(data, dict):
        raise CheckpointError(
            f"checkpoint mismatch: {path} holds a {type(data).__name__}, not a Backprop "
            f"Explorer CNN checkpoint"
        )
    if data.get("format") != CHECKPOINT_FORMAT:
        hint = (
            " (it looks like a bare state_dict: the architecture is missing)"
            if data and all(hasattr(v, "shape") for v in data.values())
            else ""
        )
        raise CheckpointError(
            f"checkpoint mismatch: {path} is not a Backprop Explorer CNN checkpoint{hint}"
        )
    if data.get("version") != CHECKPOINT_VERSION:
        raise CheckpointError(
            f"checkpoint mismatch: {path} has format version {data.get('version')!r}; this "
            f"app reads version {CHECKPOINT_VERSION}"
        )
    return data


def _field(data: dict[str, Any], key: str, kind: type | tuple[type, ...], path: Path) -> Any:
    value = data.get(key)
    if not isinstance(value, kind):
        raise CheckpointError(f"checkpoint corrupted: {path}: '{key}' is missing or malformed")
    return value


def _shape_mismatch(
    state: dict[str, Any], expected: dict[str, Any], arch: Sequence[LayerSpec]
) -> str | None:
    """Describe how a state_dict differs from what a model expects, or None when it fits."""
    missing = [k for k in expected if k not in state]
    extra = [k for k in state if k not in expected]
    for key in expected:
        if key in state and tuple(state[key].shape) != tuple(expected[key].shape):
            return (
                f"{_layer_of(key, arch)} {key.split('.')[-1]} has shape "
                f"{tuple(state[key].shape)} in the file but {tuple(expected[key].shape)} in "
                f"the model"
            )
    if missing:
        return f"the file has no weights for {', '.join(missing[:4])}"
    if extra:
        return f"the file has weights the model lacks: {', '.join(extra[:4])}"
    return None


def _layer_of(key: str, arch: Sequence[LayerSpec]) -> str:
    parts = key.split(".")
    if len(parts) >= 2 and parts[1].isdigit() and int(parts[1]) < len(arch):
        i = int(parts[1])
        return f"layer {i} ({describe_layer(arch[i])})"
    return key


def load_checkpoint(
    path: str | os.PathLike[str], expect_arch: Sequence[LayerSpec] | None = None
) -> TrainedCnn:
    """Rebuild the model saved in ``path`` (on the CPU, in eval mode).

    With ``expect_arch``, the checkpoint must hold that architecture (for loading weights
    into the network currently designed); a different one is a "checkpoint mismatch".
    Raises CheckpointError; nothing outside the returned object is touched.
    """
    import torch

    from nets.cnn.model import build_model

    path = Path(path)
    data = read_checkpoint_dict(path)
    try:
        arch = tuple(arch_from_dict(data.get("architecture")))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint corrupted: {path}: {exc}") from None
    shape = _field(data, "input_shape", list, path)
    if len(shape) != 3 or not all(isinstance(s, int) and s > 0 for s in shape):
        raise CheckpointError(f"checkpoint corrupted: {path}: bad input_shape {shape!r}")
    names = _field(data, "class_names", list, path)
    if not names or not all(isinstance(n, str) for n in names):
        raise CheckpointError(f"checkpoint corrupted: {path}: bad class_names")
    normalization = _field(data, "normalization", dict, path)
    mean, std = normalization.get("mean"), normalization.get("std")
    if not (
        isinstance(mean, list)
        and isinstance(std, list)
        and len(mean) == len(std) == shape[0]
        and all(isinstance(v, (int, float)) and math.isfinite(v) for v in mean + std)
        and all(v > 0 for v in std)
    ):
        raise CheckpointError(f"checkpoint corrupted: {path}: bad normalization")
    state = _field(data, "state_dict", dict, path)
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        raise CheckpointError(f"checkpoint corrupted: {path}: state_dict holds non-tensors")
    for key, tensor in state.items():
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            # The numpy checkpoints refuse these too: a model of NaNs predicts nothing.
            raise CheckpointError(f"checkpoint corrupted: {path}: parameter {key} is not finite")
    if data.get("weights_sha256") != _weights_digest(state):
        raise CheckpointError(
            f"checkpoint corrupted: {path}: the weights do not match their checksum"
        )
    if expect_arch is not None and tuple(expect_arch) != arch:
        raise CheckpointError(
            f"checkpoint mismatch: {path} holds a different architecture "
            f"({_arch_difference(arch, tuple(expect_arch))}); the current model is unchanged"
        )
    try:
        declared = totals(validate(arch, tuple(shape), len(names)), shape).params
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint mismatch: {path}: {exc}") from None
    held = sum(int(v.numel()) for v in state.values())
    if declared > held:
        # A tiny file can describe a network of billions of parameters: refuse it from the
        # description, before building (and allocating) the model.
        raise CheckpointError(
            f"checkpoint corrupted: {path}: its architecture declares {declared:,} "
            f"parameters but the file holds only {held:,} weights; refused before building it"
        )
    try:
        model = build_model(arch, tuple(shape), len(names))
    except ConfigError as exc:
        raise CheckpointError(f"checkpoint mismatch: {path}: {exc}") from None
    problem = _shape_mismatch(state, model.state_dict(), arch)
    if problem:
        raise CheckpointError(
            f"checkpoint mismatch: {path}: the weights do not fit the saved architecture: {problem}"
        )
    model.load_state_dict(state)
    model.eval()
    config = None
    if isinstance(data.get("train_config"), dict):
        try:
            config = TrainConfig.from_dict(data["train_config"])
        except TypeError:
            config = None
    record = TestRecord.from_dict(data.get("test_record"))
    val_acc = data.get("val_acc")
    return TrainedCnn(
        model=model,
        arch=arch,
        input_shape=(shape[0], shape[1], shape[2]),
        class_names=tuple(names),
        mean=tuple(float(v) for v in mean),
        std=tuple(float(v) for v in std),
        config=config,
        data_source=str(data.get("data_source", "")),
        iterations=int(data.get("iterations", 0) or 0),
        val_acc=float(val_acc) if isinstance(val_acc, (int, float)) else None,
        test_record=record,
    )


def _arch_difference(saved: tuple[LayerSpec, ...], current: tuple[LayerSpec, ...]) -> str:
    for i, (a, b) in enumerate(zip(saved, current, strict=False)):
        if a != b:
            return f"layer {i} is {describe_layer(a)} in the file but {describe_layer(b)} here"
    return f"{len(saved)} layers in the file, {len(current)} here"


def load_weights_into(trained: TrainedCnn, path: str | os.PathLike[str]) -> TrainedCnn:
    """Load a checkpoint's weights into ``trained``'s architecture, or change nothing.

    The checkpoint must hold the same architecture, input shape and class count; otherwise
    CheckpointError ("checkpoint mismatch: ...") and ``trained.model`` is untouched.
    Returns a TrainedCnn sharing ``trained.model`` with the checkpoint's weights and
    metadata.
    """
    loaded = load_checkpoint(path, expect_arch=trained.arch)
    if loaded.input_shape != trained.input_shape or loaded.num_classes != trained.num_classes:
        raise CheckpointError(
            f"checkpoint mismatch: {path} was trained on {loaded.input_shape} images with "
            f"{loaded.num_classes} classes, the current model takes {trained.input_shape} "
            f"with {trained.num_classes}; the current model is unchanged"
        )
    problem = _shape_mismatch(loaded.model.state_dict(), trained.model.state_dict(), trained.arch)
    if problem:
        raise CheckpointError(f"checkpoint mismatch: {path}: {problem}")
    trained.model.load_state_dict(loaded.model.state_dict())
    return TrainedCnn(**{**vars(loaded), "model": trained.model})


def record_test(
    path: str | os.PathLike[str], trained: TrainedCnn, test_acc: float, n: int, dataset: str = ""
) -> TrainedCnn:
    """Mark in the checkpoint file that the test set (of ``dataset``) was used; returns the
    updated model."""
    updated = trained.with_test_record(trained.test_record.tested(test_acc, n, dataset))
    save_checkpoint(path, updated, keep_read_only=True)
    return updated
