"""Train a CNN as a generator of the ``nets.training`` events.

    for event in train(arch, dataset, TrainConfig(...), cancel=stop_event):
        match event:
            case Started(): ...     # once: steps, device, threads, memory estimate
            case Step(): ...        # every optimizer step: loss, learning rate
            case Evaluation(): ...  # evals_per_epoch times per epoch: train/val accuracy
            case Finished() | Stopped(): ...  # .result is the TrainedCnn
            case Diverged(): ...    # loss became NaN/inf; .result has the last finite weights

The consumer pauses training by not asking for the next event (``elapsed`` counts only
time spent inside the generator), and stops it with ``cancel`` (checked between steps)
or by closing the generator. The data stay uint8 tensors in (N, C, H, W) layout and each
batch is indexed directly and normalised on the fly: no DataLoader, no worker processes,
and a quarter of the memory of a float copy (and faster to index: ~30 ms per epoch).
On the CPU the model and batches use the channels_last layout. torch is imported when
training starts.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from typing import Any, Protocol

import numpy as np

from nets.cnn.arch import LayerSpec, validate
from nets.cnn.augment import shift_flip
from nets.cnn.config import TrainConfig, default_num_threads
from nets.cnn.resources import EVAL_BATCH, batches_per_epoch, check_memory, estimate_memory
from nets.cnn.trained import Normalizer, TrainedCnn, channel_stats, to_nchw_tensor
from nets.coach import coached
from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import ConfigError
from nets.memory import MemoryEstimate
from nets.snapshots import SnapshotPlan
from nets.training import (
    END_EVENTS,
    Diverged,
    Evaluation,
    Finished,
    Snapshot,
    Started,
    Step,
    Stopped,
    TrainingEvent,
)

Event = TrainingEvent


class ImageData(Protocol):
    """What training needs from a dataset (nets.data.ImageDataset fits)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    class_names: Sequence[str]


# --------------------------------------------------------------------------- set-up


def pick_device(name: str = "auto") -> str:
    """``auto``: CUDA if present, else Apple MPS, else CPU; a named device must exist."""
    import torch

    cuda = torch.cuda.is_available()
    mps = bool(getattr(torch.backends, "mps", None)) and torch.backends.mps.is_available()
    if name == "auto":
        return "cuda" if cuda else "mps" if mps else "cpu"
    if name == "cuda" and not cuda:
        raise ConfigError("device cuda was asked for but no CUDA GPU is available")
    if name == "mps" and not mps:
        raise ConfigError("device mps was asked for but Apple MPS is not available")
    return name


def _make_optimizer(params: Any, config: TrainConfig) -> Any:
    import torch

    if config.optimizer == "sgd":
        return torch.optim.SGD(
            params,
            lr=config.lr,
            momentum=config.momentum,
            nesterov=config.nesterov and config.momentum > 0,
            weight_decay=config.weight_decay,
        )
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(
            params, lr=config.lr, momentum=config.momentum, weight_decay=config.weight_decay
        )
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=config.lr, weight_decay=config.weight_decay)
    return torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)


def make_scheduler(optimizer: Any, config: TrainConfig, steps_per_epoch: int) -> Any:
    """The learning-rate schedule, stepped once per optimizer step."""
    import torch

    total = steps_per_epoch * config.epochs
    sched = torch.optim.lr_scheduler
    if config.schedule == "one-cycle":
        return sched.OneCycleLR(optimizer, max_lr=config.lr, total_steps=total)
    if config.schedule == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=total)
    if config.schedule == "step":
        period = steps_per_epoch * config.step_epochs
        gamma = config.step_gamma
        return sched.LambdaLR(optimizer, lambda it: gamma ** (it // period))
    return sched.LambdaLR(optimizer, lambda it: 1.0)


def eval_points(steps_per_epoch: int, evals_per_epoch: int) -> list[int]:
    """1-based steps within an epoch after which accuracy is measured (last = epoch end)."""
    n = max(1, min(evals_per_epoch, steps_per_epoch))
    return sorted({max(1, round(steps_per_epoch * k / n)) for k in range(1, n + 1)})


def _check_data(data: ImageData) -> tuple[tuple[int, int, int], int]:
    for name in ("X_train", "X_val"):
        X = getattr(data, name)
        if not isinstance(X, np.ndarray) or X.dtype != np.uint8 or X.ndim != 4:
            raise ConfigError(f"{name} must be uint8 images (N, H, W, C)")
    if data.X_train.shape[1:] != data.X_val.shape[1:]:
        raise ConfigError("training and validation images differ in size")
    if len(data.X_train) != len(data.y_train) or len(data.X_val) != len(data.y_val):
        raise ConfigError("the number of images and labels differ")
    if len(data.X_train) < 2:
        raise ConfigError("training needs at least 2 training images")
    if len(data.X_val) < 1:
        raise ConfigError("training needs at least 1 validation image")
    num_classes = len(data.class_names)
    for name in ("y_train", "y_val"):
        y = getattr(data, name)
        if len(y) and (y.min() < 0 or y.max() >= num_classes):
            raise ConfigError(f"{name} has labels outside 0..{num_classes - 1}")
    h, w, c = data.X_train.shape[1:]
    return (c, h, w), num_classes


# --------------------------------------------------------------------------- training


def train(
    arch: Sequence[LayerSpec],
    data: ImageData,
    config: TrainConfig | None = None,
    *,
    cancel: CancelToken | None = None,
    data_source: str = "",
    snapshots: SnapshotPlan | None = None,
    fork: Snapshot | None = None,
) -> Iterator[Event]:
    """Train a fresh network for ``arch`` on ``data``; yields events (see module docstring).

    Everything that can be checked is checked before torch allocates anything:
    ConfigError for settings or an architecture that cannot run (naming the layer and
    the shapes), ResourceError when the memory estimate does not fit.

    ``snapshots``: yield a ``Snapshot`` after every epoch (and every
    ``snapshots.every_steps`` steps); ``fork``: go on from such a snapshot of an earlier
    run of ``arch`` (see ``nets.cnn.fork``: the settings may change, the seed may not).
    """
    config = (config or TrainConfig()).validated()
    if fork is not None:
        from nets.cnn import fork as forks

        forks.check(fork, arch, config)
    input_shape, num_classes = _check_data(data)
    arch = tuple(arch)
    validate(arch, input_shape, num_classes)
    num_train, num_val = len(data.X_train), len(data.X_val)
    estimate = estimate_memory(
        arch, input_shape, config, num_train, num_val, num_classes, snapshots
    )
    check_memory(estimate)
    return coached(
        _train(arch, data, config, input_shape, estimate, cancel, data_source, snapshots, fork)
    )


def _train(
    arch: tuple[LayerSpec, ...],
    data: ImageData,
    config: TrainConfig,
    input_shape: tuple[int, int, int],
    estimate: MemoryEstimate,
    cancel: CancelToken | None,
    data_source: str,
    snapshots: SnapshotPlan | None = None,
    fork: Snapshot | None = None,
) -> Iterator[Event]:
    import torch
    import torch.nn.functional as F

    from nets.allocator import keep_freed_memory
    from nets.cnn import fork as forks
    from nets.cnn.model import build_model, parameter_count
    from nets.cnn.precision import forward_precision, resolve_precision
    from nets.internals.torch_probe import TorchInternals

    keep_freed_memory()  # each step's arrays reuse the last step's pages (no page faults)
    threads = config.num_threads or default_num_threads()
    torch.set_num_threads(threads)
    device = pick_device(config.device)
    precision = resolve_precision(config.precision, device)
    torch.manual_seed(config.seed)
    gen = torch.Generator().manual_seed(config.seed)

    mean, std = channel_stats(data.X_train)
    norm = Normalizer(mean, std, device)
    X_train = to_nchw_tensor(data.X_train, device)
    y_train = torch.as_tensor(np.asarray(data.y_train, dtype=np.int64)).to(device)
    X_val = to_nchw_tensor(data.X_val, device)
    y_val = torch.as_tensor(np.asarray(data.y_val, dtype=np.int64)).to(device)
    subset_n = min(config.eval_subset, len(X_val))
    subset = torch.randperm(len(X_val), generator=gen)[:subset_n].to(device)
    X_sub, y_sub = X_val.index_select(0, subset), y_val.index_select(0, subset)

    model = build_model(arch, input_shape, len(data.class_names)).to(device)
    # oneDNN's CPU kernels for small-channel conv, pooling and BatchNorm run 1.5-2x faster
    # on NHWC ("channels_last") tensors than on NCHW (measured for the default preset).
    layout = torch.channels_last if device == "cpu" else torch.contiguous_format
    model = model.to(memory_format=layout)
    optimizer = _make_optimizer(model.parameters(), config)
    bs = config.batch_size
    smoothing = config.label_smoothing
    n = len(X_train)
    spe = batches_per_epoch(n, bs)
    total = spe * config.epochs
    scheduler = make_scheduler(optimizer, config, spe)
    evals = set(eval_points(spe, config.evals_per_epoch))
    resume = forks.restore(fork, config, model, optimizer, scheduler, gen) if fork else None
    about_data = {
        "input_shape": list(input_shape),
        "class_names": list(data.class_names),
        "source": data_source,
    }
    resume = resume or forks.Resume()
    # The weights (and BatchNorm statistics) that last gave a finite loss.
    state = list(model.parameters()) + list(model.buffers())
    backup = [t.detach().clone() for t in state]

    def snapshot(epoch: int, end: bool, epoch_gen: Any, position: int = 0) -> Snapshot:
        return forks.take(
            config, arch, step=iteration, epoch=epoch, end_of_epoch=end, model=model,
            optimizer=optimizer, epoch_gen=epoch_gen, mean=mean, std=std, position=position,
            seen=seen, correct=int(correct), loss_sum=loss_sum, last_loss=last_loss,
            last_val=last_val, data=about_data,
        )  # fmt: skip

    def trained_now(iterations: int, val_acc: float | None) -> TrainedCnn:
        return TrainedCnn(
            model=model,
            arch=arch,
            input_shape=input_shape,
            class_names=tuple(str(c) for c in data.class_names),
            mean=mean,
            std=std,
            config=config,
            data_source=data_source,
            iterations=iterations,
            val_acc=val_acc,
        )

    def accuracy(X: Any, y: Any) -> float:
        model.eval()
        correct = 0
        with torch.inference_mode():
            for start in range(0, len(X), EVAL_BATCH):
                xb = norm(X[start : start + EVAL_BATCH]).contiguous(memory_format=layout)
                logits = model(xb)
                correct += int((logits.argmax(1) == y[start : start + EVAL_BATCH]).sum())
        model.train()
        return correct / len(X)

    elapsed = 0.0
    resumed = time.perf_counter()

    def pause_clock() -> float:
        nonlocal elapsed
        elapsed += time.perf_counter() - resumed
        return elapsed

    yield Started(
        trainer="cnn",
        config=config,
        num_train=n,
        num_val=len(X_val),
        num_classes=len(data.class_names),
        input_shape=input_shape,
        params=parameter_count(model),
        epochs=config.epochs,
        steps_per_epoch=spe,
        total_steps=total,
        memory_bytes=estimate.total,
        device=device,
        num_threads=threads,
        precision=precision,
        start_step=resume.iteration,
        memory=estimate,
    )
    resumed = time.perf_counter()
    model.train()
    iteration = resume.iteration
    last_loss = resume.last_loss
    last_val: float | None = resume.last_val
    tracker = TorchInternals(model, config.internals_every) if config.internals_every else None
    try:
        for epoch in range(resume.epoch, config.epochs + 1):
            epoch_gen = gen.get_state()  # the order this epoch draws
            perm = torch.randperm(n, generator=gen).to(device)
            first = resume.done + 1 if epoch == resume.epoch else 1
            seen = resume.seen if first > 1 else 0
            correct = torch.tensor(resume.correct if first > 1 else 0, device=device)
            loss_sum = resume.loss_sum if first > 1 else 0.0
            for step in range(first, spe + 1):
                if is_cancelled(cancel):
                    yield Stopped(
                        iteration,
                        epoch,
                        pause_clock(),
                        f"stopped after step {iteration}",
                        epochs_done=epoch - 1,
                        result=trained_now(iteration, last_val),
                    )
                    return
                idx = perm[(step - 1) * bs : step * bs]
                raw = X_train.index_select(0, idx)
                if config.shift or config.flip:  # keyed by (seed, epoch, step): forks alike
                    raw = shift_flip(raw, config.shift, config.flip, (config.seed, epoch, step))
                xb = norm(raw).contiguous(memory_format=layout)
                yb = y_train.index_select(0, idx)
                if tracker is not None:
                    tracker.before_step(iteration + 1, epoch, xb)
                with forward_precision(precision, device):
                    logits = model(xb)
                    loss = F.cross_entropy(logits, yb, label_smoothing=smoothing)
                loss_value = loss.item()
                iteration += 1
                if not math.isfinite(loss_value):
                    if tracker is not None:  # where did it start? (before the weights go back)
                        optimizer.zero_grad(set_to_none=True)

                        def rerun(xb: Any = xb, yb: Any = yb) -> None:
                            with forward_precision(precision, device):
                                loss = F.cross_entropy(model(xb), yb, label_smoothing=smoothing)
                            loss.backward()

                        yield tracker.diagnose(iteration, epoch, xb, rerun)
                    with torch.no_grad():
                        for t, b in zip(state, backup, strict=True):
                            t.copy_(b)
                    yield Diverged(
                        iteration,
                        epoch,
                        pause_clock(),
                        f"diverged at step {iteration}: the loss became {loss_value}; kept the "
                        f"weights of step {iteration - 1}. Try a smaller learning rate",
                        epochs_done=epoch - 1,
                        result=trained_now(iteration - 1, None),
                        loss=loss_value,
                        last_finite_loss=last_loss,
                    )
                    return
                with torch.no_grad():
                    torch._foreach_copy_(backup, state)  # one call, not one per tensor
                    correct += (logits.argmax(1) == yb).sum()
                seen += len(yb)
                loss_sum += loss_value * len(yb)
                optimizer.zero_grad(set_to_none=True)
                loss.backward()
                lr = optimizer.param_groups[0]["lr"]
                if tracker is not None:
                    tracker.before_update()
                optimizer.step()
                sample = tracker.after_update() if tracker is not None else None
                scheduler.step()
                last_loss = loss_value
                yield Step(iteration, epoch, loss_value, lr, pause_clock(), total)
                if sample is not None:
                    yield sample
                resumed = time.perf_counter()
                if step in evals:
                    full = step == spe
                    val_acc = accuracy(X_val, y_val) if full else accuracy(X_sub, y_sub)
                    if full:
                        last_val = val_acc
                    train_acc = int(correct) / seen
                    train_loss = loss_sum / seen
                    seen, loss_sum = 0, 0.0
                    correct.zero_()
                    yield Evaluation(
                        step=iteration,
                        epoch=epoch,
                        train_acc=train_acc,
                        val_acc=val_acc,
                        train_loss=train_loss,
                        lr=lr,
                        val_n=len(X_val) if full else subset_n,
                        end_of_epoch=full,
                        elapsed=pause_clock(),
                    )
                    resumed = time.perf_counter()
                if snapshots is not None and (step == spe or snapshots.due(iteration, step, spe)):
                    end = step == spe  # the next epoch's order, or this one's
                    taken = snapshot(epoch, end, gen.get_state() if end else epoch_gen, step)
                    pause_clock()  # (the copy counts as training time, as for the numpy net)
                    yield taken
                    resumed = time.perf_counter()
    finally:
        if tracker is not None:
            tracker.close()  # the trained model keeps no hooks
    yield Finished(
        iteration,
        config.epochs,
        pause_clock(),
        "finished",
        epochs_done=config.epochs,
        result=trained_now(iteration, last_val),
    )


def run_to_end(events: Iterator[Event]) -> Finished | Stopped | Diverged:
    """Consume a training generator and return its last event (for scripts and tests)."""
    last = None
    for event in events:
        last = event
    if not isinstance(last, END_EVENTS):  # pragma: no cover - train always ends so
        raise RuntimeError("training ended without a final event")
    return last
