"""The "Two-layer net" tab's background work as generator factories (run by
``gui.worker``): training a run (the trainer's events, the first-layer weight images
and, at the end, the validation analysis), testing a model once and loading a
checkpoint or a snapshot. nets.mlp's training modules are imported inside them.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gui.mlp_tab.analysis import TestResult, analyse_validation, first_layer_images, first_weights
from gui.mlp_tab.run_record import RunRecord, settings_of
from gui.training.run_files import LoadedRun
from nets.training import END_EVENTS, Evaluation, Snapshot, Started

#: The first-layer weight images are taken at most this often (and at the end).
SNAPSHOT_EVERY_S = 0.25
#: Image shapes of a snapshot that does not record its own (written before it did so).
_IMAGE_SHAPES = {3072: (32, 32, 3), 784: (28, 28, 1)}

Factory = Callable[[Any], Iterator[Any]]


@dataclass(frozen=True, eq=False)
class ModelBuilt:
    """The training job built (or copied) its model: the run can be tested once stopped."""

    model: Any


def training_job(
    config: Any,
    dataset: Any,
    *,
    model: Any,
    preprocessor: Any,
    homework: Any,
    from_model: bool,
    snapshots: Any,
    fork: Any,
    image_shape: tuple[int, ...] | None,
) -> Factory:
    """Train ``model`` (built from ``config`` when None) on ``dataset``, with the app's
    trainer or the user's own ``homework`` implementation (``from_model``: it starts from
    the model's weights); ``snapshots`` and ``fork`` (a ``PendingFork``) go to the trainer.
    Yields ``ModelBuilt``, the trainer's events with a ``WeightsSnapshot`` at the start,
    after an epoch (at most every ``SNAPSHOT_EVERY_S``) and at the end, then the
    ``ValidationAnalysis`` unless stopped."""
    from nets.mlp.train import build_model, train

    def factory(token):
        nonlocal model
        if model is None:
            model = build_model(config, dataset.input_dim, dataset.num_classes)
        yield ModelBuilt(model)
        if homework is None:
            events = train(
                config,
                dataset,
                cancel=token,
                model=model,
                preprocessor=preprocessor,
                snapshots=snapshots,
                fork=fork.snapshot if fork is not None else None,
            )
        else:  # the user's own TwoLayerNet, in its sandboxed process; model mirrors it
            from nets.homework.training import train_own

            events = train_own(
                config,
                dataset,
                homework,
                cancel=token,
                model=model,
                start_from_model=from_model,
                preprocessor=preprocessor,
            )
        snapshot_at = 0.0
        for event in events:
            yield event
            if isinstance(event, Started):  # the initial weights (the user's own)
                snapshot = first_layer_images(first_weights(model), image_shape, 0)
                if snapshot is not None:
                    yield snapshot
            elif (
                isinstance(event, Evaluation)
                and event.end_of_epoch
                and time.perf_counter() - snapshot_at >= SNAPSHOT_EVERY_S
            ):
                snapshot_at = time.perf_counter()
                epoch_snapshot = first_layer_images(first_weights(model), image_shape, event.epoch)
                if epoch_snapshot is not None:
                    yield epoch_snapshot
            elif isinstance(event, END_EVENTS):
                last = first_layer_images(first_weights(model), image_shape, -1)
                if last is not None:
                    yield last
                if token.is_cancelled():
                    return
                result = event.result
                yield analyse_validation(
                    result.model, result.preprocessor, dataset.X_val, dataset.y_val
                )

    return factory


def test_job(model: Any, preprocessor: Any, X_test: Any, y_test: Any) -> Factory:
    """The accuracy of ``model`` on the test split (X_test (N, D), y_test (N,))."""
    from nets.mlp.train import evaluate

    def factory(token):
        yield TestResult(accuracy=evaluate(model, X_test, y_test, preprocessor), n=len(y_test))

    return factory


def load_job(path: Path) -> Factory:
    """Load the checkpoint at ``path`` as a ``LoadedRun`` with a ``RunRecord`` payload."""

    def factory(token):
        from nets.mlp.checkpoint import load_checkpoint

        ckpt = load_checkpoint(path)
        record = RunRecord(
            config=dict(ckpt.config),
            dataset=ckpt.dataset,
            model=ckpt.model,
            preprocessor=ckpt.preprocessor,
            class_names=tuple(ckpt.class_names),
            image_shape=ckpt.image_shape,
            history=dict(ckpt.history),
            test=ckpt.test,
            checkpoint=path,
        )
        if ckpt.model.parameters():
            weights = first_weights(ckpt.model)
            record.weights = first_layer_images(weights, ckpt.image_shape, -1)
        settings = settings_of(ckpt.config, ckpt.dataset)
        yield LoadedRun(path.stem, settings, record)

    return factory


def snapshot_run(snapshot: Snapshot, name: str) -> LoadedRun:
    """A ``LoadedRun`` whose model is ``snapshot``'s (for ``RunFiles.open_snapshot``, in
    its job's thread): the weights, preprocessing, curves so far and data it records."""
    import numpy as np

    from nets.mlp.fork import model_from_snapshot, preprocessor_from_snapshot

    about = snapshot.state.get("data") or {}
    cli = snapshot.state.get("cli") or {}
    model = model_from_snapshot(snapshot)
    shape = about.get("image_shape") or _IMAGE_SHAPES.get(model.input_dim)
    image_shape = tuple(int(v) for v in shape) if shape else None
    history = {
        k[len("history/") :]: np.asarray(v, dtype=np.float64)
        for k, v in snapshot.arrays.items()
        if k.startswith("history/")
    }
    dataset = str(cli.get("data") or about.get("source") or "")
    record = RunRecord(
        config=dict(snapshot.config),
        dataset=dataset,
        model=model,
        preprocessor=preprocessor_from_snapshot(snapshot),
        class_names=tuple(str(c) for c in about.get("class_names") or ()),
        image_shape=image_shape,
        history=history,
    )
    record.weights = first_layer_images(first_weights(model), image_shape, snapshot.epoch)
    return LoadedRun(name, settings_of(snapshot.config, dataset), record)
