"""Training the numpy networks: the ``train`` generator (its step: ``nets.mlp.step``).

``train(config, data)`` yields the events of ``nets.training`` (Started, Step after every
step, Evaluation after every epoch, then Finished, Stopped or Diverged).

The last event's ``result`` is a ``TrainingResult`` (model, preprocessor, history).
The generator does no work between yields: a consumer pauses training by not asking for
the next event, and ``elapsed`` counts only the time spent training.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from nets import training
from nets.coach import coached
from nets.data.augment import Augmenter
from nets.data.dataset import CancelToken, ImageDataset, is_cancelled
from nets.data.preprocess import DataSampler, Preprocessor
from nets.errors import ConfigError, DataError
from nets.internals.numpy_probe import MlpInternals
from nets.mlp import fork as forks
from nets.mlp import parallel
from nets.mlp.blas_threads import set_blas_threads
from nets.mlp.classifiers import Classifier, LinearClassifier, Probe, TwoLayerNet
from nets.mlp.config import (
    FIELDS,
    PRESET_DESCRIPTIONS,
    PRESETS,
    FieldSpec,
    TrainConfig,
    check_memory,
    epoch_flops,
    estimate_memory,
    parse_field,
    preset,
)
from nets.mlp.optim import SGD
from nets.mlp.result import TrainingHistory, TrainingResult
from nets.mlp.step import StepFunction, l2_terms, split_across_cores, training_step, with_l2
from nets.snapshots import SnapshotPlan

__all__ = [
    "FIELDS",
    "PRESETS",
    "PRESET_DESCRIPTIONS",
    "FieldSpec",
    "TrainConfig",
    "TrainingHistory",
    "TrainingResult",
    "build_model",
    "check_memory",
    "epoch_flops",
    "estimate_memory",
    "evaluate",
    "parse_field",
    "preset",
    "train",
    "training_step",
]


# ---------------------------------------------------------------------------- helpers


class _Clock:
    """Seconds spent inside the generator, not while its consumer holds it paused."""

    def __init__(self) -> None:
        self.total = 0.0
        self.since: float | None = time.perf_counter()

    def elapsed(self) -> float:
        extra = time.perf_counter() - self.since if self.since is not None else 0.0
        return self.total + extra

    def pause(self) -> None:
        if self.since is not None:
            self.total += time.perf_counter() - self.since
            self.since = None

    def resume(self) -> None:
        self.since = time.perf_counter()


def build_model(config: TrainConfig, input_dim: int, num_classes: int) -> Classifier:
    """A freshly initialised model for ``config`` (seeded by ``config.seed``)."""
    dtype = np.float64 if config.dtype == "float64" else np.float32
    if config.model == "LinearClassifier":
        return LinearClassifier(
            input_dim, num_classes, config.weight_scale, dtype=dtype, seed=config.seed
        )
    return TwoLayerNet(
        input_dim,
        num_classes,
        config.hidden_dim,
        config.weight_scale,
        dtype=dtype,
        seed=config.seed,
    )


def evaluate(
    model: Classifier,
    X: np.ndarray,
    y: np.ndarray,
    preprocessor: Preprocessor | None = None,
    batch_size: int = 1000,
) -> float:
    """Accuracy of ``model`` on images (uint8, through ``preprocessor``) or ready arrays.

    Preprocesses chunk by chunk, so a large test set never needs a full float copy.
    """
    if len(y) == 0:
        return float("nan")
    correct = 0
    for start in range(0, len(y), batch_size):
        chunk = X[start : start + batch_size]
        if preprocessor is not None:
            chunk = preprocessor.transform(chunk, dtype=model.dtype)
        else:
            chunk = np.asarray(chunk, dtype=model.dtype).reshape(len(chunk), -1)
        correct += int(np.sum(model.predict(chunk, batch_size) == y[start : start + batch_size]))
    return correct / len(y)


def _unpack(
    data: ImageDataset | tuple[np.ndarray, ...],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, tuple[str, ...], str]:
    if isinstance(data, ImageDataset):
        return (
            data.X_train,
            data.y_train,
            data.X_val,
            data.y_val,
            data.class_names,
            data.source,
        )
    if not isinstance(data, tuple) or len(data) != 4:
        raise DataError("train() needs an ImageDataset or (X_train, y_train, X_val, y_val)")
    X, y, Xv, yv = data
    return X, np.asarray(y, np.int64), Xv, np.asarray(yv, np.int64), (), "arrays"


# ---------------------------------------------------------------------------- train


def train(
    config: TrainConfig,
    data: ImageDataset | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    cancel: CancelToken | None = None,
    model: Classifier | None = None,
    preprocessor: Preprocessor | None = None,
    num_classes: int | None = None,
    available_bytes: int | None = None,
    step: StepFunction | None = None,
    snapshots: SnapshotPlan | None = None,
    fork: training.Snapshot | None = None,
) -> Iterator[training.TrainingEvent]:
    """Train a model, yielding events (see the module docstring), with the coach's
    ``Advice`` among them (``nets.coach``) and, when ``config.internals_every`` is set,
    an ``Internals`` event after every sampled step.

    Args:
        config: the hyperparameters (``config.validate()`` runs first).
        data: an ImageDataset (uint8 images: a Preprocessor is fitted on its training
            split unless one is given) or (X_train, y_train, X_val, y_val) arrays; uint8
            arrays of images are preprocessed the same way, float (N, D) arrays are used
            as they are.
        cancel: a callable returning True or a threading.Event, checked before every
            step; a cancelled run ends with ``Stopped``.
        model: continue training this model (with ``preprocessor``, the one it was
            trained with) instead of a fresh one.
        num_classes: default: the dataset's classes, else max label + 1.
        available_bytes: override the memory the guard compares against.
        step: the training step, called as ``step(model, X_batch, y_batch, reg,
            reuse_buffers=True)`` (default ``training_step``; ``nets.homework`` passes
            the user's own, so one loop trains both).
        snapshots: yield a ``Snapshot`` after every epoch (and every
            ``snapshots.every_steps`` steps), see ``nets.mlp.fork``.
        fork: go on from this snapshot of an earlier run (its weights, momentum, learning
            rate and batch order; its preprocessing unless ``preprocessor`` is given);
            ``config`` may change what ``nets.mlp.fork.FIXED`` does not name, and the
            history starts with the snapshot's.

    Raises (on the first ``next``): ConfigError for bad hyperparameters, ResourceError
    when the estimate does not fit, DataError for unusable data. Nothing is allocated
    before the memory check.
    """
    return coached(
        _train(
            config,
            data,
            cancel=cancel,
            model=model,
            preprocessor=preprocessor,
            num_classes=num_classes,
            available_bytes=available_bytes,
            step=step,
            snapshots=snapshots,
            fork=fork,
        )
    )


def _train(
    config: TrainConfig,
    data: ImageDataset | tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray],
    *,
    cancel: CancelToken | None,
    model: Classifier | None,
    preprocessor: Preprocessor | None,
    num_classes: int | None,
    available_bytes: int | None,
    step: StepFunction | None,
    snapshots: SnapshotPlan | None = None,
    fork: training.Snapshot | None = None,
) -> Iterator[training.TrainingEvent]:
    config.validate()
    if fork is not None:
        forks.check(fork, config)
        preprocessor = preprocessor or forks.preprocessor_from_snapshot(fork)
    clock = _Clock()
    X_all, y_all, X_val_raw, y_val, class_names, source = _unpack(data)
    n_all = len(y_all)
    if n_all == 0:
        raise DataError("the training split is empty")
    d = int(np.prod(X_all.shape[1:]))
    if num_classes is None:
        num_classes = len(class_names) or int(max(y_all.max(), y_val.max(initial=0))) + 1
    if num_classes < 2:
        raise DataError("training needs at least two classes")
    if model is not None and (model.input_dim != d or model.num_classes != num_classes):
        raise ConfigError(
            f"the model takes {model.input_dim} inputs and {model.num_classes} classes but "
            f"the data has {d} values per image and {num_classes} classes"
        )
    n = n_all if config.num_train is None else min(n_all, config.num_train)
    if config.batch_size > n:
        # Said as it is: a memory estimate for a batch the data cannot fill would mislead.
        raise ConfigError(
            f"the batch size {config.batch_size:,} is larger than the {n:,} training "
            f"images: use a batch size of at most {n:,}"
        )
    estimate = estimate_memory(config, n_all, d, num_classes, len(y_val), snapshots)
    check_memory(estimate, available_bytes)

    dtype = np.float64 if config.dtype == "float64" else np.float32
    rng = np.random.default_rng(config.seed)
    subset = np.sort(rng.choice(n_all, size=n, replace=False)) if n < n_all else np.arange(n)
    images = X_all.dtype == np.uint8
    if images and preprocessor is None:
        preprocessor = Preprocessor.fit(X_all)
    if preprocessor is not None and images:
        X_train = preprocessor.transform(X_all[subset], dtype=dtype)
        X_val = preprocessor.transform(X_val_raw, dtype=dtype)
    else:
        X_train = np.ascontiguousarray(np.asarray(X_all[subset], dtype=dtype).reshape(n, -1))
        X_val = np.ascontiguousarray(np.asarray(X_val_raw, dtype=dtype).reshape(len(X_val_raw), -1))
    y_train = np.ascontiguousarray(y_all[subset])
    acc_idx = np.sort(rng.choice(n, size=min(n, config.train_acc_samples), replace=False))
    X_acc, y_acc = X_train[acc_idx], y_train[acc_idx]

    if model is None:
        model = build_model(config, d, num_classes)
    optimizer = SGD(model.parameters(), config.learning_rate, config.momentum, config.lr_decay)
    own_gemms = step is None and model.splits_gemms
    workers, tuner = split_across_cores(own_gemms=own_gemms)

    def gather(X: np.ndarray, idx: np.ndarray, out: np.ndarray) -> None:
        with parallel.splitting(workers):
            parallel.take_rows(X, idx, out)

    # The next batch is gathered by a helper while this thread runs the passes between
    # the first layer's GEMMs alone (parallel.Workers.defer). Not beside someone else's
    # step: its products run on BLAS's own threads, which stall when a core is taken.
    sampler = DataSampler(
        X_train,
        y_train,
        config.batch_size,
        seed=config.seed,
        reuse_buffers=True,
        gather=gather,
        prefetch=workers if workers.size > 1 and own_gemms else None,
    )
    augment = None
    # Crops and flips need images (N, H, W[, C]); ready-made feature rows are used as given.
    if (config.crop_pad or config.flip) and images and X_all.ndim in (3, 4):
        shape = tuple(X_all.shape[1:])
        augment = Augmenter(
            shape if len(shape) == 3 else (*shape, 1), config.crop_pad, config.flip, config.seed
        )
    steps_per_epoch = len(sampler)
    total_steps = steps_per_epoch * config.num_epochs
    image_shape = tuple(X_all.shape[1:]) if images else None
    resume = forks.restore(fork, config, model, optimizer, sampler) if fork else forks.Resume()
    h = resume.history
    step_losses: list[float] = h["step_loss"]
    epoch_train: list[float] = h["epoch_train_acc"]
    epoch_val: list[float] = h["epoch_val_acc"]
    epoch_losses: list[float] = h["epoch_loss"]
    epoch_lrs: list[float] = h["epoch_lr"]
    about_data = {
        "image_shape": None if image_shape is None else list(image_shape),
        "class_names": list(class_names),
        "source": source,
    }

    def snapshot(epoch: int, end: bool, rng: Any, loss_sum: float, steps: int) -> training.Snapshot:
        return forks.take(
            config,
            step=iteration,
            epoch=epoch,
            end_of_epoch=end,
            model=model,
            optimizer=optimizer,
            epoch_rng=rng,
            preprocessor=preprocessor,
            history=h,
            loss_sum=loss_sum,
            steps=steps,
            last_finite=last_finite,
            data=about_data,
        )

    def result() -> TrainingResult:
        history = TrainingHistory(
            tuple(step_losses),
            tuple(epoch_train),
            tuple(epoch_val),
            tuple(epoch_losses),
            tuple(epoch_lrs),
        )
        return TrainingResult(
            model, preprocessor, config, history, tuple(class_names), image_shape, source
        )

    def emit(event: training.TrainingEvent) -> Iterator[training.TrainingEvent]:
        clock.pause()
        yield event
        clock.resume()

    yield from emit(
        training.Started(
            trainer="mlp",
            config=config,
            num_train=n,
            num_val=len(y_val),
            num_classes=num_classes,
            input_shape=(d,),
            params=sum(p.size for p in model.parameters().values()),
            epochs=config.num_epochs,
            steps_per_epoch=steps_per_epoch,
            total_steps=total_steps,
            memory_bytes=estimate.total,
            num_threads=workers.size,
            elapsed=clock.elapsed(),
            start_step=resume.iteration,
            memory=estimate,
        )
    )
    iteration = resume.iteration
    last_finite = resume.last_loss
    tracker = MlpInternals(model, config.internals_every) if config.internals_every else None
    # Each part of a split is one single-threaded BLAS call (see nets.mlp.parallel).
    blas_before = set_blas_threads(1) if workers.size > 1 else None
    try:
        for epoch in range(resume.epoch, config.num_epochs + 1):
            lr = optimizer.learning_rate
            tuner.start_epoch()
            loss_sum, steps = (resume.loss_sum, resume.done) if epoch == resume.epoch else (0.0, 0)
            epoch_rng = dict(sampler.rng.bit_generator.state)  # the order this epoch draws
            for X_batch, y_batch in forks.batches(sampler, steps):
                if augment is not None:  # keyed by (epoch, batch): a fork augments alike
                    X_batch = augment(X_batch, run=workers.run, key=(epoch, steps))
                if is_cancelled(cancel):
                    yield from emit(
                        training.Stopped(
                            iteration,
                            epoch,
                            clock.elapsed(),
                            f"stopped after step {iteration} (epoch {epoch})",
                            epochs_done=epoch - 1,
                            result=result(),
                        )
                    )
                    return
                # A diverging run overflows on purpose of the check below: no warnings for it.
                # (errstate per step, never across a yield: it would leak into the consumer.)
                tuner.before_step()
                started = time.perf_counter()
                probe = tracker.before_step(iteration + 1, epoch, X_batch) if tracker else None
                # The L2 term joins the weight gradients in the optimizer's pass (one pass
                # less over them), except for someone else's step, which adds its own.
                fuse_l2 = step is None
                sampling = tracker is not None and tracker.sampling
                l2 = l2_terms(model, config.reg) if fuse_l2 else {}
                with np.errstate(over="ignore", invalid="ignore"), parallel.splitting(workers):
                    if step is None:
                        loss, grads = training_step(
                            model,
                            X_batch,
                            y_batch,
                            config.reg,
                            reuse_buffers=True,
                            probe=probe,
                            l2_in_grads=False,
                            squares=optimizer.square_sums(),
                            # not on a sampled step: its recorded gradients must outlive
                            # the update that writes the new weights over these
                            grad_buffers=None if sampling else optimizer.gradient_buffers(l2),
                        )
                    else:  # someone else's step sees no probe: parameters are still sampled
                        loss, grads = step(model, X_batch, y_batch, config.reg, reuse_buffers=True)
                if not math.isfinite(loss):
                    if (
                        tracker is not None and step is None
                    ):  # where did it start? (before the rollback)

                        def rerun(
                            p: Probe, X: np.ndarray = X_batch, y: np.ndarray = y_batch
                        ) -> tuple[float, dict[str, np.ndarray]]:
                            return training_step(model, X, y, config.reg, probe=p)

                        yield from emit(
                            tracker.diagnose(
                                iteration + 1, epoch, X_batch, rerun, model.parameters()
                            )
                        )
                    kept = optimizer.rollback()
                    where = (
                        f"kept the weights from step {iteration}"
                        if kept
                        else "kept the initial weights"
                    )
                    what = "inf" if loss == math.inf else "nan"
                    yield from emit(
                        training.Diverged(
                            iteration + 1,
                            epoch,
                            clock.elapsed(),
                            f"diverged at step {iteration + 1}: the loss became {what} "
                            f"(learning rate {config.learning_rate:g} is probably too high); "
                            f"{where}",
                            epochs_done=epoch - 1,
                            result=result(),
                            loss=loss,
                            last_finite_loss=last_finite,
                        )
                    )
                    return
                if tracker is not None:
                    shown = with_l2(model, grads, l2) if sampling else grads
                    tracker.before_update(model.parameters(), shown)
                # The next step's momentum and L2 terms go into the velocities in this
                # update's pass (its GEMM adds its gradient to them), unless a snapshot,
                # which saves the velocities as they are, comes in between.
                snapshot_next = snapshots is not None and (
                    steps + 1 == steps_per_epoch
                    or snapshots.due(iteration + 1, steps + 1, steps_per_epoch)
                )
                prepare = l2 if fuse_l2 and not snapshot_next else None
                with parallel.splitting(workers):
                    optimizer.step(grads, l2=l2, prepare=prepare)
                sample = tracker.after_update(model.parameters()) if tracker else None
                tuner.record(time.perf_counter() - started)
                iteration += 1
                last_finite = loss
                loss_sum += loss
                steps += 1
                step_losses.append(loss)
                yield from emit(
                    training.Step(iteration, epoch, loss, lr, clock.elapsed(), total_steps)
                )
                if sample is not None:
                    yield from emit(sample)
                if snapshots is not None and snapshots.due(iteration, steps, steps_per_epoch):
                    yield from emit(snapshot(epoch, False, epoch_rng, loss_sum, steps))
            # huge but finite weights: no warnings
            with np.errstate(over="ignore", invalid="ignore"), parallel.splitting(workers):
                train_acc = model.accuracy(X_acc, y_acc)
                val_acc = model.accuracy(X_val, y_val)
            epoch_train.append(train_acc)
            epoch_val.append(val_acc)
            epoch_losses.append(loss_sum / max(steps, 1))
            epoch_lrs.append(lr)
            optimizer.end_epoch()
            yield from emit(
                training.Evaluation(
                    step=iteration,
                    epoch=epoch,
                    train_acc=train_acc,
                    val_acc=val_acc,
                    train_loss=loss_sum / max(steps, 1),
                    lr=lr,
                    val_n=len(y_val),
                    end_of_epoch=True,
                    elapsed=clock.elapsed(),
                )
            )
            if snapshots is not None:
                yield from emit(snapshot(epoch, True, sampler.rng.bit_generator.state, 0, 0))
    finally:
        tuner.restore()
        workers.close()
        if blas_before is not None:
            set_blas_threads(blas_before)
    yield from emit(
        training.Finished(
            iteration,
            config.num_epochs,
            clock.elapsed(),
            f"finished {config.num_epochs} epochs",
            epochs_done=config.num_epochs,
            result=result(),
        )
    )
