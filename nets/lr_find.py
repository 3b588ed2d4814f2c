"""Smith's learning-rate range test (fastai's ``lr_find``) for both networks.

From a copy of the weights, train with a learning rate raised exponentially from
``start`` (1e-6) to ``end`` (10) over ``steps`` (200) minibatches, stopping early once the
smoothed loss passes four times its minimum (or stops being finite); the weights are put
back afterwards. The loss is smoothed with a bias-corrected moving average (beta 0.98).
Two suggestions, both from the smoothed curve: the learning rate of the steepest descent
(``suggested_lr``) and the learning rate of the minimum divided by ten (``lr_min_div10``).

``range_test(step)`` is the algorithm over any ``step(lr) -> loss``; ``mlp_range_test`` and
``cnn_range_test`` drive the two trainers' models (torch imported by the latter only).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nets.data.dataset import CancelToken, is_cancelled
from nets.errors import Cancelled, ConfigError

START_LR, END_LR, STEPS = 1e-6, 10.0, 200
BETA, STOP_FACTOR = 0.98, 4.0


@dataclass(frozen=True)
class RangeTest:
    """The curve (``lrs`` and smoothed ``losses``, the same length; ``raw_losses`` the
    minibatch losses) and the two suggestions. ``stopped_early`` is True when the loss
    blew past four times its minimum before the last learning rate."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    raw_losses: tuple[float, ...]
    suggested_lr: float
    lr_min_div10: float
    stopped_early: bool

    def to_json(self) -> dict[str, Any]:
        """``{"suggested_lr", "lr_min_div10", "stopped_early", "lrs", "losses"}``."""
        return {
            "suggested_lr": self.suggested_lr,
            "lr_min_div10": self.lr_min_div10,
            "stopped_early": self.stopped_early,
            "lrs": list(self.lrs),
            "losses": list(self.losses),
        }


def schedule(start: float = START_LR, end: float = END_LR, steps: int = STEPS) -> np.ndarray:
    """The learning rates of the test: (steps,) from start to end, evenly in log space."""
    if not (0 < start < end and math.isfinite(end)):
        raise ConfigError(f"the range test needs 0 < start < end, got {start:g} and {end:g}")
    if steps < 10:
        raise ConfigError(f"the range test needs at least 10 steps, got {steps}")
    return np.geomspace(start, end, steps)


def suggestions(lrs: Sequence[float], losses: Sequence[float]) -> tuple[float, float]:
    """(steepest-descent lr, lr at the minimum / 10) of a smoothed curve.

    The steepest descent is the most negative slope of loss against log(lr) before the
    minimum, skipping the first tenth of the points, where the moving average is still
    settling.
    """
    lr = np.asarray(lrs, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if len(lr) < 3:
        raise ConfigError("the range test needs at least 3 points for a suggestion")
    lowest = int(np.argmin(loss))
    skip = min(len(lr) // 10, max(lowest - 2, 0))
    part = slice(skip, max(lowest, skip + 2) + 1)
    slope = np.gradient(loss[part], np.log(lr[part]))
    steepest = float(lr[part][int(np.argmin(slope))])
    return steepest, float(lr[lowest] / 10)


def range_test(
    step: Callable[[float], float],
    *,
    start: float = START_LR,
    end: float = END_LR,
    steps: int = STEPS,
    cancel: CancelToken | None = None,
) -> RangeTest:
    """Run ``step(lr)`` (one training step at that learning rate, returning its loss) for
    each learning rate of ``schedule``; stop once the smoothed loss passes four times its
    minimum. Raises Cancelled when ``cancel`` is set between steps."""
    rates = schedule(start, end, steps)
    lrs: list[float] = []
    smoothed: list[float] = []
    raw: list[float] = []
    average, best = 0.0, math.inf
    stopped = False
    for i, lr in enumerate(rates):
        if is_cancelled(cancel):
            raise Cancelled("the learning-rate range test was cancelled")
        loss = float(step(float(lr)))
        if not math.isfinite(loss):
            stopped = True
            break
        average = BETA * average + (1 - BETA) * loss
        value = average / (1 - BETA ** (i + 1))
        lrs.append(float(lr))
        raw.append(loss)
        smoothed.append(value)
        best = min(best, value)
        if value > STOP_FACTOR * best and i > 0:
            stopped = True
            break
    if len(lrs) < 3:
        raise ConfigError(
            f"the loss was not finite within {len(lrs) + 1} steps of the range test, even "
            f"at a learning rate of {start:g}: check the data and the initial weights"
        )
    steepest, low = suggestions(lrs, smoothed)
    return RangeTest(tuple(lrs), tuple(smoothed), tuple(raw), steepest, low, stopped)


def _batches(n: int, batch_size: int, steps: int, seed: int) -> list[np.ndarray]:
    """Index arrays for ``steps`` shuffled minibatches over n examples (passes repeat)."""
    rng = np.random.default_rng(seed)
    out: list[np.ndarray] = []
    while len(out) < steps:
        order = rng.permutation(n)
        out.extend(order[i : i + batch_size] for i in range(0, n - batch_size + 1, batch_size))
        if n < batch_size:
            out.append(order)
    return out[:steps]


#: The range test fits its own preprocessing (when not given a model's) on an evenly
#: strided sample of at most this many training images: on CIFAR-10 the pixel scale of
#: 5,000 images differs from that of all 45,000 by 0.1%, and no pixel's mean by more than
#: 0.04 standard deviations, at a ninth of the time.
FIT_SAMPLE = 5000


def fit_preprocessor(X: np.ndarray, rows: np.ndarray | None = None) -> Any:
    """``nets.data.preprocess.Preprocessor`` fitted on at most ``FIT_SAMPLE`` of the images
    ``X`` (N, H, W, C) or (N, D), evenly strided over ``rows`` (default: all)."""
    from nets.data.preprocess import Preprocessor

    count = len(X) if rows is None else len(rows)
    stride = max(1, -(-count // FIT_SAMPLE))
    return Preprocessor.fit(X[::stride] if rows is None else X[rows[::stride]])


def mlp_range_test(
    config: Any,
    data: Any,
    *,
    model: Any = None,
    preprocessor: Any = None,
    steps: int = STEPS,
    cancel: CancelToken | None = None,
) -> RangeTest:
    """The range test for the numpy net: ``config`` an ``nets.mlp.config.TrainConfig``
    (its architecture, batch size, momentum, reg and seed; its learning rate is ignored),
    ``data`` an ImageDataset or (X_train, y_train, X_val, y_val) as for training. ``model``
    (with its ``preprocessor``) tests from those weights, which are restored afterwards;
    without them the preprocessing is fitted on a sample (``fit_preprocessor``). Images are
    preprocessed one minibatch at a time."""
    from nets.mlp.blas_threads import ThreadTuner
    from nets.mlp.optim import SGD
    from nets.mlp.step import training_step
    from nets.mlp.train import _unpack, build_model

    config.validate()
    X, y, *_ = _unpack(data)
    if len(y) < 1:
        raise ConfigError("the range test needs training images")
    n = len(y) if config.num_train is None else min(len(y), config.num_train)
    rng = np.random.default_rng(config.seed)
    # The minibatches index the training images in place (a subset is a list of indices,
    # not a copy of its images): the test reads only about 200 batches of them.
    subset = np.sort(rng.choice(len(y), n, replace=False)) if n < len(y) else None
    images = X.dtype == np.uint8
    if images and preprocessor is None:
        preprocessor = fit_preprocessor(X, subset)
    d = int(np.prod(X.shape[1:]))
    classes = int(max(int(y.max()) + 1, 2))
    if model is None:
        model = build_model(config, d, classes)
    saved = model.state()
    dtype = model.dtype
    optimizer = SGD(model.parameters(), START_LR, config.momentum)
    batches = iter(_batches(n, min(config.batch_size, n), steps, config.seed))

    # The trainer's BLAS thread tuner: on a shared machine a two-thread GEMM is often
    # several times slower than a one-thread one (see nets.mlp.blas_threads).
    tuner = ThreadTuner()
    tuner.start_epoch()

    def step(lr: float) -> float:
        tuner.before_step()
        started = time.perf_counter()
        idx = next(batches)
        if subset is not None:
            idx = subset[idx]
        xb = X[idx]
        xb = (
            preprocessor.transform(xb, dtype=dtype)
            if images and preprocessor is not None
            else np.asarray(xb, dtype=dtype).reshape(len(idx), -1)
        )
        with np.errstate(over="ignore", invalid="ignore"):
            loss, grads = training_step(model, xb, y[idx], config.reg, reuse_buffers=True)
            if math.isfinite(loss):
                optimizer.learning_rate = lr
                optimizer.step(grads)
        tuner.record(time.perf_counter() - started)
        return loss

    try:
        return range_test(step, steps=steps, cancel=cancel)
    finally:
        tuner.restore()
        model.load_state(saved)


def cnn_range_test(
    arch: Sequence[Any],
    data: Any,
    config: Any = None,
    *,
    model: Any = None,
    steps: int = STEPS,
    cancel: CancelToken | None = None,
) -> RangeTest:
    """The range test for the CNN: ``arch`` its layers, ``data`` an ImageDataset of uint8
    (N, H, W, C) images, ``config`` an ``nets.cnn.config.TrainConfig`` (optimizer, batch
    size, weight decay, threads, seed; its lr and schedule are ignored). ``model`` tests
    from that torch module's weights, restored (with BatchNorm statistics) afterwards."""
    import torch
    import torch.nn.functional as F

    from nets.cnn.arch import validate
    from nets.cnn.config import TrainConfig, default_num_threads
    from nets.cnn.model import build_model
    from nets.cnn.train import _make_optimizer, pick_device
    from nets.cnn.trained import Normalizer, channel_stats, to_nchw_tensor

    config = (config or TrainConfig()).validated()
    torch.set_num_threads(config.num_threads or default_num_threads())
    if data.X_train.ndim != 4 or len(data.X_train) < 2:
        raise ConfigError("the range test needs at least 2 training images (N, H, W, C)")
    h, w, c = data.X_train.shape[1:]
    classes = len(data.class_names)
    validate(tuple(arch), (c, h, w), classes)
    device = pick_device(config.device)
    torch.manual_seed(config.seed)
    if model is None:
        model = build_model(tuple(arch), (c, h, w), classes)
    model = model.to(device)
    saved = {k: v.detach().clone() for k, v in model.state_dict().items()}
    mean, std = channel_stats(data.X_train)
    norm = Normalizer(mean, std, device)
    X = to_nchw_tensor(data.X_train, device)
    y = torch.as_tensor(np.asarray(data.y_train, dtype=np.int64)).to(device)
    optimizer = _make_optimizer(model.parameters(), config)
    smoothing = config.label_smoothing  # the loss the training will minimise
    batches = iter(_batches(len(X), min(config.batch_size, len(X)), steps, config.seed))
    model.train()

    def step(lr: float) -> float:
        idx = torch.as_tensor(next(batches), device=device)
        for group in optimizer.param_groups:
            group["lr"] = lr
        logits = model(norm(X.index_select(0, idx)))
        loss = F.cross_entropy(logits, y.index_select(0, idx), label_smoothing=smoothing)
        value = float(loss.item())
        if math.isfinite(value):
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        return value

    try:
        return range_test(step, steps=steps, cancel=cancel)
    finally:
        model.load_state_dict(saved)
