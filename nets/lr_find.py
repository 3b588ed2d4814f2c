"""Smith's learning-rate range test (fastai's ``lr_find``) for both networks.

From a copy of the weights, train with a learning rate raised exponentially from
``start`` (1e-6) to ``end`` (10) over ``steps`` (200) minibatches, stopping early once the
smoothed loss passes four times its minimum (or stops being finite); the weights are put
back afterwards. The loss is smoothed with a bias-corrected moving average (beta 0.98).

Three marks on the smoothed curve (``suggestions``): the steepest descent, the minimum
divided by ten, and the suggestion itself, the *valley* rule: the first learning rate at
which the smoothed loss has made ``FALL_SHARE`` (80%) of its fall from the top of the
curve to its minimum. Why not one of the other two: the moving average trails the raw
loss by about beta / (1 - beta) = 49 steps (1.7 decades at 200 steps over 7 decades), so
the smoothed curve's minimum lies where the raw loss is already blowing up and its
descent is an almost straight line over a decade or more, whose steepest point wanders
from run to run; a level crossing depends on the curve's height, not on its derivative,
so noise barely moves it, and it does not change when the loss is scaled or shifted.
On the numpy net's ``tuned`` preset (CIFAR-10, 8 seeds of the test) the point-to-point
steepest descent ranged over 0.004-0.034, min / 10 over 0.008-0.011 and the valley over
0.021-0.029, where the raw loss bottoms out; the preset trained for its 20 epochs at
0.005 / 0.01 / 0.015 / 0.02 / 0.03 / 0.04 reached 52.9 / 55.7 / 57.6 / 57.9 / 58.4 / 58.2%
validation accuracy (one run each; 57.8% for a second seed at 0.02), so the two older
marks sit where it falls off and the valley on the plateau. ``bench/bench_lr_find.py``
checks the suggestion against the preset's own rate.

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
#: The valley rule's share of the fall from the curve's top to its minimum.
FALL_SHARE = 0.8
#: Half the width, in decades of learning rate, of the window over which the steepest
#: descent's slope is fitted (a point-to-point slope of the smoothed curve is noise).
SLOPE_HALF_WIDTH = 0.25


@dataclass(frozen=True)
class RangeTest:
    """The curve (``lrs`` and smoothed ``losses``, the same length; ``raw_losses`` the
    minibatch losses) and its marks (see ``Suggestions``). ``stopped_early`` is True when
    the loss blew past four times its minimum before the last learning rate."""

    lrs: tuple[float, ...]
    losses: tuple[float, ...]
    raw_losses: tuple[float, ...]
    suggested_lr: float
    steepest_lr: float
    lr_min_div10: float
    stopped_early: bool

    def to_json(self) -> dict[str, Any]:
        """``{"suggested_lr", "steepest_lr", "lr_min_div10", "stopped_early", "lrs",
        "losses"}``."""
        return {
            "suggested_lr": self.suggested_lr,
            "steepest_lr": self.steepest_lr,
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


@dataclass(frozen=True)
class Suggestions:
    """The marks of a smoothed curve: ``suggested`` (the valley rule, the one the form
    gets), ``steepest`` (the steepest descent) and ``min_div10`` (the minimum's lr / 10)."""

    suggested: float
    steepest: float
    min_div10: float


def _window_slopes(x: np.ndarray, y: np.ndarray, half: int) -> np.ndarray:
    """Least-squares slope of y against x over the 2 * half + 1 points centred on each
    point, (n - 2 * half,) for the points with a full window."""
    k = np.ones(2 * half + 1)
    n = len(k)
    sx, sy = np.convolve(x, k, "valid"), np.convolve(y, k, "valid")
    sxx, sxy = np.convolve(x * x, k, "valid"), np.convolve(x * y, k, "valid")
    return (n * sxy - sx * sy) / (n * sxx - sx * sx)


def suggestions(lrs: Sequence[float], losses: Sequence[float]) -> Suggestions:
    """The three marks of a smoothed curve (``lrs`` rising, ``losses`` the same length).

    All three look only at the part before the minimum, after the first tenth of the
    points (where the moving average is still settling). The valley is the first point
    after the top of that part whose loss is at or below top - FALL_SHARE * (top - min):
    on a curve that does not fall it is the minimum itself. The steepest descent is the
    most negative slope of loss against log(lr) fitted over +-SLOPE_HALF_WIDTH decades.
    """
    lr = np.asarray(lrs, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if len(lr) < 3 or len(loss) != len(lr):
        raise ConfigError("the range test needs at least 3 points for a suggestion")
    lowest = int(np.argmin(loss))
    skip = min(len(lr) // 10, max(lowest - 2, 0))
    x = np.log(lr[skip : lowest + 1])
    part = loss[skip : lowest + 1]

    top = int(np.argmax(part))
    level = part[top] - FALL_SHARE * (part[top] - part[-1])
    valley = skip + top + int(np.argmax(part[top:] <= level))

    steepest = skip
    if len(part) >= 2:
        per_point = (x[-1] - x[0]) / (len(x) - 1) / math.log(10)  # decades per point
        half = max(1, round(SLOPE_HALF_WIDTH / per_point)) if per_point > 0 else 1
        half = min(half, (len(part) - 1) // 2)
        if half >= 1:
            steepest = skip + half + int(np.argmin(_window_slopes(x, part, half)))
        else:
            steepest = skip + int(np.argmin(np.diff(part)))
    return Suggestions(float(lr[valley]), float(lr[steepest]), float(lr[lowest] / 10))


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
    marks = suggestions(lrs, smoothed)
    return RangeTest(
        tuple(lrs),
        tuple(smoothed),
        tuple(raw),
        marks.suggested,
        marks.steepest,
        marks.min_div10,
        stopped,
    )


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
    from nets.mlp import parallel
    from nets.mlp.blas_threads import set_blas_threads
    from nets.mlp.optim import SGD
    from nets.mlp.step import l2_terms, split_across_cores, training_step
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

    # The trainer's own split of the GEMMs over the cores and its tuner (OpenBLAS's threads
    # keep spinning after each call and take the cores the rest of the step needs).
    workers, tuner = split_across_cores()
    blas_before = set_blas_threads(1) if workers.size > 1 else None
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
        with np.errstate(over="ignore", invalid="ignore"), parallel.splitting(workers):
            loss, grads = training_step(
                model, xb, y[idx], config.reg, reuse_buffers=True, l2_in_grads=False
            )
            if math.isfinite(loss):
                optimizer.learning_rate = lr
                optimizer.step(grads, l2=l2_terms(model, config.reg))
        tuner.record(time.perf_counter() - started)
        return loss

    try:
        return range_test(step, steps=steps, cancel=cancel)
    finally:
        tuner.restore()
        workers.close()
        if blas_before is not None:
            set_blas_threads(blas_before)
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

    from nets.allocator import keep_freed_memory
    from nets.cnn.arch import validate
    from nets.cnn.config import TrainConfig, default_num_threads
    from nets.cnn.model import build_model
    from nets.cnn.precision import forward_precision, resolve_precision
    from nets.cnn.train import _make_optimizer, pick_device
    from nets.cnn.trained import Normalizer, channel_stats, to_nchw_tensor

    config = (config or TrainConfig()).validated()
    keep_freed_memory()
    torch.set_num_threads(config.num_threads or default_num_threads())
    if data.X_train.ndim != 4 or len(data.X_train) < 2:
        raise ConfigError("the range test needs at least 2 training images (N, H, W, C)")
    h, w, c = data.X_train.shape[1:]
    classes = len(data.class_names)
    validate(tuple(arch), (c, h, w), classes)
    device = pick_device(config.device)
    precision = resolve_precision(config.precision, device)  # the loss training will see
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
        with forward_precision(precision, device):
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
